"""Rebuild the projections by replaying the ledger, or prove the live ones equal a replay."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, create_engine

from ledger.absence import projection
from ledger.errors import CouldNotCheck
from ledger.migrations import upgrade_connection
from ledger.storage.store import Appended, LedgerStore, NewEntry

Progress = Callable[[int, int], None]
CHUNK = 5000


def replay(store: LedgerStore, log: str, conn: Connection,
           progress: Progress | None = None) -> int:
    """Apply every entry of ``log`` to the (empty) projection tables on ``conn``."""
    total = store.head(log).size
    done = 0
    batch: list[Appended] = []
    for index, data in store.iter_entries(log, chunk=CHUNK):
        e = json.loads(data)
        batch.append(Appended(index, e["type"], e["actor"], e["body"], e["time"]))
        if len(batch) >= CHUNK:
            projection.apply(conn, batch)
            done += len(batch)
            batch = []
            if progress:
                progress(done, total)
    projection.apply(conn, batch)
    done += len(batch)
    if progress:
        progress(done, total)
    return done


def rebuild(store: LedgerStore, log: str, now: datetime, progress: Progress | None = None
            ) -> int:
    """Replace the live projections by a replay, in one transaction; return entries read.

    Appends wait meanwhile (the log's write lock is held), so nothing is missed.
    """
    def plan(conn: Connection) -> list[NewEntry]:
        upgrade_connection(conn)
        projection.clear(conn)
        replay(store, log, conn, progress)
        return []

    store.execute(log, now, plan, lambda conn, appended: None)
    return store.head(log).size


@dataclass
class RebuildCheck:
    entries: int
    tables: dict[str, int] = field(default_factory=dict)  # rows per table
    differences: dict[str, str] = field(default_factory=dict)  # table -> first difference

    @property
    def equal(self) -> bool:
        return not self.differences


def check_rebuild(store: LedgerStore, log: str, progress: Progress | None = None
                  ) -> RebuildCheck:
    """Replay the log into a scratch in-memory database and compare every table.

    Raises:
        CouldNotCheck: the log grew while checking (retry when it is quiet).
    """
    size = store.head(log).size
    scratch = create_engine("sqlite://")
    with scratch.begin() as conn:
        upgrade_connection(conn)
        n = replay(store, log, conn, progress)
        replayed = dict(projection.table_rows(conn))
    with store.engine.connect() as conn, conn.begin():
        live = dict(projection.table_rows(conn))
    if store.head(log).size != size:
        raise CouldNotCheck("the log grew during the check; run it again when it is quiet")
    result = RebuildCheck(n, {k: len(v) for k, v in live.items()})
    for table, rows in replayed.items():
        mine = [tuple(_norm(x) for x in r) for r in live.get(table, [])]
        theirs = [tuple(_norm(x) for x in r) for r in rows]
        if mine != theirs:
            extra = set(mine) - set(theirs)
            missing = set(theirs) - set(mine)
            result.differences[table] = (
                f"{len(mine)} live rows vs {len(theirs)} replayed; "
                f"{len(extra)} only live, {len(missing)} only in the replay"
                + (f", e.g. live {sorted(map(str, extra))[0][:200]}" if extra else ""))
    return result


def _norm(value: object) -> object:
    if isinstance(value, memoryview):
        return bytes(value)
    return value
