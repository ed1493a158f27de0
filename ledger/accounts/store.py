"""Console accounts and sessions: Argon2id passwords, TOTP, lockout with back-off.

Two operational tables (not projections: they hold hashes, secrets and counters that
the ledger must not): ``console_accounts`` and ``console_sessions``.  Every change a
person would audit goes through ``LedgerStore.execute`` on the domain's log, so the
table update and its ``user.*`` entry commit together or not at all:

* ``create_user``: ``user.created`` (id and role; the login stays here).
* ``authenticate`` / ``verify_second_factor``: ``user.sign_in_failed`` for every failure,
  ``user.locked`` when failures reach ``LOCK_AFTER``.  A password attempt is counted
  (reserved) before its check, so attempts sent at once are not all checked.
* ``start_session`` (a full session): ``user.signed_in``; ``end_session``:
  ``user.signed_out``; ``confirm_enrolment``: ``user.totp_enrolled`` and
  ``user.signed_in``.

Passwords are hashed with ``argon2.PasswordHasher()`` (Argon2id, its defaults are
RFC 9106's low-memory profile or stronger) outside the log's write lock; a hash made
with weaker parameters is replaced at the next successful sign-in.  An unknown login
is verified against a dummy hash, so it costs about as much as a known one.

TOTP (RFC 6238, SHA-1, 6 digits, 30 s) accepts the step before, the current one and the
one after; a step once accepted (or older) is refused, so a code cannot be replayed.
Secrets are sealed with AES-GCM under a key derived from the vault master key.

Sessions: the cookie holds a random token; only its SHA-256 is stored.  The ledger
names a session by a separate random reference (``s_...``).  A session ends after
``IDLE`` without use or ``LIFETIME`` after sign-in, whichever comes first; a
half-finished sign-in (password accepted, second factor pending) lives ``PENDING``.
Looking a session up is a read: its last use is written only when it moved by more
than ``TOUCH``, so page loads do not queue for the write lock.

Time is always the ``now`` parameter.
"""

from __future__ import annotations

import hmac
import secrets
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import (
    Connection,
    delete,
    func,
    insert,
    select,
    update,
)

from ledger.accounts.entries import CONSOLE_ROLES
from ledger.accounts.recovery import mac_key, new_codes, normalise, recovery_mac
from ledger.accounts.tables import accounts, recovery_codes, sessions
from ledger.entry import format_time, parse_utc
from ledger.errors import BadData, Conflict, NotFound
from ledger.ids import new_id, sha256_hex
from ledger.storage.store import Appended, LedgerStore, NewEntry, Receipt

#: Roles that must sign in with a TOTP code (and enrol one at their first sign-in).
TOTP_REQUIRED = frozenset({"reviewer", "admin"})
MIN_PASSWORD = 12
MAX_PASSWORD = 1024  # Argon2 takes any length; this bounds the work per request
MAX_LOGIN = 128
LOCK_AFTER = 5  # consecutive failures
LOCK_BASE = timedelta(minutes=1)  # then doubling per lock, up to LOCK_CAP
LOCK_CAP = timedelta(hours=1)
IDLE = timedelta(minutes=30)
LIFETIME = timedelta(hours=12)
PENDING = timedelta(minutes=5)
#: How far a session's recorded last use may lag behind its real one: the idle clock
#: is restarted (a write) only when it moved by more, so idle expiry is exact to this.
TOUCH = timedelta(minutes=1)
TOTP_WINDOW = 1  # steps either side
ACTOR = "console"

_hasher = PasswordHasher()
_dummy_hash: str | None = None


def _parse(text: str) -> datetime:
    return parse_utc(text)


def _no_projection(conn: Connection, appended: Sequence[Appended]) -> None:
    """The account tables are written by the plans themselves (operational, not derived)."""


def norm_login(login: str) -> str:
    """The form logins are compared in: NFKC, trimmed, case-folded.

    Raises:
        BadData: empty, too long, or with control characters or inner whitespace.
    """
    value = unicodedata.normalize("NFKC", login).strip().casefold()
    if not 0 < len(value) <= MAX_LOGIN or not value.isprintable() or any(
            c.isspace() for c in value):
        raise BadData(f"login: 1..{MAX_LOGIN} printable characters without spaces",
                      field="login")
    return value


