"""The campaign's lists in a real browser (headless Chromium, a real local HTTP server):
HR pages through every decision of a 45-candidate campaign 20 at a time with the
"下一页" link, searches one registration number typed in lower case with spaces, sees
that one candidate, and the list pages pass axe (WCAG 2.1 AA).  Screenshots go to
``test-artifacts/`` (``console-lists-*.png``)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.functional._absence import make_env
from tests.functional.test_console_hr import CAMPAIGN, Built, accounts, build
from tests.functional.test_console_signin import PASSWORD
from tests.functional.test_notice_browser import (
    WAIT_S,
    BrowserPages,
    axe_violations,
    chromium,
    serving,
    wait_for,
)

PLAN: list[tuple[str, ...]] = [("connection_failed",)] * 5 + [("joined", "completed")] * 20 + [
    ()] * 20


@dataclass
class Lists(BrowserPages):
    SHOT_PREFIX: ClassVar[str] = "console-lists-"
    base: str
    driver: WebDriver
    shots: Path
    built: Built


@pytest.fixture(scope="module")
def lists(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lists]:
    tmp = tmp_path_factory.mktemp("console-lists-browser")
    with make_env(tmp, f"sqlite:///{tmp / 'ledger.db'}") as env:
        built = build(env, PLAN, appeal=False)
        accounts(env).create_user("hr.one", PASSWORD, "hr", env.now[0])
        with serving(env.app) as base, chromium(tmp) as driver:
            yield Lists(base, driver, tmp, built)


def test_hr_pages_through_the_decisions_and_finds_one_candidate(lists: Lists) -> None:
    d = lists.driver
    lists.open("/console/sign-in")
    d.find_element(By.ID, "login").send_keys("hr.one")
    d.find_element(By.ID, "password").send_keys(PASSWORD)
    d.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait_for(d, "the console home", lambda x: x.find_elements(By.ID, "role"))

    lists.open(f"/console/campaigns/{CAMPAIGN}")
    d.find_element(By.ID, "to-decisions").click()
    wait_for(d, "the decision list", lambda x: x.find_elements(By.ID, "list-total"))
    d.find_element(By.CSS_SELECTOR, "#f-size option[value='20']").click()
    d.find_element(By.ID, "f-apply").click()
    wait_for(d, "page 1 of 3", lambda x: "第 1/3 页" in x.find_element(By.ID, "list-total").text)
    assert "共 45 条" in d.find_element(By.ID, "list-total").text
    lists.shot("decisions-page-1")
    seen: list[str] = []
    for n in (1, 2, 3):
        wait_for(d, f"page {n}",
                 lambda x, n=n: f"第 {n}/3 页" in x.find_element(By.ID, "list-total").text)
        seen += [a.text for a in d.find_elements(By.CSS_SELECTOR,
                                                 "#list a[href^='/console/decisions/']")]
        if n < 3:
            d.find_element(By.ID, "page-next").click()
    assert not d.find_elements(By.ID, "page-next")  # the last page
    want = {x["decision"] for x in lists.built.env.service.decisions(CAMPAIGN)}
    assert len(seen) == 45
    assert set(seen) == want
    assert d.find_element(By.ID, "f-size").get_attribute("value") == "20"  # kept

    reg = lists.built.reg(17)
    lists.open(f"/console/campaigns/{CAMPAIGN}/candidates")
    box = d.find_element(By.ID, "f-q")
    box.send_keys(f"  {reg.lower()} ")
    d.find_element(By.ID, "f-apply").click()
    wait_for(d, "one candidate", lambda x: "共 1 条" in x.find_element(By.ID, "list-total").text)
    rows = d.find_elements(By.CSS_SELECTOR, "#list tbody tr")
    assert len(rows) == 1
    assert rows[0].find_element(By.CSS_SELECTOR, "td").text == reg
    assert d.find_element(By.ID, "f-q").get_attribute("value") == reg.lower()
    lists.shot("candidate-found")

    # Printed (A4): the list alone, full width; no navigation, filters or export links.
    lists.open(f"/console/campaigns/{CAMPAIGN}/decisions?size=200")
    d.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    try:
        assert not d.find_element(By.CSS_SELECTOR, "form.list-filters").is_displayed()
        assert not d.find_element(By.ID, "export-csv").is_displayed()
        assert not d.find_element(By.CSS_SELECTOR, "nav.pages").is_displayed()
        width = d.execute_script("return document.documentElement.clientWidth;")
        assert d.find_element(By.ID, "list").rect["width"] >= 0.95 * width
        lists.shot("decisions-print")
    finally:
        d.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})

    d.set_script_timeout(WAIT_S)
    found = {}
    for path in (f"/console/campaigns/{CAMPAIGN}", f"/console/campaigns/{CAMPAIGN}/decisions",
                 f"/console/campaigns/{CAMPAIGN}/candidates",
                 f"/console/campaigns/{CAMPAIGN}/windows?lang=en"):
        lists.open(path)
        found[path] = axe_violations(d)
    assert found == {page: [] for page in found}
