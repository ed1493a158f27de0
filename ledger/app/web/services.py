"""What the web adapters read from the Flask app (``app.extensions``, filled by
``create_app``): the absence service, the ledger store and the clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from flask import current_app

from ledger.absence.service import AbsenceService
from ledger.storage.store import LedgerStore


def service() -> AbsenceService:
    """The absence domain's service (``absentia.absence``)."""
    s: AbsenceService = current_app.extensions["absentia.absence"]
    return s


def store() -> LedgerStore:
    """The ledger store (``absentia.store``)."""
    s: LedgerStore = current_app.extensions["absentia.store"]
    return s


def now() -> datetime:
    """The time now: the app's clock (``absentia.clock``, which tests set), else UTC."""
    clock: Callable[[], datetime] = current_app.extensions.get(
        "absentia.clock", lambda: datetime.now(UTC))
    return clock()
