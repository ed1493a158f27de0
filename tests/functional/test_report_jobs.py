"""Report jobs are capped across processes: one per campaign, a bounded queue, turns.

Two apps (or two stores) on one database stand for two hosts; requests for reports
arrive at the same moment from threads, in real transactions.  The report processes
are stand-ins that stay alive, so every job stays in flight.

Signed-in console users pressing "generate" at once run on both databases; the same
races are run one level down too, on the jobs themselves.
"""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from ledger.accounts.store import Accounts
from ledger.app.registry import entry_types
from ledger.app.web import console_hr, create_app
from ledger.app.wiring import open_absence
from ledger.config import PublicitySettings
from ledger.storage.open import open_store
from publicity import jobs
from publicity.jobs import JobLimits, JobRefused
from tests.functional._absence import T0, Env, make_env
from tests.functional.test_console_signin import PASSWORD, csrf_of, sign_in

LIMITS = PublicitySettings(report_jobs_running=1, report_jobs_max=3)


class _Held:
    """A report process that has not ended (poll() is None)."""

    stderr = None

    def poll(self) -> int | None:
        return None


@pytest.fixture
def hosts(tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
          ) -> Iterator[tuple[Env, list[Flask]]]:
    """The test env's app and a second app on its own engine, both set up for reports."""
    monkeypatch.setattr(console_hr, "SPAWN", [lambda d, c, f, j: _Held()])
    with make_env(tmp_path, db_url) as env:
        store2 = open_store(env.settings, entry_types())
        app2 = create_app(store=store2, absence=open_absence(env.settings, store2, T0))
        apps = [env.app, app2]
        for app in apps:
            app.extensions["absentia.settings"] = env.settings
            app.extensions["absentia.publicity"] = LIMITS
            app.extensions["absentia.clock"] = env.app.extensions["absentia.clock"]
        try:
            yield env, apps
        finally:
            store2.engine.dispose()


def _clients(env: Env, apps: list[Flask], n: int) -> list[FlaskClient]:
    accounts: Accounts = env.app.extensions["absentia.accounts"]
    clients = []
    for i in range(n):
        login = f"hr.{i}"
        accounts.create_user(login, PASSWORD, "hr", env.now[0])
        client = apps[i % len(apps)].test_client()
        assert sign_in(client, login, PASSWORD).status_code == 303
        clients.append(client)
    return clients


def _press_at_once(clients: list[FlaskClient], campaigns: list[str]) -> list[Any]:
    """Every client presses "generate" on its campaign at the same moment."""
    forms = [csrf_of(c.get(f"/console/campaigns/{k}/reports"))
             for c, k in zip(clients, campaigns, strict=True)]
    barrier = threading.Barrier(len(clients))
    answers: list[Any] = [None] * len(clients)

    def press(i: int) -> None:
        barrier.wait()
        answers[i] = clients[i].post(f"/console/campaigns/{campaigns[i]}/reports",
                                     data={"csrf_token": forms[i]})

    threads = [threading.Thread(target=press, args=(i,)) for i in range(len(clients))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answers


def test_one_job_per_campaign_across_hosts(hosts: tuple[Env, list[Flask]]) -> None:
    env, apps = hosts
    env.campaign("c1")
    answers = _press_at_once(_clients(env, apps, 8), ["c1"] * 8)
    codes = sorted(a.status_code for a in answers)
    assert codes == [303] + [409] * 7, codes
    active = [j for j in jobs.of_campaign(env.store, "c1") if j.state in jobs.ACTIVE]
    assert len(active) == 1
    for a in answers:
        if a.status_code == 409:
            page = a.get_data(as_text=True)
            # The running job, by id and state, in the message and in the job list.
            assert re.search(rf"already (queued|running) \(job {active[0].job}\)", page), page
            assert f'data-job="{active[0].job}"' in page


def test_the_queue_is_bounded_across_hosts(hosts: tuple[Env, list[Flask]]) -> None:
    env, apps = hosts
    campaigns = [f"c{i}" for i in range(6)]
    for c in campaigns:
        env.campaign(c)
    answers = _press_at_once(_clients(env, apps, 6), campaigns)
    codes = sorted(a.status_code for a in answers)
    assert codes == [303] * 3 + [409] * 3, codes
    for a in answers:
        if a.status_code == 409:
            assert "3 report jobs are queued or running" in a.get_data(as_text=True)
    in_flight = [j for c in campaigns for j in jobs.of_campaign(env.store, c)
                 if j.state in jobs.ACTIVE]
    assert len(in_flight) == 3


def test_jobs_take_turns_and_stale_ones_expire(tmp_path: Path, db_url: str) -> None:
    limits = JobLimits(max_running=1, max_jobs=3, timeout_s=600)
    with make_env(tmp_path, db_url) as env:
        for c in ("a", "b", "c"):
            env.campaign(c)
        first = jobs.request(env.store, "a", "hr:one", T0, limits)
        second = jobs.request(env.store, "b", "hr:two", T0, limits)
        assert jobs.claim_turn(env.store, first.job, T0, limits)
        assert not jobs.claim_turn(env.store, second.job, T0, limits)  # one at a time
        jobs.finish(env.store, first.job, T0, report="rpt-a")
        assert jobs.get(env.store, first.job).state == jobs.DONE  # type: ignore[union-attr]
        assert jobs.claim_turn(env.store, second.job, T0, limits)
        with pytest.raises(JobRefused) as info:
            jobs.request(env.store, "b", "hr:one", T0, limits)
        assert info.value.running is not None
        assert info.value.running.job == second.job
        # Its process died without a word: after timeout_s the campaign is free again.
        later = T0 + timedelta(seconds=601)
        again = jobs.request(env.store, "b", "hr:one", later, limits)
        assert jobs.get(env.store, second.job).state == jobs.FAILED  # type: ignore[union-attr]
        assert again.state == jobs.QUEUED


def test_concurrent_requests_on_two_stores(tmp_path: Path, db_url: str) -> None:
    limits = JobLimits(max_running=1, max_jobs=3)
    with make_env(tmp_path, db_url) as env:
        campaigns = [f"c{i}" for i in range(6)]
        for c in campaigns:
            env.campaign(c)
        store2 = open_store(env.settings, entry_types())
        try:
            stores = [env.store, store2]
            wanted = ["c0"] * 6 + campaigns[1:]  # six for one campaign, one for five others
            barrier = threading.Barrier(len(wanted))
            got: list[str] = [""] * len(wanted)

            def ask(i: int) -> None:
                barrier.wait()
                try:
                    got[i] = jobs.request(stores[i % 2], wanted[i], f"hr:{i}", T0, limits).job
                except JobRefused as exc:
                    got[i] = "campaign" if exc.running is not None else "full"

            threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(wanted))]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
        finally:
            store2.engine.dispose()
        accepted = [g for g in got if g.startswith("j_")]
        assert len(accepted) == 3, got
        in_flight = [j for c in campaigns for j in jobs.of_campaign(env.store, c)]
        assert len(in_flight) == 3
        assert len({j.campaign for j in in_flight}) == 3  # never two for one campaign


