"""The absence decision rules: from recorded facts about one window to a ruling.

Everything here is pure: no I/O and no clock reads.  The current time is always the
``now`` parameter, and every datetime must be timezone-aware.

A window is decided ``grace_s`` seconds after its (effective) close.  Only platform
facts inside the window (``opens_at <= at <= closes_at``) count; the caller quarantines
the others.  The cause of an absence is found by precedence: ``withdrew``, then
``connection_failed``, then ``device_incompatible``, then an invitation that was never
delivered, else a plain no-show.  The outcome then follows the policy's mode:

* government: a cause listed in ``makeup_causes`` goes to human review for a make-up
  session; any other cause means the candidate is deemed withdrawn (视为自动放弃);
* enterprise: a withdrawal is final; otherwise the ``lock_after``-th miss in a campaign
  locks the candidate, and earlier misses are offered a rebooking.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta, tzinfo
from enum import StrEnum
from functools import lru_cache
from typing import Any

from ledger.absence.notice_settings import KEYS as NOTICE_KEYS
from ledger.absence.notice_settings import NO_NOTICE_SETTINGS, NoticeSettings
from ledger.entry import check_aware
from ledger.errors import BadData
from ledger.events import PLATFORM_KINDS
from ledger.ids import sha256_hex
from ledger.jcs import canonical


class Cause(StrEnum):
    """Why a candidate missed a window."""

    TECHNICAL = "technical"
    COMPATIBILITY = "compatibility"
    NOTIFICATION_FAILED = "notification_failed"
    WITHDRAWN = "withdrawn"
    NO_SHOW = "no_show"


class Outcome(StrEnum):
    """What the ruling on a window means for the candidate."""

    ATTENDED = "attended"
    FORFEITED = "forfeited"
    REBOOK_OFFERED = "rebook_offered"
    MAKEUP_PENDING = "makeup_pending_review"
    LOCKED = "locked"


MODES = ("government", "enterprise")
NOTIFICATION_STATUSES = ("sent", "delivered", "failed")

#: Upper bound of every integer policy field (keeps datetime arithmetic and JSON safe).
MAX_POLICY_INT = 2**31 - 1

_INT_FIELDS = (
    "grace_s", "notify_within_s", "rebook_within_s", "lock_after", "appeal_period_s")
#: 递补 settings (all optional; unset ones are left out of the body and the digest).
#: ``backfill``: whether 递补 applies at all; ``backfill_cutoff``: the last local date
#: (YYYY-MM-DD) a vacancy is filled; ``backfill_cutoff_days``: or the N-th working day
#: before the interview day; ``backfill_day_of_no_show``: whether a missed window (a
#: no-show on the day) is filled (default yes); ``backfill_withdrawal_days``: a written
#: withdrawal is filled only if made at least N working days before the interview day;
#: ``backfill_rounds``: proposals per vacancy chain (default 3); ``backfill_ties``: how
#: equal scores are ordered (``file_order``, ``written_score``, ``registration``).
BACKFILL_FLAGS = ("backfill", "backfill_day_of_no_show")
BACKFILL_COUNTS = ("backfill_cutoff_days", "backfill_withdrawal_days", "backfill_rounds")
BACKFILL_TIES = ("file_order", "written_score", "registration")
_BACKFILL_KEYS = (*BACKFILL_FLAGS, "backfill_cutoff", *BACKFILL_COUNTS, "backfill_ties")
#: Optional working-day deadlines of objections (异议) during a notice period: acknowledge
#: (start checking) within, answer within, and how long a candidate is given to state
#: their case (陈述、申辩).  Unset (None) fields are left out of the body and the digest,
#: so a policy that sets none keeps the digest it had before they existed.
OBJECTION_FIELDS = ("objection_ack_days", "objection_reply_days", "objection_statement_days")
_CONFIG_KEYS = ("mode", *_INT_FIELDS, "makeup_causes", *_BACKFILL_KEYS, *OBJECTION_FIELDS,
                *NOTICE_KEYS)
_CAUSE_ORDER = {cause: i for i, cause in enumerate(Cause)}
_CAUSE_VALUES = frozenset(cause.value for cause in Cause)


@dataclass(frozen=True)
class Policy:
    """The rules a campaign is decided under, from a ``[policies.<name>]`` config table.

    ``makeup_causes`` is kept without duplicates in the order of :class:`Cause`, so two
    policies that mean the same have the same :meth:`digest`.
    """

    name: str
    mode: str
    grace_s: int = 600
    notify_within_s: int = 3600
    rebook_within_s: int = 172800
    lock_after: int = 2
    makeup_causes: tuple[Cause, ...] = (
        Cause.TECHNICAL, Cause.COMPATIBILITY, Cause.NOTIFICATION_FAILED)
    appeal_period_s: int = 604800
    backfill: bool | None = None
    backfill_cutoff: str | None = None
    backfill_cutoff_days: int | None = None
    backfill_day_of_no_show: bool | None = None
    backfill_withdrawal_days: int | None = None
    backfill_rounds: int | None = None
    backfill_ties: str | None = None
    objection_ack_days: int | None = None  # working days
    objection_reply_days: int | None = None  # working days
    objection_statement_days: int | None = None  # working days
    #: What its public notices say besides their lines (``notice_...`` config keys);
    #: left out of :meth:`to_body` (and so of the digest) where not set.
    notice: NoticeSettings = NO_NOTICE_SETTINGS

    def __post_init__(self) -> None:
        """Check the values.

        Raises:
            BadData: an empty name, an unknown mode, an integer field that is not an
                ``int`` (``bool`` is not), negative or above ``MAX_POLICY_INT``,
                ``lock_after < 1``, or a make-up cause that is not a :class:`Cause`;
                ``field`` is ``policies.<name>.<key>``.
        """
        if not isinstance(self.name, str) or not self.name:
            raise BadData("policy name must be a non-empty string", field="policies")
        if self.mode not in MODES:
            raise BadData(
                f"policy {self.name}: mode must be one of {', '.join(MODES)}, "
                f"not {self.mode!r}", field=self._field("mode"))
        for key in _INT_FIELDS:
            value = getattr(self, key)
            if isinstance(value, bool) or not isinstance(value, int):
                raise BadData(
                    f"policy {self.name}: {key} must be an integer", field=self._field(key))
            if value < 0:
                raise BadData(
                    f"policy {self.name}: {key} must not be negative", field=self._field(key))
            if value > MAX_POLICY_INT:
                raise BadData(
                    f"policy {self.name}: {key} must be at most {MAX_POLICY_INT}",
                    field=self._field(key))
        for key in OBJECTION_FIELDS:
            value = getattr(self, key)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 366:
                raise BadData(
                    f"policy {self.name}: {key} must be a whole number of working days "
                    "from 1 to 366", field=self._field(key))
        if self.lock_after < 1:
            raise BadData(
                f"policy {self.name}: lock_after must be at least 1",
                field=self._field("lock_after"))
        causes = self.makeup_causes
        if not isinstance(causes, tuple) or not all(isinstance(c, Cause) for c in causes):
            raise BadData(
                f"policy {self.name}: makeup_causes must be a tuple of causes",
                field=self._field("makeup_causes"))
        normal = tuple(sorted(set(causes), key=_CAUSE_ORDER.__getitem__))
        if normal != causes:
            object.__setattr__(self, "makeup_causes", normal)
        self._check_backfill()

    def _check_backfill(self) -> None:
        for key in BACKFILL_FLAGS:
            value = getattr(self, key)
            if value is not None and not isinstance(value, bool):
                raise BadData(f"policy {self.name}: {key} must be true or false",
                              field=self._field(key))
        for key in BACKFILL_COUNTS:
            value = getattr(self, key)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or not (
                    0 <= value <= 366):
                raise BadData(f"policy {self.name}: {key} must be an integer 0..366",
                              field=self._field(key))
        if self.backfill_rounds is not None and self.backfill_rounds < 1:
            raise BadData(f"policy {self.name}: backfill_rounds must be at least 1",
                          field=self._field("backfill_rounds"))
        cutoff = self.backfill_cutoff
        if cutoff is not None:
            try:
                if not isinstance(cutoff, str) or len(cutoff) != 10:
                    raise ValueError
                date.fromisoformat(cutoff)
            except ValueError:
                raise BadData(f"policy {self.name}: backfill_cutoff must be a date "
                              "YYYY-MM-DD", field=self._field("backfill_cutoff")) from None
        if self.backfill_ties is not None and self.backfill_ties not in BACKFILL_TIES:
            raise BadData(f"policy {self.name}: backfill_ties must be one of "
                          f"{', '.join(BACKFILL_TIES)}", field=self._field("backfill_ties"))

    @property
    def backfill_on(self) -> bool:
        """Whether 递补 applies under this policy (unset: no)."""
        return bool(self.backfill)

    @property
    def backfills_day_of_no_show(self) -> bool:
        """Whether a missed window (a no-show on the day) is filled (unset: yes)."""
        return self.backfill_day_of_no_show is not False

    @property
    def backfill_round_limit(self) -> int:
        """How many proposals a vacancy chain may have (unset: 3)."""
        return 3 if self.backfill_rounds is None else self.backfill_rounds

    @property
    def backfill_tie_rule(self) -> str:
        """How equal scores are ordered (unset: as the file lists them)."""
        return self.backfill_ties or "file_order"

    def _field(self, key: str) -> str:
        return f"policies.{self.name}.{key}"

    def to_body(self) -> dict[str, str | int]:
        """Every field as a flat JSON object; ``makeup_causes`` joined with ``,``; the
        递补 settings only when set (flags as 0/1); the notice settings that are set as
        ``notice_...`` fields."""
        body: dict[str, str | int] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "notice":
                body.update(self.notice.to_body())
            elif value is None:
                continue
            elif isinstance(value, bool):
                body[f.name] = int(value)
            elif f.name == "makeup_causes":
                body[f.name] = ",".join(str(cause) for cause in value)
            else:
                body[f.name] = value
        return body

    def digest(self) -> str:
        """Lowercase hex SHA-256 of the RFC 8785 canonical JSON of :meth:`to_body`.

        Raises:
            BadData: never for a constructed policy (its fields are checked); listed
                because canonicalisation can raise it.
        """
        return _digest_of(self)

    @classmethod
    def from_config(cls, name: str, table: Mapping[str, Any]) -> Policy:
        """Build the policy of config table ``[policies.<name>]``.

        ``mode`` defaults to ``name`` when the name is itself a mode ("government" or
        "enterprise"); other fields default as in the class.  ``makeup_causes`` is a list
        of cause names (a comma-separated string, as in :meth:`to_body`, is accepted).

        Raises:
            BadData: ``name`` is empty; ``table`` is not a mapping; an unknown key; a
                missing mode; a value of the wrong type (``bool`` is not an integer);
                a negative or too large integer; ``lock_after < 1``; an unknown mode or
                cause, or a cause listed twice.  ``field`` is ``policies.<name>.<key>``.
        """
        if not isinstance(name, str) or not name:
            raise BadData("policy name must be a non-empty string", field="policies")
        prefix = f"policies.{name}"
        if not isinstance(table, Mapping):
            raise BadData(f"{prefix} must be a table", field=prefix)
        for key in table:
            if key not in _CONFIG_KEYS:
                raise BadData(
                    f"{prefix}: unknown key {key!r} (known: {', '.join(_CONFIG_KEYS)})",
                    field=f"{prefix}.{key}")
        kwargs: dict[str, Any] = {}
        mode = table.get("mode", name if name in MODES else None)
        if mode is None:
            raise BadData(f"{prefix}: mode is required", field=f"{prefix}.mode")
        if not isinstance(mode, str) or mode not in MODES:
            raise BadData(
                f"{prefix}: mode must be one of {', '.join(MODES)}, not {mode!r}",
                field=f"{prefix}.mode")
        for key in _INT_FIELDS:
            if key not in table:
                continue
            value = table[key]
            if isinstance(value, bool) or not isinstance(value, int):
                raise BadData(
                    f"{prefix}: {key} must be an integer, not {type(value).__name__}",
                    field=f"{prefix}.{key}")
            kwargs[key] = value
        for key in OBJECTION_FIELDS:
            if key in table:
                kwargs[key] = table[key]
        if "makeup_causes" in table:
            kwargs["makeup_causes"] = _parse_causes(table["makeup_causes"], prefix)
        for key in _BACKFILL_KEYS:
            if key in table:
                value = table[key]
                if isinstance(value, date) and not isinstance(value, datetime):
                    value = value.isoformat()  # TOML's bare date: backfill_cutoff = 2026-10-01
                kwargs[key] = value  # checked by __post_init__
        kwargs["notice"] = NoticeSettings.from_config(prefix, table)
        return cls(name=name, mode=mode, **kwargs)


def _parse_causes(raw: object, prefix: str) -> tuple[Cause, ...]:
    field = f"{prefix}.makeup_causes"
    items: list[object]
    if isinstance(raw, str):
        items = [part.strip() for part in raw.split(",")] if raw.strip() else []
    elif isinstance(raw, list | tuple):
        items = list(raw)
    else:
        raise BadData(f"{prefix}: makeup_causes must be a list of causes", field=field)
    causes: list[Cause] = []
    for item in items:
        if not isinstance(item, str) or item not in _CAUSE_VALUES:
            known = ", ".join(str(c) for c in Cause)
            raise BadData(
                f"{prefix}: unknown make-up cause {item!r} (known: {known})", field=field)
        cause = Cause(item)
        if cause in causes:
            raise BadData(f"{prefix}: make-up cause {item!r} listed twice", field=field)
        causes.append(cause)
    return tuple(causes)


@lru_cache(maxsize=64)
def _digest_of(policy: Policy) -> str:
    # Policies are frozen values; a sweep asks for the digest once per decision.
    return sha256_hex(canonical(policy.to_body()))


@dataclass(frozen=True)
class WindowFacts:
    """One candidate's interview window.

    ``closes_at`` is the effective close, after any accommodation.  ``prior_misses``
    counts this subject's absences earlier in the same campaign (enterprise locking).
    """

    window: str
    subject: str
    opens_at: datetime
    closes_at: datetime
    prior_misses: int = 0


@dataclass(frozen=True)
class PlatformFact:
    """One platform event the ledger recorded for the window, at ledger index ``index``.

    ``kind`` is one of ``PLATFORM_KINDS``.
    """

    index: int
    kind: str
    at: datetime


@dataclass(frozen=True)
class NotificationFact:
    """One delivery outcome of the window's invitation, at ledger index ``index``.

    ``status`` is "sent", "delivered" or "failed"; ``final`` means no more retries.
    """

    index: int
    status: str
    at: datetime
    final: bool = False


@dataclass(frozen=True)
class AbsenceDecision:
    """The ruling on one window.

    ``cause`` is None iff the outcome is ATTENDED.  ``evidence`` holds the sorted,
    unique ledger indexes of the facts the ruling rests on.  ``rebook_until`` is set
    only for an enterprise REBOOK_OFFERED.  ``reason`` names the rule applied.
    """

    window: str
    subject: str
    outcome: Outcome
    cause: Cause | None
    evidence: tuple[int, ...]
    decided_at: datetime
    rebook_until: datetime | None
    policy_digest: str
    reason: str


def _check_window(window: WindowFacts) -> None:
    opens = check_aware(window.opens_at, "opens_at")
    closes = check_aware(window.closes_at, "closes_at")
    if closes <= opens:
        raise BadData(
            f"window {window.window}: closes_at must be after opens_at", field="closes_at")
    misses = window.prior_misses
    if isinstance(misses, bool) or not isinstance(misses, int) or misses < 0:
        raise BadData(
            f"window {window.window}: prior_misses must be a non-negative integer",
            field="prior_misses")


def _check_index(index: object, field: str) -> None:
    if isinstance(index, bool) or not isinstance(index, int) or index < 0:
        raise BadData(f"{field} must be a non-negative integer", field=field)


def due_at(window: WindowFacts, policy: Policy) -> datetime:
    """When the window may be decided: its effective close plus ``policy.grace_s``.

    Raises:
        BadData: a naive datetime, ``closes_at <= opens_at`` or a bad ``prior_misses``.
    """
    _check_window(window)
    return window.closes_at + timedelta(seconds=policy.grace_s)


def decide(
    window: WindowFacts,
    platform: Sequence[PlatformFact],
    notifications: Sequence[NotificationFact],
    policy: Policy,
    now: datetime,
) -> AbsenceDecision | None:
    """Rule on ``window`` at time ``now``; None while ``now < due_at(window, policy)``.

    Raises:
        BadData: a naive datetime (window, facts or ``now``); ``closes_at <= opens_at``;
            a negative ``prior_misses``; a fact with a negative index, an unknown
            platform kind or an unknown notification status.
    """
    _check_window(window)
    check_aware(now, "now")
    for i, fact in enumerate(platform):
        _check_index(fact.index, f"platform[{i}].index")
        if fact.kind not in PLATFORM_KINDS:
            raise BadData(
                f"unknown platform event kind {fact.kind!r}", field=f"platform[{i}].kind")
        check_aware(fact.at, f"platform[{i}].at")
    for i, note in enumerate(notifications):
        _check_index(note.index, f"notifications[{i}].index")
        if note.status not in NOTIFICATION_STATUSES:
            raise BadData(
                f"unknown notification status {note.status!r}",
                field=f"notifications[{i}].status")
        check_aware(note.at, f"notifications[{i}].at")

    due = due_at(window, policy)
    if now < due:
        return None

    inside = [f for f in platform if window.opens_at <= f.at <= window.closes_at]
    by_kind: dict[str, list[PlatformFact]] = {kind: [] for kind in PLATFORM_KINDS}
    for fact in inside:
        by_kind[fact.kind].append(fact)

    def make(outcome: Outcome, cause: Cause | None, evidence: Sequence[int], reason: str,
             rebook_until: datetime | None = None) -> AbsenceDecision:
        return AbsenceDecision(
            window=window.window, subject=window.subject, outcome=outcome, cause=cause,
            evidence=tuple(sorted(set(evidence))), decided_at=now,
            rebook_until=rebook_until, policy_digest=policy.digest(), reason=reason)

    if by_kind["completed"]:
        first = min(by_kind["completed"], key=lambda f: (f.at, f.index))
        return make(Outcome.ATTENDED, None, [first.index], "completed_in_window")

    cause: Cause
    evidence: list[int]
    if by_kind["withdrew"]:
        cause, reason = Cause.WITHDRAWN, "withdrew"
        evidence = [f.index for f in by_kind["withdrew"]]
    elif by_kind["connection_failed"]:
        cause, reason = Cause.TECHNICAL, "connection_failed"
        evidence = [f.index for f in by_kind["connection_failed"]]
    elif by_kind["device_incompatible"]:
        cause, reason = Cause.COMPATIBILITY, "device_incompatible"
        evidence = [f.index for f in by_kind["device_incompatible"]]
    elif (not by_kind["joined"]
          and any(n.status == "failed" for n in notifications)
          and not any(n.status in ("sent", "delivered") for n in notifications)):
        cause, reason = Cause.NOTIFICATION_FAILED, "invitation_not_delivered"
        evidence = [n.index for n in notifications if n.status == "failed"]
    else:
        cause = Cause.NO_SHOW
        reason = "joined_not_completed" if by_kind["joined"] else "no_attempt"
        evidence = [f.index for f in by_kind["invited"] + by_kind["joined"]]

    if policy.mode == "government":
        outcome = Outcome.MAKEUP_PENDING if cause in policy.makeup_causes else Outcome.FORFEITED
        return make(outcome, cause, evidence, reason)
    if cause is Cause.WITHDRAWN:
        return make(Outcome.FORFEITED, cause, evidence, reason)
    if window.prior_misses + 1 >= policy.lock_after:
        return make(Outcome.LOCKED, cause, evidence, "lock_after_misses")
    until = max(now, due) + timedelta(seconds=policy.rebook_within_s)
    return make(Outcome.REBOOK_OFFERED, cause, evidence, reason, rebook_until=until)


@dataclass(frozen=True)
class Explanation:
    """A plain explanation of an automated decision (PIPL Art. 24), in zh and en."""

    zh: str
    en: str


_OUTCOME_EN = {
    Outcome.ATTENDED: "attended",
    Outcome.FORFEITED: "deemed withdrawn",
    Outcome.REBOOK_OFFERED: "rebooking offered",
    Outcome.MAKEUP_PENDING: "make-up session pending human review",
    Outcome.LOCKED: "locked after repeated missed interviews",
}
_OUTCOME_ZH = {
    Outcome.ATTENDED: "已参加面试",
    Outcome.FORFEITED: "视为自动放弃",
    Outcome.REBOOK_OFFERED: "可重新预约",
    Outcome.MAKEUP_PENDING: "补考待人工复核",
    Outcome.LOCKED: "因多次缺席已锁定",
}
_CAUSE_EN = {
    Cause.TECHNICAL: "a technical failure (the connection failed)",
    Cause.COMPATIBILITY: "an incompatible device or browser",
    Cause.NOTIFICATION_FAILED: "the interview invitation could not be delivered",
    Cause.WITHDRAWN: "the candidate withdrew",
    Cause.NO_SHOW: "the interview was not taken in the window (no show)",
}
_CAUSE_ZH = {
    Cause.TECHNICAL: "技术故障（连接失败）",
    Cause.COMPATIBILITY: "设备或浏览器不兼容",
    Cause.NOTIFICATION_FAILED: "面试通知未能送达",
    Cause.WITHDRAWN: "考生主动放弃",
    Cause.NO_SHOW: "未在规定时间内参加面试（缺席）",
}


def _local(moment: datetime, tz: tzinfo) -> str:
    """``YYYY-MM-DD HH:MM (UTC±HH:MM)`` of ``moment`` in ``tz``."""
    local = moment.astimezone(tz)
    offset = local.utcoffset() or timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    hours, mins = divmod(abs(minutes), 60)
    return f"{local.strftime('%Y-%m-%d %H:%M')} (UTC{sign}{hours:02d}:{mins:02d})"


def _duration(seconds: int) -> tuple[str, str]:
    """``seconds`` in the largest whole unit, as (zh, en)."""
    for size, zh, en in ((86400, "天", "day"), (3600, "小时", "hour"), (60, "分钟", "minute")):
        if seconds and seconds % size == 0:
            n = seconds // size
            return f"{n} {zh}", f"{n} {en}{'' if n == 1 else 's'}"
    return f"{seconds} 秒", f"{seconds} second{'' if seconds == 1 else 's'}"


def explain(decision: AbsenceDecision, policy: Policy, tz: tzinfo) -> Explanation:
    """Explain how ``decision`` was reached, in Simplified Chinese and English.

    The text names the outcome, the cause and its evidence (ledger entry indexes), the
    policy (name and the first 12 hex digits of its digest), what happens next and the
    appeal period, with times shown in ``tz``.  It holds no subject or window id.
    Same input, same text.

    Raises:
        BadData: ``policy`` is not the policy the decision was made under (digests
            differ); ``decided_at`` or ``rebook_until`` is naive; a REBOOK_OFFERED
            decision has no ``rebook_until``; the cause is missing for an absence.
    """
    digest = policy.digest()
    if decision.policy_digest != digest:
        raise BadData(
            f"decision was made under policy {decision.policy_digest[:12]}, "
            f"not {policy.name} ({digest[:12]})", field="policy")
    decided = _local(check_aware(decision.decided_at, "decided_at"), tz)
    appeal_until = _local(decision.decided_at + timedelta(seconds=policy.appeal_period_s), tz)
    refs = [f"#{i}" for i in decision.evidence]

    if decision.outcome is Outcome.ATTENDED:
        finding_en = "the interview was completed within the window"
        finding_zh = "已在规定时间内完成面试"
    else:
        if decision.cause is None:
            raise BadData("an absence decision must name its cause", field="cause")
        finding_en = _CAUSE_EN[decision.cause]
        finding_zh = _CAUSE_ZH[decision.cause]
    if refs:
        noun = "entry" if len(refs) == 1 else "entries"
        evidence_en = f"ledger {noun} {', '.join(refs)}"
        evidence_zh = f"账本记录 {'、'.join(refs)}"
    else:
        evidence_en = "no platform activity recorded within the window"
        evidence_zh = "面试时段内无平台活动记录"

    if decision.outcome is Outcome.REBOOK_OFFERED:
        if decision.rebook_until is None:
            raise BadData("a rebook offer must have rebook_until", field="rebook_until")
        until = _local(check_aware(decision.rebook_until, "rebook_until"), tz)
        next_en = f"the candidate may book a new interview time until {until}"
        next_zh = f"考生可在 {until} 前重新预约面试时间"
    elif decision.outcome is Outcome.MAKEUP_PENDING:
        next_en = ("HR staff will review the cause; if it is verified, "
                   "a make-up session will be arranged")
        next_zh = "人事部门将人工复核缺席原因，核实后安排补考"
    elif decision.outcome is Outcome.FORFEITED:
        next_en = "the candidate is deemed to have withdrawn from this recruitment"
        next_zh = "视为自动放弃本次招录"
    elif decision.outcome is Outcome.LOCKED:
        next_en = "no further interview times can be booked in this campaign"
        next_zh = "本次招聘中不再开放面试预约"
    else:
        next_en = "no further action is needed"
        next_zh = "无需进一步处理"

    period_zh, period_en = _duration(policy.appeal_period_s)
    en = " ".join((
        f"Automated decision made at {decided} (rule: {decision.reason}).",
        f"Outcome: {_OUTCOME_EN[decision.outcome]}.",
        f"Finding: {finding_en}; evidence: {evidence_en}.",
        f"Policy: {policy.name} ({policy.mode} mode, digest {digest[:12]}).",
        f"Next: {next_en}.",
        f"The candidate may appeal within {period_en} of this decision, "
        f"until {appeal_until}.",
    ))
    zh = "".join((
        f"本决定由系统于 {decided} 自动作出（规则：{decision.reason}）。",
        f"结果：{_OUTCOME_ZH[decision.outcome]}。",
        f"认定：{finding_zh}；依据：{evidence_zh}。",
        f"适用规则：{policy.name}（摘要 {digest[:12]}）。",
        f"后续：{next_zh}。",
        f"考生可在本决定作出后 {period_zh}内（{appeal_until} 前）提出申诉。",
    ))
    return Explanation(zh=zh, en=en)
