"""Hostile input over every endpoint, on SQLite and PostgreSQL: a clear 4xx, never a 5xx.

1. The JSON API, operation by operation: schemathesis draws valid and invalid requests
   (``GenerationMode.POSITIVE`` and ``NEGATIVE``) from /api/openapi.json, sent with a
   token of each role the operation admits (the platform webhook correctly signed), and
   every answer is checked: no 5xx, the status, media type and body as documented
   (``status_code_conformance``, ``content_type_conformance``,
   ``response_schema_conformance``), invalid data refused (``negative_data_rejection``),
   valid data accepted unless the refusal names a field the operation lists in
   ``x-constraints`` (``positive_data_acceptance``, knowing what a schema cannot say),
   and every 400, 409 and 422 a problem+json naming the ``field``.
   Stateful: schemathesis' state machine follows the document's OpenAPI links (a
   campaign opened, then its candidates, windows, decisions, alerts, appeals...).
2. Authentication: every token-protected operation without a token, with a made-up one
   and with each role it does not admit (``ignored_auth``); the webhook without each of
   its required headers and with a bad signature (``missing_required_header``).
3. Methods a path does not document: 405 with ``Allow`` (``unsupported_method``).
4. The console's forms (every POST, signed in as the role it needs, with its CSRF token)
   and the public self-service forms: hypothesis draws hostile field values (huge
   strings, NUL, control characters, lone surrogates and invalid UTF-8 as raw bytes,
   other scripts, numbers and lists where text belongs, missing and repeated fields):
   a 4xx page or the form again with its error, never a 5xx.

At the end a summary line gives the counts (requests, 5xx, schema violations).
``ABSENTIA_HOSTILE_EXAMPLES`` sets the examples per operation and mode (default 4) and
per form (default 8 x that / 4); the run stays within a couple of minutes per database.
"""

from __future__ import annotations

import io
import itertools
import json
import os
import re
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pyotp
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)
from werkzeug.test import TestResponse

from ledger.absence.webhooks import sign
from ledger.accounts.store import Accounts
from ledger.app.web.openapi import PROBLEM_MEDIA, document
from ledger.app.web.ratelimit import RateLimiter, SharedRateLimiter
from tests.functional._absence import LOG, Env, make_env
from tests.functional._fuzz import body_bytes, drawn_cases, signed_webhook, use_known_ids
from tests.functional.conftest import SUMMARY
from tests.functional.test_console_signin import PASSWORD, csrf_of, sign_in
from tests.functional.test_openapi import seed_known

EXAMPLES = int(os.environ.get("ABSENTIA_HOSTILE_EXAMPLES", "4"))
FORM_EXAMPLES = max(4, EXAMPLES * 2)

DOC = document()
METHODS = ("get", "put", "post", "patch", "delete")
OPERATIONS = sorted((route, method) for route, ops in DOC["paths"].items()
                    for method in ops if method in METHODS)
WEBHOOK = "/api/v1/platform/events"
ROLES = ("platform", "hr", "reviewer", "auditor")
#: Statuses whose problem must name the field at fault (STATUS_TEXT in ledger.app.web.openapi).
FIELD_STATUSES = (400, 409, 422)


# -- the tally ---------------------------------------------------------------------------


@dataclass
class Tally:
    """What the suite sent and found, over both databases."""

    requests: int = 0
    server_errors: int = 0
    violations: list[str] = field(default_factory=list)

    def sent(self, resp: TestResponse) -> None:
        self.requests += 1
        if resp.status_code >= 500:
            self.server_errors += 1


TALLY = Tally()


def problem(kind: str, body: bytes, path: str, status: int, text: str) -> None:
    """Record a violation (``text`` names the request and what came back)."""
    del body, path, status  # in ``text`` already, kept for the call sites' symmetry
    TALLY.violations.append(f"{kind}: {text}")


