"""Candidate import: the Chinese headers people write, and row numbers as Excel shows them."""

from __future__ import annotations

import pytest

from ledger.absence.imports import HEADER_SYNONYMS, header_column, parse_candidates
from tests.unit.ledger.absence.test_imports import ID_A, ID_B, POSTS


@pytest.mark.parametrize(("label", "column"), [
    ("姓名", "name"), ("身份证号", "id_number"), ("身份证号码", "id_number"),
    ("证件号码", "id_number"), ("手机", "phone"), ("手机号", "phone"), ("手机号码", "phone"),
    ("联系电话", "phone"), ("电话", "phone"), ("邮箱", "email"), ("电子邮箱", "email"),
    ("电子邮件", "email"), ("报考职位", "post"), ("岗位", "post"), ("职位代码", "post"),
    ("准考证号", "registration"), ("报名号", "registration"), ("报名序号", "registration"),
    (" 手机号码 ", "phone"), ("\u3000联系电话\u3000", "phone"), ("手 机 号", "phone"),
    ("ＥＭＡＩＬ", "email"), ("Phone", "phone"), ("ｒｅｇｉｓｔｒａｔｉｏｎ", "registration"),
])
def test_header_forms(label: str, column: str) -> None:
    assert header_column(label) == column


def test_every_synonym_reads_as_its_column() -> None:
    for column, labels in HEADER_SYNONYMS.items():
        for label in labels:
            assert header_column(label) == column


def test_a_file_with_other_chinese_headers_imports() -> None:
    data = ("\ufeff准考证号, 考生姓名 ,身份证号码,联系电话,电子邮件,报考职位\r\n"
            f"R2026-0001,张三,{ID_A},13800000001,,P001\r\n"
            f"R2026-0002,李四,{ID_B},,l@qq.com,P002\r\n").encode()
    rows = parse_candidates(data, "text/csv", known_posts=POSTS)
    assert [(r.registration, r.post, r.details.phone) for r in rows] == [
        ("R2026-0001", "P001", "13800000001"), ("R2026-0002", "P002", "")]
