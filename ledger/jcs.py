"""RFC 8785 (JSON Canonicalization Scheme) for ledger entries.

Canonicalisation itself is delegated to the ``rfc8785`` package; this module adds the
ledger's own rule that entries hold no floating-point numbers (their textual form is
the one part of JCS where independent implementations most often disagree), and a
fast canonical-form check for the verifier.
"""

from __future__ import annotations

import json
import re
from typing import Any

import rfc8785

from ledger.errors import BadData

JSONValue = Any


def _check_no_floats(value: JSONValue, path: str) -> None:
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, int):
        # RFC 8785 §3.2.2.3 / I-JSON: integers beyond 2**53 are not interoperable.
        if abs(value) > 2**53 - 1:
            raise BadData(f"{path or 'value'}: integer {value} exceeds 2**53-1", field=path)
        return
    if isinstance(value, float):
        raise BadData(f"{path or 'value'}: floating-point numbers are not allowed", field=path)
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise BadData(f"{path or 'value'}: object keys must be strings", field=path)
            _check_no_floats(item, f"{path}.{key}" if path else key)
        return
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            _check_no_floats(item, f"{path}[{i}]")
        return
    raise BadData(f"{path or 'value'}: {type(value).__name__} is not a JSON value", field=path)


# Python's encoder with sorted keys and no ASCII escaping writes exactly the RFC 8785
# form of float-free JSON whose text lies in the Basic Multilingual Plane: the same
# escapes (\b \t \n \f \r, \u00xx in lower case, nothing else), the same integers, and
# code-point key order, which equals RFC 8785's UTF-16 order when no key has a
# surrogate pair.  It runs in C; anything else goes to the rfc8785 package, which is
# the reference (tests/unit/ledger/test_jcs.py compares the two on generated JSON).
_SORTED_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), sort_keys=True)
_NON_BMP_UTF8 = re.compile(rb"[\xf0-\xf4]")


def canonical(value: JSONValue) -> bytes:
    """Return the RFC 8785 canonical UTF-8 bytes of ``value``.

    Raises:
        BadData: the value holds a float, an out-of-range integer, a non-string key,
            a lone surrogate or a non-JSON type.
    """
    _check_no_floats(value, "")
    return _canonical_of_checked(value)


def canonical_of_flat_object(value: dict[str, str | int]) -> bytes:
    """``canonical`` for an object whose values are strings and safe integers only.

    For bodies a schema has already checked field by field (``ledger.events``): the
    float and range walk of ``canonical`` would only repeat that.
    """
    return _canonical_of_checked(value)


def _canonical_of_checked(value: JSONValue) -> bytes:
    try:
        fast = _SORTED_ENCODER.encode(value).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: let the reference say so
        fast = None
    if fast is not None and not _NON_BMP_UTF8.search(fast):
        return fast
    try:
        return bytes(rfc8785.dumps(value))
    except (rfc8785.CanonicalizationError, UnicodeEncodeError) as exc:
        raise BadData(f"value cannot be canonicalised: {exc}") from exc



def _reject_float(text: str) -> float:
    raise BadData(f"floating-point number {text} is not allowed in an entry")


def _reject_constant(text: str) -> float:
    raise BadData(f"{text} is not valid JSON")


def _checked_int(text: str) -> int:
    value = int(text)
    # I-JSON (RFC 7493 §2.2), which RFC 8785 builds on: beyond 2**53-1 is not portable.
    if abs(value) > 2**53 - 1:
        raise BadData(f"integer {text} exceeds 2**53-1")
    return value


# Built once: constructing a decoder per call costs as much as using it.
_DECODER = json.JSONDecoder(
    parse_float=_reject_float, parse_constant=_reject_constant, parse_int=_checked_int)


def parse(raw: bytes) -> JSONValue:
    """Parse JSON bytes as the ledger reads them: UTF-8, no floats, no NaN/Infinity.

    Raises:
        BadData: the bytes are not UTF-8 JSON, or hold a float or a non-standard constant,
            or nest too deeply.
    """
    try:
        return _DECODER.decode(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise BadData(f"not UTF-8: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise BadData(f"not JSON: {exc}") from exc
    except RecursionError:  # nested arrays or objects deeper than the interpreter goes
        raise BadData("not JSON an entry can be: nested too deeply") from None


def is_canonical(raw: bytes, parsed: JSONValue) -> bool:
    """Tell whether ``raw`` is exactly the RFC 8785 form of ``parsed``.

    ``parsed`` must come from :func:`parse` (so it holds no floats).  For such values,
    Python's ``json.dumps`` with sorted keys and no ASCII escaping produces the RFC 8785
    form (same escapes, same key order) whenever no key lies outside the Basic
    Multilingual Plane, and it runs in C; text with 4-byte UTF-8 sequences, where
    UTF-16 key order may differ, takes the exact path through ``canonical``.
    """
    if not _NON_BMP_UTF8.search(raw):
        fast = _SORTED_ENCODER.encode(parsed)
        try:
            return fast.encode("utf-8") == raw
        except UnicodeEncodeError:  # a lone surrogate: no RFC 8785 form exists
            return False
    try:
        return canonical(parsed) == raw
    except BadData:
        return False
