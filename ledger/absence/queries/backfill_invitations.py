"""The windows approved 递补 proposals opened, with their invitations' delivery (for the
console's 递补 page: the promoted candidate's window and whether the invitation went)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import select

from ledger.absence.queries import Source, connected
from ledger.absence.tables import notifications, windows


@dataclass(frozen=True)
class Invitation:
    """One notification of the invitation to a window: its channel and state."""

    channel: str  # email / sms
    status: str  # pending / sent / failed / delivered


@dataclass(frozen=True)
class InvitedWindow:
    """A window and the invitations to it, oldest first."""

    window: str
    opens_at: str  # RFC 3339 UTC
    closes_at: str  # RFC 3339 UTC
    invitations: tuple[Invitation, ...]


def invited_windows(source: Source, ids: Collection[str]) -> dict[str, InvitedWindow]:
    """The windows ``ids`` (those that exist) by ID, each with its invitations.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database cannot be read.
    """
    if not ids:
        return {}
    wanted = sorted(ids)
    with connected(source) as conn:
        rows = conn.execute(select(windows.c.window, windows.c.opens_at, windows.c.closes_at)
                            .where(windows.c.window.in_(wanted))).all()
        sent: dict[str, list[Invitation]] = {}
        n = notifications.c
        for r in conn.execute(select(n.window, n.channel, n.status).where(
                n.window.in_(wanted), n.template.in_(("invitation", "makeup")))
                .order_by(n.queued_at, n.notification)):
            sent.setdefault(r.window, []).append(Invitation(r.channel, r.status))
    return {r.window: InvitedWindow(r.window, r.opens_at, r.closes_at,
                                    tuple(sent.get(r.window, ()))) for r in rows}
