"""A notice in one language a page, with the content the rules require (issue 13 item 9,
issue 14 item 6), through HTTP on SQLite and PostgreSQL: both pages served, each with its
digest in the ledger; the issuing office, period, supervision telephone and objection
channel on the page; a policy without them refused before anything is written; a notice
published as one bilingual page (before) still served and still matching its digest."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import pytest
from sqlalchemy import Connection, insert

from ledger.absence.tables import notice_documents
from ledger.ids import sha256_hex
from ledger.storage.store import NewEntry
from tests.functional._absence import Env, make_env
from tests.functional.test_console_hr import hr_client
from tests.functional.test_notices import decided_campaign, js

BARE = '[policies.bare]\nmode = "government"\n'


@pytest.fixture
def benv(tmp_path: Path, db_url: str) -> Iterator[Env]:
    """An app with one more policy, ``bare``, that sets no notice setting."""
    with make_env(tmp_path, db_url, extra_config=BARE) as e:
        yield e


def text(html: str) -> str:
    return unescape(re.sub(r"<[^>]*>", " ", html))


def test_publish_serves_chinese_and_english_each_matching_the_ledger(env: Env) -> None:
    decided_campaign(env)
    record = js(env.post("/api/v1/campaigns/c2026/notices", "hr", {}))
    assert record["sha256_en"]
    assert record["sha256_en"] != record["sha256"]
    entry = next(e for e in env.ledger_entries() if e["type"] == "notice.published")
    assert entry["body"]["sha256"] == record["sha256"]
    assert entry["body"]["sha256_en"] == record["sha256_en"]
    zh = env.client.get(record["url"])
    en = env.client.get(record["url"] + "?lang=en")
    assert hashlib.sha256(zh.data).hexdigest() == record["sha256"]
    assert hashlib.sha256(en.data).hexdigest() == record["sha256_en"]
    assert en.headers["ETag"] == f'"{record["sha256_en"]}"'
    for lang, digest in (("", record["sha256"]), ("?lang=en", record["sha256_en"])):
        original = env.client.get(record["url"] + "/original" + lang)
        assert hashlib.sha256(original.data).hexdigest() == digest
    zh_html, en_html = zh.get_data(as_text=True), en.get_data(as_text=True)
    assert '<html lang="zh-CN">' in zh_html
    assert '<html lang="en">' in en_html
    # Each page switches to the other.
    assert f'href="/notices/{record["notice"]}?lang=en"' in zh_html
    assert f'href="/notices/{record["notice"]}"' in en_html
    zh_text, en_text = text(zh_html), text(en_html)
    assert "公示期" in zh_text
    assert "Notice period" not in zh_text
    assert "verified" not in zh_text
    assert "About this notice" not in zh_text
    assert "Notice period" in en_text
    assert "公示期" not in en_text
    assert "监督电话" not in en_text
    # What the rules require, at the foot and in the facts.
    for words in ("示例市人力资源和社会保障局", "010-12345678", "示例市示例路1号人事考试中心",
                  "objection@hr.example.gov.cn"):
        assert words in zh_text
        assert words in en_text
    assert re.search(r"公示期\s+\d{4}年\d{1,2}月\d{1,2}日至\d{4}年\d{1,2}月\d{1,2}日（5个工作日）",
                     zh_text), zh_text
    assert re.search(r"\d{4}年\d{1,2}月\d{1,2}日\s*</time>", zh_html)  # 落款
    period = re.search(r'id="notice-period">([^<]*)<', zh_html)
    assert period is not None
    assert "00:00" not in period.group(1)


def test_the_notice_list_links_both_languages(env: Env) -> None:
    decided_campaign(env)
    record = js(env.post("/api/v1/campaigns/c2026/notices", "hr", {}))
    zh = env.client.get("/notices").get_data(as_text=True)
    assert f'href="/notices/{record["notice"]}"' in zh
    assert f'href="/notices/{record["notice"]}?lang=en"' in zh
    en = env.client.get("/notices?lang=en").get_data(as_text=True)
    assert f'href="/notices/{record["notice"]}?lang=en"' in en
    assert f'href="/notices/{record["notice"]}"' in en


def test_a_correction_is_in_both_languages_and_the_banner_in_each(env: Env) -> None:
    decided_campaign(env)
    first = js(env.post("/api/v1/campaigns/c2026/notices", "hr", {}))
    second = js(env.post("/api/v1/campaigns/c2026/notices", "hr",
                         {"supersedes": first["notice"]}))
    assert second["sha256_en"]
    zh = env.client.get(first["url"]).get_data(as_text=True)
    en = env.client.get(first["url"] + "?lang=en").get_data(as_text=True)
    assert "本公示已被更正" in zh
    assert "superseded" not in zh
    assert "This notice was superseded" in en
    assert "本公示已被更正" not in en
    assert f'href="/notices/{second["notice"]}?lang=en"' in en


def test_a_policy_without_notice_settings_is_refused_naming_the_setting(benv: Env) -> None:
    env = benv
    resp = env.post("/api/v1/campaigns", "hr", {
        "campaign": "b2026", "title": "2026年无设置批次", "policy": "bare",
        "posts": [{"post": "p01", "title": "综合管理岗"}]})
    assert resp.status_code == 201, js(resp)
    before = len(env.ledger_entries())
    refused = env.post("/api/v1/campaigns/b2026/notices", "hr", {})
    assert refused.status_code == 422
    assert refused.content_type.startswith("application/problem+json")
    problem = js(refused)
    assert problem["field"] == "notice_issuing_office"
    assert "[policies.bare]" in problem["detail"]
    assert len(env.ledger_entries()) == before  # nothing written
    # The policy that sets none keeps the body it had: no notice_ field was recorded.
    adopted = [e for e in env.ledger_entries() if e["type"] == "policy.adopted"
               and e["body"]["policy"] == "bare"]
    assert adopted
    assert not [k for k in adopted[0]["body"] if k.startswith("notice_")]


def test_a_notice_published_as_one_bilingual_page_is_still_served(env: Env) -> None:
    decided_campaign(env)
    html = ('<!doctype html><html lang="zh-CN"><body><!--absentia:banner-->'
            "<h1>旧公示 Old notice</h1></body></html>").encode()
    digest = sha256_hex(html)

    def plan(conn: Connection) -> list[NewEntry]:
        conn.execute(insert(notice_documents).values(notice="nt_old", html=html))
        return [NewEntry("notice.published", "hr:test", {
            "notice": "nt_old", "campaign": "c2026", "sha256": digest, "lines": 0,
            "checkpoint_size": 1, "period_start": "2026-11-25T00:00:00Z",
            "period_end": "2026-12-02T16:00:00Z"})]

    env.service.record(env.now[0], plan)
    record = js(env.get("/api/v1/notices/nt_old", "hr"))
    assert record["sha256_en"] is None
    for lang in ("", "?lang=en"):
        page = env.client.get("/notices/nt_old" + lang)
        assert page.status_code == 200
        assert page.data == html
        assert page.headers["ETag"] == f'"{digest}"'
        assert env.client.get("/notices/nt_old/original" + lang).data == html


def test_the_console_says_which_setting_is_missing_in_its_language(benv: Env) -> None:
    env = benv
    resp = env.post("/api/v1/campaigns", "hr", {
        "campaign": "b2026", "title": "2026年无设置批次", "policy": "bare",
        "posts": [{"post": "p01", "title": "综合管理岗"}]})
    assert resp.status_code == 201, js(resp)
    hr, _ = hr_client(env)
    page = "/console/campaigns/b2026/notice"
    shown = hr.get(page).get_data(as_text=True)
    said = re.search(r'<p class="error" id="no-preview">([^<]*)</p>', shown)
    assert said is not None, shown[-1500:]
    assert "公示缺少发布单位" in said.group(1)
    assert "[policies.bare]" in said.group(1)
    english = hr.get(page + "?lang=en").get_data(as_text=True)
    assert "The notice has no issuing office" in english
    assert 'id="preview"' not in shown  # no preview and no publish form: nothing to post
