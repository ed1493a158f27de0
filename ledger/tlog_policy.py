"""C2SP tlog-policy: which logs and witnesses are trusted, and the witness quorum.

Follows https://c2sp.org/tlog-policy line for line.  A policy file is lines each ending
in a newline (U+000A); items are separated by runs of space and tab *only*; leading and
trailing space and tab are allowed; a line that is empty or whitespace only, or whose
first non-whitespace character is ``#``, is ignored (a comment is a whole line: ``#``
after an item is part of that item).  The only control characters allowed are tab and
newline (§Character set); names are compared as exact strings (octets), never folded.

    log <vkey> [<url>]                     a trusted log (Ed25519 note key, type 0x01)
    witness <name> <vkey> [<url>]          a witness (cosignature/v1 key, type 0x04)
    group <name> <k|all|any> <name>...     satisfied when k of its n members are
    quorum <name|none>                     exactly one: what a checkpoint needs

Log and witness lines may come in any order; a group or the quorum may name only
witnesses and groups defined on earlier lines (so groups cannot be circular); witnesses
and groups share one namespace in which ``none`` is predefined (usable as the quorum,
never as a group member); a group lists each name at most once, and 1 <= k <= n.  Two
log lines (or two witness lines) wrapping the same public key are duplicates, even under
other key names (§Public key representation).

``parse`` turns text into a ``Policy`` or raises ``PolicyError`` naming the line and
what is wrong; ``Policy.to_text`` writes the standard form back (``parse(p.to_text())
== p``).  ``Policy.satisfied(names)`` answers whether the witnesses named (as the policy
names them) whose cosignatures verified meet the quorum.  Pure: no file or network I/O,
no signature checks (``ledger.witness.cosig.verify_policy_cosignatures`` checks a
checkpoint's cosignatures against a policy).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from itertools import combinations, islice
from pathlib import Path
from types import MappingProxyType

from ledger.errors import BadData, VerificationError
from ledger.note import SIG_TYPE_COSIGNATURE_V1, SIG_TYPE_ED25519, SignedNote, parse_vkey
from ledger.witness.cosig import Cosignature, CosignatureV1Verifier, verify_cosignatures

#: tlog-policy §Defining the quorum: the predefined name of the quorum that needs no
#: cosignature.
QUORUM_NONE = "none"
# tlog-policy §Structure: "whitespace" is ASCII space and tab only.
_WHITESPACE = " \t"
_SPLIT = re.compile("[ \t]+")
# tlog-policy §Defining a witness group: k "must be written in decimal".
_DECIMAL = re.compile("[0-9]{1,9}")
# tlog-policy §Implementation limits recommends supporting at least 32 of each; these
# bound what a hostile file can make a verifier do.
MAX_LOGS = 256
MAX_WITNESSES = 256
MAX_GROUPS = 256
MAX_POLICY_CHARS = 1 << 20


class PolicyError(BadData):
    """A tlog-policy that does not parse; ``line`` is the 1-based line at fault (the
    line after the last one when the file ends without a quorum line)."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"tlog-policy line {line}: {message}", field="policy")
        self.line = line


def _allowed_character(c: str) -> bool:
    # §Character set: octets 0x09, 0x0A, 0x20-0x7E and 0x80-0xFF; every non-ASCII
    # character is made of octets with the high bit set.
    o = ord(c)
    return c in "\t\n" or 0x20 <= o <= 0x7E or o >= 0x80


def _check_token(value: str, what: str) -> None:
    if not value or any(c in _WHITESPACE or not _allowed_character(c) or c == "\n"
                        for c in value):
        raise BadData(f"tlog-policy {what} {value!r}: one or more characters, no space, "
                      "tab, newline or control character", field="policy")


@dataclass(frozen=True)
class Log:
    """A trusted log: its verifier key (whose key name is the log's origin) and URL."""

    vkey: str
    url: str | None = None

    @property
    def origin(self) -> str:
        """The key name of ``vkey``, which tlog-policy says is the log's origin line."""
        return self.vkey.split("+", 1)[0]


@dataclass(frozen=True)
class Witness:
    """A witness as the policy names it, its cosigner verifier key and its URL (the
    tlog-witness submission prefix, when given)."""

    name: str
    vkey: str
    url: str | None = None


