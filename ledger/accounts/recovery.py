"""One-time recovery codes for console accounts with TOTP (pure helpers, no storage).

A code is 10 characters of the RFC 4648 base32 alphabet (50 random bits), written in
two groups of five (``ABCDE-FGHIJ``); a user is given ``RECOVERY_CODES`` of them.  The
store keeps only HMAC-SHA-256 of the normalised code under a key derived from the
vault master key (HKDF, ``RECOVERY_MAC_INFO``), not a slow password hash: the codes are
random and long enough that a slow hash adds nothing against guessing, while a keyed
MAC means a copy of the database alone cannot test a single guess, and the MAC is an
exact lookup key (no scan over Argon2 hashes at each sign-in).  Compare the appeal
statements' HMAC (``ledger.absence.appeals``).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

RECOVERY_CODES = 10
RECOVERY_MAC_INFO = b"absentia console recovery codes v1"
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
_SHAPE = re.compile(r"[A-Z2-7]{10}")

__all__ = ["RECOVERY_CODES", "RECOVERY_MAC_INFO", "looks_like_recovery_code", "mac_key",
           "new_codes", "normalise", "recovery_mac"]


def mac_key(master_key: bytes) -> bytes:
    """The key of the recovery codes' HMACs, derived from ``master_key``."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                info=RECOVERY_MAC_INFO).derive(master_key)


def new_codes(n: int = RECOVERY_CODES) -> list[str]:
    """``n`` fresh codes as shown to the user (``ABCDE-FGHIJ``)."""
    out = []
    for _ in range(n):
        raw = "".join(secrets.choice(_ALPHABET) for _ in range(10))
        out.append(f"{raw[:5]}-{raw[5:]}")
    return out


def normalise(code: str) -> str | None:
    """A typed code without spaces and dashes, upper case; None if it is not shaped
    like a recovery code."""
    raw = re.sub(r"[\s-]", "", code).upper()
    return raw if _SHAPE.fullmatch(raw) else None


def looks_like_recovery_code(code: str) -> bool:
    """Whether ``code`` is shaped like a recovery code (not a 6-digit TOTP code)."""
    return normalise(code) is not None


def recovery_mac(key: bytes, code: str) -> str:
    """Lowercase hex HMAC-SHA-256 of a normalised code under ``key``."""
    return hmac.new(key, code.encode(), hashlib.sha256).hexdigest()
