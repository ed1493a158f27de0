"""ledger.absence.backfill: 递补 on the record, one test per policy setting.

A real SQLite database, the use cases called as the web and the scheduler call them,
time as a parameter.  Each test opens a campaign under one of the policies below and
imports a ranked list of its candidates (best first: 90, 85, 80, ... points).
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from sqlalchemy import select

from ledger.absence import tables as P  # noqa: N812 (the tables, read as P.windows)
from ledger.absence.rebuild import check_rebuild
from ledger.absence.service import AbsenceService
from ledger.app.registry import entry_types
from ledger.app.wiring import open_absence
from ledger.config import load_settings
from ledger.errors import BadData, Conflict, Unprocessable
from ledger.storage.open import open_store
from ledger.workdays import OfficialWorkingDays, working_day_before
from tests.functional._absence import LOG, T0, candidates_csv, write_config
from tests.unit.ledger.absence._domain import GRACE, HR, REVIEWER

POLICIES = """
[policies.bf_on]
mode = "government"
backfill = true

[policies.bf_no_day_of]
mode = "government"
backfill = true
backfill_day_of_no_show = false

[policies.bf_cutoff_date]
mode = "government"
backfill = true
backfill_cutoff = 2026-09-30

[policies.bf_cutoff_days]
mode = "government"
backfill = true
backfill_cutoff_days = 3

[policies.bf_withdrawal_days]
mode = "government"
backfill = true
backfill_day_of_no_show = false
backfill_withdrawal_days = 3

[policies.bf_rounds]
mode = "government"
backfill = true
backfill_rounds = 2

[policies.bf_written]
mode = "government"
backfill = true
backfill_ties = "written_score"

[policies.bf_registration]
mode = "government"
backfill = true
backfill_ties = "registration"
"""

OPENS = T0 + timedelta(minutes=10)
CLOSES = T0 + timedelta(minutes=70)
AFTER = CLOSES + GRACE + timedelta(seconds=1)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture
def service(tmp_path: Path) -> Iterator[AbsenceService]:
    data = tmp_path / "data"
    settings = load_settings(data, write_config(data, f"sqlite:///{tmp_path / 'a.db'}",
                                                extra=POLICIES))
    store = open_store(settings, entry_types())
    svc = open_absence(settings, store, T0)
    try:
        yield svc
    finally:
        store.engine.dispose()


class Campaign:
    """One campaign of ``n`` candidates of post p01, ranked in registration order."""

    def __init__(self, svc: AbsenceService, policy: str, *, n: int = 6,
                 scores: list[str] | None = None, written: list[str] | None = None,
                 pass_line: str = "60",  # noqa: S107 (a score, not a password)
                 interview_day: str = "2026-11-25") -> None:
        self.svc = svc
        self.id = f"c_{policy}"
        svc.create_campaign(HR, {"campaign": self.id, "title": "2026年公开招聘", "policy": policy,
                                 "posts": [{"post": "p01", "title": "岗位p01"}]}, T0)
        csv, rows = candidates_csv(n)
        svc.import_candidates(HR, self.id, csv, "text/csv", T0)
        self.regs = [r["registration"] for r in rows]
        by_reg = {c["registration"]: c["subject"] for c in svc.candidates(self.id)}
        self.subjects = [by_reg[r] for r in self.regs]
        scores = scores or [str(90 - 5 * i) for i in range(n)]
        head = "报名号,成绩" + (",笔试成绩" if written else "") + "\n"
        lines = [f"{reg},{s}" + (f",{written[i]}" if written else "")
                 for i, (reg, s) in enumerate(zip(self.regs, scores, strict=True))]
        self.ranking = svc.import_ranking(
            HR, self.id, (head + "\n".join(lines) + "\n").encode(), "text/csv",
            {"post": "p01", "pass_line": pass_line, "places": "3",
             "interview_day": interview_day}, T0)

    def invite(self, *indexes: int) -> list[str]:
        made = self.svc.schedule_windows(HR, self.id, {
            "opens_at": OPENS.isoformat(), "closes_at": CLOSES.isoformat(),
            "subjects": [self.subjects[i] for i in indexes]}, T0)
        return [w["window"] for w in made]

    def withdraw(self, i: int, at: datetime, now: datetime | None = None) -> dict[str, Any]:
        return self.svc.record_vacancy(HR, self.id, {
            "registration": self.regs[i], "kind": "withdrawn_in_writing",
            "at": at.isoformat()}, now or at + timedelta(hours=1))

    def answers(self) -> list[dict[str, Any]]:
        return self.svc.backfills(self.id)

    def index(self, subject: str | None) -> int:
        assert subject is not None
        return self.subjects.index(subject)


def _entries(svc: AbsenceService, kind: str) -> list[dict[str, Any]]:
    out = [json.loads(b) for _, b in svc.store.iter_entries(LOG)]
    return [e["body"] for e in out if e["type"] == kind]


def _local(day: str, hour: int = 10) -> datetime:
    """``hour`` o'clock Beijing time on ``day``."""
    return datetime.fromisoformat(f"{day}T{hour:02d}:00:00+08:00").astimezone(UTC)


