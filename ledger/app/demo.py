"""``absentia demo``: a realistic recruitment campaign, end to end, on a simulated clock.

:func:`run_campaign` drives the absence service the way HR, reviewers, candidates and the
interview platform would over about two weeks: a government campaign with a few posts;
about 2,000 candidates imported in one CSV (Chinese names, rare characters and compound
surnames included); interview windows in half-hour slots over one day; invitations sent
through the outbox; accommodations for candidates with poor signal or low digital
literacy; the platform's reports; about 12 % absent in the article's mix (57 %
voluntary, 28 % technical, the rest failed notifications); one slot hit by a platform
outage, which raises an alert that a reviewer answers with a mass make-up; reviews,
make-up sessions, appeals and their rulings.  Time is always the simulated ``now``
passed to the service: the real clock is never read.  Every choice comes from a
``random.Random(seed)``, so a seed gives the same campaign (the service's own random
identifiers aside).

The raw ``platform.event`` entries of the benchmarks and tests are ``ledger.app.samples``.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta
from itertools import islice
from typing import Any
from zoneinfo import ZoneInfo

from ledger.absence.anomaly import AnomalyThresholds
from ledger.absence.imports import id_check_character
from ledger.absence.notice_settings import NoticeSettings
from ledger.absence.notify import Channel
from ledger.absence.outbox import dispatch
from ledger.absence.rules import Policy
from ledger.absence.service import AbsenceService, Caller
from ledger.app.demo_clock import SimClock
from ledger.entry import format_time, parse_utc

# -- the campaign ---------------------------------------------------------------------------

TZ_NAME = "Asia/Shanghai"
TZ = ZoneInfo(TZ_NAME)
#: Monday 9 November 2026, 09:00 in Asia/Shanghai: when the demo campaign opens.
DEFAULT_START = datetime(2026, 11, 9, 1, 0, tzinfo=UTC)
DEFAULT_SEED = 2026
CAMPAIGN_PREFIX = "hrb-2026-autumn"
TITLE = "2026年度市人力资源和社会保障局公开招聘事业单位工作人员AI面试"
POSTS = (("p01", "综合管理岗"), ("p02", "财务审计岗"), ("p03", "信息技术岗"),
         ("p04", "基层公共服务岗"))
POST_WEIGHTS = (35, 20, 15, 30)

# The article's figures: up to 12 % absent; of the absences about 57 % voluntary,
# 28 % technical or usability problems, the rest notifications that never arrived.
ABSENCE_RATE = 0.12
VOLUNTARY_SHARE = 0.57
TECHNICAL_SHARE = 0.28

#: Slot openings on the interview day (a half-hour grid, lunch break 12:00-13:30).
SLOT_TIMES = ("09:00", "09:30", "10:00", "10:30", "11:00", "11:30", "13:30", "14:00",
              "14:30", "15:00", "15:30", "16:00", "16:30", "17:00")
WINDOW = timedelta(minutes=60)
EXTENSION = timedelta(minutes=60)
#: Which slot the platform outage hits (its index in SLOT_TIMES): 15:00.
OUTAGE_SLOT = 9

SURNAMES = ("王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周", "徐", "孙", "马", "朱",
            "胡", "郭", "何", "林", "高", "罗", "郑", "梁", "谢", "宋", "唐", "韩", "冯", "邓",
            "欧阳", "司马", "诸葛", "上官", "皇甫", "令狐", "尉迟", "万俟")
#: Rare given-name characters, outside the BMP or in CJK extension A.
RARE = ("𠮷", "䶮", "㛃", "𡒄", "堃", "喆", "玥", "昇", "燚", "犇")
GIVEN = ("伟", "芳", "娜", "敏", "静", "强", "磊", "洋", "艳", "杰", "娟", "涛", "明", "超",
         "秀", "霞", "平", "刚", "桂", "英", "华", "文", "军", "建", "国", "志", "晓", "婷",
         "雪", "琳", "欣", "怡", "浩", "宇", "轩", "子", "涵", "博", "睿", "思")
REGIONS = ("110105", "110108", "310104", "310115", "440305", "440106", "510107",
           "330106", "320102", "420111", "610113", "370202", "350203", "430104")
MOBILE_PREFIXES = ("134", "135", "136", "137", "138", "139", "150", "151", "152", "157",
                   "158", "159", "166", "177", "180", "182", "186", "187", "188", "189")
MAIL_DOMAINS = ("example.com", "example.cn", "mail.example.org", "example.net")
#: RFC 2606: the file outbox fails these addresses permanently (a bounced invitation).
UNREACHABLE_DOMAIN = "mail.example.invalid"


@dataclass(frozen=True)
class DemoPerson:
    """One generated candidate (personal data: it goes to the vault, never the ledger)."""

    registration: str
    name: str
    id_number: str
    phone: str
    email: str
    post: str
    unreachable: bool  # the e-mail address bounces and there is no phone

    @property
    def factor(self) -> str:
        """What the candidate proves with the registration number: the ID's last 4."""
        return self.id_number[-4:]


