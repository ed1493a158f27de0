"""The public notice and the self-service pages in a real browser (headless Chromium).

The app runs on a real local HTTP server (werkzeug, a thread, 127.0.0.1) over a SQLite
ledger; a campaign of 8 candidates is decided and its notice published through the HR
API.  Chromium then does what a reader does: follows the links from the home page,
presses the verify button with the keyboard, and ``static/verify.js`` checks every line
(from the log's tiles: checkpoint, hash tiles, entry bundles; Ed25519 checkpoint
signatures, RFC 9162 hashes) with WebCrypto.  The screenshots are checked pixel by
pixel, not only the DOM: a verified line's mark is drawn in the ok green (#0b6b0b), a
line whose entry was rewritten in the database is drawn in the error red (#b00020).  A
phone-sized window must not overflow horizontally.  A candidate checks their own result on /status.

Screenshots go to ``tmp_path`` and are copied to ``test-artifacts/`` at the repository
root (gitignored).
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask import Flask
from PIL import Image
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy import Engine, text
from werkzeug.serving import BaseWSGIServer, make_server

from ledger.app.web.ratelimit import RateLimiter
from ledger.note import Ed25519Signer
from tests.functional._absence import LOG, make_env
from tests.functional.test_selfservice import CAMPAIGN, Campaign, build_campaign

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
OK_RGB = (0x0B, 0x6B, 0x0B)
BAD_RGB = (0xB0, 0x00, 0x20)
WAIT_S = 20
LINES = 8



class BrowserPages:
    """What a browser test's fixture holds: the local server's ``base`` URL, the
    driver, and the directory of screenshots (``<SHOT_PREFIX><name>.png``)."""

    SHOT_PREFIX: ClassVar[str] = ""
    base: str
    driver: WebDriver
    shots: Path

    def open(self, path: str) -> None:
        self.driver.get(self.base + path)

    def shot(self, name: str) -> Image.Image:
        """Save a screenshot (tmp dir and test-artifacts/) and return it as RGB."""
        path = self.shots / f"{self.SHOT_PREFIX}{name}.png"
        assert self.driver.save_screenshot(str(path))
        ARTIFACTS.mkdir(exist_ok=True)
        shutil.copy(path, ARTIFACTS / path.name)
        return Image.open(path).convert("RGB")


@dataclass
class Site(BrowserPages):
    campaign: Campaign
    base: str
    notice_url: str
    driver: WebDriver
    shots: Path


def start_chromium(profile: Path) -> WebDriver:
    """Debian's chromium, headless, driven by its chromedriver (fails if missing)."""
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.fail(f"{CHROMIUM} or {CHROMEDRIVER} is missing: run `make test` (its "
                    "scripts/system-packages.sh installs chromium and chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
                "--window-size=1280,900", "--force-device-scale-factor=1",
                f"--user-data-dir={profile}"):
        options.add_argument(arg)
    return webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))


@contextmanager
def serving(app: Flask) -> Iterator[str]:
    """The app on a real local HTTP server (a thread): its base URL."""
    server: BaseWSGIServer = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)


@contextmanager
def chromium(tmp: Path) -> Iterator[WebDriver]:
    """``start_chromium`` with a fresh profile in ``tmp`` and a ``WAIT_S`` page-load
    timeout; quit after."""
    driver = start_chromium(Path(tempfile.mkdtemp(prefix="chromium-", dir=tmp)))
    try:
        driver.set_page_load_timeout(WAIT_S)
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("browser")
    with make_env(tmp, f"sqlite:///{tmp / 'ledger.db'}") as env:
        campaign = build_campaign(env, n=LINES)
        env.app.extensions["absentia.rate_limiter"] = RateLimiter(1000, 60)
        resp = env.post(f"/api/v1/campaigns/{CAMPAIGN}/notices", "hr", {"days": 5})
        assert resp.status_code == 201, resp.get_data(as_text=True)
        notice_url = (resp.json or {})["url"]
        # The log grows after publication (an appeal, a new checkpoint): the proofs then
        # come with a larger checkpoint, which verify.js must prove consistent with the
        # notice's own.
        env.clock(minutes=1)
        resp = env.client.post(f"/api/v1/campaigns/{CAMPAIGN}/appeals", json={
            "registration": campaign.reg(6), "factor": campaign.factor(6),
            "ground": "personal", "statement": "家中停电。"})
        assert resp.status_code == 201, resp.get_data(as_text=True)
        env.store.sign_checkpoint(LOG, env.clock(seconds=5))
        with serving(env.app) as base, chromium(tmp) as driver:
            yield Site(campaign, base, notice_url, driver, tmp)


