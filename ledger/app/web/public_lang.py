"""The language of the public pages (home, notice list, error pages).

Chinese by default, English with ``?lang=en``; every such page carries a visible switch
(中文 / English) that links to the same page, its other query parameters kept.  The
words are the ``[public.text]`` table of the words catalog.  Nothing here raises.
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import request

from ledger.app.web.forms import Lang, words

__all__ = ["TEXT", "lang", "switch_urls"]

#: The public pages' words: key -> (Chinese, English).
TEXT: dict[str, tuple[str, str]] = words("public.text")


def lang() -> Lang:
    """The request's language over the public pages' words: from the query string only
    (an error page must not read a body that may be what was refused: 413)."""
    return Lang("en" if request.args.get("lang") == "en" else "zh", TEXT)


def switch_urls() -> dict[str, str]:
    """This page in Chinese (``zh``) and in English (``en``): the same path and query,
    ``lang`` removed or set to ``en``."""
    kept = [(k, v) for k, v in request.args.items(multi=True) if k != "lang"]
    zh = request.path + ("?" + urlencode(kept) if kept else "")
    return {"zh": zh, "en": request.path + "?" + urlencode([*kept, ("lang", "en")])}
