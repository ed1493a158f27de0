"""An objection (异议) walked in a real browser (headless Chromium), from the public form
to the ruling: someone objects to a notice by real name and gets a reference and a
secret; the lookup shows its state; HR acknowledges it and tells the candidate; the
reviewer (password and TOTP) records the candidate's statement and rules; the lookup
then shows the outcome.  The pages pass axe's WCAG 2.1 A/AA rules; screenshots go to
``test-artifacts/objection-*.png``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pyotp
import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from ledger.app.web.ratelimit import RateLimiter
from tests.functional._absence import Env, make_env
from tests.functional._console_browser import ConsolePages
from tests.functional.test_appeal_attachments_browser import png_1x1
from tests.functional.test_console_hr import accounts
from tests.functional.test_console_signin import PASSWORD, enrol
from tests.functional.test_notice_browser import (
    WAIT_S,
    axe_violations,
    chromium,
    serving,
    wait_for,
)
from tests.functional.test_objections import published

NAME = "孙监督"
REASON = "经学信网核实，该考生学历真实，维持原结果"


@dataclass
class Site(ConsolePages):
    SHOT_PREFIX: ClassVar[str] = "objection-"
    env: Env
    notice: str
    rows: list[dict[str, str]]
    base: str
    driver: WebDriver
    shots: Path
    totp: str

    def look_up(self, ref: str, secret: str) -> str:
        self.open(f"/objections/{ref}")
        self.driver.find_element(By.ID, "secret").send_keys(secret)
        self.driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
        found = wait_for(self.driver, "the objection's state",
                         lambda x: x.find_elements(By.ID, "state"))
        text: str = found[0].text
        return text


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("objection-browser")
    with make_env(tmp, f"sqlite:///{tmp / 'ledger.db'}") as env:
        notice, rows = published(env)
        env.app.extensions["absentia.rate_limiter"] = RateLimiter(1000, 60)
        accounts(env).create_user("hr.one", PASSWORD, "hr", env.now[0])
        accounts(env).create_user("rev.one", PASSWORD, "reviewer", env.now[0])
        secret = enrol(env, env.app.test_client(), "rev.one")
        env.clock(seconds=31)
        with serving(env.app) as base, chromium(tmp) as driver:
            yield Site(env, notice, rows, base, driver, tmp, secret)


def test_an_objection_from_the_public_form_to_the_ruling(site: Site) -> None:
    d, env = site.driver, site.env
    d.set_script_timeout(WAIT_S)
    # 1. The public form, on a phone.
    d.set_window_size(390, 844)
    site.open(f"/notices/{site.notice}/objections/new")
    wait_for(d, "the objection form", lambda x: x.find_elements(By.ID, "name"))
    assert axe_violations(d) == []
    d.find_element(By.ID, "name").send_keys(NAME)
    d.find_element(By.ID, "contact").send_keys("13700001111")
    d.find_element(By.ID, "registration").send_keys(site.rows[1]["registration"])
    d.find_element(By.CSS_SELECTOR, "#ground option[value=qualification]").click()
    d.find_element(By.ID, "statement").send_keys("该考生所报学历与实际不符。")
    photo = site.shots / "孙监督-学历证明.png"
    photo.write_bytes(png_1x1())
    assert "最多 3 个文件" in d.find_element(By.ID, "attachments-hint").text
    d.find_element(By.ID, "attachments").send_keys(str(photo))
    site.shot("form-phone")
    d.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait_for(d, "the confirmation", lambda x: x.find_elements(By.ID, "reference"))
    assert d.find_element(By.ID, "filed-attachments").text == "已随异议提交 1 个附件。"
    ref = d.find_element(By.ID, "reference").text
    secret = d.find_element(By.ID, "secret").text
    assert ref.startswith("obj_")
    assert "年" in d.find_element(By.ID, "reply-by").text
    assert NAME not in d.find_element(By.TAG_NAME, "main").text
    site.shot("filed-phone")
    assert axe_violations(d) == []
    d.set_window_size(1280, 900)
    # 2. The lookup needs the secret; it shows the state, no personal data.
    assert site.look_up(ref, secret) == "已登记，待核查"
    assert NAME not in d.find_element(By.TAG_NAME, "main").text
    # 3. HR acknowledges it and tells the candidate.
    site.sign_in("hr.one")
    site.open(f"/console/objections/{ref}")
    assert d.find_element(By.CSS_SELECTOR, "#attachments td.check").text == "通过校验"
    assert "孙监督" not in d.find_element(By.TAG_NAME, "main").text
    d.find_element(By.ID, "acknowledge").click()
    wait_for(d, "the invitation form", lambda x: x.find_elements(By.ID, "invite"))
    d.find_element(By.ID, "invite").click()
    wait_for(d, "the statement form", lambda x: x.find_elements(By.ID, "record-statement"))
    assert d.find_element(By.ID, "respond-by").text
    site.sign_out()
    # 4. The reviewer records the candidate's statement, reads the objector, rules.
    site.sign_in("rev.one", pyotp.TOTP(site.totp).at(env.now[0]))
    site.open(f"/console/objections/{ref}")
    d.find_element(By.ID, "st-statement").send_keys("本人学历真实，已附学信网认证报告。")
    d.find_element(By.ID, "record-statement").click()
    wait_for(d, "the ruling form", lambda x: x.find_elements(By.ID, "statement-at"))
    d.find_element(By.ID, "show-objector").click()
    wait_for(d, "the objector page", lambda x: x.find_elements(By.ID, "objector-name"))
    assert d.find_element(By.ID, "objector-name").text == NAME
    d.back()
    wait_for(d, "the objection page", lambda x: x.find_elements(By.ID, "rule"))
    d.find_element(By.ID, "ruling-upheld").click()
    d.find_element(By.ID, "ru-reason").send_keys(REASON)
    assert axe_violations(d) == []
    d.find_element(By.ID, "rule").click()
    wait_for(d, "the ruling", lambda x: x.find_elements(By.ID, "ruling"))
    assert "维持" in d.find_element(By.ID, "ruling").text
    site.shot("ruled-console")
    site.sign_out()
    (filed,) = [e for e in env.ledger_entries() if e["type"] == "objection.filed"]
    assert filed["body"]["attachments"] == (
        f"png:{env.service.objections.attachment_hmac(png_1x1())}")
    assert "学历证明" not in str(filed)
    ruled = [e for e in env.ledger_entries() if e["type"] == "objection.ruled"]
    assert [e["body"]["ruling"] for e in ruled] == ["upheld"]
    # 5. The objector sees the outcome and its reason; the notice's counts show it.
    assert site.look_up(ref, secret) == "已答复"
    assert "维持" in d.find_element(By.ID, "ruling").text
    assert d.find_element(By.ID, "reason").text == REASON
    site.shot("state-ruled")
    site.open(f"/notices/{site.notice}/objections")
    assert d.find_element(By.ID, "count-received").text == "1"
    assert d.find_element(By.ID, "count-upheld").text == "1"
    assert axe_violations(d) == []
