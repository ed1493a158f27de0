"""Raw sample events for benchmarks and tests: ``platform.event`` and ``window.closed``
entries written straight to a log (not through the absence domain), deterministic for a seed.
"""

from __future__ import annotations

import base64
import hashlib
import random
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from itertools import islice

from ledger.entry import format_time
from ledger.storage.store import LedgerStore, NewEntry


def pseudonym(secret: bytes, number: int) -> str:
    """A stable subject pseudonym: ``sub_`` + base32 of an HMAC-like digest."""
    digest = hashlib.sha256(secret + number.to_bytes(8, "big")).digest()[:16]
    return "sub_" + base64.b32encode(digest).decode().rstrip("=").lower()


def sample_events(
    count: int, start: datetime, seed: int = 2026
) -> Iterator[tuple[datetime, NewEntry]]:
    """Yield exactly ``count`` ``(simulated time, entry)`` pairs of raw platform events.

    Windows with 15 to 30 invited candidates each (pseudonyms only): about 12 % absent,
    of whom about 57 % withdrew or did not show, 28 % hit technical or device trouble,
    the rest never saw the notification.  Deterministic for a given seed.
    """
    return islice(_sample(start, seed), count)


def _sample(start: datetime, seed: int) -> Iterator[tuple[datetime, NewEntry]]:
    rng = random.Random(seed)
    secret = b"demo-" + str(seed).encode()
    produced = 0
    window_no = 0
    clock = start
    candidate = 0
    while True:
        window_no += 1
        window = f"w-{seed}-{window_no:04d}"
        opens = clock
        absent = 0
        completed = 0
        for _ in range(rng.randint(15, 30)):
            candidate += 1
            subject = pseudonym(secret, candidate)
            invited = opens - timedelta(days=2)
            events = [(invited, "invited")]
            roll = rng.random()
            t = opens + timedelta(minutes=rng.randint(0, 180))
            if roll < 0.88:
                events += [(t, "joined"), (t + timedelta(minutes=rng.randint(15, 25)), "completed")]
                completed += 1
            else:
                absent += 1
                cause = rng.random()
                if cause < 0.57:
                    if rng.random() < 0.4:
                        events.append((t, "withdrew"))
                elif cause < 0.85:
                    kind = "connection_failed" if rng.random() < 0.7 else "device_incompatible"
                    events += [(t, "joined"), (t + timedelta(minutes=2), kind)]
                # else: the notification never reached them: no event at all
            for at, kind in events:
                produced += 1
                yield at, NewEntry(
                    "platform.event", "platform:ai-interview",
                    {"event_id": f"evt-{seed}-{produced:07d}", "window": window,
                     "subject": subject, "kind": kind, "at": format_time(at)},
                    idempotency_key=f"evt-{seed}-{produced:07d}",
                )
        closes = opens + timedelta(hours=4)
        produced += 1
        yield closes, NewEntry(
            "window.closed", "system",
            {"window": window, "closed_at": format_time(closes), "completed": completed,
             "absent": absent})
        clock = closes + timedelta(minutes=30)


def append_sample_events(
    store: LedgerStore, log: str, count: int, start: datetime, *, batch_size: int = 100,
    seed: int = 2026, progress: Callable[[int, int], None] | None = None,
) -> datetime:
    """Append ``count`` sample events to ``log`` in batches; return the last time.

    Each batch is stamped with the simulated time of its last event.

    Raises:
        NotFound: no such log.
        BadData: never for the samples themselves (they are valid by construction).
    """
    batch: list[NewEntry] = []
    done = 0
    last = start
    for at, item in sample_events(count, start, seed):
        batch.append(item)
        last = at
        if len(batch) == batch_size:
            store.append_batch(log, batch, at)
            done += len(batch)
            batch = []
            if progress is not None:
                progress(done, count)
    if batch:
        store.append_batch(log, batch, last)
        done += len(batch)
    if progress is not None:
        progress(done, done)
    return last
