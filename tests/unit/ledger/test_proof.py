"""C2SP tlog-proof: exact text format, round trips and offline verification."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import merkle
from ledger.checkpoint import Checkpoint
from ledger.errors import BadData, VerificationError
from ledger.note import Ed25519Signer, NoteSigner
from ledger.proof import HEADER, TlogProof

ORIGIN = "example.com/ledger/proofs"
LOG = Ed25519Signer(ORIGIN, Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"p").digest()))
OTHER = Ed25519Signer(ORIGIN, Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"q").digest()))
SIGNERS: list[NoteSigner] = [LOG]


def _mth(leaves: list[bytes]) -> bytes:
    """RFC 9162 MTH over leaf hashes, recursively (independent of ledger.merkle)."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return leaves[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + _mth(leaves[:k]) + _mth(leaves[k:])).digest()


def _path(m: int, leaves: list[bytes]) -> list[bytes]:
    """RFC 9162 PATH(m, D[n]), recursively."""
    n = len(leaves)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return [*_path(m, leaves[:k]), _mth(leaves[k:])]
    return [*_path(m - k, leaves[k:]), _mth(leaves[:k])]


def build(size: int) -> tuple[list[bytes], str]:
    """Leaf hashes of a tree of ``size`` entries and its signed checkpoint."""
    leaves = [hashlib.sha256(b"\x00" + f"entry {i}".encode()).digest() for i in range(size)]
    note = Checkpoint(ORIGIN, size, _mth(leaves)).sign(SIGNERS)
    return leaves, note


LEAVES, NOTE = build(21)


def test_text_format_without_extra() -> None:
    path = _path(5, LEAVES)
    proof = TlogProof(5, tuple(path), NOTE)
    want = (
        "c2sp.org/tlog-proof@v1\n"
        "index 5\n"
        + "".join(base64.b64encode(h).decode() + "\n" for h in path)
        + "\n"
        + NOTE
    )
    assert HEADER == "c2sp.org/tlog-proof@v1"
    assert proof.to_text() == want
    assert TlogProof.from_text(want) == proof


def test_text_format_with_extra() -> None:
    path = _path(0, LEAVES)
    extra = b"\x00\xffopaque extra data"
    proof = TlogProof(0, tuple(path), NOTE, extra)
    want = (
        "c2sp.org/tlog-proof@v1\n"
        f"extra {base64.b64encode(extra).decode()}\n"
        "index 0\n"
        + "".join(base64.b64encode(h).decode() + "\n" for h in path)
        + "\n"
        + NOTE
    )
    assert proof.to_text() == want
    assert TlogProof.from_text(want) == proof


def test_single_leaf_tree_has_no_hash_lines() -> None:
    leaves, note = build(1)
    proof = TlogProof(0, (), note)
    assert proof.to_text() == "c2sp.org/tlog-proof@v1\nindex 0\n\n" + note
    assert TlogProof.from_text(proof.to_text()) == proof
    assert proof.verify(leaves[0], [LOG.verifier], ORIGIN).size == 1


@settings(max_examples=50, deadline=None)
@given(
    index=st.integers(0, 2**63 - 1),
    path=st.lists(st.binary(min_size=32, max_size=32), max_size=64),
    extra=st.none() | st.binary(max_size=200),
)
def test_round_trip(index: int, path: list[bytes], extra: bytes | None) -> None:
    proof = TlogProof(index, tuple(path), NOTE, extra)
    text = proof.to_text()
    assert text.startswith(HEADER + "\n")
    assert text.endswith(NOTE)
    assert TlogProof.from_text(text) == proof


def test_verify_with_a_real_tree() -> None:
    for size in (1, 2, 3, 7, 8, 21):
        leaves, note = build(size)
        for index in range(size):
            proof = TlogProof.from_text(TlogProof(index, tuple(_path(index, leaves)), note)
                                        .to_text())
            cp = proof.verify(leaves[index], [LOG.verifier], ORIGIN)
            assert cp == Checkpoint(ORIGIN, size, _mth(leaves))
            # Built by ledger.merkle's range functions too.
            ranges = merkle.inclusion_ranges(index, size)
            nodes = [
                merkle.hash_perfect_cover(
                    [_mth(leaves[i << lvl : (i + 1) << lvl])
                     for lvl, i in merkle.perfect_subtrees(lo, hi)]
                )
                for lo, hi in ranges
            ]
            assert tuple(nodes) == proof.path