# -- helpers ------------------------------------------------------------------------------


def wait_for(driver: WebDriver, what: str, check: Any) -> Any:
    try:
        return WebDriverWait(driver, WAIT_S, poll_frequency=0.1).until(check)
    except TimeoutException:
        pytest.fail(f"timed out after {WAIT_S} s waiting for {what}; page says: "
                    f"{driver.find_element(By.TAG_NAME, 'body').text[-600:]}")


def summary_done(driver: WebDriver) -> str | None:
    """The summary text (its headline, then one line per check) once verification
    finished (``<main data-verification>`` verified or failed), else None."""
    state = driver.find_element(By.TAG_NAME, "main").get_attribute("data-verification")
    if state not in ("verified", "failed"):
        return None
    summary: str = driver.find_element(By.ID, "verify-summary").text
    return summary


def viewport_rect(driver: WebDriver, element: WebElement) -> tuple[int, int, int, int]:
    """The element's box in screenshot pixels (scrolled into view first)."""
    r = driver.execute_script(
        "arguments[0].scrollIntoView({block: 'center'});"
        "const b = arguments[0].getBoundingClientRect();"
        "return [b.left, b.top, b.right, b.bottom, window.devicePixelRatio];", element)
    dpr = float(r[4])
    return (int(r[0] * dpr), int(r[1] * dpr), int(r[2] * dpr) + 1, int(r[3] * dpr) + 1)


def pixels_near(image: Image.Image, box: tuple[int, int, int, int],
                rgb: tuple[int, int, int], tolerance: int = 40) -> int:
    """How many pixels inside ``box`` are within ``tolerance`` of ``rgb`` (per channel)."""
    raw = image.crop(box).convert("RGB").tobytes()
    return sum(1 for i in range(0, len(raw), 3)
               if all(abs(raw[i + c] - rgb[c]) <= tolerance for c in range(3)))


def tab_to(driver: WebDriver, element_id: str, limit: int = 60) -> None:
    """Press TAB from the top of the page until ``element_id`` has the focus."""
    driver.execute_script("document.activeElement && document.activeElement.blur();"
                          "window.scrollTo(0, 0);")
    body = driver.find_element(By.TAG_NAME, "body")
    webdriver.ActionChains(driver).move_to_element_with_offset(body, 0, 0).perform()
    for _ in range(limit):
        webdriver.ActionChains(driver).send_keys(Keys.TAB).perform()
        if driver.switch_to.active_element.get_attribute("id") == element_id:
            return
    pytest.fail(f"#{element_id} not reached with {limit} TAB presses")


def verify_with_keyboard(site: Site) -> str:
    tab_to(site.driver, "verify-all")
    site.driver.switch_to.active_element.send_keys(Keys.ENTER)
    done: str = wait_for(site.driver, "the verification summary", summary_done)
    return done


def open_notice_from_home(site: Site) -> None:
    site.open("/")
    site.driver.find_element(By.CSS_SELECTOR, "a[href='/notices']").click()
    wait_for(site.driver, "the notice list", lambda d: "/notices" in d.current_url)
    site.driver.find_element(By.CSS_SELECTOR, f"a[href='{site.notice_url}']").click()
    wait_for(site.driver, "the notice page",
             lambda d: d.find_elements(By.CSS_SELECTOR, "#lines tr[data-index]"))


# -- tests --------------------------------------------------------------------------------


def test_notice_verifies_every_line_in_the_browser(site: Site) -> None:
    open_notice_from_home(site)
    rows = site.driver.find_elements(By.CSS_SELECTOR, "#lines tr[data-index]")
    assert len(rows) == LINES
    summary = verify_with_keyboard(site)
    # The Chinese page's words only; what was checked, line by line, is
    # test_notice_tiles_browser's.
    assert summary.split("\n")[0] == f"✓ 验证通过：{LINES}/{LINES} 行", summary
    assert "verified" not in summary
    main = site.driver.find_element(By.TAG_NAME, "main")
    assert main.get_attribute("data-verification") == "verified"
    assert main.get_attribute("data-verified-lines") == str(LINES)
    checks = site.driver.find_elements(By.CSS_SELECTOR, "#lines span.check")
    assert [c.get_attribute("class") for c in checks] == ["check ok"] * LINES
    assert all(c.text == "\u2713 已验证" for c in checks)
    # The proofs came with a checkpoint newer than the notice's (consistency was checked).
    proof = site.campaign.env.client.get(
        f"/logs/{LOG}/entries/{rows[0].get_attribute('data-index')}/tlog-proof")
    page_size = int(site.driver.find_element(By.ID, "checkpoint").text.split("\n")[1])
    assert int(proof.get_data(as_text=True).split("\n\n", 1)[1].split("\n")[1]) > page_size
    # The screenshot shows the green marks: sample the first and the last line's mark.
    for check in (checks[0], checks[-1]):
        box = viewport_rect(site.driver, check)
        image = site.shot(f"notice-verified-{checks.index(check)}")
        assert pixels_near(image, box, OK_RGB) >= 10, (box, "no ok-green pixels")
        assert pixels_near(image, box, BAD_RGB) == 0


