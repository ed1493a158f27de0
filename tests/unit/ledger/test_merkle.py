"""RFC 9162 §2.1 Merkle trees: ledger.merkle against a recursive reference.

The reference below is written straight from the definitions in RFC 9162 §2.1.1
(MTH), §2.1.3.1 (PATH) and §2.1.4.1 (PROOF / SUBPROOF), recursively, and shares no
code with ``ledger.merkle`` (which is iterative).  Only SHA-256 comes from hashlib.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import merkle
from ledger.errors import VerificationError

VECTORS = Path(__file__).resolve().parents[2] / "vectors"


# -- reference implementation (RFC 9162 §2.1, recursive) ----------------------------


def ref_leaf(data: bytes) -> bytes:
    """MTH({d0}) = SHA-256(0x00 || d0)."""
    return hashlib.sha256(b"\x00" + data).digest()


def ref_node(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n]))."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def ref_k(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


class RefTree:
    """D[n] given as leaf hashes; MTH, PATH and PROOF as in RFC 9162, recursively.

    MTH of a range is memoised (the recursion is the RFC's; the cache only saves
    recomputing identical subtrees).
    """

    def __init__(self, leaf_hashes: Sequence[bytes]) -> None:
        self.leaves = list(leaf_hashes)
        self._mth: dict[tuple[int, int], bytes] = {}

    def mth(self, lo: int, hi: int) -> bytes:
        """MTH(D[lo:hi])."""
        key = (lo, hi)
        cached = self._mth.get(key)
        if cached is not None:
            return cached
        n = hi - lo
        if n == 0:
            h = hashlib.sha256(b"").digest()
        elif n == 1:
            h = self.leaves[lo]
        else:
            k = ref_k(n)
            h = ref_node(self.mth(lo, lo + k), self.mth(lo + k, hi))
        self._mth[key] = h
        return h

    def path(self, m: int, lo: int, hi: int) -> list[bytes]:
        """PATH(m, D[lo:hi]) with m relative to lo."""
        n = hi - lo
        if n == 1:
            return []
        k = ref_k(n)
        if m < k:
            return [*self.path(m, lo, lo + k), self.mth(lo + k, hi)]
        return [*self.path(m - k, lo + k, hi), self.mth(lo, lo + k)]

    def inclusion(self, m: int, n: int) -> list[bytes]:
        return self.path(m, 0, n)

    def subproof(self, m: int, lo: int, hi: int, b: bool) -> list[bytes]:
        """SUBPROOF(m, D[lo:hi], b)."""
        n = hi - lo
        if m == n:
            return [] if b else [self.mth(lo, hi)]
        k = ref_k(n)
        if m <= k:
            return [*self.subproof(m, lo, lo + k, b), self.mth(lo + k, hi)]
        return [*self.subproof(m - k, lo + k, hi, False), self.mth(lo, lo + k)]

    def consistency(self, m: int, n: int) -> list[bytes]:
        """PROOF(m, D[n]) for 0 < m < n (empty for m == 0 or m == n)."""
        if m in (0, n):
            return []
        return self.subproof(m, 0, n, True)


def leaves_for(n: int, salt: bytes = b"") -> list[bytes]:
    return [ref_leaf(salt + i.to_bytes(4, "big")) for i in range(n)]


BIG = RefTree(leaves_for(300))


def proof_from_ranges(tree: RefTree, ranges: Sequence[tuple[int, int]]) -> list[bytes]:
    """Fetch the perfect nodes each range decomposes into and fold them, as storage does."""
    out = []
    for lo, hi in ranges:
        subtrees = merkle.perfect_subtrees(lo, hi)
        # The decomposition is a left-to-right partition of [lo, hi) into aligned
        # perfect subtrees.
        pos = lo
        for level, index in subtrees:
            assert index << level == pos
            pos += 1 << level
        assert pos == hi
        nodes = [tree.mth(i << lvl, (i + 1) << lvl) for lvl, i in subtrees]
        out.append(merkle.hash_perfect_cover(nodes))
    return out


def flip(h: bytes, bit: int) -> bytes:
    b = bytearray(h)
    b[bit // 8] ^= 1 << (bit % 8)
    return bytes(b)


def assert_flips_refused(verify: Callable[..., None], **args: Any) -> None:
    """``verify(**args)`` raises VerificationError once any bit of any hash of
    ``args["path"]`` is flipped, or every 7th bit of any other ``bytes`` argument."""
    path = args["path"]
    for i in range(len(path)):
        for bit in range(256):
            bad = list(path)
            bad[i] = flip(path[i], bit)
            with pytest.raises(VerificationError):
                verify(**{**args, "path": bad})
    for name, value in args.items():
        if isinstance(value, bytes):
            for bit in range(0, 256, 7):
                with pytest.raises(VerificationError):
                    verify(**{**args, name: flip(value, bit)})


def sample_points(n: int, rng: random.Random, extra: int = 6) -> list[int]:
    """0, 1, n//2, n-2, n-1 and a few random points of [0, n)."""
    pts = {0, 1, n // 2, n - 2, n - 1, *(rng.randrange(n) for _ in range(extra))}
    return sorted(p for p in pts if 0 <= p < n)


# -- hash primitives and RFC 6962 vectors -----------------------------------------


def test_primitives_match_reference() -> None:
    for data in (b"", b"\x00", b"abc", bytes(range(256))):
        assert merkle.leaf_hash(data) == ref_leaf(data)
    a, b = ref_leaf(b"a"), ref_leaf(b"b")
    assert merkle.node_hash(a, b) == ref_node(a, b)
    assert merkle.node_hash(a, b) != merkle.node_hash(b, a)
    # Domain separation: a leaf whose data looks like two hashes is not a node.
    assert merkle.leaf_hash(a + b) != merkle.node_hash(a, b)
    assert hashlib.sha256(b"").digest() == merkle.EMPTY_ROOT


def test_split_point() -> None:
    for n in range(2, 2000):
        assert merkle.split_point(n) == ref_k(n)
    for n in (-1, 0, 1):
        with pytest.raises(ValueError, match="n >= 2"):
            merkle.split_point(n)


def _rfc6962() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VECTORS / "rfc6962_roots.json").read_text())
    return data


