"""Reviews and rulings are deliberate (issue 13 item 5), through the console's forms.

The review card shows the evidence (platform events, notifications and receipts, the
rule); confirming a forfeiture or a mass make-up needs a ticked box and (for a
forfeiture) a reason, recorded in the entry and shown to the candidate; an appeal
ruling has no default and needs a reason; ruled appeals stay listed as history; a TOTP
recovery code signs in once.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest
from flask.testing import FlaskClient

from ledger.absence.tables import appeals as appeals_table
from ledger.absence.tables import decisions as decisions_table
from tests.functional._absence import make_env
from tests.functional.test_console_hr import (
    CAMPAIGN,
    Built,
    accounts,
    build,
    error_of,
    reviewer_client,
    submit,
    text,
    why,
)
from tests.functional.test_console_signin import (
    PASSWORD,
    SECRET_RE,
    csrf_of,
    sign_in,
)

CODES_RE = re.compile(r"<li><code>([A-Z2-7]{5}-[A-Z2-7]{5})</code></li>")
REASON = "平台记录显示考生未进入面试，且无故障报告"


@pytest.fixture
def built(tmp_path: Path, db_url: str) -> Iterator[Built]:
    with make_env(tmp_path, db_url) as env:
        yield build(env)


def status_page(built: Built, registration: str) -> str:
    """The candidate's own status page (the public HTML form)."""
    row = next(r for r in built.rows if r["registration"] == registration)
    browser = built.env.app.test_client()
    page = browser.get(f"/status?campaign={CAMPAIGN}").get_data(as_text=True)
    token = page.split('name="form_token" value="')[1].split('"')[0]
    resp = browser.post("/status", data={"form_token": token, "campaign": CAMPAIGN,
                                         "registration": registration,
                                         "factor": row["id_number"][-4:]})
    assert resp.status_code == 200, resp.status_code
    return text(resp)


def test_review_card_shows_the_evidence_in_words(built: Built) -> None:
    rev, _ = reviewer_client(built.env)
    page = text(rev.get(f"/console/campaigns/{CAMPAIGN}/reviews"))
    case = page.split('class="case"', 1)[1]
    assert "面试平台报告" in case
    assert "连接失败" in case
    assert "已发送的通知及回执" in case
    assert "面试邀请" in case
    assert "认定依据" in case
    # No raw codes in the evidence tables (the explanation is the recorded text).
    tables = case.split("<h4>", 2)[2].split("</section>")[0]
    assert "connection_failed" not in tables
    assert "北京时间" in case  # times at the campaign's wall clock, named
    # The two actions look different: the irreversible one is the danger button.
    assert 'class="danger" id="confirm-1"' in case
    assert 'id="makeup-1"' in case
    assert 'class="danger" id="makeup-1"' not in case
    assert 'name="confirm" value="yes" required' in case


def test_confirming_needs_the_box_and_a_reason_shown_to_the_candidate(built: Built) -> None:
    env = built.env
    rev, _ = reviewer_client(env)
    page = f"/console/campaigns/{CAMPAIGN}/reviews"
    d = env.service.decisions(CAMPAIGN, pending_review=True)[0]
    before = len(built.entries("decision.reviewed"))
    no_box = submit(rev, page, page, {"decision": d["decision"], "ruling": "confirmed",
                                      "reason": REASON})
    assert no_box.status_code == 400
    assert "confirm" in error_of(no_box)
    no_reason = submit(rev, page, page, {"decision": d["decision"], "ruling": "confirmed",
                                         "confirm": "yes", "reason": "  "})
    assert no_reason.status_code == 400
    assert "reason" in error_of(no_reason)
    too_long = submit(rev, page, page, {"decision": d["decision"], "ruling": "confirmed",
                                        "confirm": "yes", "reason": "理" * 201})
    assert too_long.status_code == 400
    assert "reason" in error_of(too_long)
    assert len(built.entries("decision.reviewed")) == before  # nothing recorded
    done = submit(rev, page, page, {"decision": d["decision"], "ruling": "confirmed",
                                    "confirm": "yes", "reason": REASON})
    assert done.status_code == 303, why(done)
    entry = built.entries("decision.reviewed")[-1]
    assert entry["body"] == {"decision": d["decision"], "ruling": "confirmed",
                             "reason": REASON}
    assert env.service.decision(d["decision"])["review_reason"] == REASON
    # The projection is rebuilt from the entry: the reason survives a replay.
    with env.service.engine.connect() as conn:
        stored = conn.execute(decisions_table.select().where(
            decisions_table.c.decision == d["decision"])).one()
    assert stored.review_reason == REASON
    # The candidate sees it on their status page.
    shown = status_page(built, d["registration"])
    assert "复核理由" in shown
    assert REASON in shown


def test_mass_makeup_needs_the_box(built: Built) -> None:
    env = built.env
    rev, _ = reviewer_client(env)
    page = f"/console/campaigns/{CAMPAIGN}/reviews"
    alert = next(a for a in env.service.alerts(CAMPAIGN) if a["kind"] == "platform_outage")
    shown = text(rev.get(page))
    opens = re.search(r'name="opens_at"[^>]*value="([^"]+)"', shown)
    closes = re.search(r'name="closes_at"[^>]*value="([^"]+)"', shown)
    assert opens is not None
    assert closes is not None
    data = {"alert": alert["alert"], "opens_at": opens.group(1),
            "closes_at": closes.group(1)}
    refused = submit(rev, page, f"/console/campaigns/{CAMPAIGN}/alerts", data)
    assert refused.status_code == 400
    assert "confirm" in error_of(refused)
    assert not built.entries("alert.resolved")
    done = submit(rev, page, f"/console/campaigns/{CAMPAIGN}/alerts",
                  {**data, "confirm": "yes"})
    assert done.status_code == 303, why(done)
    assert built.entries("alert.resolved")


