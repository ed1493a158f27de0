"""The auditor's offline verifier: ``absentia verify PREFIX``.

Reads a log published as C2SP tlog-tiles (an exported directory or an http(s) URL
prefix) and checks, trusting nothing but the verifier keys it is given:

* the checkpoint's signature (signed-note; unknown keys ignored); given an SM2 key
  (the 国密 option, ``ledger.sm2``), its SM2-with-SM3 line too, which must be there;
* every entry: its leaf hash against the level-0 tile, RFC 8785 canonical form, the
  envelope, ``index`` equal to its position and ``prev`` equal to the previous leaf hash;
* every hash tile above level 0 against the tiles below it, and the root;
* with ``--old``, that an older trusted checkpoint is a prefix of this one (no rollback,
  no fork);
* with ``--witness VKEY``... ``--witnesses-required K``, that the checkpoint carries K
  valid C2SP tlog-cosignature v1 cosignatures by those witnesses;
* with ``--policy FILE`` (a C2SP tlog-policy), that the checkpoint's valid cosignatures
  satisfy the policy's quorum, and, when the policy lists logs, that one of them signed
  it under its own origin (``--witness``/``--witnesses-required`` are the k-of-n policy).

It exits 0 only if all holds, and otherwise names the first bad index.  Dependencies:
the standard library, ``cryptography`` and ``rfc8785`` (through ``ledger.jcs``) only —
no Flask, no SQLAlchemy, no database; ``tongsuopy`` only when an SM2 key is given.
"""

from __future__ import annotations

import base64
import gzip
import http.client
import sys
import time
import urllib.parse
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from ledger import jcs, merkle
from ledger.checkpoint import Checkpoint
from ledger.entry import ACTOR_RE, ENTRY_KEYS, TYPE_RE, ZERO_HASH, Entry, check_time
from ledger.errors import BadData, CouldNotCheck, NotFound, VerificationError
from ledger.note import NoteVerifier, SignedNote
from ledger.tiles import (
    TILE_HEIGHT,
    TILE_WIDTH,
    TileRef,
    bundles_for_size,
    decode_bundle,
    split_tile,
    tiles_for_size,
)


class Source(Protocol):
    """Where the tlog-tiles resources come from."""

    def get(self, path: str) -> bytes:
        """The bytes at ``path`` below the prefix; raises NotFound or CouldNotCheck."""
        ...


class DirectorySource:
    """An exported tlog-tiles directory."""

    def __init__(self, root: Path) -> None:
        if not root.is_dir():
            raise CouldNotCheck(f"{root} is not a directory")
        self.root = root

    def get(self, path: str) -> bytes:
        try:
            return (self.root / path).read_bytes()
        except FileNotFoundError:
            raise NotFound(f"{path} is missing from {self.root}") from None
        except OSError as exc:
            raise CouldNotCheck(f"cannot read {self.root / path}: {exc}") from exc


class HttpSource:
    """A tlog-tiles URL prefix, read over one persistent HTTP(S) connection."""

    def __init__(self, prefix: str, timeout: float = 30.0) -> None:
        url = urllib.parse.urlsplit(prefix)
        if url.scheme not in ("http", "https") or not url.netloc:
            raise CouldNotCheck(f"{prefix} is not an http(s) URL")
        self.url = url
        self.base = url.path.rstrip("/")
        self.timeout = timeout
        self._conn: http.client.HTTPConnection | None = None

    def _connect(self) -> http.client.HTTPConnection:
        if self._conn is None:
            cls = (http.client.HTTPSConnection if self.url.scheme == "https"
                   else http.client.HTTPConnection)
            self._conn = cls(self.url.netloc, timeout=self.timeout)
        return self._conn

    def get(self, path: str) -> bytes:
        for attempt in range(3):
            conn = self._connect()
            try:
                conn.request("GET", f"{self.base}/{path}",
                             headers={"Accept-Encoding": "gzip, identity"})
                resp = conn.getresponse()
                body = resp.read()
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                self._conn = None
                if attempt == 2:
                    raise CouldNotCheck(f"cannot fetch {path}: {exc}") from exc
                time.sleep(0.2 * (attempt + 1))
                continue
            if resp.status == 404:
                raise NotFound(f"{path}: 404 Not Found")
            if resp.status != 200:
                raise CouldNotCheck(f"{path}: HTTP {resp.status}")
            if resp.getheader("Content-Encoding", "").lower() == "gzip":
                body = gzip.decompress(body)
            return body
        raise CouldNotCheck(f"cannot fetch {path}")


