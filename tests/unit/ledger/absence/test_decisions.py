"""ledger.absence.decisions: a decision read back with its evidence and the explanation
whose digest the ledger holds; the campaign's decisions filtered and paginated."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from ledger.absence.decisions import explanation_digest
from ledger.absence.service import AbsenceService
from ledger.absence.vault import Vault
from ledger.errors import NotFound
from tests.unit.ledger.absence._domain import CAMPAIGN, CLOSES, GRACE, OPENS, Domain

DECIDED = CLOSES + GRACE + timedelta(seconds=1)


def decide(domain: Domain) -> None:
    """Window 0 attended, window 1 failed technically, windows 2 and 3 nobody came."""
    at = OPENS + timedelta(minutes=5)
    domain.service.ingest("m1", {"events": [
        domain.event(0, "a", "joined", at), domain.event(0, "b", "completed", at),
        domain.event(1, "c", "connection_failed", at)]}, at + timedelta(minutes=1))
    assert domain.service.sweep(DECIDED) == 4


def test_a_decision_carries_its_evidence_and_the_explanation_the_ledger_holds(
        domain: Domain) -> None:
    decide(domain)
    made = {e["body"]["window"]: e for e in domain.entries("decision.made")}
    failed = {e["body"]["event_id"]: e["index"] for e in domain.entries("platform.event")}
    entry = made[domain.windows[1]]
    out = domain.service.decision(entry["body"]["decision"])
    assert (out["cause"], out["outcome"], out["review"]) == (
        "technical", "makeup_pending_review", "pending")
    assert out["evidence"] == [failed["c"]]
    assert out["registration"] == domain.rows[1]["registration"]
    assert out["ledger_index"] == entry["index"]
    assert out["explanation_matches_ledger"] is True
    ex = out["explanation"]
    assert explanation_digest(ex["zh"], ex["en"]) == entry["body"]["explanation_sha256"]
    assert ex["zh"]
    assert ex["en"]
    assert entry["body"]["basis"] == "sweep"
    assert entry["actor"] == "scheduler"


def test_decisions_are_filtered_and_paginated(domain: Domain) -> None:
    decide(domain)
    every = domain.service.decisions(CAMPAIGN)
    assert sorted(d["decision"] for d in every) == [d["decision"] for d in every]
    assert len(every) == 4
    forfeited = domain.service.decisions(CAMPAIGN, outcome="forfeited")
    assert {d["window"] for d in forfeited} == set(domain.windows[2:])
    (pending,) = domain.service.decisions(CAMPAIGN, pending_review=True)
    assert pending["window"] == domain.windows[1]
    first = domain.service.decisions(CAMPAIGN, limit=3)
    rest = domain.service.decisions(CAMPAIGN, after=first[-1]["decision"])
    assert first + rest == every
    with pytest.raises(NotFound) as err:
        domain.service.decision("d_none")
    assert err.value.field == "decision"
    with pytest.raises(NotFound):
        domain.service.decisions("c_none")


def test_a_decision_under_a_policy_changed_since_cannot_be_explained(domain: Domain
                                                                    ) -> None:
    decide(domain)
    decision = domain.decided()[domain.windows[2]]["decision"]
    cfg = domain.service.cfg
    changed = dataclasses.replace(cfg.policies["government"], grace_s=900)
    cfg = dataclasses.replace(cfg, policies={**cfg.policies, "government": changed})
    later = AbsenceService(domain.service.store, cfg,
                           Vault.load_or_create_master_key(cfg.master_key_path))
    out = later.decision(decision)
    assert out["explanation"] is None
    assert "restore the old [policies.*] values" in out["explanation_error"]
    assert out["outcome"] == "forfeited"  # the decision itself stands
