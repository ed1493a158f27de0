"""The demo campaign's script: valid candidates, the article's mix, a simulated clock.

The campaign itself runs end to end in ``tests/functional/test_cli.py`` (the real CLI,
2,000 candidates); here: its inputs, and that a seed gives the same campaign.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest

from ledger.absence.anomaly import AnomalyThresholds
from ledger.absence.imports import parse_candidates
from ledger.absence.notify import Channel, FileChannel
from ledger.absence.outbox import dispatch
from ledger.app.demo import (
    DEFAULT_START,
    POSTS,
    AbsenceMix,
    absence_mix,
    candidates_csv,
    demo_people,
    demo_start,
    min_candidates,
    run_campaign,
)
from ledger.app.registry import entry_types
from ledger.app.wiring import open_absence
from ledger.config import load_settings
from ledger.storage.open import open_store

CONFIG = Path(__file__).resolve().parents[4] / "config.toml"


@pytest.fixture(autouse=True)
def _own_database(monkeypatch: pytest.MonkeyPatch) -> None:
    """The project's config on SQLite in tmp_path, whatever the environment points at."""
    monkeypatch.delenv("ABSENTIA_DATABASE_URL", raising=False)


def test_the_articles_mix() -> None:
    assert absence_mix(2000) == AbsenceMix(240, 137, 67, 36)
    for n in (140, 300, 600, 2000, 5000):
        mix = absence_mix(n)
        assert mix.voluntary + mix.technical + mix.unreachable == mix.absent
        assert abs(mix.absent / n - 0.12) < 0.005


def test_people_are_valid_deterministic_and_varied() -> None:
    people = demo_people(2000, seed=7)
    assert people == demo_people(2000, seed=7)
    assert people != demo_people(2000, seed=8)
    rows = parse_candidates(candidates_csv(people), "text/csv",
                            known_posts={p for p, _ in POSTS})
    assert [r.registration for r in rows] == [p.registration for p in people]
    assert [r.details.name for r in rows] == [p.name for p in people]
    names = [p.name for p in people]
    assert any(n[:2] in ("欧阳", "司马", "诸葛", "上官", "皇甫", "令狐") for n in names)
    assert any(ch in n for n in names for ch in ("𠮷", "𡒄"))  # outside the BMP
    assert len({p.id_number for p in people}) == 2000
    unreachable = [p for p in people if p.unreachable]
    assert len(unreachable) == absence_mix(2000).unreachable
    assert all(p.phone == "" and p.email.endswith(".invalid") for p in unreachable)
    reachable = [p for p in people if not p.unreachable]
    assert not any(p.email.endswith(".invalid") or p.phone.startswith("1999")
                   for p in reachable)
    contact = Counter((bool(p.phone), bool(p.email)) for p in reachable)
    assert set(contact) == {(True, True), (True, False), (False, True)}
    assert Counter(p.post for p in people).keys() == {p for p, _ in POSTS}


def test_minimum_size_follows_the_thresholds() -> None:
    assert min_candidates(AnomalyThresholds()) == 140
    assert min_candidates(AnomalyThresholds(outage_min_technical=20)) == 280


def test_start_never_goes_back_in_time() -> None:
    assert demo_start(None) == DEFAULT_START
    assert demo_start(datetime(2026, 1, 1, tzinfo=UTC)) == DEFAULT_START
    later = demo_start(datetime(2026, 11, 20, 17, 0, tzinfo=UTC))  # 01:00 on the 21st
    assert later == datetime(2026, 11, 22, 1, 0, tzinfo=UTC)


def _run(tmp_path: Path, candidates: int, seed: int) -> tuple[list[str], dict[str, object]]:
    tmp_path.mkdir()
    settings = load_settings(tmp_path, CONFIG)
    store = open_store(settings, entry_types())
    try:
        service = open_absence(settings, store, DEFAULT_START)
        channel = FileChannel(tmp_path / "outbox.jsonl")
        channels: dict[str, Channel] = {"email": channel, "sms": channel}
        summary = run_campaign(service, channels, DEFAULT_START, candidates=candidates,
                               seed=seed)
        # Everything is done on the simulated clock: nothing left due, nothing undecided.
        assert service.due_notifications(summary.finished) == []
        assert dispatch(service, channels, summary.finished) == Counter()
        assert service.windows(summary.campaign, undecided_only=True) == []
        assert summary.finished < datetime(2026, 11, 21, tzinfo=UTC)
        return summary.story, summary.statistics
    finally:
        store.engine.dispose()


def test_a_seed_gives_the_same_campaign(tmp_path: Path) -> None:
    story, stats = _run(tmp_path / "a", 150, seed=11)
    again, stats_again = _run(tmp_path / "b", 150, seed=11)
    assert again == story
    assert stats_again == stats
    assert stats["alerts"]
    assert stats["pending_review"] == 0


def test_bad_arguments(tmp_path: Path) -> None:
    settings = load_settings(tmp_path, CONFIG)
    store = open_store(settings, entry_types())
    try:
        service = open_absence(settings, store, DEFAULT_START)
        with pytest.raises(ValueError, match="at least 140"):
            run_campaign(service, {}, DEFAULT_START, candidates=139)
        with pytest.raises(ValueError, match="aware"):
            run_campaign(service, {}, datetime(2026, 11, 9, 9, 0))
    finally:
        store.engine.dispose()
