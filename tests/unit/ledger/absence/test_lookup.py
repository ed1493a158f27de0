"""The grammar of a candidate's lookup: registration numbers and verification factors.

Pure functions of ``ledger.absence.service`` and ``ledger.absence.imports``: what a
candidate may type, how it is normalised, and that anything else is refused (BadData
naming the field) before it could be compared with anything.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.absence.imports import REGISTRATION_RE, registration_key
from ledger.absence.service import parse_factor, parse_registration
from ledger.errors import BadData


@pytest.mark.parametrize(("typed", "chars", "factor"), [
    ("1234", 4, "1234"), ("123x", 4, "123X"), (" 123X\t", 4, "123X"),
    ("１２３４", 4, "1234"), ("１２３ｘ", 4, "123X"), ("1 2 3 4", 4, "1234"),
    ("012345", 6, "012345"), ("01234X", 6, "01234X"),
])
def test_well_formed_factors(typed: str, chars: int, factor: str) -> None:
    assert parse_factor(typed, chars) == factor


@pytest.mark.parametrize("typed", [
    "\u0000" * 4, "\u0000123", "", "123", "12345", "X123", "1X23", "abcd", "12-4",
    "12\u200b34", "１２３", "٠١٢٣", "1234" + "\u0000", "²³⁴⁵x", None, 1234, ["1234"],
    "1" * 100,
])
def test_malformed_factors_are_refused_naming_the_field(typed: Any) -> None:
    with pytest.raises(BadData) as info:
        parse_factor(typed, 4)
    assert info.value.field == "factor"


@given(st.text(max_size=8))
def test_a_parsed_factor_is_digits_and_a_final_digit_or_x(typed: str) -> None:
    try:
        factor = parse_factor(typed, 4)
    except BadData:
        return
    assert len(factor) == 4
    assert factor[:3].isascii()
    assert factor[:3].isdigit()
    assert factor[3] in "0123456789X"


def test_registration_numbers_are_case_insensitive() -> None:
    assert parse_registration("HR26-01699") == parse_registration("hr26-01699") == \
        parse_registration(" Hr26-01699 ") == registration_key("HR26-01699") == "hr26-01699"


@pytest.mark.parametrize("typed", [
    "", "R1", "-R0001", "R 0001", "R0001\u0000", "Ｒ0001", "R" * 33, "K\u212a01", None, 5,
])
def test_malformed_registration_numbers_are_refused_naming_the_field(typed: Any) -> None:
    with pytest.raises(BadData) as info:
        parse_registration(typed)
    assert info.value.field == "registration"


@given(st.from_regex(REGISTRATION_RE, fullmatch=True))
def test_the_key_is_the_ascii_lower_case_of_a_registration(reg: str) -> None:
    # What the migration derives with SQL lower() for the rows already there.
    key = registration_key(reg)
    assert key == reg.translate(str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ",
                                              "abcdefghijklmnopqrstuvwxyz"))
    assert REGISTRATION_RE.fullmatch(key)
