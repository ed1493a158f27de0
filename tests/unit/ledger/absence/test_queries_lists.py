"""ledger.absence.queries.lists: the console's paged, filtered, counted lists, on a real
SQLite store written through the use cases (120 candidates on two posts, one window
each, every one decided by the sweep)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from ledger.absence.queries.lists import (
    DecisionRow,
    ListFilter,
    campaign_posts,
    campaign_slots,
    candidate_list,
    decision_list,
    utc_bounds,
    window_list,
)
from ledger.app.registry import entry_types
from ledger.app.wiring import open_absence
from ledger.config import load_settings
from ledger.storage.open import open_store
from tests.functional._absence import candidates_csv, write_config
from tests.unit.ledger.absence._domain import CAMPAIGN, CLOSES, GRACE, HR, OPENS, T0

TZ = "Asia/Shanghai"
DECIDED = CLOSES + GRACE + timedelta(seconds=1)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    tmp: Path = tmp_path_factory.mktemp("lists")
    data = tmp / "data"
    settings = load_settings(data, write_config(data, f"sqlite:///{tmp / 'a.db'}"))
    store = open_store(settings, entry_types())
    service = open_absence(settings, store, T0)
    service.create_campaign(HR, {"campaign": CAMPAIGN, "title": "2026年公开招聘",
                                 "policy": "government",
                                 "posts": [{"post": "p01", "title": "岗位p01"},
                                           {"post": "p02", "title": "岗位p02"}]}, T0)
    for n, post, prefix in ((80, "p01", "R"), (40, "p02", "Q")):
        csv, _ = candidates_csv(n, seed=3 if post == "p01" else 4, post=post, prefix=prefix)
        service.import_candidates(HR, CAMPAIGN, csv, "text/csv", T0)
    service.schedule_windows(HR, CAMPAIGN, {"opens_at": OPENS.isoformat(),
                                            "closes_at": CLOSES.isoformat()}, T0)
    service.sweep(DECIDED)
    try:
        yield service.engine
    finally:
        store.engine.dispose()


def test_pages_reach_every_decision_once_in_registration_order(engine: Engine) -> None:
    seen: list[DecisionRow] = []
    first = decision_list(engine, CAMPAIGN, ListFilter(), TZ, page=1, size=50)
    assert (first.total, first.pages, first.size) == (120, 3, 50)
    for n in range(1, first.pages + 1):
        page = decision_list(engine, CAMPAIGN, ListFilter(), TZ, page=n, size=50)
        assert page.page == n
        seen += page.rows
    assert len(seen) == 120
    assert len({r.decision for r in seen}) == 120
    regs = [r.registration.lower() for r in seen]
    assert regs == sorted(regs)
    assert [len(decision_list(engine, CAMPAIGN, ListFilter(), TZ, page=p, size=50).rows)
            for p in (1, 2, 3)] == [50, 50, 20]
    # a page past the end is the last one; every row at once for an export
    assert decision_list(engine, CAMPAIGN, ListFilter(), TZ, page=99, size=50).page == 3
    assert decision_list(engine, CAMPAIGN, ListFilter(), TZ, size=None).rows == tuple(seen)


def test_filters_narrow_and_count(engine: Engine) -> None:
    p02 = decision_list(engine, CAMPAIGN, ListFilter(post="p02"), TZ, size=10)
    assert p02.total == 40
    assert p02.pages == 4
    assert {r.post for r in p02.rows} == {"p02"}
    every = decision_list(engine, CAMPAIGN, ListFilter(), TZ, size=None).rows
    outcome = every[0].outcome
    assert decision_list(engine, CAMPAIGN, ListFilter(outcome=outcome), TZ).total == sum(
        r.outcome == outcome for r in every)
    assert decision_list(engine, CAMPAIGN, ListFilter(outcome="attended"), TZ).total == 0
    assert decision_list(engine, CAMPAIGN, ListFilter(cause="no_such"), TZ).total == 0
    pending = sum(r.review == "pending" and r.superseded_by is None for r in every)
    assert decision_list(engine, CAMPAIGN, ListFilter(review="pending"), TZ).total == pending
    assert decision_list(engine, CAMPAIGN, ListFilter(review="reviewed"), TZ).total == 0
    slot = every[0].slot
    assert decision_list(engine, CAMPAIGN, ListFilter(slot=slot), TZ).total == 120
    assert decision_list(engine, CAMPAIGN, ListFilter(slot="other"), TZ).total == 0
    assert window_list(engine, CAMPAIGN, ListFilter(post="p01"), TZ).total == 80
    assert candidate_list(engine, CAMPAIGN, ListFilter(post="p01"), TZ).total == 80
    assert candidate_list(engine, "no-such-campaign", ListFilter(), TZ).total == 0


def test_beijing_dates_become_utc_bounds(engine: Engine) -> None:
    # T0 is 2026-11-25 08:00 in Beijing: the decisions fall on that Beijing day
    assert utc_bounds(date(2026, 11, 25), date(2026, 11, 25), TZ) == (
        "2026-11-24T16:00:00Z", "2026-11-25T16:00:00Z")
    day = date(2026, 11, 25)
    assert decision_list(engine, CAMPAIGN, ListFilter(since=day, until=day), TZ).total == 120
    assert decision_list(engine, CAMPAIGN, ListFilter(since=day + timedelta(days=1)),
                         TZ).total == 0
    assert decision_list(engine, CAMPAIGN, ListFilter(until=day - timedelta(days=1)),
                         TZ).total == 0
    assert window_list(engine, CAMPAIGN, ListFilter(since=day), TZ).total == 120


def test_search_by_registration_is_trimmed_and_case_insensitive(engine: Engine) -> None:
    every = candidate_list(engine, CAMPAIGN, ListFilter(), TZ, size=None).rows
    target = every[57].registration
    for typed in (target, f"  {target.lower()} ", target.upper()):
        got = candidate_list(engine, CAMPAIGN, ListFilter(search=typed), TZ)
        assert [r.registration for r in got.rows] == [target]
        assert decision_list(engine, CAMPAIGN, ListFilter(search=typed), TZ).total == 1
        assert window_list(engine, CAMPAIGN, ListFilter(search=typed), TZ).total == 1
    # a beginning finds every number that starts with it
    assert candidate_list(engine, CAMPAIGN, ListFilter(search=" q04-"), TZ).total == 40
    assert candidate_list(engine, CAMPAIGN, ListFilter(search="ZZ"), TZ).total == 0
    assert candidate_list(engine, CAMPAIGN, ListFilter(search="   "), TZ).total == 120


def test_posts_and_slots_of_the_campaign(engine: Engine) -> None:
    assert campaign_posts(engine, CAMPAIGN) == {"p01": "岗位p01", "p02": "岗位p02"}
    slots = campaign_slots(engine, CAMPAIGN)
    assert len(slots) == 1
    (slot, opens), = slots.items()
    assert decision_list(engine, CAMPAIGN, ListFilter(), TZ).rows[0].slot == slot
    assert opens == window_list(engine, CAMPAIGN, ListFilter(), TZ).rows[0].opens_at
    assert campaign_slots(engine, "no-such-campaign") == {}


def test_search_on_each_database(tmp_path: Path, db_url: str) -> None:
    """The prefix search is a range on SQLite and a LIKE elsewhere: same answers."""
    data = tmp_path / "data"
    settings = load_settings(data, write_config(data, db_url))
    store = open_store(settings, entry_types())
    try:
        service = open_absence(settings, store, T0)
        service.create_campaign(HR, {"campaign": CAMPAIGN, "title": "t", "policy": "government",
                                     "posts": [{"post": "p01", "title": "岗位p01"}]}, T0)
        csv, rows = candidates_csv(12, seed=7, prefix="AB")
        service.import_candidates(HR, CAMPAIGN, csv, "text/csv", T0)
        engine = service.engine
        one = rows[10]["registration"]  # AB07-00010
        assert [r.registration for r in candidate_list(
            engine, CAMPAIGN, ListFilter(search=f" {one.lower()} "), TZ).rows] == [one]
        assert candidate_list(engine, CAMPAIGN, ListFilter(search="ab07-0001"), TZ).total == 2
        assert candidate_list(engine, CAMPAIGN, ListFilter(search="AB07-"), TZ).total == 12
        assert candidate_list(engine, CAMPAIGN, ListFilter(search="ab07_"), TZ).total == 0
        assert candidate_list(engine, CAMPAIGN, ListFilter(search="%"), TZ).total == 0
    finally:
        store.engine.dispose()
