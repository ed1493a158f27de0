"""The auditor's console pages (``ledger/app/web/console_audit.py``).

Through the Flask test client on a real database: the pages render for an auditor and
an admin (after TOTP enrolment), an HR operator gets 403 and a signed-out browser the
sign-in page; "verify now" runs to completion in a background thread and reports as many
entries as the log's head; after an entry is rewritten in the database (the append-only
triggers dropped first, as an attacker with database rights would) the same job fails
and names that index; ``export.zip`` holds the checkpoint, the tiles and the keys and
``absentia verify`` accepts it unzipped; the access trail lists a ``pii.viewed`` read.

In headless Chromium (a real werkzeug server in a thread): an auditor signs in (no TOTP),
presses "verify now"; ``console-audit.js`` polls the job until it finishes; the
screenshot (in ``test-artifacts/``) shows the result text and a full ``<progress>``.
"""

from __future__ import annotations

import io
import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from PIL import Image
from selenium.webdriver.common.by import By
from werkzeug.serving import BaseWSGIServer, make_server

from ledger.absence.service import Caller
from ledger.app.export import ExportResult, export_log
from ledger.app.web import console_audit
from ledger.storage import LedgerStore
from tests.functional._absence import LOG, Env, candidates_csv, make_env
from tests.functional.test_console_signin import PASSWORD, accounts, csrf_of, enrol, sign_in
from tests.functional.test_notice_browser import (
    ARTIFACTS,
    WAIT_S,
    pixels_near,
    start_chromium,
    viewport_rect,
    wait_for,
)
from tests.functional.test_tamper import drop_triggers, sql

ABSENTIA = Path(sys.executable).parent / "absentia"
JOB_TIMEOUT_S = 30
OK_RGB = (0x0B, 0x6B, 0x0B)


@pytest.fixture
def lite(tmp_path: Path) -> Iterator[Env]:
    """An Env on SQLite only, for the tests whose point is not the database."""
    with make_env(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}") as e:
        yield e


def populate(env: Env, n: int = 6) -> list[str]:
    """A campaign with ``n`` candidates and a fresh checkpoint; returns their subjects."""
    env.campaign()
    resp = env.import_csv("c2026", candidates_csv(n)[0])
    assert resp.status_code in (200, 201), resp.get_data(as_text=True)
    subjects = [str(c["subject"]) for c in (resp.json or {})["candidates"]]
    env.store.sign_checkpoint(LOG, env.clock(seconds=5))
    return subjects


def auditor(env: Env, login: str = "audit.li@audit.example.gov.cn") -> FlaskClient:
    accounts(env).create_user(login, PASSWORD, "auditor", env.now[0])
    client = env.app.test_client()
    resp = sign_in(client, login, PASSWORD)
    assert resp.status_code == 303
    assert resp.headers["Location"] == "/console/"  # no TOTP for auditors
    return client


def start_job(client: FlaskClient, lang: str = "") -> str:
    page = client.get(f"/console/audit/logs/{LOG}{lang}")
    assert page.status_code == 200
    resp = client.post(f"/console/audit/logs/{LOG}/verify",
                       data={"csrf_token": csrf_of(page)})
    assert resp.status_code == 303, resp.get_data(as_text=True)
    location = resp.headers["Location"]
    assert location.startswith(f"/console/audit/logs/{LOG}?job=")
    return location.split("job=")[1].split("#")[0]


def wait_job(client: FlaskClient, job: str) -> dict[str, Any]:
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while time.monotonic() < deadline:
        resp = client.get(f"/console/audit/jobs/{job}")
        assert resp.status_code == 200
        data: dict[str, Any] = resp.json or {}
        if data["state"] != "running":
            return data
        time.sleep(0.05)
    pytest.fail(f"verification job {job} still running after {JOB_TIMEOUT_S} s")


# -- access control ------------------------------------------------------------------------


PAGES = ("/console/audit/", f"/console/audit/logs/{LOG}", "/console/audit/access")


