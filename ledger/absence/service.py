"""The absence domain as one object: a thin facade over its use cases.

Each use case lives in its own module (``campaigns``, ``candidates``, ``windows``,
``ingest``, ``sweep``, ``decisions``, ``reviews``, ``lookup``, ``appeals``, ``alerts``,
``notifications``, ``erasure``, ``statistics``, ``tokens``); ``AbsenceService`` builds
them over one ``Context`` and forwards each call, so that the web, the CLI and
publicity call one object.  Every command runs through ``LedgerStore.execute``: its
checks read the projections under the log's write lock, its entries are appended and
projected in one transaction.  Time is always the ``now`` parameter.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, select

from ledger.absence import tables as P  # noqa: N812 (the tables, read as P.windows)
from ledger.absence.alerts import Alerts
from ledger.absence.appeals import MAX_STATEMENT_CHARS, STATEMENT_MAC_INFO, Appeals
from ledger.absence.attachments import Attachment
from ledger.absence.backfill import Backfill
from ledger.absence.campaigns import Campaigns, adopt_policy
from ledger.absence.candidates import PURPOSE_FIELDS, UNDER_REVIEW_PURPOSES, Candidates
from ledger.absence.context import SYSTEM, Caller, Context, new_id
from ledger.absence.decisions import Decisions, explanation_digest, explanation_of
from ledger.absence.erasure import Erasure
from ledger.absence.fields import (
    MAX_POSTS,
    MAX_WINDOW_AHEAD,
    MAX_WINDOW_LENGTH,
    MIN_YEAR,
    only,
    parse_factor,
    parse_registration,
    parse_time,
)
from ledger.absence.ingest import Ingest
from ledger.absence.lookup import Lookup
from ledger.absence.notice_settings import NoticeSettings
from ledger.absence.notifications import Notifications
from ledger.absence.objections import Objections
from ledger.absence.queries import Source
from ledger.absence.reviews import Reviews
from ledger.absence.rules import Policy
from ledger.absence.settings import AbsenceSettings
from ledger.absence.slots import BackupSlots
from ledger.absence.statistics import Statistics
from ledger.absence.sweep import Sweep
from ledger.absence.tokens import Tokens
from ledger.absence.vault import KeyWrap, PersonalDetails, Vault
from ledger.absence.windows import Windows
from ledger.errors import BadData
from ledger.storage.store import LedgerStore, Plan, Receipt
from ledger.workdays import OfficialWorkingDays, WorkingDays

__all__ = [
    "MAX_POSTS", "MAX_STATEMENT_CHARS", "MAX_WINDOW_AHEAD", "MAX_WINDOW_LENGTH", "MIN_YEAR",
    "PURPOSE_FIELDS", "STATEMENT_MAC_INFO", "SYSTEM", "UNDER_REVIEW_PURPOSES",
    "AbsenceService", "Caller", "explanation_digest", "explanation_of", "new_id",
    "parse_factor", "parse_registration", "parse_time",
]


class AbsenceService:
    """The absence domain over one ledger log, a vault and configured policies."""

    def __init__(self, store: LedgerStore, settings: AbsenceSettings, master_key: bytes,
                 calendar: WorkingDays | None = None, *, wrapper: KeyWrap | None = None
                 ) -> None:
        """The service; 递补 deadlines are counted on ``calendar`` (None: the official
        calendar without config overrides); ``wrapper``: data keys are wrapped in a token
        (``master_key`` is then the token's derivation secret).  Raises ``BadData`` if the
        master key is not 32 bytes."""
        self.store = store
        self.cfg = settings
        self.master_key = master_key  # what the derived keys (accounts too) come from
        self.vault = Vault(master_key, wrapper=wrapper)
        self.log = settings.log
        self.ctx = ctx = Context(store, settings, self.vault)
        self._campaigns = Campaigns(ctx)
        self._candidates = Candidates(ctx, self._campaigns)
        self._erasure = Erasure(ctx)
        self._windows = Windows(ctx, self._campaigns)
        self._slots = BackupSlots(ctx, self._campaigns)
        self._ingest = Ingest(ctx, self._campaigns)
        self._decisions = Decisions(ctx, self._campaigns)
        self._reviews = Reviews(ctx, self._windows, self._decisions)
        self._alerts = Alerts(ctx, self._campaigns)
        self._backfill = Backfill(ctx, self._campaigns, master_key,
                                  calendar or OfficialWorkingDays())
        #: Objections (异议) to notices: used directly (``service.objections.file_...``).
        self.objections = Objections(ctx, master_key)
        self._sweep = Sweep(ctx, self._alerts, self._backfill, self.objections)
        self._lookup = Lookup(ctx, self._windows, self._decisions)
        self._appeals = Appeals(ctx, master_key, self._campaigns, self._windows,
                                self._decisions, self._lookup)
        self._notifications = Notifications(ctx, self._campaigns)
        self._statistics = Statistics(ctx, self._campaigns)
        self._tokens = Tokens(ctx)

    # -- plumbing -----------------------------------------------------------------

    def ensure_schema(self, now: datetime) -> None:
        """Record every configured policy not yet in the ledger.  The tables are the
        migrations' (``ledger.migrations.upgrade``, run when the store is opened).

        Raises:
            LedgerError: the database cannot be written.
        """
        with self.store.engine.connect() as conn:
            known = set(conn.execute(select(P.policies.c.digest)).scalars())
        todo = [p for p in self.cfg.policies.values() if p.digest() not in known]
        if todo:
            self.ctx.run(now, lambda conn: [e for p in todo for e in adopt_policy(conn, p)])

    def record(self, now: datetime, plan: Plan) -> list[Receipt]:
        """Run ``plan`` (checks, entries) under the log's lock and project its entries.

        For other packages' commands on this domain's log (notices, reports).

        Raises:
            LedgerError: whatever ``plan`` raises; nothing is written.
        """
        return self.ctx.run(now, plan)

    @property
    def engine(self) -> Engine:
        """The store's engine: what the typed read side (``ledger.absence.queries``)
        reads from."""
        return self.store.engine

    def policy_by_digest(self, digest: str) -> Policy:
        """The configured policy with ``digest``.

        Raises:
            NotFound: no configured policy has it.
        """
        return self.ctx.policy_by_digest(digest)

    # -- campaigns -----------------------------------------------------------

    def create_campaign(self, caller: Caller, data: Mapping[str, Any], now: datetime
                        ) -> dict[str, Any]:
        """``Campaigns.create_campaign`` (its docstring says what is raised)."""
        return self._campaigns.create_campaign(caller, data, now)

    def campaign(self, campaign: str) -> dict[str, Any]:
        """``Campaigns.campaign`` (its docstring says what is raised)."""
        return self._campaigns.campaign(campaign)

    def campaigns(self) -> list[dict[str, Any]]:
        """``Campaigns.campaigns`` (its docstring says what is raised)."""
        return self._campaigns.campaigns()

    def set_notice_settings(self, caller: Caller, campaign: str, data: Mapping[str, Any],
                            now: datetime) -> dict[str, Any]:
        """``Campaigns.set_notice_settings`` (its docstring says what is raised)."""
        return self._campaigns.set_notice_settings(caller, campaign, data, now)

    def notice_settings_set(self, campaign: str) -> NoticeSettings:
        """``Campaigns.notice_settings_set`` (its docstring says what is raised)."""
        return self._campaigns.notice_settings_set(campaign)

    # -- candidates ----------------------------------------------------------

    def import_candidates(self, caller: Caller, campaign: str, data: bytes,
                          content_type: str, now: datetime) -> list[dict[str, Any]]:
        """``Candidates.import_candidates`` (its docstring says what is raised)."""
        return self._candidates.import_candidates(caller, campaign, data, content_type, now)

    def candidates(self, campaign: str) -> list[dict[str, Any]]:
        """``Candidates.candidates`` (its docstring says what is raised)."""
        return self._candidates.candidates(campaign)

    def personal_details(self, conn: Connection, subject: str) -> PersonalDetails | None:
        """``Candidates.personal_details`` (its docstring says what is raised)."""
        return self._candidates.personal_details(conn, subject)

    def personal_details_of(self, source: Source, subjects: Iterable[str]
                            ) -> dict[str, PersonalDetails | None]:
        """``Candidates.personal_details_of`` (its docstring says what is raised)."""
        return self._candidates.personal_details_of(source, subjects)

    def personal_data(self, caller: Caller, subject: str, purpose: str, now: datetime
                      ) -> dict[str, Any]:
        """``Candidates.personal_data`` (its docstring says what is raised)."""
        return self._candidates.personal_data(caller, subject, purpose, now)

    def access_log(self, subject: str | None = None, limit: int = 1000, *,
                   registration: str | None = None) -> list[dict[str, Any]]:
        """``Candidates.access_log`` (its docstring says what is raised)."""
        return self._candidates.access_log(subject, limit, registration=registration)

    # -- erasure -------------------------------------------------------------

    def erase(self, caller: Caller, subject: str, reason: str, now: datetime
              ) -> dict[str, Any]:
        """``Erasure.erase`` (its docstring says what is raised)."""
        return self._erasure.erase(caller, subject, reason, now)

    # -- windows -------------------------------------------------------------

    def schedule_windows(self, caller: Caller, campaign: str, data: Mapping[str, Any],
                         now: datetime) -> list[dict[str, Any]]:
        """``Windows.schedule_windows`` (its docstring says what is raised)."""
        return self._windows.schedule_windows(caller, campaign, data, now)

    def window(self, window: str) -> dict[str, Any]:
        """``Windows.window`` (its docstring says what is raised)."""
        return self._windows.window(window)

    def windows(self, campaign: str, *, undecided_only: bool = False, limit: int = 1000,
                after: str = "") -> list[dict[str, Any]]:
        """``Windows.windows`` (its docstring says what is raised)."""
        return self._windows.windows(campaign, undecided_only=undecided_only, limit=limit,
                                     after=after)

    def grant_accommodation(self, caller: Caller, window: str, data: Mapping[str, Any],
                            now: datetime) -> dict[str, Any]:
        """``Windows.grant_accommodation`` (its docstring says what is raised)."""
        return self._windows.grant_accommodation(caller, window, data, now)

    # -- backup slots --------------------------------------------------------

    def reserve_backup_slot(self, caller: Caller, campaign: str, data: Mapping[str, Any],
                            now: datetime) -> dict[str, Any]:
        """``BackupSlots.reserve_backup_slot`` (its docstring says what is raised)."""
        return self._slots.reserve_backup_slot(caller, campaign, data, now)

    def withdraw_backup_slot(self, caller: Caller, campaign: str, slot: str,
                             now: datetime) -> dict[str, Any]:
        """``BackupSlots.withdraw_backup_slot`` (its docstring says what is raised)."""
        return self._slots.withdraw_backup_slot(caller, campaign, slot, now)

    def backup_slots(self, campaign: str, *, usable_at: datetime | None = None
                     ) -> list[dict[str, Any]]:
        """``BackupSlots.backup_slots`` (its docstring says what is raised)."""
        return self._slots.backup_slots(campaign, usable_at=usable_at)

    # -- ingest --------------------------------------------------------------

    def ingest(self, webhook_id: str, payload: Any, now: datetime,
               sent_at: datetime | None = None) -> tuple[dict[str, Any], bool]:
        """``Ingest.ingest`` (its docstring says what is raised)."""
        return self._ingest.ingest(webhook_id, payload, now, sent_at)

    def quarantined(self, campaign: str | None, limit: int = 500) -> list[dict[str, Any]]:
        """``Ingest.quarantined`` (its docstring says what is raised)."""
        return self._ingest.quarantined(campaign, limit)

    # -- sweep ---------------------------------------------------------------

    def sweep(self, now: datetime, *, batch: int = 1000) -> int:
        """``Sweep.sweep`` (its docstring says what is raised)."""
        return self._sweep.sweep(now, batch=batch)

    def lapse_offers(self, now: datetime, *, batch: int = 1000) -> int:
        """``Sweep.lapse_offers`` (its docstring says what is raised)."""
        return self._sweep.lapse_offers(now, batch=batch)

    # -- decisions -----------------------------------------------------------

    def decision(self, decision: str) -> dict[str, Any]:
        """``Decisions.decision`` (its docstring says what is raised)."""
        return self._decisions.decision(decision)

    def decisions(self, campaign: str, *, outcome: str | None = None,
                  pending_review: bool = False, limit: int = 1000, after: str = ""
                  ) -> list[dict[str, Any]]:
        """``Decisions.decisions`` (its docstring says what is raised)."""
        return self._decisions.decisions(campaign, outcome=outcome,
                                         pending_review=pending_review, limit=limit,
                                         after=after)

    # -- reviews -------------------------------------------------------------

    def review(self, caller: Caller, decision: str, data: Mapping[str, Any], now: datetime
               ) -> dict[str, Any]:
        """``Reviews.review`` (its docstring says what is raised)."""
        return self._reviews.review(caller, decision, data, now)

    def rebook(self, caller: Caller, decision: str, data: Mapping[str, Any], now: datetime
               ) -> dict[str, Any]:
        """``Reviews.rebook`` (its docstring says what is raised)."""
        return self._reviews.rebook(caller, decision, data, now)

    # -- lookup --------------------------------------------------------------

    def find_subject(self, campaign: str, registration: Any, factor: Any) -> str:
        """``Lookup.find_subject`` (its docstring says what is raised)."""
        return self._lookup.find_subject(campaign, registration, factor)

    def status(self, campaign: str, registration: Any, factor: Any) -> dict[str, Any]:
        """``Lookup.status`` (its docstring says what is raised)."""
        return self._lookup.status(campaign, registration, factor)

    # -- appeals -------------------------------------------------------------

    def file_appeal(self, campaign: str, data: Mapping[str, Any], now: datetime, *,
                    attachments: Sequence[bytes] = ()) -> dict[str, Any]:
        """``Appeals.file_appeal`` (its docstring says what is raised)."""
        return self._appeals.file_appeal(campaign, data, now, attachments=attachments)

    def attachment_hmac(self, content: bytes) -> str:
        """``Appeals.attachment_hmac``."""
        return self._appeals.attachment_hmac(content)

    def appeal_attachment(self, caller: Caller, appeal: str, position: int, now: datetime
                          ) -> Attachment:
        """``Appeals.attachment`` (its docstring says what is raised)."""
        return self._appeals.attachment(caller, appeal, position, now)

    def statement_hmac(self, statement: str) -> str:
        """``Appeals.statement_hmac`` (its docstring says what is raised)."""
        return self._appeals.statement_hmac(statement)

    def appeals(self, campaign: str, *, open_only: bool = False) -> list[dict[str, Any]]:
        """``Appeals.appeals`` (its docstring says what is raised)."""
        return self._appeals.appeals(campaign, open_only=open_only)

    def appeal_record(self, appeal: str) -> dict[str, Any]:
        """``Appeals.appeal_record`` (its docstring says what is raised)."""
        return self._appeals.appeal_record(appeal)

    def appeal(self, caller: Caller, appeal: str, now: datetime) -> dict[str, Any]:
        """``Appeals.appeal`` (its docstring says what is raised)."""
        return self._appeals.appeal(caller, appeal, now)

    def rule_appeal(self, caller: Caller, appeal: str, data: Mapping[str, Any],
                    now: datetime) -> dict[str, Any]:
        """``Appeals.rule_appeal`` (its docstring says what is raised)."""
        return self._appeals.rule_appeal(caller, appeal, data, now)

    # -- objections: the candidate's own statement ---------------------------

    def state_case(self, campaign: str, data: Mapping[str, Any], now: datetime
                   ) -> dict[str, Any]:
        """The candidate states their case (陈述、申辩) on an objection themselves:
        ``{"registration", "factor", "objection", "statement"}``, checked like an
        appeal (``Lookup.find_subject``), then recorded by the use case HR uses
        (``Objections.record_statement``, channel ``web``, actor ``candidate``).

        Raises:
            BadData: a malformed registration, factor or statement (named).
            NotAllowed: registration and factor do not match.
            NotFound: no such objection concerning this candidate.
            Conflict: not invited, answered already, ruled, or the time given passed.
        """
        only(data, {"registration", "factor", "objection", "statement"}, "")
        subject = self._lookup.find_subject(campaign, data.get("registration"),
                                            data.get("factor"))
        objection = data.get("objection")
        # Printable and short before any query (PostgreSQL cannot compare a NUL).
        if (not isinstance(objection, str) or not objection.strip()
                or len(objection) > 128 or not objection.isprintable()):
            raise BadData("objection: name the objection", field="objection")
        return self.objections.record_statement(
            Caller("candidate", "candidate"), objection.strip(),
            {"statement": data.get("statement"), "channel": "web"}, now,
            candidate=subject)

    # -- alerts --------------------------------------------------------------

    def raise_alerts(self, campaign: str, now: datetime) -> list[str]:
        """``Alerts.raise_alerts`` (its docstring says what is raised)."""
        return self._alerts.raise_alerts(campaign, now)

    def alerts(self, campaign: str | None = None) -> list[dict[str, Any]]:
        """``Alerts.alerts`` (its docstring says what is raised)."""
        return self._alerts.alerts(campaign)

    def resolve_alert(self, caller: Caller, alert: str, data: Mapping[str, Any],
                      now: datetime) -> dict[str, Any]:
        """``Alerts.resolve_alert`` (its docstring says what is raised)."""
        return self._alerts.resolve_alert(caller, alert, data, now)

    # -- notifications -------------------------------------------------------

    def due_notifications(self, now: datetime, limit: int = 200) -> list[Any]:
        """``Notifications.due_notifications`` (its docstring says what is raised)."""
        return self._notifications.due_notifications(now, limit)

    def recipient(self, subject: str, channel: str) -> tuple[str, str] | None:
        """``Notifications.recipient`` (its docstring says what is raised)."""
        return self._notifications.recipient(subject, channel)

    def record_attempt(self, notification: str, attempt: int, now: datetime, *,
                       provider_id: str | None = None, error: str | None = None,
                       final: bool = False, retry_at: datetime | None = None) -> bool:
        """``Notifications.record_attempt`` (its docstring says what is raised)."""
        return self._notifications.record_attempt(
            notification, attempt, now, provider_id=provider_id, error=error, final=final,
            retry_at=retry_at)

    def record_delivery(self, notification: str, status: str, now: datetime) -> bool:
        """``Notifications.record_delivery`` (its docstring says what is raised)."""
        return self._notifications.record_delivery(notification, status, now)

    def notifications(self, campaign: str, limit: int = 1000) -> list[dict[str, Any]]:
        """``Notifications.notifications`` (its docstring says what is raised)."""
        return self._notifications.notifications(campaign, limit)

    # -- statistics ----------------------------------------------------------

    def statistics(self, campaign: str) -> dict[str, Any]:
        """``Statistics.statistics`` with the 递补 counts under ``backfill``
        (``Backfill.backfill_statistics``; their docstrings say what is raised)."""
        return {**self._statistics.statistics(campaign),
                "backfill": self._backfill.backfill_statistics(campaign)}

    # -- 递补 --------------------------------------------------------------------

    def import_ranking(self, caller: Caller, campaign: str, data: bytes, content_type: str,
                       params: Mapping[str, Any], now: datetime) -> dict[str, Any]:
        """``Backfill.import_ranking`` (its docstring says what is raised)."""
        return self._backfill.import_ranking(caller, campaign, data, content_type, params,
                                             now)

    def rankings(self, campaign: str) -> list[dict[str, Any]]:
        """``Backfill.rankings`` (its docstring says what is raised)."""
        return self._backfill.rankings(campaign)

    def record_vacancy(self, caller: Caller, campaign: str, data: Mapping[str, Any],
                       now: datetime) -> dict[str, Any]:
        """``Backfill.record_vacancy`` (its docstring says what is raised)."""
        return self._backfill.record_vacancy(caller, campaign, data, now)

    def propose_backfills(self, now: datetime) -> int:
        """``Backfill.propose_due`` (its docstring says what is raised)."""
        return self._backfill.propose_due(now)

    def approve_backfill(self, caller: Caller, proposal: str, data: Mapping[str, Any],
                         now: datetime) -> dict[str, Any]:
        """``Backfill.approve`` (its docstring says what is raised)."""
        return self._backfill.approve(caller, proposal, data, now)

    def decline_backfill(self, caller: Caller, proposal: str, data: Mapping[str, Any],
                         now: datetime) -> dict[str, Any]:
        """``Backfill.decline`` (its docstring says what is raised)."""
        return self._backfill.decline(caller, proposal, data, now)

    def backfill_proposal(self, proposal: str) -> dict[str, Any]:
        """``Backfill.proposal`` (its docstring says what is raised)."""
        return self._backfill.proposal(proposal)

    def backfills(self, campaign: str) -> list[dict[str, Any]]:
        """``Backfill.backfills`` (its docstring says what is raised)."""
        return self._backfill.backfills(campaign)

    def backfill_list_document(self, notice: str) -> bytes:
        """``Backfill.backfill_list_document`` (its docstring says what is raised)."""
        return self._backfill.backfill_list_document(notice)

    def backfill_statistics(self, campaign: str) -> dict[str, Any]:
        """``Backfill.backfill_statistics`` (its docstring says what is raised)."""
        return self._backfill.backfill_statistics(campaign)

    # -- tokens --------------------------------------------------------------

    def create_token(self, role: str, now: datetime, label: str | None = None) -> str:
        """``Tokens.create_token`` (its docstring says what is raised)."""
        return self._tokens.create_token(role, now, label)

    def revoke_token(self, token_id: str, now: datetime) -> None:
        """``Tokens.revoke_token`` (its docstring says what is raised)."""
        return self._tokens.revoke_token(token_id, now)

    def tokens(self) -> list[dict[str, Any]]:
        """``Tokens.tokens`` (its docstring says what is raised)."""
        return self._tokens.tokens()

    def authenticate(self, text: str) -> Caller | None:
        """``Tokens.authenticate`` (its docstring says what is raised)."""
        return self._tokens.authenticate(text)
