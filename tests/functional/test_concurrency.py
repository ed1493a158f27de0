"""Several OS processes appending at once, on SQLite and on a real PostgreSQL server.

The store serialises appends to one log in the database (SQLite ``BEGIN IMMEDIATE``,
PostgreSQL ``SELECT ... FOR UPDATE`` on the log's head row).  If it did not, two
processes would read the same head and write the same index (a unique-key error or,
worse, a fork of the hash chain), or an idempotency key would be written twice.
These tests run real processes released together by a barrier and then check the
stored log row by row against every receipt a writer was given.

Also here: the database itself refuses UPDATE, DELETE (and on PostgreSQL TRUNCATE)
of the append-only tables.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from ledger.app.registry import entry_types
from ledger.migrations import upgrade
from ledger.storage import LedgerStore, make_engine
from ledger.storage.tables import APPEND_ONLY_TABLES, heads
from tests.functional._writer import (
    Rec,
    Row,
    Writer,
    check_log,
    finish,
    make_entry,
    read_rows,
    start_writers,
)

WRITERS = 4
PER_WRITER = 300
BATCH = 10


@pytest.fixture
def writers() -> Iterator[list[Writer]]:
    """Writer processes started by a test; any left running are killed at the end."""
    started: list[Writer] = []
    yield started
    for w in started:
        if w.proc.poll() is None:
            w.proc.kill()
            w.proc.wait(timeout=30)


def common_args(store: LedgerStore, url: str, log: str) -> list[str]:
    return ["--url", url, "--keys", str(store.keys.root), "--log", log]


def check_receipts(rows: list[Row], recs: list[Rec]) -> None:
    """Every receipt names a stored row with its leaf hash and its own event."""
    for r in recs:
        assert 0 <= r.index < len(rows), f"receipt index {r.index} is not stored"
        row = rows[r.index]
        assert row.leaf_hash == r.leaf_hash, f"receipt {r.index}: leaf hash differs from storage"
        assert row.obj["body"]["event_id"] == r.event_id, (
            f"receipt {r.index} was for {r.event_id}, storage holds "
            f"{row.obj['body']['event_id']}")


def check_writers(rows: list[Row], by_writer: dict[str, list[Rec]], per_writer: int) -> None:
    """Receipts of several append-mode writers: disjoint, complete, in order, batches whole."""
    all_indexes: list[int] = []
    for tag, recs in by_writer.items():
        assert len(recs) == per_writer, f"writer {tag}: {len(recs)} receipts"
        assert not any(r.duplicate for r in recs)
        assert [r.event_id for r in recs] == [f"{tag}-{n}" for n in range(per_writer)]
        idx = [r.index for r in recs]
        assert idx == sorted(idx), f"writer {tag}: later appends got earlier indexes"
        # Batches (event numbers [10, 20), [30, 40), ...) are one transaction each:
        # their entries must sit next to each other.
        for start in range(BATCH, per_writer, 2 * BATCH):
            chunk = idx[start : start + BATCH]
            assert chunk == list(range(chunk[0], chunk[0] + len(chunk))), (
                f"writer {tag}: batch at {start} was split: {chunk}")
        check_receipts(rows, recs)
        all_indexes += idx
    assert len(all_indexes) == len(set(all_indexes)), "two receipts name the same index"
    assert sorted(all_indexes) == list(range(1, len(rows))), (
        "stored entries and receipts differ (lost or unreceipted entries)")


def interleavings(by_writer: dict[str, list[Rec]]) -> int:
    """How often the writer changes along the log: 0 means they ran one after another."""
    owner = sorted((r.index, tag) for tag, recs in by_writer.items() for r in recs)
    return sum(1 for a, b in itertools.pairwise(owner) if a[1] != b[1])


def test_writers_in_parallel_keep_one_gap_free_chain(
    store: LedgerStore, db_url: str, tmp_path: Path, writers: list[Writer]
) -> None:
    store.create_log("shared", "example.org/shared", datetime.now(UTC))
    args = [*common_args(store, db_url, "shared"), "--count", str(PER_WRITER),
            "--batch", str(BATCH)]
    ws = start_writers(writers, tmp_path, "append", [(f"w{i}", args) for i in range(WRITERS)])
    by_writer = finish(ws)

    rows = check_log(store, "shared")
    assert len(rows) == 1 + WRITERS * PER_WRITER
    assert rows[0].obj["type"] == "log.created"
    check_writers(rows, by_writer, PER_WRITER)
    # One writer after another would give exactly WRITERS - 1 changes of writer along
    # the log; more means their transactions really interleaved.
    assert interleavings(by_writer) > WRITERS - 1, "the writers did not actually overlap"


def test_two_logs_in_parallel_both_stay_consistent(
    store: LedgerStore, db_url: str, tmp_path: Path, writers: list[Writer]
) -> None:
    now = datetime.now(UTC)
    store.create_log("alpha", "example.org/alpha", now)
    store.create_log("beta", "example.org/beta", now)
    per = 150
    runs = []
    for log in ("alpha", "beta"):
        args = [*common_args(store, db_url, log), "--count", str(per), "--batch", str(BATCH)]
        runs += [(f"{log}{i}", args) for i in range(2)]
    by_writer = finish(start_writers(writers, tmp_path, "append", runs))

    for log in ("alpha", "beta"):
        rows = check_log(store, log)
        assert len(rows) == 1 + 2 * per
        mine = {tag: recs for tag, recs in by_writer.items() if tag.startswith(log)}
        check_writers(rows, mine, per)  # also: no entry of the other log landed here
    assert store.head("alpha").root != store.head("beta").root


@pytest.mark.postgres
def test_postgres_appends_to_another_log_do_not_wait(
    pg_url: str, key_dir: Path, tmp_path: Path, writers: list[Writer]
) -> None:
    """Holding log A's head-row lock blocks writers of A only; B's writers go through."""
    engine = make_engine(pg_url)
    store = LedgerStore(engine, key_dir, entry_types())
    upgrade(store.engine)
    now = datetime.now(UTC)
    a = store.create_log("alpha", "example.org/alpha", now)
    store.create_log("beta", "example.org/beta", now)
    try:
        with engine.connect() as holder, holder.begin():
            holder.execute(select(heads.c.size).where(heads.c.log_id == a.id).with_for_update())
            [wa] = start_writers(writers, tmp_path, "append", [
                ("alpha0", [*common_args(store, pg_url, "alpha"), "--count", "20"])])
            [wb] = start_writers(writers, tmp_path, "append", [
                ("beta0", [*common_args(store, pg_url, "beta"), "--count", "20"])])
            finish([wb], timeout_s=30)  # beta completes while alpha's head row is locked
            time.sleep(0.3)
            assert wa.proc.poll() is None, "alpha's writer did not wait for the head lock"
            assert store.head("alpha").size == 1
        finish([wa])  # released: alpha's writer now completes
        assert len(check_log(store, "alpha")) == 21
        assert len(check_log(store, "beta")) == 21
    finally:
        engine.dispose()


def test_idempotency_key_retried_concurrently_is_written_once(
    store: LedgerStore, db_url: str, tmp_path: Path, writers: list[Writer]
) -> None:
    store.create_log("idem", "example.org/idem", datetime.now(UTC))
    keys = 80
    base = [*common_args(store, db_url, "idem"), "--count", str(keys)]
    # Both walk the keys in the same order, one append per key, so that they keep
    # submitting the same key at about the same moment.
    ws = start_writers(writers, tmp_path, "idem", [
        ("first", [*base, "--batch", "1"]),
        ("second", [*base, "--batch", "1"]),
    ])
    by_writer = finish(ws)

    rows = check_log(store, "idem")
    keyed = [r.idem_key for r in rows if r.idem_key is not None]
    assert sorted(keyed) == sorted(f"idem-{k}" for k in range(keys)), (
        "an idempotency key was written twice or not at all")
    assert len(rows) == 1 + keys
    by_key: dict[str, list[Rec]] = {}
    for recs in by_writer.values():
        assert len(recs) == keys
        check_receipts(rows, recs)
        for r in recs:
            by_key.setdefault(r.event_id, []).append(r)
    for key, recs in by_key.items():
        assert len({(r.index, r.leaf_hash) for r in recs}) == 1, (
            f"{key}: the two processes were given different receipts")
        assert sorted(r.duplicate for r in recs) == [False, True], (
            f"{key}: expected one original and one duplicate receipt")
        assert rows[recs[0].index].idem_key == key


# -- append-only enforcement in the database ------------------------------------------


def _snapshot(store: LedgerStore) -> dict[str, list[tuple[Any, ...]]]:
    out: dict[str, list[tuple[Any, ...]]] = {}
    with store.engine.connect() as conn:
        for table in (*APPEND_ONLY_TABLES, "ledger_heads"):
            rows = conn.execute(text(f"SELECT * FROM {table}")).all()
            out[table] = sorted(tuple(bytes(v) if isinstance(v, memoryview) else v for v in r)
                                for r in rows)
    return out


TAMPERING: list[tuple[str, str, dict[str, Any]]] = [
    ("ledger_entries", "UPDATE ledger_entries SET data = :v WHERE idx = 1", {"v": b"{}"}),
    ("ledger_entries", "UPDATE ledger_entries SET leaf_hash = :v", {"v": bytes(32)}),
    ("ledger_entries", "DELETE FROM ledger_entries WHERE idx = 300", {}),
    ("ledger_entries", "DELETE FROM ledger_entries", {}),
    ("ledger_checkpoints", "UPDATE ledger_checkpoints SET note = :v", {"v": "forged"}),
    ("ledger_checkpoints", "DELETE FROM ledger_checkpoints", {}),
    ("ledger_nodes", "UPDATE ledger_nodes SET hash = :v", {"v": bytes(32)}),
    ("ledger_nodes", "DELETE FROM ledger_nodes", {}),
    ("ledger_keys", "UPDATE ledger_keys SET vkey = :v", {"v": "forged"}),
    ("ledger_keys", "DELETE FROM ledger_keys", {}),
]


def test_database_refuses_update_delete_truncate(store: LedgerStore) -> None:
    now = datetime.now(UTC)
    store.create_log("ro", "example.org/ro", now)
    store.append_batch("ro", [make_entry(f"e-{i}") for i in range(300)], now)
    store.sign_checkpoint("ro", now)
    before = _snapshot(store)
    assert all(before[t] for t in ("ledger_entries", "ledger_checkpoints", "ledger_nodes",
                                   "ledger_keys")), "these tables should hold rows for this test"

    statements = list(TAMPERING)
    if store.engine.dialect.name == "postgresql":
        statements += [(t, f"TRUNCATE {t}", {}) for t in (
            "ledger_entries", "ledger_checkpoints", "ledger_nodes", "ledger_keys")]
        statements.append(("ledger_entries", "TRUNCATE ledger_entries CASCADE", {}))
    for table, stmt, params in statements:
        with pytest.raises(DBAPIError) as info, store.engine.begin() as conn:
            conn.execute(text(stmt), params)
        assert "append-only" in str(info.value), f"{stmt!r} failed for another reason"
        assert f"{table}" in str(info.value)
    assert _snapshot(store) == before, "a refused statement still changed something"
    rows = check_log(store, "ro")
    assert len(rows) == 301
    assert rows == read_rows(store, "ro")


def _row(store: LedgerStore, table: str, where: str) -> dict[str, Any]:
    with store.engine.connect() as conn:
        row = conn.execute(text(f"SELECT * FROM {table} WHERE {where}")).mappings().first()
    assert row is not None, (table, where)
    return dict(row)


def _columns(row: dict[str, Any]) -> tuple[str, str]:
    names = ", ".join(row)
    return names, ", ".join(f":{c}" for c in row)


def test_database_refuses_a_write_that_replaces_a_row(store: LedgerStore) -> None:
    """SQLite's INSERT OR REPLACE deletes the old row without firing a DELETE trigger:
    the insert guard refuses it on every append-only table; PostgreSQL's upsert hits
    the UPDATE trigger."""
    now = datetime.now(UTC)
    store.create_log("rp", "example.org/rp", now)
    store.append_batch("rp", [make_entry(f"e-{i}") for i in range(300)], now)
    store.sign_checkpoint("rp", now)
    with store.engine.begin() as conn:
        log_id = conn.execute(text("SELECT id FROM ledger_logs WHERE name = 'rp'")).scalar_one()
        size, root = conn.execute(text(
            "SELECT size, root FROM ledger_checkpoints WHERE log_id = :l ORDER BY id DESC "
            "LIMIT 1"), {"l": log_id}).one()
        conn.execute(text(
            "INSERT INTO ledger_cosignatures (log_id, size, root, witness, key_id, cosigned_at,"
            " line, received_at_ms) VALUES (:l, :s, :r, 'w.example', 'abcd0123', 1, 'x', 1)"),
            {"l": log_id, "s": size, "r": root})
    before = _snapshot(store)
    where = {"ledger_logs": f"id = {log_id}",
             "ledger_entries": f"log_id = {log_id} AND idx = 7",
             "ledger_nodes": f"log_id = {log_id}",
             "ledger_checkpoints": f"log_id = {log_id}",
             "ledger_keys": f"log_id = {log_id}",
             "ledger_cosignatures": f"log_id = {log_id}"}
    assert set(where) == set(APPEND_ONLY_TABLES)
    forged = {"ledger_logs": ("origin", "example.org/forged"),
              "ledger_entries": ("data", b'{"forged":true}'),
              "ledger_nodes": ("hash", bytes(32)),
              "ledger_checkpoints": ("note", "forged"),
              "ledger_keys": ("vkey", "forged"),
              "ledger_cosignatures": ("line", "forged")}
    sqlite = store.engine.dialect.name == "sqlite"
    for table in APPEND_ONLY_TABLES:
        row = _row(store, table, where[table])
        column, value = forged[table]
        names, marks = _columns(row)
        params = {**row, column: value}
        if sqlite:
            attempts = [f"INSERT OR REPLACE INTO {table} ({names}) VALUES ({marks})",
                        f"REPLACE INTO {table} ({names}) VALUES ({marks})"]
        else:
            pk = ", ".join(c for c in row if c in ("id", "log_id", "idx", "level")
                           and (c != "log_id" or "id" not in row))
            attempts = [f"INSERT INTO {table} ({names}) VALUES ({marks}) ON CONFLICT ({pk}) "
                        f"DO UPDATE SET {column} = EXCLUDED.{column}"]
        for stmt in attempts:
            with pytest.raises(DBAPIError) as info, store.engine.begin() as conn:
                conn.execute(text(stmt), params)
            assert "append-only" in str(info.value), f"{stmt!r} failed for another reason"
            assert table in str(info.value)
        # A plain duplicate: SQLite's guard refuses it, PostgreSQL's unique key does.
        with pytest.raises(DBAPIError) as info, store.engine.begin() as conn:
            conn.execute(text(f"INSERT INTO {table} ({names}) VALUES ({marks})"), params)
        assert ("append-only" if sqlite else "duplicate key") in str(info.value)
    assert _snapshot(store) == before, "a refused statement still changed something"
    assert len(check_log(store, "rp")) == 301


def test_a_head_moves_forward_only_by_the_append_path(store: LedgerStore) -> None:
    now = datetime.now(UTC)
    store.create_log("hd", "example.org/hd", now)
    store.append_batch("hd", [make_entry(f"e-{i}") for i in range(40)], now)
    head = _row(store, "ledger_heads", "log_id = (SELECT id FROM ledger_logs "
                                       "WHERE name = 'hd')")
    lid = head["log_id"]
    with store.engine.connect() as conn:
        leaf_20 = conn.execute(text("SELECT leaf_hash FROM ledger_entries "
                                    "WHERE log_id = :l AND idx = 20"), {"l": lid}).scalar_one()
    before = _snapshot(store)
    names, marks = _columns(head)
    refused = [
        # rolled back to an earlier, genuine state
        ("UPDATE ledger_heads SET size = 21, last_leaf = :leaf WHERE log_id = :l",
         {"leaf": leaf_20}),
        # pointed at entries that do not exist, or at a leaf that is not the last entry's
        ("UPDATE ledger_heads SET size = size + 5 WHERE log_id = :l", {}),
        ("UPDATE ledger_heads SET size = size + 1, last_leaf = :leaf WHERE log_id = :l",
         {"leaf": leaf_20}),
        ("UPDATE ledger_heads SET frontier = :f WHERE log_id = :l", {"f": b"forged"}),
        ("DELETE FROM ledger_heads WHERE log_id = :l", {}),
        (f"INSERT INTO ledger_heads ({names}) VALUES ({marks})", head),
    ]
    if store.engine.dialect.name == "sqlite":
        refused.append((f"REPLACE INTO ledger_heads ({names}) VALUES ({marks})",
                        {**head, "size": 21, "last_leaf": leaf_20}))
    else:
        refused.append(("TRUNCATE ledger_heads CASCADE", {}))
    for stmt, params in refused:
        with pytest.raises(DBAPIError) as info, store.engine.begin() as conn:
            conn.execute(text(stmt), {"l": lid, **params})
        assert "ledger_heads moves forward only" in str(info.value), stmt
    assert _snapshot(store) == before, "a refused statement still changed something"
    # The append path itself still moves the head (and so does it after the refusals).
    store.append_batch("hd", [make_entry(f"f-{i}") for i in range(5)], now)
    assert len(check_log(store, "hd")) == 46
