"""RFC 9162 §2.1 Merkle tree hashing, audit paths and their verification.

Pure functions over hashes and integers.  Proof *generation* is split in two: the
functions here say which subtree ranges a proof needs (``inclusion_ranges``,
``consistency_ranges``) and how each range decomposes into perfect subtrees
(``perfect_subtrees``); storage adapters fetch those node hashes in as few reads as
their layout allows and fold them with ``hash_perfect_cover``.  No I/O happens here.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from ledger.errors import VerificationError

# RFC 9162 §2.1.1: domain separation between leaves and interior nodes.
LEAF_HASH_PREFIX = b"\x00"
NODE_HASH_PREFIX = b"\x01"
HASH_SIZE = 32
# RFC 9162 §2.1.1: the hash of an empty list is the hash of an empty string.
EMPTY_ROOT = hashlib.sha256(b"").digest()

_sha256 = hashlib.sha256


def leaf_hash(data: bytes) -> bytes:
    """MTH({d}) = SHA-256(0x00 || d) (RFC 9162 §2.1.1)."""
    return _sha256(LEAF_HASH_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right) (RFC 9162 §2.1.1)."""
    return _sha256(NODE_HASH_PREFIX + left + right).digest()


def split_point(n: int) -> int:
    """The largest power of two strictly smaller than ``n`` (n >= 2), RFC 9162 §2.1.1."""
    if n < 2:
        raise ValueError("split_point needs n >= 2")
    return 1 << ((n - 1).bit_length() - 1)


def root_of_perfect(hashes: Sequence[bytes]) -> bytes:
    """Root of a perfect subtree whose leaves (or lower nodes) are ``hashes``.

    ``len(hashes)`` must be a power of two.
    """
    level = list(hashes)
    if not level or len(level) & (len(level) - 1):
        raise ValueError("root_of_perfect needs a power-of-two number of hashes")
    while len(level) > 1:
        level = [node_hash(level[i], level[i + 1]) for i in range(0, len(level), 2)]
    return level[0]


def root_from_leaf_hashes(hashes: Sequence[bytes]) -> bytes:
    """MTH of a list of leaf hashes, computed bottom-up in O(n) (RFC 9162 §2.1.1)."""
    acc = CompactRange()
    for h in hashes:
        acc.append(h)
    return acc.root()


def perfect_subtrees(start: int, end: int) -> list[tuple[int, int]]:
    """Decompose the RFC 9162 subtree D[start:end] into perfect subtrees.

    Returns ``(level, index)`` pairs, left to right, where the node at ``level`` and
    ``index`` covers leaves ``[index << level, (index + 1) << level)``.  Every range an
    audit path names has ``start`` aligned to the largest power of two not above its
    length, so the decomposition follows the binary digits of ``end - start``.
    """
    out: list[tuple[int, int]] = []
    size = end - start
    pos = start
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            if pos % (1 << level):
                raise ValueError(f"range [{start},{end}) is not an RFC 9162 subtree")
            out.append((level, pos >> level))
            pos += 1 << level
    return out


def hash_perfect_cover(nodes: Sequence[bytes]) -> bytes:
    """Fold the hashes of a range's perfect subtrees (left to right) into its MTH."""
    if not nodes:
        return EMPTY_ROOT
    acc = nodes[-1]
    for h in reversed(nodes[:-1]):
        acc = node_hash(h, acc)
    return acc


def inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The subtree ranges of PATH(index, D[size]) bottom-up (RFC 9162 §2.1.3.1).

    Raises:
        ValueError: ``index`` is not in ``[0, size)``.
    """
    if not 0 <= index < size:
        raise ValueError(f"index {index} is not in a tree of size {size}")
    out: list[tuple[int, int]] = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = split_point(hi - lo)
        if index - lo < k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            lo = lo + k
    out.reverse()
    return out


def consistency_ranges(old: int, new: int) -> list[tuple[int, int]]:
    """The subtree ranges of PROOF(old, D[new]) in order (RFC 9162 §2.1.4.1).

    ``old == 0`` and ``old == new`` give an empty proof.

    Raises:
        ValueError: unless ``0 <= old <= new``.
    """
    if not 0 <= old <= new:
        raise ValueError(f"no consistency proof from size {old} to size {new}")
    if old in (0, new):
        return []
    out: list[tuple[int, int]] = []
    lo, hi, m, complete = 0, new, old, True
    while True:
        n = hi - lo
        if m == n:
            if not complete:
                out.append((lo, hi))
            break
        k = split_point(n)
        if m <= k:
            out.append((lo + k, hi))
            hi = lo + k
        else:
            out.append((lo, lo + k))
            lo, m, complete = lo + k, m - k, False
    out.reverse()
    return out


class NodeHashes(Protocol):
    """Hashes of perfect subtrees by ``(level, index)``: a dict, or ``MemoryTree``."""

    def __getitem__(self, node: tuple[int, int], /) -> bytes: ...


#: Reads the hashes of perfect subtrees, named ``(level, index)``, in one go: a storage
#: adapter (tiles, rows) or ``MemoryTree``'s levels.
NodeReader = Callable[[Sequence[tuple[int, int]]], NodeHashes]


def range_hashes(ranges: Sequence[tuple[int, int]], read: NodeReader) -> list[bytes]:
    """The MTH of each subtree range, from the perfect subtrees ``read`` returns.

    Every node the ranges need is asked for in one call, so an adapter can fetch them in
    as few reads as its layout allows.
    """
    covers = [perfect_subtrees(a, b) for a, b in ranges]
    got = read([n for c in covers for n in c])
    return [hash_perfect_cover([got[n] for n in c]) for c in covers]


def inclusion_path(index: int, size: int, read: NodeReader) -> list[bytes]:
    """PATH(index, D[size]) bottom-up (RFC 9162 §2.1.3.1), its nodes from ``read``.

    Raises:
        ValueError: ``index`` is not in ``[0, size)``.
    """
    return range_hashes(inclusion_ranges(index, size), read)


def consistency_path(old: int, new: int, read: NodeReader) -> list[bytes]:
    """PROOF(old, D[new]) (RFC 9162 §2.1.4.1), its nodes from ``read``.

    Raises:
        ValueError: unless ``0 <= old <= new``.
    """
    return range_hashes(consistency_ranges(old, new), read)


class MemoryTree:
    """A tree held in memory, from its leaf hashes: its root (and the root of any prefix),
    inclusion paths (RFC 9162 §2.1.3) and consistency proofs (§2.1.4).

    For thousands of proofs this is far cheaper than a storage round trip each: every
    perfect subtree's hash is computed once (levels), each path is then dictionary work.
    """

    def __init__(self, leaves: Sequence[bytes]) -> None:
        self.size = len(leaves)
        self.levels = [list(leaves)]
        while len(self.levels[-1]) > 1:
            low = self.levels[-1]
            self.levels.append([node_hash(low[i], low[i + 1])
                                for i in range(0, len(low) - 1, 2)])

    def __getitem__(self, node: tuple[int, int], /) -> bytes:
        """The hash of the perfect subtree ``(level, index)``."""
        return self.levels[node[0]][node[1]]

    def _read(self, wanted: Sequence[tuple[int, int]]) -> MemoryTree:
        return self  # every node is at hand

    def root(self) -> bytes:
        """The tree's root hash (RFC 9162 §2.1.1)."""
        return self.root_at(self.size)

    def root_at(self, size: int) -> bytes:
        """The root hash of the tree of the first ``size`` leaves.

        Raises:
            ValueError: ``size`` is not in ``[0, self.size]``.
        """
        if not 0 <= size <= self.size:
            raise ValueError(f"size {size} is not in a tree of size {self.size}")
        return range_hashes([(0, size)], self._read)[0]

    def inclusion(self, index: int) -> list[bytes]:
        """The inclusion path of leaf ``index`` (0 <= index < size), bottom-up.

        Raises:
            ValueError: ``index`` is not in ``[0, size)``.
        """
        return inclusion_path(index, self.size, self._read)

    def consistency(self, old: int, new: int) -> list[bytes]:
        """The consistency proof between sizes ``old`` and ``new`` (new <= size).

        Raises:
            ValueError: unless ``0 <= old <= new <= size``.
        """
        if new > self.size:
            raise ValueError(f"size {new} is beyond a tree of size {self.size}")
        return consistency_path(old, new, self._read)