def test_appeal_ruling_has_no_default_needs_a_reason_and_stays_as_history(
        built: Built) -> None:
    env = built.env
    rev, user = reviewer_client(env)
    appeal = env.service.appeals(CAMPAIGN)[0]["appeal"]
    page = f"/console/appeals/{appeal}"
    shown = text(rev.get(page))
    radios = re.findall(r'<input type="radio" name="ruling"[^>]*>', shown)
    assert len(radios) == 2
    assert not any("checked" in r for r in radios)  # no preselected ruling
    no_ruling = submit(rev, page, f"{page}/ruling", {"reason": "理由"})
    assert no_ruling.status_code == 400
    assert "ruling" in error_of(no_ruling)
    no_reason = submit(rev, page, f"{page}/ruling", {"ruling": "upheld"})
    assert no_reason.status_code == 400
    assert "reason" in error_of(no_reason)
    assert not built.entries("appeal.ruled")
    listing = f"/console/campaigns/{CAMPAIGN}/appeals"
    assert 'id="no-ruled"' in text(rev.get(listing))
    done = submit(rev, page, f"{page}/ruling", {"ruling": "upheld",
                                                "reason": "平台日志显示连接正常"})
    assert done.status_code == 303, why(done)
    ruled = built.entries("appeal.ruled")[-1]
    assert ruled["body"] == {"appeal": appeal, "ruling": "upheld",
                             "reason": "平台日志显示连接正常"}
    with env.service.engine.connect() as conn:
        row = conn.execute(appeals_table.select().where(
            appeals_table.c.appeal == appeal)).one()
    assert (row.ruled_by, row.ruling_reason) == (f"reviewer:{user}", "平台日志显示连接正常")
    history = text(rev.get(listing))
    assert "已裁决" in history
    table = history.split('id="ruled-appeals"', 1)[1]
    assert appeal in table
    assert "维持原认定" in table
    assert "平台日志显示连接正常" in table
    assert user in table
    assert "没有待处理的申诉" in history  # none open any more


def _enrol_with_codes(built: Built, client: FlaskClient, login: str) -> tuple[str, list[str]]:
    env = built.env
    accounts(env).create_user(login, PASSWORD, "reviewer", env.now[0])
    assert sign_in(client, login, PASSWORD).headers["Location"] == "/console/sign-in/enrol"
    page = client.get("/console/sign-in/enrol")
    m = SECRET_RE.search(text(page))
    assert m is not None
    secret = m.group(1).replace(" ", "")
    done = client.post("/console/sign-in/enrol", data={
        "csrf_token": csrf_of(page), "code": pyotp.TOTP(secret).at(env.now[0])})
    assert done.status_code == 200
    codes = CODES_RE.findall(text(done))
    assert len(codes) == 10
    assert "剩余可用恢复码：10 个" in text(done)
    return secret, codes


def _sign_out(client: FlaskClient) -> None:
    home = client.get("/console/")
    client.post("/console/sign-out", data={"csrf_token": csrf_of(home)})


def test_sign_in_with_a_recovery_code_works_once(built: Built) -> None:
    env = built.env
    client = env.app.test_client()
    _, codes = _enrol_with_codes(built, client, "rev.recover")
    _sign_out(client)
    assert sign_in(client, "rev.recover", PASSWORD).headers["Location"] == \
        "/console/sign-in/totp"
    totp = client.get("/console/sign-in/totp")
    assert "恢复码" in text(totp)
    used = client.post("/console/sign-in/totp", data={"csrf_token": csrf_of(totp),
                                                      "code": codes[0]})
    assert used.status_code == 303
    assert used.headers["Location"] == "/console/"
    assert client.get("/console/").status_code == 200
    assert "剩余可用恢复码：9 个" in text(client.get("/console/recovery-codes"))
    signed = [e for e in env.ledger_entries() if e["type"] == "user.signed_in"]
    assert signed[-1]["body"]["second_factor"] == "recovery_code"
    _sign_out(client)
    sign_in(client, "rev.recover", PASSWORD)
    totp = client.get("/console/sign-in/totp")
    again = client.post("/console/sign-in/totp", data={"csrf_token": csrf_of(totp),
                                                       "code": codes[0]})
    assert again.status_code == 200  # asked again: the code is spent
    assert client.get("/console/").headers.get("Location") == "/console/sign-in/totp"
    failed = [e for e in env.ledger_entries() if e["type"] == "user.sign_in_failed"]
    assert failed[-1]["body"]["reason"] == "bad_recovery_code"


def test_recovery_codes_can_be_regenerated(built: Built) -> None:
    client = built.env.app.test_client()
    _, codes = _enrol_with_codes(built, client, "rev.regen")
    page = "/console/recovery-codes"
    shown = client.get(page)
    assert CODES_RE.findall(text(shown)) == []  # shown once only
    fresh = client.post(page, data={"csrf_token": csrf_of(shown)})
    assert fresh.status_code == 200
    new = CODES_RE.findall(text(fresh))
    assert len(new) == 10
    assert not set(new) & set(codes)
    assert client.post(page, data={}).status_code == 400  # CSRF