@pytest.fixture(scope="module", autouse=True)
def summary(request: pytest.FixtureRequest) -> Iterator[None]:
    """At the end of the run: the counts over both databases (one line)."""
    yield
    line = (f"hostile input: {TALLY.requests} requests, {TALLY.server_errors} x 5xx, "
            f"{len(TALLY.violations)} schema or contract violations")
    request.config.stash[SUMMARY] = [line]


def no_violations_since(mark: int) -> None:
    found = TALLY.violations[mark:]
    assert not found, f"{len(found)} violations:\n" + "\n".join(found[:15])


# -- one app per database ----------------------------------------------------------------


@dataclass
class Hostile:
    env: Env
    known: dict[str, list[str]]
    schema: Any
    clients: dict[str, Any]  # console role -> signed-in test client


@pytest.fixture(scope="module", params=[
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres)])
def hostile(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
            ) -> Iterator[Hostile]:
    tmp = tmp_path_factory.mktemp(f"hostile-{request.param}")
    url = (f"sqlite:///{tmp / 'ledger.db'}" if request.param == "sqlite"
           else request.getfixturevalue("pg_server").create_database())
    with make_env(tmp, url) as env:
        env.app.extensions["absentia.rate_limiter"] = RateLimiter(1_000_000, 60)
        # Per-registration limits too: a 429 would hide what the lookup does with the input.
        env.app.extensions["absentia.registration_limiters"] = ()
        env.app.extensions["absentia.sign_in_limiter"] = SharedRateLimiter(
            env.store, 1_000_000, 300.0, bucket="sign-in")
        known = seed_known(env)
        schema = schemathesis.openapi.from_wsgi("/api/openapi.json", env.app)
        yield Hostile(env, known, schema, console_clients(env))


def console_clients(env: Env) -> dict[str, Any]:
    """A signed-in console client per role (reviewer and admin enrolled in TOTP)."""
    accounts: Accounts = env.app.extensions["absentia.accounts"]
    out = {}
    for role in ("hr", "reviewer", "auditor"):
        login = f"{role}.hostile"
        accounts.create_user(login, PASSWORD, role, env.now[0])
        client = env.app.test_client()
        resp = sign_in(client, login, PASSWORD)
        assert resp.status_code == 303, resp.get_data(as_text=True)
        if resp.headers["Location"] == "/console/sign-in/enrol":
            page = client.get("/console/sign-in/enrol")
            m = re.search(r'<code id="totp-secret">([A-Z2-7 ]+)</code>', page.get_data(
                as_text=True))
            assert m is not None
            done = client.post("/console/sign-in/enrol", data={
                "csrf_token": csrf_of(page),
                "code": pyotp.TOTP(m.group(1).replace(" ", "")).at(env.now[0])})
            assert done.status_code == 200  # signed in: the recovery codes, shown once
            assert 'id="recovery-codes"' in done.get_data(as_text=True)
        out[role] = client
    return out


# -- 1. the JSON API ---------------------------------------------------------------------


def _describe(case: Any, resp: Any, raw: bytes) -> str:
    return (f"{case.method} {case.formatted_path}?{urllib.parse.urlencode(case.query or {})} "
            f"body={raw[:300]!r} -> {resp.status_code} {(resp.content or b'')[:300]!r}")


def mime(resp: Any) -> str:
    """The media type of a schemathesis response."""
    value = resp.headers.get("content-type", "")
    if isinstance(value, list):
        value = value[0] if value else ""
    return str(value).split(";")[0].strip()


def check_refusal(resp: Any) -> str | None:
    """What is wrong with a JSON API refusal, or None: problem+json, and the field named."""
    if resp.status_code < 400:
        return None
    if mime(resp) != PROBLEM_MEDIA:
        return f"a {resp.status_code} as {mime(resp)}, not {PROBLEM_MEDIA}"
    if resp.status_code in FIELD_STATUSES and json.loads(resp.content).get("field") is None:
        return f"a {resp.status_code} problem without a field"
    return None


