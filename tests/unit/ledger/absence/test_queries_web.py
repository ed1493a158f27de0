"""ledger.absence.queries.console, .selfservice and .ops: what the web's console,
self-service pages and ``/metrics`` read, after real writes through the use cases (the
``domain`` fixture: four candidates of campaign c1, one window each)."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from ledger.absence.queries import console, ops, selfservice
from ledger.entry import parse_utc
from ledger.storage import NewEntry
from tests.functional._absence import candidates_csv
from tests.unit.ledger.absence._domain import CAMPAIGN, CLOSES, GRACE, HR, OPENS, REVIEWER, Domain

DECIDED = CLOSES + GRACE + timedelta(seconds=1)
SHA = "ab" * 32


def record_report(domain: Domain, report: str, at: datetime, decisions: int) -> int:
    """Record ``report.generated`` as publicity's report job does; its ledger index."""
    (receipt,) = domain.service.record(at, lambda conn: [NewEntry(
        "report.generated", "system:report", {
            "report": report, "campaign": CAMPAIGN, "sha256": SHA, "decisions": decisions,
            "checkpoint_size": 3})])
    return receipt.index


# -- console ---------------------------------------------------------------------------

def test_a_campaign_s_reports_newest_first(domain: Domain) -> None:
    engine = domain.service.engine
    assert console.campaign_reports(engine, CAMPAIGN) == []
    first = record_report(domain, "rep-1", DECIDED, 4)
    second = record_report(domain, "rep-2", DECIDED + timedelta(hours=1), 5)
    got = console.campaign_reports(engine, CAMPAIGN)
    assert [(r.report, r.idx, r.decisions) for r in got] == [("rep-2", second, 5),
                                                             ("rep-1", first, 4)]
    assert got[1] == console.Report("rep-1", CAMPAIGN, SHA, 4, 3, got[1].generated_at, first)
    assert parse_utc(got[1].generated_at) == DECIDED  # the entry's time
    assert console.campaign_reports(engine, "no-such-campaign") == []


def test_one_report_with_its_campaign_title(domain: Domain) -> None:
    index = record_report(domain, "rep-1", DECIDED, 4)
    with domain.service.engine.connect() as conn:  # a connection as the source, too
        got = console.report_record(conn, "rep-1")
    assert got is not None
    assert (got.report, got.campaign, got.title) == ("rep-1", CAMPAIGN, "2026年公开招聘")
    assert (got.sha256, got.decisions, got.checkpoint_size, got.idx) == (SHA, 4, 3, index)
    assert console.report_record(domain.service.engine, "rep-2") is None


# -- self-service ----------------------------------------------------------------------

def test_the_open_appeal_of_a_decision(domain: Domain) -> None:
    engine = domain.service.engine
    domain.service.sweep(DECIDED)  # nobody came: four forfeitures
    decision = domain.decided()[domain.windows[0]]["decision"]
    assert selfservice.open_appeal_of(engine, decision) is None
    row = domain.rows[0]
    filed = domain.service.file_appeal(CAMPAIGN, {
        "registration": row["registration"], "factor": row["id_number"][-4:],
        "ground": "technical", "statement": "网络中断。"}, DECIDED + timedelta(hours=1))
    assert selfservice.open_appeal_of(engine, decision) == filed["appeal"]
    other = domain.decided()[domain.windows[1]]["decision"]
    assert selfservice.open_appeal_of(engine, other) is None  # not appealed
    domain.service.rule_appeal(REVIEWER, filed["appeal"], {"ruling": "upheld"},
                               DECIDED + timedelta(days=1))
    assert selfservice.open_appeal_of(engine, decision) is None  # ruled


# -- ops -------------------------------------------------------------------------------

def test_the_sweep_backlog_before_and_after_the_sweep(domain: Domain) -> None:
    engine = domain.service.engine
    (policy,) = ops.campaign_policies(engine)
    assert policy.campaign == CAMPAIGN
    assert policy.policy_digest == domain.service.campaign(CAMPAIGN)["policy_digest"]
    assert domain.service.policy_by_digest(policy.policy_digest).name == "government"
    assert ops.sweep_backlog(engine, CAMPAIGN, CLOSES - timedelta(seconds=1)) == \
        ops.SweepBacklog(0, None)  # none closed yet
    assert ops.sweep_backlog(engine, CAMPAIGN, CLOSES) == ops.SweepBacklog(4, CLOSES)
    assert ops.sweep_backlog(engine, "no-such-campaign", DECIDED) == ops.SweepBacklog(0, None)
    assert domain.service.sweep(DECIDED) == 4
    assert ops.sweep_backlog(engine, CAMPAIGN, DECIDED) == ops.SweepBacklog(0, None)


