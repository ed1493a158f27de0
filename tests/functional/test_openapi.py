"""The OpenAPI 3.1 document at /api/openapi.json: valid, complete, true, and fuzzed.

1. it is a valid OpenAPI 3.1 document (openapi-spec-validator);
2. every /api/* and /logs* route of the app is documented, and nothing else is;
3. real responses of a whole flow (campaign, import, windows, signed events, sweep,
   reviews, appeals, notices, logs) validate against the schema of their status;
4. schemathesis fuzzes every operation with a token of its role (and the webhook with a
   valid signature): no 5xx, every status documented, every body true to its schema;
   and every token-protected operation again without a token (401).
"""

from __future__ import annotations

import itertools
import json
import os
import re
from collections.abc import Iterable, Iterator
from datetime import timedelta, timezone
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import schemathesis
from hypothesis import strategies as st
from openapi_spec_validator import validate
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from werkzeug.routing import Rule
from werkzeug.test import TestResponse

from ledger.absence.notify import FileChannel
from ledger.absence.outbox import dispatch
from ledger.absence.webhooks import sign
from ledger.app.web.openapi import PROBLEM_MEDIA, document
from ledger.app.web.ratelimit import RateLimiter
from tests.functional._absence import LOG, T0, Env, candidates_csv, make_env
from tests.functional._fuzz import drawn_cases, signed_webhook, use_known_ids

CST = timezone(timedelta(hours=8))
DOC = document()
METHODS = ("get", "post", "put", "patch", "delete")
OPERATIONS = sorted((route, method) for route, ops in DOC["paths"].items()
                    for method in ops if method in METHODS)
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]
MAX_EXAMPLES = int(os.environ.get("ABSENTIA_FUZZ_EXAMPLES", "25"))
NO_TOKEN_EXAMPLES = 3


def local(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).astimezone(CST).isoformat()


def openapi_path(rule: str) -> str:
    """Flask's ``/a/<path:b>/<c>`` as OpenAPI's ``/a/{b}/{c}``."""
    return re.sub(r"<(?:[a-z_]+:)?([a-z_]+)>", r"{\1}", rule)


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp = tmp_path_factory.mktemp("openapi")
    with make_env(tmp, f"sqlite:///{tmp / 'ledger.db'}") as e:
        e.app.extensions["absentia.rate_limiter"] = RateLimiter(100_000, 60)
        e.app.extensions["absentia.registration_limiters"] = ()
        yield e


# -- 1. valid ----------------------------------------------------------------------------


def test_document_is_valid_openapi_3_1_and_served(env: Env) -> None:
    validate(DOC)
    assert DOC["openapi"].startswith("3.1.")
    resp = env.client.get("/api/openapi.json")
    assert resp.status_code == 200
    assert resp.mimetype == "application/json"
    # The same document, with this deployment's [platform] max_batch_events.
    assert json.loads(resp.get_data()) == document(env.service.cfg.max_batch_events)
    # Every token-protected operation names its roles; public ones say so.
    for route, method in OPERATIONS:
        o = DOC["paths"][route][method]
        if o["security"]:
            assert o["x-roles"], (route, method)
            assert all(r in o["description"] for r in o["x-roles"])
            assert {"401", "403"} <= set(o["responses"])
        for status, r in o["responses"].items():
            if int(status) >= 400:
                assert list(r["content"]) == [PROBLEM_MEDIA], (route, method, status)


# -- 2. complete ---------------------------------------------------------------------------


OPS_ROUTES = ("/healthz", "/readyz", "/metrics")


def routes(rules: Iterable[Rule]) -> set[tuple[str, str]]:
    """(OpenAPI path, method) of each /api/* and /logs* route, and the operations ones."""
    out = set()
    for rule in rules:
        if rule.rule.startswith(("/api/", "/logs")) or rule.rule in OPS_ROUTES:
            for method in rule.methods or ():
                if method not in ("HEAD", "OPTIONS"):
                    out.add((openapi_path(rule.rule), method.lower()))
    return out


def test_every_api_route_is_documented_and_nothing_else(env: Env) -> None:
    assert routes(env.app.url_map.iter_rules()) == set(OPERATIONS)


