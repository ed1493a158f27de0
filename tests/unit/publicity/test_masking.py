"""Masking for public pages: surnames kept, given names masked; IDs and phones cut."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from publicity.masking import COMPOUND_SURNAMES, mask_id_number, mask_name, mask_phone


@pytest.mark.parametrize(("name", "masked"), [
    ("张三明", "张*明"),
    ("李四", "李*"),
    ("欧阳娜娜", "欧阳**"),
    ("欧阳娜", "欧阳*"),
    ("司马𠮷", "司马*"),
    ("黄𠮷", "黄*"),
    ("王", "王*"),
    ("诸葛孔明亮", "诸葛***"),
    ("阿卜杜·热合曼", "阿**·***"),
    ("买买提明", "买***"),
    ("  赵静 ", "赵*"),
])
def test_names_keep_the_surname_only(name: str, masked: str) -> None:
    assert mask_name(name) == masked


def test_id_numbers_and_phones_keep_a_prefix_and_suffix() -> None:
    assert mask_id_number("110105199001011234") == "110105********1234"
    assert mask_id_number("11010519900101123X") == "110105********123X"
    assert mask_phone("13812345678") == "138****5678"


han = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF)


@given(st.text(han, min_size=2, max_size=6))
def test_a_masked_name_never_shows_the_given_name_whole(name: str) -> None:
    masked = mask_name(name)
    assert len(masked) == len(name)  # one mark per hidden character
    assert masked != name
    surname = name[:2] if len(name) >= 3 and name[:2] in COMPOUND_SURNAMES else name[:1]
    assert masked.startswith(surname)
    given_name = name[len(surname):]
    # At most one given-name character shows (the last one of a three-character name).
    shown = sum(1 for a, b in zip(masked[len(surname):], given_name, strict=True) if a == b)
    assert shown <= (1 if len(name) == 3 and len(surname) == 1 else 0)
