"""Random identifiers and SHA-256 digests in hex: what the domains name and fingerprint
their records with (windows, appeals, users, sessions, tokens)."""

from __future__ import annotations

import hashlib
import secrets

#: RFC 4648 §6 base32 alphabet, lower case: ids read aloud or typed stay unambiguous.
_ID_CHARS = "abcdefghijklmnopqrstuvwxyz234567"


def new_id(prefix: str) -> str:
    """A random identifier such as ``w_k3x...`` (16 base32 characters, 80 bits)."""
    return prefix + "_" + "".join(secrets.choice(_ID_CHARS) for _ in range(16))


def sha256_hex(data: bytes) -> str:
    """Lowercase hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


__all__ = ["new_id", "sha256_hex"]
