"""ledger.absence.queries.notices and .reports: what publicity reads, on a real SQLite
database (the ``domain`` fixture: one campaign, four candidates, one window each)."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Connection

from ledger.absence import report_jobs
from ledger.absence.notice_documents import store_document
from ledger.absence.queries import notices as QN  # noqa: N812 (read as QN.finality)
from ledger.absence.queries import reports as QR  # noqa: N812 (read as QR.window_span)
from ledger.config import PublicitySettings
from ledger.entry import format_time
from ledger.storage.store import NewEntry
from tests.unit.ledger.absence._domain import (
    CAMPAIGN,
    CLOSES,
    GRACE,
    HR,
    OPENS,
    REVIEWER,
    T0,
    Domain,
)

SWEPT = CLOSES + GRACE + timedelta(seconds=1)


def sweep_with_one_pending(domain: Domain) -> str:
    """Sweep the campaign: candidate 1 had a technical failure (a decision pending
    review), the three others did not show up (forfeited).  Returns candidate 1's
    decision."""
    at = OPENS + timedelta(minutes=5)
    domain.service.ingest("m1", {"events": [domain.event(1, "c", "connection_failed", at)]},
                          at + timedelta(minutes=1))
    domain.service.sweep(SWEPT)
    decision = domain.decided()[domain.windows[1]]
    assert decision["outcome"] == "makeup_pending_review"
    return str(decision["decision"])


def publish_entry(domain: Domain, notice: str, now: datetime, *,
                  supersedes: str | None = None, html: bytes = b"<p>notice</p>") -> int:
    """Record a ``notice.published`` entry and store its bytes as publicity does."""
    def plan(conn: Connection) -> list[NewEntry]:
        store_document(conn, notice, html)
        body = {"notice": notice, "campaign": CAMPAIGN, "sha256": "ab" * 32, "lines": 4,
                "checkpoint_size": domain.size(), "period_start": format_time(now),
                "period_end": format_time(now + timedelta(days=7))}
        if supersedes is not None:
            body["supersedes"] = supersedes
        return [NewEntry("notice.published", HR.actor, body)]

    (receipt,) = domain.service.record(now, plan)
    return receipt.index


def test_finality_counts_undecided_windows_and_pending_reviews(domain: Domain) -> None:
    engine = domain.service.engine
    before = QN.finality(engine, CAMPAIGN)
    assert (before.undecided, before.pending, before.final) == (4, 0, False)
    decision = sweep_with_one_pending(domain)
    swept = QN.finality(engine, CAMPAIGN)
    assert (swept.undecided, swept.pending, swept.final) == (0, 1, False)
    domain.service.review(REVIEWER, decision, {"ruling": "confirmed"},
                          CLOSES + timedelta(hours=1))
    assert QN.finality(engine, CAMPAIGN) == QN.Finality(0, 0)
    assert QN.finality(engine, CAMPAIGN).final
    assert QN.finality(engine, "no-such-campaign") == QN.Finality(0, 0)


def test_subject_results_hold_each_candidates_last_decision(domain: Domain) -> None:
    engine = domain.service.engine
    assert QN.subject_results(engine, CAMPAIGN) == []  # nothing decided yet
    decision = sweep_with_one_pending(domain)
    results = QN.subject_results(engine, CAMPAIGN)
    decided = domain.decided()
    assert [r.registration for r in results] == sorted(r["registration"] for r in domain.rows)
    by_reg = {r.registration: r for r in results}
    for row, window in zip(domain.rows, domain.windows, strict=True):
        got, want = by_reg[row["registration"]], decided[window]
        assert got.subject == domain.service.window(window)["subject"]
        assert (got.outcome, got.cause, got.index) == (want["outcome"], want["cause"],
                                                       want["ledger_index"])
        assert got.post == "岗位p01"  # the post's title, not its id
    assert by_reg[domain.rows[0]["registration"]].outcome == "forfeited"
    assert by_reg[domain.rows[1]["registration"]].review == "pending"

    # A granted make-up: once its window is decided, that decision is the result.
    now = CLOSES + timedelta(hours=1)
    opens, closes = now + timedelta(days=1), now + timedelta(days=1, hours=1)
    domain.service.review(REVIEWER, decision, {"ruling": "makeup_granted",
                                               "opens_at": opens.isoformat(),
                                               "closes_at": closes.isoformat()}, now)
    assert QN.finality(engine, CAMPAIGN).undecided == 1
    second = by_reg[domain.rows[1]["registration"]]
    assert QN.subject_results(engine, CAMPAIGN)[1].index == second.index  # still the first
    domain.service.sweep(closes + GRACE + timedelta(seconds=1))
    (makeup,) = [d for d in domain.service.decisions(CAMPAIGN)
                 if d["window"] not in domain.windows]
    latest = {r.registration: r for r in QN.subject_results(engine, CAMPAIGN)}
    assert len(latest) == 4
    assert latest[domain.rows[1]["registration"]].index == makeup["ledger_index"]
    assert latest[domain.rows[1]["registration"]].index > second.index


def test_queries_read_through_a_given_connection_too(domain: Domain) -> None:
    sweep_with_one_pending(domain)
    engine = domain.service.engine
    with engine.connect() as conn:
        assert QN.finality(conn, CAMPAIGN) == QN.finality(engine, CAMPAIGN)
        assert QN.subject_results(conn, CAMPAIGN) == QN.subject_results(engine, CAMPAIGN)
        assert QR.report_decisions(conn, CAMPAIGN) == QR.report_decisions(engine, CAMPAIGN)
        assert not conn.closed  # a given connection is the caller's to close
    assert conn.closed


def test_personal_details_of_reads_the_vault_for_many_subjects(domain: Domain) -> None:
    subjects = [domain.service.window(w)["subject"] for w in domain.windows]
    got = domain.service.personal_details_of(domain.service.engine, subjects)
    assert list(got) == subjects
    names = [d.name if d is not None else None for d in got.values()]
    assert names == [r["name"] for r in domain.rows]
    domain.service.erase(HR, subjects[2], "request", CLOSES + timedelta(days=1))
    assert domain.service.personal_details_of(domain.service.engine, subjects)[
        subjects[2]] is None


def test_notice_records_pages_and_bytes(domain: Domain) -> None:
    engine = domain.service.engine
    assert QN.notice_record(engine, "nt-1") is None
    assert QN.notice_html(engine, "nt-1") is None
    assert QN.notice_page(engine) == ([], 0)
    at = CLOSES + timedelta(days=1)
    first = publish_entry(domain, "nt-1", at, html=b"<p>first</p>")
    second = publish_entry(domain, "nt-2", at + timedelta(hours=1), supersedes="nt-1",
                           html=b"<p>second</p>")
    old = QN.notice_record(engine, "nt-1")
    assert old is not None
    assert (old.campaign, old.index, old.superseded_by, old.supersedes) == (
        CAMPAIGN, first, "nt-2", None)
    assert (old.lines, old.sha256, old.published_at) == (4, "ab" * 32, format_time(at))
    assert old.period_end == format_time(at + timedelta(days=7))
    new = QN.notice_record(engine, "nt-2")
    assert new is not None
    assert (new.index, new.supersedes, new.superseded_by) == (second, "nt-1", None)
    assert QN.notice_html(engine, "nt-1") == b"<p>first</p>"
    assert QN.notice_html(engine, "nt-2") == b"<p>second</p>"
    listed, total = QN.notice_page(engine)
    assert total == 2
    assert [(n.record.notice, n.title) for n in listed] == [("nt-2", "2026年公开招聘"),
                                                            ("nt-1", "2026年公开招聘")]
    page2, total2 = QN.notice_page(engine, page=2, per_page=1)
    assert total2 == 2
    assert [n.record.notice for n in page2] == ["nt-1"]


def test_a_notices_bytes_are_stored_once(domain: Domain) -> None:
    publish_entry(domain, "nt-1", CLOSES + timedelta(days=1))
    size = domain.size()
    with pytest.raises(sqlite3.IntegrityError):  # the driver's: insert_rows uses its cursor
        publish_entry(domain, "nt-1", CLOSES + timedelta(days=2))
    assert domain.size() == size  # the plan failed: no entry either


def record_report(domain: Domain, report: str, now: datetime, checkpoint_size: int) -> int:
    (receipt,) = domain.service.record(now, lambda conn: [NewEntry(
        "report.generated", "system:report", {
            "report": report, "campaign": CAMPAIGN, "sha256": "cd" * 32, "decisions": 4,
            "checkpoint_size": checkpoint_size})])
    return receipt.index


def test_report_decisions_in_ledger_order(domain: Domain) -> None:
    engine = domain.service.engine
    assert QR.report_decisions(engine, CAMPAIGN) == []
    decision = sweep_with_one_pending(domain)
    domain.service.review(REVIEWER, decision, {"ruling": "confirmed"},
                          CLOSES + timedelta(hours=1))
    got = QR.report_decisions(engine, CAMPAIGN)
    want = sorted(domain.service.decisions(CAMPAIGN), key=lambda d: d["ledger_index"])
    assert [d.index for d in got] == [d["ledger_index"] for d in want]
    assert [d.index for d in got] == sorted(d.index for d in got)
    reg_of = {domain.service.window(w)["subject"]: r["registration"]
              for w, r in zip(domain.windows, domain.rows, strict=True)}
    for d, w in zip(got, want, strict=True):
        assert (d.registration, d.post, d.outcome, d.cause) == (
            reg_of[w["subject"]], "p01", w["outcome"], w["cause"])
        assert d.superseded_by is None
    assert QR.report_decisions(engine, "no-such-campaign") == []


def test_window_span(domain: Domain) -> None:
    engine = domain.service.engine
    assert QR.window_span(engine, CAMPAIGN) == QR.WindowSpan(format_time(OPENS),
                                                             format_time(CLOSES))
    assert QR.window_span(engine, "no-such-campaign") == QR.WindowSpan(None, None)


def test_report_coverage_and_the_newest_report(domain: Domain) -> None:
    engine = domain.service.engine
    assert QR.report_coverage(engine) == []  # no decisions yet
    assert QR.newest_report_index(engine, CAMPAIGN) is None
    sweep_with_one_pending(domain)
    last = max(d["ledger_index"] for d in domain.service.decisions(CAMPAIGN))
    assert QR.report_coverage(engine) == [QR.ReportCoverage(CAMPAIGN, last, None)]
    at = CLOSES + timedelta(days=1)
    first = record_report(domain, "rpt-1", at, last + 1)
    second = record_report(domain, "rpt-2", at + timedelta(hours=1), last)  # an older one
    assert QR.report_coverage(engine) == [QR.ReportCoverage(CAMPAIGN, last, last + 1)]
    assert QR.newest_report_index(engine, CAMPAIGN) == second > first
    assert QR.newest_report_index(engine, "no-such-campaign") is None


def test_a_report_job_starts_after_the_newest_report(domain: Domain) -> None:
    store = domain.service.store
    limits = report_jobs.JobLimits.from_config(PublicitySettings())
    job = report_jobs.request(store, CAMPAIGN, "hr:unit", T0, limits)
    assert job.after_index == -1
    assert job.state == report_jobs.QUEUED
    report_jobs.finish(store, job.job, T0 + timedelta(minutes=1), report="rpt-1")
    index = record_report(domain, "rpt-1", T0 + timedelta(minutes=1), domain.size())
    again = report_jobs.request(store, CAMPAIGN, "hr:unit", T0 + timedelta(minutes=2),
                                limits)
    assert again.after_index == index
    assert report_jobs.get(store, job.job) == report_jobs.ReportJob(
        job.job, CAMPAIGN, report_jobs.DONE, "hr:unit", T0, -1, "rpt-1", "")
    assert [j.job for j in report_jobs.of_campaign(store, CAMPAIGN)] == [again.job, job.job]
