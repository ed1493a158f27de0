"""The candidate states their case (陈述、申辩) on an objection on their own status page,
on SQLite and PostgreSQL: HR invites them through the API; the page tells them of the
objection (its grounds category, never the objector or what they wrote) and by when to
answer; the form records ``objection.statement_received`` with channel ``web`` through
the use case HR uses (sealed in the vault, no plaintext in the ledger); then the
invitation is gone.  After ``respond_by`` the page says the time has passed and a late
submission is refused; a wrong factor gets the status form's refusal."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from ledger.absence.outbox import dispatch
from ledger.app.web.ratelimit import RateLimiter
from ledger.entry import parse_utc
from tests.functional._absence import Env
from tests.functional._mail import MailServer, serve_mail
from tests.functional.test_notices import js
from tests.functional.test_objections import form_token, published
from tests.functional.test_outbox import GatewayHandler, GatewayServer, channels

CAMPAIGN = "c2026"
OBJECTOR, CONTACT = "李建国", "lijianguo@example.net"
ACCUSATION = "电话反映：该考生学历造假。"
DEFENCE = "本人学历真实，学信网可查。\n请核实。"
ZONE = ZoneInfo("Asia/Shanghai")
Invited = tuple[Env, list[dict[str, str]], str, str]


@pytest.fixture
def invited(env: Env) -> Invited:
    """A published notice, an objection about candidate 1 entered by HR, acknowledged
    and the candidate invited: (env, the candidates' rows, objection, respond_by)."""
    env.app.extensions["absentia.rate_limiter"] = RateLimiter(1000, 60)
    notice, rows = published(env)
    row = rows[1]
    resp = env.post(f"/api/v1/notices/{notice}/objections/received", "hr", {
        "name": OBJECTOR, "contact": CONTACT, "ground": "qualification",
        "statement": ACCUSATION, "registration": row["registration"], "channel": "phone"})
    assert resp.status_code == 201, js(resp)
    ref = js(resp)["objection"]
    env.clock(env.now[0] + timedelta(hours=1))
    assert env.post(f"/api/v1/objections/{ref}/acknowledgement", "hr").status_code == 200
    resp = env.post(f"/api/v1/objections/{ref}/statement-invitation", "hr", {})
    assert resp.status_code == 200, js(resp)
    return env, rows, ref, js(resp)["respond_by"]


@pytest.fixture
def mail() -> Iterator[MailServer]:
    with serve_mail() as server:
        yield server


@pytest.fixture
def sms() -> Iterator[GatewayServer]:
    server = GatewayServer(("127.0.0.1", 0), GatewayHandler)
    server.status, server.requests, server.issued = 200, [], []
    server.lock = threading.Lock()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def status_page(client: FlaskClient, row: dict[str, str], factor: str | None = None,
                lang: str = "zh") -> TestResponse:
    html = client.get(f"/status?campaign={CAMPAIGN}&lang={lang}").get_data(as_text=True)
    return client.post("/status", data={
        "form_token": form_token(html), "campaign": CAMPAIGN, "lang": lang,
        "registration": row["registration"], "factor": factor or row["id_number"][-4:]})


def state(client: FlaskClient, page: str, row: dict[str, str], ref: str, text: str,
          factor: str | None = None) -> TestResponse:
    return client.post("/statement", data={
        "form_token": form_token(page), "campaign": CAMPAIGN, "lang": "zh",
        "registration": row["registration"], "objection": ref, "statement": text,
        "factor": factor or row["id_number"][-4:]})


def test_the_candidate_states_their_case_on_the_status_page(
        invited: Invited) -> None:
    env, rows, ref, respond_by = invited
    row = rows[1]
    client = env.app.test_client()
    resp = status_page(client, row)
    assert resp.status_code == 200
    page = resp.get_data(as_text=True)
    assert "陈述、申辩" in page
    assert "有人对您的公示结果提出了异议" in page
    assert "学历、资历不实" in page  # the grounds category, in words
    last_day = parse_utc(respond_by).astimezone(ZONE) - timedelta(microseconds=1)
    assert f"请于{last_day.year}年{last_day.month}月{last_day.day}日24时前（北京时间）提交" in page
    assert 'action="/statement"' in page
    # Never the objector or what they wrote; no internal codes.
    for secret in (OBJECTOR, CONTACT, ACCUSATION, "qualification", respond_by):
        assert secret not in page
    # English too.
    en = status_page(client, row, lang="en").get_data(as_text=True)
    assert "someone objected to your published result" in en
    assert "False qualifications" in en

    # An empty statement re-renders the form with the error; nothing recorded.
    before = len(env.ledger_entries())
    empty = state(client, page, row, ref, "   ")
    assert empty.status_code == 400
    assert "请填写陈述、申辩内容，1至2000个字。" in empty.get_data(as_text=True)
    too_long = state(client, page, row, ref, "字" * 2001)
    assert too_long.status_code == 400
    assert "字" * 2001 in too_long.get_data(as_text=True)  # kept for the candidate
    assert len(env.ledger_entries()) == before

    done = state(client, page, row, ref, DEFENCE)
    assert done.status_code == 200, done.get_data(as_text=True)
    shown = done.get_data(as_text=True)
    assert "您的陈述、申辩已收到" in shown
    assert "招聘单位将在核查异议、作出处理前认真考虑您的陈述、申辩" in shown

    entries = env.ledger_entries()
    received = [e for e in entries if e["type"] == "objection.statement_received"]
    assert len(received) == 1
    assert received[0]["body"]["channel"] == "web"
    assert received[0]["actor"] == "candidate"
    assert received[0]["body"]["statement_hmac"] == env.service.objections.statement_hmac(
        DEFENCE)
    ledger_text = json.dumps(entries, ensure_ascii=False)
    for plain in (DEFENCE, "学信网", row["name"], row["id_number"], OBJECTOR):
        assert plain not in ledger_text
    # Sealed the way HR's entry is: the reviewer reads it back (a recorded read).
    who = js(env.get(f"/api/v1/objections/{ref}/objector", "reviewer"))
    assert who["candidate_statement"] == DEFENCE
    record = js(env.get(f"/api/v1/objections/{ref}", "auditor"))
    assert record["statement_at"]

    # The invitation is gone; a second submission is refused.
    again = status_page(client, row).get_data(as_text=True)
    assert 'action="/statement"' not in again
    assert "有人对您的公示结果提出了异议" not in again
    twice = state(client, again, row, ref, "再说一次")
    assert twice.status_code == 409
    assert "无法提交" in twice.get_data(as_text=True)


def test_after_respond_by_the_form_is_gone_and_a_late_statement_refused(
        invited: Invited) -> None:
    env, rows, ref, respond_by = invited
    row = rows[1]
    client = env.app.test_client()
    open_page = status_page(client, row).get_data(as_text=True)
    env.clock(parse_utc(respond_by) + timedelta(minutes=1))
    page = status_page(client, row).get_data(as_text=True)
    assert 'action="/statement"' not in page
    assert "陈述、申辩的期限已于" in page
    assert "届满" in page
    late = state(client, open_page, row, ref, DEFENCE)
    assert late.status_code == 409
    assert "期限已过" in late.get_data(as_text=True)
    assert not [e for e in env.ledger_entries()
                if e["type"] == "objection.statement_received"]


def test_a_wrong_factor_or_another_candidate_is_refused(
        invited: Invited) -> None:
    env, rows, ref, _ = invited
    row = rows[1]
    client = env.app.test_client()
    page = status_page(client, row).get_data(as_text=True)
    wrong = "0000" if row["id_number"][-4:] != "0000" else "1111"
    refused = state(client, page, row, ref, DEFENCE, factor=wrong)
    assert refused.status_code == 403
    assert "报名号与身份证号后4位不匹配" in refused.get_data(as_text=True)
    # Without the form token: refused before anything is looked up.
    bare = client.post("/statement", data={
        "campaign": CAMPAIGN, "registration": row["registration"], "objection": ref,
        "statement": DEFENCE, "factor": row["id_number"][-4:]})
    assert bare.status_code == 400
    # Another candidate (right factor of their own) cannot answer this objection.
    other = next(r for r in rows if r["registration"] != row["registration"])
    other_page = status_page(client, other).get_data(as_text=True)
    assert 'action="/statement"' not in other_page
    nul = state(client, page, row, "obj_\x00", DEFENCE)
    assert nul.status_code == 400
    assert "没有找到需要您陈述、申辩的异议" in nul.get_data(as_text=True)
    stranger = state(client, page, other, ref, DEFENCE)  # the same browser's token
    assert stranger.status_code == 404
    assert not [e for e in env.ledger_entries()
                if e["type"] == "objection.statement_received"]




def test_the_notice_of_the_invitation_points_to_the_status_page(
        invited: Invited, mail: MailServer, sms: GatewayServer) -> None:
    env, rows, _, respond_by = invited
    sent = dispatch(env.service, channels(mail, sms), env.now[0],
                    base_url="https://rsj.example.gov.cn/")
    assert sent["sent"] >= 1
    texts = [msg.get_content() for _, msg in mail.received()
             if "公示异议告知" in str(msg["Subject"])]
    texts += [json.dumps(r["json"], ensure_ascii=False) for r in sms.requests
              if "有人对您" in json.dumps(r["json"], ensure_ascii=False)]
    assert len(texts) == 1
    last_day = parse_utc(respond_by).astimezone(ZONE) - timedelta(microseconds=1)
    text = texts[0]
    assert "https://rsj.example.gov.cn/status?campaign=c2026" in text
    assert f"请于{last_day.year}年{last_day.month}月{last_day.day}日24时前（北京时间）提交" in text
    assert "在线提交陈述、申辩" in text
    assert rows[1]["registration"] in text
    for secret in (OBJECTOR, CONTACT, ACCUSATION):
        assert secret not in text
