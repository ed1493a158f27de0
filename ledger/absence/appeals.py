"""Appeals: a candidate files one (statement and attachments sealed), an officer rules on it.

Sealing: the statement and each attachment are encrypted (AES-256-GCM) under keys derived
from the master key (HKDF), bound by their associated data to the appeal (and, for an
attachment, its position, kind and subject), and stored next to the ledger
(``vault_documents``, ``appeal_attachments``); erasing the candidate deletes the
ciphertexts.  The ledger holds their HMAC-SHA-256 under other derived keys.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Connection, func, insert, select

from ledger.absence import tables as P  # noqa: N812 (the tables, read as P.windows)
from ledger.absence.attachments import (
    MEDIA_TYPES,
    Attachment,
    check_attachments,
    ledger_field,
    matches_listed,
    parse_ledger_field,
)
from ledger.absence.campaigns import Campaigns
from ledger.absence.context import Caller, Context, UseCase, new_id, row_by_key
from ledger.absence.decisions import Decisions, as_rule, decision_entry, decision_row
from ledger.absence.fields import choice, only, req, stated_reason
from ledger.absence.lookup import Lookup
from ledger.absence.notifications import notify_entry
from ledger.absence.rules import Outcome
from ledger.absence.slots import window_request
from ledger.absence.windows import Windows, window_entries
from ledger.entry import format_time, parse_utc
from ledger.errors import BadData, Conflict, CouldNotCheck, NotFound
from ledger.storage.store import NewEntry

log = logging.getLogger(__name__)

MAX_STATEMENT_CHARS = 2000
STATEMENT_MAC_INFO = b"absentia appeal statement mac v1"
ATTACHMENT_MAC_INFO = b"absentia appeal attachment mac v1"
ATTACHMENT_KEY_INFO = b"absentia appeal attachments v1"
_NONCE = 12


class Appeals(UseCase):
    """File, read and rule appeals."""

    def __init__(self, ctx: Context, master_key: bytes, campaigns: Campaigns,
                 windows: Windows, decisions: Decisions, lookup: Lookup) -> None:
        """Appeals whose statements are sealed under keys derived from ``master_key``."""
        super().__init__(ctx)
        self._campaigns = campaigns
        self._windows = windows
        self._decisions = decisions
        self._lookup = lookup
        # Appeal statements are sealed under a key derived from the master key.
        self._doc_key = AESGCM(HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                                    info=b"absentia documents v1").derive(master_key))
        # ... and the ledger holds their HMAC under another derived key (a plain hash
        # would let anyone confirm a guessed statement).
        self._statement_mac_key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                                       info=STATEMENT_MAC_INFO).derive(master_key)
        # Attachments: their own sealing key and digest key.
        self._attach_key = AESGCM(HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                                       info=ATTACHMENT_KEY_INFO).derive(master_key))
        self._attach_mac_key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                                    info=ATTACHMENT_MAC_INFO).derive(master_key)

    def file_appeal(self, campaign: str, data: Mapping[str, Any], now: datetime, *,
                    attachments: Sequence[bytes] = ()) -> dict[str, Any]:
        """A candidate appeals their latest absence decision within the appeal period.

        ``{"registration", "factor", "ground", "statement"}``, and up to three files
        (``ledger.absence.attachments``), sealed with the statement in one transaction.

        Raises:
            BadData: invalid fields.  AttachmentRefused: a file is refused (too many,
                empty, not a JPEG/PNG/PDF; AttachmentTooLarge: too large).
            NotAllowed: registration and factor do not match.
            Conflict: nothing to appeal, the period ended, or an appeal is open.
        """
        only(data, {"registration", "factor", "ground", "statement"}, "")
        ground = req(data, "ground")
        if ground not in ("technical", "notification", "personal", "other"):
            raise BadData("ground: one of technical, notification, personal, other",
                          field="ground")
        statement = req(data, "statement")
        if not isinstance(statement, str) or not 0 < len(statement) <= MAX_STATEMENT_CHARS:
            raise BadData(f"statement: 1..{MAX_STATEMENT_CHARS} characters", field="statement")
        files = check_attachments(attachments)
        subject = self._lookup.find_subject(campaign, data.get("registration"), data.get("factor"))
        appeal = new_id("a")
        # Sealed before the log's lock is taken: up to 15 MiB of encryption and HMAC
        # need not hold up other writers.
        sealed: list[dict[str, Any]] = [
            {"attachment": f"{appeal}.{position}", "appeal": appeal, "subject": subject,
             "position": position, "kind": f.kind, "size": len(f.content),
             "hmac": self.attachment_hmac(f.content),
             "ciphertext": self._seal_attachment(appeal, position, subject, f)}
            for position, f in enumerate(files, start=1)]

        def plan(conn: Connection) -> list[NewEntry]:
            row = conn.execute(select(P.decisions).where(
                P.decisions.c.subject == subject, P.decisions.c.superseded_by.is_(None),
                P.decisions.c.outcome != "attended")
                .order_by(P.decisions.c.idx.desc())).first()
            if row is None:
                raise Conflict("there is no absence decision to appeal", field="registration")
            policy = self.policy_by_digest(row.policy_digest)
            ends = parse_utc(row.decided_at) + timedelta(seconds=policy.appeal_period_s)
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
            if sealed:
                conn.execute(insert(P.appeal_attachments), sealed)
            body = {"appeal": appeal, "decision": row.decision, "subject": subject,
                    "ground": ground, "statement_hmac": self.statement_hmac(statement)}
            if sealed:
                body["attachments"] = ledger_field([(r["kind"], r["hmac"]) for r in sealed])
            return [NewEntry("appeal.filed", "candidate", body)]

        rc = self._run(now, plan)[0]
        return {"appeal": appeal, "status": "filed", "ledger_index": rc.index,
                "attachments": len(files)}

    def attachment_hmac(self, content: bytes) -> str:
        """Lowercase hex HMAC-SHA-256 of an attachment's bytes under the key derived from
        the master key (HKDF, ``ATTACHMENT_MAC_INFO``): what ``appeal.filed`` lists."""
        return hmac.new(self._attach_mac_key, content, hashlib.sha256).hexdigest()

    @staticmethod
    def _attachment_aad(appeal: str, position: int, subject: str, kind: str) -> bytes:
        # Binds the ciphertext to its appeal, place, subject and kind: a sealed file
        # cannot be moved to another appeal or served as another type.
        return f"{appeal}.{position}\n{subject}\n{kind}".encode()

    def _seal_attachment(self, appeal: str, position: int, subject: str, f: Attachment
                         ) -> bytes:
        nonce = secrets.token_bytes(_NONCE)
        return nonce + self._attach_key.encrypt(
            nonce, f.content, self._attachment_aad(appeal, position, subject, f.kind))

    def _open_attachment(self, row: Any) -> bytes | None:
        """The plaintext of an ``appeal_attachments`` row; None once erased.

        Raises:
            CouldNotCheck: the ciphertext does not open (altered, or another key).
        """
        if row.ciphertext is None:
            return None
        raw = bytes(row.ciphertext)
        try:
            return self._attach_key.decrypt(
                raw[:_NONCE], raw[_NONCE:],
                self._attachment_aad(row.appeal, row.position, row.subject, row.kind))
        except InvalidTag as exc:
            raise CouldNotCheck(f"attachment {row.attachment} does not open: it was altered "
                                "or sealed under another master key") from exc

    def _listed(self, index: int) -> list[tuple[str, str]]:
        """What the ``appeal.filed`` entry at ``index`` lists of its attachments."""
        entry = json.loads(self.store.entry(self.ctx.log, index))
        return parse_ledger_field(entry["body"].get("attachments"))

    def _attachments(self, appeal: str, index: int) -> list[dict[str, Any]]:
        """The appeal's attachments: position, kind, media type, size, whether erased and
        whether the sealed bytes match what the ledger lists (their HMAC)."""
        with self.read() as conn:
            rows = conn.execute(select(P.appeal_attachments).where(
                P.appeal_attachments.c.appeal == appeal)
                .order_by(P.appeal_attachments.c.position)).all()
        listed = self._listed(index) if rows else []
        out = []
        for r in rows:
            try:
                content = self._open_attachment(r)
                opened = True
            except CouldNotCheck:  # altered: listed, marked as failing the check
                content, opened = None, False
            verified = matches_listed(listed, r.position, r.kind, None if content is None
                                      else self.attachment_hmac(content))
            out.append({"position": r.position, "kind": r.kind,
                        "media_type": MEDIA_TYPES[r.kind], "size": r.size,
                        "erased": opened and content is None, "verified": verified})
        return out

    def attachment(self, caller: Caller, appeal: str, position: int, now: datetime
                   ) -> Attachment:
        """An appeal's attachment (personal data: ``pii.viewed`` is recorded first, then
        the bytes are opened and checked against the ledger's digest).

        Raises:
            NotFound: no such appeal or attachment, or it was erased.
            CouldNotCheck: the sealed bytes do not open or do not match the ledger.
        """
        with self.read() as conn:
            a = row_by_key(conn, P.appeals.c.appeal, appeal)
            row = conn.execute(select(P.appeal_attachments).where(
                P.appeal_attachments.c.appeal == appeal,
                P.appeal_attachments.c.position == position)).first()
        if row is None:
            raise NotFound(f"appeal {appeal} has no attachment {position}", field="position")
        if row.ciphertext is None:
            raise NotFound(f"attachment {position} of appeal {appeal} was erased",
                           field="position")
        self._run(now, lambda conn: [NewEntry("pii.viewed", caller.actor, {
            "subject": a.subject, "purpose": "appeal", "fields": "attachment"})])
        content = self._open_attachment(row)
        if content is None or not matches_listed(self._listed(a.idx), position, row.kind,
                                                 self.attachment_hmac(content)):
            raise CouldNotCheck(f"attachment {position} of appeal {appeal} does not match "
                                "the digest its appeal.filed entry lists")
        return Attachment(row.kind, content)

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
        self._campaigns.campaign(campaign)
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
            return _appeal_json(row_by_key(conn, P.appeals.c.appeal, appeal))

    def appeal(self, caller: Caller, appeal: str, now: datetime) -> dict[str, Any]:
        """An appeal with its statement (personal data: the read is recorded).

        Raises:
            NotFound: no such appeal.
        """
        with self.read() as conn:
            row = row_by_key(conn, P.appeals.c.appeal, appeal)
            doc = conn.execute(select(P.vault_documents.c.ciphertext).where(
                P.vault_documents.c.document == appeal)).scalar()
        out = _appeal_json(row)
        if doc is not None:
            self._run(now, lambda conn: [NewEntry("pii.viewed", caller.actor, {
                "subject": row.subject, "purpose": "appeal", "fields": "statement"})])
            raw = bytes(doc)
            out["statement"] = self._doc_key.decrypt(raw[:12], raw[12:], appeal.encode()
                                                     ).decode()
        out["attachments"] = self._attachments(appeal, row.idx)
        return out

    def rule_appeal(self, caller: Caller, appeal: str, data: Mapping[str, Any],
                    now: datetime) -> dict[str, Any]:
        """Uphold or overturn an appeal; an overturn supersedes the decision and, given
        ``opens_at``/``closes_at`` (or ``backup_slot``: a seat in a backup slot),
        schedules a make-up window.  An optional ``reason``
        (1..200 printable characters, no personal data) is recorded in the entry.

        Raises:
            BadData: invalid fields.  NotFound: no such appeal.
            NotFound: no such backup slot.
            Conflict: already ruled; the backup slot has ended or is full.
        """
        only(data, {"ruling", "opens_at", "closes_at", "backup_slot", "reason"}, "")
        ruling = choice(data, "ruling", ("upheld", "overturned"))
        reason = stated_reason(data)
        request = (window_request(data, now)
                   if ruling == "overturned"
                   and ({"opens_at", "closes_at", "backup_slot"} & set(data)) else None)

        def plan(conn: Connection) -> list[NewEntry]:
            a = row_by_key(conn, P.appeals.c.appeal, appeal)
            if a.ruling is not None:
                raise Conflict(f"appeal {appeal} was ruled already ({a.ruling})",
                               field="appeal")
            d = decision_row(conn, a.decision)
            contact = conn.execute(select(P.subjects.c.contact).where(
                P.subjects.c.subject == a.subject)).scalar_one()
            body: dict[str, Any] = {"appeal": appeal, "ruling": ruling}
            if reason:
                body["reason"] = reason
            items: list[NewEntry] = []
            if ruling == "overturned":
                tz = ZoneInfo(conn.execute(select(P.campaigns.c.timezone).where(
                    P.campaigns.c.campaign == d.campaign)).scalar_one())
                policy = self.policy_by_digest(d.policy_digest)
                n = conn.execute(select(func.count()).select_from(P.decisions).where(
                    P.decisions.c.window == d.window)).scalar_one()
                # The new decision as it will be read back (and explained): made now,
                # under the appeal rule, so the digest covers what the candidate is told.
                rule = replace(as_rule(d), outcome=Outcome.MAKEUP_PENDING,
                               decided_at=parse_utc(format_time(now)), reason="appeal_overturned")
                items.append(decision_entry(
                    rule, d.campaign, policy, tz, "appeal",
                    decision_id=f"{d.decision}.{n + 1}", supersedes=d.decision,
                    outcome="makeup_granted", reason="appeal_overturned"))
                if request is not None:
                    place = request.place(conn, d.campaign, now, "makeup")
                    w = new_id("w")
                    body["makeup_window"] = w
                    items += window_entries(caller, d.campaign, d.subject, contact, w,
                                            place.opens, place.closes, place.slot, "makeup",
                                            d.decision, now)
            return [NewEntry("appeal.ruled", caller.actor, body), *items,
                    notify_entry(a.subject, contact, "appeal_ruling", now, appeal=appeal)]

        self._run(now, plan)
        with self.read() as conn:
            row = conn.execute(select(P.appeals).where(P.appeals.c.appeal == appeal)).one()
        return _appeal_json(row)


def _appeal_json(row: Any) -> dict[str, Any]:
    return {"appeal": row.appeal, "decision": row.decision, "campaign": row.campaign,
            "subject": row.subject, "ground": row.ground,
            "statement_hmac": row.statement_hmac,
            "statement_sha256": row.statement_sha256, "filed_at": row.filed_at,
            "ruling": row.ruling, "ruled_at": row.ruled_at, "ruled_by": row.ruled_by,
            "ruling_reason": row.ruling_reason,
            "makeup_window": row.makeup_window, "ledger_index": row.idx}
