"""A post's ranked list (成绩排名) from CSV or Excel: bytes in, validated rows out, all
or nothing, then put in rank order as the policy breaks ties.

``parse_ranking`` is pure (no I/O, no clock).  Every row is checked and every problem
collected; if any row has a problem, ``Unprocessable`` lists them all and no row is
returned.  Row numbers are the spreadsheet's: the header is row 1, the first candidate
row 2 (blank rows are skipped but still counted).  Messages name rows and fields, never
values: scores are personal data.

Columns, in any order, by English or Chinese name: ``registration`` (报名号, 准考证号),
``score`` (成绩, 综合成绩, 总成绩), ``written`` (笔试成绩).  ``score`` may be left out
when ``written`` is given (a ranking before the interview is by the written test); a
tie rule ``written_score`` needs the ``written`` column.
"""

from __future__ import annotations

import csv
import io
import unicodedata
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from ledger.absence.imports import MAX_IMPORT_BYTES, REGISTRATION_RE, registration_key
from ledger.errors import BadData, TooLarge, Unprocessable

MAX_RANKED = 5000
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CONTENT_TYPES = ("text/csv", XLSX)
#: The largest score taken (any scale up to 1000 points), with at most 3 decimals.
MAX_SCORE = Decimal(1000)

HEADER_SYNONYMS: dict[str, tuple[str, ...]] = {
    "registration": ("registration", "报名号", "准考证号", "报名序号"),
    "score": ("score", "成绩", "综合成绩", "总成绩", "总分"),
    "written": ("written", "笔试成绩", "笔试"),
}
_HEADERS = {"".join(label.split()).lower(): column
            for column, labels in HEADER_SYNONYMS.items() for label in labels}
_BOM = b"\xef\xbb\xbf"

Error = dict[str, object]


@dataclass(frozen=True)
class RankingRow:
    """One candidate of the list: spreadsheet row, registration number, scores."""

    row: int
    registration: str
    score: Decimal
    written: Decimal | None

    def __repr__(self) -> str:  # the scores are personal data: kept out of logs
        return f"RankingRow(row={self.row}, registration={self.registration!r})"


def parse_ranking(data: bytes, content_type: str, *, ties: str) -> list[RankingRow]:
    """Parse and validate a ranked list; return its rows in file order.

    Raises:
        BadData: an unknown content type (``field="Content-Type"``); not UTF-8 CSV, a
            broken CSV, or not an Excel workbook (``field="body"``).
        TooLarge: more than ``MAX_IMPORT_BYTES`` bytes (``field="body"``).
        Unprocessable: no rows; more than ``MAX_RANKED`` rows; a missing, unknown or
            repeated column (``field="header"``); or any row error (``field="rows"``,
            ``errors=[{"row", "field", "message"}, ...]`` sorted by row then field).
    """
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind not in CONTENT_TYPES:
        raise BadData("Content-Type: must be text/csv or an Excel workbook (.xlsx)",
                      field="Content-Type")
    if len(data) > MAX_IMPORT_BYTES:
        raise TooLarge(f"body: larger than {MAX_IMPORT_BYTES} bytes", field="body")
    table = _csv_table(data) if kind == "text/csv" else _xlsx_table(data)
    return _validate(table, ties)


def rank_order(rows: Iterable[RankingRow], ties: str) -> list[RankingRow]:
    """``rows`` best first: higher ``score`` first; equal scores as ``ties`` says —
    ``file_order`` (as the file lists them), ``written_score`` (higher written-test score
    first, then file order), ``registration`` (registration number order)."""
    def key(r: RankingRow) -> tuple[Any, ...]:
        if ties == "written_score":
            return (-r.score, -(r.written if r.written is not None else Decimal(-1)), r.row)
        if ties == "registration":
            return (-r.score, registration_key(r.registration), r.row)
        return (-r.score, r.row)
    return sorted(rows, key=key)


def header_column(label: str) -> str:
    """The column a header cell names (NFKC, spaces removed, case-insensitive)."""
    text = "".join(unicodedata.normalize("NFKC", label).split()).lower()
    return _HEADERS.get(text, text)


def _csv_table(data: bytes) -> list[tuple[int, list[Any]]]:
    skip = len(_BOM) if data.startswith(_BOM) else 0
    try:
        text = data[skip:].decode("utf-8")
    except UnicodeDecodeError:
        raise BadData("body: not UTF-8 text; save the file as \"CSV UTF-8\" or as .xlsx",
                      field="body") from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        return [(n, list(cells)) for n, cells in enumerate(reader, start=1)]
    except csv.Error as exc:
        raise BadData(f"body: not valid CSV near line {reader.line_num}", field="body") from exc