#: A lone surrogate escaped in JSON (not a Unicode scalar value: RFC 8259 §8.2).
LONE_SURROGATE = re.compile(
    rb"\\u[dD][89abAB][0-9a-fA-F]{2}(?!\\u[dD][c-fC-F])|(?<![0-9a-fA-F]{4})"
    rb"\\u[dD][c-fC-F][0-9a-fA-F]{2}")


def constrained(route: str, method: str, resp: Any, raw: bytes) -> bool:
    """A valid request refused for a documented rule the schema cannot express: a field
    of the operation's ``x-constraints`` (``events[3].at`` is ``at``), or a string that is
    not Unicode text (a lone surrogate, which JSON Schema cannot exclude)."""
    if resp.status_code not in (400, 422) or mime(resp) != PROBLEM_MEDIA:
        return False
    if LONE_SURROGATE.search(raw):
        return True
    rules = DOC["paths"][route][method].get("x-constraints", {})
    name = re.sub(r"\[\d+\]", "", str(json.loads(resp.content).get("field", "")))
    return name in rules or name.split(".")[-1] in rules


_IDS = itertools.count()


def negative_at(case: Any, location: ParameterLocation) -> bool:
    """Whether schemathesis made this part of ``case`` invalid on purpose."""
    meta = case.meta
    return meta is not None and meta.is_negative_at(location)


def fuzz(h: Hostile, route: str, method: str, mode: GenerationMode) -> None:
    env = h.env
    operation = h.schema[route][method.upper()]
    spec = DOC["paths"][route][method]
    roles = spec.get("x-roles", [])
    checks = [not_a_server_error, status_code_conformance, content_type_conformance,
              response_schema_conformance]
    if mode is GenerationMode.NEGATIVE:
        checks.append(negative_data_rejection)

    @drawn_cases(operation, mode, EXAMPLES)
    def run(case: Any, data: st.DataObject) -> None:
        use_known_ids(case, data, h.known)
        headers: dict[str, str] = {}
        kwargs: dict[str, Any] = {}
        if roles and not negative_at(case, ParameterLocation.HEADER):
            # (a negative case may be one without the required Authorization header)
            headers = env.auth(data.draw(st.sampled_from(roles), label="role"))
        if route == WEBHOOK and mode is GenerationMode.POSITIVE:
            signed, kwargs["data"] = signed_webhook(env, case, f"hostile-{next(_IDS)}")
            headers |= signed
        resp = case.call(headers=headers, **kwargs)
        TALLY.requests += 1
        TALLY.server_errors += resp.status_code >= 500
        raw = body_bytes(case)
        where = case.formatted_path
        try:
            case.validate_response(resp, checks=checks)
        except BaseExceptionGroup as group:  # the failed checks of this response
            found = " | ".join(" ".join(str(e).split()) for e in group.exceptions)
            problem("schema", raw + where.encode(), where, resp.status_code,
                    f"{_describe(case, resp, raw)}\n    {found[:700]}")
            return
        except AssertionError as exc:
            problem("schema", raw + where.encode(), where, resp.status_code,
                    f"{_describe(case, resp, raw)}\n    {' '.join(str(exc).split())[:700]}")
            return
        # positive_data_acceptance, knowing the rules the document lists beyond the schema.
        if (mode is GenerationMode.POSITIVE and resp.status_code in (400, 422)
                and not constrained(route, method, resp, raw)):
            problem("valid request refused", raw, where, resp.status_code,
                    _describe(case, resp, raw))
        wrong = check_refusal(resp)
        if wrong is not None:
            problem("refusal", raw, where, resp.status_code,
                    f"{wrong}: {_describe(case, resp, raw)}")

    run()


#: Routes whose path parameter holds slashes (a tile path): OpenAPI path parameters
#: cannot, so schemathesis draws no valid one; test_tile_paths checks them instead.
SLASHED = {"/logs/{name}/tile/{rest}"}


@pytest.mark.slow
@pytest.mark.parametrize(("route", "method"), OPERATIONS)
def test_valid_and_invalid_requests(hostile: Hostile, route: str, method: str) -> None:
    mark = len(TALLY.violations)
    if route not in SLASHED:
        fuzz(hostile, route, method, GenerationMode.POSITIVE)
    spec = DOC["paths"][route][method]
    if spec["parameters"] or "requestBody" in spec:
        fuzz(hostile, route, method, GenerationMode.NEGATIVE)
    no_violations_since(mark)


