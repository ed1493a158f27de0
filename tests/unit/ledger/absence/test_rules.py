"""The absence decision rules: causes, precedence, outcomes, boundaries, policy, explain."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.absence.notice_settings import NoticeSettings
from ledger.absence.rules import (
    OBJECTION_FIELDS,
    AbsenceDecision,
    Cause,
    Outcome,
    PlatformFact,
    Policy,
    WindowFacts,
    decide,
    due_at,
    explain,
)
from ledger.absence.rules import NotificationFact as Note
from ledger.errors import BadData

OPENS = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
CLOSES = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
DUE = CLOSES + timedelta(seconds=600)
MID = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
WINDOW = WindowFacts(window="w-1", subject="sub_x", opens_at=OPENS, closes_at=CLOSES)
GOV = Policy(name="government", mode="government")
ENT = Policy(name="enterprise", mode="enterprise")
SHANGHAI = ZoneInfo("Asia/Shanghai")


def fact(index: int, kind: str, at: datetime = MID) -> PlatformFact:
    return PlatformFact(index=index, kind=kind, at=at)


def ruled(platform: list[PlatformFact], notes: list[Note] | None = None,
          policy: Policy = GOV, window: WindowFacts = WINDOW,
          now: datetime = DUE) -> AbsenceDecision:
    decision = decide(window, platform, notes or [], policy, now)
    assert decision is not None
    return decision


# ---------------------------------------------------------------- due_at and timing


def test_due_at_is_close_plus_grace() -> None:
    assert due_at(WINDOW, GOV) == datetime(2026, 11, 25, 10, 10, tzinfo=UTC)
    assert due_at(WINDOW, dataclasses.replace(GOV, grace_s=0)) == CLOSES


def test_not_decided_one_second_before_due_and_decided_exactly_at_due() -> None:
    assert decide(WINDOW, [], [], GOV, DUE - timedelta(seconds=1)) is None
    assert decide(WINDOW, [], [], GOV, CLOSES) is None
    decision = decide(WINDOW, [], [], GOV, DUE)
    assert decision is not None
    assert decision.decided_at == DUE


def test_decided_at_is_now() -> None:
    later = DUE + timedelta(days=3, seconds=7)
    assert ruled([], now=later).decided_at == later


# ---------------------------------------------------------------- attendance


def test_completed_in_window_is_attended() -> None:
    decision = ruled([fact(3, "invited"), fact(5, "joined"), fact(8, "completed")])
    assert decision.outcome is Outcome.ATTENDED
    assert decision.cause is None
    assert decision.evidence == (8,)
    assert decision.reason == "completed_in_window"
    assert decision.rebook_until is None
    assert decision.window == "w-1"
    assert decision.subject == "sub_x"


def test_completed_beats_every_failure() -> None:
    decision = ruled([fact(1, "withdrew"), fact(2, "connection_failed"),
                      fact(3, "device_incompatible"), fact(9, "completed")],
                     [Note(4, "failed", MID, final=True)], policy=ENT)
    assert decision.outcome is Outcome.ATTENDED
    assert decision.evidence == (9,)


def test_two_completed_facts_evidence_is_the_earliest() -> None:
    decision = ruled([fact(20, "completed", MID + timedelta(minutes=5)),
                      fact(30, "completed", MID)])
    assert decision.evidence == (30,)


def test_completed_exactly_at_opens_and_at_closes_counts() -> None:
    assert ruled([fact(1, "completed", OPENS)]).outcome is Outcome.ATTENDED
    assert ruled([fact(1, "completed", CLOSES)]).outcome is Outcome.ATTENDED


def test_completed_one_second_outside_the_window_is_ignored() -> None:
    after = ruled([fact(1, "completed", CLOSES + timedelta(seconds=1))])
    before = ruled([fact(1, "completed", OPENS - timedelta(seconds=1))])
    for decision in (after, before):
        assert decision.outcome is Outcome.FORFEITED
        assert decision.cause is Cause.NO_SHOW
        assert decision.evidence == ()
        assert decision.reason == "no_attempt"


def test_attended_in_enterprise_even_past_lock_threshold() -> None:
    window = dataclasses.replace(WINDOW, prior_misses=5)
    decision = ruled([fact(1, "completed")], policy=ENT, window=window)
    assert decision.outcome is Outcome.ATTENDED
    assert decision.rebook_until is None


# ---------------------------------------------------------------- causes and precedence


@pytest.mark.parametrize(("facts", "notes", "cause", "reason", "evidence", "outcome"), [
    pytest.param([fact(4, "device_incompatible"), fact(2, "connection_failed"),
                  fact(7, "withdrew"), fact(1, "joined")], [],
                 Cause.WITHDRAWN, "withdrew", (7,), Outcome.FORFEITED,
                 id="withdrew-beats-technical-and-compatibility"),
    pytest.param([fact(4, "device_incompatible"), fact(9, "connection_failed"),
                  fact(2, "connection_failed"), fact(1, "joined")], [],
                 Cause.TECHNICAL, "connection_failed", (2, 9), Outcome.MAKEUP_PENDING,
                 id="connection-failed-beats-device-incompatible"),
    pytest.param([fact(6, "device_incompatible"), fact(3, "device_incompatible")],
                 [Note(1, "failed", MID, final=True)],
                 Cause.COMPATIBILITY, "device_incompatible", (3, 6), Outcome.MAKEUP_PENDING,
                 id="device-incompatible-is-compatibility"),
    pytest.param([fact(5, "invited")],
                 [Note(11, "failed", MID), Note(13, "failed", MID, final=True)],
                 Cause.NOTIFICATION_FAILED, "invitation_not_delivered", (11, 13),
                 Outcome.MAKEUP_PENDING, id="notification-failed-when-only-failures"),
    pytest.param([fact(5, "invited"), fact(8, "joined")], [Note(2, "failed", MID, final=True)],
                 Cause.NO_SHOW, "joined_not_completed", (5, 8), Outcome.FORFEITED,
                 id="joined-means-the-invitation-arrived"),
])
def test_the_cause_of_an_absence(facts: list[PlatformFact], notes: list[Note], cause: Cause,
                                 reason: str, evidence: tuple[int, ...], outcome: Outcome
                                 ) -> None:
    decision = ruled(facts, notes)
    assert decision.cause is cause
    assert decision.reason == reason
    assert decision.evidence == evidence
    assert decision.outcome is outcome


def test_failure_outside_window_does_not_set_the_cause() -> None:
    late = CLOSES + timedelta(seconds=1)
    decision = ruled([fact(2, "connection_failed", late), fact(3, "withdrew", late)])
    assert decision.cause is Cause.NO_SHOW
    assert decision.evidence == ()


def test_failure_exactly_at_close_counts() -> None:
    decision = ruled([fact(2, "connection_failed", CLOSES)])
    assert decision.cause is Cause.TECHNICAL
    assert decision.evidence == (2,)


@pytest.mark.parametrize("status", ["sent", "delivered"])
def test_any_sent_or_delivered_means_not_notification_failed(status: str) -> None:
    notes = [Note(11, "failed", MID), Note(12, status, MID)]
    decision = ruled([], notes)
    assert decision.cause is Cause.NO_SHOW
    assert decision.reason == "no_attempt"
    assert decision.outcome is Outcome.FORFEITED


def test_no_notification_facts_is_no_show() -> None:
    assert ruled([]).cause is Cause.NO_SHOW


def test_technical_beats_notification_failed() -> None:
    decision = ruled([fact(8, "connection_failed")], [Note(2, "failed", MID, final=True)])
    assert decision.cause is Cause.TECHNICAL
    assert decision.evidence == (8,)


def test_duplicate_indexes_are_reported_once() -> None:
    decision = ruled([fact(4, "connection_failed"), fact(4, "connection_failed")])
    assert decision.evidence == (4,)


# ---------------------------------------------------------------- government outcomes


@pytest.mark.parametrize(("platform", "notes", "cause", "outcome"), [
    ([fact(1, "connection_failed")], [], Cause.TECHNICAL, Outcome.MAKEUP_PENDING),
    ([fact(1, "device_incompatible")], [], Cause.COMPATIBILITY, Outcome.MAKEUP_PENDING),
    ([], [Note(1, "failed", MID)], Cause.NOTIFICATION_FAILED, Outcome.MAKEUP_PENDING),
    ([fact(1, "withdrew")], [], Cause.WITHDRAWN, Outcome.FORFEITED),
    ([fact(1, "joined")], [], Cause.NO_SHOW, Outcome.FORFEITED),
])
def test_government_outcome_by_cause(platform: list[PlatformFact], notes: list[Note],
                                     cause: Cause, outcome: Outcome) -> None:
    decision = ruled(platform, notes)
    assert (decision.cause, decision.outcome) == (cause, outcome)
    assert decision.rebook_until is None


def test_government_makeup_causes_come_from_the_policy() -> None:
    strict = Policy(name="strict", mode="government", makeup_causes=(Cause.TECHNICAL,))
    assert ruled([fact(1, "device_incompatible")], policy=strict).outcome is Outcome.FORFEITED
    assert ruled([fact(1, "connection_failed")], policy=strict).outcome \
        is Outcome.MAKEUP_PENDING
    none = Policy(name="none", mode="government", makeup_causes=())
    assert ruled([fact(1, "connection_failed")], policy=none).outcome is Outcome.FORFEITED


def test_government_ignores_prior_misses() -> None:
    window = dataclasses.replace(WINDOW, prior_misses=9)
    decision = ruled([], policy=GOV, window=window)
    assert decision.outcome is Outcome.FORFEITED
    assert decision.reason == "no_attempt"


# ---------------------------------------------------------------- enterprise outcomes


def test_enterprise_first_miss_is_offered_rebooking_for_48_hours() -> None:
    now = DUE + timedelta(minutes=7)
    decision = ruled([fact(2, "connection_failed")], policy=ENT, now=now)
    assert decision.outcome is Outcome.REBOOK_OFFERED
    assert decision.cause is Cause.TECHNICAL
    assert decision.reason == "connection_failed"
    assert decision.rebook_until == datetime(2026, 11, 27, 10, 17, tzinfo=UTC)


def test_enterprise_rebook_until_at_due() -> None:
    policy = dataclasses.replace(ENT, rebook_within_s=3600, grace_s=60)
    now = CLOSES + timedelta(seconds=60)
    decision = ruled([], policy=policy, now=now)
    assert decision.rebook_until == datetime(2026, 11, 25, 11, 1, tzinfo=UTC)


def test_enterprise_withdrawal_is_forfeited_not_locked() -> None:
    window = dataclasses.replace(WINDOW, prior_misses=1)
    decision = ruled([fact(3, "withdrew")], policy=ENT, window=window)
    assert decision.outcome is Outcome.FORFEITED
    assert decision.cause is Cause.WITHDRAWN
    assert decision.rebook_until is None


def test_enterprise_locks_at_the_lock_after_th_miss() -> None:
    first = ruled([], policy=ENT, window=dataclasses.replace(WINDOW, prior_misses=0))
    second = ruled([], policy=ENT, window=dataclasses.replace(WINDOW, prior_misses=1))
    assert first.outcome is Outcome.REBOOK_OFFERED
    assert second.outcome is Outcome.LOCKED
    assert second.reason == "lock_after_misses"
    assert second.cause is Cause.NO_SHOW
    assert second.rebook_until is None


@pytest.mark.parametrize(("lock_after", "prior", "outcome"), [
    (1, 0, Outcome.LOCKED),
    (3, 1, Outcome.REBOOK_OFFERED),
    (3, 2, Outcome.LOCKED),
    (3, 7, Outcome.LOCKED),
])
def test_enterprise_lock_boundary(lock_after: int, prior: int, outcome: Outcome) -> None:
    policy = dataclasses.replace(ENT, lock_after=lock_after)
    window = dataclasses.replace(WINDOW, prior_misses=prior)
    decision = ruled([fact(1, "device_incompatible")], policy=policy, window=window)
    assert decision.outcome is outcome
    assert decision.cause is Cause.COMPATIBILITY
    assert decision.evidence == (1,)


def test_decision_carries_the_policy_digest() -> None:
    assert ruled([], policy=ENT).policy_digest == ENT.digest()
    assert ruled([]).policy_digest == GOV.digest()


# ---------------------------------------------------------------- bad inputs


def test_naive_or_inverted_windows_are_bad_data() -> None:
    naive = WindowFacts("w", "s", datetime(2026, 1, 1, 8), datetime(2026, 1, 1, 9))
    with pytest.raises(BadData) as info:
        decide(naive, [], [], GOV, DUE)
    assert info.value.field == "opens_at"
    for closes in (OPENS, OPENS - timedelta(seconds=1)):
        inverted = dataclasses.replace(WINDOW, closes_at=closes)
        with pytest.raises(BadData) as info:
            decide(inverted, [], [], GOV, DUE)
        assert info.value.field == "closes_at"
    with pytest.raises(BadData):
        due_at(naive, GOV)


def test_naive_now_or_fact_time_is_bad_data() -> None:
    with pytest.raises(BadData) as info:
        decide(WINDOW, [], [], GOV, datetime(2026, 11, 26))
    assert info.value.field == "now"
    with pytest.raises(BadData) as info:
        decide(WINDOW, [fact(1, "joined", datetime(2026, 11, 25, 9))], [], GOV, DUE)
    assert info.value.field == "platform[0].at"
    with pytest.raises(BadData) as info:
        decide(WINDOW, [], [Note(1, "failed", datetime(2026, 11, 25, 9))], GOV, DUE)
    assert info.value.field == "notifications[0].at"


def test_unknown_kind_status_index_or_prior_misses_is_bad_data() -> None:
    with pytest.raises(BadData) as info:
        decide(WINDOW, [fact(1, "joined"), fact(2, "teleported")], [], GOV, DUE)
    assert info.value.field == "platform[1].kind"
    with pytest.raises(BadData) as info:
        decide(WINDOW, [], [Note(1, "bounced", MID)], GOV, DUE)
    assert info.value.field == "notifications[0].status"
    with pytest.raises(BadData) as info:
        decide(WINDOW, [fact(-1, "joined")], [], GOV, DUE)
    assert info.value.field == "platform[0].index"
    with pytest.raises(BadData) as info:
        decide(dataclasses.replace(WINDOW, prior_misses=-1), [], [], ENT, DUE)
    assert info.value.field == "prior_misses"


# ---------------------------------------------------------------- Policy


def test_to_body_has_every_field_flat() -> None:
    assert GOV.to_body() == {
        "name": "government",
        "mode": "government",
        "grace_s": 600,
        "notify_within_s": 3600,
        "rebook_within_s": 172800,
        "lock_after": 2,
        "makeup_causes": "technical,compatibility,notification_failed",
        "appeal_period_s": 604800,
    }
    # The optional 递补 settings and objection deadlines are left out while unset, the
    # notice settings flatten to notice_... fields, and only those set (the digest stays).
    assert set(GOV.to_body()) == {f.name for f in dataclasses.fields(Policy)
                                  if not f.name.startswith("backfill")} - set(
        OBJECTION_FIELDS) - {"notice"}


def _independent_digest(body: dict[str, Any]) -> str:
    return hashlib.sha256(bytes(rfc8785.dumps(body))).hexdigest()


def test_digest_is_sha256_of_rfc8785_body() -> None:
    for policy in (GOV, ENT, Policy(name="x", mode="enterprise", makeup_causes=())):
        digest = policy.digest()
        assert digest == _independent_digest(policy.to_body())
        assert len(digest) == 64
        assert digest == digest.lower()
    assert Policy(name="government", mode="government").digest() == GOV.digest()


CHANGES: list[tuple[str, Any]] = [
    ("name", "government2"),
    ("mode", "enterprise"),
    ("grace_s", 601),
    ("notify_within_s", 3599),
    ("rebook_within_s", 172801),
    ("lock_after", 3),
    ("makeup_causes", (Cause.TECHNICAL,)),
    ("appeal_period_s", 604801),
    ("backfill", True),
    ("backfill_cutoff", "2026-12-01"),
    ("backfill_cutoff_days", 3),
    ("backfill_day_of_no_show", False),
    ("backfill_withdrawal_days", 3),
    ("backfill_rounds", 2),
    ("backfill_ties", "written_score"),
    ("objection_ack_days", 3),
    ("objection_reply_days", 10),
    ("objection_statement_days", 5),
    ("notice", NoticeSettings(issuing_office="示例市人社局")),
]


def test_changes_cover_every_field() -> None:
    assert {name for name, _ in CHANGES} == {f.name for f in dataclasses.fields(Policy)}


@pytest.mark.parametrize(("field", "value"), CHANGES)
def test_digest_changes_when_any_field_changes(field: str, value: Any) -> None:
    changed = dataclasses.replace(GOV, **{field: value})
    assert changed.digest() != GOV.digest()
    assert changed.digest() == _independent_digest(changed.to_body())


def test_makeup_causes_order_and_duplicates_do_not_change_the_digest() -> None:
    a = Policy(name="p", mode="government",
               makeup_causes=(Cause.NOTIFICATION_FAILED, Cause.TECHNICAL, Cause.TECHNICAL))
    b = Policy(name="p", mode="government",
               makeup_causes=(Cause.TECHNICAL, Cause.NOTIFICATION_FAILED))
    assert a.makeup_causes == (Cause.TECHNICAL, Cause.NOTIFICATION_FAILED)
    assert a == b
    assert a.digest() == b.digest()


def test_from_config_defaults() -> None:
    assert Policy.from_config("government", {}) == GOV
    assert Policy.from_config("enterprise", {}) == ENT
    assert Policy.from_config("acme", {"mode": "enterprise"}) == \
        Policy(name="acme", mode="enterprise")


def test_from_config_all_keys() -> None:
    table = {"mode": "enterprise", "grace_s": 0, "notify_within_s": 1800,
             "rebook_within_s": 86400, "lock_after": 3,
             "makeup_causes": ["technical", "no_show"], "appeal_period_s": 432000}
    policy = Policy.from_config("acme", table)
    assert policy == Policy(name="acme", mode="enterprise", grace_s=0, notify_within_s=1800,
                            rebook_within_s=86400, lock_after=3,
                            makeup_causes=(Cause.TECHNICAL, Cause.NO_SHOW),
                            appeal_period_s=432000)
    assert policy.to_body()["makeup_causes"] == "technical,no_show"


def test_from_config_round_trips_to_body() -> None:
    body = dict(ENT.to_body())
    name = body.pop("name")
    assert isinstance(name, str)
    assert Policy.from_config(name, body) == ENT
    assert Policy.from_config("g", {"mode": "government", "makeup_causes": ""}).makeup_causes \
        == ()


@pytest.mark.parametrize(("table", "key"), [
    ({"colour": "red"}, "colour"),
    ({"name": "other"}, "name"),
    ({"grace_s": True}, "grace_s"),
    ({"grace_s": "600"}, "grace_s"),
    ({"grace_s": 600.0}, "grace_s"),
    ({"notify_within_s": -1}, "notify_within_s"),
    ({"rebook_within_s": -5}, "rebook_within_s"),
    ({"appeal_period_s": -1}, "appeal_period_s"),
    ({"appeal_period_s": 2**31}, "appeal_period_s"),
    ({"lock_after": 0}, "lock_after"),
    ({"lock_after": False}, "lock_after"),
    ({"mode": "private"}, "mode"),
    ({"mode": 1}, "mode"),
    ({"makeup_causes": ["technical", "bad_weather"]}, "makeup_causes"),
    ({"makeup_causes": ["technical", "technical"]}, "makeup_causes"),
    ({"makeup_causes": [1]}, "makeup_causes"),
    ({"makeup_causes": 3}, "makeup_causes"),
])
def test_from_config_errors_name_the_field(table: dict[str, Any], key: str) -> None:
    with pytest.raises(BadData) as info:
        Policy.from_config("government", table)
    assert info.value.field == f"policies.government.{key}"


def test_from_config_requires_mode_for_other_names() -> None:
    with pytest.raises(BadData) as info:
        Policy.from_config("acme", {"grace_s": 10})
    assert info.value.field == "policies.acme.mode"


def test_direct_construction_is_checked_too() -> None:
    with pytest.raises(BadData) as info:
        Policy(name="p", mode="enterprise", lock_after=0)
    assert info.value.field == "policies.p.lock_after"
    with pytest.raises(BadData) as info:
        Policy(name="p", mode="other")
    assert info.value.field == "policies.p.mode"
    with pytest.raises(BadData):
        Policy(name="", mode="government")


# ---------------------------------------------------------------- explain


def test_explain_names_evidence_policy_and_next_step() -> None:
    now = datetime(2026, 11, 25, 10, 10, tzinfo=UTC)
    decision = ruled([fact(12, "connection_failed"), fact(57, "connection_failed")],
                     policy=ENT, now=now)
    text = explain(decision, ENT, SHANGHAI)
    prefix = ENT.digest()[:12]
    for body in (text.en, text.zh):
        assert "#12" in body
        assert "#57" in body
        assert prefix in body
        assert "enterprise" in body
        # rebook until 2026-11-27 10:10 UTC, shown in Beijing time
        assert "2026-11-27 18:10" in body
        # appeal until decided + 7 days
        assert "2026-12-02 18:10" in body
        assert "sub_x" not in body
        assert "w-1" not in body
    assert "ledger entries #12, #57" in text.en
    assert "#12、#57" in text.zh
    assert "appeal" in text.en
    assert "申诉" in text.zh
    assert text.en != text.zh


def test_explain_is_deterministic_and_depends_on_the_zone() -> None:
    decision = ruled([fact(5, "withdrew")])
    first = explain(decision, GOV, SHANGHAI)
    assert first == explain(decision, GOV, SHANGHAI)
    utc = explain(decision, GOV, UTC)
    assert utc != first
    assert "2026-11-25 10:10" in utc.en
    assert "2026-11-25 18:10" in first.en


@pytest.mark.parametrize(("platform", "policy", "prior", "en", "zh"), [
    ([fact(1, "connection_failed")], GOV, 0, "make-up", "补考"),
    ([fact(1, "withdrew")], GOV, 0, "deemed withdrawn", "视为自动放弃"),
    ([], ENT, 1, "locked", "锁定"),
    ([fact(1, "completed")], GOV, 0, "attended", "已参加"),
])
def test_explain_next_step_by_outcome(platform: list[PlatformFact], policy: Policy,
                                      prior: int, en: str, zh: str) -> None:
    window = dataclasses.replace(WINDOW, prior_misses=prior)
    text = explain(ruled(platform, policy=policy, window=window), policy, SHANGHAI)
    assert en in text.en
    assert zh in text.zh
    assert "7 days" in text.en
    assert "7 天" in text.zh


def test_explain_notification_and_empty_evidence() -> None:
    text = explain(ruled([], [Note(31, "failed", MID, final=True)]), GOV, SHANGHAI)
    assert "ledger entry #31" in text.en
    assert "未能送达" in text.zh
    empty = explain(ruled([]), GOV, SHANGHAI)
    assert "#" not in empty.en
    assert "no platform activity" in empty.en


def test_explain_rejects_a_different_policy() -> None:
    decision = ruled([], policy=ENT)
    with pytest.raises(BadData) as info:
        explain(decision, dataclasses.replace(ENT, grace_s=1), SHANGHAI)
    assert info.value.field == "policy"


def test_explain_appeal_period_in_hours() -> None:
    policy = dataclasses.replace(GOV, appeal_period_s=48 * 3600 + 3600)
    text = explain(ruled([], policy=policy), policy, timezone(timedelta(hours=-5)))
    assert "49 hours" in text.en
    assert "49 小时" in text.zh
    assert "UTC-05:00" in text.en


# ---------------------------------------------------------------- properties

KINDS = ["invited", "joined", "completed", "connection_failed", "device_incompatible",
         "withdrew"]
SPAN = int((CLOSES - OPENS).total_seconds())

# Offsets in seconds from OPENS: inside the window is 0..SPAN inclusive.
inside_offsets = st.integers(min_value=0, max_value=SPAN)
outside_offsets = st.one_of(st.integers(min_value=-86400, max_value=-1),
                            st.integers(min_value=SPAN + 1, max_value=SPAN + 86400))


def platform_facts(offsets: st.SearchStrategy[int]) -> st.SearchStrategy[list[PlatformFact]]:
    return st.lists(st.builds(
        lambda i, k, o: PlatformFact(i, k, OPENS + timedelta(seconds=o)),
        st.integers(min_value=0, max_value=10_000), st.sampled_from(KINDS), offsets),
        max_size=8)


notification_facts = st.lists(st.builds(
    lambda i, s, o, f: Note(i, s, OPENS + timedelta(seconds=o), f),
    st.integers(min_value=0, max_value=10_000), st.sampled_from(["sent", "delivered", "failed"]),
    st.integers(min_value=-86400, max_value=SPAN), st.booleans()), max_size=4)

policies = st.builds(
    Policy, name=st.sampled_from(["government", "enterprise"]),
    mode=st.sampled_from(["government", "enterprise"]),
    grace_s=st.integers(min_value=0, max_value=7200),
    rebook_within_s=st.integers(min_value=0, max_value=400_000),
    lock_after=st.integers(min_value=1, max_value=4),
    makeup_causes=st.lists(st.sampled_from(list(Cause)), unique=True).map(tuple))

windows = st.builds(lambda prior: dataclasses.replace(WINDOW, prior_misses=prior),
                    st.integers(min_value=0, max_value=5))


@settings(max_examples=200, deadline=None)
@given(window=windows, platform=platform_facts(st.one_of(inside_offsets, outside_offsets)),
       notes=notification_facts, policy=policies,
       delta=st.integers(min_value=-100_000, max_value=100_000))
def test_none_iff_before_due(window: WindowFacts, platform: list[PlatformFact],
                             notes: list[Note], policy: Policy, delta: int) -> None:
    now = due_at(window, policy) + timedelta(seconds=delta)
    decision = decide(window, platform, notes, policy, now)
    assert (decision is None) == (delta < 0)


@settings(max_examples=300, deadline=None)
@given(window=windows, platform=platform_facts(st.one_of(inside_offsets, outside_offsets)),
       notes=notification_facts, policy=policies,
       delta=st.integers(min_value=0, max_value=100_000))
def test_decision_invariants(window: WindowFacts, platform: list[PlatformFact],
                             notes: list[Note], policy: Policy, delta: int) -> None:
    now = due_at(window, policy) + timedelta(seconds=delta)
    decision = decide(window, platform, notes, policy, now)
    assert decision is not None
    completed_inside = [f for f in platform if f.kind == "completed"
                        and OPENS <= f.at <= CLOSES]
    # attended iff a completed fact lies in the window; cause None iff attended
    assert (decision.outcome is Outcome.ATTENDED) == bool(completed_inside)
    assert (decision.cause is None) == (decision.outcome is Outcome.ATTENDED)
    # evidence is sorted, unique, and drawn from the input indexes
    assert list(decision.evidence) == sorted(set(decision.evidence))
    inputs = {f.index for f in platform} | {n.index for n in notes}
    assert set(decision.evidence) <= inputs
    # the cause is backed by evidence of its kind, except a plain no-show
    if decision.cause not in (None, Cause.NO_SHOW):
        assert decision.evidence
    assert decision.decided_at == now
    assert decision.policy_digest == policy.digest()
    assert (decision.rebook_until is not None) == (decision.outcome is Outcome.REBOOK_OFFERED)
    if decision.rebook_until is not None:
        assert decision.rebook_until == now + timedelta(seconds=policy.rebook_within_s)
    if policy.mode == "government":
        assert decision.outcome in (Outcome.ATTENDED, Outcome.FORFEITED, Outcome.MAKEUP_PENDING)
        if decision.cause is not None:
            assert (decision.outcome is Outcome.MAKEUP_PENDING) == \
                (decision.cause in policy.makeup_causes)
    else:
        assert decision.outcome is not Outcome.MAKEUP_PENDING
    assert decision.reason.replace("_", "").isalpha()
    assert decision.reason == decision.reason.lower()


@settings(max_examples=200, deadline=None)
@given(window=windows, inside=platform_facts(inside_offsets),
       outside=platform_facts(outside_offsets), notes=notification_facts, policy=policies)
def test_out_of_window_facts_never_change_the_decision(
        window: WindowFacts, inside: list[PlatformFact], outside: list[PlatformFact],
        notes: list[Note], policy: Policy) -> None:
    now = due_at(window, policy)
    assert decide(window, inside + outside, notes, policy, now) == \
        decide(window, inside, notes, policy, now)


@settings(max_examples=100, deadline=None)
@given(platform=platform_facts(st.one_of(inside_offsets, outside_offsets)),
       notes=notification_facts, policy=policies)
def test_explanation_mentions_every_evidence_index(platform: list[PlatformFact],
                                                   notes: list[Note], policy: Policy) -> None:
    decision = decide(WINDOW, platform, notes, policy, due_at(WINDOW, policy))
    assert decision is not None
    text = explain(decision, policy, SHANGHAI)
    for index in decision.evidence:
        assert f"#{index}" in text.en
        assert f"#{index}" in text.zh
    assert policy.digest()[:12] in text.en
    assert text == explain(decision, policy, SHANGHAI)
