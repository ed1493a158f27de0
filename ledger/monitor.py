"""The log monitor's core: follow a tlog-tiles log from the last checkpoint it trusted.

``advance(state, source, trust, now=...)`` reads the log's current checkpoint and, if it
is new, checks it against the trusted state and reads only the entries added since:

* the checkpoint's signature by a trusted key (signed-note), and the witness
  cosignatures (``witness_cosigners`` gives the set of witnesses whose cosignature
  verifies; ``quorum_met`` is the separate k-of-n decision, so a C2SP tlog-policy can
  replace it);
* that the new tree extends the trusted one: the trusted tree's right edge (its compact
  range, and the hashes of its partial tiles) plus the new leaves must give the new
  root, the entries the monitor already trusted that are re-read (the partial bundle)
  must be unchanged, and the first new entry's ``prev`` must be the last trusted leaf;
* every new entry, as ``absentia verify`` checks it (``ledger.verify.check_bundle``:
  leaf hash against its level-0 tile, RFC 8785, envelope, index, prev chain), and every
  hash tile above level 0 that the new entries touch.

It returns an ``Outcome`` (the new state, or the unchanged one, and the alerts).  A
fork, a rollback or any failed check NEVER replaces the trusted state.  Time is a
parameter (unix seconds); this module does no I/O but the ``Source`` reads: the state
files, alert channels and the loop are in ``ledger.monitor_run``.  Dependencies: the
standard library and ``cryptography`` (through the core), like the verifier.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ledger import merkle
from ledger.checkpoint import Checkpoint
from ledger.entry import ZERO_HASH
from ledger.errors import BadData, CouldNotCheck, LedgerError, NotFound, VerificationError
from ledger.note import NoteVerifier, SignedNote
from ledger.tiles import TILE_HEIGHT, TILE_WIDTH, TileRef, split_tile
from ledger.verify import Source, check_bundle, require_sm2
from ledger.witness.cosig import CosignatureV1Verifier, verify_cosignatures

#: Alert kinds, most severe first (the order picks the exit status of ``--once``).
FORK = "fork"  # same size and another root, or a larger tree that does not extend ours
ROLLBACK = "rollback"  # the log shows fewer entries than a checkpoint already trusted
SIGNATURE = "signature"  # no valid signature by a trusted key, or not a checkpoint of this log
ENTRY = "entry"  # a new entry or hash tile does not decode or does not check
WITNESS = "witness"  # fewer valid witness cosignatures than the quorum
STALE = "stale"  # no new tree for longer than --stale-after
UNREACHABLE = "unreachable"  # the checkpoint or a tile could not be read
KINDS = (FORK, ROLLBACK, SIGNATURE, ENTRY, WITNESS, STALE, UNREACHABLE)

STATE_VERSION = 1

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Trust:
    """What a log is checked against: its keys, origin, witnesses and quorum."""

    verifiers: Sequence[NoteVerifier]
    origin: str | None = None
    witnesses: Sequence[CosignatureV1Verifier] = ()
    witnesses_required: int = 0
    stale_after: float | None = None  # seconds; None: never stale
    old: str | None = None  # a signed checkpoint obtained independently: the first pass
    # must extend it (else the first checkpoint seen is trusted on first use)
    # Decides from the set of witness vkeys that cosigned (e.g. a C2SP tlog-policy's
    # groups); None: ``quorum_met(cosigners, witnesses_required)``.
    quorum: Callable[[frozenset[str]], bool] | None = None

    def quorum_holds(self, cosigners: frozenset[str]) -> bool:
        """Whether the witnesses that cosigned satisfy this log's witness policy."""
        if self.quorum is not None:
            return self.quorum(cosigners)
        return quorum_met(cosigners, self.witnesses_required)