VALID_TILES = ("0/000", "0/000.p/3", "entries/000", "entries/000.p/1", "1/000",
               "0/x001/000", "63/000", "0/x999/x000/255.p/255")
INVALID_TILES = ("0", "", "00/000", "64/000", "0/x000/000", "0/000.p/0", "0/000.p/256",
                 "0/0000", "0/1", "entries", "0/000.p/", "x/000", "0/-01", "0/000/")


def test_tile_paths_the_document_admits_are_served_or_not_found(hostile: Hostile) -> None:
    """The tile path pattern of the document and TileRef.parse agree both ways."""
    rest = DOC["paths"]["/logs/{name}/tile/{rest}"]["get"]["parameters"][1]["schema"]
    pattern = re.compile(rest["pattern"])
    for tile in VALID_TILES:
        assert pattern.search(tile), tile
        resp = send(hostile, "GET", f"/logs/{LOG}/tile/{tile}")
        assert resp.status_code in (200, 404), (tile, resp.get_data(as_text=True))
    for tile in INVALID_TILES:
        assert not pattern.search(tile), tile
        resp = send(hostile, "GET", f"/logs/{LOG}/tile/{tile}")
        assert resp.status_code in (400, 404), (tile, resp.status_code)
        assert resp.mimetype == PROBLEM_MEDIA


def test_hostile_bodies_and_headers_the_issue_names(hostile: Hostile) -> None:
    """The hostile requests of the hardening issue, each answered with a 4xx problem
    naming the field."""
    mark = len(TALLY.violations)
    env, k = hostile.env, hostile.known
    c = k["campaign"][0]
    # An erased candidate (their factor placeholder must match nothing anyone can type).
    erased_reg, erased_subject = k["registration"][-1], k["subject"][-1]
    resp = send(hostile, "POST", f"/api/v1/candidates/{erased_subject}/erasure",
                json={"reason": "request"}, headers=env.auth("hr"))
    assert resp.status_code in (200, 404, 409), resp.get_data(as_text=True)
    deep = b"[" * 100_000 + b"]" * 100_000
    ts = int(env.now[0].timestamp())
    cases: list[tuple[str, str, bytes, dict[str, str], tuple[int, ...]]] = [
        ("POST", "/api/v1/campaigns", deep, env.auth("hr"), (400, 413, 422)),
        ("POST", WEBHOOK, deep, {"webhook-id": "hostile-deep", "webhook-timestamp": str(ts),
                                 "webhook-signature": sign(env.secret, "hostile-deep", ts,
                                                           deep)}, (400, 413, 422)),
        ("POST", f"/api/v1/campaigns/{c}/status",
         b'{"registration": "\\ud800", "factor": "1234"}', {}, (400, 403)),
        ("POST", "/api/v1/campaigns", b'{"campaign": "\\udfff", "title": "t", '
         b'"posts": [{"post": "p", "title": "\\ud800"}]}', env.auth("hr"), (400,)),
        ("POST", f"/api/v1/campaigns/{c}/status",
         json.dumps({"registration": erased_reg, "factor": "\x00" * 4}).encode(), {},
         (400, 403)),
        ("POST", f"/api/v1/campaigns/{c}/status",
         json.dumps({"registration": "NOPE-1", "factor": "\x00" * 4}).encode(), {},
         (400, 403)),
        ("POST", f"/api/v1/campaigns/{c}/appeals", json.dumps({
            "registration": erased_reg, "factor": "\x00" * 4, "ground": "other",
            "statement": "x"}).encode(), {}, (400, 403, 409)),
        ("POST", f"/api/v1/campaigns/{c}/status",
         b'{"registration": "' + b"x" * 10_485_760 + b'", "factor": "1234"}', {},
         (400, 413)),
        ("GET", "/api/v1/campaigns", b"", {"Authorization": "bearer " + env.tokens["hr"]},
         (200,)),
    ]
    for method, path, body, headers, want in cases:
        resp = send(hostile, method, path, data=body,
                    headers={"Content-Type": "application/json", **headers})
        text = (f"{method} {path} {str(headers)[:40]!r} body={body[:60]!r} -> "
                f"{resp.status_code} {resp.get_data()[:200]!r}")
        if resp.status_code not in want:
            problem("hostile", body, path, resp.status_code, text)
        elif resp.status_code >= 400 and (resp.mimetype != PROBLEM_MEDIA or json.loads(
                resp.get_data()).get("field") is None):
            problem("hostile", body, path, resp.status_code, text + " (no problem field)")
    no_violations_since(mark)


