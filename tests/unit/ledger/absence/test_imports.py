"""Candidate import: CSV and JSON parsing, per-row validation, all-or-nothing errors."""

from __future__ import annotations

import csv
import datetime
import io
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.absence.imports import MAX_ROWS, CandidateRow, parse_candidates
from ledger.absence.vault import PersonalDetails
from ledger.errors import BadData, Unprocessable
from ledger.events import PII_PATTERNS

POSTS = frozenset({"P001", "P002", "tax-2026-01"})
HEADER = ["registration", "name", "id_number", "phone", "email", "post"]
CN_HEADER = ["报名号", "姓名", "身份证号", "手机号", "邮箱", "岗位"]


def check_char(first17: str) -> str:
    """ISO 7064 MOD 11-2 by the standard's recursive method (not the weight table)."""
    p = 0
    for digit in first17:
        p = ((p + int(digit)) * 2) % 11
    c = (12 - p) % 11
    return "X" if c == 10 else str(c)


def make_id(region: str = "110105", birth: str = "19491231", seq: str = "002") -> str:
    first17 = region + birth + seq
    return first17 + check_char(first17)


# Known-good published example numbers, checked against the independent algorithm.
ID_A = make_id(seq="002")  # 11010519491231002X
ID_B = make_id(seq="003")
ID_C = make_id("440106", "20000229", "123")  # a leap day
assert ID_A == "11010519491231002X"


def row(**overrides: str) -> dict[str, str]:
    base = {"registration": "R2026-0001", "name": "欧阳𠮷", "id_number": ID_A,
            "phone": "13800138000", "email": "oy@example.cn", "post": "P001"}
    base.update(overrides)
    return base


def to_csv(rows: list[dict[str, str]], header: list[str] = HEADER, *, bom: bool = False,
           line: str = "\n") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=line)
    writer.writerow(header)
    english = [dict(zip(CN_HEADER, HEADER, strict=True)).get(h, h) for h in header]
    for r in rows:
        writer.writerow([r.get(h, "") for h in english])
    return (b"\xef\xbb\xbf" if bom else b"") + out.getvalue().encode("utf-8")


def to_json(rows: list[Any], *, wrapped: bool = True) -> bytes:
    return json.dumps({"candidates": rows} if wrapped else rows, ensure_ascii=False).encode()


def personal_values(rows: list[dict[str, str]]) -> set[str]:
    values = set()
    for r in rows:
        for key in ("name", "id_number", "phone", "email"):
            value = r.get(key, "")
            if isinstance(value, str) and len(value.strip()) >= 2:
                values.add(value.strip())
    return values


def import_errors(data: bytes, content_type: str, rows: list[dict[str, str]],
                  **kwargs: Any) -> list[dict[str, object]]:
    """Parse expecting Unprocessable; check no personal value leaks; return the errors."""
    with pytest.raises(Unprocessable) as info:
        parse_candidates(data, content_type, known_posts=POSTS, **kwargs)
    exc = info.value
    texts = [str(exc)] + [str(e["message"]) for e in exc.errors]
    for value in personal_values(rows):
        for text in texts:
            assert value not in text, (value, text)
    for text in texts:
        for what, pattern in PII_PATTERNS:
            if not what.startswith("Han"):
                assert not pattern.search(text), (what, text)
    return exc.errors


def single_error(**overrides: str) -> dict[str, object]:
    rows = [row(**overrides)]
    errors = import_errors(to_csv(rows), "text/csv", rows)
    json_errors = import_errors(to_json(rows), "application/json", rows)
    assert errors == json_errors
    assert len(errors) == 1, errors
    return errors[0]


# --- valid files ---------------------------------------------------------------------


def test_valid_csv() -> None:
    rows = [
        row(),
        row(registration="R2026-0002", name="张三", id_number=ID_B, phone="", email="z@qq.com",
            post="P002"),
        row(registration="a123", name="阿卜杜·热合曼", id_number=ID_C.lower(),
            phone="+86 139-0013-9000", email="", post="tax-2026-01"),
    ]
    result = parse_candidates(to_csv(rows), "text/csv", known_posts=POSTS)
    assert result == [
        CandidateRow(1, "R2026-0001", "P001",
                     PersonalDetails("欧阳𠮷", ID_A, "13800138000", "oy@example.cn")),
        CandidateRow(2, "R2026-0002", "P002", PersonalDetails("张三", ID_B, "", "z@qq.com")),
        CandidateRow(3, "a123", "tax-2026-01",
                     PersonalDetails("阿卜杜·热合曼", ID_C.upper(), "13900139000", "")),
    ]


