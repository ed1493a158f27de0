"""Checking and restoring a backup of a whole Absentia database (``absentia restore``); the
format is ``ledger.app.backup_format``, writing one ``ledger.app.backup_export``.

The backup holds no private key: a restore needs the same ``key_dir`` and vault master key
as the backed-up database.

A restore checks the manifest's SHA-256s, verifies every log's tiles offline
(``ledger.verify``) and that the raw ledger rows are those tiles' entries, then refuses
(writing nothing) unless the database is empty or each of its logs is a prefix of the
backup's (a roll forward; never a rollback).  It writes every table in one transaction
and then checks the result end to end.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Table, delete, func, insert, inspect, select

from ledger import merkle
from ledger.absence.rebuild import check_rebuild
from ledger.app.backup_format import (
    BATCH,
    COMPARED,
    HEADS,
    MERGED_TABLES,
    NOT_INCLUDED,
    Backup,
    BackupDamaged,
    LogSummary,
    Progress,
    ProgressFactory,
    RestoreRefused,
    app_tables,
    coerce_row,
    sha256_file,
    snapshot,
)
from ledger.checkpoint import Checkpoint
from ledger.errors import BadData, LedgerError, VerificationError
from ledger.migrations import is_known, upgrade
from ledger.note import Ed25519Verifier, SignedNote
from ledger.storage.db import lock_ddl
from ledger.storage.dump import head_sizes, hold_log_writes, log_heads, move_heads
from ledger.storage.store import LedgerStore
from ledger.tiles import bundles_for_size, tiles_for_size
from ledger.verify import DirectorySource, verify_log
from ledger.witness.client import WitnessEndpoint, WitnessProbe, probe_witness

__all__ = ["NOT_INCLUDED", "Backup", "BackupDamaged", "RestoreRefused", "check_backup",
           "check_files", "check_witnesses", "key_warnings", "restore"]


def check_files(b: Backup, progress: Progress | None = None) -> int:
    """Compare every file with the SHA-256 the manifest gives it; return how many.

    Raises:
        BackupDamaged: a file is missing or its SHA-256 differs.
    """
    files = b.manifest.get("files", {})
    for n, (rel, info) in enumerate(sorted(files.items()), 1):
        path = (b.dir / rel).resolve()
        if b.dir.resolve() not in path.parents:
            raise BackupDamaged(f"manifest names {rel!r}, outside the backup")
        if not path.is_file():
            raise BackupDamaged(f"backup file {rel} is missing")
        if sha256_file(path) != info.get("sha256"):
            raise BackupDamaged(f"backup file {rel} does not have the SHA-256 the manifest "
                                "gives it: the file was altered or damaged")
        if progress:
            progress(n, len(files))
    for sub in ("logs", "tables"):
        for path in sorted((b.dir / sub).rglob("*")):
            rel = path.relative_to(b.dir).as_posix()
            if path.is_file() and rel not in files:
                raise BackupDamaged(f"backup file {rel} is not in the manifest: the backup "
                                    "was altered")
    for table, info in b.manifest.get("tables", {}).items():
        if info.get("file") not in files:
            raise BackupDamaged(f"the manifest gives no SHA-256 for table {table}'s file")
    return len(files)


def check_witnesses(b: Backup, witnesses: Sequence[WitnessEndpoint], timeout_s: float
                    ) -> list[tuple[str, WitnessProbe]]:
    """Ask every witness where it stands on each backed-up log; return (log, probe) pairs.

    After losing the database, the witnesses may be the only memory of how far a log had
    grown: restoring an older backup would roll the log back to a state they cosigned
    past, and they would refuse every checkpoint after it.

    Raises:
        RestoreRefused: a witness cosigned a larger tree of a log than the backup holds,
            or another tree of the same size; or a witness gave no usable answer (the
            check could not be made: ``restore --skip-witness-check`` goes on without).
    """
    found: list[tuple[str, WitnessProbe]] = []
    for lg in b.logs:
        if lg.checkpoint_note is None:
            continue
        for w in witnesses:
            probe = probe_witness(w, lg.checkpoint_note, lg.checkpoint_size, timeout_s)
            found.append((lg.name, probe))
            if probe.state == "ahead":
                raise RestoreRefused(
                    f"witness {w.name} has cosigned log {lg.name} up to size "
                    f"{probe.seen:,}, but this backup ends at {lg.checkpoint_size:,}: "
                    "restoring it would roll the log back; restore a newer backup")
            if probe.state == "other_root":
                raise RestoreRefused(
                    f"witness {w.name} has cosigned another tree of log {lg.name} at size "
                    f"{lg.checkpoint_size:,}: this backup is of another history")
            if probe.state == "unreachable":
                raise RestoreRefused(
                    f"could not ask witness {w.name} how far log {lg.name} had grown "
                    f"({probe.detail}); bring it back, or restore with "
                    "--skip-witness-check if you know the backup is the latest")
    return found


def _checkpoint_origin(note: bytes) -> str:
    return Checkpoint.from_body(SignedNote.parse(note).text).origin


def check_backup(b: Backup, not_before: Sequence[bytes] = (),
                 progress: ProgressFactory | None = None) -> None:
    """Verify every log offline, and that the raw ledger rows are exactly its entries.

    ``not_before``: signed checkpoints each log (by origin) must reach.

    Raises:
        BackupDamaged: a log fails verification, or the rows disagree with the tiles.
        RestoreRefused: the backup is older than a ``not_before`` checkpoint.
    """
    required: dict[str, list[bytes]] = {}
    for note in not_before:
        try:
            origin = _checkpoint_origin(note)
        except BadData as exc:
            raise RestoreRefused(f"--not-before: not a checkpoint ({exc})") from exc
        if all(lg.origin != origin for lg in b.logs):
            raise RestoreRefused(f"--not-before: the backup has no log with origin {origin!r}")
        required.setdefault(origin, []).append(note)
    by_id = {lg.id: lg for lg in b.logs}
    for row in b.rows("ledger_entries"):
        lg = by_id.get(row["log_id"])
        if lg is None:
            raise BackupDamaged(f"ledger_entries holds log id {row['log_id']}, not in the "
                                "manifest")
        data = bytes(row["data"])
        if row["idx"] != len(lg.leaves) or merkle.leaf_hash(data) != bytes(row["leaf_hash"]):
            raise BackupDamaged(f"log {lg.name}: entry {row['idx']} in ledger_entries is out "
                                "of order or does not hash to its leaf")
        lg.leaves.append(merkle.leaf_hash(data))
    history: dict[int, list[dict[str, Any]]] = {}
    for row in b.rows("ledger_checkpoints"):
        history.setdefault(row["log_id"], []).append(row)
    for lg in b.logs:
        verifiers = [Ed25519Verifier.from_vkey(k) for k in lg.verifier_keys]
        keys_file = (lg.dir / "keys").read_text(encoding="utf-8").split()
        if keys_file != lg.verifier_keys:
            raise BackupDamaged(f"log {lg.name}: its keys file differs from the manifest")
        if len(lg.leaves) != lg.size:
            raise BackupDamaged(f"log {lg.name}: ledger_entries holds {len(lg.leaves)} "
                                f"entries, the manifest says {lg.size}")
        tree = merkle.MemoryTree(lg.leaves)
        if tree.root() != lg.root:
            raise BackupDamaged(f"log {lg.name}: the entries' root differs from the manifest's")
        olds = required.get(lg.origin, [])
        for note in olds:
            try:
                nb = Checkpoint.open(note, verifiers, lg.origin)
            except (BadData, VerificationError) as exc:
                raise RestoreRefused(f"--not-before checkpoint of {lg.name}: {exc}") from exc
            if nb.size > lg.size:
                raise RestoreRefused(
                    f"the backup is older than the --not-before checkpoint: log {lg.name} "
                    f"has {lg.size:,} entries in the backup, the checkpoint {nb.size:,}")
            if tree.root_at(nb.size) != nb.root:
                raise RestoreRefused(
                    f"log {lg.name}: the backup's first {nb.size:,} entries do not have the "
                    "--not-before checkpoint's root: a different history")
        if lg.checkpoint_note is None:
            continue
        old = next((n for n in olds if _size_of(n) <= lg.checkpoint_size), None)
        try:
            report = verify_log(DirectorySource(lg.dir), verifiers, origin=lg.origin,
                                old_checkpoint=old,
                                progress=progress(f"verifying {lg.name}") if progress else None)
        except LedgerError as exc:
            where = f" (first bad index: {exc.index})" if isinstance(
                exc, VerificationError) and exc.index is not None else ""
            raise BackupDamaged(f"log {lg.name} does not verify{where}: {exc}") from exc
        if report.size != lg.checkpoint_size or report.root != lg.checkpoint_root:
            raise BackupDamaged(f"log {lg.name}: its checkpoint file differs from the manifest")
        if report.size > lg.size or tree.root_at(report.size) != report.root:
            raise BackupDamaged(f"log {lg.name}: the rows of ledger_entries are not the "
                                "entries of its verified tiles")
        for c in history.get(lg.id, []):
            try:
                cp = Checkpoint.open(c["note"], verifiers, lg.origin)
            except (BadData, VerificationError) as exc:
                raise BackupDamaged(f"log {lg.name}: checkpoint of size {c['size']} in the "
                                    f"history does not verify: {exc}") from exc
            if cp.size != c["size"] or cp.root != bytes(c["root"]) or cp.size > lg.size or \
                    tree.root_at(cp.size) != cp.root:
                raise BackupDamaged(f"log {lg.name}: checkpoint of size {cp.size} in the "
                                    "history does not match the entries")


def _size_of(note: bytes) -> int:
    return Checkpoint.from_body(SignedNote.parse(note).text).size


# -- restore --------------------------------------------------------------------------------


@dataclass
class RestoreResult:
    mode: str  # "empty" or "roll forward"
    logs: list[LogSummary]
    rows: dict[str, int]  # rows written per table
    checks: list[str]  # what was verified after the commit
    sizes_before: dict[str, int]  # each log's size in the database before the restore


def _target_rows(conn: Connection, tables: Sequence[Table]) -> dict[str, int]:
    names = set(inspect(conn).get_table_names())
    return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in tables if t.name in names}


def plan_restore(conn: Connection, b: Backup, tables: Sequence[Table]) -> str:
    """Decide whether ``b`` may be restored into the database on ``conn``.

    Returns "empty" or "roll forward".

    Raises:
        RestoreRefused: the database holds data that is not a prefix of the backup's
            (a restore would roll a log back or replace another history).
    """
    for rev in (b.manifest.get("schema_revision") or "").split(","):
        if rev and not is_known(rev):
            raise RestoreRefused(f"the backup's schema is at revision {rev}, which this "
                                 "release does not know: restore with the release that "
                                 "wrote the backup")
    known = {t.name: t for t in tables}
    for name, info in b.manifest.get("tables", {}).items():
        table = known.get(name)
        if table is None:
            raise RestoreRefused(f"the backup has table {name}, which this release does not "
                                 "know: restore with the release that wrote the backup")
        missing = [c for c in info["columns"] if c not in table.columns]
        if missing:
            raise RestoreRefused(f"the backup's table {name} has columns {missing} this "
                                 "release does not know: restore with the release that "
                                 "wrote it")
    rows = _target_rows(conn, tables)
    if not any(rows.values()):
        return "empty"
    targets = log_heads(conn)
    if not targets:
        busy = ", ".join(f"{t} ({n:,} rows)" for t, n in rows.items() if n)
        raise RestoreRefused(f"the database is not empty ({busy}) and holds no log: restore "
                             "into an empty database")
    for t in targets:
        lg = b.log(t.name)
        if lg is None:
            raise RestoreRefused(f"the database's log {t.name} ({t.size:,} entries) is not in "
                                 "the backup: restore into an empty database")
        if lg.origin != t.origin or lg.id != t.id:
            raise RestoreRefused(f"log {t.name} in the database is another log than the "
                                 f"backup's (origin {t.origin!r}, id {t.id}; the backup's "
                                 f"{lg.origin!r}, id {lg.id})")
        if t.size > lg.size:
            raise RestoreRefused(
                f"restoring would roll log {t.name} back: the database has {t.size:,} "
                f"entries, the backup {lg.size:,}")
        try:
            merkle.verify_consistency(t.size, lg.size, t.root, lg.root,
                                      merkle.MemoryTree(lg.leaves).consistency(t.size, lg.size))
        except VerificationError as exc:
            raise RestoreRefused(
                f"log {t.name} in the database is not a prefix of the backup's: its "
                f"{t.size:,} entries differ from the backup's first {t.size:,} (backup "
                f"size {lg.size:,}): {exc}") from exc
        if lg.verifier_keys[:len(t.verifier_keys)] != t.verifier_keys:
            raise RestoreRefused(f"log {t.name}: the database's verifier keys are not the "
                                 "backup's")
    return "roll forward"


def _pk(table: Table, row: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(row[c.name] for c in table.primary_key.columns)


def _norm(v: Any) -> Any:
    return bytes(v) if isinstance(v, memoryview | bytearray) else v


def _merge(conn: Connection, b: Backup, table: Table) -> list[dict[str, Any]]:
    """The backup's rows the database lacks; refuse if the database has rows it lacks."""
    compared = COMPARED.get(table.name)
    cols = [table.columns[c] for c in compared] if compared else list(table.columns)
    pk_cols = list(table.primary_key.columns)
    existing = {tuple(_norm(x) for x in r[: len(pk_cols)]): tuple(_norm(x) for x in r)
                for r in conn.execute(select(*pk_cols, *cols)).all()}
    new = []
    for row in b.rows(table.name):
        row = coerce_row(table, row)
        key = _pk(table, row)
        have = existing.pop(key, None)
        if have is None:
            new.append(row)
        elif have[len(pk_cols):] != tuple(row.get(c.name) for c in cols):
            raise RestoreRefused(f"the database's {table.name} row {key} differs from the "
                                 "backup's: another history; restore into an empty database")
    if existing:
        key = sorted(existing, key=repr)[0]
        raise RestoreRefused(f"the database's {table.name} has rows the backup lacks (e.g. "
                             f"{key}): its history went on after the backup; restoring "
                             "would roll it back")
    return new