@dataclass(frozen=True)
class LogState:
    """The monitor's trusted view of one log (kept on disk as JSON between passes).

    ``edges[L]`` holds the hashes of the incomplete tile at level L (level 0: leaf
    hashes of the partial bundle), which is what new entries need; ``frontier`` is the
    compact range of the trusted tree.
    """

    checkpoint: str  # the trusted signed note, verbatim
    size: int
    root: bytes
    last_leaf: bytes  # ZERO_HASH for an empty log
    frontier: tuple[bytes, ...]
    edges: tuple[tuple[bytes, ...], ...]
    checked: int  # entries this monitor has checked itself
    tree_seen_at: float  # unix seconds the monitor first saw this (size, root)
    last_ok: float  # unix seconds of the last pass with no alert
    fresh_at: float = 0.0  # newest trusted cosignature time, else tree_seen_at

    @classmethod
    def empty(cls, now: float) -> LogState:
        """The state before the first pass: the empty tree (every entry is checked)."""
        return cls("", 0, merkle.EMPTY_ROOT, ZERO_HASH, (), (), 0, now, 0.0, now)

    def to_json(self) -> dict[str, Any]:
        """A JSON object (hashes in base64)."""
        def b64(h: bytes) -> str:
            return base64.b64encode(h).decode()
        return {"version": STATE_VERSION, "checkpoint": self.checkpoint, "size": self.size,
                "root": b64(self.root), "last_leaf": b64(self.last_leaf),
                "frontier": [b64(h) for h in self.frontier],
                "edges": [[b64(h) for h in level] for level in self.edges],
                "checked": self.checked, "tree_seen_at": self.tree_seen_at,
                "last_ok": self.last_ok, "fresh_at": self.fresh_at}

    @classmethod
    def from_json(cls, obj: Any) -> LogState:
        """Parse ``to_json`` output.

        Raises:
            BadData: not a state object of this version, or a field is malformed.
        """
        try:
            if obj["version"] != STATE_VERSION:
                raise BadData(f"state version {obj['version']!r} is not {STATE_VERSION}")

            def h(text: Any) -> bytes:
                raw = base64.b64decode(text, validate=True)
                if len(raw) != merkle.HASH_SIZE:
                    raise BadData("a hash in the state is not 32 bytes")
                return raw
            state = cls(str(obj["checkpoint"]), int(obj["size"]), h(obj["root"]),
                        h(obj["last_leaf"]), tuple(h(x) for x in obj["frontier"]),
                        tuple(tuple(h(x) for x in lv) for lv in obj["edges"]),
                        int(obj["checked"]), float(obj["tree_seen_at"]), float(obj["last_ok"]),
                        float(obj["fresh_at"]))
        except (KeyError, TypeError, ValueError, binascii.Error) as exc:
            raise BadData(f"monitor state is malformed: {exc}") from exc
        if len(state.frontier) != state.size.bit_count():
            raise BadData("monitor state: the frontier does not match the size")
        return state


@dataclass(frozen=True)
class Alert:
    """One thing the auditor must look at."""

    kind: str  # one of KINDS
    message: str
    index: int | None = None  # the first bad entry, when known


@dataclass
class Outcome:
    """The result of one pass over one log."""

    state: LogState  # the trusted state after the pass (unchanged on any failure)
    alerts: list[Alert] = field(default_factory=list)
    seen_size: int | None = None  # the size of the checkpoint read, even if not trusted
    new_entries: int = 0  # entries checked in this pass
    checked_from: int = 0  # the first entry index checked in this pass
    cosigners: frozenset[str] = frozenset()

    @property
    def ok(self) -> bool:
        return not self.alerts


def witness_cosigners(note_text: str | bytes,
                      witnesses: Sequence[CosignatureV1Verifier]) -> frozenset[str]:
    """The vkeys of the ``witnesses`` whose cosignature on the signed note verifies.

    A cosignature line by a trusted witness that does not verify counts as absent.

    Raises:
        BadData: the note is malformed.
    """
    note = SignedNote.parse(note_text)
    good: set[str] = set()
    for w in witnesses:
        try:
            if verify_cosignatures(note, [w]):
                good.add(w.vkey)
        except VerificationError:
            continue
    return frozenset(good)


def quorum_met(cosigners: frozenset[str], required: int) -> bool:
    """k-of-n: at least ``required`` distinct trusted witnesses cosigned."""
    return len(cosigners) >= required


def _newest_cosignature(note: SignedNote, witnesses: Sequence[CosignatureV1Verifier]) -> float:
    newest = 0.0
    for w in witnesses:
        try:
            for c in verify_cosignatures(note, [w]):
                newest = max(newest, float(c.timestamp))
        except VerificationError:
            continue
    return newest


class _Fork(Exception):
    def __init__(self, message: str, index: int | None = None) -> None:
        super().__init__(message)
        self.index = index