def test_the_english_page_verifies_every_line_in_english(site: Site) -> None:
    """The switch on the Chinese page leads to the English one (its own bytes, its own
    digest in the ledger), whose lines verify with the script's English words."""
    site.open(site.notice_url)
    site.driver.find_element(By.CSS_SELECTOR, "nav.lang-switch a[hreflang='en']").click()
    wait_for(site.driver, "the English notice",
             lambda d: d.find_element(By.TAG_NAME, "html").get_attribute("lang") == "en")
    assert site.driver.current_url.endswith(site.notice_url + "?lang=en")
    main = site.driver.find_element(By.TAG_NAME, "main").text
    assert "Notice period" in main
    assert "公示期" not in main
    summary = verify_with_keyboard(site)
    assert summary.split("\n")[0] == f"✓ Verified: {LINES} of {LINES} lines", summary
    assert "已验证" not in summary
    checks = site.driver.find_elements(By.CSS_SELECTOR, "#lines span.check")
    assert [c.get_attribute("class") for c in checks] == ["check ok"] * LINES
    assert all(c.text == "\u2713 verified" for c in checks)
    site.shot("notice-en-verified")


CHECKPOINT_CASES = """
const done = arguments[arguments.length - 1];
const V = window.absentiaVerify;
const note = document.getElementById("checkpoint").textContent;
const items = Array.from(document.querySelectorAll("#keys li"));
Promise.all(items.map(li => V.parseVkey(li.textContent))).then(async keys => {
  keys = keys.filter(k => k);
  const lines = note.split("\\n");
  const out = {keys: keys.length};
  const attempt = async (name, text) => {
    try { const cp = await V.openCheckpoint(text, keys); out[name] = "ok " + cp.size; }
    catch (e) { out[name] = "fail " + e.message; }
  };
  await attempt("genuine", note);
  const bigger = [lines[0], String(Number(lines[1]) + 1)].concat(lines.slice(2)).join("\\n");
  await attempt("altered", bigger);
  // key ID and signature: 68 bytes, base64 with one "=" of padding
  const stranger = "\u2014 other.example/witness " + "A".repeat(91) + "=\\n";
  await attempt("unknown_key_added", note + stranger);
  await attempt("only_unknown_key", lines.slice(0, 4).join("\\n") + "\\n\\n" + stranger);
  const plus = await V.parseVkey(arguments[0]);
  out.vkey_with_plus = plus ? plus.name + "+" + plus.id.toString(16).padStart(8, "0") : null;
  done(out);
}, e => done({error: String(e)}));
"""


def test_checkpoint_signatures_are_checked_by_the_script(site: Site) -> None:
    """The page's checkpoint verifies; altered, it does not; unknown keys are ignored."""
    site.open(site.notice_url)
    plus = next(v for v in (Ed25519Signer("k.example/log", Ed25519PrivateKey.generate()).verifier
                            for _ in range(1000)) if "+" in v.vkey.split("+", 2)[2])
    out = site.driver.execute_async_script(CHECKPOINT_CASES, plus.vkey)
    size = site.driver.find_element(By.ID, "checkpoint").text.split("\n")[1]
    assert out == {
        "keys": 1, "genuine": f"ok {size}",
        "altered": "fail 检查点签名无效",
        "unknown_key_added": f"ok {size}",
        "only_unknown_key": "fail 检查点未由所列公钥签名",
        "vkey_with_plus": f"{plus.name}+{plus.key_id:08x}",
    }, out