def open_source(prefix: str) -> Source:
    """A DirectorySource or an HttpSource for ``prefix``."""
    if prefix.startswith(("http://", "https://")):
        return HttpSource(prefix)
    return DirectorySource(Path(prefix))


@dataclass(frozen=True)
class BundleResult:
    """What one entry bundle gave.

    ``leaves`` holds every leaf hash checked when the caller asked for them (a partial
    bundle, or one that an older checkpoint's size cuts); otherwise a full bundle gives
    only ``subtree``, its level-8 Merkle root, so the caller adds one node, not 256.
    """

    checked: int
    leaves: list[bytes] | None
    subtree: bytes | None
    first_prev: str | None  # as written in the bundle's first entry
    last_leaf: bytes | None
    error: tuple[int, str] | None


def _entry_fault(obj: Any) -> str:
    try:
        Entry.from_json(obj)
    except BadData as exc:
        return str(exc)
    return "entry envelope is malformed"


def check_bundle(
    start: int, width: int, bundle: bytes, tile: bytes, keep_leaves: bool = False
) -> BundleResult:
    """Check one entry bundle against its level-0 tile (pure; runs in worker processes).

    Checks each entry's leaf hash, RFC 8785 form, envelope, index and (inside the
    bundle) prev.  The link to the previous bundle is checked by the caller.
    """
    leaves: list[bytes] = []

    def result(error: tuple[int, str] | None = None) -> BundleResult:
        full = error is None and width == TILE_WIDTH and not keep_leaves
        return BundleResult(
            len(leaves), None if full else leaves,
            merkle.root_of_perfect(leaves) if full else None,
            first_prev, leaves[-1] if leaves else None, error)

    first_prev: str | None = None
    try:
        raws = decode_bundle(bundle)
    except BadData as exc:
        return result((start, f"entry bundle is malformed: {exc}"))
    try:
        hashes = split_tile(tile)
    except BadData as exc:
        return result((start, f"level-0 tile is malformed: {exc}"))
    leaf_hash = merkle.leaf_hash
    b64 = base64.b64encode
    parse, is_canonical = jcs.parse, jcs.is_canonical
    # Most entries of a bundle share their time, type and actor: check each value once.
    valid: set[tuple[str, Any]] = set()
    expected_prev = ""
    for j in range(width):
        i = start + j
        if j >= len(raws):
            return result((i, f"entry {i} is missing (the bundle ends after {len(raws)})"))
        raw = raws[j]
        lh = leaf_hash(raw)
        if j >= len(hashes) or hashes[j] != lh:
            return result((i, f"entry {i} does not hash to the leaf in its level-0 tile: "
                              "altered entry"))
        try:
            obj = parse(raw)
        except BadData as exc:
            return result((i, f"entry {i}: {exc}"))
        if not is_canonical(raw, obj):
            return result((i, f"entry {i}: bytes are not RFC 8785 canonical JSON"))
        if type(obj) is not dict or obj.keys() != ENTRY_KEYS or type(obj["body"]) is not dict:
            return result((i, f"entry {i}: {_entry_fault(obj)}"))
        index = obj["index"]
        if type(index) is not int:
            return result((i, f"entry {i}: {_entry_fault(obj)}"))
        if index != i:
            # An entry claiming a later index means one is missing here; an earlier
            # index means the entry before it (claiming that index) was inserted.
            return result((min(i, index), f"entry at position {i} claims index {index}: "
                                          "entries were removed, inserted or reordered"))
        for key in ("time", "type", "actor"):
            if (key, obj[key]) not in valid:
                fault = _entry_fault(obj) if not _field_ok(key, obj[key]) else None
                if fault is not None:
                    return result((i, f"entry {i}: {fault}"))
                valid.add((key, obj[key]))
        if j == 0:
            first_prev = obj["prev"]
        elif obj["prev"] != expected_prev:
            return result((i - 1, f"hash chain broken: entry {i}'s prev is not the leaf hash "
                                  f"of entry {i - 1} (entry {i - 1} altered, or an entry "
                                  f"inserted before {i})"))
        leaves.append(lh)
        expected_prev = b64(lh).decode()
    if len(raws) > width:
        return result((start + width,
                       f"entry bundle holds {len(raws)} entries, expected {width}"))
    if len(hashes) > width:
        return result((start + width,
                       f"level-0 tile holds {len(hashes)} hashes, expected {width}"))
    return result()