def test_an_undocumented_route_fails_the_check(env: Env) -> None:
    extra = Rule("/api/v1/secret/<int:n>", methods=["PUT"], endpoint="secret")
    found = routes([*env.app.url_map.iter_rules(), extra])
    assert found - set(OPERATIONS) == {("/api/v1/secret/{n}", "put")}


def test_openapi_path_conversion() -> None:
    assert openapi_path("/alerts/<path:alert>/resolution") == "/alerts/{alert}/resolution"
    assert openapi_path("/logs/<name>/entries/<raw_index>") == "/logs/{name}/entries/{raw_index}"


# -- 3. true -------------------------------------------------------------------------------


class Checked:
    """Makes requests and validates each JSON response against the documented schema."""

    def __init__(self, env: Env) -> None:
        self.env = env
        self.adapter = env.app.url_map.bind("localhost")
        self.seen: set[tuple[str, str, int]] = set()

    def __call__(self, method: str, path: str, role: str | None = None, *,
                 expect: int | None = None, **kw: Any) -> Any:
        headers = self.env.auth(role) if role else {}
        headers.update(kw.pop("headers", {}))
        resp = self.env.client.open(path, method=method, headers=headers, **kw)
        self.check(method, path, resp)
        if expect is not None:
            assert resp.status_code == expect, (path, resp.get_data(as_text=True))
        if (resp.mimetype or "").endswith("json"):
            return json.loads(resp.get_data())
        return resp.get_data()

    def check(self, method: str, path: str, resp: TestResponse) -> None:
        rule, _ = self.adapter.match(path.split("?")[0], method, return_rule=True)
        route = openapi_path(rule.rule)
        responses = DOC["paths"][route][method.lower()]["responses"]
        status = str(resp.status_code)
        assert status in responses, (method, path, status, resp.get_data(as_text=True))
        content = responses[status]["content"]
        assert resp.mimetype in content, (method, path, resp.mimetype, list(content))
        self.seen.add((route, method.lower(), resp.status_code))
        if (resp.mimetype or "").endswith("json"):
            schema = {**content[resp.mimetype]["schema"], "components": DOC["components"]}
            jsonschema.Draft202012Validator(schema).validate(json.loads(resp.get_data()))


def webhook(env: Env, call: Checked, payload: Any, msg_id: str) -> Any:
    raw = json.dumps(payload).encode()
    ts = int(env.now[0].timestamp())
    return call("POST", "/api/v1/platform/events", data=raw, headers={
        "webhook-id": msg_id, "webhook-timestamp": str(ts), "content-type": "application/json",
        "webhook-signature": sign(env.secret, msg_id, ts, raw)})


