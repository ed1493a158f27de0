"""A notice verified from the log's tlog-tiles in a real browser (headless Chromium).

Two ledgers on SQLite share one signing key and one origin (the second is a copy of the
first's database and key files as it was made) but then take different entries: a forked
log.
Each has a campaign of candidates decided and its notice published through the HR API.
One local HTTP server (werkzeug, a thread) serves either app, switched between them, so
the browser sees the same site (and the same ``localStorage``) serve two trees.

``static/verify.js`` fetches the log's cosigned checkpoint, checks it with the office key
listed on the page, recomputes the root from the hash tiles and each line's leaf hash
from its entry bundle, and proves the notice's own checkpoint, and the last one this
browser verified, to be prefixes of the tree.  The tests read what a person sees (the
result's words, the marks, the alert) and ``<main data-verification>``:

- the whole notice verifies, the result says what was checked, with no per-line proof
  fetched; a second look says the log matches what this browser saw;
- one candidate's line, found by registration number, verifies alone, scrolled to and
  focused;
- a rewritten entry (raw SQL, triggers dropped) fails its line; a rewritten hash tile
  node fails the tree;
- the forked log, after the browser saw the first one, fails loudly (``role="alert"``)
  and the checkpoint the browser remembers is not replaced;
- the result and the mark column fit a 360 px wide phone;
- the script's roots of earlier sizes, recomputed from full and partial tiles of a larger
  log, are the RFC 9162 roots Python computes.
"""

from __future__ import annotations

import base64
import re
import shutil
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from sqlalchemy import Engine
from werkzeug.serving import BaseWSGIServer, make_server

from ledger import merkle
from ledger.app.samples import append_sample_events
from ledger.app.web.ratelimit import RateLimiter
from ledger.note import Ed25519Verifier
from tests.functional._absence import LOG, Env, make_env
from tests.functional.test_notice_browser import (
    ARTIFACTS,
    BAD_RGB,
    OK_RGB,
    WAIT_S,
    chromium,
    pixels_near,
    rewrite_entry,
    tab_to,
    tamper,
    viewport_rect,
    wait_for,
)
from tests.functional.test_selfservice import CAMPAIGN, Campaign, build_campaign

LINES = 8
FORK_LINES = 6


class Switch:
    """A WSGI app that passes each request to ``target`` (one of the two ledgers' apps)."""

    def __init__(self, target: Any) -> None:
        self.target = target

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        out: Iterable[bytes] = self.target(environ, start_response)
        return out


@dataclass
class Ledger:
    env: Env
    campaign: Campaign
    notice_url: str


@dataclass
class Tiles:
    first: Ledger
    fork: Ledger
    switch: Switch
    base: str
    driver: WebDriver
    shots: Path

    def use(self, ledger: Ledger) -> None:
        """Serve ``ledger``'s app; empty the browser's HTTP cache (its tiles are cached
        for a year, and the fork serves other tiles at the same paths) and the app's
        in-process cache of them (a tampered database is read as a restarted server
        process, or another worker, would read it)."""
        self.switch.target = ledger.env.app
        ledger.env.app.extensions.pop("absentia.immutable", None)
        self.driver.execute_cdp_cmd("Network.clearBrowserCache", {})

    def open(self, path: str) -> None:
        self.driver.get(self.base + path)
        wait_for(self.driver, "the verification panel",
                 lambda d: d.find_elements(By.ID, "verify-panel"))

    def shot(self, name: str) -> Image.Image:
        path = self.shots / f"tiles-{name}.png"
        assert self.driver.save_screenshot(str(path))
        ARTIFACTS.mkdir(exist_ok=True)
        shutil.copy(path, ARTIFACTS / path.name)
        return Image.open(path).convert("RGB")


def publish(env: Env) -> str:
    resp = env.post(f"/api/v1/campaigns/{CAMPAIGN}/notices", "hr", {"days": 5})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    return str((resp.json or {})["url"])