def test_rfc6962_vectors() -> None:
    v = _rfc6962()
    assert merkle.root_from_leaf_hashes([]).hex() == v["empty_root"]
    assert merkle.CompactRange().root().hex() == v["empty_root"]
    leaves = [merkle.leaf_hash(bytes.fromhex(x)) for x in v["leaves"]]
    assert len(v["roots"]) == 8
    for size_text, root_hex in v["roots"].items():
        size = int(size_text)
        assert merkle.root_from_leaf_hashes(leaves[:size]).hex() == root_hex
        assert RefTree(leaves[:size]).mth(0, size).hex() == root_hex  # the reference too


# -- roots --------------------------------------------------------------------------


@pytest.mark.parametrize("size", range(301))
def test_roots_match_reference(size: int) -> None:
    leaves = BIG.leaves[:size]
    want = BIG.mth(0, size)
    assert merkle.root_from_leaf_hashes(leaves) == want
    acc = merkle.CompactRange()
    for h in leaves:
        acc.append(h)
    assert acc.size == size
    assert acc.root() == want
    # The compact range holds exactly the perfect subtrees of [0, size), largest first.
    assert acc.hashes == [BIG.mth(i << lvl, (i + 1) << lvl)
                          for lvl, i in merkle.perfect_subtrees(0, size)]


def test_root_of_perfect() -> None:
    for n in (1, 2, 4, 8, 64, 256):
        assert merkle.root_of_perfect(BIG.leaves[:n]) == BIG.mth(0, n)
    for n in (0, 3, 5, 6, 7, 12):
        with pytest.raises(ValueError, match="power-of-two"):
            merkle.root_of_perfect(BIG.leaves[:n])


def test_hash_perfect_cover_of_nothing_is_empty_root() -> None:
    assert merkle.hash_perfect_cover([]) == merkle.EMPTY_ROOT


