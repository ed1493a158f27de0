"""Text in monospace columns, as a CJK monospace font shows it: wide and full-width
characters (汉字, full-width punctuation) take two columns, the others one."""

from __future__ import annotations

import unicodedata


def width(text: str) -> int:
    """The monospace columns ``text`` takes."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def fit(text: str, columns: int) -> str:
    """``text`` if it takes at most ``columns``, else its start and "…" in ``columns``."""
    if width(text) <= columns:
        return text
    out = ""
    for ch in text:
        if width(out + ch) > columns - 1:
            break
        out += ch
    return out + "…"
