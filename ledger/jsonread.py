"""One reader of untrusted JSON for the whole service: request bodies, signed webhook
deliveries, candidate files, and the replies of gateways and witnesses.

``json.loads`` accepts more than JSON and fails in ways the callers cannot catch as bad
input: it recurses once per ``[`` or ``{`` (deep nesting raises ``RecursionError``, a
500), it takes ``NaN``/``Infinity`` and ``1e999`` (which is not a number JSON can hold),
it returns strings holding lone surrogates from ``"\\ud800"`` (which are not Unicode text:
encoding them later fails), and it keeps the last of duplicate names silently.  ``read``
refuses each of these with a ``BadData`` naming the field, as I-JSON (RFC 7493) asks of
its receivers:

* size: more than ``max_bytes`` bytes of text (``TooLarge``);
* encoding: not UTF-8 (RFC 8259 §8.1; a leading byte order mark is ignored, §8.1 allows it);
* depth: more than ``max_depth`` nested arrays and objects, found by a scan that does not
  recurse, *before* ``json.loads`` runs;
* numbers: ``NaN``, ``Infinity`` and ``-Infinity`` (RFC 8259 §6 has none) and numbers
  beyond the range of an IEEE 754 double (RFC 7493 §2.2);
* strings: lone surrogates (RFC 7493 §2.1: strings must be Unicode scalar values);
* objects: the same name twice (RFC 7493 §2.3), unless the caller passes its own
  ``object_pairs_hook`` to report them more precisely.

Pure: text in, a value out, ``BadData`` raised; no I/O, no Flask.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

from ledger.errors import BadData, TooLarge

#: Deepest nesting of arrays and objects accepted.  Every document the service reads is a
#: few levels deep; 32 leaves room and stays far below Python's recursion limit.
MAX_DEPTH = 32

#: Default size limit (bytes of UTF-8 text) when the caller gives none.
MAX_BYTES = 1_048_576

_BOM = "\ufeff"
# What the depth scan stops at: a string's opening quote or a bracket.
_SPECIAL = re.compile(r'["\[\]{}]')
# The rest of a string after its opening quote (RFC 8259 §7), possessive: linear time.
_STRING_REST = re.compile(r'(?:[^"\\]++|\\.)*+"', re.DOTALL)
# A \uD800-\uDFFF escape, or a surrogate code point in the text itself: only then can
# a decoded string hold a lone surrogate, so only then are the strings walked.
_MAYBE_SURROGATE = re.compile(r"\\u[dD][89a-fA-F]|[\ud800-\udfff]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_SAFE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}")

PairsHook = Callable[[list[tuple[str, Any]]], Any]


def read(data: bytes | str, *, field: str = "body", max_bytes: int = MAX_BYTES,
         max_depth: int = MAX_DEPTH, object_pairs_hook: PairsHook | None = None) -> Any:
    """Parse ``data`` as one I-JSON document and return its value.

    ``object_pairs_hook`` replaces the default handling of objects (a ``dict``, duplicate
    names refused); it receives each object's (name, value) pairs in order.

    Raises:
        TooLarge: ``data`` is longer than ``max_bytes`` (bytes, or characters of a str).
        BadData: not UTF-8, not JSON, nested deeper than ``max_depth``, a number JSON
            cannot hold, a lone surrogate in a string, or a name twice in one object;
            ``field`` is the one given, the message says which and where.
    """
    if len(data) > max_bytes:
        raise TooLarge(f"{field}: {len(data)} bytes exceed the limit of {max_bytes}",
                       field=field)
    if isinstance(data, bytes | bytearray | memoryview):
        try:
            text = bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadData(f"{field}: not UTF-8 (invalid byte at offset {exc.start})",
                          field=field) from None
    else:
        text = data
    if text.startswith(_BOM):
        text = text[1:]
    check_depth(text, max_depth, field=field)
    decoder = json.JSONDecoder(
        object_pairs_hook=object_pairs_hook or _unique_names(field),
        parse_constant=_no_constant(field), parse_float=_finite_float(field))
    try:
        value = decoder.decode(text)
    except json.JSONDecodeError as exc:
        # The position only: exc.doc is the document, which may hold personal data.
        raise BadData(f"{field}: not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                      field=field) from None
    except ValueError as exc:  # an integer of more digits than int() converts
        raise BadData(f"{field}: not a usable number ({exc})", field=field) from None
    if _MAYBE_SURROGATE.search(text):
        _check_scalar_values(value, field)
    return value


def check_depth(text: str, max_depth: int = MAX_DEPTH, *, field: str = "body") -> None:
    """Refuse ``text`` if its arrays and objects nest deeper than ``max_depth``.

    A scan from bracket to bracket that skips strings, without recursion, in time linear
    in the text; it does not check the syntax (``json.loads`` does, afterwards).

    Raises:
        BadData: nested too deeply, or a string is not terminated (``field``).
    """
    depth = 0
    pos = 0
    search = _SPECIAL.search
    rest = _STRING_REST.match
    while (m := search(text, pos)) is not None:
        c = m.group()
        if c == '"':
            end = rest(text, m.end())
            if end is None:
                raise BadData(f"{field}: not JSON: unterminated string starting at "
                              f"character {m.start()}", field=field)
            pos = end.end()
            continue
        pos = m.end()
        if c in "[{":
            depth += 1
            if depth > max_depth:
                raise BadData(f"{field}: JSON nested more than {max_depth} levels deep",
                              field=field)
        else:
            depth -= 1


def _unique_names(field: str) -> PairsHook:
    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(items)
        if len(obj) != len(items):
            seen: set[str] = set()
            for name, _ in items:
                if name in seen:
                    # The name only when it looks like one: a name can be someone's data.
                    shown = f" {name!r}" if _SAFE_NAME.fullmatch(name) else ""
                    raise BadData(f"{field}: the name{shown} appears twice in one object",
                                  field=field)
                seen.add(name)
        return obj

    return pairs


def _no_constant(field: str) -> Callable[[str], Any]:
    def constant(name: str) -> Any:
        raise BadData(f"{field}: {name} is not a JSON number", field=field)

    return constant


def _finite_float(field: str) -> Callable[[str], float]:
    def number(text: str) -> float:
        value = float(text)
        if not math.isfinite(value):
            raise BadData(f"{field}: the number {text[:40]} is beyond the range of a double",
                          field=field)
        return value

    return number


def _check_scalar_values(value: Any, field: str) -> None:
    # An explicit stack: the value may be up to max_depth deep, and recursion is what
    # this module avoids.
    stack: list[tuple[Any, str]] = [(value, field)]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            _check_string(item, path, field)
        elif isinstance(item, dict):
            for name, sub in item.items():
                _check_string(name, path, field)
                stack.append((sub, f"{path}.{name}" if _SAFE_NAME.fullmatch(name) else path))
        elif isinstance(item, list):
            stack.extend((sub, f"{path}[{i}]") for i, sub in enumerate(item))


def _check_string(text: str, path: str, field: str) -> None:
    m = _SURROGATE.search(text)
    if m is not None:
        raise BadData(f"{path}: a string holds a lone surrogate (U+{ord(m.group()):04X}), "
                      "which is not a Unicode character", field=field)
