"""递补 rules: whether a vacancy is filled at all, and by whom.

Pure: no I/O, no clock; the calendar is a parameter (``ledger.workdays.WorkingDays``).
A vacancy arises when a ranked candidate leaves: a final absence decision (deemed
withdrawn, 视为自动放弃), a written withdrawal or a disqualification.  Its answer is a
proposal of the next eligible candidate of the same post, or a reason it stays
unfilled, checked in this order:

1. ``not_applicable``: the policy does not set ``backfill = true``;
2. ``day_of_no_show_excluded``: a missed window, and ``backfill_day_of_no_show = false``
   (视为自动放弃，不再递补);
3. ``withdrawal_too_late``: a written withdrawal made after the N-th working day
   before the interview day (``backfill_withdrawal_days``);
4. ``cutoff_passed``: the vacancy's local date is after ``backfill_cutoff`` or after the
   N-th working day before the interview day (``backfill_cutoff_days``);
5. ``rounds_exhausted``: the round is beyond ``backfill_rounds``;
6. ``no_eligible``: no candidate of the post is at or above the pass line, uninvited,
   not locked or erased, and never proposed before.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date

from ledger.absence.rules import Policy
from ledger.workdays import WorkingDays, working_day_before


@dataclass(frozen=True)
class Vacancy:
    """A ranked candidate who left: ``kind`` is ``absence`` (a missed window),
    ``withdrawn_in_writing`` or ``disqualified``; ``arose`` is the local date it arose
    (a written withdrawal: the date it was made); ``day`` the local date of the step
    (the vacancy's own date, or the date of the decline a next proposal follows);
    ``round`` is the round its next proposal would be."""

    vacancy: str
    vacated: str
    kind: str
    arose: date
    day: date
    round: int


@dataclass(frozen=True)
class Ranked:
    """A candidate of the post's ranking: rank (1 first), whether at the pass line."""

    subject: str
    rank: int
    passed: bool


def unfilled_reason(vacancy: Vacancy, policy: Policy, interview_day: date,
                    calendar: WorkingDays) -> str | None:
    """Why ``vacancy`` is not filled under ``policy``, or None if a proposal may follow
    (then ``no_eligible`` is still possible: see ``next_eligible``).

    Raises:
        CouldNotCheck: the calendar does not know a year a deadline is counted in.
    """
    if not policy.backfill_on:
        return "not_applicable"
    if vacancy.kind == "absence" and not policy.backfills_day_of_no_show:
        return "day_of_no_show_excluded"
    if (vacancy.kind == "withdrawn_in_writing" and policy.backfill_withdrawal_days
            and vacancy.arose > working_day_before(calendar, interview_day,
                                                 policy.backfill_withdrawal_days)):
        return "withdrawal_too_late"
    if policy.backfill_cutoff is not None and vacancy.day > date.fromisoformat(
            policy.backfill_cutoff):
        return "cutoff_passed"
    if policy.backfill_cutoff_days is not None and vacancy.day > working_day_before(
            calendar, interview_day, policy.backfill_cutoff_days):
        return "cutoff_passed"
    if vacancy.round > policy.backfill_round_limit:
        return "rounds_exhausted"
    return None


def next_eligible(ranking: Iterable[Ranked], excluded: Collection[str]) -> Ranked | None:
    """The best-ranked candidate at or above the pass line not in ``excluded`` (those
    invited, proposed before, locked, erased or vacated), or None."""
    for r in sorted(ranking, key=lambda r: r.rank):
        if r.passed and r.subject not in excluded:
            return r
    return None
