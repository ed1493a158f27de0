"""SQLAlchemy storage adapter of the ledger (SQLite embedded, PostgreSQL in production)."""

from ledger.storage.db import make_engine
from ledger.storage.store import LedgerStore, LogInfo, NewEntry, Receipt

__all__ = ["LedgerStore", "LogInfo", "NewEntry", "Receipt", "make_engine"]
