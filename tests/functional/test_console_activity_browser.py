"""Who did what, in a real browser (headless Chromium) on a local HTTP server: an HR
operator signs in, opens the campaign's activity page (a total and pages), follows the
pages, and opens a reviewed decision, which names its reviewer by login name in Beijing
time; the pages pass axe (WCAG 2.1 AA).  Screenshots go to ``test-artifacts/``."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import ClassVar

import pytest
from selenium.webdriver.common.by import By

from ledger.absence.service import Caller
from tests.functional._absence import make_env
from tests.functional.test_console_browser import Office
from tests.functional.test_console_hr import CAMPAIGN, accounts, build
from tests.functional.test_console_signin import PASSWORD
from tests.functional.test_notice_browser import axe_violations, chromium, serving, wait_for


@dataclass
class ActivityOffice(Office):
    SHOT_PREFIX: ClassVar[str] = "activity-"
    decision: str = ""


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ActivityOffice]:
    tmp = tmp_path_factory.mktemp("activity-browser")
    with make_env(tmp, f"sqlite:///{tmp / 'ledger.db'}") as env:
        built = build(env, appeal=False)
        accounts(env).create_user("hr.one", PASSWORD, "hr", env.now[0])
        rev = accounts(env).create_user("rev.one", PASSWORD, "reviewer", env.now[0])
        decision = env.service.decisions(CAMPAIGN, pending_review=True)[0]["decision"]
        env.service.review(Caller(f"reviewer:{rev}", "reviewer"), decision,
                           {"ruling": "confirmed"}, env.now[0])
        with serving(env.app) as base, chromium(tmp) as driver:
            yield ActivityOffice(built, base, driver, tmp, "", decision)


def test_hr_reads_who_did_what(office: ActivityOffice) -> None:
    d = office.driver
    office.sign_in("hr.one")
    office.open(f"/console/campaigns/{CAMPAIGN}/activity")
    wait_for(d, "the activity table", lambda x: x.find_elements(By.ID, "activity"))
    total = d.find_element(By.ID, "activity-total").text
    m = re.fullmatch(r"共 (\d+) 条记录，第 1 页，共 (\d+) 页", total)
    assert m is not None, total
    assert int(m.group(2)) >= 2
    table = d.find_element(By.ID, "activity").text
    assert "北京时间" in table
    assert not re.search(r"\d{2}:\d{2}:\d{2}(\.\d+)?Z|decision\.made|connection_failed", table)
    office.shot("campaign")
    assert axe_violations(d) == []
    d.find_element(By.CSS_SELECTOR, "a[rel=next]").click()
    wait_for(d, "page 2", lambda x: "第 2 页" in x.find_element(By.ID, "activity-total").text)

    office.open(f"/console/decisions/{office.decision}")
    assert d.find_element(By.ID, "reviewer").text == "rev.one（人事复核）"
    assert "北京时间" in d.find_element(By.ID, "reviewed-at").text
    d.find_element(By.ID, "activity").click()
    wait_for(d, "the decision's activity",
             lambda x: "rev.one" in x.find_element(By.ID, "activity").text)
    assert "人工复查" in d.find_element(By.ID, "activity").text
    office.shot("decision")
    assert axe_violations(d) == []
