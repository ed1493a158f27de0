"""PostgreSQL appends hold the log's head lock for one round trip (0016_append).

The statements a store sends are recorded on a real PostgreSQL server by the driver's
own cursors (a psycopg cursor class that notes each statement before sending it) and
the engine's commit events: in every write transaction, the statement that takes the
head row's lock (``absentia_append`` or ``SELECT ... FOR UPDATE``) must be the last one
before the commit.  Then two real processes, each with a pool of threads (group
commits), run commands on one log whose plans check a projection table the commands
write: the log stays one gap-free chain, nothing acknowledged is lost, and no claim is
appended twice although both processes try to claim the same ids.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import Connection, create_engine, event, text

from ledger.app.registry import entry_types
from ledger.errors import Conflict
from ledger.migrations import upgrade
from ledger.storage import LedgerStore
from ledger.storage.store import Appended, NewEntry
from tests.functional._writer import (
    CLAIMS_DDL,
    Writer,
    check_log,
    finish,
    make_entry,
    start_writers,
)
from tests.pgserver import PgServer

pytestmark = pytest.mark.postgres

T0 = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)


class _Journal:
    """Statements sent by every connection of one engine, in order, and the commits."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.lines: list[tuple[int, str]] = []  # (thread id, statement or "COMMIT")

    def note(self, what: str) -> None:
        with self.lock:
            self.lines.append((threading.get_ident(), what))

    def transactions(self) -> list[list[str]]:
        """Each thread's statements, cut at its commits (one list per transaction)."""
        by_thread: dict[int, list[list[str]]] = {}
        for tid, what in self.lines:
            txs = by_thread.setdefault(tid, [[]])
            if what == "COMMIT":
                txs.append([])
            else:
                txs[-1].append(what)
        return [t for txs in by_thread.values() for t in txs[:-1]]


def _journal_store(pg_url: str, key_dir: Path) -> tuple[LedgerStore, _Journal]:
    journal = _Journal()

    class Recording(psycopg.Cursor[Any]):
        def execute(self, query: Any, params: Any = None, **kw: Any) -> Any:
            journal.note(str(query))
            return super().execute(query, params, **kw)

        def executemany(self, query: Any, params_seq: Any, **kw: Any) -> Any:
            journal.note(str(query))
            return super().executemany(query, params_seq, **kw)

    engine = create_engine(pg_url, connect_args={"cursor_factory": Recording},
                           pool_size=8, hide_parameters=True)

    @event.listens_for(engine, "commit")
    def _commit(conn: Any) -> None:
        journal.note("COMMIT")

    store = LedgerStore(engine, key_dir, entry_types())
    upgrade(engine)
    return store, journal


@pytest.fixture
def journaled(pg_url: str, key_dir: Path) -> Iterator[tuple[LedgerStore, _Journal]]:
    store, journal = _journal_store(pg_url, key_dir)
    try:
        yield store, journal
    finally:
        store.engine.dispose()


def _appends(tx: list[str]) -> bool:
    return any("absentia_append(" in s for s in tx)


def _after_lock(tx: list[str]) -> list[str]:
    """The statements from the first that takes the head's lock to the commit."""
    for i, s in enumerate(tx):
        if "absentia_append(" in s or ("FOR UPDATE" in s and "ledger_heads" in s):
            return tx[i:]
    return []


def test_single_appends_lock_the_head_for_one_statement(
        journaled: tuple[LedgerStore, _Journal]) -> None:
    store, journal = journaled
    store.create_log("rt", "example.org/rt", T0)
    journal.lines.clear()
    for i in range(20):
        store.append("rt", make_entry(f"e{i}"), T0)
    store.append_batch("rt", [make_entry(f"b{i}") for i in range(300)], T0)
    txs = [t for t in journal.transactions() if _appends(t)]
    assert len(txs) == 21
    for tx in txs:
        assert len(_after_lock(tx)) == 1, tx  # then the commit
    # After the first, this process knows the head: an append is that one call.
    assert all(len(tx) == 1 for tx in txs[1:]), txs[1]
    assert [r.obj["body"]["event_id"] for r in check_log(store, "rt")[1:]] == (
        [f"e{i}" for i in range(20)] + [f"b{i}" for i in range(300)])


