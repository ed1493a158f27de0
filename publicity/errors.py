"""The publicity package's errors: one root, split by fault like the ledger's."""

from __future__ import annotations

from ledger.errors import Conflict, LedgerError, Unprocessable


class PublicityError(LedgerError):
    """Root of the errors this package raises."""


class PublishingRefused(PublicityError, Unprocessable):
    """The rendered notice holds something that must not be public (HTTP 422)."""


class CalendarUnknown(PublicityError, Conflict):
    """The working-day calendar does not know a year; the config must declare it (HTTP
    409: the request is fine, the configuration must change first; retrying cannot help)."""
