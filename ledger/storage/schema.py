"""Former home of the ledger's tables: re-exports ``ledger.storage.tables`` (and the DDL
lock, now in ``ledger.storage.db``) until every importer uses those modules."""

from __future__ import annotations

from ledger.storage.db import DDL_LOCK_KEY, lock_ddl
from ledger.storage.tables import (
    APPEND_ONLY_TABLES,
    checkpoints,
    cosignatures,
    entries,
    heads,
    keys,
    logs,
    metadata,
    nodes,
    witness_pushes,
)

__all__ = ["APPEND_ONLY_TABLES", "DDL_LOCK_KEY", "checkpoints", "cosignatures", "entries",
           "heads", "keys", "lock_ddl", "logs", "metadata", "nodes", "witness_pushes"]
