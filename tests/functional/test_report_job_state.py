"""The reports page tells a job's real state (queued, running, done, failed with why),
and its JSON status answers for a job just asked for (the poller's source)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest

from ledger.app.web import console_hr
from ledger.config import PublicitySettings
from publicity import jobs
from tests.functional._absence import make_env
from tests.functional.test_console_signin import csrf_of
from tests.functional.test_report_jobs import _clients, _Held

LIMITS = PublicitySettings(report_jobs_running=1, report_jobs_max=3)


def test_a_queued_job_is_shown_queued_and_its_status_answers(
        tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(console_hr, "SPAWN", [lambda d, c, f, j: _Held()])
    with make_env(tmp_path, db_url) as env:
        env.app.extensions["absentia.settings"] = env.settings
        env.app.extensions["absentia.publicity"] = LIMITS
        env.campaign("c1")
        (client,) = _clients(env, [env.app], 1)
        page = "/console/campaigns/c1/reports"
        assert client.post(page, data={"csrf_token": csrf_of(client.get(page))}
                           ).status_code == 303
        (job,) = jobs.of_campaign(env.store, "c1")
        shown = client.get(page).get_data(as_text=True)
        state = re.search(r'<span class="state" role="status">([^<]*)</span>', shown)
        assert state is not None, shown
        assert state.group(1) == "排队中"
        status = client.get(f"/console/report-jobs/{job.job}.json")
        assert status.status_code == 200, status.get_data(as_text=True)
        assert status.get_json()["state"] == "queued"


def test_a_real_report_job_ends_done_with_its_link(tmp_path: Path, db_url: str) -> None:
    """The console starts the real ``absentia report generate --job`` process: its JSON
    status goes queued/running -> done with the download link, never failed."""
    with make_env(tmp_path, db_url) as env:
        env.app.extensions["absentia.settings"] = env.settings
        env.app.extensions["absentia.publicity"] = LIMITS
        env.campaign("c1")
        (client,) = _clients(env, [env.app], 1)
        page = "/console/campaigns/c1/reports"
        assert client.post(page, data={"csrf_token": csrf_of(client.get(page))}
                           ).status_code == 303
        (job,) = jobs.of_campaign(env.store, "c1")
        seen = []
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            status = client.get(f"/console/report-jobs/{job.job}.json")
            assert status.status_code == 200, status.get_data(as_text=True)
            body = status.get_json()
            seen.append(body["state"])
            if body["state"] not in ("queued", "running"):
                break
            time.sleep(0.5)
        assert body["state"] == "done", body
        assert body["download"] == f"/console/reports/{body['report']}.pdf"
        assert client.get(body["download"]).status_code == 200
        shown = client.get(page).get_data(as_text=True)
        assert f'href="{body["download"]}"' in shown