def _heads_moved(conn: Connection, b: Backup, table: Table) -> list[dict[str, Any]]:
    """The backup's head rows (of ``table``) of the logs it extends (a larger size than the
    database's)."""
    have = head_sizes(conn)
    out = []
    for row in b.rows(HEADS):
        row = coerce_row(table, row)
        if int(row["size"]) > have.get(int(row["log_id"]), -1):
            out.append(row)
    return out


def _fix_sequences(conn: Connection, tables: Sequence[Table]) -> None:
    """PostgreSQL: move each serial sequence past the ids inserted explicitly."""
    if conn.dialect.name != "postgresql":
        return
    for table in tables:
        col = table.autoincrement_column
        if col is None:
            continue
        conn.execute(select(func.setval(
            func.pg_get_serial_sequence(table.name, col.name),
            select(func.coalesce(func.max(col), 1)).scalar_subquery(),
            select(func.max(col).is_not(None)).scalar_subquery())))


def create_schema(store: LedgerStore, needed: set[str]) -> None:
    """Migrate the schema the way the app starts (``ledger.migrations.upgrade``), then
    create any table of ``needed`` that the migrations do not make (a table of the app's
    MetaData without a revision yet)."""
    upgrade(store.engine)
    with store.write() as conn:
        lock_ddl(conn)
        present = set(inspect(conn).get_table_names())
        for table in app_tables():
            if table.name in needed and table.name not in present:
                table.create(conn)


