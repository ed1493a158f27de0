"""The personal-data vault: each candidate's details encrypted under their own key.

The ledger holds only a pseudonym (``sub_...``) and a salted commitment; the name, ID
number, phone and e-mail live here, sealed per person:

* a random 256-bit **data key** encrypts the details (AES-256-GCM, a fresh 96-bit
  nonce, the subject ID as associated data, so a sealed record cannot be moved to
  another subject);
* the data key is itself **wrapped** (AES-256-GCM) under the **master key**, again with
  the subject ID as associated data;
* the **commitment** ``SHA-256("absentia-commitment/v1\\n" || salt || JCS(details))``
  goes into the ledger.  The 16-byte salt is random and kept *only inside the
  ciphertext*, so the commitment reveals nothing and cannot be brute-forced from a
  guessed ID number;
* the **blind index** ``HMAC-SHA256(HKDF(master, info="absentia blind index v1"),
  normalised ID number)`` finds a person already registered without decrypting anyone.

**Erasure** (crypto-shredding): the caller deletes ``wrapped_key`` and ``ciphertext``
(and should delete the blind index too).  The salt is gone with the ciphertext, so the
commitment that stays in the append-only ledger can no longer be linked to anyone, not
even by someone who knows the person's details and holds the master key.

**Master key file** (``Vault.load_or_create_master_key``): one line of standard base64
(RFC 4648, with padding) encoding exactly 32 random bytes, followed by a newline; mode
0600 in a directory created with mode 0700.  Losing it makes every sealed record
unreadable: back it up like the checkpoint signing keys.

**Master key in a PKCS#11 token** (``[absence] master_key = "pkcs11:..."``, see
``ledger.absence.vault_token``): the data key is wrapped *inside the token* with
CKM_AES_KEY_WRAP_PAD (RFC 5649) by an AES key that cannot leave it, and the blind-index
and other derived keys come from an HMAC the token computes.  The stored ``wrapped_key``
is versioned by its form: 60 bytes (nonce || AES-GCM) under a master key file, or
``b"p11w1"`` || the 40-byte RFC 5649 wrapping under a token key.

Nothing here reads the clock; error messages name subjects and files, never personal data.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import json
import os
import re
import secrets
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ledger.errors import BadData, CouldNotCheck, NotAllowed
from ledger.jcs import canonical

KEY_BYTES = 32
NONCE_BYTES = 12
SALT_BYTES = 16
COMMITMENT_PREFIX = b"absentia-commitment/v1\n"
BLIND_INDEX_INFO = b"absentia blind index v1"
SUBJECT_RE = re.compile(r"sub_[a-z2-7]{26}")
#: The version tag of a data key wrapped in a PKCS#11 token (``KeyWrap``); a data key
#: wrapped under a master key file has no tag (nonce || AES-GCM, 60 bytes).
TOKEN_WRAP_TAG = b"p11w1"
_DETAIL_FIELDS = ("name", "id_number", "phone", "email")
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class PersonalDetails:
    """A candidate's personal data: only ever stored sealed, never in the ledger.

    ``phone`` or ``email`` may be ``""``; the importer requires at least one of them.
    """

    name: str
    id_number: str
    phone: str
    email: str

    def to_json(self) -> dict[str, str]:
        """The details as a JSON object (the input of the commitment)."""
        return {"name": self.name, "id_number": self.id_number,
                "phone": self.phone, "email": self.email}

    def __repr__(self) -> str:
        # Keep personal data out of logs and tracebacks that print the object.
        return "PersonalDetails(<redacted>)"


@dataclass(frozen=True)
class SealedPerson:
    """One person's sealed details, as stored next to (never inside) the ledger.

    ``wrapped_key``: nonce || AES-GCM(master key, data key), AAD = subject ID.
    ``ciphertext``: nonce || AES-GCM(data key, JCS of details + ``"salt"``), AAD = subject ID.
    ``commitment``: lowercase hex SHA-256 commitment to the details (see the module doc).
    ``blind_index``: lowercase hex HMAC-SHA256 of the normalised ID number.
    """

    wrapped_key: bytes
    ciphertext: bytes
    commitment: str
    blind_index: str


def new_subject_id() -> str:
    """A fresh random pseudonym: ``sub_`` + 26 lowercase base32 characters (128 bits)."""
    encoded = base64.b32encode(secrets.token_bytes(16)).decode("ascii")
    return "sub_" + encoded.rstrip("=").lower()


def _check_subject(subject: str) -> bytes:
    if not isinstance(subject, str) or not SUBJECT_RE.fullmatch(subject):
        raise BadData("subject: not a subject pseudonym (sub_ + 26 base32)", field="subject")
    return subject.encode("ascii")


def normalise_id_number(id_number: str) -> str:
    """The form of an ID number the blind index is computed over.

    Unicode NFKC (full-width digits become ASCII), all whitespace removed, upper case
    (a final ``x`` becomes ``X``).
    """
    return _WHITESPACE.sub("", unicodedata.normalize("NFKC", id_number)).upper()


class KeyWrap(Protocol):
    """Wraps data keys with a master key that stays elsewhere (a PKCS#11 token)."""

    def wrap(self, data_key: bytes) -> bytes:
        """The wrapped form of ``data_key`` (raises ``CouldNotCheck`` on failure)."""
        ...

    def unwrap(self, wrapped: bytes) -> bytes:
        """The data key ``wrapped`` holds (raises ``CouldNotCheck`` if it does not unwrap)."""
        ...


class Vault:
    """Seals and opens personal details with one master key."""

    def __init__(self, master_key: bytes, *, wrapper: KeyWrap | None = None) -> None:
        """Use ``master_key`` (32 bytes) to wrap data keys and derive the blind-index key;
        with ``wrapper`` (a token), data keys are wrapped by it and ``master_key`` is only
        the secret the derived keys come from.

        Raises:
            BadData: the key is not 32 bytes.
        """
        if not isinstance(master_key, bytes) or len(master_key) != KEY_BYTES:
            raise BadData(f"master key: must be {KEY_BYTES} bytes", field="master_key")
        self._wrapper = wrapper
        self._master = AESGCM(master_key)
        self._index_key = HKDF(
            algorithm=hashes.SHA256(), length=32, salt=None, info=BLIND_INDEX_INFO,
        ).derive(master_key)

    @staticmethod
    def load_or_create_master_key(path: Path) -> bytes:
        """Read the master key file at ``path``, creating it first if it does not exist.

        A new file holds one line of base64 encoding 32 random bytes; it is created with
        mode 0600 (atomically: written aside, then hard-linked into place, so a crash
        never leaves a half-written key and two processes agree on one key), and a
        missing directory is created with mode 0700.

        Raises:
            NotAllowed: the key file is readable or writable by group or others (the
                message gives the ``chmod`` to run).
            CouldNotCheck: the file or its directory cannot be created or read, or the
                file does not hold base64 of exactly 32 bytes.
        """
        if not path.exists():
            _create_key_file(path)
        try:
            mode = path.stat().st_mode
        except OSError as exc:
            raise CouldNotCheck(f"cannot read master key {path}: {exc}") from exc
        if mode & 0o077:
            raise NotAllowed(
                f"master key {path} is accessible by group or others (mode {mode & 0o777:o}); "
                f"run `chmod 600 {path}` and try again")
        try:
            text = path.read_bytes()
        except OSError as exc:
            raise CouldNotCheck(f"cannot read master key {path}: {exc}") from exc
        try:
            key = base64.b64decode(text.strip(), validate=True)
        except (binascii.Error, ValueError):
            key = b""
        if len(key) != KEY_BYTES:
            raise CouldNotCheck(
                f"master key {path} is corrupt: expected one line of base64 encoding "
                f"{KEY_BYTES} bytes. Restore it from backup; without it no sealed personal "
                "data can be opened.")
        return key

    def seal(self, subject: str, details: PersonalDetails) -> SealedPerson:
        """Encrypt ``details`` for ``subject`` under a fresh data key and salt.

        Raises:
            BadData: ``subject`` is not a pseudonym, or the details are not strings that
                can be encoded (for example a lone surrogate).
        """
        aad = _check_subject(subject)
        fields = details.to_json()
        for name, value in fields.items():
            if not isinstance(value, str):
                raise BadData(f"details.{name}: must be a string", field=f"details.{name}")
        salt = secrets.token_bytes(SALT_BYTES)
        try:
            commitment = self.commitment(details, salt)
            plaintext = canonical({**fields, "salt": base64.b64encode(salt).decode("ascii")})
        except BadData as exc:
            # The library's message could quote the text; say only what is wrong.
            raise BadData("details: not encodable as UTF-8 text", field="details") from exc
        data_key = AESGCM.generate_key(bit_length=256)
        key_nonce = secrets.token_bytes(NONCE_BYTES)
        data_nonce = secrets.token_bytes(NONCE_BYTES)
        wrapped_key = (TOKEN_WRAP_TAG + self._wrapper.wrap(data_key) if self._wrapper
                       else key_nonce + self._master.encrypt(key_nonce, data_key, aad))
        return SealedPerson(
            wrapped_key=wrapped_key,
            ciphertext=data_nonce + AESGCM(data_key).encrypt(data_nonce, plaintext, aad),
            commitment=commitment,
            blind_index=self.blind_index(details.id_number),
        )

    def open(self, subject: str, sealed: SealedPerson) -> PersonalDetails:
        """Decrypt the details sealed for ``subject``.

        Raises:
            BadData: ``subject`` is not a pseudonym.
            CouldNotCheck: decryption failed (a tampered record, another subject's
                record, another master key) or the record does not match its commitment
                or blind index.  The message holds no personal data.
        """
        return self._unseal(subject, sealed)[0]

    def salt_of(self, subject: str, sealed: SealedPerson) -> bytes:
        """The commitment salt kept inside the sealed record (to prove the commitment).

        Raises:
            BadData: ``subject`` is not a pseudonym.
            CouldNotCheck: as for ``open``.
        """
        return self._unseal(subject, sealed)[1]

    def blind_index(self, id_number: str) -> str:
        """Lowercase hex HMAC-SHA256 of the normalised ID number (``normalise_id_number``)."""
        mac = hmac.HMAC(self._index_key, hashes.SHA256())
        mac.update(normalise_id_number(id_number).encode("utf-8"))
        return mac.finalize().hex()

    @staticmethod
    def commitment(details: PersonalDetails, salt: bytes) -> str:
        """``SHA-256("absentia-commitment/v1\\n" || salt || RFC 8785 JSON of details)``.

        Raises:
            BadData: ``salt`` is not 16 bytes, or the details cannot be canonicalised.
        """
        if not isinstance(salt, bytes) or len(salt) != SALT_BYTES:
            raise BadData(f"salt: must be {SALT_BYTES} bytes", field="salt")
        digest = hashlib.sha256(COMMITMENT_PREFIX)
        digest.update(salt)
        digest.update(canonical(details.to_json()))
        return digest.hexdigest()

    def _unseal(self, subject: str, sealed: SealedPerson) -> tuple[PersonalDetails, bytes]:
        aad = _check_subject(subject)
        failed = (f"cannot open the sealed personal data of {subject}: the record was "
                  "altered, belongs to another subject, or was sealed under another master key")
        wrapped, ciphertext = sealed.wrapped_key, sealed.ciphertext
        if len(wrapped) <= NONCE_BYTES or len(ciphertext) <= NONCE_BYTES:
            raise CouldNotCheck(failed)
        in_token = wrapped.startswith(TOKEN_WRAP_TAG) and len(wrapped) == len(TOKEN_WRAP_TAG) + 40
        if in_token and self._wrapper is None:
            raise CouldNotCheck(f"the sealed personal data of {subject} was sealed under a "
                                "master key in a PKCS#11 token: configure [absence] "
                                "master_key = \"pkcs11:...\" and [pkcs11]")
        try:
            if in_token:
                assert self._wrapper is not None
                data_key = self._wrapper.unwrap(wrapped[len(TOKEN_WRAP_TAG) :])
            else:
                data_key = self._master.decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:],
                                                aad)
            if len(data_key) != KEY_BYTES:
                raise CouldNotCheck(failed)
            plaintext = AESGCM(data_key).decrypt(
                ciphertext[:NONCE_BYTES], ciphertext[NONCE_BYTES:], aad)
        except InvalidTag as exc:
            raise CouldNotCheck(failed) from exc
        malformed = (f"the sealed personal data of {subject} decrypts to an unexpected "
                     "structure; it was written by an incompatible version")
        try:
            fields = json.loads(plaintext.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            raise CouldNotCheck(malformed) from None
        if (not isinstance(fields, dict)
                or set(fields) != {*_DETAIL_FIELDS, "salt"}
                or not all(isinstance(v, str) for v in fields.values())):
            raise CouldNotCheck(malformed)
        try:
            salt = base64.b64decode(fields.pop("salt"), validate=True)
        except (binascii.Error, ValueError):
            raise CouldNotCheck(malformed) from None
        if len(salt) != SALT_BYTES:
            raise CouldNotCheck(malformed)
        details = PersonalDetails(**fields)
        # The two public fields are outside the encryption: check they belong to it
        # (plain comparisons: neither value is secret, and either may be any text).
        if self.commitment(details, salt) != sealed.commitment:
            raise CouldNotCheck(f"the sealed personal data of {subject} does not match "
                                "its commitment; the record was altered")
        if self.blind_index(details.id_number) != sealed.blind_index:
            raise CouldNotCheck(f"the sealed personal data of {subject} does not match "
                                "its blind index; the record was altered")
        return details, salt


def _create_key_file(path: Path) -> None:
    """Write a new random master key to ``path`` unless another process got there first."""
    folder = path.parent
    try:
        if not folder.exists():
            folder.mkdir(parents=True, mode=0o700)
            os.chmod(folder, 0o700)  # mkdir's mode is filtered by the umask
        tmp = folder / f".{path.name}.{secrets.token_hex(8)}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(base64.b64encode(secrets.token_bytes(KEY_BYTES)) + b"\n")
                fh.flush()
                os.fsync(fh.fileno())
            # link() never replaces an existing key: if another process created one
            # meanwhile, theirs is kept and read below.
            with contextlib.suppress(FileExistsError):
                os.link(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
        dir_fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError as exc:
        raise CouldNotCheck(f"cannot create master key {path}: {exc}") from exc
