"""Credentials in the HTTP ``Authorization`` header, parsed in one place.

RFC 9110 §11.4: ``credentials = auth-scheme [ 1*SP ( token68 / #auth-param ) ]``, and
§11.1: the scheme is a case-insensitive token, so ``bearer``, ``Bearer`` and ``BEARER``
are one scheme.  RFC 6750 §2.1 names the one we take: ``Bearer`` and a token.
"""

from __future__ import annotations

#: RFC 6750 §2.1 (compared case-insensitively, RFC 9110 §11.1).
BEARER_SCHEME = "bearer"


def bearer_token(header: str) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` value, or None if the value is
    of another scheme, has no token, or has more than one word after the scheme.

    Spaces around the value and between scheme and token are not significant; the token
    itself is returned as sent (it is case-sensitive).  Never raises.
    """
    scheme, sep, rest = header.strip(" \t").partition(" ")
    token = rest.strip(" ")
    if not sep or scheme.lower() != BEARER_SCHEME or not token or " " in token:
        return None
    return token
