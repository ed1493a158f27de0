"""What a correction changes: the rows of a published notice against the rows a new one
would show (lines added, removed, changed), compared as the public reads them.

``published_rows``, ``shown`` and ``diff`` are pure (bytes and lines in, rows out);
``correction`` reads the published bytes and the lines a new notice would show through
the service.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html.parser import HTMLParser

from ledger.absence.service import AbsenceService
from publicity.notices import NoticeLine, document, final_lines, listed, recorded_settings

#: The columns a notice row shows (Chinese text), in the order of ``notice.html``; the
#: last column (the ledger index and its proof link) is not compared: a superseding
#: decision moves it without changing what the row says.
COLUMNS = ("registration", "name", "post", "result", "cause")


@dataclass(frozen=True)
class ShownRow:
    """A notice row as the public reads it (the Chinese text of each column)."""

    registration: str
    name: str
    post: str
    result: str
    cause: str


@dataclass(frozen=True)
class ChangedRow:
    """A registration number whose row reads differently: before, after, and the columns
    that changed (names from ``COLUMNS``)."""

    before: ShownRow
    after: ShownRow
    columns: tuple[str, ...]


@dataclass(frozen=True)
class NoticeDiff:
    """Rows added, removed and changed, each in registration-number order."""

    added: tuple[ShownRow, ...]
    removed: tuple[ShownRow, ...]
    changed: tuple[ChangedRow, ...]

    @property
    def empty(self) -> bool:
        """True when the new notice reads as the published one."""
        return not (self.added or self.removed or self.changed)


class _Rows(HTMLParser):
    """The rows of ``<table id="lines">``: ``<tr data-index>`` cells, English spans
    (``<span class="en">``) left out."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[list[str]] = []
        #: Per row, the cells' columns (``data-col``; None on older pages: by position).
        self.cols: list[list[str | None]] = []
        self._in_row = False
        self._cell: list[str] | None = None
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        if tag == "tr" and "data-index" in names:
            self._in_row = True
            self.rows.append([])
            self.cols.append([])
        elif tag == "td" and self._in_row:
            self._cell = []
            self.cols[-1].append(names.get("data-col"))
        elif tag == "span" and self._cell is not None and (
                self._skip or "en" in (names.get("class") or "").split()):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "span" and self._skip:
            self._skip -= 1
        elif tag == "td" and self._cell is not None:
            self.rows[-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "tr":
            self._in_row = False

    def handle_data(self, data: str) -> None:
        if self._cell is not None and not self._skip:
            self._cell.append(data)


def published_rows(html: bytes) -> list[ShownRow]:
    """The rows of a published notice's HTML (``notice.html``), in page order.

    Raises:
        UnicodeDecodeError: ``html`` is not UTF-8 (a notice's stored bytes always are).
    """
    parser = _Rows()
    parser.feed(html.decode("utf-8"))
    parser.close()
    out = []
    for cells, cols in zip(parser.rows, parser.cols, strict=True):
        if any(cols):  # a page that names its columns (it may show fewer, or gender)
            named = {c: text for c, text in zip(cols, cells, strict=True) if c}
            out.append(ShownRow(*(named.get(c, "") for c in COLUMNS)))
        elif len(cells) >= len(COLUMNS):
            out.append(ShownRow(*cells[:len(COLUMNS)]))
    return out


def shown(line: NoticeLine) -> ShownRow:
    """A new notice line as its row will read."""
    return ShownRow(line.registration, line.name, line.post, line.result[0], line.cause[0])


def diff(before: Sequence[ShownRow], after: Sequence[ShownRow]) -> NoticeDiff:
    """The rows ``after`` adds, removes and changes against ``before``, matched by
    registration number."""
    old = {r.registration: r for r in before}
    new = {r.registration: r for r in after}
    changed = []
    for reg in sorted(old.keys() & new.keys()):
        cols = tuple(c for c in COLUMNS if getattr(old[reg], c) != getattr(new[reg], c))
        if cols:
            changed.append(ChangedRow(old[reg], new[reg], cols))
    return NoticeDiff(added=tuple(new[r] for r in sorted(new.keys() - old.keys())),
                      removed=tuple(old[r] for r in sorted(old.keys() - new.keys())),
                      changed=tuple(changed))


def correction(service: AbsenceService, campaign: str, published: str) -> NoticeDiff:
    """What a correction of notice ``published`` would change, were it published now.

    Raises:
        NotFound: no such notice.  Conflict: the campaign's decisions are not final.
    """
    lines, _ = final_lines(service, campaign)
    chosen = recorded_settings(service, campaign)
    columns = set(chosen.columns)
    rows = [ShownRow(*(getattr(shown(n), c) if c in columns else "" for c in COLUMNS))
            for n in listed(lines, chosen)]
    return diff(published_rows(document(service, published)), rows)
