"""``absentia monitor`` on real logs: real stores exported as tlog-tiles directories (and
served over real HTTP), the real command as a process, a real webhook receiver and a real
SMTP sink.

The fork is a second store made from a copy of the first one's database at 200 entries:
the same origin and the same signing key, different entries after 200.
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.absence.webhooks import verify as verify_webhook
from ledger.app.export import export_log
from ledger.app.registry import entry_types
from ledger.app.samples import append_sample_events
from ledger.merkle import leaf_hash
from ledger.migrations import upgrade
from ledger.monitor import FORK, STALE, LogState, Trust, advance
from ledger.monitor_run import EXIT_CODES
from ledger.note import SignedNote
from ledger.storage import LedgerStore, make_engine
from ledger.tiles import TileRef, decode_bundle, encode_bundle
from ledger.verify import DirectorySource
from ledger.webhook_signing import WebhookSecret
from ledger.witness.cosig import CosignatureV1Signer
from tests.functional._absence import LOG as APP_LOG
from tests.functional._mail import free_port, serve_mail
from tests.functional._serve import serving

ABSENTIA = Path(sys.executable).parent / "absentia"
T0 = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
LOG = "l"
TIMEOUT_S = 120


@dataclass
class Logs:
    """The genuine store ``a`` and the forked store ``b`` (same key, same origin)."""

    tmp: Path
    a: LedgerStore
    b: LedgerStore

    def grow(self, store: LedgerStore, size: int, seed: int) -> None:
        append_sample_events(store, LOG, size - store.head(LOG).size, T0, seed=seed)
        store.sign_checkpoint(LOG, T0)

    def export(self, store: LedgerStore, out: Path) -> Path:
        export_log(store, LOG, out)
        return out

    @property
    def keys(self) -> Path:
        path = self.tmp / "trusted-keys"
        path.write_text("".join(k + "\n" for k in self.a.log(LOG).verifier_keys))
        return path


@pytest.fixture
def logs(tmp_path: Path) -> Logs:
    def store(name: str) -> LedgerStore:
        return LedgerStore(make_engine(f"sqlite:///{tmp_path}/{name}.db"), tmp_path / "keys",
                           entry_types())
    a = store("a")
    upgrade(a.engine)
    a.create_log(LOG, "example.org/monitor", T0)
    append_sample_events(a, LOG, 200, T0, seed=1)
    a.engine.dispose()
    shutil.copy(tmp_path / "a.db", tmp_path / "b.db")
    return Logs(tmp_path, store("a"), store("b"))


def monitor(*args: str | Path, state: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ABSENTIA_")}
    return subprocess.run([str(ABSENTIA), "monitor", *map(str, args), "--state", str(state),
                           "--once", "--quiet"], capture_output=True, text=True,
                          timeout=TIMEOUT_S, env=env, check=False)


def state_of(state: Path) -> dict[str, Any]:
    (only,) = state.glob("*.json")
    obj: dict[str, Any] = json.loads(only.read_text())
    return obj


def swap(src: Path, served: Path) -> None:
    """Serve ``src`` at ``served`` (what a mirror that changed its content does)."""
    shutil.rmtree(served, ignore_errors=True)
    shutil.copytree(src, served)


class _Static(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def http_root(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A real static HTTP server over ``tmp_path/www`` (a CDN in front of an export)."""
    root = tmp_path / "www"
    root.mkdir()

    def handler(*a: Any, **kw: Any) -> _Static:
        return _Static(*a, directory=str(root), **kw)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/logs", root
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("over", ["directory", "http"])
def test_monitor_follows_a_growing_log_and_writes_gauges(
    logs: Logs, http_root: tuple[str, Path], over: str,
) -> None:
    url, www = http_root
    served = www / "logs" if over == "http" else logs.tmp / "served"
    prefix = url if over == "http" else str(served)
    state, metrics = logs.tmp / "state", logs.tmp / "monitor.prom"
    logs.grow(logs.a, 300, 2)
    swap(logs.export(logs.a, logs.tmp / "e300"), served)
    res = monitor(prefix, "--keys", logs.keys, "--metrics", metrics, state=state)
    assert res.returncode == 0, res.stderr
    assert "checked entries 0..299 (300 new)" in res.stdout
    for size, seed in ((700, 3), (1100, 4)):
        before = state_of(state)["state"]["size"]
        logs.grow(logs.a, size, seed)
        swap(logs.export(logs.a, logs.tmp / f"e{size}"), served)
        res = monitor(prefix, "--keys", logs.keys, "--metrics", metrics, state=state)
        assert res.returncode == 0, res.stderr
        assert f"checked entries {before:,}..{size - 1:,} ({size - before} new)" in res.stdout
    res = monitor(prefix, "--keys", logs.keys, "--metrics", metrics, state=state)
    assert (res.returncode, res.stdout) == (0, f"{prefix}: unchanged at 1,100 entries\n")
    gauges = metrics.read_text()
    assert f'absentia_monitor_log_size{{log="{prefix}"}} 1100\n' in gauges
    assert f'absentia_monitor_lag_entries{{log="{prefix}"}} 0\n' in gauges
    assert f'absentia_monitor_alert{{log="{prefix}",kind="fork"}} 0\n' in gauges


