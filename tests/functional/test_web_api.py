"""The HTTP read API (tlog-tiles, JSON proofs, RFC 9457 errors) on SQLite and PostgreSQL.

The Flask test client runs against a real store holding a log of 700 entries with
checkpoints at sizes 300 and 700: level-0 tiles 000 and 001 are full, 002 is partial
(188), level 1 has a partial tile of two hashes.  Every byte served is checked against
the database and every proof against the signed roots with ``ledger.merkle``.  Bad
input must yield 400 or 404 as ``application/problem+json``, never a 500.

Last, the real server (``absentia serve``, gunicorn) is started on a demo log and
verified over HTTP by ``absentia verify``.
"""

from __future__ import annotations

import base64
import gzip
import itertools
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from ledger import merkle
from ledger.app.registry import entry_types
from ledger.app.samples import sample_events
from ledger.app.web import create_app
from ledger.checkpoint import Checkpoint
from ledger.entry import Entry
from ledger.errors import VerificationError
from ledger.migrations import upgrade
from ledger.note import Ed25519Signer, Ed25519Verifier
from ledger.proof import TlogProof
from ledger.storage import LedgerStore, make_engine
from ledger.storage.store import StoredCheckpoint
from ledger.tiles import decode_bundle, split_tile
from ledger.verify import HttpSource, verify_log
from ledger.verify_cli import load_verifiers

LOG = "web-test"
ORIGIN = "example.org/web-test"
SIZE = 700
MID = 300
T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
BASE = f"/logs/{LOG}"
PROBLEM = "application/problem+json"
ABSENTIA = Path(sys.executable).parent / "absentia"
DEMO_LOG = "hr-bureau-2026"
DEMO_ORIGIN = "absentia.example.gov.cn/hr-bureau/2026"
TIMEOUT_S = 120


@dataclass(frozen=True)
class Served:
    client: FlaskClient
    store: LedgerStore
    verifiers: list[Ed25519Verifier]
    leaves: list[bytes]
    entries: list[bytes]
    mid: StoredCheckpoint
    latest: StoredCheckpoint


@pytest.fixture
def served(store: LedgerStore) -> Served:
    """The log (checkpoints at 300 and 700) behind a Flask test client."""
    store.create_log(LOG, ORIGIN, T0)
    items = [i for _, i in itertools.islice(sample_events(SIZE - 1, T0), SIZE - 1)]
    store.append_batch(LOG, items[: MID - 1], T0 + timedelta(hours=1))
    mid = store.sign_checkpoint(LOG, T0 + timedelta(hours=1, seconds=1))
    store.append_batch(LOG, items[MID - 1 :], T0 + timedelta(hours=2))
    latest = store.sign_checkpoint(LOG, T0 + timedelta(hours=2, seconds=1))
    assert (mid.size, latest.size) == (MID, SIZE)
    entries = [store.entry(LOG, i) for i in range(SIZE)]
    app = create_app(store=store)
    return Served(app.test_client(), store, store.verifiers(LOG),
                  [merkle.leaf_hash(e) for e in entries], entries, mid, latest)


def get(s: Served, path: str) -> TestResponse:
    return s.client.get(path)


def ok(s: Served, path: str) -> TestResponse:
    resp = get(s, path)
    assert resp.status_code == 200, (path, resp.status_code, resp.get_data(as_text=True))
    return resp


def unb64(items: list[str]) -> list[bytes]:
    return [base64.b64decode(x, validate=True) for x in items]


def root_of(s: Served, size: int) -> bytes:
    """The root of the first ``size`` entries (the signed one where there is one)."""
    signed = {MID: s.mid.root, SIZE: s.latest.root}
    root = merkle.root_from_leaf_hashes(s.leaves[:size])
    if size in signed:
        assert signed[size] == root
    return root


# -- happy paths ---------------------------------------------------------------------------


