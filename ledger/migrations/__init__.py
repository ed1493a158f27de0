"""Schema migrations (Alembic), shipped in the package and configured here in code.

Every process that opens the database (``absentia serve``'s workers, ``absentia
scheduler``, the CLI) calls ``upgrade`` at start-up unless ``[storage] auto_migrate``
is false: it brings the schema to this release's head under a lock (PostgreSQL: a
transaction-scoped advisory lock; SQLite: ``BEGIN IMMEDIATE``), so several processes
starting at once migrate once and the others find the work done.  With
``auto_migrate = false`` they call ``check_at_head`` and refuse to start on an older
schema; the operator runs ``absentia db upgrade`` first.

A database created before migrations existed (by ``metadata.create_all``: the tables
are there, ``alembic_version`` is not) is adopted: whatever the baseline has and it
lacks (an index a newer release added) is created, it is stamped ``0001``, then
upgraded like any other.

Adding a revision: ``absentia db revision -m "what changes"`` (see README) writes
``versions/NNNN_what_changes.py`` with the difference between the models and the
migrated schema; review it, then ``absentia db upgrade``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, MetaData, inspect

from ledger.errors import CouldNotCheck
from ledger.storage.db import lock_ddl, write_transaction

log = logging.getLogger(__name__)

HERE = Path(__file__).resolve().parent
#: The revision a database made by the old ``create_all`` code is stamped with.
BASELINE = "0001"
VERSION_TABLE = "alembic_version"


class SchemaOutOfDate(CouldNotCheck):
    """The database's schema is older than this release and may not be upgraded here."""


@dataclass(frozen=True)
class Upgraded:
    """What ``upgrade`` found and left: revisions before and after, and whether a
    database made before migrations was adopted (stamped as the baseline)."""

    before: str | None
    after: str | None
    adopted: bool = False

    @property
    def changed(self) -> bool:
        return self.before != self.after


def alembic_config(connection: Connection | None = None,
                   models: Sequence[MetaData] | None = None) -> Config:
    """An Alembic ``Config`` for the migrations in this package (no alembic.ini).

    ``connection`` (in a transaction) is the one the migrations run on; ``models``, the
    application's tables, are what ``autogenerate`` compares with (the composition root
    knows them: ``ledger.app.registry.table_metadata``).
    """
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.set_main_option("path_separator", "os")
    cfg.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    if connection is not None:
        cfg.attributes["connection"] = connection
    if models is not None:
        cfg.attributes["target_metadata"] = list(models)
    return cfg


@lru_cache(maxsize=1)
def script_directory() -> ScriptDirectory:
    """The revision scripts (read once per process)."""
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    """This release's newest revision.

    Raises:
        CouldNotCheck: the revisions have several heads (two revisions claim the same
            parent: rebase one of them).
    """
    heads = script_directory().get_heads()
    if len(heads) != 1:
        raise CouldNotCheck(f"the migrations have {len(heads)} heads ({', '.join(heads)}); "
                            "each revision must follow the one before")
    return heads[0]


def current_revision(conn: Connection) -> str | None:
    """The revision the database is at (None: never migrated)."""
    return MigrationContext.configure(conn).get_current_revision()


def is_known(revision: str) -> bool:
    """Whether ``revision`` is one of this release's revisions."""
    return revision in {s.revision for s in script_directory().walk_revisions()}


def _has_app_tables(conn: Connection) -> bool:
    return inspect(conn).has_table("ledger_logs") or inspect(conn).has_table("p_policies")


def upgrade_connection(conn: Connection, revision: str = "head") -> Upgraded:
    """Migrate the database ``conn`` is on to ``revision``, inside its transaction.

    Takes the DDL lock first (PostgreSQL), so concurrent callers run one after another
    and the later ones find nothing to do.  A database at a revision this release does
    not know (a newer release migrated it during a rolling upgrade) is left alone.

    Raises:
        CouldNotCheck: the revisions have several heads.
        sqlalchemy.exc.SQLAlchemyError: a migration failed (nothing is committed).
    """
    lock_ddl(conn)
    target = head_revision() if revision == "head" else revision
    before = current_revision(conn)
    if before == target:
        return Upgraded(before, before)
    if before is not None and not is_known(before):
        log.warning("the database schema is at revision %s, which this release does not "
                    "know (a newer release migrated it); leaving it as it is", before)
        return Upgraded(before, before)
    adopted = False
    cfg = alembic_config(conn)
    if before is None and _has_app_tables(conn):
        # Made by the create_all code of a release before migrations: complete it to
        # the baseline (idempotent) and stamp it, then upgrade like any other.
        baseline = script_directory().get_revision(BASELINE)
        assert baseline is not None
        baseline.module.create_baseline(conn)
        command.stamp(cfg, BASELINE)
        adopted = True
        log.warning("adopted a database created before schema migrations: stamped %s",
                    BASELINE)
    command.upgrade(cfg, target)
    after = current_revision(conn)
    if after != before:
        log.info("database schema upgraded from %s to %s", before or "nothing", after)
    return Upgraded(before, after, adopted)


