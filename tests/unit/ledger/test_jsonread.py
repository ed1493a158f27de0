"""The service's one JSON reader: what json.loads lets through is refused as BadData."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger import jsonread
from ledger.errors import BadData, TooLarge


def refused(data: bytes | str, **kw: Any) -> BadData:
    with pytest.raises(BadData) as info:
        jsonread.read(data, **kw)
    assert info.value.field == kw.get("field", "body")
    return info.value


@pytest.mark.parametrize("data", [
    b"[" * 100_000 + b"]" * 100_000,
    b"[" * 100_000,
    b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    b"[" * 33 + b"]" * 33,
])
def test_deep_nesting_is_refused_without_recursing(data: bytes) -> None:
    assert "nested more than 32 levels" in str(refused(data))


def test_nesting_up_to_the_limit_is_read() -> None:
    assert jsonread.read(b"[" * 32 + b"]" * 32) == json.loads(b"[" * 32 + b"]" * 32)


def test_brackets_inside_strings_do_not_count() -> None:
    text = json.dumps({"a": "[" * 1000 + '\\"{' * 500, "b": ["]]]"]})
    assert jsonread.read(text) == json.loads(text)


def test_an_unterminated_string_after_deep_nesting() -> None:
    assert "unterminated string" in str(refused(b"[" * 10 + b'"abc\\"' * 1000))


@pytest.mark.parametrize("data", [b'"\\ud800"', b'{"factor": "12\\udc0034"}',
                                  b'{"\\ud800": 1}', b'[["\\udfff\\ud800"]]'])
def test_lone_surrogates_are_refused(data: bytes) -> None:
    assert json.loads(data) is not None  # what the standard library lets through
    assert "lone surrogate" in str(refused(data))


def test_a_surrogate_pair_is_one_character() -> None:
    assert jsonread.read(b'{"k": "\\ud83d\\ude00"}') == {"k": "\U0001f600"}


def test_surrogate_path_is_named() -> None:
    assert str(refused(b'{"factor": "\\ud800"}')).startswith("body.factor:")


@pytest.mark.parametrize("data", [b"NaN", b"[Infinity]", b'{"a": -Infinity}', b"1e999",
                                  b"[-1e400]"])
def test_numbers_json_cannot_hold(data: bytes) -> None:
    refused(data)


def test_huge_integers_are_bad_data_not_value_errors() -> None:
    refused(b"1" * 5000)


def test_duplicate_names_are_refused() -> None:
    assert "'status' appears twice" in str(refused(b'{"status": 1, "status": 2}'))
    # A name that could be someone's data is not echoed.
    assert "张三" not in str(refused('{"张三": 1, "张三": 2}'.encode()))


def test_a_caller_may_collect_duplicates_itself() -> None:
    assert jsonread.read(b'{"a": 1, "a": 2}', object_pairs_hook=list) == [("a", 1), ("a", 2)]


def test_size_limit_is_too_large() -> None:
    err = refused(b"[" + b"1," * 600 + b"1]", max_bytes=1000, field="events")
    assert isinstance(err, TooLarge)


def test_not_utf8_and_syntax_errors_do_not_echo_the_document() -> None:
    assert "offset 9" in str(refused(b'{"name": \xff}'))
    err = refused('{"name": "欧阳修",]'.encode())
    assert "line 1 column" in str(err)
    assert "欧阳修" not in str(err)
    refused(b"\xfe\xff\x00[\x00]")  # UTF-16 is not UTF-8 (RFC 8259 §8.1)


def test_a_byte_order_mark_is_ignored() -> None:
    assert jsonread.read(b"\xef\xbb\xbf{}") == {}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=30)


@settings(max_examples=300, deadline=None)
@given(value=json_values)
def test_valid_json_reads_as_json_loads_does(value: Any) -> None:
    text = json.dumps(value, ensure_ascii=False)
    if text.count("[") + text.count("{") <= 32:  # shallow enough for sure
        assert jsonread.read(text.encode()) == json.loads(text)
        assert jsonread.read(json.dumps(value)) == json.loads(text)  # \u escapes as well
