"""Enterprise rebooking within the offer, and gateway delivery receipts, over HTTP."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from werkzeug.test import TestResponse

from ledger.absence.rebuild import check_rebuild
from tests.functional._absence import LOG, T0, Env, candidates_csv, make_env


def js(resp: TestResponse) -> Any:
    """The response's JSON (asserting there is some)."""
    data = resp.get_json(silent=True)
    assert data is not None, resp.get_data(as_text=True)
    return data


def _scheduled(env: Env, campaign: str, n: int, seed: int, policy: str = "government"
               ) -> None:
    """A campaign of ``n`` candidates, each with a window 09:00-12:00 Shanghai time."""
    env.campaign(campaign, policy=policy)
    data, _ = candidates_csv(n, seed=seed)
    assert env.import_csv(campaign, data).status_code == 201
    resp = env.post(f"/api/v1/campaigns/{campaign}/windows", "hr", {
        "opens_at": "2026-11-25T09:00:00+08:00", "closes_at": "2026-11-25T12:00:00+08:00"})
    assert resp.status_code == 201, js(resp)


def _decided_enterprise(env: Env, n: int = 3) -> list[dict[str, Any]]:
    _scheduled(env, "ent", n, 5, policy="enterprise")
    env.clock(T0.replace(hour=5))  # 13:00 in Shanghai: past close + 10 min grace
    assert env.service.sweep(env.now[0]) == n
    decisions = js(env.get("/api/v1/campaigns/ent/decisions", "hr"))
    assert isinstance(decisions, list)
    return decisions


def test_rebooking_opens_a_new_window_until_the_offer_ends(tmp_path: Path, db_url: str) -> None:
    with make_env(tmp_path, db_url) as env:
        decisions = _decided_enterprise(env)
        assert {d["outcome"] for d in decisions} == {"rebook_offered"}
        first, second = decisions[0], decisions[1]
        times = {"opens_at": "2026-11-26T09:00:00+08:00",
                 "closes_at": "2026-11-26T12:00:00+08:00"}
        resp = env.post(f"/api/v1/decisions/{first['decision']}/rebooking", "hr", times)
        assert resp.status_code == 201, js(resp)
        assert js(resp)["kind"] == "rebook"
        assert js(resp)["origin_decision"] == first["decision"]
        # Once: the subject now has an undecided window.
        again = env.post(f"/api/v1/decisions/{first['decision']}/rebooking", "hr", times)
        assert again.status_code == 409
        assert js(again)["field"] == "decision"
        # A reviewer may not; after the 48 h offer nobody may.
        assert env.post(f"/api/v1/decisions/{second['decision']}/rebooking", "reviewer",
                        times).status_code == 403
        env.clock(hours=49)
        late = env.post(f"/api/v1/decisions/{second['decision']}/rebooking", "hr", {
            "opens_at": "2026-11-28T09:00:00+08:00", "closes_at": "2026-11-28T12:00:00+08:00"})
        assert late.status_code == 409
        assert "ended" in js(late)["detail"]
        # Missing the rebooked window is the second miss: the candidate is locked.
        assert env.service.sweep(env.now[0]) == 1
        # The sweep also recorded, once, each offer that ended unused; the used one is
        # marked taken and cannot be used again.
        lapsed = [e for e in env.ledger_entries() if e["type"] == "rebook.lapsed"]
        assert sorted(e["body"]["decision"] for e in lapsed) == sorted(
            d["decision"] for d in decisions[1:])
        assert {e["body"]["rebook_until"] for e in lapsed} == {second["rebook_until"]}
        assert env.service.sweep(env.now[0]) == 0
        assert len([e for e in env.ledger_entries() if e["type"] == "rebook.lapsed"]) == 2
        offers = {d["decision"]: d["rebook_offer"]
                  for d in js(env.get("/api/v1/campaigns/ent/decisions", "hr"))}
        assert offers[first["decision"]] == "taken"
        assert offers[second["decision"]] == "lapsed"
        stats = js(env.get("/api/v1/campaigns/ent/statistics", "hr"))
        assert stats["rebook_offers"] == {"open": 0, "taken": 1, "lapsed": 2}
        window_id = js(resp)["window"]
        rebooked = js(env.get(f"/api/v1/windows/{window_id}", "hr"))
        final = js(env.get(f"/api/v1/decisions/{rebooked['decision']}", "hr"))
        assert final["outcome"] == "locked"
        cands = {c["subject"]: c for c in js(env.get("/api/v1/campaigns/ent/candidates", "hr"))}
        assert cands[first["subject"]]["locked"] is True
        assert cands[second["subject"]]["locked"] is False


