"""The entry-type registry of this application: the core's types and each domain's.

Built here, in the composition root, and handed to ``LedgerStore``: the core and the
storage layer know no domain, and no module registers anything by being imported.
"""

from __future__ import annotations

from functools import lru_cache

from ledger.absence import entries as absence_entries
from ledger.accounts import entries as accounts_entries
from ledger.events import CORE_TYPES, EntryTypes


@lru_cache(maxsize=1)
def entry_types() -> EntryTypes:
    """Every entry type the application appends: core, absence and accounts (built once).

    Raises:
        ValueError: two modules define a type of the same name (a programming error).
    """
    return EntryTypes((*CORE_TYPES, *absence_entries.TYPES, *accounts_entries.TYPES))


__all__ = ["entry_types"]
