"""C2SP signed-note: Ed25519 signers, verifier keys, signing and opening notes.

Follows https://c2sp.org/signed-note byte for byte: a note is text ending in a
newline, a blank line, then signature lines ``— <name> <base64(key ID || sig)>``.
Key IDs are SHA-256(name || 0x0A || type || public key)[:4].  Pure: no file or
network I/O (key files are ``ledger.keys``).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ledger.errors import BadData, VerificationError

# signed-note §Signatures: em dash U+2014 and a space open each signature line.
SIGNATURE_LINE_PREFIX = "— "
# signed-note §Signature types.
SIG_TYPE_ED25519 = 0x01
SIG_TYPE_COSIGNATURE_V1 = 0x04
ED25519_PUBLIC_KEY_SIZE = 32
ED25519_SIGNATURE_SIZE = 64
# signed-note §Format: verifiers MUST accept at least 16 signatures.
MAX_SIGNATURES = 100
MAX_NOTE_SIZE = 1 << 20


def check_key_name(name: str) -> None:
    """Raise ``BadData`` unless ``name`` is a valid key name (non-empty, no spaces or '+')."""
    if not name or any(c.isspace() or c == "+" for c in name):
        raise BadData(f"invalid key name {name!r}: must be non-empty, no spaces or '+'")


def key_id(name: str, sig_type: int, public_key: bytes) -> int:
    """SHA-256(name || 0x0A || type || public key)[:4] as a big-endian uint32."""
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([sig_type]) + public_key).digest()
    return int(struct.unpack(">I", digest[:4])[0])


def parse_vkey(vkey: str, sig_type: int, *, what: str, kind: str,
               field: str) -> tuple[str, bytes]:
    """Split a verifier key string ``<name>+<hex key ID>+<base64(type || key)>``.

    The one parser of the verifier-key form, for every signature type: ``what`` names the key in
    messages ("verifier key", "witness key"), ``kind`` describes the wanted type, ``field`` is
    the ``BadData`` field. Returns the key name and the raw 32-byte public key.

    Raises:
        BadData: the string is malformed, of another type, or its ID does not match its key.
    """
    parts = vkey.strip().split("+", 2)
    if len(parts) != 3:
        raise BadData(f"malformed {what} {vkey!r}: want name+hash+key", field=field)
    name, hex_id, b64 = parts
    check_key_name(name)
    if len(hex_id) != 8 or hex_id.lower() != hex_id:
        raise BadData(f"malformed key ID {hex_id!r} in {what}", field=field)
    try:
        raw = base64.b64decode(b64, validate=True)
        wanted = int(hex_id, 16)
    except (binascii.Error, ValueError) as exc:
        raise BadData(f"malformed {what} {vkey!r}: {exc}", field=field) from exc
    if len(raw) != 1 + ED25519_PUBLIC_KEY_SIZE or raw[0] != sig_type:
        raise BadData(f"{what} is not an {kind} key", field=field)
    public_key = raw[1:]
    if key_id(name, sig_type, public_key) != wanted:
        raise BadData(f"{what} ID {hex_id} does not match its key", field=field)
    return name, public_key


def format_vkey(name: str, key_id: int, sig_type: int, public_key: bytes) -> str:
    """The verifier key string ``<name>+<hex key ID>+<base64(type || key)>``: what
    ``parse_vkey`` reads, for every signature type."""
    b64 = base64.b64encode(bytes([sig_type]) + public_key).decode()
    return f"{name}+{key_id:08x}+{b64}"


class NoteSigner(Protocol):
    """What signs a note: a name, a key ID and a ``sign(message)`` method."""

    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> int: ...

    def sign(self, message: bytes) -> bytes:
        """Return the raw signature over ``message``."""
        ...


class NoteVerifier(Protocol):
    """What checks one signature line: a name, a key ID and ``verify(message, sig)``
    (Ed25519 here; SM2 in ``ledger.sm2``)."""

    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> int: ...

    def verify(self, message: bytes, signature: bytes) -> bool:
        """True if ``signature`` is this key's over ``message``."""
        ...


NV = TypeVar("NV", bound=NoteVerifier)


@dataclass(frozen=True)
class Ed25519Verifier:
    """A trusted Ed25519 note key (type 0x01)."""

    name: str
    key_id: int
    public_key: bytes

    @classmethod
    def from_public_key(cls, name: str, public_key: bytes) -> Ed25519Verifier:
        """Build the verifier for ``name`` and a raw 32-byte public key."""
        check_key_name(name)
        if len(public_key) != ED25519_PUBLIC_KEY_SIZE:
            raise BadData("an Ed25519 public key is 32 bytes")
        return cls(name, key_id(name, SIG_TYPE_ED25519, public_key), public_key)

    @classmethod
    def from_vkey(cls, vkey: str) -> Ed25519Verifier:
        """Parse a verifier key string ``<name>+<hex key ID>+<base64(0x01 || key)>``.

        Raises:
            BadData: the string is malformed, of another type, or its ID does not match.
        """
        name, public_key = parse_vkey(vkey, SIG_TYPE_ED25519, what="verifier key",
                                      kind="Ed25519 (type 0x01)", field="key")
        return cls.from_public_key(name, public_key)

    @property
    def vkey(self) -> str:
        """The verifier key string."""
        return format_vkey(self.name, self.key_id, SIG_TYPE_ED25519, self.public_key)

    def verify(self, message: bytes, signature: bytes) -> bool:
        """True if ``signature`` is this key's Ed25519 signature of ``message``."""
        if len(signature) != ED25519_SIGNATURE_SIZE:
            return False
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except InvalidSignature:
            return False
        return True


