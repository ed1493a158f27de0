"""A candidate's own lookup: registration number and factor, then their status."""

from __future__ import annotations

import hmac
import logging
import secrets
from typing import Any

from sqlalchemy import select

from ledger.absence import tables as P  # noqa: N812 (the tables, read as P.windows)
from ledger.absence.context import (
    Context,
    UseCase,
)
from ledger.absence.decisions import (
    Decisions,
)
from ledger.absence.fields import (
    parse_factor,
    parse_registration,
)
from ledger.absence.vault import (
    PersonalDetails,
    SealedPerson,
    new_subject_id,
)
from ledger.absence.windows import Windows
from ledger.errors import NotAllowed

log = logging.getLogger(__name__)



class Lookup(UseCase):
    """Find a candidate by what they know; show their status."""

    def __init__(self, ctx: Context, windows: Windows, decisions: Decisions) -> None:
        """Lookups over ``windows`` and ``decisions``."""
        super().__init__(ctx)
        self._windows = windows
        self._decisions = decisions
        # What a lookup opens when the registration number is unknown or erased, so
        # that every lookup does the same work (one query, one vault opening, one
        # comparison).  Its ID number is lower-case letters: no well-formed factor
        # (digits and X) can equal its end, and a match with it is refused anyway.
        self._decoy_subject = new_subject_id()
        self._decoy = self.vault.seal(self._decoy_subject, PersonalDetails(
            name="-", id_number="".join(secrets.choice("abcdefghijklmnopqrstuvwxyz")
                                        for _ in range(18)), phone="", email=""))

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
            info = self._windows.window(w)
            current = [self._decisions.decision(d) for d in info["decisions"]]
            out.append({k: info[k] for k in ("window", "kind", "opens_at", "closes_at",
                                              "accommodation")} | {"decisions": current})
        return {"campaign": campaign, "registration": registered, "windows": out}
