"""A candidate's public lookup (registration number + verification factor), end to end.

The JSON API (``POST /api/v1/campaigns/C/status``, ``…/appeals``) and the HTML form
(``/status``) on SQLite and PostgreSQL: malformed factors are refused before anything is
compared; a wrong factor, an unknown and an erased registration get the same answer
after the same work; many addresses guessing one candidate share one count; registration
numbers are case-insensitive; the appeal digest in the ledger is keyed; personal-data
reads return what their purpose needs, and reviewers read only cases under review.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask.testing import FlaskClient
from sqlalchemy import event

from ledger.absence.rebuild import check_rebuild, rebuild
from ledger.absence.service import STATEMENT_MAC_INFO
from ledger.absence.vault import PersonalDetails, SealedPerson, Vault
from ledger.app.web import selfservice
from ledger.app.web.ratelimit import (
    REGISTRATION_PER_15_MIN,
    REGISTRATION_PER_DAY,
    RateLimiter,
    SharedRateLimiter,
    client_key,
    registration_limiters,
)
from ledger.storage.store import NewEntry
from tests.functional._absence import LOG, T0, Env, J, id_number, make_env, problem
from tests.functional.test_absence_api import (
    CLOSES_MIN,
    GOV_PLAN,
    GRACE_MIN,
    Flow,
    government_flow,
)

STATUS = "/api/v1/campaigns/c2026/status"
APPEALS = "/api/v1/campaigns/c2026/appeals"


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def env(tmp_path: Path, db_url: str) -> Iterator[Env]:
    with make_env(tmp_path, db_url) as e:
        e.app.extensions["absentia.rate_limiter"] = RateLimiter(10_000, 60)
        # No limit per registration number but in the tests of that limit (and of the
        # work a lookup does), which set the real ones on the test's clock.
        e.app.extensions["absentia.registration_limiters"] = ()
        yield e


def wrong(factor: str) -> str:
    """A well-formed factor that is not ``factor``."""
    return "0000" if factor != "0000" else "1111"


def appeal(reg: str, factor: Any) -> dict[str, Any]:
    return {"registration": reg, "factor": factor, "ground": "technical",
            "statement": "网络中断 (network down)"}


def erased_flow(env: Env) -> Flow:
    """Three decided candidates (all absent); the second one erased."""
    flow = Flow(env, 3)
    flow.decide(CLOSES_MIN + GRACE_MIN)
    resp = env.post(f"/api/v1/candidates/{flow.subject[flow.regs[1]]}/erasure", "hr",
                    {"reason": "request"})
    assert resp.status_code == 200, J(resp)
    return flow


def form_client(env: Env) -> FlaskClient:
    """A browser for the self-service pages."""
    if "selfservice" not in env.app.blueprints:  # until ledger.app.web registers it
        env.app.register_blueprint(selfservice.bp)
    return env.app.test_client()


def form_token(browser: FlaskClient) -> str:
    """GET the form; its hidden token (the cookie now holds the same value)."""
    page = browser.get("/status?campaign=c2026").get_data(as_text=True)
    return page.split('name="form_token" value="')[1].split('"')[0]


# -- 1. malformed factors; erased is no match --------------------------------------------


def test_nul_factor_opens_no_record_and_is_refused_as_malformed(env: Env) -> None:
    """Four NULs gave 200 and the full status for an erased candidate, a 500 for an
    unknown number: now a 400 naming the factor, whoever the number belongs to."""
    flow = erased_flow(env)
    nul = "\u0000" * 4
    for reg in (flow.regs[1], "R99-99999", flow.regs[0]):  # erased, unknown, known
        problem(env.client.post(STATUS, json={"registration": reg, "factor": nul}),
                400, "factor")
        problem(env.client.post(APPEALS, json=appeal(reg, nul)), 400, "factor")
        # The form says what to type, and shows no status.
        browser = form_client(env)
        page = browser.post("/status", data={
            "form_token": form_token(browser), "campaign": "c2026", "registration": reg,
            "factor": nul})
        assert page.status_code == 400
        assert "factor" in page.get_data(as_text=True)
    assert not any(e["type"] == "appeal.filed" for e in env.ledger_entries())


def test_only_well_formed_factors_are_compared(env: Env) -> None:
    flow = erased_flow(env)
    reg, factor = flow.regs[0], flow.rows[0]["id_number"][-4:]
    malformed: list[Any] = ["", "123", "12345", "X123", "12 X 4x", "abcd", "１２３", "12-4",
                            "\u00001234", "1234\u0000", "12\u200b34", 1234, None, [],
                            {"f": 1}]
    for bad in malformed:
        problem(env.client.post(STATUS, json={"registration": reg, "factor": bad}),
                400, "factor")
    # Typed as people type: spaces around, full-width digits, a lower-case x.
    fullwidth = "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in factor)
    for good in (f" {factor} ", fullwidth, factor.lower()):
        resp = env.client.post(STATUS, json={"registration": reg, "factor": good})
        assert resp.status_code == 200, (good, J(resp))
    # A malformed registration number is refused as such (its grammar is public).
    for bad_reg in ("", "R1", "R0 \u3000", "R01-0000\u0000", 5, None):
        problem(env.client.post(STATUS, json={"registration": bad_reg, "factor": factor}),
                400, "registration")


def test_wrong_unknown_and_erased_get_one_answer(env: Env) -> None:
    flow = erased_flow(env)
    erased_factor = flow.rows[1]["id_number"][-4:]
    answers = [
        env.client.post(STATUS, json={"registration": flow.regs[0],
                                      "factor": wrong(flow.rows[0]["id_number"][-4:])}),
        env.client.post(STATUS, json={"registration": "R99-99999", "factor": "1234"}),
        # The erased candidate's own, right factor: erased is no match.
        env.client.post(STATUS, json={"registration": flow.regs[1], "factor": erased_factor}),
    ]
    bodies = [{k: v for k, v in problem(r, 403, "factor").items() if k != "instance"}
              for r in answers]
    assert bodies[0] == bodies[1] == bodies[2]
    assert len({tuple(sorted(dict(r.headers))) for r in answers}) == 1


# -- 5. the same work whether the number is known or not ---------------------------------


def test_known_unknown_and_erased_numbers_do_the_same_work(env: Env) -> None:
    """Counted on the real code path: each failed lookup opens one vault record (a decoy
    when there is none) and runs the same SQL statements, in the same order."""
    flow = erased_flow(env)
    env.app.extensions["absentia.registration_limiters"] = registration_limiters(
        env.store, Clock(T0.timestamp()))
    opened: list[str] = []
    vault = env.service.vault
    real_open = vault.open

    def counting_open(subject: str, sealed: SealedPerson) -> PersonalDetails:
        opened.append(subject)
        return real_open(subject, sealed)

    statements: list[str] = []

    def on_execute(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    vault.open = counting_open  # type: ignore[method-assign]
    event.listen(env.store.engine, "before_cursor_execute", on_execute)
    try:
        # Warm up: the first attempt of a rate-limit window also purges old windows.
        env.client.post(STATUS, json={"registration": "R98-00000", "factor": "1234"})
        work = []
        for reg, factor in ((flow.regs[0], wrong(flow.rows[0]["id_number"][-4:])),
                            ("R99-99999", "1234"),
                            (flow.regs[1], flow.rows[1]["id_number"][-4:])):
            opened.clear()
            statements.clear()
            resp = env.client.post(STATUS, json={"registration": reg, "factor": factor})
            assert resp.status_code == 403
            work.append((len(opened), list(statements)))
    finally:
        event.remove(env.store.engine, "before_cursor_execute", on_execute)
        del vault.open
    assert [n for n, _ in work] == [1, 1, 1]
    assert work[0][1] == work[1][1] == work[2][1]
    assert work[0][1]  # the lookup did query the database


# -- 6. a limit per registration number ---------------------------------------------------


def test_many_addresses_guessing_one_candidate_share_one_count(env: Env) -> None:
    flow = Flow(env, 2)
    clock = Clock(T0.timestamp())
    env.app.extensions["absentia.registration_limiters"] = registration_limiters(
        env.store, clock)
    reg, factor = flow.regs[0], flow.rows[0]["id_number"][-4:]
    guesses = [f"{n:04d}" for n in range(10_000) if f"{n:04d}" != factor]
    statuses = []
    for i in range(50):  # 50 addresses, one guess each; every other one in lower case
        spelling = reg if i % 2 else reg.lower()
        resp = env.client.post(STATUS, json={"registration": spelling, "factor": guesses[i]},
                               environ_base={"REMOTE_ADDR": f"198.51.100.{i + 1}"})
        statuses.append(resp.status_code)
        if resp.status_code == 429:
            problem(resp, 429)
    assert statuses == [403] * REGISTRATION_PER_15_MIN + [429] * (50 - REGISTRATION_PER_15_MIN)
    # The right factor is refused too (every attempt counts before it is compared)...
    assert env.client.post(STATUS, json={"registration": reg, "factor": factor},
                           environ_base={"REMOTE_ADDR": "203.0.113.1"}).status_code == 429
    # ...the appeal endpoint and the HTML form share the count...
    problem(env.client.post(APPEALS, json=appeal(reg, factor),
                            environ_base={"REMOTE_ADDR": "203.0.113.2"}), 429)
    browser = form_client(env)
    form = browser.post("/status", data={"form_token": form_token(browser),
                                         "campaign": "c2026", "registration": reg,
                                         "factor": factor},
                        environ_base={"REMOTE_ADDR": "203.0.113.3"})
    assert form.status_code == 429
    # ...while another candidate is not affected.
    other = env.client.post(STATUS, json={"registration": flow.regs[1],
                                          "factor": flow.rows[1]["id_number"][-4:]},
                            environ_base={"REMOTE_ADDR": "198.51.100.1"})
    assert other.status_code == 200
    # The next 15 minutes allow 10 more, until the day's 30 are used.
    counted = REGISTRATION_PER_15_MIN
    while counted < REGISTRATION_PER_DAY:
        clock.t += 900
        for j in range(REGISTRATION_PER_15_MIN):
            resp = env.client.post(STATUS, json={"registration": reg,
                                                 "factor": guesses[counted + j]},
                                   environ_base={"REMOTE_ADDR": f"192.0.2.{j + 1}"})
            assert resp.status_code == 403, (counted, j)
        counted += REGISTRATION_PER_15_MIN
    clock.t += 900
    assert env.client.post(STATUS, json={"registration": reg, "factor": factor},
                           environ_base={"REMOTE_ADDR": "192.0.2.200"}).status_code == 429
    clock.t += 86400  # the next day
    assert env.client.post(STATUS, json={"registration": reg, "factor": factor},
                           environ_base={"REMOTE_ADDR": "192.0.2.201"}).status_code == 200


def test_ipv6_clients_are_counted_by_their_64(env: Env) -> None:
    env.campaign("c2026")
    env.app.extensions["absentia.rate_limiter"] = SharedRateLimiter(
        env.store, 3, 60.0, clock=Clock(T0.timestamp()))

    def attempt(addr: str, i: int) -> int:
        return env.client.post(STATUS, json={"registration": f"R77-{i:05d}", "factor": "1234"},
                               environ_base={"REMOTE_ADDR": addr}).status_code

    one_64 = ["2001:db8:1:2::1", "2001:db8:1:2::2", "2001:db8:1:2:abcd::9",
              "2001:db8:1:2:ffff:ffff:ffff:ffff"]
    assert [attempt(a, i) for i, a in enumerate(one_64)] == [403, 403, 403, 429]
    assert attempt("2001:db8:1:3::1", 10) == 403  # the next /64 is another client
    assert client_key("2001:db8:1:2::1") == client_key("2001:DB8:1:2:ffff::1") == \
        "2001:db8:1:2::/64"
    assert client_key("::ffff:192.0.2.7") == client_key("192.0.2.7") == "192.0.2.7"
    assert client_key("?") == "?"


# -- 10c. case-insensitive registration numbers ------------------------------------------


def one_candidate_csv(registration: str, seed: int) -> tuple[bytes, str]:
    number = id_number(random.Random(seed))
    return (("registration,name,id_number,phone,email,post\n"
             f"{registration},张明,{number},,c{seed}@example.com,p01\n").encode(), number)


def test_registration_numbers_are_case_insensitive(env: Env) -> None:
    env.campaign("c2026")
    data, number = one_candidate_csv("HR26-01699", 1)
    assert env.import_csv("c2026", data).status_code == 201
    # Another person under the same number in another case: refused, row by row.
    clash, _ = one_candidate_csv("hr26-01699", 2)
    resp = env.import_csv("c2026", clash)
    body = problem(resp, 422, "rows")
    assert body["errors"] == [{"row": 1, "field": "registration",
                               "message": "already registered in this campaign"}]
    assert len(J(env.get("/api/v1/campaigns/c2026/candidates", "hr"))) == 1
    # Either spelling finds the candidate.
    for spelling in ("HR26-01699", "hr26-01699", "Hr26-01699 "):
        resp = env.client.post(STATUS, json={"registration": spelling,
                                             "factor": number[-4:]})
        assert resp.status_code == 200, (spelling, J(resp))
        assert J(resp)["registration"] == "HR26-01699"  # as registered
    result = check_rebuild(env.store, LOG)
    assert result.equal, result.differences


# -- 10a. a keyed digest of the appeal statement ------------------------------------------


def test_appeal_entry_holds_a_keyed_digest_and_old_entries_replay(env: Env) -> None:
    flow = Flow(env, 2)
    flow.decide(CLOSES_MIN + GRACE_MIN)
    statement = "网络中断，无法进入面试 (network down)"
    resp = env.client.post(APPEALS, json={**appeal(flow.regs[0],
                                                   flow.rows[0]["id_number"][-4:]),
                                          "statement": statement})
    assert resp.status_code == 201, J(resp)
    entry = env.ledger_entries()[J(resp)["ledger_index"]]
    master = Vault.load_or_create_master_key(env.service.cfg.master_key_path)
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
               info=STATEMENT_MAC_INFO).derive(master)
    expected = hmac.new(key, statement.encode(), hashlib.sha256).hexdigest()
    assert entry["type"] == "appeal.filed"
    assert entry["body"]["statement_hmac"] == expected
    assert "statement_sha256" not in entry["body"]
    plain = hashlib.sha256(statement.encode()).hexdigest()
    assert all(plain not in json.dumps(e) for e in env.ledger_entries())

    # An appeal recorded by an earlier release (plain SHA-256) still replays.
    decision = flow.decisions()[flow.window[flow.regs[1]]]["decision"]
    old_digest = hashlib.sha256(b"an old statement").hexdigest()
    env.service.record(env.now[0], lambda conn: [NewEntry("appeal.filed", "candidate", {
        "appeal": "a_old", "decision": decision, "subject": flow.subject[flow.regs[1]],
        "ground": "other", "statement_sha256": old_digest})])
    listed = {a["appeal"]: a for a in J(env.get("/api/v1/campaigns/c2026/appeals", "hr"))}
    assert (listed[J(resp)["appeal"]]["statement_hmac"],
            listed[J(resp)["appeal"]]["statement_sha256"]) == (expected, None)
    assert (listed["a_old"]["statement_hmac"], listed["a_old"]["statement_sha256"]) == (
        None, old_digest)
    rebuild(env.store, LOG, env.now[0])
    result = check_rebuild(env.store, LOG)
    assert result.equal, result.differences


# -- 10b. personal data by purpose ---------------------------------------------------------


def test_personal_data_returns_what_the_purpose_needs(env: Env) -> None:
    flow, _ = government_flow(env)
    pending = next(i for i, p in enumerate(GOV_PLAN) if p[1] == "makeup_pending_review")
    attended = next(i for i, p in enumerate(GOV_PLAN) if p[1] == "attended")
    forfeited = next(i for i, p in enumerate(GOV_PLAN) if p[1] == "forfeited")

    def read(i: int, role: str, purpose: str) -> Any:
        return env.get(f"/api/v1/candidates/{flow.subject[flow.regs[i]]}/personal-data"
                       f"?purpose={purpose}", role)

    contact = read(pending, "hr", "contact")
    assert contact.status_code == 200
    assert set(J(contact)) == {"subject", "name", "phone", "email", "access_recorded_at"}
    audit = read(pending, "hr", "audit")
    assert set(J(audit)) == {"subject", "name", "id_number", "access_recorded_at"}
    # A reviewer reads a case under review, and nothing else.
    review = read(pending, "reviewer", "review")
    assert review.status_code == 200
    assert J(review)["id_number"] == flow.rows[pending]["id_number"]
    for purpose in ("review", "appeal"):
        body = problem(read(attended, "reviewer", purpose), 403, "purpose")
        assert "no decision pending review and no open appeal" in body["detail"]
        problem(read(forfeited, "reviewer", purpose), 403, "purpose")
    # An open appeal puts a case under review, until it is ruled.
    env.clock(minutes=CLOSES_MIN + GRACE_MIN + 60)
    filed = env.client.post(APPEALS, json=appeal(flow.regs[forfeited],
                                                 flow.rows[forfeited]["id_number"][-4:]))
    assert filed.status_code == 201, J(filed)
    assert read(forfeited, "reviewer", "appeal").status_code == 200
    ruled = env.post(f"/api/v1/appeals/{J(filed)['appeal']}/ruling", "reviewer",
                     {"ruling": "upheld"})
    assert ruled.status_code == 200, J(ruled)
    problem(read(forfeited, "reviewer", "review"), 403, "purpose")
    # What each read returned is what the ledger says was read.
    viewed = [(e["body"]["purpose"], e["body"]["fields"]) for e in env.ledger_entries()
              if e["type"] == "pii.viewed"]
    assert viewed == [("contact", "email,name,phone"), ("audit", "id_number,name"),
                      ("review", "email,id_number,name,phone"),
                      ("appeal", "email,id_number,name,phone")]
