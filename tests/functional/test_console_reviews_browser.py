"""The deliberate review in a real browser (headless Chromium): the reviewer signs in
with password and TOTP, sees the evidence on the review card, cannot confirm a
forfeiture before giving a reason and ticking the confirmation (the browser refuses the
form, nothing is recorded), then confirms it; the page passes axe's WCAG 2.1 A/AA rules.
The screenshot goes to ``test-artifacts/console-review-card.png``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

import pyotp
import pytest
from selenium.webdriver.common.by import By

from tests.functional._absence import make_env
from tests.functional.test_console_browser import Office
from tests.functional.test_console_hr import CAMPAIGN, accounts, build
from tests.functional.test_console_signin import PASSWORD, enrol
from tests.functional.test_notice_browser import (
    WAIT_S,
    axe_violations,
    chromium,
    serving,
)

PLAN: list[tuple[str, ...]] = [("connection_failed",), ("joined", "completed"), (), ()]
REASON = "平台记录显示未进入面试，复核后维持认定"


@dataclass
class ReviewOffice(Office):
    SHOT_PREFIX: ClassVar[str] = "console-"


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ReviewOffice]:
    tmp = tmp_path_factory.mktemp("reviews-browser")
    with make_env(tmp, f"sqlite:///{tmp / 'ledger.db'}") as env:
        built = build(env, PLAN, appeal=False)
        accounts(env).create_user("rev.one", PASSWORD, "reviewer", env.now[0])
        secret = enrol(env, env.app.test_client(), "rev.one")
        env.clock(seconds=31)
        with serving(env.app) as base, chromium(tmp) as driver:
            yield ReviewOffice(built, base, driver, tmp, secret)


def test_confirming_a_forfeiture_takes_a_reason_and_a_tick(office: ReviewOffice) -> None:
    d = office.driver
    env = office.built.env
    office.sign_in("rev.one", pyotp.TOTP(office.totp).at(env.now[0]))
    office.open(f"/console/campaigns/{CAMPAIGN}/reviews")
    card = d.find_element(By.CSS_SELECTOR, "section.case")
    assert "连接失败" in card.text
    assert "面试邀请" in card.text
    office.shot("review-card")
    before = len([e for e in env.ledger_entries() if e["type"] == "decision.reviewed"])
    # Neither reason nor tick: the browser keeps the form (required fields).
    d.find_element(By.ID, "confirm-1").click()
    assert d.find_elements(By.ID, "confirm-1")
    d.find_element(By.ID, "cf-reason-1").send_keys(REASON)
    d.find_element(By.ID, "confirm-1").click()  # still no tick
    assert d.find_elements(By.ID, "confirm-1")
    assert len([e for e in env.ledger_entries()
                if e["type"] == "decision.reviewed"]) == before
    d.set_script_timeout(WAIT_S)
    assert axe_violations(d) == []
    d.find_element(By.ID, "confirm-box-1").click()
    d.find_element(By.ID, "confirm-1").click()
    assert office.flash()
    reviewed = [e for e in env.ledger_entries() if e["type"] == "decision.reviewed"][-1]
    assert reviewed["body"]["reason"] == REASON
    assert reviewed["body"]["ruling"] == "confirmed"
    office.shot("review-confirmed")
    office.sign_out()
