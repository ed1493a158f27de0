"""A ledger store on a real SQLite file, with the core's entry types only (the storage
layer knows no domain), and one log ``LOG`` created at ``T0``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from ledger.events import CORE_TYPES, EntryTypes
from ledger.migrations import upgrade
from ledger.storage import LedgerStore, NewEntry, make_engine

__all__ = ["LOG", "T0", "closed", "fresh_store"]

LOG = "unit"
T0 = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)


def fresh_store(tmp_path: Path, *, tile_cache: int = 4096) -> LedgerStore:
    """A migrated database in ``tmp_path`` with the log ``LOG`` (entry 0: log.created).
    The caller disposes of ``store.engine``."""
    engine = make_engine(f"sqlite:///{tmp_path / 'ledger.db'}", sqlite_synchronous="OFF")
    upgrade(engine)
    store = LedgerStore(engine, tmp_path / "keys", EntryTypes(CORE_TYPES),
                        tile_cache=tile_cache)
    store.create_log(LOG, "example.org/unit", T0)
    return store


def closed(i: int, *, key: str | None = None) -> NewEntry:
    """A small valid entry (``window.closed`` of window ``w_<i>``)."""
    return NewEntry("window.closed", "scheduler",
                    {"window": f"w_{i}", "closed_at": (T0 + timedelta(minutes=i))
                     .strftime("%Y-%m-%dT%H:%M:%SZ"), "completed": i, "absent": 0},
                    idempotency_key=key)