def grow(env: Env, c: Campaign, i: int) -> None:
    """Append to the log after the notice (an appeal) and sign a checkpoint."""
    env.clock(minutes=1)
    resp = env.client.post(f"/api/v1/campaigns/{CAMPAIGN}/appeals", json={
        "registration": c.reg(i), "factor": c.factor(i), "ground": "personal",
        "statement": "家中停电。"})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    env.store.sign_checkpoint(LOG, env.clock(seconds=5))


@pytest.fixture(scope="module")
def tiles(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tiles]:
    tmp = tmp_path_factory.mktemp("tiles")
    with ExitStack() as stack:
        first_env = stack.enter_context(make_env(tmp / "a", f"sqlite:///{tmp / 'a.db'}"))
        # The fork: a copy of the first ledger as it was made (its log, key and origin),
        # which then takes other entries than the first.
        shutil.copytree(tmp / "a" / "data" / "keys", tmp / "b" / "data" / "keys")
        with sqlite3.connect(tmp / "a.db") as src, sqlite3.connect(tmp / "b.db") as dst:
            src.backup(dst)
        fork_env = stack.enter_context(make_env(tmp / "b", f"sqlite:///{tmp / 'b.db'}"))
        assert fork_env.store.log(LOG).verifier_keys == first_env.store.log(LOG).verifier_keys
        ledgers = []
        for env, n in ((first_env, LINES), (fork_env, FORK_LINES)):
            env.app.extensions["absentia.rate_limiter"] = RateLimiter(1000, 60)
            c = build_campaign(env, n=n)
            url = publish(env)
            grow(env, c, 6 if n > 6 else 4)
            ledgers.append(Ledger(env, c, url))
        switch = Switch(first_env.app)
        server: BaseWSGIServer = make_server("127.0.0.1", 0, switch, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            driver = stack.enter_context(chromium(tmp))
            driver.set_script_timeout(WAIT_S)
            yield Tiles(ledgers[0], ledgers[1], switch,
                        f"http://127.0.0.1:{server.server_port}", driver, tmp)
        finally:
            server.shutdown()
            thread.join(5)


# -- helpers ------------------------------------------------------------------------------


def outcome(driver: WebDriver) -> str:
    """Wait until verification ends; its state on <main> (verified or failed)."""
    def done(d: WebDriver) -> str | None:
        state = d.find_element(By.TAG_NAME, "main").get_attribute("data-verification")
        return state if state in ("verified", "failed") else None
    state: str = wait_for(driver, "the verification outcome", done)
    return state


def verify_all(t: Tiles) -> str:
    """Press the verify button with the keyboard; the outcome state."""
    tab_to(t.driver, "verify-all")
    t.driver.switch_to.active_element.send_keys(Keys.ENTER)
    return outcome(t.driver)


def result(driver: WebDriver) -> list[str]:
    """The result as the reader sees it: the headline, then one line per check."""
    return [line for line in driver.find_element(By.ID, "verify-summary").text.split("\n")
            if line]


def verified_lines(driver: WebDriver) -> int:
    return int(driver.find_element(By.TAG_NAME, "main").get_attribute("data-verified-lines")
               or "-1")


def forget_seen(driver: WebDriver) -> None:
    driver.execute_script("window.localStorage.clear();")


def remembered(driver: WebDriver) -> dict[str, Any] | None:
    found: dict[str, Any] | None = driver.execute_script(
        "return JSON.parse(window.localStorage.getItem('absentia.checkpoint:' + "
        "arguments[0]) || 'null');", f"example.org/{LOG}")
    return found


def requests(driver: WebDriver) -> list[str]:
    """The paths the page fetched (Resource Timing), in order."""
    names: list[str] = driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => new URL(e.name).pathname);")
    return names


def office_key(env: Env) -> tuple[str, str]:
    v = Ed25519Verifier.from_vkey(env.store.log(LOG).verifier_keys[-1])
    return v.name, f"{v.key_id:08x}"


def latest_size(env: Env) -> int:
    return env.store.latest_checkpoint(LOG).size


def office(driver: WebDriver) -> str:
    """The notice's issuing office (发布单位), as the page names it."""
    return str(driver.find_element(By.ID, "issuing-office").text)


