"""Witnesses on the public notice, server-rendered and verified in a real browser.

Two real witnesses (``absentia witness serve``, each a process with its own key and
database) are configured with ``required = 2``; a campaign of 8 candidates is decided and
its notice published through the HR API, so the notice embeds a checkpoint both
witnesses cosigned.  The page is served by a real local HTTP server (werkzeug, a thread,
127.0.0.1) over a SQLite ledger, and read by headless Chromium.

- Without JavaScript (the raw HTML): the page lists both witnesses (name and vkey) and
  the policy's k, and one row per cosignature with the witness's name and the time taken
  from the cosignature's own timestamp; the home page lists the witnesses too.
- ``static/verify.js`` verifies each cosignature (C2SP tlog-cosignature v1, Ed25519) with
  WebCrypto and reports "cosigned by 2 of 2 witnesses (verified in your browser)" among
  the checks of its result.
- An attacker with database access rewrites the stored page (``notice_documents``, the
  published bytes; an operational table, so no append-only trigger stands in the way):
  a flipped bit in one cosignature, a witness vkey swapped for another key, or a
  cosignature time changed on the page.  The browser marks that cosignature not
  verified, says "1 of 2", and fails the summary because 2 are required.
- An attacker rewrites a stored cosignature where the log keeps it (``ledger_cosignatures``,
  append-only triggers dropped with raw SQL; with them in place the database refuses)
  before a notice is published from that checkpoint: publishing verifies the stored
  cosignatures again, so k is not met and nothing is published (503 naming the witness).
- The script's cosignature check against signatures made in Python, at the byte level:
  the body, the timestamp (including one above 2^53, and 2^63 which the spec forbids).
"""

from __future__ import annotations

import base64
import re
import struct
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from html import unescape
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from selenium.webdriver.common.by import By
from sqlalchemy import select, text, update
from sqlalchemy.exc import DBAPIError

from ledger.absence import tables as P  # noqa: N812
from ledger.app.web import notices as public_web
from ledger.app.web.ratelimit import RateLimiter
from ledger.note import SignedNote
from ledger.storage.tables import cosignatures
from ledger.timetext import zone_label
from ledger.witness.client import load_witness_settings, push_checkpoint
from ledger.witness.cosig import CosignatureV1Signer, CosignatureV1Verifier, signed_message
from tests.functional._absence import LOG, Env, make_env
from tests.functional._witness import WitnessProcess
from tests.functional.test_notice_browser import (
    BAD_RGB,
    OK_RGB,
    WAIT_S,
    Site,
    axe_violations,
    chromium,
    pixels_near,
    serving,
    verify_with_keyboard,
    viewport_rect,
)
from tests.functional.test_selfservice import CAMPAIGN, build_campaign

LINES = 8
# The Chinese page (the notice's default) speaks Chinese only; the English page English.
LINES_OK = f"✓ 验证通过：{LINES}/{LINES} 行"
LINES_OK_EN = f"✓ Verified: {LINES} of {LINES} lines"
FAILED = "✗ 验证未通过"


def cosigned_text(n: int, m: int) -> str:
    return f"已由 {n}/{m} 个见证方联署（已在本浏览器中验证）"


def cosigned_text_en(n: int, m: int) -> str:
    return f"cosigned by {n} of {m} witnesses (verified in your browser)"


def outcome(summary: str) -> tuple[str, str]:
    """The result's headline and its line on the witnesses (marked ✓ or ✗)."""
    lines = summary.split("\n")
    witnesses = [line for line in lines if "见证方" in line or "witnesses" in line]
    assert len(witnesses) == 1, lines
    return lines[0], witnesses[0]


@dataclass
class WitnessSite:
    site: Site
    env: Env
    witnesses: list[WitnessProcess]
    notice: str

    def page_html(self, lang: str = "") -> str:
        """The notice's Chinese page, or with ``lang="?lang=en"`` its English one."""
        return self.env.client.get(self.site.notice_url + lang).get_data(as_text=True)

    def stored(self) -> bytes:
        with self.env.store.engine.connect() as conn:
            return bytes(conn.execute(select(P.notice_documents.c.html).where(
                P.notice_documents.c.notice == self.notice)).scalar_one())

    def rewrite(self, data: bytes) -> None:
        """Rewrite the stored page with raw SQL, then serve it afresh: empty server-side
        caches (as after a restart) and an empty browser cache (the page is immutable)."""
        with self.env.store.engine.begin() as conn:
            conn.execute(update(P.notice_documents).where(
                P.notice_documents.c.notice == self.notice).values(html=data))
        self.env.app.extensions["absentia.notice_cache"] = public_web._NoticeCache()
        public_web._GZIPPED.clear()
        self.site.driver.execute_cdp_cmd("Network.clearBrowserCache", {})