def test_a_rebooking_offer_is_used_once(tmp_path: Path, db_url: str) -> None:
    """After the rebooked window is decided, the same offer opens no second window."""
    with make_env(tmp_path, db_url) as env:
        first = _decided_enterprise(env, 1)[0]
        assert first["rebook_offer"] == "open"
        resp = env.post(f"/api/v1/decisions/{first['decision']}/rebooking", "hr", {
            "opens_at": "2026-11-25T14:00:00+08:00", "closes_at": "2026-11-25T15:00:00+08:00"})
        assert resp.status_code == 201, js(resp)
        env.clock(T0.replace(hour=7, minute=30))  # 15:30 in Shanghai: the window is over
        assert env.service.sweep(env.now[0]) == 1
        again = env.post(f"/api/v1/decisions/{first['decision']}/rebooking", "hr", {
            "opens_at": "2026-11-26T09:00:00+08:00", "closes_at": "2026-11-26T12:00:00+08:00"})
        assert again.status_code == 409
        assert "already used" in js(again)["detail"]
        assert js(env.get(f"/api/v1/decisions/{first['decision']}", "hr"))[
            "rebook_offer"] == "taken"
        # Taken is derived from the ledger: a replay gives the same table.
        result = check_rebuild(env.store, LOG)
        assert result.equal, result.differences


def test_a_government_decision_offers_no_rebooking(tmp_path: Path, sqlite_url: str) -> None:
    with make_env(tmp_path, sqlite_url) as env:
        _scheduled(env, "c2026", 1, 6)
        env.clock(T0.replace(hour=5))
        env.service.sweep(env.now[0])
        d = js(env.get("/api/v1/campaigns/c2026/decisions", "hr"))[0]
        resp = env.post(f"/api/v1/decisions/{d['decision']}/rebooking", "hr", {
            "opens_at": "2026-11-26T09:00:00+08:00", "closes_at": "2026-11-26T12:00:00+08:00"})
        assert resp.status_code == 409
        assert "forfeited" in js(resp)["detail"]


def test_delivery_receipts_are_recorded_once(tmp_path: Path, db_url: str) -> None:
    from ledger.absence.notify import FileChannel
    from ledger.absence.outbox import dispatch

    with make_env(tmp_path, db_url) as env:
        _scheduled(env, "c2026", 2, 7)
        channel = FileChannel(env.data / "js(outbox)l")
        sent = dispatch(env.service, {"email": channel, "sms": channel}, env.now[0])
        assert sent["sent"] == 2
        notes = js(env.get("/api/v1/campaigns/c2026/notifications", "hr"))
        ref = notes[0]["notification"]
        size = env.store.head("hr-test").size
        receipt = {"reference": ref, "status": "delivered"}
        assert env.post("/api/v1/notifications/receipts", "hr", receipt).status_code == 403
        first = env.post("/api/v1/notifications/receipts", "platform", receipt)
        assert first.status_code == 201
        assert js(first)["recorded"] is True
        again = env.post("/api/v1/notifications/receipts", "platform", receipt)
        assert again.status_code == 200
        assert js(again)["recorded"] is False
        assert env.store.head("hr-test").size == size + 1
        kinds = [e["type"] for e in env.ledger_entries()]
        assert kinds.count("notification.delivered") == 1
        status = {n["notification"]: n["status"]
                  for n in js(env.get("/api/v1/campaigns/c2026/notifications", "hr"))}
        assert status[ref] == "delivered"
        bad = env.post("/api/v1/notifications/receipts", "platform",
                       {"reference": ref, "status": "lost"})
        assert bad.status_code == 400
        assert js(bad)["field"] == "status"
        unknown = env.post("/api/v1/notifications/receipts", "platform",
                           {"reference": "n_nope", "status": "delivered"})
        assert unknown.status_code == 404
        assert js(unknown)["field"] == "reference"