def test_verify_fails_for_wrong_leaf_index_key_or_origin() -> None:
    index = 9
    proof = TlogProof(index, tuple(_path(index, LEAVES)), NOTE)
    proof.verify(LEAVES[index], [LOG.verifier])
    with pytest.raises(VerificationError):
        proof.verify(LEAVES[index + 1], [LOG.verifier], ORIGIN)
    with pytest.raises(VerificationError):
        proof.verify(merkle.leaf_hash(b"not in the log"), [LOG.verifier], ORIGIN)
    with pytest.raises(VerificationError):
        TlogProof(index + 1, proof.path, NOTE).verify(LEAVES[index], [LOG.verifier], ORIGIN)
    with pytest.raises(VerificationError):
        TlogProof(index, proof.path[:-1], NOTE).verify(LEAVES[index], [LOG.verifier], ORIGIN)
    with pytest.raises(VerificationError):
        proof.verify(LEAVES[index], [OTHER.verifier], ORIGIN)
    with pytest.raises(VerificationError):
        proof.verify(LEAVES[index], [LOG.verifier], "example.com/another")
    with pytest.raises(VerificationError):
        TlogProof(21, proof.path, NOTE).verify(LEAVES[index], [LOG.verifier], ORIGIN)


def test_verify_fails_for_tampered_checkpoint() -> None:
    proof = TlogProof(3, tuple(_path(3, LEAVES)), NOTE.replace("\n21\n", "\n22\n", 1))
    with pytest.raises(VerificationError):
        proof.verify(LEAVES[3], [LOG.verifier], ORIGIN)


H = base64.b64encode(bytes(32)).decode()


@pytest.mark.parametrize(
    "text",
    [
        pytest.param(f"c2sp.org/tlog-proof@v2\nindex 0\n\n{NOTE}", id="wrong-header"),
        pytest.param(f"index 0\n\n{NOTE}", id="no-header"),
        pytest.param(f"c2sp.org/tlog-proof@v1\n{H}\n\n{NOTE}", id="no-index"),
        pytest.param(f"c2sp.org/tlog-proof@v1\nindex 01\n\n{NOTE}", id="index-leading-zero"),
        pytest.param(f"c2sp.org/tlog-proof@v1\nindex -1\n\n{NOTE}", id="index-negative"),
        pytest.param(f"c2sp.org/tlog-proof@v1\nindex  1\n\n{NOTE}", id="index-two-spaces"),
        pytest.param(f"c2sp.org/tlog-proof@v1\nindex\n\n{NOTE}", id="index-missing"),
        pytest.param(f"c2sp.org/tlog-proof@v1\nindex 1x\n\n{NOTE}", id="index-not-decimal"),
        pytest.param(f"c2sp.org/tlog-proof@v1\nindex 0\n{H[:-1]}\n\n{NOTE}", id="hash-bad-b64"),
        pytest.param(f"c2sp.org/tlog-proof@v1\nindex 0\nAAAA\n\n{NOTE}", id="hash-short"),
        pytest.param(f"c2sp.org/tlog-proof@v1\nextra !!\nindex 0\n\n{NOTE}", id="extra-bad"),
        pytest.param(f"c2sp.org/tlog-proof@v1\nindex 0\nextra AA==\n\n{NOTE}",
                     id="extra-after-index"),
        pytest.param("c2sp.org/tlog-proof@v1\nindex 0\n", id="no-checkpoint"),
        pytest.param("c2sp.org/tlog-proof@v1\nindex 0\n\n", id="empty-checkpoint"),
        pytest.param(
            f"c2sp.org/tlog-proof@v1\nindex \u00b2\n\n{NOTE}",
            id="index-superscript-digit",
        ),
        pytest.param(
            f"c2sp.org/tlog-proof@v1\nindex \u0661\n\n{NOTE}",
            id="index-non-ascii-digit",
        ),
    ],
)
def test_from_text_rejects(text: str) -> None:
    with pytest.raises(BadData):
        TlogProof.from_text(text)