def _xlsx_table(data: bytes) -> list[tuple[int, list[Any]]]:
    from openpyxl import load_workbook  # only Excel files need it (slow to import)
    try:
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, SyntaxError):
        raise BadData("body: not an Excel workbook (.xlsx)", field="body") from None
    try:
        # Read-only mode parses the sheet while it is iterated: a damaged sheet fails
        # here, with whatever its XML or zip layer raises.
        sheet = book.worksheets[0]
        return [(n, ["" if v is None else v for v in values])
                for n, values in enumerate(sheet.iter_rows(values_only=True), start=1)]
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, IndexError, TypeError,
            SyntaxError):  # SyntaxError: xml.etree's ParseError is one
        raise BadData("body: not an Excel workbook (.xlsx): its sheet cannot be read",
                      field="body") from None
    finally:
        book.close()


def _blank(cells: list[Any]) -> bool:
    return not any(str(c).strip() for c in cells)


def _columns(header: list[Any], ties: str) -> list[str]:
    columns: list[str] = []
    errors: list[Error] = []
    for position, cell in enumerate(header, start=1):
        column = header_column(str(cell))
        if column == "":
            columns.append("")  # an empty trailing cell (Excel keeps some)
            continue
        if column not in HEADER_SYNONYMS:
            errors.append({"row": 1, "field": "header",
                           "message": f"column {position} is not a known column"})
        elif column in columns:
            errors.append({"row": 1, "field": column,
                           "message": f"column {position} repeats the {column} column"})
        columns.append(column)
    if "registration" not in columns:
        errors.append({"row": 1, "field": "registration", "message": "required column is missing"})
    if "score" not in columns and "written" not in columns:
        errors.append({"row": 1, "field": "score", "message": "required column is missing"})
    if ties == "written_score" and "written" not in columns:
        errors.append({"row": 1, "field": "written",
                       "message": "the policy breaks ties by the written test: the "
                                  "written column is required"})
    if errors:
        raise Unprocessable("the header row has errors; expected columns registration "
                            "(报名号), score (成绩) and written (笔试成绩); nothing was "
                            "imported", field="header", errors=errors)
    return columns


def _number(value: Any, field: str, row: int, errors: list[Error]) -> Decimal | None:
    if isinstance(value, bool):
        value = ""
    text = str(value).strip() if not isinstance(value, float) else repr(value)
    if not text:
        errors.append({"row": row, "field": field, "message": "is required"})
        return None
    try:
        number = Decimal(text)
    except InvalidOperation:
        number = Decimal("NaN")
    if not number.is_finite() or number < 0 or number > MAX_SCORE:
        errors.append({"row": row, "field": field,
                       "message": f"is not a score between 0 and {MAX_SCORE}"})
        return None
    if number != number.quantize(Decimal("0.001")):
        errors.append({"row": row, "field": field, "message": "has more than 3 decimals"})
        return None
    return number.normalize() if number != 0 else Decimal(0)


def _validate(table: list[tuple[int, list[Any]]], ties: str) -> list[RankingRow]:
    records = [(n, cells) for n, cells in table if not _blank(cells)]
    if not records:
        raise Unprocessable("the file has no rows; nothing was imported", field="rows",
                            errors=[{"field": "rows", "message": "no rows"}])
    header_row, header = records[0]
    columns = _columns(header, ties)
    body = records[1:]
    if not body:
        raise Unprocessable("the file has no candidate rows; nothing was imported",
                            field="rows", errors=[{"field": "rows", "message": "no rows"}])
    if len(body) > MAX_RANKED:
        raise Unprocessable(f"more than {MAX_RANKED} rows; nothing was imported",
                            field="rows", errors=[{"field": "rows",
                                                   "message": f"at most {MAX_RANKED} rows"}])
    errors: list[Error] = []
    rows: list[RankingRow] = []
    seen: dict[str, int] = {}
    for n, cells in body:
        if len(cells) > len(columns) and not _blank(cells[len(columns):]):
            errors.append({"row": n, "field": "row",
                           "message": f"has more cells than the header's {len(columns)}"})
            continue
        values = dict(zip(columns, [*cells, *[""] * (len(columns) - len(cells))],
                          strict=False))
        before = len(errors)
        registration = str(values.get("registration", "")).strip()
        if not registration:
            errors.append({"row": n, "field": "registration", "message": "is required"})
        elif not REGISTRATION_RE.fullmatch(registration):
            errors.append({"row": n, "field": "registration",
                           "message": "is not a registration number (4-32 letters, digits, -)"})
        elif registration_key(registration) in seen:
            errors.append({"row": n, "field": "registration",
                           "message": f"same registration number as row "
                                      f"{seen[registration_key(registration)]}"})
        else:
            seen[registration_key(registration)] = n
        written = (_number(values["written"], "written", n, errors)
                   if "written" in columns else None)
        score = (_number(values["score"], "score", n, errors) if "score" in columns
                 else written)
        if len(errors) == before and score is not None:
            rows.append(RankingRow(n, registration, score, written))
    if errors:
        errors.sort(key=lambda e: (int(str(e.get("row", 0))), str(e["field"])))
        bad = len({e["row"] for e in errors})
        raise Unprocessable(f"{bad} {'row has' if bad == 1 else 'rows have'} errors; "
                            "nothing was imported", field="rows", errors=errors)
    del header_row
    return rows