def test_csv_with_bom_chinese_headers_reordered_columns_and_crlf() -> None:
    header = ["岗位", "邮箱", "姓名", "报名号", "手机号", "身份证号"]
    rows = [row(name="  𠮷野家  "), row(registration="R2026-0002", name="司马懿", id_number=ID_B)]
    data = to_csv(rows, header, bom=True, line="\r\n")
    result = parse_candidates(data, "text/csv; charset=utf-8", known_posts=POSTS)
    assert [r.row for r in result] == [1, 2]
    assert result[0].details.name == "𠮷野家"
    assert result[1].details == PersonalDetails("司马懿", ID_B, "13800138000", "oy@example.cn")


def test_csv_header_case_and_spaces_and_optional_contact_column() -> None:
    data = ("Registration , NAME,Id_Number,Email,Post\n"
            f"R2026-0001,欧阳修,{ID_A},o@example.cn,P001\n").encode()
    result = parse_candidates(data, "TEXT/CSV", known_posts=POSTS)
    assert result[0].details == PersonalDetails("欧阳修", ID_A, "", "o@example.cn")


def test_csv_blank_records_are_skipped_but_numbered() -> None:
    data = (",".join(HEADER) + "\n"
            f"R2026-0001,欧阳修,{ID_A},13800138000,,P001\n"
            "\n"
            ",,,,,\n"
            f"R2026-0002,张三,{ID_B},13800138001,,P002\n").encode()
    result = parse_candidates(data, "text/csv", known_posts=POSTS)
    assert [r.row for r in result] == [1, 4]


def test_csv_quoted_cells() -> None:
    data = (",".join(HEADER) + "\n"
            f'"R2026-0001","欧阳, 修",{ID_A},"138 0013 8000",,P001\n').encode()
    result = parse_candidates(data, "text/csv", known_posts=POSTS)
    assert result[0].details.name == "欧阳, 修"
    assert result[0].details.phone == "13800138000"


@pytest.mark.parametrize("wrapped", [True, False])
def test_valid_json(wrapped: bool) -> None:
    rows: list[Any] = [
        row(),
        {"registration": "R2026-0002", "name": "欧阳娜娜", "id_number": ID_B,
         "email": "n@example.cn", "post": "P002"},
        {"registration": "R2026-0003", "name": "𠮷", "id_number": ID_C, "phone": "13700137000",
         "email": None, "post": "P001"},
    ]
    result = parse_candidates(to_json(rows, wrapped=wrapped), "application/json",
                              known_posts=POSTS)
    assert result == [
        CandidateRow(1, "R2026-0001", "P001",
                     PersonalDetails("欧阳𠮷", ID_A, "13800138000", "oy@example.cn")),
        CandidateRow(2, "R2026-0002", "P002",
                     PersonalDetails("欧阳娜娜", ID_B, "", "n@example.cn")),
        CandidateRow(3, "R2026-0003", "P001", PersonalDetails("𠮷", ID_C, "13700137000", "")),
    ]


def test_json_with_bom_and_charset() -> None:
    data = b"\xef\xbb\xbf" + to_json([row()])
    result = parse_candidates(data, "application/json;charset=UTF-8", known_posts=POSTS)
    assert len(result) == 1


def test_known_posts_can_be_any_collection() -> None:
    rows = [row(post="P002")]
    result = parse_candidates(to_csv(rows), "text/csv", known_posts=["P001", "P002"])
    assert result[0].post == "P002"


def test_name_limits() -> None:
    ok = [row(name="𠮷" * 64)]
    assert parse_candidates(to_csv(ok), "text/csv", known_posts=POSTS)[0].details.name == "𠮷" * 64
    assert single_error(name="𠮷" * 65) == {
        "row": 1, "field": "name", "message": "must be at most 64 characters"}


# --- one invalid field at a time -----------------------------------------------------

