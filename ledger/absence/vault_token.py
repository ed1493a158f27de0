"""The vault's master key inside a PKCS#11 token (``[absence] master_key = "pkcs11:..."``).

Two token objects, both sensitive and not extractable, made by
``absentia keys create --vault``:

* ``object=<label>``: an AES-256 key that only wraps and unwraps (CKM_AES_KEY_WRAP_PAD,
  RFC 5649): each person's data key is wrapped and unwrapped inside the token;
* ``object=<label>-derive``: an HMAC-SHA256 key; the token's HMAC of
  ``DERIVATION_LABEL`` is the secret the vault's derived keys (blind index, documents,
  scores, accounts) come from, as a master key file's bytes are.  That secret is in
  process memory, like the data keys; the master keys themselves never leave the token.
"""

from __future__ import annotations

from ledger.absence.settings import AbsenceSettings
from ledger.absence.vault import Vault
from ledger.config import Pkcs11Settings
from ledger.errors import NotAllowed
from ledger.hsm import Hsm, Token
from ledger.pkcs11uri import Pkcs11Uri

DERIVATION_LABEL = b"absentia vault derived keys v1"
DERIVE_SUFFIX = "-derive"


class TokenKeyWrap:
    """``ledger.absence.vault.KeyWrap`` with an AES key of a token."""

    def __init__(self, token: Token, uri: Pkcs11Uri) -> None:
        self._token = token
        self._uri = uri

    def wrap(self, data_key: bytes) -> bytes:
        """Raises ``CouldNotCheck`` if the token refuses."""
        return self._token.wrap(self._uri, data_key)

    def unwrap(self, wrapped: bytes) -> bytes:
        """Raises ``CouldNotCheck`` if ``wrapped`` does not unwrap with this key."""
        return self._token.unwrap(self._uri, wrapped)


def derive_uri(uri: Pkcs11Uri) -> Pkcs11Uri:
    """The HMAC key beside the wrapping key ``uri`` names."""
    if uri.object is None:
        raise NotAllowed("a vault master key URI needs object=LABEL")
    return uri.with_object(uri.object + DERIVE_SUFFIX)


def token_master_key(uri_text: str, hsm: Hsm) -> tuple[bytes, TokenKeyWrap]:
    """The derivation secret and the key wrap of the token master key ``uri_text``.

    Raises:
        BadData: a malformed URI.
        NotAllowed, CouldNotCheck: the token, PIN or objects cannot be used (the message
            says to run ``absentia keys create --vault``).
    """
    uri = Pkcs11Uri.parse(uri_text, field="absence.master_key")
    token = hsm.token(uri.token)
    secret = token.hmac(derive_uri(uri), DERIVATION_LABEL)
    return secret, TokenKeyWrap(token, uri)


def create_token_master_key(uri_text: str, hsm: Hsm) -> Pkcs11Uri:
    """Make the two vault objects of ``uri_text`` in its token.

    Raises:
        BadData: a malformed URI or a label in use.
        NotAllowed, CouldNotCheck: the token or PIN cannot be used.
    """
    uri = Pkcs11Uri.parse(uri_text, field="uri")
    token = hsm.token(uri.token)
    token.create_aes(uri)
    token.create_hmac(derive_uri(uri))
    return uri


def master_key_of(cfg: AbsenceSettings, pkcs11: Pkcs11Settings | None
                  ) -> tuple[bytes, TokenKeyWrap | None]:
    """The vault's master key: a file's bytes (created if absent), or a token's
    derivation secret and key wrap.

    Raises:
        NotAllowed: a ``pkcs11:`` master key without ``[pkcs11]``; a readable key file.
        CouldNotCheck, BadData: as ``token_master_key`` or
            ``Vault.load_or_create_master_key``.
    """
    if cfg.master_key_uri is None:
        return Vault.load_or_create_master_key(cfg.master_key_path), None
    if pkcs11 is None:
        raise NotAllowed(f"[absence] master_key {cfg.master_key_uri} is in a PKCS#11 token "
                         "but the config has no [pkcs11] table: set module and pin_file "
                         "or pin_env")
    return token_master_key(cfg.master_key_uri, Hsm(pkcs11))