@dataclass(frozen=True)
class Group:
    """Satisfied when at least ``threshold`` of ``members`` (witness or group names) are."""

    name: str
    threshold: int
    members: tuple[str, ...]


def _public_key(vkey: str, sig_type: int, what: str) -> bytes:
    kind = ("Ed25519 note (type 0x01)" if sig_type == SIG_TYPE_ED25519
            else "Ed25519 cosignature/v1 (type 0x04)")
    return parse_vkey(vkey, sig_type, what=what, kind=kind, field="policy")[1]


@dataclass(frozen=True)
class Policy:
    """A parsed tlog-policy.  ``witnesses`` and ``groups`` are read-only mappings in
    definition order; ``quorum`` is a witness or group name, or ``QUORUM_NONE``.

    Building one checks what ``parse`` checks, without line numbers.

    Raises:
        BadData: a malformed key or name, a duplicate key or name, a group naming what
            is not defined before it, a threshold out of 1..n, or an undefined quorum.
    """

    logs: tuple[Log, ...]
    witnesses: Mapping[str, Witness]
    groups: Mapping[str, Group]
    quorum: str

    def __post_init__(self) -> None:
        witnesses = dict(self.witnesses)
        groups = dict(self.groups)
        object.__setattr__(self, "witnesses", MappingProxyType(witnesses))
        object.__setattr__(self, "groups", MappingProxyType(groups))
        object.__setattr__(self, "logs", tuple(self.logs))
        if len(self.logs) > MAX_LOGS or len(witnesses) > MAX_WITNESSES \
                or len(groups) > MAX_GROUPS:
            raise BadData(f"tlog-policy: at most {MAX_LOGS} logs, {MAX_WITNESSES} witnesses "
                          f"and {MAX_GROUPS} groups", field="policy")
        keys: set[bytes] = set()
        for log in self.logs:
            _check_token(log.vkey, "log key")
            if log.url is not None:
                _check_token(log.url, "URL")
            key = _public_key(log.vkey, SIG_TYPE_ED25519, "log key")
            if key in keys:
                raise BadData(f"tlog-policy: two logs have the public key of {log.vkey}",
                              field="policy")
            keys.add(key)
        keys = set()
        for name, w in witnesses.items():
            if name != w.name:
                raise BadData(f"tlog-policy: witness {w.name!r} filed as {name!r}",
                              field="policy")
            _check_token(name, "name")
            _check_token(w.vkey, "witness key")
            if w.url is not None:
                _check_token(w.url, "URL")
            if name == QUORUM_NONE:
                raise BadData("tlog-policy: 'none' is predefined, not a witness name",
                              field="policy")
            key = _public_key(w.vkey, SIG_TYPE_COSIGNATURE_V1, "witness key")
            if key in keys:
                raise BadData(f"tlog-policy: two witnesses have the public key of {name!r}",
                              field="policy")
            keys.add(key)
        defined = set(witnesses)
        for name, g in groups.items():
            if name != g.name:
                raise BadData(f"tlog-policy: group {g.name!r} filed as {name!r}",
                              field="policy")
            _check_token(name, "name")
            problem = _group_problem(g, defined)
            if problem:
                raise BadData(f"tlog-policy: group {name!r}: {problem}", field="policy")
            defined.add(name)
        if self.quorum != QUORUM_NONE and self.quorum not in defined:
            raise BadData(f"tlog-policy: the quorum {self.quorum!r} is not a witness or "
                          "group of the policy", field="policy")

    # -- reading ----------------------------------------------------------------------

    def satisfied(self, valid: Collection[str]) -> bool:
        """Whether the witnesses named in ``valid`` (policy names, cosignatures already
        verified) meet the quorum.  Names the policy does not define are ignored.

        Each group is evaluated once, in definition order (members come first), so a
        policy whose groups share members costs one pass, not one per path."""
        if self.quorum == QUORUM_NONE:
            return True
        ok = {name: name in valid for name in self.witnesses}
        for g in self.groups.values():
            ok[g.name] = sum(ok[m] for m in g.members) >= g.threshold
        return ok[self.quorum]

    def witness_vkeys(self) -> dict[str, str]:
        """Each witness's verifier key, by its name in the policy."""
        return {name: w.vkey for name, w in self.witnesses.items()}

    def log_vkeys(self) -> list[str]:
        """The trusted logs' verifier keys (may be empty: logs known from context)."""
        return [log.vkey for log in self.logs]

    def needs_witnesses(self) -> bool:
        """False for ``quorum none``."""
        return self.quorum != QUORUM_NONE

    def quorum_members(self) -> list[str]:
        """The witnesses the quorum can count, in definition order (none for ``none``)."""
        if self.quorum == QUORUM_NONE:
            return []
        reach = {self.quorum}
        for g in reversed(list(self.groups.values())):
            if g.name in reach:
                reach.update(g.members)
        return [name for name in self.witnesses if name in reach]

    def min_witnesses(self) -> int:
        """The fewest witness cosignatures that can satisfy the quorum (0 for ``none``):
        k for a k-of-n policy.  Exact; with shared members it searches the quorum's
        witnesses smallest set first (bounded by the policy's limits)."""
        if self.quorum == QUORUM_NONE:
            return 0
        need = {name: 1 for name in self.witnesses}
        for g in self.groups.values():
            need[g.name] = sum(sorted(need[m] for m in g.members)[:g.threshold])
        bound = need[self.quorum]  # exact unless groups share members, else an upper bound
        members = self.quorum_members()
        if self._tree():
            return bound
        for size in range(1, bound):
            if _some_subset_satisfies(self, members, size, budget=200_000):
                return size
        return bound

    def _tree(self) -> bool:
        seen: set[str] = set()
        stack = [self.quorum]
        while stack:
            name = stack.pop()
            if name in seen:
                return False
            seen.add(name)
            g = self.groups.get(name)
            if g is not None:
                stack.extend(g.members)
        return True

    # -- writing ----------------------------------------------------------------------

    def to_text(self) -> str:
        """The policy in the standard form: logs, then witnesses, groups in definition
        order, and the quorum line last; what ``parse`` reads back to an equal policy."""
        out = [f"log {log.vkey}" + (f" {log.url}" if log.url else "") for log in self.logs]
        if out:
            out.append("")
        out += [f"witness {w.name} {w.vkey}" + (f" {w.url}" if w.url else "")
                for w in self.witnesses.values()]
        for g in self.groups.values():
            k = "all" if g.threshold == len(g.members) else \
                "any" if g.threshold == 1 else str(g.threshold)
            out.append(f"group {g.name} {k} {' '.join(g.members)}")
        out.append(f"quorum {self.quorum}")
        return "\n".join(out) + "\n"