BAD_REG = "must be 4 to 32 letters, digits or '-', starting with a letter or digit"
BAD_DATE = "characters 7-14 are not a valid birth date (YYYYMMDD)"
BAD_PHONE = "is not a mainland mobile number (11 digits starting 13-19)"
INVALID = [
    ("name", "", "is required"),
    ("name", "   ", "is required"),
    ("name", "张3", "must not contain digits"),
    ("name", "张３", "must not contain digits"),
    ("name", "张\x07三", "must not contain control or invisible formatting characters"),
    ("name", "张\u202e三", "must not contain control or invisible formatting characters"),
    ("name", "zhang@san", "must not contain '@'"),
    ("id_number", "", "is required"),
    ("id_number", "1101051949123100", "must be 18 characters: 17 digits, then a digit or X"),
    ("id_number", ID_A + "1", "must be 18 characters: 17 digits, then a digit or X"),
    ("id_number", ID_A[:17] + "Y", "must be 18 characters: 17 digits, then a digit or X"),
    ("id_number", "１１０１０５１９４９１２３１００２Ｘ",
     "must be 18 characters: 17 digits, then a digit or X"),
    ("id_number", ID_A[:17] + "0", "check digit does not match"),
    ("id_number", make_id(birth="19491331"), BAD_DATE),
    ("id_number", make_id(birth="20010229"), BAD_DATE),
    ("id_number", make_id(birth="00000101"), BAD_DATE),
    ("phone", "12800138000", BAD_PHONE),
    ("phone", "1380013800", BAD_PHONE),
    ("phone", "+1 13800138000", BAD_PHONE),
    ("phone", "010-12345678", BAD_PHONE),
    ("phone", "138001380000", BAD_PHONE),
    ("email", "oy.example.cn", "is not a valid email address"),
    ("email", "oy@example", "is not a valid email address"),
    ("email", "oy@@example.cn", "is not a valid email address"),
    ("email", "o y@example.cn", "is not a valid email address"),
    ("email", "@example.cn", "is not a valid email address"),
    ("email", "oy@example..cn", "is not a valid email address"),
    ("email", "o" * 244 + "@example.cn", "must be at most 254 characters"),
    ("post", "P999", "is not one of the campaign's posts"),
    ("post", "", "is required"),
    ("registration", "", "is required"),
    ("registration", "R01", BAD_REG),
    ("registration", "-R2026", BAD_REG),
    ("registration", "R_2026", BAD_REG),
    ("registration", "报名2026", BAD_REG),
    ("registration", "R" * 33, BAD_REG),
    ("registration", ID_B, "looks like an ID number or a mobile number; registration numbers "
     "are published, so use the 报名号"),
    ("registration", "13912345678", "looks like an ID number or a mobile number; registration "
     "numbers are published, so use the 报名号"),
    ("registration", "R-13912345678", "looks like an ID number or a mobile number; registration "
     "numbers are published, so use the 报名号"),
]


@pytest.mark.parametrize(("field", "value", "message"), INVALID)
def test_each_invalid_field(field: str, value: str, message: str) -> None:
    assert single_error(**{field: value}) == {"row": 1, "field": field, "message": message}


def test_email_at_the_length_limit_is_accepted() -> None:
    email = "o" * 64 + "@" + "d" * 178 + ".example.cn"
    assert len(email) == 254
    rows = [row(email=email)]
    assert parse_candidates(to_csv(rows), "text/csv", known_posts=POSTS)[0].details.email == email


def test_contact_is_required() -> None:
    assert single_error(phone="", email="") == {
        "row": 1, "field": "contact", "message": "a phone number or an email address is required"}
    # A bad phone with no e-mail is one error (the phone), not two.
    assert single_error(phone="123", email="")["field"] == "phone"


def test_lower_case_x_is_normalised() -> None:
    rows = [row(id_number=ID_A.lower())]
    result = parse_candidates(to_csv(rows), "text/csv", known_posts=POSTS)
    assert result[0].details.id_number == ID_A


# --- several errors ------------------------------------------------------------------


def test_all_errors_are_collected_and_sorted() -> None:
    rows = [
        row(),
        row(registration="R2026-0002", name="王5", id_number=ID_A[:17] + "1", phone="123",
            email="bad", post="P9"),
        row(registration="R2026-0003", id_number=ID_B),
        row(registration="x", name="", id_number=ID_C, phone="", email=""),
    ]
    errors = import_errors(to_csv(rows), "text/csv", rows)
    assert errors == [
        {"row": 2, "field": "email", "message": "is not a valid email address"},
        {"row": 2, "field": "id_number", "message": "check digit does not match"},
        {"row": 2, "field": "name", "message": "must not contain digits"},
        {"row": 2, "field": "phone",
         "message": "is not a mainland mobile number (11 digits starting 13-19)"},
        {"row": 2, "field": "post", "message": "is not one of the campaign's posts"},
        {"row": 4, "field": "contact", "message": "a phone number or an email address is required"},
        {"row": 4, "field": "name", "message": "is required"},
        {"row": 4, "field": "registration",
         "message": "must be 4 to 32 letters, digits or '-', starting with a letter or digit"},
    ]
    with pytest.raises(Unprocessable) as info:
        parse_candidates(to_csv(rows), "text/csv", known_posts=POSTS)
    assert str(info.value) == "2 rows have errors; nothing was imported"
    assert info.value.field == "rows"


