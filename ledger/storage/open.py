"""Opening the configured database: the one way every process does it (no Flask).

``absentia serve``'s workers, the scheduler, the CLI and the report child all call
``open_store``; the schema is migrated (or checked) here, once per process.
"""

from __future__ import annotations

from datetime import UTC, datetime

from ledger.config import Settings
from ledger.events import EntryTypes
from ledger.migrations import check_at_head, upgrade
from ledger.storage.db import make_engine
from ledger.storage.sm2keys import use_sm2_key
from ledger.storage.store import LedgerStore


def open_store(settings: Settings, types: EntryTypes) -> LedgerStore:
    """Connect to the configured database, migrate it to this release's schema
    (``[storage] auto_migrate``, under a lock) or check that it is, and create the
    configured logs.  ``types``: the entry types appends may have
    (``ledger.app.registry.entry_types()``).  A log with an ``sm2_key`` has its
    checkpoints signed by that SM2 key too (``ledger.storage.sm2keys``).

    Raises:
        SchemaOutOfDate: ``auto_migrate`` is off and the schema is older than this
            release's (run ``absentia db upgrade``).
        NotAllowed, CouldNotCheck: a configured key cannot be used.
        sqlalchemy.exc.SQLAlchemyError: the database cannot be reached.
    """
    engine = make_engine(settings.database_url, sqlite_synchronous=settings.sqlite_synchronous)
    store = LedgerStore(engine, settings.key_dir, types, pkcs11=settings.pkcs11)
    if settings.auto_migrate:
        upgrade(engine)
    else:
        check_at_head(engine)
    now = datetime.now(UTC)
    for lc in settings.logs:
        store.ensure_log(lc.name, lc.origin, now, key_uri=lc.key_uri)
        if lc.sm2_key is not None:
            use_sm2_key(store, lc.name, lc.sm2_key, now)
    return store


def open_read_only_store(settings: Settings, types: EntryTypes) -> LedgerStore:
    """A store that only reads: on ``[storage] read_url`` (a replica) if set, else on the
    database itself, opened read-only by the database (``make_engine(read_only=True)``);
    the schema is checked, never migrated, and no log is created.

    Raises:
        SchemaOutOfDate: the schema is older than this release's.
        sqlalchemy.exc.SQLAlchemyError: the database cannot be reached.
    """
    engine = make_engine(settings.read_url or settings.database_url, read_only=True)
    check_at_head(engine)
    return LedgerStore(engine, settings.key_dir, types, read_only=True)


__all__ = ["open_read_only_store", "open_store"]
