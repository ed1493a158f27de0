"""A result notice points to its objections (issue 14 item 9), on SQLite and PostgreSQL:
each language's page links the live 异议受理情况 page and names the public objection
form in its objection channel; following the links gives those pages in the same
language.  A notice published before carries neither (its bytes are fixed)."""

from __future__ import annotations

import re
from html import unescape

from tests.functional._absence import Env
from tests.functional.test_notices import decided_campaign, js


def text(html: str) -> str:
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]*>", " ", html)))


def test_each_page_links_the_objections_received_and_the_objection_form(env: Env) -> None:
    decided_campaign(env)
    record = js(env.post("/api/v1/campaigns/c2026/notices", "hr", {}))
    nid = record["notice"]
    pages = {"zh": ("", "异议受理情况", "也可以在线 提交异议"),
             "en": ("?lang=en", "Objections received", "Objections may also be filed online")}
    for lang, (q, received, channel) in pages.items():
        html = env.client.get(record["url"] + q).get_data(as_text=True)
        assert f'id="objections-received" href="/notices/{nid}/objections{q}"' in html
        assert f'id="objection-form" href="/notices/{nid}/objections/new{q}"' in html
        shown = text(html)
        assert received in shown
        channel_text = text(html.split('id="objections"', 1)[1].split("</dd>", 1)[0])
        assert channel in channel_text, channel_text
        assert f"/notices/{nid}/objections/new" in channel_text
        # The links lead to the live pages, in this page's language.
        summary = env.client.get(f"/notices/{nid}/objections{q}")
        assert summary.status_code == 200
        summary_text = text(summary.get_data(as_text=True))
        title = "公示异议情况" if lang == "zh" else "Objections to this notice"
        assert title in summary_text
        form = env.client.get(f"/notices/{nid}/objections/new{q}")
        assert form.status_code == 200
        assert f'<html lang="{"en" if lang == "en" else "zh-CN"}"' in form.get_data(as_text=True)