# -- 1b. stateful: sequences along the document's OpenAPI links ------------------------------


def test_stateful_sequences_along_the_links(hostile: Hostile) -> None:
    """schemathesis' state machine follows the links (a campaign made, then its
    candidates, windows, decisions...), each call with a token of a role it admits."""
    mark = len(TALLY.violations)
    env = hostile.env
    checks = [not_a_server_error, status_code_conformance, content_type_conformance,
              response_schema_conformance]

    class Machine(hostile.schema.as_state_machine()):  # type: ignore[misc]
        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            roles = case.operation.definition.raw.get("x-roles") or []
            return {"headers": env.auth(roles[0])} if roles else {}

        def validate_response(self, response: Any, case: Any,
                              additional_checks: Any = None, **kwargs: Any) -> None:
            TALLY.requests += 1
            TALLY.server_errors += response.status_code >= 500
            raw = body_bytes(case)
            try:
                case.validate_response(response, checks=checks)
            except BaseExceptionGroup as group:
                found = " | ".join(" ".join(str(e).split()) for e in group.exceptions)
                problem("stateful", raw, case.formatted_path, response.status_code,
                        f"{_describe(case, response, raw)}\n    {found[:700]}")
            wrong = check_refusal(response)
            if wrong is not None:
                problem("stateful refusal", raw, case.formatted_path, response.status_code,
                        f"{wrong}: {_describe(case, response, raw)}")

    Machine.run(settings=settings(
        max_examples=EXAMPLES, stateful_step_count=6, derandomize=True,
        deadline=None, database=None, suppress_health_check=list(HealthCheck)))
    no_violations_since(mark)


# -- 2. authentication -------------------------------------------------------------------


def concrete(h: Hostile, route: str) -> str:
    """``route`` with a real id for each path parameter (or a plausible one)."""
    def one(m: re.Match[str]) -> str:
        name = m.group(1)
        if name == "rest":
            return "0/000"
        if name == "notice_id":
            return "nt_none"
        return urllib.parse.quote(h.known.get(name, ["x"])[0], safe="")
    return re.sub(r"\{([a-z_]+)\}", one, route)


def send(h: Hostile, method: str, path: str, **kw: Any) -> TestResponse:
    resp = h.env.client.open(path, method=method.upper(), **kw)
    TALLY.sent(resp)
    return resp


SECURED = [o for o in OPERATIONS if DOC["paths"][o[0]][o[1]]["security"]]


@pytest.mark.parametrize(("route", "method"), SECURED)
def test_tokens_are_enforced(hostile: Hostile, route: str, method: str) -> None:
    """ignored_auth: no token, a made-up one, a role the operation does not admit."""
    mark = len(TALLY.violations)
    path = concrete(hostile, route)
    admitted = DOC["paths"][route][method]["x-roles"]
    tries: list[tuple[dict[str, str], int]] = [
        ({}, 401), ({"Authorization": "Bearer not-a-token"}, 401),
        ({"Authorization": "Basic aHI6aHI="}, 401),
        ({"Authorization": "Bearer " + "x" * 5000}, 401),
        ({"Authorization": "Bearer \x00"}, 401)]
    tries += [(hostile.env.auth(r), 403) for r in ROLES if r not in admitted]
    for headers, want in tries:
        resp = send(hostile, method, path, headers=headers, json={})
        text = f"{method.upper()} {path} with {str(headers)[:60]} -> {resp.status_code}"
        if resp.status_code != want or resp.mimetype != PROBLEM_MEDIA:
            problem("auth", b"", path, resp.status_code, text)
        elif json.loads(resp.get_data()).get("field") != "Authorization":
            problem("auth", b"", path, resp.status_code, text + " without field")
    no_violations_since(mark)