def test_pages_render_for_auditor_and_admin_not_for_hr(lite: Env) -> None:
    populate(lite)
    client = auditor(lite)
    for path in PAGES:
        resp = client.get(path)
        assert resp.status_code == 200, path
        text = resp.get_data(as_text=True)
        assert 'lang="zh-CN"' in text
        assert "default-src 'self'" in resp.headers["Content-Security-Policy"]
        assert "<script>" not in text
        assert "style=" not in text
    overview = client.get("/console/audit/").get_data(as_text=True)
    assert f"example.org/{LOG}" in overview
    assert lite.store.latest_checkpoint(LOG).note in overview
    assert f'href="/logs/{LOG}/checkpoint"' in overview
    detail = client.get(f"/console/audit/logs/{LOG}?lang=en").get_data(as_text=True)
    assert "Checkpoint history" in detail
    assert "Witness cosignatures" in detail
    assert "None yet." in detail  # no witness has cosigned
    for vkey in lite.store.log(LOG).verifier_keys:
        assert vkey in detail
    assert 'data-type="log.created">Log created<' in detail  # words, not the code
    assert f"{len(lite.store.checkpoint_history(LOG))} checkpoints" in detail

    accounts(lite).create_user("admin.wang", PASSWORD, "admin", lite.now[0])
    admin = lite.app.test_client()
    enrol(lite, admin, "admin.wang")
    for path in PAGES:
        assert admin.get(path).status_code == 200, path

    accounts(lite).create_user("hr.zhao", PASSWORD, "hr", lite.now[0])
    hr = lite.app.test_client()
    assert sign_in(hr, "hr.zhao", PASSWORD).status_code == 303
    for path in (*PAGES, f"/console/audit/logs/{LOG}/export.zip"):
        assert hr.get(path).status_code == 403, path
    assert hr.post(f"/console/audit/logs/{LOG}/verify").status_code == 403

    anon = lite.app.test_client()
    for path in (*PAGES, f"/console/audit/logs/{LOG}/export.zip"):
        resp = anon.get(path)
        assert resp.status_code == 303, path
        assert resp.headers["Location"] == "/console/sign-in"
    # A POST without the session's CSRF token is refused.
    assert client.post(f"/console/audit/logs/{LOG}/verify").status_code == 400


# -- verify now ----------------------------------------------------------------------------


def test_verify_now_completes_with_the_head_size(env: Env) -> None:
    populate(env)
    client = auditor(env)
    # The sign-in appended entries; a checkpoint covers them (as the scheduler's would).
    env.store.sign_checkpoint(LOG, env.clock(seconds=1))
    # The job verifies what the latest checkpoint covers (its own request is appended
    # after it).
    size = env.store.latest_checkpoint(LOG).size
    assert env.store.head(LOG).size == size
    job = start_job(client)
    data = wait_job(client, job)
    assert data["state"] == "done", data
    assert data["result"]["entries"] == size
    assert data["result"]["tiles"] >= 1
    assert data["done"] == data["total"] == size
    page = client.get(f"/console/audit/logs/{LOG}?job={job}&lang=en").get_data(as_text=True)
    assert f"Verified: {size:,} entries" in page
    assert f'max="{size}" value="{size}"' in page
    assert client.get("/console/audit/jobs/nope").status_code == 404
    # Who asked, and what came of it, are ledger entries (by the auditor's user id).
    audits = audit_entries(env, 2)
    assert [a["body"] for a in audits] == [
        {"action": "verify", "log": LOG, "size": size, "result": "started"},
        {"action": "verify", "log": LOG, "size": size, "result": "ok"}]
    assert audits[0]["actor"] == audits[1]["actor"]
    assert audits[0]["actor"].startswith("auditor:")


def audit_entries(env: Env, n: int) -> list[dict[str, Any]]:
    """The log's ``audit.performed`` entries, once there are ``n`` (the outcome of a job
    is appended by its thread, just after the job reports it)."""
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while True:
        found = [e for e in env.ledger_entries() if e["type"] == "audit.performed"]
        if len(found) >= n or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_verify_now_names_the_tampered_index(env: Env) -> None:
    populate(env)
    client = auditor(env)
    bad = env.store.head(LOG).size - 3
    drop_triggers(env.store.engine)
    data = bytes(env.store.entry(LOG, bad))
    pos = data.index(b'"actor":"') + len(b'"actor":"')
    changed = bytearray(data)
    changed[pos] ^= 0x20  # e.g. "hr:..." -> "Hr:..."
    sql(env.store.engine, "UPDATE ledger_entries SET data = :d WHERE log_id = :l AND idx = :i",
        d=bytes(changed), l=env.store.log(LOG).id, i=bad)
    result = wait_job(client, start_job(client))
    assert result["state"] == "failed", result
    assert result["bad_index"] == bad
    outcome = audit_entries(env, 2)[-1]["body"]
    assert (outcome["result"], outcome["bad_index"]) == ("failed", bad)
    page = client.get(f"/console/audit/logs/{LOG}?job={result['id']}&lang=en")
    assert f"the first bad index is {bad}" in page.get_data(as_text=True)


# -- export --------------------------------------------------------------------------------


def test_export_zip_verifies_with_absentia_verify(lite: Env, tmp_path: Path) -> None:
    populate(lite)
    client = auditor(lite)
    resp = client.get(f"/console/audit/logs/{LOG}/export.zip")
    assert resp.status_code == 200
    assert resp.mimetype == "application/zip"
    assert "attachment" in resp.headers["Content-Disposition"]
    with zipfile.ZipFile(io.BytesIO(resp.data)) as zf:
        names = set(zf.namelist())
        for rel in ("checkpoint", "keys", "tile/0/000.p/", "tile/entries/000.p/"):
            assert any(n.startswith(f"{LOG}/{rel}") for n in names), (rel, names)
        assert zf.read(f"{LOG}/checkpoint").decode() == lite.store.latest_checkpoint(LOG).note
        zf.extractall(tmp_path / "unzipped")
    out = tmp_path / "unzipped" / LOG
    res = subprocess.run([str(ABSENTIA), "verify", str(out), "--keys", str(out / "keys")],
                         capture_output=True, text=True, timeout=60, check=False)
    assert res.returncode == 0, (res.stdout, res.stderr)
    assert f"{lite.store.latest_checkpoint(LOG).size:,} entries" in res.stdout
    exported = audit_entries(lite, 1)
    assert [e["body"] for e in exported] == [
        {"action": "export", "log": LOG, "size": lite.store.latest_checkpoint(LOG).size,
         "result": "ok"}]