def test_real_responses_conform_to_the_document(tmp_path: Path) -> None:
    backfill_policy = '[policies.bf_on]\nmode = "government"\nbackfill = true\n'
    with make_env(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}",
                  extra_config=backfill_policy) as env:
        env.app.extensions["absentia.rate_limiter"] = RateLimiter(100_000, 60)
        call = Checked(env)
        for c, policy in (("c2026", "government"), ("e2026", "enterprise"),
                          ("n2026", "government")):
            call("POST", "/api/v1/campaigns", "hr", expect=201, json={
                "campaign": c, "title": "2026年公开招聘", "policy": policy,
                "posts": [{"post": "p01", "title": "岗位"}]})
        call("POST", "/api/v1/campaigns", "hr", expect=409, json={
            "campaign": "c2026", "title": "t", "posts": [{"post": "p01", "title": "x"}]})
        call("POST", "/api/v1/campaigns", "auditor", expect=403, json={})
        call("GET", "/api/v1/campaigns", expect=401)
        data, rows = candidates_csv(8, seed=1)
        got = call("POST", "/api/v1/campaigns/c2026/candidates", "hr", expect=201, data=data,
                   content_type="text/csv")
        subject = {x["registration"]: x["subject"] for x in got["candidates"]}
        regs = [r["registration"] for r in rows]
        _, rows2 = candidates_csv(2, seed=2)
        call("POST", "/api/v1/campaigns/e2026/candidates", "hr", expect=201, json=rows2)
        data3, _ = candidates_csv(1, seed=3)
        call("POST", "/api/v1/campaigns/n2026/candidates", "hr", expect=201,
             json={"candidates": candidates_csv(1, seed=3)[1]})
        call("POST", "/api/v1/campaigns/c2026/candidates", "hr", expect=422, data=data,
             content_type="text/csv")
        call("POST", "/api/v1/campaigns/nope/candidates", "hr", expect=404, data=data3,
             content_type="text/csv")
        win = {w["registration"]: w["window"] for w in call(
            "POST", "/api/v1/campaigns/c2026/windows", "hr", expect=201,
            json={"opens_at": local(60), "closes_at": local(120)})["windows"]}
        call("POST", "/api/v1/campaigns/e2026/windows", "hr", expect=201,
             json={"opens_at": local(60), "closes_at": local(120)})
        nwin = call("POST", "/api/v1/campaigns/n2026/windows", "hr", expect=201, json={
            "opens_at": local(60), "closes_at": local(120)})["windows"][0]["window"]
        call("POST", "/api/v1/campaigns/c2026/windows", "hr", expect=400,
             json={"opens_at": "yesterday", "closes_at": local(120)})
        env.clock(minutes=90)
        call("POST", f"/api/v1/windows/{win[regs[7]]}/accommodations", "hr", expect=201,
             json={"kind": "extended", "closes_at": local(130), "reason": "poor_signal"})
        kinds = ["completed"] + ["connection_failed"] * 5
        evs = [{"id": f"e{i}", "window": win[regs[i]], "kind": k, "at": local(65 + i)}
               for i, k in enumerate(kinds)]
        evs += [{"id": "n0", "window": nwin, "kind": "completed", "at": local(66)},
                {"id": "stray", "window": "w_nope", "kind": "joined", "at": local(70)}]
        webhook(env, call, {"events": evs}, "m1")
        webhook(env, call, {"events": evs}, "m1")  # replay: 200
        webhook(env, call, {"events": [{"id": "x", "kind": "nope"}]}, "m2")  # 422
        call("POST", "/api/v1/platform/events", expect=400, data=b"{}")
        call("GET", "/api/v1/platform/windows?campaign=c2026&limit=2", "platform", expect=200)
        call("GET", "/api/v1/platform/windows?campaign=c2026&limit=0", "platform", expect=400)
        call("GET", f"/api/v1/windows/{win[regs[0]]}", "hr", expect=200)
        env.clock(minutes=200)
        assert env.service.sweep(env.now[0]) == 11
        call("GET", "/api/v1/campaigns", "auditor", expect=200)
        call("GET", "/api/v1/campaigns/c2026", "reviewer", expect=200)
        call("GET", "/api/v1/campaigns/nope", "reviewer", expect=404)
        call("GET", "/api/v1/campaigns/c2026/candidates", "auditor", expect=200)
        call("GET", "/api/v1/campaigns/c2026/windows?undecided=1", "auditor", expect=200)
        decisions = call("GET", "/api/v1/campaigns/c2026/decisions", "auditor", expect=200)
        call("GET", f"/api/v1/decisions/{decisions[0]['decision']}", "auditor", expect=200)
        pending = [d["decision"] for d in call("GET", "/api/v1/campaigns/c2026/reviews",
                                               "reviewer", expect=200)]
        call("POST", f"/api/v1/decisions/{pending[0]}/review", "reviewer", expect=200,
             json={"ruling": "confirmed"})
        call("POST", f"/api/v1/decisions/{pending[0]}/review", "reviewer", expect=409,
             json={"ruling": "confirmed"})
        call("POST", f"/api/v1/decisions/{pending[1]}/review", "reviewer", expect=200, json={
            "ruling": "makeup_granted", "opens_at": local(300), "closes_at": local(360)})
        call("POST", "/api/v1/campaigns/c2026/backup-slots", "hr", expect=201, json={
            "slot": "b1", "opens_at": local(300), "closes_at": local(360), "capacity": 2})
        call("POST", "/api/v1/campaigns/c2026/backup-slots", "hr", expect=409, json={
            "slot": "b1", "opens_at": local(300), "closes_at": local(360), "capacity": 2})
        call("POST", f"/api/v1/decisions/{pending[2]}/review", "reviewer", expect=200, json={
            "ruling": "makeup_granted", "backup_slot": "b1"})
        call("GET", "/api/v1/campaigns/c2026/backup-slots?usable=1", "auditor", expect=200)
        call("POST", "/api/v1/campaigns/c2026/backup-slots", "hr", expect=201, json={
            "slot": "b2", "opens_at": local(300), "closes_at": local(360), "capacity": 1})
        call("POST", "/api/v1/campaigns/c2026/backup-slots/b2/withdrawal", "hr", expect=200)
        call("POST", "/api/v1/campaigns/c2026/backup-slots/b1/withdrawal", "hr", expect=409)
        call("GET", "/api/v1/quarantine", "auditor", expect=200)
        call("GET", "/api/v1/campaigns/c2026/quarantine", "hr", expect=200)
        channel = FileChannel(env.data / "outbox.jsonl")
        assert dispatch(env.service, {"email": channel, "sms": channel}, env.now[0])["sent"]
        notes = call("GET", "/api/v1/campaigns/c2026/notifications", "auditor", expect=200)
        sent = next(n["notification"] for n in notes if n["status"] == "sent")
        call("POST", "/api/v1/notifications/receipts", "platform", expect=201,
             json={"reference": sent, "status": "delivered"})
        call("POST", "/api/v1/notifications/receipts", "platform", expect=200,
             json={"reference": sent, "status": "delivered"})
        alerts = call("GET", "/api/v1/campaigns/c2026/alerts", "auditor", expect=200)
        assert alerts
        call("POST", f"/api/v1/alerts/{alerts[0]['alert']}/resolution", "reviewer",
             expect=200, json={"action": "dismissed"})
        call("GET", "/api/v1/campaigns/c2026/statistics", "auditor", expect=200)
        creds = {"registration": regs[7], "factor": rows[7]["id_number"][-4:]}
        call("POST", "/api/v1/campaigns/c2026/status", expect=200, json=creds)
        call("POST", "/api/v1/campaigns/c2026/status", expect=403,
             json={**creds, "factor": "0000" if creds["factor"] != "0000" else "1111"})
        call("POST", "/api/v1/campaigns/c2026/status", expect=400,
             json={**creds, "factor": "XXXX"})  # not the end of an ID number
        appeal = call("POST", "/api/v1/campaigns/c2026/appeals", expect=201, json={
            **creds, "ground": "technical", "statement": "网络中断"})["appeal"]
        call("GET", "/api/v1/campaigns/c2026/appeals?open=1", "hr", expect=200)
        call("GET", f"/api/v1/appeals/{appeal}", "reviewer", expect=200)
        call("POST", f"/api/v1/appeals/{appeal}/ruling", "reviewer", expect=200,
             json={"ruling": "upheld"})
        call("GET", f"/api/v1/candidates/{subject[regs[6]]}/personal-data", "hr", expect=200)
        _backfill_calls(call)
        call("GET", "/api/v1/access-log", "auditor", expect=200)
        offered = call("GET", "/api/v1/campaigns/e2026/decisions", "hr", expect=200)
        call("POST", f"/api/v1/decisions/{offered[0]['decision']}/rebooking", "hr",
             expect=201, json={"opens_at": local(400), "closes_at": local(460)})
        call("GET", "/api/v1/campaigns/c2026/notices/preview", "hr", expect=409)
        call("GET", "/api/v1/campaigns/n2026/notices/preview", "hr", expect=200)
        settings_of = "/api/v1/campaigns/n2026/notice-settings"
        call("GET", settings_of, "auditor", expect=200)
        call("PUT", settings_of, "hr", expect=400, json={"objection_email": "x@"})
        call("PUT", settings_of, "hr", expect=200, json={"roster": "roster"})
        call("POST", settings_of, "hr", expect=200,
             json={"fields": ["registration", "name", "post", "result", "cause"]})
        notice = call("POST", "/api/v1/campaigns/n2026/notices", "hr", expect=201, json={})
        call("GET", f"/api/v1/notices/{notice['notice']}", expect=200)
        call("GET", "/api/v1/notices/nt_nope", expect=404)
        nt = notice["notice"]
        objection = {"name": "王某", "contact": "13800000000", "ground": "score",
                     "statement": "成绩有误", "line": 1}
        filed = call("POST", f"/api/v1/notices/{nt}/objections", expect=201, json=objection)
        call("POST", f"/api/v1/notices/{nt}/objections", expect=400,
             json={**objection, "ground": "nope"})
        call("POST", f"/api/v1/objections/{filed['objection']}/state", expect=200,
             json={"secret": filed["token"]})
        call("POST", f"/api/v1/objections/{filed['objection']}/state", expect=404,
             json={"secret": "x"})
        ref = call("POST", f"/api/v1/notices/{nt}/objections/received", "hr", expect=201,
                   json={**objection, "channel": "letter"})["objection"]
        call("GET", f"/api/v1/notices/{nt}/objections", expect=200)
        call("GET", "/api/v1/campaigns/n2026/objections", "auditor", expect=200)
        call("GET", f"/api/v1/objections/{ref}", "auditor", expect=200)
        call("GET", f"/api/v1/objections/{ref}/objector", "reviewer", expect=200)
        call("POST", f"/api/v1/objections/{ref}/acknowledgement", "hr", expect=200)
        call("POST", f"/api/v1/objections/{ref}/acknowledgement", "hr", expect=409)
        call("POST", f"/api/v1/objections/{ref}/statement-invitation", "hr", expect=200,
             json={"registration": candidates_csv(1, seed=3)[1][0]["registration"]})
        call("POST", f"/api/v1/objections/{ref}/statement", "hr", expect=200,
             json={"statement": "情况属实", "channel": "phone"})
        call("POST", f"/api/v1/objections/{ref}/ruling", "reviewer", expect=400,
             json={"ruling": "cancelled", "reason": "x"})
        call("POST", f"/api/v1/objections/{ref}/ruling", "reviewer", expect=200,
             json={"ruling": "upheld", "reason": "经核实无误"})
        call("POST", f"/api/v1/objections/{ref}/objector-erasure", "hr", expect=409,
             json={"reason": "retention_expired"})
        call("POST", f"/api/v1/objections/{ref}/objector-erasure", "hr", expect=200,
             json={"reason": "request"})
        call("POST", f"/api/v1/candidates/{subject[regs[6]]}/erasure", "hr", expect=409,
             json={"reason": "retention_expired"})
        call("POST", f"/api/v1/candidates/{subject[regs[6]]}/erasure", "hr", expect=200,
             json={"reason": "request"})
        call("GET", "/api/openapi.json", expect=200)
        call("GET", "/logs", expect=200)
        call("GET", f"/logs/{LOG}", expect=200)
        call("GET", "/logs/nope", expect=404)
        call("GET", f"/logs/{LOG}/checkpoint", expect=200)
        call("GET", f"/logs/{LOG}/entries/0", expect=200)
        call("GET", f"/logs/{LOG}/entries/x", expect=400)
        call("GET", f"/logs/{LOG}/entries/0/tlog-proof", expect=200)
        call("GET", f"/logs/{LOG}/proof/inclusion?index=1", expect=200)
        call("GET", f"/logs/{LOG}/proof/inclusion", expect=400)
        call("GET", f"/logs/{LOG}/proof/consistency?old=1", expect=200)
        call("GET", f"/logs/{LOG}/tile/0/000.p/3", expect=200)
        call("GET", f"/logs/{LOG}/tile/zz", expect=400)
        call("GET", f"/logs/{LOG}/policy", expect=200)
        call("GET", "/logs/nope/policy", expect=404)
        call("GET", "/healthz", expect=200)
        call("GET", "/readyz", expect=200)
        call("GET", "/metrics", expect=200)
        # Every documented operation was exercised with a success status at least once.
        ok = {(r, m) for r, m, s in call.seen if s < 300}
        assert set(OPERATIONS) - ok == set()