def test_webhook_headers_and_signature(hostile: Hostile) -> None:
    """missing_required_header and a bad signature: 400 or 401 naming the header."""
    mark = len(TALLY.violations)
    env = hostile.env
    raw = json.dumps({"events": [{"id": "h1", "window": "w_x", "kind": "joined",
                                  "at": "2026-11-25T09:00:00+08:00"}]}).encode()
    ts = int(env.now[0].timestamp())
    good = {"webhook-id": "hostile-headers", "webhook-timestamp": str(ts),
            "webhook-signature": sign(env.secret, "hostile-headers", ts, raw),
            "Content-Type": "application/json"}
    variants: list[dict[str, str]] = []
    for name in ("webhook-id", "webhook-timestamp", "webhook-signature"):
        variants.append({k: v for k, v in good.items() if k != name})
        variants.append(good | {name: ""})
        variants.append(good | {name: "\x7f" * 300})
    variants.append(good | {"webhook-signature": "v1," + "A" * 44})
    variants.append(good | {"webhook-timestamp": str(ts - 10_000)})
    variants.append(good | {"webhook-timestamp": "1e9"})
    for headers in variants:
        resp = send(hostile, "POST", WEBHOOK, data=raw, headers=headers)
        text = f"POST {WEBHOOK} with {sorted(headers.items())!r:.200} -> {resp.status_code}"
        if resp.status_code not in (400, 401) or resp.mimetype != PROBLEM_MEDIA:
            problem("webhook header", raw, WEBHOOK, resp.status_code, text)
        elif not json.loads(resp.get_data()).get("field"):
            problem("webhook header", raw, WEBHOOK, resp.status_code, text + " without field")
    no_violations_since(mark)


# -- 3. methods a path does not document ---------------------------------------------------


@pytest.mark.parametrize("route", sorted(DOC["paths"]))
def test_undocumented_methods_are_405_with_allow(hostile: Hostile, route: str) -> None:
    mark = len(TALLY.violations)
    documented = {m.upper() for m in DOC["paths"][route] if m in METHODS}
    path = concrete(hostile, route)
    for method in ("GET", "POST", "PUT", "PATCH", "DELETE", "TRACE"):
        if method in documented:
            continue
        resp = send(hostile, method, path)
        allow = resp.headers.get("Allow", "")
        text = f"{method} {path} -> {resp.status_code}"
        if resp.status_code != 405:
            problem("method", b"", path, resp.status_code, text)
        elif not allow:
            problem("method", b"", path, resp.status_code, text + " without Allow")
        elif not documented <= {a.strip() for a in allow.split(",")}:
            problem("method", b"", path, resp.status_code, f"{text} Allow: {allow}")
    no_violations_since(mark)


# -- 4. the console's forms and the public self-service forms -------------------------------

#: Hostile text: huge, NUL, control characters, other scripts, markup, look-alike numbers.
TEXT = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", " ", "\x00", "\x00" * 4, "\r\n", "\x1b[2J", "\u202e", "\ufeff",
                     "<script>alert(1)</script>", "' OR 1=1 --", "../../etc/passwd",
                     "%00", "1e999", "-1", "0", "99999999999999999999", "NaN", "null",
                     "true", "[]", "{}", "2026-13-45T25:61", "9999-12-31T23:59",
                     "0001-01-01T00:00", "张三", "𠮷野家", "x" * 2000]),
    st.integers(min_value=1000, max_value=300_000).map(lambda n: "\u4e00" * n),
    st.text(alphabet=st.characters(codec="utf-8", categories=["Cc", "Cf", "Zs", "Co"]),
            max_size=30),
)
#: Raw bytes: lone surrogates as UTF-8 (invalid), stray continuation bytes, overlong NUL.
RAW = st.sampled_from([b"\xed\xa0\x80", b"\xed\xbf\xbf", b"\xff\xfe", b"\x80",
                       b"\xc0\x80", b"abc\xed\xa0\x80def", b"\xf4\x90\x80\x80"])
