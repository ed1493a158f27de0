"""Backup time slots (备用面试时间段) over the JSON API, on SQLite and on a real PostgreSQL:
HR reserves them and everyone with a read role lists them with their seats; a make-up,
a rebooking or an alternate slot takes a seat instead of typed times; a full slot is a
409 naming ``backup_slot``, also when two grants race for the last seat."""

from __future__ import annotations

import threading
from typing import Any

from ledger.absence.rebuild import check_rebuild
from ledger.errors import Conflict
from tests.functional._absence import LOG, Env, J, problem
from tests.functional.test_absence_api import CLOSES_MIN, GRACE_MIN, OPENS_MIN, Flow, local, utc
from tests.functional.test_openapi import Checked

SLOTS = "/api/v1/campaigns/c2026/backup-slots"
# The backup slot of these tests: the next day, 09:00-10:00 in Shanghai.
B_OPENS, B_CLOSES = 25 * 60, 26 * 60


def slot_body(slot: str, capacity: int, opens: float = B_OPENS, closes: float = B_CLOSES
              ) -> dict[str, Any]:
    return {"slot": slot, "opens_at": local(opens), "closes_at": local(closes),
            "capacity": capacity}


def pending(flow: Flow, n: int) -> list[str]:
    """Decisions pending review for the first ``n`` candidates (a connection failure)."""
    flow.env.clock(minutes=OPENS_MIN + 30)
    flow.events([(flow.regs[i], "connection_failed", OPENS_MIN + 5 + i) for i in range(n)],
                "m-slots")
    flow.decide(CLOSES_MIN + GRACE_MIN)
    d = flow.decisions()
    return [d[flow.window[flow.regs[i]]]["decision"] for i in range(n)]


def test_reserve_and_list_backup_slots(env: Env) -> None:
    Flow(env, 2)
    call = Checked(env)
    got = call("POST", SLOTS, "hr", expect=201, json=slot_body("b1", 30))
    assert (got["slot"], got["opens_at"], got["closes_at"]) == ("b1", utc(B_OPENS),
                                                                utc(B_CLOSES))
    assert (got["capacity"], got["used"], got["free"]) == (30, 0, 30)
    entry = env.ledger_entries()[-1]
    assert (entry["type"], entry["body"]["capacity"]) == ("slot.reserved", 30)
    for role in ("hr", "reviewer", "auditor"):
        listed = call("GET", SLOTS, role, expect=200)
        assert [s["slot"] for s in listed] == ["b1"]
    assert call("GET", SLOTS + "?usable=1", "hr", expect=200)[0]["free"] == 30
    size = env.store.head(LOG).size
    assert call("POST", SLOTS, "hr", expect=400,
                json=slot_body("b2", 0))["field"] == "capacity"
    assert call("POST", SLOTS, "hr", expect=400,
                json=slot_body("b2", 1, opens=-60, closes=60))["field"] == "opens_at"
    assert call("POST", SLOTS, "hr", expect=400, json=slot_body(
        "b2", 1, opens=B_CLOSES, closes=B_OPENS))["field"] == "closes_at"
    assert call("POST", SLOTS, "hr", expect=409, json=slot_body("b1", 5))["field"] == "slot"
    assert call("POST", SLOTS, "hr", expect=400,
                json={**slot_body("b2", 5), "seats": 5})["field"] == "seats"
    call("POST", "/api/v1/campaigns/nope/backup-slots", "hr", expect=404,
         json=slot_body("b2", 5))
    problem(env.post(SLOTS, "reviewer", slot_body("b2", 5)), 403, "Authorization")
    assert env.store.head(LOG).size == size


def test_make_ups_fill_a_slot_and_a_full_slot_is_409(env: Env) -> None:
    flow = Flow(env, 3)
    env.post(SLOTS, "hr", slot_body("b1", 1))
    da, db, _ = pending(flow, 3)
    call = Checked(env)
    got = call("POST", f"/api/v1/decisions/{da}/review", "reviewer", expect=200,
               json={"ruling": "makeup_granted", "backup_slot": "b1"})
    assert got["review"] == "makeup_granted"
    makeups = [w for w in J(env.get("/api/v1/campaigns/c2026/windows", "hr"))
               if w["kind"] == "makeup"]
    assert [(m["slot"], m["opens_at"], m["closes_at"]) for m in makeups] == [
        ("b1", utc(B_OPENS), utc(B_CLOSES))]
    (slot,) = J(env.get(SLOTS, "reviewer"))
    assert (slot["used"], slot["free"]) == (1, 0)
    assert J(env.get(SLOTS + "?usable=1", "reviewer")) == []
    size = env.store.head(LOG).size
    full = call("POST", f"/api/v1/decisions/{db}/review", "reviewer", expect=409,
                json={"ruling": "makeup_granted", "backup_slot": "b1"})
    assert full["field"] == "backup_slot"
    both = call("POST", f"/api/v1/decisions/{db}/review", "reviewer", expect=400, json={
        "ruling": "makeup_granted", "backup_slot": "b1", "opens_at": local(B_OPENS)})
    assert both["field"] == "backup_slot"
    assert env.store.head(LOG).size == size