def _some_subset_satisfies(policy: Policy, members: list[str], size: int, *,
                           budget: int) -> bool:
    return any(policy.satisfied(set(c)) for c in islice(combinations(members, size), budget))


def _group_problem(g: Group, defined: Collection[str]) -> str | None:
    if not g.members:
        return "no members (a group lists at least one)"
    seen: set[str] = set()
    for m in g.members:
        if m == QUORUM_NONE:
            return "'none' cannot be a group member"
        if m in seen:
            return f"{m!r} is listed twice (each name may be a member once)"
        if m not in defined:
            return f"{m!r} is not a witness or group defined on an earlier line"
        seen.add(m)
    if not 1 <= g.threshold <= len(g.members):
        return f"threshold {g.threshold} is not between 1 and its {len(g.members)} members"
    return None


def from_k_of_n(witnesses: Iterable[Witness], k: int) -> Policy:
    """The policy of ``k`` cosignatures out of ``witnesses`` (the config.toml form:
    ``[[witnesses]]`` and ``[witness_policy] required = k``): ``quorum none`` for k = 0,
    else one group of all the witnesses with threshold k.

    Raises:
        BadData: k is not in 0..n, or a witness is malformed or duplicated.
    """
    ws = list(witnesses)
    if not 0 <= k <= len(ws):
        raise BadData(f"k-of-n witness policy: k = {k} is not in 0..{len(ws)}",
                      field="witnesses_required")
    by_name: dict[str, Witness] = {}
    for w in ws:
        if w.name in by_name:
            raise BadData(f"k-of-n witness policy: two witnesses named {w.name!r}",
                          field="witnesses")
        by_name[w.name] = w
    if k == 0:
        return Policy((), by_name, {}, QUORUM_NONE)
    group = "witnesses"
    while group in by_name:
        group += "-quorum"
    return Policy((), by_name, {group: Group(group, k, tuple(by_name))}, group)


# -- parsing -----------------------------------------------------------------------------