VALUE = st.one_of(TEXT.map(lambda s: s.encode("utf-8", "surrogatepass")), RAW)


@dataclass(frozen=True)
class Form:
    """A POST form: where it is shown (for the CSRF token), where it goes, its fields."""

    role: str | None  # console role, or None for the public self-service forms
    page: str
    action: str
    fields: tuple[str, ...]
    file: bool = False


def forms_of(h: Hostile) -> list[Form]:
    k = h.known
    c, w, appeal, subject = k["campaign"][0], k["window"][0], k["appeal"][0], k["subject"][0]
    return [
        Form(None, "/console/sign-in", "/console/sign-in", ("login", "password")),
        Form("hr", f"/console/windows/{w}", f"/console/windows/{w}/accommodation",
             ("kind", "reason", "closes_at", "opens_at", "backup_slot")),
        Form("hr", f"/console/campaigns/{c}/import", f"/console/campaigns/{c}/import",
             (), file=True),
        Form("hr", f"/console/campaigns/{c}/notice", f"/console/campaigns/{c}/notice",
             ("days", "supersedes")),
        Form("hr", "/console/campaigns", f"/console/candidates/{subject}/contact", ()),
        Form("reviewer", f"/console/campaigns/{c}/reviews", f"/console/campaigns/{c}/reviews",
             ("decision", "ruling", "opens_at", "closes_at", "reason", "confirm",
              "backup_slot")),
        Form("reviewer", f"/console/campaigns/{c}/reviews", f"/console/campaigns/{c}/alerts",
             ("alert", "opens_at", "closes_at", "confirm", "backup_slot")),
        Form("reviewer", f"/console/appeals/{appeal}", f"/console/appeals/{appeal}/ruling",
             ("ruling", "opens_at", "closes_at", "reason", "backup_slot")),
        Form("hr", f"/console/campaigns/{c}/schedule", f"/console/campaigns/{c}/backup-slots",
             ("bs_opens", "bs_closes", "bs_capacity", "bs_slot")),
        Form("hr", f"/console/campaigns/{c}/schedule",
             f"/console/campaigns/{c}/backup-slots/withdrawal", ("slot",)),
        Form(None, "/status", "/status", ("campaign", "registration", "factor")),
        Form(None, "/status", "/appeal",
             ("campaign", "registration", "factor", "ground", "statement")),
        Form(None, "/status", "/statement",
             ("campaign", "registration", "factor", "objection", "statement")),
    ]


FORM_IDS = ["sign-in", "accommodation", "import", "notice", "contact", "review",
            "mass-makeup", "appeal-ruling", "backup-slot", "backup-slot-withdrawal", "status",
            "appeal", "statement"]


def real_values(h: Hostile) -> dict[str, list[str]]:
    k = h.known
    return {"campaign": k["campaign"], "decision": k["decision"], "alert": k["alert"],
            "ruling": ["confirmed", "makeup_granted", "upheld", "overturned"],
            "kind": ["extended", "alternate_slot"], "ground": ["technical", "other"],
            "opens_at": ["2026-11-25T12:00"], "closes_at": ["2026-11-25T14:00"],
            "days": ["5"], "confirm": ["yes"], "login": ["hr.hostile"],
            "backup_slot": ["b1", "*"], "bs_capacity": ["3", "²", "٣"],
            "bs_opens": ["2026-11-25T12:00"], "bs_closes": ["2026-11-25T14:00"],
            "registration": k["registration"]}


