"""The console's setup pages in a real browser (headless Chromium, a real local server):
an HR operator creates a campaign from the 新建招聘批次 button, imports candidates and
schedules them into two slots; the scheduled slots are on the page (screenshots in
``test-artifacts/``), and the pages have no axe WCAG A/AA violations."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import ClassVar
from zoneinfo import ZoneInfo

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.functional._absence import Env, candidates_csv, make_env
from tests.functional.test_console_hr import accounts
from tests.functional.test_console_signin import PASSWORD
from tests.functional.test_notice_browser import (
    BrowserPages,
    axe_violations,
    chromium,
    serving,
    wait_for,
)

BEIJING = ZoneInfo("Asia/Shanghai")


@dataclass
class Setup(BrowserPages):
    SHOT_PREFIX: ClassVar[str] = "console-setup-"
    env: Env
    base: str
    driver: WebDriver
    shots: Path

    def fill(self, field: str, value: str) -> None:
        box = self.driver.find_element(By.ID, field)
        box.clear()
        box.send_keys(value)

    def set_value(self, field: str, value: str) -> None:
        """A ``datetime-local`` value (typing one depends on the browser's locale)."""
        box = self.driver.find_element(By.ID, field)
        self.driver.execute_script("arguments[0].value = arguments[1]", box, value)

    def flash(self) -> str:
        found = wait_for(self.driver, "the flash message",
                         lambda x: x.find_elements(By.ID, "flash"))
        text: str = found[0].text
        return text


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    tmp = tmp_path_factory.mktemp("console-setup-browser")
    with make_env(tmp, f"sqlite:///{tmp / 'ledger.db'}") as env:
        accounts(env).create_user("hr.one", PASSWORD, "hr", env.now[0])
        with serving(env.app) as base, chromium(tmp) as driver:
            yield Setup(env, base, driver, tmp)


def test_create_a_campaign_and_schedule_windows(setup: Setup) -> None:
    d = setup.driver
    env = setup.env
    setup.open("/console/sign-in")
    setup.fill("login", "hr.one")
    setup.fill("password", PASSWORD)
    d.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait_for(d, "the console home", lambda x: x.find_elements(By.ID, "role"))

    setup.open("/console/campaigns")
    d.find_element(By.ID, "new-campaign").click()
    wait_for(d, "the campaign form", lambda x: x.find_elements(By.ID, "campaign-form"))
    assert d.find_element(By.ID, "timezone").get_attribute("value") == "Asia/Shanghai"
    assert axe_violations(d) == []
    setup.fill("campaign", "sz2026")
    setup.fill("title", "2026年深圳市事业单位公开招聘")
    setup.fill("post_0", "p01")
    setup.fill("post_title_0", "综合管理")
    setup.fill("post_1", "p01")
    setup.fill("post_title_1", "信息技术")
    d.find_element(By.ID, "create").click()
    error = wait_for(d, "the form error", lambda x: x.find_elements(By.ID, "form-error"))
    assert error[0].text == "第 2 个岗位 岗位编号：岗位编号重复"
    assert d.find_element(By.ID, "post_title_1").get_attribute("value") == "信息技术"
    setup.shot("campaign-error")
    setup.fill("post_1", "p02")
    d.find_element(By.ID, "create").click()
    assert "批次已创建" in setup.flash()
    assert [e["body"]["post"] for e in env.ledger_entries()
            if e["type"] == "campaign.post_added"] == ["p01", "p02"]

    # Import 5 candidates, then two slots of 3 and 2.
    data, _ = candidates_csv(5, seed=9)
    csv = setup.shots / "five.csv"
    csv.write_bytes(data)
    setup.open("/console/campaigns/sz2026/import")
    d.find_element(By.ID, "file").send_keys(str(csv))
    d.find_element(By.ID, "upload").click()
    assert setup.flash() == "已导入 5 名考生。"
    setup.open("/console/campaigns/sz2026/schedule")
    assert "尚未安排时段的考生：5 名" in d.find_element(By.ID, "waiting").text
    assert "北京时间" in d.find_element(By.ID, "slots-hint").text
    day = (env.now[0] + timedelta(days=2)).astimezone(BEIJING).replace(
        hour=9, minute=0, second=0, microsecond=0)
    for i, (start, capacity) in enumerate(((day, "3"), (day + timedelta(hours=2), "2"))):
        setup.set_value(f"opens_{i}", start.strftime("%Y-%m-%dT%H:%M"))
        setup.set_value(f"closes_{i}", (start + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
        setup.fill(f"capacity_{i}", capacity)
    d.find_element(By.ID, "schedule").click()
    assert setup.flash() == "已为 5 名考生安排面试时段。"
    table = d.find_element(By.ID, "scheduled")
    assert table.is_displayed()
    cells = [[td.text for td in tr.find_elements(By.TAG_NAME, "td")]
             for tr in table.find_elements(By.CSS_SELECTOR, "tbody tr")]
    assert [(c[1], c[3]) for c in cells] == [(day.strftime("%Y-%m-%d %H:%M"), "3"),
                                             ((day + timedelta(hours=2)).strftime(
                                                 "%Y-%m-%d %H:%M"), "2")]
    assert "尚未安排时段的考生：0 名" in d.find_element(By.ID, "waiting").text
    assert axe_violations(d) == []
    d.execute_script("arguments[0].scrollIntoView()", table)  # the table in the picture
    setup.shot("scheduled")
    assert len(env.service.windows("sz2026")) == 5