def test_phone_width_has_no_horizontal_overflow(site: Site) -> None:
    driver = site.driver
    try:
        driver.set_window_size(375, 812)
        site.open(site.notice_url)
        m = driver.execute_script(
            "const w = document.querySelector('.table-wrap');"
            "return {body: document.body.scrollWidth, doc: document.documentElement.scrollWidth,"
            " inner: window.innerWidth, overflow: getComputedStyle(w).overflowX,"
            " wrapScroll: w.scrollWidth, wrapClient: w.clientWidth};")
        assert m["inner"] <= 400, m
        assert m["body"] <= m["inner"], m
        assert m["doc"] <= m["inner"], m
        assert m["overflow"] == "auto", m
        assert m["wrapClient"] <= m["inner"], m
        image = site.shot("notice-phone")
        assert image.width <= 400
        summary = verify_with_keyboard(site)
        assert summary.split("\n")[0] == f"✓ 验证通过：{LINES}/{LINES} 行", summary
        site.shot("notice-phone-verified")
        site.open(f"/status?campaign={CAMPAIGN}")
        width = driver.execute_script(
            "return [document.documentElement.scrollWidth, window.innerWidth];")
        assert width[0] <= width[1], width
        site.shot("status-phone")
    finally:
        driver.set_window_size(1280, 900)


def test_self_service_shows_own_result_and_same_error_for_wrong_factor(site: Site) -> None:
    driver = site.driver
    c = site.campaign
    site.open(site.notice_url)
    driver.find_element(By.CSS_SELECTOR, f"a[href='/status?campaign={CAMPAIGN}']").click()
    wait_for(driver, "the status form", lambda d: d.find_elements(By.ID, "registration"))
    assert driver.find_element(By.TAG_NAME, "html").get_attribute("lang") == "zh-CN"

    def submit(reg: str, factor: str) -> None:
        driver.find_element(By.ID, "registration").clear()
        driver.find_element(By.ID, "registration").send_keys(reg)
        driver.find_element(By.ID, "factor").send_keys(factor)
        driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()

    submit(c.reg(4), c.factor(4))
    wait_for(driver, "the result page", lambda d: "查询结果" in d.title)
    own = c.env.service.status(CAMPAIGN, c.reg(4), c.factor(4))
    explanation = own["windows"][0]["decisions"][0]["explanation"]
    page = driver.find_element(By.TAG_NAME, "main").text
    assert "视为自动放弃" in page
    assert "本决定由系统于" in page  # the candidate's words; the ledger's are auditors'
    assert explanation["zh"] not in page
    assert driver.find_elements(By.ID, "statement")  # the appeal form, in the period
    assert all(r["name"] not in driver.page_source for r in c.rows)
    site.shot("status-result")

    errors = []
    for reg, factor in ((c.reg(4), "0000" if c.factor(4) != "0000" else "1111"),
                        ("R01-99999", c.factor(4))):
        site.open(f"/status?campaign={CAMPAIGN}")
        submit(reg, factor)
        wait_for(driver, "the error", lambda d: d.find_elements(By.ID, "form-error"))
        errors.append(driver.find_element(By.ID, "form-error").text)
    assert errors[0] == errors[1]
    assert "不匹配" in errors[0]
    site.shot("status-error")


def rewrite_entry(engine: Engine, index: int, column: str,
                  value: bytes | Callable[[bytes], bytes]) -> bytes:
    """Rewrite ``column`` (``data`` or ``leaf_hash``) of entry ``index`` of the test log
    with raw SQL, the append-only triggers dropped first, to ``value`` (or to
    ``value(old)``); return the old value."""
    assert column in ("data", "leaf_hash")
    with engine.begin() as conn:
        for (name,) in conn.execute(text(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' "
                "AND tbl_name = 'ledger_entries'")).all():
            conn.execute(text(f"DROP TRIGGER {name}"))
        log_id = conn.execute(text("SELECT id FROM ledger_logs WHERE name = :n"),
                              {"n": LOG}).scalar_one()
        where = "log_id = :l AND idx = :i"
        args = {"l": log_id, "i": index}
        old = bytes(conn.execute(text(f"SELECT {column} FROM ledger_entries WHERE {where}"),
                                 args).scalar_one())
        new = value(old) if callable(value) else value
        conn.execute(text(f"UPDATE ledger_entries SET {column} = :v WHERE {where}"),
                     {**args, "v": new})
    return old


def tamper(engine: Engine, index: int, data: bytes) -> bytes:
    """Rewrite the bytes of entry ``index`` of the test log; return the old ones."""
    return rewrite_entry(engine, index, "data", data)