def upgrade(engine: Engine, revision: str = "head") -> Upgraded:
    """Migrate ``engine``'s database to ``revision`` (default: this release's head).

    The one way the schema is made: every process (``ledger.storage.open.open_store``),
    test and tool that needs the tables calls this (or ``upgrade_connection`` inside a
    transaction it holds).

    Cheap when there is nothing to do (one read, no lock).  Safe to call from several
    processes at once.

    Raises:
        CouldNotCheck: the revisions have several heads.
        sqlalchemy.exc.SQLAlchemyError: the database cannot be reached, or a migration
            failed (nothing is committed).
    """
    if revision == "head":
        with engine.connect() as conn:
            now_at = current_revision(conn)
        if now_at == head_revision():
            return Upgraded(now_at, now_at)
    with write_transaction(engine) as conn:
        return upgrade_connection(conn, revision)


def schema_state(conn: Connection) -> tuple[str | None, str, bool]:
    """(the database's revision, this release's head, whether the database is usable:
    at head, or at a newer revision this release does not know)."""
    head = head_revision()
    current = current_revision(conn)
    usable = current == head or (current is not None and not is_known(current))
    return current, head, usable


def check_at_head(engine: Engine) -> str:
    """The database's revision, if this release may run on it.

    Raises:
        SchemaOutOfDate: the schema is older than this release's (or was never
            created); the message says to run ``absentia db upgrade``.
    """
    with engine.connect() as conn:
        current, head, usable = schema_state(conn)
    if not usable:
        at = current or "none (empty, or created before migrations)"
        raise SchemaOutOfDate(
            f"the database schema is at revision {at}, this release needs {head}; run "
            "`absentia db upgrade` (or set [storage] auto_migrate = true)")
    assert current is not None
    return current


def history() -> list[tuple[str, str | None, str]]:
    """(revision, the revision it follows, its one-line description), oldest first."""
    out = []
    for s in script_directory().walk_revisions():
        down = s.down_revision
        parent = down if isinstance(down, str) or down is None else ",".join(down)
        out.append((s.revision, parent, (s.doc or "").strip().splitlines()[0]
                    if s.doc else ""))
    return list(reversed(out))


def next_revision_id() -> str:
    """The next four-digit revision id (0002 after 0001)."""
    numbers = [int(s.revision) for s in script_directory().walk_revisions()
               if re.fullmatch(r"\d{4}", s.revision)]
    return f"{max(numbers, default=0) + 1:04d}"


def new_revision(message: str, models: Sequence[MetaData], *,
                 autogenerate: bool = True) -> Path:
    """Write a new revision file following the head; return its path.

    With ``autogenerate``, the body is the difference between ``models`` and the
    schema the current revisions create (on a scratch in-memory SQLite database);
    review it, and add PostgreSQL- or SQLite-only steps by hand.

    Raises:
        CouldNotCheck: the revisions have several heads.
    """
    from sqlalchemy import create_engine

    head_revision()
    scratch = create_engine("sqlite://")
    with scratch.connect() as conn, conn.begin():
        upgrade_connection(conn)
        cfg = alembic_config(conn, models)
        script: Any = command.revision(cfg, message=message, autogenerate=autogenerate,
                                       rev_id=next_revision_id())
    script_directory.cache_clear()
    scripts: Sequence[Any] = script if isinstance(script, list) else [script]
    return Path(scripts[0].path)


__all__ = ["BASELINE", "SchemaOutOfDate", "Upgraded", "alembic_config", "check_at_head",
           "current_revision", "head_revision", "history", "new_revision", "schema_state",
           "upgrade", "upgrade_connection"]