def test_a_second_press_gets_409_naming_the_job(tmp_path: Path, db_url: str,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(console_hr, "SPAWN", [lambda d, c, f, j: _Held()])
    with make_env(tmp_path, db_url) as env:
        env.app.extensions["absentia.settings"] = env.settings
        env.app.extensions["absentia.publicity"] = LIMITS
        env.campaign("c1")
        first, second = _clients(env, [env.app], 2)
        page = "/console/campaigns/c1/reports"
        assert first.post(page, data={"csrf_token": csrf_of(first.get(page))}
                          ).status_code == 303
        (job,) = jobs.of_campaign(env.store, "c1")
        again = second.post(page, data={"csrf_token": csrf_of(second.get(page))})
        assert again.status_code == 409
        shown = again.get_data(as_text=True)
        assert f"already queued (job {job.job})" in shown
        assert f'data-job="{job.job}" data-state="queued"' in shown


def test_real_report_processes_take_turns(tmp_path: Path, db_url: str) -> None:
    """Three ``absentia report generate --job`` processes started at once: with one turn
    at a time, their running intervals (in the table) do not overlap, and all succeed."""
    from sqlalchemy import select

    from ledger.absence import tables as P  # noqa: N812
    from publicity.report import spawn_generate

    limits = JobLimits(max_running=1, max_jobs=3)
    with make_env(tmp_path, db_url) as env:  # the children open the same database
        queued = []
        for c in ("a", "b", "c"):
            env.campaign(c)
            queued.append(jobs.request(env.store, c, "hr:one", T0, limits))
        procs = [spawn_generate(env.data, j.campaign, config_file=env.data / "config.toml",
                                job=j.job) for j in queued]
        for p in procs:
            _, err = p.communicate(timeout=600)
            assert p.returncode == 0, err.decode(errors="replace")[-2000:]
        with env.store.engine.connect() as conn:
            rows = conn.execute(select(P.report_jobs).order_by(P.report_jobs.c.started_at)
                                ).all()
    assert [r.state for r in rows] == [jobs.DONE] * 3
    assert all(r.report for r in rows)
    for before, after in itertools.pairwise(rows):
        assert before.ended_at <= after.started_at, (before, after)


def test_a_turn_starts_no_earlier_than_the_one_before_it_ended(tmp_path: Path,
                                                              db_url: str) -> None:
    # A process reads its clock, then waits for the write lock the finishing job holds:
    # the turn it claims must not be recorded as starting before that job ended (three
    # real report processes showed a 2 ms overlap in the table under load).
    limits = JobLimits(max_running=1, max_jobs=3, timeout_s=600)
    with make_env(tmp_path, db_url) as env:
        for c in ("a", "b"):
            env.campaign(c)
        first = jobs.request(env.store, "a", "hr:one", T0, limits)
        second = jobs.request(env.store, "b", "hr:one", T0, limits)
        assert jobs.claim_turn(env.store, first.job, T0, limits)
        ended = T0 + timedelta(seconds=30)
        jobs.finish(env.store, first.job, ended, report="rpt-a")
        read_before_the_lock = ended - timedelta(milliseconds=2)
        assert jobs.claim_turn(env.store, second.job, read_before_the_lock, limits)
        from sqlalchemy import select

        from ledger.absence import tables as P  # noqa: N812
        with env.store.engine.connect() as conn:
            rows = {r.job: r for r in conn.execute(select(P.report_jobs)).all()}
    assert rows[first.job].ended_at <= rows[second.job].started_at
