"""The outbox: send due notifications through the configured channels, record each try.

A message is sent, then its outcome is appended (``notification.sent`` or
``notification.failed`` with the next attempt time, backing off, final after
``MAX_ATTEMPTS``).  Only the lease holder runs this, so a message is not sent twice by
two runners; a runner killed between the send and the record sends it again on the next
attempt (at-least-once, as e-mail and SMS are anyway).
"""

from __future__ import annotations

import logging
from collections import Counter
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo

from sqlalchemy import select

from ledger.absence import tables as P  # noqa: N812 (the tables, read as P.windows)
from ledger.absence.notify import MAX_ATTEMPTS, Channel, DeliveryFailed, OutgoingMessage, backoff_s
from ledger.absence.service import AbsenceService
from ledger.entry import parse_utc
from ledger.errors import LedgerError
from ledger.timetext import written_date

log = logging.getLogger(__name__)

_SUBJECTS = {
    "invitation": "AI面试邀请 / AI interview invitation",
    "makeup": "补考安排 / Make-up interview",
    "decision": "AI面试结果通知 / Your AI interview result",
    "appeal_ruling": "申诉处理结果 / Your appeal",
    "objection_statement": "公示异议告知 / An objection to your result",
}


def _local(text: str | None, tz: ZoneInfo) -> str:
    if not text:
        return ""
    return parse_utc(text).astimezone(tz).strftime(
        "%Y-%m-%d %H:%M")


def render(template: str, name: str, context: dict[str, Any]) -> tuple[str, str]:
    """(subject, text) of a message, in Chinese with English below."""
    reg = context.get("registration", "")
    title = context.get("title", "")
    if template in ("invitation", "makeup"):
        kind_zh = "补考" if template == "makeup" else "AI面试"
        text = (f"{name}，您好：您报名的「{title}」（报名号 {reg}）{kind_zh}时段为 "
                f"{context['opens']} 至 {context['closes']}（{context['tz']}），"
                "请在时段内完成面试。逾期未参加的，按规定处理。\n\n"
                f"Your {'make-up ' if template == 'makeup' else ''}AI interview for "
                f"registration {reg} is open from {context['opens']} to "
                f"{context['closes']} ({context['tz']}).")
    elif template == "decision":
        text = (f"{name}，您好：关于报名号 {reg} 的AI面试，{context['explanation_zh']}\n\n"
                f"Registration {reg}: {context['explanation_en']}")
    elif template == "objection_statement":
        until_zh = context.get("respond_by_zh", "")
        until_en = context.get("respond_by_en", "")
        url = context.get("status_url", "")
        where_zh = (f"您可以在考生查询页面 {url} 输入报名号和身份证号后4位，在线提交"
                    "陈述、申辩" if url else
                    "您可以在考生查询页面输入报名号和身份证号后4位，在线提交陈述、申辩")
        where_en = (f"You can state it on the candidate status page, {url}, with your "
                    "registration number and the last 4 characters of your ID number"
                    if url else "You can state it on the candidate status page with your "
                    "registration number and the last 4 characters of your ID number")
        text = (f"{name}，您好：公示期间，有人对您（报名号 {reg}）的公示结果提出了异议。"
                "在作出对您不利的处理前，您有权陈述、申辩。"
                + (f"请于{until_zh}24时前（北京时间）提交。" if until_zh else
                   "请在告知的期限内提交。")
                + f"{where_zh}，也可与招聘单位人事部门联系。\n\n"
                f"An objection was raised to the published result of registration {reg}. "
                "Before any ruling against you, you may state your case"
                + (f" by the end of {until_en} (Beijing time)" if until_en else "")
                + f". {where_en}, or contact the HR office.")
    else:
        ruling = context.get("ruling", "")
        zh = "申诉成立，原决定已撤销" if ruling == "overturned" else "维持原决定"
        text = (f"{name}，您好：您（报名号 {reg}）的申诉已处理：{zh}。\n\n"
                f"Your appeal (registration {reg}) was {ruling}.")
    return _SUBJECTS[template], text


#: The error recorded for an invitation whose window closed before it could be sent.
EXPIRED = "window_closed"