def advance(state: LogState, source: Source, trust: Trust, *, now: float,
            progress: Progress | None = None) -> Outcome:
    """One pass: read the checkpoint and check what is new since ``state``.

    Never raises for what the log serves (every fault is an ``Alert``); raises only
    ``CouldNotCheck`` when ``trust`` has no verifier key.
    """
    if not trust.verifiers:
        raise CouldNotCheck("no verifier keys for the log: pass --key or --keys")
    out = Outcome(state)
    try:
        raw = source.get("checkpoint")
    except (NotFound, CouldNotCheck) as exc:
        out.alerts.append(Alert(UNREACHABLE, f"cannot read the checkpoint: {exc}"))
        return out
    try:
        note = SignedNote.parse(raw)
        # Given an SM2 key (the 国密 option), its line must be there: a stripped one fails.
        require_sm2(trust.verifiers, note.verify(list(trust.verifiers)))
        cp = Checkpoint.from_body(note.text)
    except (BadData, VerificationError) as exc:
        out.alerts.append(Alert(SIGNATURE, f"the checkpoint is not validly signed by a "
                                           f"trusted key: {exc}"))
        return out
    if trust.origin is not None and cp.origin != trust.origin:
        out.alerts.append(Alert(SIGNATURE, f"the checkpoint is of log {cp.origin!r}, "
                                           f"expected {trust.origin!r}"))
        return out
    out.seen_size = cp.size
    if state.checkpoint:
        trusted = Checkpoint.from_body(SignedNote.parse(state.checkpoint).text)
        if cp.origin != trusted.origin:
            out.alerts.append(Alert(SIGNATURE, f"the checkpoint is of log {cp.origin!r}, "
                                               f"but {trusted.origin!r} was trusted"))
            return out
    anchor: Checkpoint | None = None
    if not state.checkpoint and trust.old is not None:
        try:
            anchor = Checkpoint.open(trust.old, list(trust.verifiers))
        except (BadData, VerificationError) as exc:
            raise CouldNotCheck(f"the --old checkpoint does not verify: {exc}") from exc
        if anchor.origin != cp.origin:
            out.alerts.append(Alert(SIGNATURE, f"the checkpoint is of log {cp.origin!r}, "
                                               f"the --old one of {anchor.origin!r}"))
            return out
        if cp.size < anchor.size:
            out.alerts.append(Alert(ROLLBACK, f"rollback: the log now shows {cp.size} "
                                              f"entries, the --old checkpoint {anchor.size}",
                                    index=cp.size))
            return out
        if cp.size == anchor.size and cp.root != anchor.root:
            out.alerts.append(Alert(FORK, f"fork: a checkpoint of the --old checkpoint's size "
                                          f"{cp.size} with another root",
                                    index=max(cp.size - 1, 0)))
            return out
    if cp.size < state.size:
        out.alerts.append(Alert(ROLLBACK, f"rollback: the log now shows {cp.size} entries, "
                                          f"but a checkpoint of {state.size} was trusted",
                                index=cp.size))
        return out
    if cp.size == state.size and cp.root != state.root:
        out.alerts.append(Alert(FORK, f"fork: a checkpoint of the same size {cp.size} with "
                                      "another root than the trusted one",
                                index=max(cp.size - 1, 0)))
        return out
    text = note.to_text()
    cosigners = witness_cosigners(text, trust.witnesses) if trust.witnesses else frozenset()
    out.cosigners = cosigners
    if not trust.quorum_holds(cosigners):
        if cp.size > state.size and _forks(state, source, cp, anchor, out):
            return out  # the log's own signature proves a fork: no witness is needed
        out.alerts.append(Alert(WITNESS, f"the checkpoint of size {cp.size} has "
                                         f"{len(cosigners)} valid witness cosignature(s), "
                                         f"{trust.witnesses_required} required"))
        return out
    cosigned_at = _newest_cosignature(note, trust.witnesses) if trust.witnesses else 0.0
    if cp.size == state.size and state.checkpoint:
        fresh = max(state.tree_seen_at, cosigned_at)
        new = replace(state, checkpoint=text, fresh_at=fresh)
        out.state = new
        if trust.stale_after is not None and now - fresh > trust.stale_after:
            out.alerts.append(Alert(STALE, f"stale: no new checkpoint for {now - fresh:.0f} s "
                                           f"(more than {trust.stale_after:g} s); the log "
                                           f"still shows {cp.size} entries"))
        else:
            out.state = replace(new, last_ok=now)
        return out
    out.checked_from = state.size
    try:
        grown = _extend(state, source, cp, progress, anchor)
    except _Fork as exc:
        out.alerts.append(Alert(FORK, f"fork: {exc}", exc.index))
        return out
    except VerificationError as exc:
        out.alerts.append(Alert(ENTRY, str(exc), exc.index))
        return out
    except BadData as exc:
        out.alerts.append(Alert(ENTRY, f"malformed tile: {exc}"))
        return out
    except (NotFound, CouldNotCheck) as exc:
        out.alerts.append(Alert(UNREACHABLE, f"cannot read the log's tiles: {exc}"))
        return out
    except LedgerError as exc:
        out.alerts.append(Alert(ENTRY, str(exc)))
        return out
    out.new_entries = cp.size - state.size
    out.state = replace(grown, checkpoint=text, tree_seen_at=now, last_ok=now,
                        fresh_at=max(now, cosigned_at),
                        checked=state.checked + out.new_entries)
    return out