def parse(text: str) -> Policy:
    """Parse a tlog-policy file's text (see the module docstring).

    Raises:
        PolicyError: the first line at fault, and what is wrong with it: a character not
            allowed, a last line without its newline, an unknown keyword, a wrong number
            of items, a malformed or wrongly typed key, a duplicate key or name, a group
            or quorum naming what no earlier line defined, a bad threshold, a second
            quorum line, or no quorum line at all.
    """
    if len(text) > MAX_POLICY_CHARS:
        raise PolicyError(1, f"the policy is longer than {MAX_POLICY_CHARS} characters")
    lines = text.split("\n")
    if lines[-1] != "":
        raise PolicyError(len(lines), "the last line does not end with a newline "
                                      "(tlog-policy: each line ends in one)")
    lines.pop()
    logs: list[Log] = []
    log_keys: dict[bytes, int] = {}
    witnesses: dict[str, Witness] = {}
    witness_keys: dict[bytes, int] = {}
    groups: dict[str, Group] = {}
    defined_at: dict[str, int] = {}
    quorum: tuple[str, int] | None = None
    for n, line in enumerate(lines, start=1):
        bad = next((c for c in line if not _allowed_character(c)), None)
        if bad is not None:
            raise PolicyError(n, f"character U+{ord(bad):04X} is not allowed (only tab "
                                 "and newline among control characters)")
        stripped = line.strip(_WHITESPACE)
        if not stripped or stripped.startswith("#"):
            continue
        keyword, *items = _SPLIT.split(stripped)
        if keyword == "log":
            _arity(n, keyword, items, 1, 2, "log <vkey> [<url>]")
            key = _key(n, items[0], SIG_TYPE_ED25519, "log key")
            if key in log_keys:
                raise PolicyError(n, f"the log key has the public key of the log on line "
                                     f"{log_keys[key]} (duplicate logs are not allowed)")
            if len(logs) == MAX_LOGS:
                raise PolicyError(n, f"more than {MAX_LOGS} logs")
            log_keys[key] = n
            logs.append(Log(items[0], items[1] if len(items) > 1 else None))
        elif keyword == "witness":
            _arity(n, keyword, items, 2, 3, "witness <name> <vkey> [<url>]")
            name = items[0]
            _new_name(n, name, defined_at)
            key = _key(n, items[1], SIG_TYPE_COSIGNATURE_V1, "witness key")
            if key in witness_keys:
                raise PolicyError(n, f"witness {name!r} has the public key of the witness on "
                                     f"line {witness_keys[key]} (duplicate witnesses are "
                                     "not allowed)")
            if len(witnesses) == MAX_WITNESSES:
                raise PolicyError(n, f"more than {MAX_WITNESSES} witnesses")
            witness_keys[key] = n
            defined_at[name] = n
            witnesses[name] = Witness(name, items[1], items[2] if len(items) > 2 else None)
        elif keyword == "group":
            if len(items) < 3:
                raise PolicyError(n, f"a group line has a name, a threshold and at least one "
                                     f"member: group <name> <k|all|any> <name>... "
                                     f"(got {len(items)} item(s) after 'group')")
            name, k, members = items[0], items[1], tuple(items[2:])
            _new_name(n, name, defined_at)
            if len(groups) == MAX_GROUPS:
                raise PolicyError(n, f"more than {MAX_GROUPS} groups")
            threshold = _threshold(n, k, len(members))
            problem = _group_problem(Group(name, threshold, members), defined_at)
            if problem:
                raise PolicyError(n, f"group {name!r}: {problem}")
            defined_at[name] = n
            groups[name] = Group(name, threshold, members)
        elif keyword == "quorum":
            _arity(n, keyword, items, 1, 1, "quorum <name>")
            if quorum is not None:
                raise PolicyError(n, f"a second quorum line (the first is line {quorum[1]}; "
                                     "a policy has exactly one)")
            if items[0] != QUORUM_NONE and items[0] not in defined_at:
                raise PolicyError(n, f"the quorum {items[0]!r} is not a witness or group "
                                     "defined on an earlier line (or 'none')")
            quorum = (items[0], n)
        else:
            raise PolicyError(n, f"unknown keyword {keyword!r} (log, witness, group or "
                                 "quorum; a comment line starts with '#')")
    if quorum is None:
        raise PolicyError(len(lines) + 1, "the policy ends without a quorum line (a policy "
                                          "has exactly one; 'quorum none' to need no "
                                          "witness)")
    return Policy(tuple(logs), witnesses, groups, quorum[0])


