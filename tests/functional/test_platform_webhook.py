"""Platform events over Standard Webhooks at POST /api/v1/platform/events, on both databases.

Signatures, timestamps, replays, malformed batches, size limits, quarantine of events
that cannot count, secret rotation, and an independent signer (the ``standardwebhooks``
package).  "Nothing recorded" is always checked as "the ledger did not grow".
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from ledger.absence.webhooks import WebhookSecret, sign
from ledger.app.wiring import rotate_webhook_secret
from ledger.entry import format_time
from tests.functional._absence import LOG, T0, Env, J, candidates_csv, make_env, problem

CST = timezone(timedelta(hours=8))
URL = "/api/v1/platform/events"
OPENS, CLOSES = 60, 120  # minutes after T0: 09:00-10:00 in Shanghai
MAX_BODY = 262144  # [platform] max_body_bytes in the test config
MAX_EVENTS = 500  # [platform] max_batch_events


def local(minutes: float, base: datetime = T0) -> str:
    return (base + timedelta(minutes=minutes)).astimezone(CST).isoformat()



class Setup:
    """A campaign of ``n`` candidates, each with a 09:00-10:00 window; clock at 09:30."""

    def __init__(self, env: Env, n: int = 4, base: datetime = T0) -> None:
        self.env = env
        self.base = base
        env.clock(base)
        env.campaign("c1")
        data, _ = candidates_csv(n)
        resp = env.import_csv("c1", data)
        assert resp.status_code == 201
        resp = env.post("/api/v1/campaigns/c1/windows", "hr", {
            "opens_at": local(OPENS, base), "closes_at": local(CLOSES, base)})
        assert resp.status_code == 201, J(resp)
        self.windows = [w["window"] for w in J(resp)["windows"]]
        self.subjects = [w["subject"] for w in J(resp)["windows"]]
        env.clock(base + timedelta(minutes=OPENS + 30))

    def event(self, i: int, eid: str, kind: str = "joined", minute: float = OPENS + 10,
              **extra: Any) -> dict[str, Any]:
        return {"id": eid, "window": self.windows[i], "kind": kind,
                "at": local(minute, self.base), **extra}

    def size(self) -> int:
        return self.env.store.head(LOG).size


def post_raw(env: Env, body: bytes, headers: dict[str, str]) -> Any:
    return env.client.post(URL, data=body, headers={"Content-Type": "application/json",
                                                     **headers})


def signed_headers(env: Env, body: bytes, msg_id: str, secret: WebhookSecret | None = None,
                   ts: int | None = None) -> dict[str, str]:
    ts = int(env.now[0].timestamp()) if ts is None else ts
    return {"webhook-id": msg_id, "webhook-timestamp": str(ts),
            "webhook-signature": sign(secret or env.secret, msg_id, ts, body)}


def test_signature_and_timestamp_are_checked(env: Env) -> None:
    s = Setup(env)
    body = json.dumps(s.event(0, "e1")).encode()
    size = s.size()
    # Another secret.
    problem(post_raw(env, body, signed_headers(env, body, "m1",
                                               secret=WebhookSecret.generate())),
            401, "webhook-signature")
    # The body altered after signing.
    headers = signed_headers(env, body, "m1")
    problem(post_raw(env, body.replace(b"joined", b"completed"), headers), 401,
            "webhook-signature")
    # Signed for another id.
    problem(post_raw(env, body, {**headers, "webhook-id": "m2"}), 401, "webhook-signature")
    # Garbage or unsupported signature versions.
    problem(post_raw(env, body, {**headers, "webhook-signature": "v1,!!!"}), 401,
            "webhook-signature")
    problem(post_raw(env, body, {**headers, "webhook-signature":
                                 headers["webhook-signature"].replace("v1,", "v2,")}),
            401, "webhook-signature")
    now = int(env.now[0].timestamp())
    for ts in (now - 301, now + 301, now - 3600):
        problem(post_raw(env, body, signed_headers(env, body, "m1", ts=ts)), 401,
                "webhook-timestamp")
    problem(post_raw(env, body, {**headers, "webhook-timestamp": "12.5"}), 400,
            "webhook-timestamp")
    for name in ("webhook-id", "webhook-timestamp", "webhook-signature"):
        partial = {k: v for k, v in headers.items() if k != name}
        assert name in problem(post_raw(env, body, partial), 400, name)["detail"]
    assert s.size() == size
    # Within the tolerance (exactly 300 s old) and a valid signature among several.
    resp = post_raw(env, body, {**signed_headers(env, body, "m1", ts=now - 300)})
    assert resp.status_code == 201, J(resp)
    body2 = json.dumps(s.event(1, "e2")).encode()
    good = signed_headers(env, body2, "m3")
    bad = sign(WebhookSecret.generate(), "m3", now, body2)
    resp = post_raw(env, body2, {**good, "webhook-signature":
                                 f"v1a,xyz {bad} {good['webhook-signature']}"})
    assert resp.status_code == 201, J(resp)
    assert s.size() == size + 2


def test_replay_returns_original_receipt_and_records_nothing(env: Env) -> None:
    s = Setup(env)
    payload = {"events": [s.event(0, "e1"), s.event(1, "e2", "completed"),
                          {"id": "e3", "window": "w_unknown", "kind": "joined",
                           "at": local(OPENS + 5)}]}
    first = env.webhook(payload, msg_id="m1")
    assert first.status_code == 201
    assert J(first)["replayed"] is False
    assert [e["status"] for e in J(first)["events"]] == ["accepted", "accepted",
                                                           "quarantined"]
    size = s.size()
    assert [e["index"] for e in J(first)["events"]] == [size - 3, size - 2, size - 1]
    entries = env.ledger_entries()
    assert [entries[e["index"]]["body"]["event_id"] for e in J(first)["events"]] == [
        "e1", "e2", "e3"]
    # The same delivery again, even a minute later (a new timestamp and signature).
    env.clock(minutes=1)
    again = env.webhook(payload, msg_id="m1")
    assert again.status_code == 200
    assert J(again)["replayed"] is True
    assert J(again)["events"] == J(first)["events"]
    assert s.size() == size
    # The same event ids under a new webhook id: reported as duplicates, not recorded.
    other = env.webhook({"events": [s.event(0, "e1"), s.event(2, "e4")]}, msg_id="m2")
    assert other.status_code == 201
    got = {e["id"]: e for e in J(other)["events"]}
    assert got["e1"]["status"] == "duplicate"
    assert got["e1"]["index"] == J(first)["events"][0]["index"]
    assert got["e4"]["status"] == "accepted"
    assert s.size() == size + 1
    ids = [e["body"]["event_id"] for e in env.ledger_entries()
           if e["type"] in ("platform.event", "platform.quarantined")]
    assert sorted(ids) == ["e1", "e2", "e3", "e4"]


@pytest.mark.parametrize("msg_id", ["evt+1", "a/b=c", "#42", "x" * 128])
def test_any_standard_webhooks_id_is_recorded_once(env: Env, msg_id: str) -> None:
    """An id the Standard Webhooks grammar admits (printable ASCII, no space or comma) and
    the signature cover is recorded as sent and its replay answered from the record.
    Before: ``evt+1``, ``a/b=c`` and ``#42`` passed the signature, then ingest refused them
    with a 400 under a narrower grammar."""
    s = Setup(env)
    first = env.webhook({"events": [s.event(0, "e1"),
                                    {"id": "e2", "window": "w_unknown", "kind": "joined",
                                     "at": local(OPENS + 5)}]}, msg_id=msg_id)
    assert first.status_code == 201, first.get_data(as_text=True)
    assert J(first)["webhook_id"] == msg_id
    entries = env.ledger_entries()
    assert [entries[e["index"]]["body"]["webhook_id"] for e in J(first)["events"]] == [
        msg_id, msg_id]
    size = s.size()
    env.clock(minutes=1)
    again = env.webhook({"events": [s.event(0, "e1")]}, msg_id=msg_id)
    assert (again.status_code, J(again)["replayed"]) == (200, True)
    assert J(again)["events"] == J(first)["events"]
    assert s.size() == size


@pytest.mark.parametrize("msg_id", ["a b", "a,b", "x" * 129, "é"])
def test_an_id_outside_the_grammar_is_refused_before_anything(env: Env, msg_id: str) -> None:
    s = Setup(env)
    size = s.size()
    body = json.dumps({"events": [s.event(0, "e1")]}).encode()
    ts = int(env.now[0].timestamp())
    resp = post_raw(env, body, {"webhook-id": msg_id, "webhook-timestamp": str(ts),
                                "webhook-signature": "v1,AAAA"})
    problem(resp, 400, "webhook-id")
    assert s.size() == size


def test_malformed_deliveries_record_nothing(env: Env) -> None:
    s = Setup(env)
    size = s.size()
    good = s.event(0, "ok1")

    def batch(bad: dict[str, Any], msg: str) -> Any:
        return env.webhook({"events": [good, bad, s.event(2, f"ok-{msg}")]}, msg_id=msg)

    w1 = s.windows[1]
    cases: list[tuple[dict[str, Any], str]] = [
        ({"id": "b", "window": w1, "kind": 5, "at": local(OPENS + 1)}, "events[1].kind"),
        ({"id": "b", "window": w1, "kind": "sneezed", "at": local(OPENS + 1)},
         "events[1].kind"),
        ({"id": "b", "window": w1, "kind": "joined", "at": "2026-11-25T09:10:00"},
         "events[1].at"),
        ({"id": "b", "window": w1, "kind": "joined", "at": 1764032400}, "events[1].at"),
        ({"id": "b", "kind": "joined", "at": local(OPENS + 1)}, "events[1].window"),
        ({"id": "b", "window": w1, "kind": "joined", "at": local(OPENS + 1), "color": "red"},
         "events[1].color"),
        ({"id": "b c", "window": w1, "kind": "joined", "at": local(OPENS + 1)},
         "events[1].id"),
        ({"id": "b", "window": w1, "kind": "joined", "at": local(OPENS + 1),
          "subject": "13812345678"}, "events[1].subject"),
        ({"id": "b", "window": w1, "kind": "joined", "at": local(OPENS + 1),
          "detail": "张三"}, "events[1].detail"),
        ({"id": "ok1", "window": w1, "kind": "joined", "at": local(OPENS + 1)},
         "events[1].id"),  # repeated in the delivery
    ]
    for i, (bad, field) in enumerate(cases):
        body = problem(batch(bad, f"bad{i}"), 422, field)
        assert body["errors"][0]["field"] == field
        assert "nothing was recorded" in body["detail"]
    # Two bad events: both listed.
    body = problem(env.webhook({"events": [good, {"id": "x"}, {"id": "y", "kind": 1}]},
                               msg_id="two"), 422)
    assert [e["field"].split(".")[0] for e in body["errors"]] == ["events[1]", "events[2]"]
    # A single event object with a problem names "event.<field>".
    problem(env.webhook({**good, "kind": None}, msg_id="single"), 422, "event.kind")
    problem(env.webhook({"events": [good], "extra": 1}, msg_id="extra"), 422, "extra")
    problem(env.webhook({"events": []}, msg_id="empty"), 422, "events")
    problem(env.webhook({"events": {"a": good}}, msg_id="notlist"), 422, "events")
    problem(env.webhook([good], msg_id="array"), 422, "body")
    # Not JSON at all, or truncated: 400.
    raw = json.dumps({"events": [good]}).encode()
    problem(env.webhook(None, msg_id="trunc", raw=raw[:-7]), 400, "body")
    problem(env.webhook(None, msg_id="bin", raw=b"\xff\xfe\x00"), 400, "body")
    # Too many events.
    many = {"events": [s.event(0, f"m{i}") for i in range(MAX_EVENTS + 1)]}
    problem(env.webhook(many, msg_id="many"), 422, "events")
    assert s.size() == size
    # A rejected delivery id is not burned: the corrected one is accepted.
    resp = env.webhook({"events": [good]}, msg_id="bad0")
    assert resp.status_code == 201
    assert J(resp)["replayed"] is False
    assert s.size() == size + 1


def test_events_later_than_their_delivery_are_refused(env: Env) -> None:
    """An event cannot have happened after the delivery reporting it was sent: its ``at``
    is bounded by the ``webhook-timestamp`` plus [platform] max_event_skew_s (300 s)."""
    s = Setup(env)  # the clock at 09:30, the windows 09:00-10:00
    size = s.size()
    now = OPENS + 30  # minutes
    good = s.event(0, "ok1")
    ahead = s.event(1, "ahead", "completed", minute=now + 5 + 1 / 60)  # 301 s ahead
    body = problem(env.webhook({"events": [good, ahead]}, msg_id="f1"), 422, "events[1].at")
    assert [e["field"] for e in body["errors"]] == ["events[1].at"]
    assert "webhook-timestamp" in body["detail"]
    assert "nothing was recorded" in body["detail"]
    problem(env.webhook(ahead, msg_id="f2"), 422, "event.at")
    # The bound is the delivery's own timestamp, not the receiver's clock: sent 200 s ago
    # (within the signature's tolerance), an event 150 s from now is 350 s after sending.
    sent = int(env.now[0].timestamp()) - 200
    later = s.event(2, "later", minute=now + 2.5)
    problem(env.webhook({"events": [later]}, msg_id="f3", timestamp=sent), 422,
            "events[0].at")
    assert s.size() == size
    # Within the skew: accepted as before.
    resp = env.webhook({"events": [good, s.event(1, "edge", minute=now + 5)]}, msg_id="f4")
    assert resp.status_code == 201, J(resp)
    assert [e["status"] for e in J(resp)["events"]] == ["accepted", "accepted"]
    assert s.size() == size + 2


def test_huge_body_is_413(env: Env) -> None:
    s = Setup(env, n=1)
    size = s.size()
    filler = "a" * (MAX_BODY + 10)
    body = json.dumps({"events": [s.event(0, "e1", detail=filler)]}).encode()
    assert len(body) > MAX_BODY
    resp = post_raw(env, body, signed_headers(env, body, "big"))
    problem(resp, 413)
    # Unsigned junk of that size is refused the same way, before any parsing.
    problem(post_raw(env, b"x" * (MAX_BODY + 1), {}), 413)
    # Just under the limit is parsed (and rejected for the over-long detail instead).
    fits = json.dumps({"events": [s.event(0, "e1", detail="a" * 1000)]}).encode()
    problem(post_raw(env, fits, signed_headers(env, fits, "fits")), 422, "events[0].detail")
    assert s.size() == size


def test_quarantine_keeps_events_that_cannot_count(env: Env) -> None:
    s = Setup(env, n=4)
    size = s.size()
    # Window 3 gets decided first (no events): close + grace, then sweep.  The batch is
    # sent after the close (within the grace): no event can be later than its delivery.
    s.env.clock(T0 + timedelta(minutes=CLOSES + 5))
    payload = {"events": [
        {"id": "q-unknown", "window": "w_nowhere", "kind": "completed",
         "at": local(OPENS + 5)},
        s.event(0, "q-after", "completed", CLOSES + 1),
        s.event(1, "q-before", "completed", OPENS - 1),
        s.event(2, "q-subject", "completed", OPENS + 5, subject=s.subjects[0]),
        s.event(2, "ok-joined", "joined", OPENS + 5, subject=s.subjects[2]),
    ]}
    resp = env.webhook(payload, msg_id="mq")
    assert resp.status_code == 201, J(resp)
    got = {e["id"]: e for e in J(resp)["events"]}
    assert {k: (v["status"], v.get("reason")) for k, v in got.items()} == {
        "q-unknown": ("quarantined", "unknown_window"),
        "q-after": ("quarantined", "after_close"),
        "q-before": ("quarantined", "before_open"),
        "q-subject": ("quarantined", "subject_mismatch"),
        "ok-joined": ("accepted", None),
    }
    assert s.size() == size + 5
    entries = env.ledger_entries()
    for eid, e in got.items():
        entry = entries[e["index"]]
        wanted = "platform.event" if eid == "ok-joined" else "platform.quarantined"
        assert entry["type"] == wanted
        assert entry["body"]["event_id"] == eid
        if wanted == "platform.quarantined":
            assert entry["body"]["reason"] == e["reason"]

    now = env.clock(T0 + timedelta(minutes=CLOSES + 10))
    assert env.service.sweep(now) == 4
    # An event for a decided window.
    env.clock(minutes=1)
    resp = env.webhook(s.event(3, "q-decided", "completed", CLOSES - 1), msg_id="mq2")
    assert resp.status_code == 201
    assert (J(resp)["events"][0]["status"], J(resp)["events"][0]["reason"]) == (
        "quarantined", "window_decided")

    in_campaign = J(env.get("/api/v1/campaigns/c1/quarantine", "hr"))
    assert sorted(q["event_id"] for q in in_campaign) == [
        "q-after", "q-before", "q-decided", "q-subject"]
    assert {q["event_id"]: q["reason"] for q in in_campaign}["q-decided"] == "window_decided"
    everywhere = J(env.get("/api/v1/quarantine", "auditor"))
    unknown = [q for q in everywhere if q["event_id"] == "q-unknown"]
    assert len(unknown) == 1
    assert unknown[0]["campaign"] is None
    assert unknown[0]["received_at"] == format_time(T0 + timedelta(minutes=CLOSES + 5))
    assert env.get("/api/v1/quarantine", "platform").status_code == 403
    # None of them counted: every "completed" above was quarantined, so nobody attended.
    decisions = {d["window"]: d for d in J(env.get("/api/v1/campaigns/c1/decisions",
                                                 "hr"))}
    assert [decisions[w]["outcome"] for w in s.windows] == ["forfeited"] * 4
    assert decisions[s.windows[2]]["reason"] == "joined_not_completed"
    assert decisions[s.windows[2]]["evidence"] == [got["ok-joined"]["index"]]
    for w in s.windows:
        if w != s.windows[2]:
            assert decisions[w]["evidence"] == []
    stats = J(env.get("/api/v1/campaigns/c1/statistics", "hr"))
    assert stats["quarantined_events"] == 4
    assert stats["attended"] == 0


def test_secret_rotation_accepts_two_secrets(env: Env) -> None:
    s = Setup(env)
    path = env.service.cfg.webhook_secrets_path
    oldest = env.secret
    middle = rotate_webhook_secret(path)
    assert env.webhook(s.event(0, "r1"), msg_id="r1", secret=oldest).status_code == 201
    assert env.webhook(s.event(1, "r2"), msg_id="r2", secret=middle).status_code == 201
    newest = rotate_webhook_secret(path)
    assert env.webhook(s.event(2, "r3"), msg_id="r3", secret=newest).status_code == 201
    assert env.webhook(s.event(3, "r4"), msg_id="r4", secret=middle).status_code == 201
    size = s.size()
    problem(env.webhook(s.event(3, "r5"), msg_id="r5", secret=oldest), 401,
            "webhook-signature")
    assert s.size() == size


def test_independent_standard_webhooks_signer(env: Env) -> None:
    from standardwebhooks.webhooks import Webhook

    # The package's verify reads the real clock: run this test on it.
    now = datetime.now(UTC).replace(microsecond=0)
    s = Setup(env, n=2, base=now - timedelta(minutes=OPENS + 30))
    hook = Webhook(env.secret.to_text())
    payload = json.dumps({"events": [s.event(0, "ind-1", "completed")]})
    sig = hook.sign("msg_independent", now, payload)
    resp = env.client.post(URL, data=payload.encode(), headers={
        "Content-Type": "application/json", "webhook-id": "msg_independent",
        "webhook-timestamp": str(int(now.timestamp())), "webhook-signature": sig})
    assert resp.status_code == 201, J(resp)
    assert J(resp)["events"][0]["status"] == "accepted"
    # A signature by another key is refused.
    other = Webhook(WebhookSecret.generate().to_text()).sign("msg_2", now, payload)
    resp = env.client.post(URL, data=payload.encode(), headers={
        "Content-Type": "application/json", "webhook-id": "msg_2",
        "webhook-timestamp": str(int(now.timestamp())), "webhook-signature": other})
    problem(resp, 401, "webhook-signature")
    # Our signer's output verifies with the package.
    body = json.dumps({"events": [s.event(1, "ind-2")]})
    ts = int(now.timestamp())
    ours = sign(env.secret, "msg_ours", ts, body.encode())
    assert hook.verify(body, {"webhook-id": "msg_ours", "webhook-timestamp": str(ts),
                              "webhook-signature": ours}) == json.loads(body)


def test_webhook_needs_no_bearer_token_but_windows_list_does(tmp_path: Path,
                                                              sqlite_url: str) -> None:
    """The webhook is authenticated by its signature; the window list by a token."""
    with make_env(tmp_path, sqlite_url) as env:
        s = Setup(env, n=2)
        resp = env.client.get("/api/v1/platform/windows?campaign=c1")
        problem(resp, 401, "Authorization")
        listed = J(env.get("/api/v1/platform/windows?campaign=c1", "platform"))
        assert sorted(w["window"] for w in listed) == sorted(s.windows)
        problem(env.get("/api/v1/platform/windows?campaign=c1", "auditor"), 403)
        # A bearer token is no substitute for a signature.
        resp = env.client.post(URL, json=s.event(0, "t1"), headers=env.auth("platform"))
        problem(resp, 400, "webhook-id")


def test_replay_of_a_delivery_of_duplicates(tmp_path: Path, sqlite_url: str) -> None:
    with make_env(tmp_path, sqlite_url) as env:
        s = Setup(env)
        assert env.webhook(s.event(0, "e1"), msg_id="m1").status_code == 201
        first = env.webhook(s.event(0, "e1"), msg_id="m2")
        assert first.status_code == 201
        assert J(first)["events"][0]["status"] == "duplicate"
        again = env.webhook(s.event(0, "e1"), msg_id="m2")
        assert (again.status_code, J(again)["replayed"]) == (200, True)
        assert J(again)["events"] == J(first)["events"]


def test_events_for_an_erased_candidate_are_quarantined(env: Env) -> None:
    s = Setup(env)
    erased = env.post(f"/api/v1/candidates/{s.subjects[1]}/erasure", "hr",
                      {"reason": "request"})
    assert erased.status_code == 200, J(erased)
    resp = env.webhook({"events": [s.event(0, "ok1"), s.event(1, "gone1")]}, msg_id="m-er")
    assert resp.status_code == 201
    lines = {e["id"]: e for e in J(resp)["events"]}
    assert lines["ok1"]["status"] == "accepted"
    assert lines["gone1"]["status"] == "quarantined"
    assert lines["gone1"]["reason"] == "subject_erased"
    window = J(env.get(f"/api/v1/windows/{s.windows[1]}", "hr"))
    assert window["events"] == []
    assert [q["reason"] for q in window["quarantined"]] == ["subject_erased"]
