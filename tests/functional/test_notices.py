"""Public notices through HTTP on SQLite and PostgreSQL: what is published, what is
refused, immutability (bytes, ETag, ledger digest), corrections, the list."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime, timedelta
from html import unescape as html_unescape
from typing import Any

from werkzeug.test import TestResponse

from ledger import merkle
from ledger.checkpoint import Checkpoint
from ledger.proof import TlogProof
from tests.functional._absence import LOG, Env, candidates_csv

N = 8
LOG_ORIGIN = f"example.org/{LOG}"


def js(resp: TestResponse) -> Any:
    data = resp.get_json(silent=True)
    assert data is not None, resp.get_data(as_text=True)
    return data


def local(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def decided_campaign(env: Env, n: int = N, *, post_title: str | None = None,
                     campaign: str = "c2026", policy: str | None = None
                     ) -> list[dict[str, str]]:
    """A campaign of ``n`` candidates whose windows closed and were decided (under
    ``policy``, else the default one); the clock runs from the real time (the log was
    created then) so checkpoints move forward."""
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1)
    env.clock(start)
    resp = env.post("/api/v1/campaigns", "hr", {
        "campaign": campaign, "title": "2026年市人社局公开招聘",
        **({"policy": policy} if policy else {}),
        "posts": [{"post": "p01", "title": post_title or "综合管理岗"}]})
    assert resp.status_code == 201, js(resp)
    data, rows = candidates_csv(n, seed=21)
    assert env.import_csv(campaign, data).status_code == 201
    resp = env.post(f"/api/v1/campaigns/{campaign}/windows", "hr", {
        "opens_at": local(start + timedelta(minutes=10)),
        "closes_at": local(start + timedelta(hours=1))})
    assert resp.status_code == 201, js(resp)
    windows = js(resp)["windows"]
    env.clock(start + timedelta(minutes=20))
    # Half attend; the rest miss (no show).
    events = [{"id": f"e{i}", "window": w["window"], "kind": "completed",
               "at": local(start + timedelta(minutes=15))}
              for i, w in enumerate(windows) if i % 2 == 0]
    assert env.webhook({"events": events}, msg_id="m1").status_code == 201
    env.clock(start + timedelta(hours=2))
    assert env.service.sweep(env.now[0]) == n
    return rows


def test_a_notice_shows_whitelisted_fields_and_masked_names_only(env: Env) -> None:
    rows = decided_campaign(env)
    resp = env.post("/api/v1/campaigns/c2026/notices", "hr", {})
    assert resp.status_code == 201, js(resp)
    record = js(resp)
    assert record["lines"] == N
    page = env.client.get(record["url"])
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for row in rows:
        assert row["registration"] in html
        assert row["name"] not in html
        assert row["id_number"] not in html
        assert row["phone"] not in html
        assert row["email"] not in html
        assert row["id_number"][-4:] not in html or row["id_number"][-4:] in row["registration"]
    # Each line names its decision's ledger index, whose entry is that decision.
    indexes = [int(i) for i in re.findall(r'<tr data-index="(\d+)"', html)]
    assert len(indexes) == N
    for i in indexes:
        entry = json.loads(env.store.entry(LOG, i))
        assert entry["type"] == "decision.made"
    outcomes = sorted(json.loads(env.store.entry(LOG, i))["body"]["outcome"] for i in indexes)
    assert outcomes == ["attended"] * (N // 2) + ["forfeited"] * (N // 2)
    assert html.count("视为自动放弃") == N // 2
    # The page carries the checkpoint it was published under; it covers every line.
    note = re.search(r'<pre id="checkpoint">(.*?)</pre>', html, re.S)
    assert note is not None
    cp = Checkpoint.open(html_unescape(note.group(1)), env.store.verifiers(LOG), LOG_ORIGIN)
    assert cp.size == record["checkpoint_size"]
    assert cp.size > max(indexes)


def test_the_stored_bytes_are_what_the_ledger_digest_says(env: Env) -> None:
    decided_campaign(env)
    record = js(env.post("/api/v1/campaigns/c2026/notices", "hr", {}))
    page = env.client.get(record["url"])
    assert hashlib.sha256(page.data).hexdigest() == record["sha256"]
    assert page.headers["ETag"] == f'"{record["sha256"]}"'
    assert "immutable" in page.headers["Cache-Control"]
    again = env.client.get(record["url"], headers={"If-None-Match": page.headers["ETag"]})
    assert again.status_code == 304
    entries = [e for e in env.ledger_entries() if e["type"] == "notice.published"]
    assert len(entries) == 1
    assert entries[0]["body"]["sha256"] == record["sha256"]
    assert entries[0]["actor"].startswith("hr:")
    # The ledger entry carries no name and no page text: only the digest.
    assert "视为" not in json.dumps(entries[0], ensure_ascii=False)


def test_each_line_proves_its_decision_under_a_signed_checkpoint(env: Env) -> None:
    decided_campaign(env, 4)
    record = js(env.post("/api/v1/campaigns/c2026/notices", "hr", {}))
    html = env.client.get(record["url"]).get_data(as_text=True)
    links = re.findall(r'href="(/logs/[^"]+/tlog-proof)"', html)
    assert len(links) == 4
    for link in links:
        proof = TlogProof.from_text(env.client.get(link).get_data(as_text=True))
        index = int(link.split("/")[-2])
        assert proof.index == index
        entry = env.client.get(link.rsplit("/", 1)[0]).data
        cp = proof.verify(merkle.leaf_hash(entry), env.store.verifiers(LOG), LOG_ORIGIN)
        assert cp.size >= record["checkpoint_size"]


def test_decisions_not_final_are_not_published(env: Env) -> None:
    decided_campaign(env)
    # A late candidate gets a window still open: the decisions are not final.
    data, _ = candidates_csv(1, seed=99, prefix="Z")
    assert env.import_csv("c2026", data).status_code == 201
    late = [c["subject"] for c in js(env.get("/api/v1/campaigns/c2026/candidates", "hr"))
            if c["registration"].startswith("Z")]
    resp = env.post("/api/v1/campaigns/c2026/windows", "hr", {
        "opens_at": local(env.now[0]), "closes_at": local(env.now[0] + timedelta(hours=1)),
        "subjects": late})
    assert resp.status_code == 201, js(resp)
    size = env.store.head(LOG).size
    refused = env.post("/api/v1/campaigns/c2026/notices", "hr", {})
    assert refused.status_code == 409
    assert refused.headers["Content-Type"] == "application/problem+json"
    assert "1 windows undecided" in js(refused)["detail"]
    assert env.store.head(LOG).size == size


def test_a_notice_that_would_show_a_name_is_refused(env: Env) -> None:
    # HR mistyped a candidate's full name as the post's title: the scan catches it.
    _, rows = candidates_csv(N, seed=21)
    decided_campaign(env, post_title=rows[3]["name"])
    size = env.store.head(LOG).size
    resp = env.post("/api/v1/campaigns/c2026/notices", "hr", {})
    assert resp.status_code == 422
    body = js(resp)
    assert body["field"] == "notice"
    assert "unmasked names" in body["detail"]
    assert rows[3]["name"] not in body["detail"]
    assert env.store.head(LOG).size == size  # nothing recorded
    preview = env.client.get("/api/v1/campaigns/c2026/notices/preview",
                             headers=env.auth("hr"))
    assert preview.status_code == 422
    assert rows[3]["name"] not in preview.get_data(as_text=True)


def test_a_correction_supersedes_and_the_old_notice_stays_readable(env: Env) -> None:
    decided_campaign(env)
    first = js(env.post("/api/v1/campaigns/c2026/notices", "hr", {}))
    second = env.post("/api/v1/campaigns/c2026/notices", "hr", {"supersedes": first["notice"]})
    assert second.status_code == 201, js(second)
    corrected = js(second)
    assert corrected["supersedes"] == first["notice"]
    old = env.client.get(first["url"])
    assert old.status_code == 200
    text = old.get_data(as_text=True)
    assert corrected["notice"] in text
    assert 'role="alert"' in text
    assert old.headers["ETag"] != f'"{first["sha256"]}"'
    assert "immutable" not in old.headers["Cache-Control"]
    original = env.client.get(f"{first['url']}/original")
    assert hashlib.sha256(original.data).hexdigest() == first["sha256"]
    # Superseding twice, or a notice of another state, is refused.
    again = env.post("/api/v1/campaigns/c2026/notices", "hr", {"supersedes": first["notice"]})
    assert again.status_code == 409
    assert js(again)["field"] == "supersedes"
    missing = env.post("/api/v1/campaigns/c2026/notices", "hr", {"supersedes": "nt_nope"})
    assert missing.status_code == 404


def test_the_list_is_newest_first_paginated_and_linked_from_home(env: Env) -> None:
    decided_campaign(env, 2)
    ids = []
    prev = None
    for _ in range(23):
        body: dict[str, str] = {"supersedes": prev} if prev else {}
        rec = js(env.post("/api/v1/campaigns/c2026/notices", "hr", body))
        ids.append(rec["notice"])
        prev = rec["notice"]
    home = env.client.get("/").get_data(as_text=True)
    assert 'href="/notices"' in home
    page1 = env.client.get("/notices").get_data(as_text=True)
    shown = re.findall(r'<tr><td><a href="/notices/(nt_[a-z2-7]+)">', page1)
    assert shown == list(reversed(ids))[:20]
    assert 'href="/notices?page=2"' in page1
    page2 = env.client.get("/notices?page=2").get_data(as_text=True)
    rest = re.findall(r'<tr><td><a href="/notices/(nt_[a-z2-7]+)">', page2)
    assert rest == list(reversed(ids))[20:]
    bad = env.client.get("/notices?page=x")
    assert bad.status_code == 400
    assert bad.mimetype == "text/html"  # a page for the person reading the list
    assert "请求有误" in bad.get_data(as_text=True)


def test_only_hr_publishes_and_bad_input_is_named(env: Env) -> None:
    decided_campaign(env, 2)
    assert env.post("/api/v1/campaigns/c2026/notices", "auditor", {}).status_code == 403
    assert env.post("/api/v1/campaigns/c2026/notices", None, {}).status_code == 401
    for body, field in (({"days": 0}, "days"), ({"days": "5"}, "days"),
                        ({"colour": "red"}, "colour"), ({"supersedes": 5}, "supersedes")):
        resp = env.post("/api/v1/campaigns/c2026/notices", "hr", body)
        assert resp.status_code == 400, body
        assert js(resp)["field"] == field
    assert env.post("/api/v1/campaigns/nope/notices", "hr", {}).status_code == 404
    assert env.client.get("/notices/nt_nope").status_code == 404


def test_preview_is_what_would_be_published_and_records_nothing(env: Env) -> None:
    decided_campaign(env, 2)
    size = env.store.head(LOG).size
    resp = env.client.get("/api/v1/campaigns/c2026/notices/preview", headers=env.auth("hr"))
    assert resp.status_code == 200
    assert resp.headers["Cache-Control"] == "no-store"
    assert "公示名单" in resp.get_data(as_text=True)
    assert env.store.head(LOG).size == size
    assert env.client.get("/api/v1/campaigns/c2026/notices/preview",
                          headers=env.auth("reviewer")).status_code == 403


def test_the_notice_period_counts_working_days(env: Env) -> None:
    decided_campaign(env, 2)
    rec = js(env.post("/api/v1/campaigns/c2026/notices", "hr", {"days": 5}))
    from zoneinfo import ZoneInfo

    from publicity.calendar import WorkingCalendar

    tz = ZoneInfo("Asia/Shanghai")
    published = datetime.fromisoformat(rec["published_at"].replace("Z", "+00:00"))
    day, counted, cal = published.astimezone(tz).date(), 0, WorkingCalendar()
    while counted < 5:  # counted here independently of notice_period
        day += timedelta(days=1)
        if cal.is_working_day(day):
            counted += 1
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=tz)
    assert rec["period_end"] == end.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert rec["period_start"] == rec["published_at"]


def test_a_period_into_an_unknown_year_is_a_409_that_says_what_to_configure(env: Env
                                                                            ) -> None:
    """Not a 503: retrying cannot help; the config (or the calendar package) must change."""
    decided_campaign(env, 2)
    size = env.store.head(LOG).size
    env.clock(datetime(2099, 6, 1, 2, 0, tzinfo=UTC))  # a year no calendar release knows
    for resp in (env.post("/api/v1/campaigns/c2026/notices", "hr", {}),
                 env.client.get("/api/v1/campaigns/c2026/notices/preview",
                                headers=env.auth("hr"))):
        assert resp.status_code == 409, resp.get_data(as_text=True)
        assert resp.mimetype == "application/problem+json"
        problem = js(resp)
        assert problem["status"] == 409
        assert problem["field"] == "publicity.calendar"
        assert '[publicity.calendar."2099"]' in problem["detail"]
        assert "upgrade the chinesecalendar package" in problem["detail"]
    assert env.store.head(LOG).size == size


def test_a_gzip_client_gets_the_same_bytes_compressed(env: Env) -> None:
    decided_campaign(env, 4)
    record = js(env.post("/api/v1/campaigns/c2026/notices", "hr", {}))
    resp = env.client.get(record["url"], headers={"Accept-Encoding": "gzip, br"})
    assert resp.headers["Content-Encoding"] == "gzip"
    assert resp.headers["Vary"] == "Accept-Encoding"
    import gzip

    assert hashlib.sha256(gzip.decompress(resp.data)).hexdigest() == record["sha256"]
    assert resp.headers["ETag"] == f'"{record["sha256"]}-gzip"'
    again = env.client.get(record["url"], headers={"Accept-Encoding": "gzip",
                                                    "If-None-Match": resp.headers["ETag"]})
    assert again.status_code == 304
