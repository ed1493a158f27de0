"""The demo's simulated clock, shared by the campaign run and the 递补 and objection step."""

from __future__ import annotations

from datetime import datetime, timedelta


class SimClock:
    """The demo's simulated clock: it only moves forward."""

    now: datetime

    def at(self, moment: datetime) -> datetime:
        """Move to ``moment`` unless the clock is past it already; the time now."""
        self.now = max(self.now, moment)
        return self.now

    def tick(self, **delta: float) -> datetime:
        """Move on by ``timedelta(**delta)``; the time now."""
        self.now += timedelta(**delta)
        return self.now
