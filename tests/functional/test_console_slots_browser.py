"""Backup time slots (备用时间段) in a real browser (headless Chromium, a real local
server): an HR operator adds one on the schedule page, is told in Chinese what is wrong
with a bad capacity, then sees the slot in the table with its Beijing times and 已用/容量
(screenshots in ``test-artifacts/``); the page has no axe WCAG A/AA violations."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from selenium.webdriver.common.by import By

from ledger.absence.service import Caller
from tests.functional._absence import make_env
from tests.functional.test_console_hr import accounts
from tests.functional.test_console_setup_browser import Setup
from tests.functional.test_console_signin import PASSWORD
from tests.functional.test_notice_browser import axe_violations, chromium, serving, wait_for

BEIJING = ZoneInfo("Asia/Shanghai")


class Slots(Setup):
    SHOT_PREFIX = "console-slots-"


@pytest.fixture(scope="module")
def slots(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Slots]:
    tmp = tmp_path_factory.mktemp("console-slots-browser")
    with make_env(tmp, f"sqlite:///{tmp / 'ledger.db'}") as env:
        accounts(env).create_user("hr.one", PASSWORD, "hr", env.now[0])
        env.service.create_campaign(Caller("hr:setup", "hr"), {
            "campaign": "sz2026", "title": "2026年深圳市事业单位公开招聘",
            "posts": [{"post": "p01", "title": "综合管理"}]}, env.now[0])
        with serving(env.app) as base, chromium(tmp) as driver:
            yield Slots(env, base, driver, tmp)


def test_add_a_backup_slot_and_see_its_seats(slots: Slots) -> None:
    d = slots.driver
    env = slots.env
    slots.open("/console/sign-in")
    slots.fill("login", "hr.one")
    slots.fill("password", PASSWORD)
    d.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait_for(d, "the console home", lambda x: x.find_elements(By.ID, "role"))

    slots.open("/console/campaigns/sz2026/schedule")
    assert d.find_element(By.ID, "backup-h").text == "备用时间段"
    assert "北京时间" in d.find_element(By.ID, "backup-hint").text
    assert d.find_element(By.ID, "no-backup").text == "尚未设置备用时间段。"
    day = (env.now[0] + timedelta(days=3)).astimezone(BEIJING).replace(
        hour=14, minute=0, second=0, microsecond=0)
    slots.set_value("bs_opens", day.strftime("%Y-%m-%dT%H:%M"))
    slots.set_value("bs_closes", (day + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"))
    slots.fill("bs_capacity", "0")
    # The browser's own check would stop 0 (min="1"): the server's answer is what counts.
    d.execute_script("document.getElementById('backup-form').noValidate = true")
    d.find_element(By.ID, "backup-add").click()
    error = wait_for(d, "the form error", lambda x: x.find_elements(By.ID, "form-error"))
    assert error[0].text == "容量（人）：容量应为 1 至 50000 的整数"
    assert d.find_element(By.ID, "bs_opens").get_attribute("value") == day.strftime(
        "%Y-%m-%dT%H:%M")
    slots.shot("error")
    slots.fill("bs_capacity", "20")
    slots.fill("bs_slot", "bk-afternoon")
    d.find_element(By.ID, "backup-add").click()
    assert slots.flash() == "已添加备用时间段。"
    table = d.find_element(By.ID, "backup-slots")
    assert table.is_displayed()
    head = [th.text for th in table.find_elements(By.CSS_SELECTOR, "thead th")]
    assert head == ["编号", "开始时间", "结束时间", "已用/容量", "操作"]
    cells = [[td.text for td in tr.find_elements(By.TAG_NAME, "td")]
             for tr in table.find_elements(By.CSS_SELECTOR, "tbody tr")]
    assert cells == [["bk-afternoon", day.strftime("%Y-%m-%d %H:%M"),
                      (day + timedelta(hours=2)).strftime("%Y-%m-%d %H:%M"), "0/20",
                      "撤销 bk-afternoon"]]
    assert axe_violations(d) == []
    d.execute_script("arguments[0].scrollIntoView()", table)  # the table in the picture
    slots.shot("added")
    assert [e["body"]["slot"] for e in env.ledger_entries()
            if e["type"] == "slot.reserved"] == ["bk-afternoon"]