def _backfill_calls(call: Checked) -> None:
    """递补: a ranking, a written withdrawal, its proposal declined, the next approved."""
    call("POST", "/api/v1/campaigns", "hr", expect=201, json={
        "campaign": "b2026", "title": "2026年公开招聘", "policy": "bf_on",
        "posts": [{"post": "p01", "title": "岗位"}]})
    _, rows = candidates_csv(3, seed=9)
    call("POST", "/api/v1/campaigns/b2026/candidates", "hr", expect=201, json=rows)
    regs = [r["registration"] for r in rows]
    ranking = ("报名号,成绩\n" + "".join(f"{r},{90 - i}\n" for i, r in enumerate(regs))).encode()
    url = "/api/v1/campaigns/b2026/rankings?post=p01&pass_line=60&places=1&interview_day="
    call("POST", url + "2026-12-10", "hr", expect=201, data=ranking, content_type="text/csv")
    call("POST", url + "2026-12-10", "hr", expect=409, data=ranking, content_type="text/csv")
    call("POST", url + "tomorrow", "hr", expect=400, data=ranking, content_type="text/csv")
    call("GET", "/api/v1/campaigns/b2026/rankings", "auditor", expect=200)
    call("POST", "/api/v1/campaigns/b2026/vacancies", "hr", expect=201, json={
        "registration": regs[0], "kind": "withdrawn_in_writing", "at": local(-10)})
    first = call("GET", "/api/v1/campaigns/b2026/backfills", "reviewer", expect=200)[0]
    call("GET", f"/api/v1/backfills/{first['proposal']}", "hr", expect=200)
    call("POST", f"/api/v1/backfills/{first['proposal']}/decline", "reviewer", expect=400,
         json={})
    call("POST", f"/api/v1/backfills/{first['proposal']}/decline", "reviewer", expect=200,
         json={"reason": "本人放弃"})
    second = call("GET", "/api/v1/campaigns/b2026/backfills", "hr", expect=200)[1]
    call("POST", f"/api/v1/backfills/{second['proposal']}/approval", "reviewer", expect=200,
         json={"opens_at": local(300), "closes_at": local(360)})