def test_bad_date_and_bad_check_digit_both_reported() -> None:
    bad = make_id(birth="19490231")[:17] + "0"
    if make_id(birth="19490231").endswith("0"):
        bad = bad[:17] + "1"
    errors = import_errors(to_csv([row(id_number=bad)]), "text/csv", [row(id_number=bad)])
    assert [e["message"] for e in errors] == [
        "characters 7-14 are not a valid birth date (YYYYMMDD)", "check digit does not match"]


def test_one_error_message_is_singular() -> None:
    with pytest.raises(Unprocessable) as info:
        parse_candidates(to_csv([row(post="nope")]), "text/csv", known_posts=POSTS)
    assert str(info.value) == "1 row has errors; nothing was imported"


def test_nothing_is_returned_partially() -> None:
    ids = [make_id(seq=f"{i:03d}") for i in range(100)]
    rows = [row(registration=f"R2026-{i:04d}", id_number=ids[i], phone=f"138{i:08d}")
            for i in range(100)]
    rows[57] = row(registration="R2026-0057", id_number=ids[57], phone="", email="")
    for data, kind in ((to_csv(rows), "text/csv"), (to_json(rows), "application/json")):
        errors = import_errors(data, kind, rows)
        assert errors == [{"row": 58, "field": "contact",
                           "message": "a phone number or an email address is required"}]
    rows[57] = row(registration="R2026-0057", id_number=ids[57], phone="13800000057")
    assert len(parse_candidates(to_csv(rows), "text/csv", known_posts=POSTS)) == 100


def test_duplicates_name_the_earlier_row() -> None:
    rows = [
        row(),
        row(registration="R2026-0002", id_number=ID_B),
        row(registration="r2026-0001", id_number=ID_C),  # same registration, other case
        row(registration="R2026-0004", id_number=ID_A.lower()),  # same ID, lower-case x
        row(registration="R2026-0002", id_number=ID_B),  # both
    ]
    errors = import_errors(to_csv(rows), "text/csv", rows)
    assert errors == [
        {"row": 3, "field": "registration", "message": "same registration number as row 1"},
        {"row": 4, "field": "id_number", "message": "same ID number as row 1"},
        {"row": 5, "field": "id_number", "message": "same ID number as row 2"},
        {"row": 5, "field": "registration", "message": "same registration number as row 2"},
    ]
    assert import_errors(to_json(rows), "application/json", rows) == errors


# --- file-level problems -------------------------------------------------------------


def test_non_utf8_names_the_byte_offset() -> None:
    prefix = (",".join(HEADER) + "\nR2026-0001,张").encode()
    data = prefix + b"\xff" + f"三,{ID_A},13800138000,,P001\n".encode()
    offset = len(prefix)
    with pytest.raises(BadData) as info:
        parse_candidates(data, "text/csv", known_posts=POSTS)
    assert not isinstance(info.value, Unprocessable)
    assert f"byte offset {offset}" in str(info.value)
    assert info.value.field == "body"
    with pytest.raises(BadData, match=f"byte offset {offset + 3}"):
        parse_candidates(b"\xef\xbb\xbf" + data, "text/csv", known_posts=POSTS)
    with pytest.raises(BadData, match="byte offset 0"):
        parse_candidates(b"\xff[]", "application/json", known_posts=POSTS)
    # A GBK export (the usual mistake): 欧 happens to be valid UTF-8 (C5 B7), 阳 is not.
    gbk = to_csv([row(name="欧阳修")]).decode().encode("gbk")
    with pytest.raises(BadData, match=r"not UTF-8 text .* byte offset 58\b"):
        parse_candidates(gbk, "text/csv", known_posts=POSTS)


@pytest.mark.parametrize("content_type", ["", "text/plain", "application/xml",
                                          "text/csv-schema", "multipart/form-data; boundary=x",
                                          "application/x-www-form-urlencoded"])