def check_password_policy(password: str) -> None:
    """Raises ``BadData`` unless the password has MIN_PASSWORD..MAX_PASSWORD characters."""
    if len(password) < MIN_PASSWORD:
        raise BadData(f"password: at least {MIN_PASSWORD} characters", field="password")
    if len(password) > MAX_PASSWORD:
        raise BadData(f"password: at most {MAX_PASSWORD} characters", field="password")


def lock_duration(lockouts: int) -> timedelta:
    """How long the ``lockouts``-th lock (0-based) lasts: 1 min, 2, 4, ... capped at 1 h."""
    return min(LOCK_BASE * (1 << min(lockouts, 32)), LOCK_CAP)


def hash_password(password: str) -> str:
    """An Argon2id PHC string (``$argon2id$v=19$m=...``)."""
    return _hasher.hash(password)


def _verify_password(stored: str | None, password: str) -> bool:
    """Argon2 verification; an unknown account checks a dummy hash (similar cost)."""
    global _dummy_hash
    if stored is None:
        if _dummy_hash is None:
            _dummy_hash = _hasher.hash(secrets.token_urlsafe(24))
        stored = _dummy_hash
        password = password + "\x00"  # never equal to the dummy's random password
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def totp_step(now: datetime) -> int:
    """The RFC 6238 time step (30 s) of ``now``."""
    return int(now.timestamp()) // 30


def check_totp(secret: str, code: str, now: datetime, last_step: int) -> int | None:
    """The step ``code`` is valid for (within ±TOTP_WINDOW of now, newer than
    ``last_step``), or None."""
    code = code.strip().replace(" ", "")
    if len(code) != 6 or not code.isdigit():
        return None
    otp = pyotp.TOTP(secret)
    current = totp_step(now)
    found = None
    for step in range(current - TOTP_WINDOW, current + TOTP_WINDOW + 1):
        # Compare every candidate (no early exit) in constant time.
        if hmac.compare_digest(otp.generate_otp(step), code) and step > last_step:
            found = step
    return found


@dataclass(frozen=True)
class Account:
    """An account as the console shows it (no hashes, no secrets)."""

    user: str
    login: str
    role: str
    totp_enrolled: bool
    locked_until: str | None
    created_at: str


@dataclass(frozen=True)
class SignIn:
    """What a password check came to.

    ``ok`` False: refused (``reason``: bad_password, unknown_login or locked; the
    console shows all alike).  ``ok`` True: ``next`` is ``done`` (no second factor),
    ``totp`` (ask for a code) or ``enrol`` (must set up an authenticator first).
    """

    ok: bool
    reason: str | None = None
    user: str | None = None
    role: str | None = None
    next: str | None = None


@dataclass(frozen=True)
class Session:
    """A live session (``stage`` full) or a half-finished sign-in (totp, enrol)."""

    session: str
    user: str
    role: str
    login: str
    stage: str
    csrf: str
    created_at: str
    expires_at: str
    pending_secret: str | None = None


