"""``absentia demo``'s 递补 and 异议: after the result notice, on the simulated clock.

What follows the notice of :func:`ledger.app.demo.run_campaign`, through the use cases
the console calls (``AbsenceService``), each told in one line with its console path and
counts:

- HR imports each post's ranked list (its interviewed candidates, then a few reserves
  imported for the purpose, below them but above the pass line); the sweep answers the
  day's no-shows: 视为自动放弃，不再递补 under the demo's rules;
- two candidates withdraw in writing: each vacancy is answered at once by a proposal of
  the post's best reserve; a reviewer declines one (with a reason), which proposes the
  next, and approves the others (an invitation each, the interview held and decided); a
  third withdrawal, in a post whose 递补 cut-off has passed, is refused (``cutoff_passed``);
- two public objections to the notice: one (by letter) verified: the candidate is invited
  to state their case (陈述、申辩), answers, and the result is cancelled (取消), which
  leaves a vacancy the sweep fills from the ranking; the other (on the public form) is
  not acknowledged in time, so the sweep raises an ``objection_overdue`` alert; it is
  then acknowledged, the result upheld (维持), the alert answered;
- the 递补名单 is published as its own notice.

Time is the ``at`` parameter moved forward as the office would work; the real clock is
never read.  Every choice comes from ``random.Random(seed)``.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, time, timedelta
from typing import Any

from ledger.absence.notify import Channel
from ledger.absence.outbox import dispatch
from ledger.absence.service import AbsenceService, Caller
from ledger.app.demo import (
    POSTS,
    TZ,
    DemoPerson,
    DemoSummary,
    candidates_csv,
    demo_people,
)
from ledger.app.demo_clock import SimClock
from ledger.entry import format_time, parse_utc
from publicity.backfill_notice import publish_backfill_list
from publicity.calendar import WorkingCalendar

__all__ = ["RESERVES_PER_POST", "demo_reserves", "run_backfill_and_objections"]

#: Reserves (candidates not invited to the AI interview) per post, ranked below the rest.
RESERVES_PER_POST = 2
PASS_LINE = "60"  # noqa: S105 (a score, not a password)
#: The post whose 递补 cut-off has passed (its interview day is tomorrow).
LATE_POST = POSTS[3][0]
DECLINE_REASON = "经资格复审，该考生报考岗位所需的专业资格证书尚在审核中，本轮不予递补。"
CANCEL_REASON = "经核查，该考生报名时填报的工作经历与岗位要求不符，取消其后续环节资格。"
UPHOLD_REASON = "经核查，该考生成绩计算无误、资格条件符合，维持原结果。"
OBJECTOR = {"name": "示例异议人（演示）", "contact": "objector@demo.example.cn"}
HR = Caller("hr:demo", "hr")
REVIEWER = Caller("reviewer:demo", "reviewer")


def demo_reserves(seed: int) -> list[DemoPerson]:
    """The reserves the demo imports for 递补 (``RESERVES_PER_POST`` a post), reachable,
    registration numbers ``HR26R-0001`` ...; deterministic for ``seed``."""
    people = [p for p in demo_people(len(POSTS) * RESERVES_PER_POST * 2, seed + 2)
              if not p.unreachable][:len(POSTS) * RESERVES_PER_POST]
    return [replace(p, registration=f"HR26R-{i + 1:04d}",
                    post=POSTS[i // RESERVES_PER_POST][0]) for i, p in enumerate(people)]


@dataclass
class _Clock(SimClock):
    now: datetime


def _local(moment: datetime, days: int, hhmm: str) -> datetime:
    h, m = map(int, hhmm.split(":"))
    day = moment.astimezone(TZ).date() + timedelta(days=days)
    return datetime.combine(day, time(h, m), tzinfo=TZ)


def run_backfill_and_objections(service: AbsenceService, channels: dict[str, Channel],
                                summary: DemoSummary, notice: str, at: datetime,
                                say: Callable[[str], None], *,
                                calendar: WorkingCalendar | None = None) -> datetime:
    """Run the 递补 and objections of ``summary``'s campaign after its notice ``notice``,
    from ``at`` (simulated, aware); ``say`` gets each line.  Returns the clock after.

    Raises:
        LedgerError: the service refused a step (nothing here should make it).
    """
    cal = calendar or WorkingCalendar()
    clock = _Clock(at)
    rng = random.Random(summary.seed + 3)
    c = summary.campaign
    backfill_path = f"/console/campaigns/{c}/backfill"

    def send_all() -> None:
        while service.due_notifications(clock.now, 1):
            dispatch(service, channels, clock.now)
            clock.tick(seconds=10)

    def tell(label: str, path: str, shown: str) -> None:
        say(f"  {label} {path}: {shown}")

    say("\n递补与异议（公示期内，模拟时钟继续）:")

    # HR imports the reserves, then each post's ranking (interviewed candidates first).
    reserves = demo_reserves(summary.seed)
    service.import_candidates(HR, c, candidates_csv(reserves), "text/csv", clock.tick(minutes=5))
    people = demo_people(summary.candidates, summary.seed)
    tomorrow = (clock.now.astimezone(TZ) + timedelta(days=1)).date()
    later = (clock.now.astimezone(TZ) + timedelta(days=28)).date()
    ranked = qualified = 0
    for post, _title in POSTS:
        rows = [(p.registration, rng.randint(700, 950) / 10) for p in people if p.post == post]
        places = len(rows)
        rows.sort(key=lambda r: -r[1])
        rows += [(p.registration, 69.5 - i * 2.5)
                 for i, p in enumerate(r for r in reserves if r.post == post)]
        data = ("报名号,成绩\n" + "".join(f"{reg},{score:.1f}\n" for reg, score in rows)).encode()
        made = service.import_ranking(HR, c, data, "text/csv", {
            "post": post, "pass_line": PASS_LINE, "places": str(places),
            "interview_day": (tomorrow if post == LATE_POST else later).isoformat()},
            clock.tick(minutes=3))
        ranked += made["ranked"]
        qualified += made["qualified"]
    tell("成绩排名", backfill_path, f"{len(POSTS)} 个岗位已导入，共 {ranked:,} 人（达到合格线 "
         f"{qualified:,} 人，其中递补人选 {len(reserves)} 人）")
    clock.tick(minutes=5)
    service.sweep(clock.now)
    stats = service.backfill_statistics(c)
    tell("当日缺考", backfill_path, f"{stats['unfilled']['day_of_no_show_excluded']} 个空缺"
         "视为自动放弃、不再递补")

    # Written withdrawals of interviewed candidates: two posts fill, the late one cannot.
    attended = {d["subject"] for d in service.decisions(c, outcome="attended", limit=100_000)
                if d["superseded_by"] is None}
    by_post: dict[str, list[str]] = {p: [] for p, _ in POSTS}
    for cand in service.candidates(c):
        if cand["subject"] in attended and cand["registration"].startswith("HR26-"):
            by_post[cand["post"]].append(cand["registration"])
    for regs in by_post.values():
        regs.sort()
    picks = {post: rng.sample(regs, min(3, len(regs))) for post, regs in by_post.items()}
    answers: Counter[str] = Counter()
    for post in (POSTS[0][0], POSTS[1][0], LATE_POST):
        made = service.record_vacancy(HR, c, {
            "registration": picks[post][0], "kind": "withdrawn_in_writing",
            "at": format_time(clock.tick(minutes=20) - timedelta(hours=2))}, clock.now)
        answers[made["answer"] or "none"] += 1
    unfilled = [b for b in service.backfills(c) if b["status"] == "unfilled"
                and b["reason"] == "cutoff_passed"]
    tell("书面放弃", backfill_path, f"3 名考生书面放弃：{answers['backfill.proposed']} 个空缺"
         f"已提出递补人选，{len(unfilled)} 个因已过递补截止日不再递补（{LATE_POST} 岗位）")

    # The reviewer declines one proposal (the next reserve is proposed), approves the rest.
    open_ = [b for b in service.backfills(c) if b["status"] == "proposed"]
    declined = open_[-1]
    service.decline_backfill(REVIEWER, str(declined["proposal"]), {"reason": DECLINE_REASON},
                             clock.tick(hours=1))
    approved = _approve_open(service, clock, c, cal)
    tell("递补审核", backfill_path, f"1 人不同意（附理由）并顺延提出下一名，{approved} 人同意递补"
         "并发出面试邀请")
    send_all()

    # Two objections to the notice, filed the same afternoon.
    objections_path = f"/notices/{notice}/objections"
    clock.at(_local(clock.now, 0, "14:00"))
    upheld_reg, cancelled_reg = picks[POSTS[2][0]][1], picks[POSTS[0][0]][1]
    late = service.objections.file_objection(notice, {
        **OBJECTOR, "ground": "score", "registration": upheld_reg,
        "statement": "该考生的成绩与现场情况不符，请核查。"}, clock.tick(minutes=10),
        cal.is_working_day)
    letter = service.objections.file_objection(notice, {
        **OBJECTOR, "ground": "qualification", "registration": cancelled_reg,
        "statement": "该考生报名时填报的工作经历不实，请核查。"}, clock.tick(minutes=50),
        cal.is_working_day, caller=HR, channel="letter")
    service.objections.acknowledge(HR, letter["objection"], clock.tick(minutes=30))
    service.objections.invite_statement(HR, letter["objection"], {}, clock.tick(minutes=10),
                                        cal.is_working_day)
    send_all()
    tell("异议受理", objections_path, f"收到 2 件（网上 1 件、信函 1 件），已受理 1 件；"
         f"被异议考生 {cancelled_reg} 已获告知并可陈述、申辩")

    # The next working day: the 递补 interviews, the statement, the cancellation.
    held = _hold_backfill_interviews(service, clock, c)
    send_all()
    clock.tick(hours=1)
    service.objections.record_statement(HR, letter["objection"], {
        "statement": "本人对工作经历的核查结果无异议。", "channel": "letter"}, clock.now)
    service.objections.rule(REVIEWER, letter["objection"], {
        "ruling": "cancelled", "reason": CANCEL_REASON, "confirm": True},
        clock.tick(hours=3))
    clock.tick(minutes=5)
    service.sweep(clock.now)  # answers the vacancy the cancellation left
    proposed = [b for b in service.backfills(c) if b["status"] == "proposed"]
    _approve_open(service, clock, c, cal)
    send_all()
    tell("异议裁决（取消）", f"/console/campaigns/{c}/objections",
         f"1 件取消考生 {cancelled_reg} 的结果（已陈述、申辩），空缺递补 {len(proposed)} 人"
         f"（{'、'.join(str(b['registration']) for b in proposed)}）")
    held += _hold_backfill_interviews(service, clock, c)
    send_all()
    tell("递补面试", backfill_path, f"{held} 名递补考生参加面试，结果已记入账本")

    # The web objection waits past its acknowledgement deadline: the sweep's alert.
    clock.at(parse_utc(late["ack_by"]) + timedelta(hours=9))
    service.sweep(clock.now)
    overdue = [a for a in service.alerts(c) if a["kind"] == "objection_overdue"
               and a["status"] == "open"]
    tell("逾期预警", f"/console/campaigns/{c}/objections",
         f"{len(overdue)} 件异议逾期未受理（受理期限至 {_last_day(late['ack_by'])}），"
         "已补办受理")
    service.objections.acknowledge(HR, late["objection"], clock.tick(minutes=30))
    service.objections.rule(REVIEWER, late["objection"], {
        "ruling": "upheld", "reason": UPHOLD_REASON}, clock.tick(hours=2))
    for a in overdue:
        service.resolve_alert(REVIEWER, a["alert"], {"action": "dismissed"},
                              clock.tick(minutes=5))
    counts = service.objections.counts(notice)
    tell("异议", objections_path, f"收到 {counts['received']} 件：维持 {counts['upheld']} 件，"
         f"取消 {counts['cancelled']} 件，待答复 {counts['open']} 件")

    # The 递补名单 as its own notice.
    listed = publish_backfill_list(service, HR, c, clock.tick(hours=1), calendar=cal)
    stats = service.backfill_statistics(c)
    tell("递补名单公示", f"/notices/{listed['notice']}",
         f"{listed['lines']} 名递补考生（姓名已遮盖）；空缺 {stats['vacancies']} 个，已递补 "
         f"{stats['filled']} 个，提议 {stats['proposals']} 次（同意 {stats['approved']}，"
         f"不同意 {stats['declined']}）")
    send_all()
    return clock.now


def _last_day(deadline: str) -> str:
    """A deadline at 24:00 written as its last day: ``2026年11月25日``."""
    day = (parse_utc(deadline).astimezone(TZ) - timedelta(minutes=1)).date()
    return f"{day.year}年{day.month}月{day.day}日"


def _next_working_morning(moment: datetime, cal: WorkingCalendar) -> datetime:
    """09:00 (Asia/Shanghai) on the first working day after ``moment``'s local day."""
    days = 1
    while not cal.is_working_day(moment.astimezone(TZ).date() + timedelta(days=days)):
        days += 1
    return _local(moment, days, "09:00")


