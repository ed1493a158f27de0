"""The storage unit tests' default ``store``: a fresh migrated SQLite ledger with the log
``LOG`` (tests that need more data define their own)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.storage.store import LedgerStore
from tests.unit.ledger.storage._store import fresh_store


@pytest.fixture
def store(tmp_path: Path) -> Iterator[LedgerStore]:
    s = fresh_store(tmp_path)
    try:
        yield s
    finally:
        s.engine.dispose()