# -- the day-of no-show setting -------------------------------------------------------


def test_a_no_show_on_the_day_is_backfilled_when_the_policy_says_so(
        service: AbsenceService) -> None:
    c = Campaign(service, "bf_on")
    c.invite(0, 1, 2)
    service.sweep(AFTER)  # nobody came: three deemed withdrawn, three vacancies
    answers = c.answers()
    assert [(a["status"], c.index(a["vacated"]), c.index(a["subject"]), a["rank"],
             a["round"]) for a in answers] == [
        ("proposed", 0, 3, 4, 1), ("proposed", 1, 4, 5, 1), ("proposed", 2, 5, 6, 1)]
    assert len(_entries(service, "backfill.proposed")) == 3


def test_a_no_show_on_the_day_is_not_backfilled_when_the_policy_excludes_it(
        service: AbsenceService) -> None:
    c = Campaign(service, "bf_no_day_of")
    c.invite(0)
    service.sweep(AFTER)
    assert [(a["status"], a["reason"]) for a in c.answers()] == [
        ("unfilled", "day_of_no_show_excluded")]
    assert _entries(service, "backfill.proposed") == []
    # ... while a written withdrawal under the same policy is backfilled.
    assert c.withdraw(1, T0 - timedelta(days=20))["answer"] == "backfill.proposed"


def test_a_policy_that_sets_nothing_answers_not_applicable_and_keeps_its_digest(
        service: AbsenceService) -> None:
    policy = service.cfg.policies["government"]
    assert not any(k.startswith("backfill") for k in policy.to_body())
    adopted = [b for b in _entries(service, "policy.adopted") if b["policy"] == "government"]
    assert not any(k.startswith("backfill") for k in adopted[0])
    on = [b for b in _entries(service, "policy.adopted") if b["policy"] == "bf_no_day_of"]
    assert (on[0]["backfill"], on[0]["backfill_day_of_no_show"]) == (1, 0)
    c = Campaign(service, "government")
    c.invite(0)
    service.sweep(AFTER)
    assert [(a["status"], a["reason"]) for a in c.answers()] == [("unfilled", "not_applicable")]


# -- the cut-off -------------------------------------------------------------------------


def test_the_cut_off_date(service: AbsenceService) -> None:
    c = Campaign(service, "bf_cutoff_date")
    assert c.withdraw(0, _local("2026-09-30", 23))["answer"] == "backfill.proposed"
    assert c.withdraw(1, _local("2026-10-01", 0))["answer"] == "backfill.unfilled"
    assert [(a["status"], a["reason"]) for a in c.answers()] == [
        ("proposed", None), ("unfilled", "cutoff_passed")]


def test_the_cut_off_in_working_days_before_the_interview_counts_the_official_calendar(
        service: AbsenceService) -> None:
    # The interview is on Friday 2026-10-09.  Three working days before it, counted on
    # the official calendar, skip the National Day holiday (10-01 .. 10-07): 10-08,
    # 09-30, 09-29.  Counting Monday to Friday would have ended at 10-06.
    cal = OfficialWorkingDays()
    assert working_day_before(cal, date(2026, 10, 9), 3) == date(2026, 9, 29)
    c = Campaign(service, "bf_cutoff_days", interview_day="2026-10-09")
    assert c.withdraw(0, _local("2026-09-29"))["answer"] == "backfill.proposed"
    assert c.withdraw(1, _local("2026-09-30"))["answer"] == "backfill.unfilled"
    assert c.answers()[1]["reason"] == "cutoff_passed"