def restore(store: LedgerStore, b: Backup, *, projection_log: str | None = None,
            progress: ProgressFactory | None = None) -> RestoreResult:
    """Restore the checked backup ``b`` (see ``check_backup``) into ``store``'s database.

    Refusals happen before anything is written; the rows are written in one transaction.

    Raises:
        RestoreRefused: see ``plan_restore``; nothing was written.
        VerificationError: the restored database does not check out (after the commit).
    """
    tables = app_tables()
    engine = store.engine
    if any(lg.size and not lg.leaves for lg in b.logs):
        raise ValueError("check_backup(b) must run before restore(b)")
    with snapshot(engine) as conn:
        plan_restore(conn, b, tables)  # refuse before creating anything
    create_schema(store, set(b.manifest["tables"]))
    wanted = [t for t in tables if t.name in b.manifest["tables"]]
    written: dict[str, int] = {}
    with store.write() as conn:
        lock_ddl(conn)
        hold_log_writes(conn)
        mode = plan_restore(conn, b, tables)  # again, under the write lock
        before = {t.name: t.size for t in log_heads(conn)}
        merged: dict[str, list[dict[str, Any]]] = {}
        moved: list[dict[str, Any]] = []
        if mode == "roll forward":
            for table in wanted:
                if table.name in MERGED_TABLES:
                    merged[table.name] = _merge(conn, b, table)
            # A head moves forward only, after its entries (the database's triggers
            # refuse anything else): updated below, not deleted and inserted.
            moved = _heads_moved(conn, b, next(t for t in tables if t.name == HEADS))
            merged[HEADS] = []
            present = set(inspect(conn).get_table_names())
            for table in reversed(tables):
                if table.name not in MERGED_TABLES | {HEADS} and table.name in present:
                    conn.execute(delete(table))
        for table in wanted:
            total = b.manifest["tables"][table.name]["rows"]
            bar = progress(f"restoring {table.name}") if progress else None
            rows = merged[table.name] if table.name in merged else \
                (coerce_row(table, r) for r in b.rows(table.name))
            batch: list[dict[str, Any]] = []
            done = 0
            for row in rows:
                batch.append(row)
                if len(batch) >= BATCH:
                    conn.execute(insert(table), batch)
                    done += len(batch)
                    batch = []
                    if bar:
                        bar(done, total)
            if batch:
                conn.execute(insert(table), batch)
                done += len(batch)
            if bar:
                bar(total, total)
            written[table.name] = done
        if moved:
            move_heads(conn, moved)
            written[HEADS] = len(moved)
        _fix_sequences(conn, wanted)
    store._log_cache.clear()  # the logs were just written beneath it
    try:
        checks = check_restored(store, b, projection_log, progress)
    except LedgerError as exc:
        raise VerificationError(f"the backup was restored, but the restored database does "
                                f"not check out: {exc}") from exc
    return RestoreResult(mode, [LogSummary(lg.name, lg.origin, lg.size, lg.root,
                                           lg.checkpoint_size) for lg in b.logs],
                         written, checks, {lg.name: before.get(lg.name, 0) for lg in b.logs})