def test_the_outbox_by_channel_and_status_and_what_is_overdue(domain: Domain) -> None:
    engine = domain.service.engine
    # Scheduling the windows queued one invitation a candidate.
    assert ops.outbox_tallies(engine) == [ops.OutboxTally("email", "pending", 4)]
    (invitation, *_) = domain.service.notifications(CAMPAIGN)
    assert domain.service.record_attempt(invitation["notification"], 1, OPENS,
                                         provider_id="smtp-1")
    domain.service.sweep(DECIDED)  # each forfeiture queues its notice
    queued = domain.service.notifications(CAMPAIGN)
    by = Counter((n["channel"], n["status"]) for n in queued)
    assert by[("email", "sent")] == 1
    assert ops.outbox_tallies(engine) == [ops.OutboxTally(c, s, k)
                                          for (c, s), k in sorted(by.items())]
    due = min(parse_utc(n["due_by"]) for n in queued)
    assert ops.overdue_by_channel(engine, due) == []  # before: nothing overdue
    later = max(parse_utc(n["due_by"]) for n in queued) + timedelta(seconds=1)
    pending = Counter(n["channel"] for n in queued if n["status"] == "pending")
    assert sum(pending.values()) == len(queued) - 1  # the sent one is not overdue
    assert ops.overdue_by_channel(engine, later) == [ops.Tally(c, k)
                                                    for c, k in sorted(pending.items())]


def test_quarantine_and_webhook_deliveries(domain: Domain) -> None:
    engine = domain.service.engine
    assert (ops.quarantined_by_reason(engine), ops.webhook_delivery_count(engine)) == ([], 0)
    at = OPENS + timedelta(minutes=5)
    domain.service.ingest("m1", {"events": [
        domain.event(0, "e1", "joined", at),
        {"id": "e2", "window": "w_unknown", "kind": "joined", "at": at.isoformat()},
        {"id": "e3", "window": "w_other", "kind": "joined", "at": at.isoformat()}]},
        at + timedelta(minutes=1))
    late = CLOSES + timedelta(minutes=5)
    domain.service.ingest("m2", {"events": [domain.event(1, "e4", "joined", late)]},
                          late + timedelta(seconds=5))
    domain.service.ingest("m2", {"events": [domain.event(1, "e4", "joined", late)]},
                          late + timedelta(seconds=9))  # a replay: no new delivery
    assert ops.quarantined_by_reason(engine) == [ops.Tally("after_close", 1),
                                                 ops.Tally("unknown_window", 2)]
    assert ops.webhook_delivery_count(engine) == 2


def test_alerts_by_status(domain: Domain) -> None:
    engine = domain.service.engine
    assert ops.alerts_by_status(engine) == []
    # A second campaign where six of six candidates' connections failed: an outage.
    service = domain.service
    service.create_campaign(HR, {"campaign": "c2", "title": "第二批", "policy": "government",
                                 "posts": [{"post": "p01", "title": "岗位p01"}]}, OPENS)
    csv, _ = candidates_csv(6, seed=2, prefix="S")
    service.import_candidates(HR, "c2", csv, "text/csv", OPENS)
    scheduled = service.schedule_windows(HR, "c2", {"opens_at": OPENS.isoformat(),
                                                    "closes_at": CLOSES.isoformat()}, OPENS)
    at = OPENS + timedelta(minutes=10)
    service.ingest("outage", {"events": [
        {"id": f"f{i}", "window": w["window"], "kind": "connection_failed",
         "at": at.isoformat()} for i, w in enumerate(scheduled)]}, at + timedelta(minutes=1))
    service.sweep(DECIDED)  # the sweep runs the anomaly rules: one outage alert
    (alert,) = service.alerts("c2")
    assert (alert["kind"], alert["status"]) == ("platform_outage", "open")
    assert ops.alerts_by_status(engine) == [ops.Tally("open", 1)]
    service.resolve_alert(REVIEWER, alert["alert"], {"action": "dismissed"},
                          DECIDED + timedelta(minutes=5))
    (alert,) = service.alerts("c2")
    assert ops.alerts_by_status(engine) == [ops.Tally(alert["status"], 1)]
    assert alert["status"] != "open"
