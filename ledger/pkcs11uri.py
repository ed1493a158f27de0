"""RFC 7512 PKCS#11 URIs: ``pkcs11:token=absentia;object=hr-bureau-2026``.

A small, strict parser of the path part (RFC 7512 §2.3): the attributes ``token``,
``object``, ``id`` and ``type`` only, each at most once, values percent-decoded
(§2.3: ``pk11-pchar``; ``id`` is raw bytes, usually written ``%01%02``).  A query part
(``?pin-source=...``) is refused: the PIN comes from ``[pkcs11] pin_file`` or
``pin_env`` in the config, never from a key URI that is stored in the database.

Pure: no module is loaded here (that is ``ledger.hsm``).
"""

from __future__ import annotations

import string
from dataclasses import dataclass

from ledger.errors import BadData

SCHEME = "pkcs11:"
#: RFC 7512 §2.3 ``pk11-type``.
OBJECT_TYPES = ("public", "private", "cert", "secret-key", "data")
#: RFC 7512 §2.3: ``pk11-path-unres`` = unreserved / ":" / "[" / "]" / "@" / "!" / "$" /
#: "'" / "(" / ")" / "*" / "+" / "," / "=" / "&" (the last two only where unambiguous:
#: "=" and "&" are taken literally inside a value after its first "=").
_PCHAR = frozenset(string.ascii_letters + string.digits + "-._~" + ":[]@!$'()*+,=&")
_HEX = frozenset(string.hexdigits)
_ATTRIBUTES = ("token", "object", "id", "type")


def _unescape(text: str, attr: str, field: str) -> bytes:
    """Percent-decode ``text`` (RFC 3986 §2.1) into bytes.

    Raises:
        BadData: a character outside ``pk11-pchar`` or a broken ``%XX``.
    """
    out = bytearray()
    i = 0
    while i < len(text):
        c = text[i]
        if c == "%":
            pair = text[i + 1 : i + 3]
            if len(pair) != 2 or not set(pair) <= _HEX:
                raise BadData(f"PKCS#11 URI {attr}: broken percent-encoding at {text[i:i+3]!r}",
                              field=field)
            out.append(int(pair, 16))
            i += 3
            continue
        if c not in _PCHAR:
            raise BadData(f"PKCS#11 URI {attr}: character {c!r} must be percent-encoded",
                          field=field)
        out.extend(c.encode("ascii"))
        i += 1
    return bytes(out)


@dataclass(frozen=True)
class Pkcs11Uri:
    """The key a ``pkcs11:`` URI names: its token label and its object label and/or ID."""

    token: str
    object: str | None = None
    id: bytes | None = None
    type: str | None = None

    @classmethod
    def parse(cls, uri: str, *, field: str = "key") -> Pkcs11Uri:
        """Parse ``pkcs11:token=...;object=...[;id=...][;type=...]``.

        ``token`` is required, and ``object`` or ``id`` (a key must be found by one).

        Raises:
            BadData: not a ``pkcs11:`` URI, an unknown or repeated attribute, a query
                part, a bad percent-encoding, a label that is not UTF-8, or a missing
                ``token``/``object``.
        """
        if not isinstance(uri, str) or not uri.startswith(SCHEME):
            raise BadData(f"not a PKCS#11 URI (want {SCHEME}token=...;object=...)", field=field)
        path = uri[len(SCHEME) :]
        if "?" in path or "#" in path:
            raise BadData("PKCS#11 URI: no query or fragment (the PIN comes from [pkcs11] "
                          "pin_file or pin_env in the config)", field=field)
        values: dict[str, bytes] = {}
        for part in path.split(";"):
            attr, sep, raw = part.partition("=")
            if not sep or not attr:
                raise BadData(f"PKCS#11 URI: malformed attribute {part!r} (want name=value)",
                              field=field)
            if attr not in _ATTRIBUTES:
                raise BadData(f"PKCS#11 URI: attribute {attr!r} is not supported (use "
                              f"{', '.join(_ATTRIBUTES)})", field=field)
            if attr in values:
                raise BadData(f"PKCS#11 URI: attribute {attr!r} given twice", field=field)
            values[attr] = _unescape(raw, attr, field)
        texts: dict[str, str] = {}
        for attr in ("token", "object", "type"):
            if attr in values:
                try:
                    texts[attr] = values[attr].decode("utf-8")
                except UnicodeDecodeError:
                    raise BadData(f"PKCS#11 URI {attr}: not UTF-8", field=field) from None
        if not texts.get("token"):
            raise BadData("PKCS#11 URI: token=LABEL is required", field=field)
        if not texts.get("object") and not values.get("id"):
            raise BadData("PKCS#11 URI: object=LABEL (or id=...) is required", field=field)
        kind = texts.get("type")
        if kind is not None and kind not in OBJECT_TYPES:
            raise BadData(f"PKCS#11 URI type: one of {', '.join(OBJECT_TYPES)}", field=field)
        return cls(texts["token"], texts.get("object") or None, values.get("id") or None, kind)

    def to_text(self) -> str:
        """The URI in its normal form (attributes in the order token, object, id, type)."""
        parts = [f"token={_escape(self.token.encode())}"]
        if self.object is not None:
            parts.append(f"object={_escape(self.object.encode())}")
        if self.id is not None:
            parts.append("id=" + "".join(f"%{b:02x}" for b in self.id))
        if self.type is not None:
            parts.append(f"type={self.type}")
        return SCHEME + ";".join(parts)

    def with_object(self, label: str) -> Pkcs11Uri:
        """The same token, another object label (no ID, no type)."""
        return Pkcs11Uri(self.token, label)

    def __str__(self) -> str:
        return self.to_text()


def _escape(raw: bytes) -> str:
    safe = _PCHAR - {"&", "="}
    return "".join(chr(b) if chr(b) in safe else f"%{b:02X}" for b in raw)


def is_pkcs11(uri: str) -> bool:
    """True if ``uri`` is a ``pkcs11:`` key URI (not yet checked)."""
    return uri.startswith(SCHEME)
