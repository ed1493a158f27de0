"""An objection ruled 取消 (``cancelled``) leaves a vacancy that 递补 answers.

A real SQLite database, the use cases called as the console and the sweep call them,
time as a parameter: the vacancy is recorded with the ruling (the same transaction),
the sweep's ``Backfill.propose_due`` proposes the next ranked candidate; a ruling 维持
(``upheld``) leaves none, and a candidate who left already does not leave twice.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from ledger.absence.rebuild import check_rebuild
from ledger.absence.service import AbsenceService
from ledger.storage.store import NewEntry
from publicity.calendar import WorkingCalendar
from tests.functional._absence import LOG, T0
from tests.unit.ledger.absence._domain import HR, REVIEWER
from tests.unit.ledger.absence.test_backfill import Campaign, service  # noqa: F401 (fixture)

WORKDAY = WorkingCalendar().is_working_day
PERIOD_END = datetime(2026, 12, 2, 16, 0, tzinfo=UTC)  # the end of 2 December, Beijing
CANCEL = {"ruling": "cancelled", "reason": "经核实该考生学历不符合岗位要求，取消其资格。",
          "confirm": True}


def _publish(svc: AbsenceService, campaign: str) -> None:
    """A notice of the campaign as the ledger records it (its bytes are publicity's)."""
    svc.record(T0, lambda conn: [NewEntry("notice.published", "hr:unit", {
        "notice": "n1", "campaign": campaign, "sha256": "0" * 64, "lines": 3,
        "checkpoint_size": 1, "period_start": "2026-11-25T00:00:00.000Z",
        "period_end": PERIOD_END.strftime("%Y-%m-%dT%H:%M:%S.000Z")})])


def _entries(svc: AbsenceService) -> list[dict[str, Any]]:
    return [json.loads(b) for _, b in svc.store.iter_entries(LOG)]


def _objection(svc: AbsenceService, registration: str, at: datetime) -> str:
    o = svc.objections
    ref = str(o.file_objection("n1", {
        "name": "王小明", "contact": "13912345678", "ground": "qualification",
        "statement": "该考生学历不符合岗位要求。", "registration": registration},
        at, WORKDAY)["objection"])
    o.acknowledge(HR, ref, at + timedelta(hours=1))
    return ref


def _cancel(svc: AbsenceService, ref: str, at: datetime) -> dict[str, Any]:
    o = svc.objections
    o.invite_statement(HR, ref, {}, at, WORKDAY)
    o.record_statement(HR, ref, {"statement": "本人对核查结果无异议。", "channel": "letter"},
                       at + timedelta(hours=1))
    return o.rule(REVIEWER, ref, CANCEL, at + timedelta(hours=2))


def test_a_cancel_records_the_vacancy_and_the_sweep_proposes_the_next(
        service: AbsenceService) -> None:  # noqa: F811 (the fixture)
    c = Campaign(service, "bf_on")
    c.invite(0, 1, 2)
    _publish(service, c.id)
    t = T0 + timedelta(hours=2)
    ref = _objection(service, c.regs[1], t)
    ruled = _cancel(service, ref, t + timedelta(hours=2))
    assert ruled["ruling"] == "cancelled"
    entries = _entries(service)
    vacancy = next(e for e in entries if e["type"] == "vacancy.recorded")
    ruling = next(e for e in entries if e["type"] == "objection.ruled")
    # The same transaction: the entry right after the ruling, at its time, by its actor.
    assert vacancy["index"] == ruling["index"] + 1
    assert (vacancy["time"], vacancy["actor"]) == (ruling["time"], ruling["actor"])
    assert vacancy["body"] == {
        "vacancy": vacancy["body"]["vacancy"], "campaign": c.id, "subject": c.subjects[1],
        "kind": "disqualified", "at": ruling["time"], "objection": ref}
    assert c.answers() == []  # answered by the sweep, like any vacancy
    assert service.propose_backfills(t + timedelta(days=1)) == 1
    [answer] = c.answers()
    assert answer["status"] == "proposed"
    assert answer["vacancy"] == vacancy["body"]["vacancy"]
    assert answer["vacated_registration"] == c.regs[1]
    # The next ranked candidate not invited: rank 4 (ranks 1-3 were invited).
    assert (answer["registration"], answer["rank"]) == (c.regs[3], 4)
    assert service.propose_backfills(t + timedelta(days=2)) == 0  # answered once
    result = check_rebuild(service.store, service.log)
    assert result.equal, result.differences


def test_an_upheld_ruling_leaves_no_vacancy(service: AbsenceService) -> None:  # noqa: F811
    c = Campaign(service, "bf_on")
    c.invite(0, 1, 2)
    _publish(service, c.id)
    t = T0 + timedelta(hours=2)
    ref = _objection(service, c.regs[2], t)
    ruled = service.objections.rule(REVIEWER, ref, {
        "ruling": "upheld", "reason": "经核实该考生符合岗位要求，维持原结果。"},
        t + timedelta(hours=3))
    assert ruled["ruling"] == "upheld"
    assert [e for e in _entries(service) if e["type"] == "vacancy.recorded"] == []
    assert service.propose_backfills(t + timedelta(days=1)) == 0
    assert c.answers() == []
    result = check_rebuild(service.store, service.log)
    assert result.equal, result.differences


def test_a_cancel_of_a_candidate_who_left_already_leaves_no_second_vacancy(
        service: AbsenceService) -> None:  # noqa: F811
    c = Campaign(service, "bf_on")
    c.invite(0, 1, 2)
    _publish(service, c.id)
    t = T0 + timedelta(hours=2)
    c.withdraw(0, t, t + timedelta(minutes=30))  # answered at once: rank 4 proposed
    ref = _objection(service, c.regs[0], t + timedelta(hours=1))
    assert _cancel(service, ref, t + timedelta(hours=3))["ruling"] == "cancelled"
    vacancies = [e for e in _entries(service) if e["type"] == "vacancy.recorded"]
    assert [v["body"]["kind"] for v in vacancies] == ["withdrawn_in_writing"]
    assert service.propose_backfills(t + timedelta(days=1)) == 0
    assert [a["registration"] for a in c.answers()] == [c.regs[3]]
    result = check_rebuild(service.store, service.log)
    assert result.equal, result.differences