def test_list_logs_and_log_info(served: Served) -> None:
    body = ok(served, "/logs").get_json()
    assert body == [{"name": LOG, "origin": ORIGIN,
                     "verifier_keys": list(served.store.log(LOG).verifier_keys),
                     "sm2_verifier_keys": []}]  # no SM2 key configured (the 国密 option)
    assert [v.vkey for v in served.verifiers] == body[0]["verifier_keys"]
    info = ok(served, BASE).get_json()
    assert info["size"] == SIZE
    assert base64.b64decode(info["root"]) == served.latest.root
    assert info["checkpoint"] == served.latest.note


def test_checkpoint_is_signed_plain_text(served: Served) -> None:
    resp = ok(served, f"{BASE}/checkpoint")
    assert resp.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert "immutable" not in resp.headers.get("Cache-Control", "")
    cp = Checkpoint.open(resp.get_data(), served.verifiers, origin=ORIGIN)
    assert (cp.origin, cp.size, cp.root) == (ORIGIN, SIZE, served.latest.root)
    assert cp.root == merkle.root_from_leaf_hashes(served.leaves)
    # Not signed by a stranger's key of the same name.
    stranger = Ed25519Signer(ORIGIN, Ed25519PrivateKey.generate()).verifier
    with pytest.raises(VerificationError):
        Checkpoint.open(resp.get_data(), [stranger])


def test_hash_tiles_hold_the_tree_hashes(served: Served) -> None:
    lv = served.leaves
    level1 = [merkle.root_of_perfect(lv[0:256]), merkle.root_of_perfect(lv[256:512])]
    cases: list[tuple[str, list[bytes], bool]] = [
        ("tile/0/000", lv[0:256], True),
        ("tile/0/001", lv[256:512], True),
        ("tile/0/002.p/188", lv[512:700], False),
        ("tile/0/002.p/10", lv[512:522], False),  # a smaller tree's partial tile
        ("tile/1/000.p/2", level1, False),
        ("tile/1/000.p/1", level1[:1], False),
    ]
    for path, want, full in cases:
        resp = ok(served, f"{BASE}/{path}")
        data = resp.get_data()
        assert len(data) == 32 * len(want), path
        assert split_tile(data) == want, path
        assert resp.mimetype == "application/octet-stream"
        if full:
            assert "immutable" in resp.headers["Cache-Control"], path
    # Tiles beyond the tree are not there (yet).
    for path in ("tile/0/002", "tile/0/003", "tile/0/002.p/189", "tile/1/000",
                 "tile/1/000.p/3", "tile/2/000.p/1", "tile/0/x001/000"):
        assert get(served, f"{BASE}/{path}").status_code == 404, path


def test_entry_bundles_hold_the_stored_entries(served: Served) -> None:
    for path, lo, hi, full in (("tile/entries/000", 0, 256, True),
                               ("tile/entries/001", 256, 512, True),
                               ("tile/entries/002.p/188", 512, 700, False)):
        resp = ok(served, f"{BASE}/{path}")
        got = decode_bundle(resp.get_data())
        assert got == served.entries[lo:hi], path
        tile = split_tile(ok(served, f"{BASE}/tile/0/{path.removeprefix('tile/entries/')}")
                          .get_data())
        assert [merkle.leaf_hash(e) for e in got] == tile, path
        assert [Entry.decode(e).index for e in got] == list(range(lo, hi))
        if full:
            assert "immutable" in resp.headers["Cache-Control"], path
    # Single entries, as stored.
    for i in (0, 299, 699):
        resp = ok(served, f"{BASE}/entries/{i}")
        assert resp.get_data() == served.entries[i]
        assert resp.get_json()["index"] == i
    first = Entry.decode(served.entries[0])
    assert first.type == "log.created"
    assert first.body == {"origin": ORIGIN, "verifier_key": served.verifiers[0].vkey}


