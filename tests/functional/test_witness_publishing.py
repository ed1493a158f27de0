"""k-of-n witness policy for publishing, on SQLite and PostgreSQL: with two witnesses
and two cosignatures required, a notice is refused (503 problem+json, Retry-After,
naming the silent witness) while one witness is stopped, and published with both
cosignatures once it is back; the notice embeds the cosigned checkpoint."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import pytest

from ledger.note import SignedNote
from ledger.witness.client import load_witness_settings, witness_status
from ledger.witness.cosig import CosignatureV1Verifier, require_cosignatures
from tests.functional._absence import LOG, Env, make_env
from tests.functional._witness import (
    ABSENTIA,
    WitnessProcess,
    absentia,
    free_port,
    wait_http,
)
from tests.functional.test_cli import cli_env
from tests.functional.test_notices import decided_campaign


@pytest.fixture
def witnesses(tmp_path: Path) -> Iterator[list[WitnessProcess]]:
    ws = [WitnessProcess(tmp_path / f"w{i}", f"w{i}.example.net/witness") for i in (1, 2)]
    for w in ws:
        w.init()
    try:
        yield ws
    finally:
        for w in ws:
            w.stop()


@pytest.fixture
def env(tmp_path: Path, db_url: str, witnesses: list[WitnessProcess]) -> Iterator[Env]:
    extra = "".join(f'\n[[witnesses]]\nname = "{w.name}"\nurl = "{w.url}"\nvkey = "{w.vkey}"\n'
                    for w in witnesses)
    extra += "\n[witness_policy]\nrequired = 2\ntimeout_s = 5\n"
    with make_env(tmp_path, db_url, extra_config=extra) as e:
        e.app.extensions["absentia.witnesses"] = load_witness_settings(e.settings)
        for w in witnesses:
            w.add_log(e.store.log(LOG).origin, *e.store.log(LOG).verifier_keys)
        yield e


def test_publishing_waits_for_k_witnesses(env: Env, witnesses: list[WitnessProcess]) -> None:
    w1, w2 = witnesses
    w1.start()  # w2 stays down
    decided_campaign(env)
    resp = env.post("/api/v1/campaigns/c2026/notices", "hr", {})
    assert resp.status_code == 503, resp.get_data(as_text=True)
    assert resp.headers["Content-Type"] == "application/problem+json"
    assert resp.headers["Retry-After"] == "5"
    problem = json.loads(resp.get_data(as_text=True))
    assert problem["field"] == "witnesses"
    assert "1 of 2 required witness cosignatures" in problem["detail"]
    assert w2.name in problem["detail"]
    assert problem["witnesses"]["cosigned"] == [w1.name]
    assert [f["witness"] for f in problem["witnesses"]["failed"]] == [w2.name]
    assert "no answer" in problem["witnesses"]["failed"][0]["error"]
    # Nothing was published.
    assert not [e for e in env.ledger_entries() if e["type"] == "notice.published"]
    states = {s.name: s for s in witness_status(env.store, LOG, env.now[0])}
    assert states[w2.name].last_error is not None
    assert states[w1.name].last_error is None
    # The witness comes back: the notice is published with both cosignatures.
    w2.start()
    resp = env.post("/api/v1/campaigns/c2026/notices", "hr", {})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    html = env.client.get(resp.json["url"]).get_data(as_text=True)  # type: ignore[index]
    found = re.search(r'<pre id="checkpoint">(.*?)</pre>', html, re.S)
    assert found is not None
    note = SignedNote.parse(unescape(found.group(1)))
    got = require_cosignatures(note, [CosignatureV1Verifier.from_vkey(w.vkey)
                                      for w in witnesses], 2)
    assert sorted(c.name for c in got) == [w1.name, w2.name]
    note.verify(env.store.verifiers(LOG))
    assert all(s.last_error is None for s in witness_status(env.store, LOG, env.now[0]))
    # A report embeds the cosigned checkpoint too, and verifies offline with the
    # witnesses' keys.
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from ledger.witness.cosig import CosignatureV1Signer
    from publicity.report import generate
    from publicity.report_verify import verify_report

    result = generate(env.service, env.settings, "c2026", env.clock(minutes=5))
    vkeys = [w.vkey for w in witnesses]
    checked = verify_report(result.path, witnesses=vkeys, witnesses_required=2)
    assert checked.code == 0, checked.lines
    assert any(line.startswith("witnesses: 2 valid cosignature(s)") for line in checked.lines)
    third = CosignatureV1Signer("w3.example.net", Ed25519PrivateKey.generate()).verifier.vkey
    short = verify_report(result.path, witnesses=[*vkeys, third], witnesses_required=3)
    assert short.code == 4
    assert "witnesses: FAILED" in short.lines[-1]
    # The app served by a real `absentia serve`: its checkpoint verifies offline over HTTP
    # with the log's key and both witnesses' keys; the log side's status shows them.
    port = free_port()
    config = env.data / "config.toml"
    server = subprocess.Popen([str(ABSENTIA), "serve", "--data", str(env.data), "--config",
                               str(config), "--port", str(port), "--workers", "1",
                               "--no-scheduler"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, env=cli_env())
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", server)
        args: list[str | Path] = ["verify", f"http://127.0.0.1:{port}/logs/{LOG}", "--key",
                                  env.store.log(LOG).verifier_keys[0], "--quiet", "--jobs",
                                  "1"]
        for v in vkeys:
            args += ["--witness", v]
        done = absentia(*args, "--witnesses-required", "2")
        assert done.returncode == 0, done.stderr
        assert f"2 witness cosignature(s) (2 required): {w1.name}" in done.stdout
        done = absentia(*args, "--witness", third, "--witnesses-required", "3")
        assert done.returncode == 1
        assert "3 required" in done.stderr
    finally:
        server.terminate()
        server.wait(timeout=30)
        if server.stderr is not None:
            server.stderr.close()
    status = absentia("witness", "status", "--data", env.data, "--config", config)
    assert status.returncode == 0, status.stderr
    assert "2 of 2 cosignatures required to publish" in status.stdout
    for w in witnesses:
        assert f"{w.name}\tcosigned " in status.stdout
