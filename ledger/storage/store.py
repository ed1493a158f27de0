"""The ledger's storage service: logs, appends, checkpoints, tiles and proofs.

Appends to one log are serialised by the database (SQLite: ``BEGIN IMMEDIATE``;
PostgreSQL: the log's head row lock, taken by ``absentia_append`` for one round trip
and the commit, see ``ledger.storage.appending``), so indexes are gap-free and the hash
chain never forks, whichever process writes.  Appends to different logs
take different head rows and do not wait on each other on PostgreSQL.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar, overload

from sqlalchemy import Connection, Engine, insert, select
from sqlalchemy.exc import IntegrityError

from ledger import merkle
from ledger.checkpoint import Checkpoint
from ledger.config import Pkcs11Settings
from ledger.entry import ZERO_HASH, format_time
from ledger.errors import BadData, Conflict, CouldNotCheck, NotAllowed, NotFound
from ledger.events import (
    LOG_CREATED,
    LOG_KEY_ADDED,
    LOG_SM2_KEY_ADDED,
    EntryTypes,
)
from ledger.hsm import hsm_of
from ledger.keys import KeyDirectory, LogSigner
from ledger.note import Ed25519Verifier, NoteSigner, check_key_name
from ledger.proof import TlogProof
from ledger.sm2 import SM2Signer
from ledger.storage.appending import Appender, Command
from ledger.storage.db import write_transaction
from ledger.storage.records import (
    Appended,
    Executed,
    Finish,
    LogInfo,
    NewEntry,
    Plan,
    Planned,
    PreparedEntry,
    Project,
    Receipt,
    StoredCheckpoint,
    TreeHead,
    prepare,
)
from ledger.storage.tables import checkpoints, entries, heads, keys, logs
from ledger.storage.tree import TileCache, base_hashes, stored_tile
from ledger.tiles import TILE_HEIGHT, TILE_WIDTH, TileRef

_NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-_")

T = TypeVar("T")


def _valid_log_name(name: str) -> bool:
    return 0 < len(name) <= 64 and set(name) <= _NAME_CHARS


@dataclass
class _Group:
    """Commands waiting for one log's next group commit, and whether one is running."""

    cond: threading.Condition = field(default_factory=threading.Condition)
    pending: list[Command] = field(default_factory=list)
    leading: bool = False


