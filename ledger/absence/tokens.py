"""Bearer tokens: create, revoke, list and authenticate them."""

from __future__ import annotations

import logging
import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from ledger.absence import tables as P  # noqa: N812 (the tables, read as P.windows)
from ledger.absence.context import Caller, UseCase, new_id, row_by_key, sha256_hex
from ledger.absence.entries import ROLES
from ledger.errors import BadData
from ledger.storage.store import NewEntry

log = logging.getLogger(__name__)


class Tokens(UseCase):
    """API tokens."""


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
                                "secret_sha256": sha256_hex(text.encode())}
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
            row_by_key(conn, P.tokens.c.token, token_id)  # or NotFound
            return [NewEntry("token.revoked", "admin", {"token": token_id})]

        self._run(now, plan)

    def tokens(self) -> list[dict[str, Any]]:
        with self.read() as conn:
            rows = conn.execute(select(P.tokens).order_by(P.tokens.c.created_at)).all()
        return [{"token": r.token, "role": r.role, "label": r.label,
                 "created_at": r.created_at, "revoked": bool(r.revoked)} for r in rows]

    def authenticate(self, text: str) -> Caller | None:
        """The caller a bearer token stands for, or None."""
        digest = sha256_hex(text.encode())
        with self.read() as conn:
            row = conn.execute(select(P.tokens.c.token, P.tokens.c.role).where(
                P.tokens.c.secret_sha256 == digest, P.tokens.c.revoked == 0)).first()
        return None if row is None else Caller(f"{row.role}:{row.token}", row.role)