def verify_inclusion(
    leaf: bytes, index: int, size: int, path: Sequence[bytes], root: bytes
) -> None:
    """Check an inclusion proof (RFC 9162 §2.1.3.2).

    Raises:
        VerificationError: the proof does not lead from ``leaf`` to ``root``.
    """
    if index >= size or index < 0:
        raise VerificationError(f"index {index} is not in a tree of size {size}", index=index)
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            raise VerificationError("inclusion proof is too long", index=index)
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not (fn & 1 or fn == 0):
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise VerificationError("inclusion proof is too short", index=index)
    if r != root:
        raise VerificationError("inclusion proof does not lead to the root", index=index)


def verify_consistency(
    old: int, new: int, old_root: bytes, new_root: bytes, path: Sequence[bytes]
) -> None:
    """Check a consistency proof between two tree heads (RFC 9162 §2.1.4.2).

    Raises:
        VerificationError: the trees are not consistent or the proof is malformed.
    """
    if not 0 <= old <= new:
        raise VerificationError(f"size {old} cannot precede size {new}")
    if old == new:
        if path:
            raise VerificationError("a proof between equal sizes must be empty")
        if old_root != new_root:
            raise VerificationError("equal sizes with different roots")
        return
    if old == 0:
        if path:
            raise VerificationError("a proof from the empty tree must be empty")
        return
    if not path:
        raise VerificationError("consistency proof is empty")
    nodes = list(path)
    if old & (old - 1) == 0:
        nodes.insert(0, old_root)
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = nodes[0]
    for c in nodes[1:]:
        if sn == 0:
            raise VerificationError("consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not (fn & 1 or fn == 0):
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise VerificationError("consistency proof is too short")
    if fr != old_root:
        raise VerificationError("consistency proof does not lead to the old root")
    if sr != new_root:
        raise VerificationError("consistency proof does not lead to the new root")


class CompactRange:
    """The right edge of a growing tree: one hash per set bit of its size.

    Appending a leaf costs O(1) amortised hashes; ``root()`` costs O(log n).  Each
    perfect node that an append completes is reported, so storage can keep the ones it
    wants (tile levels) without re-reading anything.
    """

    __slots__ = ("hashes", "size")

    def __init__(self, size: int = 0, hashes: Iterable[bytes] = ()) -> None:
        self.size = size
        self.hashes = list(hashes)  # largest subtree first
        if len(self.hashes) != size.bit_count():
            raise ValueError("a compact range needs one hash per set bit of its size")

    def append(self, leaf: bytes) -> list[tuple[int, int, bytes]]:
        """Add a leaf hash; return the perfect nodes above level 0 it completed."""
        return self.append_subtree(0, leaf)

    def append_subtree(self, level: int, h: bytes) -> list[tuple[int, int, bytes]]:
        """Add the hash of a perfect subtree of ``2**level`` leaves at the right edge.

        Returns the perfect nodes above ``level`` it completed, as ``append`` does.

        Raises:
            ValueError: the size is not a multiple of ``2**level`` (the subtree would
                not be aligned).
        """
        if self.size & ((1 << level) - 1):
            raise ValueError(f"a level-{level} subtree cannot follow size {self.size}")
        completed: list[tuple[int, int, bytes]] = []
        leaves = 1 << level
        n = self.size >> level
        while n & 1:
            h = node_hash(self.hashes.pop(), h)
            n >>= 1
            level += 1
            completed.append((level, n, h))
        self.hashes.append(h)
        self.size += leaves
        return completed

    def root(self) -> bytes:
        """The Merkle tree hash of all leaves appended so far."""
        return hash_perfect_cover(self.hashes)

    def to_bytes(self) -> bytes:
        """The concatenated hashes (the size is stored beside them)."""
        return b"".join(self.hashes)

    @classmethod
    def from_bytes(cls, size: int, blob: bytes) -> CompactRange:
        """Rebuild from ``size`` and ``to_bytes()`` output."""
        k = size.bit_count()
        if len(blob) != k * HASH_SIZE:
            raise ValueError("compact range blob does not match its size")
        return cls(size, [blob[i * HASH_SIZE : (i + 1) * HASH_SIZE] for i in range(k)])
