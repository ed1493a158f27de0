"""Console sign-in (``ledger/app/web/console.py``) through the Flask test client, on both
databases, and ``absentia users`` through the real command line.

Checked: a sign-in is a ``user.signed_in`` entry with no login name in the ledger; a
wrong password a ``user.sign_in_failed``; a lock after repeated failures, with the same
message as an unknown login; reviewers must enrol TOTP (codes computed with pyotp at
the app's clock); a replayed code is refused; forms without the CSRF token are refused
with 400; the cookie attributes; the security headers (HSTS on HTTPS only); sign-out
ends the session on the server; every input is labelled; English on request.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pyotp
import pytest
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from ledger.accounts import store as store_module
from ledger.accounts.store import LOCK_AFTER, Accounts
from ledger.app.web.console import CSP
from tests.functional._absence import Env, make_env, write_config

PASSWORD = "an adequately long passphrase"
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
SECRET_RE = re.compile(r'<code id="totp-secret">([A-Z2-7 ]+)</code>')
HTTP = "http://localhost"
HTTPS = "https://localhost"
FAILED_ZH = "登录名或密码错误，或账户已暂时锁定"


def accounts(env: Env) -> Accounts:
    a: Accounts = env.app.extensions["absentia.accounts"]
    return a


def csrf_of(resp: TestResponse) -> str:
    m = CSRF_RE.search(resp.get_data(as_text=True))
    assert m is not None, resp.get_data(as_text=True)
    return m.group(1)


def sign_in(client: FlaskClient, login: str, password: str, *, base: str = HTTP,
            lang: str | None = None) -> TestResponse:
    query = "?lang=en" if lang == "en" else ""
    form = client.get("/console/sign-in" + query, base_url=base)
    assert form.status_code == 200
    data = {"csrf_token": csrf_of(form), "login": login, "password": password}
    if lang:
        data["lang"] = lang
    return client.post("/console/sign-in", data=data, base_url=base)


def post_form(client: FlaskClient, page: str, action: str, data: dict[str, str], *,
              base: str = HTTP) -> TestResponse:
    """GET ``page``, take its CSRF token, POST ``data`` to ``action``."""
    shown = client.get(page, base_url=base)
    assert shown.status_code == 200, shown.status_code
    return client.post(action, data={"csrf_token": csrf_of(shown), **data}, base_url=base)


def ledger_of(env: Env, kind: str) -> list[dict[str, Any]]:
    return [e for e in env.ledger_entries() if e["type"] == kind]


def ledger_bytes(env: Env) -> bytes:
    return b"".join(d for _, d in env.store.iter_entries("hr-test"))


def enrol(env: Env, client: FlaskClient, login: str, *, base: str = HTTP) -> str:
    """Sign in a reviewer or admin for the first time and enrol; returns the secret."""
    resp = sign_in(client, login, PASSWORD, base=base)
    assert resp.status_code == 303
    assert resp.headers["Location"] == "/console/sign-in/enrol"
    page = client.get("/console/sign-in/enrol", base_url=base)
    m = SECRET_RE.search(page.get_data(as_text=True))
    assert m is not None
    secret = m.group(1).replace(" ", "")
    done = client.post("/console/sign-in/enrol", base_url=base, data={
        "csrf_token": csrf_of(page), "code": pyotp.TOTP(secret).at(env.now[0])})
    assert done.status_code == 200  # signed in: the recovery codes, shown this once
    assert 'id="recovery-codes"' in done.get_data(as_text=True)
    return secret


# -- sign-in and the ledger ---------------------------------------------------------------


def test_sign_in_is_recorded_without_the_login(env: Env) -> None:
    login = "Zhang.Wei@hr.example.com"
    user = accounts(env).create_user(login, PASSWORD, "hr", env.now[0])
    client = env.app.test_client()
    resp = sign_in(client, login, PASSWORD)
    assert resp.status_code == 303
    assert resp.headers["Location"] == "/console/"
    home = client.get("/console/")
    assert home.status_code == 200
    text = home.get_data(as_text=True)
    assert 'data-role="hr"' in text
    assert "人事经办" in text
    assert user in text
    signed = ledger_of(env, "user.signed_in")
    assert len(signed) == 1
    assert signed[0]["actor"] == f"hr:{user}"
    body = signed[0]["body"]
    assert body["user"] == user
    assert body["second_factor"] == "none"
    assert re.fullmatch(r"s_[a-z2-7]{16}", body["session"])
    raw = ledger_bytes(env).lower()
    assert b"zhang" not in raw
    assert login.lower().encode() not in raw
    assert ledger_of(env, "user.created")[0]["body"] == {"user": user, "role": "hr"}


def test_wrong_password_and_unknown_login_are_recorded_alike_on_screen(env: Env) -> None:
    user = accounts(env).create_user("auditor1", PASSWORD, "auditor", env.now[0])
    client = env.app.test_client()
    wrong = sign_in(client, "auditor1", PASSWORD + "!")
    unknown = sign_in(client, "nobody-here", PASSWORD)
    for resp in (wrong, unknown):
        assert resp.status_code == 200
        assert FAILED_ZH in resp.get_data(as_text=True)
        assert "absentia-session" not in resp.headers.get("Set-Cookie", "")
    failed = [e["body"] for e in ledger_of(env, "user.sign_in_failed")]
    assert failed == [{"reason": "bad_password", "user": user}, {"reason": "unknown_login"}]
    assert not ledger_of(env, "user.signed_in")
    assert client.get("/console/").status_code == 303


def _error_of(resp: TestResponse) -> str:
    m = re.search(r'<p class="error" role="alert" id="form-error">([^<]*)</p>',
                  resp.get_data(as_text=True))
    assert m is not None
    return m.group(1)


def test_lockout_after_repeated_failures_reveals_nothing(env: Env) -> None:
    user = accounts(env).create_user("hr.lock", PASSWORD, "hr", env.now[0])
    client = env.app.test_client()
    for _ in range(LOCK_AFTER):
        assert sign_in(client, "hr.lock", "not the password").status_code == 200
    locks = ledger_of(env, "user.locked")
    assert [e["body"]["user"] for e in locks] == [user]
    # Locked: the right password is refused with the very message an unknown login gets.
    locked = sign_in(client, "hr.lock", PASSWORD)
    unknown = sign_in(client, "no.such.user", PASSWORD)
    assert locked.status_code == unknown.status_code == 200
    assert _error_of(locked) == _error_of(unknown)
    assert ledger_of(env, "user.sign_in_failed")[-2]["body"] == {"reason": "locked",
                                                                 "user": user}
    assert client.get("/console/").status_code == 303
    env.clock(seconds=61)  # the first lock lasts one minute
    assert sign_in(client, "hr.lock", PASSWORD).status_code == 303
    assert client.get("/console/").status_code == 200


def test_lockout_holds_against_attempts_sent_at_once(env: Env,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Wrong passwords sent at once from many threads at the real app: each attempt is
    counted before its password is checked, so at most LOCK_AFTER are checked before the
    lock; the rest are refused as locked, and so is the right password after them."""
    # The real Argon2 check, held until LOCK_AFTER + 1 checks are under way together (or
    # a second has passed): whatever the threads' timing, a code that checked before it
    # counted would run more than LOCK_AFTER checks at once here, and be caught below.
    real = store_module._verify_password
    overlap = threading.Barrier(LOCK_AFTER + 1, timeout=1.0)

    def held(stored: str | None, password: str) -> bool:
        with contextlib.suppress(threading.BrokenBarrierError):
            overlap.wait()
        return real(stored, password)

    monkeypatch.setattr(store_module, "_verify_password", held)
    user = accounts(env).create_user("hr.race", PASSWORD, "hr", env.now[0])
    wrong = 19
    clients = [env.app.test_client() for _ in range(wrong)]
    forms = [csrf_of(c.get("/console/sign-in")) for c in clients]
    together = threading.Barrier(wrong)
    answers: list[int] = []

    def attempt(client: FlaskClient, csrf: str) -> None:
        together.wait()
        answers.append(client.post("/console/sign-in", data={
            "csrf_token": csrf, "login": "hr.race", "password": "not the password"}
        ).status_code)

    threads = [threading.Thread(target=attempt, args=cf) for cf in zip(clients, forms,
                                                                       strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert answers == [200] * wrong
    reasons = [e["body"]["reason"] for e in ledger_of(env, "user.sign_in_failed")]
    # Every attempt is recorded; only the reserved ones had their password checked.
    assert len(reasons) == wrong
    assert reasons.count("bad_password") <= LOCK_AFTER, reasons
    assert reasons.count("locked") >= wrong - LOCK_AFTER, reasons
    locks = ledger_of(env, "user.locked")
    assert [(e["body"]["user"], e["body"]["failures"]) for e in locks] == [(user, LOCK_AFTER)]
    # The right password after the lock: refused, recorded, and the lock stays.
    client = env.app.test_client()
    assert sign_in(client, "hr.race", PASSWORD).status_code == 200
    assert ledger_of(env, "user.sign_in_failed")[-1]["body"] == {"reason": "locked",
                                                                 "user": user}
    assert not ledger_of(env, "user.signed_in")
    assert accounts(env).account(user).locked_until == locks[0]["body"]["until"]


# -- TOTP -----------------------------------------------------------------------------------


def test_reviewer_must_enrol_totp(env: Env) -> None:
    user = accounts(env).create_user("rev.one", PASSWORD, "reviewer", env.now[0])
    client = env.app.test_client()
    resp = sign_in(client, "rev.one", PASSWORD)
    assert resp.headers["Location"] == "/console/sign-in/enrol"
    # Not signed in yet: the landing page sends back to enrolment.
    pending = client.get("/console/")
    assert pending.status_code == 303
    assert pending.headers["Location"] == "/console/sign-in/enrol"
    page = client.get("/console/sign-in/enrol")
    text = page.get_data(as_text=True)
    assert "otpauth://totp/Absentia:rev.one?secret=" in text
    assert "<svg" in text
    m = SECRET_RE.search(text)
    assert m is not None
    secret = m.group(1).replace(" ", "")
    other = pyotp.TOTP(pyotp.random_base32()).at(env.now[0])
    bad = client.post("/console/sign-in/enrol", data={"csrf_token": csrf_of(page),
                                                      "code": other})
    assert bad.status_code == 200
    assert "验证码无效" in bad.get_data(as_text=True)
    assert ledger_of(env, "user.sign_in_failed")[-1]["body"] == {"reason": "bad_totp",
                                                                 "user": user}
    assert not ledger_of(env, "user.signed_in")
    good = client.post("/console/sign-in/enrol", data={
        "csrf_token": csrf_of(page), "code": pyotp.TOTP(secret).at(env.now[0])})
    assert good.status_code == 200
    assert 'id="recovery-codes"' in good.get_data(as_text=True)
    assert client.get("/console/").status_code == 200
    assert ledger_of(env, "user.totp_enrolled")[0]["body"] == {"user": user}
    signed = ledger_of(env, "user.signed_in")
    assert [e["body"]["second_factor"] for e in signed] == ["totp"]
    assert secret.encode() not in ledger_bytes(env)


def test_enrolled_user_needs_a_fresh_code_and_replay_is_refused(env: Env) -> None:
    user = accounts(env).create_user("admin.one", PASSWORD, "admin", env.now[0])
    client = env.app.test_client()
    secret = enrol(env, client, "admin.one")
    enrolment_code = pyotp.TOTP(secret).at(env.now[0])
    out = post_form(client, "/console/", "/console/sign-out", {})
    assert out.status_code == 200
    # Same 30-second step: the code used to enrol cannot be used again.
    resp = sign_in(client, "admin.one", PASSWORD)
    assert resp.headers["Location"] == "/console/sign-in/totp"
    replay = post_form(client, "/console/sign-in/totp", "/console/sign-in/totp",
                       {"code": enrolment_code})
    assert replay.status_code == 200
    assert "验证码无效" in replay.get_data(as_text=True)
    assert client.get("/console/").headers["Location"] == "/console/sign-in/totp"
    env.clock(seconds=30)
    code = pyotp.TOTP(secret).at(env.now[0])
    ok = post_form(client, "/console/sign-in/totp", "/console/sign-in/totp", {"code": code})
    assert ok.status_code == 303
    assert client.get("/console/").status_code == 200
    # ...and that code, too, only once.
    post_form(client, "/console/", "/console/sign-out", {})
    sign_in(client, "admin.one", PASSWORD)
    again = post_form(client, "/console/sign-in/totp", "/console/sign-in/totp", {"code": code})
    assert again.status_code == 200
    reasons = [e["body"]["reason"] for e in ledger_of(env, "user.sign_in_failed")]
    assert reasons == ["bad_totp", "bad_totp"]
    assert [e["body"]["second_factor"] for e in ledger_of(env, "user.signed_in")] == [
        "totp", "totp"]
    assert all(e["body"]["user"] == user for e in ledger_of(env, "user.signed_in"))


# -- CSRF -----------------------------------------------------------------------------------


def test_forms_without_the_csrf_token_are_refused(env: Env) -> None:
    accounts(env).create_user("hr.csrf", PASSWORD, "hr", env.now[0])
    accounts(env).create_user("rev.csrf", PASSWORD, "reviewer", env.now[0])
    client = env.app.test_client()
    client.get("/console/sign-in")  # sets the double-submit cookie
    creds = {"login": "hr.csrf", "password": PASSWORD}
    assert client.post("/console/sign-in", data=creds).status_code == 400
    assert client.post("/console/sign-in",
                       data={**creds, "csrf_token": "x" * 43}).status_code == 400
    fresh = env.app.test_client()  # a token but no cookie (a cross-site form)
    token = csrf_of(client.get("/console/sign-in"))
    assert fresh.post("/console/sign-in", data={**creds, "csrf_token": token}
                      ).status_code == 400
    assert not ledger_of(env, "user.signed_in")
    assert not ledger_of(env, "user.sign_in_failed")
    # Signed in: sign-out needs the session's token.
    assert sign_in(client, "hr.csrf", PASSWORD).status_code == 303
    assert client.post("/console/sign-out").status_code == 400
    assert client.post("/console/sign-out", data={"csrf_token": token}).status_code == 400
    assert client.get("/console/").status_code == 200  # still signed in
    assert not ledger_of(env, "user.signed_out")
    # The enrolment step checks it too.
    other = env.app.test_client()
    assert sign_in(other, "rev.csrf", PASSWORD).status_code == 303
    assert other.post("/console/sign-in/enrol", data={"code": "123456"}).status_code == 400


# -- cookies and headers --------------------------------------------------------------------


def _set_cookies(resp: TestResponse) -> dict[str, str]:
    out = {}
    for header in resp.headers.getlist("Set-Cookie"):
        out[header.split("=", 1)[0]] = header
    return out


def _attrs(header: str) -> set[str]:
    return {p.strip().lower() for p in header.split(";")[1:]}


def test_cookie_attributes_over_https_and_http(env: Env) -> None:
    accounts(env).create_user("hr.cookie", PASSWORD, "hr", env.now[0])
    secure = sign_in(env.app.test_client(), "hr.cookie", PASSWORD, base=HTTPS)
    assert secure.status_code == 303
    cookie = _set_cookies(secure)["__Host-absentia-session"]
    assert {"secure", "httponly", "path=/", "samesite=strict"} <= _attrs(cookie)
    assert not any(a.startswith("domain") for a in _attrs(cookie))
    form = env.app.test_client().get("/console/sign-in", base_url=HTTPS)
    assert {"secure", "httponly", "path=/", "samesite=strict"} <= _attrs(
        _set_cookies(form)["__Host-absentia-console-form"])
    plain = sign_in(env.app.test_client(), "hr.cookie", PASSWORD, base=HTTP)
    cookie = _set_cookies(plain)["absentia-session"]
    assert {"httponly", "path=/", "samesite=strict"} <= _attrs(cookie)
    assert "secure" not in _attrs(cookie)


def test_security_headers(env: Env) -> None:
    accounts(env).create_user("hr.headers", PASSWORD, "hr", env.now[0])
    client = env.app.test_client()
    for base in (HTTP, HTTPS):
        for resp in (client.get("/console/sign-in", base_url=base),
                     client.get("/console/", base_url=base),
                     client.post("/console/sign-in", data={}, base_url=base)):
            assert resp.headers["Content-Security-Policy"] == CSP
            assert "'unsafe-inline'" not in CSP
            assert "script-src" not in CSP
            assert resp.headers["Cache-Control"] == "no-store"
            assert resp.headers["X-Frame-Options"] == "DENY"
            assert resp.headers["X-Content-Type-Options"] == "nosniff"
            hsts = resp.headers.get("Strict-Transport-Security")
            assert hsts == ("max-age=31536000" if base == HTTPS else None)
    page = client.get("/console/sign-in").get_data(as_text=True)
    assert "<script" not in page
    assert "style=" not in page
    assert "<style" not in page
    assert CSP == ("default-src 'self'; frame-ancestors 'none'; form-action 'self'; "
                   "base-uri 'none'")


def test_sign_out_ends_the_session_on_the_server(env: Env) -> None:
    user = accounts(env).create_user("hr.out", PASSWORD, "hr", env.now[0])
    client = env.app.test_client()
    resp = sign_in(client, "hr.out", PASSWORD)
    token = _set_cookies(resp)["absentia-session"].split(";")[0].split("=", 1)[1]
    assert client.get("/console/").status_code == 200
    out = post_form(client, "/console/", "/console/sign-out", {})
    assert out.status_code == 200
    assert "您已退出登录" in out.get_data(as_text=True)
    signed_out = ledger_of(env, "user.signed_out")
    assert [e["body"]["user"] for e in signed_out] == [user]
    assert signed_out[0]["body"]["session"] == ledger_of(env, "user.signed_in")[0]["body"][
        "session"]
    # A replayed copy of the old cookie no longer works: the session is gone server-side.
    thief = env.app.test_client()
    thief.set_cookie("absentia-session", token, domain="localhost")
    refused = thief.get("/console/")
    assert refused.status_code == 303
    assert refused.headers["Location"] == "/console/sign-in"


def test_idle_session_expires(env: Env) -> None:
    accounts(env).create_user("hr.idle", PASSWORD, "hr", env.now[0])
    client = env.app.test_client()
    sign_in(client, "hr.idle", PASSWORD)
    env.clock(minutes=29)
    assert client.get("/console/").status_code == 200
    env.clock(minutes=31)
    assert client.get("/console/").status_code == 303


# -- language and accessibility -------------------------------------------------------------


def _inputs_are_labelled(html: str) -> None:
    ids = re.findall(r'<(?:input|select|textarea)(?![^>]*type="hidden")[^>]*\bid="([^"]+)"',
                     html)
    fields = re.findall(r'<(?:input|select|textarea)(?![^>]*type="hidden")[^>]*>', html)
    assert len(ids) == len(fields)  # every visible field has an id...
    for field_id in ids:  # ...and a label for it
        assert f'<label for="{field_id}">' in html


def test_chinese_by_default_english_on_request_and_labelled(env: Env) -> None:
    accounts(env).create_user("rev.lang", PASSWORD, "reviewer", env.now[0])
    client = env.app.test_client()
    zh = client.get("/console/sign-in")
    assert '<html lang="zh-CN">' in zh.get_data(as_text=True)
    assert "登录名" in zh.get_data(as_text=True)
    en = client.get("/console/sign-in?lang=en")
    text = en.get_data(as_text=True)
    assert '<html lang="en">' in text
    assert "Password" in text
    assert en.headers["Content-Language"] == "en"
    _inputs_are_labelled(text)
    resp = sign_in(client, "rev.lang", PASSWORD, lang="en")
    assert resp.headers["Location"] == "/console/sign-in/enrol?lang=en"
    page = client.get("/console/sign-in/enrol?lang=en").get_data(as_text=True)
    assert "Set up an authenticator" in page
    _inputs_are_labelled(page)


# -- the command line -----------------------------------------------------------------------

ABSENTIA = Path(sys.executable).parent / "absentia"


def run(*args: str | Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items()
               if k not in ("ABSENTIA_DATABASE_URL", "ABSENTIA_CONFIG")}
    return subprocess.run([str(ABSENTIA), *map(str, args)], capture_output=True, text=True,
                          timeout=120, env=environ, check=False, input=stdin)


def test_users_create_and_list_on_the_command_line(tmp_path: Path, db_url: str) -> None:
    data = tmp_path / "data"
    config = write_config(data, db_url)
    short = tmp_path / "short"
    short.write_text("elevenchars\n", encoding="utf-8")
    refused = run("users", "create", "--data", data, "--config", config, "--login", "boss",
                  "--role", "admin", "--password-file", short)
    assert refused.returncode != 0
    assert "12" in refused.stderr
    pw = tmp_path / "pw"
    pw.write_text(PASSWORD + "\n", encoding="utf-8")
    made = run("users", "create", "--data", data, "--config", config, "--login",
               "Li.Na@example.org", "--role", "admin", "--password-file", pw)
    assert made.returncode == 0, made.stderr
    user, role = made.stdout.strip().split("\t")
    assert re.fullmatch(r"u_[a-z2-7]{16}", user)
    assert role == "admin"
    assert "TOTP" in made.stderr
    again = run("users", "create", "--data", data, "--config", config, "--login",
                "li.na@example.org", "--role", "hr", "--password-file", pw)
    assert again.returncode == 1
    assert "exists" in again.stderr
    listed = run("users", "list", "--data", data, "--config", config)
    assert listed.returncode == 0, listed.stderr
    row = listed.stdout.strip().split("\t")
    assert row[:4] == [user, "li.na@example.org", "admin", "no-totp"]
    exported = run("export", "--data", data, "--config", config, "--log", "hr-test", "--out",
                   tmp_path / "bundle")
    assert exported.returncode == 0, exported.stderr
    raw = b"".join(p.read_bytes() for p in (tmp_path / "bundle").rglob("*") if p.is_file())
    assert b"li.na" not in raw.lower()
    assert b"argon2" not in raw
    entries = _entries_of(data, config)
    assert {"type": "user.created", "body": {"user": user, "role": "admin"}} in entries


def _entries_of(data: Path, config: Path) -> list[dict[str, Any]]:
    from ledger.app.registry import entry_types
    from ledger.config import load_settings
    from ledger.storage.open import open_store

    store = open_store(load_settings(data, config), entry_types())
    try:
        return [{"type": (e := json.loads(d))["type"], "body": e["body"]}
                for _, d in store.iter_entries("hr-test")]
    finally:
        store.engine.dispose()


def test_first_admin_from_the_command_line_signs_in(tmp_path: Path, db_url: str) -> None:
    with make_env(tmp_path, db_url) as env:
        pw = tmp_path / "pw"
        pw.write_text(PASSWORD + "\n", encoding="utf-8")
        config = env.data / "config.toml"
        made = run("users", "create", "--data", env.data, "--config", config, "--login",
                   "first.admin", "--role", "admin", "--password-file", pw)
        assert made.returncode == 0, made.stderr
        client = env.app.test_client()
        enrol(env, client, "first.admin")
        home = client.get("/console/").get_data(as_text=True)
        assert 'data-role="admin"' in home
        timeline = [e["type"] for e in env.ledger_entries() if e["type"].startswith("user.")]
        assert timeline == ["user.created", "user.totp_enrolled", "user.signed_in",
                            "user.recovery_codes_issued"]
