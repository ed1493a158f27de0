"""A large log for the verify and proof benchmarks, built once and cached by size.

``ensure(n)`` returns a SQLite ledger of exactly ``n`` entries (entry 0 records the
log's creation, the rest are ``ledger.app.samples.sample_events``), signed at its full size
and exported as tlog-tiles.  It lives in ``<tmp>/absentia-bench-<n>``; a file
``complete.json`` is written last, so an interrupted build is started over.  The cache
is rebuilt when asked (``rebuild``) or when the stored format changed since it was
built (see ``fingerprint``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.dialects import sqlite
from sqlalchemy.schema import CreateIndex, CreateTable

from bench._common import Progress, say
from ledger.app.export import export_log
from ledger.app.registry import entry_types
from ledger.app.samples import append_sample_events, sample_events
from ledger.migrations import upgrade
from ledger.storage import LedgerStore, make_engine
from ledger.storage.store import prepare
from ledger.storage.tables import metadata
from ledger.tiles import TileRef, encode_bundle

LOG = "bench"
ORIGIN = "bench.absentia.invalid/large"
START = datetime(2026, 11, 20, 1, 0, tzinfo=UTC)
BATCH = 5_000


def fingerprint() -> str:
    """A digest of what the cached files depend on: the SQLite DDL of the tables, the
    bytes ``prepare`` makes of the sample entries, and the tile paths and bundle form.

    Edits elsewhere (or that do not change these) keep the cache.
    """
    h = hashlib.sha256()
    dialect = sqlite.dialect()
    for table in metadata.sorted_tables:
        h.update(str(CreateTable(table).compile(dialect=dialect)).encode())
        for ix in sorted(table.indexes, key=lambda i: str(i.name)):
            h.update(str(CreateIndex(ix).compile(dialect=dialect)).encode())
    for _, item in sample_events(300, START):
        h.update(prepare(item, entry_types()).encode(12345, bytes(32),
                                                     b'"2026-11-20T01:00:00.000Z"'))
    for ref in (TileRef(0, 1_234_067), TileRef(None, 5, 7), TileRef(2, 0, 3)):
        h.update(ref.path().encode())
    h.update(encode_bundle([b"a", b"bc"]))
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class Dataset:
    """A built log: its database, keys and export."""

    base: Path
    size: int
    meta: dict[str, Any]

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.base / 'ledger.db'}"

    @property
    def key_dir(self) -> Path:
        return self.base / "keys"

    @property
    def export_dir(self) -> Path:
        return self.base / "export"

    def engine(self) -> Engine:
        return make_engine(self.db_url)

    def store(self, engine: Engine | None = None, **kwargs: Any) -> LedgerStore:
        return LedgerStore(engine if engine is not None else self.engine(), self.key_dir,
                           entry_types(), **kwargs)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--entries`` and ``--rebuild``: the large log's size and a rebuild of its cache
    (``bench_verify``, ``bench_proofs`` and ``run_all`` use the same log)."""
    parser.add_argument("--entries", type=int, default=1_000_000,
                        help="size of the large log for verify and proofs (default 1,000,000)")
    parser.add_argument("--rebuild", action="store_true",
                        help="rebuild the cached large log and its export even if present")


def cache_dir(n: int) -> Path:
    return Path(tempfile.gettempdir()) / f"absentia-bench-{n}"


def _build(n: int, base: Path) -> dict[str, Any]:
    base.mkdir(parents=True)
    engine = make_engine(f"sqlite:///{base / 'ledger.db'}")
    try:
        store = LedgerStore(engine, base / "keys", entry_types())
        upgrade(store.engine)
        store.create_log(LOG, ORIGIN, START)
        say(f"[dataset] appending {n - 1:,} sample entries in batches of {BATCH:,} "
            f"to {base}")
        progress = Progress("appending", every_s=10.0)
        started = time.perf_counter()
        last = append_sample_events(store, LOG, n - 1, START, batch_size=BATCH,
                                    progress=lambda done, _total: progress(done + 1, n))
        append_s = time.perf_counter() - started
        cp = store.sign_checkpoint(LOG, last + timedelta(minutes=1))
        if cp.size != n:
            raise RuntimeError(f"built {cp.size} entries, expected {n}")
        say(f"[dataset] exporting {n:,} entries as tlog-tiles")
        started = time.perf_counter()
        result = export_log(store, LOG, base / "export", Progress("exporting files", 10.0))
        export_s = time.perf_counter() - started
    finally:
        engine.dispose()
    return {"size": n, "append_s": round(append_s, 2), "export_s": round(export_s, 2),
            "export_files": result.files, "fingerprint": fingerprint(),
            "built_at": datetime.now(UTC).isoformat(timespec="seconds")}


_ENSURED: dict[int, Dataset] = {}


def is_cached(n: int) -> bool:
    """Whether a complete, current log of ``n`` entries is cached."""
    if n in _ENSURED:
        return True
    marker = cache_dir(n) / "complete.json"
    if not marker.is_file():
        return False
    meta = json.loads(marker.read_text(encoding="utf-8"))
    return bool(meta.get("fingerprint") == fingerprint())


def ensure(n: int, rebuild: bool = False) -> Dataset:
    """The cached log of ``n`` entries, built first if needed (progress on stderr).

    Within one process the first answer stands (``run_all`` builds it at most once even
    if the format files change meanwhile), unless ``rebuild`` is asked for again.
    """
    if n < 1:
        raise ValueError("a log has at least its creation entry: n >= 1")
    if n in _ENSURED and not rebuild:
        return _ENSURED[n]
    _ENSURED[n] = ds = _ensure(n, rebuild)
    return ds


def _ensure(n: int, rebuild: bool) -> Dataset:
    base = cache_dir(n)
    marker = base / "complete.json"
    why = "--rebuild" if rebuild else None
    if why is None:
        if not marker.is_file():
            why = "no complete cached copy"
        else:
            meta: dict[str, Any] = json.loads(marker.read_text(encoding="utf-8"))
            if meta.get("fingerprint") != fingerprint():
                why = "the stored format changed since it was built"
            else:
                say(f"[dataset] reusing {n:,} entries in {base} (built {meta['built_at']}; "
                    "--rebuild to rebuild)")
                return Dataset(base, n, {**meta, "reused": True})
    say(f"[dataset] building {n:,} entries ({why})")
    if base.exists():
        shutil.rmtree(base)
    meta = _build(n, base)
    marker.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    say(f"[dataset] built in {meta['append_s']:.1f} s + exported in {meta['export_s']:.1f} s")
    return Dataset(base, n, {**meta, "reused": False})
