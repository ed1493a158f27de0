"""Projections: the tables the app reads, derived from ledger entries only.

``apply`` is the one writer of these tables.  Commands call it in the transaction that
appends their entries; ``rebuild`` calls it while replaying the whole log.  So the live
tables equal a replay by construction, and ``check_rebuild`` proves it on real data.
Times are stored as the ledger writes them (RFC 3339 UTC, milliseconds, ``Z``), which
sort as text.

The tables themselves are defined in ``ledger.absence.tables`` (and created by the
migrations); this module is their behaviour.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from itertools import groupby
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Table,
    bindparam,
    func,
    insert,
    select,
    update,
)

from ledger.absence import activity_index
from ledger.absence.imports import registration_key
from ledger.absence.tables import (
    OPERATIONAL,
    PROJECTIONS,
    access_log,
    alerts,
    appeals,
    backfill_lists,
    backfills,
    backup_slots,
    campaign_notice_settings,
    campaigns,
    decisions,
    notice_documents,
    notices,
    notifications,
    objections,
    platform_events,
    policies,
    posts,
    quarantine,
    ranked,
    rankings,
    report_jobs,
    reports,
    subjects,
    tokens,
    vacancies,
    vault_documents,
    vault_objectors,
    vault_people,
    webhook_deliveries,
    windows,
)
from ledger.storage.store import Appended
from ledger.storage.tables import rate_limit_hits, scheduler_leases

# -- apply --------------------------------------------------------------------------

Handler = Callable[[Connection, Sequence[Appended]], None]
HANDLERS: dict[str, Handler] = {}


def _on(*types: str) -> Callable[[Handler], Handler]:
    def wrap(fn: Handler) -> Handler:
        for t in types:
            HANDLERS[t] = fn
        return fn
    return wrap


def apply(conn: Connection, appended: Sequence[Appended]) -> None:
    """Apply entries in order, batching runs of one type into one statement each; then
    index who did what (``activity_index.record``)."""
    for etype, run in groupby(appended, key=lambda a: a.type):
        handler = HANDLERS.get(etype)
        if handler is not None:
            handler(conn, list(run))
    activity_index.record(conn, appended)


def insert_rows(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """INSERT ``rows`` (dicts naming every column) with the driver's executemany.

    Projections are written on hot paths (every platform event, every decision); a
    plain parameterised statement built once per table skips SQLAlchemy's per-call
    statement compilation.  Column names come from the table's definition, values
    travel as parameters.
    """
    if not rows:
        return
    names = [c.name for c in table.columns]
    mark = "?" if conn.dialect.name == "sqlite" else "%s"
    sql = _INSERTS.get((table.name, mark))
    if sql is None:
        quoted = ", ".join(f'"{n}"' for n in names)
        sql = _INSERTS[(table.name, mark)] = (
            f'INSERT INTO "{table.name}" ({quoted}) '  # noqa: S608 (names from the schema)
            f'VALUES ({", ".join([mark] * len(names))})')
    params = [tuple(row[n] for n in names) for row in rows]
    cur = conn.connection.cursor()
    try:
        if len(params) == 1:
            cur.execute(sql, params[0])
        else:
            cur.executemany(sql, params)
    finally:
        cur.close()


_INSERTS: dict[tuple[str, str], str] = {}


def _b(name: str) -> Any:
    return bindparam("b_" + name)


def _supersede(conn: Connection, key: Column[Any], run: Sequence[Appended]) -> None:
    """Mark the rows the entries of ``run`` supersede (``body["supersedes"]``) as
    ``superseded_by`` the entry's own row: ``key`` is the table's key column, named as the
    body names the new row (a decision, a notice)."""
    superseding = [a for a in run if "supersedes" in a.body]
    if superseding:
        conn.execute(update(key.table).where(key == _b("old"))
                     .values(superseded_by=_b("new")),
                     [{"b_old": a.body["supersedes"], "b_new": a.body[key.name]}
                      for a in superseding])


@_on("policy.adopted")
def _policy(conn: Connection, run: Sequence[Appended]) -> None:
    for a in run:
        exists = conn.execute(select(policies.c.digest)
                              .where(policies.c.digest == a.body["digest"])).first()
        if exists is None:
            conn.execute(insert(policies).values(
                digest=a.body["digest"], name=a.body["policy"], mode=a.body["mode"],
                body=json.dumps(a.body, sort_keys=True), adopted_index=a.index))


@_on("campaign.created")
def _campaign(conn: Connection, run: Sequence[Appended]) -> None:
    insert_rows(conn, campaigns, [
        {"campaign": a.body["campaign"], "title": a.body["title"],
         "timezone": a.body["timezone"], "policy": a.body["policy"],
         "policy_digest": a.body["policy_digest"], "created_index": a.index,
         "created_at": a.time} for a in run])


@_on("campaign.notice_settings")
def _campaign_notice_settings(conn: Connection, run: Sequence[Appended]) -> None:
    for a in run:  # the latest entry of a campaign replaces its row
        campaign = a.body["campaign"]
        conn.execute(campaign_notice_settings.delete()
                     .where(campaign_notice_settings.c.campaign == campaign))
        conn.execute(insert(campaign_notice_settings).values(
            campaign=campaign, idx=a.index, settings=json.dumps(
                {k: v for k, v in a.body.items() if k != "campaign"}, sort_keys=True)))


@_on("campaign.post_added")
def _post(conn: Connection, run: Sequence[Appended]) -> None:
    insert_rows(conn, posts, [
        {"campaign": a.body["campaign"], "post": a.body["post"], "title": a.body["title"]}
        for a in run])


@_on("subject.registered")
def _subject(conn: Connection, run: Sequence[Appended]) -> None:
    insert_rows(conn, subjects, [
        {"subject": a.body["subject"], "campaign": a.body["campaign"], "post": a.body["post"],
         "registration": a.body["registration"],
         "registration_key": registration_key(a.body["registration"]),
         "commitment": a.body["commitment"],
         "contact": a.body["contact"], "registered_index": a.index, "misses": 0,
         "locked": 0, "erased": 0} for a in run])


@_on("subject.erased")
def _erased(conn: Connection, run: Sequence[Appended]) -> None:
    conn.execute(update(subjects).where(subjects.c.subject == _b("subject"))
                 .values(erased=1), [{"b_subject": a.body["subject"]} for a in run])


@_on("window.scheduled")
def _window(conn: Connection, run: Sequence[Appended]) -> None:
    insert_rows(conn, windows, [
        {"window": a.body["window"], "campaign": a.body["campaign"],
         "subject": a.body["subject"], "slot": a.body["slot"], "kind": a.body["kind"],
         "opens_at": a.body["opens_at"], "closes_at": a.body["closes_at"],
         "scheduled_closes_at": a.body["closes_at"], "accommodation": None,
         "origin_decision": a.body.get("origin_decision"), "decision": None,
         "scheduled_index": a.index} for a in run])
    taken = [a for a in run if a.body["kind"] == "rebook" and "origin_decision" in a.body]
    if taken:  # a rebooking uses its decision's offer up
        conn.execute(update(decisions).where(decisions.c.decision == _b("decision"))
                     .values(offer="taken"),
                     [{"b_decision": a.body["origin_decision"]} for a in taken])


@_on("rebook.lapsed")
def _rebook_lapsed(conn: Connection, run: Sequence[Appended]) -> None:
    conn.execute(update(decisions).where(decisions.c.decision == _b("decision"))
                 .values(offer="lapsed"), [{"b_decision": a.body["decision"]} for a in run])


@_on("accommodation.granted")
def _accommodation(conn: Connection, run: Sequence[Appended]) -> None:
    conn.execute(update(windows).where(windows.c.window == _b("window")).values(
        opens_at=_b("opens_at"), closes_at=_b("closes_at"), accommodation=_b("kind")),
        [{"b_window": a.body["window"], "b_opens_at": a.body["opens_at"],
          "b_closes_at": a.body["closes_at"], "b_kind": a.body["kind"]} for a in run])
    moved = [a for a in run if "slot" in a.body]
    if moved:  # an alternate slot taken from a backup slot: the window moves into it
        conn.execute(update(windows).where(windows.c.window == _b("window"))
                     .values(slot=_b("slot")),
                     [{"b_window": a.body["window"], "b_slot": a.body["slot"]}
                      for a in moved])


@_on("slot.reserved")
def _slot_reserved(conn: Connection, run: Sequence[Appended]) -> None:
    insert_rows(conn, backup_slots, [
        {"campaign": a.body["campaign"], "slot": a.body["slot"],
         "opens_at": a.body["opens_at"], "closes_at": a.body["closes_at"],
         "capacity": a.body["capacity"], "reserved_by": a.actor, "reserved_at": a.time,
         "idx": a.index} for a in run])


@_on("slot.withdrawn")
def _slot_withdrawn(conn: Connection, run: Sequence[Appended]) -> None:
    conn.execute(backup_slots.delete().where(
        backup_slots.c.campaign == _b("campaign"), backup_slots.c.slot == _b("slot")),
        [{"b_campaign": a.body["campaign"], "b_slot": a.body["slot"]} for a in run])


@_on("platform.event")
def _platform(conn: Connection, run: Sequence[Appended]) -> None:
    insert_rows(conn, platform_events, [
        {"idx": a.index, "window": a.body["window"], "event_id": a.body["event_id"],
         "kind": a.body["kind"], "at": a.body["at"], "detail": a.body.get("detail"),
         "webhook_id": a.body.get("webhook_id")} for a in run])


@_on("platform.quarantined")
def _quarantined(conn: Connection, run: Sequence[Appended]) -> None:
    known = dict(conn.execute(select(windows.c.window, windows.c.campaign).where(
        windows.c.window.in_({a.body["window"] for a in run}))).all())
    insert_rows(conn, quarantine, [
        {"idx": a.index, "event_id": a.body["event_id"], "window": a.body["window"],
         "campaign": known.get(a.body["window"]), "kind": a.body["kind"],
         "at": a.body["at"], "reason": a.body["reason"], "webhook_id": a.body["webhook_id"],
         "received_at": a.time} for a in run])


_MISSES = ("forfeited", "rebook_offered", "makeup_pending_review", "locked")


@_on("decision.made")
def _decision(conn: Connection, run: Sequence[Appended]) -> None:
    insert_rows(conn, decisions, [
        {"decision": a.body["decision"], "window": a.body["window"],
         "campaign": a.body["campaign"], "subject": a.body["subject"],
         "outcome": a.body["outcome"], "cause": a.body.get("cause"),
         "reason": a.body["reason"], "evidence": a.body["evidence"],
         "policy_digest": a.body["policy_digest"],
         "explanation_sha256": a.body["explanation_sha256"], "basis": a.body["basis"],
         "rebook_until": a.body.get("rebook_until"), "supersedes": a.body.get("supersedes"),
         "superseded_by": None, "offer": None,
         "review": "pending" if a.body["outcome"] == "makeup_pending_review" else None,
         "review_reason": None,
         "decided_at": a.time, "idx": a.index} for a in run])
    conn.execute(update(windows).where(windows.c.window == _b("window"))
                 .values(decision=_b("decision")),
                 [{"b_window": a.body["window"], "b_decision": a.body["decision"]}
                  for a in run])
    _supersede(conn, decisions.c.decision, run)
    # A first ruling that is a miss counts toward locking (enterprise policy).
    misses = [a for a in run if a.body["outcome"] in _MISSES and "supersedes" not in a.body]
    if misses:
        conn.execute(update(subjects).where(subjects.c.subject == _b("subject"))
                     .values(misses=subjects.c.misses + 1),
                     [{"b_subject": a.body["subject"]} for a in misses])
    locked = [a for a in run if a.body["outcome"] == "locked"]
    if locked:
        conn.execute(update(subjects).where(subjects.c.subject == _b("subject"))
                     .values(locked=1), [{"b_subject": a.body["subject"]} for a in locked])


@_on("decision.reviewed")
def _reviewed(conn: Connection, run: Sequence[Appended]) -> None:
    conn.execute(update(decisions).where(decisions.c.decision == _b("decision"))
                 .values(review=_b("ruling"), review_reason=_b("reason")),
                 [{"b_decision": a.body["decision"], "b_ruling": a.body["ruling"],
                   "b_reason": a.body.get("reason")} for a in run])


@_on("appeal.filed")
def _appeal(conn: Connection, run: Sequence[Appended]) -> None:
    for a in run:
        campaign = conn.execute(select(decisions.c.campaign).where(
            decisions.c.decision == a.body["decision"])).scalar_one()
        conn.execute(insert(appeals).values(
            appeal=a.body["appeal"], decision=a.body["decision"], campaign=campaign,
            subject=a.body["subject"], ground=a.body["ground"],
            statement_sha256=a.body.get("statement_sha256"),
            statement_hmac=a.body.get("statement_hmac"), filed_at=a.time, ruling=None,
            ruled_at=None, ruled_by=None, ruling_reason=None, makeup_window=None,
            idx=a.index))


@_on("appeal.ruled")
def _ruled(conn: Connection, run: Sequence[Appended]) -> None:
    conn.execute(update(appeals).where(appeals.c.appeal == _b("appeal")).values(
        ruling=_b("ruling"), ruled_at=_b("at"), makeup_window=_b("mw"), ruled_by=_b("by"),
        ruling_reason=_b("reason")),
        [{"b_appeal": a.body["appeal"], "b_ruling": a.body["ruling"], "b_at": a.time,
          "b_mw": a.body.get("makeup_window"), "b_by": a.actor,
          "b_reason": a.body.get("reason")} for a in run])


@_on("notification.queued")
def _queued(conn: Connection, run: Sequence[Appended]) -> None:
    insert_rows(conn, notifications, [
        {"notification": a.body["notification"], "subject": a.body["subject"],
         "channel": a.body["channel"], "template": a.body["template"],
         "window": a.body.get("window"), "decision": a.body.get("decision"),
         "appeal": a.body.get("appeal"), "due_by": a.body["due_by"], "status": "pending",
         "attempts": 0, "next_attempt_at": a.time, "last_error": None, "last_idx": None,
         "queued_at": a.time, "updated_at": a.time} for a in run])


@_on("notification.sent")
def _sent(conn: Connection, run: Sequence[Appended]) -> None:
    conn.execute(update(notifications).where(notifications.c.notification == _b("n")).values(
        status="sent", attempts=_b("attempt"), next_attempt_at=None, updated_at=_b("at"),
        last_idx=_b("idx")),
        [{"b_n": a.body["notification"], "b_attempt": a.body["attempt"], "b_at": a.time,
          "b_idx": a.index}
         for a in run])


@_on("notification.failed")
def _failed(conn: Connection, run: Sequence[Appended]) -> None:
    conn.execute(update(notifications).where(notifications.c.notification == _b("n")).values(
        status=_b("status"), attempts=_b("attempt"), next_attempt_at=_b("retry"),
        last_error=_b("error"), updated_at=_b("at"), last_idx=_b("idx")),
        [{"b_n": a.body["notification"], "b_attempt": a.body["attempt"],
          "b_status": "failed" if a.body["final"] else "pending",
          "b_retry": None if a.body["final"] else a.body.get("retry_at"),
          "b_error": a.body["error"], "b_at": a.time, "b_idx": a.index} for a in run])


@_on("notification.delivered")
def _delivered(conn: Connection, run: Sequence[Appended]) -> None:
    conn.execute(update(notifications).where(notifications.c.notification == _b("n")).values(
        status=_b("status"), updated_at=_b("at"), last_idx=_b("idx")),
        [{"b_n": a.body["notification"], "b_idx": a.index,
          "b_status": "delivered" if a.body["status"] == "delivered" else "failed",
          "b_at": a.time} for a in run])


@_on("alert.raised")
def _alert(conn: Connection, run: Sequence[Appended]) -> None:
    insert_rows(conn, alerts, [
        {"alert": a.body["alert"], "campaign": a.body["campaign"], "kind": a.body["kind"],
         "count": a.body["count"], "total": a.body["total"],
         "threshold": a.body["threshold"], "slot_start": a.body.get("slot_start"),
         "windows": a.body["windows"], "status": "open", "action": None, "makeups": None,
         "raised_at": a.time, "idx": a.index} for a in run])


@_on("alert.resolved")
def _alert_resolved(conn: Connection, run: Sequence[Appended]) -> None:
    conn.execute(update(alerts).where(alerts.c.alert == _b("alert")).values(
        status="resolved", action=_b("action"), makeups=_b("makeups")),
        [{"b_alert": a.body["alert"], "b_action": a.body["action"],
          "b_makeups": a.body["makeups"]} for a in run])


@_on("pii.viewed")
def _viewed(conn: Connection, run: Sequence[Appended]) -> None:
    # An objector's details are read by objection (an objector is not a subject):
    # the entry itself is the record; the access log lists candidates' reads.
    insert_rows(conn, access_log, [
        {"idx": a.index, "subject": a.body["subject"], "actor": a.actor,
         "purpose": a.body["purpose"], "fields": a.body["fields"], "at": a.time}
        for a in run if "subject" in a.body])


@_on("token.created")
def _token(conn: Connection, run: Sequence[Appended]) -> None:
    insert_rows(conn, tokens, [
        {"token": a.body["token"], "role": a.body["role"],
         "secret_sha256": a.body["secret_sha256"], "label": a.body.get("label"),
         "created_at": a.time, "revoked": 0} for a in run])


@_on("token.revoked")
def _token_revoked(conn: Connection, run: Sequence[Appended]) -> None:
    conn.execute(update(tokens).where(tokens.c.token == _b("token")).values(revoked=1),
                 [{"b_token": a.body["token"]} for a in run])


@_on("ranking.imported")
def _ranking(conn: Connection, run: Sequence[Appended]) -> None:
    insert_rows(conn, rankings, [
        {"ranking": a.body["ranking"], "campaign": a.body["campaign"], "post": a.body["post"],
         "digest": a.body["digest"], "ranked": a.body["ranked"],
         "qualified": a.body["qualified"], "places": a.body["places"],
         "interview_day": a.body["interview_day"], "ties": a.body["ties"],
         "imported_at": a.time, "idx": a.index} for a in run])


@_on("ranking.ranked")
def _ranked(conn: Connection, run: Sequence[Appended]) -> None:
    where = {r.ranking: (r.campaign, r.post) for r in conn.execute(
        select(rankings.c.ranking, rankings.c.campaign, rankings.c.post).where(
            rankings.c.ranking.in_({a.body["ranking"] for a in run})))}
    insert_rows(conn, ranked, [
        {"ranking": a.body["ranking"], "subject": a.body["subject"],
         "campaign": where[a.body["ranking"]][0], "post": where[a.body["ranking"]][1],
         "rank": a.body["rank"], "passed": 1 if a.body["passed"] == "yes" else 0,
         "idx": a.index} for a in run])


@_on("vacancy.recorded")
def _vacancy(conn: Connection, run: Sequence[Appended]) -> None:
    insert_rows(conn, vacancies, [
        {"vacancy": a.body["vacancy"], "campaign": a.body["campaign"],
         "subject": a.body["subject"], "kind": a.body["kind"], "at": a.body["at"],
         "idx": a.index} for a in run])


def _backfill_row(a: Appended, item: str, status: str) -> dict[str, Any]:
    return {"item": item, "campaign": a.body["campaign"], "post": a.body["post"],
            "vacancy": a.body["vacancy"], "vacated": a.body["vacated"],
            "subject": a.body.get("subject"), "rank": a.body.get("rank"),
            "round": a.body["round"], "status": status,
            "reason": a.body.get("reason") if status == "unfilled" else None,
            "window": None, "at": a.time, "decided_at": None, "decided_by": None,
            "idx": a.index}


@_on("backfill.proposed")
def _proposed(conn: Connection, run: Sequence[Appended]) -> None:
    insert_rows(conn, backfills, [_backfill_row(a, a.body["proposal"], "proposed")
                                  for a in run])


@_on("backfill.unfilled")
def _unfilled(conn: Connection, run: Sequence[Appended]) -> None:
    # The entry has no id of its own: its ledger index names it (the same on replay).
    insert_rows(conn, backfills, [_backfill_row(a, f"unfilled:{a.index}", "unfilled")
                                  for a in run])


@_on("backfill.approved", "backfill.declined")
def _backfill_ruled(conn: Connection, run: Sequence[Appended]) -> None:
    conn.execute(update(backfills).where(backfills.c.item == _b("item")).values(
        status=_b("status"), reason=_b("reason"), window=_b("window"),
        decided_at=_b("at"), decided_by=_b("by")),
        [{"b_item": a.body["proposal"],
          "b_status": "approved" if a.type == "backfill.approved" else "declined",
          "b_reason": a.body.get("reason"), "b_window": a.body.get("window"),
          "b_at": a.time, "b_by": a.actor} for a in run])


@_on("backfill.list_published")
def _backfill_list(conn: Connection, run: Sequence[Appended]) -> None:
    insert_rows(conn, backfill_lists, [
        {"notice": a.body["notice"], "campaign": a.body["campaign"],
         "sha256": a.body["sha256"], "lines": a.body["lines"],
         "period_start": a.body["period_start"], "period_end": a.body["period_end"],
         "published_at": a.time, "idx": a.index} for a in run])


# -- rebuild ------------------------------------------------------------------------


def clear(conn: Connection) -> None:
    """Delete every projection row (children first)."""
    for table in reversed(PROJECTIONS.sorted_tables):
        conn.execute(table.delete())


def table_rows(conn: Connection) -> Iterator[tuple[str, list[tuple[Any, ...]]]]:
    """Each projection table's rows in primary-key order (for comparisons)."""
    for table in PROJECTIONS.sorted_tables:
        pk = list(table.primary_key.columns)
        yield table.name, [tuple(r) for r in conn.execute(select(table).order_by(*pk)).all()]