# -- 4. fuzzed -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def known(env: Env) -> dict[str, list[str]]:
    """Real ids for the fuzzer to use now and then (``seed_known``)."""
    return seed_known(env)


def seed_known(env: Env) -> dict[str, list[str]]:
    """Real ids of a campaign whose windows were decided (an outage alert, reviews
    pending, an appeal filed), by kind of path parameter (and ``registration``)."""
    env.campaign("c2026")
    data, rows = candidates_csv(6, seed=9)
    got = json.loads(env.import_csv("c2026", data).get_data())
    regs = {c["registration"]: c["subject"] for c in got["candidates"]}
    made = json.loads(env.post("/api/v1/campaigns/c2026/windows", "hr", {
        "opens_at": local(60), "closes_at": local(120)}).get_data())["windows"]
    env.clock(minutes=90)
    evs = [{"id": f"k{i}", "window": w["window"], "kind": "connection_failed",
            "at": local(65)} for i, w in enumerate(made[:5])]
    assert env.webhook({"events": evs}, msg_id="known").status_code == 201
    env.clock(minutes=200)
    env.service.sweep(env.now[0])
    decisions = json.loads(env.get("/api/v1/campaigns/c2026/decisions", "hr").get_data())
    last = rows[5]
    appeal = json.loads(env.post("/api/v1/campaigns/c2026/appeals", None, {
        "registration": last["registration"], "factor": last["id_number"][-4:],
        "ground": "other", "statement": "x"}).get_data())["appeal"]
    alerts = json.loads(env.get("/api/v1/campaigns/c2026/alerts", "hr").get_data())
    assert alerts
    return {"campaign": ["c2026"], "subject": list(regs.values()),
            "window": [w["window"] for w in made], "name": [LOG],
            "decision": [d["decision"] for d in decisions], "appeal": [appeal],
            "alert": [a["alert"] for a in alerts], "raw_index": ["0", "3"],
            "registration": [r["registration"] for r in rows]}


