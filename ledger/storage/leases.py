"""Named leases in the database (``scheduler_leases``): one holder at a time, expiring
unless renewed.  The scheduler (``ledger.app.scheduler``) runs its jobs only while its
process holds the ``JOBS_LEASE``.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from ledger.storage.store import LedgerStore
from ledger.storage.tables import scheduler_leases

log = logging.getLogger(__name__)

#: The lease the scheduled jobs run under.
JOBS_LEASE = "jobs"


class Lease:
    """A named lease in the database: one holder at a time, expiring unless renewed."""

    def __init__(self, store: LedgerStore, ttl_s: float, *, holder: str | None = None,
                 name: str = JOBS_LEASE, db_clock: bool = True) -> None:
        self.store = store
        self.db_clock = db_clock
        self.ttl_ms = int(ttl_s * 1000)
        self.name = name
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.held = False

    def acquire(self, now: datetime) -> bool:
        """Take or renew the lease; True if this process holds it now.

        On PostgreSQL (unless ``db_clock`` is false) the lease's times come from the
        database server's clock, not ``now``: one clock for every host.
        """
        t = scheduler_leases

        now_ms = int(now.timestamp() * 1000)
        try:
            with self.store.write() as conn:
                if self.db_clock and conn.dialect.name == "postgresql":
                    # Every host compares expiries by the database server's clock: a
                    # host whose clock was stepped a day ahead must not write a lease
                    # that outlives it by a day and blocks every other runner.
                    now_ms = int(conn.exec_driver_sql(
                        "SELECT (extract(epoch FROM clock_timestamp()) * 1000)::bigint"
                    ).scalar_one())
                expires = now_ms + self.ttl_ms
                lock = select(t).where(t.c.name == self.name)
                if conn.dialect.name == "postgresql":
                    lock = lock.with_for_update()
                row = conn.execute(lock).first()
                if row is None:
                    conn.execute(insert(t).values(name=self.name, holder=self.holder,
                                                  expires_at=expires))
                    got = True
                elif row.holder == self.holder or row.expires_at < now_ms:
                    conn.execute(update(t).where(t.c.name == self.name).values(
                        holder=self.holder, expires_at=expires))
                    got = True
                else:
                    got = False
        except IntegrityError:  # another process inserted the row first
            got = False
        if got and not self.held:
            log.warning("scheduler lease %r taken by %s", self.name, self.holder)
        self.held = got
        return got

    def release(self) -> None:
        """Give the lease up (on shutdown) so another runner need not wait for expiry."""
        t = scheduler_leases

        if not self.held:
            return
        with self.store.write() as conn:
            conn.execute(update(t).where(t.c.name == self.name, t.c.holder == self.holder)
                         .values(expires_at=0))
        self.held = False

    def holder_now(self) -> tuple[str, int] | None:
        """(holder, expires_at ms) of the lease, or None."""
        t = scheduler_leases

        with self.store.engine.connect() as conn:
            row = conn.execute(select(t.c.holder, t.c.expires_at)
                               .where(t.c.name == self.name)).first()
        return None if row is None else (row.holder, row.expires_at)


__all__ = ["JOBS_LEASE", "Lease"]
