"""The console's objection pages: HR enters a letter objection, acknowledges it and
tells the candidate; the reviewer reads the objector (recorded) and rules, a cancel
only with the tick and after the candidate's statement."""

from __future__ import annotations

import re
from datetime import UTC, timedelta
from zoneinfo import ZoneInfo

from tests.functional._absence import Env
from tests.functional.test_console_hr import hr_client, reviewer_client, submit, text
from tests.functional.test_objections import published

NAME = "赵信函"


def test_hr_enters_a_letter_objection_and_the_reviewer_rules_it(env: Env) -> None:
    notice, rows = published(env)
    hr, _ = hr_client(env)
    listing = "/console/campaigns/c2026/objections"
    assert f'href="{listing}"' in text(hr.get("/console/campaigns/c2026"))
    assert "本批次尚未收到异议" in text(hr.get(listing))
    form = {"notice": notice, "channel": "letter", "name": NAME, "contact": "北京市某路1号",
            "registration": rows[0]["registration"], "line": "", "ground": "eligibility",
            "statement": "来信反映该考生不符合报考条件。"}
    bad = submit(hr, listing, listing, form | {"channel": "fax"})
    assert bad.status_code == 400
    resp = submit(hr, listing, listing, form)
    assert resp.status_code == 303, text(resp)[-800:]
    page = resp.headers["Location"].split("?")[0]
    ref = page.rsplit("/", 1)[1]
    shown = text(hr.get(page))
    assert "已登记，待核查" in shown
    assert NAME not in shown  # the objector is on a page of its own
    assert submit(hr, page, f"{page}/acknowledgement", {}).status_code == 303
    assert submit(hr, page, f"{page}/invitation", {}).status_code == 303
    assert "陈述、申辩期限" in text(hr.get(page))
    # HR does not rule; the reviewer does.
    assert hr.post(f"{page}/ruling", data={}).status_code in (400, 403)
    rev, _ = reviewer_client(env)
    cancel = {"ruling": "cancelled", "reason": "经核实不符合报考条件"}
    refused = submit(rev, page, f"{page}/ruling", cancel | {"confirm": "1"})
    assert refused.status_code == 409  # the candidate may still state their case
    assert "2026" in text(refused) or "may state" in text(refused) or "until" in text(refused)
    assert submit(rev, page, f"{page}/statement",
                  {"statement": "本人符合条件，附证明。", "channel": "letter"}).status_code == 303
    no_tick = submit(rev, page, f"{page}/ruling", cancel)
    assert no_tick.status_code == 400
    assert "confirm" in text(no_tick)
    done = submit(rev, page, f"{page}/ruling", cancel | {"confirm": "1"})
    assert done.status_code == 303
    final = text(rev.get(page))
    assert re.search(r'id="ruling">取消', final)
    who = text(rev.get(f"{page}/objector"))
    assert NAME in who
    assert "本人符合条件" in who
    viewed = [e["body"] for e in env.ledger_entries() if e["type"] == "pii.viewed"]
    assert {"objection": ref, "purpose": "objection",
            "fields": "name,contact,statement,candidate_statement"} in viewed
    assert "取消" in text(rev.get(listing))


def test_hr_dates_a_letter_by_when_it_arrived(env: Env) -> None:
    notice, rows = published(env)
    listing = "/console/campaigns/c2026/objections"
    form = {"notice": notice, "channel": "letter", "name": NAME, "contact": "北京市某路1号",
            "registration": rows[0]["registration"], "line": "", "ground": "eligibility",
            "statement": "来信反映该考生不符合报考条件。"}
    env.clock(hours=3)  # entered three hours into the period, received one hour in
    hr, _ = hr_client(env)
    arrived = env.now[0] - timedelta(hours=2)
    typed = arrived.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%dT%H:%M")
    later = submit(hr, listing, listing, form | {
        "received_at": (env.now[0] + timedelta(hours=1)).astimezone(
            ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%dT%H:%M")})
    assert later.status_code == 400
    assert "received_at" in text(later)
    resp = submit(hr, listing, listing, form | {"received_at": typed})
    assert resp.status_code == 303, text(resp)[-800:]
    filed = [e for e in env.ledger_entries() if e["type"] == "objection.filed"]
    assert len(filed) == 1
    assert filed[0]["body"]["received_at"] == arrived.replace(second=0).astimezone(
        UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
