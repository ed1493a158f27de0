"""ledger.storage.status: what ``/readyz``, ``/metrics`` and the audit console read of
the ledger's tables and the scheduler's lease, on a real SQLite database after real
writes (logs created, keys rotated, entries appended, checkpoints signed, a lease taken).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ledger.app.scheduler import Lease
from ledger.events import CORE_TYPES, LOG_CREATED, LOG_KEY_ADDED, EntryTypes, EventType, count
from ledger.migrations import head_revision, upgrade
from ledger.storage import LedgerStore, NewEntry, make_engine
from ledger.storage import status as S  # noqa: N812 (the module, read as S.log_heads)

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
NOTE = EventType("test.note", "A numbered note (these tests only).", {"n": count})


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[LedgerStore]:
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.db'}")
    upgrade(engine)
    try:
        yield LedgerStore(engine, tmp_path / "keys", EntryTypes([*CORE_TYPES, NOTE]))
    finally:
        engine.dispose()


def note(n: int) -> NewEntry:
    return NewEntry(NOTE.name, "system:test", {"n": n})


def test_ping_and_schema_before_and_after_the_migrations(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'fresh.db'}")
    try:
        S.ping(engine)  # an empty database answers too
        assert S.schema(engine) == S.SchemaStatus(None, head_revision(), False)
        upgrade(engine)
        assert S.schema(engine) == S.SchemaStatus(head_revision(), head_revision(), True)
    finally:
        engine.dispose()


def test_log_names_and_signing_keys(store: LedgerStore) -> None:
    assert S.log_names(store.engine) == []
    b = store.create_log("beta", "example.org/beta", T0)
    a = store.create_log("alpha", "example.org/alpha", T0)
    assert S.log_names(store.engine) == ["alpha", "beta"]
    first = S.log_signing(store.engine, ["alpha", "beta", "gamma"])
    assert set(first) == {"alpha", "beta"}  # no log gamma: absent, not an error
    assert first["alpha"].id == a.id
    assert first["beta"].id == b.id
    assert first["beta"].origin == "example.org/beta"
    assert first["alpha"].key_uri is not None
    assert first["alpha"].key_uri != first["beta"].key_uri
    store.rotate_key("alpha", T0 + timedelta(hours=1))
    after = S.log_signing(store.engine, ["alpha"])
    assert after["alpha"].key_uri is not None
    assert after["alpha"].key_uri != first["alpha"].key_uri  # the newest key
    assert S.log_signing(store.engine, ["beta"]) == {"beta": first["beta"]}
    assert S.log_signing(store.engine, []) == {}


def test_log_heads_follow_appends_and_checkpoints(store: LedgerStore) -> None:
    store.create_log("alpha", "example.org/alpha", T0)  # entry 0, signed at once
    store.create_log("beta", "example.org/beta", T0 + timedelta(seconds=1))
    assert S.log_heads(store.engine) == [
        S.LogHeadStatus("alpha", 1, 1, ms(T0)),
        S.LogHeadStatus("beta", 1, 1, ms(T0 + timedelta(seconds=1)))]
    store.append_batch("alpha", [note(1), note(2)], T0 + timedelta(minutes=1))
    (alpha, _) = S.log_heads(store.engine)
    assert alpha == S.LogHeadStatus("alpha", 3, 1, ms(T0))  # 2 entries not yet signed
    store.sign_checkpoint("alpha", T0 + timedelta(minutes=2))
    (alpha, _) = S.log_heads(store.engine)
    assert alpha == S.LogHeadStatus("alpha", 3, 3, ms(T0 + timedelta(minutes=2)))


def test_the_oldest_checkpoint_beyond_a_size(store: LedgerStore) -> None:
    info = store.create_log("alpha", "example.org/alpha", T0)  # checkpoint of size 1
    store.append("alpha", note(1), T0 + timedelta(minutes=1))
    store.sign_checkpoint("alpha", T0 + timedelta(minutes=2))  # size 2
    store.append("alpha", note(2), T0 + timedelta(minutes=3))
    store.sign_checkpoint("alpha", T0 + timedelta(minutes=4))  # size 3
    assert S.oldest_checkpoint_beyond(store.engine, info.id, 0) == ms(T0)
    assert S.oldest_checkpoint_beyond(store.engine, info.id, 1) == ms(T0 + timedelta(minutes=2))
    assert S.oldest_checkpoint_beyond(store.engine, info.id, 2) == ms(T0 + timedelta(minutes=4))
    assert S.oldest_checkpoint_beyond(store.engine, info.id, 3) is None  # all cosignable seen


def test_entries_of_types_in_log_order(store: LedgerStore) -> None:
    info = store.create_log("alpha", "example.org/alpha", T0)
    other = store.create_log("beta", "example.org/beta", T0)
    store.append("alpha", note(7), T0 + timedelta(minutes=1))
    store.rotate_key("alpha", T0 + timedelta(minutes=2))
    found = S.entries_of_types(store.engine, info.id, (LOG_CREATED.name, LOG_KEY_ADDED.name))
    assert [f.index for f in found] == [0, 2]
    assert [json.loads(f.data)["type"] for f in found] == [LOG_CREATED.name,
                                                          LOG_KEY_ADDED.name]
    assert found[0].data == store.entry("alpha", 0)  # the stored bytes, unchanged
    (n,) = S.entries_of_types(store.engine, info.id, (NOTE.name,))
    assert (n.index, json.loads(n.data)["body"]) == (1, {"n": 7})
    assert S.entries_of_types(store.engine, other.id, (NOTE.name,)) == []
    assert S.entries_of_types(store.engine, info.id, ()) == []


def test_scheduler_leases_as_taken(store: LedgerStore) -> None:
    assert S.scheduler_lease_list(store.engine) == []
    Lease(store, 30, holder="host-b:1", name="sweep", db_clock=False).acquire(T0)
    Lease(store, 60, holder="host-a:2", name="outbox", db_clock=False).acquire(T0)
    assert S.scheduler_lease_list(store.engine) == [
        S.SchedulerLease("outbox", "host-a:2", ms(T0) + 60_000),
        S.SchedulerLease("sweep", "host-b:1", ms(T0) + 30_000)]


def test_the_database_clock_is_postgresql_s_only(store: LedgerStore) -> None:
    assert store.engine.dialect.name == "sqlite"
    assert S.database_clock(store.engine) is None
