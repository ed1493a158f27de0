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
    # A policy (e.g. from a C2SP tlog-policy file) replaces the k-of-n count.
    needs_w3 = Trust([], quorum=lambda c: w3.verifier.vkey in c)
    assert not needs_w3.quorum_holds(got)
    assert Trust([], witnesses_required=2).quorum_holds(got)


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
    assert [(v.name, v.key_id) for v in a.trust.verifiers] == [
        (log.verifier.name, log.verifier.key_id)]
    assert (a.trust.stale_after, b.trust.stale_after, b.name) == (3600, 60, "/srv/export/b")
    assert a.state_file != b.state_file
    cfg.write_text('[[log]]\nprefix = "x"\n')
    with pytest.raises(BadData, match="needs prefix and keys"):
        load_config(cfg, None)
    cfg.write_text(f'[[log]]\nprefix = "x"\nkeys = ["{log.verifier.vkey}"]\n'
                   "witnesses_required = 1\n")
    with pytest.raises(BadData, match="witnesses_required"):
        load_config(cfg, None)


class MemoryLog:
    """A tlog-tiles log in memory (every tile at every level), signed by ``signer``."""

    def __init__(self, signer: Ed25519Signer) -> None:
        self.signer = signer
        self.raws: list[bytes] = []
        self.leaves: list[bytes] = []
        self.files: dict[str, bytes] = {}

    def grow(self, size: int) -> None:
        from ledger.entry import Entry, format_time
        while len(self.raws) < size:
            i = len(self.raws)
            prev = self.leaves[-1] if self.leaves else bytes(32)
            raw = Entry(i, prev, format_time(NOW), "test.event", "system",
                        {"n": i}).encode()
            self.raws.append(raw)
            self.leaves.append(leaf_hash(raw))
        self._publish()

    def _publish(self) -> None:
        from ledger.merkle import root_of_perfect
        from ledger.tiles import bundles_for_size, encode_bundle, tiles_for_size
        size = len(self.raws)
        files: dict[str, bytes] = {}
        for ref in bundles_for_size(size):
            lo = ref.index * 256
            files[ref.path()] = encode_bundle(self.raws[lo:lo + ref.width])
        level_hashes = [self.leaves]
        for ref in tiles_for_size(size):
            assert ref.level is not None
            while len(level_hashes) <= ref.level:
                below = level_hashes[-1]
                level_hashes.append([root_of_perfect(below[k:k + 256])
                                     for k in range(0, len(below) - 255, 256)])
            lo = ref.index * 256
            files[ref.path()] = b"".join(level_hashes[ref.level][lo:lo + ref.width])
        acc = CompactRange()
        for lh in self.leaves:
            acc.append(lh)
        files["checkpoint"] = Checkpoint("example.org/mem", size, acc.root()).sign(
            [self.signer]).encode()
        self.files = files

    def get(self, path: str) -> bytes:
        from ledger.errors import NotFound
        try:
            return self.files[path]
        except KeyError:
            raise NotFound(path) from None


def test_following_across_a_level_1_tile_and_a_tampered_hash_tile() -> None:
    """65,536 entries complete the first level-1 tile; the monitor checks it and the
    level-2 partial tile from its saved edges, without re-reading old bundles."""
    from ledger.monitor import ENTRY, advance
    signer = Ed25519Signer("example.org/mem", Ed25519PrivateKey.generate())
    log = MemoryLog(signer)
    trust = Trust([signer.verifier])
    state = LogState.empty(0.0)
    kept: dict[int, LogState] = {}
    for size in (300, 65_500, 65_536, 65_800):
        log.grow(size)
        out = advance(LogState.from_json(state.to_json()), log, trust, now=float(size))
        assert out.alerts == []
        assert out.new_entries == size - state.size
        state = kept[size] = out.state
    # The full level-1 tile that entry 65,535 completes is compared when it completes.
    full = log.files["tile/1/000"]
    log.files["tile/1/000"] = full[:40] + bytes([full[40] ^ 1]) + full[41:]
    out = advance(kept[65_500], log, trust, now=1.0)
    assert "hash tile tile/1/000 does not match" in out.alerts[0].message
    log.files["tile/1/000"] = full
    assert state.size == 65_800
    assert state.root == Checkpoint.from_body(
        SignedNote.parse(log.files["checkpoint"]).text).root
    log.grow(66_100)  # 258 level-8 subtrees: the level-1 partial tile grows to 2 hashes
    tile = "tile/1/001.p/2"
    log.files[tile] = bytes([log.files[tile][0] ^ 1]) + log.files[tile][1:]
    out = advance(state, log, trust, now=1.0)
    assert [a.kind for a in out.alerts] == [ENTRY]
    assert f"hash tile {tile} does not match" in out.alerts[0].message
    assert out.state == state


def test_a_checkpoint_whose_sm2_line_was_stripped_is_a_signature_alert() -> None:
    """Given the log's SM2 key (the 国密 option), the monitor requires its line, as
    ``absentia verify`` does; before, a checkpoint with the line removed passed."""
    from ledger.monitor import SIGNATURE, advance
    from ledger.sm2 import SM2Signer
    signer = Ed25519Signer("example.org/mem", Ed25519PrivateKey.generate())
    sm2 = SM2Signer.from_pem("example.org/mem", SM2Signer.generate_pem())
    log = MemoryLog(signer)
    log.grow(10)
    body = SignedNote.parse(log.files["checkpoint"]).text
    both = Checkpoint.from_body(body).sign([signer, sm2]).encode()
    trust = Trust([signer.verifier, sm2.verifier])
    log.files["checkpoint"] = both
    out = advance(LogState.empty(0.0), log, trust, now=1.0)
    assert out.alerts == []
    assert out.state.size == 10
    log.grow(20)  # a new checkpoint, signed by the Ed25519 key alone
    later = advance(out.state, log, trust, now=2.0)
    assert [a.kind for a in later.alerts] == [SIGNATURE]
    assert "SM2" in later.alerts[0].message
    assert later.state == out.state


def test_a_fork_without_the_witnesses_is_a_fork_not_a_witness_alert() -> None:
    """A larger checkpoint, signed by the log, that does not extend the trusted tree is
    a fork whether or not witnesses cosigned it (the log's signature proves it)."""
    from ledger.monitor import advance
    signer = Ed25519Signer("example.org/mem", Ed25519PrivateKey.generate())
    witness = CosignatureV1Signer("w.example", Ed25519PrivateKey.generate())
    log = MemoryLog(signer)
    log.grow(300)
    body = SignedNote.parse(log.files["checkpoint"]).text
    log.files["checkpoint"] += witness.cosign(body, NOW).line().encode()
    trust = Trust([signer.verifier], witnesses=[witness.verifier], witnesses_required=1)
    out = advance(LogState.empty(0.0), log, trust, now=1.0)
    assert out.alerts == []
    other = MemoryLog(signer)  # same key and origin, other entries from index 0
    other.raws = [r.replace(b'"n":', b'"m":') for r in log.raws]
    other.leaves = [leaf_hash(r) for r in other.raws]
    other.grow(400)  # not cosigned
    forked = advance(out.state, other, trust, now=2.0)
    assert [a.kind for a in forked.alerts] == [FORK]
    assert forked.state == out.state