def test_a_group_of_commands_locks_the_head_for_one_statement(
        journaled: tuple[LedgerStore, _Journal]) -> None:
    store, journal = journaled
    store.create_log("grp", "example.org/grp", T0)
    with store.engine.begin() as conn:
        conn.exec_driver_sql(CLAIMS_DDL)
    journal.lines.clear()
    barrier = threading.Barrier(12)
    errors: list[BaseException] = []

    def command(i: int) -> None:
        def plan(conn: Connection) -> list[NewEntry]:
            conn.execute(text("SELECT count(*) FROM t_claims")).scalar()
            if i % 4 == 3:
                raise Conflict(f"command {i} refused", field="window")
            return [make_entry(f"c{i}")]

        def project(conn: Connection, appended: Sequence[Appended]) -> None:
            for a in appended:
                conn.execute(text("INSERT INTO t_claims VALUES (:e, :i)"),
                             {"e": a.body["event_id"], "i": a.index})

        barrier.wait()
        try:
            store.execute("grp", T0, plan, project)
        except Conflict as exc:
            errors.append(exc)

    threads = [threading.Thread(target=command, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(errors) == 3
    txs = [t for t in journal.transactions() if _appends(t)]
    assert txs
    assert any(s.startswith("SAVEPOINT") for tx in txs for s in tx), "no group formed"
    for tx in txs:
        assert len(_after_lock(tx)) == 1, tx
    rows = check_log(store, "grp")
    with store.engine.connect() as conn:
        claims: dict[str, int] = dict(
            conn.execute(text("SELECT event_id, idx FROM t_claims")).all())
    assert {r.obj["body"]["event_id"]: r.idx for r in rows[1:]} == claims
    assert len(claims) == 9


def test_two_processes_running_commands_on_one_log(
        pg_url: str, key_dir: Path, tmp_path: Path) -> None:
    store, _ = _journal_store(pg_url, key_dir)
    writers: list[Writer] = []
    try:
        store.create_log("duo", "example.org/duo", T0)
        with store.engine.begin() as conn:
            conn.exec_driver_sql(CLAIMS_DDL)
        count, every = 150, 3
        args = ["--url", pg_url, "--keys", str(store.keys.root), "--log", "duo",
                "--count", str(count), "--batch", str(every), "--threads", "6"]
        ws = start_writers(writers, tmp_path, "command", [("p0", args), ("p1", args)])
        by_writer = finish(ws)
        rows = check_log(store, "duo")  # gap-free, chained, head and checkpoint agree
        stored = [r.obj["body"]["event_id"] for r in rows[1:]]
        shared = [f"shared-{k}" for k in range(-(-count // every))]
        own = [f"{w}-{n}" for w in ("p0", "p1") for n in range(count)]
        assert sorted(stored) == sorted(own + shared), "an id was lost or claimed twice"
        receipts = {(r.index, r.event_id) for recs in by_writer.values() for r in recs}
        assert receipts == {(r.idx, r.obj["body"]["event_id"]) for r in rows[1:]}, (
            "every stored entry has exactly one acknowledgement")
        with store.engine.connect() as conn:
            claims: dict[str, int] = dict(
                conn.execute(text("SELECT event_id, idx FROM t_claims")).all())
        assert claims == {r.obj["body"]["event_id"]: r.idx for r in rows[1:]}, (
            "the projection and the log differ")
        # The two processes' commits interleaved along the log: they really raced.
        owner = [r.obj["body"]["event_id"][:2] for r in rows[1:]]
        changes = sum(1 for a, b in itertools.pairwise(owner) if a != b)
        assert changes > 2, "the processes ran one after the other"
    finally:
        for w in writers:
            if w.proc.poll() is None:
                w.proc.kill()
                w.proc.wait(timeout=30)
        store.engine.dispose()


def test_a_group_whose_database_goes_away_answers_every_command_with_the_error(
        key_dir: Path) -> None:
    """The database stops in the middle of a group commit (a real server, shut down by
    ``pg_ctl stop -m fast`` from inside the last command's plan): the group's transaction
    is lost and deciding whether to try again cannot even read the head.  Every command
    of the group must be answered with an error; before, only the leader was, and the
    others were answered with receipts of entries that had been rolled back."""
    with PgServer(external_url="") as pg:
        engine = create_engine(pg.create_database(), pool_size=8)
        store = LedgerStore(engine, key_dir, entry_types())
        upgrade(engine)
        try:
            store.create_log("gone", "example.org/gone", T0)
            store.append("gone", make_entry("first"), T0)  # the head is known: optimistic
            log_id = store.log("gone").id
            release = threading.Event()
            outcomes: dict[int, str] = {}

            def command(i: int) -> None:
                def plan(conn: Connection) -> list[NewEntry]:
                    if i == 0:
                        release.wait(60)  # leads a group of its own while 1..3 queue
                    if i == 3:
                        pg.pause()
                    return [make_entry(f"c{i}")]

                try:
                    store.execute("gone", T0, plan, lambda conn, appended: None)
                    outcomes[i] = "acknowledged"
                except Exception as exc:
                    outcomes[i] = type(exc).__name__

            first = threading.Thread(target=command, args=(0,))
            first.start()
            others = [threading.Thread(target=command, args=(i,)) for i in (1, 2, 3)]
            deadline = threading.Event()
            while not store._groups.get(log_id) or not store._groups[log_id].leading:
                deadline.wait(0.01)
            for t in others:
                t.start()
            while len(store._groups[log_id].pending) < 3:
                deadline.wait(0.01)
            release.set()
            for t in (first, *others):
                t.join(120)
            assert outcomes[0] == "acknowledged"
            assert all(outcomes[i] != "acknowledged" for i in (1, 2, 3)), outcomes
            pg.resume()
            assert [r.obj["body"]["event_id"] for r in check_log(store, "gone")[1:]] == [
                "first", "c0"]
        finally:
            engine.dispose()
