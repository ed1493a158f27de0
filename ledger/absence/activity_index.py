"""The activity projection (``p_activity``): for each ledger entry, the campaign and the
decisions it touched, with its kind, actor, time and reason, so the activity pages
(``ledger.absence.queries.activity``) read one page of one campaign's or one decision's
entries by index instead of scanning the log.

``record`` runs from ``projection.apply`` after the entries' own handlers, in the same
transaction (live) or replay (rebuild), so the rows equal a replay.  An entry that names
only a window, a decision, an appeal, a notification, an alert or a subject is placed
through the projection rows of those (keys that never change once written), read in one
statement per kind and batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Column, Connection, select

from ledger.absence.tables import (
    activity,
    alerts,
    appeals,
    decisions,
    notifications,
    objections,
    subjects,
    windows,
)
from ledger.storage.records import Appended

CAMPAIGN = "c:"
DECISION = "d:"

#: The body field each kind carries as its reason (a code, or a correction's text).
WHY: dict[str, str] = {
    "decision.made": "reason", "decision.reviewed": "ruling", "appeal.filed": "ground",
    "appeal.ruled": "ruling", "accommodation.granted": "reason",
    "platform.quarantined": "reason", "platform.event": "kind", "subject.erased": "reason",
    "notice.published": "reason", "alert.resolved": "action", "alert.raised": "kind",
    "notification.failed": "error", "notification.delivered": "status",
    "notification.queued": "template", "pii.viewed": "purpose",
    "objection.filed": "ground"}

#: Kinds whose body names the campaign.
_BY_CAMPAIGN = ("campaign.created", "campaign.notice_settings", "campaign.post_added",
                "subject.registered",
                "window.scheduled", "decision.made", "alert.raised", "notice.published",
                "report.generated", "slot.reserved", "slot.withdrawn", "objection.filed")
#: Kinds placed through their objection's campaign (``body["objection"]``).
_BY_OBJECTION = ("objection.acknowledged", "objection.statement_invited",
                 "objection.statement_received", "objection.ruled",
                 "objection.objector_erased")
#: Kinds placed through their window's campaign.
_BY_WINDOW = ("accommodation.granted", "platform.event", "platform.quarantined")
#: Kinds placed through their decision (``body["decision"]``).
_BY_DECISION = ("decision.reviewed", "appeal.filed", "rebook.lapsed")
#: Kinds placed through their subject's campaign.
_BY_SUBJECT = ("pii.viewed", "subject.erased", "notification.queued")
#: Kinds placed through their notification.
_BY_NOTIFICATION = ("notification.sent", "notification.failed", "notification.delivered")

Lookup = Callable[[Column[Any], Column[Any], set[str]], dict[str, Any]]


def _lookup(conn: Connection) -> Lookup:
    def find(key: Column[Any], value: Column[Any], keys: set[str]) -> dict[str, Any]:
        if not keys:
            return {}
        rows = conn.execute(select(key, value).where(key.in_(keys))).all()
        return {r[0]: r[1] for r in rows}
    return find


def _keys(run: Sequence[Appended], kinds: tuple[str, ...], field: str) -> set[str]:
    return {a.body[field] for a in run if a.type in kinds and field in a.body}


def targets(conn: Connection, run: Sequence[Appended]) -> list[list[str]]:
    """For each entry of ``run``, the targets it touched ("c:<campaign>", "d:<decision>"),
    campaign first."""
    find = _lookup(conn)
    by_window = find(windows.c.window, windows.c.campaign, _keys(run, _BY_WINDOW, "window"))
    by_subject = find(subjects.c.subject, subjects.c.campaign,
                      _keys(run, _BY_SUBJECT, "subject"))
    by_decision = find(decisions.c.decision, decisions.c.campaign,
                       _keys(run, (*_BY_DECISION, "notification.queued"), "decision"))
    appeal_decision = find(appeals.c.appeal, appeals.c.decision,
                           _keys(run, ("appeal.ruled",), "appeal"))
    by_decision |= find(decisions.c.decision, decisions.c.campaign,
                        set(appeal_decision.values()) - by_decision.keys())
    note_ids = _keys(run, _BY_NOTIFICATION, "notification")
    note_decision = find(notifications.c.notification, notifications.c.decision, note_ids)
    note_subject = find(notifications.c.notification, notifications.c.subject, note_ids)
    note_campaign = find(subjects.c.subject, subjects.c.campaign,
                         {s for s in note_subject.values() if s is not None})
    objection_campaign = find(objections.c.objection, objections.c.campaign,
                              _keys(run, (*_BY_OBJECTION, "pii.viewed"), "objection"))
    alert_campaign = find(alerts.c.alert, alerts.c.campaign,
                          _keys(run, ("alert.resolved",), "alert"))
    out: list[list[str]] = []
    for a in run:
        b = a.body
        campaign: str | None = None
        touched: list[str | None] = []
        if a.type in _BY_CAMPAIGN:
            campaign = b["campaign"]
            if a.type == "decision.made":
                touched = [b["decision"], b.get("supersedes")]
        elif a.type in _BY_WINDOW:
            campaign = by_window.get(b["window"])
        elif a.type in _BY_DECISION:
            campaign, touched = by_decision.get(b["decision"]), [b["decision"]]
        elif a.type == "appeal.ruled":
            decision = appeal_decision.get(b["appeal"])
            campaign, touched = by_decision.get(decision or ""), [decision]
        elif a.type in _BY_OBJECTION or (a.type == "pii.viewed" and "objection" in b):
            campaign = objection_campaign.get(b["objection"])
        elif a.type in _BY_SUBJECT:
            campaign, touched = by_subject.get(b["subject"]), [b.get("decision")]
        elif a.type in _BY_NOTIFICATION:
            campaign = note_campaign.get(note_subject.get(b["notification"]) or "")
            touched = [note_decision.get(b["notification"])]
        elif a.type == "alert.resolved":
            campaign = alert_campaign.get(b["alert"])
        found = [CAMPAIGN + campaign] if campaign is not None else []
        found += [DECISION + d for d in dict.fromkeys(touched) if d is not None]
        out.append(found)
    return out


def _why(a: Appended) -> str | None:
    field = WHY.get(a.type)
    value = a.body.get(field) if field is not None else None
    return str(value)[:200] if value is not None else None


def record(conn: Connection, run: Sequence[Appended]) -> None:
    """Add the activity rows of the entries ``run`` (already applied to the other
    projections)."""
    rows: list[dict[str, Any]] = []
    for a, found in zip(run, targets(conn, run), strict=True):
        why = _why(a)
        rows += [{"target": t, "idx": a.index, "kind": a.type, "actor": a.actor,
                  "at": a.time, "why": why} for t in found]
    if rows:
        conn.execute(activity.insert(), rows)
