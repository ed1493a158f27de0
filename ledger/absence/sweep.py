"""The sweep: decide every window past its close, raise alerts, lapse unused offers."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from functools import partial
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select

from ledger.absence import tables as P  # noqa: N812 (the tables, read as P.windows)
from ledger.absence.alerts import Alerts
from ledger.absence.backfill import Backfill
from ledger.absence.context import Context, UseCase
from ledger.absence.decisions import decision_entry
from ledger.absence.notifications import notify_entry
from ledger.absence.objections import Objections
from ledger.absence.rules import (
    NotificationFact,
    Outcome,
    PlatformFact,
    Policy,
    WindowFacts,
    decide,
)
from ledger.entry import format_time, parse_utc
from ledger.errors import NotFound
from ledger.storage.store import NewEntry, Planned

log = logging.getLogger(__name__)


class Sweep(UseCase):
    """Decide closed windows."""

    def __init__(self, ctx: Context, alerts: Alerts, backfill: Backfill,
                 objections: Objections | None = None) -> None:
        """Sweeps raising ``alerts``, answering vacancies by ``backfill`` (递补) and
        raising overdue alerts of ``objections``."""
        super().__init__(ctx)
        self._alerts = alerts
        self._backfill = backfill
        self._objections = objections

    def sweep(self, now: datetime, *, batch: int = 1000) -> int:
        """Decide every window past its close + grace; raise alerts; lapse unused
        rebooking offers; answer new vacancies (递补: ``Backfill.propose_due``); return
        how many windows were decided.

        Each batch is one transaction that re-reads undecided windows under the log's
        lock, so two sweeps racing decide each window once.
        """
        decided = 0
        touched: set[str] = set()
        with self.read() as conn:
            cps = conn.execute(select(P.campaigns.c.campaign, P.campaigns.c.policy_digest,
                                      P.campaigns.c.timezone)).all()
        for campaign, digest, tz_name in cps:
            try:
                policy = self.policy_by_digest(digest)
            except NotFound:
                # One campaign's policy vanished from the config: decide the others.
                log.error("campaign %s: its policy %s… is no longer configured; its "
                          "windows wait until the policy is restored", campaign, digest[:12])
                continue
            cutoff = format_time(now - timedelta(seconds=policy.grace_s))
            tz = ZoneInfo(tz_name)
            while True:
                n = self._run_planned(now, partial(self._decide_batch, campaign=campaign,
                                                   policy=policy, cutoff=cutoff, tz=tz,
                                                   now=now, batch=batch)).value
                if n == 0:
                    break
                decided += n
                touched.add(campaign)
        for campaign in sorted(touched):
            self._alerts.raise_alerts(campaign, now)
        self.lapse_offers(now, batch=batch)
        self._backfill.propose_due(now)
        if self._objections is not None:
            self._objections.raise_overdue(now)
        return decided

    def lapse_offers(self, now: datetime, *, batch: int = 1000) -> int:
        """Record ``rebook.lapsed`` for every rebooking offer that ended unused; return
        how many.  Each batch re-reads the open offers under the log's lock, so two
        sweeps racing record each lapse once."""
        lapsed = 0
        cutoff = format_time(now)

        def plan(conn: Connection) -> Planned[int]:
            d = P.decisions.c
            rows = conn.execute(
                select(d.decision, d.window, d.rebook_until)
                .where(d.outcome == "rebook_offered", d.superseded_by.is_(None),
                       d.offer.is_(None), d.rebook_until < cutoff)
                .order_by(d.rebook_until, d.decision).limit(batch)).all()
            return Planned([NewEntry("rebook.lapsed", "system", {
                "decision": r.decision, "window": r.window,
                "rebook_until": r.rebook_until}) for r in rows], len(rows))

        while True:
            n = self._run_planned(now, plan).value
            if n == 0:
                return lapsed
            lapsed += n

    def _decide_batch(self, conn: Connection, *, campaign: str, policy: Policy, cutoff: str,
                      tz: ZoneInfo, now: datetime, batch: int) -> Planned[int]:
        """Decide up to ``batch`` of the campaign's windows closed by ``cutoff``; the
        value is how many were selected (0: none is left)."""
        rows = conn.execute(select(P.windows, P.subjects.c.misses, P.subjects.c.contact)
                            .join(P.subjects, P.subjects.c.subject == P.windows.c.subject)
                            .where(P.windows.c.campaign == campaign,
                                   P.windows.c.decision.is_(None),
                                   P.windows.c.closes_at <= cutoff)
                            .order_by(P.windows.c.closes_at, P.windows.c.window)
                            .limit(batch)).all()
        if not rows:
            return Planned([], 0)
        ids = [r.window for r in rows]
        facts: dict[str, list[PlatformFact]] = {w: [] for w in ids}
        for e in conn.execute(select(P.platform_events.c.idx, P.platform_events.c.window,
                                     P.platform_events.c.kind, P.platform_events.c.at)
                              .where(P.platform_events.c.window.in_(ids))):
            facts[e.window].append(PlatformFact(e.idx, e.kind, parse_utc(e.at)))
        notes: dict[str, list[NotificationFact]] = {w: [] for w in ids}
        for n in conn.execute(select(P.notifications.c.window, P.notifications.c.status,
                                     P.notifications.c.last_idx,
                                     P.notifications.c.updated_at)
                              .where(P.notifications.c.window.in_(ids),
                                     P.notifications.c.last_idx.is_not(None))):
            # "pending" with an attempt recorded means it failed and will be retried.
            status = "failed" if n.status == "pending" else n.status
            notes[n.window].append(NotificationFact(n.last_idx, status, parse_utc(n.updated_at),
                                                    final=n.status == "failed"))
        items: list[NewEntry] = []
        notices: list[NewEntry] = []
        # A subject may have two windows in one batch (rare); count misses as we go.
        misses: dict[str, int] = {}
        for r in rows:
            prior = misses.get(r.subject, r.misses)
            facts_w = WindowFacts(r.window, r.subject, parse_utc(r.opens_at),
                                  parse_utc(r.closes_at), prior_misses=prior)
            d = decide(facts_w, facts[r.window], notes[r.window], policy, now)
            if d is None:  # cannot happen: the cutoff selected due windows only
                continue
            if d.outcome is not Outcome.ATTENDED:
                misses[r.subject] = prior + 1
            items.append(decision_entry(d, campaign, policy, tz, "sweep",
                                              decision_id="d_" + r.window,
                                              idem=f"decide:{r.window}"))
            if d.outcome is not Outcome.ATTENDED:
                notices.append(notify_entry(r.subject, r.contact, "decision", now,
                                            within_s=policy.notify_within_s,
                                            window=r.window, decision="d_" + r.window))
        # Decisions first, then their notices: the projection writes each run of one
        # entry type with one statement per table (interleaved, a run was one entry).
        return Planned(items + notices, len(rows))
