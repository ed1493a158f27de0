"""Who did what: p_activity, one row per ledger entry and per campaign or decision it
touched (the activity pages page through it by its key).

Revision ID: 0007
Revises: 0006

A frozen copy of the table as ``ledger/absence/tables.py`` defines it in this revision,
and of ``ledger/absence/activity_index.py``'s placing of entries: a projection table, so
the revision derives its rows for the entries already appended (read from
``ledger_entries``, placed through the projection rows of their windows, subjects,
decisions, appeals, notifications and alerts), leaving it equal to a replay of the
ledger (``absentia rebuild --check``).
"""

from __future__ import annotations

import json
from typing import Any

from alembic import op
from sqlalchemy import Column, Connection, Integer, MetaData, String, Table, text

revision = "0007"
down_revision: str | None = "0006"
branch_labels: tuple[str, ...] | None = None
depends_on: tuple[str, ...] | None = None

meta = MetaData()
Table(
    "p_activity", meta,
    Column("target", String(140), primary_key=True),
    Column("idx", Integer, primary_key=True, autoincrement=False),
    Column("kind", String(64), nullable=False),
    Column("actor", String(128), nullable=False),
    Column("at", String(32), nullable=False),
    Column("why", String(200)),
)


WHY = {
    "decision.made": "reason", "decision.reviewed": "ruling", "appeal.filed": "ground",
    "appeal.ruled": "ruling", "accommodation.granted": "reason",
    "platform.quarantined": "reason", "platform.event": "kind", "subject.erased": "reason",
    "notice.published": "reason", "alert.resolved": "action", "alert.raised": "kind",
    "notification.failed": "error", "notification.delivered": "status",
    "notification.queued": "template", "pii.viewed": "purpose"}
BY_CAMPAIGN = ("campaign.created", "campaign.post_added", "subject.registered",
               "window.scheduled", "decision.made", "alert.raised", "notice.published",
               "report.generated")
BY_WINDOW = ("accommodation.granted", "platform.event", "platform.quarantined")
BY_DECISION = ("decision.reviewed", "appeal.filed", "rebook.lapsed")
BY_SUBJECT = ("pii.viewed", "subject.erased", "notification.queued")
BY_NOTIFICATION = ("notification.sent", "notification.failed", "notification.delivered")
CHUNK = 5000


def _map(conn: Connection, sql: str) -> dict[str, Any]:
    return {r[0]: r[1] for r in conn.execute(text(sql)).all()}


def _targets(e: dict[str, Any], m: dict[str, dict[str, Any]]) -> list[str]:
    t, b = e["type"], e["body"]
    campaign: str | None = None
    touched: list[str | None] = []
    if t in BY_CAMPAIGN:
        campaign = b["campaign"]
        if t == "decision.made":
            touched = [b["decision"], b.get("supersedes")]
    elif t in BY_WINDOW:
        campaign = m["window"].get(b["window"])
    elif t in BY_DECISION:
        campaign, touched = m["decision"].get(b["decision"]), [b["decision"]]
    elif t == "appeal.ruled":
        decision = m["appeal"].get(b["appeal"])
        campaign, touched = m["decision"].get(decision or ""), [decision]
    elif t in BY_SUBJECT:
        campaign, touched = m["subject"].get(b["subject"]), [b.get("decision")]
    elif t in BY_NOTIFICATION:
        campaign = m["subject"].get(m["note_subject"].get(b["notification"]) or "")
        touched = [m["note_decision"].get(b["notification"])]
    elif t == "alert.resolved":
        campaign = m["alert"].get(b["alert"])
    found = [f"c:{campaign}"] if campaign is not None else []
    return found + [f"d:{d}" for d in dict.fromkeys(touched) if d is not None]


def upgrade() -> None:
    conn = op.get_bind()
    table = meta.tables["p_activity"]
    table.create(conn, checkfirst=True)
    m = {"window": _map(conn, 'SELECT "window", campaign FROM p_windows'),
         "subject": _map(conn, "SELECT subject, campaign FROM p_subjects"),
         "decision": _map(conn, "SELECT decision, campaign FROM p_decisions"),
         "appeal": _map(conn, "SELECT appeal, decision FROM p_appeals"),
         "note_subject": _map(conn, "SELECT notification, subject FROM p_notifications"),
         "note_decision": _map(conn, "SELECT notification, decision FROM p_notifications"),
         "alert": _map(conn, "SELECT alert, campaign FROM p_alerts")}
    # The projections are derived from the log that holds the campaigns.
    logs = [r[0] for r in conn.execute(text(
        "SELECT DISTINCT log_id FROM ledger_entries WHERE entry_type = 'campaign.created'"))]
    for log_id in logs:
        after = -1
        while True:
            chunk = conn.execute(text(
                "SELECT idx, data FROM ledger_entries WHERE log_id = :log AND idx > :after "
                "ORDER BY idx LIMIT :n"), {"log": log_id, "after": after, "n": CHUNK}).all()
            if not chunk:
                break
            rows = []
            for idx, data in chunk:
                e = json.loads(bytes(data))
                field = WHY.get(e["type"])
                why = e["body"].get(field) if field is not None else None
                rows += [{"target": t, "idx": int(idx), "kind": e["type"],
                          "actor": e["actor"], "at": e["time"],
                          "why": str(why)[:200] if why is not None else None}
                         for t in _targets(e, m)]
            if rows:
                conn.execute(table.insert(), rows)
            after = int(chunk[-1][0])


def downgrade() -> None:
    meta.tables["p_activity"].drop(op.get_bind(), checkfirst=True)
