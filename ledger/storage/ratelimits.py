"""Attempts counted in the database (``rate_limit_hits``), shared by every process and host.

A row counts the attempts of one client key in one bucket (what is limited: "public",
"sign-in", ...) and one fixed window (its start, unix seconds).  The key (an IP address,
a registration number) is stored only as a salted SHA-256: the table holds no personal
data.  The table is operational, not a projection: it is not in the ledger and a rebuild
leaves it alone.  What the counts mean (limits, windows) is the caller's
(``ledger.app.web.ratelimit``).
"""

from __future__ import annotations

import hashlib

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ledger.storage.store import LedgerStore
from ledger.storage.tables import rate_limit_hits

#: Salt of the key hashes (public: it only keeps the stored hashes from being the bare
#: SHA-256 of an address that someone could look up in a precomputed table).
_SALT = b"absentia rate limit v1\n"


def key_hash(bucket: str, key: str) -> bytes:
    """The stored form of a client key: SHA-256 over a salt, the bucket and the key."""
    return hashlib.sha256(_SALT + bucket.encode() + b"\n" + key.encode()).digest()


def count_attempt(store: LedgerStore, bucket: str, key: str, window: int, *,
                  purge: bool = False) -> int:
    """Count one attempt by ``key`` in ``bucket`` and ``window``; return the window's count.

    One upsert, so concurrent processes never lose a count.  With ``purge``, the bucket's
    rows of earlier windows are deleted in the same transaction.
    """
    t = rate_limit_hits
    values = {"bucket": bucket, "key_hash": key_hash(bucket, key), "window": window, "hits": 1}
    with store.write() as conn:
        ins = pg_insert(t) if conn.dialect.name == "postgresql" else sqlite_insert(t)
        stmt = ins.values(**values).on_conflict_do_update(
            index_elements=[t.c.bucket, t.c.key_hash, t.c.window],
            set_={"hits": t.c.hits + 1},
        ).returning(t.c.hits)
        hits = int(conn.execute(stmt).scalar_one())
        if purge:
            conn.execute(delete(t).where(t.c.bucket == bucket, t.c.window < window))
    return hits


__all__ = ["count_attempt", "key_hash"]
