"""RFC 8785 canonical JSON: ledger.jcs against the rfc8785 package and the RFC's rules."""

from __future__ import annotations

import json
from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import jcs
from ledger.errors import BadData

MAX_SAFE = 2**53 - 1



def scalars_of(texts: st.SearchStrategy[str]) -> st.SearchStrategy[Any]:
    """null, booleans, safe integers and ``texts``."""
    return st.none() | st.booleans() | st.integers(-MAX_SAFE, MAX_SAFE) | texts


def json_of(texts: st.SearchStrategy[str], width: int, leaves: int) -> st.SearchStrategy[Any]:
    """JSON values of ``scalars_of(texts)`` (``texts`` also the keys): arrays and objects
    of at most ``width`` members, ``leaves`` scalars in all."""
    return st.recursive(
        scalars_of(texts),
        lambda children: st.lists(children, max_size=width)
        | st.dictionaries(texts, children, max_size=width),
        max_leaves=leaves)


# Any string without lone surrogates (hypothesis excludes category Cs by default).
texts = st.text(max_size=12)
scalars = scalars_of(texts)
json_values = json_of(texts, 5, 25)


@settings(max_examples=200, deadline=None)
@given(value=json_values)
def test_canonical_equals_rfc8785(value: Any) -> None:
    out = jcs.canonical(value)
    assert out == rfc8785.dumps(value)
    assert json.loads(out) == value


@settings(max_examples=200, deadline=None)
@given(value=json_values)
def test_is_canonical_accepts_canonical_bytes(value: Any) -> None:
    raw = jcs.canonical(value)
    parsed = jcs.parse(raw)
    assert parsed == value
    assert jcs.is_canonical(raw, parsed)


@settings(max_examples=200, deadline=None)
@given(value=json_values)
def test_is_canonical_rejects_whitespace(value: Any) -> None:
    raw = jcs.canonical(value)
    for bad in (b" " + raw, raw + b"\n", raw + b" "):
        assert not jcs.is_canonical(bad, jcs.parse(bad))
    spaced = json.dumps(value, ensure_ascii=False, sort_keys=True, indent=1).encode()
    if spaced != raw:
        assert not jcs.is_canonical(spaced, jcs.parse(spaced))


@settings(max_examples=200, deadline=None)
@given(obj=st.dictionaries(texts, scalars, min_size=2, max_size=6))
def test_is_canonical_rejects_other_key_orders(obj: dict[str, Any]) -> None:
    raw = jcs.canonical(obj)
    canonical_order = list(json.loads(raw))
    for order in (canonical_order[::-1], canonical_order[1:] + canonical_order[:1]):
        body = ",".join(
            json.dumps(k, ensure_ascii=False) + ":" + json.dumps(obj[k], ensure_ascii=False)
            for k in order
        )
        other = ("{" + body + "}").encode()
        assert other != raw  # at least two distinct keys, so the order differs
        assert not jcs.is_canonical(other, jcs.parse(other))


@settings(max_examples=200, deadline=None)
@given(value=json_values)
def test_is_canonical_rejects_escaped_ascii(value: Any) -> None:
    """json.dumps' default \\u escaping of non-ASCII text is not the RFC 8785 form."""
    raw = jcs.canonical(value)
    ascii_form = json.dumps(value, separators=(",", ":"), sort_keys=True).encode()
    parsed = jcs.parse(raw)
    assert jcs.is_canonical(ascii_form, parsed) == (ascii_form == raw)


def test_rfc8785_escapes() -> None:
    # RFC 8785 §3.2.2.2: short escapes for \b \t \n \f \r, \u00xx lowercase for other
    # controls, no escaping of non-ASCII or of '/'.
    value = "\b\t\n\f\r\x00\x1f\x7f/é\u2028"
    raw = jcs.canonical(value)
    assert raw == rfc8785.dumps(value)
    assert raw == '"\\b\\t\\n\\f\\r\\u0000\\u001f\x7f/é\u2028"'.encode()
    assert jcs.is_canonical(raw, jcs.parse(raw))
    upper = b'"\\u001F"'
    assert not jcs.is_canonical(upper, jcs.parse(upper))
    solidus = b'"\\/"'
    assert not jcs.is_canonical(solidus, jcs.parse(solidus))


