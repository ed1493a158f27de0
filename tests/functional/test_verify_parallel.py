"""The verifier's parallel path: worker processes, level-8 subtrees, older checkpoints.

The tamper matrix uses small logs, which the verifier checks in one process; these
logs are large enough (several full bundles) for the worker-process path.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from ledger.app.export import export_log
from ledger.app.registry import entry_types
from ledger.app.samples import append_sample_events
from ledger.errors import VerificationError
from ledger.migrations import upgrade
from ledger.storage import LedgerStore, make_engine
from ledger.tiles import TileRef
from ledger.verify import DirectorySource, verify_log

T0 = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
SIZE = 3000  # 11 full bundles and a partial one


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[LedgerStore, dict[int, str]]:
    """A log with checkpoints signed at sizes inside a bundle and on a bundle boundary."""
    tmp = tmp_path_factory.mktemp("parallel")
    store = LedgerStore(make_engine(f"sqlite:///{tmp}/l.db"), tmp / "keys", entry_types())
    upgrade(store.engine)
    store.create_log("l", "example.org/l", T0)
    notes: dict[int, str] = {}
    for size in (1000, 1024, SIZE):  # 1000 cuts bundle 3; 1024 ends bundle 3
        append_sample_events(store, "l", size - store.head("l").size, T0, seed=size)
        notes[size] = store.sign_checkpoint("l", T0).note
    return store, notes


@pytest.mark.parametrize("jobs", [1, 2])
@pytest.mark.parametrize("old", [None, 1000, 1024, SIZE])
def test_untouched_log_verifies_with_any_older_checkpoint(
    built: tuple[LedgerStore, dict[int, str]], tmp_path: Path, jobs: int, old: int | None,
) -> None:
    store, notes = built
    export_log(store, "l", tmp_path)
    report = verify_log(DirectorySource(tmp_path), store.verifiers("l"), jobs=jobs,
                        old_checkpoint=None if old is None else notes[old])
    assert (report.entries, report.old_size) == (SIZE, old)


@pytest.mark.parametrize("jobs", [1, 2])
@pytest.mark.parametrize("victim", [5, 1000, 1023, 1024, 2047, 2999])
def test_altered_entry_is_named_on_both_paths(
    built: tuple[LedgerStore, dict[int, str]], tmp_path: Path, jobs: int, victim: int,
) -> None:
    store, _ = built
    export_log(store, "l", tmp_path / "x")
    n = victim // 256
    width = 256 if (n + 1) * 256 <= SIZE else SIZE % 256
    bundle = tmp_path / "x" / TileRef(None, n, width).path()
    data = bytearray(bundle.read_bytes())
    # Walk the uint16-prefixed entries to the victim and flip a byte of its body.
    pos = 0
    for _ in range(victim % 256):
        pos += 2 + int.from_bytes(data[pos : pos + 2], "big")
    data[pos + 2 + 20] ^= 0x01
    bundle.write_bytes(bytes(data))
    with pytest.raises(VerificationError) as info:
        verify_log(DirectorySource(tmp_path / "x"), store.verifiers("l"), jobs=jobs)
    assert info.value.index == victim, str(info.value)


def test_forked_history_is_caught_against_an_older_checkpoint_inside_a_bundle(
    tmp_path: Path,
) -> None:
    """Two stores with the same key diverge at entry 900; the old checkpoint is at 1000."""
    db = tmp_path / "a.db"
    store = LedgerStore(make_engine(f"sqlite:///{db}"), tmp_path / "keys", entry_types())
    upgrade(store.engine)
    store.create_log("l", "example.org/l", T0)
    append_sample_events(store, "l", 999, T0)
    old = store.sign_checkpoint("l", T0).note
    append_sample_events(store, "l", 2000, T0, seed=2)
    store.sign_checkpoint("l", T0)
    export_log(store, "l", tmp_path / "good")
    verifiers = store.verifiers("l")
    # The attacker rewrites history from entry 900 on: same key, new consistent tree.
    with store.engine.begin() as conn:
        for trig in ("update", "delete"):
            for table in ("ledger_entries", "ledger_nodes", "ledger_checkpoints"):
                conn.execute(text(f"DROP TRIGGER {table}_no_{trig}"))
        for trig in ("no_delete", "no_replace", "forward"):
            conn.execute(text(f"DROP TRIGGER ledger_heads_{trig}"))
        conn.execute(text("DELETE FROM ledger_entries WHERE idx >= 900"))
        conn.execute(text("DELETE FROM ledger_nodes WHERE idx >= 3"))
        conn.execute(text("DELETE FROM ledger_checkpoints"))
        tail = conn.execute(text("SELECT leaf_hash FROM ledger_entries WHERE idx = 899"))
        last_leaf = tail.scalar_one()
        conn.execute(text("DELETE FROM ledger_heads"))
    forged = LedgerStore(make_engine(f"sqlite:///{db}"), tmp_path / "keys", entry_types())
    _rebuild_head(forged, last_leaf)
    append_sample_events(forged, "l", 2100, datetime(2026, 12, 1, tzinfo=UTC), seed=3)
    forged.sign_checkpoint("l", T0)
    export_log(forged, "l", tmp_path / "forked")
    # On its own the forked log is consistent and signed by the genuine key ...
    verify_log(DirectorySource(tmp_path / "forked"), verifiers, jobs=2)
    # ... but not with the checkpoint the auditor kept.
    with pytest.raises(VerificationError, match="fork") as info:
        verify_log(DirectorySource(tmp_path / "forked"), verifiers, jobs=2, old_checkpoint=old)
    assert info.value.index == 999
    verify_log(DirectorySource(tmp_path / "good"), verifiers, jobs=2, old_checkpoint=old)


def _rebuild_head(store: LedgerStore, last_leaf: bytes) -> None:
    """Recompute the head row of log 'l' from its first 900 stored leaves."""
    from ledger.merkle import CompactRange

    with store.engine.begin() as conn:
        leaves = conn.execute(text(
            "SELECT leaf_hash FROM ledger_entries WHERE log_id = 1 ORDER BY idx")).scalars()
        acc = CompactRange()
        for lh in leaves:
            acc.append(bytes(lh))
        conn.execute(text("INSERT INTO ledger_heads (log_id, size, last_leaf, frontier) "
                          "VALUES (1, :s, :l, :f)"),
                     {"s": acc.size, "l": last_leaf, "f": acc.to_bytes()})
