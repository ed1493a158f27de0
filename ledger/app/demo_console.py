"""``absentia demo``'s last act: it walks its own HR console as the office would.

In-process, with Flask's test client against the real app over the demo's own service
and database (no mocks): two accounts of the walk's own (an HR officer and a reviewer,
not the accounts printed for the newcomer) sign in through the real sign-in form, the
reviewer through TOTP enrolment (pyotp computes the code, as an authenticator app would);
then every screen of the office's working day is fetched and checked for a 200 and a
meaningful marker, and each is told in one line with its path and a count, so that a
newcomer sees where to click.  Some steps are the office's own work, done through the
same forms a person uses, which leaves each screen something real to show:

- the appeal left open by :func:`ledger.app.demo.run_campaign` is ruled (overturned,
  with a reason) during the notice period; the notice page then shows the difference
  from the published notice, and HR publishes a correction with a reason;
- a second, small campaign is created on the setup page, its candidates imported from a
  CSV whose headers are synonyms (准考证号, 考生姓名, 证件号码 ...), its windows scheduled
  in two slots on the schedule page; the platform reports its interview day and the
  sweep decides it, so the reviewer's review cards hold real evidence.

The clock is the demo's simulated one (``absentia.clock``), never the real one.  A screen
that answers otherwise raises :class:`WalkFailed`, whose message says what to do.
"""

from __future__ import annotations

import csv
import io
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import unescape
from typing import Any

import pyotp
from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook
from werkzeug.test import TestResponse

from ledger.absence.service import AbsenceService
from ledger.accounts.store import Accounts
from ledger.app.demo import POSTS, TZ, TZ_NAME, DemoSummary, demo_people
from ledger.app.web import create_app
from ledger.config import Settings
from ledger.entry import format_time, parse_utc

__all__ = ["SYNONYM_HEADER", "WalkFailed", "walk_console"]

#: The second campaign's import header: every column under a synonym, not its first name.
SYNONYM_HEADER = ("准考证号", "考生姓名", "证件号码", "联系电话", "电子邮箱", "报考岗位")
SECOND_CANDIDATES = 12
#: A report job's states as the report page says them.
JOB_STATES = {"queued": "排队中", "running": "生成中", "done": "已完成"}
#: How long the walk waits for the report job's process (seconds, real time).
JOB_WAIT_S = 600
APPEAL_REASON = ("公示期内复核申诉：运营商出具的故障证明与平台日志相互印证，撤销原认定，"
                 "补考时间另行通知。")
CORRECTION_REASON = "公示期内一名考生申诉经复核成立，其结果由“视为自动放弃”更正为“经申诉安排补考”。"

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_SECRET = re.compile(r'<code id="totp-secret">([A-Z2-7 ]+)</code>')
_TAGS = re.compile(r"<[^>]+>")


class WalkFailed(Exception):
    """A console screen did not answer as it should: the message says which and what to do."""


@dataclass(frozen=True)
class Screen:
    """One screen the walk saw: what a person calls it, its path, and what it showed."""

    label: str
    path: str
    shown: str

    def line(self) -> str:
        """The progress line: ``决定列表 /console/...: 共 1,234 条，第 1/25 页``."""
        return f"  {self.label} {self.path}: {self.shown}"


def _text(html: str, element_id: str) -> str:
    """The text of the element with ``element_id`` (tags dropped), or empty."""
    m = re.search(rf'id="{re.escape(element_id)}"[^>]*>(.*?)</(p|dd|ol|ul|table|section)>',
                  html, re.DOTALL)
    return " ".join(unescape(_TAGS.sub(" ", m.group(1))).split()) if m else ""


def _first_number(text: str) -> int:
    m = re.search(r"\d[\d,]*", text)
    return int(m.group(0).replace(",", "")) if m else -1