def parse_bytes(data: bytes) -> Policy:
    """Parse a policy file's octets: UTF-8, and any octet of a name, URL or comment that
    is not UTF-8 kept opaque (§Character set: octets with the high bit set are opaque),
    so ``to_bytes`` writes the same octets back.

    Raises:
        PolicyError: see ``parse``.
    """
    if len(data) > MAX_POLICY_CHARS:
        raise PolicyError(1, f"the policy is longer than {MAX_POLICY_CHARS} bytes")
    return parse(data.decode("utf-8", "surrogateescape"))


def to_bytes(policy: Policy) -> bytes:
    """``policy.to_text()`` as octets (the inverse of ``parse_bytes``)."""
    return policy.to_text().encode("utf-8", "surrogateescape")


def _arity(n: int, keyword: str, items: list[str], least: int, most: int, form: str) -> None:
    if least <= len(items) <= most:
        return
    hint = ""
    if len(items) > most and items[most].startswith("#"):
        hint = "; a comment must be a line of its own"
    raise PolicyError(n, f"{keyword} line has {len(items)} item(s) after {keyword!r}: "
                         f"{form}{hint}")


def _key(n: int, vkey: str, sig_type: int, what: str) -> bytes:
    try:
        return _public_key(vkey, sig_type, what)
    except BadData as exc:
        raise PolicyError(n, str(exc)) from None


def _new_name(n: int, name: str, defined_at: Mapping[str, int]) -> None:
    if name == QUORUM_NONE:
        raise PolicyError(n, "'none' is predefined (the empty quorum); choose another name")
    if name in defined_at:
        raise PolicyError(n, f"the name {name!r} is already defined on line "
                             f"{defined_at[name]} (witnesses and groups share one namespace)")


def _threshold(n: int, k: str, members: int) -> int:
    if k == "any":
        return 1
    if k == "all":
        return members
    if not _DECIMAL.fullmatch(k):
        raise PolicyError(n, f"threshold {k!r}: 'all', 'any' or a decimal number")
    value = int(k)
    if not 1 <= value <= members:
        raise PolicyError(n, f"threshold {value} is not between 1 and the group's "
                             f"{members} member(s)")
    return value


def load_policy(path: Path) -> Policy:
    """The C2SP tlog-policy in the file ``path``.

    Raises:
        BadData: the file cannot be read, or does not parse (the message names the line).
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BadData(f"cannot read the policy file {path}: {exc}", field="policy") from exc
    try:
        return parse_bytes(data)
    except BadData as exc:
        raise BadData(f"{path}: {exc}", field="policy") from exc


def k_of_n_policy(vkeys: list[str], k: int) -> Policy:
    """The policy of ``--witness VKEY``... ``--witnesses-required K``: each witness named
    by its key name.

    Raises:
        BadData: a key is malformed, two keys share a name, or k is out of range.
    """
    return from_k_of_n([Witness(CosignatureV1Verifier.from_vkey(v).name, v) for v in vkeys], k)


def verify_policy_cosignatures(note: SignedNote, policy: Policy) -> list[tuple[str, Cosignature]]:
    """Check that the valid cosignatures of ``note`` meet ``policy``'s quorum (C2SP
    tlog-policy); return (policy name, cosignature) of each witness that cosigned.

    Raises:
        BadData: a witness key of the policy is malformed.
        VerificationError: a policy witness's cosignature does not verify, or the valid
            ones do not satisfy the quorum.
    """
    by_key = {}
    for name, vkey in policy.witness_vkeys().items():
        v = CosignatureV1Verifier.from_vkey(vkey)
        by_key[(v.name, v.key_id)] = (name, v)
    got = [(by_key[(c.name, c.key_id)][0], c)
           for c in verify_cosignatures(note, [v for _, v in by_key.values()])]
    names = {name for name, _ in got}
    if not policy.satisfied(names):
        have = ", ".join(sorted(names)) or "none"
        missing = ", ".join(n for n in policy.quorum_members() if n not in names) or "none"
        raise VerificationError(
            f"the checkpoint has {len(names)} valid witness cosignature(s), "
            f"{policy.min_witnesses()} required: the witness policy's quorum "
            f"{policy.quorum!r} is not satisfied (cosigned by: {have}; missing: {missing})")
    return got
