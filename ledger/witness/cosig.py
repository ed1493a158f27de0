"""C2SP tlog-cosignature v1 (Ed25519): signer, verifier and quorum check.

A cosignature is a signed-note signature line ``— <name> base64(key ID || sig)`` where
key ID = SHA-256(name || 0x0A || 0x04 || public key)[:4] and sig is a
``timestamped_signature``: u64 big-endian POSIX timestamp || 64-byte Ed25519 signature
over ``"cosignature/v1\\ntime <timestamp>\\n"`` followed by the checkpoint's note text
(with its final newline, without signature lines).  Verifier keys use type byte 0x04:
``<name>+<hex key ID>+<base64(0x04 || public key)>``.  Pure: no file or network I/O.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ledger.errors import BadData, VerificationError
from ledger.note import (
    ED25519_PUBLIC_KEY_SIZE,
    ED25519_SIGNATURE_SIZE,
    SIG_TYPE_COSIGNATURE_V1,
    Ed25519Key,
    NoteSignature,
    SignedNote,
    check_key_name,
    format_vkey,
    key_id,
    parse_vkey,
)

#: tlog-cosignature §Ed25519 signed message: the header line (domain separation).
HEADER = "cosignature/v1"
TIMESTAMP_SIZE = 8
#: tlog-cosignature: the timestamp MUST NOT exceed 2^63 - 1.
MAX_TIMESTAMP = (1 << 63) - 1


def signed_message(body: str, timestamp: int) -> bytes:
    """The bytes a v1 cosignature signs: header, time line, then the note text.

    Raises:
        BadData: the timestamp is out of range or the body does not end in a newline.
    """
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise BadData(f"cosignature timestamp {timestamp} is out of range")
    if not body.endswith("\n"):
        raise BadData("the cosigned note text must end with a newline")
    return f"{HEADER}\ntime {timestamp}\n{body}".encode()


@dataclass(frozen=True)
class Cosignature:
    """A verified cosignature: who, when (POSIX seconds) and its signature line."""

    name: str
    key_id: int
    timestamp: int
    line: str  # "— name base64\n"

    @property
    def time(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp, UTC)


@dataclass(frozen=True)
class CosignatureV1Verifier:
    """A trusted witness key (type 0x04).

    ``verify(message, signature)`` takes the note text and the signature bytes after the
    key ID, like ``ledger.note.Ed25519Verifier``, so signed-note code that looks keys up
    by (name, key ID) can use either.
    """

    name: str
    key_id: int
    public_key: bytes

    @classmethod
    def from_public_key(cls, name: str, public_key: bytes) -> CosignatureV1Verifier:
        """The verifier for ``name`` and a raw 32-byte Ed25519 public key.

        Raises:
            BadData: the name or key is malformed.
        """
        check_key_name(name)
        if len(public_key) != ED25519_PUBLIC_KEY_SIZE:
            raise BadData("an Ed25519 public key is 32 bytes", field="vkey")
        return cls(name, key_id(name, SIG_TYPE_COSIGNATURE_V1, public_key), public_key)

    @classmethod
    def from_vkey(cls, vkey: str) -> CosignatureV1Verifier:
        """Parse ``<name>+<hex key ID>+<base64(0x04 || key)>``.

        Raises:
            BadData: malformed, not of type 0x04, or the key ID does not match.
        """
        name, public_key = parse_vkey(vkey, SIG_TYPE_COSIGNATURE_V1, what="witness key",
                                      kind="Ed25519 cosignature/v1 (type 0x04)", field="vkey")
        return cls.from_public_key(name, public_key)

    @property
    def vkey(self) -> str:
        """The verifier key string."""
        return format_vkey(self.name, self.key_id, SIG_TYPE_COSIGNATURE_V1, self.public_key)

    @property
    def label(self) -> str:
        return f"{self.name}+{self.key_id:08x}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        """True if ``signature`` (timestamp || Ed25519 signature) cosigns ``message``."""
        if len(signature) != TIMESTAMP_SIZE + ED25519_SIGNATURE_SIZE:
            return False
        (timestamp,) = struct.unpack(">Q", signature[:TIMESTAMP_SIZE])
        if timestamp > MAX_TIMESTAMP:
            return False
        try:
            body = message.decode("utf-8")
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(
                signature[TIMESTAMP_SIZE:], signed_message(body, timestamp))
        except (InvalidSignature, UnicodeDecodeError, BadData):
            return False
        return True


class CosignatureV1Signer(Ed25519Key[CosignatureV1Verifier]):
    """A witness's signing key: cosigns note texts at a given time."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        """The witness ``name``'s signer of ``private_key``.

        Raises:
            BadData: ``name`` is not a key name (``check_key_name``).
        """
        super().__init__(name, private_key, CosignatureV1Verifier.from_public_key)

    def cosign(self, body: str, now: datetime) -> NoteSignature:
        """The cosignature of note text ``body`` at ``now`` (whole seconds).

        Raises:
            BadData: the body does not end in a newline, or ``now`` is before 1970.
        """
        timestamp = int(now.timestamp())
        sig = self._key.sign(signed_message(body, timestamp))
        return NoteSignature(self.name, self.key_id, struct.pack(">Q", timestamp) + sig)


def parse_signature_lines(text: str) -> list[NoteSignature]:
    """Parse a block of signature lines (a witness's 200 response body).

    Raises:
        BadData: empty, or a line is not a signed-note signature line.
    """
    if not text.endswith("\n"):
        raise BadData("signature lines must end with a newline")
    # Reuse the note parser on a dummy body so the line syntax is checked in one place.
    return list(SignedNote.parse("x\n\n" + text).signatures)


def verify_cosignatures(note: SignedNote, witnesses: Sequence[CosignatureV1Verifier]
                        ) -> list[Cosignature]:
    """The valid cosignatures of ``note`` by ``witnesses``, one per witness (the newest).

    Signatures by other keys are ignored (signed-note).

    Raises:
        VerificationError: a trusted witness's signature line does not verify.
    """
    known = {(w.name, w.key_id): w for w in witnesses}
    message = note.text.encode("utf-8")
    found: dict[tuple[str, int], Cosignature] = {}
    for sig in note.signatures:
        w = known.get((sig.name, sig.key_id))
        if w is None:
            continue
        if not w.verify(message, sig.signature):
            raise VerificationError(f"cosignature by witness {w.label} does not verify")
        (timestamp,) = struct.unpack(">Q", sig.signature[:TIMESTAMP_SIZE])
        got = Cosignature(w.name, w.key_id, timestamp, sig.line())
        old = found.get((w.name, w.key_id))
        if old is None or old.timestamp < timestamp:
            found[(w.name, w.key_id)] = got
    return list(found.values())


def require_cosignatures(note: SignedNote, witnesses: Sequence[CosignatureV1Verifier],
                         required: int) -> list[Cosignature]:
    """Check that at least ``required`` distinct trusted witnesses cosigned ``note``.

    Raises:
        VerificationError: fewer valid cosignatures than required, or a bad one.
    """
    got = verify_cosignatures(note, witnesses)
    if len(got) < required:
        have = ", ".join(f"{c.name}+{c.key_id:08x}" for c in got) or "none"
        missing = ", ".join(w.label for w in witnesses
                            if all((c.name, c.key_id) != (w.name, w.key_id) for c in got))
        raise VerificationError(
            f"the checkpoint has {len(got)} valid witness cosignature(s), {required} required "
            f"(cosigned by: {have}; missing: {missing or 'none'})")
    return got
