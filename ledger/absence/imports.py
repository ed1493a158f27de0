"""Candidate import from CSV or JSON: bytes in, validated rows out, all or nothing.

``parse_candidates`` is pure (no I/O, no clock).  Every row is checked and every problem
collected; if any row has a problem, ``Unprocessable`` lists them all (sorted by row,
then field) and no row is returned.  Error messages name rows, fields and rules, never
the values: they end up in logs and HTTP responses, and the values are personal data.

CSV: UTF-8 (an optional BOM is skipped), a header row, then one candidate per record.
Columns, in any order, by English or Chinese name: ``registration``/报名号,
``name``/姓名, ``id_number``/身份证号, ``phone``/手机号, ``email``/邮箱, ``post``/岗位,
or another Chinese form in ``HEADER_SYNONYMS`` (联系电话, 身份证号码, 报考职位 ...); a
header is read in NFKC form without spaces, so full-width forms and spaces do not matter.
``phone`` and ``email`` may be left out (not both); every other column is required.
Row numbers count records after the header (the header is row 0), blank records
included, so row *n* is line *n + 1* of a spreadsheet; blank records are skipped.

JSON: ``{"candidates": [{...}, ...]}`` or a bare array of objects with the same English
field names (``phone``/``email`` may be missing or null, meaning ``""``); row *n* is
array position *n - 1*.
"""

from __future__ import annotations

import csv
import datetime
import io
import re
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from ledger import jsonread
from ledger.absence.vault import PersonalDetails
from ledger.errors import BadData, TooLarge, Unprocessable
from ledger.events import PII_PATTERNS, scan_for_personal_data

MAX_ROWS = 50_000
#: The largest candidate file taken (bytes): 50,000 rows of a few hundred bytes each.
MAX_IMPORT_BYTES = 20 * 1024 * 1024
FIELDS = ("registration", "name", "id_number", "phone", "email", "post")
REQUIRED_COLUMNS = ("registration", "name", "id_number", "post")
#: The Chinese headers taken, in the forms people write them (one canonical form first).
CHINESE_HEADERS = {"报名号": "registration", "姓名": "name", "身份证号": "id_number",
                   "手机号": "phone", "邮箱": "email", "岗位": "post"}
HEADER_SYNONYMS: dict[str, tuple[str, ...]] = {
    "registration": ("报名号", "准考证号", "报名序号", "报名编号"),
    "name": ("姓名", "考生姓名"),
    "id_number": ("身份证号", "身份证号码", "证件号码", "身份证"),
    "phone": ("手机号", "手机", "手机号码", "联系电话", "电话"),
    "email": ("邮箱", "电子邮箱", "电子邮件", "邮件"),
    "post": ("岗位", "报考职位", "职位代码", "岗位代码", "报考岗位", "职位"),
}
_HEADERS = {label: column for column, labels in HEADER_SYNONYMS.items() for label in labels}

REGISTRATION_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{3,31}")
MOBILE_RE = re.compile(r"1[3-9][0-9]{9}")
ID_SHAPE_RE = re.compile(r"[0-9]{17}[0-9X]")
_PHONE_SEPARATORS = re.compile(r"[\s-]+")
_SAFE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
_BOM = b"\xef\xbb\xbf"
# What makes a header cell look like a data cell (Han text is a normal header).
_DATA_PATTERNS = tuple(p for what, p in PII_PATTERNS if not what.startswith("Han"))

# GB 11643-1999: ISO 7064 MOD 11-2 over the first 17 digits, weights 2**(17-i) mod 11.
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
# Characters a name must not hold: controls, format characters (bidi overrides,
# zero-width), surrogates and line/paragraph separators.
_BAD_NAME_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


@dataclass(frozen=True)
class CandidateRow:
    """One valid candidate: its row number, public registration number, post and details."""

    row: int
    registration: str
    post: str
    details: PersonalDetails


Error = dict[str, object]


