"""The 国密 option's core: published SM2/SM3 vectors, the note encoding, key IDs, verifiers.

The OpenSSL command-line cross-checks are in ``tests/functional/test_sm2_openssl.py``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import struct
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from tongsuopy.crypto import serialization as t_serialization
from tongsuopy.crypto.asymciphers import ec as t_ec

from ledger.checkpoint import Checkpoint
from ledger.errors import BadData, VerificationError
from ledger.note import Ed25519Signer, NoteVerifier, SignedNote, sign_note
from ledger.sm2 import SM2_SM3_TYPE, SM2Signer, SM2Verifier, is_sm2_vkey, sm2_key_id, sm3
from ledger.verify import require_sm2
from ledger.verify_cli import parse_verifier

VECTORS = Path(__file__).resolve().parents[2] / "vectors"
BODY = "example.org/log\n42\n" + base64.b64encode(bytes(range(32))).decode() + "\n"
# GB/T 32918.5-2017 §A: the recommended curve's a, b and base point (for Z below).
CURVE_A = "fffffffeffffffffffffffffffffffffffffffff00000000fffffffffffffffc"
CURVE_B = "28e9fa9e9d9f5e344d5a9e4bcf6509a7f39789f515ab8f92ddbcbd414d940e93"
GX = "32c4ae2c1f1981195f9904466a39c9948fe30bbff2660be1715a4589334c74c7"
GY = "bc3736a2f4f6779c59bdcee36b692153d0a9877cc62a474002df32e52139f0a0"


def _vectors() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((VECTORS / "gbt_sm2_sm3.json").read_text("utf-8"))
    return data


def _spki(x: str, y: str) -> bytes:
    public = t_ec.EllipticCurvePublicNumbers(int(x, 16), int(y, 16), t_ec.SM2()).public_key()
    spki: bytes = public.public_bytes(t_serialization.Encoding.DER,
                                      t_serialization.PublicFormat.SubjectPublicKeyInfo)
    return spki


def _signer(name: str = "example.org/log") -> SM2Signer:
    return SM2Signer.from_pem(name, SM2Signer.generate_pem())


@pytest.mark.parametrize("case", _vectors()["sm3"], ids=lambda c: c["message_ascii"][:8])
def test_sm3_matches_gbt_32905(case: dict[str, str]) -> None:
    assert sm3(case["message_ascii"].encode()).hex() == case["digest"]


def test_the_published_sm2_signature_verifies_with_the_published_key() -> None:
    v = _vectors()["sm2_sign"]
    verifier = SM2Verifier.from_spki("gbt32918", _spki(v["public_x"], v["public_y"]))
    signature = encode_dss_signature(int(v["r"], 16), int(v["s"], 16))
    message = v["message_ascii"].encode()
    assert verifier.verify(message, signature)
    # Any change to the message, r or s fails.
    assert not verifier.verify(message + b".", signature)
    assert not verifier.verify(message, encode_dss_signature(int(v["r"], 16) ^ 1, int(v["s"], 16)))
    assert not verifier.verify(message, encode_dss_signature(int(v["r"], 16), int(v["s"], 16) ^ 1))


def test_the_published_key_pair_and_digests_are_consistent() -> None:
    """The private key derives the published public key (so the curve is sm2p256v1), and
    the published Z and e are SM3 of the standard's inputs with ID 1234567812345678."""
    v = _vectors()["sm2_sign"]
    numbers = t_ec.derive_private_key(int(v["private_key"], 16), t_ec.SM2()).public_key() \
        .public_numbers()
    assert (f"{numbers.x:064x}", f"{numbers.y:064x}") == (v["public_x"], v["public_y"])
    ident = v["id_ascii"].encode()
    z_input = (struct.pack(">H", len(ident) * 8) + ident
               + bytes.fromhex(CURVE_A + CURVE_B + GX + GY + v["public_x"] + v["public_y"]))
    assert sm3(z_input).hex() == v["z"]
    digest = hashes.Hash(hashes.SM3())
    digest.update(bytes.fromhex(v["z"]) + v["message_ascii"].encode())
    assert digest.finalize().hex() == v["e"]


def test_vkey_encoding_and_key_id_follow_issue_16() -> None:
    signer = _signer()
    verifier = signer.verifier
    name, hex_id, b64 = verifier.vkey.split("+", 2)
    raw = base64.b64decode(b64)
    assert name == "example.org/log"
    assert raw[:9] == b"\xffsm2-sm3\x00" == SM2_SM3_TYPE
    spki = raw[9:]
    assert spki == verifier.spki
    # The SPKI is plain DER that any library reads.
    assert t_serialization.load_der_public_key(spki).curve.name == "SM2"
    wanted = hashlib.sha256(b"example.org/log\n\xffsm2-sm3\x00" + spki).digest()[:4]
    assert hex_id == wanted.hex() == f"{sm2_key_id(name, spki):08x}"
    assert SM2Verifier.from_vkey(verifier.vkey) == verifier
    assert is_sm2_vkey(verifier.vkey)
    assert isinstance(parse_verifier(verifier.vkey), SM2Verifier)
    assert verifier.public_pem.startswith("-----BEGIN PUBLIC KEY-----\n")


