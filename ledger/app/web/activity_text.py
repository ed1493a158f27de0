"""Who did what, in words: an activity entry's kind, actor (login name and role), time
and reason as the console shows them, never a raw code.  Used by the activity pages
(``console_activity``) and the decision page (``console_hr``)."""

from __future__ import annotations

from dataclasses import dataclass

from flask import current_app

from ledger.absence.queries import activity as A  # noqa: N812 (the queries, read as A.latest)
from ledger.accounts.store import Accounts
from ledger.app.web.console import ROLES
from ledger.app.web.forms import Lang, words
from ledger.timetext import written

KINDS: dict[str, tuple[str, str]] = words("console_hr.kinds")
WHY: dict[str, tuple[str, str]] = words("console_hr.why")
ACTORS: dict[str, tuple[str, str]] = words("console_hr.actors")
#: Entries whose reason is a person's words (a public text), not a code.
WORDS_AS_WRITTEN = frozenset({"notice.published"})
REVIEW_STATES: dict[str, tuple[str, str]] = words("console_hr.review_states")
#: The entries that rule on a decision: a review, or an appeal's ruling.
REVIEWS = ("decision.reviewed", "appeal.ruled")


@dataclass(frozen=True)
class ShownEntry:
    """One activity row as the page shows it."""

    index: int
    kind: str
    who: str
    role: str
    when: str
    why: str


def logins() -> dict[str, str]:
    """User id -> login name, for the accounts of this console."""
    accounts: Accounts | None = current_app.extensions.get("absentia.accounts")
    return {} if accounts is None else {a.user: a.login for a in accounts.users()}


def who(actor: str, names: dict[str, str], lg: Lang) -> tuple[str, str]:
    """The login name (or what the actor is) and the role, in words, of ``actor``."""
    role, _, user = actor.partition(":")
    if not user:
        return lg.of(ACTORS, role) if role in ACTORS else lg.pick(ACTORS["other"]), "—"
    role_words = lg.pick(ROLES[role]) if role in ROLES else "—"
    if user in names:
        return names[user], role_words
    if role == "platform":
        return lg.pick(ACTORS["platform"]), role_words
    return lg.t("api_token", token=user), role_words


def why_of(entry: A.Activity, lg: Lang) -> str:
    """The reason an entry carries, in words (never a raw code)."""
    if entry.why is None:
        return "—"
    if entry.kind in WORDS_AS_WRITTEN:
        return entry.why
    return why_of_code(entry.why, lg)


def why_of_code(code: str | None, lg: Lang) -> str:
    """A reason code (a decision's rule, a ruling …) in words; "—" for None."""
    if code is None:
        return "—"
    return lg.pick(WHY[code]) if code in WHY else lg.pick(WHY["unlisted"])


def shown(page: A.ActivityPage, tz: str, lg: Lang) -> list[ShownEntry]:
    """The rows of ``page`` for the page (times in the campaign's zone)."""
    names = logins()
    out = []
    for e in page.items:
        name, role = who(e.actor, names, lg)
        out.append(ShownEntry(e.index, lg.of(KINDS, e.kind) if e.kind in KINDS
                              else lg.pick(KINDS["other"]), name, role,
                              written(e.at, tz, lg.code), why_of(e, lg)))
    return out


def review_of(entry: A.Activity | None, tz: str, lg: Lang) -> dict[str, str] | None:
    """A decision's review (``entry``, from ``A.latest``) for its page: the reviewer's
    login name and role, the time (with its zone), the ruling in words and its ledger
    index; None if it was not reviewed."""
    if entry is None:
        return None
    name, role = who(entry.actor, logins(), lg)
    return {"who": name, "role": role, "when": written(entry.at, tz, lg.code, zone=True),
            "why": why_of(entry, lg), "index": str(entry.index),
            "by_appeal": "yes" if entry.kind == "appeal.ruled" else ""}
