"""Objections (异议) through HTTP on SQLite and PostgreSQL: the public form and lookup,
HR's entry of a phone objection, the handling API to the ruling, the counts."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

from ledger.app.web.objections import FILINGS_PER_HOUR
from ledger.entry import parse_utc
from tests.functional._absence import Env, problem
from tests.functional.test_notices import decided_campaign, js

NAME, CONTACT = "李建国", "lijianguo@example.net"


def published(env: Env) -> tuple[str, list[dict[str, str]]]:
    rows = decided_campaign(env, 4)
    resp = env.post("/api/v1/campaigns/c2026/notices", "hr", {})
    assert resp.status_code == 201, js(resp)
    return js(resp)["notice"], rows


def form_token(html: str) -> str:
    found = re.search(r'name="form_token" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def test_the_public_form_files_an_objection_and_the_lookup_needs_the_secret(env: Env
                                                                            ) -> None:
    notice, rows = published(env)
    page = env.client.get(f"/notices/{notice}/objections/new")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "对公示提出异议" in html
    token = form_token(html)
    form = {"form_token": token, "lang": "zh", "name": NAME, "contact": CONTACT,
            "registration": rows[1]["registration"], "line": "", "ground": "conduct",
            "statement": "该考生面试时有他人代答。"}
    # A missing name re-renders the form in Chinese, naming the field.
    bad = env.client.post(f"/notices/{notice}/objections/new", data=form | {"name": ""})
    assert bad.status_code == 400
    assert "请填写异议人姓名" in bad.get_data(as_text=True)
    filed = env.client.post(f"/notices/{notice}/objections/new", data=form)
    assert filed.status_code == 201, filed.get_data(as_text=True)
    text = filed.get_data(as_text=True)
    ref = re.search(r'id="reference">([^<]+)<', text)
    secret = re.search(r'id="secret"><code>([^<]+)<', text)
    assert ref is not None
    assert secret is not None
    assert "年" in re.search(r'id="reply-by">([^<]+)<', text).group(1)  # type: ignore[union-attr]
    # Nothing personal in the ledger; the lookup shows the state with the secret only.
    raw = json.dumps(env.ledger_entries(), ensure_ascii=False)
    assert NAME not in raw
    assert CONTACT not in raw
    assert "代答" not in raw
    look = env.client.get(f"/objections/{ref.group(1)}")
    tok = form_token(look.get_data(as_text=True))
    wrong = env.client.post(f"/objections/{ref.group(1)}",
                            data={"form_token": tok, "secret": "nope"})
    assert wrong.status_code == 404
    right = env.client.post(f"/objections/{ref.group(1)}",
                            data={"form_token": tok, "secret": secret.group(1)})
    assert right.status_code == 200
    shown = right.get_data(as_text=True)
    assert "已登记，待核查" in shown
    assert NAME not in shown
    listed = env.client.get("/notices").get_data(as_text=True)
    assert f'href="/notices/{notice}/objections"' in listed
    summary = env.client.get(f"/notices/{notice}/objections?lang=en").get_data(as_text=True)
    assert re.search(r'id="count-received">1<', summary)


def test_the_api_walks_a_phone_objection_to_a_ruling(env: Env) -> None:
    notice, rows = published(env)
    entered: dict[str, Any] = {"name": NAME, "contact": CONTACT, "ground": "qualification",
                               "statement": "电话反映：学历造假。", "line": 1,
                               "channel": "phone"}
    problem(env.post(f"/api/v1/notices/{notice}/objections/received", "hr",
                     entered | {"channel": "fax"}), 400, "channel")
    resp = env.post(f"/api/v1/notices/{notice}/objections/received", "hr", entered)
    assert resp.status_code == 201, js(resp)
    ref = js(resp)["objection"]
    assert js(env.get(f"/api/v1/objections/{ref}", "auditor"))["channel"] == "phone"
    env.clock(env.now[0] + timedelta(hours=1))
    problem(env.post(f"/api/v1/objections/{ref}/ruling", "reviewer",
                     {"ruling": "upheld", "reason": "核实无误"}), 409, "objection")
    assert env.post(f"/api/v1/objections/{ref}/acknowledgement", "hr").status_code == 200
    problem(env.post(f"/api/v1/objections/{ref}/ruling", "reviewer",
                     {"ruling": "cancelled", "reason": "学历造假", "confirm": True}),
            409, "ruling")
    invited = env.post(f"/api/v1/objections/{ref}/statement-invitation", "hr",
                       {"registration": rows[0]["registration"]})
    assert invited.status_code == 200, js(invited)
    assert js(invited)["respond_by"]
    resp = env.post(f"/api/v1/objections/{ref}/statement", "hr",
                    {"statement": "本人学历真实。", "channel": "letter"})
    assert resp.status_code == 200, js(resp)
    ruled = env.post(f"/api/v1/objections/{ref}/ruling", "reviewer",
                     {"ruling": "upheld", "reason": "经学信网核实学历真实"})
    assert js(ruled)["ruling"] == "upheld"
    who = js(env.get(f"/api/v1/objections/{ref}/objector", "reviewer"))
    assert who["name"] == NAME
    assert who["candidate_statement"] == "本人学历真实。"
    assert env.get(f"/api/v1/objections/{ref}/objector", "auditor").status_code == 403
    counts = js(env.client.get(f"/api/v1/notices/{notice}/objections"))
    assert counts == {"received": 1, "open": 0, "upheld": 1, "cancelled": 0, "deferred": 0}
    listed = js(env.get("/api/v1/campaigns/c2026/objections", "auditor"))
    assert [o["objection"] for o in listed] == [ref]
    assert "name" not in listed[0]


def test_the_public_api_files_and_looks_up_and_refuses_after_the_period(env: Env) -> None:
    notice, rows = published(env)
    data = {"name": NAME, "contact": CONTACT, "ground": "score", "statement": "成绩有误",
            "registration": rows[2]["registration"]}
    resp = env.post(f"/api/v1/notices/{notice}/objections", None, data)
    assert resp.status_code == 201, js(resp)
    filed = js(resp)
    state = env.post(f"/api/v1/objections/{filed['objection']}/state", None,
                     {"secret": filed["token"]})
    assert js(state)["state"] == "filed"
    problem(env.post(f"/api/v1/objections/{filed['objection']}/state", None,
                     {"secret": "x"}), 404)
    record = js(env.client.get(f"/api/v1/notices/{notice}"))
    env.clock(parse_utc(record["period_end"]))
    problem(env.post(f"/api/v1/notices/{notice}/objections", None, data), 409, "notice")


def test_filings_are_rate_limited_per_address(env: Env) -> None:
    notice, rows = published(env)
    data = {"name": NAME, "contact": CONTACT, "ground": "other", "statement": "x",
            "registration": rows[0]["registration"]}
    for _ in range(FILINGS_PER_HOUR):
        assert env.post(f"/api/v1/notices/{notice}/objections", None, data).status_code == 201
    resp = env.post(f"/api/v1/notices/{notice}/objections", None, data)
    problem(resp, 429)
    assert resp.headers.get("Retry-After")
    # The form says so in the page's language, keeping what was typed.
    page = env.client.get(f"/notices/{notice}/objections/new")
    form = {"form_token": form_token(page.get_data(as_text=True)), "name": NAME,
            "contact": CONTACT, "ground": "other", "statement": "仍要提交",
            "registration": rows[0]["registration"]}
    refused = env.client.post(f"/notices/{notice}/objections/new", data=form)
    assert refused.status_code == 429
    assert "提交过于频繁" in refused.get_data(as_text=True)
    assert "仍要提交" in refused.get_data(as_text=True)
    filed = [e for e in env.ledger_entries() if e["type"] == "objection.filed"]
    assert len(filed) == FILINGS_PER_HOUR