def _forks(state: LogState, source: Source, cp: Checkpoint, anchor: Checkpoint | None,
           out: Outcome) -> bool:
    """Whether the log-signed ``cp`` (which the witnesses have not yet cosigned enough)
    fails to extend the trusted tree: then a FORK alert is added to ``out``.  Nothing of
    the new tree is trusted either way.  Raises nothing (a tile that cannot be read or
    does not check is left to the pass that has the quorum)."""
    try:
        _extend(state, source, cp, None, anchor)
    except _Fork as exc:
        out.alerts.append(Alert(FORK, f"fork: {exc}", exc.index))
        return True
    except LedgerError:
        pass
    return False


def _extend(state: LogState, source: Source, cp: Checkpoint,
            progress: Progress | None, anchor: Checkpoint | None = None) -> LogState:
    """The state for ``cp``, reading the entries ``state.size .. cp.size - 1``; with an
    ``anchor`` (an older trusted checkpoint), the tree at its size must have its root.

    Raises:
        _Fork: the new tree does not extend the trusted one.
        VerificationError: a new entry or hash tile does not check.
        BadData, NotFound, CouldNotCheck: a resource is malformed or unreadable.
    """
    old, new = state.size, cp.size
    acc = merkle.CompactRange(old, state.frontier)
    edges = [list(level) for level in state.edges]
    last_leaf = state.last_leaf

    def push(level: int, h: bytes, size: int) -> None:
        # ``size``: the tree size once this node's leaves are in.
        while len(edges) <= level:
            edges.append([])
        edges[level].append(h)
        if len(edges[level]) < TILE_WIDTH:
            return
        full = edges[level]
        if level > 0:
            index = (size >> (TILE_HEIGHT * (level + 1))) - 1
            _check_tile(source, TileRef(level, index), full)
        edges[level] = []
        push(level + 1, merkle.root_of_perfect(full), size)

    for b in range(old // TILE_WIDTH, (new - 1) // TILE_WIDTH + 1):
        start = b * TILE_WIDTH
        width = min(TILE_WIDTH, new - start)
        bundle = source.get(TileRef(None, b, width).path())
        tile = source.get(TileRef(0, b, width).path())
        res = check_bundle(start, width, bundle, tile, keep_leaves=True)
        leaves = res.leaves or []
        known = old - start  # entries of this bundle the monitor already trusts
        if known > 0:
            trusted = list(edges[0]) if edges else []
            if leaves[:known] != trusted[:len(leaves[:known])] or (
                    res.error is not None and res.error[0] < old):
                raise _Fork(f"entries before {old}, already trusted, are not the same "
                            "in the log now: its history was rewritten", index=old - 1)
        elif res.first_prev is not None and \
                res.first_prev != base64.b64encode(last_leaf).decode():
            raise _Fork(f"entry {old} does not continue the trusted log (its prev is not "
                        f"the leaf hash of entry {old - 1})", index=max(old - 1, 0))
        for j, lh in enumerate(leaves[max(known, 0):], start=max(old, start)):
            acc.append(lh)
            push(0, lh, j + 1)
            if anchor is not None and acc.size == anchor.size and acc.root() != anchor.root:
                raise _Fork(f"the first {anchor.size} entries do not have the root of the "
                            "--old checkpoint", index=anchor.size - 1)
        if res.error is not None:
            raise VerificationError(res.error[1], index=res.error[0])
        if leaves:
            last_leaf = leaves[-1]
        if progress is not None:
            progress(start + width, new)
    for level in range(1, len(edges)):
        if edges[level] and (new >> (TILE_HEIGHT * level)) != (old >> (TILE_HEIGHT * level)):
            index = (new >> (TILE_HEIGHT * level)) // TILE_WIDTH
            _check_tile(source, TileRef(level, index, len(edges[level])), edges[level])
    if acc.root() != cp.root:
        raise _Fork(f"the log of {new} entries does not extend the trusted tree of {old} "
                    "entries (the roots do not match)", index=max(old - 1, 0))
    return replace(state, size=new, root=cp.root, last_leaf=last_leaf,
                   frontier=tuple(acc.hashes), edges=tuple(tuple(lv) for lv in edges))


def _check_tile(source: Source, ref: TileRef, want: Sequence[bytes]) -> None:
    got = split_tile(source.get(ref.path()))
    if list(got) != list(want):
        assert ref.level is not None
        first = ref.index * TILE_WIDTH ** (ref.level + 1)
        raise VerificationError(f"hash tile {ref.path()} does not match the entries it "
                                "covers", index=first)