def dispatch(service: AbsenceService, channels: dict[str, Channel], now: datetime, *,
             limit: int = 500, base_url: str = "") -> Counter[str]:
    """Try every due notification once; return counts by outcome.  ``base_url`` (the
    configured ``[publicity] base_url``) gives messages the status page's address.

    An invitation whose window has closed is not sent any more (it would invite to
    the past): it is recorded as failed with ``window_closed``.  Campaigns that saw a
    final failure are checked for a notification-failure alert at once.
    """
    counts: Counter[str] = Counter()
    failed_subjects: set[str] = set()
    for row in service.due_notifications(now, limit):
        attempt = row.attempts + 1
        try:
            if row.template in ("invitation", "makeup") and _window_closed(service, row, now):
                raise DeliveryFailed(EXPIRED, permanent=True)
            recipient = service.recipient(row.subject, row.channel)
            if recipient is None:
                raise DeliveryFailed("no_address", permanent=True)
            name, to = recipient
            subject, text = render(row.template, name, _context(service, row, base_url))
            provider_id = channels[row.channel].send(OutgoingMessage(
                reference=row.notification, channel=row.channel, to=to, subject=subject,
                text=text))
        except DeliveryFailed as exc:
            final = exc.permanent or attempt >= MAX_ATTEMPTS
            retry = None if final else now + timedelta(seconds=backoff_s(attempt))
            outcome = "failed" if final else "retry"
            if exc.code == EXPIRED:
                outcome = "expired"
            elif final:
                failed_subjects.add(row.subject)
            _record(service, counts, outcome, row.notification, attempt, now,
                    error=exc.code, final=final, retry_at=retry)
            continue
        except LedgerError:
            log.exception("notification %s could not be prepared", row.notification)
            counts["error"] += 1
            continue
        _record(service, counts, "sent", row.notification, attempt, now,
                provider_id=provider_id)
    if failed_subjects:
        with service.engine.connect() as conn:
            campaigns = set(conn.execute(select(P.subjects.c.campaign).where(
                P.subjects.c.subject.in_(failed_subjects))).scalars())
        for campaign in sorted(campaigns):
            try:
                service.raise_alerts(campaign, now)
            except LedgerError:
                log.exception("could not check campaign %s for alerts", campaign)
    return counts


def _record(service: AbsenceService, counts: Counter[str], outcome: str, notification: str,
            attempt: int, now: datetime, **kw: Any) -> None:
    # A send that happened but could not be recorded is retried by the next run
    # (at-least-once); one bad record must not stop the others being sent.
    try:
        service.record_attempt(notification, attempt, now, **kw)
        counts[outcome] += 1
    except LedgerError:
        log.exception("the outcome of notification %s could not be recorded", notification)
        counts["unrecorded"] += 1


def _window_closed(service: AbsenceService, row: Any, now: datetime) -> bool:
    if not row.window:
        return False
    with service.engine.connect() as conn:
        w = conn.execute(select(P.windows.c.closes_at, P.windows.c.decision).where(
            P.windows.c.window == row.window)).first()
    return w is not None and (w.decision is not None
                              or parse_utc(w.closes_at)
                              <= now)


def _context(service: AbsenceService, row: Any, base_url: str = "") -> dict[str, Any]:
    with service.engine.connect() as conn:
        subj = conn.execute(select(P.subjects.c.registration, P.campaigns.c.title,
                                   P.campaigns.c.timezone, P.campaigns.c.campaign)
                            .join(P.campaigns, P.campaigns.c.campaign == P.subjects.c.campaign)
                            .where(P.subjects.c.subject == row.subject)).one()
        tz = ZoneInfo(subj.timezone)
        ctx: dict[str, Any] = {"registration": subj.registration, "title": subj.title,
                               "tz": subj.timezone}
        if row.window:
            w = conn.execute(select(P.windows.c.opens_at, P.windows.c.closes_at)
                             .where(P.windows.c.window == row.window)).first()
            if w is not None:
                ctx["opens"], ctx["closes"] = _local(w.opens_at, tz), _local(w.closes_at, tz)
        if row.template == "objection_statement":
            # Queued with the invitation (objection.statement_invited), whose last day
            # is the subject's latest invitation's.
            by = conn.execute(select(P.objections.c.respond_by).where(
                P.objections.c.subject == row.subject,
                P.objections.c.respond_by.is_not(None))
                .order_by(P.objections.c.idx.desc()).limit(1)).scalar()
            if by:
                day = (parse_utc(by).astimezone(tz) - timedelta(microseconds=1)).date()
                ctx["respond_by_zh"] = written_date(day, "zh")
                ctx["respond_by_en"] = written_date(day, "en")
            if base_url:
                ctx["status_url"] = (f"{base_url.rstrip('/')}/status?campaign="
                                     f"{quote(subj.campaign, safe='')}")
        if row.appeal:
            ctx["ruling"] = conn.execute(select(P.appeals.c.ruling).where(
                P.appeals.c.appeal == row.appeal)).scalar()
    if row.template == "decision" and row.decision:
        ex = service.decision(row.decision).get("explanation") or {}
        ctx["explanation_zh"] = ex.get("zh", "")
        ctx["explanation_en"] = ex.get("en", "")
    ctx.setdefault("opens", "")
    ctx.setdefault("closes", "")
    return ctx
