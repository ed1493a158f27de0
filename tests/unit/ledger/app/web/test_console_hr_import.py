"""The import page's words: domain errors in Chinese or English, rows as Excel numbers
them (header row 1), the accepted-headers table and the template CSV."""

from __future__ import annotations

import pytest

from ledger.absence.imports import parse_candidates
from ledger.app.web.console_hr_import import (
    _FILE_MESSAGES,
    _MESSAGES,
    ERRORS,
    file_message,
    header_table,
    message_code,
    shown,
    template_csv,
)
from ledger.app.web.console_hr_text import ALL_TEXT
from ledger.app.web.forms import Lang
from ledger.errors import Unprocessable
from tests.unit.ledger.absence.test_imports import ID_A, ID_B, POSTS

ZH = Lang("zh", ALL_TEXT)
EN = Lang("en", ALL_TEXT)


def errors_of(data: bytes) -> list[dict[str, object]]:
    with pytest.raises(Unprocessable) as info:
        parse_candidates(data, "text/csv", known_posts=POSTS)
    return info.value.errors


def test_console_rows_are_excel_rows_and_words_are_chinese() -> None:
    # Line 1 the header, line 2 good, line 3 a bad post, line 4 a repeated registration.
    data = ("报名号,姓名,身份证号,手机号,岗位\n"
            f"R2026-0001,张三,{ID_A},13800000001,P001\n"
            f"R2026-0002,李四,{ID_B},13800000002,nope\n"
            f"R2026-0001,王五,{ID_A[:17]}1,13800000003,P001\n").encode()
    zh = shown(errors_of(data), ZH)
    assert [(e.row, e.field) for e in zh] == [
        (3, "岗位"), (4, "身份证号"), (4, "报名号")]
    assert [e.message for e in zh] == ["不是本批次的岗位", "校验位不正确", "报名号与第 2 行相同"]
    en = shown(errors_of(data), EN)
    assert en[2].message == "same registration number as row 2"
    assert en[0].field == "Post"


def test_header_errors_are_row_one() -> None:
    errs = shown(errors_of("报名号,姓名,身份证号,岗位,备注\nR1,x,y,P001,z\n".encode()), ZH)
    assert {e.row for e in errs} == {1}
    assert {e.message for e in errs} == {"第 5 列的列名无法识别",
                                         "至少需要“手机号”或“邮箱”其中一列"}


def test_every_domain_message_has_words() -> None:
    codes = {code for _, code in _MESSAGES} | {code for _, code in _FILE_MESSAGES}
    assert codes == set(ERRORS)
    assert message_code("something new") is None
    unknown = shown([{"row": 1, "field": "x", "message": "something new"}], ZH)
    assert unknown[0].message == "something new"


def test_header_table_and_template() -> None:
    table = header_table(ZH)
    assert [h.column for h in table] == ["registration", "name", "id_number", "phone",
                                         "email", "post"]
    assert "联系电话" in table[3].accepted
    body = template_csv()
    assert body.startswith(b"\xef\xbb\xbf")
    assert body.decode("utf-8-sig").strip() == "报名号,姓名,身份证号,手机号,邮箱,岗位"


def test_file_refusals_in_the_page_language() -> None:
    assert file_message("file: choose a CSV file", ZH) == "请选择要上传的 CSV 文件"
    assert file_message("body: not UTF-8 text (invalid byte 0xb0 at byte offset 3); x",
                        ZH) is not None
    assert "GBK" in (file_message("body: not UTF-8 text", EN) or "")
    assert file_message("something else", ZH) is None