class _Office:
    """One signed-in person at the console (a test client with its cookies)."""

    def __init__(self, app: Flask, clock: list[datetime], data_hint: str) -> None:
        self.client: FlaskClient = app.test_client()
        self.clock = clock
        self.hint = data_hint
        self.totp = ""  # the authenticator's secret, once enrolled

    def fail(self, label: str, path: str, why: str) -> WalkFailed:
        return WalkFailed(
            f"console walk: {label} {path}: {why}. The demo's data is kept: run "
            f"`absentia serve --data {self.hint}`, sign in with an account printed above and "
            f"open {path} to see the page; if it looks wrong, report this output with the "
            "server's log")

    def get(self, label: str, path: str, marker: str, status: int = 200) -> TestResponse:
        """GET ``path``; its status must be ``status`` and its body hold ``marker``.

        Raises:
            WalkFailed: it did not.
        """
        resp = self.client.get(path)
        body = resp.get_data(as_text=True) if (resp.mimetype or "").startswith("text/") else ""
        if resp.status_code != status:
            raise self.fail(label, path, f"answered {resp.status_code}, not {status}")
        if marker and marker not in body:
            raise self.fail(label, path, f"the page lacks {marker!r}")
        return resp

    def post(self, label: str, page: str, action: str, data: dict[str, Any],
             status: int = 303) -> TestResponse:
        """GET ``page`` for its CSRF token, then POST ``data`` to ``action``.

        Raises:
            WalkFailed: a status other than the expected one.
        """
        form = self.get(label, page, "csrf_token").get_data(as_text=True)
        token = _CSRF.search(form)
        if token is None:
            raise self.fail(label, page, "the form has no CSRF token")
        resp = self.client.post(action, data={"csrf_token": token.group(1), **data})
        if resp.status_code != status:
            found = _text(resp.get_data(as_text=True), "form-error")
            raise self.fail(label, action, f"the form answered {resp.status_code}, not "
                            f"{status}" + (f" ({found})" if found else ""))
        return resp

    def sign_in(self, login: str, password: str) -> list[str]:
        """Sign in through the real form, with TOTP if the account has it (enrolling it at
        the first sign-in of a role that needs it).  Returns the recovery codes shown at
        enrolment (none otherwise).

        Raises:
            WalkFailed: a step of the sign-in did not answer as it should.
        """
        resp = self.post("登录", "/console/sign-in", "/console/sign-in",
                         {"login": login, "password": password})
        where = resp.headers.get("Location", "")
        if where == "/console/sign-in/totp" and self.totp:
            form = self.get("动态验证码", where, "csrf_token").get_data(as_text=True)
            token = _CSRF.search(form)
            done = self.client.post(where, data={
                "csrf_token": token.group(1) if token else "",
                "code": pyotp.TOTP(self.totp).at(self.clock[0])})
            where = done.headers.get("Location", "")
        if where != "/console/sign-in/enrol":
            if where != "/console/":
                raise self.fail("登录", "/console/sign-in", f"went to {where!r}")
            return []
        page = self.get("绑定验证器", "/console/sign-in/enrol", "totp-secret")
        html = page.get_data(as_text=True)
        secret, token = _SECRET.search(html), _CSRF.search(html)
        if secret is None or token is None:
            raise self.fail("绑定验证器", "/console/sign-in/enrol", "no secret or CSRF token")
        self.totp = secret.group(1).replace(" ", "")
        code = pyotp.TOTP(self.totp).at(self.clock[0])
        done = self.client.post("/console/sign-in/enrol",
                                data={"csrf_token": token.group(1), "code": code})
        body = done.get_data(as_text=True)
        if done.status_code != 200 or 'id="recovery-codes"' not in body:
            raise self.fail("绑定验证器", "/console/sign-in/enrol",
                            f"answered {done.status_code} without the recovery codes")
        return re.findall(r"<li><code>([^<]+)</code></li>", body)


def _account(accounts: Accounts, base: str, role: str, at: datetime) -> tuple[str, str]:
    """A new account of the walk's own (``base``, or ``base-2`` ... if taken)."""
    taken = {a.login for a in accounts.users()}
    login, n = base, 2
    while login in taken:
        login, n = f"{base}-{n}", n + 1
    password = secrets.token_urlsafe(12)
    accounts.create_user(login, password, role, at)
    return login, password