# -- access trail --------------------------------------------------------------------------


def test_access_trail_lists_personal_data_reads(lite: Env) -> None:
    subjects = populate(lite)
    # HR reads a candidate's contact details (a reviewer reads only cases under review).
    got = lite.service.personal_data(Caller("hr:u-hr1", "hr"), subjects[1],
                                     "contact", lite.clock(minutes=1))
    client = auditor(lite)
    text = client.get("/console/audit/access?lang=en").get_data(as_text=True)
    assert f'data-index="{got["access_recorded_at"]}"' in text
    for shown in ("hr:u-hr1", subjects[1], "contact"):
        assert shown in text
    only = client.get(f"/console/audit/access?subject={subjects[1]}").get_data(as_text=True)
    assert subjects[1] in only
    other = client.get(f"/console/audit/access?subject={subjects[0]}").get_data(as_text=True)
    assert "hr:u-hr1" not in other
    assert 'id="access-none"' in other


# -- in a browser --------------------------------------------------------------------------


def test_verify_now_in_chromium(lite: Env, tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    populate(lite)
    accounts(lite).create_user("auditor.sun", PASSWORD, "auditor", lite.now[0])
    lite.store.sign_checkpoint(LOG, lite.clock(seconds=1))
    # Sessions expire on the app's clock: run it on real time for the browser.
    lite.app.extensions["absentia.clock"] = lambda: datetime.now(UTC)

    def slow_export(store: LedgerStore, name: str, out: Path, progress: Any = None
                    ) -> ExportResult:
        time.sleep(1.5)  # the page is served while the job still runs: the JS polls
        return export_log(store, name, out, progress)

    monkeypatch.setattr(console_audit, "export_log", slow_export)  # what the job calls
    server: BaseWSGIServer = make_server("127.0.0.1", 0, lite.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    driver = start_chromium(tmp_path / "profile")
    driver.set_page_load_timeout(WAIT_S)
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        driver.get(base + "/console/sign-in?lang=en")
        driver.find_element(By.ID, "login").send_keys("auditor.sun")
        driver.find_element(By.ID, "password").send_keys(PASSWORD)
        driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
        wait_for(driver, "the console home",
                 lambda d: d.current_url.split("?")[0].endswith("/console/"))
        driver.get(base + f"/console/audit/logs/{LOG}?lang=en")
        driver.find_element(By.ID, "verify-now").click()
        box = wait_for(driver, "the job box", lambda d: d.find_elements(By.ID, "verify-job"))[0]
        assert box.get_attribute("data-state") == "running"
        wait_for(driver, "the verification to finish",
                 lambda d: d.find_element(By.ID, "verify-job").get_attribute("data-state")
                 != "running")
        size = lite.store.latest_checkpoint(LOG).size
        result = driver.find_element(By.ID, "verify-result")
        assert result.is_displayed()
        assert f"Verified: {size:,} entries" in result.text
        bar = driver.find_element(By.ID, "verify-progress")
        assert float(bar.get_attribute("value") or 0) == float(bar.get_attribute("max") or -1)
        assert bar.get_attribute("max") == str(size)
        assert not driver.find_element(By.ID, "verify-reload").is_displayed()
        shot_box = viewport_rect(driver, bar)  # scrolls the bar (and the result) into view
        r = driver.execute_script(
            "const b = arguments[0].getBoundingClientRect();"
            "return [b.left, b.top, b.right, b.bottom];", result)
        result_box = (int(r[0]), int(r[1]), int(r[2]) + 1, int(r[3]) + 1)
        path = tmp_path / "console-audit-verify.png"
        assert driver.save_screenshot(str(path))
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / path.name).write_bytes(path.read_bytes())
        image = Image.open(path).convert("RGB")
    finally:
        driver.quit()
        server.shutdown()
        thread.join(5)
    # The result is drawn in the ok green; the bar is filled to its right end (the same
    # colour near both ends, unlike the track of an unfinished bar).
    assert pixels_near(image, result_box, OK_RGB) > 30
    left, top, right, bottom = shot_box
    mid = (top + bottom) // 2
    near_start = image.getpixel((left + 3, mid))
    near_end = image.getpixel((right - 5, mid))
    assert near_start == near_end, (near_start, near_end)
    assert near_start != (255, 255, 255)
