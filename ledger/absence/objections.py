"""Objections (异议) to a public notice during its notice period.

Anyone may object, by real name: the objector's name, contact and statement are sealed
outside the ledger under a data key of the objection's own (objectors are not
subjects), wrapped under a key derived from the master key; the ledger holds the
digest of the sealed record, the statement's HMAC and the SHA-256 of a lookup secret
the objector is given.  Each objection is acknowledged and answered within working-day
deadlines (the policy's ``objection_*_days``, counted on the caller's calendar), the
candidate concerned may state their case (陈述、申辩) before a ruling against them, and
the ruling is 维持 (upheld), 取消 (cancelled) or 暂缓 (deferred until verified).  The
sweep raises an ``objection_overdue`` alert once per missed deadline.

Time is the ``now`` parameter and which days are worked the ``working_day`` parameter
(``ledger.workdays.WorkingDay``); nothing here reads the clock or a calendar.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Connection, insert, select, update

from ledger.absence import tables as P  # noqa: N812 (the tables, read as P.windows)
from ledger.absence.attachments import (
    MEDIA_TYPES,
    Attachment,
    check_attachments,
    ledger_field,
    matches_listed,
    parse_ledger_field,
)
from ledger.absence.context import Caller, Context, UseCase, new_id, row_by_key
from ledger.absence.entries import OBJECTION_CHANNELS, OBJECTION_GROUNDS, OBJECTION_RULINGS
from ledger.absence.fields import (
    choice,
    only,
    parse_registration,
    parse_time,
    req,
    stated_reason,
)
from ledger.absence.notifications import notify_entry
from ledger.absence.objection_rows import (
    has_left,
    objection_counts,
    open_row,
    public,
    record,
)
from ledger.absence.rules import Policy
from ledger.entry import format_time, parse_utc
from ledger.errors import BadData, Conflict, CouldNotCheck, NotFound
from ledger.jcs import canonical
from ledger.storage.store import NewEntry, Planned
from ledger.workdays import WorkingDay, end_of_working_days

#: Deadlines (working days) when the policy sets none: start checking within 3,
#: answer within 10 (as some provinces rule), 5 for the candidate's statement.
DEFAULT_ACK_DAYS = 3
DEFAULT_REPLY_DAYS = 10
DEFAULT_STATEMENT_DAYS = 5

MAX_NAME_CHARS = 50
MAX_CONTACT_CHARS = 100
MAX_STATEMENT_CHARS = 2000
MAX_LINE = 100_000

OBJECTOR_PREFIX = b"absentia-objector/v1\n"
WRAP_INFO = b"absentia objector wrap v1"
STATEMENT_MAC_INFO = b"absentia objection statement mac v1"
ATTACHMENT_MAC_INFO = b"absentia objection attachment mac v1"
DOCUMENTS_INFO = b"absentia documents v1"  # the key appeal statements are sealed under
_NONCE = 12
_SALT = 16

#: States as the projection writes them; "deferred" (暂缓) waits for a final ruling.


def _text(data: Mapping[str, Any], key: str, limit: int) -> str:
    value = req(data, key)
    if not isinstance(value, str):
        raise BadData(f"{key}: must be text", field=key)
    value = value.strip()
    if not 0 < len(value) <= limit:
        raise BadData(f"{key}: 1..{limit} characters", field=key)
    if key != "statement" and not value.isprintable():
        raise BadData(f"{key}: printable characters only", field=key)
    if key == "statement" and any(not (c.isprintable() or c in "\n\r\t") for c in value):
        raise BadData(f"{key}: printable characters and line breaks only", field=key)
    return value


def _deadline_days(policy: Policy, key: str, default: int) -> int:
    value = getattr(policy, key)
    return default if value is None else int(value)


class Objections(UseCase):
    """File, look up, handle and rule objections; raise overdue alerts."""

    def __init__(self, ctx: Context, master_key: bytes) -> None:
        """Objections sealed and MACed under keys derived from ``master_key`` (HKDF)."""
        super().__init__(ctx)

        def derive(info: bytes) -> bytes:
            return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                        info=info).derive(master_key)

        self._wrap = AESGCM(derive(WRAP_INFO))
        self._mac_key = derive(STATEMENT_MAC_INFO)
        self._attach_mac_key = derive(ATTACHMENT_MAC_INFO)
        self._doc_key = AESGCM(derive(DOCUMENTS_INFO))

    # -- sealing ----------------------------------------------------------------------

    def statement_hmac(self, statement: str) -> str:
        """Lowercase hex HMAC-SHA-256 of a statement (UTF-8) under the derived key."""
        return hmac.new(self._mac_key, statement.encode(), hashlib.sha256).hexdigest()

    @staticmethod
    def objector_digest(name: str, contact: str, salt: bytes) -> str:
        """``SHA-256("absentia-objector/v1\\n" || salt || JCS({"name", "contact"}))``:
        what the ledger holds of the objector (the salt lives only in the sealed record).
        """
        digest = hashlib.sha256(OBJECTOR_PREFIX)
        digest.update(salt)
        digest.update(canonical({"contact": contact, "name": name}))
        return digest.hexdigest()

    def attachment_hmac(self, content: bytes) -> str:
        """Lowercase hex HMAC-SHA-256 of an attachment's bytes under the key derived from
        the master key (HKDF, ``ATTACHMENT_MAC_INFO``): what ``objection.filed`` lists."""
        return hmac.new(self._attach_mac_key, content, hashlib.sha256).hexdigest()

    @staticmethod
    def _attachment_aad(objection: str, position: int, kind: str) -> bytes:
        # Binds the ciphertext to its objection, place and kind: a sealed file cannot be
        # moved to another objection or served as another type.
        return f"{objection}.{position}\n{kind}".encode()

    def _data_key(self, objection: str) -> bytes | None:
        """The objection's own data key (unwrapped); None once the objector was erased.

        Raises:
            CouldNotCheck: the wrapped key does not open (altered, or another key).
        """
        with self.read() as conn:
            wrapped = conn.execute(select(P.vault_objectors.c.wrapped_key).where(
                P.vault_objectors.c.objection == objection)).scalar()
        if wrapped is None:
            return None
        raw = bytes(wrapped)
        try:
            return self._wrap.decrypt(raw[:_NONCE], raw[_NONCE:], objection.encode())
        except InvalidTag:
            raise CouldNotCheck(f"cannot open the sealed objector record of {objection}"
                                ) from None

    def _open_attachment(self, key: bytes | None, row: Any) -> bytes | None:
        """The plaintext of an ``objection_attachments`` row; None once erased.

        Raises:
            CouldNotCheck: the ciphertext does not open (altered, or another key).
        """
        if key is None or row.ciphertext is None:
            return None
        raw = bytes(row.ciphertext)
        try:
            return AESGCM(key).decrypt(raw[:_NONCE], raw[_NONCE:], self._attachment_aad(
                row.objection, row.position, row.kind))
        except InvalidTag:
            raise CouldNotCheck(f"attachment {row.attachment} does not open: it was "
                                "altered or sealed under another key") from None

    def _listed(self, index: int) -> list[tuple[str, str]]:
        """What the ``objection.filed`` entry at ``index`` lists of its attachments."""
        entry = json.loads(self.store.entry(self.ctx.log, index))
        return parse_ledger_field(entry["body"].get("attachments"))

    def attachments(self, objection: str) -> list[dict[str, Any]]:
        """The objection's attachments (no content): position, kind, media type, size,
        whether erased and whether the sealed bytes match what the ledger lists
        (``verified``, their HMAC).  Opening them to check is not a read by a person:
        nothing is recorded.

        Raises:
            NotFound: no such objection.
        """
        with self.read() as conn:
            o = row_by_key(conn, P.objections.c.objection, objection)
            rows = conn.execute(select(P.objection_attachments).where(
                P.objection_attachments.c.objection == objection)
                .order_by(P.objection_attachments.c.position)).all()
        if not rows:
            return []
        listed = self._listed(o.idx)
        try:
            key = self._data_key(objection)
        except CouldNotCheck:
            key = None
        out = []
        for r in rows:
            try:
                content = self._open_attachment(key, r)
                opened = True
            except CouldNotCheck:  # altered: listed, marked as failing the check
                content, opened = None, False
            verified = matches_listed(listed, r.position, r.kind, None if content is None
                                      else self.attachment_hmac(content))
            out.append({"position": r.position, "kind": r.kind,
                        "media_type": MEDIA_TYPES[r.kind], "size": r.size,
                        "erased": bool(o.objector_erased) or (opened and content is None),
                        "verified": verified})
        return out

    def attachment(self, caller: Caller, objection: str, position: int, now: datetime
                   ) -> Attachment:
        """An objection's attachment (personal data: ``pii.viewed``, purpose
        ``objection``, is recorded first, then the bytes are opened and checked against
        the ledger's digest).

        Raises:
            NotFound: no such objection or attachment, or the objector was erased.
            CouldNotCheck: the sealed bytes do not open or do not match the ledger.
        """
        with self.read() as conn:
            o = row_by_key(conn, P.objections.c.objection, objection)
            row = conn.execute(select(P.objection_attachments).where(
                P.objection_attachments.c.objection == objection,
                P.objection_attachments.c.position == position)).first()
        if row is None:
            raise NotFound(f"objection {objection} has no attachment {position}",
                           field="position")
        if o.objector_erased or row.ciphertext is None:
            raise NotFound(f"attachment {position} of objection {objection} was erased",
                           field="position")
        self._run(now, lambda conn: [NewEntry("pii.viewed", caller.actor, {
            "objection": objection, "purpose": "objection", "fields": "attachment"})])
        key = self._data_key(objection)
        if key is None:
            raise NotFound(f"attachment {position} of objection {objection} was erased",
                           field="position")
        content = self._open_attachment(key, row)
        if content is None or not matches_listed(self._listed(o.idx), position, row.kind,
                                                 self.attachment_hmac(content)):
            raise CouldNotCheck(f"attachment {position} of objection {objection} does not "
                                "match the digest its objection.filed entry lists")
        return Attachment(row.kind, content)

    def _seal(self, objection: str, name: str, contact: str, statement: str,
              data_key: bytes) -> tuple[bytes, bytes, str]:
        salt = secrets.token_bytes(_SALT)
        aad = objection.encode()
        n1, n2 = secrets.token_bytes(_NONCE), secrets.token_bytes(_NONCE)
        plain = canonical({"name": name, "contact": contact, "statement": statement,
                           "salt": base64.b64encode(salt).decode("ascii")})
        return (n1 + self._wrap.encrypt(n1, data_key, aad),
                n2 + AESGCM(data_key).encrypt(n2, plain, aad),
                self.objector_digest(name, contact, salt))

    def _open(self, objection: str, wrapped: bytes, ciphertext: bytes, digest: str
              ) -> dict[str, str]:
        failed = f"cannot open the sealed objector record of {objection}"
        aad = objection.encode()
        try:
            key = self._wrap.decrypt(wrapped[:_NONCE], wrapped[_NONCE:], aad)
            fields = json.loads(AESGCM(key).decrypt(ciphertext[:_NONCE],
                                                    ciphertext[_NONCE:], aad))
            salt = base64.b64decode(fields.pop("salt"), validate=True)
        except (InvalidTag, ValueError, KeyError, TypeError, binascii.Error):
            raise CouldNotCheck(failed) from None
        if self.objector_digest(fields["name"], fields["contact"], salt) != digest:
            raise CouldNotCheck(f"{failed}: it does not match the ledger's digest")
        return {k: str(v) for k, v in fields.items()}

    # -- filing -----------------------------------------------------------------------

    def file_objection(self, notice: str, data: Mapping[str, Any], now: datetime,
                       working_day: WorkingDay, *, caller: Caller | None = None,
                       channel: str = "web", attachments: Sequence[bytes] = ()
                       ) -> dict[str, Any]:
        """Object to ``notice`` during its period.

        ``{"name", "contact", "ground", "statement", "registration"?, "line"?,
        "received_at"?}``: the candidate concerned is named by registration number or
        notice line (or both).  ``caller`` is HR entering an objection received by
        ``channel`` (phone, letter, e-mail), with ``received_at`` when it reached the
        office (not in the future; the period check and the deadlines count from then,
        so a letter that came on the last day is taken the next morning); without a
        caller the objection comes from the public form (``web``, received now).
        ``attachments``: up to 3 files checked as an appeal's are
        (``ledger.absence.attachments``), sealed under the objection's own data key in
        the same transaction; ``objection.filed`` lists their kinds and HMACs.
        Returns the reference (``objection``), the lookup ``token`` (given once), the
        deadlines and how many files were attached.

        Raises:
            BadData: invalid fields, an unknown registration number or line (named).
            AttachmentRefused: too many files, an empty one, or one that is not a JPEG,
                PNG or PDF by its content (field ``attachments``, named by position).
            AttachmentTooLarge: a file over 5 MiB (HTTP 413).
            NotFound: no such notice.
            Conflict: the notice was superseded, or it is outside its notice period.
            CalendarUnknown: the deadline reaches a year the calendar does not know.
        """
        only(data, {"name", "contact", "ground", "statement", "registration", "line",
                    "received_at"}, "")
        if channel not in OBJECTION_CHANNELS or (caller is None) != (channel == "web"):
            raise BadData("channel: web for the public form; phone, letter or email "
                          "when HR enters it", field="channel")
        received = now
        if data.get("received_at") not in (None, ""):
            if caller is None:
                raise BadData("received_at: only an objection HR enters has one",
                              field="received_at")
            received = parse_time(data["received_at"], "received_at")
            if received > now:
                raise BadData("received_at: when the objection reached the office; not "
                              "in the future", field="received_at")
        name = _text(data, "name", MAX_NAME_CHARS)
        contact = _text(data, "contact", MAX_CONTACT_CHARS)
        ground = choice(data, "ground", OBJECTION_GROUNDS)
        statement = _text(data, "statement", MAX_STATEMENT_CHARS)
        registration = data.get("registration")
        registration = (parse_registration(registration)
                        if registration not in (None, "") else None)
        line = data.get("line")
        if line in (None, ""):
            line = None
        else:
            try:
                line = int(str(line).strip())
            except ValueError:
                raise BadData("line: a line number of the notice", field="line") from None
            if not 1 <= line <= MAX_LINE:
                raise BadData("line: a line number of the notice", field="line")
        if registration is None and line is None:
            raise BadData("registration: name the candidate (registration number) or the "
                          "notice line the objection concerns", field="registration")
        files = check_attachments(attachments)
        objection = new_id("obj")
        token = secrets.token_urlsafe(18)

        def plan(conn: Connection) -> Planned[dict[str, Any]]:
            n = row_by_key(conn, P.notices.c.notice, notice)
            if n.superseded_by is not None:
                raise Conflict(f"notice {notice} was superseded by {n.superseded_by}; "
                               "object to the current notice", field="notice")
            if received < parse_utc(n.period_start):
                raise Conflict(f"the notice period starts at {n.period_start}",
                               field="notice")
            if received >= parse_utc(n.period_end):
                raise Conflict(f"the notice period ended at {n.period_end}; objections "
                               "are taken only during it", field="notice")
            if line is not None and line > n.lines:
                raise BadData(f"line: the notice has {n.lines} lines", field="line")
            camp = conn.execute(select(P.campaigns).where(
                P.campaigns.c.campaign == n.campaign)).one()
            body: dict[str, Any] = {}
            if registration is not None:
                subject = conn.execute(select(P.subjects.c.subject).where(
                    P.subjects.c.campaign == n.campaign,
                    P.subjects.c.registration_key == registration)).scalar()
                if subject is None:
                    raise BadData("registration: no candidate of this notice has that "
                                  "registration number", field="registration")
                body["subject"] = subject
            if line is not None:
                body["line"] = line
            policy = self.policy_by_digest(camp.policy_digest)
            tz = ZoneInfo(camp.timezone)
            ack_by = end_of_working_days(received, _deadline_days(
                policy, "objection_ack_days", DEFAULT_ACK_DAYS), tz, working_day)
            reply_by = end_of_working_days(received, _deadline_days(
                policy, "objection_reply_days", DEFAULT_REPLY_DAYS), tz, working_day)
            data_key = AESGCM.generate_key(bit_length=256)
            wrapped, ciphertext, digest = self._seal(objection, name, contact, statement,
                                                     data_key)
            conn.execute(insert(P.vault_objectors).values(
                objection=objection, wrapped_key=wrapped, ciphertext=ciphertext))
            listed: list[tuple[str, str]] = []
            for position, f in enumerate(files, start=1):
                nonce = secrets.token_bytes(_NONCE)
                listed.append((f.kind, self.attachment_hmac(f.content)))
                conn.execute(insert(P.objection_attachments).values(
                    attachment=f"{objection}.{position}", objection=objection,
                    position=position, kind=f.kind, size=len(f.content),
                    hmac=listed[-1][1], ciphertext=nonce + AESGCM(data_key).encrypt(
                        nonce, f.content, self._attachment_aad(objection, position,
                                                               f.kind))))
            if listed:
                body["attachments"] = ledger_field(listed)
            if received != now:
                body["received_at"] = format_time(received)
            body = {"objection": objection, "notice": notice, "campaign": n.campaign,
                    "channel": channel, "ground": ground,
                    "statement_hmac": self.statement_hmac(statement),
                    "objector_sha256": digest,
                    "lookup_sha256": hashlib.sha256(token.encode()).hexdigest(),
                    "ack_by": format_time(ack_by), "reply_by": format_time(reply_by),
                    **body}
            actor = caller.actor if caller is not None else "public"
            return Planned([NewEntry("objection.filed", actor, body)],
                           {"objection": objection, "token": token, "notice": notice,
                            "campaign": n.campaign, "ack_by": body["ack_by"],
                            "reply_by": body["reply_by"], "state": "filed",
                            "attachments": len(files)})

        return self._run_planned(now, plan).value

    # -- reading ----------------------------------------------------------------------

    def public_state(self, objection: str, token: str) -> dict[str, Any]:
        """What the objector may see with their reference and secret: the state, the
        deadlines and the ruling (no personal data).

        Raises:
            NotFound: no such objection, or the secret does not match (one answer for
                both, so a stranger learns nothing).
        """
        with self.read() as conn:
            row = conn.execute(select(P.objections).where(
                P.objections.c.objection == objection)).first()
        given = hashlib.sha256(str(token).encode()).hexdigest()
        if row is None or not hmac.compare_digest(given, row.lookup_sha256):
            raise NotFound("no objection with this reference and secret",
                           field="objection")
        return public(row)

    def objections(self, campaign: str) -> list[dict[str, Any]]:
        """The campaign's objections (no personal data), oldest first."""
        with self.read() as conn:
            rows = conn.execute(select(P.objections).where(
                P.objections.c.campaign == campaign)
                .order_by(P.objections.c.idx)).all()
        return [record(r) for r in rows]

    def objection_record(self, objection: str) -> dict[str, Any]:
        """One objection without personal data.

        Raises:
            NotFound: no such objection.
        """
        with self.read() as conn:
            return record(row_by_key(conn, P.objections.c.objection, objection))

    def objector(self, caller: Caller, objection: str, now: datetime) -> dict[str, Any]:
        """The objector's name, contact and statement (personal data: the read is
        recorded as ``pii.viewed``); ``erased`` once the record was destroyed.

        Raises:
            NotFound: no such objection.  CouldNotCheck: the sealed record does not
                open or does not match the ledger's digest.
        """
        with self.read() as conn:
            row = row_by_key(conn, P.objections.c.objection, objection)
            sealed = conn.execute(select(P.vault_objectors).where(
                P.vault_objectors.c.objection == objection)).first()
            doc = conn.execute(select(P.vault_documents.c.ciphertext).where(
                P.vault_documents.c.document == f"{objection}.statement")).scalar()
        if sealed is None or sealed.wrapped_key is None:
            return {"erased": True}
        out: dict[str, Any] = self._open(objection, bytes(sealed.wrapped_key),
                                         bytes(sealed.ciphertext), row.objector_sha256)
        fields = "name,contact,statement"
        if doc is not None:
            raw = bytes(doc)
            try:
                out["candidate_statement"] = self._doc_key.decrypt(
                    raw[:_NONCE], raw[_NONCE:], f"{objection}.statement".encode()).decode()
            except InvalidTag:
                raise CouldNotCheck(f"the candidate's statement on {objection} does not "
                                    "open: it was altered, or sealed under another key",
                                    field="objection") from None
            fields += ",candidate_statement"
        self._run(now, lambda conn: [NewEntry("pii.viewed", caller.actor, {
            "objection": objection, "purpose": "objection", "fields": fields})])
        out["erased"] = False
        return out

    def open_notices(self, campaign: str, now: datetime) -> list[dict[str, Any]]:
        """The campaign's notices objections may be filed against at ``now`` (current,
        within their period), newest first: ``notice``, ``period_end``, ``lines``."""
        t = format_time(now)
        n = P.notices.c
        with self.read() as conn:
            rows = conn.execute(select(n.notice, n.period_end, n.lines).where(
                n.campaign == campaign, n.superseded_by.is_(None), n.period_start <= t,
                n.period_end > t).order_by(n.idx.desc())).all()
        return [{"notice": r.notice, "period_end": r.period_end, "lines": r.lines}
                for r in rows]

    def counts(self, notice: str) -> dict[str, int]:
        """How many objections a notice received and how they stand (no personal data):
        ``received``, ``open`` (not yet answered), ``upheld``, ``cancelled``, ``deferred``.
        What a notice's page shows."""
        with self.read() as conn:
            return objection_counts(conn, notice)

    def campaign_counts(self, campaign: str) -> dict[str, int]:
        """``counts`` over every notice of ``campaign`` (what the archive report shows)."""
        with self.read() as conn:
            return objection_counts(conn, campaign=campaign)

    # -- handling ---------------------------------------------------------------------

    def acknowledge(self, caller: Caller, objection: str, now: datetime) -> dict[str, Any]:
        """Acknowledge an objection and start checking it.

        Raises:
            NotFound: no such objection.  Conflict: acknowledged or ruled already.
        """
        def plan(conn: Connection) -> list[NewEntry]:
            o = row_by_key(conn, P.objections.c.objection, objection)
            if o.state != "filed":
                raise Conflict(f"objection {objection} was acknowledged already",
                               field="objection")
            return [NewEntry("objection.acknowledged", caller.actor,
                             {"objection": objection})]

        self._run(now, plan)
        return self.objection_record(objection)

    def invite_statement(self, caller: Caller, objection: str, data: Mapping[str, Any],
                         now: datetime, working_day: WorkingDay) -> dict[str, Any]:
        """Tell the candidate concerned and invite them to state their case (陈述、申辩)
        within the policy's ``objection_statement_days`` working days.  An objection
        that named only a notice line needs the candidate's ``registration``.

        Raises:
            BadData: invalid or missing ``registration``.  NotFound: no such objection.
            Conflict: not acknowledged yet, ruled, or invited already.
            CalendarUnknown: the deadline reaches a year the calendar does not know.
        """
        only(data, {"registration"}, "")
        registration = data.get("registration")
        registration = (parse_registration(registration)
                        if registration not in (None, "") else None)

        def plan(conn: Connection) -> list[NewEntry]:
            o = open_row(conn, objection)
            if o.state == "filed":
                raise Conflict("acknowledge the objection first", field="objection")
            if o.invited_at is not None:
                raise Conflict("the candidate was invited already", field="objection")
            subject = o.subject
            if registration is not None:
                subject = conn.execute(select(P.subjects.c.subject).where(
                    P.subjects.c.campaign == o.campaign,
                    P.subjects.c.registration_key == registration)).scalar()
                if subject is None:
                    raise BadData("registration: no candidate of this campaign has that "
                                  "registration number", field="registration")
                if o.subject is not None and subject != o.subject:
                    raise BadData("registration: the objection concerns another "
                                  "candidate", field="registration")
            if subject is None:
                raise BadData("registration: the objection names only a notice line; "
                              "give the candidate's registration number",
                              field="registration")
            camp = conn.execute(select(P.campaigns).where(
                P.campaigns.c.campaign == o.campaign)).one()
            policy = self.policy_by_digest(camp.policy_digest)
            by = end_of_working_days(now, _deadline_days(
                policy, "objection_statement_days", DEFAULT_STATEMENT_DAYS),
                ZoneInfo(camp.timezone), working_day)
            contact = conn.execute(select(P.subjects.c.contact).where(
                P.subjects.c.subject == subject)).scalar_one()
            return [NewEntry("objection.statement_invited", caller.actor, {
                "objection": objection, "subject": subject,
                "respond_by": format_time(by)}),
                notify_entry(subject, contact, "objection_statement", now,
                             objection=objection)]

        self._run(now, plan)
        return self.objection_record(objection)

    def record_statement(self, caller: Caller, objection: str, data: Mapping[str, Any],
                         now: datetime, *, candidate: str | None = None) -> dict[str, Any]:
        """Record the candidate's statement (``{"statement", "channel"}``), sealed in
        the vault under the candidate (erasing them erases it).  ``candidate`` is the
        subject stating their own case (the status page, channel ``web``): the
        objection must concern them and the time given (``respond_by``) must not have
        passed.  The record returned adds ``statement_index``, the entry's index.

        Raises:
            BadData: invalid fields.  NotFound: no such objection, or (``candidate``)
                one that concerns someone else (the same answer).
            Conflict: not invited, ruled, a statement was recorded already, or
                (``candidate``) the time given has passed.
        """
        only(data, {"statement", "channel"}, "")
        statement = _text(data, "statement", MAX_STATEMENT_CHARS)
        channel = choice(data, "channel", OBJECTION_CHANNELS)
        document = f"{objection}.statement"

        def plan(conn: Connection) -> list[NewEntry]:
            o = open_row(conn, objection)
            if o.invited_at is None:
                raise Conflict("the candidate was not invited to state their case",
                               field="objection")
            if candidate is not None and o.subject != candidate:
                raise NotFound(f"no such objection: {objection}", field="objection")
            if o.statement_at is not None:
                raise Conflict("the candidate's statement was recorded already",
                               field="objection")
            if candidate is not None and now >= parse_utc(o.respond_by):
                raise Conflict(f"the time to state one's case ended at {o.respond_by}",
                               field="objection")
            subject = conn.execute(select(P.objections.c.subject).where(
                P.objections.c.objection == objection)).scalar_one()
            nonce = secrets.token_bytes(_NONCE)
            conn.execute(insert(P.vault_documents).values(
                document=document, subject=subject,
                ciphertext=nonce + self._doc_key.encrypt(nonce, statement.encode(),
                                                         document.encode())))
            return [NewEntry("objection.statement_received", caller.actor, {
                "objection": objection, "channel": channel,
                "statement_hmac": self.statement_hmac(statement)})]

        receipt = self._run(now, plan)[0]
        return {**self.objection_record(objection), "statement_index": receipt.index}

    def rule(self, caller: Caller, objection: str, data: Mapping[str, Any], now: datetime
             ) -> dict[str, Any]:
        """Answer an objection: ``{"ruling": upheld|cancelled|deferred, "reason",
        "confirm"?}``.  ``cancelled`` (取消, against the candidate) needs ``confirm``
        true, and the candidate must have been invited to state their case and either
        answered or let the time given pass.  A ``cancelled`` ruling records the
        vacancy the candidate leaves (``vacancy.recorded``, ``disqualified``, naming the
        objection) in the same transaction, unless the candidate left already; the
        sweep answers it (``Backfill.propose_due``).

        Raises:
            BadData: invalid fields; a cancel without ``confirm`` (named).
            NotFound: no such objection.
            Conflict: not acknowledged, ruled finally already, or a cancel before the
                candidate could state their case.
        """
        only(data, {"ruling", "reason", "confirm"}, "")
        ruling = choice(data, "ruling", OBJECTION_RULINGS)
        reason = stated_reason(data)
        if reason is None:
            raise BadData("reason: give the reason for the ruling", field="reason")
        if ruling == "cancelled" and data.get("confirm") not in (True, "1", "on", "true"):
            raise BadData("confirm: cancelling the candidate's result must be confirmed",
                          field="confirm")

        def plan(conn: Connection) -> list[NewEntry]:
            o = open_row(conn, objection)
            if o.state == "filed":
                raise Conflict("acknowledge the objection first", field="objection")
            if ruling == "cancelled":
                if o.invited_at is None:
                    raise Conflict("invite the candidate to state their case (陈述、申辩) "
                                   "before cancelling their result", field="ruling")
                if o.statement_at is None and now < parse_utc(o.respond_by):
                    raise Conflict(f"the candidate may state their case until "
                                   f"{o.respond_by}", field="ruling")
            items = [NewEntry("objection.ruled", caller.actor, {
                "objection": objection, "ruling": ruling, "reason": reason})]
            if ruling == "cancelled" and o.subject is not None and not has_left(
                    conn, o.subject):
                # 取消 leaves a vacancy: recorded with the ruling, answered by the
                # sweep (Backfill.propose_due) like any other.
                items.append(NewEntry("vacancy.recorded", caller.actor, {
                    "vacancy": new_id("v"), "campaign": o.campaign, "subject": o.subject,
                    "kind": "disqualified", "at": format_time(now),
                    "objection": objection}))
            return items

        self._run(now, plan)
        return self.objection_record(objection)

    # -- deadlines and retention ------------------------------------------------------

    def raise_overdue(self, now: datetime) -> list[str]:
        """Raise one ``objection_overdue`` alert per missed deadline (acknowledge, or
        reply: a 暂缓 counts as a reply) not raised before; return their ids."""
        cutoff = format_time(now)

        def plan(conn: Connection) -> Planned[list[str]]:
            o = P.objections.c
            late_ack = conn.execute(select(P.objections).where(
                o.state == "filed", o.ack_by <= cutoff)).all()
            late_reply = conn.execute(select(P.objections).where(
                o.state.in_(("filed", "acknowledged")), o.reply_by <= cutoff)).all()
            items: list[NewEntry] = []
            raised: list[str] = []
            for stage, rows in (("acknowledge", late_ack), ("reply", late_reply)):
                for r in rows:
                    alert = f"objection_overdue:{r.objection}:{stage}"
                    if conn.execute(select(P.alerts.c.alert).where(
                            P.alerts.c.alert == alert)).first():
                        continue
                    camp = conn.execute(select(P.campaigns.c.policy_digest).where(
                        P.campaigns.c.campaign == r.campaign)).scalar_one()
                    try:
                        policy = self.policy_by_digest(camp)
                        days = (_deadline_days(policy, "objection_ack_days",
                                               DEFAULT_ACK_DAYS) if stage == "acknowledge"
                                else _deadline_days(policy, "objection_reply_days",
                                                    DEFAULT_REPLY_DAYS))
                    except NotFound:
                        days = 0
                    items.append(NewEntry("alert.raised", "scheduler", {
                        "alert": alert, "campaign": r.campaign, "kind": "objection_overdue",
                        "count": 1, "total": 1, "threshold": days, "windows": "",
                        "objection": r.objection, "stage": stage},
                        idempotency_key=f"alert:{alert}"))
                    raised.append(alert)
            return Planned(items, raised)

        return self._run_planned(now, plan).value

    def erase_objector(self, caller: Caller, objection: str, reason: str, now: datetime
                       ) -> dict[str, Any]:
        """Destroy the objector's sealed record (key and ciphertext) and the sealed
        attachments (their key was the record's); the ledger keeps
        the digest, which nothing links to anyone any more.  ``retention_expired`` only
        after ``retention_days`` from the filing.

        Raises:
            BadData: unknown reason.  NotFound: no such objection.
            Conflict: erased already, or the retention period has not ended.
        """
        if reason not in ("retention_expired", "request"):
            raise BadData("reason: one of retention_expired, request", field="reason")

        def plan(conn: Connection) -> list[NewEntry]:
            o = row_by_key(conn, P.objections.c.objection, objection)
            if o.objector_erased:
                raise Conflict("the objector's record was erased already",
                               field="objection")
            ends = parse_utc(o.filed_at) + timedelta(days=self.cfg.retention_days)
            if reason == "retention_expired" and now < ends:
                raise Conflict(f"retention runs until {format_time(ends)}",
                               field="reason")
            conn.execute(update(P.vault_objectors)
                         .where(P.vault_objectors.c.objection == objection)
                         .values(wrapped_key=None, ciphertext=None))
            conn.execute(update(P.objection_attachments)
                         .where(P.objection_attachments.c.objection == objection)
                         .values(ciphertext=None))
            return [NewEntry("objection.objector_erased", caller.actor,
                             {"objection": objection, "reason": reason})]

        self._run(now, plan)
        return self.objection_record(objection)
