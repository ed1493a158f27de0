"""Errors on pages meant for people are pages; errors of the JSON API are problem+json.

A browser shows problem+json as raw text: a console or self-service form refused before
its view runs (a body too large, a method it does not take, an unknown page) must answer
a short page in Chinese and English that says what to do, while the API and the logs'
endpoints keep answering RFC 9457 problem details.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.functional._absence import Env, make_env


@pytest.fixture
def env(tmp_path: Path, sqlite_url: str) -> Iterator[Env]:
    with make_env(tmp_path, sqlite_url) as e:
        yield e


def is_page(resp: object, status: int, words: str) -> None:
    assert resp.status_code == status  # type: ignore[attr-defined]
    assert resp.mimetype == "text/html"  # type: ignore[attr-defined]
    body = resp.get_data(as_text=True)  # type: ignore[attr-defined]
    assert words in body
    assert "/problems/" not in body


def test_pages_get_pages_and_the_api_gets_problems(env: Env) -> None:
    c = env.client
    is_page(c.get("/console/no-such-page"), 404, "页面不存在")
    is_page(c.get("/notices/no-such-notice/nowhere"), 404, "页面不存在")
    is_page(c.post("/status", data={"registration": "x" * 10_000}), 413, "提交的内容过大")
    is_page(c.delete("/status"), 405, "不支持此请求方式")
    assert c.delete("/status").headers["Allow"]
    for resp in (c.get("/api/v1/no-such-endpoint"), c.get("/logs/no-such-log/checkpoint"),
                 c.delete("/api/v1/campaigns")):
        assert resp.mimetype == "application/problem+json"
        assert resp.get_json()["status"] == resp.status_code


def test_a_database_fault_on_a_page_is_a_page(env: Env) -> None:
    """A page whose database read fails (here: its table is gone) says so as a page."""
    with env.store.engine.begin() as conn:
        conn.execute(text("DROP TABLE p_notices"))
    resp = env.client.get("/notices")
    assert resp.status_code == 500
    assert resp.mimetype == "text/html"
    assert "服务器内部错误" in resp.get_data(as_text=True)
    api = env.client.get(f"/api/v1/campaigns/{'c'}/notices/preview")
    assert api.mimetype == "application/problem+json"