def test_malformed_sm2_vkeys_are_refused() -> None:
    good = _signer().verifier.vkey
    name, hex_id, b64 = good.split("+", 2)
    raw = base64.b64decode(b64)
    ed = Ed25519Signer("example.org/log", Ed25519PrivateKey.generate()).verifier.vkey
    bad = [
        "nothing",
        f"{name}+{hex_id}",
        f"{name}+{hex_id.upper()}+{b64}",
        f"{name}+{int(hex_id, 16) ^ 1:08x}+{b64}",  # the ID does not match
        f"{name}+{hex_id}+{b64[:-4]}!!!!",
        f"{name}+{hex_id}+" + base64.b64encode(b"\xffsm2-sm4\x00" + raw[9:]).decode(),
        f"{name}+{hex_id}+" + base64.b64encode(raw[:9] + b"\x30\x03abc").decode(),
        ed,
    ]
    for vkey in bad:
        with pytest.raises(BadData) as info:
            SM2Verifier.from_vkey(vkey)
        assert info.value.field == "key"
    assert not is_sm2_vkey(ed)


def test_sm2_signature_line_is_key_id_and_der() -> None:
    signer = _signer()
    note = sign_note(BODY, [signer])
    parsed = SignedNote.parse(note)
    (sig,) = parsed.signatures
    assert sig.key_id == signer.key_id
    assert sig.signature[0] == 0x30  # DER SEQUENCE { r INTEGER, s INTEGER }
    assert signer.verifier.verify(BODY.encode(), sig.signature)
    assert parsed.verify([signer.verifier]) == [signer.verifier]


def test_an_sm2_signed_checkpoint_verifies_with_an_ed25519_only_verifier() -> None:
    ed = Ed25519Signer("example.org/log", Ed25519PrivateKey.generate())
    sm2 = _signer()
    note = Checkpoint("example.org/log", 42, bytes(range(32))).sign([ed, sm2])
    assert note.count("\n\u2014 example.org/log ") == 2
    # Ed25519 only: the SM2 line is an unknown key's and is ignored.
    assert Checkpoint.open(note, [ed.verifier]).size == 42
    # Both keys: both lines check.
    both: list[NoteVerifier] = [ed.verifier, sm2.verifier]
    assert SignedNote.parse(note).verify(both) == both
    # SM2 only works too.
    assert Checkpoint.open(note, [sm2.verifier]).size == 42


def test_a_bad_sm2_line_fails_and_a_missing_one_is_noticed() -> None:
    ed = Ed25519Signer("example.org/log", Ed25519PrivateKey.generate())
    sm2 = _signer()
    note = Checkpoint("example.org/log", 42, bytes(range(32))).sign([ed, sm2])
    lines = note.split("\n")
    blob = bytearray(base64.b64decode(lines[-2].rsplit(" ", 1)[1]))
    blob[-1] ^= 0x01
    lines[-2] = lines[-2].rsplit(" ", 1)[0] + " " + base64.b64encode(bytes(blob)).decode()
    tampered = "\n".join(lines)
    assert Checkpoint.open(tampered, [ed.verifier]).size == 42  # Ed25519-only: ignored
    with pytest.raises(VerificationError, match="does not verify"):
        Checkpoint.open(tampered, [ed.verifier, sm2.verifier])
    # The SM2 line stripped: an auditor who asked for SM2 is told.
    stripped = "\n".join(lines[:-2]) + "\n"
    both: list[NoteVerifier] = [ed.verifier, sm2.verifier]
    signed_by = SignedNote.parse(stripped).verify(both)
    with pytest.raises(VerificationError, match="no SM2 signature"):
        require_sm2(both, signed_by)
    require_sm2([ed.verifier], signed_by)


def test_sm2_signatures_are_randomised_but_all_verify() -> None:
    signer = _signer()
    one, two = signer.sign(b"x\n"), signer.sign(b"x\n")
    assert one != two
    assert signer.verifier.verify(b"x\n", one)
    assert signer.verifier.verify(b"x\n", two)
    assert not signer.verifier.verify(b"x\n", b"")
    assert not signer.verifier.verify(b"x\n", b"\x30" * 200)
    assert not signer.verifier.verify(b"x\n", b"not der at all")


def test_an_ed25519_pem_is_not_an_sm2_key() -> None:
    from cryptography.hazmat.primitives import serialization

    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())
    with pytest.raises(BadData):
        SM2Signer.from_pem("example.org/log", pem)
    with pytest.raises(BadData):
        SM2Signer.from_pem("example.org/log", b"garbage")
