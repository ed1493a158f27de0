"""The ledger entry types of console accounts, each with a closed body schema.

Bodies carry a user id (``u_`` + 16 base32), a public session reference (``s_`` + 16
base32, not the cookie token nor its digest), roles and reason codes.  Never a login
name (it may be an e-mail address or a name), a password, a hash or a TOTP secret.
"""

from __future__ import annotations

from ledger.events import EventType, count, one_of, pattern, timestamp

#: Console roles: HR operator, HR reviewer, auditor, administrator.
CONSOLE_ROLES = ("hr", "reviewer", "auditor", "admin")
#: Why a sign-in failed.  ``locked``: the account is locked, nothing was checked.
FAILURE_REASONS = ("bad_password", "bad_totp", "bad_recovery_code", "locked",
                   "unknown_login")

user_id = pattern(r"u_[a-z2-7]{16}", "a user id (u_ + 16 base32)")
session_ref = pattern(r"s_[a-z2-7]{16}", "a session reference (s_ + 16 base32)")

USER_CREATED = EventType(
    "user.created", "A console account was created (id and role; the login stays off-ledger).",
    {"user": user_id, "role": one_of(*CONSOLE_ROLES)},
)
USER_TOTP_ENROLLED = EventType(
    "user.totp_enrolled", "A user confirmed a TOTP authenticator with one valid code.",
    {"user": user_id},
)
USER_SIGNED_IN = EventType(
    "user.signed_in", "A user signed in to the console; a new session began.",
    {"user": user_id, "session": session_ref,
     "second_factor": one_of("totp", "none", "recovery_code")},
)
USER_RECOVERY_CODES_ISSUED = EventType(
    "user.recovery_codes_issued",
    "A user was given a new set of one-time recovery codes (the earlier ones stop working); "
    "the codes stay off-ledger, only their HMACs are kept, in the accounts' store.",
    {"user": user_id, "count": count},
)
USER_RECOVERY_CODE_USED = EventType(
    "user.recovery_code_used",
    "A user signed in with a recovery code in place of a TOTP code (it is spent).",
    {"user": user_id, "remaining": count},
)
USER_SIGN_IN_FAILED = EventType(
    "user.sign_in_failed",
    "A sign-in attempt failed; the user only when the login names an account.",
    {"reason": one_of(*FAILURE_REASONS)},
    {"user": user_id},
)
USER_SIGNED_OUT = EventType(
    "user.signed_out", "A user signed out; the session ended server-side.",
    {"user": user_id, "session": session_ref},
)
USER_LOCKED = EventType(
    "user.locked", "Repeated failures locked an account until a time (back-off).",
    {"user": user_id, "until": timestamp, "failures": count},
)

#: Every entry type of this domain, for the registry the composition root builds.
TYPES: tuple[EventType, ...] = (
    USER_CREATED, USER_TOTP_ENROLLED, USER_SIGNED_IN, USER_SIGN_IN_FAILED, USER_SIGNED_OUT,
    USER_LOCKED, USER_RECOVERY_CODES_ISSUED, USER_RECOVERY_CODE_USED,
)