def _field_ok(key: str, value: Any) -> bool:
    if not isinstance(value, str):
        return False
    if key == "time":
        try:
            check_time(value)
        except BadData:
            return False
        return True
    pattern = TYPE_RE if key == "type" else ACTOR_RE
    return pattern.fullmatch(value) is not None


def check_bundles(jobs: list[tuple[int, int, bytes, bytes, bool]]) -> list[BundleResult]:
    """``check_bundle`` over several bundles: one round trip to a worker for all of them."""
    return [check_bundle(*job) for job in jobs]


@dataclass
class VerifyReport:
    """What a successful verification established."""

    origin: str
    size: int
    root: bytes
    signed_by: list[str]
    entries: int = 0
    tiles: int = 0
    old_size: int | None = None
    seconds: float = 0.0
    types: dict[str, int] = field(default_factory=dict)


Progress = Callable[[int, int], None]


def _bundle_jobs(
    source: Source, size: int, cut: int | None
) -> Iterator[tuple[int, int, bytes, bytes, bool]]:
    for ref in bundles_for_size(size):
        start = ref.index * TILE_WIDTH
        bundle = source.get(ref.path())
        tile = source.get(TileRef(0, ref.index, ref.width).path())
        yield start, ref.width, bundle, tile, cut is not None and start < cut < start + ref.width


# Bundles per worker task: fewer, larger round trips between processes.
_CHUNK = 8


def verify_log(
    source: Source,
    verifiers: Sequence[NoteVerifier],
    *,
    old_checkpoint: str | bytes | None = None,
    origin: str | None = None,
    progress: Progress | None = None,
    jobs: int = 1,
) -> VerifyReport:
    """Verify a whole log from ``source``; see the module docstring.

    Raises:
        VerificationError: something does not hold (``.index`` names the first bad
            entry when the fault can be pinned to one).
        BadData: a resource is malformed.
        NotFound, CouldNotCheck: a resource could not be read.
    """
    started = time.perf_counter()
    if not verifiers:
        raise CouldNotCheck("no verifier keys given: pass --key or --keys")
    note = SignedNote.parse(source.get("checkpoint"))
    signed_by = note.verify(verifiers)
    require_sm2(verifiers, signed_by)
    cp = Checkpoint.from_body(note.text)
    if origin is not None and cp.origin != origin:
        raise VerificationError(f"checkpoint origin is {cp.origin!r}, expected {origin!r}")
    old: Checkpoint | None = None
    if old_checkpoint is not None:
        old = Checkpoint.open(old_checkpoint, verifiers)  # older ones may lack an SM2 line
        if old.origin != cp.origin:
            raise VerificationError(f"old checkpoint is of log {old.origin!r}, not {cp.origin!r}")
        if old.size > cp.size:
            raise VerificationError(
                f"rollback: the log now has {cp.size} entries but an older checkpoint "
                f"already had {old.size}", index=cp.size)
        if old.size == 0 and old.root != merkle.EMPTY_ROOT:
            raise VerificationError("old checkpoint of size 0 has a non-empty root")

    report = VerifyReport(cp.origin, cp.size, cp.root,
                          [f"{v.name}+{v.key_id:08x}"
                           + (" (SM2-SM3)" if is_sm2(v) else "")
                           for v in signed_by],
                          old_size=None if old is None else old.size)
    acc = merkle.CompactRange()
    # Hashes at tile levels 8, 16, ... as the entries imply them, to check hash tiles.
    implied: dict[int, list[bytes]] = {}
    prev = ZERO_HASH
    done = 0

    def record(completed: list[tuple[int, int, bytes]]) -> None:
        for level, _idx, h in completed:
            if level % TILE_HEIGHT == 0:
                implied.setdefault(level, []).append(h)

    def check_old() -> None:
        if old is not None and acc.size == old.size and acc.root() != old.root:
            raise VerificationError(
                f"fork: the first {old.size} entries do not have the root of the older "
                "checkpoint", index=old.size - 1)

    def absorb(start: int, result: BundleResult) -> None:
        nonlocal prev, done
        if result.first_prev is not None and result.first_prev != \
                base64.b64encode(prev).decode():
            raise VerificationError(
                f"hash chain broken: entry {start}'s prev is not the leaf hash of entry "
                f"{start - 1}", index=max(start - 1, 0))
        if result.subtree is not None:
            implied.setdefault(TILE_HEIGHT, []).append(result.subtree)
            record(acc.append_subtree(TILE_HEIGHT, result.subtree))
            check_old()
        for lh in result.leaves or ():
            record(acc.append(lh))
            check_old()
        if result.error is not None:
            raise VerificationError(result.error[1], index=result.error[0])
        if result.last_leaf is not None:
            prev = result.last_leaf
        done += result.checked
        if progress is not None:
            progress(done, cp.size)

    cut = None if old is None else old.size
    if jobs > 1 and cp.size > 4 * TILE_WIDTH:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            pending: list[tuple[list[int], Future[list[BundleResult]]]] = []
            chunk: list[tuple[int, int, bytes, bytes, bool]] = []

            def drain(limit: int) -> None:
                while len(pending) > limit:
                    starts, fut = pending.pop(0)
                    for s, res in zip(starts, fut.result(), strict=True):
                        absorb(s, res)

            for job in _bundle_jobs(source, cp.size, cut):
                chunk.append(job)
                if len(chunk) == _CHUNK:
                    pending.append(([j[0] for j in chunk], pool.submit(check_bundles, chunk)))
                    chunk = []
                    drain(2 * jobs)
            if chunk:
                pending.append(([j[0] for j in chunk], pool.submit(check_bundles, chunk)))
            drain(0)
    else:
        for job in _bundle_jobs(source, cp.size, cut):
            absorb(job[0], check_bundle(*job))
    if old is not None and old.size == 0 and cp.size == 0 and old.root != cp.root:
        raise VerificationError("old and new empty checkpoints differ")

    for ref in tiles_for_size(cp.size):
        if ref.level == 0 or ref.level is None:
            continue
        got = split_tile(source.get(ref.path()))
        want = implied.get(ref.level * TILE_HEIGHT, [])
        lo = ref.index * TILE_WIDTH
        want = want[lo : lo + ref.width]
        span = TILE_WIDTH ** ref.level
        for k in range(ref.width):
            if k >= len(got) or k >= len(want) or got[k] != want[k]:
                first = (lo + k) * span
                raise VerificationError(
                    f"hash tile {ref.path()} does not match entries {first}..{first + span - 1}",
                    index=first)
        if len(got) != ref.width:
            raise VerificationError(f"hash tile {ref.path()} has {len(got)} hashes, "
                                    f"expected {ref.width}")
        report.tiles += 1
    if acc.root() != cp.root:
        raise VerificationError(
            f"the {cp.size} entries do not have the checkpoint's root: the log was altered "
            "after it was signed", index=cp.size - 1 if cp.size else None)
    report.entries = done
    report.tiles += sum(1 for _ in bundles_for_size(cp.size))
    report.seconds = time.perf_counter() - started
    return report