WITNESS_NAMES = ("w1.example.net/witness", "w2.example.net/witness")


@contextmanager
def witnessed_env(tmp: Path) -> Iterator[tuple[Env, list[WitnessProcess]]]:
    """An ``Env`` on SQLite whose config names two running witness processes, both
    required; the witnesses know the log."""
    witnesses = [WitnessProcess(tmp / f"w{i}", name) for i, name in enumerate(WITNESS_NAMES, 1)]
    for w in witnesses:
        w.init()
    extra = "".join(f'\n[[witnesses]]\nname = "{w.name}"\nurl = "{w.url}"\nvkey = "{w.vkey}"\n'
                    for w in witnesses)
    extra += "\n[witness_policy]\nrequired = 2\ntimeout_s = 10\n"
    try:
        with make_env(tmp, f"sqlite:///{tmp / 'ledger.db'}", extra_config=extra) as env:
            env.app.extensions["absentia.witnesses"] = load_witness_settings(env.settings)
            env.app.extensions["absentia.rate_limiter"] = RateLimiter(1000, 60)
            info = env.store.log(LOG)
            for w in witnesses:
                w.add_log(info.origin, *info.verifier_keys)
                w.start()
            yield env, witnesses
    finally:
        for w in witnesses:
            w.stop()


def publish(env: Env) -> dict[str, str]:
    resp = env.post(f"/api/v1/campaigns/{CAMPAIGN}/notices", "hr", {"days": 5})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    record: dict[str, str] = resp.json or {}
    return record


@pytest.fixture(scope="module")
def wsite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WitnessSite]:
    tmp = tmp_path_factory.mktemp("witness-browser")
    with witnessed_env(tmp) as (env, witnesses):
        campaign = build_campaign(env, n=LINES)
        record = publish(env)
        with serving(env.app) as base, chromium(tmp) as driver:
            driver.set_script_timeout(WAIT_S)
            site = Site(campaign, base, record["url"], driver, tmp)
            yield WitnessSite(site, env, witnesses, record["notice"])


def checkpoint_note(html: str) -> SignedNote:
    found = re.search(r'<pre id="checkpoint">(.*?)</pre>', html, re.S)
    assert found is not None, "no checkpoint on the page"
    return SignedNote.parse(unescape(found.group(1)))


def cosignature_line(html: str, name: str) -> str:
    found = re.search(rf"^— {re.escape(name)} ([A-Za-z0-9+/=]+)$", html, re.M)
    assert found is not None, f"no cosignature line by {name}"
    return found.group(1)


# -- without JavaScript: what the server rendered -----------------------------------------


def test_page_lists_witnesses_and_cosignatures_without_javascript(wsite: WitnessSite) -> None:
    html = wsite.page_html()
    names = [w.name for w in wsite.witnesses]
    listed = re.findall(r'<li data-witness="([^"]+)">([^<]+)<br><code class="vkey">([^<]+)'
                        r"</code></li>", html)
    assert listed == [(w.name, w.name, w.vkey) for w in wsite.witnesses], listed
    assert '<ul id="witnesses" data-required="2"' in html
    assert "发布本公示需 2 个见证方联署（共 2 个）" in html
    assert "required 2 of these 2 witnesses to cosign" not in html
    assert "required 2 of these 2 witnesses to cosign" in wsite.page_html("?lang=en")
    # One row per cosignature the embedded checkpoint carries, its time from the
    # cosignature's own timestamp, shown in the campaign's time zone.
    note = checkpoint_note(html)
    rows = re.findall(r'<tr data-witness="([^"]+)" data-key-id="([0-9a-f]{8})" '
                      r'data-timestamp="([0-9]+)"><td>([^<]+)</td><td><time datetime="([^"]+)">'
                      r"([^<]+)</time> \(([^)]+)\)</td>", html)
    assert sorted(r[0] for r in rows) == names, rows
    tz_name = wsite.env.service.campaign(CAMPAIGN)["timezone"]
    for name, key_id, ts, shown_name, utc, local, tz in rows:
        verifier = CosignatureV1Verifier.from_vkey(
            next(w.vkey for w in wsite.witnesses if w.name == name))
        sig = next(s for s in note.signatures if (s.name, s.key_id) == (name, verifier.key_id))
        assert key_id == f"{verifier.key_id:08x}"
        assert int(ts) == struct.unpack(">Q", sig.signature[:8])[0]
        assert verifier.verify(note.text.encode(), sig.signature)
        moment = datetime.fromtimestamp(int(ts), UTC)
        assert shown_name == name
        assert utc == moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert local == moment.astimezone(ZoneInfo(tz_name)).strftime("%Y-%m-%d %H:%M:%S")
        assert tz == zone_label(tz_name, "zh")  # 北京时间, as people name it
    # The offline command on the page names the witnesses and the policy.
    offline = "".join(f" --witness '{w.vkey}'" for w in wsite.witnesses)
    assert offline + " --witnesses-required 2</code>" in html
    # The home page lists the configured witnesses next to the logs' keys.
    home = wsite.env.client.get("/").get_data(as_text=True)
    assert re.findall(r'<tr data-witness="([^"]+)"><td>[^<]+</td><td><code>([^<]+)</code>',
                      home) == [(w.name, w.vkey) for w in wsite.witnesses]
    assert "发布公示需 2 个见证方联署" in home  # Chinese by default; English says the same
    english = wsite.env.client.get("/?lang=en").get_data(as_text=True)
    assert "publishing a notice requires 2 of them to cosign" in english


