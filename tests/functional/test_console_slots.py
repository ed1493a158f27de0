"""Backup time slots (备用面试时间段) in the console, on SQLite and on PostgreSQL: HR adds
them on the schedule page (Beijing wall-clock times, a capacity) and sees them with
已用/容量; the review card's make-up, the mass make-up, the appeal ruling and the
accommodation form offer "使用备用时间段"; refusals name the field in the page's language."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ledger.absence.service import Caller
from tests.functional._absence import make_env
from tests.functional.test_console_hr import (
    CAMPAIGN,
    Built,
    assert_labelled,
    build,
    error_of,
    hr_client,
    reviewer_client,
    submit,
    text,
    why,
)

BEIJING = ZoneInfo("Asia/Shanghai")
SCHEDULE = f"/console/campaigns/{CAMPAIGN}/schedule"
ACTION = f"/console/campaigns/{CAMPAIGN}/backup-slots"
REVIEWS = f"/console/campaigns/{CAMPAIGN}/reviews"
HR = Caller("hr:test", "hr")


@pytest.fixture
def built(tmp_path: Path, db_url: str) -> Iterator[Built]:
    with make_env(tmp_path, db_url) as env:
        yield build(env)


def local(moment: datetime) -> str:
    """``moment`` as a ``datetime-local`` value in Beijing time."""
    return moment.astimezone(BEIJING).strftime("%Y-%m-%dT%H:%M")


def day_after_tomorrow(built: Built) -> datetime:
    return (built.env.now[0] + timedelta(days=2)).astimezone(BEIJING).replace(
        hour=9, minute=0, second=0, microsecond=0)


def reserve(built: Built, slot: str, capacity: int, hours: int = 0) -> datetime:
    opens = day_after_tomorrow(built) + timedelta(hours=hours)
    built.env.service.reserve_backup_slot(HR, CAMPAIGN, {
        "slot": slot, "opens_at": opens.isoformat(),
        "closes_at": (opens + timedelta(hours=1)).isoformat(), "capacity": capacity},
        built.env.now[0])
    return opens


def test_the_schedule_page_adds_backup_slots_and_lists_their_seats(built: Built) -> None:
    env = built.env
    hr, user = hr_client(env)
    page = text(hr.get(SCHEDULE))
    assert "备用时间段" in page
    assert "尚未设置备用时间段。" in page
    assert_labelled(page)
    day = day_after_tomorrow(built)
    form = {"bs_opens": local(day), "bs_closes": local(day + timedelta(hours=2)),
            "bs_capacity": "3", "bs_slot": "b1"}
    before = len(env.ledger_entries())
    bad = submit(hr, SCHEDULE, ACTION, form | {"bs_capacity": "0"})
    assert bad.status_code == 400
    assert error_of(bad) == "容量（人）：容量应为 1 至 50000 的整数"
    assert f'value="{local(day)}"' in text(bad)  # what was typed stays
    past = submit(hr, SCHEDULE, ACTION, form | {"bs_opens": local(env.now[0] - timedelta(
        hours=1))})
    assert past.status_code == 400
    assert error_of(past) == "开始时间：开始时间必须在将来"
    english = submit(hr, SCHEDULE + "?lang=en", ACTION + "?lang=en",
                     form | {"bs_slot": "makeup"})
    assert error_of(english) == "Backup slot ID: makeup and rebook are reserved IDs; " \
                                "choose another"
    assert len(env.ledger_entries()) == before
    resp = submit(hr, SCHEDULE, ACTION, form)
    assert resp.status_code == 303, why(resp)
    assert resp.headers["Location"] == SCHEDULE + "?done=slot"
    reserved = [e for e in env.ledger_entries() if e["type"] == "slot.reserved"]
    assert [(e["body"]["slot"], e["body"]["capacity"], e["actor"]) for e in reserved] == [
        ("b1", 3, f"hr:{user}")]
    shown = text(hr.get(resp.headers["Location"]))
    assert "已添加备用时间段。" in shown
    table = shown.split('id="backup-slots"', 1)[1].split("</table>", 1)[0]
    assert day.strftime("%Y-%m-%d %H:%M") in table
    assert (day + timedelta(hours=2)).strftime("%Y-%m-%d %H:%M") in table
    assert "<td>0/3</td>" in table
    assert "Z<" not in table
    again = submit(hr, SCHEDULE, ACTION, form)
    assert again.status_code == 409
    assert error_of(again) == "备用时间段编号：该编号已被使用，请换一个"
    # Unused, it may be withdrawn from the table.
    assert "撤销 b1" in table
    gone = submit(hr, SCHEDULE, ACTION + "/withdrawal", {"slot": "b1"})
    assert gone.status_code == 303, why(gone)
    assert gone.headers["Location"] == SCHEDULE + "?done=slot_withdrawn"
    after = text(hr.get(gone.headers["Location"]))
    assert "已撤销备用时间段。" in after
    assert "尚未设置备用时间段。" in after
    assert [e["actor"] for e in env.ledger_entries() if e["type"] == "slot.withdrawn"] == [
        f"hr:{user}"]


def test_make_up_forms_offer_backup_slots_and_refuse_a_full_one(built: Built) -> None:
    env = built.env
    opens = reserve(built, "b1", 1)
    rev, user = reviewer_client(env)
    shown = text(rev.get(REVIEWS))
    assert "使用备用时间段" in shown
    label = f"b1：{opens.strftime('%Y-%m-%d %H:%M')}至" \
            f"{(opens + timedelta(hours=1)).strftime('%Y-%m-%d %H:%M')}，剩余 1 个名额"
    assert label in shown
    assert "按时间先后依次填入备用时间段" in shown  # the mass make-up's choice
    assert_labelled(shown)
    pending = [d["decision"] for d in env.service.decisions(CAMPAIGN, pending_review=True)]
    typed = {"opens_at": local(opens + timedelta(days=1)),
             "closes_at": local(opens + timedelta(days=1, hours=1))}
    resp = submit(rev, REVIEWS, REVIEWS, {"decision": pending[0], "ruling": "makeup_granted",
                                          "backup_slot": "b1", **typed})
    assert resp.status_code == 303, why(resp)
    window = built.entries("window.scheduled")[-1]
    assert (window["body"]["slot"], window["actor"]) == ("b1", f"reviewer:{user}")
    assert window["body"]["opens_at"].startswith(
        opens.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M"))
    after = text(rev.get(REVIEWS))
    assert "b1：" not in after  # full: no longer offered
    before = len(env.ledger_entries())
    full = submit(rev, REVIEWS, REVIEWS, {"decision": pending[1], "ruling": "makeup_granted",
                                          "backup_slot": "b1", **typed})
    assert full.status_code == 409
    assert error_of(full) == "使用备用时间段：该备用时间段已满"
    english = submit(rev, REVIEWS + "?lang=en", REVIEWS + "?lang=en", {
        "decision": pending[1], "ruling": "makeup_granted", "backup_slot": "b1", **typed})
    assert error_of(english) == "Use a backup slot: this backup slot is full"
    assert len(env.ledger_entries()) == before
    # The mass make-up fills the backup slots earliest first.
    reserve(built, "late", 10, hours=4)
    reserve(built, "early", 2, hours=2)
    alert = next(a for a in env.service.alerts(CAMPAIGN) if a["kind"] == "platform_outage")
    resp = submit(rev, REVIEWS, f"/console/campaigns/{CAMPAIGN}/alerts", {
        "alert": alert["alert"], "backup_slot": "*", "confirm": "yes", **typed})
    assert resp.status_code == 303, why(resp)
    assert resp.headers["Location"] == REVIEWS + "?done=mass&n=5"
    seats = {s["slot"]: s["used"] for s in env.service.backup_slots(CAMPAIGN)}
    assert seats == {"b1": 1, "early": 2, "late": 3}


def test_an_appeal_overturn_and_an_alternate_slot_take_seats(built: Built) -> None:
    env = built.env
    reserve(built, "b1", 5)
    rev, _ = reviewer_client(env)
    appeal = env.service.appeals(CAMPAIGN)[0]["appeal"]
    page = f"/console/appeals/{appeal}"
    shown = text(rev.get(page))
    assert "使用备用时间段" in shown
    assert_labelled(shown)
    resp = submit(rev, page, f"{page}/ruling", {"ruling": "overturned",
                                                "reason": "平台故障属实", "backup_slot": "b1"})
    assert resp.status_code == 303, why(resp)
    ruled = env.service.appeal_record(appeal)
    assert env.service.window(ruled["makeup_window"])["slot"] == "b1"
    # An HR user moves a window still open into the backup slot.
    hr, _ = hr_client(env)
    made = env.service.schedule_windows(HR, CAMPAIGN, {
        "opens_at": env.now[0].isoformat(),
        "closes_at": (env.now[0] + timedelta(hours=3)).isoformat(),
        "subjects": [env.service.window(built.window[built.reg(6)])["subject"]]},
        env.now[0])
    w = made[0]["window"]
    wpage = f"/console/windows/{w}"
    assert "使用备用时间段" in text(hr.get(wpage))
    bad = submit(hr, wpage, f"{wpage}/accommodation", {
        "kind": "extended", "backup_slot": "b1", "reason": "poor_signal",
        "closes_at": local(env.now[0] + timedelta(hours=5))})
    assert bad.status_code == 400
    assert error_of(bad) == "使用备用时间段：只有“调换时段”可以使用备用时间段"
    resp = submit(hr, wpage, f"{wpage}/accommodation", {
        "kind": "alternate_slot", "backup_slot": "b1", "reason": "poor_signal",
        "closes_at": local(env.now[0] + timedelta(hours=5))})
    assert resp.status_code == 303, why(resp)
    moved = env.service.window(w)
    assert (moved["slot"], moved["accommodation"]) == ("b1", "alternate_slot")
    (slot,) = env.service.backup_slots(CAMPAIGN)
    assert (slot["used"], slot["capacity"]) == (2, 5)
    shown = text(hr.get(SCHEDULE))
    assert "<td>2/5</td><td>—</td>" in shown  # used: no withdraw button
    kept = submit(hr, SCHEDULE, ACTION + "/withdrawal", {"slot": "b1"})
    assert kept.status_code == 409
    assert error_of(kept) == "备用时间段编号：已有考生安排在该备用时间段，不能撤销"