def test_two_grants_racing_for_the_last_seat_get_it_once(env: Env) -> None:
    flow = Flow(env, 4)
    env.post(SLOTS, "hr", slot_body("b1", 2))
    decisions = pending(flow, 3)
    now = env.clock(minutes=CLOSES_MIN + 60)
    reviewer = env.service.authenticate(env.tokens["reviewer"])
    assert reviewer is not None
    env.service.review(reviewer, decisions[0],
                       {"ruling": "makeup_granted", "backup_slot": "b1"}, now)
    barrier = threading.Barrier(2)
    won: list[str] = []
    refused: list[Conflict] = []
    errors: list[BaseException] = []

    def grant(decision: str) -> None:
        try:
            barrier.wait()
            env.service.review(reviewer, decision,
                               {"ruling": "makeup_granted", "backup_slot": "b1"}, now)
            won.append(decision)
        except Conflict as exc:
            refused.append(exc)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=grant, args=(d,)) for d in decisions[1:]]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(won) == 1
    assert [e.field for e in refused] == ["backup_slot"]
    (slot,) = J(env.get(SLOTS, "hr"))
    assert (slot["used"], slot["capacity"]) == (2, 2)
    seated = [w for w in J(env.get("/api/v1/campaigns/c2026/windows", "hr"))
              if w["slot"] == "b1"]
    assert len(seated) == 2


def test_rebooking_and_alternate_slot_take_seats(env: Env) -> None:
    flow = Flow(env, 2, policy="enterprise")
    a, b = flow.regs
    env.post(SLOTS, "hr", slot_body("b1", 5))
    call = Checked(env)
    # b is moved into the backup slot before the regular window closes.
    env.clock(minutes=OPENS_MIN - 30)
    moved = call("POST", f"/api/v1/windows/{flow.window[b]}/accommodations", "hr",
                 expect=201, json={"kind": "alternate_slot", "backup_slot": "b1",
                                   "reason": "poor_signal"})
    assert (moved["slot"], moved["opens_at"], moved["accommodation"]) == (
        "b1", utc(B_OPENS), "alternate_slot")
    bad = call("POST", f"/api/v1/windows/{flow.window[a]}/accommodations", "hr",
               expect=400, json={"kind": "extended", "backup_slot": "b1",
                                 "reason": "poor_signal"})
    assert bad["field"] == "backup_slot"
    # a misses the regular window: offered a rebooking, booked into the backup slot.
    flow.decide(CLOSES_MIN + GRACE_MIN)
    offer = flow.decisions()[flow.window[a]]
    assert offer["outcome"] == "rebook_offered"
    got = call("POST", f"/api/v1/decisions/{offer['decision']}/rebooking", "hr",
               expect=201, json={"backup_slot": "b1"})
    assert (got["slot"], got["kind"], got["opens_at"]) == ("b1", "rebook", utc(B_OPENS))
    (slot,) = J(env.get(SLOTS, "hr"))
    assert (slot["used"], slot["free"]) == (2, 3)
    result = check_rebuild(env.store, LOG)
    assert result.equal, result.differences
    assert result.tables["p_backup_slots"] == 1


def test_withdraw_an_unused_backup_slot(env: Env) -> None:
    flow = Flow(env, 2)
    env.post(SLOTS, "hr", slot_body("b1", 1))
    env.post(SLOTS, "hr", slot_body("b2", 1))
    call = Checked(env)
    got = call("POST", SLOTS + "/b2/withdrawal", "hr", expect=200)
    assert (got["slot"], got["withdrawn"]) == ("b2", True)
    assert [s["slot"] for s in J(env.get(SLOTS, "hr"))] == ["b1"]
    call("POST", SLOTS + "/b2/withdrawal", "hr", expect=404)
    problem(env.post(SLOTS + "/b1/withdrawal", "reviewer"), 403, "Authorization")
    (da,) = pending(flow, 1)
    call("POST", f"/api/v1/decisions/{da}/review", "reviewer", expect=200,
         json={"ruling": "makeup_granted", "backup_slot": "b1"})
    assert call("POST", SLOTS + "/b1/withdrawal", "hr", expect=409)["field"] == "slot"
