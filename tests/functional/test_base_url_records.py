"""The configured public base URL ([publicity] base_url) is what the notice's
offline-verification command prints, not a loopback address."""

from __future__ import annotations

from ledger.absence.service import Caller
from ledger.config import PublicitySettings
from tests.functional.test_console_hr import CAMPAIGN, Built, built, hr_client, text

__all__ = ["built"]  # the fixture, used by name


def test_the_notice_prints_the_configured_base_url(built: Built) -> None:
    env = built.env
    env.app.extensions["absentia.publicity"] = PublicitySettings(
        base_url="https://absentia.example.gov.cn")
    hr, _ = hr_client(env)
    rev_caller = Caller("reviewer:test", "reviewer")
    for d in env.service.decisions(CAMPAIGN, pending_review=True):
        env.service.review(rev_caller, d["decision"], {"ruling": "confirmed"}, env.now[0])
    preview = text(hr.get(f"/console/campaigns/{CAMPAIGN}/notice/preview"))
    assert "absentia verify https://absentia.example.gov.cn/logs/" in preview
    assert "127.0.0.1" not in preview
