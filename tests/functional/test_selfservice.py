"""Candidate self-service pages (``ledger/app/web/selfservice.py``) through the Flask test client.

A campaign of 8 candidates is built the way HR and the platform would (import, one
window each, signed platform events, the sweep); then a candidate checks their own
result on ``/status`` and appeals on ``/appeal``.  Checked: a wrong factor and an unknown
registration give the same answer, forms without the double-submit token are refused,
the shared rate limiter answers 429, an appeal from the form is an ``appeal.filed``
entry, the language switch, a label for every input, and no name on any page.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from ledger.app.web.ratelimit import RateLimiter
from tests.functional._absence import Env, make_env, run_day

CAMPAIGN = "c2026"
# What each of the 8 candidates does in their window (platform event kinds).
PLAN: list[tuple[str, ...]] = [("joined", "completed"), ("completed",), ("completed",),
                               ("joined", "withdrew"), (), (), ("joined",), ()]
TOKEN_RE = re.compile(r'name="form_token" value="([^"]+)"')


@dataclass
class Campaign:
    """A decided campaign: the candidates' rows and the moment of the sweep."""

    env: Env
    rows: list[dict[str, str]]
    start: datetime
    decided_at: datetime

    def factor(self, i: int) -> str:
        return self.rows[i]["id_number"][-4:]

    def reg(self, i: int) -> str:
        return self.rows[i]["registration"]


def build_campaign(env: Env, *, n: int = 8) -> Campaign:
    """Campaign, candidates, one window each, platform events, the sweep.

    The clock starts just after the real time (the log was created with the real clock,
    and checkpoints must move forward) and ends 95 minutes later, decisions made.
    """
    start = env.clock(datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1))
    day = run_day(env, CAMPAIGN, PLAN[:n], start)
    rows, decided_at = day.rows, day.decided_at
    env.clock(start + timedelta(minutes=95))
    return Campaign(env, rows, start, decided_at)


@pytest.fixture
def site(tmp_path: Path, sqlite_url: str) -> Iterator[Campaign]:
    with make_env(tmp_path, sqlite_url) as env:
        c = build_campaign(env)
        env.app.extensions["absentia.rate_limiter"] = RateLimiter(1000, 60)
        yield c


def token(client: FlaskClient, path: str = f"/status?campaign={CAMPAIGN}") -> str:
    """GET the form; return its hidden token (the cookie now holds the same value)."""
    resp = client.get(path)
    assert resp.status_code == 200
    found = TOKEN_RE.search(resp.get_data(as_text=True))
    assert found is not None
    return found.group(1)


def lookup(c: Campaign, client: FlaskClient, reg: str, factor: str, **extra: str
           ) -> TestResponse:
    form = {"form_token": token(client), "campaign": CAMPAIGN, "registration": reg,
            "factor": factor} | extra
    return client.post("/status", data=form)


def text_of(resp: TestResponse) -> str:
    return resp.get_data(as_text=True)


def test_wrong_factor_and_unknown_registration_get_the_same_answer(site: Campaign) -> None:
    client = site.env.app.test_client()
    wrong_factor = "0000" if site.factor(4) != "0000" else "1111"
    wrong = lookup(site, client, site.reg(4), wrong_factor)
    unknown = lookup(site, client, "R01-99999", site.factor(4))
    assert wrong.status_code == unknown.status_code == 403
    assert "报名号与身份证号后4位不匹配" in text_of(wrong)
    assert text_of(wrong).replace(site.reg(4), "REG") == text_of(unknown).replace(
        "R01-99999", "REG")
    assert dict(wrong.headers).keys() == dict(unknown.headers).keys()
    # An unknown campaign answers the same way too.
    other = lookup(site, client, site.reg(4), site.factor(4), campaign="nope")
    assert other.status_code == 403
    # The factor is never echoed back.
    factor_input = re.search(r'<input id="factor"[^>]*>', text_of(wrong))
    assert factor_input is not None
    assert "value=" not in factor_input.group(0)