def test_monitor_alerts_on_forks_and_never_trusts_them(logs: Logs) -> None:
    served, state = logs.tmp / "served", logs.tmp / "state"
    logs.grow(logs.a, 300, 2)
    logs.grow(logs.b, 300, 9)  # same size, same key, entries 200.. differ
    swap(logs.export(logs.a, logs.tmp / "a300"), served)
    assert monitor(served, "--keys", logs.keys, state=state).returncode == 0
    trusted = state_of(state)["state"]
    # Same size, another root.
    swap(logs.export(logs.b, logs.tmp / "b300"), served)
    res = monitor(served, "--keys", logs.keys, state=state)
    assert res.returncode == EXIT_CODES[FORK] == 9, res.stderr
    assert "ALERT fork" in res.stderr
    assert "same size 300" in res.stderr
    assert state_of(state)["state"] == trusted
    assert state_of(state)["active"]["fork"]
    # A larger forked tree: entries 200..299 (already trusted, in the partial bundle) differ.
    logs.grow(logs.b, 600, 10)
    swap(logs.export(logs.b, logs.tmp / "b600"), served)
    res = monitor(served, "--keys", logs.keys, state=state)
    assert res.returncode == 9, res.stderr
    assert "history was rewritten" in res.stderr
    assert state_of(state)["state"] == trusted
    # The genuine log, grown, is still followed from where it was trusted.
    logs.grow(logs.a, 700, 3)
    swap(logs.export(logs.a, logs.tmp / "a700"), served)
    res = monitor(served, "--keys", logs.keys, state=state)
    assert res.returncode == 0, res.stderr
    assert "checked entries 300..699 (400 new)" in res.stdout
    assert state_of(state)["active"] == {}


def test_monitor_catches_a_fork_from_a_bundle_boundary(logs: Logs) -> None:
    """Trusted at 512 (no partial bundle to compare): the new entries' prev and the root."""
    served, state = logs.tmp / "served", logs.tmp / "state"
    logs.grow(logs.a, 512, 2)
    logs.grow(logs.b, 900, 9)
    swap(logs.export(logs.a, logs.tmp / "a"), served)
    assert monitor(served, "--keys", logs.keys, state=state).returncode == 0
    swap(logs.export(logs.b, logs.tmp / "b"), served)
    res = monitor(served, "--keys", logs.keys, state=state)
    assert res.returncode == 9, res.stderr
    assert "entry 512 does not continue the trusted log" in res.stderr
    assert state_of(state)["state"]["size"] == 512


def test_monitor_alerts_on_a_rollback_over_http(logs: Logs,
                                                http_root: tuple[str, Path]) -> None:
    url, www = http_root
    state = logs.tmp / "state"
    logs.grow(logs.a, 300, 2)
    old = logs.export(logs.a, logs.tmp / "a300")
    logs.grow(logs.a, 700, 3)
    swap(logs.export(logs.a, logs.tmp / "a700"), www / "logs")
    assert monitor(url, "--keys", logs.keys, state=state).returncode == 0
    swap(old, www / "logs")  # the server now shows the older export
    res = monitor(url, "--keys", logs.keys, state=state)
    assert res.returncode == EXIT_CODES["rollback"] == 8, res.stderr
    assert "rollback: the log now shows 300 entries, but a checkpoint of 700" in res.stderr
    assert state_of(state)["state"]["size"] == 700


