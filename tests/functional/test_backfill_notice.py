"""The 递补名单 notice meets the rules the result notice does (issue 14 item 9), on SQLite
and PostgreSQL: it names the issuing office, the notice period to its last day written as
a date, the supervision telephone and the objection address and e-mail, and ends with the
office and the sign-off date (落款), from the campaign's recorded notice settings; a
campaign whose policy lacks one is refused naming it (in the console, in the page's
language), and nothing is written."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from html import unescape
from pathlib import Path

import pytest

from ledger.absence.service import AbsenceService
from publicity.backfill_notice import publish_backfill_list
from publicity.errors import PublishingRefused
from tests.configs import NOTICE_SETTINGS
from tests.functional._absence import T0, Env, candidates_csv, make_env
from tests.functional.test_console_hr import hr_client, submit
from tests.unit.ledger.absence._domain import HR, REVIEWER

POLICIES = ('\n[policies.bf_on]\nmode = "government"\nbackfill = true\n' + NOTICE_SETTINGS
            + '\n[policies.bf_bare]\nmode = "government"\nbackfill = true\n')


@pytest.fixture
def env(tmp_path: Path, db_url: str) -> Iterator[Env]:
    with make_env(tmp_path, db_url, extra_config=POLICIES) as env:
        env.campaign("c2026", policy="bf_on")
        env.campaign("b2026", policy="bf_bare")
        yield env


def text(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]*>", " ", html)))


def approved(env: Env, campaign: str) -> None:
    """A ranking of three, the first withdrawn in writing, the second approved."""
    csv, rows = candidates_csv(3, seed=11)
    assert env.import_csv(campaign, csv).status_code == 201
    regs = [r["registration"] for r in rows]
    svc: AbsenceService = env.service
    ranking = "报名号,成绩\n" + "".join(f"{r},{90 - i}\n" for i, r in enumerate(regs))
    svc.import_ranking(HR, campaign, ranking.encode(), "text/csv", {
        "post": "p01", "pass_line": "60", "places": "1", "interview_day": "2026-12-10"}, T0)
    svc.record_vacancy(HR, campaign, {"registration": regs[0], "kind": "withdrawn_in_writing",
                                      "at": (T0 - timedelta(hours=1)).isoformat()}, T0)
    proposal = next(a for a in svc.backfills(campaign) if a["status"] == "proposed")
    svc.approve_backfill(REVIEWER, proposal["proposal"], {
        "opens_at": (T0 + timedelta(days=1)).isoformat(),
        "closes_at": (T0 + timedelta(days=1, hours=3)).isoformat()}, T0)


def test_the_backfill_notice_names_office_period_telephone_objections_and_signoff(
        env: Env) -> None:
    approved(env, "c2026")
    made = publish_backfill_list(env.service, HR, "c2026", T0)  # 08:00 on 25 Nov, Beijing
    html = env.client.get(f"/notices/backfill/{made['notice']}").get_data(as_text=True)
    shown = text(html)
    for words in ("示例市人力资源和社会保障局", "010-12345678", "示例市示例路1号人事考试中心",
                  "objection@hr.example.gov.cn"):
        assert words in shown, words
    office = re.search(r'id="issuing-office">([^<]*)<', html)
    assert office is not None
    assert office.group(1) == "示例市人力资源和社会保障局"
    # Five working days after Wednesday 25 Nov 2026: to Wednesday 2 Dec, written as a date.
    assert "公示期 2026年11月25日至2026年12月2日（5个工作日）" in shown, shown
    assert 'id="supervision-phone">010-12345678<' in html
    assert 'href="mailto:objection@hr.example.gov.cn"' in html
    signoff = html.split('id="signoff"', 1)[1].split("</footer>", 1)[0]
    assert "示例市人力资源和社会保障局" in signoff
    assert '<time datetime="2026-11-25">2026年11月25日</time>' in signoff
    assert made["period_end"] == "2026-12-02T16:00:00.000Z"


def test_a_policy_without_notice_settings_is_refused_naming_the_setting(env: Env) -> None:
    approved(env, "b2026")
    before = len(env.ledger_entries())
    with pytest.raises(PublishingRefused) as refused:
        publish_backfill_list(env.service, HR, "b2026", T0)
    assert refused.value.field == "notice_issuing_office"
    assert "[policies.bf_bare]" in str(refused.value)
    assert len(env.ledger_entries()) == before
    # In the console: the page again, saying which setting is missing in its language.
    hr, _ = hr_client(env)
    page = "/console/campaigns/b2026/backfill"
    for q, words in (("", "发布单位"), ("?lang=en", "issuing office")):
        resp = submit(hr, page + q, page + "/notice" + q, {"confirm": "yes"})
        assert resp.status_code == 422, resp.status_code
        shown = text(resp.get_data(as_text=True))
        assert words in shown, shown
        assert "notice_issuing_office" in shown
        assert "bf_bare" in shown
    assert not [e for e in env.ledger_entries() if e["type"] == "backfill.list_published"]