def row_counts(conn: Connection) -> dict[str, int]:
    """Rows per projection table."""
    return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in PROJECTIONS.sorted_tables}


@_on("notice.published")
def _notice(conn: Connection, run: Sequence[Appended]) -> None:
    insert_rows(conn, notices, [
        {"notice": a.body["notice"], "campaign": a.body["campaign"],
         "sha256": a.body["sha256"], "lines": a.body["lines"],
         "checkpoint_size": a.body["checkpoint_size"],
         "period_start": a.body["period_start"], "period_end": a.body["period_end"],
         "supersedes": a.body.get("supersedes"), "superseded_by": None,
         "published_at": a.time, "idx": a.index,
         "sha256_en": a.body.get("sha256_en")} for a in run])
    _supersede(conn, notices.c.notice, run)


@_on("objection.filed")
def _objection(conn: Connection, run: Sequence[Appended]) -> None:
    insert_rows(conn, objections, [
        {"objection": a.body["objection"], "notice": a.body["notice"],
         "campaign": a.body["campaign"], "subject": a.body.get("subject"),
         "line": a.body.get("line"), "channel": a.body["channel"],
         "ground": a.body["ground"], "statement_hmac": a.body["statement_hmac"],
         "objector_sha256": a.body["objector_sha256"],
         "lookup_sha256": a.body["lookup_sha256"], "filed_at": a.time,
         "filed_by": a.actor, "ack_by": a.body["ack_by"], "reply_by": a.body["reply_by"],
         "state": "filed", "acknowledged_at": None, "invited_at": None,
         "respond_by": None, "statement_at": None, "statement_hmac_candidate": None,
         "ruling": None, "ruled_at": None, "ruled_by": None, "ruling_reason": None,
         "objector_erased": 0, "idx": a.index} for a in run])


