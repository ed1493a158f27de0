"""Commands of the absence domain: each checks state, appends entries, projects them.

Every method that changes anything runs through ``LedgerStore.execute``: the checks
read the projections under the log's write lock, the entries are appended and the
projections updated in one transaction.  Time is always the ``now`` parameter; the
web and scheduler adapters read the clock.  Personal data goes to the vault (in the
same transaction) and never into an entry.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Connection, func, insert, select, update

from ledger import jcs
from ledger.absence import projection as P  # noqa: N812 (the tables, read as P.windows)
from ledger.absence.anomaly import DecidedWindow, detect
from ledger.absence.entries import ROLES, public_text
from ledger.absence.imports import REGISTRATION_RE, parse_candidates, registration_key
from ledger.absence.rules import (
    AbsenceDecision,
    Cause,
    Explanation,
    NotificationFact,
    Outcome,
    PlatformFact,
    Policy,
    WindowFacts,
    decide,
    explain,
)
from ledger.absence.settings import AbsenceSettings
from ledger.absence.vault import (
    PersonalDetails,
    SealedPerson,
    Vault,
    new_subject_id,
    normalise_id_number,
)
from ledger.entry import check_time, format_time
from ledger.errors import BadData, Conflict, NotAllowed, NotFound, Unprocessable
from ledger.events import PLATFORM_KINDS, identifier
from ledger.storage.store import LedgerStore, NewEntry, Plan, Receipt

log = logging.getLogger(__name__)

_ID_CHARS = "abcdefghijklmnopqrstuvwxyz234567"
MAX_STATEMENT_CHARS = 2000
STATEMENT_MAC_INFO = b"absentia appeal statement mac v1"
#: The fields each purpose of a personal-data read returns (minimum necessity): contact
#: needs the channels, not the ID number; an audit checks identity, not the channels.
PURPOSE_FIELDS: dict[str, tuple[str, ...]] = {
    "contact": ("name", "phone", "email"),
    "review": ("name", "id_number", "phone", "email"),
    "appeal": ("name", "id_number", "phone", "email"),
    "audit": ("name", "id_number"),
}
#: Purposes that read a case under review: allowed only while the subject has a current
#: decision pending review or an open appeal.
UNDER_REVIEW_PURPOSES = ("review", "appeal")


def new_id(prefix: str) -> str:
    """A random identifier such as ``w_k3x...`` (16 base32 characters, 80 bits)."""
    return prefix + "_" + "".join(secrets.choice(_ID_CHARS) for _ in range(16))


#: The earliest year a time may have (in UTC): four digits, as RFC 3339 writes it.
MIN_YEAR = 1000


def parse_time(value: Any, field: str) -> datetime:
    """An RFC 3339 time with an offset, as an aware datetime.

    Raises:
        BadData: not a string, not RFC 3339, or without an offset.
    """
    if not isinstance(value, str):
        raise BadData(f"{field}: expected an RFC 3339 time string", field=field)
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise BadData(f"{field}: {value!r} is not an RFC 3339 time", field=field) from None
    if moment.tzinfo is None:
        raise BadData(f"{field}: give a time zone offset, e.g. +08:00 or Z", field=field)
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+08:00, 9999-12-31T23:59-08:00
        raise BadData(f"{field}: {value!r} is out of range", field=field) from None
    if utc.year < MIN_YEAR:
        # RFC 3339 years have four digits; the ledger writes times in UTC.
        raise BadData(f"{field}: {value!r} is before the year {MIN_YEAR}", field=field)
    return moment


def _t(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def explanation_digest(zh: str, en: str) -> str:
    """SHA-256 of the RFC 8785 JSON ``{"en", "zh"}``: what a decision told the candidate."""
    return _sha256_hex(jcs.canonical({"en": en, "zh": zh}))


def explanation_of(d: AbsenceDecision, outcome: str, policy: Policy, tz: ZoneInfo
                   ) -> Explanation:
    """What a decision with ``outcome`` tells the candidate (the text its digest covers)."""
    ex = explain(d, policy, tz)
    if outcome == "makeup_granted":
        ex = Explanation(zh="经申诉复核，原缺考认定被撤销，安排补考。" + ex.zh,
                         en="On appeal the absence ruling was overturned and a "
                            "make-up session is granted. " + ex.en)
    return ex


def _check_id(value: Any, field: str) -> str:
    identifier(value, field)
    return str(value)


@dataclass(frozen=True)
class _WindowRow:
    window: str
    subject: str
    decision: str | None
    opens_at: str
    closes_at: str
    erased: int


@dataclass(frozen=True)
class Caller:
    """Who issues a command: the ledger actor string and the role."""

    actor: str
    role: str


SYSTEM = Caller("scheduler", "system")


class AbsenceService:
    """The absence domain over one ledger log, a vault and configured policies."""

    def __init__(self, store: LedgerStore, settings: AbsenceSettings, master_key: bytes
                 ) -> None:
        """Raises ``BadData`` if the master key is not 32 bytes."""
        self.store = store
        self.cfg = settings
        self.vault = Vault(master_key)
        self.log = settings.log
        # Appeal statements are sealed under a key derived from the master key.
        self._doc_key = AESGCM(HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                                    info=b"absentia documents v1").derive(master_key))
        # ... and the ledger holds their HMAC under another derived key (a plain hash
        # would let anyone confirm a guessed statement).
        self._statement_mac_key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                                       info=STATEMENT_MAC_INFO).derive(master_key)
        # What a lookup opens when the registration number is unknown or erased, so
        # that every lookup does the same work (one query, one vault opening, one
        # comparison).  Its ID number is lower-case letters: no well-formed factor
        # (digits and X) can equal its end, and a match with it is refused anyway.
        self._decoy_subject = new_subject_id()
        self._decoy = self.vault.seal(self._decoy_subject, PersonalDetails(
            name="-", id_number="".join(secrets.choice("abcdefghijklmnopqrstuvwxyz")
                                        for _ in range(18)), phone="", email=""))

    # -- plumbing -----------------------------------------------------------------

    def ensure_schema(self, now: datetime) -> None:
        """Record every configured policy not yet in the ledger.  The tables are the
        migrations' (``ledger.migrations.upgrade``, run when the store is opened)."""
        todo = [p for p in self.cfg.policies.values() if not self._policy_known(p.digest())]
        if todo:
            self._run(now, lambda conn: [e for p in todo
                                         for e in self._adopt(conn, p)])

    def _policy_known(self, digest: str) -> bool:
        with self.store.engine.connect() as conn:
            return conn.execute(select(P.policies.c.digest)
                                .where(P.policies.c.digest == digest)).first() is not None

    def _adopt(self, conn: Connection, policy: Policy) -> list[NewEntry]:
        digest = policy.digest()
        if conn.execute(select(P.policies.c.digest)
                        .where(P.policies.c.digest == digest)).first() is not None:
            return []
        body: dict[str, Any] = {"policy": policy.name, "digest": digest, **policy.to_body()}
        body.pop("name", None)
        return [NewEntry("policy.adopted", "system", body, idempotency_key=f"policy:{digest}")]

    def _run(self, now: datetime, plan: Any) -> list[Receipt]:
        return self.store.execute(self.log, now, plan, P.apply)

    def record(self, now: datetime, plan: Plan) -> list[Receipt]:
        """Run ``plan`` (checks, entries) under the log's lock and project its entries.

        For other packages' commands on this domain's log (notices, reports).

        Raises:
            LedgerError: whatever ``plan`` raises; nothing is written.
        """
        return self._run(now, plan)

    def personal_details(self, conn: Connection, subject: str) -> PersonalDetails | None:
        """A subject's details from the vault (None once erased); no access is recorded,
        so only for processing that shows no one the details (masking a notice)."""
        sealed = self._sealed(conn, subject)
        return None if sealed is None else self.vault.open(subject, sealed)

    def read(self) -> Any:
        """A read-only connection context for queries."""
        return self.store.engine.connect()

    def policy_by_digest(self, digest: str) -> Policy:
        for p in self.cfg.policies.values():
            if p.digest() == digest:
                return p
        raise NotFound(f"no configured policy has digest {digest[:12]}…; it was changed "
                       "after use: restore the old [policies.*] values to explain it",
                       field="policy_digest")

    # -- campaigns ----------------------------------------------------------------

    def create_campaign(self, caller: Caller, data: Mapping[str, Any], now: datetime
                        ) -> dict[str, Any]:
        """Open a campaign from ``{"campaign", "title", "timezone"?, "policy"?, "posts"}``.

        Raises:
            BadData: a field is missing or invalid (named).
            Conflict: the campaign exists.
        """
        _only(data, {"campaign", "title", "timezone", "policy", "posts"}, "")
        campaign = _check_id(_req(data, "campaign"), "campaign")
        title = _req(data, "title")
        public_text(title, "title")  # here, to name the request's field, not the entry's
        tz_name = data.get("timezone", "Asia/Shanghai")
        try:
            if not isinstance(tz_name, str):
                raise ValueError
            ZoneInfo(tz_name)
        except (ValueError, ZoneInfoNotFoundError):
            raise BadData(f"timezone: {tz_name!r} is not an IANA time zone such as "
                          "Asia/Shanghai", field="timezone") from None
        policy_name = data.get("policy", self.cfg.default_policy)
        policy = self.cfg.policies.get(policy_name) if isinstance(policy_name, str) else None
        if policy is None:
            raise BadData(f"policy: {policy_name!r} is not configured; one of "
                          f"{', '.join(sorted(self.cfg.policies))}", field="policy")
        raw_posts = _req(data, "posts")
        if not isinstance(raw_posts, list) or not raw_posts:
            raise BadData("posts: give a non-empty list of {\"post\", \"title\"}", field="posts")
        if len(raw_posts) > MAX_POSTS:
            raise BadData(f"posts: at most {MAX_POSTS}", field="posts")
        post_list: list[tuple[str, Any]] = []
        for i, p in enumerate(raw_posts):
            if not isinstance(p, dict):
                raise BadData(f"posts[{i}]: expected an object", field=f"posts[{i}]")
            _only(p, {"post", "title"}, f"posts[{i}].")
            pid = _check_id(_req(p, "post", f"posts[{i}]."), f"posts[{i}].post")
            if pid in {x for x, _ in post_list}:
                raise BadData(f"posts[{i}].post: {pid!r} is listed twice",
                              field=f"posts[{i}].post")
            ptitle = _req(p, "title", f"posts[{i}].")
            public_text(ptitle, f"posts[{i}].title")
            post_list.append((pid, ptitle))

        def plan(conn: Connection) -> list[NewEntry]:
            if conn.execute(select(P.campaigns.c.campaign)
                            .where(P.campaigns.c.campaign == campaign)).first():
                raise Conflict(f"campaign {campaign!r} exists", field="campaign")
            items = self._adopt(conn, policy)
            items.append(NewEntry("campaign.created", caller.actor, {
                "campaign": campaign, "title": title, "timezone": tz_name,
                "policy": policy.name, "policy_digest": policy.digest()}))
            items += [NewEntry("campaign.post_added", caller.actor,
                               {"campaign": campaign, "post": pid, "title": ptitle})
                      for pid, ptitle in post_list]
            return items

        self._run(now, plan)
        return self.campaign(campaign)

    def campaign(self, campaign: str) -> dict[str, Any]:
        """A campaign with its posts and counts.

        Raises:
            NotFound: no such campaign.
        """
        with self.read() as conn:
            row = conn.execute(select(P.campaigns)
                               .where(P.campaigns.c.campaign == campaign)).first()
            if row is None:
                raise NotFound(f"no campaign {campaign!r}", field="campaign")
            post_rows = conn.execute(select(P.posts.c.post, P.posts.c.title)
                                     .where(P.posts.c.campaign == campaign)
                                     .order_by(P.posts.c.post)).all()
            candidates = conn.execute(select(func.count()).select_from(P.subjects)
                                      .where(P.subjects.c.campaign == campaign)).scalar_one()
        return {"campaign": row.campaign, "title": row.title, "timezone": row.timezone,
                "policy": row.policy, "policy_digest": row.policy_digest,
                "created_at": row.created_at, "ledger_index": row.created_index,
                "posts": [{"post": p.post, "title": p.title} for p in post_rows],
                "candidates": candidates}

    def campaigns(self) -> list[dict[str, Any]]:
        """Every campaign, newest first."""
        with self.read() as conn:
            names = conn.execute(select(P.campaigns.c.campaign)
                                 .order_by(P.campaigns.c.created_index.desc())).scalars().all()
        return [self.campaign(n) for n in names]

    # -- candidates ---------------------------------------------------------------

    def import_candidates(self, caller: Caller, campaign: str, data: bytes,
                          content_type: str, now: datetime) -> list[dict[str, Any]]:
        """Register candidates from CSV or JSON: all rows or none.

        Raises:
            NotFound: no such campaign.
            BadData: the file cannot be read at all.
            Unprocessable: rows have errors (each listed), or duplicate a candidate
                already in the campaign; nothing is imported.
        """
        known_posts = {p["post"] for p in self.campaign(campaign)["posts"]}
        rows = parse_candidates(data, content_type, known_posts=known_posts)
        sealed: list[tuple[Any, str, SealedPerson]] = []
        for row in rows:
            subject = new_subject_id()
            sealed.append((row, subject, self.vault.seal(subject, row.details)))

        def plan(conn: Connection) -> list[NewEntry]:
            # Registration numbers are case-insensitive: one spelling taken takes all.
            regs = {registration_key(r.registration) for r, _, _ in sealed}
            blinds = {s.blind_index for _, _, s in sealed}
            taken_regs = set(conn.execute(select(P.subjects.c.registration_key).where(
                P.subjects.c.campaign == campaign,
                P.subjects.c.registration_key.in_(regs))).scalars()) if regs else set()
            taken_blind = set(conn.execute(select(P.vault_people.c.blind_index).where(
                P.vault_people.c.campaign == campaign,
                P.vault_people.c.blind_index.in_(blinds))).scalars()) if blinds else set()
            errors: list[dict[str, object]] = []
            for r, _, s in sealed:
                if registration_key(r.registration) in taken_regs:
                    errors.append({"row": r.row, "field": "registration",
                                   "message": "already registered in this campaign"})
                if s.blind_index in taken_blind:
                    errors.append({"row": r.row, "field": "id_number",
                                   "message": "this person is already a candidate in this "
                                              "campaign"})
            if errors:
                raise Unprocessable(f"{len({e['row'] for e in errors})} rows clash with "
                                    "candidates already imported; nothing was imported",
                                    field="rows", errors=errors)
            conn.execute(insert(P.vault_people), [
                {"subject": subj, "campaign": campaign, "blind_index": s.blind_index,
                 "wrapped_key": s.wrapped_key, "ciphertext": s.ciphertext}
                for _, subj, s in sealed])
            return [NewEntry("subject.registered", caller.actor, {
                "subject": subj, "campaign": campaign, "post": r.post,
                "registration": r.registration, "commitment": s.commitment,
                "contact": _contact(r.details)}) for r, subj, s in sealed]

        receipts = self._run(now, plan)
        return [{"row": r.row, "registration": r.registration, "subject": subj,
                 "ledger_index": rc.index}
                for (r, subj, _), rc in zip(sealed, receipts, strict=True)]

    def candidates(self, campaign: str) -> list[dict[str, Any]]:
        """The campaign's candidates (pseudonymous: no personal data)."""
        self.campaign(campaign)
        with self.read() as conn:
            rows = conn.execute(select(P.subjects).where(P.subjects.c.campaign == campaign)
                                .order_by(P.subjects.c.registration)).all()
        return [{"subject": r.subject, "registration": r.registration, "post": r.post,
                 "contact": r.contact, "misses": r.misses, "locked": bool(r.locked),
                 "erased": bool(r.erased), "ledger_index": r.registered_index} for r in rows]

    def _sealed(self, conn: Connection, subject: str) -> SealedPerson | None:
        row = conn.execute(select(P.vault_people, P.subjects.c.commitment)
                           .join(P.subjects, P.subjects.c.subject == P.vault_people.c.subject)
                           .where(P.vault_people.c.subject == subject)).first()
        if row is None or row.wrapped_key is None:
            return None
        # The commitment comes from the ledger's projection: opening checks the vault
        # record against what the ledger committed to.
        return SealedPerson(bytes(row.wrapped_key), bytes(row.ciphertext), row.commitment,
                            row.blind_index)

    def personal_data(self, caller: Caller, subject: str, purpose: str, now: datetime
                      ) -> dict[str, Any]:
        """The details a purpose needs (``PURPOSE_FIELDS``: contact gives name, phone
        and e-mail, not the ID number); the read itself is recorded (``pii.viewed``,
        naming the fields) first.  ``review`` and ``appeal`` read only a case under
        review: the subject has a current decision pending review or an open appeal.

        Raises:
            BadData: unknown purpose.
            NotFound: no such subject, or erased.
            NotAllowed: ``review`` or ``appeal`` for a subject with no case under review
                (``field="purpose"``).
        """
        if purpose not in PURPOSE_FIELDS:
            raise BadData("purpose: one of review, appeal, contact, audit", field="purpose")
        fields = PURPOSE_FIELDS[purpose]
        details: list[PersonalDetails] = []

        def plan(conn: Connection) -> list[NewEntry]:
            row = conn.execute(select(P.subjects.c.erased).where(
                P.subjects.c.subject == subject)).first()
            sealed = self._sealed(conn, subject)
            if row is None or sealed is None:
                raise NotFound(f"no personal data for {subject!r} (unknown or erased)",
                               field="subject")
            if purpose in UNDER_REVIEW_PURPOSES and not self._under_review(conn, subject):
                raise NotAllowed(f"purpose {purpose}: {subject} has no decision pending "
                                 "review and no open appeal; a reviewer reads only cases "
                                 "under review", field="purpose")
            details.append(self.vault.open(subject, sealed))
            return [NewEntry("pii.viewed", caller.actor, {
                "subject": subject, "purpose": purpose, "fields": ",".join(sorted(fields))})]

        receipts = self._run(now, plan)
        person = details[0].to_json()
        return {"subject": subject, **{f: person[f] for f in fields},
                "access_recorded_at": receipts[0].index}

    @staticmethod
    def _under_review(conn: Connection, subject: str) -> bool:
        """The subject has a current decision pending review, or an open appeal."""
        d = P.decisions
        pending = conn.execute(select(d.c.decision).where(
            d.c.subject == subject, d.c.review == "pending",
            d.c.superseded_by.is_(None)).limit(1)).first()
        if pending is not None:
            return True
        return conn.execute(select(P.appeals.c.appeal).where(
            P.appeals.c.subject == subject, P.appeals.c.ruling.is_(None)).limit(1)
        ).first() is not None

    def erase(self, caller: Caller, subject: str, reason: str, now: datetime
              ) -> dict[str, Any]:
        """Destroy a candidate's vault key; record ``subject.erased``.

        Raises:
            BadData: unknown reason.
            NotFound: no such subject.
            Conflict: already erased, or the retention period has not ended.
        """
        if reason not in ("retention_expired", "request"):
            raise BadData("reason: one of retention_expired, request", field="reason")

        def plan(conn: Connection) -> list[NewEntry]:
            row = conn.execute(select(P.subjects.c.erased, P.campaigns.c.created_at)
                               .join(P.campaigns, P.campaigns.c.campaign
                                     == P.subjects.c.campaign)
                               .where(P.subjects.c.subject == subject)).first()
            if row is None:
                raise NotFound(f"no subject {subject!r}", field="subject")
            if row.erased:
                raise Conflict(f"{subject} is erased already", field="subject")
            ends = _t(row.created_at) + timedelta(days=self.cfg.retention_days)
            if reason == "retention_expired" and now < ends:
                raise Conflict(f"retention runs until {format_time(ends)}; erase on "
                               "request instead, or wait", field="reason")
            conn.execute(update(P.vault_people).where(P.vault_people.c.subject == subject)
                         .values(wrapped_key=None, ciphertext=None, blind_index=None))
            conn.execute(update(P.vault_documents)
                         .where(P.vault_documents.c.subject == subject)
                         .values(ciphertext=None))
            return [NewEntry("subject.erased", caller.actor,
                             {"subject": subject, "reason": reason})]

        rc = self._run(now, plan)[0]
        return {"subject": subject, "erased": True, "ledger_index": rc.index}

    # -- windows ------------------------------------------------------------------

    def schedule_windows(self, caller: Caller, campaign: str, data: Mapping[str, Any],
                         now: datetime) -> list[dict[str, Any]]:
        """Open interview windows for listed subjects, a post, or the whole campaign.

        ``{"opens_at", "closes_at", "slot"?, "subjects"? | "post"?}``; each window also
        queues the invitation.

        Raises:
            BadData: bad times or fields.  NotFound: unknown campaign or subject.
            Conflict: a subject already has an undecided window, is locked or erased.
        """
        _only(data, {"opens_at", "closes_at", "slot", "subjects", "post"}, "")
        opens = parse_time(_req(data, "opens_at"), "opens_at")
        closes = parse_time(_req(data, "closes_at"), "closes_at")
        _check_window_times(opens, closes, now)
        slot = _check_id(data.get("slot", "s" + opens.strftime("%Y%m%dT%H%M")), "slot")
        subjects = data.get("subjects")
        post = data.get("post")
        if subjects is not None and (not isinstance(subjects, list) or not subjects):
            raise BadData("subjects: give a non-empty list of subject IDs", field="subjects")
        if post is not None and not isinstance(post, str):
            raise BadData("post: a post ID of the campaign", field="post")
        self.campaign(campaign)
        return self._schedule(caller, campaign, opens, closes, slot, subjects, post, now,
                              kind="regular")

    def _schedule(self, caller: Caller, campaign: str, opens: datetime, closes: datetime,
                  slot: str, subjects: list[Any] | None, post: Any, now: datetime, *,
                  kind: str) -> list[dict[str, Any]]:
        made: list[dict[str, Any]] = []

        def plan(conn: Connection) -> list[NewEntry]:
            q = select(P.subjects).where(P.subjects.c.campaign == campaign)
            if subjects is not None:
                q = q.where(P.subjects.c.subject.in_([str(s) for s in subjects]))
            elif post is not None:
                q = q.where(P.subjects.c.post == post)
            rows = conn.execute(q.order_by(P.subjects.c.registration)).all()
            if subjects is not None:
                missing = set(map(str, subjects)) - {r.subject for r in rows}
                if missing:
                    raise NotFound(f"subjects: {len(missing)} are not candidates of "
                                   f"{campaign}, e.g. {sorted(missing)[0]}", field="subjects")
            if not rows:
                raise NotFound("no candidates match", field="subjects" if subjects else "post")
            open_w = set(conn.execute(select(P.windows.c.subject).where(
                P.windows.c.campaign == campaign, P.windows.c.decision.is_(None))).scalars())
            items: list[NewEntry] = []
            for r in rows:
                if r.erased or r.locked or r.subject in open_w:
                    why = ("erased" if r.erased else "locked" if r.locked
                           else "has an undecided window")
                    raise Conflict(f"subject {r.subject} ({r.registration}) {why}",
                                   field="subjects")
                w = new_id("w")
                items += self._window_entries(caller, campaign, r.subject, r.contact, w,
                                              opens, closes, slot, kind, None, now)
                made.append({"window": w, "subject": r.subject, "registration": r.registration})
            return items

        self._run(now, plan)
        return made

    def _window_entries(self, caller: Caller, campaign: str, subject: str, contact: str,
                        window: str, opens: datetime, closes: datetime, slot: str, kind: str,
                        origin: str | None, now: datetime) -> list[NewEntry]:
        body: dict[str, Any] = {"window": window, "campaign": campaign, "subject": subject,
                                "opens_at": format_time(opens), "closes_at": format_time(closes),
                                "slot": slot, "kind": kind}
        if origin:
            body["origin_decision"] = origin
        return [NewEntry("window.scheduled", caller.actor, body),
                self._notify(subject, contact, "makeup" if kind == "makeup" else "invitation",
                             now, window=window)]

    def _notify(self, subject: str, contact: str, template: str, now: datetime, *,
                within_s: int = 3600, **refs: str) -> NewEntry:
        """Queue a message; ``due_by`` is when the policy says it must have gone out."""
        channel = "email" if "email" in contact.split(",") else "sms"
        return NewEntry("notification.queued", "system", {
            "notification": new_id("n"), "subject": subject, "channel": channel,
            "template": template, "due_by": format_time(now + timedelta(seconds=within_s)),
            **refs})

    def window(self, window: str) -> dict[str, Any]:
        """A window with its platform events, quarantined events and decisions.

        Raises:
            NotFound: no such window.
        """
        with self.read() as conn:
            w = conn.execute(select(P.windows).where(P.windows.c.window == window)).first()
            if w is None:
                raise NotFound(f"no window {window!r}", field="window")
            events = conn.execute(select(P.platform_events).where(
                P.platform_events.c.window == window).order_by(P.platform_events.c.idx)).all()
            quarantined = conn.execute(select(P.quarantine).where(
                P.quarantine.c.window == window).order_by(P.quarantine.c.idx)).all()
            decs = conn.execute(select(P.decisions.c.decision).where(
                P.decisions.c.window == window).order_by(P.decisions.c.idx)).scalars().all()
        return {"window": w.window, "campaign": w.campaign, "subject": w.subject,
                "slot": w.slot, "kind": w.kind, "opens_at": w.opens_at,
                "closes_at": w.closes_at, "scheduled_closes_at": w.scheduled_closes_at,
                "accommodation": w.accommodation, "origin_decision": w.origin_decision,
                "decision": w.decision, "ledger_index": w.scheduled_index,
                "events": [{"index": e.idx, "event_id": e.event_id, "kind": e.kind,
                            "at": e.at, "detail": e.detail} for e in events],
                "quarantined": [{"index": q.idx, "event_id": q.event_id, "kind": q.kind,
                                 "at": q.at, "reason": q.reason} for q in quarantined],
                "decisions": list(decs)}

    def windows(self, campaign: str, *, undecided_only: bool = False, limit: int = 1000,
                after: str = "") -> list[dict[str, Any]]:
        """The campaign's windows, by id, paginated by ``after``."""
        self.campaign(campaign)
        q = select(P.windows).where(P.windows.c.campaign == campaign,
                                    P.windows.c.window > after)
        if undecided_only:
            q = q.where(P.windows.c.decision.is_(None))
        with self.read() as conn:
            rows = conn.execute(q.order_by(P.windows.c.window).limit(limit)).all()
        return [{"window": r.window, "subject": r.subject, "slot": r.slot, "kind": r.kind,
                 "opens_at": r.opens_at, "closes_at": r.closes_at,
                 "accommodation": r.accommodation, "decision": r.decision} for r in rows]

    def grant_accommodation(self, caller: Caller, window: str, data: Mapping[str, Any],
                            now: datetime) -> dict[str, Any]:
        """Extend a window or move it to another slot, before it closes.

        ``{"kind": "extended"|"alternate_slot", "closes_at", "opens_at"?, "reason"}``

        Raises:
            BadData: invalid fields.  NotFound: no such window.
            Conflict: the window has closed or is decided.
        """
        _only(data, {"kind", "opens_at", "closes_at", "reason"}, "")
        kind = _req(data, "kind")
        if kind not in ("extended", "alternate_slot"):
            raise BadData("kind: one of extended, alternate_slot", field="kind")
        reason = _req(data, "reason")
        closes = parse_time(_req(data, "closes_at"), "closes_at")

        def plan(conn: Connection) -> list[NewEntry]:
            w = conn.execute(select(P.windows).where(P.windows.c.window == window)).first()
            if w is None:
                raise NotFound(f"no window {window!r}", field="window")
            if w.decision is not None or now >= _t(w.closes_at):
                raise Conflict(f"window closed at {w.closes_at}; accommodations are granted "
                               "before the close (after it, use review or appeal)",
                               field="window")
            opens = (parse_time(data["opens_at"], "opens_at") if "opens_at" in data
                     else _t(w.opens_at))
            if kind == "extended" and (closes <= _t(w.closes_at) or "opens_at" in data):
                raise BadData("closes_at: an extension moves the close later and keeps "
                              "the opening", field="closes_at")
            _check_window_times(opens, closes, now)
            return [NewEntry("accommodation.granted", caller.actor, {
                "window": window, "kind": kind, "opens_at": format_time(opens),
                "closes_at": format_time(closes), "reason": reason})]

        self._run(now, plan)
        return self.window(window)

    # -- platform events ----------------------------------------------------------

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
        identifier(webhook_id, "webhook-id")
        latest = (now if sent_at is None else sent_at) + timedelta(
            seconds=self.cfg.max_event_skew_s)
        events = self._parse_events(payload, latest)

        known: list[dict[str, Any]] = []
        answer: list[dict[str, Any]] = []

        def plan(conn: Connection) -> list[NewEntry]:
            # The ingest path is hot: two plain, parameterised SQL lookups on the
            # driver's cursor (building these statements cost more than running them).
            mark = "?" if conn.dialect.name == "sqlite" else "%s"
            cur = conn.connection.cursor()
            cur.execute(f"SELECT receipt FROM webhook_deliveries WHERE webhook_id = {mark}",  # noqa: S608 (only placeholders are formatted in)
                        (webhook_id,))
            prior = cur.fetchone()
            if prior is not None:
                cur.close()
                known.append(json.loads(prior[0]))
                return []
            names = sorted({e["window"] for e in events})
            marks = ",".join([mark] * len(names))  # placeholders only, never values
            query = ("SELECT w.window, w.subject, w.decision, w.opens_at, w.closes_at, "  # noqa: S608
                     "s.erased FROM p_windows AS w JOIN p_subjects AS s "
                     "ON s.subject = w.subject WHERE w.window IN (" + marks + ")")
            cur.execute(query, names)
            wins = {r[0]: _WindowRow(*r) for r in cur.fetchall()}
            cur.close()
            items = []
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
                        body["detail"] = _code(body["detail"])
                    items.append(NewEntry("platform.quarantined", "platform", body,
                                          idempotency_key=f"pe:{e['id']}"))
            return items

        def finish(conn: Connection, receipts: list[Receipt]) -> None:
            # The receipt, as answered now and to every replay of this webhook-id.
            lines = []
            for item, rc in zip(items_of(), receipts, strict=True):
                line: dict[str, Any] = {"id": item.body["event_id"], "index": rc.index}
                if rc.duplicate:
                    line["status"] = "duplicate"  # recorded under an earlier delivery
                elif item.type == "platform.event":
                    line["status"] = "accepted"
                else:
                    line |= {"status": "quarantined", "reason": item.body["reason"]}
                lines.append(line)
            receipt = {"webhook_id": webhook_id, "events": lines}
            P.insert_rows(conn, P.webhook_deliveries, [{
                "webhook_id": webhook_id, "receipt": json.dumps(receipt),
                "received_at": format_time(now)}])
            answer.append(receipt)

        planned: list[list[NewEntry]] = []

        def items_of() -> list[NewEntry]:
            return planned[0]

        def planning(conn: Connection) -> list[NewEntry]:
            items = plan(conn)
            planned.append(items)
            return items

        self.store.execute(self.log, now, planning, P.apply, finish=finish)
        if known:
            return known[0], False
        return answer[0], True

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
        q = select(P.quarantine)
        if campaign is not None:
            self.campaign(campaign)
            q = q.where(P.quarantine.c.campaign == campaign)
        with self.read() as conn:
            rows = conn.execute(q.order_by(P.quarantine.c.idx.desc()).limit(limit)).all()
        return [{"index": r.idx, "event_id": r.event_id, "window": r.window,
                 "campaign": r.campaign, "kind": r.kind, "at": r.at, "reason": r.reason,
                 "webhook_id": r.webhook_id, "received_at": r.received_at} for r in rows]

    # -- the sweep ------------------------------------------------------------------

    def sweep(self, now: datetime, *, batch: int = 1000) -> int:
        """Decide every window past its close + grace; raise alerts; return how many.

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
                seen: list[int] = []
                self._run(now, lambda conn, c=campaign, p=policy, k=cutoff, z=tz, out=seen:
                          self._decide_batch(conn, c, p, k, z, now, batch, out))
                n = seen[0] if seen else 0
                if n == 0:
                    break
                decided += n
                touched.add(campaign)
        for campaign in sorted(touched):
            self.raise_alerts(campaign, now)
        self.lapse_offers(now, batch=batch)
        return decided

    def lapse_offers(self, now: datetime, *, batch: int = 1000) -> int:
        """Record ``rebook.lapsed`` for every rebooking offer that ended unused; return
        how many.  Each batch re-reads the open offers under the log's lock, so two
        sweeps racing record each lapse once."""
        lapsed = 0
        cutoff = format_time(now)
        while True:
            seen: list[int] = []

            def plan(conn: Connection, out: list[int] = seen) -> list[NewEntry]:
                d = P.decisions.c
                rows = conn.execute(
                    select(d.decision, d.window, d.rebook_until)
                    .where(d.outcome == "rebook_offered", d.superseded_by.is_(None),
                           d.offer.is_(None), d.rebook_until < cutoff)
                    .order_by(d.rebook_until, d.decision).limit(batch)).all()
                out.append(len(rows))
                return [NewEntry("rebook.lapsed", "system", {
                    "decision": r.decision, "window": r.window,
                    "rebook_until": r.rebook_until}) for r in rows]

            self._run(now, plan)
            if not seen or seen[0] == 0:
                return lapsed
            lapsed += seen[0]

    def _decide_batch(self, conn: Connection, campaign: str, policy: Policy, cutoff: str,
                      tz: ZoneInfo, now: datetime, batch: int, out: list[int]
                      ) -> list[NewEntry]:
        rows = conn.execute(select(P.windows, P.subjects.c.misses, P.subjects.c.contact)
                            .join(P.subjects, P.subjects.c.subject == P.windows.c.subject)
                            .where(P.windows.c.campaign == campaign,
                                   P.windows.c.decision.is_(None),
                                   P.windows.c.closes_at <= cutoff)
                            .order_by(P.windows.c.closes_at, P.windows.c.window)
                            .limit(batch)).all()
        out.append(len(rows))
        if not rows:
            return []
        ids = [r.window for r in rows]
        facts: dict[str, list[PlatformFact]] = {w: [] for w in ids}
        for e in conn.execute(select(P.platform_events.c.idx, P.platform_events.c.window,
                                     P.platform_events.c.kind, P.platform_events.c.at)
                              .where(P.platform_events.c.window.in_(ids))):
            facts[e.window].append(PlatformFact(e.idx, e.kind, _t(e.at)))
        notes: dict[str, list[NotificationFact]] = {w: [] for w in ids}
        for n in conn.execute(select(P.notifications.c.window, P.notifications.c.status,
                                     P.notifications.c.last_idx,
                                     P.notifications.c.updated_at)
                              .where(P.notifications.c.window.in_(ids),
                                     P.notifications.c.last_idx.is_not(None))):
            # "pending" with an attempt recorded means it failed and will be retried.
            status = "failed" if n.status == "pending" else n.status
            notes[n.window].append(NotificationFact(n.last_idx, status, _t(n.updated_at),
                                                    final=n.status == "failed"))
        items: list[NewEntry] = []
        notices: list[NewEntry] = []
        # A subject may have two windows in one batch (rare); count misses as we go.
        misses: dict[str, int] = {}
        for r in rows:
            prior = misses.get(r.subject, r.misses)
            facts_w = WindowFacts(r.window, r.subject, _t(r.opens_at), _t(r.closes_at),
                                  prior_misses=prior)
            d = decide(facts_w, facts[r.window], notes[r.window], policy, now)
            if d is None:  # cannot happen: the cutoff selected due windows only
                continue
            if d.outcome is not Outcome.ATTENDED:
                misses[r.subject] = prior + 1
            items.append(self._decision_entry(d, campaign, policy, tz, "sweep",
                                              decision_id="d_" + r.window,
                                              idem=f"decide:{r.window}"))
            if d.outcome is not Outcome.ATTENDED:
                notices.append(self._notify(r.subject, r.contact, "decision", now,
                                            within_s=policy.notify_within_s,
                                            window=r.window, decision="d_" + r.window))
        # Decisions first, then their notices: the projection writes each run of one
        # entry type with one statement per table (interleaved, a run was one entry).
        return items + notices

    def _decision_entry(self, d: AbsenceDecision, campaign: str, policy: Policy,
                        tz: ZoneInfo, basis: str, *, decision_id: str,
                        idem: str | None = None, supersedes: str | None = None,
                        outcome: str | None = None, reason: str | None = None) -> NewEntry:
        ex = explanation_of(d, outcome or str(d.outcome), policy, tz)
        body: dict[str, Any] = {
            "decision": decision_id, "window": d.window, "campaign": campaign,
            "subject": d.subject, "outcome": outcome or str(d.outcome),
            "evidence": ",".join(map(str, d.evidence)), "policy_digest": d.policy_digest,
            "reason": reason or d.reason,
            "explanation_sha256": explanation_digest(ex.zh, ex.en), "basis": basis}
        if d.cause is not None:
            body["cause"] = str(d.cause)
        if d.rebook_until is not None:
            body["rebook_until"] = format_time(d.rebook_until)
        if supersedes is not None:
            body["supersedes"] = supersedes
        return NewEntry("decision.made", "scheduler" if basis == "sweep" else "system", body,
                        idempotency_key=idem)

    # -- decisions ------------------------------------------------------------------

    def _decision_row(self, conn: Connection, decision: str) -> Any:
        row = conn.execute(select(P.decisions).where(
            P.decisions.c.decision == decision)).first()
        if row is None:
            raise NotFound(f"no decision {decision!r}", field="decision")
        return row

    def _as_rule(self, row: Any) -> AbsenceDecision:
        return AbsenceDecision(
            window=row.window, subject=row.subject,
            outcome=Outcome(row.outcome) if row.outcome != "makeup_granted"
            else Outcome.MAKEUP_PENDING,
            cause=Cause(row.cause) if row.cause else None,
            evidence=tuple(int(x) for x in row.evidence.split(",") if x),
            decided_at=_t(row.decided_at),
            rebook_until=_t(row.rebook_until) if row.rebook_until else None,
            policy_digest=row.policy_digest, reason=row.reason)

    def decision(self, decision: str) -> dict[str, Any]:
        """A decision with its evidence, explanation (zh/en) and what superseded it.

        Raises:
            NotFound: no such decision.
        """
        with self.read() as conn:
            row = self._decision_row(conn, decision)
            tz = ZoneInfo(conn.execute(select(P.campaigns.c.timezone).where(
                P.campaigns.c.campaign == row.campaign)).scalar_one())
            reg = conn.execute(select(P.subjects.c.registration).where(
                P.subjects.c.subject == row.subject)).scalar_one()
        out = _decision_json(row, reg)
        try:
            policy = self.policy_by_digest(row.policy_digest)
            ex = explanation_of(self._as_rule(row), row.outcome, policy, tz)
            out["explanation"] = {"zh": ex.zh, "en": ex.en}
            out["explanation_matches_ledger"] = (
                explanation_digest(ex.zh, ex.en) == row.explanation_sha256)
        except NotFound as exc:
            out["explanation"] = None
            out["explanation_error"] = str(exc)
        return out

    def decisions(self, campaign: str, *, outcome: str | None = None,
                  pending_review: bool = False, limit: int = 1000, after: str = ""
                  ) -> list[dict[str, Any]]:
        """The campaign's decisions by id (no explanations: fetch one for that)."""
        self.campaign(campaign)
        q = (select(P.decisions, P.subjects.c.registration)
             .join(P.subjects, P.subjects.c.subject == P.decisions.c.subject)
             .where(P.decisions.c.campaign == campaign, P.decisions.c.decision > after))
        if outcome is not None:
            q = q.where(P.decisions.c.outcome == outcome)
        if pending_review:
            q = q.where(P.decisions.c.review == "pending",
                        P.decisions.c.superseded_by.is_(None))
        with self.read() as conn:
            rows = conn.execute(q.order_by(P.decisions.c.decision).limit(limit)).all()
        return [_decision_json(r, r.registration) for r in rows]

    def review(self, caller: Caller, decision: str, data: Mapping[str, Any], now: datetime
               ) -> dict[str, Any]:
        """A reviewer confirms a pending case or grants a make-up window.

        ``{"ruling": "confirmed"}`` or ``{"ruling": "makeup_granted", "opens_at",
        "closes_at"}``.

        Raises:
            BadData: invalid fields.  NotFound: no such decision.
            Conflict: not pending review, or superseded.
        """
        _only(data, {"ruling", "opens_at", "closes_at"}, "")
        ruling = _req(data, "ruling")
        if ruling not in ("confirmed", "makeup_granted"):
            raise BadData("ruling: one of confirmed, makeup_granted", field="ruling")
        times = self._makeup_times(data, now) if ruling == "makeup_granted" else None

        def plan(conn: Connection) -> list[NewEntry]:
            row = self._decision_row(conn, decision)
            if row.review != "pending" or row.superseded_by is not None:
                raise Conflict(f"decision {decision} is not pending review "
                               f"(review: {row.review or 'none'})", field="decision")
            return self._review_entries(conn, caller, row, ruling, times, now, alert=None)

        self._run(now, plan)
        return self.decision(decision)

    def _review_entries(self, conn: Connection, caller: Caller, row: Any, ruling: str,
                        times: tuple[datetime, datetime] | None, now: datetime,
                        alert: str | None) -> list[NewEntry]:
        contact = conn.execute(select(P.subjects.c.contact).where(
            P.subjects.c.subject == row.subject)).scalar_one()
        body: dict[str, Any] = {"decision": row.decision, "ruling": ruling}
        if alert:
            body["alert"] = alert
        items = []
        if times is not None:
            w = new_id("w")
            body["makeup_window"] = w
            items = self._window_entries(caller, row.campaign, row.subject, contact, w,
                                         times[0], times[1], "makeup", "makeup",
                                         row.decision, now)
            return [NewEntry("decision.reviewed", caller.actor, body), *items]
        return [NewEntry("decision.reviewed", caller.actor, body),
                self._notify(row.subject, contact, "decision", now, decision=row.decision)]

    def rebook(self, caller: Caller, decision: str, data: Mapping[str, Any], now: datetime
               ) -> dict[str, Any]:
        """Enterprise policy: open a new window for a candidate offered a rebooking.

        ``{"opens_at", "closes_at"}``, before the decision's ``rebook_until``.

        Raises:
            BadData: invalid times.  NotFound: no such decision.
            Conflict: no rebooking was offered, it expired, the candidate is locked or
                already has an undecided window.
        """
        _only(data, {"opens_at", "closes_at"}, "")
        opens, closes = self._makeup_times(data, now)
        made: list[str] = []

        def plan(conn: Connection) -> list[NewEntry]:
            row = self._decision_row(conn, decision)
            if row.outcome != "rebook_offered" or row.superseded_by is not None:
                raise Conflict(f"decision {decision} offers no rebooking ({row.outcome})",
                               field="decision")
            if row.offer == "taken":
                raise Conflict(f"the rebooking offered by decision {decision} was already "
                               "used", field="decision")
            if row.offer == "lapsed" or now > _t(row.rebook_until):
                raise Conflict(f"the rebooking offer ended at {row.rebook_until}",
                               field="decision")
            subj = conn.execute(select(P.subjects).where(
                P.subjects.c.subject == row.subject)).one()
            if subj.locked or subj.erased:
                raise Conflict(f"subject {row.subject} is {'locked' if subj.locked else 'erased'}",
                               field="decision")
            if conn.execute(select(P.windows.c.window).where(
                    P.windows.c.subject == row.subject,
                    P.windows.c.decision.is_(None))).first():
                raise Conflict(f"subject {row.subject} already has an undecided window",
                               field="decision")
            w = new_id("w")
            made.append(w)
            return self._window_entries(caller, row.campaign, row.subject, subj.contact, w,
                                        opens, closes, "rebook", "rebook", row.decision, now)

        self._run(now, plan)
        return self.window(made[0])

    @staticmethod
    def _makeup_times(data: Mapping[str, Any], now: datetime) -> tuple[datetime, datetime]:
        opens = parse_time(_req(data, "opens_at"), "opens_at")
        closes = parse_time(_req(data, "closes_at"), "closes_at")
        _check_window_times(opens, closes, now)
        return opens, closes

    # -- appeals --------------------------------------------------------------------

    def find_subject(self, campaign: str, registration: Any, factor: Any) -> str:
        """The subject whose registration number and verification factor match.

        The registration number is case-insensitive (``imports.registration_key``); the
        factor is the last ``factor_chars`` characters of the ID number
        (``parse_factor``).  A wrong factor, an unknown number and an erased candidate
        raise the same error, after the same work: one query, one vault record opened
        (a decoy when there is no live record), one constant-time comparison; so neither
        the answer nor its timing tells who is a candidate.

        Raises:
            BadData: the registration number or the factor is malformed (named); checked
                before anything is looked up or compared.
            NotAllowed: no match (unknown, erased or a wrong factor).
        """
        key = parse_registration(registration)
        wanted = parse_factor(factor, self.cfg.factor_chars)
        s, v = P.subjects, P.vault_people
        with self.read() as conn:
            # A ledger written before registrations were case-insensitive may hold two
            # spellings of one number: the exact spelling wins, then the older one.
            row = conn.execute(
                select(s.c.subject, s.c.commitment, v.c.wrapped_key, v.c.ciphertext,
                       v.c.blind_index)
                .outerjoin(v, v.c.subject == s.c.subject)
                .where(s.c.campaign == campaign, s.c.registration_key == key)
                .order_by((s.c.registration == str(registration).strip()).desc(),
                          s.c.registered_index)
                .limit(1)).first()
        live = row is not None and row.wrapped_key is not None and row.ciphertext is not None
        if live:
            assert row is not None
            subject, sealed = str(row.subject), SealedPerson(
                bytes(row.wrapped_key), bytes(row.ciphertext), row.commitment,
                row.blind_index)
        else:
            subject, sealed = self._decoy_subject, self._decoy
        expected = self.vault.open(subject, sealed).id_number[-self.cfg.factor_chars:]
        same = hmac.compare_digest(expected.encode(), wanted.encode())
        if not (same and live):
            raise NotAllowed("registration number and verification factor do not match",
                             field="factor")
        return subject

    def status(self, campaign: str, registration: Any, factor: Any) -> dict[str, Any]:
        """A candidate's own status: windows and current decisions with explanations.

        Raises:
            BadData: the registration number or the factor is malformed.
            NotAllowed: registration and factor do not match.
        """
        subject = self.find_subject(campaign, registration, factor)
        with self.read() as conn:
            # As registered (the candidate may have typed another case).
            registered = conn.execute(select(P.subjects.c.registration).where(
                P.subjects.c.subject == subject)).scalar_one()
            ws = conn.execute(select(P.windows.c.window).where(
                P.windows.c.subject == subject).order_by(P.windows.c.scheduled_index)
            ).scalars().all()
        out = []
        for w in ws:
            info = self.window(w)
            current = [self.decision(d) for d in info["decisions"]]
            out.append({k: info[k] for k in ("window", "kind", "opens_at", "closes_at",
                                              "accommodation")} | {"decisions": current})
        return {"campaign": campaign, "registration": registered, "windows": out}

    def file_appeal(self, campaign: str, data: Mapping[str, Any], now: datetime
                    ) -> dict[str, Any]:
        """A candidate appeals their latest absence decision within the appeal period.

        ``{"registration", "factor", "ground", "statement"}``

        Raises:
            BadData: invalid fields.  NotAllowed: registration and factor do not match.
            Conflict: nothing to appeal, the period ended, or an appeal is open.
        """
        _only(data, {"registration", "factor", "ground", "statement"}, "")
        ground = _req(data, "ground")
        if ground not in ("technical", "notification", "personal", "other"):
            raise BadData("ground: one of technical, notification, personal, other",
                          field="ground")
        statement = _req(data, "statement")
        if not isinstance(statement, str) or not 0 < len(statement) <= MAX_STATEMENT_CHARS:
            raise BadData(f"statement: 1..{MAX_STATEMENT_CHARS} characters", field="statement")
        subject = self.find_subject(campaign, data.get("registration"), data.get("factor"))
        appeal = new_id("a")

        def plan(conn: Connection) -> list[NewEntry]:
            row = conn.execute(select(P.decisions).where(
                P.decisions.c.subject == subject, P.decisions.c.superseded_by.is_(None),
                P.decisions.c.outcome != "attended")
                .order_by(P.decisions.c.idx.desc())).first()
            if row is None:
                raise Conflict("there is no absence decision to appeal", field="registration")
            policy = self.policy_by_digest(row.policy_digest)
            ends = _t(row.decided_at) + timedelta(seconds=policy.appeal_period_s)
            if now > ends:
                raise Conflict(f"the appeal period ended at {format_time(ends)}",
                               field="registration")
            if conn.execute(select(P.appeals.c.appeal).where(
                    P.appeals.c.decision == row.decision,
                    P.appeals.c.ruling.is_(None))).first():
                raise Conflict("an appeal of this decision is already open",
                               field="registration")
            nonce = secrets.token_bytes(12)
            conn.execute(insert(P.vault_documents).values(
                document=appeal, subject=subject,
                ciphertext=nonce + self._doc_key.encrypt(nonce, statement.encode(),
                                                         appeal.encode())))
            return [NewEntry("appeal.filed", "candidate", {
                "appeal": appeal, "decision": row.decision, "subject": subject,
                "ground": ground, "statement_hmac": self.statement_hmac(statement)})]

        rc = self._run(now, plan)[0]
        return {"appeal": appeal, "status": "filed", "ledger_index": rc.index}

    def statement_hmac(self, statement: str) -> str:
        """Lowercase hex HMAC-SHA-256 of an appeal statement (UTF-8) under the key
        derived from the master key (HKDF, ``STATEMENT_MAC_INFO``): what ``appeal.filed``
        records, which only the key's holder can compute for a guessed statement."""
        return hmac.new(self._statement_mac_key, statement.encode(), hashlib.sha256
                        ).hexdigest()

    def appeals(self, campaign: str, *, open_only: bool = False) -> list[dict[str, Any]]:
        """The campaign's appeals (without statements), oldest first.

        Raises:
            NotFound: no such campaign.
        """
        self.campaign(campaign)
        q = select(P.appeals).where(P.appeals.c.campaign == campaign)
        if open_only:
            q = q.where(P.appeals.c.ruling.is_(None))
        with self.read() as conn:
            rows = conn.execute(q.order_by(P.appeals.c.idx)).all()
        return [_appeal_json(r) for r in rows]

    def appeal_record(self, appeal: str) -> dict[str, Any]:
        """An appeal without its statement (no personal data: nothing is recorded).

        Raises:
            NotFound: no such appeal.
        """
        with self.read() as conn:
            row = conn.execute(select(P.appeals).where(P.appeals.c.appeal == appeal)).first()
        if row is None:
            raise NotFound(f"no appeal {appeal!r}", field="appeal")
        return _appeal_json(row)

    def appeal(self, caller: Caller, appeal: str, now: datetime) -> dict[str, Any]:
        """An appeal with its statement (personal data: the read is recorded).

        Raises:
            NotFound: no such appeal.
        """
        with self.read() as conn:
            row = conn.execute(select(P.appeals).where(P.appeals.c.appeal == appeal)).first()
            doc = conn.execute(select(P.vault_documents.c.ciphertext).where(
                P.vault_documents.c.document == appeal)).scalar()
        if row is None:
            raise NotFound(f"no appeal {appeal!r}", field="appeal")
        out = _appeal_json(row)
        if doc is not None:
            self._run(now, lambda conn: [NewEntry("pii.viewed", caller.actor, {
                "subject": row.subject, "purpose": "appeal", "fields": "statement"})])
            raw = bytes(doc)
            out["statement"] = self._doc_key.decrypt(raw[:12], raw[12:], appeal.encode()
                                                     ).decode()
        return out

    def rule_appeal(self, caller: Caller, appeal: str, data: Mapping[str, Any],
                    now: datetime) -> dict[str, Any]:
        """Uphold or overturn an appeal; an overturn supersedes the decision and, given
        ``opens_at``/``closes_at``, schedules a make-up window.

        Raises:
            BadData: invalid fields.  NotFound: no such appeal.
            Conflict: already ruled.
        """
        _only(data, {"ruling", "opens_at", "closes_at"}, "")
        ruling = _req(data, "ruling")
        if ruling not in ("upheld", "overturned"):
            raise BadData("ruling: one of upheld, overturned", field="ruling")
        times = (self._makeup_times(data, now)
                 if ruling == "overturned" and ("opens_at" in data or "closes_at" in data)
                 else None)

        def plan(conn: Connection) -> list[NewEntry]:
            a = conn.execute(select(P.appeals).where(P.appeals.c.appeal == appeal)).first()
            if a is None:
                raise NotFound(f"no appeal {appeal!r}", field="appeal")
            if a.ruling is not None:
                raise Conflict(f"appeal {appeal} was ruled already ({a.ruling})",
                               field="appeal")
            d = self._decision_row(conn, a.decision)
            contact = conn.execute(select(P.subjects.c.contact).where(
                P.subjects.c.subject == a.subject)).scalar_one()
            body: dict[str, Any] = {"appeal": appeal, "ruling": ruling}
            items: list[NewEntry] = []
            if ruling == "overturned":
                tz = ZoneInfo(conn.execute(select(P.campaigns.c.timezone).where(
                    P.campaigns.c.campaign == d.campaign)).scalar_one())
                policy = self.policy_by_digest(d.policy_digest)
                n = conn.execute(select(func.count()).select_from(P.decisions).where(
                    P.decisions.c.window == d.window)).scalar_one()
                # The new decision as it will be read back (and explained): made now,
                # under the appeal rule, so the digest covers what the candidate is told.
                rule = replace(self._as_rule(d), outcome=Outcome.MAKEUP_PENDING,
                               decided_at=_t(format_time(now)), reason="appeal_overturned")
                items.append(self._decision_entry(
                    rule, d.campaign, policy, tz, "appeal",
                    decision_id=f"{d.decision}.{n + 1}", supersedes=d.decision,
                    outcome="makeup_granted", reason="appeal_overturned"))
                if times is not None:
                    w = new_id("w")
                    body["makeup_window"] = w
                    items += self._window_entries(caller, d.campaign, d.subject, contact, w,
                                                  times[0], times[1], "makeup", "makeup",
                                                  d.decision, now)
            return [NewEntry("appeal.ruled", caller.actor, body), *items,
                    self._notify(a.subject, contact, "appeal_ruling", now, appeal=appeal)]

        self._run(now, plan)
        with self.read() as conn:
            row = conn.execute(select(P.appeals).where(P.appeals.c.appeal == appeal)).one()
        return _appeal_json(row)

    # -- alerts ---------------------------------------------------------------------

    def raise_alerts(self, campaign: str, now: datetime) -> list[str]:
        """Run the anomaly rules over the campaign; record alerts not raised before."""
        with self.read() as conn:
            rows = conn.execute(select(P.windows.c.window, P.windows.c.opens_at,
                                       P.decisions.c.outcome, P.decisions.c.cause)
                                .join(P.decisions, P.decisions.c.decision == "d_"
                                      + P.windows.c.window)
                                .where(P.windows.c.campaign == campaign,
                                       P.windows.c.kind == "regular")).all()
            fails = conn.execute(select(P.notifications.c.notification,
                                        P.notifications.c.updated_at)
                                 .join(P.subjects,
                                       P.subjects.c.subject == P.notifications.c.subject)
                                 .where(P.subjects.c.campaign == campaign,
                                        P.notifications.c.status == "failed",
                                        # Invitations that expired unsent are not a
                                        # delivery problem of the channel.
                                        P.notifications.c.last_error != "window_closed")
                                 ).all()
        decided = [DecidedWindow(r.window, _t(r.opens_at),
                                 Outcome(r.outcome) if r.outcome != "makeup_granted"
                                 else Outcome.MAKEUP_PENDING,
                                 Cause(r.cause) if r.cause else None) for r in rows]
        found = detect(decided, [(n, _t(at)) for n, at in fails], self.cfg.thresholds)
        if not found:
            return []

        def plan(conn: Connection) -> list[NewEntry]:
            items = []
            for a in found:
                alert_id = f"{campaign}:{a.key}"[:200]
                if conn.execute(select(P.alerts.c.alert)
                                .where(P.alerts.c.alert == alert_id)).first():
                    continue
                body: dict[str, Any] = {
                    "alert": alert_id, "campaign": campaign, "kind": a.kind,
                    "count": a.count, "total": a.total, "threshold": a.threshold,
                    "windows": ",".join(a.windows[:500])}
                if a.slot_start is not None:
                    body["slot_start"] = format_time(a.slot_start)
                items.append(NewEntry("alert.raised", "scheduler", body,
                                      idempotency_key=f"alert:{alert_id}"))
            return items

        return [str(i) for i in self._run(now, plan)]

    def alerts(self, campaign: str | None = None) -> list[dict[str, Any]]:
        """Alerts, newest first (those of ``campaign``, or all).

        Raises:
            NotFound: ``campaign`` is given and no such campaign exists.
        """
        q = select(P.alerts)
        if campaign is not None:
            self.campaign(campaign)
            q = q.where(P.alerts.c.campaign == campaign)
        with self.read() as conn:
            rows = conn.execute(q.order_by(P.alerts.c.idx.desc())).all()
        return [{"alert": r.alert, "campaign": r.campaign, "kind": r.kind, "count": r.count,
                 "total": r.total, "threshold": r.threshold, "slot_start": r.slot_start,
                 "windows": [w for w in r.windows.split(",") if w], "status": r.status,
                 "action": r.action, "makeups": r.makeups, "raised_at": r.raised_at,
                 "ledger_index": r.idx} for r in rows]

    def resolve_alert(self, caller: Caller, alert: str, data: Mapping[str, Any],
                      now: datetime) -> dict[str, Any]:
        """Act on an alert: ``{"action": "mass_makeup", "opens_at", "closes_at"}`` grants
        a make-up to every affected window still pending review; or ``"dismissed"``.

        Raises:
            BadData: invalid fields.  NotFound: no such alert.
            Conflict: resolved already, or a mass make-up for a non-outage alert.
        """
        _only(data, {"action", "opens_at", "closes_at"}, "")
        action = _req(data, "action")
        if action not in ("mass_makeup", "dismissed"):
            raise BadData("action: one of mass_makeup, dismissed", field="action")
        times = self._makeup_times(data, now) if action == "mass_makeup" else None

        def plan(conn: Connection) -> list[NewEntry]:
            a = conn.execute(select(P.alerts).where(P.alerts.c.alert == alert)).first()
            if a is None:
                raise NotFound(f"no alert {alert!r}", field="alert")
            if a.status != "open":
                raise Conflict(f"alert was resolved already ({a.action})", field="alert")
            items: list[NewEntry] = []
            if action == "mass_makeup":
                if a.kind != "platform_outage":
                    raise Conflict("a mass make-up answers a platform outage alert",
                                   field="action")
                ids = [w for w in a.windows.split(",") if w]
                rows = conn.execute(select(P.decisions).where(
                    P.decisions.c.window.in_(ids), P.decisions.c.review == "pending",
                    P.decisions.c.superseded_by.is_(None))
                    .order_by(P.decisions.c.decision)).all()
                for row in rows:
                    items += self._review_entries(conn, caller, row, "makeup_granted", times,
                                                  now, alert=alert)
            n = sum(1 for i in items if i.type == "window.scheduled")
            return [*items, NewEntry("alert.resolved", caller.actor,
                                     {"alert": alert, "action": action, "makeups": n})]

        self._run(now, plan)
        return next(a for a in self.alerts() if a["alert"] == alert)

    # -- notifications --------------------------------------------------------------

    def due_notifications(self, now: datetime, limit: int = 200) -> list[Any]:
        """Outbox rows due for an attempt."""
        with self.read() as conn:
            return list(conn.execute(select(P.notifications).where(
                P.notifications.c.status == "pending",
                P.notifications.c.next_attempt_at <= format_time(now))
                .order_by(P.notifications.c.next_attempt_at).limit(limit)).all())

    def recipient(self, subject: str, channel: str) -> tuple[str, str] | None:
        """(name, address) for sending, or None if erased / no such contact."""
        with self.read() as conn:
            sealed = self._sealed(conn, subject)
        if sealed is None:
            return None
        d = self.vault.open(subject, sealed)
        to = d.email if channel == "email" else d.phone
        return (d.name, to) if to else None

    def record_attempt(self, notification: str, attempt: int, now: datetime, *,
                       provider_id: str | None = None, error: str | None = None,
                       final: bool = False, retry_at: datetime | None = None) -> bool:
        """Record one send attempt's outcome; False if another runner recorded it first."""

        def plan(conn: Connection) -> list[NewEntry]:
            row = conn.execute(select(P.notifications.c.status, P.notifications.c.attempts)
                               .where(P.notifications.c.notification == notification)).first()
            if row is None or row.status != "pending" or row.attempts != attempt - 1:
                return []
            if provider_id is not None:
                return [NewEntry("notification.sent", "scheduler", {
                    "notification": notification, "attempt": attempt,
                    "provider_ref_sha256": _sha256_hex(provider_id.encode())})]
            body: dict[str, Any] = {"notification": notification, "attempt": attempt,
                                    "error": _code(error or "unknown"), "final": int(final)}
            if retry_at is not None and not final:
                body["retry_at"] = format_time(retry_at)
            return [NewEntry("notification.failed", "scheduler", body)]

        return bool(self._run(now, plan))

    def record_delivery(self, notification: str, status: str, now: datetime) -> bool:
        """A gateway's delivery receipt for a sent message.

        Raises:
            NotFound: no such notification.  BadData: unknown status.
        """
        if status not in ("delivered", "undeliverable"):
            raise BadData("status: one of delivered, undeliverable", field="status")

        def plan(conn: Connection) -> list[NewEntry]:
            row = conn.execute(select(P.notifications.c.status).where(
                P.notifications.c.notification == notification)).first()
            if row is None:
                raise NotFound(f"no notification {notification!r}", field="reference")
            if row.status != "sent":
                return []
            return [NewEntry("notification.delivered", "gateway",
                             {"notification": notification, "status": status})]

        return bool(self._run(now, plan))

    def notifications(self, campaign: str, limit: int = 1000) -> list[dict[str, Any]]:
        """The campaign's notifications (no addresses).

        Raises:
            NotFound: no such campaign.
        """
        self.campaign(campaign)
        with self.read() as conn:
            rows = conn.execute(select(P.notifications).join(
                P.subjects, P.subjects.c.subject == P.notifications.c.subject).where(
                P.subjects.c.campaign == campaign).order_by(P.notifications.c.queued_at)
                .limit(limit)).all()
        return [{"notification": r.notification, "subject": r.subject, "channel": r.channel,
                 "template": r.template, "window": r.window, "decision": r.decision,
                 "status": r.status, "attempts": r.attempts, "last_error": r.last_error,
                 "due_by": r.due_by, "queued_at": r.queued_at} for r in rows]

    # -- statistics -----------------------------------------------------------------

    def statistics(self, campaign: str) -> dict[str, Any]:
        """Absence rate, causes, make-ups, appeals and overturns (misjudgment) as JSON.

        Raises:
            NotFound: no such campaign.
        """
        self.campaign(campaign)
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
            offers = dict(conn.execute(
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
        kinds = dict(windows)
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
                        "attended": dict(makeup_outcomes).get("attended", 0)},
            "appeals": {"filed": filed, "open": appeals_by.get("open", 0),
                        "upheld": appeals_by.get("upheld", 0), "overturned": overturned,
                        "appeal_rate": rate(filed, absent),
                        "overturn_rate": rate(overturned, filed),
                        "misjudgment_rate": rate(overturned, absent)},
            "quarantined_events": quarantined,
            "notifications": dict(notes),
            "alerts": alert_n,
        }

    # -- tokens and access ------------------------------------------------------------

    def create_token(self, role: str, now: datetime, label: str | None = None) -> str:
        """A new bearer token for ``role``; only its SHA-256 is kept.  Shown once.

        Raises:
            BadData: unknown role or bad label.
        """
        if role not in ROLES:
            raise BadData(f"role: one of {', '.join(ROLES)}", field="role")
        token_id = new_id("tok")
        secret = secrets.token_urlsafe(32)
        text = f"abs_{token_id}_{secret}"
        body: dict[str, Any] = {"token": token_id, "role": role,
                                "secret_sha256": _sha256_hex(text.encode())}
        if label:
            body["label"] = label
        self._run(now, lambda conn: [NewEntry("token.created", "admin", body)])
        return text

    def revoke_token(self, token_id: str, now: datetime) -> None:
        """Stop a token working.

        Raises:
            NotFound: no such token.
        """
        def plan(conn: Connection) -> list[NewEntry]:
            if conn.execute(select(P.tokens.c.token)
                            .where(P.tokens.c.token == token_id)).first() is None:
                raise NotFound(f"no token {token_id!r}", field="token")
            return [NewEntry("token.revoked", "admin", {"token": token_id})]

        self._run(now, plan)

    def tokens(self) -> list[dict[str, Any]]:
        with self.read() as conn:
            rows = conn.execute(select(P.tokens).order_by(P.tokens.c.created_at)).all()
        return [{"token": r.token, "role": r.role, "label": r.label,
                 "created_at": r.created_at, "revoked": bool(r.revoked)} for r in rows]

    def authenticate(self, text: str) -> Caller | None:
        """The caller a bearer token stands for, or None."""
        digest = _sha256_hex(text.encode())
        with self.read() as conn:
            row = conn.execute(select(P.tokens.c.token, P.tokens.c.role).where(
                P.tokens.c.secret_sha256 == digest, P.tokens.c.revoked == 0)).first()
        return None if row is None else Caller(f"{row.role}:{row.token}", row.role)

    def access_log(self, subject: str | None = None, limit: int = 1000
                   ) -> list[dict[str, Any]]:
        """Who viewed whose personal data, newest first."""
        q = select(P.access_log)
        if subject is not None:
            q = q.where(P.access_log.c.subject == subject)
        with self.read() as conn:
            rows = conn.execute(q.order_by(P.access_log.c.idx.desc()).limit(limit)).all()
        return [{"index": r.idx, "subject": r.subject, "actor": r.actor,
                 "purpose": r.purpose, "fields": r.fields.split(","), "at": r.at}
                for r in rows]


