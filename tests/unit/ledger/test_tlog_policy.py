"""C2SP tlog-policy: the parser (every error names its line), the quorum, the writer.

The spec's own example (§Example policy, keys filled in) is parsed and evaluated; the
spec has no published test vectors.  Round trips and fuzzing use hypothesis.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.checkpoint import Checkpoint
from ledger.errors import BadData, VerificationError
from ledger.note import Ed25519Signer, SignedNote
from ledger.tlog_policy import (
    MAX_WITNESSES,
    QUORUM_NONE,
    Group,
    Log,
    Policy,
    PolicyError,
    Witness,
    from_k_of_n,
    parse,
    parse_bytes,
    to_bytes,
    verify_policy_cosignatures,
)
from ledger.witness.cosig import CosignatureV1Signer


def _private(i: int) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(i.to_bytes(2, "big") * 16)


def wkey(name: str, i: int) -> str:
    return CosignatureV1Signer(name, _private(i)).verifier.vkey


def lkey(name: str, i: int) -> str:
    return Ed25519Signer(name, _private(i)).verifier.vkey


LOG = lkey("example.org/log", 1000)
X = {f"X{i}": wkey(f"x{i}.example", i) for i in (1, 2, 3)}
Y = {f"Y{i}": wkey(f"y{i}.example", 10 + i) for i in (1, 2, 3)}

# tlog-policy §Example policy, with keys in place of "<vkey>".
SPEC_EXAMPLE = f"""log {LOG}

witness X1 {X['X1']}
witness X2 {X['X2']}
witness X3 {X['X3']}
group X-witnesses 2 X1 X2 X3

witness Y1 {Y['Y1']}
witness Y2 {Y['Y2']}
witness Y3 {Y['Y3']}
group Y-witnesses any Y1 Y2 Y3