def test_a_rewritten_decision_is_marked_bad(site: Site) -> None:
    c = site.campaign
    store = c.env.store
    # The notice line of a candidate deemed withdrawn (no-show): rewrite it to "attended".
    target = c.env.service.status(CAMPAIGN, c.reg(4), c.factor(4))
    index = target["windows"][0]["decisions"][0]["ledger_index"]
    genuine = store.entry(LOG, index)
    assert b'"forfeited"' in genuine
    old = tamper(store.engine, index, genuine.replace(b'"forfeited"', b'"attended"'))
    try:
        assert old == genuine
        # A reader who has not seen this log before: the entry bundles are immutable and
        # this browser cached the genuine one in an earlier test.
        site.driver.execute_cdp_cmd("Network.clearBrowserCache", {})
        # ... and a server process that has not read it either (the app keeps immutable
        # bundles in memory once read).
        c.env.app.extensions.pop("absentia.immutable", None)
        site.open(site.notice_url)
        summary = verify_with_keyboard(site)
        assert summary.startswith(f"✗ 验证未通过：{LINES - 1}/{LINES} 行已验证，1 行失败"), summary
        assert "1 行记录未通过验证（见各行标记）" in summary
        row = site.driver.find_element(By.CSS_SELECTOR, f"#lines tr[data-index='{index}']")
        check = row.find_element(By.CSS_SELECTOR, "span.check")
        assert check.get_attribute("class") == "check bad"
        assert "记录与账本不符" in check.text
        others = site.driver.find_elements(
            By.CSS_SELECTOR, f"#lines tr[data-index]:not([data-index='{index}']) span.check")
        assert [o.get_attribute("class") for o in others] == ["check ok"] * (LINES - 1)
        box = viewport_rect(site.driver, check)
        image = site.shot("notice-tampered")
        assert pixels_near(image, box, BAD_RGB) >= 10, (box, "no error-red pixels")
        assert pixels_near(image, box, OK_RGB) == 0
    finally:
        tamper(store.engine, index, genuine)


# -- accessibility: axe-core's WCAG 2.1 A/AA rules on every public page -------------------

AXE = Path(__file__).resolve().parents[2] / ".venv" / "npm" / "node_modules" / "axe-core" \
    / "axe.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def axe_violations(driver: WebDriver) -> list[str]:
    """axe-core's WCAG 2.1 A/AA violations on the current page, one line each."""
    if not AXE.exists():
        pytest.fail(f"axe-core is missing at {AXE}: run `make test` (it installs it with npm)")
    driver.execute_script(AXE.read_text(encoding="utf-8"))
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {runOnly: {type: 'tag', values: arguments[0]}})"
        ".then(r => done(r.violations.map(v => v.id + ': ' + v.help + ' (' +"
        " v.nodes.map(n => n.target.join(' ')).slice(0, 3).join(', ') + ')')))"
        ".catch(e => done(['axe failed: ' + e]));", WCAG_TAGS)
    assert isinstance(result, list)
    return [str(x) for x in result]


def test_public_pages_pass_axe_wcag21_aa(site: Site) -> None:
    driver = site.driver
    driver.set_script_timeout(WAIT_S)
    driver.set_window_size(1280, 900)
    found: dict[str, list[str]] = {}
    for path in ("/", "/notices", site.notice_url, site.notice_url + "?lang=en",
                 f"/status?campaign={CAMPAIGN}",
                 f"/status?campaign={CAMPAIGN}&lang=en"):
        site.open(path)
        found[path] = axe_violations(driver)
    # The candidate's own result page, reached through the form.
    site.open(f"/status?campaign={CAMPAIGN}")
    driver.find_element(By.ID, "registration").send_keys(site.campaign.reg(1))
    driver.find_element(By.ID, "factor").send_keys(site.campaign.factor(1))
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait_for(driver, "the result page", lambda d: "status" in d.current_url)
    found["result"] = axe_violations(driver)
    assert found == {page: [] for page in found}


def test_the_notice_prints_full_width_as_a_compact_table(site: Site) -> None:
    """In print media (A4): no navigation or buttons, the table spans the page, and each
    line is one row of text (Chinese and English side by side), not four."""
    driver = site.driver
    driver.set_window_size(794, 1123)  # A4 at 96 dpi
    site.open(site.notice_url)
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    try:
        assert not driver.find_element(By.CSS_SELECTOR, "header .crumbs").is_displayed()
        assert not driver.find_element(By.ID, "verify-all").is_displayed()
        width = driver.execute_script("return document.documentElement.clientWidth;")
        table = driver.find_element(By.ID, "lines")
        assert table.rect["width"] >= 0.95 * width, (table.rect, width)
        rows = driver.find_elements(By.CSS_SELECTOR, "#lines tr[data-index]")
        assert len(rows) == LINES
        line = driver.execute_script(
            "return parseFloat(getComputedStyle(arguments[0]).lineHeight);", rows[0])
        assert all(r.rect["height"] < 2 * line + 4 for r in rows), [r.rect for r in rows]
        site.shot("notice-print")
    finally:
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})
        driver.set_window_size(1280, 900)