def test_inclusion_proofs_verify_against_signed_roots(served: Served) -> None:
    for index, size in itertools.product((0, 1, 255, 256, 298, 299, 511, 512, 699),
                                         (MID, SIZE, None)):
        if size is not None and index >= size:
            continue
        query = f"index={index}" + ("" if size is None else f"&size={size}")
        body = ok(served, f"{BASE}/proof/inclusion?{query}").get_json()
        n = SIZE if size is None else size
        assert (body["index"], body["size"]) == (index, n)
        path = unb64(body["hashes"])
        merkle.verify_inclusion(served.leaves[index], index, n, path, root_of(served, n))
        # The proof is specific: another leaf does not verify with it.
        with pytest.raises(VerificationError):
            merkle.verify_inclusion(served.leaves[(index + 1) % n], index, n, path,
                                    root_of(served, n))


def test_consistency_proofs_verify_against_signed_roots(served: Served) -> None:
    for old, new in ((0, SIZE), (1, SIZE), (1, MID), (255, 256), (256, SIZE), (MID, SIZE),
                     (511, 700), (512, SIZE), (699, SIZE), (SIZE, SIZE), (MID, None)):
        query = f"old={old}" + ("" if new is None else f"&new={new}")
        body = ok(served, f"{BASE}/proof/consistency?{query}").get_json()
        n = SIZE if new is None else new
        assert (body["old"], body["new"]) == (old, n)
        path = unb64(body["hashes"])
        merkle.verify_consistency(old, n, root_of(served, old), root_of(served, n), path)
        if 0 < old < n:  # the proof is specific: another old root does not verify
            with pytest.raises(VerificationError):
                merkle.verify_consistency(old, n, merkle.leaf_hash(b"not a root"),
                                          root_of(served, n), path)


def test_tlog_proofs_verify_offline(served: Served) -> None:
    for i in (0, 255, 256, 300, 699):
        resp = ok(served, f"{BASE}/entries/{i}/tlog-proof")
        assert resp.headers["Content-Type"] == "text/plain; charset=utf-8"
        proof = TlogProof.from_text(resp.get_data(as_text=True))
        assert proof.index == i
        assert proof.checkpoint == served.latest.note
        cp = proof.verify(served.leaves[i], served.verifiers, ORIGIN)
        assert (cp.size, cp.root) == (SIZE, served.latest.root)
        with pytest.raises(VerificationError):
            proof.verify(merkle.leaf_hash(b"not the entry"), served.verifiers, ORIGIN)


class ClientSource:
    """A tlog-tiles source reading through the test client, with a checkpoint held fixed
    (as a verifier has it when it fetched the checkpoint just before the log grew)."""

    def __init__(self, served: Served, checkpoint: str) -> None:
        self.served = served
        self.checkpoint = checkpoint

    def get(self, path: str) -> bytes:
        if path == "checkpoint":
            return self.checkpoint.encode()
        return ok(self.served, f"{BASE}/{path}").get_data()




def test_partial_tile_of_a_full_tile_has_its_width(served: Served) -> None:
    lv = served.leaves
    # Cold cache first, then warm: both must give exactly W hashes.
    for path, want in (("tile/0/000.p/10", lv[:10]), ("tile/0/000", lv[:256]),
                       ("tile/0/000.p/10", lv[:10]), ("tile/0/001.p/255", lv[256:511])):
        assert split_tile(ok(served, f"{BASE}/{path}").get_data()) == want, path
    # The log grows past the end of tile 002 after a verifier read the size-700 checkpoint.
    more = [i for _, i in itertools.islice(sample_events(SIZE + 100, T0), SIZE + 100)][SIZE:]
    served.store.append_batch(LOG, more, T0 + timedelta(hours=3))
    assert served.store.head(LOG).size == SIZE + 100
    report = verify_log(ClientSource(served, served.latest.note), served.verifiers)
    assert (report.size, report.root) == (SIZE, served.latest.root)


# -- bad input -----------------------------------------------------------------------------

