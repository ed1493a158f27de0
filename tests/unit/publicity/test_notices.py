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


def test_a_policy_files_quorum_is_said_in_words_in_each_language_only() -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from ledger.tlog_policy import parse
    from ledger.witness.client import WitnessSettings
    from ledger.witness.cosig import CosignatureV1Signer
    from publicity.notices import ShownWitness, policy_shown

    keys = {n: CosignatureV1Signer(f"{n}.example", Ed25519PrivateKey.generate()).verifier.vkey
            for n in ("a1", "a2", "a3", "b1")}
    text = "".join(f"witness {n.upper()} {v} https://{n}.example\n" for n, v in keys.items())
    text += "group A 2 A1 A2 A3\ngroup B all B1\ngroup both all A B\nquorum both\n"
    shown = policy_shown(WitnessSettings(quorum=parse(text)))
    assert shown is not None
    assert shown["min"] == 3
    page = {lg: _page(lg, notice="nt_x", campaign={"title": "2026年招聘", "campaign": "c1"},
                      lines=[], days=5, log=_Log(), checkpoint="cp\n", checkpoint_size=9,
                      period_zh="", period_en="", published_zh="", published_en="",
                      tz="Asia/Shanghai", signed_iso="2026-11-20", signed_zh="", signed_en="",
                      settings=SETTINGS, columns=SETTINGS.columns, roster=SETTINGS.listed,
                      supersedes=None, reason=None, base_url="https://x.example", banner="",
                      witnesses=[ShownWitness(f"{n}.example", v) for n, v in keys.items()],
                      witnesses_required=3, witness_policy=shown, cosignatures=[])
            for lg in ("zh", "en")}
    words = {lg: re.search(r'<p id="witness-policy-words">(.*?)</p>', html, re.S)
             for lg, html in page.items()}
    assert words["zh"] is not None
    assert words["en"] is not None
    assert words["zh"].group(1).endswith(
        "以下全部：（以下 3 项中至少 2 项：a1.example、a2.example、a3.example）、b1.example"
        "（至少 3 个，共 4 个见证方）。")
    assert words["en"].group(1).endswith(
        "all of: (at least 2 of these 3: a1.example, a2.example, a3.example), b1.example "
        "(at least 3 of these 4 witnesses).")
    assert re.findall(r"[\u4e00-\u9fff]", words["en"].group(1)) == []
    assert '<pre id="witness-policy" data-quorum="both">' in page["en"]
    assert "--policy policy.txt</code>" in page["zh"]
    assert 'href="https://x.example/logs/hr/policy"' in page["zh"]
