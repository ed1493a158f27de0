"""The backup format of ``absentia export --all``: its manifest, its files, its values, and
reading one back (``open_backup``).  Writing one is ``ledger.app.backup_export``; checking and
restoring one, ``ledger.app.backup``.  A backup is a directory::

    manifest.json                  format, time, dialect, schema revision, logs, files
    logs/<name>/                   each log as C2SP tlog-tiles (``absentia verify`` reads it)
        checkpoint, keys, tile/...   at the log's latest checkpoint
        checkpoints.jsonl          every checkpoint the log has signed, oldest first
        keys.jsonl                 the log's rows of ``ledger_keys``
    tables/<table>.jsonl.gz        every table of the app, one JSON object a row

The tables are the app's SQLAlchemy models, the list the migrations make the schema from
(``ledger.app.registry.table_metadata``), so a table added later is backed up without
touching this module.  Bytes are written as ``{"$b64": ...}``.  Everything is read
in one read transaction (one ``BEGIN`` on SQLite, REPEATABLE READ on PostgreSQL): a
coherent snapshot while the app keeps running.

The backup holds no private key: the checkpoint-signing keys (``key_dir``) and the vault's
master key stay where they are and are backed up separately.  Personal data in the vault
is in the backup as it is stored, encrypted under that master key.
"""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import gzip
import hashlib
import importlib
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, MetaData, Table, column, inspect, select
from sqlalchemy import table as table_clause

from ledger.app.registry import table_metadata
from ledger.errors import BadData, LedgerError
from ledger.storage.dump import APPEND_ONLY_TABLES, HEADS_TABLE

FORMAT = "absentia-backup"
VERSION = 1
MANIFEST = "manifest.json"
#: Said in the manifest and by the CLI: what a backup deliberately leaves out.
NOT_INCLUDED = ("private keys are not in the backup: the checkpoint-signing keys (key_dir) "
                "and the vault master key must be backed up separately; a restore needs "
                "the same key_dir and master key")
#: Tables written by INSERT only (the database refuses anything else): a roll forward adds the
#: rows the database lacks and never deletes one.  Every other table is replaced.
MERGED_TABLES = frozenset(APPEND_ONLY_TABLES)
#: The log heads: on a roll forward each moves forward to the backup's, never back.
HEADS = HEADS_TABLE
#: Of these, the columns compared when a row exists on both sides (default: all).
COMPARED = {"ledger_entries": ("leaf_hash",)}
BATCH = 1000

Progress = Callable[[int, int], None]
ProgressFactory = Callable[[str], Progress]


class RestoreRefused(LedgerError):
    """The backup cannot be restored into this database; nothing was written."""


class BackupDamaged(RestoreRefused):
    """A file of the backup is missing or altered, or its logs do not verify."""


# -- the app's tables -----------------------------------------------------------------------


def app_tables() -> list[Table]:
    """Every table of the app, the ledger's first, each MetaData's in dependency order.

    The tables are the migrations' models (``ledger.app.registry.table_metadata``), the
    same list the schema is made from and checked against for drift.
    """
    metas = list(table_metadata())
    metas.sort(key=lambda m: not any(t.startswith("ledger_") for t in m.tables))
    seen: dict[str, Table] = {}
    for md in metas:
        for table in md.sorted_tables:
            seen.setdefault(table.name, table)
    return list(seen.values())


def app_metadata() -> list[MetaData]:
    """The distinct MetaData objects holding ``app_tables()``."""
    out: list[MetaData] = []
    for t in app_tables():
        if all(t.metadata is not m for m in out):
            out.append(t.metadata)
    return out


# -- values ---------------------------------------------------------------------------------


def encode_value(value: Any) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$b64": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, dt.datetime | dt.date):
        return {"$time": value.isoformat()}
    if isinstance(value, decimal.Decimal):
        return {"$dec": str(value)}
    return value