# -- helpers ------------------------------------------------------------------------

#: At most this many posts in one campaign (its entry stays of a bounded size).
MAX_POSTS = 500

#: How far ahead a window may close, and how long one may stay open: a typo in a year
#: (2062 for 2026) must not park a candidate's fate decades away.
MAX_WINDOW_AHEAD = timedelta(days=366)
MAX_WINDOW_LENGTH = timedelta(days=31)


def _check_window_times(opens: datetime, closes: datetime, now: datetime) -> None:
    """An interview window's times, as scheduled, accommodated or offered again.

    Raises:
        BadData: ``closes_at`` not after ``opens_at``, not in the future, more than a
            year ahead, or the window longer than 31 days (names the field).
    """
    if closes <= opens:
        raise BadData("closes_at: must be after opens_at", field="closes_at")
    if closes <= now:
        raise BadData("closes_at: must be in the future", field="closes_at")
    if closes - now > MAX_WINDOW_AHEAD:
        raise BadData("closes_at: at most 366 days ahead; check the year", field="closes_at")
    if closes - opens > MAX_WINDOW_LENGTH:
        raise BadData("opens_at: a window lasts at most 31 days; check the dates",
                      field="opens_at")


def parse_registration(value: Any) -> str:
    """A registration number as typed by a candidate, as its lookup key.

    Surrounding whitespace is ignored; the key is case-insensitive
    (``imports.registration_key``).

    Raises:
        BadData: not a string of the registration grammar (``imports.REGISTRATION_RE``).
    """
    text = value.strip() if isinstance(value, str) else None
    if text is None or not REGISTRATION_RE.fullmatch(text):
        raise BadData("registration: 4 to 32 letters, digits or '-', as on the "
                      "registration slip", field="registration")
    return registration_key(text)


