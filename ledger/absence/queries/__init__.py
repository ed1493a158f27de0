"""The absence domain's typed read side.

Each module answers the questions one reader asks (publicity's notices and reports,
the console, self-service, ops) with frozen dataclasses, from the projection tables.
Outside ``ledger.absence`` nobody reads a projection table or holds a raw connection:
a reader passes the store's ``Engine`` (``AbsenceService.engine``) and gets values back;
a plan already inside a transaction passes its ``Connection``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine

Source = Engine | Connection
"""Where a query reads: an engine (a fresh connection is opened and closed), or the
connection of a transaction already under way (a plan's check)."""


@contextmanager
def connected(source: Source) -> Iterator[Connection]:
    """A connection to read from ``source``: its own if it is one, else a new one."""
    if isinstance(source, Connection):
        yield source
        return
    with source.connect() as conn:
        yield conn
