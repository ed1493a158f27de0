"""Keys inside a PKCS#11 token (an HSM; SoftHSM2 in tests), addressed by ``pkcs11:`` URI.

Through python-pkcs11 (the binding pyHanko's PKCS#11 signer uses).  Every private or
secret key made here is ``CKA_SENSITIVE`` and not ``CKA_EXTRACTABLE``: the token signs,
wraps and unwraps, and no call here can read a key's value out of it.

* ``Pkcs11Ed25519Signer``: a checkpoint-signing key (CKM_EDDSA, pure Ed25519), with the
  same interface as ``ledger.note.Ed25519Signer``, so its notes are byte-identical in
  form and verify with the existing verifiers;
* ``Token.create_aes`` / ``Token.wrap`` / ``Token.unwrap``: the vault's master key
  (CKM_AES_KEY_WRAP_PAD, RFC 5649) wrapping per-person data keys inside the token;
* ``Token.hmac``: HMAC-SHA256 under a token key (the vault's derived keys).

The PIN comes from ``[pkcs11] pin_file`` or ``pin_env`` and is never logged.  Errors name
the module, token and object, and say what to do.  One session per token per process,
kept open and used under a lock (a PKCS#11 session is not for concurrent threads); after
a fork the child initialises the module again.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pkcs11
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11 import exceptions as p11e
from pkcs11.util.ec import encode_named_curve_parameters

from ledger.config import Pkcs11Settings
from ledger.errors import BadData, CouldNotCheck, NotAllowed
from ledger.note import ED25519_PUBLIC_KEY_SIZE, Ed25519Verifier
from ledger.pkcs11uri import Pkcs11Uri

#: RFC 8410 §3: id-Ed25519, the CKA_EC_PARAMS of an Ed25519 key (PKCS#11 3.0 §2.3.5).
ED25519_OID = "1.3.101.112"
#: X9.62 prime256v1 (NIST P-256), the document-signing key's curve.
P256_OID = "1.2.840.10045.3.1.7"
AES_KEY_BITS = 256

_libs: dict[tuple[int, str], Any] = {}
_libs_lock = threading.Lock()


def _module(path: str) -> Any:
    """The loaded PKCS#11 module at ``path`` (once per process; again after a fork).

    Raises:
        CouldNotCheck: the library is missing or is not a PKCS#11 module.
    """
    with _libs_lock:
        key = (os.getpid(), path)
        lib = _libs.get(key)
        if lib is None:
            try:
                lib = pkcs11.lib(path)
                if any(pid != os.getpid() for pid, _ in _libs):
                    lib.reinitialize()  # a forked child: C_Initialize anew
            except (OSError, RuntimeError, p11e.PKCS11Error) as exc:
                raise CouldNotCheck(
                    f"cannot load the PKCS#11 module {path}: {type(exc).__name__} {exc}; "
                    "install it (Debian: apt-get install softhsm2) or fix [pkcs11] module"
                ) from exc
            _libs.clear()
            _libs[key] = lib
        return lib


def read_pin(cfg: Pkcs11Settings) -> str:
    """The user PIN, from ``cfg.pin_file`` (mode 0600) or ``cfg.pin_env``.

    Raises:
        NotAllowed: the PIN file is readable by group or others.
        CouldNotCheck: the file is missing or empty, or the variable is unset.
    """
    if cfg.pin_file is not None:
        try:
            mode = cfg.pin_file.stat().st_mode
            if mode & 0o077:
                raise NotAllowed(f"PKCS#11 PIN file {cfg.pin_file} is readable by others "
                                 f"(mode {mode & 0o777:o}); run `chmod 600 {cfg.pin_file}`")
            pin = cfg.pin_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise CouldNotCheck(f"cannot read the PKCS#11 PIN file {cfg.pin_file}: "
                                f"{exc.strerror}; fix [pkcs11] pin_file") from None
        where = f"file {cfg.pin_file}"
    else:
        pin = os.environ.get(cfg.pin_env or "", "")
        where = f"environment variable {cfg.pin_env}"
    if not pin:
        raise CouldNotCheck(f"no PKCS#11 PIN: the {where} is empty or unset")
    return pin


def _raw_ed25519_point(point: bytes) -> bytes:
    """The 32-byte public key from CKA_EC_POINT (a DER OCTET STRING, or raw).

    Raises:
        CouldNotCheck: not an Ed25519 point.
    """
    if len(point) == ED25519_PUBLIC_KEY_SIZE + 2 and point[:2] == b"\x04\x20":
        return point[2:]
    if len(point) == ED25519_PUBLIC_KEY_SIZE:
        return point
    raise CouldNotCheck("the token's public key is not an Ed25519 point")


def _unwrap_octet_string(point: bytes) -> bytes:
    """The X9.62 uncompressed P-256 point from CKA_EC_POINT (a DER OCTET STRING, or raw).

    Raises:
        CouldNotCheck: not an uncompressed P-256 point.
    """
    if len(point) == 67 and point[:3] == b"\x04\x41\x04":
        return point[2:]
    if len(point) == 65 and point[0] == 0x04:
        return point
    raise CouldNotCheck("the token's public key is not a P-256 point")


@dataclass(frozen=True)
class TokenObject:
    """One key in a token, as ``absentia keys token`` lists it."""

    label: str
    kind: str  # "ed25519", "ec-p256", "aes", "hmac", or the token's own name
    object_class: str  # "private", "public", "secret-key"
    id: bytes


class Token:
    """A logged-in session on one token; every key operation runs under its lock."""

    def __init__(self, cfg: Pkcs11Settings, label: str) -> None:
        """Open the token labelled ``label`` in ``cfg.module`` and log in.

        Raises:
            CouldNotCheck: the module does not load, no such token, or the token refuses
                to open.
            NotAllowed: the PIN is wrong or locked, or its file is readable by others.
        """
        lib = _module(cfg.module)
        self.label = label
        self._lock = threading.Lock()
        try:
            token = lib.get_token(token_label=label)
        except p11e.NoSuchToken:
            raise CouldNotCheck(
                f"no PKCS#11 token labelled {label!r} in {cfg.module}: initialise it "
                f"(softhsm2-util --init-token --free --label {label}) or fix the key URI"
            ) from None
        except p11e.MultipleTokensReturned:
            raise CouldNotCheck(f"several PKCS#11 tokens are labelled {label!r} in "
                                f"{cfg.module}; relabel one") from None
        pin = read_pin(cfg)
        try:
            try:
                self._session = token.open(rw=True, user_pin=pin)
            except p11e.UserAlreadyLoggedIn:
                # PKCS#11 logs in per application: another session of this process
                # already did, and a new session shares that login.
                self._session = token.open(rw=True)
        except (p11e.PinIncorrect, p11e.PinLenRange, p11e.PinInvalid) as exc:
            raise NotAllowed(f"the PIN of PKCS#11 token {label!r} was refused "
                             f"({type(exc).__name__}); fix the PIN in [pkcs11] "
                             "pin_file/pin_env (it is never logged)") from None
        except p11e.PinLocked:
            raise NotAllowed(f"the PIN of PKCS#11 token {label!r} is locked: the security "
                             "officer must reset it") from None
        except p11e.PKCS11Error as exc:
            raise CouldNotCheck(f"cannot open PKCS#11 token {label!r}: "
                                f"{type(exc).__name__}") from exc
        finally:
            del pin

    # -- finding -------------------------------------------------------------------

    def _find(self, uri: Pkcs11Uri, object_class: ObjectClass, what: str) -> Any:
        attrs: dict[Attribute, Any] = {Attribute.CLASS: object_class}
        if uri.object is not None:
            attrs[Attribute.LABEL] = uri.object
        if uri.id is not None:
            attrs[Attribute.ID] = uri.id
        try:
            found = list(self._session.get_objects(attrs))
        except p11e.PKCS11Error as exc:  # a removed token, a closed session
            raise CouldNotCheck(f"token {self.label!r} does not answer: "
                                f"{type(exc).__name__}") from exc
        if not found:
            raise CouldNotCheck(f"no {what} {uri} in the token: create it with "
                                "`absentia keys create` or fix the key URI")
        if len(found) > 1:
            raise CouldNotCheck(f"several {what}s match {uri}; add id=... to the URI")
        return found[0]

    def exists(self, uri: Pkcs11Uri) -> bool:
        """True if any object has the label (and ID) of ``uri``."""
        attrs: dict[Attribute, Any] = {}
        if uri.object is not None:
            attrs[Attribute.LABEL] = uri.object
        if uri.id is not None:
            attrs[Attribute.ID] = uri.id
        with self._lock:
            return any(True for _ in self._session.get_objects(attrs))

    def objects(self) -> Iterator[TokenObject]:
        """Every key object of the token (labels, types and IDs; never a value)."""
        with self._lock:
            items = list(self._session.get_objects())
        classes = {ObjectClass.PRIVATE_KEY: "private", ObjectClass.PUBLIC_KEY: "public",
                   ObjectClass.SECRET_KEY: "secret-key"}
        for obj in items:
            cls = obj.object_class
            if cls not in classes:
                continue
            with self._lock:
                key_type = obj[Attribute.KEY_TYPE]
                label = obj[Attribute.LABEL]
                ident = obj[Attribute.ID]
            kinds = {KeyType.EC_EDWARDS: "ed25519", KeyType.EC: "ec-p256",
                     KeyType.AES: "aes", KeyType.GENERIC_SECRET: "hmac"}
            yield TokenObject(label, kinds.get(key_type, str(key_type)), classes[cls],
                              bytes(ident))

    # -- Ed25519 (checkpoints) ------------------------------------------------------

    def create_ed25519(self, uri: Pkcs11Uri) -> bytes:
        """Generate an Ed25519 key pair labelled ``uri.object`` in the token; return the
        raw public key.  The private half is sensitive and not extractable.

        Raises:
            BadData: ``uri`` has no object label, or one is in use already.
            CouldNotCheck: the token cannot generate the key.
        """
        label = self._new_label(uri)
        ident = os.urandom(8) if uri.id is None else uri.id
        params = encode_named_curve_parameters(ED25519_OID)
        with self._lock:
            try:
                pub, _ = self._session.generate_keypair(
                    KeyType.EC_EDWARDS, mechanism=Mechanism.EC_EDWARDS_KEY_PAIR_GEN,
                    public_template={Attribute.EC_PARAMS: params, Attribute.LABEL: label,
                                     Attribute.ID: ident, Attribute.TOKEN: True,
                                     Attribute.VERIFY: True},
                    private_template=self._private(label, ident, sign=True), store=True)
                point = bytes(pub[Attribute.EC_POINT])
            except p11e.PKCS11Error as exc:
                raise CouldNotCheck(f"the token cannot make an Ed25519 key: "
                                    f"{type(exc).__name__}") from exc
        return _raw_ed25519_point(point)

    def ed25519_signer(self, uri: Pkcs11Uri, name: str) -> Pkcs11Ed25519Signer:
        """The note signer ``name`` of the Ed25519 key ``uri`` names.

        Raises:
            CouldNotCheck: no such key (or no public half), or not an Ed25519 key.
            BadData: ``name`` is not a key name.
        """
        with self._lock:
            private = self._find(uri, ObjectClass.PRIVATE_KEY, "private key")
            if private.key_type != KeyType.EC_EDWARDS:
                raise CouldNotCheck(f"{uri} is not an Ed25519 key")
            public = self._find(Pkcs11Uri(uri.token, uri.object, uri.id),
                                ObjectClass.PUBLIC_KEY, "public key")
            point = bytes(public[Attribute.EC_POINT])
        return Pkcs11Ed25519Signer(name, self, private, _raw_ed25519_point(point))

    def sign_eddsa(self, private: Any, message: bytes) -> bytes:
        """CKM_EDDSA over ``message`` with a private key of this token.

        Raises:
            CouldNotCheck: the token refused (removed, logged out).
        """
        with self._lock:
            try:
                return bytes(private.sign(message, mechanism=Mechanism.EDDSA))
            except p11e.PKCS11Error as exc:
                raise CouldNotCheck(f"the token {self.label!r} did not sign: "
                                    f"{type(exc).__name__}") from exc

    # -- ECDSA P-256 (the document-signing key) ------------------------------------

    def create_ec_p256(self, uri: Pkcs11Uri) -> bytes:
        """Generate an ECDSA P-256 key pair labelled ``uri.object``; return the public
        point (X9.62 uncompressed).  The private half is sensitive, not extractable.

        Raises:
            BadData: no label, or it is in use.
            CouldNotCheck: the token cannot generate it.
        """
        label = self._new_label(uri)
        ident = os.urandom(8) if uri.id is None else uri.id
        with self._lock:
            try:
                pub, _ = self._session.generate_keypair(
                    KeyType.EC, mechanism=Mechanism.EC_KEY_PAIR_GEN,
                    public_template={Attribute.EC_PARAMS: encode_named_curve_parameters(
                        P256_OID), Attribute.LABEL: label, Attribute.ID: ident,
                        Attribute.TOKEN: True, Attribute.VERIFY: True},
                    private_template=self._private(label, ident, sign=True), store=True)
                point = bytes(pub[Attribute.EC_POINT])
            except p11e.PKCS11Error as exc:
                raise CouldNotCheck(f"the token cannot make a P-256 key: "
                                    f"{type(exc).__name__}") from exc
        return _unwrap_octet_string(point)

    def ec_public_point(self, uri: Pkcs11Uri) -> bytes:
        """The public point of the EC key ``uri`` names (to check its certificate).

        Raises:
            CouldNotCheck: no such public key.
        """
        with self._lock:
            public = self._find(Pkcs11Uri(uri.token, uri.object, uri.id),
                                ObjectClass.PUBLIC_KEY, "public key")
            return _unwrap_octet_string(bytes(public[Attribute.EC_POINT]))

    @contextmanager
    def session(self) -> Iterator[Any]:
        """The raw logged-in session, held under the lock (pyHanko's PKCS11Signer)."""
        with self._lock:
            yield self._session

    # -- AES (the vault) ------------------------------------------------------------

    def create_aes(self, uri: Pkcs11Uri) -> None:
        """Generate an AES-256 wrapping key labelled ``uri.object`` (wrap/unwrap only).

        Raises:
            BadData: no label, or it is in use.
            CouldNotCheck: the token cannot generate it.
        """
        self._create_secret(uri, KeyType.AES, AES_KEY_BITS,
                            {Attribute.WRAP: True, Attribute.UNWRAP: True})

    def create_hmac(self, uri: Pkcs11Uri) -> None:
        """Generate a 256-bit HMAC-SHA256 key labelled ``uri.object`` (sign only).

        Raises:
            BadData: no label, or it is in use.
            CouldNotCheck: the token cannot generate it.
        """
        self._create_secret(uri, KeyType.GENERIC_SECRET, 256, {Attribute.SIGN: True})

    def _create_secret(self, uri: Pkcs11Uri, key_type: KeyType, bits: int,
                       usage: dict[Attribute, Any]) -> None:
        label = self._new_label(uri)
        with self._lock:
            try:
                self._session.generate_key(key_type, bits, label=label, id=os.urandom(8),
                                           store=True, template={
                                               Attribute.SENSITIVE: True,
                                               Attribute.EXTRACTABLE: False,
                                               Attribute.ENCRYPT: False,
                                               Attribute.DECRYPT: False, **usage})
            except p11e.PKCS11Error as exc:
                raise CouldNotCheck(f"the token cannot make a {key_type.name} key: "
                                    f"{type(exc).__name__}") from exc

    def wrap(self, uri: Pkcs11Uri, data_key: bytes) -> bytes:
        """``data_key`` wrapped by the AES key ``uri`` names (CKM_AES_KEY_WRAP_PAD).

        The data key enters the token as a session object, is wrapped there and dropped.

        Raises:
            CouldNotCheck: no such key, or the token refused.
        """
        with self._lock:
            master = self._find(uri, ObjectClass.SECRET_KEY, "AES key")
            try:
                temp = self._session.create_object({
                    Attribute.CLASS: ObjectClass.SECRET_KEY, Attribute.KEY_TYPE: KeyType.AES,
                    Attribute.TOKEN: False, Attribute.VALUE: data_key,
                    Attribute.EXTRACTABLE: True, Attribute.SENSITIVE: False})
                try:
                    return bytes(master.wrap_key(temp, mechanism=Mechanism.AES_KEY_WRAP_PAD))
                finally:
                    temp.destroy()
            except p11e.PKCS11Error as exc:
                raise CouldNotCheck(f"the token did not wrap a data key with {uri}: "
                                    f"{type(exc).__name__}") from exc

    def unwrap(self, uri: Pkcs11Uri, wrapped: bytes) -> bytes:
        """The data key ``wrap`` wrapped (unwrapped inside the token, then read).

        Raises:
            CouldNotCheck: no such key, or the wrapped bytes do not unwrap (altered, or
                wrapped by another key).
        """
        with self._lock:
            master = self._find(uri, ObjectClass.SECRET_KEY, "AES key")
            try:
                temp = master.unwrap_key(ObjectClass.SECRET_KEY, KeyType.AES, wrapped,
                                         mechanism=Mechanism.AES_KEY_WRAP_PAD, store=False,
                                         template={Attribute.EXTRACTABLE: True,
                                                   Attribute.SENSITIVE: False})
            except p11e.PKCS11Error as exc:
                raise CouldNotCheck(f"a wrapped data key does not unwrap with {uri}: "
                                    f"{type(exc).__name__}") from exc
            try:
                return bytes(temp[Attribute.VALUE])
            finally:
                temp.destroy()

    def hmac(self, uri: Pkcs11Uri, message: bytes) -> bytes:
        """HMAC-SHA256 of ``message`` under the HMAC key ``uri`` names (CKM_SHA256_HMAC).

        Raises:
            CouldNotCheck: no such key, or the token refused.
        """
        with self._lock:
            key = self._find(uri, ObjectClass.SECRET_KEY, "HMAC key")
            try:
                return bytes(key.sign(message, mechanism=Mechanism.SHA256_HMAC))
            except p11e.PKCS11Error as exc:
                raise CouldNotCheck(f"the token did not compute an HMAC with {uri}: "
                                    f"{type(exc).__name__}") from exc

    # -- helpers ------------------------------------------------------------------

    def _new_label(self, uri: Pkcs11Uri) -> str:
        if not uri.object:
            raise BadData("a new key needs object=LABEL in its PKCS#11 URI", field="uri")
        if self.exists(Pkcs11Uri(uri.token, uri.object)):
            raise BadData(f"the token already holds an object labelled {uri.object!r}; "
                          "choose another label", field="uri")
        return uri.object

    @staticmethod
    def _private(label: str, ident: bytes, *, sign: bool) -> dict[Attribute, Any]:
        return {Attribute.LABEL: label, Attribute.ID: ident, Attribute.TOKEN: True,
                Attribute.PRIVATE: True, Attribute.SENSITIVE: True,
                Attribute.EXTRACTABLE: False, Attribute.SIGN: sign}


class Pkcs11Ed25519Signer:
    """A note signer whose Ed25519 key stays in a token (CKM_EDDSA).

    Same interface as ``ledger.note.Ed25519Signer``: ``name``, ``key_id``, ``verifier``,
    ``sign(message)``.
    """

    def __init__(self, name: str, token: Token, private: Any, public_key: bytes) -> None:
        """Raises ``BadData`` if ``name`` is not a key name."""
        self._token = token
        self._private = private
        self.verifier = Ed25519Verifier.from_public_key(name, public_key)

    @property
    def name(self) -> str:
        return self.verifier.name

    @property
    def key_id(self) -> int:
        return self.verifier.key_id

    def sign(self, message: bytes) -> bytes:
        """The Ed25519 signature of ``message``, made in the token.

        Raises:
            CouldNotCheck: the token refused.
        """
        return self._token.sign_eddsa(self._private, message)


#: The open sessions of this process, by (pid, module, token label): every ``Hsm`` of one
#: module shares them, so a report or a CLI step does not open (and leak) another.
_sessions: dict[tuple[int, str, str], Token] = {}
_sessions_lock = threading.Lock()


class Hsm:
    """The tokens of one ``[pkcs11]`` module, opened on first use and kept open."""

    def __init__(self, cfg: Pkcs11Settings) -> None:
        self.cfg = cfg

    def token(self, label: str) -> Token:
        """The open session on token ``label`` (opened and logged in on first use).

        Raises:
            CouldNotCheck, NotAllowed: as ``Token``.
        """
        with _sessions_lock:
            key = (os.getpid(), self.cfg.module, label)
            tok = _sessions.get(key)
            if tok is None:
                tok = _sessions[key] = Token(self.cfg, label)
            return tok

    # ``ledger.keys.TokenKeys``: the log keys of ``KeyDirectory``.

    def create_ed25519(self, uri: str, key_name: str) -> Pkcs11Ed25519Signer:
        """Generate an Ed25519 key at ``uri``; return its note signer ``key_name``.

        Raises:
            BadData: a malformed URI, no object label, or the label is taken.
            NotAllowed, CouldNotCheck: as ``Token``.
        """
        parsed = Pkcs11Uri.parse(uri)
        token = self.token(parsed.token)
        token.create_ed25519(parsed)
        return token.ed25519_signer(parsed, key_name)

    def ed25519(self, uri: str, key_name: str, *, fresh: bool) -> Pkcs11Ed25519Signer:
        """The note signer ``key_name`` of the Ed25519 key at ``uri``, looked up in the
        token now.  ``fresh`` changes nothing here: the session is kept (a new session
        per check would leak, and closing one logs the whole process out), and the key
        is found anew at each call.

        Raises:
            BadData: a malformed URI.
            NotAllowed, CouldNotCheck: as ``Token``; no such key.
        """
        parsed = Pkcs11Uri.parse(uri)
        return self.token(parsed.token).ed25519_signer(parsed, key_name)


def hsm_of(cfg: Pkcs11Settings | None) -> Hsm | None:
    """The token access of ``[pkcs11]`` (None when not configured; nothing is loaded
    until a key is used)."""
    return None if cfg is None else Hsm(cfg)
