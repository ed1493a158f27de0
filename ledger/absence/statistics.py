"""A campaign's statistics: absence rate, causes, make-ups, appeals."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import func, select

from ledger.absence import tables as P  # noqa: N812 (the tables, read as P.windows)
from ledger.absence.campaigns import CampaignUseCase
from ledger.absence.rules import Cause

log = logging.getLogger(__name__)


class Statistics(CampaignUseCase):
    """Counts over a campaign's projections."""

    def statistics(self, campaign: str) -> dict[str, Any]:
        """Absence rate, causes, make-ups, appeals and overturns (misjudgment) as JSON.

        Raises:
            NotFound: no such campaign.
        """
        self._campaigns.campaign(campaign)
        d = P.decisions
        with self.read() as conn:
            first = conn.execute(select(d.c.outcome, d.c.cause, func.count())
                                 .join(P.windows, P.windows.c.window == d.c.window)
                                 .where(d.c.campaign == campaign, d.c.supersedes.is_(None),
                                        P.windows.c.kind == "regular")
                                 .group_by(d.c.outcome, d.c.cause)).all()
            windows = conn.execute(select(P.windows.c.kind, func.count()).where(
                P.windows.c.campaign == campaign).group_by(P.windows.c.kind)).all()
            undecided = conn.execute(select(func.count()).select_from(P.windows).where(
                P.windows.c.campaign == campaign, P.windows.c.decision.is_(None))).scalar_one()
            offers: dict[str | None, int] = dict(conn.execute(
                select(d.c.offer, func.count())
                .where(d.c.campaign == campaign, d.c.outcome == "rebook_offered",
                       d.c.superseded_by.is_(None)).group_by(d.c.offer)).all())
            makeup_outcomes = conn.execute(select(d.c.outcome, func.count())
                                           .join(P.windows, P.windows.c.window == d.c.window)
                                           .where(d.c.campaign == campaign,
                                                  P.windows.c.kind == "makeup",
                                                  d.c.supersedes.is_(None))
                                           .group_by(d.c.outcome)).all()
            pending = conn.execute(select(func.count()).select_from(d).where(
                d.c.campaign == campaign, d.c.review == "pending",
                d.c.superseded_by.is_(None))).scalar_one()
            appeal_rows = conn.execute(select(P.appeals.c.ruling, func.count()).where(
                P.appeals.c.campaign == campaign).group_by(P.appeals.c.ruling)).all()
            quarantined = conn.execute(select(func.count()).select_from(P.quarantine).where(
                P.quarantine.c.campaign == campaign)).scalar_one()
            notes = conn.execute(select(P.notifications.c.status, func.count())
                                 .join(P.subjects,
                                       P.subjects.c.subject == P.notifications.c.subject)
                                 .where(P.subjects.c.campaign == campaign)
                                 .group_by(P.notifications.c.status)).all()
            alert_n = conn.execute(select(func.count()).select_from(P.alerts).where(
                P.alerts.c.campaign == campaign)).scalar_one()
        decided = sum(n for _, _, n in first)
        attended = sum(n for o, _, n in first if o == "attended")
        absent = decided - attended
        causes = {c: 0 for c in (x.value for x in Cause)}
        for _, cause, n in first:
            if cause:
                causes[cause] += n
        outcomes: dict[str, int] = {}
        for o, _, n in first:
            outcomes[o] = outcomes.get(o, 0) + n
        kinds: dict[str, int] = {str(k): int(n) for k, n in windows}
        appeals_by = {(r or "open"): n for r, n in appeal_rows}
        filed = sum(appeals_by.values())
        overturned = appeals_by.get("overturned", 0)
        makeups = kinds.get("makeup", 0)

        def rate(a: int, b: int) -> float | None:
            return round(a / b, 4) if b else None

        return {
            "campaign": campaign,
            "windows": {"regular": kinds.get("regular", 0), "makeup": makeups,
                        "rebook": kinds.get("rebook", 0), "undecided": undecided},
            "rebook_offers": {"open": offers.get(None, 0), "taken": offers.get("taken", 0),
                              "lapsed": offers.get("lapsed", 0)},
            "decided": decided, "attended": attended, "absent": absent,
            "absence_rate": rate(absent, decided),
            "causes": causes,
            "cause_shares": {c: rate(n, absent) for c, n in causes.items()},
            "outcomes": outcomes,
            "pending_review": pending,
            "makeups": {"granted": makeups, "rate": rate(makeups, absent),
                        "attended": dict[str, int](makeup_outcomes).get("attended", 0)},
            "appeals": {"filed": filed, "open": appeals_by.get("open", 0),
                        "upheld": appeals_by.get("upheld", 0), "overturned": overturned,
                        "appeal_rate": rate(filed, absent),
                        "overturn_rate": rate(overturned, filed),
                        "misjudgment_rate": rate(overturned, absent)},
            "quarantined_events": quarantined,
            "notifications": dict(notes),
            "alerts": alert_n,
        }