def test_monitor_alerts_on_a_bad_signature(logs: Logs) -> None:
    served, state = logs.tmp / "served", logs.tmp / "state"
    logs.grow(logs.a, 300, 2)
    swap(logs.export(logs.a, logs.tmp / "a"), served)
    note = (served / "checkpoint").read_text()
    body, sigline = note.rsplit("\n— ", 1)
    name, blob = sigline.split(" ")
    flipped = blob[:10] + ("A" if blob[10] != "A" else "B") + blob[11:]
    (served / "checkpoint").write_text(f"{body}\n— {name} {flipped}")
    res = monitor(served, "--keys", logs.keys, state=state)
    assert res.returncode == EXIT_CODES["signature"] == 7, res.stderr
    assert "not validly signed by a trusted key" in res.stderr
    assert state_of(state)["state"]["size"] == 0


def test_monitor_alerts_on_an_entry_that_does_not_decode(logs: Logs) -> None:
    """Entry 256 replaced by bytes that are not JSON, its level-0 tile hash fixed to match."""
    served, state = logs.tmp / "served", logs.tmp / "state"
    logs.grow(logs.a, 220, 2)
    swap(logs.export(logs.a, logs.tmp / "a220"), served)
    assert monitor(served, "--keys", logs.keys, state=state).returncode == 0
    logs.grow(logs.a, 300, 3)
    swap(logs.export(logs.a, logs.tmp / "a300"), served)
    ref, tile = TileRef(None, 1, 44), TileRef(0, 1, 44)  # entries 256..299
    entries = decode_bundle((served / ref.path()).read_bytes())
    bad = b'{"not json'
    entries[0] = bad  # entry 256
    (served / ref.path()).write_bytes(encode_bundle(entries))
    hashes = bytearray((served / tile.path()).read_bytes())
    hashes[0:32] = leaf_hash(bad)
    (served / tile.path()).write_bytes(bytes(hashes))
    res = monitor(served, "--keys", logs.keys, state=state)
    assert res.returncode == EXIT_CODES["entry"] == 6, res.stderr
    assert "ALERT entry" in res.stderr
    assert "first bad index 256" in res.stderr
    assert state_of(state)["state"]["size"] == 220


def test_monitor_checks_the_witness_quorum(logs: Logs) -> None:
    served, state = logs.tmp / "served", logs.tmp / "state"
    witness = CosignatureV1Signer("witness.example", Ed25519PrivateKey.generate())
    logs.grow(logs.a, 300, 2)
    swap(logs.export(logs.a, logs.tmp / "a"), served)
    args = ("--keys", logs.keys, "--witness", witness.verifier.vkey, "--witnesses-required", "1")
    res = monitor(served, *args, state=state)
    assert res.returncode == EXIT_CODES["witness"] == 5, res.stderr
    assert "0 valid witness cosignature(s), 1 required" in res.stderr
    note = SignedNote.parse((served / "checkpoint").read_bytes())
    cosig = witness.cosign(note.text, datetime.now(UTC))
    (served / "checkpoint").write_text(note.to_text() + cosig.line())
    res = monitor(served, *args, state=state)
    assert res.returncode == 0, res.stderr
    assert state_of(state)["state"]["size"] == 300