# -- in the browser --------------------------------------------------------------------------


def test_browser_verifies_both_cosignatures(wsite: WitnessSite) -> None:
    site = wsite.site
    site.open(site.notice_url)
    summary = verify_with_keyboard(site)
    assert outcome(summary) == (LINES_OK, f"✓ {cosigned_text(2, 2)}"), summary
    driver = site.driver
    assert driver.find_element(By.ID, "verify-summary").get_attribute("class") == "check ok"
    lines = driver.find_elements(By.CSS_SELECTOR, "#lines span.check")
    assert [c.get_attribute("class") for c in lines] == ["check ok"] * LINES
    rows = driver.find_elements(By.CSS_SELECTOR, "#cosignatures tr[data-witness]")
    assert sorted(str(r.get_attribute("data-witness")) for r in rows) == \
        sorted(w.name for w in wsite.witnesses)
    checks = [r.find_element(By.CSS_SELECTOR, "span.check") for r in rows]
    assert [c.get_attribute("class") for c in checks] == ["check ok", "check ok"]
    assert all(c.text == "\u2713 已验证" for c in checks)
    box = viewport_rect(driver, checks[-1])
    image = site.shot("notice-witnesses-verified")
    assert pixels_near(image, box, OK_RGB) >= 10, (box, "no ok-green pixels")
    assert pixels_near(image, box, BAD_RGB) == 0


def test_the_english_page_verifies_both_cosignatures_in_english(wsite: WitnessSite) -> None:
    site = wsite.site
    site.open(site.notice_url + "?lang=en")
    summary = verify_with_keyboard(site)
    assert outcome(summary) == (LINES_OK_EN, f"✓ {cosigned_text_en(2, 2)}"), summary
    driver = site.driver
    assert driver.find_element(By.ID, "verify-summary").get_attribute("class") == "check ok"
    checks = driver.find_elements(By.CSS_SELECTOR, "#cosignatures tr[data-witness] span.check")
    assert [c.text for c in checks] == ["\u2713 verified"] * 2
    site.shot("notice-witnesses-en-verified")


def flip_signature_bit(html: str, name: str) -> str:
    """Flip one bit of ``name``'s Ed25519 signature (after key ID and timestamp)."""
    b64 = cosignature_line(html, name)
    raw = bytearray(base64.b64decode(b64))
    raw[4 + 8 + 10] ^= 0x01
    return html.replace(b64, base64.b64encode(bytes(raw)).decode(), 1)


def swap_vkey(html: str, name: str) -> str:
    """List another key under ``name`` (a witness vkey that did not cosign)."""
    other = CosignatureV1Signer(name, Ed25519PrivateKey.generate()).verifier.vkey
    old = re.search(rf'<code class="vkey">({re.escape(name)}\+[^<]+)</code>', html)
    assert old is not None
    return html.replace(old.group(1), other, 1)


def shift_time(html: str, name: str) -> str:
    """Show ``name``'s cosignature an hour earlier than it was signed."""
    found = re.search(rf'<tr data-witness="{re.escape(name)}" data-key-id="[0-9a-f]{{8}}" '
                      r'data-timestamp="([0-9]+)"', html)
    assert found is not None
    old = found.group(0)
    return html.replace(old, old.replace(found.group(1), str(int(found.group(1)) - 3600)), 1)


