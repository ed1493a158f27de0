"""The HR console pages (``ledger/app/web/console_hr.py``) through the Flask test client, on
both databases.

A campaign of 10 candidates is built as HR and the platform would (import, one window
each, signed platform events, the sweep): 6 connection failures (cases pending review,
and a platform-outage alert), 1 attended, 1 withdrew, 2 no-shows; one no-show appeals.
Checked: who may open which page (redirect when signed out, 403 for other roles), each
form end to end and what it appends to the ledger, errors shown on the page with their
field and status (never 500), CSRF, labelled inputs, English on request.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from ledger.absence.service import Caller
from ledger.accounts.store import Accounts
from ledger.app.web import console_hr
from ledger.app.web.ratelimit import RateLimiter
from tests.functional._absence import Env, candidates_csv, make_env, run_day
from tests.functional.test_console_signin import PASSWORD, csrf_of, enrol, sign_in

CAMPAIGN = "c2026"
#: Platform events per candidate: 6 connection failures, attended, withdrew, 2 no-shows.
PLAN: list[tuple[str, ...]] = [("connection_failed",)] * 6 + [
    ("joined", "completed"), ("joined", "withdrew"), (), ()]
APPELLANT = 8


@dataclass
class Built:
    env: Env
    rows: list[dict[str, str]]
    window: dict[str, str]  # registration -> window
    start: datetime

    def reg(self, i: int) -> str:
        return self.rows[i]["registration"]

    def entries(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.env.ledger_entries() if e["type"] == kind]


def build(env: Env, plan: list[tuple[str, ...]] = PLAN, *, appeal: bool = True,
          start: datetime | None = None) -> Built:
    """Campaign, candidates, windows, platform events, the sweep, alerts, an appeal.

    The clock starts at ``start`` (default: a minute from now) and ends 95 minutes later.
    """
    start = env.clock(start if start is not None
                      else datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1))
    day = run_day(env, CAMPAIGN, plan, start)
    rows, window = day.rows, day.window
    env.service.raise_alerts(CAMPAIGN, env.now[0])
    env.clock(start + timedelta(minutes=95))
    if appeal:
        env.app.extensions["absentia.rate_limiter"] = RateLimiter(1000, 60)
        resp = env.client.post(f"/api/v1/campaigns/{CAMPAIGN}/appeals", json={
            "registration": rows[APPELLANT]["registration"],
            "factor": rows[APPELLANT]["id_number"][-4:], "ground": "technical",
            "statement": "网络中断，无法进入面试。"})
        assert resp.status_code == 201, resp.get_data(as_text=True)
    return Built(env, rows, window, start)


@pytest.fixture
def built(tmp_path: Path, db_url: str) -> Iterator[Built]:
    with make_env(tmp_path, db_url) as env:
        yield build(env)


def accounts(env: Env) -> Accounts:
    a: Accounts = env.app.extensions["absentia.accounts"]
    return a


def hr_client(env: Env, role: str = "hr", login: str = "hr.one") -> tuple[FlaskClient, str]:
    user = accounts(env).create_user(login, PASSWORD, role, env.now[0])
    client = env.app.test_client()
    resp = sign_in(client, login, PASSWORD)
    assert resp.status_code == 303, resp.headers
    assert resp.headers["Location"] == "/console/"
    return client, user


def reviewer_client(env: Env) -> tuple[FlaskClient, str]:
    user = accounts(env).create_user("rev.one", PASSWORD, "reviewer", env.now[0])
    client = env.app.test_client()
    enrol(env, client, "rev.one")
    return client, user


def text(resp: TestResponse) -> str:
    return resp.get_data(as_text=True)


def submit(client: FlaskClient, page: str, action: str, data: dict[str, Any], **kw: Any
           ) -> TestResponse:
    """GET ``page``, POST ``data`` with its CSRF token to ``action``."""
    shown = client.get(page)
    assert shown.status_code == 200, (page, shown.status_code, text(shown)[-500:])
    return client.post(action, data={"csrf_token": csrf_of(shown), **data}, **kw)


def why(resp: TestResponse) -> str:
    """The page's error message, else its end (for assertion messages)."""
    m = re.search(r'id="form-error">([^<]*)<', text(resp))
    return m.group(1) if m else text(resp)[-800:]


def error_of(resp: TestResponse) -> str:
    m = re.search(r'<p class="error" role="alert" id="form-error">([^<]*)</p>', text(resp))
    assert m is not None, text(resp)[-1500:]
    return m.group(1)


