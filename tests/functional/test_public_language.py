"""Public pages speak one language at a time: Chinese by default, English with ``?lang=en``,
with a visible switch (中文 / English) to the same page (issue 13, item 9).

The notice list writes times at the campaign's wall clock (北京时间), not UTC.
"""

from __future__ import annotations

import re

from tests.functional._absence import Env

ISO_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?Z")


def test_home_is_chinese_by_default_and_english_on_request(env: Env) -> None:
    zh = env.client.get("/").get_data(as_text=True)
    assert '<html lang="zh-CN">' in zh
    assert "面试缺席审计账本" in zh
    assert "Interview absence audit ledger" not in zh
    assert 'class="lang-switch"' in zh
    assert 'href="/?lang=en"' in zh
    en = env.client.get("/?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in en
    assert "Interview absence audit ledger" in en
    assert "面试缺席审计账本" not in en
    assert 'href="/notices?lang=en"' in en
    assert 'href="/"' in en  # the switch back to Chinese


def test_notice_list_and_error_page_follow_the_language(env: Env) -> None:
    zh = env.client.get("/notices").get_data(as_text=True)
    assert '<html lang="zh-CN">' in zh
    assert "暂无公示。" in zh
    assert "No notice has been published yet." not in zh
    assert not ISO_Z.search(zh)
    assert "(UTC)" not in zh
    en = env.client.get("/notices?lang=en&page=1").get_data(as_text=True)
    assert "No notice has been published yet." in en
    assert "暂无公示" not in en
    # The switch keeps the page (and its query).
    assert 'href="/notices?page=1"' in en
    missing_zh = env.client.get("/notices/no-such-notice")
    text = missing_zh.get_data(as_text=True)
    assert missing_zh.status_code == 404
    assert '<html lang="zh-CN">' in text
    assert 'class="lang-switch"' in text
    missing_en = env.client.get("/notices/no-such-notice?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in missing_en
    assert "Back" in missing_en
    assert "返回" not in missing_en
