"""The candidate's journey in a real browser on a phone-sized window (headless Chromium):
the status form, a registration number typed with full-width spaces and lower case, the
result page (current decision first, explained in plain words), the appeal form and its
confirmation (what happens next and by when).  Screenshots go to ``test-artifacts/``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from ledger.app.web.ratelimit import RateLimiter
from tests.functional._absence import make_env
from tests.functional.test_notice_browser import (
    BrowserPages,
    axe_violations,
    chromium,
    serving,
    wait_for,
)
from tests.functional.test_selfservice import CAMPAIGN, Campaign, build_campaign


@dataclass
class Journey(BrowserPages):
    SHOT_PREFIX = "selfservice-"
    campaign: Campaign
    base: str
    driver: WebDriver
    shots: Path


def candidate_journey(tmp_path_factory: pytest.TempPathFactory,
                      kind: type[Journey] = Journey) -> Iterator[Journey]:
    """A served campaign and a browser on it, for a candidate's walk (screenshots named
    by ``kind.SHOT_PREFIX``)."""
    tmp = tmp_path_factory.mktemp(kind.SHOT_PREFIX + "browser")
    with make_env(tmp, f"sqlite:///{tmp / 'ledger.db'}") as env:
        campaign = build_campaign(env)
        env.app.extensions["absentia.rate_limiter"] = RateLimiter(1000, 60)
        with serving(env.app) as base, chromium(tmp) as driver:
            yield kind(campaign, base, driver, tmp)


@pytest.fixture(scope="module")
def journey(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Journey]:
    yield from candidate_journey(tmp_path_factory)


def no_horizontal_scroll(driver: WebDriver) -> None:
    width = driver.execute_script(
        "return [document.documentElement.scrollWidth, window.innerWidth];")
    assert width[0] <= width[1], width


def test_candidate_journey_on_a_phone(journey: Journey) -> None:
    driver, c = journey.driver, journey.campaign
    driver.set_window_size(390, 844)
    try:
        journey.open(f"/status?campaign={CAMPAIGN}")
        wait_for(driver, "the status form", lambda d: d.find_elements(By.ID, "registration"))
        no_horizontal_scroll(driver)
        reg = c.reg(5)
        driver.find_element(By.ID, "registration").send_keys(
            "\u3000" + reg.lower()[:3] + "\u3000" + reg.lower()[3:] + " ")
        driver.find_element(By.ID, "factor").send_keys(c.factor(5))
        driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
        wait_for(driver, "the result page", lambda d: "查询结果" in d.title)
        main = driver.find_element(By.TAG_NAME, "main").text
        assert "当前认定" in main
        assert "本决定由系统于" in main
        assert "北京时间" in main
        for code in ("no_attempt", "forfeited", "Asia/Shanghai", "UTC"):
            assert code not in main
        no_horizontal_scroll(driver)
        journey.shot("result-phone")
        driver.set_script_timeout(20)
        assert axe_violations(driver) == []
        driver.find_element(By.ID, "statement").send_keys("我没有收到面试通知短信。")
        driver.find_element(By.ID, "appeal-factor").send_keys(c.factor(5))
        driver.find_element(By.CSS_SELECTOR, "form[action='/appeal'] button").click()
        wait_for(driver, "the confirmation", lambda d: d.find_elements(By.ID, "filed-next"))
        assert "10 个工作日内" in driver.find_element(By.ID, "filed-next").text
        no_horizontal_scroll(driver)
        journey.shot("filed-phone")
        assert axe_violations(driver) == []
    finally:
        driver.set_window_size(1280, 900)