class _PinnedCheckpoint:
    """A source whose ``checkpoint`` is read once and then kept."""

    def __init__(self, inner: Source) -> None:
        self.inner = inner
        self.checkpoint: bytes | None = None

    def get(self, path: str) -> bytes:
        if path != "checkpoint":
            return self.inner.get(path)
        if self.checkpoint is None:
            self.checkpoint = self.inner.get(path)
        return self.checkpoint


def is_sm2(v: NoteVerifier) -> bool:
    """Whether ``v`` checks SM2-with-SM3 lines (``ledger.sm2.SM2Verifier``; told by its
    ``algorithm``, so this core needs no SM2 library)."""
    return getattr(v, "algorithm", "") == "sm2-sm3"


def require_sm2(verifiers: Sequence[NoteVerifier], signed_by: Sequence[NoteVerifier]) -> None:
    """Given SM2 keys, one of them must have signed (a stripped SM2 line is a failure).

    Raises:
        VerificationError: SM2 keys were given but none signed.
    """
    sm2 = [v for v in verifiers if is_sm2(v)]
    if sm2 and not any(is_sm2(v) for v in signed_by):
        names = ", ".join(f"{v.name}+{v.key_id:08x}" for v in sm2)
        raise VerificationError(f"the checkpoint carries no SM2 signature by {names}")


class _TerminalProgress:
    def __init__(self) -> None:
        self.last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.last < 0.2 and done != total:
            return
        self.last = now
        pct = 100.0 * done / total if total else 100.0
        sys.stderr.write(f"\rverifying entries: {done:,}/{total:,} ({pct:5.1f}%)")
        if done == total:
            sys.stderr.write("\n")
        sys.stderr.flush()