def notice_size(driver: WebDriver) -> int:
    return int(driver.find_element(By.ID, "checkpoint").text.split("\n")[1])


# -- tests --------------------------------------------------------------------------------


def test_whole_notice_verifies_from_tiles_and_says_what_was_checked(tiles: Tiles) -> None:
    t, d = tiles, tiles.driver
    t.use(t.first)
    t.open(t.first.notice_url)
    forget_seen(d)
    assert d.find_element(By.TAG_NAME, "main").get_attribute("data-verification") == "pending"
    d.execute_script("performance.setResourceTimingBufferSize(10000);"
                     "performance.clearResourceTimings();")
    assert verify_all(t) == "verified", result(d)
    assert verified_lines(d) == LINES
    size, key = latest_size(t.first.env), office_key(t.first.env)
    page = notice_size(d)
    assert page < size  # the log grew after the notice: consistency is really checked
    assert result(d) == [
        f"✓ 验证通过：{LINES}/{LINES} 行",
        f"✓ 检查点（{size} 条记录）由{office(d)}的账本公钥 {key[0]}（密钥 ID {key[1]}）签名",
        f"✓ {LINES} 行记录均在账本中，位于页面所示的账本序号，且均为认定决定",
        f"✓ 账本自本公示发布时的检查点（{page} 条记录）以来只增未改",
        f"✓ 本浏览器首次验证此账本：已记住当前检查点（{size} 条记录），"
        "以后账本若被改写或回退将报警",
    ], result(d)
    checks = d.find_elements(By.CSS_SELECTOR, "#lines span.check")
    assert [c.text for c in checks] == ["✓ 已验证"] * LINES
    # From tiles: the checkpoint, hash tiles and entry bundles, no per-line proof.
    paths = requests(d)
    log = f"/logs/{LOG}/"
    assert f"{log}checkpoint" in paths
    assert any(p.startswith(f"{log}tile/0/") for p in paths), paths
    assert any(p.startswith(f"{log}tile/entries/") for p in paths), paths
    assert not [p for p in paths if "/proof" in p or "/entries/" in p.replace("tile/entries/", "")]
    assert len(paths) <= 10, paths  # a log of a few hundred entries: a handful of tiles
    seen = remembered(d)
    assert seen is not None
    assert seen["size"] == size
    box = viewport_rect(d, checks[-1])
    image = t.shot("verified")
    assert pixels_near(image, box, OK_RGB) >= 10
    assert pixels_near(image, box, BAD_RGB) == 0
    # A second look: the log matches what this browser saw; then the log grows.
    t.open(t.first.notice_url)
    assert verify_all(t) == "verified"
    assert result(d)[-1] == f"✓ 账本与本浏览器上次所见的检查点（{size} 条记录）一致，未被改写"
    grow(t.first.env, t.first.campaign, 5)
    t.open(t.first.notice_url)
    assert verify_all(t) == "verified"
    bigger = latest_size(t.first.env)
    assert result(d)[-1] == (f"✓ 账本自本浏览器上次所见的检查点（{size} 条记录）以来只增未改，"
                             f"现有 {bigger} 条记录")
    assert (remembered(d) or {})["size"] == bigger


def test_the_english_page_says_it_in_english(tiles: Tiles) -> None:
    t, d = tiles, tiles.driver
    t.use(t.first)
    t.open(t.first.notice_url + "?lang=en")
    assert verify_all(t) == "verified"
    size, key = latest_size(t.first.env), office_key(t.first.env)
    assert result(d) == [
        f"✓ Verified: {LINES} of {LINES} lines",
        f"✓ The log's checkpoint ({size} entries) is signed by {office(d)}'s log key {key[0]} "
        f"(key ID {key[1]})",
        f"✓ All {LINES} lines are in the log at the ledger index shown, each a decision entry",
        f"✓ The log only grew since this notice's own checkpoint ({notice_size(d)} entries)",
        f"✓ The log matches the last checkpoint this browser saw ({size} entries): "
        "not rewritten",
    ], result(d)


