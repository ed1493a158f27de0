"""The monitor's pure pieces: state round trip, witness set and quorum, gauges, exit status,
the config file.  The checks against real logs are in tests/functional/test_monitor.py."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.checkpoint import Checkpoint
from ledger.errors import BadData
from ledger.merkle import CompactRange, leaf_hash
from ledger.monitor import (
    FORK,
    KINDS,
    STALE,
    Alert,
    LogState,
    Trust,
    quorum_met,
    witness_cosigners,
)
from ledger.monitor_run import (
    EXIT_CODES,
    Record,
    WatchedLog,
    exit_status,
    load_config,
    metrics_text,
)
from ledger.note import Ed25519Signer, SignedNote
from ledger.witness.cosig import CosignatureV1Signer

NOW = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)


def _state(size: int) -> LogState:
    acc = CompactRange()
    leaves = [leaf_hash(str(i).encode()) for i in range(size)]
    for lh in leaves:
        acc.append(lh)
    return LogState("origin\n1\nroot\n\n— k sig\n", size, acc.root(), leaves[-1],
                    tuple(acc.hashes), (tuple(leaves[256 * (size // 256):]),), size, 1.5,
                    2.5, 3.5)


def test_state_round_trips_through_json() -> None:
    state = _state(300)
    assert LogState.from_json(state.to_json()) == state


@pytest.mark.parametrize("break_it", [
    lambda o: o.update(version=2),
    lambda o: o.pop("frontier"),
    lambda o: o.update(root="not base64!"),
    lambda o: o.update(frontier=o["frontier"][:-1]),
    lambda o: o.update(last_leaf="AAAA"),
])
def test_a_damaged_state_is_refused(break_it: object) -> None:
    obj = _state(300).to_json()
    break_it(obj)  # type: ignore[operator]
    with pytest.raises(BadData):
        LogState.from_json(obj)


def _note(*cosigners: CosignatureV1Signer) -> str:
    log = Ed25519Signer("example.org/l", Ed25519PrivateKey.generate())
    text = Checkpoint("example.org/l", 3, b"\x01" * 32).sign([log])
    body = SignedNote.parse(text).text
    return text + "".join(w.cosign(body, NOW).line() for w in cosigners)


def test_witness_set_and_quorum_are_separate_steps() -> None:
    w1, w2, w3 = (CosignatureV1Signer(f"w{i}.example", Ed25519PrivateKey.generate())
                  for i in range(3))
    note = _note(w1, w2)
    got = witness_cosigners(note, [w1.verifier, w2.verifier, w3.verifier])
    assert got == {w1.verifier.vkey, w2.verifier.vkey}
    assert quorum_met(got, 2)
    assert not quorum_met(got, 3)
    assert witness_cosigners(note, [w3.verifier]) == frozenset()


def test_a_bad_cosignature_counts_as_absent() -> None:
    w1 = CosignatureV1Signer("w1.example", Ed25519PrivateKey.generate())
    note = _note(w1)
    head, line = note.rstrip("\n").rsplit("\n", 1)
    name, blob = line[2:].split(" ")
    forged = f"{head}\n— {name} {blob[:-6]}{'AAAAAA' if blob[-6:] != 'AAAAAA' else 'BBBBBB'}\n"
    assert witness_cosigners(forged, [w1.verifier]) == frozenset()


def test_gauges_in_prometheus_text_format() -> None:
    log = WatchedLog("https://h/logs/a\"b", Trust([]), 'a"b')
    record = Record(_state(300), {FORK: "fork: ..."}, seen_size=420)
    text = metrics_text([log], {log.name: record})
    assert 'absentia_monitor_log_size{log="a\\"b"} 300\n' in text
    assert 'absentia_monitor_lag_entries{log="a\\"b"} 120\n' in text
    assert 'absentia_monitor_last_ok_timestamp_seconds{log="a\\"b"} 2.500\n' in text
    assert 'absentia_monitor_alert{log="a\\"b",kind="fork"} 1\n' in text
    assert text.count("absentia_monitor_alert{") == len(KINDS)
    assert "# TYPE absentia_monitor_alert gauge\n" in text


def test_exit_status_is_the_most_severe_alert() -> None:
    log = WatchedLog("d", Trust([]), "d")
    assert exit_status([]) == 0
    assert exit_status([(log, Alert(STALE, "")), (log, Alert(FORK, ""))]) == EXIT_CODES[FORK]
    assert len(set(EXIT_CODES.values())) == len(KINDS)
    assert 0 not in EXIT_CODES.values()


def test_config_lists_logs_with_their_keys_and_witnesses(tmp_path: Path) -> None:
    log = Ed25519Signer("example.org/l", Ed25519PrivateKey.generate())
    w = CosignatureV1Signer("w1.example", Ed25519PrivateKey.generate())
    cfg = tmp_path / "monitor.toml"
    cfg.write_text(f'''
[[log]]
name = "a"
prefix = "https://h/logs/a"
origin = "example.org/l"
keys = ["{log.verifier.vkey}"]
witnesses = ["{w.verifier.vkey}"]
witnesses_required = 1

[[log]]
prefix = "/srv/export/b"
keys = ["{log.verifier.vkey}"]
stale_after = 60
''')
    a, b = load_config(cfg, stale_after=3600)
    assert (a.name, a.prefix, a.trust.origin, a.trust.witnesses_required) == (
        "a", "https://h/logs/a", "example.org/l", 1)
    assert [v.vkey for v in a.trust.verifiers] == [log.verifier.vkey]
    assert (a.trust.stale_after, b.trust.stale_after, b.name) == (3600, 60, "/srv/export/b")
    assert a.state_file != b.state_file
    cfg.write_text('[[log]]\nprefix = "x"\n')
    with pytest.raises(BadData, match="needs prefix and keys"):
        load_config(cfg, None)
    cfg.write_text(f'[[log]]\nprefix = "x"\nkeys = ["{log.verifier.vkey}"]\n'
                   "witnesses_required = 1\n")
    with pytest.raises(BadData, match="witnesses_required"):
        load_config(cfg, None)
