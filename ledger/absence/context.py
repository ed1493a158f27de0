"""What every use case of the absence domain shares: the store, settings and vault.

``Context`` runs a plan under the log's write lock (``LedgerStore.execute`` with the
domain's projection); ``UseCase`` is the base each use-case class builds on.  Time is
always a parameter; nothing here reads the clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Column, Connection, Row, select

from ledger.absence import tables as P  # noqa: N812 (the tables, read as P.windows)
from ledger.absence.projection import apply
from ledger.absence.rules import Policy
from ledger.absence.settings import AbsenceSettings
from ledger.absence.vault import SealedPerson, Vault
from ledger.errors import NotFound
from ledger.ids import new_id as new_id  # the use cases' ids, named here for them
from ledger.ids import sha256_hex as sha256_hex
from ledger.storage.store import Executed, Finish, LedgerStore, Plan, Planned, Receipt

T = TypeVar("T")

@dataclass(frozen=True)
class Caller:
    """Who issues a command: the ledger actor string and the role."""

    actor: str
    role: str


SYSTEM = Caller("scheduler", "system")


def sealed_person(conn: Connection, subject: str) -> SealedPerson | None:
    """A subject's vault record with the commitment the ledger holds; None once erased."""
    row = conn.execute(select(P.vault_people, P.subjects.c.commitment)
                       .join(P.subjects, P.subjects.c.subject == P.vault_people.c.subject)
                       .where(P.vault_people.c.subject == subject)).first()
    if row is None or row.wrapped_key is None:
        return None
    # The commitment comes from the ledger's projection: opening checks the vault
    # record against what the ledger committed to.
    return SealedPerson(bytes(row.wrapped_key), bytes(row.ciphertext), row.commitment,
                        row.blind_index)


def row_by_key(conn: Connection, key: Column[Any], value: str) -> Row[Any]:
    """The row of ``key``'s table whose column ``key`` holds ``value``.

    Raises:
        NotFound: none does (``no <key> <value>``, the field named as the column).
    """
    row = conn.execute(select(key.table).where(key == value)).first()
    if row is None:
        raise NotFound(f"no {key.name} {value!r}", field=key.name)
    return row


class Context:
    """The absence domain's log in a store, its settings and its vault."""

    def __init__(self, store: LedgerStore, settings: AbsenceSettings, vault: Vault) -> None:
        self.store = store
        self.cfg = settings
        self.vault = vault
        self.log = settings.log

    def run(self, now: datetime, plan: Plan) -> list[Receipt]:
        """Run ``plan`` under the log's lock, append its entries and project them.

        Raises:
            LedgerError: whatever ``plan`` raises; nothing is written.
        """
        return self.store.execute(self.log, now, plan, apply).receipts

    def run_planned(self, now: datetime, plan: Callable[[Connection], Planned[T]], *,
                    finish: Finish[T] | None = None) -> Executed[T]:
        """``run`` for a plan that answers a value with its entries (``Planned``);
        ``finish`` runs after the append, in the transaction (see ``execute``).

        Raises:
            LedgerError: whatever ``plan`` or ``finish`` raise; nothing is written.
        """
        return self.store.execute(self.log, now, plan, apply, finish=finish)

    def read(self) -> Connection:
        """A new connection for a use case's reads (a context manager: closed after)."""
        return self.store.engine.connect()

    def policy_by_digest(self, digest: str) -> Policy:
        """The configured policy with ``digest``.

        Raises:
            NotFound: no configured policy has it (it was changed after use).
        """
        for p in self.cfg.policies.values():
            if p.digest() == digest:
                return p
        raise NotFound(f"no configured policy has digest {digest[:12]}…; it was changed "
                       "after use: restore the old [policies.*] values to explain it",
                       field="policy_digest")


class UseCase:
    """A use case over a ``Context``: its store, settings, vault and log at hand."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.store = ctx.store
        self.cfg = ctx.cfg
        self.vault = ctx.vault
        self.log = ctx.log

    def _run(self, now: datetime, plan: Plan) -> list[Receipt]:
        return self.ctx.run(now, plan)

    def _run_planned(self, now: datetime, plan: Callable[[Connection], Planned[T]], *,
                     finish: Finish[T] | None = None) -> Executed[T]:
        return self.ctx.run_planned(now, plan, finish=finish)

    def read(self) -> Connection:
        """A new connection for this use case's reads (see ``Context.read``)."""
        return self.ctx.read()

    def policy_by_digest(self, digest: str) -> Policy:
        return self.ctx.policy_by_digest(digest)
