"""The ledger's own tables as a backup reads and restores them, on a connection the caller
holds (a backup's snapshot, a restore's write transaction): the logs with their heads,
keys and checkpoint history, and the heads moved forward by a restore.

Nothing outside storage touches these tables; the backup (``ledger.app.backup*``) calls
these functions.  Every other table of the app is dumped and restored generically, from
its SQLAlchemy model.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, inspect, select, update

from ledger import merkle
from ledger.errors import CouldNotCheck
from ledger.storage.records import StoredCheckpoint
from ledger.storage.tables import APPEND_ONLY_TABLES, checkpoints, heads, keys, logs

#: The table of the logs' heads (size, last leaf, frontier): a restore moves each forward.
HEADS_TABLE = heads.name


@dataclass(frozen=True)
class LogHead:
    """A log of the database with its head: what a restore compares the backup's with."""

    id: int
    name: str
    origin: str
    size: int
    root: bytes
    verifier_keys: list[str]  # oldest first


@dataclass(frozen=True)
class LogDump:
    """A log with everything a backup writes of it beside its tiles."""

    id: int
    name: str
    origin: str
    size: int
    root: bytes
    keys: list[dict[str, Any]]  # the rows of ledger_keys (column: value), oldest first
    checkpoints: list[StoredCheckpoint]  # oldest first

    @property
    def verifier_keys(self) -> list[str]:
        return [str(k["vkey"]) for k in self.keys]


def _root(size: int, frontier: bytes) -> bytes:
    return merkle.CompactRange.from_bytes(size, frontier).root()


def log_heads(conn: Connection) -> list[LogHead]:
    """Every log with its head and verifier keys, by id; none when the ledger's tables are
    missing (a database never migrated).  A log without a head row has size 0."""
    names = set(inspect(conn).get_table_names())
    if not {logs.name, heads.name, keys.name} <= names:
        return []
    out = []
    for log in conn.execute(select(logs).order_by(logs.c.id)).all():
        head = conn.execute(select(heads).where(heads.c.log_id == log.id)).first()
        size = head.size if head is not None else 0
        frontier = bytes(head.frontier) if head is not None else b""
        vkeys = conn.execute(select(keys.c.vkey).where(keys.c.log_id == log.id)
                             .order_by(keys.c.id)).scalars().all()
        out.append(LogHead(log.id, log.name, log.origin, size, _root(size, frontier),
                           list(vkeys)))
    return out


def log_dumps(conn: Connection) -> list[LogDump]:
    """Every log with its head, key rows and checkpoint history, by id.

    Raises:
        CouldNotCheck: a log has no head row (the database was altered).
    """
    out = []
    for log in conn.execute(select(logs).order_by(logs.c.id)).all():
        head = conn.execute(select(heads).where(heads.c.log_id == log.id)).first()
        if head is None:
            raise CouldNotCheck(f"log {log.name!r} has no head row: the database was altered")
        history = conn.execute(select(checkpoints).where(checkpoints.c.log_id == log.id)
                               .order_by(checkpoints.c.id)).all()
        key_rows = conn.execute(select(keys).where(keys.c.log_id == log.id)
                                .order_by(keys.c.id)).all()
        out.append(LogDump(
            log.id, log.name, log.origin, head.size, _root(head.size, bytes(head.frontier)),
            [dict(r._mapping) for r in key_rows],
            [StoredCheckpoint(c.size, bytes(c.root), c.key_id, c.note, c.signed_at_ms)
             for c in history]))
    return out


def hold_log_writes(conn: Connection) -> None:
    """PostgreSQL: make appends and log creation on other connections wait until this
    transaction ends (a lock on the logs and their heads); SQLite's write transaction
    holds every writer already."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(
            f"LOCK TABLE {logs.name}, {heads.name} IN SHARE ROW EXCLUSIVE MODE")


def head_sizes(conn: Connection) -> dict[int, int]:
    """Each log's size by log id, from its head row."""
    return {int(r.log_id): int(r.size) for r in conn.execute(select(heads.c.log_id, heads.c.size))}


def move_heads(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Move each head forward to the row given (``ledger_heads`` columns), or insert the head
    of a log new to the database; an update, never a delete (the database's triggers let a
    head only grow)."""
    for row in rows:
        done = conn.execute(update(heads).where(heads.c.log_id == row["log_id"]).values(
            size=row["size"], last_leaf=row["last_leaf"], frontier=row["frontier"]))
        if done.rowcount == 0:
            conn.execute(insert(heads).values(**row))


__all__ = ["APPEND_ONLY_TABLES", "HEADS_TABLE", "LogDump", "LogHead", "head_sizes",
           "hold_log_writes", "log_dumps", "log_heads", "move_heads"]
