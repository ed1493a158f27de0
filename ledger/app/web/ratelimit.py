"""Rate limits: at most n attempts per window per client key, one ``RateLimiter`` over a
counting backend.

``InProcessHits`` counts in this process (a sliding window): a client gets N times the
attempts when N processes serve it (two gunicorn workers on each of three hosts: six
times).  ``SharedHits`` counts in the database (``ledger.storage.ratelimits``), so every
worker and host counts against the same number: each attempt increments a row keyed by
(bucket, salted SHA-256 of the client key, window), in one upsert.  Its windows are fixed
and aligned (``per_s`` long); a client may thus reach ``2n`` attempts across a boundary,
never more.  Rows of past windows are purged as new ones start.
"""

from __future__ import annotations

import ipaddress
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

from werkzeug.exceptions import TooManyRequests

from ledger.storage.ratelimits import count_attempt
from ledger.storage.store import LedgerStore

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


class HitCounter(Protocol):
    """Where a limiter counts its attempts."""

    def attempt(self, key: str, n: int, per_s: float) -> int | None:
        """Count an attempt by ``key``; None while within ``n`` per ``per_s`` seconds, else
        the seconds until another attempt is allowed (Retry-After)."""
        ...


class InProcessHits:
    """Attempts counted in this process over a sliding window (the monotonic clock); an
    attempt refused is not counted."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def attempt(self, key: str, n: int, per_s: float) -> int | None:
        t = self.clock()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= t - per_s:
                hits.popleft()
            if len(hits) >= n:
                return max(1, math.ceil(hits[0] + per_s - t))
            hits.append(t)
            if len(self._hits) > 100_000:
                self._hits.clear()
        return None


class SharedHits:
    """Attempts counted in the database per fixed window of ``per_s`` seconds, under
    ``bucket``, shared by every process; every attempt counts, refused or not."""

    def __init__(self, store: LedgerStore, bucket: str = "public",
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.bucket = bucket
        self.clock = clock
        self._purged_window = -1

    def attempt(self, key: str, n: int, per_s: float) -> int | None:
        now_s = self.clock()
        span = max(int(per_s), 1)
        window = int(now_s) // span * span
        purge = window != self._purged_window  # once per window and process
        hits = count_attempt(self.store, self.bucket, key, window, purge=purge)
        self._purged_window = window
        if hits > n:
            return span - int(now_s) % span  # Retry-After: when this window ends
        return None


class RateLimiter:
    """At most ``n`` attempts per ``per_s`` seconds per client key, counted by ``hits``
    (default: in this process)."""

    def __init__(self, n: int, per_s: float, hits: HitCounter | None = None) -> None:
        if n < 1 or per_s <= 0:
            raise ValueError("a rate limit needs n >= 1 and per_s > 0")
        self.n = n
        self.per_s = per_s
        self.hits: HitCounter = hits if hits is not None else InProcessHits()

    def check(self, key: str) -> None:
        """Count an attempt and raise when over the limit.

        Raises:
            TooManyRequests: ``key`` is over the limit (429, with Retry-After).
        """
        wait = self.hits.attempt(key, self.n, self.per_s)
        if wait is not None:
            raise TooManyRequests(f"at most {self.n} attempts per {int(self.per_s)} s; "
                                  "wait and retry", retry_after=wait)


class SharedRateLimiter(RateLimiter):
    """A ``RateLimiter`` counting in the database (``SharedHits``): every worker and host
    shares one count per client key."""

    def __init__(self, store: LedgerStore, n: int, per_s: float, *, bucket: str = "public",
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(n, per_s, SharedHits(store, bucket, clock))
