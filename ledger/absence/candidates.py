"""Candidates: import them (personal data to the vault), read them, and read their
personal data, each read on record."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from ledger.absence import tables as P  # noqa: N812 (the tables, read as P.windows)
from ledger.absence.campaigns import CampaignUseCase
from ledger.absence.context import (
    Caller,
    sealed_person,
)
from ledger.absence.fields import (
    contact_channels,
)
from ledger.absence.imports import parse_candidates, registration_key
from ledger.absence.queries import Source, connected
from ledger.absence.vault import (
    PersonalDetails,
    SealedPerson,
    new_subject_id,
)
from ledger.errors import BadData, NotAllowed, NotFound, Unprocessable
from ledger.storage.store import NewEntry, Planned

log = logging.getLogger(__name__)

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


def under_review(conn: Connection, subject: str) -> bool:
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


class Candidates(CampaignUseCase):
    """Register candidates and read their details."""

    def import_candidates(self, caller: Caller, campaign: str, data: bytes,
                          content_type: str, now: datetime) -> list[dict[str, Any]]:
        """Register candidates from CSV or JSON: all rows or none.

        Raises:
            NotFound: no such campaign.
            BadData: the file cannot be read at all.
            Unprocessable: rows have errors (each listed), or duplicate a candidate
                already in the campaign; nothing is imported.
        """
        known_posts = {p["post"] for p in self._campaigns.campaign(campaign)["posts"]}
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
                "contact": contact_channels(r.details)}) for r, subj, s in sealed]

        receipts = self._run(now, plan)
        return [{"row": r.row, "registration": r.registration, "subject": subj,
                 "ledger_index": rc.index}
                for (r, subj, _), rc in zip(sealed, receipts, strict=True)]

    def candidates(self, campaign: str) -> list[dict[str, Any]]:
        """The campaign's candidates (pseudonymous: no personal data)."""
        self._campaigns.campaign(campaign)
        with self.read() as conn:
            rows = conn.execute(select(P.subjects).where(P.subjects.c.campaign == campaign)
                                .order_by(P.subjects.c.registration)).all()
        return [{"subject": r.subject, "registration": r.registration, "post": r.post,
                 "contact": r.contact, "misses": r.misses, "locked": bool(r.locked),
                 "erased": bool(r.erased), "ledger_index": r.registered_index} for r in rows]

    def personal_details(self, conn: Connection, subject: str) -> PersonalDetails | None:
        """A subject's details from the vault (None once erased); no access is recorded,
        so only for processing that shows no one the details (masking a notice)."""
        sealed = sealed_person(conn, subject)
        return None if sealed is None else self.vault.open(subject, sealed)

    def personal_details_of(self, source: Source, subjects: Iterable[str]
                            ) -> dict[str, PersonalDetails | None]:
        """``personal_details`` of each of ``subjects``, read in one connection (a
        notice masks a whole campaign's names); no access is recorded either."""
        with connected(source) as conn:
            return {s: self.personal_details(conn, s) for s in subjects}

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
        def plan(conn: Connection) -> Planned[PersonalDetails]:
            row = conn.execute(select(P.subjects.c.erased).where(
                P.subjects.c.subject == subject)).first()
            sealed = sealed_person(conn, subject)
            if row is None or sealed is None:
                raise NotFound(f"no personal data for {subject!r} (unknown or erased)",
                               field="subject")
            if purpose in UNDER_REVIEW_PURPOSES and not under_review(conn, subject):
                raise NotAllowed(f"purpose {purpose}: {subject} has no decision pending "
                                 "review and no open appeal; a reviewer reads only cases "
                                 "under review", field="purpose")
            return Planned([NewEntry("pii.viewed", caller.actor, {
                "subject": subject, "purpose": purpose, "fields": ",".join(sorted(fields))})],
                self.vault.open(subject, sealed))

        done = self._run_planned(now, plan)
        person = done.value.to_json()
        return {"subject": subject, **{f: person[f] for f in fields},
                "access_recorded_at": done.receipts[0].index}

    def access_log(self, subject: str | None = None, limit: int = 1000, *,
                   registration: str | None = None) -> list[dict[str, Any]]:
        """Who viewed whose personal data, newest first; only of ``subject``, and (or) of
        the candidates whose registration number is ``registration`` (any letter case,
        in any campaign: the projection maps it to their subjects).  Raises nothing: a
        number that is no candidate's finds no row."""
        q = select(P.access_log)
        if subject is not None:
            q = q.where(P.access_log.c.subject == subject)
        if registration is not None:
            q = q.where(P.access_log.c.subject.in_(
                select(P.subjects.c.subject).where(
                    P.subjects.c.registration_key == registration_key(registration.strip()))))
        with self.read() as conn:
            rows = conn.execute(q.order_by(P.access_log.c.idx.desc()).limit(limit)).all()
        return [{"index": r.idx, "subject": r.subject, "actor": r.actor,
                 "purpose": r.purpose, "fields": r.fields.split(","), "at": r.at}
                for r in rows]
