"""Public reads off the write path, on SQLite and PostgreSQL: a strong ETag and a 304 on
every public path, long caching only where immutable, a public GET writes nothing (the
database's contents compared before and after), and a read-only server (a real
``absentia serve --read-only`` process) serving while a writer appends, refusing
writes, on a read-only database session."""

from __future__ import annotations

import gzip
import hashlib
import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError

from ledger.app.registry import entry_types
from ledger.app.web import create_app
from ledger.config import Pkcs11Settings
from ledger.errors import NotAllowed
from ledger.storage.open import open_read_only_store
from tests.functional._absence import LOG, PROBLEM, Env
from tests.functional._serve import Served, serve_process
from tests.functional._writer import make_entry
from tests.functional.test_cli import cli_env
from tests.functional.test_notices import decided_campaign, js

IMMUTABLE = "public, max-age=31536000, immutable"
WAIT_S = 60  # bound of the waits below, not a timing claim


def published(env: Env) -> dict[str, Any]:
    """A decided campaign of 8 candidates, its notice published, a checkpoint after."""
    decided_campaign(env)
    record = js(env.post("/api/v1/campaigns/c2026/notices", "hr", {}))
    env.store.sign_checkpoint(LOG, env.clock(seconds=5))
    return dict(record)


def public_paths(env: Env, record: dict[str, Any]) -> dict[str, str | None]:
    """Each public path and the Cache-Control it must carry (None: short, not immutable)."""
    size = env.store.latest_checkpoint(LOG).size
    notice = record["notice"]
    partial = f"tile/0/000.p/{size}" if size < 256 else "tile/0/000"
    return {
        f"/notices/{notice}": IMMUTABLE,
        f"/notices/{notice}?lang=en": IMMUTABLE,
        f"/notices/{notice}/original": IMMUTABLE,
        f"/api/v1/notices/{notice}": None,
        "/notices": None,
        "/notices?lang=en": None,
        "/logs": None,
        f"/logs/{LOG}": None,
        f"/logs/{LOG}/checkpoint": None,
        f"/logs/{LOG}/{partial}": IMMUTABLE,
        f"/logs/{LOG}/tile/entries/000.p/{min(size, 255)}": IMMUTABLE,
        f"/logs/{LOG}/entries/0": IMMUTABLE,
        f"/logs/{LOG}/entries/{size - 1}/tlog-proof": None,
    }


def test_every_public_path_has_a_strong_etag_and_answers_304(env: Env) -> None:
    record = published(env)
    for path, cache in public_paths(env, record).items():
        for headers in ({}, {"Accept-Encoding": "gzip"}):
            first = env.client.get(path, headers=headers)
            assert first.status_code == 200, (path, first.get_data(as_text=True)[:300])
            etag = first.headers.get("ETag", "")
            assert etag.startswith('"'), (path, etag)  # strong: no W/ in front
            assert etag.endswith('"'), (path, etag)
            control = first.headers["Cache-Control"]
            if cache is not None:
                assert control == cache, (path, control)
            else:
                assert "immutable" not in control, (path, control)
                assert "max-age=" in control, (path, control)
            if first.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(first.data)
                assert "Accept-Encoding" in first.headers.get("Vary", ""), path
            else:
                body = first.data
            again = env.client.get(path, headers={**headers, "If-None-Match": etag})
            assert again.status_code == 304, (path, again.status_code)
            assert again.data == b"", path
            assert again.headers["ETag"] == etag, path
            assert again.headers["Cache-Control"] == control, path
            # A weak form of the same tag matches too (RFC 9110 §13.1.2).
            weak = env.client.get(path, headers={**headers, "If-None-Match": "W/" + etag})
            assert weak.status_code == 304, path
            # Another tag gets the whole page again.
            other = env.client.get(path, headers={**headers, "If-None-Match": '"other"'})
            assert other.status_code == 200, path
            assert other.data == first.data, path
            assert body  # the page itself is there
    # The notice page's ETag is the digest the ledger recorded for the page as served.
    page = env.client.get(f"/notices/{record['notice']}")
    assert page.headers["ETag"] == f'"{record["sha256"]}"'
    assert hashlib.sha256(page.data).hexdigest() == record["sha256"]
    # The language is in the URL, never in a header: no page varies by Accept-Language.
    for path in public_paths(env, record):
        assert "Accept-Language" not in env.client.get(path).headers.get("Vary", "")