TAMPERS: dict[str, tuple[Callable[[str, str], str], str]] = {
    "signature": (flip_signature_bit, "联署签名无效"),
    "vkey": (swap_vkey, "未由所列见证方公钥签名"),
    "time": (shift_time, "联署时间与页面不符"),
}


@pytest.mark.parametrize("how", list(TAMPERS))
def test_tampered_cosignature_is_not_verified(wsite: WitnessSite, how: str) -> None:
    tamper, reason = TAMPERS[how]
    site, driver = wsite.site, wsite.site.driver
    target, other = wsite.witnesses[0].name, wsite.witnesses[1].name
    genuine = wsite.stored()
    forged = tamper(genuine.decode("utf-8"), target).encode("utf-8")
    assert forged != genuine
    wsite.rewrite(forged)
    try:
        site.open(site.notice_url)
        assert driver.page_source.count(target) >= 2  # the page really is the forged one
        summary = verify_with_keyboard(site)
        # The lines still verify (the log's signature is intact); the witnesses do not.
        fewer = "少于公示要求的 2 个"
        failed = "1 项联署验证失败"
        if how == "time":  # the signature is genuine, only the page misstates its time
            assert outcome(summary) == (FAILED, f"✗ {cosigned_text(2, 2)}; {failed}"), summary
        else:
            # The page's checkpoint text no longer is the log's, so the script also counts
            # the genuine cosignatures of the log's latest checkpoint (served by the log).
            latest = "; 最新检查点已由 2/2 个见证方联署" if how == "signature" else ""
            assert outcome(summary) == (
                FAILED, f"✗ {cosigned_text(1, 2)}; {failed}; {fewer}{latest}"), summary
        assert f"✓ {LINES} 行记录均在账本中，位于页面所示的账本序号，且均为认定决定" in summary
        assert driver.find_element(By.ID, "verify-summary").get_attribute("class") == \
            "check bad"
        bad = driver.find_element(By.CSS_SELECTOR,
                                  f"#cosignatures tr[data-witness='{target}'] span.check")
        good = driver.find_element(By.CSS_SELECTOR,
                                   f"#cosignatures tr[data-witness='{other}'] span.check")
        assert bad.get_attribute("class") == "check bad"
        assert bad.text == f"\u2717 {reason}"
        assert good.get_attribute("class") == "check ok"
        box = viewport_rect(driver, bad)
        image = site.shot(f"notice-witness-tampered-{how}")
        assert pixels_near(image, box, BAD_RGB) >= 10, (box, "no error-red pixels")
        assert pixels_near(image, box, OK_RGB) == 0
    finally:
        wsite.rewrite(genuine)
    site.open(site.notice_url)
    assert outcome(verify_with_keyboard(site)) == (LINES_OK, f"✓ {cosigned_text(2, 2)}")


def test_cosignature_rewritten_in_ledger_cosignatures_is_not_published(
        tmp_path: Path) -> None:
    """A cosignature rewritten where the log keeps it (``ledger_cosignatures``, triggers
    dropped as an attacker with database access would): publishing verifies every stored
    cosignature with the witness's configured key again, so the forged one does not
    count, the k-of-n policy is not met, and nothing is published."""
    with witnessed_env(tmp_path) as (env, witnesses):
        build_campaign(env, n=LINES)
        ws = load_witness_settings(env.settings)
        cp = env.store.sign_checkpoint(LOG, env.now[0])
        results = push_checkpoint(env.store, LOG, ws.witnesses, cp, env.now[0])
        assert [r.ok for r in results] == [True, True], results
        target = witnesses[0].name
        where = (cosignatures.c.witness == target, cosignatures.c.size == cp.size)
        with env.store.engine.connect() as conn:
            line = conn.execute(select(cosignatures.c.line).where(*where)).scalar_one()
        b64 = line.split()[-1]
        raw = bytearray(base64.b64decode(b64))
        raw[4 + 8 + 10] ^= 0x01
        forged = line.replace(b64, base64.b64encode(bytes(raw)).decode())
        # Control: with the append-only triggers in place the database refuses it.
        with pytest.raises(DBAPIError), env.store.engine.begin() as conn:
            conn.execute(update(cosignatures).where(*where).values(line=forged))
        with env.store.engine.begin() as conn:
            for (name,) in conn.execute(text(
                    "SELECT name FROM sqlite_master WHERE type = 'trigger' "
                    "AND tbl_name = 'ledger_cosignatures'")).all():
                conn.execute(text(f"DROP TRIGGER {name}"))
            conn.execute(update(cosignatures).where(*where).values(line=forged))
        # Nothing was appended since: publishing would reuse that checkpoint and its
        # stored cosignatures, forged one included.
        before = len(env.ledger_entries())
        resp = env.post(f"/api/v1/campaigns/{CAMPAIGN}/notices", "hr", {"days": 5})
        assert resp.status_code == 503, resp.get_data(as_text=True)
        detail = (resp.json or {})["detail"]
        assert target in detail, detail
        assert "does not verify" in detail, detail
        assert not [e for e in env.ledger_entries()[before:]
                    if e["type"] == "notice.published"]