@dataclass(frozen=True)
class AbsenceMix:
    """How many candidates miss their window, by cause group (before the outage)."""

    absent: int
    voluntary: int
    technical: int
    unreachable: int


def absence_mix(candidates: int) -> AbsenceMix:
    """The article's mix for ``candidates``: 12 % absent, 57 / 28 / rest."""
    absent = round(candidates * ABSENCE_RATE)
    voluntary = round(absent * VOLUNTARY_SHARE)
    technical = round(absent * TECHNICAL_SHARE)
    return AbsenceMix(absent, voluntary, technical, absent - voluntary - technical)


def _id_number(rng: random.Random) -> str:
    born = date(1990, 1, 1) + timedelta(days=rng.randint(0, 365 * 14))
    first = f"{rng.choice(REGIONS)}{born:%Y%m%d}{rng.randint(0, 999):03d}"
    return first + id_check_character(first)


def _name(rng: random.Random) -> str:
    surname = rng.choice(SURNAMES)
    size = 1 if rng.random() < 0.3 else 2
    given = [rng.choice(RARE) if rng.random() < 0.04 else rng.choice(GIVEN)
             for _ in range(size)]
    return surname + "".join(given)


def demo_people(candidates: int, seed: int = DEFAULT_SEED) -> list[DemoPerson]:
    """The campaign's candidates, deterministic for ``seed``.

    The unreachable ones (as many as :func:`absence_mix` says) have only an e-mail
    address, at a domain that bounces.
    """
    rng = random.Random(seed)
    mix = absence_mix(candidates)
    unreachable = set(rng.sample(range(candidates), mix.unreachable))
    ids: set[str] = set()
    phones: set[str] = set()
    people = []
    for i in range(candidates):
        number = _id_number(rng)
        while number in ids:
            number = _id_number(rng)
        ids.add(number)
        phone = rng.choice(MOBILE_PREFIXES) + f"{rng.randint(0, 99_999_999):08d}"
        while phone in phones:
            phone = rng.choice(MOBILE_PREFIXES) + f"{rng.randint(0, 99_999_999):08d}"
        phones.add(phone)
        local = f"c{seed % 1000:03d}{i:05d}{rng.choice('abcdefghkmnpqrstuvwxyz')}"
        email = f"{local}@{rng.choice(MAIL_DOMAINS)}"
        roll = rng.random()
        if i in unreachable:
            phone, email = "", f"{local}@{UNREACHABLE_DOMAIN}"
        elif roll < 0.12:
            email = ""
        elif roll < 0.27:
            phone = ""
        post = rng.choices([p for p, _ in POSTS], POST_WEIGHTS)[0]
        people.append(DemoPerson(f"HR26-{i + 1:05d}", _name(rng), number, phone, email,
                                 post, i in unreachable))
    return people


def candidates_csv(people: Sequence[DemoPerson]) -> bytes:
    """The import file HR uploads: UTF-8 CSV with the Chinese column names."""
    lines = ["报名号,姓名,身份证号,手机号,邮箱,岗位"]
    lines += [f"{p.registration},{p.name},{p.id_number},{p.phone},{p.email},{p.post}"
              for p in people]
    return ("\n".join(lines) + "\n").encode("utf-8")


#: The reviewer's reasons (public text, no personal data), by ruling or by cause.
REVIEW_REASONS = {
    "makeup_granted": "平台日志证实面试中连接反复中断，属技术故障，同意安排补考。",
    "confirmed": "平台日志显示考生设备与网络正常、未再次尝试进入面试，缺席认定维持。",
    "notification_failed": "已核对报名登记的联系方式：邮箱系报名时填写有误，通知已按登记方式发出，"
                           "缺席认定维持。",
}
#: The appeal rulings' reasons.
RULING_REASONS = {
    "upheld": "申诉所附材料不能证明缺席系不可抗力或平台原因，维持原认定。",
    "overturned": "所附故障证明与平台日志相互印证，撤销原认定，安排补考。",
}


# -- what happens to each candidate --------------------------------------------------------

ATTEND = "attend"
ACCOMMODATED = "accommodated"  # attends thanks to an extended window
WITHDREW = "withdrew"
NO_ACTIVITY = "no_activity"
JOINED_LEFT = "joined_left"
TECHNICAL = "technical"
DEVICE = "device"
OUTAGE = "outage"
UNREACHABLE = "unreachable"


