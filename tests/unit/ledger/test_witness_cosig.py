"""C2SP tlog-cosignature v1 bytes, key IDs and vkeys; the tlog-witness request body.

Vectors: the cosignature/v1 vkey and cosignature of transparency-dev/formats'
note_cosigv1_test.go, and the example request body of the C2SP tlog-witness spec.  The
signed bytes are checked against an independent computation with ``cryptography``.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.checkpoint import Checkpoint
from ledger.errors import BadData, VerificationError
from ledger.note import Ed25519Signer, Ed25519Verifier, SignedNote, sign_note
from ledger.witness.cosig import (
    CosignatureV1Signer,
    CosignatureV1Verifier,
    parse_signature_lines,
    require_cosignatures,
    verify_cosignatures,
)
from ledger.witness.protocol import AddCheckpoint, parse_size_body

# transparency-dev/formats note/note_cosigv1_test.go: "native algEd25519CosignatureV1".
REMORA_VKEY = "remora.n621.de+da77ade7+BOvN63jn/bLvkieywe8R6UYAtVtNbZpXh34x7onlmtw2"
# ... TestCosignatureTimestamp "works": key ID 64 68 46 b9, timestamp 1727964367.
FORMATS_SIG = ("ZGhGuQAAAABm/qTPeyKXD+R2rzyQsxPiP8mXum7qq/iF0u4vanlqJyocWODBt97w9uL+8qT7S5gxE"
               "HWWOworDcFiEBYJXORmnFBOBA==")

# C2SP tlog-witness, "Example request body".
SPEC_REQUEST = """old 20852014
PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=
jrJZDmY8Y7SyJE0MWLpLozkIVMSMZcD5kvuKxPC3swk=
5+pKlUdi2LeF/BcMHBn+Ku6yhPGNCswZZD1X/6QgPd8=
/6WVhPs2CwSsb5rYBH5cjHV/wSmA79abXAwhXw3Kj/0=

example.com/behind-the-sofa
20852163
CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=

