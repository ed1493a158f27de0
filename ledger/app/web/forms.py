"""What the server-rendered pages share: the page language and form-safety plumbing.

* ``Lang``: Chinese by default, English on ``?lang=en``, over a table of
  ``key -> (zh, en)`` texts; ``words`` reads those tables from ``words.toml``.
* Cookies: over HTTPS named with the ``__Host-`` prefix (Secure, Path=/, no Domain, so
  no sibling site can plant them), always HttpOnly and SameSite=Strict.
* CSRF tokens: ``secrets.token_urlsafe(32)`` values, compared in constant time.
"""

from __future__ import annotations

import hmac
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from flask import Response, render_template, request

#: The hidden form field that carries a CSRF token.
CSRF_FIELD = "csrf_token"

#: The pages' words: a TOML table a page area (``[console.text]``), key -> [zh, en].
WORDS = Path(__file__).with_name("words.toml")


def _merge(into: dict[str, Any], more: Mapping[str, Any], where: str) -> None:
    for key, value in more.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value, f"{where}.{key}")
        elif key in into:
            raise ValueError(f"{where}.{key} is defined twice in the words catalog")
        else:
            into[key] = value


@cache
def _catalog() -> dict[str, Any]:
    """``words.toml`` and, after it in name order, every ``words_*.toml`` beside it (one
    file a page area may add its own keys to a table).

    Raises:
        ValueError: a key is defined in two files.
    """
    found: dict[str, Any] = {}
    for file in [WORDS, *sorted(WORDS.parent.glob(WORDS.stem + "_*.toml"))]:
        with file.open("rb") as f:
            _merge(found, tomllib.load(f), file.name)
    return found


def words(table: str) -> dict[str, tuple[str, str]]:
    """The text table ``table`` of ``words.toml`` (``"console.text"``), in file order.

    Raises:
        KeyError: there is no such table.
        ValueError: an entry is not a pair of strings (zh, en).
    """
    found: Any = _catalog()
    for part in table.split("."):
        found = found[part]
    pairs: dict[str, tuple[str, str]] = {}
    for key, pair in found.items():
        if not (isinstance(pair, list) and len(pair) == 2
                and all(isinstance(text, str) for text in pair)):
            raise ValueError(f"{WORDS.name}: {table}.{key} is not [Chinese, English]")
        pairs[key] = (pair[0], pair[1])
    return pairs


class _ByLanguage:
    """A ``Lang`` attribute that is one value in Chinese and another in English."""

    def __init__(self, zh: str, en: str) -> None:
        self.zh, self.en = zh, en

    def __get__(self, lang: Lang | None, owner: type[Lang] | None = None) -> str:
        return self.en if lang is not None and lang.code == "en" else self.zh


@dataclass(frozen=True)
class Lang:
    """The page language: ``zh`` (default) or ``en``, over ``texts`` (key -> zh, en)."""

    code: str
    texts: Mapping[str, tuple[str, str]] = field(default_factory=dict, compare=False)

    @classmethod
    def of_request(cls, texts: Mapping[str, tuple[str, str]]) -> Lang:
        return cls("en" if request.values.get("lang") == "en" else "zh", texts)

    #: The page's ``lang`` attribute; the other language's code and attribute; the
    #: query string that keeps this language on a link.
    html = _ByLanguage("zh-CN", "en")
    other = _ByLanguage("en", "zh")
    other_html = _ByLanguage("en", "zh-CN")
    query = _ByLanguage("", "?lang=en")

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


def public_page(template: str, lg: Lang, cookie: str, field: str, status: int = 200,
                **context: Any) -> Response:
    """A public form page: rendered with this browser's form token (set as the ``cookie``
    cookie, sent back in the form's ``field``), in ``lg``'s language, never cached."""
    token = form_token(cookie)
    html = render_template(template, lg=lg, token=token, csrf_field=field, **context)
    resp = Response(html, status=status, mimetype="text/html")
    set_cookie(resp, cookie, token)
    resp.headers["Cache-Control"] = "no-store"
    resp.headers["Content-Language"] = lg.html
    return resp


def csrf_matches(cookie: str, field: str) -> bool:
    """Whether the posted form's ``field`` carries the token of the ``cookie`` cookie."""
    sent = request.cookies.get(cookie_name(cookie), "")
    return well_formed(sent) and same(sent, request.form.get(field, ""))
