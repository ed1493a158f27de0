"""The import page's words: the import's errors in the console's language, with row
numbers as a spreadsheet shows them, the table of accepted headers and the template CSV.

The domain (``ledger.absence.imports``, ``ledger.absence.candidates``) reports each
problem as ``{"row", "field", "message"}`` with a fixed English message (the API's
contract); this module recognises each message and says it through the words catalog
(``[console_hr.import_errors]``).  An unrecognised message is shown as it is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ledger.absence.imports import FIELDS, HEADER_SYNONYMS, REQUIRED_COLUMNS
from ledger.app.web.forms import Lang, words

ERRORS: dict[str, tuple[str, str]] = words("console_hr.import_errors")

# The domain's messages, each to its words key; groups fill {a} and {b}.
_MESSAGES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), code) for pattern, code in (
        (r"no rows", "no_rows"),
        (r"at most (\d+) rows", "too_many"),
        (r"has (\d+) cells; the header has (\d+)", "cells"),
        (r"column (\d+) is not a known column", "unknown_column"),
        (r"column (\d+) repeats the \w+ column", "repeated_column"),
        (r"required column is missing", "missing_column"),
        (r"a phone or an email column is required", "contact_column"),
        (r"is required", "required"),
        (r"must be a string", "not_text"),
        (r"same registration number as row (\d+)", "same_registration"),
        (r"same ID number as row (\d+)", "same_id"),
        (r"is not a mainland mobile number.*", "phone_shape"),
        (r"a phone number or an email address is required", "contact"),
        (r"is not one of the campaign's posts", "post_unknown"),
        (r"must be 4 to 32 letters.*", "registration_shape"),
        (r"looks like an ID number or a mobile number.*", "registration_personal"),
        (r"must be at most 64 characters", "name_long"),
        (r"must not contain digits", "name_digits"),
        (r"must not contain control or invisible formatting characters", "name_controls"),
        (r"must not contain '@'", "name_at"),
        (r"must be 18 characters.*", "id_shape"),
        (r"characters 7-14 are not a valid birth date.*", "id_birth"),
        (r"check digit does not match", "id_check"),
        (r"must be at most 254 characters", "email_long"),
        (r"is not a valid email address", "email_shape"),
        (r"already registered in this campaign", "already_registered"),
        (r"this person is already a candidate in this campaign", "already_candidate"),
    ))
# Row references inside a message ("as row 3") are shifted like the row itself.
_ROW_CODES = frozenset({"same_registration", "same_id"})


@dataclass(frozen=True)
class ShownError:
    """One import problem as the page shows it."""

    row: int | None  # as a spreadsheet numbers it: the header is row 1
    field: str
    message: str


def message_code(message: str) -> tuple[str, tuple[str, ...]] | None:
    """The words key of a domain message and the numbers in it; None if unknown."""
    for pattern, code in _MESSAGES:
        found = pattern.fullmatch(message)
        if found:
            return code, found.groups()
    return None


def sheet_row(row: int) -> int:
    """A CSV import's row (header 0, first record 1) as a spreadsheet shows it."""
    return row + 1


def shown(errors: Sequence[Mapping[str, object]], lg: Lang) -> list[ShownError]:
    """The CSV import's ``errors`` in ``lg``'s language, rows numbered as Excel does."""
    out: list[ShownError] = []
    for e in errors:
        raw_row = e.get("row")
        row = sheet_row(raw_row) if isinstance(raw_row, int) else None
        field = str(e.get("field", ""))
        message = str(e.get("message", ""))
        found = message_code(message)
        if found is not None:
            code, numbers = found
            values = [int(n) for n in numbers]
            if code in _ROW_CODES:
                values = [sheet_row(v) for v in values]
            fill = dict(zip("ab", (str(v) for v in values), strict=False))
            message = lg.pick(ERRORS[code]).format(**fill)
        out.append(ShownError(row, field_label(field, lg), message))
    return out


# File-level refusals (BadData/TooLarge on the body or the form's file), by message start.
_FILE_MESSAGES = (("file: choose", "file_missing"), ("file: larger", "file_large"),
                  ("body: larger", "file_large"), ("body: not UTF-8", "file_encoding"),
                  ("body: not valid CSV", "file_csv"))


def file_message(message: str, lg: Lang) -> str | None:
    """A refusal of the whole file in ``lg``'s language; None if not one of those."""
    for start, code in _FILE_MESSAGES:
        if message.startswith(start):
            return lg.pick(ERRORS[code])
    return None


def field_label(field: str, lg: Lang) -> str:
    """A column or field name in ``lg``'s language (the name itself if unknown)."""
    key = "import_col_" + field
    return lg.t(key) if key in lg.texts else field


@dataclass(frozen=True)
class HeaderRow:
    """One line of the accepted-headers table."""

    column: str
    label: str
    accepted: str
    required: str


def header_table(lg: Lang) -> list[HeaderRow]:
    """Each column, its name in ``lg``, every header taken for it, and whether required."""
    rows: list[HeaderRow] = []
    for column in FIELDS:
        names = "、".join((column, *HEADER_SYNONYMS[column]))
        need = ("import_required_yes" if column in REQUIRED_COLUMNS
                else "import_required_contact")
        rows.append(HeaderRow(column, field_label(column, lg), names, lg.t(need)))
    return rows


def template_csv() -> bytes:
    """A template CSV (UTF-8 with a BOM, so Excel reads the Chinese headers): the header
    row in Chinese and no candidate rows."""
    header = ",".join(HEADER_SYNONYMS[column][0] for column in FIELDS)
    return ("\ufeff" + header + "\r\n").encode("utf-8")


__all__ = [
    "ERRORS",
    "HeaderRow",
    "ShownError",
    "field_label",
    "header_table",
    "message_code",
    "sheet_row",
    "shown",
    "template_csv",
]
