"""TOTP recovery codes: shown once, kept only as keyed HMACs, each usable once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyotp
import pytest
from sqlalchemy import select

from ledger.accounts.recovery import RECOVERY_CODES, looks_like_recovery_code, normalise
from ledger.accounts.store import LOCK_AFTER, Accounts
from ledger.accounts.tables import recovery_codes
from ledger.app.registry import entry_types
from ledger.errors import Conflict
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


def of_type(a: Accounts, kind: str) -> list[dict[str, Any]]:
    found = [json.loads(d) for _, d in a.store.iter_entries(LOG)]
    return [e for e in found if e["type"] == kind]


def enrolled(acc: Accounts, login: str = "rev1") -> str:
    user = acc.create_user(login, PASSWORD, "reviewer", T0)
    pending, _ = acc.start_session(user, "enrol", T0)
    assert pending.pending_secret is not None
    assert acc.confirm_enrolment(pending, pyotp.TOTP(pending.pending_secret).at(T0),
                                 T0) is not None
    return user


def totp_stage(acc: Accounts, user: str, at: datetime) -> Any:
    s, _ = acc.start_session(user, "totp", at)
    return s


def test_codes_are_hashed_at_rest(acc: Accounts) -> None:
    user = enrolled(acc)
    codes = acc.issue_recovery_codes(user, T0)
    assert len(codes) == RECOVERY_CODES == len(set(codes))
    assert all(looks_like_recovery_code(c) for c in codes)
    with acc.store.engine.connect() as conn:
        rows = conn.execute(select(recovery_codes)).all()
    assert len(rows) == RECOVERY_CODES
    stored = " ".join(" ".join(str(v) for v in r) for r in rows).upper()
    for c in codes:  # neither as shown nor normalised
        assert c not in stored
        assert (normalise(c) or "") not in stored
    assert all(len(r.code_hmac) == 64 for r in rows)
    # The ledger records how many, never a code.
    issued = of_type(acc, "user.recovery_codes_issued")
    assert issued[-1]["body"] == {"user": user, "count": RECOVERY_CODES}
    raw = b"".join(d for _, d in acc.store.iter_entries(LOG)).upper()
    assert not any((normalise(c) or "").encode() in raw for c in codes)


def test_a_code_signs_in_once(acc: Accounts) -> None:
    user = enrolled(acc)
    codes = acc.issue_recovery_codes(user, T0)
    at = T0 + timedelta(minutes=2)
    done = acc.finish_totp(totp_stage(acc, user, at), codes[0].lower(), at)
    assert done is not None
    assert done[0].stage == "full"
    assert of_type(acc, "user.signed_in")[-1]["body"]["second_factor"] == "recovery_code"
    assert of_type(acc, "user.recovery_code_used")[-1]["body"] == {
        "user": user, "remaining": RECOVERY_CODES - 1}
    assert acc.recovery_codes_left(user) == RECOVERY_CODES - 1
    # The same code again: refused, recorded, counted.
    again = acc.finish_totp(totp_stage(acc, user, at), codes[0], at)
    assert again is None
    assert of_type(acc, "user.sign_in_failed")[-1]["body"] == {
        "reason": "bad_recovery_code", "user": user}
    assert acc.recovery_codes_left(user) == RECOVERY_CODES - 1
    # Another, typed without the dash: works.
    assert acc.finish_totp(totp_stage(acc, user, at), codes[1].replace("-", ""),
                           at) is not None
    assert acc.recovery_codes_left(user) == RECOVERY_CODES - 2


def test_regenerating_cancels_the_old_codes(acc: Accounts) -> None:
    user = enrolled(acc)
    old = acc.issue_recovery_codes(user, T0)
    new = acc.issue_recovery_codes(user, T0)
    assert acc.recovery_codes_left(user) == RECOVERY_CODES
    assert acc.finish_totp(totp_stage(acc, user, T0), old[0], T0) is None
    assert acc.finish_totp(totp_stage(acc, user, T0), new[0], T0) is not None


def test_another_users_code_is_refused_and_guessing_locks(acc: Accounts) -> None:
    user = enrolled(acc)
    other = enrolled(acc, "rev2")
    theirs = acc.issue_recovery_codes(other, T0)
    acc.issue_recovery_codes(user, T0)
    assert acc.finish_totp(totp_stage(acc, user, T0), theirs[0], T0) is None
    for _ in range(LOCK_AFTER - 1):
        acc.finish_totp(totp_stage(acc, user, T0), "AAAAA-AAAAA", T0)
    assert of_type(acc, "user.locked")[-1]["body"]["user"] == user
    # Locked: even a good code does not sign in (and is not spent).
    mine = acc.issue_recovery_codes(user, T0)
    assert acc.finish_totp(totp_stage(acc, user, T0), mine[0], T0) is None
    assert acc.recovery_codes_left(user) == RECOVERY_CODES


def test_no_codes_without_an_authenticator(acc: Accounts) -> None:
    user = acc.create_user("hr1", PASSWORD, "hr", T0)
    with pytest.raises(Conflict):
        acc.issue_recovery_codes(user, T0)