@pytest.fixture(scope="module")
def schema(env: Env, known: dict[str, list[str]]) -> Any:
    """The document as the app serves it, bound to the app."""
    return schemathesis.openapi.from_wsgi("/api/openapi.json", env.app)


_IDS = itertools.count()


def fuzz(env: Env, schema: Any, known: dict[str, list[str]], route: str, method: str, *,
         token: bool, examples: int, negative: bool = False) -> None:
    operation = schema[route][method.upper()]
    spec = DOC["paths"][route][method]
    roles = spec.get("x-roles", [])

    mode = GenerationMode.NEGATIVE if negative else GenerationMode.POSITIVE

    @drawn_cases(operation, mode, examples)
    def run(case: Any, data: st.DataObject) -> None:
        use_known_ids(case, data, known)
        headers: dict[str, str] = {}
        kwargs: dict[str, Any] = {}
        if token and roles:
            headers = env.auth(roles[0])
        if route == "/api/v1/platform/events" and not negative:
            # A valid signature of the exact bytes sent, so that the JSON is parsed.
            signed, kwargs["data"] = signed_webhook(env, case, f"fuzz-{next(_IDS)}")
            headers |= signed
        response = case.call(headers=headers, **kwargs)
        case.validate_response(response, checks=CHECKS)

    run()