@_on("objection.acknowledged")
def _objection_ack(conn: Connection, run: Sequence[Appended]) -> None:
    conn.execute(update(objections).where(objections.c.objection == _b("o"))
                 .values(state="acknowledged", acknowledged_at=_b("at")),
                 [{"b_o": a.body["objection"], "b_at": a.time} for a in run])


@_on("objection.statement_invited")
def _objection_invited(conn: Connection, run: Sequence[Appended]) -> None:
    conn.execute(update(objections).where(objections.c.objection == _b("o"))
                 .values(invited_at=_b("at"), respond_by=_b("by"), subject=_b("subject")),
                 [{"b_o": a.body["objection"], "b_at": a.time,
                   "b_by": a.body["respond_by"], "b_subject": a.body["subject"]}
                  for a in run])


@_on("objection.statement_received")
def _objection_statement(conn: Connection, run: Sequence[Appended]) -> None:
    conn.execute(update(objections).where(objections.c.objection == _b("o"))
                 .values(statement_at=_b("at"), statement_hmac_candidate=_b("mac")),
                 [{"b_o": a.body["objection"], "b_at": a.time,
                   "b_mac": a.body["statement_hmac"]} for a in run])


@_on("objection.ruled")
def _objection_ruled(conn: Connection, run: Sequence[Appended]) -> None:
    conn.execute(update(objections).where(objections.c.objection == _b("o"))
                 .values(state=_b("state"), ruling=_b("ruling"), ruled_at=_b("at"),
                         ruled_by=_b("by"), ruling_reason=_b("reason")),
                 [{"b_o": a.body["objection"], "b_at": a.time, "b_by": a.actor,
                   "b_state": "deferred" if a.body["ruling"] == "deferred" else "ruled",
                   "b_ruling": a.body["ruling"], "b_reason": a.body["reason"]}
                  for a in run])