def test_one_candidates_line_by_registration_number(tiles: Tiles) -> None:
    t, d = tiles, tiles.driver
    t.use(t.first)
    t.open(t.first.notice_url)
    c = t.first.campaign
    label = d.find_element(By.CSS_SELECTOR, "label[for='find-registration']")
    assert label.text == "按报名序号查找并验证我的记录"
    box = d.find_element(By.ID, "find-registration")
    box.send_keys("R99-99999", Keys.ENTER)
    wait_for(d, "the not-found message", lambda x: x.find_element(By.ID, "find-status").text)
    assert d.find_element(By.ID, "find-status").text == \
        "本公示名单中没有报名号为 R99-99999 的记录。"
    assert d.find_element(By.TAG_NAME, "main").get_attribute("data-verification") == "pending"
    reg = c.reg(3)
    box.clear()
    box.send_keys(f"  {reg.lower()} ", Keys.ENTER)  # as typed: spaces, any case
    assert outcome(d) == "verified", result(d)
    assert verified_lines(d) == 1
    rows = d.find_elements(By.XPATH, f"//table[@id='lines']//tr[td[@data-col='registration']"
                                     f"='{reg}']")
    assert len(rows) == 1
    row = rows[0]
    index = row.get_attribute("data-index")
    lines = result(d)
    assert lines[0] == f"✓ 您的记录（报名号 {reg}，账本序号 #{index}）已验证", lines
    assert f"✓ 该行记录在账本中，位于页面所示的账本序号 #{index}，且为认定决定" in lines
    assert "mine" in (row.get_attribute("class") or "")
    assert d.switch_to.active_element == row
    marks = [m.text for m in d.find_elements(By.CSS_SELECTOR, "#lines span.check")]
    assert marks.count("✓ 已验证") == 1, marks
    assert marks.count("") == LINES - 1, marks
    assert row.find_element(By.CSS_SELECTOR, "span.check").text == "✓ 已验证"
    in_view = d.execute_script("const b = arguments[0].getBoundingClientRect();"
                               "return b.top >= 0 && b.bottom <= window.innerHeight;", row)
    assert in_view
    t.shot("one-line")


def set_leaf_hash(engine: Engine, index: int, value: bytes | None = None) -> bytes:
    """Rewrite the stored leaf hash of entry ``index`` (what level-0 hash tiles are served
    from), by default with one bit flipped; return the old hash."""
    return rewrite_entry(engine, index, "leaf_hash",
                         value if value is not None else lambda old: bytes([old[0] ^ 1]) + old[1:])


def test_a_rewritten_entry_fails_its_line(tiles: Tiles) -> None:
    t, d = tiles, tiles.driver
    c, store = t.first.campaign, t.first.env.store
    target = c.env.service.status(CAMPAIGN, c.reg(4), c.factor(4))
    index = target["windows"][0]["decisions"][0]["ledger_index"]
    genuine = store.entry(LOG, index)
    assert b'"forfeited"' in genuine
    tamper(store.engine, index, genuine.replace(b'"forfeited"', b'"attended"'))
    try:
        t.use(t.first)
        t.open(t.first.notice_url)
        assert verify_all(t) == "failed"
        assert verified_lines(d) == LINES - 1
        lines = result(d)
        assert lines[0] == f"✗ 验证未通过：{LINES - 1}/{LINES} 行已验证，1 行失败", lines
        assert "✗ 1 行记录未通过验证（见各行标记）" in lines
        check = d.find_element(By.CSS_SELECTOR, f"#lines tr[data-index='{index}'] span.check")
        assert check.text == "✗ 记录与账本不符"
        box = viewport_rect(d, check)
        image = t.shot("tampered-entry")
        assert pixels_near(image, box, BAD_RGB) >= 10
        assert pixels_near(image, box, OK_RGB) == 0
    finally:
        tamper(store.engine, index, genuine)