def parse_candidates(data: bytes, content_type: str, *, known_posts: Collection[str],
                     max_rows: int = MAX_ROWS) -> list[CandidateRow]:
    """Parse and validate a candidate file; return every row, or raise listing every problem.

    Raises:
        BadData: ``content_type`` is neither ``text/csv`` nor ``application/json``
            (``field="Content-Type"``); the bytes are not UTF-8 (the message gives the
            byte offset); the CSV or JSON syntax or top-level shape is broken (JSON as
            ``ledger.jsonread`` reads it: not too deep, no lone surrogates).
        TooLarge: more than ``MAX_IMPORT_BYTES`` bytes (``field="body"``).
        Unprocessable: no rows; more than ``max_rows`` rows; a missing, duplicated or
            unknown CSV column (``field="header"``); or any row error (``field="rows"``,
            ``errors=[{"row", "field", "message"}, ...]`` sorted by row then field).
        ValueError: ``max_rows`` is below 1 (a programming error).
    """
    if max_rows < 1:
        raise ValueError("max_rows must be at least 1")
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind not in ("text/csv", "application/json"):
        raise BadData("Content-Type: must be text/csv or application/json",
                      field="Content-Type")
    if len(data) > MAX_IMPORT_BYTES:
        raise TooLarge(f"body: larger than {MAX_IMPORT_BYTES} bytes; split the file",
                       field="body")
    text = _decode(data)
    records = _csv_records(text, max_rows) if kind == "text/csv" else _json_records(text, max_rows)
    return _validate(records, frozenset(known_posts))


def _decode(data: bytes) -> str:
    skip = len(_BOM) if data.startswith(_BOM) else 0
    try:
        return data[skip:].decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = skip + exc.start
        raise BadData(
            f"body: not UTF-8 text (invalid byte 0x{data[offset]:02x} at byte offset "
            f"{offset}); save the file as UTF-8 (for example \"CSV UTF-8\"), not GBK",
            field="body") from exc


# A record before validation: row number, field values (str, or anything from JSON),
# and errors already found while reading it.
@dataclass
class _Record:
    row: int
    values: dict[str, Any] | None  # None: the record's shape is wrong, fields unknown
    errors: list[Error]


class _RowErrors:
    """Collects one row's errors."""

    def __init__(self, row: int) -> None:
        self.row = row
        self.errors: list[Error] = []

    def __call__(self, field: str, message: str) -> None:
        self.errors.append({"row": self.row, "field": field, "message": message})


def _too_many(max_rows: int) -> Unprocessable:
    return Unprocessable(
        f"the file has more than {max_rows} rows; nothing was imported (split it)",
        field="rows", errors=[{"field": "rows", "message": f"at most {max_rows} rows"}])


def _no_rows() -> Unprocessable:
    return Unprocessable("the file has no candidate rows; nothing was imported",
                         field="rows", errors=[{"field": "rows", "message": "no rows"}])


def _csv_records(text: str, max_rows: int) -> list[_Record]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None or not any(cell.strip() for cell in header):
            raise _no_rows()
        columns = _columns(header)
        records: list[_Record] = []
        for row, cells in enumerate(reader, start=1):
            if not any(cell.strip() for cell in cells):
                continue  # a blank record: skipped, but still numbered
            if len(records) == max_rows:
                raise _too_many(max_rows)
            if len(cells) != len(columns):
                records.append(_Record(row, None, [{
                    "row": row, "field": "row",
                    "message": f"has {len(cells)} cells; the header has {len(columns)}"}]))
                continue
            values = {"phone": "", "email": ""}
            values.update(zip(columns, cells, strict=True))
            records.append(_Record(row, values, []))
    except csv.Error as exc:
        raise BadData(f"body: not valid CSV near line {reader.line_num}: {exc}",
                      field="body") from exc
    if not records:
        raise _no_rows()
    return records


