"""The HR console's setup pages: create a campaign with its posts and policy, and schedule
its windows in slots (wall-clock times in the campaign's zone, a capacity per slot).

Everything goes through the ``AbsenceService`` as the signed-in user (``console.actor``),
so the ledger records who did it.  The routes are added to ``console_hr.bp`` (importing
this module registers them; ``ledger.app.web`` does).

Scheduling fills slots in order: the campaign's candidates without a window (never
scheduled, not locked or erased), in registration-number order, each slot up to its
capacity, one ``schedule_windows`` call a slot (each one all-or-nothing in the ledger).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Response, request

from ledger.absence.fields import check_window_times
from ledger.app.web.console import actor
from ledger.app.web.console_hr import (
    _campaign,
    _f,
    _form_post,
    _get,
    _local_time,
    _page,
    _redirect,
    _tz_of,
    lang,
)
from ledger.app.web.console_slots_text import backup_rows, slot_problem
from ledger.app.web.forms import Lang, words
from ledger.app.web.services import now, service
from ledger.errors import BadData, LedgerError
from ledger.timetext import written_short, zone_label

#: Post rows and slot rows the forms offer.
POST_ROWS = 8
SLOT_ROWS = 6
#: The largest capacity a slot takes (a campaign's whole import).
MAX_CAPACITY = 50_000

PROBLEMS: dict[str, tuple[str, str]] = words("console_hr.setup_problems")
# Domain message fragments, each to a words key (the first that matches is said).
_PROBLEMS = (("required", "required"), ("exists", "exists"), ("identifier", "identifier"),
             ("IANA", "timezone"), ("not configured", "policy"), ("listed twice", "twice"),
             ("after opens_at", "after_opens"), ("in the future", "future"),
             ("366 days", "too_far"), ("31 days", "too_long"), ("such as 2026", "datetime"),
             ("personal", "personal"), ("capacity", "capacity"), ("no candidates", "nobody"),
             ("undecided window", "has_window"))


def problem(exc: LedgerError, lg: Lang) -> str:
    """``exc`` on the form: the field's label, then what is wrong, in ``lg``'s language
    (the domain's own message when no words fit)."""
    text = str(exc)
    field = exc.field or ""
    label_key = "setup_f_" + field
    if field.startswith("posts[") and "]" in field:
        label_key = "setup_f_post_" + field.rpartition(".")[2] if "." in field else ""
    label = lg.t(label_key) if label_key in lg.texts else field
    if field.startswith("posts[") and "]" in field and field[6:field.index("]")].isdigit():
        label = lg.t("setup_post_n", n=int(field[6:field.index("]")]) + 1) + (
            " " + lg.t(label_key) if label_key in lg.texts else "")
    detail = next((lg.pick(PROBLEMS[key]) for frag, key in _PROBLEMS if frag in text), text)
    colon = ": " if lg.code == "en" else "："
    return f"{label}{colon}{detail}" if label else detail


# -- create a campaign --------------------------------------------------------------


def _policies() -> tuple[list[str], str]:
    cfg = service().cfg
    return sorted(cfg.policies), cfg.default_policy


@_get("/campaigns/new", "hr", endpoint="campaign_new")
def campaign_new(status: int = 200, exc: LedgerError | None = None) -> Response:
    lg = lang()
    names, default = _policies()
    form = request.form if request.method == "POST" else {}
    values = {"campaign": form.get("campaign", ""), "title": form.get("title", ""),
              "timezone": form.get("timezone", "Asia/Shanghai"),
              "policy": form.get("policy", default)}
    posts = [(form.get(f"post_{i}", ""), form.get(f"post_title_{i}", ""))
             for i in range(POST_ROWS)]
    return _page("console_hr_setup_campaign.html", status,
                 error=problem(exc, lg) if exc is not None else "",
                 v=values, posts=posts, policies=names,
                 bad=(exc.field or "") if exc is not None else "")


def _posts_from_form() -> list[dict[str, str]]:
    posts: list[dict[str, str]] = []
    for i in range(POST_ROWS):
        pid, title = _f(f"post_{i}", 200), _f(f"post_title_{i}", 200)
        if pid or title:
            posts.append({"post": pid, "title": title})
    return posts


@_form_post("/campaigns/new", campaign_new, "hr")
def campaign_create() -> Response:
    data: dict[str, Any] = {"campaign": _f("campaign", 200), "title": _f("title", 500),
                            "timezone": _f("timezone", 100) or "Asia/Shanghai",
                            "posts": _posts_from_form()}
    if _f("policy"):
        data["policy"] = _f("policy", 100)
    for key in ("campaign", "title"):
        if not data[key]:
            raise BadData(f"{key}: required", field=key)
    if not data["posts"]:
        raise BadData("posts: required", field="posts")
    made = service().create_campaign(actor(), data, now())
    return _redirect(f"/console/campaigns/{made['campaign']}/schedule", done="created")


# -- schedule windows ---------------------------------------------------------------


@dataclass(frozen=True)
class Slot:
    """One slot of the form: its wall-clock times (as typed) and capacity."""

    opens: str
    closes: str
    capacity: str


def _unscheduled(campaign: str) -> list[dict[str, Any]]:
    """The campaign's candidates without any window, in registration order."""
    svc = service()
    has_window: set[str] = set()
    after = ""
    while True:
        page = svc.windows(campaign, limit=1000, after=after)
        has_window.update(w["subject"] for w in page)
        if len(page) < 1000:
            break
        after = page[-1]["window"]
    return [c for c in svc.candidates(campaign)
            if c["subject"] not in has_window and not c["locked"] and not c["erased"]]


def _slots_from_form() -> list[Slot]:
    slots = [Slot(_f(f"opens_{i}", 40), _f(f"closes_{i}", 40), _f(f"capacity_{i}", 10))
             for i in range(SLOT_ROWS)]
    return [s for s in slots if s.opens or s.closes or s.capacity]


@_get("/campaigns/<campaign>/schedule", "hr", endpoint="schedule_form")
def schedule_page(campaign: str, status: int = 200, exc: LedgerError | None = None
                  ) -> Response:
    c = _campaign(campaign)
    lg = lang()
    tz = _tz_of(campaign)
    if request.method == "POST":
        slots = [Slot(_f(f"opens_{i}", 40), _f(f"closes_{i}", 40), _f(f"capacity_{i}", 10))
                 for i in range(SLOT_ROWS)]
    else:
        slots = [Slot("", "", "")] * SLOT_ROWS
    windows = service().windows(campaign, limit=1000)
    by_slot: dict[str, dict[str, Any]] = {}
    for w in windows:
        row = by_slot.setdefault(w["slot"], {"slot": w["slot"], "count": 0,
                                             "opens": written_short(w["opens_at"], tz),
                                             "closes": written_short(w["closes_at"], tz)})
        row["count"] += 1
    form = request.form if request.method == "POST" else {}
    return _page("console_hr_setup_schedule.html", status,
                 error=(slot_problem(exc, lg) or problem(exc, lg)) if exc is not None else "",
                 c=c, slots=slots, backup=backup_rows(service(), campaign, tz),
                 bs={k: form.get(k, "") for k in ("bs_slot", "bs_opens", "bs_closes",
                                                  "bs_capacity")},
                 waiting=len(_unscheduled(campaign)), scheduled=sorted(
                     by_slot.values(), key=lambda r: (r["opens"], r["slot"])),
                 zone=zone_label(tz, lg.code))


def _capacity(value: str, i: int) -> int:
    if not value.isdigit() or not 1 <= int(value) <= MAX_CAPACITY:
        raise BadData(f"capacity_{i}: capacity must be a whole number from 1 to "
                      f"{MAX_CAPACITY}", field="capacity")
    return int(value)


@_form_post("/campaigns/<campaign>/schedule", schedule_page, "hr")
def schedule_submit(campaign: str) -> Response:
    _campaign(campaign)
    tz = _tz_of(campaign)
    slots = _slots_from_form()
    if not slots:
        raise BadData("opens_at: required", field="opens_at")
    planned: list[tuple[str, str, int]] = []
    for i, s in enumerate(slots):
        if not s.opens:
            raise BadData("opens_at: required", field="opens_at")
        if not s.closes:
            raise BadData("closes_at: required", field="closes_at")
        opens, closes = _local_time(s.opens, tz, "opens_at"), _local_time(s.closes, tz,
                                                                          "closes_at")
        # Every slot is checked before any is scheduled (the domain checks again).
        check_window_times(datetime.fromisoformat(opens), datetime.fromisoformat(closes),
                           now())
        planned.append((opens, closes, _capacity(s.capacity, i)))
    waiting = _unscheduled(campaign)
    if not waiting:
        raise BadData("no candidates without a window", field="subjects")
    made = 0
    svc = service()
    for opens, closes, capacity in planned:
        batch, waiting = waiting[:capacity], waiting[capacity:]
        if not batch:
            break
        made += len(svc.schedule_windows(actor(), campaign, {
            "opens_at": opens, "closes_at": closes,
            "subjects": [c["subject"] for c in batch]}, now()))
    return _redirect(f"/console/campaigns/{campaign}/schedule", done="scheduled", n=made)


__all__ = ["MAX_CAPACITY", "POST_ROWS", "SLOT_ROWS", "problem"]