def csrf_for(client: Any, form: Form) -> tuple[str, str]:
    """(field name, token) for ``form``: a console session has one token for all its
    forms (its home page shows it); the public forms have theirs."""
    shown = client.get(form.page if form.role is None else "/console/")
    assert shown.status_code == 200, (form.page, shown.status_code)
    html = shown.get_data(as_text=True)
    m = re.search(r'name="(csrf_token|form_token)" value="([^"]+)"', html)
    assert m is not None, form.page
    return m.group(1), m.group(2)


@pytest.mark.slow
@pytest.mark.parametrize("which", range(len(FORM_IDS)), ids=FORM_IDS)
def test_forms_answer_hostile_values_with_a_4xx_page(hostile: Hostile, which: int) -> None:
    mark = len(TALLY.violations)
    form = forms_of(hostile)[which]
    client = (hostile.clients[form.role] if form.role is not None
              else hostile.env.app.test_client())
    token_field, token = csrf_for(client, form)
    real = real_values(hostile)

    def field_value(name: str) -> st.SearchStrategy[list[bytes]]:
        one = st.one_of(VALUE, st.sampled_from(real.get(name, ["x"])).map(str.encode))
        # missing (0), once, or repeated with different values
        return st.lists(one, min_size=0, max_size=3)

    fields = (*form.fields, token_field, "lang")

    @settings(max_examples=FORM_EXAMPLES, derandomize=True, deadline=None, database=None,
              phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(values=st.fixed_dictionaries({f: field_value(f) for f in fields}),
           keep_token=st.booleans(), extra=st.lists(st.tuples(VALUE, VALUE), max_size=2),
           upload=VALUE)
    def run(values: dict[str, list[bytes]], keep_token: bool,
            extra: list[tuple[bytes, bytes]], upload: bytes) -> None:
        if keep_token:  # most of the time a valid CSRF token, to reach the handler
            values[token_field] = [token.encode()]
        pairs = [(k.encode(), v) for k, vs in values.items() for v in vs] + extra
        if form.file:
            data: dict[str, Any] = {k.decode("utf-8", "replace"): v.decode(
                "utf-8", "replace") for k, v in pairs}
            data["file"] = (io.BytesIO(upload * 3 + b"\nregistration,name\n" + upload),
                            "c\x00.csv")
            resp = client.post(form.action, data=data, content_type="multipart/form-data")
            raw = upload
        else:
            raw = urllib.parse.urlencode(pairs).encode()
            resp = client.post(form.action, data=raw,
                               content_type="application/x-www-form-urlencoded")
        TALLY.sent(resp)
        text = f"POST {form.action} {raw[:300]!r} -> {resp.status_code}"
        if resp.status_code >= 500:
            problem("form 5xx", raw, form.action, resp.status_code, text)
        elif resp.status_code >= 400 and resp.status_code not in (413,) and (
                resp.mimetype != "text/html"):
            problem("form refusal", raw, form.action, resp.status_code,
                    f"{text} as {resp.mimetype}")

    run()
    no_violations_since(mark)


def test_console_csrf_and_sign_out_under_hostile_tokens(hostile: Hostile) -> None:
    """A forged or hostile CSRF token is a 4xx page on every console POST, never a 5xx."""
    mark = len(TALLY.violations)
    for form in forms_of(hostile):
        client = (hostile.clients[form.role] if form.role is not None
                  else hostile.env.app.test_client())
        for bad in (b"", b"\x00", b"\xed\xa0\x80", b"A" * 100_000, b"x" * 43):
            raw = urllib.parse.urlencode([(b"csrf_token", bad), (b"form_token", bad)]).encode()
            resp = client.post(form.action, data=raw,
                               content_type="application/x-www-form-urlencoded")
            TALLY.sent(resp)
            if not 400 <= resp.status_code < 500 or resp.mimetype != "text/html":
                problem("csrf", raw, form.action, resp.status_code,
                        f"POST {form.action} token={bad[:20]!r} -> {resp.status_code} "
                        f"{resp.mimetype}")
    no_violations_since(mark)