# (path, status, field or None when no parameter is at fault)
BAD: list[tuple[str, int, str | None]] = [
    (f"{BASE}/proof/inclusion?index=abc", 400, "index"),
    (f"{BASE}/proof/inclusion?index=-1", 400, "index"),
    (f"{BASE}/proof/inclusion?index=1.5", 400, "index"),
    (f"{BASE}/proof/inclusion", 400, "index"),
    (f"{BASE}/proof/inclusion?index=700", 400, "index"),
    (f"{BASE}/proof/inclusion?index=5&size=3", 400, "index"),
    (f"{BASE}/proof/inclusion?index=1&size=701", 400, "size"),
    (f"{BASE}/proof/inclusion?index=1&size=abc", 400, "size"),
    (f"{BASE}/proof/inclusion?index=1&size=" + "9" * 30, 400, "size"),
    (f"{BASE}/proof/consistency?old=500&new=300", 400, "old"),
    (f"{BASE}/proof/consistency?old=1&new=701", 400, "new"),
    (f"{BASE}/proof/consistency?old=-1", 400, "old"),
    (f"{BASE}/proof/consistency", 400, "old"),
    (f"{BASE}/proof/consistency?old=1&new=x", 400, "new"),
    (f"{BASE}/tile/64/000", 400, "L"),
    (f"{BASE}/tile/abc/000", 400, "L"),
    (f"{BASE}/tile/01/000", 400, "L"),
    (f"{BASE}/tile/0/1", 400, "N"),
    (f"{BASE}/tile/0/0000", 400, "N"),
    (f"{BASE}/tile/0/x1/000", 400, "N"),
    (f"{BASE}/tile/0/000.p/0", 400, "W"),
    (f"{BASE}/tile/0/000.p/256", 400, "W"),
    (f"{BASE}/tile/0/000.p/abc", 400, "W"),
    (f"{BASE}/tile/0", 400, "path"),
    (f"{BASE}/tile/0/003", 404, "path"),
    (f"{BASE}/tile/entries/003", 404, "path"),
    (f"{BASE}/entries/abc", 400, "index"),
    (f"{BASE}/entries/-1", 400, "index"),
    (f"{BASE}/entries/700", 404, "index"),
    (f"{BASE}/entries/700/tlog-proof", 404, "index"),
    (f"{BASE}/entries/x/tlog-proof", 400, "index"),
    ("/logs/no-such-log", 404, "log"),
    ("/logs/no-such-log/checkpoint", 404, "log"),
    ("/logs/no-such-log/tile/0/000", 404, "log"),
    ("/logs/no-such-log/entries/0", 404, "log"),
    ("/logs/no-such-log/proof/inclusion?index=0", 404, "log"),
    ("/logs/no-such-log/proof/consistency?old=0", 404, "log"),
    ("/no/such/path", 404, None),
    (f"{BASE}/no-such-resource", 404, None),
    ("/problems/no-such-problem", 404, None),
]


def check_problem(resp: TestResponse, status: int, field: str | None) -> list[str]:
    """What is wrong with ``resp`` as a problem+json response (empty: nothing)."""
    faults: list[str] = []
    if resp.status_code != status:
        faults.append(f"status {resp.status_code}, want {status}")
    if resp.mimetype != PROBLEM:
        faults.append(f"Content-Type {resp.headers.get('Content-Type')!r}")
        return faults
    body: Any = resp.get_json()
    if not isinstance(body, dict):
        return [*faults, f"body is not a JSON object: {body!r}"]
    for key, kind in (("type", str), ("title", str), ("status", int), ("detail", str)):
        if not isinstance(body.get(key), kind):
            faults.append(f"{key} missing or not {kind.__name__}: {body!r}")
    if body.get("status") != resp.status_code:
        faults.append(f"body status {body.get('status')} != {resp.status_code}")
    if field is not None and body.get("field") != field:
        faults.append(f"field {body.get('field')!r}, want {field!r}")
    return faults


def test_bad_input_gets_problem_json_never_500(served: Served) -> None:
    failures: dict[str, list[str]] = {}
    for path, status, field in BAD:
        faults = check_problem(get(served, path), status, field)
        if faults:
            failures[path] = faults
    resp = served.client.post("/logs")
    assert resp.status_code == 405
    assert not check_problem(resp, 405, None)
    assert failures == {}