@pytest.mark.slow
# A tile path holds slashes, which an OpenAPI path parameter cannot: no valid one can be
# drawn (test_hostile_input.py checks the tile paths the document admits).
@pytest.mark.parametrize(("route", "method"),
                         [o for o in OPERATIONS if o[0] != "/logs/{name}/tile/{rest}"])
def test_fuzz_with_a_token_of_the_role(env: Env, schema: Any, known: dict[str, list[str]],
                                       route: str, method: str) -> None:
    fuzz(env, schema, known, route, method, token=True, examples=MAX_EXAMPLES)


@pytest.mark.slow
@pytest.mark.parametrize(("route", "method"),
                         [o for o in OPERATIONS if DOC["paths"][o[0]][o[1]]["security"]])
def test_fuzz_without_a_token_is_401(env: Env, schema: Any, known: dict[str, list[str]],
                                     route: str, method: str) -> None:
    fuzz(env, schema, known, route, method, token=False, examples=NO_TOKEN_EXAMPLES)


@pytest.mark.slow
@pytest.mark.parametrize(("route", "method"),
                         [o for o in OPERATIONS if DOC["paths"][o[0]][o[1]]["parameters"]
                          or "requestBody" in DOC["paths"][o[0]][o[1]]])
def test_fuzz_invalid_input_is_a_documented_4xx(env: Env, schema: Any,
                                                known: dict[str, list[str]], route: str,
                                                method: str) -> None:
    fuzz(env, schema, known, route, method, token=True, examples=MAX_EXAMPLES, negative=True)


# -- regressions found while fuzzing --------------------------------------------------------


def test_schedule_windows_with_a_non_string_post_is_400_not_500(tmp_path: Path) -> None:
    """Was a 500: ``"post": {}`` reached the SQL query as a parameter it cannot bind."""
    with make_env(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}") as env:
        env.campaign("c2026")
        call = Checked(env)
        bads: list[Any] = [{}, [], 5, True]
        for bad in bads:
            got = call("POST", "/api/v1/campaigns/c2026/windows", "hr", expect=400, json={
                "opens_at": local(60), "closes_at": local(120), "post": bad})
            assert got["field"] == "post"


# -- document and code agree (schema drift found by schemathesis) ----------------------------


def test_window_times_refused_are_documented_with_their_field(tmp_path: Path) -> None:
    """A window closing before it opens is refused: the status is documented for every
    operation that takes window times, and the field is one its x-constraints names."""
    with make_env(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}") as env:
        env.campaign("c2026")
        call = Checked(env)
        got = call("POST", "/api/v1/campaigns/c2026/windows", "hr", expect=400, json={
            "opens_at": local(120), "closes_at": local(60)})
        assert got["field"] == "closes_at"
        for route, method in OPERATIONS:
            o = DOC["paths"][route][method]
            body = json.dumps(o.get("requestBody", {}))
            if '"closes_at"' in body or "TimesRequest" in body or "ScheduleRequest" in body \
                    or "Accommodation" in body or "Resolution" in body:
                assert {"opens_at", "closes_at"} <= set(o.get("x-constraints", {})), route
                assert "400" in o["responses"], route


def test_proofs_beyond_the_log_are_a_documented_constraint(env: Env) -> None:
    call = Checked(env)
    beyond = 10**12  # far beyond this log's size
    got = call("GET", f"/logs/{LOG}/proof/inclusion?index=0&size={beyond}", expect=400)
    assert got["field"] == "size"
    got = call("GET", f"/logs/{LOG}/proof/consistency?old=1&new={beyond}", expect=400)
    assert got["field"] == "new"
    got = call("GET", f"/logs/{LOG}/proof/inclusion?index=5&size=5", expect=400)
    assert got["field"] == "index"
    for route, fields in (("/logs/{name}/proof/inclusion", {"index", "size"}),
                          ("/logs/{name}/proof/consistency", {"old", "new"})):
        assert set(DOC["paths"][route]["get"]["x-constraints"]) == fields


