"""What an interview platform's integrator needs: hints in problems, and windows it can match.

* a ``webhook-timestamp`` in milliseconds is refused with a hint ("looks like
  milliseconds; send seconds"), not only "N s in the future";
* ``GET /platform/windows`` without ``campaign`` is a 400 problem naming the parameter;
* the platform's list of windows carries each candidate's registration number.
"""

from __future__ import annotations

import json
from pathlib import Path

from tests.functional._absence import J, make_env, problem
from tests.functional.test_platform_webhook import Setup, post_raw, signed_headers


def test_a_timestamp_in_milliseconds_gets_a_hint(tmp_path: Path, sqlite_url: str) -> None:
    with make_env(tmp_path, sqlite_url) as env:
        s = Setup(env, n=1)
        body = json.dumps(s.event(0, "e1")).encode()
        ms = int(env.now[0].timestamp() * 1000)
        before = s.size()
        resp = post_raw(env, body, signed_headers(env, body, "msg_ms", ts=ms))
        detail = problem(resp, 401, "webhook-timestamp")["detail"]
        assert "looks like milliseconds; send seconds" in detail
        assert s.size() == before
        # An honest clock skew still reads as a skew, without the hint.
        skewed = int(env.now[0].timestamp()) + 3600
        resp = post_raw(env, body, signed_headers(env, body, "msg_skew", ts=skewed))
        detail = problem(resp, 401, "webhook-timestamp")["detail"]
        assert "milliseconds" not in detail
        assert "in the future" in detail
        # In seconds, the same event is recorded.
        resp = post_raw(env, body, signed_headers(env, body, "msg_s"))
        assert resp.status_code == 201, J(resp)


def test_windows_without_campaign_is_a_problem_naming_it(tmp_path: Path,
                                                         sqlite_url: str) -> None:
    with make_env(tmp_path, sqlite_url) as env:
        Setup(env, n=1)
        body = problem(env.get("/api/v1/platform/windows", "platform"), 400, "campaign")
        assert "campaign" in body["detail"]


def test_platform_windows_carry_the_registration_number(tmp_path: Path,
                                                        sqlite_url: str) -> None:
    with make_env(tmp_path, sqlite_url) as env:
        s = Setup(env, n=3)
        listed = J(env.get("/api/v1/platform/windows?campaign=c1", "platform"))
        candidates = {c["subject"]: c["registration"]
                      for c in J(env.get("/api/v1/campaigns/c1/candidates", "hr"))}
        assert len(listed) == 3
        for w in listed:
            assert w["registration"] == candidates[w["subject"]]
        assert sorted(w["subject"] for w in listed) == sorted(s.subjects)
