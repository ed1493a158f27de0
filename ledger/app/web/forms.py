"""What the server-rendered pages share: the page language and form-safety plumbing.

* ``Lang``: Chinese by default, English on ``?lang=en``, over a table of
  ``key -> (zh, en)`` texts.
* Cookies: over HTTPS named with the ``__Host-`` prefix (Secure, Path=/, no Domain, so
  no sibling site can plant them), always HttpOnly and SameSite=Strict.
* CSRF tokens: ``secrets.token_urlsafe(32)`` values, compared in constant time.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Response, request

#: The hidden form field that carries a CSRF token.
CSRF_FIELD = "csrf_token"


@dataclass(frozen=True)
class Lang:
    """The page language: ``zh`` (default) or ``en``, over ``texts`` (key -> zh, en)."""

    code: str
    texts: Mapping[str, tuple[str, str]] = field(default_factory=dict, compare=False)

    @classmethod
    def of_request(cls, texts: Mapping[str, tuple[str, str]]) -> Lang:
        return cls("en" if request.values.get("lang") == "en" else "zh", texts)

    @property
    def html(self) -> str:
        return "en" if self.code == "en" else "zh-CN"

    @property
    def other(self) -> str:
        return "zh" if self.code == "en" else "en"

    @property
    def other_html(self) -> str:
        return "zh-CN" if self.code == "en" else "en"

    @property
    def query(self) -> str:
        return "?lang=en" if self.code == "en" else ""

    def pick(self, pair: tuple[str, str]) -> str:
        return pair[1] if self.code == "en" else pair[0]

    def t(self, key: str, **fmt: Any) -> str:
        """The text ``key`` in this language, formatted with ``fmt``."""
        return self.pick(self.texts[key]).format(**fmt) if fmt else self.pick(self.texts[key])

    def of(self, table: Mapping[str, tuple[str, str]], key: str | None) -> str:
        """A label from ``table`` ("—" for None; the key itself if unknown)."""
        if key is None:
            return "—"
        return self.pick(table[key]) if key in table else key


def cookie_name(base: str) -> str:
    """``base``, with the ``__Host-`` prefix over HTTPS."""
    return "__Host-" + base if request.is_secure else base


def set_cookie(resp: Response, base: str, value: str) -> None:
    resp.set_cookie(cookie_name(base), value, httponly=True, samesite="Strict",
                    secure=request.is_secure, path="/")


def clear_cookie(resp: Response, base: str) -> None:
    resp.delete_cookie(cookie_name(base), path="/", secure=request.is_secure, httponly=True,
                       samesite="Strict")


def well_formed(token: str) -> bool:
    """A token as ``secrets.token_urlsafe(32)`` makes (43 URL-safe base64 characters)."""
    return 32 <= len(token) <= 64 and token.isascii() and token.replace(
        "-", "").replace("_", "").isalnum()


def form_token(base: str) -> str:
    """The token in this browser's ``base`` cookie if well formed, else a new one."""
    current = request.cookies.get(cookie_name(base), "")
    return current if well_formed(current) else secrets.token_urlsafe(32)


def same(expected: str, sent: str) -> bool:
    """Constant-time equality of a non-empty expected token and what was sent."""
    return bool(expected) and hmac.compare_digest(expected.encode(), sent.encode())
