"""A C2SP tlog-policy file as the witness policy, with real witness processes, on SQLite
and PostgreSQL.

Three witnesses of two organisations; the policy's quorum is a group: any one of
organisation A's two witnesses and organisation B's one.  Two cosignatures by A's
witnesses alone (as many as the quorum's minimum) do not satisfy it: publishing is refused
(503, nothing published); once B cosigns, with one A witness down, it is published.  The
policy is served at /logs/<name>/policy, and `absentia verify --policy` and
`absentia report verify --policy` pass with it and fail with a policy the checkpoint does
not meet."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.witness.client import load_witness_settings
from tests.functional._absence import LOG, Env, make_env
from tests.functional._witness import ABSENTIA, WitnessProcess, absentia, free_port, wait_http
from tests.functional.test_cli import cli_env
from tests.functional.test_notices import decided_campaign

NAMES = {"A1": "a1.example.net/witness", "A2": "a2.example.net/witness",
         "B1": "b1.example.net/witness"}


@pytest.fixture
def witnesses(tmp_path: Path) -> Iterator[dict[str, WitnessProcess]]:
    ws = {k: WitnessProcess(tmp_path / k, name) for k, name in NAMES.items()}
    for w in ws.values():
        w.init()
    try:
        yield ws
    finally:
        for w in ws.values():
            w.stop()


def policy_text(ws: dict[str, WitnessProcess], quorum: str = "") -> str:
    lines = ["# Organisation A runs two witnesses, organisation B one.",
             *(f"witness {k}  {w.vkey}  {w.url}" for k, w in ws.items()),
             "group org-A any A1 A2", "group org-B all B1",
             quorum or "group both all org-A org-B\nquorum both"]
    return "\n".join(lines) + "\n"


@pytest.fixture
def env(tmp_path: Path, db_url: str, witnesses: dict[str, WitnessProcess]) -> Iterator[Env]:
    policy = tmp_path / "witnesses.policy"
    policy.write_text(policy_text(witnesses), encoding="utf-8")
    extra = f'\n[witness_policy]\nfile = "{policy}"\ntimeout_s = 5\n'
    with make_env(tmp_path, db_url, extra_config=extra) as e:
        e.app.extensions["absentia.witnesses"] = load_witness_settings(e.settings)
        for w in witnesses.values():
            w.add_log(e.store.log(LOG).origin, *e.store.log(LOG).verifier_keys)
        yield e


def test_publishing_waits_for_the_policy_quorum_and_verifiers_check_it(
        env: Env, witnesses: dict[str, WitnessProcess], tmp_path: Path) -> None:
    a1, a2, b1 = witnesses["A1"], witnesses["A2"], witnesses["B1"]
    a1.start()
    a2.start()  # B1 stays down: two cosignatures, but not the quorum
    decided_campaign(env)
    resp = env.post("/api/v1/campaigns/c2026/notices", "hr", {})
    assert resp.status_code == 503, resp.get_data(as_text=True)
    problem = json.loads(resp.get_data(as_text=True))
    assert problem["field"] == "witnesses"
    assert "the policy's quorum 'both' is not satisfied" in problem["detail"]
    assert problem["witnesses"]["cosigned"] == sorted([a1.name, a2.name])
    assert problem["witnesses"]["satisfied"] is False
    assert [f["witness"] for f in problem["witnesses"]["failed"]] == [b1.name]
    assert not [e for e in env.ledger_entries() if e["type"] == "notice.published"]
    # B comes up, one of A's witnesses goes down: A1 and B1 meet the quorum.
    a2.stop()
    b1.start()
    resp = env.post("/api/v1/campaigns/c2026/notices", "hr", {})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    page = env.client.get(resp.json["url"]).get_data(as_text=True)  # type: ignore[index]
    assert 'id="witness-policy-words"' in page
    # The page says the quorum in words, by the witnesses' key names.
    assert f"以下全部：{a1.name}" not in page  # groups of one member read as that member
    assert f"以下全部：（以下任一：{a1.name}、{a2.name}）、{b1.name}" in page
    assert "--policy policy.txt" in page
    # The policy is served as written, for clients.
    got = env.client.get(f"/logs/{LOG}/policy")
    assert got.status_code == 200
    assert got.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert got.get_data(as_text=True) == policy_text(witnesses)
    assert env.client.get(f"/logs/{LOG}/policy",
                          headers={"If-None-Match": got.headers["ETag"]}).status_code == 304
    assert env.client.get("/logs/nope/policy").status_code == 404
    # The home page links each log's policy and offers the --policy command.
    home = env.client.get("/?lang=en").get_data(as_text=True)
    assert f'href="/logs/{LOG}/policy">Witness policy</a>' in home
    assert "meeting the witness policy (C2SP tlog-policy, at least 2 witnesses)" in home
    assert "--policy policy.txt" in home
    assert "--witnesses-required" not in home
    # A report signs a checkpoint too, cosigned by A1 and B1 (A2 is down).
    from publicity.report import generate

    report = generate(env.service, env.settings, "c2026", env.clock(minutes=5)).path
    good = tmp_path / "good.policy"
    good.write_text(policy_text(witnesses), encoding="utf-8")
    strict = tmp_path / "strict.policy"
    strict.write_text(policy_text(witnesses, "group every all A1 A2 B1\nquorum every"),
                      encoding="utf-8")
    with_log = tmp_path / "with-log.policy"
    with_log.write_text("".join(f"log {k}\n" for k in env.store.log(LOG).verifier_keys)
                        + policy_text(witnesses), encoding="utf-8")
    done = absentia("report", "verify", report, "--policy", good)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "quorum 'both' satisfied: A1, B1" in done.stdout
    done = absentia("report", "verify", report, "--policy", strict)
    assert done.returncode == 4, done.stdout
    assert "quorum 'every' is not satisfied (cosigned by: A1, B1; missing: A2)" in done.stdout
    broken = tmp_path / "broken.policy"
    broken.write_text(policy_text(witnesses, "quorum nobody"), encoding="utf-8")
    done = absentia("report", "verify", report, "--policy", broken)
    assert done.returncode == 2
    assert "tlog-policy line 7: the quorum 'nobody' is not a witness or group" in done.stderr
    # `absentia verify --policy` over HTTP against a real `absentia serve`.
    port = free_port()
    server = subprocess.Popen([str(ABSENTIA), "serve", "--data", str(env.data), "--config",
                               str(env.data / "config.toml"), "--port", str(port),
                               "--workers", "1", "--no-scheduler"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=cli_env())
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", server)
        url = f"http://127.0.0.1:{port}/logs/{LOG}"
        base = ["verify", url, "--quiet", "--jobs", "1"]
        key = ["--key", env.store.log(LOG).verifier_keys[0]]
        done = absentia(*base, *key, "--policy", good)
        assert done.returncode == 0, done.stderr
        assert "the witness policy's quorum 'both' is satisfied (2 cosignature(s)): A1 (" in \
            done.stdout
        done = absentia(*base, *key, "--policy", strict)
        assert done.returncode == 1
        assert "quorum 'every' is not satisfied" in done.stderr
        # A policy listing the log needs no --key: its log line is the trusted key.
        done = absentia(*base, "--policy", with_log)
        assert done.returncode == 0, done.stderr
        assert "signed by " + env.store.log(LOG).origin in done.stdout
        # The policy the server serves is the one it publishes under.
        served = tmp_path / "served.policy"
        done = absentia(*base, *key, "--policy", served)
        assert done.returncode == 2  # no such file yet
        import urllib.request

        with urllib.request.urlopen(f"{url}/policy", timeout=10) as r:  # noqa: S310
            served.write_bytes(r.read())
        done = absentia(*base, *key, "--policy", served)
        assert done.returncode == 0, done.stderr
    finally:
        server.terminate()
        server.wait(timeout=30)
        if server.stderr is not None:
            server.stderr.close()
