"""Objections (异议) to a notice: filing during the period only, sealing, deadlines in
working days, the candidate's statement before a cancel, rulings, overdue alerts."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from ledger.absence import tables as P  # noqa: N812
from ledger.absence.notify import FileChannel
from ledger.absence.outbox import dispatch
from ledger.absence.queries.selfservice import StatementInvitation, statement_invitations_of
from ledger.absence.rebuild import check_rebuild
from ledger.absence.rules import Policy
from ledger.entry import parse_utc
from ledger.errors import BadData, Conflict, CouldNotCheck, NotAllowed, NotFound
from ledger.storage.store import NewEntry
from publicity.calendar import WorkingCalendar
from tests.unit.ledger.absence._domain import CAMPAIGN, HR, REVIEWER, T0, Domain

WORKDAY = WorkingCalendar().is_working_day
# T0 is Wednesday 25 November 2026, 08:00 Beijing time.
PERIOD_END = datetime(2026, 12, 3, 0, 0, tzinfo=UTC) - timedelta(hours=8)  # end of 2 Dec
NAME, CONTACT = "王小明", "13912345678"


def publish(d: Domain, notice: str = "n1", lines: int = 4) -> None:
    """A notice of the campaign as the ledger records it (its bytes are publicity's)."""
    d.service.record(T0, lambda conn: [NewEntry("notice.published", "hr:unit", {
        "notice": notice, "campaign": CAMPAIGN, "sha256": "0" * 64, "lines": lines,
        "checkpoint_size": 1, "period_start": "2026-11-25T00:00:00.000Z",
        "period_end": PERIOD_END.strftime("%Y-%m-%dT%H:%M:%S.000Z")})])


def file(d: Domain, now: datetime = T0 + timedelta(hours=1), **over: Any) -> dict[str, Any]:
    data = {"name": NAME, "contact": CONTACT, "ground": "qualification",
            "statement": "该考生学历不符合岗位要求。", "registration": d.rows[0]["registration"],
            **over}
    return d.service.objections.file_objection("n1", data, now, WORKDAY)


def test_an_objection_is_sealed_and_the_ledger_holds_no_personal_data(domain: Domain) -> None:
    publish(domain)
    filed = file(domain)
    ref, token = filed["objection"], filed["token"]
    entry = domain.entries("objection.filed")[0]
    raw = json.dumps(entry, ensure_ascii=False)
    for secret in (NAME, CONTACT, "学历", token):
        assert secret not in raw
    assert entry["actor"] == "public"
    assert entry["body"]["channel"] == "web"
    assert entry["body"]["subject"].startswith("sub_")
    # Wednesday 09:00 + 3 working days: Thursday, Friday, Monday 30 November at 24:00.
    assert filed["ack_by"] == "2026-11-30T16:00:00.000Z"
    # + 10 working days: 26, 27, 30 Nov, 1-4, 7-9 Dec: Wednesday 9 December at 24:00.
    assert filed["reply_by"] == "2026-12-09T16:00:00.000Z"
    state = domain.service.objections.public_state(ref, token)
    assert state["state"] == "filed"
    assert NAME not in json.dumps(state, ensure_ascii=False)
    with pytest.raises(NotFound):
        domain.service.objections.public_state(ref, token + "x")
    # The reviewer reads the objector's details: recorded, without a subject.
    seen = domain.service.objections.objector(REVIEWER, ref, T0 + timedelta(hours=2))
    assert (seen["name"], seen["contact"]) == (NAME, CONTACT)
    viewed = domain.entries("pii.viewed")[-1]["body"]
    assert viewed == {"objection": ref, "purpose": "objection",
                      "fields": "name,contact,statement"}


def test_only_during_the_notice_period(domain: Domain) -> None:
    publish(domain)
    with pytest.raises(Conflict) as exc:
        file(domain, now=PERIOD_END)
    assert exc.value.field == "notice"
    with pytest.raises(NotFound):
        domain.service.objections.file_objection(
            "nope", {"name": NAME, "contact": CONTACT, "ground": "other", "statement": "x",
                     "line": "1"}, T0, WORKDAY)
    with pytest.raises(BadData) as bad:
        file(domain, registration="", line="")
    assert bad.value.field == "registration"
    with pytest.raises(BadData) as bad:
        file(domain, line="9")
    assert bad.value.field == "line"
    with pytest.raises(BadData) as bad:
        file(domain, registration="X99-00000")
    assert bad.value.field == "registration"
    assert domain.entries("objection.filed") == []
    with domain.service.engine.connect() as conn:
        assert conn.execute(select(P.vault_objectors)).all() == []


def test_a_cancel_waits_for_the_candidates_statement_or_its_time(domain: Domain) -> None:
    publish(domain)
    o = domain.service.objections
    ref = file(domain)["objection"]
    t = T0 + timedelta(days=1)
    with pytest.raises(Conflict):
        o.rule(REVIEWER, ref, {"ruling": "upheld", "reason": "核实无误"}, t)
    o.acknowledge(HR, ref, t)
    with pytest.raises(Conflict):
        o.acknowledge(HR, ref, t)
    with pytest.raises(BadData) as bad:
        o.rule(REVIEWER, ref, {"ruling": "cancelled", "reason": "学历不符"}, t)
    assert bad.value.field == "confirm"
    cancel = {"ruling": "cancelled", "reason": "学历不符", "confirm": True}
    with pytest.raises(Conflict) as exc:
        o.rule(REVIEWER, ref, cancel, t)
    assert exc.value.field == "ruling"
    invited = o.invite_statement(HR, ref, {}, t, WORKDAY)
    # Thursday 26 Nov + 5 working days: 27, 30 Nov, 1, 2, 3 Dec, at 24:00.
    assert invited["respond_by"] == "2026-12-03T16:00:00.000Z"
    assert domain.entries("notification.queued")[-1]["body"]["template"] == (
        "objection_statement")
    with pytest.raises(Conflict):
        o.rule(REVIEWER, ref, cancel, t + timedelta(days=1))
    o.record_statement(HR, ref, {"statement": "本人学历已认证。", "channel": "letter"},
                       t + timedelta(days=2))
    # Deferred (暂缓) first, then the final ruling.
    assert o.rule(REVIEWER, ref, {"ruling": "deferred", "reason": "待学信网核验"},
                  t + timedelta(days=2))["state"] == "deferred"
    ruled = o.rule(REVIEWER, ref, cancel, t + timedelta(days=3))
    assert (ruled["state"], ruled["ruling"]) == ("ruled", "cancelled")
    with pytest.raises(Conflict):
        o.rule(REVIEWER, ref, {"ruling": "upheld", "reason": "x"}, t + timedelta(days=4))
    assert o.counts("n1") == {"received": 1, "open": 0, "upheld": 0, "cancelled": 1,
                              "deferred": 0}
    seen = o.objector(REVIEWER, ref, t + timedelta(days=4))
    assert seen["candidate_statement"] == "本人学历已认证。"
    check_rebuild(domain.service.store, domain.service.log)


def test_the_time_given_passing_allows_a_cancel(domain: Domain) -> None:
    publish(domain)
    o = domain.service.objections
    ref = file(domain, registration="", line="2")["objection"]
    o.acknowledge(HR, ref, T0 + timedelta(hours=2))
    with pytest.raises(BadData) as bad:  # a line alone does not say who to invite
        o.invite_statement(HR, ref, {}, T0 + timedelta(hours=2), WORKDAY)
    assert bad.value.field == "registration"
    o.invite_statement(HR, ref, {"registration": domain.rows[1]["registration"]},
                       T0 + timedelta(hours=2), WORKDAY)
    after = datetime(2026, 12, 3, 16, 0, tzinfo=UTC)
    ruled = o.rule(REVIEWER, ref, {"ruling": "cancelled", "reason": "逾期未申辩",
                                   "confirm": True}, after)
    assert ruled["ruling"] == "cancelled"


def test_overdue_objections_raise_one_alert_per_missed_deadline(domain: Domain) -> None:
    publish(domain)
    o = domain.service.objections
    ref = file(domain)["objection"]
    assert o.raise_overdue(datetime(2026, 11, 30, 15, 0, tzinfo=UTC)) == []
    late = datetime(2026, 11, 30, 16, 0, tzinfo=UTC)
    assert o.raise_overdue(late) == [f"objection_overdue:{ref}:acknowledge"]
    domain.service.sweep(late + timedelta(minutes=1))  # the sweep runs it: no second one
    alerts = [e["body"] for e in domain.entries("alert.raised")
              if e["body"]["kind"] == "objection_overdue"]
    assert len(alerts) == 1
    assert alerts[0]["stage"] == "acknowledge"
    assert alerts[0]["threshold"] == 3
    o.acknowledge(HR, ref, late + timedelta(hours=1))
    reply_late = datetime(2026, 12, 9, 16, 0, tzinfo=UTC)
    assert o.raise_overdue(reply_late) == [f"objection_overdue:{ref}:reply"]
    assert o.raise_overdue(reply_late + timedelta(days=1)) == []


def test_erasing_the_objector_keeps_the_chain_and_drops_the_record(domain: Domain) -> None:
    publish(domain)
    o = domain.service.objections
    ref = file(domain)["objection"]
    with pytest.raises(Conflict):
        o.erase_objector(HR, ref, "retention_expired", T0 + timedelta(days=1))
    o.erase_objector(HR, ref, "request", T0 + timedelta(days=1))
    assert o.objector(REVIEWER, ref, T0 + timedelta(days=1)) == {"erased": True}
    check_rebuild(domain.service.store, domain.service.log)


def test_objection_deadlines_in_a_policy_are_optional_and_keep_old_digests() -> None:
    plain = Policy.from_config("government", {"mode": "government"})
    assert "objection_ack_days" not in plain.to_body()
    assert plain.digest() == Policy("government", "government").digest()
    set_ = Policy.from_config("government", {"objection_ack_days": 2,
                                             "objection_reply_days": 7})
    assert set_.to_body()["objection_ack_days"] == 2
    assert set_.digest() != plain.digest()
    with pytest.raises(BadData) as bad:
        Policy.from_config("government", {"objection_reply_days": 0})
    assert bad.value.field == "policies.government.objection_reply_days"


def test_the_candidate_is_told_and_invited_to_state_their_case(domain: Domain,
                                                                tmp_path: Path) -> None:
    publish(domain)
    o = domain.service.objections
    ref = file(domain)["objection"]
    t = T0 + timedelta(hours=2)
    o.acknowledge(HR, ref, t)
    o.invite_statement(HR, ref, {}, t, WORKDAY)
    channel = FileChannel(tmp_path / "outbox.jsonl")
    counts = dispatch(domain.service, {"email": channel, "sms": channel},
                      t + timedelta(minutes=1))
    assert counts["sent"] >= 1
    sent = [json.loads(line) for line in
            (tmp_path / "outbox.jsonl").read_text(encoding="utf-8").splitlines()]
    told = [m for m in sent if "异议" in m["subject"]]
    assert len(told) == 1
    assert "陈述、申辩" in told[0]["text"]
    assert domain.rows[0]["registration"] in told[0]["text"]
    assert NAME not in told[0]["text"]  # the objector stays unnamed


def test_the_candidate_states_their_own_case_until_the_time_given(domain: Domain) -> None:
    publish(domain)
    o, svc = domain.service.objections, domain.service
    ref = file(domain)["objection"]
    t = T0 + timedelta(days=1)
    me, other = domain.rows[0], domain.rows[1]
    mine = {"registration": me["registration"], "factor": me["id_number"][-4:],
            "objection": ref, "statement": "本人学历已认证。"}
    with pytest.raises(Conflict):  # not invited yet
        svc.state_case(CAMPAIGN, mine, t)
    o.acknowledge(HR, ref, t)
    assert statement_invitations_of(svc.engine, CAMPAIGN, me["registration"]) == []
    invited = o.invite_statement(HR, ref, {}, t, WORKDAY)
    assert statement_invitations_of(svc.engine, CAMPAIGN, me["registration"]) == [
        StatementInvitation(ref, "qualification", invited["respond_by"])]
    assert statement_invitations_of(svc.engine, CAMPAIGN, other["registration"]) == []
    with pytest.raises(NotAllowed):
        svc.state_case(CAMPAIGN, mine | {"factor": "0000" if me["id_number"][-4:] != "0000"
                                         else "1111"}, t)
    with pytest.raises(NotFound):  # another candidate's objection: as if none
        svc.state_case(CAMPAIGN, mine | {"registration": other["registration"],
                                         "factor": other["id_number"][-4:]}, t)
    with pytest.raises(BadData) as bad:
        svc.state_case(CAMPAIGN, mine | {"statement": " "}, t)
    assert bad.value.field == "statement"
    ends = parse_utc(invited["respond_by"])
    with pytest.raises(Conflict):
        svc.state_case(CAMPAIGN, mine, ends)
    assert domain.entries("objection.statement_received") == []
    done = svc.state_case(CAMPAIGN, mine, ends - timedelta(seconds=1))
    entry = domain.entries("objection.statement_received")[0]
    assert done["statement_index"] == entry["index"]
    assert (entry["actor"], entry["body"]["channel"]) == ("candidate", "web")
    assert "学历" not in json.dumps(entry, ensure_ascii=False)
    assert statement_invitations_of(svc.engine, CAMPAIGN, me["registration"]) == []
    with pytest.raises(Conflict):
        svc.state_case(CAMPAIGN, mine, ends - timedelta(seconds=1))
    assert o.objector(REVIEWER, ref, ends)["candidate_statement"] == "本人学历已认证。"
    check_rebuild(svc.store, svc.log)


def test_an_altered_candidate_statement_is_a_could_not_check_not_a_crash(
        domain: Domain) -> None:
    # Whoever alters the sealed statement in the database gets the record refused as
    # unreadable (409 over the API), as an altered objector record is; before, the
    # cipher's InvalidTag escaped as a 500.
    publish(domain)
    o = domain.service.objections
    ref = file(domain)["objection"]
    t = T0 + timedelta(days=1)
    o.acknowledge(HR, ref, t)
    o.invite_statement(HR, ref, {}, t, WORKDAY)
    o.record_statement(HR, ref, {"statement": "本人学历已认证。", "channel": "letter"},
                       t + timedelta(hours=1))
    document = f"{ref}.statement"
    with domain.service.store.engine.begin() as conn:
        raw = bytes(conn.execute(select(P.vault_documents.c.ciphertext).where(
            P.vault_documents.c.document == document)).scalar_one())
        conn.execute(P.vault_documents.update().where(
            P.vault_documents.c.document == document).values(
            ciphertext=raw[:-1] + bytes([raw[-1] ^ 1])))
    with pytest.raises(CouldNotCheck) as info:
        o.objector(REVIEWER, ref, t + timedelta(hours=2))
    assert info.value.field == "objection"


def test_a_letter_received_in_the_period_and_entered_after_it_counts_from_its_arrival(
        domain: Domain) -> None:
    publish(domain)
    o = domain.service.objections
    data = {"name": NAME, "contact": CONTACT, "ground": "qualification",
            "statement": "来信反映：学历不符。", "registration": domain.rows[0]["registration"]}
    last_day = PERIOD_END - timedelta(hours=3)  # the letter came in on the last day
    next_morning = PERIOD_END + timedelta(hours=9)
    with pytest.raises(Conflict) as late:  # dated when typed in, it is outside the period
        o.file_objection("n1", data, next_morning, WORKDAY, caller=HR, channel="letter")
    assert late.value.field == "notice"
    filed = o.file_objection("n1", {**data, "received_at": last_day.isoformat()},
                             next_morning, WORKDAY, caller=HR, channel="letter")
    body = domain.entries("objection.filed")[-1]["body"]
    assert body["received_at"] == last_day.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    # The deadlines count from the arrival, not from the entry.
    from_arrival = o.file_objection("n1", {**data, "received_at": last_day.isoformat()},
                                    last_day, WORKDAY, caller=HR, channel="letter")
    assert (filed["ack_by"], filed["reply_by"]) == (from_arrival["ack_by"],
                                                    from_arrival["reply_by"])
    with pytest.raises(BadData) as future:
        o.file_objection("n1", {**data, "received_at": (next_morning + timedelta(
            minutes=1)).isoformat()}, next_morning, WORKDAY, caller=HR, channel="letter")
    assert future.value.field == "received_at"
    with pytest.raises(BadData) as public:  # the public form is received when it is sent
        file(domain, received_at=T0.isoformat())
    assert public.value.field == "received_at"
    check_rebuild(domain.service.store, domain.service.log)