def parse_factor(value: Any, chars: int) -> str:
    """A verification factor as typed: the last ``chars`` characters of an ID number.

    An ID number is 17 digits and a check character (a digit or X), so a factor is
    ``chars - 1`` digits and a final digit or X.  Normalised like ID numbers
    (``vault.normalise_id_number``: NFKC, so full-width digits count; whitespace removed;
    upper case, so ``x`` is ``X``).

    Raises:
        BadData: anything else (named ``factor``), before it is compared with anything.
    """
    text = normalise_id_number(value) if isinstance(value, str) and len(value) <= 64 else ""
    if len(text) != chars or not _FACTOR_RE.fullmatch(text):
        raise BadData(f"factor: the last {chars} characters of the ID number "
                      f"({chars - 1} digits, then a digit or X)", field="factor")
    return text


_FACTOR_RE = re.compile(r"[0-9]*[0-9X]")


def _contact(d: PersonalDetails) -> str:
    return ",".join(c for c, v in (("email", d.email), ("sms", d.phone)) if v)


def _code(text: str) -> str:
    out = "".join(c if c.isalnum() or c == "_" else "_" for c in text.lower())[:40]
    return out if out and out[0].isalpha() else ("e_" + out)[:40]


def _req(data: Mapping[str, Any], key: str, prefix: str = "") -> Any:
    if key not in data:
        raise BadData(f"{prefix}{key}: required", field=f"{prefix}{key}")
    return data[key]


