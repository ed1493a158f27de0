"""The 国密 option: SM2-with-SM3 signatures on signed notes and detached signatures.

A checkpoint may carry, beside its Ed25519 line, a second signature line of the C2SP
signed-note type ``0xff`` (an identifier follows the byte): ``0xff || "sm2-sm3" || 0x00``.
Verifiers that do not know the type ignore the line (signed-note §Verifying), so
Ed25519-only verifiers keep working.  The encoding (issue 16, ``docs/keys.md``), so that
any SM2 implementation can check it:

* verifier key ``<name>+<hex key ID>+<base64(0xff || "sm2-sm3" || 0x00 || DER SPKI)>``;
* key ID = SHA-256(name || 0x0A || 0xff || "sm2-sm3" || 0x00 || SPKI)[:4];
* signature line payload = key ID || DER ``ECDSA-Sig-Value(r, s)`` (GB/T 35276 §7.2),
  SM2 over the note text with SM3 and the default distinguishing identifier
  ``1234567812345678`` (GB/T 35276 §5.4; what ``openssl pkeyutl -pkeyopt distid:...``
  names).

SM2 itself is Tongsuo's (``tongsuopy``, imported only when a key is used: the optional
``sm2`` extra); SM3 is pyca/cryptography's.  Pure: no file or network I/O (key files are
``ledger.keys``).
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import struct
import textwrap
from dataclasses import dataclass
from typing import Any, ClassVar

from cryptography.hazmat.primitives import hashes

from ledger.errors import BadData, CouldNotCheck
from ledger.note import check_key_name

# signed-note §Signature types: 0xff, then an identifier (ours ends in a NUL byte).
SIG_TYPE_EXTENDED = 0xFF
SM2_SM3_NAME = b"sm2-sm3"
SM2_SM3_TYPE = bytes([SIG_TYPE_EXTENDED]) + SM2_SM3_NAME + b"\x00"
# GB/T 35276-2017 §5.4 (and GM/T 0009): the default signer ID when none is agreed.
DEFAULT_DISTID = b"1234567812345678"
# GB/T 32918.5 curve sm2p256v1, OID 1.2.156.10197.1.301, as DER (the SPKI's parameters).
SM2_CURVE_OID_DER = bytes.fromhex("06082a811ccf5501822d")
MAX_SPKI_SIZE = 200
MAX_SIGNATURE_SIZE = 80  # DER SEQUENCE of two INTEGERs of at most 33 bytes each

INSTALL_HINT = "the 国密 (SM2) option needs tongsuopy: pip install 'absentia[sm2]'"


def sm3(data: bytes) -> bytes:
    """SM3 (GB/T 32905-2016) of ``data``: 32 bytes."""
    h = hashes.Hash(hashes.SM3())
    h.update(data)
    return h.finalize()


def sm2_key_id(name: str, spki: bytes) -> int:
    """SHA-256(name || 0x0A || 0xff || "sm2-sm3" || 0x00 || SPKI)[:4], big-endian."""
    digest = hashlib.sha256(name.encode() + b"\n" + SM2_SM3_TYPE + spki).digest()
    return int(struct.unpack(">I", digest[:4])[0])


def is_sm2_vkey(vkey: str) -> bool:
    """True if ``vkey`` looks like an SM2 verifier key (its key part opens with our type)."""
    parts = vkey.strip().split("+", 2)
    if len(parts) != 3:
        return False
    try:
        raw = base64.b64decode(parts[2], validate=True)
    except (binascii.Error, ValueError):
        return False
    return raw.startswith(SM2_SM3_TYPE)


def _tongsuo() -> tuple[Any, Any, Any, Any]:
    """Tongsuo's ``ec``, ``hashes``, ``serialization`` and ``InvalidSignature``.

    Raises:
        CouldNotCheck: tongsuopy is not installed.
    """
    try:
        # Deferred: tongsuopy (the optional ``sm2`` extra) is needed only with an SM2 key.
        from tongsuopy.crypto import hashes as t_hashes
        from tongsuopy.crypto import serialization as t_serialization
        from tongsuopy.crypto.asymciphers import ec as t_ec
        from tongsuopy.crypto.exceptions import InvalidSignature
    except ImportError as exc:  # pragma: no cover - the test extra installs it
        raise CouldNotCheck(INSTALL_HINT) from exc
    return t_ec, t_hashes, t_serialization, InvalidSignature


def _load_public(spki: bytes) -> Any:
    """Tongsuo's public key object for a DER SPKI.

    Raises:
        BadData: not an SM2 public key.
        CouldNotCheck: tongsuopy is missing.
    """
    t_ec, _, t_serialization, _ = _tongsuo()
    try:
        key = t_serialization.load_der_public_key(spki)
    except Exception as exc:  # tongsuopy raises ValueError or its UnsupportedAlgorithm
        raise BadData(f"not an SM2 public key: {exc}", field="key") from exc
    if not isinstance(key, t_ec.EllipticCurvePublicKey) or key.curve.name != "SM2":
        raise BadData("not an SM2 public key", field="key")
    return key


@functools.lru_cache(maxsize=64)
def _verify(spki: bytes, message: bytes, signature: bytes) -> bool:
    """SM2-with-SM3 verification (a pure function of its bytes, so cached: a report's
    thousands of proofs carry the same checkpoint, whose SM2 line is then checked once).

    Raises:
        BadData: the key is not a valid SM2 public key.
        CouldNotCheck: tongsuopy is not installed.
    """
    t_ec, t_hashes, _, invalid = _tongsuo()
    key = _load_public(spki)
    try:
        key.verify(signature, message, t_ec.ECDSA(t_hashes.SM3()))
    except invalid:
        return False
    except Exception:  # Tongsuo raises on DER it cannot parse
        return False
    return True


def clear_verify_cache() -> None:
    """Forget the cached verifications (a benchmark measures each one)."""
    _verify.cache_clear()


def spki_pem(spki: bytes) -> str:
    """The DER SPKI as a PEM ``PUBLIC KEY`` block (what ``openssl -pubin`` reads)."""
    body = "\n".join(textwrap.wrap(base64.b64encode(spki).decode(), 64))
    return f"-----BEGIN PUBLIC KEY-----\n{body}\n-----END PUBLIC KEY-----\n"


def spki_from_pem(text: str) -> bytes:
    """The DER SPKI of a PEM ``PUBLIC KEY`` block (what ``openssl pkey -pubout`` writes).

    Raises:
        BadData: no single well-formed PUBLIC KEY block.
    """
    begin, end = "-----BEGIN PUBLIC KEY-----", "-----END PUBLIC KEY-----"
    start, stop = text.find(begin), text.find(end)
    if start < 0 or stop < start:
        raise BadData("not a PEM public key (no BEGIN/END PUBLIC KEY lines)", field="sm2_key")
    try:
        return base64.b64decode("".join(text[start + len(begin):stop].split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadData(f"malformed PEM public key: {exc}", field="sm2_key") from exc


@dataclass(frozen=True)
class SM2Verifier:
    """A trusted SM2 key (signed-note type ``0xff "sm2-sm3" 0x00``)."""

    #: How ``ledger.verify.is_sm2`` tells an SM2 verifier from the others.
    algorithm: ClassVar[str] = "sm2-sm3"

    name: str
    key_id: int
    spki: bytes  # DER SubjectPublicKeyInfo

    @classmethod
    def from_spki(cls, name: str, spki: bytes) -> SM2Verifier:
        """The verifier of ``name`` and a DER SPKI of an SM2 key.

        Checks the form only (the curve's OID is in it); the point is checked when the key
        first verifies.

        Raises:
            BadData: the name is no key name, or the SPKI is not of an SM2 key.
        """
        check_key_name(name)
        if not 0 < len(spki) <= MAX_SPKI_SIZE or spki[0] != 0x30 \
                or SM2_CURVE_OID_DER not in spki:
            raise BadData("not a DER SubjectPublicKeyInfo of an SM2 key", field="key")
        return cls(name, sm2_key_id(name, spki), spki)

    @classmethod
    def from_vkey(cls, vkey: str, *, field: str = "key") -> SM2Verifier:
        """Parse ``<name>+<hex key ID>+<base64(0xff || "sm2-sm3" || 0x00 || SPKI)>``.

        Raises:
            BadData: the string is malformed, of another type, or its ID does not match.
        """
        parts = vkey.strip().split("+", 2)
        if len(parts) != 3:
            raise BadData(f"malformed SM2 verifier key {vkey!r}: want name+hash+key", field=field)
        name, hex_id, b64 = parts
        if len(hex_id) != 8 or hex_id.lower() != hex_id:
            raise BadData(f"malformed key ID {hex_id!r} in SM2 verifier key", field=field)
        try:
            raw = base64.b64decode(b64, validate=True)
            wanted = int(hex_id, 16)
        except (binascii.Error, ValueError) as exc:
            raise BadData(f"malformed SM2 verifier key {vkey!r}: {exc}", field=field) from exc
        if not raw.startswith(SM2_SM3_TYPE):
            raise BadData("verifier key is not an SM2 (type 0xff sm2-sm3) key", field=field)
        try:
            verifier = cls.from_spki(name, raw[len(SM2_SM3_TYPE):])
        except BadData as exc:
            raise BadData(str(exc), field=field) from exc
        if verifier.key_id != wanted:
            raise BadData(f"SM2 verifier key ID {hex_id} does not match its key", field=field)
        return verifier

    @property
    def vkey(self) -> str:
        """The verifier key string."""
        b64 = base64.b64encode(SM2_SM3_TYPE + self.spki).decode()
        return f"{self.name}+{self.key_id:08x}+{b64}"

    @property
    def public_pem(self) -> str:
        """The public key as PEM, for ``openssl pkeyutl -verify -pubin``."""
        return spki_pem(self.spki)

    def verify(self, message: bytes, signature: bytes) -> bool:
        """True if ``signature`` (DER ``ECDSA-Sig-Value``) is this key's SM2-with-SM3
        signature of ``message`` under the default distinguishing identifier.

        Raises:
            BadData: the key is not a valid SM2 public key.
            CouldNotCheck: tongsuopy is not installed.
        """
        if not 0 < len(signature) <= MAX_SIGNATURE_SIZE:
            return False
        return _verify(self.spki, message, signature)


class SM2Signer:
    """An SM2 private key that signs notes and documents (SM3, default distinguishing ID)."""

    def __init__(self, name: str, private_key: Any) -> None:
        """The signer ``name`` of a Tongsuo SM2 private key.

        Raises:
            BadData: ``name`` is not a key name.
        """
        _, _, t_serialization, _ = _tongsuo()
        self._key = private_key
        spki = private_key.public_key().public_bytes(
            t_serialization.Encoding.DER, t_serialization.PublicFormat.SubjectPublicKeyInfo)
        self.verifier = SM2Verifier.from_spki(name, spki)

    @classmethod
    def from_pem(cls, name: str, pem: bytes) -> SM2Signer:
        """The signer of a PKCS#8 PEM SM2 private key (unencrypted).

        Raises:
            BadData: the PEM is not an SM2 private key.
            CouldNotCheck: tongsuopy is not installed.
        """
        t_ec, _, t_serialization, _ = _tongsuo()
        try:
            key = t_serialization.load_pem_private_key(pem, password=None)
        except Exception as exc:  # ValueError, TypeError or UnsupportedAlgorithm
            raise BadData(f"not an SM2 private key: {exc}") from exc
        if not isinstance(key, t_ec.EllipticCurvePrivateKey) or key.curve.name != "SM2":
            raise BadData("not an SM2 private key")
        return cls(name, key)

    @staticmethod
    def generate_pem() -> bytes:
        """A new SM2 private key as PKCS#8 PEM (unencrypted: the file is mode 0600).

        Raises:
            CouldNotCheck: tongsuopy is not installed.
        """
        t_ec, _, t_serialization, _ = _tongsuo()
        key = t_ec.generate_private_key(t_ec.SM2())
        pem: bytes = key.private_bytes(t_serialization.Encoding.PEM,
                                       t_serialization.PrivateFormat.PKCS8,
                                       t_serialization.NoEncryption())
        return pem

    @property
    def name(self) -> str:
        return self.verifier.name

    @property
    def key_id(self) -> int:
        return self.verifier.key_id

    def sign(self, message: bytes) -> bytes:
        """The DER ``ECDSA-Sig-Value`` of SM2-with-SM3 over ``message``."""
        t_ec, t_hashes, _, _ = _tongsuo()
        signature: bytes = self._key.sign(message, t_ec.ECDSA(t_hashes.SM3()))
        return signature
