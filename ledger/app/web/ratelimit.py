"""Rate limits shared by every worker and host: counters in the database.

An in-process limiter gives a client N times the attempts when N processes serve it (two
gunicorn workers on each of three hosts: six times).  Here each attempt increments a row
of ``rate_limit_hits`` keyed by (bucket, SHA-256 of the client key, window), in one
upsert, so every process counts against the same number.

Windows are fixed and aligned (``per_s`` long); a client may thus reach ``2n`` attempts
across a boundary, never more.  The client key (an IP address) is stored only as a salted
SHA-256: the table holds no personal data.  Rows of past windows are purged as new ones
start.  The table is operational, not a projection: it is not in the ledger and a
rebuild leaves it alone.
"""

from __future__ import annotations

import hashlib
import ipaddress
import time
from collections.abc import Callable

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from werkzeug.exceptions import TooManyRequests

from ledger.storage.store import LedgerStore
from ledger.storage.tables import rate_limit_hits

#: Sign-in attempts per client address per 5 minutes, on top of each account's lockout:
#: one address trying many logins (password spraying) is slowed down too.
SIGN_IN_PER_ADDRESS = 30

#: Lookups (status and appeal, JSON API and form alike) per (campaign, registration
#: number), whatever the client address: many addresses guessing one candidate's factor
#: (about 11,000 values) get 10 tries per 15 minutes and 30 a day between them, so at
#: most about 210 (2 % of the values) over a 7-day appeal period.  Every attempt counts,
#: as it is made (before the factor is compared), so concurrent guesses cannot overrun
#: the count.  An attacker can thereby block one candidate's lookups for a while; the
#: limits are low enough to stop guessing and high enough for a candidate who retypes.
REGISTRATION_PER_15_MIN = 10
REGISTRATION_PER_DAY = 30

#: Salt of the key hashes (public: it only keeps the stored hashes from being the bare
#: SHA-256 of an address that someone could look up in a precomputed table).
_SALT = b"absentia rate limit v1\n"


def key_hash(bucket: str, key: str) -> bytes:
    """The stored form of a client key: SHA-256 over a salt, the bucket and the key."""
    return hashlib.sha256(_SALT + bucket.encode() + b"\n" + key.encode()).digest()


def client_key(address: str) -> str:
    """The key a client address is counted under: an IPv4 address as it is, an IPv6
    address by its /64 (one subscriber or LAN gets a whole /64 and can pick any address
    in it), an IPv4-mapped IPv6 address as the IPv4 address; anything else as given."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def registration_limiters(store: LedgerStore, clock: Callable[[], float] = time.time
                          ) -> tuple[SharedRateLimiter, ...]:
    """The limits per (campaign, registration number), shared by every process:
    ``REGISTRATION_PER_15_MIN`` per 15 minutes and ``REGISTRATION_PER_DAY`` per day."""
    return (SharedRateLimiter(store, REGISTRATION_PER_15_MIN, 900.0, bucket="registration",
                              clock=clock),
            SharedRateLimiter(store, REGISTRATION_PER_DAY, 86400.0,
                              bucket="registration-day", clock=clock))


class SharedRateLimiter:
    """At most ``n`` attempts per ``per_s`` seconds per client key, counted in the database.

    ``check`` has the in-process limiter's interface, so both serve ``public_limited``.
    """

    def __init__(self, store: LedgerStore, n: int, per_s: float, *, bucket: str = "public",
                 clock: Callable[[], float] = time.time) -> None:
        if n < 1 or per_s <= 0:
            raise ValueError("a rate limit needs n >= 1 and per_s > 0")
        self.store = store
        self.n = n
        self.per_s = per_s
        self.bucket = bucket
        self.clock = clock
        self._purged_window = -1

    def hit(self, key: str, now_s: float) -> int:
        """Count one attempt by ``key`` at ``now_s`` (unix seconds); return the window's count."""
        span = max(int(self.per_s), 1)
        window = int(now_s) // span * span
        t = rate_limit_hits
        values = {"bucket": self.bucket, "key_hash": key_hash(self.bucket, key),
                  "window": window, "hits": 1}
        with self.store.write() as conn:
            ins = (pg_insert(t) if conn.dialect.name == "postgresql" else sqlite_insert(t))
            stmt = ins.values(**values).on_conflict_do_update(
                index_elements=[t.c.bucket, t.c.key_hash, t.c.window],
                set_={"hits": t.c.hits + 1},
            ).returning(t.c.hits)
            hits = int(conn.execute(stmt).scalar_one())
            if window != self._purged_window:  # once per window and process
                conn.execute(delete(t).where(t.c.bucket == self.bucket, t.c.window < window))
                self._purged_window = window
        return hits

    def check(self, key: str) -> None:
        """Count an attempt and raise when over the limit.

        Raises:
            TooManyRequests: the key made more than ``n`` attempts in this window (429).
        """
        now_s = self.clock()
        if self.hit(key, now_s) > self.n:
            span = max(int(self.per_s), 1)  # Retry-After: when this window ends
            raise TooManyRequests(f"at most {self.n} attempts per {int(self.per_s)} s; "
                                  "wait and retry", retry_after=span - int(now_s) % span)