def _approve_open(service: AbsenceService, clock: _Clock, campaign: str,
                  cal: WorkingCalendar) -> int:
    """Approve every open proposal of ``campaign``: an hour's window at 09:00 on the
    next working day."""
    n = 0
    for b in service.backfills(campaign):
        if b["status"] != "proposed":
            continue
        opens = _next_working_morning(clock.now, cal)
        service.approve_backfill(REVIEWER, str(b["proposal"]), {
            "opens_at": opens.isoformat(),
            "closes_at": (opens + timedelta(hours=1)).isoformat()}, clock.tick(minutes=10))
        n += 1
    return n


def _hold_backfill_interviews(service: AbsenceService, clock: _Clock, campaign: str) -> int:
    """``campaign``'s undecided 递补 windows are held (each candidate completes the
    interview, the platform reports it after the close) and the sweep decides them."""
    ws = sorted((w for w in service.windows(campaign, undecided_only=True, limit=100_000)
                 if w["slot"] == "backfill"), key=lambda w: (w["opens_at"], w["window"]))
    if not ws:
        return 0
    events: list[dict[str, Any]] = []
    for w in ws:
        opens = parse_utc(w["opens_at"])
        for kind, minutes in (("invited", 0), ("joined", 5), ("completed", 28)):
            events.append({"id": f"{w['window']}.e{minutes:02d}", "window": w["window"],
                           "subject": w["subject"], "kind": kind,
                           "at": format_time(opens + timedelta(minutes=minutes))})
    end = max(parse_utc(w["closes_at"]) for w in ws)
    clock.at(end + timedelta(minutes=1))
    service.ingest(f"{ws[0]['window']}.wh", {"events": events}, clock.now)
    policy = service.cfg.policies[service.campaign(campaign)["policy"]]
    clock.at(end + timedelta(seconds=policy.grace_s, minutes=2))
    service.sweep(clock.now)
    return len(ws)