class Accounts:
    """Accounts and sessions on ``store``, recording to the ledger ``log``."""

    def __init__(self, store: LedgerStore, log: str, master_key: bytes) -> None:
        self.store = store
        self.log = log
        self._aead = AESGCM(HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                                 info=b"absentia console totp v1").derive(master_key))
        self._recovery_key = mac_key(master_key)

    # -- plumbing -------------------------------------------------------------------

    def _run(self, now: datetime, plan: Any) -> list[Receipt]:
        return self.store.execute(self.log, now, plan, _no_projection).receipts

    def _seal(self, user: str, secret: str) -> bytes:
        nonce = secrets.token_bytes(12)
        return nonce + self._aead.encrypt(nonce, secret.encode(), user.encode())

    def _open(self, user: str, sealed: bytes) -> str:
        try:
            return self._aead.decrypt(sealed[:12], sealed[12:], user.encode()).decode()
        except InvalidTag:
            raise BadData("the TOTP secret cannot be opened (wrong master key?)",
                          field="totp") from None

    @staticmethod
    def _row(conn: Connection, user: str) -> Any:
        return conn.execute(select(accounts).where(accounts.c.user_id == user)).first()

    # -- accounts -------------------------------------------------------------------

    def create_user(self, login: str, password: str, role: str, now: datetime, *,
                    actor: str = "admin") -> str:
        """A new account; records ``user.created``.  Returns the user id.

        Raises:
            BadData: bad login, role or password (too short or long).
            Conflict: the login is taken.
        """
        if role not in CONSOLE_ROLES:
            raise BadData(f"role: one of {', '.join(CONSOLE_ROLES)}", field="role")
        name = norm_login(login)
        check_password_policy(password)
        digest = hash_password(password)  # slow: outside the log's lock
        user = new_id("u")

        def plan(conn: Connection) -> list[NewEntry]:
            if conn.execute(select(accounts.c.user_id)
                            .where(accounts.c.login == name)).first() is not None:
                raise Conflict("login: an account with this login exists", field="login")
            conn.execute(insert(accounts).values(
                user_id=user, login=name, role=role, password_hash=digest, totp_sealed=None,
                totp_last_step=0, failures=0, lockouts=0, locked_until=None,
                created_at=format_time(now)))
            return [NewEntry("user.created", actor, {"user": user, "role": role})]

        self._run(now, plan)
        return user

    def users(self) -> list[Account]:
        """Every account, oldest first."""
        with self.store.engine.connect() as conn:
            rows = conn.execute(select(accounts).order_by(accounts.c.created_at,
                                                          accounts.c.user_id)).all()
        return [Account(r.user_id, r.login, r.role, r.totp_sealed is not None,
                        r.locked_until, r.created_at) for r in rows]

    def account(self, user: str) -> Account:
        """Raises ``NotFound`` for an unknown user id."""
        with self.store.engine.connect() as conn:
            r = self._row(conn, user)
        if r is None:
            raise NotFound(f"no user {user!r}", field="user")
        return Account(r.user_id, r.login, r.role, r.totp_sealed is not None,
                       r.locked_until, r.created_at)

    # -- sign-in --------------------------------------------------------------------

    def _failure_entries(self, conn: Connection, user: str, reason: str, now: datetime, *,
                         reserved: bool = False) -> list[NewEntry]:
        """Count one failure (under the log's lock); lock when it reaches LOCK_AFTER.

        ``reserved``: the failure was counted before the check (``_reserve``); it is
        not counted again, and not at all when the account was locked meanwhile.
        """
        row = self._row(conn, user)
        out = [NewEntry("user.sign_in_failed", ACTOR, {"reason": reason, "user": user})]
        if row is None:
            return out
        if reserved and self._locked(row, now):
            return out  # counted in the lock that came meanwhile
        failures = row.failures if reserved else row.failures + 1
        if failures < LOCK_AFTER:
            conn.execute(update(accounts).where(accounts.c.user_id == user)
                         .values(failures=failures))
            return out
        return [*out, self._lock(conn, row, failures, now)]

    def _lock(self, conn: Connection, row: Any, failures: int, now: datetime) -> NewEntry:
        """Lock ``row``'s account (under the log's lock) for its back-off; its
        ``user.locked`` entry."""
        user = row.user_id
        until = format_time(now + lock_duration(row.lockouts))
        conn.execute(update(accounts).where(accounts.c.user_id == user).values(
            failures=0, lockouts=row.lockouts + 1, locked_until=until))
        # A locked account's half-finished sign-ins end with the lock.
        conn.execute(delete(sessions).where(sessions.c.user_id == user,
                                            sessions.c.stage != "full"))
        return NewEntry("user.locked", ACTOR,
                        {"user": user, "until": until, "failures": failures})

    @staticmethod
    def _locked(row: Any, now: datetime) -> bool:
        return row.locked_until is not None and format_time(now) < row.locked_until

    def _reserve(self, user: str, now: datetime) -> bool:
        """Count a password attempt before its check (under the log's lock): True if it
        may be checked, False (recorded as a ``locked`` failure) if the account is
        locked or its remaining attempts are all taken.

        ``failures`` counts failures and the attempts being checked, so no more than
        LOCK_AFTER can be checked before the lock.  When an attempt finds them all
        taken, it locks the account at once, as if they had failed: attempts sent at
        once are an attack, and a check that never settled (a process killed during
        it) then cannot keep its reservation for ever.
        """
        granted: list[bool] = []

        def plan(conn: Connection) -> list[NewEntry]:
            row = self._row(conn, user)
            refused = [NewEntry("user.sign_in_failed", ACTOR, {"reason": "locked", "user": user})]
            if row is None or self._locked(row, now):
                return refused
            if row.failures >= LOCK_AFTER:
                return [*refused, self._lock(conn, row, row.failures, now)]
            conn.execute(update(accounts).where(accounts.c.user_id == user)
                         .values(failures=row.failures + 1))
            granted.append(True)
            return []

        self._run(now, plan)
        return bool(granted)

    def _release(self, user: str, now: datetime) -> bool:
        """Settle a right password (under the log's lock): give its reservation back.
        False (recorded as a ``locked`` failure) if the account was locked meanwhile."""
        released: list[bool] = []

        def plan(conn: Connection) -> list[NewEntry]:
            row = self._row(conn, user)
            if row is None or self._locked(row, now):
                return [NewEntry("user.sign_in_failed", ACTOR,
                                 {"reason": "locked", "user": user})]
            conn.execute(update(accounts).where(accounts.c.user_id == user)
                         .values(failures=max(row.failures - 1, 0)))
            released.append(True)
            return []

        self._run(now, plan)
        return bool(released)

    def authenticate(self, login: str, password: str, now: datetime) -> SignIn:
        """Check a login and password; record a failure (and a lock) in the ledger.

        The attempt is counted first, in its own write (``_reserve``); the password is
        checked outside the log's lock (Argon2 is slow); then the attempt is settled: a
        wrong password stays counted and locks the account when the count reaches
        LOCK_AFTER, a right one gives its count back, unless the account was locked
        meanwhile (then it is refused as locked).  A success records nothing yet: the
        sign-in is recorded when its session starts (after the second factor, if any),
        which also resets the counters.  Every refusal costs one Argon2 verification.
        Never raises for bad input: an invalid login counts as unknown.
        """
        try:
            name = norm_login(login)
        except BadData:
            name = None
        row = None
        if name is not None:
            with self.store.engine.connect() as conn:
                row = conn.execute(select(accounts).where(accounts.c.login == name)).first()
        if len(password) > MAX_PASSWORD:
            password = password[:MAX_PASSWORD + 1]  # cannot match; bounded work
        if row is None:
            _verify_password(None, password)
            self._run(now, lambda conn: [NewEntry("user.sign_in_failed", ACTOR,
                                                  {"reason": "unknown_login"})])
            return SignIn(False, "unknown_login")
        user = row.user_id
        if not self._reserve(user, now):
            _verify_password(None, password)  # the same cost as any other answer
            return SignIn(False, "locked", user, row.role)
        if not _verify_password(row.password_hash, password):
            self._run(now, lambda conn: self._failure_entries(conn, user, "bad_password", now,
                                                              reserved=True))
            return SignIn(False, "bad_password", user, row.role)
        if not self._release(user, now):
            return SignIn(False, "locked", user, row.role)
        if _hasher.check_needs_rehash(row.password_hash):
            rehashed = hash_password(password)
            with self.store.write() as conn:
                conn.execute(update(accounts).where(accounts.c.user_id == user)
                             .values(password_hash=rehashed))
        if row.totp_sealed is not None:
            step = "totp"
        elif row.role in TOTP_REQUIRED:
            step = "enrol"
        else:
            step = "done"
        return SignIn(True, None, user, row.role, step)

    def finish_totp(self, session: Session, code: str, now: datetime
                    ) -> tuple[Session, str] | None:
        """Finish a sign-in at stage ``totp``: a valid, unused code consumes its step,
        rotates the half-finished session into a new full one (returned with its cookie
        token) and records ``user.signed_in``.  A wrong or replayed code records
        ``user.sign_in_failed`` (bad_totp), counts towards the lock and returns None.
        A recovery code (``ABCDE-FGHIJ``) may stand in for the TOTP code: an unused one
        of the user's is spent (``user.recovery_code_used``); a wrong or spent one
        records ``bad_recovery_code`` and counts towards the lock like a wrong TOTP code.

        Raises:
            BadData: the session does not wait for a TOTP code.
        """
        if session.stage != "totp":
            raise BadData("this sign-in does not wait for a TOTP code", field="stage")
        with self.store.engine.connect() as conn:
            row = self._row(conn, session.user)
        if row is None or row.totp_sealed is None:
            return None
        secret = self._open(session.user, bytes(row.totp_sealed))
        token = secrets.token_urlsafe(32)
        ref = new_id("s")
        started: list[Session] = []

        recovery = normalise(code)

        def plan(conn: Connection) -> list[NewEntry]:
            current = self._row(conn, session.user)
            if recovery is not None:  # a recovery code in place of the TOTP code
                return self._recovery_sign_in(conn, current, session, recovery, token, ref,
                                              now, started)
            step = self._totp_step(conn, current, session.user, secret, code, now)
            if isinstance(step, list):
                return step
            gone = conn.execute(delete(sessions).where(sessions.c.session == session.session))
            if gone.rowcount != 1:  # ended meanwhile (a lock, a parallel request)
                return []
            conn.execute(update(accounts).where(accounts.c.user_id == session.user)
                         .values(totp_last_step=step, failures=0, lockouts=0,
                                 locked_until=None))
            started.append(self._insert_session(conn, current, token, ref, "full", now))
            return [NewEntry("user.signed_in", f"{current.role}:{session.user}",
                             {"user": session.user, "session": ref, "second_factor": "totp"})]

        self._run(now, plan)
        return (started[0], token) if started else None

    def _totp_step(self, conn: Connection, row: Any, user: str, secret: str, code: str,
                   now: datetime) -> int | list[NewEntry]:
        """The TOTP step ``code`` consumes for ``user`` (``row``, read under the log's
        lock); or the entries of the refused sign-in: ``locked`` when the account is
        locked, else ``bad_totp`` for a wrong or replayed code (counted towards the lock).
        """
        if self._locked(row, now):
            return [NewEntry("user.sign_in_failed", ACTOR, {"reason": "locked", "user": user})]
        step = check_totp(secret, code, now, row.totp_last_step)
        if step is None:
            return self._failure_entries(conn, user, "bad_totp", now)
        return step

    def _recovery_sign_in(self, conn: Connection, row: Any, session: Session, code: str,
                          token: str, ref: str, now: datetime, started: list[Session]
                          ) -> list[NewEntry]:
        """The entries of a sign-in with the (normalised) recovery ``code``, under the
        log's lock: refused (locked, or a wrong or spent code), or the code spent and
        the half-finished ``session`` rotated into a full one (appended to ``started``).
        """
        user = session.user
        if self._locked(row, now):
            return [NewEntry("user.sign_in_failed", ACTOR, {"reason": "locked", "user": user})]
        unused = (recovery_codes.c.code_hmac == recovery_mac(self._recovery_key, code),
                  recovery_codes.c.user_id == user, recovery_codes.c.used_at.is_(None))
        if conn.execute(select(recovery_codes.c.code_hmac).where(*unused)).first() is None:
            return self._failure_entries(conn, user, "bad_recovery_code", now)
        gone = conn.execute(delete(sessions).where(sessions.c.session == session.session))
        if gone.rowcount != 1:  # ended meanwhile (a lock, a parallel request): not spent
            return []
        conn.execute(update(recovery_codes).where(*unused).values(used_at=format_time(now)))
        conn.execute(update(accounts).where(accounts.c.user_id == user)
                     .values(failures=0, lockouts=0, locked_until=None))
        started.append(self._insert_session(conn, row, token, ref, "full", now))
        return [NewEntry("user.recovery_code_used", ACTOR,
                         {"user": user, "remaining": self._codes_left(conn, user)}),
                NewEntry("user.signed_in", f"{row.role}:{user}",
                         {"user": user, "session": ref, "second_factor": "recovery_code"})]

    # -- recovery codes -------------------------------------------------------------

    @staticmethod
    def _codes_left(conn: Connection, user: str) -> int:
        return int(conn.execute(select(func.count()).select_from(recovery_codes).where(
            recovery_codes.c.user_id == user, recovery_codes.c.used_at.is_(None))
        ).scalar_one())

    def recovery_codes_left(self, user: str) -> int:
        """How many of ``user``'s recovery codes are still usable."""
        with self.store.engine.connect() as conn:
            return self._codes_left(conn, user)

    def issue_recovery_codes(self, user: str, now: datetime) -> list[str]:
        """A new set of ``RECOVERY_CODES`` one-time codes for ``user`` (shown once: only
        their HMACs are kept); the earlier ones stop working.  Records
        ``user.recovery_codes_issued``.

        Raises:
            NotFound: no such user.  Conflict: the account has no TOTP authenticator.
        """
        codes = new_codes()
        macs = [recovery_mac(self._recovery_key, normalise(c) or "") for c in codes]

        def plan(conn: Connection) -> list[NewEntry]:
            row = self._row(conn, user)
            if row is None:
                raise NotFound(f"no user {user!r}", field="user")
            if row.totp_sealed is None:
                raise Conflict("recovery codes stand in for a TOTP code: enrol one first",
                               field="user")
            conn.execute(delete(recovery_codes).where(recovery_codes.c.user_id == user))
            stamp = format_time(now)
            conn.execute(insert(recovery_codes), [
                {"code_hmac": m, "user_id": user, "created_at": stamp, "used_at": None}
                for m in macs])
            return [NewEntry("user.recovery_codes_issued", f"{row.role}:{user}",
                             {"user": user, "count": len(macs)})]

        self._run(now, plan)
        return codes

    # -- TOTP enrolment -------------------------------------------------------------

    @staticmethod
    def provisioning_uri(secret: str, label: str, issuer: str = "Absentia") -> str:
        """The ``otpauth://totp/...`` URI an authenticator app reads."""
        return pyotp.TOTP(secret).provisioning_uri(name=label, issuer_name=issuer)

    def confirm_enrolment(self, session: Session, code: str, now: datetime
                          ) -> tuple[Session, str] | None:
        """Finish a first sign-in at stage ``enrol``: a valid code for the pending secret
        stores it, records ``user.totp_enrolled`` and ``user.signed_in``, and returns the
        new full session and its cookie token; a wrong code records a failure and returns
        None."""
        if session.stage != "enrol" or session.pending_secret is None:
            raise BadData("this sign-in does not enrol an authenticator", field="stage")
        secret = session.pending_secret
        token = secrets.token_urlsafe(32)
        ref = new_id("s")
        started: list[Session] = []

        def plan(conn: Connection) -> list[NewEntry]:
            row = self._row(conn, session.user)
            if row is None:
                raise NotFound("the account was removed", field="user")
            step = self._totp_step(conn, row, session.user, secret, code, now)
            if isinstance(step, list):
                return step
            conn.execute(update(accounts).where(accounts.c.user_id == session.user).values(
                totp_sealed=self._seal(session.user, secret), totp_last_step=step,
                failures=0, lockouts=0, locked_until=None))
            conn.execute(delete(sessions).where(sessions.c.session == session.session))
            started.append(self._insert_session(conn, row, token, ref, "full", now))
            return [NewEntry("user.totp_enrolled", ACTOR, {"user": session.user}),
                    NewEntry("user.signed_in", f"{row.role}:{session.user}",
                             {"user": session.user, "session": ref,
                              "second_factor": "totp"})]

        self._run(now, plan)
        return (started[0], token) if started else None

    # -- sessions -------------------------------------------------------------------

    def _insert_session(self, conn: Connection, row: Any, token: str, ref: str, stage: str,
                        now: datetime, pending: str | None = None) -> Session:
        lifetime = LIFETIME if stage == "full" else PENDING
        csrf = secrets.token_urlsafe(32)
        created, expires = format_time(now), format_time(now + lifetime)
        conn.execute(insert(sessions).values(
            token_sha256=sha256_hex(token.encode()), session=ref, user_id=row.user_id, stage=stage,
            csrf=csrf, pending_sealed=None if pending is None else self._seal(row.user_id,
                                                                               pending),
            created_at=created, last_seen=created, expires_at=expires))
        return Session(ref, row.user_id, row.role, row.login, stage, csrf, created, expires,
                       pending)

    def start_session(self, user: str, stage: str, now: datetime) -> tuple[Session, str]:
        """A new session for ``user``; returns it and the cookie token (shown once).

        ``full``: a password-only sign-in (the account has no TOTP and its role needs
        none); records ``user.signed_in`` and resets the failure counters.  ``totp`` and
        ``enrol`` start a half-finished sign-in (enrol with a fresh TOTP secret) that
        ``finish_totp`` or ``confirm_enrolment`` rotate into a full session.

        Raises:
            BadData: unknown stage, or ``full`` for an account that needs a TOTP code.
            NotFound: no such user.
        """
        if stage not in ("full", "totp", "enrol"):
            raise BadData("stage: one of full, totp, enrol", field="stage")
        token = secrets.token_urlsafe(32)
        ref = new_id("s")
        pending = pyotp.random_base32() if stage == "enrol" else None
        started: list[Session] = []

        def plan(conn: Connection) -> list[NewEntry]:
            row = self._row(conn, user)
            if row is None:
                raise NotFound(f"no user {user!r}", field="user")
            if stage == "full" and (row.totp_sealed is not None or row.role in TOTP_REQUIRED):
                raise BadData("this account signs in with a TOTP code", field="stage")
            started.append(self._insert_session(conn, row, token, ref, stage, now, pending))
            if stage != "full":
                return []
            if not self._locked(row, now):  # a lock since the password check stays
                conn.execute(update(accounts).where(accounts.c.user_id == user)
                             .values(failures=0, lockouts=0, locked_until=None))
            return [NewEntry("user.signed_in", f"{row.role}:{user}",
                             {"user": user, "session": ref, "second_factor": "none"})]

        self._run(now, plan)
        return started[0], token

    def session(self, token: str, now: datetime) -> Session | None:
        """The live session of a cookie token, its idle clock restarted; None if unknown
        or expired (an expired one is deleted).

        A read: the idle clock is written only when it moved by more than ``TOUCH``,
        and then, like the deletion of an expired session, through the store's writer
        (the write lock taken up front, waited for).

        Raises:
            sqlalchemy.exc.OperationalError: the database stayed locked for its busy
                timeout.
        """
        if not 20 <= len(token) <= 128:
            return None
        key = sha256_hex(token.encode())
        stamp = format_time(now)
        with self.store.engine.connect() as conn:
            row = conn.execute(
                select(sessions, accounts.c.role, accounts.c.login)
                .join(accounts, accounts.c.user_id == sessions.c.user_id)
                .where(sessions.c.token_sha256 == key)).first()
        if row is None:
            return None
        seen = _parse(row.last_seen)
        idle_end = format_time(seen + (IDLE if row.stage == "full" else PENDING))
        if stamp >= row.expires_at or stamp >= idle_end:
            with self.store.write() as conn:
                # Unless another request of this session restarted its clock meanwhile.
                conn.execute(delete(sessions).where(sessions.c.token_sha256 == key,
                                                    sessions.c.last_seen <= row.last_seen))
            return None
        if now - seen > TOUCH:
            with self.store.write() as conn:
                conn.execute(update(sessions).where(sessions.c.token_sha256 == key,
                                                    sessions.c.last_seen < stamp)
                             .values(last_seen=stamp))
        pending = None
        if row.pending_sealed is not None:
            pending = self._open(row.user_id, bytes(row.pending_sealed))
        return Session(row.session, row.user_id, row.role, row.login, row.stage, row.csrf,
                       row.created_at, row.expires_at, pending)

    def end_session(self, session: Session, now: datetime) -> bool:
        """Delete a session server-side; a full one records ``user.signed_out``.
        False if it had already ended."""
        ended: list[bool] = []

        def plan(conn: Connection) -> list[NewEntry]:
            gone = conn.execute(delete(sessions).where(sessions.c.session == session.session))
            if gone.rowcount != 1:
                return []
            ended.append(True)
            if session.stage != "full":
                return []
            return [NewEntry("user.signed_out", f"{session.role}:{session.user}",
                             {"user": session.user, "session": session.session})]

        self._run(now, plan)
        return bool(ended)

    def purge_expired(self, now: datetime) -> int:
        """Delete sessions past their absolute lifetime; how many."""
        with self.store.write() as conn:
            return conn.execute(delete(sessions).where(
                sessions.c.expires_at <= format_time(now))).rowcount
