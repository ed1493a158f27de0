"""Platform events: a webhook delivery recorded as events or quarantined."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from ledger.absence import tables as P  # noqa: N812 (the tables, read as P.windows)
from ledger.absence.campaigns import CampaignUseCase
from ledger.absence.fields import (
    error_code,
    only,
    parse_time,
    req,
)
from ledger.absence.projection import insert_rows
from ledger.entry import check_time, format_time
from ledger.errors import BadData, Unprocessable
from ledger.events import PLATFORM_KINDS, identifier, pseudonym
from ledger.events import webhook_id as check_webhook_id
from ledger.storage.store import NewEntry, Planned, Receipt

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Delivery:
    """A webhook delivery as planned: the entries it becomes and its receipt (the
    first delivery's, for a replay)."""

    items: tuple[NewEntry, ...]
    receipt: dict[str, Any]
    new: bool


@dataclass(frozen=True)
class _WindowRow:
    window: str
    subject: str
    decision: str | None
    opens_at: str
    closes_at: str
    erased: int


class Ingest(CampaignUseCase):
    """Record platform webhook deliveries."""

    def ingest(self, webhook_id: str, payload: Any, now: datetime,
               sent_at: datetime | None = None) -> tuple[dict[str, Any], bool]:
        """Record a webhook delivery of platform events; return (receipt, new?).

        ``payload`` is one event object or ``{"events": [...]}``.  Events for unknown
        windows, outside their window, for another subject or for a decided window are
        recorded as quarantined.  A repeated ``webhook_id`` returns the first receipt
        and records nothing.  ``sent_at`` is when the delivery was sent (its verified
        ``webhook-timestamp``; ``now`` if not given): no event can have happened later
        than that, give or take ``max_event_skew_s`` of clock difference.

        Raises:
            Unprocessable: an event is malformed or its ``at`` is later than ``sent_at``
                plus the skew (each problem named); nothing recorded.
        """
        check_webhook_id(webhook_id, "webhook-id")
        latest = (now if sent_at is None else sent_at) + timedelta(
            seconds=self.cfg.max_event_skew_s)
        events = self._parse_events(payload, latest)

        def plan(conn: Connection) -> Planned[_Delivery]:
            # The ingest path is hot: two plain, parameterised SQL lookups on the
            # driver's cursor (building these statements cost more than running them).
            mark = "?" if conn.dialect.name == "sqlite" else "%s"
            cur = conn.connection.cursor()
            cur.execute(f"SELECT receipt FROM webhook_deliveries WHERE webhook_id = {mark}",  # noqa: S608 (only placeholders are formatted in)
                        (webhook_id,))
            prior = cur.fetchone()
            if prior is not None:
                cur.close()
                return Planned([], _Delivery((), json.loads(prior[0]), new=False))
            names = sorted({e["window"] for e in events})
            marks = ",".join([mark] * len(names))  # placeholders only, never values
            query = ("SELECT w.window, w.subject, w.decision, w.opens_at, w.closes_at, "  # noqa: S608
                     "s.erased FROM p_windows AS w JOIN p_subjects AS s "
                     "ON s.subject = w.subject WHERE w.window IN (" + marks + ")")
            cur.execute(query, names)
            wins = {r[0]: _WindowRow(*r) for r in cur.fetchall()}
            cur.close()
            items: list[NewEntry] = []
            for e in events:
                w = wins.get(e["window"])
                reason = None
                if w is None:
                    reason = "unknown_window"
                elif "subject" in e and e["subject"] != w.subject:
                    reason = "subject_mismatch"
                elif w.erased:
                    reason = "subject_erased"
                elif w.decision is not None:
                    reason = "window_decided"
                elif e["at"] < w.opens_at:
                    reason = "before_open"
                elif e["at"] > w.closes_at:
                    reason = "after_close"
                body: dict[str, Any] = {"event_id": e["id"], "window": e["window"],
                                        "kind": e["kind"], "at": e["at"],
                                        "webhook_id": webhook_id}
                if "detail" in e:
                    body["detail"] = e["detail"]
                if reason is None:
                    assert w is not None
                    body["subject"] = w.subject
                    items.append(NewEntry("platform.event", "platform", body,
                                          idempotency_key=f"pe:{e['id']}"))
                else:
                    body["reason"] = reason
                    if "subject" in e:
                        body["subject"] = e["subject"]
                    if "detail" in body:
                        body["detail"] = error_code(body["detail"])
                    items.append(NewEntry("platform.quarantined", "platform", body,
                                          idempotency_key=f"pe:{e['id']}"))
            return Planned(items, _Delivery(tuple(items), {}, new=True))

        def finish(conn: Connection, delivery: _Delivery, receipts: list[Receipt]
                   ) -> _Delivery:
            # The receipt, as answered now and to every replay of this webhook-id.
            lines = []
            for item, rc in zip(delivery.items, receipts, strict=True):
                line: dict[str, Any] = {"id": item.body["event_id"], "index": rc.index}
                if rc.duplicate:
                    line["status"] = "duplicate"  # recorded under an earlier delivery
                elif item.type == "platform.event":
                    line["status"] = "accepted"
                else:
                    line |= {"status": "quarantined", "reason": item.body["reason"]}
                lines.append(line)
            receipt = {"webhook_id": webhook_id, "events": lines}
            insert_rows(conn, P.webhook_deliveries, [{
                "webhook_id": webhook_id, "receipt": json.dumps(receipt),
                "received_at": format_time(now)}])
            return replace(delivery, receipt=receipt)

        done = self._run_planned(now, plan, finish=finish).value
        return done.receipt, done.new

    def _parse_events(self, payload: Any, latest: datetime) -> list[dict[str, Any]]:
        if isinstance(payload, dict) and "events" in payload:
            if set(payload) != {"events"}:
                extra = sorted(set(payload) - {"events"})[0]
                raise Unprocessable(f"{extra}: unknown field", field=extra)
            raw = payload["events"]
            prefix = "events"
        else:
            raw = [payload]
            prefix = "event"
        if not isinstance(raw, list) or not raw:
            raise Unprocessable("events: give a non-empty list of events", field="events")
        if len(raw) > self.cfg.max_batch_events:
            raise Unprocessable(f"events: at most {self.cfg.max_batch_events} per delivery",
                                field="events")
        out: list[dict[str, Any]] = []
        errors: list[dict[str, object]] = []
        ids: set[str] = set()
        limit = format_time(latest)
        for i, ev in enumerate(raw):
            where = f"{prefix}[{i}]" if prefix == "events" else "event"
            try:
                parsed = _parse_event(ev, where)
            except BadData as exc:
                errors.append({"field": exc.field or where, "message": str(exc)})
                continue
            if parsed["id"] in ids:
                errors.append({"field": f"{where}.id", "message": "repeated in this delivery"})
            if parsed["at"] > limit:
                errors.append({"field": f"{where}.at", "message": (
                    f"{where}.at: {parsed['at']} is later than the delivery was sent (its "
                    f"webhook-timestamp plus {self.cfg.max_event_skew_s} s of clock skew); an "
                    "event is reported after it happened")})
            ids.add(parsed["id"])
            out.append(parsed)
        if errors:
            raise Unprocessable(f"{errors[0]['message']} ({len(errors)} problems; nothing "
                                "was recorded)", field=str(errors[0]["field"]), errors=errors)
        return out

    def quarantined(self, campaign: str | None, limit: int = 500) -> list[dict[str, Any]]:
        """Quarantined platform events, newest first (those of ``campaign``, or all).

        Raises:
            NotFound: ``campaign`` is given and no such campaign exists.
        """
        rows = self._campaigns.newest_first(P.quarantine, campaign, limit)
        return [{"index": r.idx, "event_id": r.event_id, "window": r.window,
                 "campaign": r.campaign, "kind": r.kind, "at": r.at, "reason": r.reason,
                 "webhook_id": r.webhook_id, "received_at": r.received_at} for r in rows]


_EVENT_FIELDS = {"id", "window", "kind", "at", "subject", "detail"}


def _parse_event(ev: Any, where: str) -> dict[str, Any]:
    if not isinstance(ev, dict):
        raise BadData(f"{where}: expected an object", field=where)
    only(ev, _EVENT_FIELDS, f"{where}.")
    out: dict[str, Any] = {}
    for key in ("id", "window"):
        value = req(ev, key, f"{where}.")
        identifier(value, f"{where}.{key}")
        out[key] = value
    kind = req(ev, "kind", f"{where}.")
    if kind not in PLATFORM_KINDS:
        raise BadData(f"{where}.kind: {kind!r} is not one of {', '.join(PLATFORM_KINDS)}",
                      field=f"{where}.kind")
    out["kind"] = kind
    out["at"] = format_time(parse_time(req(ev, "at", f"{where}."), f"{where}.at"))
    check_time(out["at"], f"{where}.at")
    if "subject" in ev:
        pseudonym(ev["subject"], f"{where}.subject")
        out["subject"] = ev["subject"]
    if "detail" in ev:
        identifier(ev["detail"], f"{where}.detail")
        out["detail"] = ev["detail"]
    return out