def test_monitor_checks_a_tlog_policy_quorum(logs: Logs) -> None:
    """--policy FILE: a C2SP tlog-policy's group quorum, not a count: one of two witnesses
    of an 'all' group is not enough, whoever else cosigns."""
    served, state = logs.tmp / "served", logs.tmp / "state"
    w1, w2, other = (CosignatureV1Signer(f"w{i}.example", Ed25519PrivateKey.generate())
                     for i in (1, 2, 3))
    policy = logs.tmp / "policy.txt"
    policy.write_text(f"witness w1 {w1.verifier.vkey}\nwitness w2 {w2.verifier.vkey}\n"
                      f"witness w3 {other.verifier.vkey}\n"
                      "group both all w1 w2\nquorum both\n")
    logs.grow(logs.a, 300, 2)
    swap(logs.export(logs.a, logs.tmp / "a"), served)
    note = SignedNote.parse((served / "checkpoint").read_bytes())
    now = datetime.now(UTC)
    (served / "checkpoint").write_text(
        note.to_text() + w1.cosign(note.text, now).line() + other.cosign(note.text, now).line())
    args = ("--keys", logs.keys, "--policy", policy)
    res = monitor(served, *args, state=state)
    assert res.returncode == EXIT_CODES["witness"] == 5, res.stderr
    assert not list(state.glob("*.json")) or state_of(state)["state"].get("size") != 300
    (served / "checkpoint").write_text(
        note.to_text() + w1.cosign(note.text, now).line() + w2.cosign(note.text, now).line())
    res = monitor(served, *args, state=state)
    assert res.returncode == 0, res.stderr
    assert state_of(state)["state"]["size"] == 300
    both = monitor(served, *args, "--witness", w1.verifier.vkey, state=state)
    assert both.returncode == 2
    assert "--policy" in both.stderr


def test_stale_checkpoint(logs: Logs) -> None:
    """Our checkpoints carry no time: stale means the tree has not changed for that long
    since the monitor first saw it (or since a trusted witness last cosigned it)."""
    served = logs.tmp / "served"
    logs.grow(logs.a, 300, 2)
    swap(logs.export(logs.a, logs.tmp / "a"), served)
    trust = Trust(logs.a.verifiers(LOG), stale_after=3600)
    first = advance(LogState.empty(1000.0), DirectorySource(served), trust, now=1000.0)
    assert first.ok
    assert first.state.size == 300
    fresh = advance(first.state, DirectorySource(served), trust, now=1000.0 + 3600)
    assert fresh.ok
    stale = advance(fresh.state, DirectorySource(served), trust, now=1000.0 + 3601)
    assert [a.kind for a in stale.alerts] == [STALE]
    assert "no new checkpoint for 3601 s" in stale.alerts[0].message
    logs.grow(logs.a, 400, 3)
    swap(logs.export(logs.a, logs.tmp / "b"), served)
    grown = advance(stale.state, DirectorySource(served), trust, now=1000.0 + 7200)
    assert grown.ok
    assert grown.state.size == 400
    # The command line: --stale-after 0 is stale as soon as any time has passed.
    state = logs.tmp / "state"
    assert monitor(served, "--keys", logs.keys, state=state).returncode == 0
    res = monitor(served, "--keys", logs.keys, "--stale-after", "0", state=state)
    assert res.returncode == EXIT_CODES["stale"] == 4, res.stderr