COSIG_CASES = """
const done = arguments[arguments.length - 1];
const V = window.absentiaVerify;
const [vkey, cases] = arguments;
V.parseWitnessVkey(vkey).then(async key => {
  const out = {key: key ? key.name : null, log_key_as_witness: await V.parseWitnessVkey(
      document.querySelector("#keys li").textContent)};
  for (const [name, text] of Object.entries(cases)) {
    try {
      out[name] = (await V.openCosignatures(text, [key])).map(r => [r.timestamp, r.ok]);
    } catch (e) { out[name] = "fail " + e.message; }
  }
  done(out);
}, e => done({error: String(e)}));
"""


def test_script_checks_cosignature_bytes(wsite: WitnessSite) -> None:
    """Cosignatures made in Python verify in the browser only over the exact message."""
    site = wsite.site
    site.open(site.notice_url)
    key = Ed25519PrivateKey.generate()
    signer = CosignatureV1Signer("w9.example.net/witness", key)
    body = checkpoint_note(wsite.page_html()).text
    id4 = struct.pack(">I", signer.key_id)

    def note(text: str, timestamp: int, signed_ts: int | None = None,
             signed_body: str | None = None) -> str:
        sig = key.sign(signed_message(signed_body or text, signed_ts
                                      if signed_ts is not None else timestamp))
        blob = id4 + struct.pack(">Q", timestamp) + sig
        return f"{text}\n— {signer.name} {base64.b64encode(blob).decode()}\n"

    now = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
    line = signer.cosign(body, now).line()
    big = 1 << 62  # above 2^53: the decimal must still be exact
    altered = body.splitlines(keepends=True)
    altered[1] = str(int(altered[1]) + 1) + "\n"  # the size line
    stranger = CosignatureV1Signer(signer.name, Ed25519PrivateKey.generate())
    over = (1 << 63)  # the spec's limit is 2^63 - 1
    raw_over = id4 + struct.pack(">Q", over) + bytes(64)
    out = site.driver.execute_async_script(COSIG_CASES, signer.verifier.vkey, {
        "python_signer": f"{body}\n{line}",
        "big_timestamp": note(body, big),
        "other_body": note("".join(altered), int(now.timestamp()), signed_body=body),
        "other_time": note(body, int(now.timestamp()) + 1, signed_ts=int(now.timestamp())),
        "over_2_63": f"{body}\n— {signer.name} {base64.b64encode(raw_over).decode()}\n",
        "unknown_key_only": f"{body}\n{stranger.cosign(body, now).line()}",
    })
    ts = str(int(now.timestamp()))
    assert out == {
        "key": signer.name, "log_key_as_witness": None,
        "python_signer": [[ts, True]],
        "big_timestamp": [[str(big), True]],
        "other_body": [[ts, False]],
        "other_time": [[str(int(ts) + 1), False]],
        "over_2_63": [["", False]],
        "unknown_key_only": [],
    }, out


def test_witnessed_pages_pass_axe_wcag21_aa(wsite: WitnessSite) -> None:
    site = wsite.site
    found: dict[str, list[str]] = {}
    for path in ("/", site.notice_url, site.notice_url + "?lang=en"):
        site.open(path)
        if path.startswith(site.notice_url):
            verify_with_keyboard(site)  # with the marks drawn too
        found[path] = axe_violations(site.driver)
    assert found == {page: [] for page in found}


def test_witness_section_fits_a_phone(wsite: WitnessSite) -> None:
    site, driver = wsite.site, wsite.site.driver
    try:
        driver.set_window_size(375, 812)
        site.open(site.notice_url)
        assert outcome(verify_with_keyboard(site)) == (LINES_OK, f"✓ {cosigned_text(2, 2)}")
        m = driver.execute_script(
            "return {doc: document.documentElement.scrollWidth, inner: window.innerWidth};")
        assert m["inner"] <= 400, m
        assert m["doc"] <= m["inner"], m
        driver.execute_script("document.getElementById('cosignatures')"
                              ".scrollIntoView({block: 'center'});")
        site.shot("notice-witnesses-phone")
    finally:
        driver.set_window_size(1280, 900)