def _second_csv(seed: int) -> bytes:
    """The second campaign's import file (UTF-8 with a BOM, synonym headers)."""
    people = demo_people(SECOND_CANDIDATES, seed + 1)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(SYNONYM_HEADER)
    for p in people:
        writer.writerow([p.registration.replace("HR26-", "HR26B-"), p.name, p.id_number,
                         p.phone, p.email, p.post])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def walk_console(service: AbsenceService, settings: Settings, summary: DemoSummary,
                 at: datetime, say: Callable[[str], None]) -> list[Screen]:
    """Walk the console from ``at`` (simulated, aware); ``say`` gets each progress line.

    Raises:
        WalkFailed: a screen did not answer as it should (the message says what to do).
        LedgerError: the service refused a step (nothing here should make it).
    """
    clock = [at]

    def tick(**delta: float) -> datetime:
        clock[0] += timedelta(**delta)
        return clock[0]

    app = create_app(settings, service.store, absence=service)
    app.extensions["absentia.clock"] = lambda: clock[0]
    accounts: Accounts = app.extensions["absentia.accounts"]
    hint = str(settings.data_dir)
    seen: list[Screen] = []

    def tell(label: str, path: str, shown: str) -> None:
        screen = Screen(label, path, shown)
        seen.append(screen)
        say(screen.line())

    c = summary.campaign
    appeal, appeal_reg = summary.open_appeal
    reviewer = _Office(app, clock, hint)
    hr = _Office(app, clock, hint)
    rev_login, rev_password = _account(accounts, "demo-tour-reviewer", "reviewer", tick())
    hr_login, hr_password = _account(accounts, "demo-tour-hr", "hr", tick())
    say(f"\nconsole walk (in-process, as {hr_login} and {rev_login}; the simulated clock "
        "goes on):")

    # The reviewer signs in for the first time: TOTP enrolment, the recovery codes.
    tick(minutes=5)
    codes = reviewer.sign_in(rev_login, rev_password)
    tell("恢复码（绑定验证器后仅显示一次）", "/console/sign-in/enrol", f"{len(codes)} 个")
    page = reviewer.get("恢复码", "/console/recovery-codes", 'id="codes-left"')
    tell("恢复码", "/console/recovery-codes",
         _text(page.get_data(as_text=True), "codes-left"))

    # The appeal left open: read, then overturned with a reason (in the notice period).
    path = f"/console/campaigns/{c}/appeals"
    html = reviewer.get("申诉列表", path, 'id="appeals"').get_data(as_text=True)
    ruled = html.count("<tr", html.find('id="ruled-appeals"')) - 1 \
        if 'id="ruled-appeals"' in html else 0
    tell("申诉列表", path, f"1 件待裁决（{appeal_reg}），{ruled} 件已裁决（附理由）")
    tick(minutes=20)
    reviewer.post("申诉裁决", f"/console/appeals/{appeal}", f"/console/appeals/{appeal}/ruling",
                  {"ruling": "overturned", "reason": APPEAL_REASON})
    tell("申诉裁决", f"/console/appeals/{appeal}", "撤销原认定，理由已记入账本")

    # HR: the notice now differs from the published one; the correction, with a reason.
    tick(minutes=30)
    hr.sign_in(hr_login, hr_password)
    path = f"/console/campaigns/{c}/notice"
    html = hr.get("公示更正", path, 'id="changes"').get_data(as_text=True)
    changed = sum(html.count(f'<tr class="{k}">') for k in ("added", "removed", "changed"))
    current = re.search(r'name="supersedes" value="([^"]+)"', html)
    if changed < 1 or current is None:
        raise hr.fail("公示更正", path, "no changed row to correct")
    tell("公示更正（与已发布公示的差异）", path, f"{changed} 行变更")
    tick(minutes=10)
    hr.post("公示更正", path, path, {"supersedes": current.group(1), "days": "5",
                                     "reason": CORRECTION_REASON, "confirm": "yes"})
    html = hr.get("公示", path, 'id="published"').get_data(as_text=True)
    notices = html.count('<li><a href="/notices/', html.find('id="published"'))
    if notices < 2:
        raise hr.fail("公示", path, f"{notices} notices listed after the correction")
    tell("公示", path, f"{notices} 份已发布（原公示已被更正取代）")

    # The lists: a filter, a search for one registration number, the exports.
    reg = summary.example[0]
    for label, path in (("决定列表", f"/console/campaigns/{c}/decisions?outcome=forfeited"),
                        ("决定列表（按报名号查找）", f"/console/campaigns/{c}/decisions?q={reg}"),
                        ("考生列表", f"/console/campaigns/{c}/candidates?post={POSTS[2][0]}"),
                        ("面试时段列表", f"/console/campaigns/{c}/windows?q={reg}")):
        html = hr.get(label, path, 'id="list-total"').get_data(as_text=True)
        said = _text(html, "list-total").split(" · ")[0]
        if _first_number(said) < 1:
            raise hr.fail(label, path, f"no rows ({said})")
        tell(label, path, said)
    filtered = f"/console/campaigns/{c}/decisions?outcome=forfeited"
    html = hr.get("决定列表", filtered, 'id="list-total"').get_data(as_text=True)
    total = _first_number(_text(html, "list-total"))
    resp = hr.get("导出 CSV", filtered + "&format=csv", "")
    rows = len(resp.get_data().decode("utf-8-sig").splitlines()) - 1
    if rows != total:
        raise hr.fail("导出 CSV", filtered + "&format=csv", f"{rows} rows, the list has {total}")
    tell("导出 CSV", filtered + "&format=csv", f"{rows:,} 行（UTF-8，Excel 可直接打开）")
    resp = hr.get("导出 Excel", filtered + "&format=xlsx", "")
    sheet = load_workbook(io.BytesIO(resp.get_data()), read_only=True).worksheets[0]
    rows = sum(1 for _ in sheet.iter_rows()) - 1
    if rows != total:
        raise hr.fail("导出 Excel", filtered + "&format=xlsx", f"{rows} rows, the list has "
                      f"{total}")
    tell("导出 Excel", filtered + "&format=xlsx", f"{rows:,} 行")

    # A decision reviewed with a reason, its activity, the campaign's activity.
    search = hr.get("决定列表", f"/console/campaigns/{c}/decisions?q={reg}", "")
    decision = re.search(r'href="/console/decisions/([^"?]+)"', search.get_data(as_text=True))
    if decision is None:
        raise hr.fail("决定列表", f"/console/campaigns/{c}/decisions?q={reg}", "no decision link")
    path = f"/console/decisions/{decision.group(1)}"
    html = hr.get("决定详情", path, 'id="review-ruling"').get_data(as_text=True)
    tell("决定详情（复查与理由）", path, _text(html, "review-ruling").split(" · ")[0][:60])
    for label, path in (("决定的操作记录", f"/console/decisions/{decision.group(1)}/activity"),
                        ("活动记录", f"/console/campaigns/{c}/activity")):
        html = hr.get(label, path, 'id="activity"').get_data(as_text=True)
        tell(label, path, _text(html, "activity-total"))

    # The signed archive report.
    path = f"/console/campaigns/{c}/reports"
    html = hr.get("归档报表", path, 'id="reports"').get_data(as_text=True)
    tell("归档报表", path, f"{html.count('<tr') - 1} 份已签名")

    # A second, small campaign: set up, imported (synonym headers), scheduled.
    c2 = f"{c}-b"
    hr.post("新建招聘", "/console/campaigns/new", "/console/campaigns/new", {
        "campaign": c2, "title": "2026年度市人力资源和社会保障局补充招聘AI面试",
        "timezone": TZ_NAME, "policy": "government",
        **{k: v for i, (p, t) in enumerate(POSTS)
           for k, v in ((f"post_{i}", p), (f"post_title_{i}", t))}})
    tell("新建招聘", "/console/campaigns/new", f"{c2}：{len(POSTS)} 个岗位")
    tick(minutes=10)
    data = _second_csv(summary.seed)
    path = f"/console/campaigns/{c2}/import"
    done = hr.post("导入考生", path, path, {"file": (io.BytesIO(data), "考生名单.csv")})
    if f"n={SECOND_CANDIDATES}" not in done.headers.get("Location", ""):
        raise hr.fail("导入考生", path, f"went to {done.headers.get('Location')!r}")
    tell("导入考生（表头同义词）", path,
         f"{SECOND_CANDIDATES} 名，表头 {'、'.join(SYNONYM_HEADER)}")
    tick(minutes=10)
    day = (clock[0].astimezone(TZ) + timedelta(days=2)).date()
    while day.weekday() >= 5:  # an interview day on a weekday
        day += timedelta(days=1)
    slots = (("09:00", "10:00"), ("10:30", "11:30"))
    path = f"/console/campaigns/{c2}/schedule"
    form: dict[str, str] = {}
    for i, (opens, closes) in enumerate(slots):
        form |= {f"opens_{i}": f"{day}T{opens}", f"closes_{i}": f"{day}T{closes}",
                 f"capacity_{i}": str(SECOND_CANDIDATES // len(slots))}
    hr.post("安排时段", path, path, form)
    html = hr.get("安排时段", path, 'id="scheduled"').get_data(as_text=True)
    tell("安排时段", path, f"{_text(html, 'waiting').split(' · ')[0]}；"
         f"{html.count('<tr') - 1} 个时段已安排（{day}）")

    # Its interview day: the platform reports, the sweep decides; three connections fail.
    windows = sorted(service.windows(c2, limit=100), key=lambda w: w["opens_at"])
    events: list[dict[str, Any]] = []
    for i, w in enumerate(windows):
        start = parse_utc(w["opens_at"])
        kinds = (("joined", 3), ("connection_failed", 6)) if i % 4 == 1 else \
            (("joined", 4), ("completed", 25))
        events += [{"id": f"{c2}.e{len(events) + n:04d}", "window": w["window"],
                    "subject": w["subject"], "kind": kind,
                    "at": format_time(start + timedelta(minutes=m))}
                   | ({"detail": "network_timeout"} if kind == "connection_failed" else {})
                   for n, (kind, m) in enumerate(kinds)]
    last_close = max(parse_utc(w["closes_at"]) for w in windows)
    clock[0] = max(clock[0], last_close + timedelta(minutes=1))
    service.ingest(f"{c2}.wh00001", {"events": events}, clock[0])
    policy = service.cfg.policies[service.campaign(c2)["policy"]]
    clock[0] += timedelta(seconds=policy.grace_s, minutes=2)
    service.sweep(clock[0])
    tick(hours=18)  # the next morning: the reviewer signs in again (password and TOTP)
    reviewer.sign_in(rev_login, rev_password)
    path = f"/console/campaigns/{c2}/reviews"
    html = reviewer.get("复查卡片", path, 'class="case"').get_data(as_text=True)
    cases, evidence = html.count('class="case"'), html.count('<table class="events">')
    tell("复查卡片（平台记录、通知与规则）", path, f"{cases} 件待复查，{evidence} 件附平台记录")

    # Last, HR asks for a fresh report of the first campaign: a job in its own process
    # (``absentia report generate``, which keeps the real clock: nothing simulated follows).
    hr.sign_in(hr_login, hr_password)
    path = f"/console/campaigns/{c}/reports"
    hr.post("生成报表", path, path, {})
    html = hr.get("生成报表", path, 'data-job="').get_data(as_text=True)
    job = re.search(r'data-job="([^"]+)" data-state="([^"]+)"', html)
    if job is None:
        raise hr.fail("生成报表", path, "no job listed")
    states = [job.group(2)]
    status = f"/console/report-jobs/{job.group(1)}.json"
    deadline, error = time.monotonic() + JOB_WAIT_S, ""
    while states[-1] in ("queued", "running"):
        if time.monotonic() > deadline:
            raise hr.fail("生成报表", status, f"still {states[-1]} after {JOB_WAIT_S} s")
        time.sleep(0.5)  # a real process on the real clock
        found = hr.client.get(status)
        state = found.get_json(silent=True) if found.status_code == 200 else None
        if not isinstance(state, dict):
            raise hr.fail("生成报表", status, f"answered {found.status_code}")
        error = str(state.get("error") or "")
        if state["state"] != states[-1]:
            states.append(str(state["state"]))
    if states[-1] != "done":
        raise hr.fail("生成报表", status, f"the job ended {states[-1]}: {error}")
    tell("报表任务", path, " → ".join(JOB_STATES.get(x, x) for x in states)
         + f"（{job.group(1)}）")
    return seen