def test_every_405_says_which_methods_are_allowed(served: Served) -> None:
    """RFC 9110 §15.5.6: a 405 MUST carry ``Allow``; the problem+json handler keeps it."""
    for method, path in (("TRACE", "/logs"), ("POST", "/logs"), ("DELETE", "/healthz"),
                         ("TRACE", f"{BASE}/checkpoint"), ("PUT", f"{BASE}/tile/0/000"),
                         ("TRACE", "/problems/bad-request")):
        resp = served.client.open(path, method=method)
        assert not check_problem(resp, 405, None), (method, path)
        assert resp.get_json()["type"] == "/problems/method-not-allowed"
        allowed = {m.strip() for m in resp.headers.get("Allow", "").split(",")}
        assert {"GET", "HEAD", "OPTIONS"} <= allowed, (method, path, resp.headers)
        assert method not in allowed
        # What Allow names is what the resource answers.
        assert served.client.open(path, method="OPTIONS").headers["Allow"] == \
            resp.headers["Allow"]


@pytest.mark.parametrize("kind", [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=[pytest.mark.postgres]),
])
def test_a_log_name_with_a_nul_byte_is_a_400_naming_the_log(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = str(request.getfixturevalue({"sqlite": "sqlite_url", "postgresql": "pg_url"}[kind]))
    store = LedgerStore(make_engine(url), tmp_path / "keys", entry_types())
    try:
        upgrade(store.engine)
        store.create_log(LOG, ORIGIN, T0)
        client = create_app(store=store).test_client()
        failures = {}
        for path in ("/logs/a%00b", "/logs/a%00b/checkpoint", "/logs/a%00b/tile/0/000.p/1",
                     "/logs/a%00b/entries/0", "/logs/%00/proof/inclusion?index=0&size=1"):
            # Refused before the view, as the path argument the OpenAPI document names.
            faults = check_problem(client.get(path), 400, "name")
            if faults:
                failures[path] = faults
        assert failures == {}
    finally:
        store.engine.dispose()


# -- the real server ------------------------------------------------------------------------


def cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("ABSENTIA_DATABASE_URL", None)
    env.pop("ABSENTIA_CONFIG", None)
    return env


def absentia(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(ABSENTIA), *args], capture_output=True, text=True,
                          timeout=TIMEOUT_S, env=cli_env(), check=False)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path, int]]:
    """A demo log served by ``absentia serve``: (log URL prefix, data dir, log size)."""
    data = tmp_path / "data"
    demo = absentia("demo", "--data", str(data), "--no-serve", "--candidates", "200")
    assert demo.returncode == 0, demo.stderr
    m = re.search(rf"log {DEMO_LOG} \(.*\): ([\d,]+) entries", demo.stdout)
    assert m is not None, demo.stdout
    size = int(m.group(1).replace(",", ""))
    assert size > 1500
    port = free_port()
    # The server's output goes to a file (a pipe nobody reads could fill and block it),
    # shown if the test fails.
    log_path = tmp_path / "serve.log"
    log_file = log_path.open("w")
    proc = subprocess.Popen(
        [str(ABSENTIA), "serve", "--data", str(data), "--port", str(port)],
        stdout=log_file, stderr=subprocess.STDOUT, text=True, env=cli_env(),
        start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"absentia serve exited with {proc.returncode}: "
                            f"{log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(f"{base}/healthz", timeout=2) as resp:  # noqa: S310
                    if resp.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                pytest.fail("absentia serve did not answer within 60 s")
            time.sleep(0.2)
        yield f"{base}/logs/{DEMO_LOG}", data, size
    finally:
        proc.terminate()  # gunicorn's master stops its workers on SIGTERM
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # the session started above, nothing else
            proc.wait(timeout=10)
        log_file.close()
        print(f"absentia serve (exit {proc.returncode}):\n{log_path.read_text()[-3000:]}")


def test_real_server_verifies_over_http(server: tuple[str, Path, int]) -> None:
    prefix, data, size = server
    keys = data / "export" / DEMO_LOG / "keys"
    res = absentia("verify", prefix, "--keys", str(keys), "--quiet")
    assert res.returncode == 0, (res.stdout, res.stderr)
    assert res.stdout.startswith(f"OK: {DEMO_ORIGIN}: {size:,} entries"), res.stdout

    # The same through the Python API, and the keys served match the exported ones.
    verifiers = load_verifiers([], [keys])
    report = verify_log(HttpSource(prefix), verifiers)
    assert (report.origin, report.size, report.entries) == (DEMO_ORIGIN, size, size)

    # A key that never signed this log: exit 1, not 0.
    stranger = Ed25519Signer(DEMO_ORIGIN, Ed25519PrivateKey.generate()).verifier.vkey
    res = absentia("verify", prefix, "--key", stranger, "--quiet")
    assert res.returncode == 1, (res.stdout, res.stderr)
    assert "no signature by a trusted key" in res.stderr
    # A log the server does not have: could not check (2).
    res = absentia("verify", prefix + "-missing", "--keys", str(keys), "--quiet")
    assert res.returncode == 2, (res.stdout, res.stderr)


def test_home_page_lists_each_log_with_its_size_and_keys(served: Served) -> None:
    resp = served.client.get("/")
    assert resp.status_code == 200
    assert resp.mimetype == "text/html"
    page = resp.get_data(as_text=True)
    info = served.store.log(LOG)
    size = served.latest.size
    assert f'href="/logs/{LOG}/checkpoint"' in page
    assert f"{size:,}" in page
    for vkey in info.verifier_keys:
        assert vkey in page
    assert "default-src 'self'" in resp.headers["Content-Security-Policy"]
    assert served.client.get("/healthz").get_data(as_text=True) == "ok\n"


def test_entry_bundles_are_gzipped_when_the_client_accepts_it(served: Served) -> None:
    plain = served.client.get(f"/logs/{LOG}/tile/entries/000")
    zipped = served.client.get(f"/logs/{LOG}/tile/entries/000",
                               headers={"Accept-Encoding": "gzip, identity"})
    assert "Content-Encoding" not in plain.headers
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert zipped.headers["Vary"] == "Accept-Encoding"
    assert len(zipped.data) < len(plain.data)
    assert gzip.decompress(zipped.data) == plain.data
    # Hash tiles are random bytes: never compressed.
    tile = served.client.get(f"/logs/{LOG}/tile/0/000", headers={"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in tile.headers


def test_served_checkpoint_follows_appends_from_another_process(
    server: tuple[str, Path, int],
) -> None:
    """The server's scheduler signs a checkpoint once others append to the database."""
    prefix, data, size = server
    store = LedgerStore(make_engine(f"sqlite:///{data}/absentia.db"), data / "keys", entry_types())
    try:
        items = [i for _, i in sample_events(25, T0, seed=7)]
        store.append_batch(DEMO_LOG, items, T0)
        verifiers = store.verifiers(DEMO_LOG)
    finally:
        store.engine.dispose()
    deadline = time.monotonic() + 30  # a bounded wait for the event, not a timing claim
    while True:
        with urllib.request.urlopen(f"{prefix}/checkpoint", timeout=5) as resp:  # noqa: S310
            cp = Checkpoint.open(resp.read(), verifiers)
        # The server records its configured policies when it starts (a few entries).
        if cp.size >= size + 25:
            break
        assert cp.size >= size, cp.size
        if time.monotonic() > deadline:
            pytest.fail(f"no checkpoint for the new entries within 30 s (still {cp.size})")
        time.sleep(0.25)
    res = absentia("verify", prefix, "--keys", str(data / "export" / DEMO_LOG / "keys"),
                   "--quiet")
    assert res.returncode == 0, res.stderr
    assert f"{cp.size:,} entries" in res.stdout
