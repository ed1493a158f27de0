"""A candidate attaches a PNG to their appeal in a real browser (headless Chromium, a
phone-sized window): the file input, the confirmation naming the attachment, and the
record of it in the ledger; then a reviewer (password and TOTP) opens the appeal page,
sees the attachment verified, and opens the image (shown inline under its sandboxing
CSP), the read recorded.  Screenshots go to ``test-artifacts/``."""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator

import pyotp
import pytest
from selenium.webdriver.common.by import By

from tests.functional.test_console_hr import accounts
from tests.functional.test_console_signin import PASSWORD, enrol
from tests.functional.test_notice_browser import (
    axe_violations,
    wait_for,
)
from tests.functional.test_selfservice import CAMPAIGN
from tests.functional.test_selfservice_browser import Journey as CandidateJourney
from tests.functional.test_selfservice_browser import candidate_journey


def png_1x1() -> bytes:
    """A valid 1×1 white PNG (signature, IHDR, IDAT, IEND; ISO/IEC 15948)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\xff\xff")) + chunk(b"IEND", b""))


class Journey(CandidateJourney):
    SHOT_PREFIX = "attach-"


@pytest.fixture(scope="module")
def journey(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CandidateJourney]:
    yield from candidate_journey(tmp_path_factory, Journey)


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


def test_a_reviewer_sees_the_attachment_verified_and_opens_it(journey: Journey) -> None:
    driver, env = journey.driver, journey.campaign.env
    found = [e for e in env.ledger_entries() if e["type"] == "appeal.filed"]
    if found:  # the candidate's test ran first: their appeal
        appeal = found[0]["body"]["appeal"]
    else:  # run alone: the same appeal, filed directly
        c = journey.campaign
        appeal = env.service.file_appeal(CAMPAIGN, {
            "registration": c.reg(6), "factor": c.factor(6), "ground": "technical",
            "statement": "面试时网络中断，附上截图。"}, env.now[0], attachments=[png_1x1()]
        )["appeal"]
    accounts(env).create_user("rev.attach", PASSWORD, "reviewer", env.now[0])
    secret = enrol(env, env.app.test_client(), "rev.attach")
    env.clock(seconds=31)  # the enrolment used this 30-second step
    journey.open("/console/sign-in")
    driver.find_element(By.ID, "login").send_keys("rev.attach")
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait_for(driver, "the TOTP page", lambda d: d.find_elements(By.ID, "code"))
    driver.find_element(By.ID, "code").send_keys(pyotp.TOTP(secret).at(env.now[0]))
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait_for(driver, "the console home", lambda d: d.find_elements(By.ID, "role"))
    journey.open(f"/console/appeals/{appeal}")
    table = wait_for(driver, "the attachments", lambda d: d.find_elements(By.ID, "attachments"))
    assert "PNG 图片" in table[0].text
    assert driver.find_element(By.CSS_SELECTOR, "#attachments td.check").text == "通过校验"
    driver.set_script_timeout(20)
    assert axe_violations(driver) == []
    journey.shot("reviewer-appeal")
    before = len(env.ledger_entries())
    driver.find_element(By.CSS_SELECTOR, "#attachments a").click()
    image = wait_for(driver, "the image", lambda d: d.find_elements(By.TAG_NAME, "img"))
    assert driver.execute_script("return arguments[0].naturalWidth;", image[0]) == 1
    after = env.ledger_entries()
    assert len(after) == before + 1
    assert after[-1]["type"] == "pii.viewed"
    assert after[-1]["body"]["fields"] == "attachment"