def test_non_bmp_key_order_is_utf16() -> None:
    """JCS sorts keys by UTF-16 code units: U+1F600 (D83D DE00) sorts before U+FFFF."""
    obj = {"\uffff": 1, "\U0001f600": 2}
    raw = jcs.canonical(obj)
    assert raw == rfc8785.dumps(obj)
    assert list(json.loads(raw)) == ["\U0001f600", "\uffff"]
    assert jcs.is_canonical(raw, jcs.parse(raw))
    # Code-point order (what sorted() and json.dumps(sort_keys=True) give) is not JCS.
    by_code_point = json.dumps(
        obj, ensure_ascii=False, sort_keys=True, separators=(",", ":")
    ).encode()
    assert list(json.loads(by_code_point)) == ["\uffff", "\U0001f600"]
    assert not jcs.is_canonical(by_code_point, jcs.parse(by_code_point))
    # The same inside a nested object with other keys around.
    nested = {"a": {"\ue000": True, "\U00010000": False, "z": None}, "b": 1}
    raw = jcs.canonical(nested)
    assert list(json.loads(raw)["a"]) == ["z", "\U00010000", "\ue000"]
    assert jcs.is_canonical(raw, jcs.parse(raw))
    wrong = json.dumps(nested, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
    assert wrong != raw
    assert not jcs.is_canonical(wrong, jcs.parse(wrong))


@pytest.mark.parametrize("value", [1.5, 0.0, -0.0, float("inf"), float("nan"), 1e300])
def test_floats_rejected(value: float) -> None:
    for wrapped in (value, [value], {"a": value}, {"a": [1, {"b": value}]}):
        with pytest.raises(BadData, match="floating-point"):
            jcs.canonical(wrapped)


@pytest.mark.parametrize("value", [2**53, -(2**53), 2**64, -(2**64), 10**21])
def test_huge_ints_rejected(value: int) -> None:
    for wrapped in (value, [value], {"a": value}):
        with pytest.raises(BadData, match="2\\*\\*53"):
            jcs.canonical(wrapped)
    assert jcs.canonical(MAX_SAFE) == b"9007199254740991"
    assert jcs.canonical(-MAX_SAFE) == b"-9007199254740991"


def test_non_json_values_rejected() -> None:
    for bad in ({1: "a"}, {"a": b"bytes"}, object(), {"a": {1, 2}}):
        with pytest.raises(BadData):
            jcs.canonical(bad)
    with pytest.raises(BadData):
        jcs.canonical("\ud800")  # lone surrogate


def test_parse_rejects_floats_constants_and_bad_bytes() -> None:
    for raw in (b"1.0", b"1e2", b'{"a":-0.5}', b"NaN", b"Infinity", b"-Infinity",
                b"\xff", b"{", b"", b"[1,]"):
        with pytest.raises(BadData):
            jcs.parse(raw)
    assert jcs.parse(b'{"a":[1,true,null,"x"]}') == {"a": [1, True, None, "x"]}


def test_is_canonical_rejects_duplicate_keys_and_minus_zero() -> None:
    for raw in (b'{"a":1,"a":1}', b'{"a":2,"a":1}', b"-0", b'{"a":-0}', b'"\\u0041"'):
        assert not jcs.is_canonical(raw, jcs.parse(raw))


def test_is_canonical_lone_surrogate_is_false() -> None:
    raw = b'"\\ud800"'
    parsed = jcs.parse(raw)
    assert jcs.is_canonical(raw, parsed) is False


@pytest.mark.parametrize("raw", [b"9007199254740993", b"1000000000000000000000"])
def test_unsafe_integers_are_refused_when_parsed_and_when_canonicalised(raw: bytes) -> None:
    # Beyond 2**53-1 the RFC 8785 (IEEE 754 double) form differs from the digits.
    with pytest.raises(BadData, match="2\\*\\*53"):
        jcs.parse(raw)
    with pytest.raises(BadData):
        jcs.canonical(int(raw))


# Characters where JSON encoders disagree most often: controls, quotes, backslash,
# DEL, line/paragraph separators, the top of the BMP, and a surrogate pair.
tricky_texts = st.text(
    alphabet=st.sampled_from(list("\x00\x01\x08\t\n\x0b\x0c\r\x1f\"\\/\x7f\x80é\u2028\u2029"
                                  "\ud7ff\ue000\ufeff\uffff張\U0001f600\U00020000a0")),
    max_size=10)
tricky_values = json_of(tricky_texts, 4, 20)


@settings(max_examples=1000, deadline=None)
@given(value=tricky_values)
def test_fast_canonical_path_equals_rfc8785_on_tricky_text(value: Any) -> None:
    assert jcs.canonical(value) == rfc8785.dumps(value)