def check_restored(store: LedgerStore, b: Backup, projection_log: str | None,
                   progress: ProgressFactory | None = None) -> list[str]:
    """Check the database against the backup end to end; return what was checked.

    Raises:
        VerificationError: something differs.
    """
    done: list[str] = []
    for lg in b.logs:
        head = store.head(lg.name)
        if (head.size, head.root) != (lg.size, lg.root):
            raise VerificationError(f"log {lg.name}: restored head {head.size} differs from "
                                    f"the backup's {lg.size}")
        if lg.checkpoint_note is not None:
            cp = store.latest_checkpoint(lg.name)
            if cp.note != lg.checkpoint_note:
                raise VerificationError(f"log {lg.name}: the latest checkpoint differs")
            Checkpoint.open(cp.note, store.verifiers(lg.name), lg.origin)
            refs = list(bundles_for_size(cp.size)) + list(tiles_for_size(cp.size))
            for ref in refs:
                if store.tile(lg.name, ref) != (lg.dir / ref.path()).read_bytes():
                    raise VerificationError(f"log {lg.name}: restored {ref.path()} differs "
                                            "from the backup's")
        done.append(f"log {lg.name}: head {lg.size:,} and root equal the backup's, latest "
                    f"checkpoint ({lg.checkpoint_size:,}) verifies, tiles served as backed up")
    with snapshot(store.engine) as conn:
        counts = _target_rows(conn, app_tables())
    for name, info in b.manifest["tables"].items():
        if counts.get(name) != info["rows"]:
            raise VerificationError(f"table {name}: {counts.get(name)} rows restored, the "
                                    f"backup has {info['rows']}")
    done.append(f"{len(b.manifest['tables'])} tables: row counts equal the backup's")
    if projection_log is not None and b.log(projection_log) is not None:
        check = check_rebuild(store, projection_log,
                              progress(f"replaying {projection_log}") if progress else None)
        if not check.equal:
            raise VerificationError(
                "projections differ from a replay: " + "; ".join(
                    f"{t}: {d}" for t, d in sorted(check.differences.items())))
        done.append(f"projections equal a replay of {check.entries:,} entries of "
                    f"{projection_log} ({len(check.tables)} tables)")
    return done


def key_warnings(store: LedgerStore, b: Backup, master_key: Path | None) -> list[str]:
    """What the restored app will miss from key_dir and the vault's master key."""
    out = []
    latest: dict[int, dict[str, Any]] = {}
    for row in b.rows("ledger_keys"):
        latest[row["log_id"]] = row
    for lg in b.logs:
        key = latest.get(lg.id)
        if key is None:
            continue
        try:
            store.keys.load(key["key_uri"], lg.origin)
        except LedgerError:
            out.append(f"the signing key of log {lg.name} ({key['key_uri']}) is not in "
                       f"{store.keys.root}: put it back before starting the app, or it "
                       "cannot sign checkpoints")
    if master_key is not None and not master_key.exists():
        out.append(f"the vault master key {master_key} is missing: put it back before "
                   "starting the app (a new key would not decrypt the restored vault)")
    return out