def test_a_written_withdrawal_is_backfilled_only_if_made_n_working_days_before(
        service: AbsenceService) -> None:
    # Interview Monday 2026-10-12; Saturday 10-10 is an adjusted working day (调休), so
    # the third working day before is Thursday 10-08, not Wednesday 10-07.
    assert working_day_before(OfficialWorkingDays(), date(2026, 10, 12), 3) == date(2026, 10, 8)
    c = Campaign(service, "bf_withdrawal_days", interview_day="2026-10-12")
    assert c.withdraw(0, _local("2026-10-08"))["answer"] == "backfill.proposed"
    assert c.withdraw(1, _local("2026-10-09"))["answer"] == "backfill.unfilled"
    assert c.answers()[1]["reason"] == "withdrawal_too_late"


# -- rounds, declines, approvals -----------------------------------------------------------


def test_rounds_limit_how_many_proposals_a_vacancy_gets(service: AbsenceService) -> None:
    c = Campaign(service, "bf_rounds")
    c.withdraw(0, T0 - timedelta(days=20), T0)
    first = c.answers()[0]
    with pytest.raises(BadData) as no_reason:
        service.decline_backfill(REVIEWER, first["proposal"], {}, T0)
    assert no_reason.value.field == "reason"
    service.decline_backfill(REVIEWER, first["proposal"], {"reason": "本人放弃递补资格"}, T0)
    second = c.answers()[1]
    assert (second["status"], c.index(second["subject"]), second["round"]) == ("proposed", 2, 2)
    service.decline_backfill(REVIEWER, second["proposal"], {"reason": "未按时确认"}, T0)
    assert [(a["status"], a["reason"], a["round"]) for a in c.answers()] == [
        ("declined", "本人放弃递补资格", 1), ("declined", "未按时确认", 2),
        ("unfilled", "rounds_exhausted", 3)]
    with pytest.raises(Conflict):
        service.decline_backfill(REVIEWER, first["proposal"], {"reason": "again"}, T0)
    stats = service.backfill_statistics(c.id)
    assert stats["vacancies"] == 1
    assert stats["filled"] == 0
    assert stats["declined"] == 2
    assert stats["unfilled"]["rounds_exhausted"] == 1


def test_approval_invites_and_a_promoted_candidates_own_vacancy_is_the_next_round(
        service: AbsenceService) -> None:
    c = Campaign(service, "bf_on")
    c.withdraw(0, T0 - timedelta(days=20), T0)
    proposal = c.answers()[0]["proposal"]
    approved = service.approve_backfill(REVIEWER, proposal, {
        "opens_at": OPENS.isoformat(), "closes_at": CLOSES.isoformat(),
        "reason": "主管部门同意递补"}, T0)
    assert approved["status"] == "approved"
    assert approved["window"]
    window = service.window(approved["window"])
    assert (window["subject"], window["kind"]) == (c.subjects[1], "regular")
    invitation = [b for b in _entries(service, "notification.queued")
                  if b.get("window") == approved["window"]]
    assert invitation[0]["template"] == "invitation"
    assert invitation[0]["due_by"] == (T0 + timedelta(hours=1)).strftime(
        "%Y-%m-%dT%H:%M:%S.000Z")
    with pytest.raises(Conflict):
        service.approve_backfill(REVIEWER, proposal, {
            "opens_at": OPENS.isoformat(), "closes_at": CLOSES.isoformat()}, T0)
    service.sweep(AFTER)  # the promoted candidate did not come either
    last = c.answers()[-1]
    assert (c.index(last["vacated"]), c.index(last["subject"]), last["round"]) == (1, 2, 2)
    stats = service.backfill_statistics(c.id)
    assert (stats["vacancies"], stats["filled"], stats["pending"]) == (2, 1, 1)


# -- who is eligible ---------------------------------------------------------------------


