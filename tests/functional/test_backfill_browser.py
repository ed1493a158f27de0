"""A 递补 walked in a real browser (headless Chromium), from the proposal to the promoted
candidate's invitation (issue 14 item 11).  The data come through the API and the
service: candidates, a ranking, one window, no platform event, the sweep (a forfeiture
under a policy that backfills a no-show, answered with a proposal).  A reviewer signs in
with password and TOTP, opens the campaign's 递补 page, sees the proposal (registration
numbers and rank, never a score), cannot approve before ticking the confirmation (the
browser keeps the form, nothing is recorded), approves with a reason, and sees the
promoted candidate's new window and its invitation on the page and in the window list.
The pages pass axe's WCAG 2.1 A/AA rules; screenshots go to ``test-artifacts/``."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import ClassVar
from zoneinfo import ZoneInfo

import pyotp
import pytest
from selenium.webdriver.common.by import By

from tests.configs import NOTICE_SETTINGS
from tests.functional._absence import candidates_csv, make_env
from tests.functional.test_console_browser import Office
from tests.functional.test_console_hr import CAMPAIGN, Built, accounts
from tests.functional.test_console_signin import PASSWORD, enrol
from tests.functional.test_notice_browser import (
    WAIT_S,
    axe_violations,
    chromium,
    serving,
    wait_for,
)

POLICY = ('\n[policies.bf_show]\nmode = "government"\nbackfill = true\n'
          "backfill_day_of_no_show = true\n" + NOTICE_SETTINGS)
PAGE = f"/console/campaigns/{CAMPAIGN}/backfill"
REASON = "原拟录用考生缺考，按成绩排名依次递补"


@dataclass
class BackfillOffice(Office):
    SHOT_PREFIX: ClassVar[str] = "console-"


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BackfillOffice]:
    tmp = tmp_path_factory.mktemp("backfill-browser")
    with make_env(tmp, f"sqlite:///{tmp / 'ledger.db'}", extra_config=POLICY) as env:
        start = env.clock(datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1))
        env.campaign(CAMPAIGN, policy="bf_show")
        data, rows = candidates_csv(3, seed=14)
        resp = env.import_csv(CAMPAIGN, data)
        assert resp.status_code == 201, resp.get_data(as_text=True)
        subject = {c["registration"]: c["subject"]
                   for c in json.loads(resp.get_data())["candidates"]}
        regs = [r["registration"] for r in rows]
        day = (start + timedelta(minutes=10)).astimezone(ZoneInfo("Asia/Shanghai")).date()
        ranking = "报名号,成绩\n" + "".join(f"{r},{91.5 - i}\n" for i, r in enumerate(regs))
        resp = env.post(f"/api/v1/campaigns/{CAMPAIGN}/rankings?post=p01&pass_line=60"
                        f"&places=1&interview_day={day.isoformat()}", "hr",
                        data=ranking.encode(), content_type="text/csv")
        assert resp.status_code == 201, resp.get_data(as_text=True)
        # The first-ranked candidate is invited and never comes: forfeited at the sweep,
        # which answers the vacancy with the next eligible candidate.
        resp = env.post(f"/api/v1/campaigns/{CAMPAIGN}/windows", "hr", {
            "opens_at": (start + timedelta(minutes=10)).isoformat(),
            "closes_at": (start + timedelta(minutes=70)).isoformat(),
            "subjects": [subject[regs[0]]]})
        assert resp.status_code == 201, resp.get_data(as_text=True)
        window = {w["registration"]: w["window"] for w in json.loads(resp.get_data())["windows"]}
        assert env.service.sweep(env.clock(start + timedelta(minutes=90))) == 1
        answers = env.service.backfills(CAMPAIGN)
        assert [(a["status"], a["registration"]) for a in answers] == [("proposed", regs[1])]
        accounts(env).create_user("rev.one", PASSWORD, "reviewer", env.now[0])
        secret = enrol(env, env.app.test_client(), "rev.one")
        env.clock(seconds=31)
        with serving(env.app) as base, chromium(tmp) as driver:
            yield BackfillOffice(Built(env, rows, window, start), base, driver, tmp, secret)


def test_a_reviewer_approves_a_backfill_and_sees_the_invitation(
        office: BackfillOffice) -> None:
    d = office.driver
    built = office.built
    env = built.env
    vacated, promoted, third = built.reg(0), built.reg(1), built.reg(2)
    office.sign_in("rev.one", pyotp.TOTP(office.totp).at(env.now[0]))
    office.open(PAGE)
    row = d.find_element(By.ID, "bf-1")
    cells = [c.text for c in row.find_elements(By.TAG_NAME, "td")]
    assert cells[:5] == [vacated, promoted, "2", "1", "待审核"]
    card = d.find_element(By.CSS_SELECTOR, "section.case")
    assert f"{vacated} → {promoted}" in card.text
    assert "名次 2" in card.text
    page = d.find_element(By.TAG_NAME, "main").text
    assert "91.5" not in page  # no score on the page
    assert "90.5" not in page
    assert third not in page
    for r in built.rows:
        assert r["name"] not in page
    assert d.find_element(By.ID, "no-invited").is_displayed()
    d.set_script_timeout(WAIT_S)
    assert axe_violations(d) == []
    office.shot("backfill-proposal")
    # A reason but no tick: the browser keeps the form; nothing is recorded.
    d.find_element(By.ID, "bf-ok-reason-1").send_keys(REASON)
    d.find_element(By.ID, "bf-approve-1").click()
    assert d.find_elements(By.ID, "bf-approve-1")
    assert not built.entries("backfill.approved")
    d.find_element(By.ID, "bf-ok-confirm-1").click()
    d.find_element(By.ID, "bf-approve-1").click()
    invited = wait_for(d, "the promoted candidate's window",
                       lambda x: x.find_elements(By.ID, "bf-invited-1"))[0]
    approved = built.entries("backfill.approved")
    assert len(approved) == 1
    assert approved[0]["body"]["reason"] == REASON
    new_window = approved[0]["body"]["window"]
    assert invited.find_element(By.TAG_NAME, "th").text == promoted
    when, invitation = (c.text for c in invited.find_elements(By.TAG_NAME, "td"))
    assert " 至 " in when
    assert "北京时间" in when
    assert "电子邮件：待发送" in invitation
    cells = [c.text for c in d.find_element(By.ID, "bf-1").find_elements(By.TAG_NAME, "td")]
    assert cells[4] == "已同意递补"
    assert not d.find_elements(By.CSS_SELECTOR, "section.case")  # nothing left to rule
    assert axe_violations(d) == []
    office.shot("backfill-approved")
    # The window list has the promoted candidate's window too; its link opens it.
    d.find_element(By.ID, "bf-window-list").click()
    listed = wait_for(d, "the window list", lambda x: x.find_elements(By.ID, "list"))[0]
    lines = [tr.text for tr in listed.find_elements(By.CSS_SELECTOR, "tbody tr")]
    assert any(promoted in line and new_window in line for line in lines), lines
    assert any(vacated in line for line in lines)
    assert axe_violations(d) == []
    office.shot("backfill-window-list")
    office.open(PAGE)
    d.find_element(By.CSS_SELECTOR, "#bf-invited-1 a").click()
    wait_for(d, "the window page", lambda x: x.find_elements(By.ID, "opens"))
    assert new_window in d.current_url
    office.sign_out()