def test_a_new_checkpoint_changes_the_checkpoint_etag(env: Env) -> None:
    record = published(env)
    first = env.client.get(f"/logs/{LOG}/checkpoint")
    etag = first.headers["ETag"]
    assert env.client.get(f"/logs/{LOG}/checkpoint",
                          headers={"If-None-Match": etag}).status_code == 304
    info_etag = env.client.get(f"/logs/{LOG}").headers["ETag"]
    # The log grows (HR publishes a correction) and a new checkpoint is signed.
    js(env.post("/api/v1/campaigns/c2026/notices", "hr", {"supersedes": record["notice"]}))
    env.store.sign_checkpoint(LOG, env.clock(seconds=5))
    after = env.client.get(f"/logs/{LOG}/checkpoint", headers={"If-None-Match": etag})
    assert after.status_code == 200
    assert after.headers["ETag"] != etag
    assert after.data != first.data
    assert hashlib.sha256(after.data).hexdigest() == after.headers["ETag"].strip('"')
    info = env.client.get(f"/logs/{LOG}", headers={"If-None-Match": info_etag})
    assert info.status_code == 200
    assert info.headers["ETag"] != info_etag
    # The superseded notice's page now carries the banner, under a new ETag, revalidated.
    old = env.client.get(f"/notices/{record['notice']}")
    assert old.headers["ETag"] != f'"{record["sha256"]}"'
    assert "immutable" not in old.headers["Cache-Control"]
    assert env.client.get(f"/notices/{record['notice']}",
                          headers={"If-None-Match": old.headers["ETag"]}).status_code == 304
    # Its original bytes stay what they were, immutable.
    original = env.client.get(f"/notices/{record['notice']}/original")
    assert original.headers["ETag"] == f'"{record["sha256"]}"'


def database_contents(env: Env) -> dict[str, str]:
    """Every table of the database: its row count and a digest of all its rows."""
    out: dict[str, str] = {}
    with env.store.engine.connect() as conn:
        for name in sorted(inspect(conn).get_table_names()):
            rows = conn.execute(text(f'SELECT * FROM "{name}"')).all()
            digest = hashlib.sha256(repr(sorted(repr(tuple(r)) for r in rows)).encode())
            out[name] = f"{len(rows)} rows {digest.hexdigest()}"
    return out


def test_public_gets_write_nothing(env: Env) -> None:
    record = published(env)
    paths = [*public_paths(env, record), "/", "/status", "/status?lang=en",
             f"/notices/{record['notice']}/objections", "/api/openapi.json", "/readyz",
             "/healthz", "/logs/nope/checkpoint", "/notices/nope", "/logs/hr-test/tile/9/999"]
    before = database_contents(env)
    assert before["rate_limit_hits"].startswith("0 rows")
    for _ in range(3):  # rate limits, sessions, caches: nothing of them lands in the database
        for path in paths:
            for headers in ({}, {"Accept-Encoding": "gzip"}):
                resp = env.client.get(path, headers=headers)
                assert resp.status_code in (200, 404), (path, resp.status_code)
    assert database_contents(env) == before


# -- the read-only server --------------------------------------------------------------


@contextmanager
def read_only_server(env: Env, tmp_path: Path) -> Iterator[Served]:
    """``absentia serve --read-only`` on the env's data directory and database."""
    environ = cli_env()
    environ.pop("ABSENTIA_READ_DATABASE_URL", None)
    with serve_process(["serve", "--read-only", "--data", str(env.data), "--config",
                        str(env.data / "config.toml"), "--workers", "1"],
                       tmp_path / "serve-ro.log", environ) as served:
        yield served


