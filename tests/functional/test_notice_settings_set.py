"""A campaign's notice settings set after it opened (issue 14 item 6), through HTTP on
SQLite and PostgreSQL: a campaign whose policy sets none cannot publish; HR sets them
(API ``PUT /api/v1/campaigns/<c>/notice-settings`` or the console's notice page); then it
publishes and the notice shows them, the issuing office signing it (落款)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from html import unescape
from pathlib import Path

import pytest
from werkzeug.test import TestResponse

from ledger.absence.rebuild import check_rebuild
from tests.functional._absence import Env, make_env
from tests.functional.test_console_hr import error_of, hr_client, submit, text, why
from tests.functional.test_notices import decided_campaign, js

BARE = '[policies.bare]\nmode = "government"\n'
CAMPAIGN = "b2026"
SETTINGS = {"issuing_office": "示例县人力资源和社会保障局", "supervision_phone": "0991-7654321",
            "objection_address": "示例县示例路8号人事考试中心",
            "objection_email": "yiyi@hrss.example.gov.cn"}
PAGE = f"/console/campaigns/{CAMPAIGN}/notice"
ACTION = f"{PAGE}/settings"


@pytest.fixture
def benv(tmp_path: Path, db_url: str) -> Iterator[Env]:
    """An app with one more policy, ``bare``, that sets no notice setting."""
    with make_env(tmp_path, db_url, extra_config=BARE) as e:
        yield e


def put(env: Env, payload: object) -> TestResponse:
    return env.client.put(f"/api/v1/campaigns/{CAMPAIGN}/notice-settings", json=payload,
                          headers=env.auth("hr"))


def page_text(html: str) -> str:
    return unescape(re.sub(r"<[^>]*>", " ", html))


def test_set_through_the_api_then_the_notice_publishes_showing_them(benv: Env) -> None:
    env = benv
    decided_campaign(env, campaign=CAMPAIGN, policy="bare")
    refused = env.post(f"/api/v1/campaigns/{CAMPAIGN}/notices", "hr", {})
    assert refused.status_code == 422
    assert js(refused)["field"] == "notice_issuing_office"
    assert "notice-settings" in js(refused)["detail"]  # says where to set it
    before = len(env.ledger_entries())
    bad = put(env, SETTINGS | {"supervision_phone": "138 1234 5678"})
    assert bad.status_code == 400
    assert js(bad)["field"] == "supervision_phone"
    assert len(env.ledger_entries()) == before  # nothing written
    # Part of them: still refused, naming the next one missing.
    done = put(env, {"issuing_office": SETTINGS["issuing_office"]})
    assert done.status_code == 200, js(done)
    shown = js(env.get(f"/api/v1/campaigns/{CAMPAIGN}/notice-settings", "auditor"))
    assert shown["issuing_office"] == SETTINGS["issuing_office"]
    assert shown["missing"] == ["supervision_phone", "objection_address", "objection_email"]
    again = env.post(f"/api/v1/campaigns/{CAMPAIGN}/notices", "hr", {})
    assert js(again)["field"] == "notice_supervision_phone"
    # All of them (POST does what PUT does).
    resp = env.post(f"/api/v1/campaigns/{CAMPAIGN}/notice-settings", "hr", SETTINGS)
    assert resp.status_code == 200, js(resp)
    entry = env.ledger_entries()[-1]
    assert entry["type"] == "campaign.notice_settings"
    assert entry["body"]["campaign"] == CAMPAIGN
    assert entry["body"]["notice_objection_email"] == SETTINGS["objection_email"]
    record = js(env.post(f"/api/v1/campaigns/{CAMPAIGN}/notices", "hr", {}))
    html = env.client.get(record["url"]).get_data(as_text=True)
    words = page_text(html)
    for value in SETTINGS.values():
        assert value in words
    office = re.search(r'id="issuing-office">([^<]*)<', html)
    assert office is not None
    assert office.group(1) == SETTINGS["issuing_office"]
    signoff = re.search(r'id="signoff">\s*<p>([^<]*)</p>\s*<p><time[^>]*>(\d{4}年\d{1,2}月'
                        r'\d{1,2}日)</time>', html)
    assert signoff is not None, html[-1500:]  # 落款: the office, then the date
    assert signoff.group(1) == SETTINGS["issuing_office"]
    result = check_rebuild(env.service.store, env.service.log)
    assert result.equal, result.differences
    assert result.tables["p_campaign_notice_settings"] == 1


def test_set_on_the_console_s_notice_page(benv: Env) -> None:
    env = benv
    decided_campaign(env, campaign=CAMPAIGN, policy="bare")
    hr, user = hr_client(env)
    shown = text(hr.get(PAGE))
    assert 'id="no-preview"' in shown  # refused: the form is under the message
    assert "请在下方“公示设置”中为本招聘批次填写" in shown
    assert shown.index('id="no-preview"') < shown.index('id="notice-settings"')
    assert 'name="ns_issuing_office"' in shown
    assert 'value="registration" checked' in shown  # the default columns are ticked
    form = {f"ns_{k}": v for k, v in SETTINGS.items()} | {
        "ns_roster": "withdrawn", "ns_fields": ["registration", "name", "result"]}
    before = len(env.ledger_entries())
    # An error, in the page's language, naming the setting; nothing written.
    bad = submit(hr, PAGE, ACTION, form | {"ns_objection_email": "yiyi@"})
    assert bad.status_code == 400, why(bad)
    assert error_of(bad).startswith("异议受理邮箱：")
    bad_en = submit(hr, PAGE + "?lang=en", ACTION + "?lang=en",
                    form | {"ns_fields": []})
    assert bad_en.status_code == 400, why(bad_en)
    assert error_of(bad_en) == "Columns the notice shows: Choose at least one column."
    assert len(env.ledger_entries()) == before
    # The happy path.
    resp = submit(hr, PAGE, ACTION, form)
    assert resp.status_code == 303, why(resp)
    assert resp.headers["Location"] == PAGE + "?done=notice_settings"
    entry = env.ledger_entries()[-1]
    assert entry["type"] == "campaign.notice_settings"
    assert entry["actor"] == f"hr:{user}"
    assert entry["body"]["notice_roster"] == "withdrawn"
    assert entry["body"]["notice_fields"] == "registration,name,result"
    after = text(hr.get(resp.headers["Location"]))
    assert "公示设置已记入账本" in after
    assert 'id="no-preview"' not in after
    assert 'id="publish"' in after
    assert f'value="{SETTINGS["issuing_office"]}"' in after
    assert 'value="cause" checked' not in after
    # The campaign's activity lists it, by who and in words.
    activity = text(hr.get(f"/console/campaigns/{CAMPAIGN}/activity"))
    assert "设置公示内容" in activity
    published = submit(hr, PAGE, PAGE, {"days": "5"})
    assert published.status_code == 303, why(published)
    notice = env.ledger_entries()[-1]
    assert notice["type"] == "notice.published"
    page = env.client.get(f"/notices/{notice['body']['notice']}").get_data(as_text=True)
    assert SETTINGS["issuing_office"] in page_text(page)
