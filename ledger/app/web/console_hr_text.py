"""The HR console's words, Chinese first and English: page text, causes, outcomes and the
reasons for an accommodation (one ``(zh, en)`` pair a key), as ``words.toml`` has them."""

from __future__ import annotations

from ledger.app.web.console import TEXT as CONSOLE_TEXT
from ledger.app.web.forms import words

TEXT: dict[str, tuple[str, str]] = words("console_hr.text")
ALL_TEXT: dict[str, tuple[str, str]] = {**CONSOLE_TEXT, **TEXT}

CAUSES: dict[str, tuple[str, str]] = words("console_hr.causes")
OUTCOMES: dict[str, tuple[str, str]] = words("console_hr.outcomes")
REASONS: dict[str, tuple[str, str]] = words("console_hr.reasons")


__all__ = ["ALL_TEXT", "CAUSES", "OUTCOMES", "REASONS", "TEXT"]