# -- inclusion proofs -------------------------------------------------------------


def _check_inclusion(tree: RefTree, index: int, size: int) -> list[bytes]:
    want = tree.inclusion(index, size)
    got = proof_from_ranges(tree, merkle.inclusion_ranges(index, size))
    assert got == want, (index, size)
    merkle.verify_inclusion(tree.leaves[index], index, size, got, tree.mth(0, size))
    return got


@pytest.mark.parametrize("size", range(1, 65))
def test_inclusion_every_index_small(size: int) -> None:
    for index in range(size):
        _check_inclusion(BIG, index, size)


@pytest.mark.parametrize("size", range(65, 301))
def test_inclusion_sampled_indexes(size: int) -> None:
    rng = random.Random(size)
    for index in sample_points(size, rng):
        _check_inclusion(BIG, index, size)


@settings(max_examples=40, deadline=None)
@given(data=st.data(), size=st.integers(1, 5000))
def test_inclusion_random_large(data: st.DataObject, size: int) -> None:
    tree = RefTree(leaves_for(size, b"big"))
    index = data.draw(st.integers(0, size - 1), label="index")
    assert merkle.root_from_leaf_hashes(tree.leaves) == tree.mth(0, size)
    _check_inclusion(tree, index, size)


def test_inclusion_ranges_rejects_out_of_range() -> None:
    for index, size in ((0, 0), (1, 1), (5, 5), (-1, 3), (7, 3)):
        with pytest.raises(ValueError, match="not in a tree"):
            merkle.inclusion_ranges(index, size)


def test_perfect_subtrees_rejects_misaligned_range() -> None:
    for lo, hi in ((1, 3), (2, 6), (3, 5), (4, 16)):
        with pytest.raises(ValueError, match="not an RFC 9162 subtree"):
            merkle.perfect_subtrees(lo, hi)


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 8, 13, 16, 21])
def test_inclusion_bit_flips_fail(size: int) -> None:
    root = BIG.mth(0, size)
    for index in range(size):
        assert_flips_refused(merkle.verify_inclusion, leaf=BIG.leaves[index], index=index,
                             size=size, path=BIG.inclusion(index, size), root=root)


@pytest.mark.parametrize("size", [*range(1, 40), 64, 65, 100, 255, 256, 257, 300])
def test_inclusion_wrong_index_size_length_fail(size: int) -> None:
    rng = random.Random(1000 + size)
    root = BIG.mth(0, size)
    for index in sample_points(size, rng):
        path = BIG.inclusion(index, size)
        leaf = BIG.leaves[index]
        merkle.verify_inclusion(leaf, index, size, path, root)
        # Another index in the same tree.
        for other in sample_points(size, rng):
            if other != index:
                with pytest.raises(VerificationError):
                    merkle.verify_inclusion(leaf, other, size, path, root)
        # Another tree size, checked against that tree's own root.
        for other_size in {index + 1, size - 1, size + 1, 2 * size, size + 7}:
            if other_size != size and index < other_size <= len(BIG.leaves):
                with pytest.raises(VerificationError):
                    merkle.verify_inclusion(leaf, index, other_size, path,
                                            BIG.mth(0, other_size))
        # Index outside the tree.
        for bad_index in (size, size + 1, -1):
            with pytest.raises(VerificationError):
                merkle.verify_inclusion(leaf, bad_index, size, path, root)
        # Truncated and extended proofs.
        if path:
            with pytest.raises(VerificationError):
                merkle.verify_inclusion(leaf, index, size, path[:-1], root)
            with pytest.raises(VerificationError):
                merkle.verify_inclusion(leaf, index, size, path[1:], root)
        with pytest.raises(VerificationError):
            merkle.verify_inclusion(leaf, index, size, [*path, BIG.leaves[0]], root)
        with pytest.raises(VerificationError):
            merkle.verify_inclusion(leaf, index, size, [*path, root], root)
        with pytest.raises(VerificationError):
            merkle.verify_inclusion(leaf, index, size, path, BIG.mth(0, size - 1))