@dataclass
class _Seat:
    person: DemoPerson
    slot: int
    fate: str
    accommodation: str | None = None  # reason code
    stray: bool = False  # reports a late join after the close (quarantined)
    subject: str = ""
    window: str = ""


def _outage_need(slot_size: int, th: AnomalyThresholds) -> int:
    """Technical absences that make a slot of ``slot_size`` windows look like an outage."""
    return max(1, th.outage_min_technical,
               math.ceil(th.outage_min_share_pct * slot_size / 100))


def min_candidates(th: AnomalyThresholds) -> int:
    """The smallest campaign whose outage slot can cross the alert thresholds."""
    n = len(SLOT_TIMES)
    while _outage_need(n // len(SLOT_TIMES), th) > n // len(SLOT_TIMES):
        n += len(SLOT_TIMES)
    return max(n, 100)


def _plan(people: list[DemoPerson], th: AnomalyThresholds, rng: random.Random
          ) -> list[_Seat]:
    n = len(people)
    slots = len(SLOT_TIMES)
    sizes = [n // slots + (1 if i < n % slots else 0) for i in range(slots)]
    mix = absence_mix(n)
    need = _outage_need(sizes[OUTAGE_SLOT], th)
    outage = need + 2 if mix.technical >= need + 2 else need
    # The outage's failures come out of the technical share; if the campaign is too
    # small for that, out of the voluntary share (the outage matters more for a demo).
    technical = max(mix.technical, outage)
    voluntary = max(0, mix.absent - technical - mix.unreachable)
    rest_tech = technical - outage
    devices = round(rest_tech * 0.4)
    withdrew = round(voluntary * 0.4)
    joined_left = round(voluntary * 0.15)
    reachable = [p for p in people if not p.unreachable]
    rng.shuffle(reachable)
    fates = ([TECHNICAL] * (rest_tech - devices) + [DEVICE] * devices
             + [WITHDREW] * withdrew + [JOINED_LEFT] * joined_left
             + [NO_ACTIVITY] * (voluntary - withdrew - joined_left))
    fates += [ATTEND] * (len(reachable) - outage - len(fates))
    rng.shuffle(fates)
    # Seats: the outage slot is filled with its failures first, then everyone else.
    assigned: list[tuple[DemoPerson, str]] = [(p, OUTAGE) for p in reachable[:outage]]
    others = [(p, f) for p, f in zip(reachable[outage:], fates, strict=True)]
    others += [(p, UNREACHABLE) for p in people if p.unreachable]
    rng.shuffle(others)
    seats: list[_Seat] = []
    queue = iter(others)
    for slot, size in enumerate(sizes):
        take = assigned if slot == OUTAGE_SLOT else []
        members = list(take) + list(islice(queue, size - len(take)))
        seats += [_Seat(p, slot, fate) for p, fate in members]
    seats.sort(key=lambda s: s.person.registration)
    # Accommodations (合理关怀) for about 1 %: they finish during the extension.
    calm = [s for s in seats if s.fate == ATTEND and s.slot != OUTAGE_SLOT]
    for i, s in enumerate(rng.sample(calm, min(len(calm), max(1, round(n / 100))))):
        s.fate = ACCOMMODATED
        s.accommodation = "low_digital_literacy" if i % 4 == 3 else "poor_signal"
    quiet = [s for s in seats if s.fate == NO_ACTIVITY]
    for s in rng.sample(quiet, min(len(quiet), 2)):
        s.stray = True
    return seats


Event = tuple[str, datetime, str | None]  # kind, at, detail


def _events(seat: _Seat, opens: datetime, closes: datetime, rng: random.Random
            ) -> list[Event]:
    """What the platform reports for one candidate in a regular window."""

    def at(lo: float, hi: float, base: datetime = opens) -> datetime:
        return base + timedelta(seconds=rng.randint(int(lo * 60), int(hi * 60)))

    out: list[Event] = [("invited", opens, None)]
    fate = seat.fate
    if fate == ATTEND:
        j = at(0, 25)
        out += [("joined", j, None), ("completed", at(14, 28, j), None)]
    elif fate == ACCOMMODATED:
        j = at(35, 50)
        if seat.accommodation == "poor_signal":
            out += [("joined", j, None), ("connection_failed", at(1, 5, j), "network_timeout"),
                    ("joined", at(2, 10, closes), None)]
        else:
            out += [("joined", at(5, 15, closes), None)]
        out.append(("completed", at(25, 40, closes), None))
    elif fate == WITHDREW:
        out.append(("withdrew", at(0, 40), None))
    elif fate == JOINED_LEFT:
        out.append(("joined", at(0, 30), None))
    elif fate == NO_ACTIVITY and seat.stray:
        out.append(("joined", at(2, 6, closes), None))
    elif fate == TECHNICAL:
        j = at(0, 20)
        out += [("joined", j, None), ("connection_failed", at(1, 4, j), "network_timeout")]
        if rng.random() < 0.5:
            j2 = at(6, 12, j)
            out += [("joined", j2, None), ("connection_failed", at(1, 3, j2), "network_timeout")]
    elif fate == DEVICE:
        j = at(0, 20)
        out += [("joined", j, None),
                ("device_incompatible", at(0.5, 2, j),
                 rng.choice(("browser_unsupported", "camera_unavailable", "os_too_old")))]
    elif fate == OUTAGE:
        # The media servers are down from 15:05 to about 15:50.
        j = at(2, 20)
        out += [("joined", j, None),
                ("connection_failed", max(at(5, 8), j + timedelta(seconds=40)),
                 "media_server_unreachable")]
        if rng.random() < 0.6:
            j2 = at(25, 35)
            out += [("joined", j2, None),
                    ("connection_failed", j2 + timedelta(seconds=rng.randint(20, 90)),
                     "media_server_unreachable")]
    return out


def _makeup_events(opens: datetime, rng: random.Random, *, attends: float) -> list[Event]:
    out: list[Event] = [("invited", opens, None)]
    roll = rng.random()
    j = opens + timedelta(minutes=rng.randint(0, 25))
    if roll < attends:
        out += [("joined", j, None), ("completed", j + timedelta(minutes=rng.randint(15, 28)),
                                      None)]
    elif roll < attends + (1 - attends) / 3:
        out.append(("withdrew", j, None))
    return out


# -- the run --------------------------------------------------------------------------------


@dataclass
class DemoSummary:
    """What :func:`run_campaign` did: the campaign, its figures, tokens to try the API."""

    campaign: str
    title: str
    candidates: int
    seed: int
    started: datetime
    finished: datetime
    statistics: dict[str, Any]
    alerts: list[dict[str, Any]]
    notifications: Counter[str]
    tokens: dict[str, str]
    #: (registration, verification factor) of a candidate whose appeal was overturned.
    example: tuple[str, str]
    #: (appeal, registration) of the appeal left open for the notice period.
    open_appeal: tuple[str, str] = ("", "")
    story: list[str] = field(default_factory=list)


def _local(day: date, hhmm: str) -> datetime:
    h, m = map(int, hhmm.split(":"))
    return datetime.combine(day, time(h, m), tzinfo=TZ)


def demo_start(last_entry: datetime | None) -> datetime:
    """When the demo campaign opens: ``DEFAULT_START``, or 09:00 (Asia/Shanghai) on the day
    after ``last_entry`` if the log already runs later (a demo run again on the same data),
    so that entry times never go backwards."""
    if last_entry is None or last_entry < DEFAULT_START:
        return DEFAULT_START
    return _local(last_entry.astimezone(TZ).date() + timedelta(days=1), "09:00")


def _campaign_id(service: AbsenceService) -> str:
    taken = {c["campaign"] for c in service.campaigns()}
    if CAMPAIGN_PREFIX not in taken:
        return CAMPAIGN_PREFIX
    n = 2
    while f"{CAMPAIGN_PREFIX}-{n}" in taken:
        n += 1
    return f"{CAMPAIGN_PREFIX}-{n}"


def _parse(text: str) -> datetime:
    return parse_utc(text)


#: The made-up office the demo's notice names when the config names none.
DEMO_NOTICE = NoticeSettings(
    issuing_office="示例市人力资源和社会保障局（演示）", supervision_phone="010-00000000",
    objection_address="示例市示例路1号（演示地址）",
    objection_email="gongshi@demo.example.gov.cn")


def with_demo_notice_settings(policy: Policy) -> Policy:
    """``policy`` with the notice settings it leaves unset taken from ``DEMO_NOTICE``."""
    mine = policy.notice
    filled = replace(mine, **{k: getattr(DEMO_NOTICE, k) for k in (
        "issuing_office", "supervision_phone", "objection_address", "objection_email")
        if getattr(mine, k) is None})
    return replace(policy, notice=filled)


#: The demo's 递补 rules when the config sets none (``[policies.*]`` ``backfill_...``): a
#: no-show on the day is 视为自动放弃，不再递补; no 递补 after the 3rd working day
#: before a post's interview day.
DEMO_BACKFILL_CUTOFF_DAYS = 3


def with_demo_backfill_settings(policy: Policy) -> Policy:
    """``policy`` with 递补 on, under the demo's rules where it sets none."""
    return replace(
        policy, backfill=True,
        backfill_day_of_no_show=(False if policy.backfill_day_of_no_show is None
                                 else policy.backfill_day_of_no_show),
        backfill_cutoff_days=(DEMO_BACKFILL_CUTOFF_DAYS if policy.backfill_cutoff_days
                              is None and policy.backfill_cutoff is None
                              else policy.backfill_cutoff_days))


def run_campaign(service: AbsenceService, channels: dict[str, Channel], start: datetime, *,
                 candidates: int = 2000, seed: int = DEFAULT_SEED,
                 progress: Callable[[int, int], None] | None = None,
                 say: Callable[[str], None] | None = None) -> DemoSummary:
    """Run a whole campaign on a simulated clock starting at ``start`` (aware).

    ``channels`` send the notifications (the demo uses a file outbox); ``progress`` gets
    (steps done, steps in all); ``say`` gets one line per notable step, stamped with the
    simulated time in Asia/Shanghai.

    Raises:
        ValueError: a naive ``start``, or fewer candidates than :func:`min_candidates`
            (the outage slot could not cross the configured alert thresholds).
        LedgerError: whatever the service raises (nothing here should make it).
    """
    if start.tzinfo is None or start.utcoffset() is None:
        raise ValueError("start must be timezone-aware")
    th = service.cfg.thresholds
    if candidates < min_candidates(th):
        raise ValueError(f"candidates: at least {min_candidates(th)} with these [alerts] "
                         "thresholds")
    rng = random.Random(seed)
    run = _Run(service, channels, start, say)
    policy = service.cfg.policies.get("government") \
        or service.cfg.policies[service.cfg.default_policy]
    if policy.notice.missing():
        # The demo publishes a notice, which needs an issuing office and an objection
        # channel: a config without them gets the demo's stand-ins, said loudly.
        policy = service.cfg.policies[policy.name] = with_demo_notice_settings(policy)
        run.tell("policy " + policy.name + " sets no notice_issuing_office etc.: the demo's "
            "notice names a made-up office (示例, demo); set them in [policies."
            + policy.name + "] for a real one")
    if not policy.backfill_on:
        # The demo fills vacancies (递补) after the notice: a config that leaves 递补 off
        # gets the demo's rules, said as loudly as the notice's stand-ins.
        policy = service.cfg.policies[policy.name] = with_demo_backfill_settings(policy)
        run.tell("policy " + policy.name + " sets no backfill: the demo turns 递补 on "
                 "(backfill_day_of_no_show = false, backfill_cutoff_days = 3); set them in "
                 "[policies." + policy.name + "] for your own rules")
    grace = timedelta(seconds=policy.grace_s)
    day0 = start.astimezone(TZ).date()
    interview_day = day0 + timedelta(days=3)
    review_day = interview_day + timedelta(days=1)
    makeup_day = interview_day + timedelta(days=4)
    appeal_day = makeup_day + timedelta(days=1)
    ruling_day = appeal_day + timedelta(days=1)
    appeal_makeup_day = ruling_day + timedelta(days=2)

    # The script, decided before anything is recorded: who sits which slot, what the
    # platform will report, when.  Deliveries: the slot's reports after its close, a few
    # late stragglers (quarantined), the extended windows' reports after the extension.
    people = demo_people(candidates, seed)
    seats = _plan(people, th, rng)
    actions: list[tuple[datetime, int, list[tuple[_Seat, Event]]]] = []
    for slot, hhmm in enumerate(SLOT_TIMES):
        opens = _local(interview_day, hhmm)
        closes = opens + WINDOW
        regular: list[tuple[_Seat, Event]] = []
        late: list[tuple[_Seat, Event]] = []
        stray: list[tuple[_Seat, Event]] = []
        for seat in (s for s in seats if s.slot == slot):
            for ev in _events(seat, opens, closes, rng):
                target = (regular if ev[1] <= closes else late if seat.accommodation
                          else stray)
                target.append((seat, ev))
        for when, batch in ((closes + timedelta(minutes=1), regular),
                            (closes + timedelta(minutes=8), stray),
                            (closes + EXTENSION + timedelta(minutes=1), late)):
            if batch:
                actions.append((when, 0, batch))
        actions.append((closes + grace + timedelta(minutes=2), 1, []))
    last_close = _local(interview_day, SLOT_TIMES[-1]) + WINDOW + EXTENSION
    actions.append((last_close + grace + timedelta(minutes=2), 1, []))
    actions.sort(key=lambda a: (a[0], a[1]))
    total = 12 + len(actions)
    done = [0]

    def step() -> None:
        done[0] += 1
        if progress is not None:
            progress(min(done[0], total), total)

    # Day 0: tokens, the campaign, the candidates, the windows and the invitations.
    tokens = {role: service.create_token(role, run.now, label=f"demo-{role}")
              for role in ("platform", "hr", "reviewer", "auditor")}
    hr = service.authenticate(tokens["hr"]) or Caller("hr:demo", "hr")
    reviewer = service.authenticate(tokens["reviewer"]) or Caller("reviewer:demo", "reviewer")
    campaign = run.campaign = _campaign_id(service)
    service.create_campaign(hr, {
        "campaign": campaign, "title": TITLE, "timezone": TZ_NAME, "policy": policy.name,
        "posts": [{"post": p, "title": t} for p, t in POSTS]}, run.tick(minutes=5))
    run.tell(f"campaign {campaign}: 「{TITLE}」, {len(POSTS)} posts, policy {policy.name}")
    step()
    rows = service.import_candidates(hr, campaign, candidates_csv(people), "text/csv",
                                     run.tick(minutes=15))
    by_reg = {r["registration"]: r["subject"] for r in rows}
    for seat in seats:
        seat.subject = by_reg[seat.person.registration]
    run.tell(f"imported {len(rows):,} candidates from one CSV (names, ID numbers and "
             "contacts sealed in the vault; the ledger holds pseudonyms)")
    step()
    run.tick(minutes=40)
    for slot, hhmm in enumerate(SLOT_TIMES):
        opens = _local(interview_day, hhmm)
        members = [s for s in seats if s.slot == slot]
        made = service.schedule_windows(hr, campaign, {
            "opens_at": opens.isoformat(), "closes_at": (opens + WINDOW).isoformat(),
            "subjects": [s.subject for s in members]}, run.tick(seconds=30))
        windows = {m["subject"]: m["window"] for m in made}
        for seat in members:
            seat.window = windows[seat.subject]
    end = _local(interview_day, SLOT_TIMES[-1]) + WINDOW
    run.tell(f"scheduled {len(seats):,} windows on {interview_day}: {len(SLOT_TIMES)} slots "
             f"{SLOT_TIMES[0]}-{end:%H:%M}, {WINDOW.seconds // 60} min each")
    step()
    sent = run.send_all(run.tick(minutes=1))
    run.tell(f"invitations: {sent['sent']:,} sent, {sent['failed']:,} bounced")
    step()

    # The day before: accommodations (合理关怀), granted before the windows close.
    run.at(_local(interview_day - timedelta(days=1), "16:00"))
    kinds: Counter[str] = Counter()
    for seat in seats:
        if seat.accommodation is None:
            continue
        opens = _local(interview_day, SLOT_TIMES[seat.slot])
        service.grant_accommodation(hr, seat.window, {
            "kind": "extended", "closes_at": (opens + WINDOW + EXTENSION).isoformat(),
            "reason": seat.accommodation}, run.tick(minutes=2))
        kinds[seat.accommodation] += 1
    run.tell(f"accommodations: {sum(kinds.values())} windows extended by "
             f"{EXTENSION.seconds // 60} min ({kinds['poor_signal']} poor signal, "
             f"{kinds['low_digital_literacy']} low digital literacy)")
    step()

    # The interview day: the platform reports each slot after it closes; the sweep
    # decides the windows and the outbox tells the absent within the hour.
    for when, kind, batch in actions:
        run.at(when)
        if kind == 0:
            run.deliver([(s.window, s.subject, ev) for s, ev in batch])
        else:
            run.sweep()
            run.send_all(run.tick(minutes=1))
        step()
    stats = service.statistics(campaign)
    run.tell(f"interview day over: {stats['decided']:,} decided, {stats['absent']} absent "
             f"({100 * (stats['absence_rate'] or 0):.1f} %), {stats['pending_review']} "
             f"pending review, {stats['quarantined_events']} late reports quarantined")

    # The next morning: the reviewer answers the alerts, then reviews the pending cases.
    run.at(_local(review_day, "09:30"))
    run.answer_alerts(reviewer, _local(makeup_day, "09:00"))
    step()
    run.at(_local(review_day, "10:00"))
    reg_of = {s.subject: s.person.registration for s in seats}
    pending = sorted(service.decisions(campaign, pending_review=True, limit=100_000),
                     key=lambda d: reg_of[d["subject"]])
    granted = 0
    for d in pending:
        if d["cause"] == "notification_failed":
            # The reviewer checks the contact details the candidate registered (the read
            # is recorded) and finds the address was wrong: the absence stands.
            service.personal_data(reviewer, d["subject"], "review", run.tick(minutes=4))
            grant = False
        else:
            grant = rng.random() < (0.6 if d["cause"] == "technical" else 0.4)
        why = ("makeup_granted" if grant else d["cause"] if d["cause"] in REVIEW_REASONS
               else "confirmed")
        data: dict[str, Any] = {"ruling": "makeup_granted" if grant else "confirmed",
                                "reason": REVIEW_REASONS[why]}
        if grant:
            opens = _local(makeup_day, "10:30")
            data |= {"opens_at": opens.isoformat(), "closes_at": (opens + WINDOW).isoformat()}
        service.review(reviewer, d["decision"], data, run.tick(minutes=6))
        granted += grant
        run.send_all(run.tick(seconds=10))  # the outbox runs meanwhile
    run.tell(f"reviewer: {len(pending)} pending cases: {granted} make-ups granted, "
             f"{len(pending) - granted} confirmed (bounced addresses checked in the vault)")
    step()
    run.send_all(run.tick(minutes=5))
    step()

    # Make-up day.
    run.at(_local(makeup_day, "08:00"))
    n = run.makeups(reg_of, rng, attends=0.85)
    stats = service.statistics(campaign)
    run.tell(f"make-up sessions: {n} held, {stats['makeups']['attended']} attended")
    step()

    # Appeals (申诉): candidates whose absence stands, with registration + ID's last 4.
    with_makeup = {w["subject"] for w in service.windows(campaign, limit=100_000)
                   if w["kind"] == "makeup"}
    standing = {d["subject"] for d in service.decisions(campaign, limit=100_000)
                if d["superseded_by"] is None and d["outcome"] != "attended"}
    open_to = [s for s in seats if s.subject in standing and s.subject not in with_makeup]
    technical = [s for s in open_to if s.fate in (TECHNICAL, DEVICE)]
    personal = [s for s in open_to if s.fate in (NO_ACTIVITY, WITHDREW, JOINED_LEFT)]
    want = max(3, round(candidates / 200))
    tech_n = min(len(technical), max(1, want // 2))
    appellants = (rng.sample(technical, tech_n)
                  + rng.sample(personal, min(len(personal), want - tech_n)))
    run.at(_local(appeal_day, "09:00"))
    statements = {
        "technical": "面试当天网络反复中断，已联系平台客服，附运营商故障证明。",
        "personal": "面试当天突发急病就医，附医院急诊病历，请求补考。",
    }
    filed: list[tuple[str, _Seat]] = []
    for seat in appellants:
        ground = "technical" if seat.fate in (TECHNICAL, DEVICE) else "personal"
        a = service.file_appeal(campaign, {
            "registration": seat.person.registration, "factor": seat.person.factor,
            "ground": ground, "statement": statements[ground]},
            run.tick(minutes=rng.randint(10, 50)))
        filed.append((a["appeal"], seat))
    run.tell(f"appeals: {len(filed)} filed by candidates (registration number + last 4 of "
             "the ID number)")
    step()
    run.at(_local(ruling_day, "10:00"))
    over_n = 1 if len(filed) < 6 else 2 if len(filed) < 10 else 3
    overturned: list[_Seat] = []
    # The last appeal to be overturned waits: it is ruled during the notice period (by the
    # console walk, ledger.app.demo_console), which makes the notice need a correction.
    held = filed[over_n - 1][0]
    for appeal, seat in filed:
        if appeal == held:
            continue
        service.appeal(reviewer, appeal, run.tick(minutes=5))  # reads the statement
        data = {"ruling": "upheld", "reason": RULING_REASONS["upheld"]}
        if len(overturned) < over_n - 1:
            opens = _local(appeal_makeup_day, "09:00")
            data = {"ruling": "overturned", "opens_at": opens.isoformat(),
                    "closes_at": (opens + WINDOW).isoformat(),
                    "reason": RULING_REASONS["overturned"]}
            overturned.append(seat)
        service.rule_appeal(reviewer, appeal, data, run.tick(minutes=5))
    run.tell(f"appeal rulings: {len(filed) - len(overturned) - 1} upheld, {len(overturned)} "
             f"overturned with a make-up on {appeal_makeup_day}, 1 still open (ruled in the "
             "notice period)")
    run.answer_alerts(reviewer, None)
    run.send_all(run.tick(minutes=5))
    step()
    run.at(_local(appeal_makeup_day, "08:00"))
    n = run.makeups(reg_of, rng, attends=1.0)
    run.tell(f"appeal make-ups: {n} held; every notice sent")
    step()
    if progress is not None:
        progress(total, total)
    example = overturned[0] if overturned else filed[0][1]
    held_seat = next(seat for appeal, seat in filed if appeal == held)
    return DemoSummary(
        campaign=campaign, title=TITLE, candidates=candidates, seed=seed, started=start,
        finished=run.now, statistics=service.statistics(campaign),
        alerts=service.alerts(campaign), notifications=run.notes, tokens=tokens,
        example=(example.person.registration, example.person.factor),
        open_appeal=(held, held_seat.person.registration), story=run.story)


class _Run(SimClock):
    """The simulated clock and the recurring chores: deliveries, sweeps, the outbox."""

    def __init__(self, service: AbsenceService, channels: dict[str, Channel],
                 start: datetime, say: Callable[[str], None] | None) -> None:
        self.service = service
        self.channels = channels
        self.now = start
        self.say = say
        self.campaign = ""
        self.story: list[str] = []
        self.notes: Counter[str] = Counter()
        self.webhooks = 0
        self.events = 0
        self.seen_alerts: set[str] = set()

    def tell(self, text: str) -> None:
        line = f"{self.now.astimezone(TZ):%Y-%m-%d %H:%M}  {text}"
        self.story.append(line)
        if self.say is not None:
            self.say(line)

    def send_all(self, now: datetime) -> Counter[str]:
        """Run the outbox (every 10 simulated seconds) until nothing is due."""
        self.at(now)
        done: Counter[str] = Counter()
        while self.service.due_notifications(self.now, 1):
            done += dispatch(self.service, self.channels, self.now)
            self.tick(seconds=10)
        self.notes.update(done)
        return done

    def deliver(self, batch: list[tuple[str, str, Event]]) -> None:
        """The platform POSTs (window, subject, event)s, at most the configured per call."""
        items = []
        for window, subject, (kind, at, detail) in batch:
            self.events += 1
            ev: dict[str, Any] = {"id": f"{self.campaign}.e{self.events:06d}",
                                  "window": window, "subject": subject, "kind": kind,
                                  "at": format_time(at)}
            if detail:
                ev["detail"] = detail
            items.append(ev)
        size = self.service.cfg.max_batch_events
        for i in range(0, len(items), size):
            self.webhooks += 1
            self.service.ingest(f"{self.campaign}.wh{self.webhooks:05d}",
                                {"events": items[i:i + size]}, self.now)

    def sweep(self) -> int:
        """Decide the windows due; tell each new alert."""
        n = self.service.sweep(self.now)
        for a in reversed(self.service.alerts(self.campaign)):
            if a["alert"] in self.seen_alerts:
                continue
            self.seen_alerts.add(a["alert"])
            if a["kind"] == "platform_outage":
                slot = _parse(a["slot_start"]).astimezone(TZ)
                self.tell(f"ALERT platform outage: the {slot:%H:%M} slot has {a['count']} "
                          f"technical absences in {a['total']} windows "
                          f"(threshold {a['threshold']})")
            elif a["kind"] == "notification_failures":
                self.tell(f"ALERT notification failures: {a['count']} notices bounced "
                          f"within the hour (threshold {a['threshold']})")
            else:
                self.tell(f"ALERT {a['kind']}: {a['count']} of {a['total']} "
                          f"(threshold {a['threshold']})")
        return n

    def answer_alerts(self, reviewer: Caller, makeup_opens: datetime | None) -> None:
        """A mass make-up for an outage; other alerts are looked at and dismissed."""
        for a in reversed(self.service.alerts(self.campaign)):
            if a["status"] != "open":
                continue
            if a["kind"] == "platform_outage" and makeup_opens is not None:
                done = self.service.resolve_alert(reviewer, a["alert"], {
                    "action": "mass_makeup", "opens_at": makeup_opens.isoformat(),
                    "closes_at": (makeup_opens + WINDOW).isoformat()}, self.tick(minutes=5))
                self.tell(f"reviewer: outage confirmed by the platform; mass make-up for "
                          f"{done['makeups']} candidates on {makeup_opens:%Y-%m-%d %H:%M}")
            else:
                self.service.resolve_alert(reviewer, a["alert"], {"action": "dismissed"},
                                           self.tick(minutes=5))
                why = ("the addresses were wrong at registration; those cases go to review"
                       if a["kind"] == "notification_failures" else "looked at, no action")
                self.tell(f"reviewer: {a['kind'].replace('_', ' ')} alert dismissed ({why})")

    def makeups(self, reg_of: dict[str, str], rng: random.Random, *, attends: float) -> int:
        """Hold the undecided make-up windows: reports, sweep, notices."""
        ws = sorted((w for w in self.service.windows(self.campaign, undecided_only=True,
                                                     limit=100_000)
                     if w["kind"] == "makeup"), key=lambda w: reg_of[w["subject"]])
        if not ws:
            return 0
        batch = [(w["window"], w["subject"], ev) for w in ws
                 for ev in _makeup_events(_parse(w["opens_at"]), rng, attends=attends)]
        end = max(_parse(w["closes_at"]) for w in ws)
        self.at(end + timedelta(minutes=1))
        self.deliver(batch)
        policy = self.service.cfg.policies[self.service.campaign(self.campaign)["policy"]]
        self.at(end + timedelta(seconds=policy.grace_s, minutes=2))
        self.sweep()
        self.send_all(self.tick(minutes=1))
        return len(ws)