def decode_value(value: Any) -> Any:
    if isinstance(value, dict):
        if "$b64" in value:
            return base64.b64decode(value["$b64"], validate=True)
        if "$time" in value:
            text = value["$time"]
            return dt.datetime.fromisoformat(text) if "T" in text else dt.date.fromisoformat(text)
        if "$dec" in value:
            return decimal.Decimal(value["$dec"])
        raise BadData(f"unknown value {sorted(value)} in a table dump")
    return value


def coerce_row(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    """Fit a value SQLite stored loosely (an int in a text column) to the column's type."""
    out = {}
    for name, value in row.items():
        col = table.columns[name]
        try:
            kind = col.type.python_type
        except NotImplementedError:
            kind = object
        if value is not None and kind is str and not isinstance(value, str):
            value = str(value)
        elif value is not None and kind is int and isinstance(value, str):
            value = int(value)
        out[name] = value
    return out


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def b64(b: bytes) -> str:
    return base64.b64encode(b).decode()


# -- backup ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class LogSummary:
    name: str
    origin: str
    size: int
    root: bytes
    checkpoint_size: int


@contextmanager
def snapshot(engine: Engine) -> Iterator[Connection]:
    """One read transaction: REPEATABLE READ, read only on PostgreSQL; one BEGIN on SQLite."""
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        with conn.begin():
            yield conn


def schema_revision(conn: Connection) -> str | None:
    """The Alembic revision(s) of the database, or None without an ``alembic_version`` table."""
    if not inspect(conn).has_table("alembic_version"):
        return None
    try:
        migration = importlib.import_module("alembic.runtime.migration")
        heads = migration.MigrationContext.configure(conn).get_current_heads()
    except ImportError:  # the table exists but Alembic is not installed here
        heads = conn.execute(select(column("version_num"))
                             .select_from(table_clause("alembic_version"))).scalars().all()
    return ",".join(sorted(heads)) or None


@dataclass
class BackupLog:
    name: str
    origin: str
    id: int
    dir: Path
    size: int
    root: bytes
    checkpoint_size: int
    checkpoint_root: bytes | None
    checkpoint_note: str | None
    verifier_keys: list[str]
    leaves: list[bytes] = field(default_factory=list)  # filled by check_backup


@dataclass
class Backup:
    dir: Path
    manifest: dict[str, Any]
    logs: list[BackupLog]

    def log(self, name: str) -> BackupLog | None:
        return next((lg for lg in self.logs if lg.name == name), None)

    def rows(self, table: str) -> Iterator[dict[str, Any]]:
        info = self.manifest["tables"].get(table)
        if info is None:
            return
        with gzip.open(self.dir / info["file"], "rb") as f:
            for line in f:
                yield {k: decode_value(v) for k, v in json.loads(line).items()}


def open_backup(path: Path) -> Backup:
    """Read a backup's manifest.

    Raises:
        BackupDamaged: no manifest, or not one this version reads.
    """
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BackupDamaged(f"{path} has no {MANIFEST}: not a backup, or an unfinished "
                            "one") from None
    except (OSError, ValueError) as exc:
        raise BackupDamaged(f"cannot read {path / MANIFEST}: {exc}") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupDamaged(f"{path / MANIFEST} is not an Absentia backup manifest")
    if manifest.get("version") != VERSION:
        raise BackupDamaged(f"backup format version {manifest.get('version')} is not "
                            f"{VERSION}: restore it with the release that wrote it")
    try:
        logs = [BackupLog(
            lg["name"], lg["origin"], int(lg["id"]), path / lg["dir"], int(lg["size"]),
            base64.b64decode(lg["root"]),
            lg["checkpoint"]["size"] if lg["checkpoint"] else 0,
            base64.b64decode(lg["checkpoint"]["root"]) if lg["checkpoint"] else None,
            lg["checkpoint"]["note"] if lg["checkpoint"] else None,
            list(lg["verifier_keys"])) for lg in manifest["logs"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise BackupDamaged(f"{path / MANIFEST}: malformed log record ({exc})") from exc
    return Backup(path, manifest, logs)


