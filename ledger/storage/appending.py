"""The append path: plain appends and group commits of commands, on SQLite and PostgreSQL.

SQLite holds its one write lock from ``BEGIN IMMEDIATE``: a transaction reads the head,
runs its commands and writes their entries (``Tail.flush``) under it, as ever.

PostgreSQL appends optimistically, so that the head row's lock is held for one round
trip (the ``absentia_append`` call) and the commit, not for the whole transaction:

1. The transaction starts from the head this process last committed (a hint kept in
   memory) or reads it without a lock.
2. A command's plan, projection and finish run as always, in the same transaction; a
   group's commands each in a savepoint.  Commands run in REPEATABLE READ: every read
   sees one snapshot of the database.
3. ``absentia_append`` takes the head row's lock, checks that the head still has the
   size the transaction started from, and writes the entries, nodes and head.  Under
   REPEATABLE READ the lock itself fails (serialization_failure) when another
   transaction moved the head after the snapshot.  Either way the head was unchanged
   from the snapshot to the lock, so every check a plan made on the snapshot holds when
   the entries land, exactly as if the plan had run under the lock.
4. On a conflict the transaction rolls back and runs again from the head found; after
   ``optimistic_tries`` conflicts it runs pessimistically (the head's lock taken first,
   READ COMMITTED, as before 0016_append), so a busy log always makes progress.

A command that fails on the snapshot (its plan refused, a unique key was taken) is
answered its error only once the head is known unchanged since the snapshot (the group's
``absentia_append`` call, or a fresh read of the head when the transaction failed):
otherwise it runs again, since its error may come from a state already gone.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine

from ledger.entry import format_time
from ledger.errors import CouldNotCheck
from ledger.events import EntryTypes
from ledger.storage.records import (
    Appended,
    Finish,
    NewEntry,
    Planned,
    PreparedEntry,
    Project,
    Receipt,
    prepare,
)
from ledger.storage.statements import HotSQL
from ledger.storage.tail import RETRY_SQLSTATES, HeadState, Tail

#: After a stale head hint, read the head for this many transactions of that log
#: (another process is appending too: the hint would be stale again).
HINT_PAUSE = 64
#: After a conflict, run this many transactions of that log on the locked path: another
#: process appends to it too, and racing it from the same head costs both (their
#: projection rows carry the same indexes) more than waiting for the lock does.
LOCKED_AFTER_CONFLICT = 32
#: The function migration 0016_append creates.
APPEND_SIGNATURE = ("absentia_append(integer, bigint, bigint, bytea, bytea, bigint[], "
                    "bytea[], text[], bytea[], text[], integer[], bigint[], bytea[])")


@dataclass
class Command:
    """One ``execute`` call waiting for, or in, a group commit."""

    now: datetime
    plan: Callable[[Connection], Sequence[NewEntry] | Planned[Any]]
    project: Project
    finish: Finish[Any] | None
    finished: bool = False  # guarded by the group's condition
    receipts: list[Receipt] = field(default_factory=list)
    value: Any = None
    error: BaseException | None = None


class _Stale(Exception):
    """The head moved since this transaction's start: run it again."""


def retryable(exc: BaseException) -> bool:
    """A serialization failure or deadlock (the transaction may simply run again)."""
    for e in (exc, getattr(exc, "orig", None), exc.__cause__):
        if e is not None and getattr(e, "sqlstate", None) in RETRY_SQLSTATES:
            return True
    return False


def _failed(batch: list[Command], exc: BaseException) -> None:
    for cmd in batch:  # nothing of the group was written
        if cmd.error is None:
            cmd.error = exc
        cmd.receipts = []