group X-and-Y all X-witnesses Y-witnesses
quorum X-and-Y
"""


def test_the_spec_example_parses_to_its_logs_witnesses_groups_and_quorum() -> None:
    p = parse(SPEC_EXAMPLE)
    assert p.logs == (Log(LOG),)
    assert p.logs[0].origin == "example.org/log"
    assert list(p.witnesses) == ["X1", "X2", "X3", "Y1", "Y2", "Y3"]
    assert p.witness_vkeys() == X | Y
    assert p.groups["X-witnesses"] == Group("X-witnesses", 2, ("X1", "X2", "X3"))
    assert p.groups["Y-witnesses"].threshold == 1
    assert p.groups["X-and-Y"] == Group("X-and-Y", 2, ("X-witnesses", "Y-witnesses"))
    assert p.quorum == "X-and-Y"
    assert p.min_witnesses() == 3
    assert p.quorum_members() == ["X1", "X2", "X3", "Y1", "Y2", "Y3"]


@pytest.mark.parametrize(("valid", "ok"), [
    ({"X1", "X2", "Y1"}, True),
    ({"X2", "X3", "Y3"}, True),
    ({"X1", "X2", "X3", "Y1", "Y2", "Y3"}, True),
    ({"X1", "Y1", "Y2", "Y3"}, False),   # only one X: the X group fails
    ({"X1", "X2", "X3"}, False),         # no Y
    ({"X1", "X2", "x1.example"}, False),  # a key name is not a policy name
    (set(), False),
])
def test_the_spec_example_quorum_needs_two_x_and_one_y(valid: set[str], ok: bool) -> None:
    assert parse(SPEC_EXAMPLE).satisfied(valid) is ok


def test_quorum_none_needs_nothing_and_a_single_witness_quorum_needs_it() -> None:
    assert parse("quorum none\n").satisfied(set())
    assert parse("quorum none\n").min_witnesses() == 0
    one = parse(f"witness W {X['X1']}\nquorum W\n")
    assert one.satisfied({"W"})
    assert not one.satisfied({"X1"})
    assert one.min_witnesses() == 1


def test_deeply_nested_groups_sharing_members_are_evaluated_once_each() -> None:
    # g_i = all(g_{i-1}, W): without memoising, each level would double the work.
    lines = [f"witness W {X['X1']}", f"witness V {X['X2']}", "group g0 any W V"]
    lines += [f"group g{i} all g{i - 1} W" for i in range(1, 200)]
    p = parse("\n".join(lines) + "\nquorum g199\n")
    assert p.satisfied({"W"})
    assert not p.satisfied({"V"})
    assert p.min_witnesses() == 1


def test_min_witnesses_is_exact_when_groups_share_a_member() -> None:
    text = (f"witness A {X['X1']}\nwitness B {X['X2']}\nwitness C {X['X3']}\n"
            "group ab any A B\ngroup ac any A C\ngroup both all ab ac\nquorum both\n")
    p = parse(text)
    assert p.min_witnesses() == 1  # A alone satisfies both groups
    assert p.satisfied({"A"})
    assert p.satisfied({"B", "C"})
    assert not p.satisfied({"B"})


def test_whitespace_is_space_and_tab_comments_are_whole_lines_urls_are_optional() -> None:
    text = (f"  # a comment\n\t\n log\t{LOG}   https://log.example/  \n"
            f"\twitness  W1 {X['X1']}\thttps://w1.example/submit\n"
            "   #another\n"
            "quorum  W1\t\n")
    p = parse(text)
    assert p.logs == (Log(LOG, "https://log.example/"),)
    assert p.witnesses["W1"] == Witness("W1", X["X1"], "https://w1.example/submit")


def test_names_are_opaque_exact_strings() -> None:
    # §Character set: "K" and the Kelvin sign are different names; '#' inside an item
    # is part of it.
    text = (f"witness K {X['X1']}\nwitness \u212a {X['X2']}\nwitness a#b {X['X3']}\n"
            "group g all K \u212a a#b\nquorum g\n")
    p = parse(text)
    assert not p.satisfied({"K", "k", "a#b"})
    assert p.satisfied({"K", "\u212a", "a#b"})


def test_octets_that_are_not_utf8_stay_opaque_and_are_written_back() -> None:
    # §Character set: octets with the high bit set are opaque in names and comments.
    data = (b"# comment \xff\xfe\n" + b"witness w\xe9 " + X["X1"].encode() + b"\n"
            + b"witness w\xc3\xa9 " + X["X2"].encode() + b"\ngroup g all w\xe9 w\xc3\xa9\n"
            + b"quorum g\n")
    p = parse_bytes(data)
    assert len(p.witnesses) == 2  # Latin-1 and UTF-8 spellings are two names
    assert p.satisfied({"w\u00e9", "w\udce9"})
    assert not p.satisfied({"w\u00e9"})
    assert b"witness w\xe9 " in to_bytes(p)
    assert parse_bytes(to_bytes(p)) == p
    with pytest.raises(PolicyError) as got:
        parse_bytes(b"quorum none\n\x00\n")
    assert got.value.line == 2


def test_logs_and_witnesses_come_in_any_order() -> None:
    text = f"witness W {X['X1']}\nlog {LOG}\nquorum W\nlog {lkey('other.org/log', 7)}\n"
    assert [log.origin for log in parse(text).logs] == ["example.org/log", "other.org/log"]


W1, W2 = X["X1"], X["X2"]
ERRORS = [
    ("", 1, "without a quorum line"),
    ("# only a comment\n\n", 3, "without a quorum line"),
    (f"witness W {W1}\nquorum W", 2, "does not end with a newline"),
    ("quorum none\r\n", 1, "U+000D"),
    ("\n\nquorum\x0bnone\n", 3, "U+000B"),
    ("quorum none\x7f\n", 1, "U+007F"),
    ("\nlogs x\nquorum none\n", 2, "unknown keyword 'logs'"),
    ("Quorum none\n", 1, "unknown keyword 'Quorum'"),
    ("quorum none\nquorum none\n", 2, "second quorum line (the first is line 1"),
    ("quorum\n", 1, "quorum line has 0 item(s)"),
    ("quorum a b\n", 1, "quorum line has 2 item(s)"),
    ("quorum W\n", 1, "'W' is not a witness or group defined on an earlier line"),
    (f"quorum W\nwitness W {W1}\n", 1, "not a witness or group defined"),
    ("log\nquorum none\n", 1, "log line has 0 item(s)"),
    (f"log {LOG} https://a # a log\nquorum none\n", 1, "a comment must be a line of its own"),
    ("log not-a-vkey\nquorum none\n", 1, "malformed"),
    (f"log {W1}\nquorum none\n", 1, "not an Ed25519 note (type 0x01) key"),
    (f"log {LOG}\nlog {lkey('renamed.org/log', 1000)}\nquorum none\n", 2,
     "public key of the log on line 1"),
    ("witness W\nquorum none\n", 1, "witness line has 1 item(s)"),
    (f"witness W {W1} u v\nquorum none\n", 1, "witness line has 4 item(s)"),
    (f"witness W {LOG}\nquorum none\n", 1, "not an Ed25519 cosignature/v1 (type 0x04) key"),
    (f"witness W {W1[:-2]}AA\nquorum none\n", 1, "witness key"),
    (f"witness none {W1}\nquorum none\n", 1, "'none' is predefined"),
    (f"witness W {W1}\nwitness W {W2}\nquorum none\n", 2, "already defined on line 1"),
    (f"witness W {W1}\n\nwitness V {wkey('renamed', 1)}\nquorum none\n", 3,
     "public key of the witness on line 1"),
    (f"witness W {W1}\ngroup W any W\nquorum none\n", 2, "already defined on line 1"),
    (f"witness W {W1}\ngroup g any\nquorum none\n", 2, "at least one member"),
    (f"witness W {W1}\ngroup g 0 W\nquorum none\n", 2, "threshold 0 is not between 1"),
    (f"witness W {W1}\ngroup g 2 W\nquorum none\n", 2, "threshold 2 is not between 1"),
    (f"witness W {W1}\ngroup g +1 W\nquorum none\n", 2, "'+1': 'all', 'any' or a decimal"),
    (f"witness W {W1}\ngroup g \u0661 W\nquorum none\n", 2, "a decimal number"),
    (f"witness W {W1}\ngroup g {'9' * 5000} W\nquorum none\n", 2, "a decimal number"),
    (f"witness W {W1}\ngroup g ALL W\nquorum none\n", 2, "'ALL'"),
    (f"witness W {W1}\ngroup g any W W\nquorum none\n", 2, "'W' is listed twice"),
    (f"witness W {W1}\ngroup g any W none\nquorum none\n", 2, "'none' cannot be a group"),
    (f"witness W {W1}\ngroup g any W h\ngroup h any W\nquorum none\n", 2,
     "'h' is not a witness or group defined on an earlier line"),
    (f"witness W {W1}\ngroup g any g\nquorum none\n", 2, "'g' is not a witness or group"),
    (f"witness W {W1}\ngroup none any W\nquorum none\n", 2, "'none' is predefined"),
]


@pytest.mark.parametrize(("text", "line", "fragment"), ERRORS)
def test_every_error_names_its_line_and_what_is_wrong(text: str, line: int,
                                                     fragment: str) -> None:
    with pytest.raises(PolicyError) as got:
        parse(text)
    assert got.value.line == line
    assert str(got.value).startswith(f"tlog-policy line {line}: ")
    assert fragment in str(got.value)
    assert isinstance(got.value, BadData)
    assert got.value.field == "policy"


def test_more_witnesses_than_the_limit_is_refused_on_the_line_past_it() -> None:
    lines = [f"witness w{i} {wkey(f'w{i}', 2000 + i)}" for i in range(MAX_WITNESSES + 1)]
    with pytest.raises(PolicyError) as got:
        parse("\n".join(lines) + "\nquorum none\n")
    assert got.value.line == MAX_WITNESSES + 1


def test_from_k_of_n_is_the_config_form_as_a_policy() -> None:
    ws = [Witness("w1", X["X1"], "https://w1"), Witness("w2", X["X2"], "https://w2"),
          Witness("w3", X["X3"], "https://w3")]
    p = from_k_of_n(ws, 2)
    assert p.satisfied({"w1", "w3"})
    assert not p.satisfied({"w2"})
    assert p.min_witnesses() == 2
    assert p.quorum_members() == ["w1", "w2", "w3"]
    assert parse(p.to_text()) == p
    assert "group witnesses 2 w1 w2 w3\nquorum witnesses\n" in p.to_text()
    none = from_k_of_n(ws, 0)
    assert none.quorum == QUORUM_NONE
    assert none.satisfied(set())
    assert not none.needs_witnesses()
    assert p.needs_witnesses()
    assert from_k_of_n(ws, 3).to_text().endswith("group witnesses all w1 w2 w3\n"
                                                 "quorum witnesses\n")
    # A witness named like the group does not collide with it.
    clash = from_k_of_n([Witness("witnesses", X["X1"])], 1)
    assert clash.quorum == "witnesses-quorum"
    assert clash.satisfied({"witnesses"})
    with pytest.raises(BadData, match=r"k = 4 is not in 0\.\.3"):
        from_k_of_n(ws, 4)
    with pytest.raises(BadData, match="two witnesses named"):
        from_k_of_n([ws[0], ws[0]], 1)


def test_building_a_policy_checks_what_parsing_checks() -> None:
    w = {"W": Witness("W", W1)}
    with pytest.raises(BadData, match="not a witness or group"):
        Policy((), w, {}, "V")
    with pytest.raises(BadData, match="threshold 2"):
        Policy((), w, {"g": Group("g", 2, ("W",))}, "g")
    with pytest.raises(BadData, match="no space"):
        Policy((), {"a b": Witness("a b", W1)}, {}, QUORUM_NONE)
    with pytest.raises(BadData, match="two logs"):
        Policy((Log(LOG), Log(LOG, "https://x")), {}, {}, QUORUM_NONE)


# -- round trips and fuzzing ---------------------------------------------------------------

_name_chars = st.characters(blacklist_categories=["Cs"], blacklist_characters=" \t\n",
                            min_codepoint=0x21)
_names = st.text(_name_chars, min_size=1, max_size=12).filter(
    lambda s: s != QUORUM_NONE and all(c != "\x7f" for c in s))
_urls = st.none() | st.from_regex(r"https://[a-z0-9.]{1,20}/[a-zA-Z0-9/#?&=-]{0,20}",
                                  fullmatch=True)


@st.composite
def policies(draw: st.DrawFn) -> Policy:
    names = draw(st.lists(_names, min_size=0, max_size=8, unique=True))
    n_witnesses = draw(st.integers(0, len(names)))
    witnesses = {name: Witness(name, wkey(f"k{i}", 3000 + i), draw(_urls))
                 for i, name in enumerate(names[:n_witnesses])}
    defined = list(witnesses)
    groups: dict[str, Group] = {}
    for name in names[n_witnesses:]:
        if not defined:
            break
        members = draw(st.lists(st.sampled_from(defined), min_size=1, max_size=6, unique=True))
        k = draw(st.integers(1, len(members)))
        groups[name] = Group(name, k, tuple(members))
        defined.append(name)
    quorum = draw(st.sampled_from([QUORUM_NONE, *defined]))
    logs = tuple(Log(lkey(f"log{i}.example/{i}", 4000 + i), draw(_urls))
                 for i in range(draw(st.integers(0, 3))))
    return Policy(logs, witnesses, groups, quorum)


@settings(max_examples=150, deadline=None)
@given(policies())
def test_to_text_round_trips(p: Policy) -> None:
    text = p.to_text()
    again = parse(text)
    assert again == p
    assert list(again.witnesses) == list(p.witnesses)
    assert again.to_text() == text


@settings(max_examples=150, deadline=None)
@given(policies(), st.data())
def test_satisfied_agrees_with_the_recursive_definition(p: Policy, data: st.DataObject
                                                        ) -> None:
    valid = set(data.draw(st.lists(st.sampled_from(list(p.witnesses) or ["x"]))))

    def witnessed(name: str) -> bool:  # §Defining a witness group, read literally
        if name in p.witnesses:
            return name in valid
        g = p.groups[name]
        return sum(witnessed(m) for m in g.members) >= g.threshold

    assert p.satisfied(valid) is (p.quorum == QUORUM_NONE or witnessed(p.quorum))
    need = p.min_witnesses()
    members = p.quorum_members()
    assert p.satisfied(set(members))
    assert need <= len(members)


_lines = st.sampled_from([
    "quorum none", "quorum W", "quorum g", f"witness W {W1}", f"witness V {W2}",
    "group g any W", "group g 2 W V", "group h all g W", f"log {LOG}", "# c", "", " \t",
    "witness W", "group", "log x", "quorum", "\r", "none"])


@settings(max_examples=300, deadline=None)
@given(st.lists(_lines | st.text(max_size=20), max_size=8), st.booleans())
def test_any_text_parses_or_fails_with_a_line_in_range(lines: list[str], end: bool) -> None:
    text = "\n".join(lines) + ("\n" if end else "")
    line = 0
    try:
        p = parse(text)
    except PolicyError as exc:
        line = exc.line
    if line:
        assert 1 <= line <= text.count("\n") + 1
    else:
        assert parse(p.to_text()) == p


# -- checking a checkpoint's cosignatures against a policy -----------------------------------

T = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


def _cosigned_note(signers: list[str]) -> SignedNote:
    log = Ed25519Signer("example.org/log", _private(1000))
    body = Checkpoint("example.org/log", 5, b"\x01" * 32).body()
    note = SignedNote.parse(Checkpoint("example.org/log", 5, b"\x01" * 32).sign([log]))
    index = {**{k: i for k, i in zip(("X1", "X2", "X3"), (1, 2, 3), strict=True)},
             **{k: 10 + i for k, i in zip(("Y1", "Y2", "Y3"), (1, 2, 3), strict=True)}}
    sigs = [CosignatureV1Signer(f"{n[0].lower()}{n[1]}.example", _private(index[n]))
            .cosign(body, T) for n in signers]
    return SignedNote(note.text, (*note.signatures, *sigs))


def test_verify_policy_cosignatures_counts_witnesses_by_their_policy_names() -> None:
    p = parse(SPEC_EXAMPLE)
    got = verify_policy_cosignatures(_cosigned_note(["X1", "X3", "Y2"]), p)
    assert sorted(name for name, _ in got) == ["X1", "X3", "Y2"]
    with pytest.raises(VerificationError, match=r"2 valid witness cosignature\(s\), 3 "
                                                r"required: .*quorum 'X-and-Y' is not "
                                                r"satisfied \(cosigned by: X1, X2; missing: X3, "
                                                r"Y1, Y2, Y3\)"):
        verify_policy_cosignatures(_cosigned_note(["X1", "X2"]), p)
    assert verify_policy_cosignatures(_cosigned_note([]), parse("quorum none\n")) == []


def test_a_bad_cosignature_by_a_policy_witness_fails_even_if_the_quorum_is_met() -> None:
    note = _cosigned_note(["X1", "X2", "Y1", "Y2"])
    sigs = list(note.signatures)
    last = sigs[-1]
    sigs[-1] = type(last)(last.name, last.key_id, last.signature[:-1] + b"\x00")
    with pytest.raises(VerificationError, match="does not verify"):
        verify_policy_cosignatures(SignedNote(note.text, tuple(sigs)), parse(SPEC_EXAMPLE))
