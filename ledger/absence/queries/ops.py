"""What ``/metrics`` reads of the absence domain's tables: counts and ages, never
personal data (the outbox, the sweep's backlog, quarantined events, inbound webhook
deliveries, anomaly alerts).  Time is a parameter."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from ledger.absence.queries import Source, connected
from ledger.absence.tables import (
    alerts,
    campaigns,
    notifications,
    quarantine,
    webhook_deliveries,
    windows,
)
from ledger.entry import format_time, parse_utc

__all__ = ["CampaignPolicy", "OutboxTally", "SweepBacklog", "Tally", "alerts_by_status",
           "campaign_policies", "outbox_tallies", "overdue_by_channel",
           "quarantined_by_reason", "sweep_backlog", "webhook_delivery_count"]


@dataclass(frozen=True)
class Tally:
    """How many rows share one value (a channel, a reason, a status)."""

    label: str
    count: int


@dataclass(frozen=True)
class OutboxTally:
    """How many notifications of one channel are in one status."""

    channel: str
    status: str  # pending / sent / failed / delivered
    count: int


@dataclass(frozen=True)
class CampaignPolicy:
    """A campaign and the digest of the policy it adopted."""

    campaign: str
    policy_digest: str


@dataclass(frozen=True)
class SweepBacklog:
    """A campaign's undecided windows that closed at or before a cutoff."""

    count: int
    oldest_closes_at: datetime | None  # None: no such window


def outbox_tallies(source: Source) -> list[OutboxTally]:
    """Notifications by channel and status, in (channel, status) order.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database cannot be read.
    """
    n = notifications.c
    with connected(source) as conn:
        rows = conn.execute(select(n.channel, n.status, func.count())
                            .group_by(n.channel, n.status)
                            .order_by(n.channel, n.status)).all()
    return [OutboxTally(channel, status, int(count)) for channel, status, count in rows]


def overdue_by_channel(source: Source, now: datetime) -> list[Tally]:
    """Pending notifications whose notify-by time is before ``now``, by channel (in
    channel order; a channel with none is absent).

    Raises:
        BadData: ``now`` has no time zone.
        sqlalchemy.exc.SQLAlchemyError: the database cannot be read.
    """
    n = notifications.c
    with connected(source) as conn:
        rows = conn.execute(select(n.channel, func.count())
                            .where(n.status == "pending", n.due_by < format_time(now))
                            .group_by(n.channel).order_by(n.channel)).all()
    return [Tally(channel, int(count)) for channel, count in rows]


def campaign_policies(source: Source) -> list[CampaignPolicy]:
    """Every campaign and its adopted policy's digest, in campaign order.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database cannot be read.
    """
    with connected(source) as conn:
        rows = conn.execute(select(campaigns.c.campaign, campaigns.c.policy_digest)
                            .order_by(campaigns.c.campaign)).all()
    return [CampaignPolicy(campaign, digest) for campaign, digest in rows]


def sweep_backlog(source: Source, campaign: str, cutoff: datetime) -> SweepBacklog:
    """The windows of ``campaign`` not yet decided that closed at or before ``cutoff``
    (the sweep's due windows when ``cutoff`` is now minus the policy's grace).

    Raises:
        BadData: ``cutoff`` has no time zone.
        sqlalchemy.exc.SQLAlchemyError: the database cannot be read.
    """
    w = windows.c
    with connected(source) as conn:
        oldest, count = conn.execute(
            select(func.min(w.closes_at), func.count())
            .where(w.campaign == campaign, w.decision.is_(None),
                   w.closes_at <= format_time(cutoff))).one()
    return SweepBacklog(int(count), None if oldest is None else parse_utc(oldest))


def quarantined_by_reason(source: Source) -> list[Tally]:
    """Quarantined platform events by reason, in reason order.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database cannot be read.
    """
    with connected(source) as conn:
        rows = conn.execute(select(quarantine.c.reason, func.count())
                            .group_by(quarantine.c.reason)
                            .order_by(quarantine.c.reason)).all()
    return [Tally(reason, int(count)) for reason, count in rows]


def webhook_delivery_count(source: Source) -> int:
    """How many platform webhook deliveries were received (their receipts kept).

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database cannot be read.
    """
    with connected(source) as conn:
        return int(conn.execute(select(func.count())
                                .select_from(webhook_deliveries)).scalar_one())


def alerts_by_status(source: Source) -> list[Tally]:
    """Anomaly alerts by status, in status order.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database cannot be read.
    """
    with connected(source) as conn:
        rows = conn.execute(select(alerts.c.status, func.count())
                            .group_by(alerts.c.status).order_by(alerts.c.status)).all()
    return [Tally(status, int(count)) for status, count in rows]
