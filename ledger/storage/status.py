"""What operations and the audit console read of the ledger's own tables and of the
infrastructure tables: typed values, never rows.

``/readyz`` and ``/metrics`` (``ledger.app.web.ops``) ask whether the database answers,
at which schema revision, which logs exist with which signing key, how large each log
and its latest checkpoint are, how long a witness has waited, who holds the scheduler's
lease; the audit console asks for a log's key entries.  Each function opens its own
connection on the engine it is given and closes it before returning.  Nothing here
writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, func, select, text

from ledger.migrations import schema_state
from ledger.storage.tables import checkpoints, entries, heads, keys, logs, scheduler_leases

__all__ = [
    "LogHeadStatus",
    "LogSigning",
    "SchedulerLease",
    "SchemaStatus",
    "TypedEntry",
    "database_clock",
    "entries_of_types",
    "log_heads",
    "log_names",
    "log_signing",
    "oldest_checkpoint_beyond",
    "ping",
    "scheduler_lease_list",
    "schema",
]


@dataclass(frozen=True)
class SchemaStatus:
    """The database's schema revision against this release's."""

    current: str | None  # None: no revision recorded (empty, or made before migrations)
    head: str  # this release's revision
    usable: bool  # at head, or at a newer revision this release does not know


@dataclass(frozen=True)
class LogSigning:
    """A log, and the key URI of its newest signing key (None: none recorded)."""

    id: int
    name: str
    origin: str
    key_uri: str | None


@dataclass(frozen=True)
class LogHeadStatus:
    """A log's size and its latest signed checkpoint (both None: never signed)."""

    name: str
    size: int
    checkpoint_size: int | None
    checkpoint_signed_at_ms: int | None  # unix milliseconds


@dataclass(frozen=True)
class SchedulerLease:
    """Who holds a scheduler lease (``ledger.app.scheduler``), and until when."""

    name: str
    holder: str
    expires_at_ms: int  # unix milliseconds


@dataclass(frozen=True)
class TypedEntry:
    """One stored entry of a log: its index and its encoded bytes (JSON)."""

    index: int
    data: bytes


def ping(engine: Engine) -> None:
    """Ask the database one trivial question.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database does not answer.
    """
    with engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def schema(engine: Engine) -> SchemaStatus:
    """The database's schema revision, this release's, and whether this release may run.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database cannot be read.
    """
    with engine.connect() as conn:
        current, head, usable = schema_state(conn)
    return SchemaStatus(current, head, usable)


def log_names(engine: Engine) -> list[str]:
    """The name of every log, in name order.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database cannot be read.
    """
    with engine.connect() as conn:
        return list(conn.execute(select(logs.c.name).order_by(logs.c.name)).scalars())


def log_signing(engine: Engine, names: Iterable[str]) -> dict[str, LogSigning]:
    """Name -> the log and its newest key URI, for those of ``names`` that exist (a
    name with no log is absent from the answer).

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database cannot be read.
    """
    newest = (select(keys.c.key_uri).where(keys.c.log_id == logs.c.id)
              .order_by(keys.c.id.desc()).limit(1).scalar_subquery())
    with engine.connect() as conn:
        rows = conn.execute(select(logs.c.id, logs.c.name, logs.c.origin,
                                   newest.label("key_uri"))
                            .where(logs.c.name.in_(list(names)))).all()
    return {r.name: LogSigning(int(r.id), r.name, r.origin, r.key_uri) for r in rows}


def log_heads(engine: Engine) -> list[LogHeadStatus]:
    """Every log's size and latest checkpoint, in name order.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database cannot be read.
    """
    latest = (select(checkpoints.c.log_id, func.max(checkpoints.c.id).label("id"))
              .group_by(checkpoints.c.log_id).subquery())
    with engine.connect() as conn:
        rows = conn.execute(
            select(logs.c.name, heads.c.size, checkpoints.c.size.label("cp_size"),
                   checkpoints.c.signed_at_ms)
            .join(heads, heads.c.log_id == logs.c.id)
            .outerjoin(latest, latest.c.log_id == logs.c.id)
            .outerjoin(checkpoints, checkpoints.c.id == latest.c.id)
            .order_by(logs.c.name)).all()
    return [LogHeadStatus(r.name, int(r.size),
                          None if r.cp_size is None else int(r.cp_size),
                          None if r.signed_at_ms is None else int(r.signed_at_ms))
            for r in rows]


def oldest_checkpoint_beyond(engine: Engine, log_id: int, size: int) -> int | None:
    """When (unix milliseconds) the log's first checkpoint larger than ``size`` was
    signed; None if it has none (a witness at ``size`` has cosigned everything).

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database cannot be read.
    """
    with engine.connect() as conn:
        oldest = conn.execute(select(func.min(checkpoints.c.signed_at_ms))
                              .where(checkpoints.c.log_id == log_id,
                                     checkpoints.c.size > size)).scalar()
    return None if oldest is None else int(oldest)


def scheduler_lease_list(engine: Engine) -> list[SchedulerLease]:
    """Every scheduler lease, in name order.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database cannot be read.
    """
    with engine.connect() as conn:
        rows = conn.execute(select(scheduler_leases)
                            .order_by(scheduler_leases.c.name)).all()
    return [SchedulerLease(r.name, r.holder, int(r.expires_at)) for r in rows]


def entries_of_types(engine: Engine, log_id: int, types: Sequence[str]) -> list[TypedEntry]:
    """The log's entries whose type is one of ``types``, in log order.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database cannot be read.
    """
    with engine.connect() as conn:
        rows = conn.execute(select(entries.c.idx, entries.c.data)
                            .where(entries.c.log_id == log_id,
                                   entries.c.entry_type.in_(list(types)))
                            .order_by(entries.c.idx)).all()
    return [TypedEntry(int(r.idx), bytes(r.data)) for r in rows]


def database_clock(engine: Engine) -> float | None:
    """The database server's clock (unix seconds) on PostgreSQL; None on SQLite, which
    has no clock of its own.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database cannot be read.
    """
    if engine.dialect.name != "postgresql":
        return None
    with engine.connect() as conn:
        server = conn.exec_driver_sql("SELECT extract(epoch FROM clock_timestamp())"
                                      ).scalar_one()
    return float(server)