def test_a_rewritten_hash_tile_fails_the_tree(tiles: Tiles) -> None:
    t, d = tiles, tiles.driver
    store = t.first.env.store
    old = set_leaf_hash(store.engine, 3)  # served in level-0 tile 000
    try:
        t.use(t.first)
        t.open(t.first.notice_url)
        assert verify_all(t) == "failed"
        assert verified_lines(d) == 0
        lines = result(d)
        assert lines[0].startswith("✗ 验证未通过"), lines
        assert "✗ 账本哈希与签名的检查点不符" in lines
        marks = {m.text for m in d.find_elements(By.CSS_SELECTOR, "#lines span.check")}
        assert marks == {"✗ 账本哈希与签名的检查点不符"}, marks
    finally:
        set_leaf_hash(store.engine, 3, old)


def test_a_forked_log_after_the_first_was_seen_fails_loudly(tiles: Tiles) -> None:
    t, d = tiles, tiles.driver
    t.use(t.first)
    t.open(t.first.notice_url)
    assert verify_all(t) == "verified"
    seen = remembered(d)
    assert seen is not None
    assert seen["size"] == latest_size(t.first.env)
    # The same site now serves the other tree, under the same origin and key.
    t.use(t.fork)
    t.open(t.fork.notice_url)
    assert not d.find_element(By.ID, "verify-alert").is_displayed()
    assert verify_all(t) == "failed"
    alert = d.find_element(By.ID, "verify-alert")
    assert alert.get_attribute("role") == "alert"
    assert alert.is_displayed()
    assert alert.text.startswith("警告：账本的历史与本浏览器此前所见不一致"), alert.text
    assert f"本浏览器上次所见：{seen['size']} 条记录（根哈希 {seen['root']}）" in alert.text
    lines = result(d)
    assert lines[0] == "✗ 验证未通过", lines
    assert lines[-1] == (f"✗ 账本已被改写或回退：与本浏览器上次所见的检查点（{seen['size']} 条"
                         "记录）不一致"), lines
    # The checkpoint signature itself is genuine (same key): only the history differs.
    assert lines[1].startswith("✓ 检查点（"), lines
    assert remembered(d) == seen  # not replaced by the fork's
    # Lines found in that other tree prove nothing: none is shown as verified.
    marks = {m.text for m in d.find_elements(By.CSS_SELECTOR, "#lines span.check")}
    assert marks == {"✗ 账本历史与此前所见不一致"}, marks
    assert verified_lines(d) == 0
    box = viewport_rect(d, alert)
    image = t.shot("fork")
    assert pixels_near(image, box, BAD_RGB) >= 50
    # Back to the first log: it still matches what this browser saw.
    t.use(t.first)
    t.open(t.first.notice_url)
    assert verify_all(t) == "verified"
    assert not d.find_element(By.ID, "verify-alert").is_displayed()


def test_a_log_rolled_back_behind_the_notice_fails_loudly(tiles: Tiles) -> None:
    """The notice's page was signed on a checkpoint of the first log; the site then
    serves a shorter log under the same origin and key (rolled back behind the notice):
    the page alarms, as it does for a fork (before, it only said the checkpoint did not
    verify, with no alert)."""
    t, d = tiles, tiles.driver
    assert latest_size(t.fork.env) < latest_size(t.first.env)
    t.use(t.first)
    t.open(t.first.notice_url)
    t.use(t.fork)  # the page stays; its checks now read the shorter log
    try:
        assert verify_all(t) == "failed"
        alert = d.find_element(By.ID, "verify-alert")
        assert alert.is_displayed()
        assert alert.text.startswith("警告：账本与本公示发布时签名的检查点不一致"), alert.text
        assert any("账本检查点早于公示" in line for line in result(d)), result(d)
        assert verified_lines(d) == 0
    finally:
        t.use(t.first)


def test_the_per_line_method_stays_callable(tiles: Tiles) -> None:
    """``?verify=per-line`` (kept for the benchmark): one tlog-proof and entry a line."""
    t, d = tiles, tiles.driver
    t.use(t.first)
    t.open(t.first.notice_url + "?verify=per-line")
    d.execute_script("performance.clearResourceTimings();")
    assert verify_all(t) == "verified"
    assert verified_lines(d) == LINES
    assert result(d)[0] == f"✓ {LINES}/{LINES} 已验证"
    assert len([p for p in requests(d) if p.endswith("/tlog-proof")]) == LINES