def test_unknown_content_type(content_type: str) -> None:
    with pytest.raises(BadData) as info:
        parse_candidates(to_csv([row()]), content_type, known_posts=POSTS)
    assert info.value.field == "Content-Type"


@pytest.mark.parametrize(("data", "kind"), [
    (b"", "text/csv"),
    (b"\xef\xbb\xbf", "text/csv"),
    (b"\n\n", "text/csv"),
    (",".join(HEADER).encode(), "text/csv"),
    ((",".join(HEADER) + "\n\n,,,,,\n").encode(), "text/csv"),
    (b"[]", "application/json"),
    (b'{"candidates": []}', "application/json"),
])
def test_no_rows(data: bytes, kind: str) -> None:
    with pytest.raises(Unprocessable) as info:
        parse_candidates(data, kind, known_posts=POSTS)
    assert "no candidate rows" in str(info.value)
    assert info.value.field == "rows"


def test_max_rows() -> None:
    assert MAX_ROWS == 50_000
    rows = [row(registration=f"R2026-{i:04d}", id_number=make_id(seq=f"{i:03d}"))
            for i in range(3)]
    for data, kind in ((to_csv(rows), "text/csv"), (to_json(rows), "application/json")):
        assert len(parse_candidates(data, kind, known_posts=POSTS, max_rows=3)) == 3
        with pytest.raises(Unprocessable) as info:
            parse_candidates(data, kind, known_posts=POSTS, max_rows=2)
        assert "more than 2 rows" in str(info.value)
        assert info.value.field == "rows"
    with pytest.raises(ValueError, match="max_rows"):
        parse_candidates(to_csv(rows), "text/csv", known_posts=POSTS, max_rows=0)


def test_max_rows_is_checked_before_row_validation() -> None:
    rows = [row(name="")] * 3  # invalid and duplicated, but too many comes first
    with pytest.raises(Unprocessable, match="more than 2 rows"):
        parse_candidates(to_csv(rows), "text/csv", known_posts=POSTS, max_rows=2)


def test_missing_and_unknown_columns() -> None:
    header = ["registration", "名字", "phone", "post", "notes", "phone"]
    data = to_csv([], header)
    with pytest.raises(Unprocessable) as info:
        parse_candidates(data, "text/csv", known_posts=POSTS)
    assert info.value.field == "header"
    assert info.value.errors == [
        {"row": 0, "field": "header", "message": "column 2 is not a known column"},
        {"row": 0, "field": "header", "message": "column 5 is not a known column"},
        {"row": 0, "field": "id_number", "message": "required column is missing"},
        {"row": 0, "field": "name", "message": "required column is missing"},
        {"row": 0, "field": "phone", "message": "column 6 repeats the phone column"},
    ]
    assert "looks like data" not in str(info.value)


def test_contact_columns_missing() -> None:
    with pytest.raises(Unprocessable) as info:
        parse_candidates(to_csv([row()], ["registration", "name", "id_number", "post"]),
                         "text/csv", known_posts=POSTS)
    assert info.value.errors == [
        {"row": 0, "field": "contact", "message": "a phone or an email column is required"}]


def test_english_and_chinese_names_for_one_column_collide() -> None:
    with pytest.raises(Unprocessable) as info:
        parse_candidates(to_csv([row()], [*HEADER, "姓名"]), "text/csv", known_posts=POSTS)
    assert info.value.errors == [
        {"row": 0, "field": "name", "message": "column 7 repeats the name column"}]


def test_missing_header_row_is_reported_without_echoing_data() -> None:
    data = f"R2026-0001,欧阳修,{ID_A},13800138000,oy@example.cn,P001\n".encode()
    with pytest.raises(Unprocessable) as info:
        parse_candidates(data, "text/csv", known_posts=POSTS)
    message = str(info.value) + repr(info.value.errors)
    assert "looks like data" in message
    for value in ("R2026-0001", "欧阳修", ID_A, "13800138000", "oy@example.cn"):
        assert value not in message


def test_csv_cell_count_mismatch() -> None:
    data = (",".join(HEADER) + "\n"
            f"R2026-0001,欧阳修,{ID_A},13800138000,,P001,extra\n"
            f"R2026-0002,张三,{ID_B},13800138000\n").encode()
    rows = [row(name="欧阳修"), row(name="张三", id_number=ID_B)]
    assert import_errors(data, "text/csv", rows) == [
        {"row": 1, "field": "row", "message": "has 7 cells; the header has 6"},
        {"row": 2, "field": "row", "message": "has 4 cells; the header has 6"},
    ]