class LedgerStore:
    """Logs in one database, with their keys in one key directory."""

    def __init__(self, engine: Engine, key_dir: Path, types: EntryTypes, *,
                 tile_cache: int = 4096, pkcs11: Pkcs11Settings | None = None,
                 read_only: bool = False) -> None:
        """``types``: the entry types appends may have (``ledger.app.registry``);
        ``pkcs11``: the module of ``pkcs11:`` key URIs; ``read_only``: a reader
        (``absentia serve --read-only``) that never takes the write lock: every write is
        refused before it starts."""
        self.engine = engine
        self.read_only = read_only
        self.types = types
        self.keys = KeyDirectory(key_dir, hsm_of(pkcs11))
        #: The 国密 option: log name -> the SM2 signer of its checkpoints' second line
        #: (``ledger.storage.sm2keys.use_sm2_key`` sets it).
        self.sm2_signers: dict[str, SM2Signer] = {}
        self._log_cache: dict[str, LogInfo] = {}
        self._tiles = TileCache(tile_cache)
        self._sqlite = engine.dialect.name == "sqlite"
        self._groups: dict[int, _Group] = {}
        database = engine.url.database if self._sqlite and not read_only else None
        self._write_lock_file = (f"{database}.writer-lock"
                                 if database and database != ":memory:" else None)
        self._write_fd: int | None = None
        self._write_pid = 0
        self._write_depth = 0
        self._thread_lock = threading.RLock()
        self.max_group = 64  # commands per group commit
        self.appender = Appender(engine, types, self.write)
        self.largest_group = 0  # the most commands one commit has carried (observability)

    # -- transactions -------------------------------------------------------------

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction on this store's database, committed on exit.

        Every write goes through here (or through the append path, which does), so
        that it holds the write lock from its first statement: on SQLite, writers of
        this host queue on a file lock, then ``BEGIN IMMEDIATE`` (see
        ``write_transaction``).  A read-then-write in a plain deferred transaction
        would fail with "database is locked" whenever another write lands in between.
        Reads need none of this: they see a snapshot and never wait for writers.

        The wait in this host's queue has no deadline of its own: each writer ahead
        holds the lock for one transaction (a restore for the whole restore).  The wait
        for another host's or a non-queued process's writer is bounded by the busy
        timeout (60 s).

        Raises:
            sqlalchemy.exc.OperationalError: another process held the database's lock
                for the busy timeout (answered as a 503 by the web layer).
            NotAllowed: a read-only store (nothing is locked or written).
        """
        self._refuse_if_read_only()
        with self._writer_turn(), write_transaction(self.engine) as conn:
            yield conn

    @contextmanager
    def _writer_turn(self) -> Iterator[None]:
        """SQLite: queue for the write lock on a file lock, not in SQLite's busy loop.

        SQLite's busy handler polls with sleeps of up to 100 ms, so writers in several
        processes (gunicorn workers, the scheduler) waste the lock's idle time and
        stretch the tail latency.  A blocking ``flock`` on a file next to the database
        wakes the next writer the moment the lock is free; the kernel drops it if the
        holder dies.  PostgreSQL needs none of this (its row lock queues).
        """
        if self._write_lock_file is None:
            yield
            return
        with self._thread_lock:
            self._write_depth += 1
            try:
                if self._write_depth > 1:  # nested in this thread: the lock is held
                    yield
                    return
                if self._write_fd is None or self._write_pid != os.getpid():
                    # A forked child must not share its parent's open file description
                    # (flock would then not exclude the two).
                    self._write_fd = os.open(self._write_lock_file,
                                             os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
                    self._write_pid = os.getpid()
                fcntl.flock(self._write_fd, fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(self._write_fd, fcntl.LOCK_UN)
            finally:
                self._write_depth -= 1

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    # -- logs and keys ------------------------------------------------------------

    def create_log(
        self, name: str, origin: str, now: datetime, *, key_uri: str | None = None
    ) -> LogInfo:
        """Create a log; its entry 0 records origin and key.

        The signing key is the one ``key_uri`` names (an operator's key) or, without
        it, a fresh one written to the key directory.

        Raises:
            BadData: the name or origin is malformed.
            Conflict: a log with this name or origin exists.
            NotAllowed, CouldNotCheck: the named key cannot be used.
        """
        if not _valid_log_name(name):
            raise BadData(f"log name {name!r}: use a-z, 0-9, '-' and '_'", field="name")
        check_key_name(origin)
        created = format_time(now)
        try:
            with self.write() as conn:
                log_id = conn.execute(
                    insert(logs).values(name=name, origin=origin, created_at=created)
                ).inserted_primary_key[0]  # type: ignore[index]
                conn.execute(insert(heads).values(
                    log_id=log_id, size=0, last_leaf=ZERO_HASH, frontier=b""))
                uri, signer = self._new_signer(name, origin, key_uri)
                conn.execute(insert(keys).values(
                    log_id=log_id, key_id=f"{signer.key_id:08x}", vkey=signer.verifier.vkey,
                    key_uri=uri, created_at=created))
                self.appender.append_in(conn, log_id, name, [prepare(NewEntry(
                    LOG_CREATED.name, "system",
                    {"origin": origin, "verifier_key": signer.verifier.vkey}), self.types)],
                    created)
        except IntegrityError as exc:
            raise Conflict(f"a log named {name!r} or with origin {origin!r} exists") from exc
        self._log_cache.pop(name, None)
        self.sign_checkpoint(name, now)
        return self.log(name)

    def _new_signer(self, name: str, origin: str, key_uri: str | None
                    ) -> tuple[str, LogSigner]:
        if key_uri is None:
            return self.keys.create(name, origin)
        return key_uri, self.keys.load(key_uri, origin)

    def ensure_log(
        self, name: str, origin: str, now: datetime, *, key_uri: str | None = None
    ) -> LogInfo:
        """The log ``name``, created if missing.

        Raises:
            Conflict: it exists with another origin.
        """
        try:
            info = self.log(name)
        except NotFound:
            try:
                return self.create_log(name, origin, now, key_uri=key_uri)
            except Conflict:
                # Another process (a sibling web worker) created it first: use theirs.
                info = self.log(name)
        if info.origin != origin:
            raise Conflict(f"log {name!r} exists with origin {info.origin!r}, not {origin!r}")
        return info

    def forget_log(self, name: str) -> None:
        """Drop this process's cached ``LogInfo`` of ``name`` (its keys changed)."""
        self._log_cache.pop(name, None)

    def log(self, name: str) -> LogInfo:
        """The log called ``name``.

        Raises:
            NotFound: no such log.
        """
        cached = self._log_cache.get(name)
        if cached is not None:
            return cached
        if not _valid_log_name(name):
            raise NotFound(f"no log named {name!r}", field="log")
        with self._read() as conn:
            row = conn.execute(select(logs).where(logs.c.name == name)).first()
            if row is None:
                raise NotFound(f"no log named {name!r}", field="log")
            vkeys = conn.execute(
                select(keys.c.vkey).where(keys.c.log_id == row.id).order_by(keys.c.id)
            ).scalars().all()
            sm2_rows = conn.execute(
                select(entries.c.data).where(entries.c.log_id == row.id,
                                             entries.c.entry_type == LOG_SM2_KEY_ADDED.name)
                .order_by(entries.c.idx)).scalars().all()
        sm2 = tuple(dict.fromkeys(json.loads(bytes(d))["body"]["verifier_key"]
                                  for d in sm2_rows))
        info = LogInfo(row.id, row.name, row.origin, tuple(vkeys), sm2)
        self._log_cache[name] = info
        return info

    def list_logs(self) -> list[LogInfo]:
        """Every log, by name."""
        with self._read() as conn:
            names = conn.execute(select(logs.c.name).order_by(logs.c.name)).scalars().all()
        return [self.log(n) for n in names]

    def _active_signer(self, conn: Connection, log: LogInfo) -> LogSigner:
        row = conn.execute(
            select(keys.c.key_uri).where(keys.c.log_id == log.id).order_by(keys.c.id.desc())
            .limit(1)
        ).one()
        return self.keys.load(row.key_uri, log.origin)

    def rotate_key(self, name: str, now: datetime, *, key_uri: str | None = None) -> LogInfo:
        """Make a new signing key current, record it in the log, sign a checkpoint.

        The new key is generated, or the operator's key ``key_uri`` names.  Old
        checkpoints keep verifying with the old public key, which stays listed.

        Raises:
            NotFound: no such log.
            Conflict: the named key is one the log has used already.
            NotAllowed, CouldNotCheck: the named key cannot be used.
        """
        log = self.log(name)
        created = format_time(now)
        with self.write() as conn:
            old = self._active_signer(conn, log)
            uri, signer = self._new_signer(name, log.origin, key_uri)
            if conn.execute(select(keys.c.id).where(
                    keys.c.log_id == log.id,
                    keys.c.key_id == f"{signer.key_id:08x}")).first() is not None:
                raise Conflict(f"key {signer.key_id:08x} has been used by log {name!r} "
                               "already; rotate to a new key", field="key")
            conn.execute(insert(keys).values(
                log_id=log.id, key_id=f"{signer.key_id:08x}", vkey=signer.verifier.vkey,
                key_uri=uri, created_at=created))
            self.appender.append_in(conn, log.id, name, [prepare(NewEntry(
                LOG_KEY_ADDED.name, "system",
                {"verifier_key": signer.verifier.vkey,
                 "reason": "rotated" if key_uri is None else "imported",
                 "previous_key_id": f"{old.key_id:08x}"}), self.types)], created)
        self._log_cache.pop(name, None)
        self.sign_checkpoint(name, now)
        return self.log(name)

    # -- appends ------------------------------------------------------------------

    def append(self, name: str, item: NewEntry, now: datetime) -> Receipt:
        """Append one entry durably; see ``append_batch``."""
        return self.append_batch(name, [item], now)[0]

    def append_batch(self, name: str, items: Sequence[NewEntry], now: datetime) -> list[Receipt]:
        """Append entries in one transaction: all are durable on return, or none is.

        An entry whose idempotency key was seen before is not appended again; its
        receipt is the original one, marked ``duplicate``.

        Raises:
            NotFound: no such log.
            BadData: an entry is invalid (nothing is written).
        """
        return self.append_prepared(name, [prepare(i, self.types) for i in items], now)

    def _refuse_if_read_only(self) -> None:
        """Raises NotAllowed: a read-only store (before any lock or statement)."""
        if self.read_only:
            raise NotAllowed("this process serves reads only: writes go to the writer")

    def append_prepared(
        self, name: str, prepared: Sequence[PreparedEntry], now: datetime
    ) -> list[Receipt]:
        """``append_batch`` for entries already checked by ``prepare``.

        Raises:
            NotAllowed: a read-only store.
        """
        self._refuse_if_read_only()
        log = self.log(name)
        time_text = format_time(now)
        return self.appender.append(log.id, name, prepared, time_text)

    @overload
    def execute(self, name: str, now: datetime, plan: Callable[[Connection], Planned[T]],
                project: Project, *, finish: Finish[T] | None = None) -> Executed[T]: ...

    @overload
    def execute(self, name: str, now: datetime, plan: Plan, project: Project
                ) -> Executed[None]: ...

    def execute(self, name: str, now: datetime,
                plan: Callable[[Connection], Sequence[NewEntry] | Planned[Any]],
                project: Project, *, finish: Finish[Any] | None = None) -> Executed[Any]:
        """Run a command: plan it under the log's write lock, append, project; durable.

        ``plan`` sees the state every earlier append left (appends to this log wait
        for the lock), so a check it makes holds when its entries land: two racing
        commands cannot both decide the same window.  It returns the entries to append,
        or a ``Planned`` of the entries and a value for the caller.  ``project``
        receives the entries actually appended (idempotent duplicates are skipped) and
        writes the tables the app reads; ``finish`` (for a ``Planned``) then sees the
        value and every receipt (duplicates included) in the same transaction, and
        returns the value answered; it is not called when there is nothing to append.
        The result holds the receipts and the value (``None`` for a plain plan).  Any
        error rolls the command back, and only the command.

        Group commit: commands that arrive while another thread of this process is
        committing to the same log wait, then run one after another, each in its own
        savepoint, inside one transaction with one durable commit.  Each caller returns
        only after that commit, with its own receipts or its own error.

        Raises:
            NotFound: no such log.
            NotAllowed: a read-only store.
            LedgerError: whatever ``plan`` or ``project`` raise; nothing is written.
        """
        self._refuse_if_read_only()
        log = self.log(name)
        cmd = Command(now, plan, project, finish)
        group = self._groups.setdefault(log.id, _Group())
        with group.cond:
            group.pending.append(cmd)
            while group.leading and not cmd.finished:
                group.cond.wait()
            if not cmd.finished:
                # Lead one group: this command and whatever queued behind the last one.
                group.leading = True
                batch = group.pending[:self.max_group]
                del group.pending[:self.max_group]
        if not cmd.finished:
            try:
                self._commit_group(batch, log, name)
            finally:
                with group.cond:
                    for c in batch:
                        c.finished = True
                    group.leading = False
                    group.cond.notify_all()
        if cmd.error is not None:
            raise cmd.error
        return Executed(cmd.receipts, cmd.value)

    def _commit_group(self, batch: list[Command], log: LogInfo, name: str) -> None:
        """Run ``batch`` in one transaction, each command in a savepoint; commit once."""
        self.largest_group = max(self.largest_group, len(batch))
        self.appender.commit_group(batch, log.id, name)

    # -- reads --------------------------------------------------------------------

    def head(self, name: str) -> TreeHead:
        """The current size and root of log ``name`` (unsigned).

        Raises:
            NotFound: no such log.
        """
        log = self.log(name)
        with self._read() as conn:
            row = conn.execute(select(heads.c.size, heads.c.frontier)
                               .where(heads.c.log_id == log.id)).one()
        return TreeHead(row.size, merkle.CompactRange.from_bytes(row.size, row.frontier).root())

    def entry(self, name: str, index: int) -> bytes:
        """The stored bytes of entry ``index``.

        Raises:
            NotFound: no such log or entry.
        """
        log = self.log(name)
        with self._read() as conn:
            data = conn.execute(select(entries.c.data).where(
                entries.c.log_id == log.id, entries.c.idx == index)).scalar()
        if data is None:
            raise NotFound(f"log {name!r} has no entry {index}", field="index")
        return bytes(data)

    def iter_entries(self, name: str, *, start: int = 0, chunk: int = 5000
                     ) -> Iterator[tuple[int, bytes]]:
        """Every entry from ``start`` on, in index order, read ``chunk`` at a time.

        Raises:
            NotFound: no such log.
        """
        log = self.log(name)
        nxt = start
        while True:
            with self._read() as conn:
                rows = conn.execute(
                    select(entries.c.idx, entries.c.data)
                    .where(entries.c.log_id == log.id, entries.c.idx >= nxt,
                           entries.c.idx < nxt + chunk)
                    .order_by(entries.c.idx)).all()
            if not rows:
                return
            for idx, data in rows:
                yield idx, bytes(data)
            nxt += chunk

    # -- checkpoints --------------------------------------------------------------

    def sign_checkpoint(
        self, name: str, now: datetime, *, min_interval_s: float = 0.0
    ) -> StoredCheckpoint:
        """Sign the current tree head with the log's active key, unless nothing changed.

        Returns the new checkpoint, or the latest one when the size and key are unchanged
        or when the latest is younger than ``min_interval_s`` (batching: at most one
        checkpoint per interval per log).

        Raises:
            NotFound: no such log.
            CouldNotCheck: the signing key cannot be loaded.
        """
        log = self.log(name)
        now_ms = int(now.timestamp() * 1000)

        def current(conn: Connection, *, lock: bool) -> tuple[StoredCheckpoint | None, Any,
                                                                LogSigner]:
            q = select(heads.c.size, heads.c.frontier).where(heads.c.log_id == log.id)
            if lock and not self._sqlite:
                q = q.with_for_update()
            head = conn.execute(q).one()  # first, so that the lock is taken first
            return self._latest_checkpoint(conn, log.id), head, self._active_signer(conn, log)

        def unchanged(latest: StoredCheckpoint | None, size: int, key_hex: str) -> bool:
            return latest is not None and (
                (latest.size == size and latest.key_id == key_hex)
                # A clock behind the last signer's (another host's, or stepped back)
                # must not stop signing: only a checkpoint really younger than the
                # interval is reused.
                or 0 <= now_ms - latest.signed_at_ms < min_interval_s * 1000)

        # Most calls (the scheduler's ticks) find nothing to do: decide that without
        # taking the write lock.
        with self._read() as conn:
            latest, head, signer = current(conn, lock=False)
        if latest is not None and unchanged(latest, head.size, f"{signer.key_id:08x}"):
            return latest
        # Sign under the log's head lock: no append and no other signer can interleave,
        # so checkpoints are stored in order of size and never go backwards.
        with self.write() as conn:
            latest, head, signer = current(conn, lock=True)
            key_hex = f"{signer.key_id:08x}"
            if latest is not None and unchanged(latest, head.size, key_hex):
                return latest
            root = merkle.CompactRange.from_bytes(head.size, head.frontier).root()
            signers: list[NoteSigner] = [signer]
            sm2 = self.sm2_signers.get(name)
            if sm2 is not None:  # the 国密 option's second line (ledger.sm2)
                signers.append(sm2)
            note = Checkpoint(log.origin, head.size, root).sign(signers)
            conn.execute(insert(checkpoints).values(
                log_id=log.id, size=head.size, root=root, key_id=key_hex, note=note,
                signed_at_ms=now_ms))
        return StoredCheckpoint(head.size, root, key_hex, note, now_ms)

    @staticmethod
    def _latest_checkpoint(conn: Connection, log_id: int) -> StoredCheckpoint | None:
        row = conn.execute(
            select(checkpoints).where(checkpoints.c.log_id == log_id)
            .order_by(checkpoints.c.id.desc()).limit(1)
        ).first()
        if row is None:
            return None
        return StoredCheckpoint(row.size, row.root, row.key_id, row.note, row.signed_at_ms)

    def latest_checkpoint(self, name: str) -> StoredCheckpoint:
        """The most recently signed checkpoint of log ``name``.

        Raises:
            NotFound: no such log, or it has no checkpoint yet.
        """
        log = self.log(name)
        with self._read() as conn:
            cp = self._latest_checkpoint(conn, log.id)
        if cp is None:
            raise NotFound(f"log {name!r} has no checkpoint yet")
        return cp

    def checkpoint_history(self, name: str) -> list[StoredCheckpoint]:
        """Every checkpoint of log ``name``, oldest first."""
        log = self.log(name)
        with self._read() as conn:
            rows = conn.execute(select(checkpoints).where(checkpoints.c.log_id == log.id)
                                .order_by(checkpoints.c.id)).all()
        return [StoredCheckpoint(r.size, r.root, r.key_id, r.note, r.signed_at_ms) for r in rows]

    def verifiers(self, name: str) -> list[Ed25519Verifier]:
        """Verifiers for every key log ``name`` has used."""
        return [Ed25519Verifier.from_vkey(v) for v in self.log(name).verifier_keys]

    # -- tiles and proofs ---------------------------------------------------------

    def _size(self, conn: Connection, log_id: int) -> int:
        return int(conn.execute(select(heads.c.size).where(heads.c.log_id == log_id)).scalar_one())

    def _tile_hashes(
        self, conn: Connection, log_id: int, base: int, tile: int, width: int, size: int
    ) -> list[bytes]:
        """Hashes at tree level ``base`` of one tile, from the cache when it is full."""
        full = (size >> base) >= (tile + 1) * TILE_WIDTH
        key = (log_id, base, tile)
        if full:
            cached = self._tiles.get(key)
            if cached is not None:
                return cached[:width]
        # A full tile is read whole (and cached) even when fewer hashes were asked for.
        read = TILE_WIDTH if full else width
        lo = tile * TILE_WIDTH
        got = base_hashes(conn, log_id, base, lo, lo + read)
        if len(got) != read:
            raise CouldNotCheck(
                f"storage is missing hashes at level {base} in [{lo}, {lo + read}): "
                "the database was altered; run `absentia verify` on an export"
            )
        if full:
            self._tiles.put(key, got)
        return got[:width]

    def _nodes(
        self, conn: Connection, log_id: int, size: int, wanted: Sequence[tuple[int, int]]
    ) -> dict[tuple[int, int], bytes]:
        """Hashes of perfect subtrees (level, index), reading each tile at most once."""
        by_tile: dict[tuple[int, int], int] = {}
        for level, idx in wanted:
            base = level - level % TILE_HEIGHT
            first = idx << (level - base)
            t = first // TILE_WIDTH
            end = (first + (1 << (level - base))) - t * TILE_WIDTH
            by_tile[(base, t)] = max(by_tile.get((base, t), 0), end)
        tiles = {
            k: self._tile_hashes(conn, log_id, k[0], k[1], w, size) for k, w in by_tile.items()
        }
        out: dict[tuple[int, int], bytes] = {}
        for level, idx in wanted:
            base = level - level % TILE_HEIGHT
            r = level - base
            first = idx << r
            t = first // TILE_WIDTH
            off = first - t * TILE_WIDTH
            out[(level, idx)] = merkle.root_of_perfect(tiles[(base, t)][off : off + (1 << r)])
        return out

    def _checked_size(self, conn: Connection, log_id: int, size: int, what: str) -> int:
        current = self._size(conn, log_id)
        if size > current:
            raise BadData(f"{what}: {size} is beyond the log's size {current}", field=what)
        return current

    def inclusion_proof(self, name: str, index: int, size: int) -> list[bytes]:
        """Audit path of entry ``index`` in the tree of ``size`` entries (RFC 9162 §2.1.3).

        Raises:
            NotFound: no such log.
            BadData: index or size out of range.
        """
        log = self.log(name)
        if not 0 <= index < size:
            raise BadData(f"index: {index} is not below size {size}", field="index")
        with self._read() as conn:
            current = self._checked_size(conn, log.id, size, "size")
            return merkle.inclusion_path(
                index, size, lambda wanted: self._nodes(conn, log.id, current, wanted))

    def consistency_proof(self, name: str, old: int, new: int) -> list[bytes]:
        """Consistency proof between sizes ``old`` and ``new`` (RFC 9162 §2.1.4).

        Raises:
            NotFound: no such log.
            BadData: sizes out of order or beyond the log.
        """
        log = self.log(name)
        if not 0 <= old <= new:
            raise BadData(f"old: {old} must be between 0 and new ({new})", field="old")
        with self._read() as conn:
            current = self._checked_size(conn, log.id, new, "new")
            return merkle.consistency_path(
                old, new, lambda wanted: self._nodes(conn, log.id, current, wanted))

    def tlog_proof(self, name: str, index: int) -> TlogProof:
        """A C2SP tlog-proof of entry ``index`` under the latest checkpoint.

        Raises:
            NotFound: no such log, or the entry is not yet covered by a checkpoint.
        """
        cp = self.latest_checkpoint(name)
        if not 0 <= index < cp.size:
            raise NotFound(
                f"entry {index} is not covered by the latest checkpoint (size {cp.size}); "
                "retry after the next checkpoint", field="index")
        path = self.inclusion_proof(name, index, cp.size)
        return TlogProof(index, tuple(path), cp.note)

    def tile(self, name: str, ref: TileRef, *, strict: bool = True) -> bytes:
        """The bytes of a hash tile or entry bundle, as stored.

        With ``strict`` (serving), a tile whose rows are missing raises; without it
        (export), whatever the database holds is returned, for the verifier to judge.

        Raises:
            NotFound: no such log, or the tile lies beyond the tree.
            CouldNotCheck: strict, and rows are missing from storage.
        """
        log = self.log(name)
        with self._read() as conn:
            size = self._size(conn, log.id)
            base = 0 if ref.level is None else ref.level * TILE_HEIGHT
            available = size >> base
            end = ref.index * TILE_WIDTH + ref.width
            if end > available:
                raise NotFound(f"{ref.path()} is beyond the tree (size {size})", field="path")
            if ref.level is not None and strict:
                return b"".join(self._tile_hashes(conn, log.id, base, ref.index, ref.width, size))
            data, rows = stored_tile(conn, log.id, ref)
            if strict and rows != ref.width:
                lo = ref.index * TILE_WIDTH
                raise CouldNotCheck(f"storage is missing entries in [{lo}, {end})")
            return data


__all__ = ["Appended", "Executed", "Finish", "LedgerStore", "LogInfo", "NewEntry", "Plan",
           "Planned", "PreparedEntry", "Project", "Receipt", "StoredCheckpoint", "TreeHead",
           "prepare", "stored_tile"]