""" + (
    "— example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URYN7u5/Zh"
    "cyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
    "— example.com/behind-the-sofa opLqBQsREYCgu6xQkYQwJr9fo45a62DN9EdmHXnZdXNqlcVGlCum2Wks+49/"
    "V6267UEjw6QUXTS5Rovnzv++qbSzm9Q=\n")

BODY = "example.org/log\n42\n" + base64.b64encode(b"\x07" * 32).decode() + "\n"
T = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def test_vkey_vector_parses_and_its_key_id_is_sha256_of_name_0a_04_key() -> None:
    v = CosignatureV1Verifier.from_vkey(REMORA_VKEY)
    assert v.name == "remora.n621.de"
    assert v.key_id == 0xDA77ADE7
    raw = base64.b64decode(REMORA_VKEY.split("+")[2])
    assert raw[0] == 0x04
    want = hashlib.sha256(b"remora.n621.de\n\x04" + raw[1:]).digest()[:4]
    assert struct.pack(">I", v.key_id) == want
    assert v.vkey == REMORA_VKEY


def test_signature_vector_layout_key_id_then_u64_timestamp_then_signature() -> None:
    (sig,) = parse_signature_lines(f"— w {FORMATS_SIG}\n")
    assert sig.key_id == 0x646846B9
    assert len(sig.signature) == 8 + 64
    assert struct.unpack(">Q", sig.signature[:8])[0] == 1727964367


def test_cosignature_bytes_match_an_independent_computation() -> None:
    private = Ed25519PrivateKey.generate()
    pub = private.public_key().public_bytes_raw()
    signer = CosignatureV1Signer("witness.example/w1", private)
    line = signer.cosign(BODY, T).line()
    assert line.startswith("— witness.example/w1 ")
    assert line.endswith("\n")
    blob = base64.b64decode(line.split(" ")[2])
    assert blob[:4] == hashlib.sha256(b"witness.example/w1\n\x04" + pub).digest()[:4]
    timestamp = int(T.timestamp())
    assert blob[4:12] == timestamp.to_bytes(8, "big")
    message = f"cosignature/v1\ntime {timestamp}\n{BODY}".encode()
    private.public_key().verify(blob[12:], message)  # raises if not
    assert len(blob) == 76
    want_vkey = ("witness.example/w1+" + hashlib.sha256(b"witness.example/w1\n\x04" + pub)
                 .digest()[:4].hex() + "+" + base64.b64encode(b"\x04" + pub).decode())
    assert signer.verifier.vkey == want_vkey


def test_a_cosigned_checkpoint_verifies_with_log_and_witness_keys() -> None:
    log_signer = Ed25519Signer("example.org/log", Ed25519PrivateKey.generate())
    w1 = CosignatureV1Signer("w1.example", Ed25519PrivateKey.generate())
    w2 = CosignatureV1Signer("w2.example", Ed25519PrivateKey.generate())
    note = sign_note(BODY, [log_signer]) + w1.cosign(BODY, T).line() + w2.cosign(BODY, T).line()
    parsed = SignedNote.parse(note)
    # The log's verifier ignores the cosignatures (unknown keys) ...
    assert Checkpoint.open(note, [log_signer.verifier]).size == 42
    # ... and the cosignature verifier fits SignedNote.verify's lookup by (name, key ID).
    assert parsed.verify([w1.verifier])
    got = require_cosignatures(parsed, [w1.verifier, w2.verifier], 2)
    assert {c.name for c in got} == {"w1.example", "w2.example"}
    assert all(c.timestamp == int(T.timestamp()) for c in got)
    with pytest.raises(VerificationError, match="1 valid witness cosignature"):
        require_cosignatures(parsed, [w1.verifier], 2)


def test_tampering_and_key_type_confusion_are_caught() -> None:
    private = Ed25519PrivateKey.generate()
    w = CosignatureV1Signer("w.example", private)
    line = w.cosign(BODY, T).line()
    other_body = BODY.replace("42", "43")
    note = SignedNote.parse(other_body + "\n" + line)
    with pytest.raises(VerificationError, match="does not verify"):
        verify_cosignatures(note, [w.verifier])
    # The same public key as a plain Ed25519 (0x01) note key has another key ID: the
    # cosignature line is not mistaken for a note signature.
    plain = Ed25519Verifier.from_public_key("w.example", private.public_key().public_bytes_raw())
    assert plain.key_id != w.key_id
    with pytest.raises(VerificationError, match="no signature by a trusted key"):
        SignedNote.parse(BODY + "\n" + line).verify([plain])
    # A timestamp changed in the line breaks the signature.
    blob = bytearray(base64.b64decode(line.split(" ")[2]))
    blob[11] ^= 1
    bad = f"— w.example {base64.b64encode(bytes(blob)).decode()}\n"
    assert verify_cosignatures(SignedNote.parse(BODY + "\n" + line), [w.verifier])
    with pytest.raises(VerificationError):
        verify_cosignatures(SignedNote.parse(BODY + "\n" + bad), [w.verifier])


@pytest.mark.parametrize("vkey", [
    "w+12345678+AQ==",  # too short
    REMORA_VKEY.replace("+da77ade7+", "+da77ade8+"),  # wrong key ID
    REMORA_VKEY.replace("+BOvN", "+AevN"),  # type 0x01, not 0x04
    "no-plus-signs",
])
def test_malformed_witness_vkeys_are_refused(vkey: str) -> None:
    with pytest.raises(BadData):
        CosignatureV1Verifier.from_vkey(vkey)


def test_the_specs_example_request_body_round_trips() -> None:
    req = AddCheckpoint.parse(SPEC_REQUEST.encode())
    assert req.old == 20852014
    assert len(req.proof) == 4
    assert req.proof[0] == base64.b64decode("PlRNCrwHpqhGrupue0L7gxbjbMiKA9temvuZZDDpkaw=")
    assert req.checkpoint.startswith("example.com/behind-the-sofa\n20852163\n")
    assert len(SignedNote.parse(req.checkpoint).signatures) == 2
    assert req.to_bytes() == SPEC_REQUEST.encode()


@pytest.mark.parametrize(("body", "field"), [
    (b"old 01\n\n" + BODY.encode(), "old"),
    (b"old -1\n\n" + BODY.encode(), "old"),
    (b"new 1\n\n" + BODY.encode(), "old"),
    (b"old 1\nnot-base64!\n\n" + BODY.encode(), "proof"),
    (b"old 1\n" + base64.b64encode(b"x" * 31) + b"\n\n" + BODY.encode(), "proof"),
    (b"old 1\n" + (base64.b64encode(b"x" * 32) + b"\n") * 64 + b"\n" + BODY.encode(), "proof"),
    (b"old 1\n", "body"),
    (b"\xff\xfe", "body"),
])
def test_malformed_request_bodies_name_the_field(body: bytes, field: str) -> None:
    with pytest.raises(BadData) as info:
        AddCheckpoint.parse(body)
    assert info.value.field == field


def test_409_size_body() -> None:
    assert parse_size_body(b"17\n") == 17
    for bad in (b"17", b"017\n", b"x\n", b""):
        with pytest.raises(BadData):
            parse_size_body(bad)
