"""The absence domain on a real SQLite database, without Flask: the use cases called as
the web and the scheduler call them, with the time as a parameter (the ``domain``
fixture is in this folder's conftest)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ledger.absence.service import AbsenceService, Caller
from tests.functional._absence import LOG, T0

__all__ = ["CAMPAIGN", "CLOSES", "GRACE", "HR", "OPENS", "REVIEWER", "T0", "Domain"]

HR = Caller("hr:unit", "hr")
REVIEWER = Caller("reviewer:unit", "reviewer")
CAMPAIGN = "c1"
OPENS = T0 + timedelta(minutes=10)
CLOSES = T0 + timedelta(minutes=70)
GRACE = timedelta(seconds=600)  # the test configuration's government grace_s


@dataclass
class Domain:
    """The service, and the candidates and windows of one campaign."""

    service: AbsenceService
    rows: list[dict[str, str]]
    windows: list[str]  # one a candidate, in ``rows`` order

    def entries(self, kind: str | None = None) -> list[dict[str, Any]]:
        store = self.service.store
        out = [json.loads(b) for _, b in store.iter_entries(LOG)]
        return [e for e in out if kind is None or e["type"] == kind]

    def size(self) -> int:
        return self.service.store.head(LOG).size

    def event(self, i: int, eid: str, kind: str, at: datetime) -> dict[str, Any]:
        return {"id": eid, "window": self.windows[i], "kind": kind, "at": at.isoformat()}

    def decided(self) -> dict[str, dict[str, Any]]:
        """window -> its decision."""
        return {d["window"]: d for d in self.service.decisions(CAMPAIGN)}