@pytest.mark.parametrize(("policy", "expected"), [
    ("bf_on", 1),  # file order: the first of the two listed at 85
    ("bf_written", 2),  # the higher written-test score
    ("bf_registration", 1),  # the lower registration number
])
def test_ties_are_broken_as_the_policy_says(service: AbsenceService, policy: str,
                                            expected: int) -> None:
    c = Campaign(service, policy, n=3, scores=["90", "85", "85"], written=["70", "60", "65"])
    c.withdraw(0, T0 - timedelta(days=20), T0)
    assert c.index(c.answers()[0]["subject"]) == expected


def test_invited_locked_and_below_the_pass_line_are_skipped(service: AbsenceService) -> None:
    # Scores 90 85 80 75 70 65; pass line 72: candidates 4 and 5 are below it.
    c = Campaign(service, "bf_on", pass_line="72")
    assert c.ranking["qualified"] == 4
    c.invite(0, 1)  # 0 and 1 invited; 2 proposed for the first vacancy below
    c.withdraw(0, T0 - timedelta(days=1), T0)
    c.withdraw(1, T0 - timedelta(days=1), T0)
    answers = c.answers()
    assert [(a["status"], a["subject"] and c.index(a["subject"])) for a in answers] == [
        ("proposed", 2), ("proposed", 3)]
    c.withdraw(2, T0 - timedelta(days=1), T0)  # a proposed candidate leaves before approval
    assert c.answers()[-1]["reason"] == "no_eligible"  # 3 proposed, 4 and 5 below the line


def test_the_sweep_answers_each_vacancy_once_and_the_tables_equal_a_replay(
        service: AbsenceService) -> None:
    c = Campaign(service, "bf_on")
    c.invite(0, 1)
    service.sweep(AFTER)
    assert service.propose_backfills(AFTER + timedelta(minutes=1)) == 0
    assert service.sweep(AFTER + timedelta(minutes=2)) == 0
    assert len(c.answers()) == 2
    result = check_rebuild(service.store, service.log)
    assert result.equal, result.differences
    assert result.tables["p_backfills"] == 2
    assert result.tables["p_ranked"] == 6


# -- the import -------------------------------------------------------------------------


def test_a_ranking_with_bad_rows_imports_nothing_and_names_the_excel_rows(
        service: AbsenceService) -> None:
    c = Campaign(service, "bf_on", n=2)
    other = "c_other"
    service.create_campaign(HR, {"campaign": other, "title": "2026年招聘二", "policy": "bf_on",
                                 "posts": [{"post": "p01", "title": "岗位p01"}]}, T0)
    csv, rows = candidates_csv(3, seed=7)
    service.import_candidates(HR, other, csv, "text/csv", T0)
    size = service.store.head(LOG).size
    bad = (f"报名号,成绩\n{rows[0]['registration']},abc\n\n{rows[1]['registration']},88\n"
           f"{rows[1]['registration']},77\nNOPE-0001,70\n").encode()
    with pytest.raises(Unprocessable) as exc:
        service.import_ranking(HR, other, bad, "text/csv", {
            "post": "p01", "pass_line": "60", "places": "3",
            "interview_day": "2026-11-25"}, T0)
    assert [(e["row"], e["field"]) for e in exc.value.errors] == [
        (2, "score"), (5, "registration")]
    assert "abc" not in str(exc.value.errors)
    not_ours = f"报名号,成绩\n{rows[0]['registration']},80\n{c.regs[0]},70\n".encode()
    with pytest.raises(Unprocessable) as exc:
        service.import_ranking(HR, other, not_ours, "text/csv", {
            "post": "p01", "pass_line": "60", "places": "3",
            "interview_day": "2026-11-25"}, T0)
    assert [(e["row"], e["field"]) for e in exc.value.errors] == [(3, "registration")]
    with pytest.raises(BadData) as field:
        service.import_ranking(HR, other, not_ours, "text/csv", {
            "post": "p01", "pass_line": "sixty", "places": "3",
            "interview_day": "2026-11-25"}, T0)
    assert field.value.field == "pass_line"
    assert service.store.head(LOG).size == size  # nothing was written