class _Labels(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.labelled: set[str] = set()
        self.wrapped = 0
        self.in_label = 0
        self.bad: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "label":
            self.in_label += 1
            if a.get("for"):
                self.labelled.add(str(a["for"]))
        if tag in ("input", "select", "textarea") and a.get("type") not in (
                "hidden", "submit"):
            if self.in_label:
                return
            if not a.get("id"):
                self.bad.append(str(a))
            else:
                self.ids.append(str(a["id"]))

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self.in_label -= 1


def assert_labelled(html: str) -> None:
    p = _Labels()
    p.feed(html)
    assert not p.bad, p.bad
    assert set(p.ids) <= p.labelled, set(p.ids) - p.labelled


# -- who may open what -------------------------------------------------------------------

HR_PAGES = ("/console/campaigns/{c}/import", "/console/campaigns/{c}/notice")
REVIEWER_PAGES = ("/console/campaigns/{c}/reviews", "/console/campaigns/{c}/appeals")
SHARED_PAGES = ("/console/campaigns", "/console/campaigns/{c}", "/console/campaigns/{c}/reports")


def test_pages_by_role_signed_out_and_languages(built: Built) -> None:
    env = built.env
    anon = env.app.test_client()
    d = built.entries("decision.made")[0]["body"]["decision"]
    every = (*HR_PAGES, *REVIEWER_PAGES, *SHARED_PAGES, f"/console/decisions/{d}",
             f"/console/windows/{built.window[built.reg(0)]}")
    for path in every:
        resp = anon.get(path.format(c=CAMPAIGN))
        assert resp.status_code == 303, path
        assert resp.headers["Location"] == "/console/sign-in"
    hr, _ = hr_client(env)
    rev, _ = reviewer_client(env)
    auditor, _ = hr_client(env, "auditor", "audit.one")
    for path in (*HR_PAGES, *SHARED_PAGES):
        resp = hr.get(path.format(c=CAMPAIGN))
        assert resp.status_code == 200, (path, why(resp))
        assert_labelled(text(resp))
        assert resp.headers["Content-Security-Policy"].startswith("default-src 'self'")
    for path in (*REVIEWER_PAGES, *SHARED_PAGES):
        resp = rev.get(path.format(c=CAMPAIGN))
        assert resp.status_code == 200, (path, why(resp))
        assert_labelled(text(resp))
    for path in REVIEWER_PAGES:
        assert hr.get(path.format(c=CAMPAIGN)).status_code == 403
    for path in HR_PAGES:
        assert rev.get(path.format(c=CAMPAIGN)).status_code == 403
    for path in every:
        assert auditor.get(path.format(c=CAMPAIGN)).status_code == 403, path
    # The dashboard: absence rate, the chart (one bar per cause), the open alert.
    page = text(hr.get("/console/campaigns"))
    assert "缺席率" in page
    assert "90.0 %" in page
    bars = re.findall(r'<rect class="bar" data-cause="(\w+)" data-count="(\d+)" x="\d+" '
                      r'y="\d+" width="(\d+)"', page)
    counts = {c: int(n) for c, n, _ in bars}
    assert counts["technical"] == 6
    assert counts["no_show"] == 2
    assert counts["withdrawn"] == 1
    assert all(int(w) > 0 for c, n, w in bars if int(n) > 0)
    assert "platform_outage" in page
    en = text(hr.get("/console/campaigns?lang=en"))
    assert "Absence rate" in en
    assert '<html lang="en">' in en
    # The detail page: decisions with evidence links and explanations.
    detail = text(rev.get(f"/console/campaigns/{CAMPAIGN}"))
    assert 'href="/logs/hr-test/entries/' in detail
    assert f'href="/console/decisions/{d}"' in detail
    shown = rev.get(f"/console/decisions/{d}?lang=en")
    assert shown.status_code == 200
    explanation = env.service.decision(d)["explanation"]
    assert explanation["en"] in text(shown)
    assert explanation["zh"] in text(shown)
    # Unknown things: 404 on the page, not 500.
    missing = hr.get("/console/campaigns/nope")
    assert missing.status_code == 404
    assert "campaign" in error_of(missing)
    assert hr.get("/console/decisions/d_nope").status_code == 404


def test_csrf_missing_is_refused(built: Built) -> None:
    env = built.env
    rev, _ = reviewer_client(env)
    d = env.service.decisions(CAMPAIGN, pending_review=True)[0]["decision"]
    before = len(env.ledger_entries())
    resp = rev.post(f"/console/campaigns/{CAMPAIGN}/reviews",
                    data={"decision": d, "ruling": "confirmed"})
    assert resp.status_code == 400
    resp = rev.post(f"/console/campaigns/{CAMPAIGN}/reviews",
                    data={"decision": d, "ruling": "confirmed", "csrf_token": "x" * 43})
    assert resp.status_code == 400
    assert len(env.ledger_entries()) == before


# -- the forms -----------------------------------------------------------------------------


def test_reviews_confirm_makeup_and_mass_makeup(built: Built) -> None:
    env = built.env
    rev, user = reviewer_client(env)
    page = f"/console/campaigns/{CAMPAIGN}/reviews"
    pending = [d["decision"] for d in env.service.decisions(CAMPAIGN, pending_review=True)]
    assert len(pending) == 6
    shown = text(rev.get(page))
    assert all(f'value="{d}"' in shown for d in pending)
    resp = submit(rev, page, page, {"decision": pending[0], "ruling": "confirmed",
                                    "confirm": "yes", "reason": "平台记录显示未进入面试"})
    assert resp.status_code == 303
    assert resp.headers["Location"] == page + "?done=reviewed"
    reviewed = built.entries("decision.reviewed")
    assert reviewed[-1]["body"] == {"decision": pending[0], "ruling": "confirmed",
                                    "reason": "平台记录显示未进入面试"}
    assert reviewed[-1]["actor"] == f"reviewer:{user}"
    assert "复查结果已记录" in text(rev.get(resp.headers["Location"]))
    # A make-up: datetime-local inputs in the campaign's zone (Asia/Shanghai, +08:00).
    local = (env.now[0] + timedelta(days=2)).astimezone(
        ZoneInfo("Asia/Shanghai"))
    opens = local.strftime("%Y-%m-%dT%H:%M")
    closes = (local + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    resp = submit(rev, page, page, {"decision": pending[1], "ruling": "makeup_granted",
                                    "opens_at": opens, "closes_at": closes})
    assert resp.status_code == 303, why(resp)
    scheduled = built.entries("window.scheduled")[-1]["body"]
    assert scheduled["kind"] == "makeup"
    expect = local.replace(second=0).astimezone(UTC).strftime("%Y-%m-%dT%H:%M")
    assert scheduled["opens_at"].startswith(expect), (scheduled, expect)
    # Errors are shown with their field: closes before opens (400), reviewed twice (409).
    bad = submit(rev, page, page, {"decision": pending[2], "ruling": "makeup_granted",
                                   "opens_at": closes, "closes_at": opens})
    assert bad.status_code == 400
    assert "closes_at" in error_of(bad)
    again = submit(rev, page, page, {"decision": pending[0], "ruling": "confirmed",
                                     "confirm": "yes", "reason": "again"})
    assert again.status_code == 409
    assert "decision" in error_of(again)
    garbled = submit(rev, page, page, {"decision": pending[2], "ruling": "makeup_granted",
                                       "opens_at": "tomorrow", "closes_at": closes})
    assert garbled.status_code == 400
    assert "opens_at" in error_of(garbled)
    # The outage alert: one form grants a make-up to every remaining pending case.
    alert = next(a for a in env.service.alerts(CAMPAIGN) if a["kind"] == "platform_outage")
    assert f'value="{alert["alert"]}"' in text(rev.get(page))
    resp = submit(rev, page, f"/console/campaigns/{CAMPAIGN}/alerts",
                  {"alert": alert["alert"], "opens_at": opens, "closes_at": closes,
                   "confirm": "yes"})
    assert resp.status_code == 303, why(resp)
    assert resp.headers["Location"] == page + "?done=mass&n=4"
    resolved = built.entries("alert.resolved")[-1]["body"]
    assert resolved == {"alert": alert["alert"], "action": "mass_makeup", "makeups": 4}
    assert env.service.decisions(CAMPAIGN, pending_review=True) == []
    assert "id=\"no-pending\"" in text(rev.get(page))


def test_accommodation_and_windows_closing_soon(built: Built) -> None:
    env = built.env
    hr, user = hr_client(env)
    data, _ = candidates_csv(1, seed=2, prefix="S")
    assert env.import_csv(CAMPAIGN, data).status_code == 201
    subject = next(c["subject"] for c in env.service.candidates(CAMPAIGN)
                   if c["registration"].startswith("S"))
    resp = env.post(f"/api/v1/campaigns/{CAMPAIGN}/windows", "hr", {
        "opens_at": env.now[0].isoformat(),
        "closes_at": (env.now[0] + timedelta(hours=3)).isoformat(), "subjects": [subject]})
    assert resp.status_code == 201, text(resp)
    w = json.loads(resp.get_data())["windows"][0]["window"]
    assert f"/console/windows/{w}" in text(hr.get("/console/campaigns"))
    page = f"/console/windows/{w}"
    action = f"/console/windows/{w}/accommodation"
    later = (env.now[0] + timedelta(hours=6)).astimezone(
        ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%dT%H:%M")
    resp = submit(hr, page, action, {"kind": "extended", "closes_at": later,
                                     "reason": "poor_signal"})
    assert resp.status_code == 303, why(resp)
    granted = built.entries("accommodation.granted")[-1]
    assert granted["actor"] == f"hr:{user}"
    assert granted["body"]["kind"] == "extended"
    assert "特殊关怀已记录" in text(hr.get(resp.headers["Location"]))
    # A reviewer sees the window but not the form; after the close, 409.
    rev, _ = reviewer_client(env)
    assert rev.get(page).status_code == 200
    assert rev.post(action, data={"csrf_token": csrf_of(rev.get("/console/"))}).status_code == 403
    decided = built.window[built.reg(0)]
    late = submit(hr, page, f"/console/windows/{decided}/accommodation",
                  {"kind": "extended", "closes_at": later, "reason": "other"})
    assert late.status_code == 409
    assert "window" in error_of(late)


def test_import_bad_rows_imports_nothing_then_good_file(built: Built) -> None:
    env = built.env
    hr, _ = hr_client(env)
    page = f"/console/campaigns/{CAMPAIGN}/import"
    good, _ = candidates_csv(3, seed=3, prefix="T")
    lines = good.decode().splitlines()
    bad_row = lines[2].split(",")
    bad_row[2] = "110105199001011230"  # a wrong check character
    bad = "\n".join([lines[0], lines[1], ",".join(bad_row), lines[3]]) + "\n"
    before = len(env.ledger_entries())
    resp = submit(hr, page, page, {"file": (io.BytesIO(bad.encode()), "bad.csv")},
                  content_type="multipart/form-data")
    assert resp.status_code == 422, why(resp)
    html = text(resp)
    assert 'id="row-errors"' in html
    assert "id_number" in html
    assert "未导入任何考生" in html
    assert len(env.ledger_entries()) == before
    assert bad_row[1] not in html  # the names are not echoed
    missing = submit(hr, page, page, {}, content_type="multipart/form-data")
    assert missing.status_code == 400
    assert "请选择要上传的 CSV 文件" in error_of(missing)
    resp = submit(hr, page, page, {"file": (io.BytesIO(good), "good.csv")},
                  content_type="multipart/form-data")
    assert resp.status_code == 303
    assert resp.headers["Location"] == page + "?done=imported&n=3"
    assert "已导入 3 名考生" in text(hr.get(resp.headers["Location"]))
    assert len(built.entries("subject.registered")) == 13


def test_appeal_records_the_view_and_the_ruling(built: Built) -> None:
    env = built.env
    rev, user = reviewer_client(env)
    listing = text(rev.get(f"/console/campaigns/{CAMPAIGN}/appeals"))
    appeal = env.service.appeals(CAMPAIGN)[0]["appeal"]
    assert f"/console/appeals/{appeal}" in listing
    page = f"/console/appeals/{appeal}"
    shown = rev.get(page)
    assert shown.status_code == 200
    assert "网络中断，无法进入面试。" in text(shown)
    viewed = built.entries("pii.viewed")[-1]
    assert viewed["actor"] == f"reviewer:{user}"
    assert viewed["body"]["purpose"] == "appeal"
    assert re.fullmatch(r"reviewer:u_\w+", viewed["actor"])
    resp = rev.post(f"{page}/ruling", data={"csrf_token": csrf_of(shown), "ruling": "nope"})
    assert resp.status_code == 400
    assert "ruling" in error_of(resp)
    resp = submit(rev, page, f"{page}/ruling", {"ruling": "overturned",
                                                "reason": "平台故障属实"})
    assert resp.status_code == 303, why(resp)
    ruled = built.entries("appeal.ruled")[-1]
    assert ruled["body"] == {"appeal": appeal, "ruling": "overturned", "reason": "平台故障属实"}
    assert ruled["actor"] == f"reviewer:{user}"
    assert "申诉裁决已记录" in text(rev.get(resp.headers["Location"]))
    assert 'id="ruled"' in text(rev.get(page))  # no form any more
    again = rev.post(f"{page}/ruling", data={"csrf_token": csrf_of(shown), "ruling": "upheld",
                                             "reason": "again"})
    assert again.status_code == 409
    assert "appeal" in error_of(again)


def test_notice_preview_and_publish(built: Built) -> None:
    env = built.env
    hr, user = hr_client(env)
    page = f"/console/campaigns/{CAMPAIGN}/notice"
    assert 'id="no-preview"' in text(hr.get(page))  # cases are pending review
    assert hr.get(page + "/preview").status_code == 409
    rev_caller = Caller("reviewer:test", "reviewer")
    for d in env.service.decisions(CAMPAIGN, pending_review=True):
        env.service.review(rev_caller, d["decision"], {"ruling": "confirmed"}, env.now[0])
    shown = text(hr.get(page))
    assert 'sandbox src="/console/campaigns/c2026/notice/preview"' in shown
    preview = hr.get(page + "/preview")
    assert preview.status_code == 200
    assert "sandbox" in preview.headers["Content-Security-Policy"]
    assert built.rows[0]["name"] not in text(preview)
    assert built.reg(0) in text(preview)
    resp = submit(hr, page, page, {"days": "5"})
    assert resp.status_code == 303, why(resp)
    published = built.entries("notice.published")
    assert len(published) == 1
    assert published[0]["actor"] == f"hr:{user}"
    notice = published[0]["body"]["notice"]
    after = text(hr.get(resp.headers["Location"]))
    assert f'href="/notices/{notice}"' in after
    assert "公示已发布" in after
    bad = submit(hr, page, page, {"days": "99"})
    assert bad.status_code == 400
    assert "days" in error_of(bad)


def test_contact_details_are_recorded(built: Built) -> None:
    env = built.env
    hr, user = hr_client(env)
    subject = env.service.candidates(CAMPAIGN)[0]["subject"]
    registration = env.service.candidates(CAMPAIGN)[0]["registration"]
    detail = f"/console/campaigns/{CAMPAIGN}/candidates"  # a contact button a row
    assert f"/console/candidates/{subject}/contact" in text(hr.get(detail))
    resp = submit(hr, detail, f"/console/candidates/{subject}/contact", {})
    assert resp.status_code == 200
    row = next(r for r in built.rows if r["registration"] == registration)
    assert row["name"] in text(resp)
    assert row["phone"] in text(resp)
    viewed = built.entries("pii.viewed")[-1]
    assert viewed["actor"] == f"hr:{user}"
    assert viewed["body"]["subject"] == subject
    assert viewed["body"]["purpose"] == "contact"
    rev, _ = reviewer_client(env)
    assert f"/candidates/{subject}/contact" not in text(rev.get(detail))
    assert rev.post(f"/console/candidates/{subject}/contact",
                    data={"csrf_token": csrf_of(rev.get("/console/"))}).status_code == 403


class _Finished:
    """A stand-in for the child process: runs the report job in-process (on the test's
    clock) the first time it is polled, as ``absentia report generate --job`` would."""

    def __init__(self, env: Env, job: str) -> None:
        self.env, self.job = env, job
        self.code: int | None = None
        self.stderr = None

    def poll(self) -> int | None:
        if self.code is None:
            from publicity.report import generate_job

            generate_job(self.env.service, self.env.settings, self.job, lambda: self.env.now[0])
            self.code = 0
        return self.code


def test_report_generation_and_download(built: Built, monkeypatch: pytest.MonkeyPatch
                                        ) -> None:
    env = built.env
    hr, _ = hr_client(env)
    page = f"/console/campaigns/{CAMPAIGN}/reports"
    assert "id=\"generate\"" not in text(hr.get(page))  # not configured
    env.app.extensions["absentia.settings"] = env.settings
    monkeypatch.setattr(console_hr, "SPAWN", [lambda d, c, f, j: _Finished(env, j)])
    resp = submit(hr, page, page, {})
    assert resp.status_code == 303
    shown = text(hr.get(resp.headers["Location"]))
    assert "报表生成已开始" in shown
    assert 'src="/static/publicity/console-hr.js"' in shown
    job = re.search(r'data-job="(j_\w+)"', shown)
    assert job is not None
    status = hr.get(f"/console/report-jobs/{job.group(1)}.json").json or {}
    assert status["state"] == "done", status
    pdf = hr.get(status["download"])
    assert pdf.status_code == 200
    assert pdf.headers["Content-Disposition"].startswith("attachment")
    assert pdf.data.startswith(b"%PDF")
    assert hr.get("/console/reports/r_nope.pdf").status_code == 404
    assert hr.get("/console/report-jobs/j_nope.json").status_code == 404