def _columns(header: list[str]) -> list[str]:
    columns: list[str] = []
    errors: list[Error] = []
    looks_like_data = False
    for position, cell in enumerate(header, start=1):
        label = cell.strip()
        column = header_column(label)
        if column not in FIELDS:
            # The header text is not echoed: without a header row it is a person's data.
            if any(p.search(label) for p in _DATA_PATTERNS):
                looks_like_data = True
            errors.append({"row": 0, "field": "header",
                           "message": f"column {position} is not a known column"})
        elif column in columns:
            errors.append({"row": 0, "field": column,
                           "message": f"column {position} repeats the {column} column"})
        columns.append(column)
    for column in REQUIRED_COLUMNS:
        if column not in columns:
            errors.append({"row": 0, "field": column, "message": "required column is missing"})
    if "phone" not in columns and "email" not in columns:
        errors.append({"row": 0, "field": "contact",
                       "message": "a phone or an email column is required"})
    if errors:
        hint = (" (the first row looks like data: a header row is required)"
                if looks_like_data else "")
        errors.sort(key=lambda e: str(e["field"]))
        raise Unprocessable(
            f"the header row has errors{hint}; expected columns {', '.join(FIELDS)} "
            f"or {', '.join(CHINESE_HEADERS)}; nothing was imported",
            field="header", errors=errors)
    return columns


class _Object(dict[str, Any]):
    """A JSON object that remembers keys it saw more than once."""

    duplicates: set[str]


def header_column(label: str) -> str:
    """The column a header cell names: its text in NFKC form (full-width letters and
    spaces become ASCII) without any spaces, looked up among ``HEADER_SYNONYMS``, else in
    lower case (an English column name, or an unknown column)."""
    key = "".join(unicodedata.normalize("NFKC", label).split())
    return _HEADERS.get(key) or key.lower()


def _object_pairs(pairs: list[tuple[str, Any]]) -> _Object:
    obj = _Object()
    obj.duplicates = set()
    for key, value in pairs:
        if key in obj:
            obj.duplicates.add(key)
        obj[key] = value
    return obj


def _json_records(text: str, max_rows: int) -> list[_Record]:
    # Duplicate names are collected (_object_pairs), to be listed by row and field.
    document = jsonread.read(text, max_bytes=MAX_IMPORT_BYTES, object_pairs_hook=_object_pairs)
    if isinstance(document, _Object):
        if set(document) != {"candidates"} or document.duplicates:
            raise BadData('body: must be {"candidates": [...]} or an array of candidates',
                          field="body")
        document = document["candidates"]
    if not isinstance(document, list):
        raise BadData("candidates: must be an array of objects", field="candidates")
    if len(document) > max_rows:
        raise _too_many(max_rows)
    if not document:
        raise _no_rows()
    return [_json_record(row, item) for row, item in enumerate(document, start=1)]


def _json_record(row: int, item: Any) -> _Record:
    if not isinstance(item, _Object):
        return _Record(row, None, [{"row": row, "field": "row", "message": "must be an object"}])
    errors: list[Error] = []
    values: dict[str, Any] = {"phone": "", "email": ""}
    for key, value in item.items():
        if key not in FIELDS:
            safe = _SAFE_KEY.fullmatch(key) is not None
            errors.append({"row": row, "field": key if safe else "row",
                           "message": (f"{key} is not a known field" if safe
                                       else "has a field that is not known")})
        else:
            if key in item.duplicates:  # the value checked below is the last one
                errors.append({"row": row, "field": key, "message": "appears more than once"})
            if value is not None or key not in ("phone", "email"):
                values[key] = value
    return _Record(row, values, errors)