def test_result_and_marks_fit_a_phone(tiles: Tiles) -> None:
    t, d = tiles, tiles.driver
    t.use(t.first)
    try:
        d.set_window_size(360, 800)
        t.open(t.first.notice_url)
        assert verify_all(t) == "verified"
        m = d.execute_script(
            "const cell = document.querySelector('#lines tr[data-index] td:last-child');"
            "const s = document.getElementById('verify-summary').getBoundingClientRect();"
            "const w = document.querySelector('.table-wrap');"
            "return {doc: document.documentElement.scrollWidth, inner: window.innerWidth,"
            " cell: cell.getBoundingClientRect().right, summary: s.right,"
            " wrap: w.scrollWidth - w.clientWidth};")
        assert m["inner"] <= 400, m
        assert m["doc"] <= m["inner"], m
        assert m["wrap"] == 0, m  # the list itself does not scroll sideways either
        assert m["cell"] <= m["inner"], m
        assert m["summary"] <= m["inner"], m
        check = d.find_element(By.CSS_SELECTOR, "#lines span.check")
        box = viewport_rect(d, check)
        image = t.shot("phone")
        assert image.width <= 400
        assert pixels_near(image, box, OK_RGB) >= 10
        assert re.fullmatch(r"✓ 已验证", check.text)
    finally:
        d.set_window_size(1280, 900)


TREE_CASES = """
const done = arguments[arguments.length - 1];
const [log, size, root, cases] = arguments;
const b64 = s => Uint8Array.from(atob(s), c => c.charCodeAt(0));
const T = window.absentiaVerify.TileTree;
(async () => {
  const tree = new T(log, size, b64(root));
  const out = {root: await tree.checkRoot().then(() => "ok", e => "fail " + e.message)};
  out.extends = {};
  for (const [m, good, bad] of cases) {
    out.extends[m] = [await tree.extends(m, b64(good)), await tree.extends(m, b64(bad))];
  }
  const full = await tree.tile(0, 1);
  out.tile1 = btoa(String.fromCharCode(...full[255]));
  const wrong = new T(log, size, b64(cases[0][2]));
  out.wrong_root = await wrong.checkRoot().then(() => "ok", e => "fail " + e.message);
  out.encode = [0, 7, 999, 1000, 1234067].map(n => window.absentiaVerify.encodeIndex(n));
  done(out);
})().catch(e => done({error: String(e)}));
"""


def test_roots_of_earlier_sizes_are_recomputed_from_full_and_partial_tiles(
        tiles: Tiles) -> None:
    """A log of more than two full level-0 tiles (and a level-1 tile): the script's root
    of each earlier size, from the tiles of the latest tree, is the RFC 9162 root Python
    computes from the entries; a wrong root is refused, also for the tree itself."""
    t, d = tiles, tiles.driver
    env = t.fork.env
    append_sample_events(env.store, LOG, 700, env.clock(minutes=1))
    cp = env.store.sign_checkpoint(LOG, env.clock(seconds=5))
    assert cp.size > 2 * 256 + 1
    leaves = [merkle.leaf_hash(env.store.entry(LOG, i)) for i in range(cp.size)]
    assert merkle.root_from_leaf_hashes(leaves) == cp.root

    def b64(h: bytes) -> str:
        return base64.b64encode(h).decode()

    sizes = [1, 2, 3, 255, 256, 257, 300, 511, 512, 513, cp.size - 1, cp.size]
    cases = [[m, b64(merkle.root_from_leaf_hashes(leaves[:m])),
              b64(merkle.root_from_leaf_hashes([*leaves[:m - 1], bytes(32)]))] for m in sizes]
    t.use(t.fork)
    t.open(t.fork.notice_url)
    out = d.execute_async_script(TREE_CASES, LOG, cp.size, b64(cp.root), cases)
    assert out == {
        "root": "ok",
        "extends": {str(m): [True, False] for m in sizes},
        "tile1": b64(leaves[511]),
        "wrong_root": "fail 账本哈希与签名的检查点不符",
        "encode": ["000", "007", "999", "x001/000", "x001/x234/067"],
    }, out