def test_an_excel_ranking_is_imported_and_the_scores_stay_out_of_the_ledger(
        service: AbsenceService) -> None:
    service.create_campaign(HR, {"campaign": "cx", "title": "2026年招聘", "policy": "bf_on",
                                 "posts": [{"post": "p01", "title": "岗位p01"}]}, T0)
    csv, rows = candidates_csv(2, seed=3)
    service.import_candidates(HR, "cx", csv, "text/csv", T0)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["准考证号", "综合成绩"])
    sheet.append([rows[0]["registration"], 71.25])
    sheet.append([rows[1]["registration"], 93.5])
    out = io.BytesIO()
    book.save(out)
    made = service.import_ranking(HR, "cx", out.getvalue(), XLSX, {
        "post": "p01", "pass_line": "72", "places": "1", "interview_day": "2026-11-25"}, T0)
    assert (made["ranked"], made["qualified"]) == (2, 1)
    ranked = _entries(service, "ranking.ranked")
    by_subject = {c["subject"]: c["registration"] for c in service.candidates("cx")}
    assert [(by_subject[b["subject"]], b["rank"], b["passed"]) for b in ranked] == [
        (rows[1]["registration"], 1, "yes"), (rows[0]["registration"], 2, "no")]
    ledger = b"".join(b for _, b in service.store.iter_entries(LOG))
    assert b"71.25" not in ledger
    assert b"93.5" not in ledger
    with pytest.raises(Conflict):
        service.import_ranking(HR, "cx", out.getvalue(), XLSX, {
            "post": "p01", "pass_line": "72", "places": "1",
            "interview_day": "2026-11-25"}, T0)


def test_an_erased_candidate_loses_the_sealed_scores_and_is_never_proposed(
        service: AbsenceService) -> None:
    c = Campaign(service, "bf_on", n=3)
    with service.engine.connect() as conn:
        docs = dict(conn.execute(select(P.vault_documents.c.subject,
                                        P.vault_documents.c.ciphertext)).all())
    assert set(docs) == set(c.subjects)
    assert all(docs.values())
    service.erase(HR, c.subjects[1], "request", T0)
    with service.engine.connect() as conn:
        erased = conn.execute(select(P.vault_documents.c.ciphertext).where(
            P.vault_documents.c.subject == c.subjects[1])).scalar()
    assert erased is None
    c.withdraw(0, T0 - timedelta(days=1), T0)
    assert c.index(c.answers()[0]["subject"]) == 2


def test_a_year_the_calendar_does_not_know_leaves_the_vacancy_waiting_not_the_sweep(
        service: AbsenceService) -> None:
    c = Campaign(service, "bf_cutoff_days", interview_day="2031-03-03")
    c.invite(0)
    assert service.sweep(AFTER) == 1  # decided; the 递补 deadline cannot be counted yet
    assert c.answers() == []
    assert service.propose_backfills(AFTER) == 0  # still waiting, nothing guessed


def test_a_workbook_with_a_broken_sheet_is_refused_naming_the_body(
        service: AbsenceService) -> None:
    # A zip that opens as a workbook but whose sheet XML is missing or not XML: openpyxl
    # only reads the sheet while iterating it (read-only mode), which raised out as a 500.
    service.create_campaign(HR, {"campaign": "cx", "title": "2026年招聘", "policy": "bf_on",
                                 "posts": [{"post": "p01", "title": "岗位p01"}]}, T0)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["准考证号", "综合成绩"])
    good = io.BytesIO()
    book.save(good)
    for damage in (b"<worksheet", None):
        broken = io.BytesIO()
        with zipfile.ZipFile(io.BytesIO(good.getvalue())) as src, \
                zipfile.ZipFile(broken, "w") as dst:
            for item in src.infolist():
                data = src.read(item)
                if item.filename == "xl/worksheets/sheet1.xml":
                    if damage is None:
                        continue
                    data = damage
                dst.writestr(item, data)
        before = len(list(service.store.iter_entries(LOG)))
        with pytest.raises(BadData) as info:
            service.import_ranking(HR, "cx", broken.getvalue(), XLSX, {
                "post": "p01", "pass_line": "72", "places": "1",
                "interview_day": "2026-11-25"}, T0)
        assert info.value.field == "body"
        assert len(list(service.store.iter_entries(LOG))) == before