@_on("objection.objector_erased")
def _objector_erased(conn: Connection, run: Sequence[Appended]) -> None:
    conn.execute(update(objections).where(objections.c.objection == _b("o"))
                 .values(objector_erased=1), [{"b_o": a.body["objection"]} for a in run])


@_on("report.generated")
def _report(conn: Connection, run: Sequence[Appended]) -> None:
    insert_rows(conn, reports, [
        {"report": a.body["report"], "campaign": a.body["campaign"],
         "sha256": a.body["sha256"], "decisions": a.body["decisions"],
         "checkpoint_size": a.body["checkpoint_size"], "generated_at": a.time,
         "idx": a.index} for a in run])


__all__ = [
    "HANDLERS",
    "OPERATIONAL",
    "PROJECTIONS",
    "Handler",
    "access_log",
    "alerts",
    "appeals",
    "apply",
    "backfill_lists",
    "backfills",
    "backup_slots",
    "campaign_notice_settings",
    "campaigns",
    "clear",
    "decisions",
    "insert_rows",
    "notice_documents",
    "notices",
    "notifications",
    "objections",
    "platform_events",
    "policies",
    "posts",
    "quarantine",
    "ranked",
    "rankings",
    "rate_limit_hits",
    "report_jobs",
    "reports",
    "row_counts",
    "scheduler_leases",
    "subjects",
    "table_rows",
    "tokens",
    "vacancies",
    "vault_documents",
    "vault_objectors",
    "vault_people",
    "webhook_deliveries",
    "windows",
]
