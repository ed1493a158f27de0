"""The ``domain`` fixture of the absence use-case tests (``_domain.py``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.app.registry import entry_types
from ledger.app.wiring import open_absence
from ledger.config import load_settings
from ledger.storage.open import open_store
from tests.functional._absence import candidates_csv, write_config
from tests.unit.ledger.absence._domain import CAMPAIGN, CLOSES, HR, OPENS, T0, Domain


@pytest.fixture
def domain(tmp_path: Path) -> Iterator[Domain]:
    """A government campaign of four candidates, one window each (opens T0 + 10 min,
    closes T0 + 70 min)."""
    data = tmp_path / "data"
    settings = load_settings(data, write_config(data, f"sqlite:///{tmp_path / 'a.db'}"))
    store = open_store(settings, entry_types())
    service = open_absence(settings, store, T0)
    service.create_campaign(HR, {"campaign": CAMPAIGN, "title": "2026年公开招聘",
                                 "policy": "government",
                                 "posts": [{"post": "p01", "title": "岗位p01"}]}, T0)
    csv, rows = candidates_csv(4)
    service.import_candidates(HR, CAMPAIGN, csv, "text/csv", T0)
    scheduled = service.schedule_windows(HR, CAMPAIGN, {"opens_at": OPENS.isoformat(),
                                                        "closes_at": CLOSES.isoformat()}, T0)
    by_reg = {w["registration"]: w["window"] for w in scheduled}
    try:
        yield Domain(service, rows, [by_reg[r["registration"]] for r in rows])
    finally:
        store.engine.dispose()
