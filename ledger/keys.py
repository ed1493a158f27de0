"""Checkpoint-signing keys, addressed by key URI: in files (mode 0600) or in a token.

A key URI says where a private key lives: ``file:<path relative to the key
directory>``, or ``pkcs11:token=...;object=...`` (RFC 7512) for a key inside a PKCS#11
token (``ledger.hsm``, configured by ``[pkcs11]``).  Callers get a note signer either
way.  Private keys are never logged.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.errors import BadData, CouldNotCheck, NotAllowed
from ledger.note import Ed25519Signer, Ed25519Verifier, NoteSigner
from ledger.pkcs11uri import is_pkcs11
from ledger.sm2 import SM2Signer

FILE_SCHEME = "file:"


def write_private_key(path: Path, private: Ed25519PrivateKey, what: str) -> None:
    """Write ``private`` to a new file (PKCS#8 PEM, mode 0600, synced); never overwrites.

    Raises:
        CouldNotCheck: the file exists or cannot be written (``what`` names the key).
    """
    write_key_file(path, private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()), what)


def write_key_file(path: Path, pem: bytes, what: str) -> None:
    """Write a PEM private key to a new file (mode 0600, synced); never overwrites.

    Raises:
        CouldNotCheck: the file exists or cannot be written (``what`` names the key).
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:
        raise CouldNotCheck(f"cannot write {what} {path}: {exc}") from exc


def read_private_key(path: Path, what: str, remedy: str) -> Ed25519PrivateKey:
    """Load an Ed25519 PKCS#8 PEM key, refusing a file that group or others can read.

    Raises:
        NotAllowed: the file is readable by group or others.
        CouldNotCheck: missing, unreadable or not an Ed25519 key (``remedy`` says what
            to do next).
    """
    try:
        private = serialization.load_pem_private_key(read_key_file(path, what, remedy),
                                                     password=None)
    except ValueError as exc:
        raise CouldNotCheck(f"cannot load {what} {path}: {exc}; {remedy}") from exc
    if not isinstance(private, Ed25519PrivateKey):
        raise CouldNotCheck(f"{path} is not an Ed25519 private key")
    return private


def read_key_file(path: Path, what: str, remedy: str) -> bytes:
    """The bytes of a private key file, refusing one that group or others can read.

    Raises:
        NotAllowed: the file is readable by group or others.
        CouldNotCheck: missing or unreadable (``remedy`` says what to do next).
    """
    try:
        mode = path.stat().st_mode
    except OSError as exc:
        raise CouldNotCheck(f"cannot read {what} {path}: {exc}; {remedy}") from exc
    if mode & 0o077:
        raise NotAllowed(f"{what} {path} is readable by others (mode {mode & 0o777:o}); "
                         f"run `chmod 600 {path}` and try again")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise CouldNotCheck(f"cannot read {what} {path}: {exc}; {remedy}") from exc


def sm2_key_path(root: Path, uri: str) -> Path:
    """The file an SM2 key URI names (``file:`` + a path, relative to ``root`` or absolute).

    Raises:
        NotAllowed: the URI scheme is not supported.
    """
    if not uri.startswith(FILE_SCHEME):
        raise NotAllowed(f"unsupported SM2 key URI {uri!r}: only file: keys are configured")
    return root / uri[len(FILE_SCHEME):]


def load_sm2_signer(path: Path, key_name: str, *, create: bool) -> SM2Signer:
    """The SM2 signer of the PKCS#8 PEM key at ``path``; with ``create``, a new key is
    written there first (mode 0600, its folder 0700) when the file does not exist.

    Raises:
        NotAllowed: the file is readable by group or others.
        CouldNotCheck: missing (without ``create``), unreadable, not an SM2 key, or
            tongsuopy is not installed.
    """
    if create and not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Written whole under a private name, then linked into place: a sibling process
        # starting at the same moment reads either no file or a complete one (theirs wins).
        tmp = path.with_name(f".{path.name}.{os.getpid()}.new")
        tmp.unlink(missing_ok=True)
        write_key_file(tmp, SM2Signer.generate_pem(), "SM2 key file")
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        except OSError as exc:
            raise CouldNotCheck(f"cannot write SM2 key file {path}: {exc}") from exc
        finally:
            tmp.unlink(missing_ok=True)
    pem = read_key_file(path, "SM2 signing key",
                        "restore the SM2 key file from backup, or configure a new one")
    try:
        return SM2Signer.from_pem(key_name, pem)
    except BadData as exc:
        raise CouldNotCheck(f"{path}: {exc}") from exc


class LogSigner(NoteSigner, Protocol):
    """A log's checkpoint signer: a note signer that names its Ed25519 verifier (an
    ``Ed25519Signer`` from a file, or ``ledger.hsm.Pkcs11Ed25519Signer`` in a token)."""

    @property
    def verifier(self) -> Ed25519Verifier: ...


class TokenKeys(Protocol):
    """Where ``pkcs11:`` keys are made and found (``ledger.hsm.Hsm``, given by the
    storage layer from ``[pkcs11]``): the core names the interface, not the binding."""

    def create_ed25519(self, uri: str, key_name: str) -> LogSigner:
        """Generate an Ed25519 key at ``uri`` in its token; return its signer."""
        ...

    def ed25519(self, uri: str, key_name: str, *, fresh: bool) -> LogSigner:
        """The signer of the Ed25519 key at ``uri`` (``fresh``: looked up anew)."""
        ...


class KeyDirectory:
    """Creates and loads Ed25519 note signers under one directory or in a token."""

    def __init__(self, root: Path, tokens: TokenKeys | None = None) -> None:
        self.root = root
        self.tokens = tokens
        self._cache: dict[tuple[str, str], LogSigner] = {}

    def _tokens(self, uri: str) -> TokenKeys:
        if self.tokens is None:
            raise NotAllowed(f"key {uri} is in a PKCS#11 token but the config has no "
                             "[pkcs11] table: set module and pin_file or pin_env")
        return self.tokens

    def create_in_token(self, uri: str, key_name: str) -> LogSigner:
        """Generate an Ed25519 key in the token ``uri`` names (label ``object``); return
        its signer (the private key never leaves the token).

        Raises:
            BadData: the URI is malformed, has no object label, or the label is taken.
            NotAllowed: no ``[pkcs11]``, or the PIN is refused.
            CouldNotCheck: the module or token is missing, or the token cannot make it.
        """
        signer = self._tokens(uri).create_ed25519(uri, key_name)
        self._cache[(uri, key_name)] = signer
        return signer

    def create(self, log_name: str, key_name: str) -> tuple[str, Ed25519Signer]:
        """Generate a key, write it with mode 0600, return its URI and signer.

        Raises:
            CouldNotCheck: the key file could not be written.
        """
        private = Ed25519PrivateKey.generate()
        signer = Ed25519Signer(key_name, private)
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        folder = self.root / log_name
        folder.mkdir(exist_ok=True, mode=0o700)
        rel = f"{log_name}/{signer.key_id:08x}.pem"
        write_private_key(self.root / rel, private, "key file")
        uri = FILE_SCHEME + rel
        self._cache[(uri, key_name)] = signer
        return uri, signer

    def load(self, uri: str, key_name: str, *, fresh: bool = False) -> LogSigner:
        """Load the signer a key URI names: ``file:`` + a PKCS#8 PEM Ed25519 key, or
        ``pkcs11:`` + an Ed25519 key in a token (``fresh``: read or looked up anew, not
        from this directory's cache, as a restart would).

        Raises:
            BadData: a malformed ``pkcs11:`` URI.
            NotAllowed: the URI scheme is not supported, the file is readable by group
                or others, no ``[pkcs11]`` is configured, or the token refused the PIN.
            CouldNotCheck: the key file or token object is missing, unreadable or not an
                Ed25519 key, or the module or token is missing.
        """
        cached = self._cache.get((uri, key_name))
        if cached is not None:
            return cached
        if is_pkcs11(uri):
            in_token = self._tokens(uri).ed25519(uri, key_name, fresh=fresh)
            if not fresh:
                self._cache[(uri, key_name)] = in_token
            return in_token
        if not uri.startswith(FILE_SCHEME):
            raise NotAllowed(f"unsupported key URI {uri!r}: use file:PATH or "
                             "pkcs11:token=...;object=...")
        # Relative paths are below the key directory; an operator's key may be anywhere.
        path = self.root / uri[len(FILE_SCHEME) :]
        private = read_private_key(
            path, "signing key", "restore the key file from backup or rotate the log's key "
            "with `absentia keys --rotate`")
        signer = Ed25519Signer(key_name, private)
        self._cache[(uri, key_name)] = signer
        return signer
