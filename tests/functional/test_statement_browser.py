"""The candidate states their case (陈述、申辩) in a real browser on a phone-sized window
(headless Chromium): the status page tells them of the objection (its category, the
last day in Beijing time, never who objected or what they wrote), they write their
statement, and the confirmation says what happens next; the form is then gone.
Screenshots go to ``test-artifacts/``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from ledger.app.web.ratelimit import RateLimiter
from tests.functional._absence import Env, make_env
from tests.functional.test_notice_browser import (
    BrowserPages,
    axe_violations,
    chromium,
    serving,
    wait_for,
)
from tests.functional.test_notices import js
from tests.functional.test_objections import published
from tests.functional.test_selfservice_browser import no_horizontal_scroll

CAMPAIGN = "c2026"
OBJECTOR, ACCUSATION = "李建国", "电话反映：该考生学历造假。"


@dataclass
class Walk(BrowserPages):
    SHOT_PREFIX = "statement-"
    env: Env
    row: dict[str, str]
    base: str
    driver: WebDriver
    shots: Path


@pytest.fixture(scope="module")
def walk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Walk]:
    tmp = tmp_path_factory.mktemp("statement-browser")
    with make_env(tmp, f"sqlite:///{tmp / 'ledger.db'}") as env:
        env.app.extensions["absentia.rate_limiter"] = RateLimiter(1000, 60)
        notice, rows = published(env)
        resp = env.post(f"/api/v1/notices/{notice}/objections/received", "hr", {
            "name": OBJECTOR, "contact": "lijianguo@example.net", "ground": "score",
            "statement": ACCUSATION, "registration": rows[1]["registration"],
            "channel": "phone"})
        assert resp.status_code == 201, js(resp)
        ref = js(resp)["objection"]
        env.clock(env.now[0] + timedelta(hours=1))
        assert env.post(f"/api/v1/objections/{ref}/acknowledgement", "hr").status_code == 200
        assert env.post(f"/api/v1/objections/{ref}/statement-invitation", "hr",
                        {}).status_code == 200
        with serving(env.app) as base, chromium(tmp) as driver:
            yield Walk(env, rows[1], base, driver, tmp)


def test_the_candidate_states_their_case_on_a_phone(walk: Walk) -> None:
    driver, row = walk.driver, walk.row
    factor = row["id_number"][-4:]
    driver.set_window_size(390, 844)
    try:
        walk.open(f"/status?campaign={CAMPAIGN}")
        wait_for(driver, "the status form", lambda d: d.find_elements(By.ID, "registration"))
        driver.find_element(By.ID, "registration").send_keys(row["registration"])
        driver.find_element(By.ID, "factor").send_keys(factor)
        driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
        wait_for(driver, "the result page", lambda d: d.find_elements(By.ID, "case1"))
        section = driver.find_element(By.CSS_SELECTOR, "section.statement").text
        assert "陈述、申辩" in section
        assert "有人对您的公示结果提出了异议" in section
        assert "成绩有误" in section
        assert "24时前（北京时间）提交" in section
        for hidden in (OBJECTOR, ACCUSATION, "score", "obj_", "UTC"):
            assert hidden not in driver.find_element(By.TAG_NAME, "main").text
        no_horizontal_scroll(driver)
        walk.shot("invited-phone")
        driver.set_script_timeout(20)
        assert axe_violations(driver) == []
        driver.find_element(By.ID, "case1").send_keys("本人成绩真实有效，可调阅原始记录。")
        driver.find_element(By.ID, "case-factor1").send_keys(factor)
        driver.find_element(By.CSS_SELECTOR, "form[action='/statement'] button").click()
        wait_for(driver, "the confirmation", lambda d: d.find_elements(By.ID, "stated-next"))
        assert "您的陈述、申辩已收到" in driver.find_element(By.ID, "stated").text
        assert "作出处理前认真考虑您的陈述、申辩" in driver.find_element(
            By.ID, "stated-next").text
        no_horizontal_scroll(driver)
        walk.shot("stated-phone")
        assert axe_violations(driver) == []
        # Looked up again: the invitation is gone.
        walk.open(f"/status?campaign={CAMPAIGN}")
        wait_for(driver, "the status form", lambda d: d.find_elements(By.ID, "registration"))
        driver.find_element(By.ID, "registration").send_keys(row["registration"])
        driver.find_element(By.ID, "factor").send_keys(factor)
        driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
        wait_for(driver, "the result page", lambda d: "查询结果" in d.title)
        assert not driver.find_elements(By.CSS_SELECTOR, "section.statement")
        received = [e for e in walk.env.ledger_entries()
                    if e["type"] == "objection.statement_received"]
        assert [e["body"]["channel"] for e in received] == ["web"]
    finally:
        driver.set_window_size(1280, 900)