class Appender:
    """Appends for one store (see the module); ``write`` is the store's SQLite writer."""

    def __init__(self, engine: Engine, types: EntryTypes,
                 write: Callable[[], AbstractContextManager[Connection]]) -> None:
        self.engine = engine
        self.types = types
        self._write = write
        self.sqlite = engine.dialect.name == "sqlite"
        self.sql = HotSQL.for_dialect(engine.dialect.name)
        self.optimistic_tries = 2  # on PostgreSQL once absentia_append exists
        self._function = False  # absentia_append exists (PostgreSQL)
        #: The path before 0016_append (the head's lock first, then one statement per
        #: table), for benchmarks to compare with.
        self.locked = False
        self.conflicts = 0  # optimistic attempts run again (observability)
        self._hints: dict[int, HeadState] = {}
        self._hint_pause: dict[int, int] = {}
        self._locked_for: dict[int, int] = {}  # log id -> transactions left on the locked path

    # -- transactions and heads -----------------------------------------------------

    def _tries(self, log_id: int | None = None) -> int:
        """Optimistic tries: none on SQLite, nor before migration 0016_append (a database
        made by an old release is used before it is upgraded), nor for a while after a
        conflict on the log (``LOCKED_AFTER_CONFLICT``)."""
        if self.sqlite or self.locked:
            return 0
        if log_id is not None and self._locked_for.get(log_id, 0):
            self._locked_for[log_id] -= 1
            return 0
        if not self._function:
            with self.engine.connect() as conn:
                self._function = bool(conn.exec_driver_sql(
                    f"SELECT to_regprocedure('{APPEND_SIGNATURE}') IS NOT NULL").scalar())
                conn.rollback()
        return self.optimistic_tries if self._function else 0

    @contextmanager
    def _transaction(self, *, optimistic: bool, repeatable: bool) -> Iterator[Connection]:
        if self.sqlite:
            with self._write() as conn:
                yield conn
            return
        with self.engine.connect() as conn:
            if optimistic and repeatable:
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn

    @property
    def _use_function(self) -> bool:
        return self._function and not self.locked

    def _read_head(self, cur: Any, log_id: int, name: str, *, lock: bool) -> HeadState:
        cur.execute(self.sql.head if lock else self.sql.head_read, (log_id,))
        row = cur.fetchone()
        if row is None:
            raise CouldNotCheck(f"log {name!r} has no head row: the database was altered")
        return HeadState(int(row[0]), bytes(row[1]), bytes(row[2]))

    def _start(self, cur: Any, log_id: int, name: str, *, optimistic: bool,
               found: HeadState | None) -> tuple[Tail, bool]:
        """A tail from the head found by a failed try, the hint, or the database; and
        whether it came from the hint."""
        if optimistic:
            if found is not None:
                return Tail(log_id, name, found), False
            pause = self._hint_pause.get(log_id, 0)
            if pause:
                self._hint_pause[log_id] = pause - 1
            else:
                hint = self._hints.get(log_id)
                if hint is not None:
                    return Tail(log_id, name, hint), True
        return Tail(log_id, name, self._read_head(cur, log_id, name, lock=not optimistic)), False

    def _stale(self, log_id: int, from_hint: bool) -> None:
        self.conflicts += 1
        self._locked_for[log_id] = LOCKED_AFTER_CONFLICT
        self._hints.pop(log_id, None)
        if from_hint:
            self._hint_pause[log_id] = HINT_PAUSE

    def _committed(self, log_id: int, head: HeadState) -> None:
        if not self.sqlite:
            self._hints[log_id] = head

    def _head_moved(self, log_id: int, name: str, size: int) -> HeadState | None:
        """The current head when its size is no longer ``size`` (a fresh read)."""
        with self.engine.connect() as conn:
            cur = conn.connection.cursor()
            head = self._read_head(cur, log_id, name, lock=False)
            cur.close()
            conn.rollback()
        return head if head.size != size else None

    # -- plain appends ----------------------------------------------------------------

    def append(self, log_id: int, name: str, prepared: Sequence[PreparedEntry],
               time_text: str) -> list[Receipt]:
        """Append ``prepared`` in one transaction (see ``LedgerStore.append_prepared``)."""
        found: HeadState | None = None
        tries = self._tries(log_id)
        for attempt in range(tries + 1):
            optimistic = attempt < tries
            from_hint = False
            try:
                with self._transaction(optimistic=optimistic, repeatable=False) as conn:
                    cur = conn.connection.cursor()
                    tail, from_hint = self._start(cur, log_id, name, optimistic=optimistic,
                                                  found=found)
                    tail.look_up_keys(cur, self.sql, prepared)
                    receipts = tail.add(prepared, time_text)
                    # Only duplicates: nothing to write, and their receipts stand.
                    end = (tail.flush(cur, self.sql, function=self._use_function)
                           if tail.entry_rows else tail.end())
                    cur.close()
                    if end is None:
                        raise _Stale
            except _Stale:
                found = tail.found
                self._stale(log_id, from_hint)
                continue
            except Exception as exc:
                if not (optimistic and retryable(exc)):
                    raise
                found = None
                self._stale(log_id, from_hint)
                continue
            if tail.entry_rows:
                self._committed(log_id, end)
            return receipts
        raise AssertionError("the pessimistic try cannot be stale")  # pragma: no cover

    def append_in(self, conn: Connection, log_id: int, name: str,
                  prepared: Sequence[PreparedEntry], time_text: str) -> list[Receipt]:
        """Append in ``conn``'s transaction, the head's lock taken first (a new log, a
        key rotation)."""
        self._hints.pop(log_id, None)
        cur = conn.connection.cursor()
        tail = Tail(log_id, name, self._read_head(cur, log_id, name, lock=True))
        tail.look_up_keys(cur, self.sql, prepared)
        receipts = tail.add(prepared, time_text)
        if tail.flush(cur, self.sql, function=self._tries() > 0) is None:
            raise CouldNotCheck(f"log {name!r}: its head moved under its lock")
        cur.close()
        return receipts

    # -- group commits of commands ------------------------------------------------------

    def commit_group(self, batch: list[Command], log_id: int, name: str) -> None:
        """Run ``batch`` in one transaction, each command in a savepoint; commit once.

        Every command ends with its receipts or its error set: whatever goes wrong
        outside a command (the head's read, a lost connection while deciding whether to
        try again, a head that kept moving) is every command's error, so no caller is
        answered with receipts of entries that were rolled back.
        """
        try:
            if self._commit_group_tries(batch, log_id, name):
                return
            _failed(batch, CouldNotCheck(f"log {name!r}: its head moved under its lock; "
                                         "nothing of the group was written, try again"))
        except BaseException as exc:
            _failed(batch, exc)

    def _commit_group_tries(self, batch: list[Command], log_id: int, name: str) -> bool:
        """The optimistic tries and the locked last one; False if even the last was stale.

        Raises:
            Exception: reading the log's state failed outside any command.
        """
        found: HeadState | None = None
        tries = self._tries(log_id)
        for attempt in range(tries + 1):
            optimistic = attempt < tries
            for cmd in batch:
                cmd.receipts, cmd.value, cmd.error = [], None, None
            state: dict[str, Any] = {}
            try:
                self._try_group(batch, log_id, name, optimistic, found, state)
                return True
            except _Stale:
                pass
            except Exception as exc:
                tail: Tail | None = state.get("tail")
                moved = (optimistic and tail is not None and not retryable(exc)
                         and self._head_moved(log_id, name, tail.start.size))
                if not (optimistic and (retryable(exc) or moved)):
                    _failed(batch, exc)
                    return True
                found = moved or None
                self._stale(log_id, bool(state.get("from_hint")))
                continue
            tail = state["tail"]
            found = tail.found
            self._stale(log_id, bool(state.get("from_hint")))
        return False

    def _try_group(self, batch: list[Command], log_id: int, name: str, optimistic: bool,
                   found: HeadState | None, state: dict[str, Any]) -> None:
        with self._transaction(optimistic=optimistic, repeatable=True) as conn:
            cur = conn.connection.cursor()
            tail, state["from_hint"] = self._start(cur, log_id, name, optimistic=optimistic,
                                                   found=found)
            state["tail"] = tail
            if len(batch) == 1:  # no savepoint needed: its error is the group's
                batch[0].receipts = self._run(conn, cur, tail, batch[0])
            else:
                for cmd in batch:
                    mark = tail.mark()
                    savepoint = conn.begin_nested()
                    try:
                        cmd.receipts = self._run(conn, cur, tail, cmd)
                    except Exception as exc:
                        savepoint.rollback()
                        tail.reset(mark)
                        if optimistic and retryable(exc):
                            raise _Stale from exc
                        cmd.error = exc
                    else:
                        savepoint.commit()
            # Optimistic: flushed even with nothing to write, to learn that the head
            # did not move (what the plans read is then current).
            if tail.entry_rows or optimistic:
                end = tail.flush(cur, self.sql, function=self._use_function)
                if end is None:
                    raise _Stale
            else:
                end = tail.end()
            cur.close()
        if tail.entry_rows:
            self._committed(log_id, end)

    def _run(self, conn: Connection, cur: Any, tail: Tail, cmd: Command) -> list[Receipt]:
        planned = cmd.plan(conn)
        if isinstance(planned, Planned):
            items, cmd.value = planned.entries, planned.value
        else:
            items = planned
        if not items:
            return []
        prepared = [prepare(i, self.types) for i in items]
        out: list[tuple[Receipt, bytes]] = []
        tail.look_up_keys(cur, self.sql, prepared)
        receipts = tail.add(prepared, format_time(cmd.now), out)
        appended = []
        for r, data in out:
            e = json.loads(data)
            appended.append(Appended(r.index, e["type"], e["actor"], e["body"], r.time))
        cmd.project(conn, appended)
        if cmd.finish is not None:
            cmd.value = cmd.finish(conn, cmd.value, receipts)
        return receipts


__all__ = ["Appender", "Command", "retryable"]
