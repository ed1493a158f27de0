"""ledger.absence.lookup: a candidate's own lookup, and its grammar.

The grammar is pure functions of ``ledger.absence.service`` and
``ledger.absence.imports``: what a candidate may type, how it is normalised, and that
anything else is refused (BadData naming the field) before it could be compared with
anything.  The use case (``find_subject``, ``status``) runs on the ``domain`` fixture:
a wrong factor, an unknown number and an erased candidate look the same, and a lookup
writes nothing.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.absence.imports import REGISTRATION_RE, registration_key
from ledger.absence.service import parse_factor, parse_registration
from ledger.errors import BadData, NotAllowed
from tests.unit.ledger.absence._domain import CAMPAIGN, CLOSES, GRACE, HR, Domain


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
    "\u3000HR26-01699", "HR26-01699\u3000", "\u3000 hr26-01699 \u3000", "HR26\u3000-01699",
    "HR26 - 01699", "\tHR26-\u00a001699\n",
])
def test_registration_numbers_ignore_ascii_and_full_width_spaces(typed: str) -> None:
    assert parse_registration(typed) == "hr26-01699"


@pytest.mark.parametrize("typed", [
    "", "R1", "-R0001", "R 0\u00001", "\u3000", "R0001\u0000", "Ｒ0001", "R" * 33,
    "K\u212a01", None, 5,
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


def test_a_candidate_sees_their_windows_and_decisions(domain: Domain) -> None:
    domain.service.sweep(CLOSES + GRACE + timedelta(seconds=1))
    row = domain.rows[0]
    size = domain.size()
    out = domain.service.status(CAMPAIGN, row["registration"].lower(),
                                " " + row["id_number"][-4:].lower())
    assert out["registration"] == row["registration"]  # as registered
    (window,) = out["windows"]
    assert window["window"] == domain.windows[0]
    (decision,) = window["decisions"]
    assert decision["outcome"] == "forfeited"
    assert decision["explanation"]["zh"]
    assert "id_number" not in str(out)
    assert domain.size() == size  # a lookup records nothing
    assert domain.service.find_subject(CAMPAIGN, row["registration"], row["id_number"][-4:]
                                       ) == domain.service.window(domain.windows[0])["subject"]


def test_a_wrong_factor_an_unknown_number_and_an_erased_candidate_look_alike(
        domain: Domain) -> None:
    row, other = domain.rows[1], domain.rows[2]
    right = row["id_number"][-4:]
    wrong = other["id_number"][-4:] if other["id_number"][-4:] != right else "0000"
    subject = domain.service.window(domain.windows[3])["subject"]
    erased = domain.rows[3]
    domain.service.erase(HR, subject, "request", CLOSES)
    errors = []
    for campaign, registration, factor in [
            (CAMPAIGN, row["registration"], wrong),
            (CAMPAIGN, "R99-99999", right),
            (CAMPAIGN, erased["registration"], erased["id_number"][-4:]),
            ("c_other", row["registration"], right)]:
        with pytest.raises(NotAllowed) as err:
            domain.service.status(campaign, registration, factor)
        errors.append((err.value.field, str(err.value)))
    assert len(set(errors)) == 1
    assert errors[0][0] == "factor"
    with pytest.raises(BadData) as bad:  # malformed: refused before any comparison
        domain.service.find_subject(CAMPAIGN, row["registration"], "12")
    assert bad.value.field == "factor"