def test_own_status_shows_windows_decision_and_explanation_but_no_name(site: Campaign
                                                                       ) -> None:
    client = site.env.app.test_client()
    resp = lookup(site, client, site.reg(4), site.factor(4).lower())  # X or x alike
    assert resp.status_code == 200, text_of(resp)
    page = text_of(resp)
    assert site.reg(4) in page
    assert "视为自动放弃" in page  # no-show in government mode: deemed withdrawn
    decision = site.env.service.status(CAMPAIGN, site.reg(4), site.factor(4))
    d = decision["windows"][0]["decisions"][0]
    # The candidate's words, not the ledger's explanation (rule code, digest: auditors').
    assert "本决定由系统于" in page
    assert d["reason"] not in page
    assert d["policy_digest"][:12] not in page
    assert d["explanation"]["zh"] not in page
    assert f'/entries/{d["ledger_index"]}/tlog-proof' in page
    assert 'action="/appeal"' in page  # within the appeal period
    for row in site.rows:
        assert row["name"] not in page
        assert row["id_number"] not in page
        assert row["phone"] not in page
    assert resp.headers["Cache-Control"] == "no-store"
    # An attended candidate has nothing to appeal: no form.
    attended = lookup(site, client, site.reg(0), site.factor(0))
    assert attended.status_code == 200
    assert "已参加面试" in text_of(attended)
    assert 'action="/appeal"' not in text_of(attended)