def test_a_read_only_server_serves_while_the_writer_appends_and_refuses_writes(
        env: Env, tmp_path: Path) -> None:
    record = published(env)
    with read_only_server(env, tmp_path) as ro:
        resp, page = ro.request("GET", f"/notices/{record['notice']}")
        assert resp.status == 200
        assert hashlib.sha256(page).hexdigest() == record["sha256"]
        resp, note = ro.request("GET", f"/logs/{LOG}/checkpoint")
        assert resp.status == 200
        size = env.store.latest_checkpoint(LOG).size
        assert note.decode().splitlines()[1] == str(size)
        etag = resp.getheader("ETag")
        resp, tile = ro.request("GET", f"/logs/{LOG}/tile/0/000.p/{size}")
        assert resp.status == 200
        assert len(tile) == 32 * size
        # What the notice page's verifier loads besides the tiles: its words, and the
        # witness policy clients read.
        resp, words = ro.request("GET", "/static/publicity/verify-words.json")
        assert resp.status == 200
        assert json.loads(words)
        resp, policy = ro.request("GET", f"/logs/{LOG}/policy")
        assert policy.startswith(b"log ")  # the k-of-n config, with the log's own key
        assert resp.status == 200
        assert resp.getheader("Content-Type", "").startswith("text/plain")
        # The writer appends (a correction is published) and signs: the reader sees it.
        js(env.post("/api/v1/campaigns/c2026/notices", "hr", {"supersedes": record["notice"]}))
        grown = env.store.sign_checkpoint(LOG, env.clock(seconds=5)).size
        assert grown > size
        resp, note = ro.request("GET", f"/logs/{LOG}/checkpoint",
                                headers={"If-None-Match": str(etag)})
        assert resp.status == 200
        assert note.decode().splitlines()[1] == str(grown)
        resp, _ = ro.request("GET", f"/logs/{LOG}/tile/0/000.p/{grown}")
        assert resp.status == 200
        # Writes through it are refused before any view runs, as problem+json.
        body = json.dumps({"events": []}).encode()
        resp, answer = ro.request("POST", "/api/v1/platform/events", body=body, headers={
            "Content-Type": "application/json", "webhook-id": "msg_1",
            "webhook-timestamp": str(int(time.time())), "webhook-signature": "v1,x"})
        assert resp.status == 405
        assert resp.getheader("Content-Type") == PROBLEM
        assert resp.getheader("Allow") == "GET, HEAD"
        assert "read-only" in json.loads(answer)["detail"]
        resp, _ = ro.request("POST", "/api/v1/campaigns/c2026/notices", body=b"{}", headers={
            "Content-Type": "application/json", **env.auth("hr")})
        assert resp.status == 405
        resp, _ = ro.request("POST", "/status", body=b"campaign=c2026",
                             headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert resp.status == 405
        resp, answer = ro.request("GET", "/console/sign-in")
        assert resp.status == 404  # a person's page: the bilingual error page
        assert "text/html" in str(resp.getheader("Content-Type"))
        assert "页面不存在" in answer.decode(), answer[:500]
        resp, answer = ro.request("GET", "/api/v1/campaigns", headers=env.auth("hr"))
        assert resp.status == 404
        assert resp.getheader("Content-Type") == PROBLEM
    assert env.store.head(LOG).size == grown  # nothing came from the reader
    assert "Traceback" not in ro.log()


def test_a_read_only_store_is_refused_writes_by_the_database_too(env: Env) -> None:
    record = published(env)
    ro = open_read_only_store(env.settings, entry_types())
    try:
        assert ro.read_only
        with pytest.raises(NotAllowed), ro.write():
            pass
        # Appends and commands are refused before any statement, on PostgreSQL too
        # (there they do not go through write(): they were refused by the database,
        # a 500, not by the store).
        with pytest.raises(NotAllowed):
            ro.append(LOG, make_entry("from-the-reader"), env.clock())
        with pytest.raises(NotAllowed):
            ro.execute(LOG, env.clock(), lambda conn: [make_entry("planned")],
                       lambda conn, appended: None)
        with ro.engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                assert conn.execute(text("SHOW transaction_read_only")).scalar_one() == "on"
            with pytest.raises(DBAPIError):  # the database itself refuses
                conn.execute(text("DELETE FROM rate_limit_hits"))
        # The public app over it serves the notice and the log, and refuses the rest.
        app = create_app(env.settings, read_only=True)
        client = app.test_client()
        page = client.get(f"/notices/{record['notice']}")
        assert page.status_code == 200
        assert hashlib.sha256(page.data).hexdigest() == record["sha256"]
        assert client.get(f"/logs/{LOG}/checkpoint").status_code == 200
        assert client.get("/readyz").status_code == 200
        assert client.get("/metrics").status_code == 200
        assert client.head(f"/logs/{LOG}/checkpoint").status_code == 200
        refused = client.post("/api/v1/campaigns/c2026/notices", json={},
                              headers=env.auth("hr"))
        assert refused.status_code == 405
        assert refused.mimetype == PROBLEM
        assert client.get("/status").status_code == 404
        app.extensions["absentia.store"].engine.dispose()
    finally:
        ro.engine.dispose()
    # The writer is unaffected: it still appends and signs.
    before = env.store.head(LOG).size
    js(env.post("/api/v1/campaigns/c2026/notices", "hr", {"supersedes": record["notice"]}))
    assert env.store.sign_checkpoint(LOG, env.clock(seconds=5)).size > before


def test_a_read_only_process_is_ready_without_the_vault_token(env: Env) -> None:
    """A public host shares the config, whose vault master key is in a PKCS#11 token the
    public host has no access to: it opens no sealed data, so it is ready all the same
    (before, /readyz asked the token and answered 503)."""
    tables = {**env.settings.tables,
              "absence": {**env.settings.tables["absence"],
                          "master_key": "pkcs11:token=absentia;object=vault-2026"}}
    settings = replace(env.settings, tables=tables,
                       pkcs11=Pkcs11Settings(module="/nonexistent/libpkcs11.so",
                                             pin_env="ABSENTIA_TEST_NO_PIN"))
    app = create_app(settings, read_only=True)
    try:
        ready = app.test_client().get("/readyz")
        assert ready.status_code == 200, ready.get_data(as_text=True)
        assert "vault" not in (ready.json or {}).get("checks", ready.json or {})
    finally:
        app.extensions["absentia.store"].engine.dispose()