def test_inclusion_error_names_the_index() -> None:
    path = BIG.inclusion(5, 10)
    with pytest.raises(VerificationError) as info:
        merkle.verify_inclusion(BIG.leaves[5], 5, 10, path, flip(BIG.mth(0, 10), 0))
    assert info.value.index == 5


# -- consistency proofs -----------------------------------------------------------


def _check_consistency(tree: RefTree, old: int, new: int) -> list[bytes]:
    want = tree.consistency(old, new)
    got = proof_from_ranges(tree, merkle.consistency_ranges(old, new))
    assert got == want, (old, new)
    merkle.verify_consistency(old, new, tree.mth(0, old), tree.mth(0, new), got)
    return got


@pytest.mark.parametrize("new", range(65))
def test_consistency_every_old_size_small(new: int) -> None:
    for old in range(new + 1):
        _check_consistency(BIG, old, new)


@pytest.mark.parametrize("new", range(65, 301))
def test_consistency_sampled_old_sizes(new: int) -> None:
    rng = random.Random(new)
    for old in {*sample_points(new, rng), new}:
        _check_consistency(BIG, old, new)


@settings(max_examples=40, deadline=None)
@given(data=st.data(), new=st.integers(1, 5000))
def test_consistency_random_large(data: st.DataObject, new: int) -> None:
    tree = RefTree(leaves_for(new, b"cons"))
    old = data.draw(st.integers(0, new), label="old")
    _check_consistency(tree, old, new)


def test_consistency_ranges_rejects_bad_sizes() -> None:
    for old, new in ((2, 1), (-1, 3), (10, 9)):
        with pytest.raises(ValueError, match="no consistency proof"):
            merkle.consistency_ranges(old, new)


@pytest.mark.parametrize("new", [2, 3, 4, 5, 7, 8, 9, 13, 16, 17])
def test_consistency_bit_flips_fail(new: int) -> None:
    new_root = BIG.mth(0, new)
    for old in range(1, new):
        assert_flips_refused(merkle.verify_consistency, old=old, new=new,
                             old_root=BIG.mth(0, old), new_root=new_root,
                             path=BIG.consistency(old, new))


@pytest.mark.parametrize("new", [*range(2, 40), 64, 65, 100, 255, 256, 257, 300])
def test_consistency_wrong_sizes_length_roots_fail(new: int) -> None:
    rng = random.Random(2000 + new)
    new_root = BIG.mth(0, new)
    olds = [o for o in sample_points(new, rng) if o > 0]
    for old in olds:
        proof = BIG.consistency(old, new)
        old_root = BIG.mth(0, old)
        merkle.verify_consistency(old, new, old_root, new_root, proof)
        # Other sizes, each with its own true root: the proof is for (old, new) only.
        for o2 in {old - 1, old + 1, *olds}:
            if 0 < o2 < new and o2 != old:
                with pytest.raises(VerificationError):
                    merkle.verify_consistency(o2, new, BIG.mth(0, o2), new_root, proof)
        for n2 in {new - 1, new + 1, new + 5}:
            if old < n2 <= len(BIG.leaves) and n2 != new:
                with pytest.raises(VerificationError):
                    merkle.verify_consistency(old, n2, old_root, BIG.mth(0, n2), proof)
        # Truncated, extended, emptied.
        with pytest.raises(VerificationError):
            merkle.verify_consistency(old, new, old_root, new_root, proof[:-1])
        with pytest.raises(VerificationError):
            merkle.verify_consistency(old, new, old_root, new_root, proof[1:])
        with pytest.raises(VerificationError):
            merkle.verify_consistency(old, new, old_root, new_root, [*proof, new_root])
        with pytest.raises(VerificationError):
            merkle.verify_consistency(old, new, old_root, new_root, [])
        # Roots of other trees.
        with pytest.raises(VerificationError):
            merkle.verify_consistency(old, new, new_root, new_root, proof)
        with pytest.raises(VerificationError):
            merkle.verify_consistency(old, new, old_root, old_root, proof)
        # old > new.
        with pytest.raises(VerificationError):
            merkle.verify_consistency(new, old, new_root, old_root, proof)