def _only(data: Any, allowed: Iterable[str], prefix: str) -> None:
    if not isinstance(data, Mapping):
        raise BadData("body: expected a JSON object", field=prefix.rstrip(".") or "body")
    for key in data:
        if key not in allowed:
            raise BadData(f"{prefix}{key}: unknown field", field=f"{prefix}{key}")


_EVENT_FIELDS = {"id", "window", "kind", "at", "subject", "detail"}


def _parse_event(ev: Any, where: str) -> dict[str, Any]:
    if not isinstance(ev, dict):
        raise BadData(f"{where}: expected an object", field=where)
    _only(ev, _EVENT_FIELDS, f"{where}.")
    out: dict[str, Any] = {}
    for key in ("id", "window"):
        value = _req(ev, key, f"{where}.")
        identifier(value, f"{where}.{key}")
        out[key] = value
    kind = _req(ev, "kind", f"{where}.")
    if kind not in PLATFORM_KINDS:
        raise BadData(f"{where}.kind: {kind!r} is not one of {', '.join(PLATFORM_KINDS)}",
                      field=f"{where}.kind")
    out["kind"] = kind
    out["at"] = format_time(parse_time(_req(ev, "at", f"{where}."), f"{where}.at"))
    check_time(out["at"], f"{where}.at")
    if "subject" in ev:
        from ledger.events import pseudonym

        pseudonym(ev["subject"], f"{where}.subject")
        out["subject"] = ev["subject"]
    if "detail" in ev:
        identifier(ev["detail"], f"{where}.detail")
        out["detail"] = ev["detail"]
    return out


