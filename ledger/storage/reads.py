"""Bulk reads of a log's own entries for readers above storage (a report reads the
exact bytes of thousands of decisions, and every leaf hash to prove them in memory),
so that nothing outside ``ledger.storage`` touches the ``ledger_entries`` table.

Each function reads in one connection of the store's engine and writes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from ledger.errors import CouldNotCheck
from ledger.storage.store import LedgerStore
from ledger.storage.tables import entries

#: Indexes asked for per statement (bound parameters of one ``IN``).
CHUNK = 500


def entries_by_index(store: LedgerStore, log: str, indexes: Sequence[int]
                     ) -> dict[int, bytes]:
    """The exact bytes of the entries of ``log`` at ``indexes``, by index.  Indexes the
    log does not hold are left out of the answer.

    Raises:
        NotFound: no such log.
    """
    log_id = store.log(log).id
    out: dict[int, bytes] = {}
    with store.engine.connect() as conn:
        for i in range(0, len(indexes), CHUNK):
            part = list(indexes[i:i + CHUNK])
            for idx, data in conn.execute(select(entries.c.idx, entries.c.data).where(
                    entries.c.log_id == log_id, entries.c.idx.in_(part))):
                out[int(idx)] = bytes(data)
    return out


def leaf_hashes(store: LedgerStore, log: str, size: int) -> list[bytes]:
    """The first ``size`` leaf hashes of ``log``, in index order (one query).

    Raises:
        NotFound: no such log.
        CouldNotCheck: the log holds fewer than ``size`` entries.
    """
    log_id = store.log(log).id
    with store.engine.connect() as conn:
        got = [bytes(h) for h in conn.execute(
            select(entries.c.leaf_hash).where(entries.c.log_id == log_id, entries.c.idx < size)
            .order_by(entries.c.idx)).scalars()]
    if len(got) != size:
        raise CouldNotCheck(f"storage holds {len(got)} of the {size} entries")
    return got


def entries_of_types(store: LedgerStore, log: str, types: Sequence[str], size: int
                     ) -> dict[int, bytes]:
    """The exact bytes of the entries of ``log`` below index ``size`` whose type is one
    of ``types``, by index (a report's 递补 answers and objections, to prove them).

    Raises:
        NotFound: no such log.
    """
    log_id = store.log(log).id
    with store.engine.connect() as conn:
        return {int(idx): bytes(data) for idx, data in conn.execute(
            select(entries.c.idx, entries.c.data).where(
                entries.c.log_id == log_id, entries.c.entry_type.in_(list(types)),
                entries.c.idx < size).order_by(entries.c.idx))}
