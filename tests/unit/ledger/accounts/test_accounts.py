"""Console accounts: Argon2id hashes, lockout back-off, TOTP window and replay, sessions."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyotp
import pytest
from argon2 import PasswordHasher
from sqlalchemy import select, update

from ledger.accounts.store import (
    IDLE,
    LIFETIME,
    LOCK_AFTER,
    PENDING,
    TOUCH,
    Accounts,
    Session,
    check_totp,
    hash_password,
    lock_duration,
    norm_login,
    totp_step,
)
from ledger.accounts.tables import accounts, sessions
from ledger.app.registry import entry_types
from ledger.errors import BadData, Conflict
from ledger.migrations import upgrade
from ledger.storage import LedgerStore, make_engine

T0 = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)
LOG = "acct"
PASSWORD = "correct horse battery"


@pytest.fixture
def acc(sqlite_url: str, tmp_path: Path) -> Iterator[Accounts]:
    engine = make_engine(sqlite_url)
    store = LedgerStore(engine, tmp_path / "keys", entry_types())
    upgrade(store.engine)
    store.ensure_log(LOG, "example.org/acct", T0)
    a = Accounts(store, LOG, b"k" * 32)
    try:
        yield a
    finally:
        engine.dispose()


def entries(a: Accounts) -> list[dict[str, Any]]:
    return [json.loads(d) for _, d in a.store.iter_entries(LOG)]


def of_type(a: Accounts, kind: str) -> list[dict[str, Any]]:
    return [e for e in entries(a) if e["type"] == kind]


# -- pure functions ----------------------------------------------------------------------


def test_hash_is_argon2id_with_at_least_rfc9106_low_memory_parameters() -> None:
    digest = hash_password(PASSWORD)
    assert digest.startswith("$argon2id$v=19$")
    params = dict(p.split("=") for p in digest.split("$")[3].split(","))
    assert int(params["m"]) >= 65536
    assert int(params["t"]) >= 3
    assert PasswordHasher().verify(digest, PASSWORD)
    assert hash_password(PASSWORD) != digest  # salted


def test_lock_duration_doubles_and_is_capped() -> None:
    assert [lock_duration(n) for n in range(8)] == [
        timedelta(minutes=m) for m in (1, 2, 4, 8, 16, 32, 60, 60)]
    assert lock_duration(10_000) == timedelta(hours=1)


def test_norm_login() -> None:
    assert norm_login("  Alice.HR ") == "alice.hr"
    assert norm_login("ＡＢＣ") == "abc"  # NFKC: full-width letters
    for bad in ("", "   ", "a b", "tab\there", "x" * 129, "nul\x00"):
        with pytest.raises(BadData):
            norm_login(bad)


def test_totp_window_is_one_step_either_side() -> None:
    secret = pyotp.random_base32()
    otp = pyotp.TOTP(secret)
    step = totp_step(T0)
    for offset in (-1, 0, 1):
        assert check_totp(secret, otp.generate_otp(step + offset), T0, 0) == step + offset
    for offset in (-3, -2, 2, 3):
        assert check_totp(secret, otp.generate_otp(step + offset), T0, 0) is None
    assert check_totp(secret, otp.at(T0), T0, 0) == step  # pyotp agrees on the step
    for junk in ("", "12345", "1234567", "abcdef", "12 34 5"):
        assert check_totp(secret, junk, T0, 0) is None


def test_totp_replay_refused_by_last_step() -> None:
    secret = pyotp.random_base32()
    code = pyotp.TOTP(secret).at(T0)
    step = check_totp(secret, code, T0, 0)
    assert step == totp_step(T0)
    assert check_totp(secret, code, T0, step) is None  # the same code again
    # An older step than the last accepted one is refused even inside the window.
    previous = pyotp.TOTP(secret).generate_otp(step - 1)
    assert check_totp(secret, previous, T0, step) is None
    following = pyotp.TOTP(secret).generate_otp(step + 1)
    assert check_totp(secret, following, T0, step) == step + 1


# -- accounts on a real store ------------------------------------------------------------


def test_create_user_records_id_and_role_only(acc: Accounts) -> None:
    user = acc.create_user("Zhang.San@example.com", PASSWORD, "hr", T0)
    created = of_type(acc, "user.created")
    assert created == [{**created[0], "body": {"user": user, "role": "hr"}}]
    raw = b"".join(d for _, d in acc.store.iter_entries(LOG)).lower()
    assert b"zhang" not in raw
    assert b"example.com" not in raw
    assert b"argon2" not in raw
    with acc.store.engine.connect() as conn:
        row = conn.execute(select(accounts).where(accounts.c.user_id == user)).one()
    assert row.login == "zhang.san@example.com"
    assert row.password_hash.startswith("$argon2id$")
    with pytest.raises(Conflict):
        acc.create_user("zhang.san@EXAMPLE.com", PASSWORD, "auditor", T0)
    with pytest.raises(BadData, match="12"):
        acc.create_user("short", "elevenchars", "hr", T0)
    with pytest.raises(BadData, match="role"):
        acc.create_user("boss", PASSWORD, "root", T0)


def test_password_sign_in_and_failures(acc: Accounts) -> None:
    user = acc.create_user("hr1", PASSWORD, "hr", T0)
    ok = acc.authenticate("HR1", PASSWORD, T0)
    assert ok.ok
    assert ok.user == user
    assert ok.next == "done"
    bad = acc.authenticate("hr1", PASSWORD + "x", T0)
    assert not bad.ok
    assert bad.reason == "bad_password"
    unknown = acc.authenticate("nobody", PASSWORD, T0)
    assert not unknown.ok
    assert unknown.reason == "unknown_login"
    assert unknown.user is None
    failed = [e["body"] for e in of_type(acc, "user.sign_in_failed")]
    assert failed == [{"reason": "bad_password", "user": user}, {"reason": "unknown_login"}]
    assert acc.authenticate("hr1", "x" * 5000, T0).reason == "bad_password"


def test_lockout_back_off(acc: Accounts) -> None:
    user = acc.create_user("hr2", PASSWORD, "hr", T0)
    now = T0
    for _ in range(LOCK_AFTER - 1):
        assert acc.authenticate("hr2", "wrong password!", now).reason == "bad_password"
    assert not of_type(acc, "user.locked")
    assert acc.authenticate("hr2", "wrong password!", now).reason == "bad_password"
    locks = of_type(acc, "user.locked")
    assert [e["body"] for e in locks] == [
        {"user": user, "until": "2026-11-25T00:01:00.000Z", "failures": LOCK_AFTER}]
    # Locked: even the right password is refused, and recorded as such.
    assert acc.authenticate("hr2", PASSWORD, now + timedelta(seconds=59)).reason == "locked"
    assert of_type(acc, "user.sign_in_failed")[-1]["body"] == {"reason": "locked",
                                                               "user": user}
    # After the lock: the next run of failures locks twice as long.
    now += timedelta(minutes=1)
    for _ in range(LOCK_AFTER):
        acc.authenticate("hr2", "wrong password!", now)
    assert of_type(acc, "user.locked")[-1]["body"]["until"] == "2026-11-25T00:03:00.000Z"
    assert acc.authenticate("hr2", PASSWORD, now + timedelta(seconds=119)).reason == "locked"
    now += timedelta(minutes=2)
    result = acc.authenticate("hr2", PASSWORD, now)
    assert result.ok
    # Success resets the back-off once the session starts.
    acc.start_session(user, "full", now)
    with acc.store.engine.connect() as conn:
        row = conn.execute(select(accounts).where(accounts.c.user_id == user)).one()
    assert (row.failures, row.lockouts, row.locked_until) == (0, 0, None)


def test_lock_is_capped_at_one_hour(acc: Accounts) -> None:
    user = acc.create_user("hr3", PASSWORD, "hr", T0)
    with acc.store.engine.begin() as conn:
        conn.execute(update(accounts).where(accounts.c.user_id == user).values(lockouts=30))
    for _ in range(LOCK_AFTER):
        acc.authenticate("hr3", "wrong password!", T0)
    assert of_type(acc, "user.locked")[-1]["body"]["until"] == "2026-11-25T01:00:00.000Z"


def _enrolled(acc: Accounts, login: str, role: str = "reviewer") -> tuple[str, str]:
    """A user with a confirmed TOTP secret; returns (user, secret)."""
    user = acc.create_user(login, PASSWORD, role, T0)
    r = acc.authenticate(login, PASSWORD, T0)
    assert r.ok
    assert r.next == "enrol"
    pending, _ = acc.start_session(user, "enrol", T0)
    assert pending.pending_secret is not None
    secret = pending.pending_secret
    done = acc.confirm_enrolment(pending, pyotp.TOTP(secret).at(T0), T0)
    assert done is not None
    assert done[0].stage == "full"
    return user, secret


def test_reviewer_must_enrol_and_cannot_skip(acc: Accounts) -> None:
    user = acc.create_user("rev1", PASSWORD, "reviewer", T0)
    assert acc.authenticate("rev1", PASSWORD, T0).next == "enrol"
    with pytest.raises(BadData, match="TOTP"):
        acc.start_session(user, "full", T0)
    pending, _ = acc.start_session(user, "enrol", T0)
    assert pending.pending_secret is not None
    wrong = pyotp.TOTP(pyotp.random_base32()).at(T0)
    assert acc.confirm_enrolment(pending, wrong, T0) is None
    assert of_type(acc, "user.sign_in_failed")[-1]["body"] == {"reason": "bad_totp",
                                                               "user": user}
    done = acc.confirm_enrolment(pending, pyotp.TOTP(pending.pending_secret).at(T0), T0)
    assert done is not None
    assert [e["type"] for e in entries(acc)][-2:] == ["user.totp_enrolled", "user.signed_in"]
    assert of_type(acc, "user.signed_in")[-1]["body"]["second_factor"] == "totp"
    assert acc.account(user).totp_enrolled
    # The TOTP secret is sealed at rest: not in the table in clear.
    with acc.store.engine.connect() as conn:
        row = conn.execute(select(accounts).where(accounts.c.user_id == user)).one()
    assert pending.pending_secret.encode() not in bytes(row.totp_sealed)
    # Enrolled: the next sign-in asks for a code.
    assert acc.authenticate("rev1", PASSWORD, T0).next == "totp"


def test_totp_sign_in_refuses_replay(acc: Accounts) -> None:
    user, secret = _enrolled(acc, "rev2")
    later = T0 + timedelta(minutes=5)
    pending, _ = acc.start_session(user, "totp", later)
    code = pyotp.TOTP(secret).at(later)
    done = acc.finish_totp(pending, code, later)
    assert done is not None
    full, token = done
    assert full.stage == "full"
    assert acc.session(token, later) is not None
    # The same code for a second sign-in in the same 30 s: refused.
    again, _ = acc.start_session(user, "totp", later)
    assert acc.finish_totp(again, code, later) is None
    assert of_type(acc, "user.sign_in_failed")[-1]["body"] == {"reason": "bad_totp",
                                                               "user": user}
    # The enrolment code cannot be reused later either (its step is older).
    assert acc.finish_totp(again, pyotp.TOTP(secret).at(T0), later) is None


def test_bad_totp_codes_lock_the_account(acc: Accounts) -> None:
    user, secret = _enrolled(acc, "rev3")
    later = T0 + timedelta(minutes=5)
    pending, token = acc.start_session(user, "totp", later)
    for _ in range(LOCK_AFTER):
        assert acc.finish_totp(pending, "000000" if pyotp.TOTP(secret).at(later) != "000000"
                               else "111111", later) is None
    assert of_type(acc, "user.locked")
    # The half-finished sign-in ended with the lock; a fresh one is refused while locked.
    assert acc.session(token, later) is None
    assert acc.authenticate("rev3", PASSWORD, later).reason == "locked"


def _session(acc: Accounts) -> tuple[Session, str]:
    user = acc.create_user("aud1", PASSWORD, "auditor", T0)
    return acc.start_session(user, "full", T0)


def test_session_idle_timeout(acc: Accounts) -> None:
    s, token = _session(acc)
    assert s.stage == "full"
    assert len(token) >= 40
    with acc.store.engine.connect() as conn:
        stored = conn.execute(select(sessions.c.token_sha256, sessions.c.session)).one()
    assert stored.token_sha256 != token
    assert stored.session == s.session
    t = T0
    for _ in range(5):  # each use restarts the idle clock
        t += IDLE - timedelta(seconds=1)
        assert acc.session(token, t) is not None
    assert acc.session(token, t + IDLE) is None
    assert acc.session(token, t) is None  # deleted, not just hidden


def _last_seen(acc: Accounts) -> str:
    with acc.store.engine.connect() as conn:
        return str(conn.execute(select(sessions.c.last_seen)).scalar_one())


def test_session_lookup_is_a_read_that_needs_no_write_lock(acc: Accounts) -> None:
    """Looking a session up while another connection holds the write lock: answered at
    once (a read); its idle clock is written only when it moved by more than TOUCH."""
    s, token = _session(acc)
    database = acc.store.engine.url.database
    assert database is not None
    writer = sqlite3.connect(database, isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")  # another process writing
        for seconds in (1, 30, TOUCH.total_seconds()):
            found = acc.session(token, T0 + timedelta(seconds=seconds))
            assert found is not None
            assert found.session == s.session
        writer.execute("ROLLBACK")
    finally:
        writer.close()
    assert _last_seen(acc) == "2026-11-25T00:00:00.000Z"
    later = T0 + TOUCH + timedelta(seconds=1)
    assert acc.session(token, later) is not None
    assert _last_seen(acc) == "2026-11-25T00:01:01.000Z"


def test_session_absolute_lifetime(acc: Accounts) -> None:
    _, token = _session(acc)
    t = T0
    while t + IDLE / 2 < T0 + LIFETIME:
        t += IDLE / 2
        assert acc.session(token, t) is not None
    assert acc.session(token, T0 + LIFETIME) is None


def test_pending_sign_in_expires_quickly(acc: Accounts) -> None:
    user = acc.create_user("rev4", PASSWORD, "reviewer", T0)
    _, token = acc.start_session(user, "enrol", T0)
    assert acc.session(token, T0 + PENDING - timedelta(seconds=1)) is not None
    assert acc.session(token, T0 + PENDING + PENDING) is None


def test_sign_out_ends_session_and_is_recorded(acc: Accounts) -> None:
    s, token = _session(acc)
    assert acc.end_session(s, T0)
    assert acc.session(token, T0) is None
    assert of_type(acc, "user.signed_out")[-1]["body"] == {"user": s.user,
                                                           "session": s.session}
    assert not acc.end_session(s, T0)  # already ended: nothing more recorded
    assert len(of_type(acc, "user.signed_out")) == 1
    assert acc.session("not-a-token", T0) is None