def _decision_json(row: Any, registration: str) -> dict[str, Any]:
    return {"decision": row.decision, "window": row.window, "campaign": row.campaign,
            "subject": row.subject, "registration": registration, "outcome": row.outcome,
            "cause": row.cause, "reason": row.reason,
            "evidence": [int(x) for x in row.evidence.split(",") if x],
            "policy_digest": row.policy_digest, "basis": row.basis,
            "rebook_until": row.rebook_until, "rebook_offer": _offer_state(row),
            "supersedes": row.supersedes,
            "superseded_by": row.superseded_by, "review": row.review,
            "decided_at": row.decided_at, "ledger_index": row.idx,
            "explanation_sha256": row.explanation_sha256}


def _offer_state(row: Any) -> str | None:
    """A rebooking offer as the API shows it: None (no offer), open, taken or lapsed."""
    if row.outcome != "rebook_offered":
        return None
    return str(row.offer or "open")


def _appeal_json(row: Any) -> dict[str, Any]:
    return {"appeal": row.appeal, "decision": row.decision, "campaign": row.campaign,
            "subject": row.subject, "ground": row.ground,
            "statement_hmac": row.statement_hmac,
            "statement_sha256": row.statement_sha256, "filed_at": row.filed_at,
            "ruling": row.ruling, "ruled_at": row.ruled_at,
            "makeup_window": row.makeup_window, "ledger_index": row.idx}