def _validate(records: list[_Record], known_posts: frozenset[str]) -> list[CandidateRow]:
    errors: list[Error] = []
    rows: list[CandidateRow] = []
    seen_registration: dict[str, int] = {}
    seen_id: dict[str, int] = {}
    for record in records:
        errors.extend(record.errors)
        if record.values is None:
            continue
        fail = _RowErrors(record.row)
        text: dict[str, str] = {}
        for field in FIELDS:
            value = record.values.get(field)
            if value is None:
                fail(field, "is required")
            elif not isinstance(value, str):
                fail(field, "must be a string")
            else:
                text[field] = value.strip()

        registration = text.get("registration")
        if registration is not None and _check_registration(registration, fail):
            key = registration_key(registration)
            if key in seen_registration:
                fail("registration",
                     f"same registration number as row {seen_registration[key]}")
            else:
                seen_registration[key] = record.row
        if "name" in text:
            _check_name(text["name"], fail)
        if "id_number" in text:
            id_number = text["id_number"] = text["id_number"].upper()
            if _check_id_number(id_number, fail):
                if id_number in seen_id:
                    fail("id_number", f"same ID number as row {seen_id[id_number]}")
                else:
                    seen_id[id_number] = record.row
        if "phone" in text:
            phone = text["phone"] = _normalise_phone(text["phone"])
            if phone and not MOBILE_RE.fullmatch(phone):
                fail("phone", "is not a mainland mobile number (11 digits starting 13-19)")
        if text.get("email"):
            _check_email(text["email"], fail)
        if text.get("phone") == "" and text.get("email") == "":
            fail("contact", "a phone number or an email address is required")
        post = text.get("post")
        if post is not None:
            if not post:
                fail("post", "is required")
            elif post not in known_posts:
                fail("post", "is not one of the campaign's posts")

        errors.extend(fail.errors)
        if not record.errors and not fail.errors:  # so every field is in ``text``
            rows.append(CandidateRow(record.row, text["registration"], text["post"],
                                     PersonalDetails(text["name"], text["id_number"],
                                                     text["phone"], text["email"])))
    if errors:
        errors.sort(key=lambda e: (_as_int(e.get("row")), str(e["field"])))
        bad = len({e.get("row") for e in errors})
        raise Unprocessable(
            f"{bad} {'row has' if bad == 1 else 'rows have'} errors; nothing was imported",
            field="rows", errors=errors)
    return rows


def _as_int(value: object) -> int:
    return value if isinstance(value, int) else 0


def registration_key(value: str) -> str:
    """The form under which a registration number is unique in a campaign and found.

    Registration numbers are ASCII (``REGISTRATION_RE``) and case-insensitive:
    ``hr26-01699`` and ``HR26-01699`` are one number.  The key is the ASCII lower case
    (what SQL ``lower()`` gives for ASCII on SQLite and PostgreSQL alike, which the
    migration that introduced the key relies on).  ``value`` must already match
    ``REGISTRATION_RE``.
    """
    return value.lower()


def _check_registration(value: str, fail: _RowErrors) -> bool:
    if not value:
        fail("registration", "is required")
        return False
    if not REGISTRATION_RE.fullmatch(value):
        fail("registration",
             "must be 4 to 32 letters, digits or '-', starting with a letter or digit")
        return False
    try:
        scan_for_personal_data(value, "registration")
    except BadData:
        fail("registration", "looks like an ID number or a mobile number; "
             "registration numbers are published, so use the 报名号")
        return False
    return True


def _check_name(value: str, fail: _RowErrors) -> None:
    if not value:
        fail("name", "is required")
        return
    if len(value) > 64:
        fail("name", "must be at most 64 characters")
    if any(ch.isdigit() for ch in value):
        fail("name", "must not contain digits")
    if any(unicodedata.category(ch) in _BAD_NAME_CATEGORIES for ch in value):
        fail("name", "must not contain control or invisible formatting characters")
    if "@" in value or "\uff20" in value:
        fail("name", "must not contain '@'")


def id_check_character(first17: str) -> str:
    """The GB 11643-1999 check character (``0``-``9`` or ``X``) for 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK[total % 11]


def _check_id_number(value: str, fail: _RowErrors) -> bool:
    """Check an upper-cased ID number; True if valid."""
    if not value:
        fail("id_number", "is required")
        return False
    if not ID_SHAPE_RE.fullmatch(value):
        fail("id_number", "must be 18 characters: 17 digits, then a digit or X")
        return False
    ok = True
    try:
        datetime.date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        fail("id_number", "characters 7-14 are not a valid birth date (YYYYMMDD)")
        ok = False
    if id_check_character(value[:17]) != value[17]:
        fail("id_number", "check digit does not match")
        ok = False
    return ok


def _normalise_phone(value: str) -> str:
    value = _PHONE_SEPARATORS.sub("", value)
    if value.startswith("+86"):
        value = value[3:]
    return value


def _check_email(value: str, fail: _RowErrors) -> None:
    if len(value) > 254:
        fail("email", "must be at most 254 characters")
        return
    local, at, domain = value.partition("@")
    if (not at or "@" in domain or not local or len(local) > 64
            or any(ch.isspace() or not ch.isprintable() for ch in value)
            or "." not in domain or any(not label for label in domain.split("."))):
        fail("email", "is not a valid email address")
