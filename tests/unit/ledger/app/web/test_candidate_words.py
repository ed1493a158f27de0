"""The candidate's reading of each decision path: who decided, what, why, what next and
by when, in plain words, with no rule codes or digests (``candidate_words.read``)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from ledger.app.web.candidate_words import read
from ledger.app.web.forms import Lang

ZH, EN = Lang("zh"), Lang("en")
TZ = "Asia/Shanghai"
WEEK = 604800
CODES = re.compile(r"no_attempt|no_show|makeup_|appeal_overturned|connection_failed|"
                   r"after_close|pending_review|[0-9a-f]{12}|UTC|Z\b|T\d\d:")


def decision(**kw: Any) -> dict[str, Any]:
    base = {"outcome": "forfeited", "cause": "no_show", "review": None,
            "reason": "no_attempt", "decided_at": "2026-11-12T01:00:00Z",
            "superseded_by": None, "rebook_until": None, "basis": "sweep"}
    return base | kw


def no_codes(text: str) -> None:
    assert not CODES.search(text), text


def test_system_forfeiture() -> None:
    r = read(decision(), ZH, TZ, WEEK)
    assert r.status == "视为自动放弃"
    assert r.who == "system"
    assert r.current
    assert r.text.startswith("本决定由系统于2026年11月12日 09:00（北京时间）")
    assert "结果：视为自动放弃本次招录。" in r.text
    assert "原因：未在规定时间内参加面试（缺席）。" in r.text
    assert "可在2026年11月19日 09:00（北京时间）前提出申诉" in r.text
    no_codes(r.text)
    en = read(decision(), EN, TZ, WEEK)
    assert "made automatically by the system at 12 Nov 2026, 09:00 (Beijing time)" in en.text
    assert "appeal until 19 Nov 2026, 09:00 (Beijing time)" in en.text
    no_codes(en.text)


def test_pending_review_says_what_happens_next() -> None:
    r = read(decision(outcome="makeup_pending_review", cause="technical",
                      review="pending", reason="makeup_cause"), ZH, TZ, WEEK)
    assert r.status == "待复核（可能安排补考）"
    assert r.who == "system"
    assert "结果：补考待人工复核。" in r.text
    assert "技术故障" in r.text
    assert "人事部门将人工复核缺席原因，核实后安排补考" in r.text
    no_codes(r.text)


def test_makeup_granted_by_a_reviewer_is_not_called_automatic() -> None:
    r = read(decision(outcome="makeup_pending_review", cause="technical",
                      review="makeup_granted"), ZH, TZ, WEEK)
    assert r.status == "经复核安排补考"
    assert r.who == "reviewer"
    assert "自动作出" not in r.text
    assert "人事部门复核人员人工作出" in r.text
    assert "结果：经复核，安排补考。" in r.text
    assert "补考时间见本页" in r.text
    assert "待人工复核" not in r.text
    no_codes(r.text)


def test_confirmed_by_a_reviewer() -> None:
    r = read(decision(outcome="makeup_pending_review", cause="technical",
                      review="confirmed"), ZH, TZ, WEEK)
    assert r.status == "经复核维持缺席认定，不安排补考"
    assert r.who == "reviewer"
    assert "自动作出" not in r.text
    assert "缺席认定维持，不安排补考" in r.text
    assert "前提出申诉" in r.text
    no_codes(r.text)


def test_overturned_on_appeal_reads_as_one_thing() -> None:
    r = read(decision(outcome="makeup_granted", basis="appeal", reason="appeal_overturned",
                      decided_at="2026-11-14T06:30:00Z"), ZH, TZ, WEEK)
    assert r.status == "经申诉安排补考"
    assert r.who == "appeal"
    assert "本决定由申诉复核于2026年11月14日 14:30（北京时间）作出" in r.text
    assert "结果：安排补考。" in r.text
    assert "补考待人工复核" not in r.text  # the issue: "安排补考" then "结果：补考待人工复核…"
    assert "自动作出" not in r.text
    assert "申诉经复核成立" in r.text
    no_codes(r.text)
    en = read(decision(outcome="makeup_granted", basis="appeal"), EN, TZ, WEEK)
    assert "made on appeal" in en.text
    no_codes(en.text)


@pytest.mark.parametrize(("kw", "status"), [
    ({"outcome": "makeup_pending_review", "review": "confirmed", "cause": "technical"},
     "经复核维持缺席认定，不安排补考（已被后续决定取代）"),
    ({}, "视为自动放弃（已被后续决定取代）"),
])
def test_superseded_history_is_worded_as_history(kw: dict[str, Any], status: str) -> None:
    r = read(decision(superseded_by="d1.2", **kw), ZH, TZ, WEEK)
    assert not r.current
    assert r.status == status
    assert "此认定已被后续决定取代，以当前认定为准。" in r.text
    assert "前提出申诉" not in r.text  # the next step belongs to the current decision
    assert "经复核维持 (" not in r.status
    no_codes(r.text)


def test_rebooking_names_both_deadlines() -> None:
    r = read(decision(outcome="rebook_offered", cause="no_show",
                      rebook_until="2026-11-14T01:00:00Z"), ZH, TZ, WEEK)
    assert "请在2026年11月14日 09:00（北京时间）前重新预约面试时间" in r.text
    no_codes(r.text)


def test_attended_needs_nothing() -> None:
    r = read(decision(outcome="attended", cause=None), ZH, TZ, WEEK)
    assert r.text.endswith("后续：无需进一步处理。")
    assert "申诉" not in r.text
