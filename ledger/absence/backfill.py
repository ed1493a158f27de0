"""递补 (filling a vacancy): rankings imported, vacancies answered, proposals ruled.

A vacancy is answered by the sweep (``propose_due``), not in the decision's own
transaction: decisions come from the sweep, reviews and appeals, and one pass after
them answers every vacancy whichever path made it, leaving the decision path as it
was.  It is idempotent (each pass re-reads, under the log's lock, which vacancies have
an answer: a vacancy is answered once, a candidate vacates once) and deterministic
(vacancies in order of when they arose, then of the vacated candidates' ranks; the
answer depends on the ledger only: the vacancy's own time, the policy, the ranking, the
calendar).  A written
withdrawal or disqualification HR records (``record_vacancy``) is answered in its own
transaction.  A decline proposes the next candidate (or says why not) in the decline's
transaction.  Time is always the ``now`` parameter.

The scores are personal data: each candidate's are sealed in ``vault_documents``
(document ``score:<ranking>:<subject>``, erased with the subject); the ledger holds an
HMAC of the whole list under a key derived from the master key, and the ranks.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Any
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Connection, func, insert, select

from ledger import jcs
from ledger.absence import tables as P  # noqa: N812 (the tables, read as P.windows)
from ledger.absence.backfill_rules import Ranked, Vacancy, next_eligible, unfilled_reason
from ledger.absence.campaigns import Campaigns, CampaignUseCase
from ledger.absence.context import Caller, Context, new_id, row_by_key
from ledger.absence.entries import UNFILLED_REASONS
from ledger.absence.fields import (
    check_id,
    choice,
    makeup_times,
    only,
    parse_time,
    req,
    stated_reason,
)
from ledger.absence.imports import registration_key
from ledger.absence.rankings import parse_ranking, rank_order
from ledger.absence.rules import Policy
from ledger.absence.windows import window_entries
from ledger.entry import format_time, parse_utc
from ledger.errors import (
    BadData,
    Conflict,
    CouldNotCheck,
    LedgerError,
    NotFound,
    Unprocessable,
)
from ledger.storage.store import NewEntry, Planned
from ledger.workdays import WorkingDays

log = logging.getLogger(__name__)

SCORE_KEY_INFO = b"absentia ranking scores v1"
DIGEST_KEY_INFO = b"absentia ranking digest v1"
#: What a row of ``p_backfills`` can be: a proposal's state, or an explicit "not filled".
BACKFILL_STATUSES = ("proposed", "approved", "declined", "unfilled")
#: Final absence outcomes that leave a vacancy (a make-up case once a reviewer confirms).
VACATING_OUTCOMES = ("forfeited", "locked")


def _derive(master_key: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(master_key)


def _decimal(value: Any, name: str) -> Decimal:
    try:
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            raise InvalidOperation
        number = Decimal(str(value).strip())
    except InvalidOperation:
        number = Decimal("NaN")
    if not number.is_finite() or not 0 <= number <= 1000:
        raise BadData(f"{name}: a score between 0 and 1000", field=name)
    return number


def _count(value: Any, name: str) -> int:
    text = str(value).strip() if isinstance(value, str | int) and not isinstance(
        value, bool) else ""
    if not text.isdigit() or not 0 < int(text) <= 10000:
        raise BadData(f"{name}: a whole number 1..10000", field=name)
    return int(text)


def _day(value: Any, name: str) -> date:
    try:
        if not isinstance(value, str) or len(value.strip()) != 10:
            raise ValueError
        return date.fromisoformat(value.strip())
    except ValueError:
        raise BadData(f"{name}: a date YYYY-MM-DD", field=name) from None


@dataclass
class _State:
    """What answering a campaign's vacancies reads, under the log's lock."""

    tz: ZoneInfo
    policy: Policy
    posts: dict[str, tuple[str, date]]  # post -> (ranking, interview day)
    ranked: dict[str, list[Ranked]]  # post -> its ranking
    post_of: dict[str, str]  # ranked subject -> post
    excluded: set[str] = field(default_factory=set)  # never proposed (again)
    answered: set[str] = field(default_factory=set)  # vacancies with an answer
    vacated: set[str] = field(default_factory=set)  # subjects whose vacancy is answered
    promoted_round: dict[str, int] = field(default_factory=dict)  # subject -> round


class Backfill(CampaignUseCase):
    """Import rankings, answer vacancies, approve or decline proposals."""

    def __init__(self, ctx: Context, campaigns: Campaigns, master_key: bytes,
                 calendar: WorkingDays) -> None:
        """递补 over ``campaigns``; scores sealed and the list digested under keys
        derived from ``master_key``; deadlines counted on ``calendar``."""
        super().__init__(ctx, campaigns)
        self._score_key = AESGCM(_derive(master_key, SCORE_KEY_INFO))
        self._digest_key = _derive(master_key, DIGEST_KEY_INFO)
        self.calendar = calendar

    # -- rankings ---------------------------------------------------------------

    def import_ranking(self, caller: Caller, campaign: str, data: bytes, content_type: str,
                       params: Mapping[str, Any], now: datetime) -> dict[str, Any]:
        """Import one post's ranked list (CSV or .xlsx): all rows or none.

        ``params``: ``{"post", "pass_line", "places", "interview_day"}`` (the pass line a
        score, places the number of interview places, the interview day YYYY-MM-DD).

        Raises:
            BadData: a parameter or the file is invalid (named).  NotFound: no such
                campaign or post.  Unprocessable: rows have errors, or name candidates
                who are not the post's (each listed with its spreadsheet row).
            Conflict: the post has a ranking already.
        """
        only(params, {"post", "pass_line", "places", "interview_day"}, "")
        post = check_id(req(params, "post"), "post")
        pass_line = _decimal(req(params, "pass_line"), "pass_line")
        places = _count(req(params, "places"), "places")
        interview_day = _day(req(params, "interview_day"), "interview_day")
        info = self._campaigns.campaign(campaign)
        if post not in {p["post"] for p in info["posts"]}:
            raise NotFound(f"post: {post!r} is not a post of {campaign}", field="post")
        ties = self.policy_by_digest(info["policy_digest"]).backfill_tie_rule
        ordered = rank_order(parse_ranking(data, content_type, ties=ties), ties)
        ranking = new_id("r")
        qualified = sum(1 for r in ordered if r.score >= pass_line)
        digest = hmac.new(self._digest_key, jcs.canonical({
            "campaign": campaign, "post": post, "pass_line": str(pass_line),
            "places": places, "interview_day": interview_day.isoformat(), "ties": ties,
            "rows": [[r.registration, str(r.score),
                      None if r.written is None else str(r.written)] for r in ordered],
        }), hashlib.sha256).hexdigest()

        def plan(conn: Connection) -> list[NewEntry]:
            if conn.execute(select(P.rankings.c.ranking).where(
                    P.rankings.c.campaign == campaign, P.rankings.c.post == post)).first():
                raise Conflict(f"post {post} has a ranking already", field="post")
            keys = {registration_key(r.registration) for r in ordered}
            known = {row.registration_key: row for row in conn.execute(
                select(P.subjects.c.subject, P.subjects.c.post,
                       P.subjects.c.registration_key).where(
                    P.subjects.c.campaign == campaign,
                    P.subjects.c.registration_key.in_(keys)))}
            errors: list[dict[str, object]] = []
            for r in ordered:
                found = known.get(registration_key(r.registration))
                if found is None:
                    errors.append({"row": r.row, "field": "registration",
                                   "message": "is not a candidate of this campaign"})
                elif found.post != post:
                    errors.append({"row": r.row, "field": "registration",
                                   "message": "is a candidate of another post"})
            if errors:
                errors.sort(key=lambda e: int(str(e["row"])))
                raise Unprocessable(f"{len(errors)} rows name no candidate of the post; "
                                    "nothing was imported", field="rows", errors=errors)
            items = [NewEntry("ranking.imported", caller.actor, {
                "ranking": ranking, "campaign": campaign, "post": post, "digest": digest,
                "ranked": len(ordered), "qualified": qualified, "places": places,
                "interview_day": interview_day.isoformat(), "ties": ties})]
            docs = []
            for rank, r in enumerate(ordered, start=1):
                subject = known[registration_key(r.registration)].subject
                items.append(NewEntry("ranking.ranked", caller.actor, {
                    "ranking": ranking, "subject": subject, "rank": rank,
                    "passed": "yes" if r.score >= pass_line else "no"}))
                document = f"score:{ranking}:{subject}"
                nonce = secrets.token_bytes(12)
                plain = jcs.canonical({"score": str(r.score), "written": None if r.written
                                       is None else str(r.written)})
                docs.append({"document": document, "subject": subject,
                             "ciphertext": nonce + self._score_key.encrypt(
                                 nonce, plain, document.encode())})
            conn.execute(insert(P.vault_documents), docs)
            return items

        receipts = self._run(now, plan)
        return {"ranking": ranking, "campaign": campaign, "post": post,
                "ranked": len(ordered), "qualified": qualified, "places": places,
                "interview_day": interview_day.isoformat(), "ties": ties, "digest": digest,
                "ledger_index": receipts[0].index}

    def rankings(self, campaign: str) -> list[dict[str, Any]]:
        """The campaign's rankings (counts, no scores), by post.

        Raises:
            NotFound: no such campaign.
        """
        self._campaigns.campaign(campaign)
        with self.read() as conn:
            rows = conn.execute(select(P.rankings).where(P.rankings.c.campaign == campaign)
                                .order_by(P.rankings.c.post)).all()
        return [{"ranking": r.ranking, "post": r.post, "ranked": r.ranked,
                 "qualified": r.qualified, "places": r.places,
                 "interview_day": r.interview_day, "ties": r.ties, "digest": r.digest,
                 "imported_at": r.imported_at, "ledger_index": r.idx} for r in rows]

    # -- vacancies ----------------------------------------------------------------

    def record_vacancy(self, caller: Caller, campaign: str, data: Mapping[str, Any],
                       now: datetime) -> dict[str, Any]:
        """Record a written withdrawal or a disqualification, and answer it at once.

        ``{"registration", "kind": "withdrawn_in_writing"|"disqualified", "at"}`` (``at``:
        when the withdrawal was made or the disqualification took effect, not after now).

        Raises:
            BadData: invalid fields (named).  NotFound: no such campaign or candidate.
            Conflict: the candidate has left already.
        """
        only(data, {"registration", "kind", "at"}, "")
        kind = choice(data, "kind", ("withdrawn_in_writing", "disqualified"))
        at = parse_time(req(data, "at"), "at")
        if at > now:
            raise BadData("at: must not be in the future", field="at")
        reg = req(data, "registration")
        if not isinstance(reg, str):
            raise BadData("registration: a registration number", field="registration")
        self._campaigns.campaign(campaign)
        vacancy = new_id("v")

        def plan(conn: Connection) -> Planned[str | None]:
            subject = conn.execute(select(P.subjects.c.subject).where(
                P.subjects.c.campaign == campaign,
                P.subjects.c.registration_key == registration_key(reg.strip()))).scalar()
            if subject is None:
                raise NotFound("registration: not a candidate of this campaign",
                               field="registration")
            state = self._state(conn, campaign)
            if subject in state.vacated or conn.execute(select(P.vacancies.c.vacancy).where(
                    P.vacancies.c.subject == subject)).first():
                raise Conflict("this candidate has left already", field="registration")
            items = [NewEntry("vacancy.recorded", caller.actor, {
                "vacancy": vacancy, "campaign": campaign, "subject": subject, "kind": kind,
                "at": format_time(at)})]
            answer = None
            if subject in state.post_of:
                local = at.astimezone(state.tz).date()
                v = Vacancy(vacancy, subject, kind, local, local,
                            state.promoted_round.get(subject, 0) + 1)
                answer = self._answer(v, campaign, state)
                items.append(answer)
            return Planned(items, answer.type if answer else None)

        answered = self._run_planned(now, plan).value
        return {"vacancy": vacancy, "kind": kind, "answer": answered}

    def propose_due(self, now: datetime) -> int:
        """Answer every vacancy of every campaign that has no answer yet: a proposal, or
        ``backfill.unfilled`` with the reason; return how many were answered."""
        with self.read() as conn:
            campaigns = conn.execute(select(P.rankings.c.campaign).distinct()
                                     .order_by(P.rankings.c.campaign)).scalars().all()
        answered = 0
        for campaign in campaigns:
            try:
                # Most passes find nothing new: look first without the log's write lock.
                with self.read() as conn:
                    if not self._answer_campaign(conn, campaign=campaign).value:
                        continue
                answered += self._run_planned(
                    now, partial(self._answer_campaign, campaign=campaign)).value
            except LedgerError as exc:
                # One campaign's calendar year or policy is missing: answer the others;
                # its vacancies wait (unanswered, so the next pass tries again).
                log.error("campaign %s: vacancies not answered: %s", campaign, exc)
        return answered

    def _answer_campaign(self, conn: Connection, *, campaign: str) -> Planned[int]:
        state = self._state(conn, campaign)
        if not state.post_of:
            return Planned([], 0)
        d = P.decisions.c
        found: list[tuple[str, str, str, str]] = []  # (at, vacancy, subject, kind)
        for r in conn.execute(select(d.decision, d.subject, d.decided_at).where(
                d.campaign == campaign, d.superseded_by.is_(None),
                d.subject.in_(list(state.post_of)),
                d.outcome.in_(VACATING_OUTCOMES)
                | ((d.outcome == "makeup_pending_review") & (d.review == "confirmed")))):
            found.append((r.decided_at, r.decision, r.subject, "absence"))
        for r in conn.execute(select(P.vacancies).where(P.vacancies.c.campaign == campaign)):
            found.append((r.at, r.vacancy, r.subject, r.kind))
        items: list[NewEntry] = []
        # Deterministic: by when they arose, then by the vacated candidate's rank.
        rank = {r.subject: r.rank for post in state.ranked.values() for r in post}
        for at, vacancy, subject, kind in sorted(
                found, key=lambda f: (f[0], rank.get(f[2], 0), f[1])):
            if (vacancy in state.answered or subject in state.vacated
                    or subject not in state.post_of):
                continue
            local = parse_utc(at).astimezone(state.tz).date()
            v = Vacancy(vacancy, subject, kind, local, local,
                        state.promoted_round.get(subject, 0) + 1)
            items.append(self._answer(v, campaign, state))
        return Planned(items, len(items))

    def _state(self, conn: Connection, campaign: str) -> _State:
        camp = conn.execute(select(P.campaigns.c.timezone, P.campaigns.c.policy_digest).where(
            P.campaigns.c.campaign == campaign)).one()
        posts = {r.post: (r.ranking, date.fromisoformat(r.interview_day)) for r in
                 conn.execute(select(P.rankings).where(P.rankings.c.campaign == campaign))}
        state = _State(ZoneInfo(camp.timezone), self.policy_by_digest(camp.policy_digest),
                       posts, {p: [] for p in posts}, {})
        for r in conn.execute(select(P.ranked).where(P.ranked.c.campaign == campaign)
                              .order_by(P.ranked.c.rank)):
            state.ranked[r.post].append(Ranked(r.subject, r.rank, bool(r.passed)))
            state.post_of[r.subject] = r.post
        state.excluded |= set(conn.execute(select(P.windows.c.subject).where(
            P.windows.c.campaign == campaign)).scalars())
        state.excluded |= set(conn.execute(select(P.subjects.c.subject).where(
            P.subjects.c.campaign == campaign,
            (P.subjects.c.locked == 1) | (P.subjects.c.erased == 1))).scalars())
        state.excluded |= set(conn.execute(select(P.vacancies.c.subject).where(
            P.vacancies.c.campaign == campaign)).scalars())
        for r in conn.execute(select(P.backfills).where(P.backfills.c.campaign == campaign)):
            state.answered.add(r.vacancy)
            state.vacated.add(r.vacated)
            state.excluded.add(r.vacated)
            if r.subject is not None:
                state.excluded.add(r.subject)
                if r.status == "approved":
                    state.promoted_round[r.subject] = max(
                        r.round, state.promoted_round.get(r.subject, 0))
        return state

    def _answer(self, v: Vacancy, campaign: str, state: _State) -> NewEntry:
        """The answer to ``v``: a proposal, or why it stays unfilled; ``state`` is
        updated as if the answer were already projected (one pass answers many)."""
        post = state.post_of[v.vacated]
        interview_day = state.posts[post][1]
        reason = unfilled_reason(v, state.policy, interview_day, self.calendar)
        pick = None
        if reason is None:
            pick = next_eligible(state.ranked[post], state.excluded | {v.vacated})
            reason = None if pick is not None else "no_eligible"
        state.answered.add(v.vacancy)
        state.vacated.add(v.vacated)
        state.excluded.add(v.vacated)
        base = {"campaign": campaign, "post": post, "vacancy": v.vacancy,
                "vacated": v.vacated, "round": v.round}
        if pick is None:
            assert reason is not None
            return NewEntry("backfill.unfilled", "system", {**base, "reason": reason})
        state.excluded.add(pick.subject)
        return NewEntry("backfill.proposed", "system", {
            **base, "proposal": new_id("bf"), "subject": pick.subject, "rank": pick.rank})

    # -- rulings ------------------------------------------------------------------

    def approve(self, caller: Caller, proposal: str, data: Mapping[str, Any], now: datetime
                ) -> dict[str, Any]:
        """Approve a proposal: the candidate is invited to a window (and notified
        within the policy's hour, like any invitation).

        ``{"opens_at", "closes_at", "reason"?}``

        Raises:
            BadData: invalid fields.  NotFound: no such proposal.
            Conflict: not open (approved or declined already), or the candidate is
                locked, erased or has an undecided window.
        """
        only(data, {"opens_at", "closes_at", "reason"}, "")
        opens, closes = makeup_times(data, now)
        reason = stated_reason(data)

        def plan(conn: Connection) -> list[NewEntry]:
            row = self._open_proposal(conn, proposal)
            subj = conn.execute(select(P.subjects).where(
                P.subjects.c.subject == row.subject)).one()
            if subj.locked or subj.erased:
                raise Conflict(f"the candidate is {'locked' if subj.locked else 'erased'}",
                               field="proposal")
            if conn.execute(select(P.windows.c.window).where(
                    P.windows.c.subject == row.subject,
                    P.windows.c.decision.is_(None))).first():
                raise Conflict("the candidate already has an undecided window",
                               field="proposal")
            w = new_id("w")
            body: dict[str, Any] = {"proposal": proposal, "window": w}
            if reason:
                body["reason"] = reason
            return [NewEntry("backfill.approved", caller.actor, body),
                    *window_entries(caller, row.campaign, row.subject, subj.contact, w,
                                    opens, closes, "backfill", "regular", None, now)]

        self._run(now, plan)
        return self.proposal(proposal)

    def decline(self, caller: Caller, proposal: str, data: Mapping[str, Any], now: datetime
                ) -> dict[str, Any]:
        """Decline a proposal with a reason; the next eligible candidate is proposed in
        the same transaction, or the vacancy's next round says why not.

        ``{"reason"}`` (required: 1..200 printable characters, no personal data).

        Raises:
            BadData: no reason, or an invalid one.  NotFound: no such proposal.
            Conflict: not open.
        """
        only(data, {"reason"}, "")
        reason = stated_reason(data)
        if reason is None:
            raise BadData("reason: say why the proposal is declined", field="reason")

        def plan(conn: Connection) -> list[NewEntry]:
            row = self._open_proposal(conn, proposal)
            state = self._state(conn, row.campaign)
            own = conn.execute(select(P.vacancies).where(
                P.vacancies.c.vacancy == row.vacancy)).first()
            if own is not None:
                kind, arose_at = own.kind, own.at
            else:
                kind = "absence"
                arose_at = conn.execute(select(P.decisions.c.decided_at).where(
                    P.decisions.c.decision == row.vacancy)).scalar_one()
            arose = parse_utc(arose_at).astimezone(state.tz).date()
            v = Vacancy(row.vacancy, row.vacated, kind, arose, now.astimezone(state.tz).date(),
                        row.round + 1)
            return [NewEntry("backfill.declined", caller.actor,
                             {"proposal": proposal, "reason": reason}),
                    self._answer(v, row.campaign, state)]

        self._run(now, plan)
        return self.proposal(proposal)

    def _open_proposal(self, conn: Connection, proposal: str) -> Any:
        row = row_by_key(conn, P.backfills.c.item, proposal)
        if row.subject is None:
            raise NotFound(f"no proposal {proposal!r}", field="proposal")
        if row.status != "proposed":
            raise Conflict(f"proposal {proposal} is {row.status} already", field="proposal")
        return row

    # -- reads ----------------------------------------------------------------------

    def proposal(self, proposal: str) -> dict[str, Any]:
        """One proposal with its candidates' registration numbers.

        Raises:
            NotFound: no such proposal.
        """
        with self.read() as conn:
            row = row_by_key(conn, P.backfills.c.item, proposal)
            regs = _registrations(conn, {row.vacated, row.subject})
        return _item_json(row, regs)

    def backfills(self, campaign: str) -> list[dict[str, Any]]:
        """Every answer to the campaign's vacancies (proposals and unfilled), oldest
        first, with registration numbers (public) but no names or scores.

        Raises:
            NotFound: no such campaign.
        """
        self._campaigns.campaign(campaign)
        with self.read() as conn:
            rows = conn.execute(select(P.backfills).where(P.backfills.c.campaign == campaign)
                                .order_by(P.backfills.c.idx)).all()
            regs = _registrations(conn, {r.vacated for r in rows} | {r.subject for r in rows})
        return [_item_json(r, regs) for r in rows]

    def backfill_list_document(self, notice: str) -> bytes:
        """The published bytes of a 递补名单 (``backfill.list_published``), checked
        against the SHA-256 the ledger holds.

        Raises:
            NotFound: no such notice.  CouldNotCheck: the stored bytes do not match.
        """
        with self.read() as conn:
            row = conn.execute(select(P.backfill_lists.c.sha256, P.notice_documents.c.html)
                               .join(P.notice_documents,
                                     P.notice_documents.c.notice == P.backfill_lists.c.notice)
                               .where(P.backfill_lists.c.notice == notice)).first()
        if row is None:
            raise NotFound(f"no 递补 notice {notice!r}", field="notice")
        data = bytes(row.html)
        if hashlib.sha256(data).hexdigest() != row.sha256:
            raise CouldNotCheck("the stored notice does not match its ledger record",
                                field="notice")
        return data

    def backfill_statistics(self, campaign: str) -> dict[str, Any]:
        """Counts: vacancies answered, proposals by status, vacancies filled, and the
        vacancies whose last answer left them unfilled, by reason.

        Raises:
            NotFound: no such campaign.
        """
        self._campaigns.campaign(campaign)
        b = P.backfills.c
        with self.read() as conn:
            by_status: dict[str, int] = dict(conn.execute(select(b.status, func.count()).where(
                b.campaign == campaign).group_by(b.status)).all())
            rows = conn.execute(select(b.vacancy, b.status, b.reason).where(
                b.campaign == campaign).order_by(b.idx)).all()
        last: dict[str, tuple[str, str | None]] = {}
        filled: set[str] = set()
        for r in rows:
            last[r.vacancy] = (r.status, r.reason)
            if r.status == "approved":
                filled.add(r.vacancy)
        unfilled = {reason: 0 for reason in UNFILLED_REASONS}
        for vacancy, (status, why) in last.items():
            if status == "unfilled" and vacancy not in filled and why in unfilled:
                unfilled[why] += 1
        return {"vacancies": len(last), "filled": len(filled),
                "proposals": sum(n for s, n in by_status.items() if s != "unfilled"),
                "approved": by_status.get("approved", 0),
                "declined": by_status.get("declined", 0),
                "pending": by_status.get("proposed", 0), "unfilled": unfilled}


def _registrations(conn: Connection, subjects: set[str | None]) -> dict[str, str]:
    wanted = {s for s in subjects if s}
    if not wanted:
        return {}
    return {r.subject: r.registration for r in conn.execute(
        select(P.subjects.c.subject, P.subjects.c.registration).where(
            P.subjects.c.subject.in_(wanted)))}


def _item_json(r: Any, regs: Mapping[str, str]) -> dict[str, Any]:
    return {"item": r.item, "proposal": r.item if r.subject else None,
            "campaign": r.campaign, "post": r.post, "vacancy": r.vacancy,
            "vacated": r.vacated, "vacated_registration": regs.get(r.vacated),
            "subject": r.subject, "registration": regs.get(r.subject) if r.subject else None,
            "rank": r.rank, "round": r.round, "status": r.status, "reason": r.reason,
            "window": r.window, "at": r.at, "decided_at": r.decided_at,
            "decided_by": r.decided_by, "ledger_index": r.idx}
