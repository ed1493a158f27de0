"""What this application is made of: its entry types and its tables.

The entry-type registry holds the core's types and each domain's.

Built here, in the composition root, and handed to ``LedgerStore``: the core and the
storage layer know no domain, and no module registers anything by being imported.
"""

from __future__ import annotations

from functools import lru_cache

from sqlalchemy import MetaData

from ledger.absence import entries as absence_entries
from ledger.absence.tables import OPERATIONAL, PROJECTIONS
from ledger.accounts import entries as accounts_entries
from ledger.accounts.tables import ACCOUNTS
from ledger.events import CORE_TYPES, EntryTypes
from ledger.storage.tables import INFRASTRUCTURE, metadata


@lru_cache(maxsize=1)
def entry_types() -> EntryTypes:
    """Every entry type the application appends: core, absence and accounts (built once).

    Raises:
        ValueError: two modules define a type of the same name (a programming error).
    """
    return EntryTypes((*CORE_TYPES, *absence_entries.TYPES, *accounts_entries.TYPES))


def table_metadata() -> list[MetaData]:
    """Every table of the application, one ``MetaData`` a module: the ledger's own, the
    infrastructure's, the absence projections and operational tables, the accounts.
    What ``absentia db revision`` autogenerates against and what a backup holds."""
    return [metadata, PROJECTIONS, OPERATIONAL, INFRASTRUCTURE, ACCOUNTS]


__all__ = ["entry_types", "table_metadata"]