def test_broken_csv_quoting() -> None:
    data = (",".join(HEADER) + '\nR2026-0001,"欧阳"修,x,y,z,P001\n').encode()
    with pytest.raises(BadData, match="not valid CSV"):
        parse_candidates(data, "text/csv", known_posts=POSTS)


def test_json_field_types_and_shapes() -> None:
    rows: list[Any] = [
        {**row(registration="R2026-0001"), "phone": 13800138000},
        {**row(registration="R2026-0002", id_number=ID_B), "name": ["欧阳"]},
        "R2026-0003",
        None,
        {k: v for k, v in row(registration="R2026-0005", id_number=ID_C).items() if k != "name"},
        {**row(registration="R2026-0006", id_number=make_id(seq="006")), "nickname": "x"},
        {**row(registration="R2026-0007", id_number=make_id(seq="007")), "name": None},
        {**row(registration="R2026-0008", id_number=make_id(seq="008")), "备注": "x"},
    ]
    errors = import_errors(to_json(rows), "application/json", rows[:2])
    assert errors == [
        {"row": 1, "field": "phone", "message": "must be a string"},
        {"row": 2, "field": "name", "message": "must be a string"},
        {"row": 3, "field": "row", "message": "must be an object"},
        {"row": 4, "field": "row", "message": "must be an object"},
        {"row": 5, "field": "name", "message": "is required"},
        {"row": 6, "field": "nickname", "message": "nickname is not a known field"},
        {"row": 7, "field": "name", "message": "is required"},
        {"row": 8, "field": "row", "message": "has a field that is not known"},
    ]


def test_json_duplicate_keys_in_a_row() -> None:
    data = ('[{"registration": "R2026-0001", "name": "欧阳修", "name": "张三", '
            f'"id_number": "{ID_A}", "phone": "13800138000", "post": "P001"}}]').encode()
    errors = import_errors(data, "application/json", [row(name="欧阳修"), row(name="张三")])
    assert errors == [{"row": 1, "field": "name", "message": "appears more than once"}]


@pytest.mark.parametrize("data", [
    b"{", b"[1,", b"nope", b'{"candidates": {}}', b'{"rows": []}', b'"x"', b"42",
    b'{"candidates": [], "extra": 1}', b'{"candidates": [], "candidates": []}',
    b"[" * 100_000 + b"]" * 100_000,
])
def test_broken_json(data: bytes) -> None:
    with pytest.raises(BadData) as info:
        parse_candidates(data, "application/json", known_posts=POSTS)
    assert not isinstance(info.value, Unprocessable)
    assert info.value.field in ("body", "candidates")


def test_json_syntax_error_does_not_echo_the_document() -> None:
    data = f'[{{"name": "欧阳修", "id_number": "{ID_A}",]'.encode()
    with pytest.raises(BadData) as info:
        parse_candidates(data, "application/json", known_posts=POSTS)
    assert "line 1 column" in str(info.value)
    assert ID_A not in str(info.value)
    assert "欧阳修" not in str(info.value)


# --- the check digit, as a property ----------------------------------------------------

ids = st.builds(
    lambda region, born, seq: make_id(f"{region:06d}", born.strftime("%Y%m%d"), f"{seq:03d}"),
    st.integers(110000, 659999),
    st.dates(datetime.date(1900, 1, 1), datetime.date(2099, 12, 31)),
    st.integers(0, 999),
)


@settings(deadline=None, max_examples=200)
@given(id_number=ids, position=st.integers(0, 17), replacement=st.integers(0, 10))
def test_valid_id_accepted_and_any_single_change_rejected(
        id_number: str, position: int, replacement: int) -> None:
    rows = [row(id_number=id_number)]
    parsed = parse_candidates(to_csv(rows), "text/csv", known_posts=POSTS)
    assert parsed[0].details.id_number == id_number
    new = "0123456789X"[replacement] if position == 17 else str(replacement % 10)
    if new == id_number[position]:
        new = "0123456789X"[(replacement + 1) % (11 if position == 17 else 10)]
    changed = id_number[:position] + new + id_number[position + 1:]
    assert changed != id_number
    errors = import_errors(to_csv([row(id_number=changed)]), "text/csv", [row(id_number=changed)])
    assert {e["field"] for e in errors} == {"id_number"}
    assert {"row": 1, "field": "id_number", "message": "check digit does not match"} in errors