class _Receiver(http.server.BaseHTTPRequestHandler):
    got: ClassVar[list[tuple[dict[str, str], bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).got.append((dict(self.headers.items()), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        return


def test_fork_alert_arrives_by_signed_webhook_and_mail_once(logs: Logs) -> None:
    served, state = logs.tmp / "served", logs.tmp / "state"
    secret = WebhookSecret.generate()
    _Receiver.got = []
    receiver = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    logs.grow(logs.a, 300, 2)
    logs.grow(logs.b, 300, 9)
    swap(logs.export(logs.a, logs.tmp / "a"), served)
    try:
        with serve_mail() as mail:
            args = ("--keys", logs.keys, "--webhook",
                    f"http://127.0.0.1:{receiver.server_address[1]}/hook",
                    "--webhook-secret", secret.to_text(), "--smtp", f"127.0.0.1:{mail.port}",
                    "--mail-to", "auditor@audit.example")
            assert monitor(served, *args, state=state).returncode == 0
            assert _Receiver.got == []
            assert mail.received() == []
            swap(logs.export(logs.b, logs.tmp / "b"), served)
            assert monitor(served, *args, state=state).returncode == 9
            assert monitor(served, *args, state=state).returncode == 9  # still forked
            received = mail.received()
    finally:
        receiver.shutdown()
        receiver.server_close()
    assert len(_Receiver.got) == 1, "an alert still active is not sent again"
    headers, body = _Receiver.got[0]
    msg = verify_webhook([secret], headers, body, datetime.now(UTC))
    assert msg.id.startswith("msg_")
    event = json.loads(body)
    assert event["type"] == "absentia.monitor.fork"
    assert event["data"]["kind"] == "fork"
    assert event["data"]["trusted_size"] == 300
    assert len(received) == 1
    to, mailed = received[0]
    assert to == "auditor@audit.example"
    assert mailed["Subject"] == f"[absentia monitor] fork: {served}"
    assert "same size 300" in mailed.get_content()


def test_state_survives_a_killed_monitor(logs: Logs) -> None:
    """The real monitor loops; it is killed; the next one resumes where it was trusted."""
    served, state = logs.tmp / "served", logs.tmp / "state"
    logs.grow(logs.a, 300, 2)
    swap(logs.export(logs.a, logs.tmp / "a"), served)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ABSENTIA_")}
    proc = subprocess.Popen(
        [str(ABSENTIA), "monitor", str(served), "--keys", str(logs.keys), "--state",
         str(state), "--interval", "0.2", "--quiet", "--metrics-port", str(port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        gauges = _wait_for_gauge(port, f'absentia_monitor_log_size{{log="{served}"}} 300')
        assert f'absentia_monitor_alert{{log="{served}",kind="fork"}} 0' in gauges
    finally:
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate(timeout=TIMEOUT_S)
    assert "checked entries 0..299 (300 new)" in out
    assert state_of(state)["state"]["size"] == 300
    logs.grow(logs.a, 700, 3)
    swap(logs.export(logs.a, logs.tmp / "b"), served)
    res = monitor(served, "--keys", logs.keys, state=state)
    assert res.returncode == 0, res.stderr
    assert res.stdout == f"{served}: checked entries 300..699 (400 new); trusted size 700\n"
    assert state_of(state)["state"]["checked"] == 700


def _wait_for_gauge(port: int, line: str) -> str:
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                text: str = r.read().decode()
            if line in text:
                return text
        except OSError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"the monitor never served {line!r}")


def test_config_file_follows_two_logs_and_one_fork_does_not_stop_the_other(
    logs: Logs, http_root: tuple[str, Path],
) -> None:
    url, www = http_root
    served, state = logs.tmp / "served", logs.tmp / "state"
    vkey = logs.a.log(LOG).verifier_keys[0]
    cfg = logs.tmp / "monitor.toml"
    cfg.write_text(f'[[log]]\nname = "local"\nprefix = "{served}"\nkeys = ["{vkey}"]\n'
                   f'origin = "example.org/monitor"\n\n'
                   f'[[log]]\nname = "mirror"\nprefix = "{url}"\nkeys = ["{vkey}"]\n')
    logs.grow(logs.a, 300, 2)
    logs.grow(logs.b, 300, 9)
    swap(logs.export(logs.a, logs.tmp / "a300"), served)
    swap(logs.tmp / "a300", www / "logs")
    res = monitor("--config", cfg, state=state)
    assert res.returncode == 0, res.stderr
    assert sorted(res.stdout.splitlines()) == [
        "local: checked entries 0..299 (300 new); trusted size 300",
        "mirror: checked entries 0..299 (300 new); trusted size 300"]
    logs.grow(logs.a, 500, 3)
    swap(logs.export(logs.a, logs.tmp / "a500"), served)
    swap(logs.export(logs.b, logs.tmp / "b300"), www / "logs")  # the mirror shows a fork
    res = monitor("--config", cfg, state=state)
    assert res.returncode == 9, res.stderr
    assert "local: checked entries 300..499 (200 new); trusted size 500" in res.stdout
    assert "ALERT fork mirror" in res.stderr
    assert "ALERT fork local" not in res.stderr


def test_monitor_follows_a_log_served_by_the_app(tmp_path: Path) -> None:
    """``absentia serve`` (gunicorn, its scheduler signing checkpoints) on a real SQLite
    database that a second process's store appends to; the monitor reads the app's URL."""
    url = f"sqlite:///{tmp_path}/app.db"
    state = tmp_path / "state"
    with serving(tmp_path, url) as served:
        store = LedgerStore(make_engine(url), tmp_path / "data" / "keys", entry_types())
        prefix = f"http://127.0.0.1:{served.port}/logs/{APP_LOG}"
        vkey = store.log(APP_LOG).verifier_keys[-1]
        sizes = []
        for size in (300, 700):
            append_sample_events(store, APP_LOG, size - store.head(APP_LOG).size, T0,
                                 seed=size)
            sizes.append(store.sign_checkpoint(APP_LOG, datetime.now(UTC)).size)
            res = monitor(prefix, "--key", vkey, state=state)
            assert res.returncode == 0, res.stderr
            assert f"; trusted size {sizes[-1]:,}" in res.stdout
        assert state_of(state)["state"]["checked"] == sizes[-1]
        store.engine.dispose()


def test_first_pass_must_extend_an_old_checkpoint_obtained_independently(logs: Logs) -> None:
    served = logs.tmp / "served"
    logs.grow(logs.a, 300, 2)
    old = logs.tmp / "a300.checkpoint"
    old.write_bytes(logs.export(logs.a, logs.tmp / "a300").joinpath("checkpoint").read_bytes())
    logs.grow(logs.a, 700, 3)
    logs.grow(logs.b, 700, 9)
    swap(logs.export(logs.b, logs.tmp / "b700"), served)
    res = monitor(served, "--keys", logs.keys, "--old", old, state=logs.tmp / "s1")
    assert res.returncode == 9, res.stderr
    assert "do not have the root of the --old checkpoint" in res.stderr
    assert state_of(logs.tmp / "s1")["state"]["size"] == 0
    swap(logs.tmp / "a300", served)
    a700 = logs.tmp / "a700.checkpoint"
    a700.write_bytes(logs.export(logs.a, logs.tmp / "a700").joinpath("checkpoint").read_bytes())
    res = monitor(served, "--keys", logs.keys, "--old", a700, state=logs.tmp / "s2")
    assert res.returncode == 8, res.stderr
    swap(logs.tmp / "a700", served)
    res = monitor(served, "--keys", logs.keys, "--old", old, state=logs.tmp / "s3")
    assert res.returncode == 0, res.stderr
    res = monitor(served, "--keys", logs.keys, "--old", logs.keys, state=logs.tmp / "s4")
    assert res.returncode == 2
    assert "absentia monitor:" in res.stderr


def test_sigterm_ends_the_loop_between_passes(logs: Logs) -> None:
    served, state = logs.tmp / "served", logs.tmp / "state"
    logs.grow(logs.a, 300, 2)
    swap(logs.export(logs.a, logs.tmp / "a"), served)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ABSENTIA_")}
    proc = subprocess.Popen(
        [str(ABSENTIA), "monitor", str(served), "--keys", str(logs.keys), "--state",
         str(state), "--interval", "30", "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        assert "checked entries 0..299" in proc.stdout.readline()  # the first pass is done
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=TIMEOUT_S) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=TIMEOUT_S)
    assert state_of(state)["state"]["size"] == 300


def test_a_first_pass_shows_progress_on_a_terminal(logs: Logs) -> None:
    served, state = logs.tmp / "served", logs.tmp / "state"
    logs.grow(logs.a, 600, 2)
    swap(logs.export(logs.a, logs.tmp / "a"), served)
    main, tty = os.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith("ABSENTIA_")}
    try:
        res = subprocess.run(
            [str(ABSENTIA), "monitor", str(served), "--keys", str(logs.keys), "--state",
             str(state), "--once"], stdout=subprocess.PIPE, stderr=tty, text=True, env=env,
            timeout=TIMEOUT_S, check=False)
        os.close(tty)
        shown = b""
        while True:
            try:
                chunk = os.read(main, 4096)
            except OSError:  # the terminal's other end is closed: all was read
                break
            if not chunk:
                break
            shown += chunk
    finally:
        os.close(main)
    assert res.returncode == 0
    assert "verifying entries: 600/600 (100.0%)" in shown.decode()