class KeyIdentity(Protocol):
    """What names a verifier key: its key name and key ID."""

    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> int: ...


V = TypeVar("V", bound=KeyIdentity)


class Ed25519Key(Generic[V]):
    """An Ed25519 private key with ``verifier``, the verifier of its public key (of the
    signature type ``verifier_of`` builds: a note key, a witness key), which names it."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey,
                 verifier_of: Callable[[str, bytes], V]) -> None:
        """The key ``name`` of ``private_key``.

        Raises:
            BadData: ``name`` is not a key name (``check_key_name``).
        """
        self._key = private_key
        self.verifier = verifier_of(name, private_key.public_key().public_bytes_raw())

    @property
    def name(self) -> str:
        return self.verifier.name

    @property
    def key_id(self) -> int:
        return self.verifier.key_id


class Ed25519Signer(Ed25519Key[Ed25519Verifier]):
    """An in-memory Ed25519 note signer (the key usually comes from ``ledger.keys``)."""

    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        """The signer ``name`` of ``private_key``.

        Raises:
            BadData: ``name`` is not a key name (``check_key_name``).
        """
        super().__init__(name, private_key, Ed25519Verifier.from_public_key)

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)


@dataclass(frozen=True)
class NoteSignature:
    """One signature line of a note."""

    name: str
    key_id: int
    signature: bytes  # without the 4-byte key ID

    def line(self) -> str:
        """The signature line, newline included."""
        blob = base64.b64encode(struct.pack(">I", self.key_id) + self.signature).decode()
        return f"{SIGNATURE_LINE_PREFIX}{self.name} {blob}\n"


@dataclass(frozen=True)
class SignedNote:
    """A parsed note: its text (with final newline) and its signature lines."""

    text: str
    signatures: tuple[NoteSignature, ...]

    @classmethod
    def parse(cls, data: bytes | str) -> SignedNote:
        """Parse a signed note.

        Raises:
            BadData: not UTF-8, control characters, no blank separator line, or a
                malformed signature line.
        """
        if isinstance(data, bytes):
            if len(data) > MAX_NOTE_SIZE:
                raise BadData("note is too large")
            try:
                data = data.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise BadData("note is not valid UTF-8") from exc
        if any(ord(c) < 0x20 and c != "\n" for c in data):
            raise BadData("note contains control characters")
        if not data.endswith("\n"):
            raise BadData("note does not end with a newline")
        split = data.rfind("\n\n")
        if split < 0:
            raise BadData("note has no blank line before its signatures")
        text, sig_block = data[: split + 1], data[split + 2 :]
        sigs: list[NoteSignature] = []
        for line in sig_block[:-1].split("\n"):  # signed-note lines end in U+000A only
            if not line.startswith(SIGNATURE_LINE_PREFIX):
                raise BadData(f"malformed signature line {line!r}")
            rest = line[len(SIGNATURE_LINE_PREFIX) :]
            name, sep, b64 = rest.rpartition(" ")
            if not sep:
                raise BadData(f"malformed signature line {line!r}")
            check_key_name(name)
            try:
                blob = base64.b64decode(b64, validate=True)
            except binascii.Error as exc:
                raise BadData(f"signature line {line!r} is not base64") from exc
            if len(blob) < 5:
                raise BadData(f"signature in line {line!r} is too short")
            sigs.append(NoteSignature(name, struct.unpack(">I", blob[:4])[0], blob[4:]))
        if not sigs:
            raise BadData("note has no signatures")
        if len(sigs) > MAX_SIGNATURES:
            raise BadData("note has too many signatures")
        return cls(text, tuple(sigs))

    def to_text(self) -> str:
        """The note as text: body, blank line, signature lines."""
        return self.text + "\n" + "".join(s.line() for s in self.signatures)

    def verify(self, verifiers: Sequence[NV]) -> list[NV]:
        """Check signatures by known keys (of any type: Ed25519, SM2); ignore unknown ones.

        Returns the verifiers whose signatures verified (at least one).

        Raises:
            VerificationError: a known key's signature fails, or no known key signed.
        """
        known = {(v.name, v.key_id): v for v in verifiers}
        good: list[NV] = []
        message = self.text.encode("utf-8")
        for sig in self.signatures:
            v = known.get((sig.name, sig.key_id))
            if v is None:
                continue  # signed-note: verifiers MUST ignore unknown keys
            if not v.verify(message, sig.signature):
                raise VerificationError(
                    f"signature by {v.name}+{v.key_id:08x} does not verify: the note was altered"
                )
            good.append(v)
        if not good:
            names = ", ".join(f"{s.name}+{s.key_id:08x}" for s in self.signatures)
            raise VerificationError(f"no signature by a trusted key (signed by: {names})")
        return good


def sign_note(text: str, signers: list[NoteSigner]) -> str:
    """Sign ``text`` (which must end in a newline) with each signer; return the note.

    Raises:
        BadData: the text does not end in a newline or has control characters.
    """
    if not text.endswith("\n"):
        raise BadData("note text must end with a newline")
    if any(ord(c) < 0x20 and c != "\n" for c in text):
        raise BadData("note text contains control characters")
    message = text.encode("utf-8")
    sigs = tuple(NoteSignature(s.name, s.key_id, s.sign(message)) for s in signers)
    return SignedNote(text, sigs).to_text()