def test_forms_without_the_double_submit_token_are_refused(site: Campaign) -> None:
    client = site.env.app.test_client()
    form = {"campaign": CAMPAIGN, "registration": site.reg(4), "factor": site.factor(4)}
    resp = client.get("/status")
    cookie = resp.headers["Set-Cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie
    # No token field at all; a token that is not the cookie's; no cookie (cross-site).
    assert client.post("/status", data=form).status_code == 400
    assert client.post("/status", data=form | {"form_token": "x" * 43}).status_code == 400
    stranger = site.env.app.test_client()
    good = token(client)
    refused = stranger.post("/status", data=form | {"form_token": good})
    assert refused.status_code == 400
    assert "表单已过期或来自其他网站" in text_of(refused)
    appeal = stranger.post("/appeal", data=form | {"form_token": good, "ground": "other",
                                                   "statement": "x"})
    assert appeal.status_code == 400
    # The right pair works.
    assert client.post("/status", data=form | {"form_token": good}).status_code == 200
    assert not any(e["type"] == "appeal.filed" for e in site.env.ledger_entries())


def test_rate_limit_is_shared_with_the_json_api(site: Campaign) -> None:
    site.env.app.extensions["absentia.rate_limiter"] = RateLimiter(3, 60)
    client = site.env.app.test_client()
    tok = token(client)
    form = {"form_token": tok, "campaign": CAMPAIGN, "registration": site.reg(4),
            "factor": "0000"}
    assert site.env.client.post(f"/api/v1/campaigns/{CAMPAIGN}/status", json={
        "registration": site.reg(4), "factor": "0000"}).status_code == 403
    for _ in range(2):
        assert client.post("/status", data=form).status_code == 403
    limited = client.post("/status", data=form | {"factor": site.factor(4)})
    assert limited.status_code == 429
    assert 1 <= int(limited.headers["Retry-After"]) <= 60  # when the oldest attempt ages out
    assert "尝试次数过多" in text_of(limited)
    assert client.post("/appeal", data=form).status_code == 429
    assert site.env.client.post(f"/api/v1/campaigns/{CAMPAIGN}/status", json={
        "registration": site.reg(4), "factor": site.factor(4)}).status_code == 429


def test_appeal_from_the_form_is_recorded(site: Campaign) -> None:
    client = site.env.app.test_client()
    page = text_of(lookup(site, client, site.reg(5), site.factor(5)))
    tok = TOKEN_RE.search(page)
    assert tok is not None
    form = {"form_token": tok.group(1), "campaign": CAMPAIGN, "registration": site.reg(5),
            "ground": "notification", "statement": "我没有收到面试通知短信。"}
    # A wrong factor on the appeal form: the same refusal as on the status form.
    wrong = client.post("/appeal", data=form | {"factor": "0000" if site.factor(5) != "0000"
                                                else "1111"})
    assert wrong.status_code == 403
    assert "报名号与身份证号后4位不匹配" in text_of(wrong)
    resp = client.post("/appeal", data=form | {"factor": site.factor(5)})
    assert resp.status_code == 200, text_of(resp)
    filed = [e for e in site.env.ledger_entries() if e["type"] == "appeal.filed"]
    assert len(filed) == 1
    assert filed[0]["body"]["ground"] == "notification"
    assert filed[0]["body"]["appeal"] in text_of(resp)
    assert f'#{filed[0]["index"]}' in text_of(resp)
    # Filing twice: refused (one open appeal per decision), nothing more recorded.
    again = client.post("/appeal", data=form | {"factor": site.factor(5)})
    assert again.status_code == 409
    assert sum(e["type"] == "appeal.filed" for e in site.env.ledger_entries()) == 1
    # The status page now says the appeal is under review, with no second form.
    after = text_of(lookup(site, client, site.reg(5), site.factor(5)))
    assert "您的申诉已受理" in after
    assert 'action="/appeal"' not in after


def test_appeal_form_gone_after_the_appeal_period(site: Campaign) -> None:
    site.env.clock(site.decided_at + timedelta(days=7, minutes=1))
    client = site.env.app.test_client()
    page = text_of(lookup(site, client, site.reg(5), site.factor(5)))
    assert "视为自动放弃" in page
    assert 'action="/appeal"' not in page


def test_language_switch(site: Campaign) -> None:
    client = site.env.app.test_client()
    zh = text_of(client.get("/status"))
    assert '<html lang="zh-CN">' in zh
    assert "报名号" in zh
    assert 'href="/status?lang=en' in zh
    assert 'lang="en"' in zh
    en = text_of(client.get(f"/status?lang=en&campaign={CAMPAIGN}"))
    assert '<html lang="en">' in en
    assert "Registration number" in en
    assert 'name="lang" value="en"' in en
    resp = lookup(site, client, site.reg(4), site.factor(4), lang="en")
    assert resp.status_code == 200
    assert '<html lang="en">' in text_of(resp)
    assert "deemed withdrawn" in text_of(resp)
    assert resp.headers["Content-Language"] == "en"
    error = lookup(site, client, "R01-99999", "0000", lang="en")
    assert "do not match" in text_of(error)


class Controls(HTMLParser):
    """Form controls (ids) and label targets of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.controls: list[tuple[str, dict[str, str | None]]] = []
        self.labels: set[str] = set()
        self.html_lang: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "html":
            self.html_lang = a.get("lang")
        if tag == "label" and a.get("for"):
            self.labels.add(str(a["for"]))
        if tag in ("input", "select", "textarea") and a.get("type") != "hidden":
            self.controls.append((tag, a))


def test_every_input_has_a_label(site: Campaign) -> None:
    client = site.env.app.test_client()
    pages = [text_of(client.get("/status")), text_of(client.get("/status?lang=en")),
             text_of(lookup(site, client, site.reg(5), site.factor(5))),
             text_of(lookup(site, client, site.reg(5), site.factor(5), lang="en"))]
    seen = 0
    for page in pages:
        p = Controls()
        p.feed(page)
        assert p.html_lang in ("zh-CN", "en")
        for tag, attrs in p.controls:
            assert attrs.get("id") in p.labels, (tag, attrs)
            seen += 1
    # campaign, registration, factor; ground, statement, attachments, factor
    assert seen == 3 + 3 + 4 + 4


def test_status_page_lists_campaigns_and_preselects(site: Campaign) -> None:
    page = text_of(site.env.app.test_client().get(f"/status?campaign={CAMPAIGN}"))
    assert f'<option value="{CAMPAIGN}" selected>' in page
    assert "2026年市人社局公开招聘" in page
