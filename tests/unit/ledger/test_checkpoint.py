"""C2SP tlog-checkpoint: body format, parsing and opening signed checkpoints."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.checkpoint import Checkpoint
from ledger.errors import BadData, VerificationError
from ledger.note import Ed25519Signer, NoteSigner, SignedNote, sign_note

ORIGIN = "example.com/ledger/test"
LOG = Ed25519Signer(ORIGIN, Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"log").digest()))
WITNESS = Ed25519Signer(
    "witness.example", Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"w").digest())
)
ROOT = hashlib.sha256(b"root").digest()
ROOT_B64 = base64.b64encode(ROOT).decode()

origins = st.text(
    alphabet=st.characters(min_codepoint=0x21, blacklist_categories=["Cs"]),
    min_size=1,
    max_size=60,
).filter(lambda s: "\n" not in s)


def test_body_is_exactly_three_lines() -> None:
    cp = Checkpoint(ORIGIN, 12345, ROOT)
    assert cp.body() == f"{ORIGIN}\n12345\n{ROOT_B64}\n"
    assert Checkpoint(ORIGIN, 0, ROOT).body() == f"{ORIGIN}\n0\n{ROOT_B64}\n"


@settings(max_examples=60, deadline=None)
@given(origin=origins, size=st.integers(0, 2**64 - 1), root=st.binary(min_size=32, max_size=32))
def test_body_round_trip(origin: str, size: int, root: bytes) -> None:
    cp = Checkpoint(origin, size, root)
    body = cp.body()
    assert body == f"{origin}\n{size}\n{base64.b64encode(root).decode()}\n"
    assert Checkpoint.from_body(body) == cp


def test_extension_lines_are_accepted_and_ignored() -> None:
    body = f"{ORIGIN}\n7\n{ROOT_B64}\nextension one\nextension two\n"
    assert Checkpoint.from_body(body) == Checkpoint(ORIGIN, 7, ROOT)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(f"{ORIGIN}\n012\n{ROOT_B64}\n", id="leading-zero"),
        pytest.param(f"{ORIGIN}\n00\n{ROOT_B64}\n", id="double-zero"),
        pytest.param(f"{ORIGIN}\n-1\n{ROOT_B64}\n", id="negative"),
        pytest.param(f"{ORIGIN}\n+1\n{ROOT_B64}\n", id="plus-sign"),
        pytest.param(f"{ORIGIN}\n 1\n{ROOT_B64}\n", id="space-before-size"),
        pytest.param(f"{ORIGIN}\n1 \n{ROOT_B64}\n", id="space-after-size"),
        pytest.param(f"{ORIGIN}\n1e3\n{ROOT_B64}\n", id="exponent"),
        pytest.param(f"{ORIGIN}\n0x10\n{ROOT_B64}\n", id="hex"),
        pytest.param(f"{ORIGIN}\n1_000\n{ROOT_B64}\n", id="underscore"),
        pytest.param(f"{ORIGIN}\n\u0661\n{ROOT_B64}\n", id="arabic-indic-digit"),
        pytest.param(f"{ORIGIN}\n\n{ROOT_B64}\n", id="empty-size"),
        pytest.param(f"{ORIGIN}\n1\n{base64.b64encode(ROOT[:31]).decode()}\n", id="root-31"),
        pytest.param(f"{ORIGIN}\n1\n{base64.b64encode(ROOT + b'x').decode()}\n", id="root-33"),
        pytest.param(f"{ORIGIN}\n1\n{ROOT_B64[:-1]}\n", id="root-bad-padding"),
        pytest.param(f"{ORIGIN}\n1\n{ROOT.hex()}\n", id="root-hex"),
        pytest.param(f"{ORIGIN}\n1\n{ROOT_B64} \n", id="root-trailing-space"),
        pytest.param(f"{ORIGIN}\n1\n\n", id="root-empty"),
        pytest.param(f"{ORIGIN}\n1\n{ROOT_B64}\n\n", id="empty-extension-line"),
        pytest.param(f"{ORIGIN}\n1\n{ROOT_B64}\next\n\nmore\n", id="empty-middle-extension"),
        pytest.param(f"{ORIGIN}\n1\n{ROOT_B64}", id="no-final-newline"),
        pytest.param(f"{ORIGIN}\n1\n", id="two-lines"),
        pytest.param("", id="empty"),
        pytest.param(f"\n1\n{ROOT_B64}\n", id="empty-origin"),
    ],
)
def test_from_body_rejects(body: str) -> None:
    with pytest.raises(BadData):
        Checkpoint.from_body(body)


def test_sign_and_open() -> None:
    cp = Checkpoint(ORIGIN, 99, ROOT)
    signers: list[NoteSigner] = [LOG]
    note = cp.sign(signers)
    assert SignedNote.parse(note).text == cp.body()
    assert Checkpoint.open(note, [LOG.verifier]) == cp
    assert Checkpoint.open(note, [LOG.verifier], origin=ORIGIN) == cp
    assert Checkpoint.open(note.encode(), [LOG.verifier], origin=ORIGIN) == cp


def test_open_with_wrong_origin_fails() -> None:
    signers: list[NoteSigner] = [LOG]
    note = Checkpoint(ORIGIN, 99, ROOT).sign(signers)
    with pytest.raises(VerificationError, match="origin"):
        Checkpoint.open(note, [LOG.verifier], origin="example.com/other")
    with pytest.raises(VerificationError):
        Checkpoint.open(note, [LOG.verifier], origin=ORIGIN + "/")


def test_open_needs_a_trusted_signature() -> None:
    witness_only: list[NoteSigner] = [WITNESS]
    note = Checkpoint(ORIGIN, 5, ROOT).sign(witness_only)
    with pytest.raises(VerificationError):
        Checkpoint.open(note, [LOG.verifier], origin=ORIGIN)
    # Cosigned: the log's signature counts, the witness's is ignored when not trusted.
    both: list[NoteSigner] = [LOG, WITNESS]
    cosigned = Checkpoint(ORIGIN, 5, ROOT).sign(both)
    assert Checkpoint.open(cosigned, [LOG.verifier], origin=ORIGIN).size == 5


def test_open_rejects_tampered_checkpoint() -> None:
    signers: list[NoteSigner] = [LOG]
    note = Checkpoint(ORIGIN, 99, ROOT).sign(signers)
    tampered = note.replace("\n99\n", "\n100\n", 1)
    assert tampered != note
    with pytest.raises(VerificationError):
        Checkpoint.open(tampered, [LOG.verifier], origin=ORIGIN)


def test_open_rejects_signed_but_malformed_body() -> None:
    signers: list[NoteSigner] = [LOG]
    note = sign_note(f"{ORIGIN}\n007\n{ROOT_B64}\n", signers)
    with pytest.raises(BadData):
        Checkpoint.open(note, [LOG.verifier], origin=ORIGIN)
