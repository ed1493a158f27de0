"""The HR console in a real browser (headless Chromium), on a real local HTTP server.

The app runs on a threaded werkzeug server (127.0.0.1) over a SQLite ledger with a
campaign of 4 candidates decided (one connection failure pending review).  Chromium
does what the office does: an HR operator signs in with a password, looks at the
dashboard (the cause chart is checked in the screenshot: the technical-fault bar has a
non-zero width and is drawn in the bar colour), imports candidates (a bad file shows
the row table, a good one the success message), opens a decision and its explanation,
and signs out; a reviewer signs in with password and TOTP (pyotp at the app's clock)
and grants a make-up; once the make-up window is over, HR publishes the notice and
signs out.

Screenshots go to ``tmp_path`` and are copied to ``test-artifacts/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import ClassVar

import pyotp
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from ledger.app.web.console_hr import BAR_FILL
from tests.functional._absence import candidates_csv, make_env
from tests.functional._console_browser import ConsolePages
from tests.functional.test_console_hr import CAMPAIGN, Built, accounts, build
from tests.functional.test_console_signin import PASSWORD, enrol
from tests.functional.test_notice_browser import (
    WAIT_S,
    axe_violations,
    chromium,
    pixels_near,
    serving,
    viewport_rect,
    wait_for,
)

PLAN: list[tuple[str, ...]] = [("connection_failed",), ("joined", "completed"), (), ()]
BAR_RGB = (int(BAR_FILL[1:3], 16), int(BAR_FILL[3:5], 16), int(BAR_FILL[5:7], 16))


@dataclass
class Office(ConsolePages):
    SHOT_PREFIX: ClassVar[str] = "console-"
    built: Built
    base: str
    driver: WebDriver
    shots: Path
    totp: str

    def sign_out(self) -> None:
        super().sign_out()
        assert "您已退出登录" in self.driver.find_element(
            By.CSS_SELECTOR, "p[role=status]").text

    def flash(self) -> str:
        found = wait_for(self.driver, "the flash message",
                         lambda x: x.find_elements(By.ID, "flash"))
        assert found[0].is_displayed()
        text: str = found[0].text
        return text


@pytest.fixture(scope="module")
def office(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Office]:
    tmp = tmp_path_factory.mktemp("console-browser")
    with make_env(tmp, f"sqlite:///{tmp / 'ledger.db'}") as env:
        built = build(env, PLAN, appeal=False)
        accounts(env).create_user("hr.one", PASSWORD, "hr", env.now[0])
        accounts(env).create_user("rev.one", PASSWORD, "reviewer", env.now[0])
        secret = enrol(env, env.app.test_client(), "rev.one")  # at the app's clock
        env.clock(seconds=31)  # the enrolment used this 30-second step
        with serving(env.app) as base, chromium(tmp) as driver:
            yield Office(built, base, driver, tmp, secret)


def test_hr_and_reviewer_work_through_the_console(office: Office) -> None:
    d = office.driver
    env = office.built.env
    # HR: a password is enough.
    office.sign_in("hr.one")
    assert d.find_element(By.ID, "role").get_attribute("data-role") == "hr"
    office.open("/console/campaigns")
    bar = d.find_element(By.CSS_SELECTOR, "rect.bar[data-cause='technical']")
    assert bar.is_displayed()
    assert bar.rect["width"] > 0
    box = viewport_rect(d, bar)
    image = office.shot("dashboard")
    assert pixels_near(image, box, BAR_RGB, tolerance=20) >= 50, (box, "no bar pixels")
    assert "75.0 %" in d.find_element(By.CSS_SELECTOR, ".absence-rate").text  # 3 of 4

    # Import: a bad file shows the rows and imports nothing; a good one is imported.
    good, _ = candidates_csv(2, seed=5, prefix="N")
    lines = good.decode().splitlines()
    bad = office.shots / "bad.csv"
    bad.write_text(lines[0] + "\n" + lines[1].replace(",p01", ",p99") + "\n", encoding="utf-8")
    ok = office.shots / "good.csv"
    ok.write_bytes(good)
    before = len(env.service.candidates(CAMPAIGN))
    office.open(f"/console/campaigns/{CAMPAIGN}/import")
    d.find_element(By.ID, "file").send_keys(str(bad))
    d.find_element(By.ID, "upload").click()
    table = wait_for(d, "the row errors", lambda x: x.find_elements(By.ID, "row-errors"))
    assert table[0].is_displayed()
    assert "2 岗位 不是本批次的岗位" in table[0].text  # Excel's row 2, in Chinese
    assert d.find_element(By.ID, "nothing-imported").is_displayed()
    assert len(env.service.candidates(CAMPAIGN)) == before
    office.shot("import-errors")
    d.find_element(By.ID, "file").send_keys(str(ok))
    d.find_element(By.ID, "upload").click()
    assert office.flash() == "已导入 2 名考生。"
    assert len(env.service.candidates(CAMPAIGN)) == before + 2
    office.shot("import-done")

    # A decision and its explanation, reached from the campaign page.
    office.open(f"/console/campaigns/{CAMPAIGN}")
    d.find_element(By.CSS_SELECTOR, "#decisions a[href^='/console/decisions/']").click()
    wait_for(d, "the decision page", lambda x: x.find_elements(By.ID, "explanation-zh"))
    assert d.find_element(By.ID, "explanation-zh").is_displayed()
    assert d.find_element(By.ID, "explanation-en").text
    office.shot("decision")
    office.sign_out()

    # The reviewer: password, then the authenticator code at the app's clock.
    office.sign_in("rev.one", pyotp.TOTP(office.totp).at(env.now[0]))
    office.open(f"/console/campaigns/{CAMPAIGN}/reviews")
    d.find_element(By.ID, "makeup-1").click()
    assert office.flash() == "已准予补考并安排补考窗口。"
    assert d.find_element(By.ID, "no-pending").is_displayed()
    office.shot("makeup-granted")
    makeup = [e for e in env.ledger_entries() if e["type"] == "window.scheduled"][-1]["body"]
    assert makeup["kind"] == "makeup"
    office.sign_out()

    # The make-up window passes unattended; the sweep decides it; HR publishes.
    closes = makeup["closes_at"]
    env.clock(datetime.fromisoformat(closes.replace("Z", "+00:00")) + timedelta(minutes=15))
    assert env.service.sweep(env.now[0]) == 1
    office.sign_in("hr.one")
    office.open(f"/console/campaigns/{CAMPAIGN}/notice")
    frame = d.find_element(By.ID, "preview")
    assert frame.is_displayed()
    d.switch_to.frame(frame)
    assert office.built.reg(0) in d.find_element(By.TAG_NAME, "body").text
    d.switch_to.default_content()
    d.find_element(By.ID, "publish").click()
    assert office.flash() == "公示已发布。"
    link = d.find_element(By.CSS_SELECTOR, "#published a")
    assert link.is_displayed()
    assert [e["type"] for e in env.ledger_entries()].count("notice.published") == 1
    office.shot("notice-published")
    office.sign_out()
    office.shot("signed-out")


def test_console_pages_pass_axe_wcag21_aa(office: Office) -> None:
    """axe-core's WCAG 2.1 A/AA rules on the sign-in page and the HR pages."""
    d = office.driver
    d.set_script_timeout(WAIT_S)
    found: dict[str, list[str]] = {}
    office.open("/console/sign-in")
    found["sign-in"] = axe_violations(d)
    office.sign_in("hr.one")
    for path in ("/console/", "/console/campaigns", f"/console/campaigns/{CAMPAIGN}",
                 f"/console/campaigns/{CAMPAIGN}/import", f"/console/campaigns/{CAMPAIGN}/notice",
                 "/console/?lang=en"):
        office.open(path)
        found[path] = axe_violations(d)
    # A tablet in portrait (820 x 1180): the pages fit its width.
    d.set_window_size(820, 1180)
    for path in ("/console/campaigns", f"/console/campaigns/{CAMPAIGN}"):
        office.open(path)
        overflow = d.execute_script(
            "return document.documentElement.scrollWidth - window.innerWidth;")
        assert overflow <= 0, (path, overflow)
    d.set_window_size(1280, 900)
    office.sign_out()
    assert found == {page: [] for page in found}
