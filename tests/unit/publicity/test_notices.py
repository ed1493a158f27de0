"""publicity.notices: the notice period and the sign-off date as people write them, and
each language's page in that language only."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from ledger.absence.notice_settings import NoticeSettings
from publicity.calendar import WorkingCalendar, notice_period
from publicity.notices import NoticeLine, _page, period_text, written_day

TZ = ZoneInfo("Asia/Shanghai")
CAL = WorkingCalendar()


def test_the_last_day_is_written_as_a_date_across_a_weekend() -> None:
    # Fri 2026-11-20 10:00 Beijing: 5 working days are Mon 23 .. Fri 27.
    published = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    period = notice_period(published, 5, TZ, CAL)
    assert period_text(period, 5, TZ, "zh") == "2026年11月20日至2026年11月27日（5个工作日）"
    assert period_text(period, 5, TZ, "en") == "20 Nov 2026 to 27 Nov 2026 (5 working days)"


def test_the_last_day_skips_the_national_day_holiday_and_counts_the_adjusted_workday() -> None:
    # 2025: 1-8 Oct off, Sat 11 Oct an adjusted working day (调休).  Published Tue 30 Sep,
    # 5 working days: 9, 10, 11 (Sat, worked), 13, 14 Oct.
    published = datetime(2025, 9, 30, 2, 0, tzinfo=UTC)
    period = notice_period(published, 5, TZ, CAL)
    assert period_text(period, 5, TZ, "zh") == "2025年9月30日至2025年10月14日（5个工作日）"


def test_written_day() -> None:
    assert written_day(datetime(2026, 1, 5).date(), "zh") == "2026年1月5日"
    assert written_day(datetime(2026, 1, 5).date(), "en") == "5 Jan 2026"


class _Log:
    name = "hr"
    origin = "example.org/hr"
    verifier_keys = ("hr+01234567+AAAA",)


def _render(lang: str, settings: NoticeSettings) -> str:
    published = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    period = notice_period(published, 5, TZ, CAL)
    line = NoticeLine("A0001", "张*", "综合管理岗", ("视为自动放弃", "deemed withdrawn"),
                      ("未参加", "did not attend"), 7, "forfeited")
    return _page(lang, notice="nt_x", campaign={"title": "2026年招聘", "campaign": "c1"},
                 lines=[line], days=5, log=_Log(), checkpoint="cp\n", checkpoint_size=9,
                 period_zh=period_text(period, 5, TZ, "zh"),
                 period_en=period_text(period, 5, TZ, "en"),
                 published_zh="2026年11月20日 10:00（北京时间）",
                 published_en="20 Nov 2026, 10:00 (Beijing time)",
                 tz="Asia/Shanghai", signed_iso="2026-11-20", signed_zh="2026年11月20日",
                 signed_en="20 Nov 2026", settings=settings, columns=settings.columns,
                 roster=settings.listed, supersedes="nt_old", reason="更正岗位名称",
                 base_url="", banner="", witnesses=[], witnesses_required=0,
                 cosignatures=[])


SETTINGS = NoticeSettings(issuing_office="示例市人社局", supervision_phone="010-12345678",
                          objection_address="示例路1号", objection_email="a@b.gov.cn")


def _shown(html: str) -> str:
    # The checkpoint, keys and the language switch (中文 / English) are not sentences.
    text = re.sub(r"<pre.*?</pre>|<code.*?</code>|<nav.*?</nav>", " ", html, flags=re.S)
    return re.sub(r"<[^>]*>", " ", text)


def test_the_chinese_page_has_no_english_sentence_and_the_english_no_chinese() -> None:
    zh = _shown(_render("zh", SETTINGS))
    en = _shown(_render("en", SETTINGS))
    # Data, ids and the name of a standard are the same in both languages.
    for data in ("2026年招聘", "张*", "综合管理岗", "示例市人社局", "示例路1号", "更正岗位名称",
                 "nt_old", "C2SP tlog-proof"):
        zh, en = zh.replace(data, " "), en.replace(data, " ")
    # English words of two or more letters: only the e-mail address and data remain.
    assert re.findall(r"[A-Za-z]{3,}", zh.replace("a@b.gov.cn", "")) == [], zh
    assert re.findall(r"[\u4e00-\u9fff]", en) == [], en
    assert "2026年11月20日至2026年11月27日" in zh
    assert "20 Nov 2026 to 27 Nov 2026" in en


def test_the_columns_and_roster_follow_the_settings() -> None:
    chosen = NoticeSettings(**{**SETTINGS.__dict__, "fields": ("registration", "result")})
    html = _render("zh", chosen)
    assert 'data-col="registration"' in html
    assert 'data-col="result"' in html
    assert 'data-col="name"' not in html
    assert "张*" not in html
