"""A candidate attaches a PNG to their appeal in a real browser (headless Chromium, a
phone-sized window): the file input, the confirmation naming the attachment, and the
record of it in the ledger.  Screenshots go to ``test-artifacts/``."""

from __future__ import annotations

import struct
import zlib
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


def png_1x1() -> bytes:
    """A valid 1×1 white PNG (signature, IHDR, IDAT, IEND; ISO/IEC 15948)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\xff\xff")) + chunk(b"IEND", b""))


@dataclass
class Journey(BrowserPages):
    SHOT_PREFIX = "attach-"
    campaign: Campaign
    base: str
    driver: WebDriver
    shots: Path


@pytest.fixture(scope="module")
def journey(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Journey]:
    tmp = tmp_path_factory.mktemp("attach-browser")
    with make_env(tmp, f"sqlite:///{tmp / 'ledger.db'}") as env:
        campaign = build_campaign(env)
        env.app.extensions["absentia.rate_limiter"] = RateLimiter(1000, 60)
        with serving(env.app) as base, chromium(tmp) as driver:
            yield Journey(campaign, base, driver, tmp)


def test_a_candidate_uploads_a_png_with_the_appeal(journey: Journey) -> None:
    driver, c = journey.driver, journey.campaign
    screenshot = journey.shots / "网络中断截图.png"
    screenshot.write_bytes(png_1x1())
    driver.set_window_size(390, 844)
    try:
        journey.open(f"/status?campaign={CAMPAIGN}")
        wait_for(driver, "the status form", lambda d: d.find_elements(By.ID, "registration"))
        driver.find_element(By.ID, "registration").send_keys(c.reg(6))
        driver.find_element(By.ID, "factor").send_keys(c.factor(6))
        driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
        wait_for(driver, "the result page", lambda d: d.find_elements(By.ID, "attachments"))
        hint = driver.find_element(By.ID, "attachments-hint").text
        assert "最多 3 个文件" in hint
        assert "5 MB" in hint
        driver.set_script_timeout(20)
        assert axe_violations(driver) == []
        driver.find_element(By.ID, "statement").send_keys("面试时网络中断，附上截图。")
        driver.find_element(By.ID, "attachments").send_keys(str(screenshot))
        driver.find_element(By.ID, "appeal-factor").send_keys(c.factor(6))
        journey.shot("form-phone")
        driver.find_element(By.CSS_SELECTOR, "form[action='/appeal'] button").click()
        wait_for(driver, "the confirmation",
                 lambda d: d.find_elements(By.ID, "filed-attachments"))
        assert driver.find_element(By.ID, "filed-attachments").text == \
            "已随申诉提交 1 个附件。"
        assert "10 个工作日内" in driver.find_element(By.ID, "filed-next").text
        journey.shot("filed-phone")
        assert axe_violations(driver) == []
    finally:
        driver.set_window_size(1280, 900)
    (entry,) = [e for e in c.env.ledger_entries() if e["type"] == "appeal.filed"]
    png = png_1x1()
    assert entry["body"]["attachments"] == f"png:{c.env.service.attachment_hmac(png)}"
    assert "网络中断截图" not in str(entry)