def test_consistency_trivial_cases() -> None:
    r5, r9 = BIG.mth(0, 5), BIG.mth(0, 9)
    merkle.verify_consistency(5, 5, r5, r5, [])
    merkle.verify_consistency(0, 9, merkle.EMPTY_ROOT, r9, [])
    with pytest.raises(VerificationError):
        merkle.verify_consistency(5, 5, r5, r9, [])
    with pytest.raises(VerificationError):
        merkle.verify_consistency(5, 5, r5, r5, [r5])
    with pytest.raises(VerificationError):
        merkle.verify_consistency(0, 9, merkle.EMPTY_ROOT, r9, [r9])
    with pytest.raises(VerificationError):
        merkle.verify_consistency(-1, 9, r5, r9, [])


# -- CompactRange -----------------------------------------------------------------


def test_compact_range_reports_completed_nodes() -> None:
    acc = merkle.CompactRange()
    seen: set[tuple[int, int]] = set()
    for n, h in enumerate(BIG.leaves):
        completed = acc.append(h)
        size = n + 1
        # Exactly the perfect nodes (level >= 1) whose last leaf is leaf n, bottom-up.
        want = [(lvl, size // (1 << lvl) - 1) for lvl in range(1, size.bit_length())
                if size % (1 << lvl) == 0]
        assert [(lvl, i) for lvl, i, _ in completed] == want
        for lvl, i, node in completed:
            assert node == BIG.mth(i << lvl, (i + 1) << lvl)
            assert (lvl, i) not in seen
            seen.add((lvl, i))
        assert acc.root() == BIG.mth(0, size)
    # Every perfect node above level 0 inside [0, 300) was reported exactly once.
    n = len(BIG.leaves)
    assert seen == {(lvl, i) for lvl in range(1, 9) for i in range(n >> lvl)}


@pytest.mark.parametrize("size", [0, 1, 2, 3, 7, 8, 100, 255, 256, 300])
def test_compact_range_bytes_round_trip(size: int) -> None:
    acc = merkle.CompactRange()
    for h in BIG.leaves[:size]:
        acc.append(h)
    blob = acc.to_bytes()
    assert len(blob) == size.bit_count() * merkle.HASH_SIZE
    again = merkle.CompactRange.from_bytes(size, blob)
    assert again.size == size
    assert again.hashes == acc.hashes
    assert again.root() == acc.root()
    with pytest.raises(ValueError, match="one hash per set bit"):
        merkle.CompactRange(size, [*acc.hashes, BIG.leaves[0]])
    if size:
        with pytest.raises(ValueError, match="one hash per set bit"):
            merkle.CompactRange(size, acc.hashes[:-1])
    # The rebuilt range keeps growing like the original.
    for h in BIG.leaves[size : size + 5]:
        assert again.append(h) == acc.append(h)
        assert again.root() == acc.root()
    with pytest.raises(ValueError, match="does not match"):
        merkle.CompactRange.from_bytes(size, blob + bytes(merkle.HASH_SIZE))
    with pytest.raises(ValueError, match="does not match"):
        merkle.CompactRange.from_bytes(size, blob + b"\x00")
    if size:
        with pytest.raises(ValueError, match="does not match"):
            merkle.CompactRange.from_bytes(size, blob[:-1])


@settings(max_examples=30, deadline=None)
@given(size=st.integers(0, 5000))
def test_compact_range_random_sizes(size: int) -> None:
    tree = RefTree(leaves_for(size, b"cr"))
    acc = merkle.CompactRange()
    for h in tree.leaves:
        acc.append(h)
    assert acc.root() == tree.mth(0, size)
    again = merkle.CompactRange.from_bytes(size, acc.to_bytes())
    assert again.root() == tree.mth(0, size)


# -- the reference itself against the RFC's worked examples ------------------------


def test_rfc9162_worked_examples() -> None:
    """RFC 9162 §2.1.5 (7-leaf tree), on the reference and on ledger.merkle, RFC names."""
    a, b, c, d, e, f, j = BIG.leaves[:7]
    g, h, i = ref_node(a, b), ref_node(c, d), ref_node(e, f)
    k, l_ = ref_node(g, h), ref_node(i, j)
    assert BIG.mth(0, 7) == ref_node(k, l_)
    examples_inclusion = {0: [b, h, l_], 3: [c, g, l_], 4: [f, j, k], 6: [i, k]}
    for index, want in examples_inclusion.items():
        assert BIG.inclusion(index, 7) == want
        assert proof_from_ranges(BIG, merkle.inclusion_ranges(index, 7)) == want
    examples_consistency = {3: [c, d, g, l_], 4: [l_], 6: [i, j, k]}
    for old, want in examples_consistency.items():
        assert BIG.consistency(old, 7) == want
        assert proof_from_ranges(BIG, merkle.consistency_ranges(old, 7)) == want


@settings(max_examples=60, deadline=None)
@given(level=st.integers(min_value=0, max_value=5), pieces=st.integers(min_value=1, max_value=9),
       extra=st.integers(min_value=0, max_value=40))
def test_append_subtree_equals_appending_its_leaves(level: int, pieces: int, extra: int) -> None:
    width = 1 << level
    leaves = [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(pieces * width + extra)]
    by_leaf = merkle.CompactRange()
    by_subtree = merkle.CompactRange()
    seen_leaf: list[tuple[int, int, bytes]] = []
    seen_subtree: list[tuple[int, int, bytes]] = []
    for p in range(pieces):
        chunk = leaves[p * width : (p + 1) * width]
        for h in chunk:
            seen_leaf += [c for c in by_leaf.append(h) if c[0] > level]
        seen_subtree += by_subtree.append_subtree(level, merkle.root_from_leaf_hashes(chunk))
    for h in leaves[pieces * width :]:
        by_leaf.append(h)
        by_subtree.append(h)
    assert by_subtree.size == by_leaf.size == len(leaves)
    assert by_subtree.root() == by_leaf.root() == RefTree(leaves).mth(0, len(leaves))
    assert seen_subtree == seen_leaf
    if extra % width:
        with pytest.raises(ValueError, match="cannot follow"):
            by_subtree.append_subtree(level if level else 1, leaves[0])


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=70), st.data())
def test_memory_tree_agrees_with_the_rfc_root_and_proves_each_leaf(n: int,
                                                                   data: st.DataObject) -> None:
    leaves = [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(n)]
    tree = merkle.MemoryTree(leaves)
    assert tree.root() == merkle.root_from_leaf_hashes(leaves)
    index = data.draw(st.integers(min_value=0, max_value=n - 1))
    merkle.verify_inclusion(leaves[index], index, n, tree.inclusion(index), tree.root())
    if n > 1:  # the path of one leaf does not prove another
        other = (index + 1) % n
        with pytest.raises(VerificationError):
            merkle.verify_inclusion(leaves[other], index, n, tree.inclusion(index), tree.root())


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=70), st.data())
def test_memory_tree_roots_of_prefixes_and_consistency_proofs(n: int,
                                                              data: st.DataObject) -> None:
    leaves = [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(n)]
    tree = merkle.MemoryTree(leaves)
    old = data.draw(st.integers(min_value=0, max_value=n))
    new = data.draw(st.integers(min_value=old, max_value=n))
    assert tree.root_at(old) == merkle.root_from_leaf_hashes(leaves[:old])
    proof = tree.consistency(old, new)
    merkle.verify_consistency(old, new, tree.root_at(old), tree.root_at(new), proof)
    assert proof == [merkle.root_from_leaf_hashes(leaves[a:b])
                     for a, b in merkle.consistency_ranges(old, new)]
    with pytest.raises(ValueError, match="not in a tree"):
        tree.root_at(n + 1)
    with pytest.raises(ValueError, match="beyond a tree"):
        tree.consistency(old, n + 1)
