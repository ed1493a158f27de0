"""The console's setup pages: a campaign, its posts and policy, then windows in slots,
all through the forms, as an HR user the ledger names."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.functional._absence import Env, candidates_csv, make_env
from tests.functional.test_console_hr import (
    assert_labelled,
    error_of,
    hr_client,
    reviewer_client,
    submit,
    text,
)
from tests.functional.test_console_signin import csrf_of

NEW = "/console/campaigns/new"
BEIJING = ZoneInfo("Asia/Shanghai")


@pytest.fixture
def env(tmp_path: Path, db_url: str) -> Iterator[Env]:
    with make_env(tmp_path, db_url) as env:
        yield env


def entries(env: Env, kind: str) -> list[dict[str, Any]]:
    return [e for e in env.ledger_entries() if e["type"] == kind]


def campaign_form(**over: str) -> dict[str, str]:
    form = {"campaign": "hr2026", "title": "2026年市人社局公开招聘", "timezone": "Asia/Shanghai",
            "policy": "", "post_0": "p01", "post_title_0": "综合管理",
            "post_1": "p02", "post_title_1": "财务会计"}
    return form | over


def test_create_campaign_with_posts(env: Env) -> None:
    hr, user = hr_client(env)
    listing = text(hr.get("/console/campaigns"))
    assert 'id="new-campaign"' in listing
    assert "新建招聘批次" in listing
    page = hr.get(NEW)
    assert page.status_code == 200
    assert_labelled(text(page))
    assert 'value="Asia/Shanghai"' in text(page)
    # A post listed twice: refused, the field named, the values kept, nothing recorded.
    before = len(env.ledger_entries())
    bad = submit(hr, NEW, NEW, campaign_form(post_1="p01"))
    assert bad.status_code == 400
    assert error_of(bad) == "第 2 个岗位 岗位编号：岗位编号重复"
    assert 'value="财务会计"' in text(bad)
    assert 'value="2026年市人社局公开招聘"' in text(bad)
    assert len(env.ledger_entries()) == before
    bad = submit(hr, NEW, NEW, campaign_form(timezone="Mars/Olympus"))
    assert error_of(bad).startswith("时区：")
    bad = submit(hr, NEW, NEW, campaign_form(title=""))
    assert error_of(bad) == "批次名称：必须填写"
    # English on request.
    bad = submit(hr, NEW + "?lang=en", NEW + "?lang=en", campaign_form(campaign="a b"))
    assert error_of(bad).startswith("Campaign ID: use letters")
    # Created: one entry per post, all by the signed-in HR user.
    resp = submit(hr, NEW, NEW, campaign_form())
    assert resp.status_code == 303, text(resp)[-800:]
    assert resp.headers["Location"] == "/console/campaigns/hr2026/schedule?done=created"
    created = entries(env, "campaign.created")
    assert [e["body"] for e in created] == [{
        "campaign": "hr2026", "title": "2026年市人社局公开招聘", "timezone": "Asia/Shanghai",
        "policy": created[0]["body"]["policy"],
        "policy_digest": created[0]["body"]["policy_digest"]}]
    assert created[0]["actor"] == f"hr:{user}"
    posts = entries(env, "campaign.post_added")
    assert [(e["body"]["post"], e["body"]["title"], e["actor"]) for e in posts] == [
        ("p01", "综合管理", f"hr:{user}"), ("p02", "财务会计", f"hr:{user}")]
    assert "批次已创建" in text(hr.get(resp.headers["Location"]))
    # The same ID again: a conflict, said in Chinese.
    again = submit(hr, NEW, NEW, campaign_form())
    assert again.status_code == 409
    assert error_of(again) == "批次编号：该批次编号已存在"
    # A reviewer may not create one.
    rev, _ = reviewer_client(env)
    assert rev.get(NEW).status_code == 403
    assert rev.post(NEW, data={"csrf_token": csrf_of(rev.get("/console/")),
                               **campaign_form(campaign="x2")}).status_code == 403


def local(moment: datetime) -> str:
    """``moment`` as a ``datetime-local`` value in Beijing time."""
    return moment.astimezone(BEIJING).strftime("%Y-%m-%dT%H:%M")


def test_schedule_slots_fill_to_capacity_in_registration_order(env: Env) -> None:
    hr, user = hr_client(env)
    assert submit(hr, NEW, NEW, campaign_form()).status_code == 303
    page = "/console/campaigns/hr2026/schedule"
    assert "尚未安排任何时段" in text(hr.get(page))
    nobody = submit(hr, page, page, {"opens_0": local(env.now[0] + timedelta(days=1)),
                                     "closes_0": local(env.now[0] + timedelta(days=1, hours=1)),
                                     "capacity_0": "3"})
    assert nobody.status_code == 400
    assert error_of(nobody) == "考生：没有尚未安排时段的考生（请先导入考生）"
    data, rows = candidates_csv(5, seed=7)
    assert env.import_csv("hr2026", data).status_code == 201
    html = text(hr.get(page))
    assert "尚未安排时段的考生：5 名" in html
    assert "北京时间" in html
    assert_labelled(html)
    day = (env.now[0] + timedelta(days=2)).astimezone(BEIJING).replace(
        hour=9, minute=0, second=0, microsecond=0)
    slots = {"opens_0": local(day), "closes_0": local(day + timedelta(hours=1)),
             "capacity_0": "2",
             "opens_1": local(day + timedelta(hours=2)),
             "closes_1": local(day + timedelta(hours=3)), "capacity_1": "2"}
    # A bad second slot refuses the whole form: nothing is scheduled, values kept.
    bad = submit(hr, page, page, slots | {"closes_1": local(day + timedelta(hours=1))})
    assert bad.status_code == 400
    assert error_of(bad) == "结束时间：结束时间必须晚于开始时间"
    assert f'value="{local(day)}"' in text(bad)
    assert entries(env, "window.scheduled") == []
    bad = submit(hr, page, page, slots | {"capacity_1": "0"})
    assert error_of(bad) == "容量（人）：容量应为 1 至 50000 的整数"
    resp = submit(hr, page, page, slots)
    assert resp.status_code == 303, text(resp)[-800:]
    assert resp.headers["Location"] == page + "?done=scheduled&n=4"
    scheduled = entries(env, "window.scheduled")
    assert len(scheduled) == 4
    assert {e["actor"] for e in scheduled} == {f"hr:{user}"}
    windows = env.service.windows("hr2026")
    by_subject = {w["subject"]: w for w in windows}
    regs = sorted(rows, key=lambda r: r["registration"])
    subject_of = {c["registration"]: c["subject"] for c in env.service.candidates("hr2026")}
    first = [by_subject[subject_of[r["registration"]]]["opens_at"] for r in regs[:4]]
    assert len(set(first[:2])) == 1
    assert len(set(first[2:])) == 1
    assert first[0] < first[2]
    assert subject_of[regs[4]["registration"]] not in by_subject
    done = text(hr.get(resp.headers["Location"]))
    assert "已为 4 名考生安排面试时段" in done
    assert "尚未安排时段的考生：1 名" in done
    table = done.split('id="scheduled"', 1)[1]
    assert day.strftime("%Y-%m-%d %H:%M") in table
    assert re.search(r"<td>2</td></tr>", table)
    assert "Z<" not in table
    # The one left gets the next slot.
    resp = submit(hr, page, page, {"opens_0": local(day + timedelta(hours=4)),
                                   "closes_0": local(day + timedelta(hours=5)),
                                   "capacity_0": "10"})
    assert resp.headers["Location"] == page + "?done=scheduled&n=1"
    assert len(env.service.windows("hr2026")) == 5
