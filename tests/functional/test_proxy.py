"""Behind a reverse proxy: client addresses (for rate limits) come from X-Forwarded-For
only when the config says how many proxies to trust."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from ledger.app.web import create_app
from ledger.app.web.ratelimit import RateLimiter
from tests.functional._absence import make_env
from tests.functional._serve import serving


def _attempts(trusted: int, tmp_path: Path, url: str) -> list[int]:
    with make_env(tmp_path, url) as env:
        env.campaign()
        settings = dataclasses.replace(env.settings, trusted_proxies=trusted)
        app = create_app(settings, env.store, absence=env.service)
        app.extensions["absentia.rate_limiter"] = RateLimiter(2, 60)
        client = app.test_client()
        codes = []
        for forwarded in ("203.0.113.1", "203.0.113.1", "203.0.113.1", "198.51.100.7"):
            resp = client.post("/api/v1/campaigns/c2026/status",
                               json={"registration": "R00-00000", "factor": "0000"},
                               headers={"X-Forwarded-For": forwarded})
            codes.append(resp.status_code)
        return codes


def test_trusted_proxy_gives_each_client_its_own_limit(tmp_path: Path, sqlite_url: str) -> None:
    # Two tries allowed per client: the third from the same client is refused, a
    # different client behind the same proxy is not.
    assert _attempts(1, tmp_path, sqlite_url) == [403, 403, 429, 403]


def test_without_trust_the_forwarded_header_is_ignored(tmp_path: Path, sqlite_url: str) -> None:
    # Everyone appears as the proxy itself: one shared bucket (the header is not believed).
    assert _attempts(0, tmp_path, sqlite_url) == [403, 403, 429, 429]


def test_cors_is_open_for_public_reads_only(tmp_path: Path, sqlite_url: str) -> None:
    with make_env(tmp_path, sqlite_url) as env:
        assert env.client.get("/logs").headers["Access-Control-Allow-Origin"] == "*"
        assert env.client.get("/notices").headers["Access-Control-Allow-Origin"] == "*"
        for path in ("/console/sign-in", "/status", "/api/v1/campaigns"):
            assert "Access-Control-Allow-Origin" not in env.client.get(path).headers, path


def test_hsts_over_https_only(tmp_path: Path, sqlite_url: str) -> None:
    with make_env(tmp_path, sqlite_url) as env:
        for path in ("/", "/notices", "/status", "/console/sign-in", "/logs"):
            secure = env.client.get(path, base_url="https://localhost")
            assert secure.headers["Strict-Transport-Security"] == "max-age=31536000", path
            assert "Strict-Transport-Security" not in env.client.get(path).headers, path


@pytest.mark.parametrize("trusted", [0, 1])
def test_the_served_app_believes_forwarded_https_only_from_trusted_proxies(
        tmp_path: Path, sqlite_url: str, trusted: int) -> None:
    """gunicorn itself must not turn X-Forwarded-Proto (or -Ssl, -Protocol) from 127.0.0.1
    into https: only ``[server] trusted_proxies`` (werkzeug's ProxyFix) decides."""
    with serving(tmp_path, sqlite_url, f"\n[server]\ntrusted_proxies = {trusted}\n") as srv:
        plain, _ = srv.request("GET", "/console/sign-in")
        assert plain.status == 200
        assert plain.getheader("Strict-Transport-Security") is None
        forged = [{"X-Forwarded-Proto": "https"}, {"X-Forwarded-Ssl": "on"},
                  {"X-Forwarded-Protocol": "ssl"}]
        for headers in forged if trusted == 0 else forged[:1]:
            resp, _ = srv.request("GET", "/console/sign-in", headers)
            assert resp.status == 200, headers
            cookie = resp.getheader("Set-Cookie") or ""
            hsts = resp.getheader("Strict-Transport-Security")
            if trusted:  # one proxy in front: its X-Forwarded-Proto is believed
                assert hsts == "max-age=31536000"
                assert cookie.startswith("__Host-")
                assert "Secure" in cookie
            else:
                assert hsts is None, headers
                assert cookie.startswith("absentia-"), (headers, cookie)
                assert "Secure" not in cookie, (headers, cookie)
