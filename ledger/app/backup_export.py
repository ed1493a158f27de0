"""Writing a backup (``absentia export --all``): every log as tlog-tiles and every table,
from one read transaction (the format: ``ledger.app.backup_format``)."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, inspect, select

from ledger.app.backup_format import (
    BATCH,
    FORMAT,
    MANIFEST,
    NOT_INCLUDED,
    VERSION,
    LogSummary,
    ProgressFactory,
    app_tables,
    b64,
    encode_value,
    schema_revision,
    sha256_file,
    snapshot,
)
from ledger.errors import BadData
from ledger.ids import sha256_hex
from ledger.storage.dump import log_dumps
from ledger.storage.store import stored_tile
from ledger.tiles import bundles_for_size, tiles_for_size


@dataclass
class BackupResult:
    out: Path
    logs: list[LogSummary]
    tables: dict[str, int]  # rows per table
    files: int
    unknown_tables: list[str] = field(default_factory=list)  # in the database, not the app



class _Files:
    """Files written into the backup, with their SHA-256 and row counts."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.entries: dict[str, dict[str, Any]] = {}

    def write(self, rel: str, data: bytes, rows: int | None) -> None:
        path = self.out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.entries[rel] = {"sha256": sha256_hex(data), "bytes": len(data),
                             "rows": rows}

    @contextmanager
    def jsonl_gz(self, rel: str) -> Iterator[Callable[[dict[str, Any]], None]]:
        path = self.out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = 0
        with path.open("wb") as raw, \
                gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
            def put(row: dict[str, Any]) -> None:
                nonlocal rows
                gz.write(json.dumps(row, ensure_ascii=False, separators=(",", ":"))
                         .encode() + b"\n")
                rows += 1

            yield put
        self.entries[rel] = {"sha256": sha256_file(path), "bytes": path.stat().st_size,
                             "rows": rows}


def _jsonl(rows: Sequence[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(r, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
                    for r in rows)


def backup(engine: Engine, out: Path, now: dt.datetime,
           progress: ProgressFactory | None = None) -> BackupResult:
    """Write a backup of every log and every table to the new directory ``out``.

    Sign the logs' checkpoints first (the caller) so that the tiles cover the latest entries.

    Raises:
        BadData: ``out`` exists and is not empty.
    """
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BadData(f"{out} exists and is not empty: back up into a new directory",
                      field="out")
    out.mkdir(parents=True, exist_ok=True)
    files = _Files(out)
    tables = app_tables()
    manifest: dict[str, Any] = {"format": FORMAT, "version": VERSION,
                                "created_at": now.astimezone(dt.UTC).isoformat()}
    summaries: list[LogSummary] = []
    counts: dict[str, int] = {}
    with snapshot(engine) as conn:
        manifest["dialect"] = conn.dialect.name
        manifest["schema_revision"] = schema_revision(conn)
        manifest["not_included"] = NOT_INCLUDED
        present = set(inspect(conn).get_table_names())
        known = {t.name for t in tables}
        unknown = sorted(present - known - {"alembic_version"})
        log_list: list[dict[str, Any]] = []
        for log in log_dumps(conn):
            history = log.checkpoints
            folder = f"logs/{log.name}"
            cp = history[-1] if history else None
            cp_size = cp.size if cp is not None else 0
            if cp is not None:
                refs = list(bundles_for_size(cp.size)) + list(tiles_for_size(cp.size))
                bar = progress(f"tiles of {log.name}") if progress else None
                for n, ref in enumerate(refs, 1):
                    files.write(f"{folder}/{ref.path()}", stored_tile(conn, log.id, ref)[0],
                                ref.width)
                    if bar:
                        bar(n, len(refs))
                files.write(f"{folder}/checkpoint", cp.note.encode(), 1)
            vkeys = log.verifier_keys
            files.write(f"{folder}/keys", "".join(k + "\n" for k in vkeys).encode(),
                        len(vkeys))
            files.write(f"{folder}/checkpoints.jsonl", _jsonl([
                {"size": c.size, "root": b64(c.root), "key_id": c.key_id,
                 "signed_at_ms": c.signed_at_ms, "note": c.note} for c in history]),
                len(history))
            files.write(f"{folder}/keys.jsonl", _jsonl([
                {k: encode_value(v) for k, v in r.items()} for r in log.keys]),
                len(log.keys))
            log_list.append({
                "name": log.name, "origin": log.origin, "id": log.id, "dir": folder,
                "size": log.size, "root": b64(log.root),
                "checkpoint": None if cp is None else {
                    "size": cp.size, "root": b64(cp.root), "note": cp.note},
                "verifier_keys": vkeys})
            summaries.append(LogSummary(log.name, log.origin, log.size, log.root, cp_size))
        manifest["logs"] = log_list
        table_info: dict[str, Any] = {}
        for table in tables:
            if table.name not in present:
                continue
            cols = {c["name"] for c in inspect(conn).get_columns(table.name)}
            columns = [c for c in table.columns if c.name in cols]
            pk = [c for c in table.primary_key.columns if c.name in cols] or columns
            total = conn.execute(select(func.count()).select_from(table)).scalar_one()
            rel = f"tables/{table.name}.jsonl.gz"
            bar = progress(f"table {table.name}") if progress else None
            done = 0
            with files.jsonl_gz(rel) as put:
                result = conn.execution_options(yield_per=BATCH).execute(
                    select(*columns).order_by(*pk))
                for row in result:
                    put({k: encode_value(v) for k, v in row._mapping.items()})
                    done += 1
                    if bar and (done % BATCH == 0 or done == total):
                        bar(done, total)
            if bar and total == 0:
                bar(0, 0)
            counts[table.name] = done
            table_info[table.name] = {"file": rel, "rows": done,
                                      "columns": [c.name for c in columns]}
        manifest["tables"] = table_info
        manifest["unknown_tables"] = unknown
    manifest["files"] = dict(sorted(files.entries.items()))
    tmp = out / (MANIFEST + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, out / MANIFEST)  # last: a backup without its manifest is unfinished
    return BackupResult(out, summaries, counts, len(files.entries) + 1, unknown)


# -- reading a backup -----------------------------------------------------------------------