def test_tile_path_pattern_refuses_what_the_code_refuses() -> None:
    """``tile/0`` was valid by the document (any string) and a 400 from the code."""
    schema = DOC["paths"]["/logs/{name}/tile/{rest}"]["get"]["parameters"][1]["schema"]
    for bad in ("0", "00/000", "0/x000/001", "64/000", "0/000.p/256"):
        assert not re.search(schema["pattern"], bad), bad
    for good in ("0/000", "entries/x001/234.p/7", "63/000"):
        assert re.search(schema["pattern"], good), good
    index = DOC["paths"]["/logs/{name}/entries/{raw_index}"]["get"]["parameters"][1]
    assert not re.search(index["schema"]["pattern"], "00")


@pytest.mark.parametrize("value", ["null", "true", "", "2", "1&{name}=0"])
@pytest.mark.parametrize(("path", "name"), [
    ("/api/v1/campaigns/c2026/windows", "undecided"),
    ("/api/v1/campaigns/c2026/decisions", "pending_review"),
    ("/api/v1/campaigns/c2026/appeals", "open")])
def test_flags_take_0_or_1_only(env: Env, known: dict[str, list[str]], path: str,
                                name: str, value: str) -> None:
    """Was 200 for ``?undecided=null``: anything but "1" read as 0."""
    call = Checked(env)
    got = call("GET", f"{path}?{name}={value.format(name=name)}", "auditor", expect=400)
    assert got["field"] == name
    call("GET", f"{path}?{name}=1", "auditor", expect=200)


@pytest.mark.parametrize("what", ["alerts", "appeals", "notifications", "quarantine"])
def test_lists_of_an_unknown_campaign_are_404(env: Env, what: str) -> None:
    """Was 200 ``[]``: an unknown campaign is not an empty one."""
    got = Checked(env)("GET", f"/api/v1/campaigns/nope/{what}", "auditor", expect=404)
    assert got["field"] == "campaign"


def test_the_served_batch_limit_is_the_configured_one(env: Env) -> None:
    """The document said at most 20 events; the code took [platform] max_batch_events."""
    served = json.loads(env.client.get("/api/openapi.json").get_data())
    limit = served["components"]["schemas"]["WebhookBatch"]["properties"]["events"]["maxItems"]
    assert limit == env.service.cfg.max_batch_events == 500
    events = [{"id": f"lim{i}", "window": "w_none", "kind": "joined", "at": local(1)}
              for i in range(limit + 1)]
    resp = env.webhook({"events": events}, msg_id="over-the-limit")
    assert resp.status_code == 422
    assert json.loads(resp.get_data())["field"] == "events"
    resp = env.webhook({"events": events[:limit]}, msg_id="at-the-limit")
    assert resp.status_code == 201


def test_erasure_refuses_unknown_fields(env: Env, known: dict[str, list[str]]) -> None:
    got = Checked(env)("POST", f"/api/v1/candidates/{known['subject'][0]}/erasure", "hr",
                       expect=400, json={"reason": "request", "extra": 1})
    assert got["field"] == "extra"


def test_campaign_titles_are_refused_by_their_own_field(env: Env) -> None:
    """Was ``body.title`` (the entry's field), not the request's ``title``."""
    call = Checked(env)
    got = call("POST", "/api/v1/campaigns", "hr", expect=400, json={
        "campaign": "t1", "title": "a\u0007b", "posts": [{"post": "p", "title": "x"}]})
    assert got["field"] == "title"
    got = call("POST", "/api/v1/campaigns", "hr", expect=400, json={
        "campaign": "t1", "title": "t", "posts": [{"post": "p", "title": "\u0085"}]})
    assert got["field"] == "posts[0].title"


@pytest.mark.parametrize("at", ["0375-03-30T02:30:30Z", "0001-01-01T00:00:00+08:00",
                                "9999-12-31T23:59:59-08:00"])
def test_times_before_year_1000_or_out_of_range_name_the_field(env: Env, at: str) -> None:
    """Year 375 became '375-…' in the ledger's format, refused deep inside as not RFC 3339."""
    msg_id = "year-" + re.sub(r"[^0-9A-Za-z]", "_", at)
    resp = env.webhook({"events": [{"id": "y", "window": "w_none", "kind": "joined",
                                    "at": at}]}, msg_id=msg_id)
    assert resp.status_code == 422, resp.get_data(as_text=True)
    assert json.loads(resp.get_data())["field"] == "events[0].at"
