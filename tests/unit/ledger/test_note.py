"""C2SP signed-note: the Go reference vector, verification rules and malformed input."""

from __future__ import annotations

import base64
import hashlib
import json
import struct
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.errors import BadData, VerificationError
from ledger.note import (
    MAX_SIGNATURES,
    Ed25519Signer,
    Ed25519Verifier,
    NoteSignature,
    NoteSigner,
    SignedNote,
    check_key_name,
    key_id,
    sign_note,
)

VECTORS = Path(__file__).resolve().parents[2] / "vectors"
EM_DASH = "\u2014"


def _vector() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(
        (VECTORS / "signed_note_go.json").read_text(encoding="utf-8")
    )
    return data


GO = _vector()


def go_signer() -> Ed25519Signer:
    # PRIVATE+KEY+<name>+<hash>+<base64>; the base64 itself may contain '+'.
    parts = GO["private_key"].split("+", 4)
    assert parts[:2] == ["PRIVATE", "KEY"]
    name, hex_id, b64 = parts[2], parts[3], parts[4]
    raw = base64.b64decode(b64, validate=True)
    assert raw[0] == 0x01
    assert len(raw) == 33
    signer = Ed25519Signer(name, Ed25519PrivateKey.from_private_bytes(raw[1:]))
    assert f"{signer.key_id:08x}" == hex_id
    return signer


def seeded_signer(name: str, seed: bytes) -> Ed25519Signer:
    return Ed25519Signer(name, Ed25519PrivateKey.from_private_bytes(hashlib.sha256(seed).digest()))


PETER = go_signer()
OTHER = seeded_signer("example.com/other", b"other")


# -- the Go reference vector ------------------------------------------------------


def test_go_vector_signs_byte_for_byte() -> None:
    signers: list[NoteSigner] = [PETER]
    assert sign_note(GO["text"], signers) == GO["signed_note"]


def test_go_vector_verifier_key() -> None:
    v = Ed25519Verifier.from_vkey(GO["verifier_key"])
    assert v.name == GO["key_name"] == PETER.name
    assert f"{v.key_id:08x}" == GO["key_id"]
    assert v.public_key == PETER.verifier.public_key
    assert v.vkey == GO["verifier_key"]
    assert PETER.verifier.vkey == GO["verifier_key"]
    assert v == PETER.verifier


def test_key_id_is_sha256_of_name_type_key() -> None:
    pub = PETER.verifier.public_key
    digest = hashlib.sha256(b"PeterNeumann\n\x01" + pub).digest()
    assert key_id("PeterNeumann", 0x01, pub) == int.from_bytes(digest[:4], "big")
    assert key_id("PeterNeumann", 0x01, pub) == PETER.key_id


def test_go_vector_parses_and_verifies() -> None:
    note = SignedNote.parse(GO["signed_note"])
    assert note.text == GO["text"]
    assert len(note.signatures) == 1
    sig = note.signatures[0]
    assert sig.name == "PeterNeumann"
    assert f"{sig.key_id:08x}" == GO["key_id"]
    assert len(sig.signature) == 64
    assert note.to_text() == GO["signed_note"]
    v = Ed25519Verifier.from_vkey(GO["verifier_key"])
    assert note.verify([v]) == [v]
    # bytes input works too.
    assert SignedNote.parse(GO["signed_note"].encode()).verify([v]) == [v]


def test_altered_text_fails() -> None:
    v = PETER.verifier
    altered = GO["signed_note"].replace("cryptography", "cryptographY", 1)
    with pytest.raises(VerificationError):
        SignedNote.parse(altered).verify([v])
    # Dropping a line of the text.
    lines = GO["signed_note"].split("\n", 1)[1]
    with pytest.raises(VerificationError):
        SignedNote.parse(lines).verify([v])


# -- known and unknown keys -------------------------------------------------------


def test_unknown_signatures_are_ignored() -> None:
    text = "example.com/log\n42\n" + base64.b64encode(bytes(32)).decode() + "\n"
    signers: list[NoteSigner] = [OTHER, PETER]
    note = SignedNote.parse(sign_note(text, signers))
    assert [s.name for s in note.signatures] == [OTHER.name, PETER.name]
    assert note.verify([PETER.verifier]) == [PETER.verifier]
    assert note.verify([OTHER.verifier]) == [OTHER.verifier]
    assert note.verify([PETER.verifier, OTHER.verifier]) == [OTHER.verifier, PETER.verifier]


def test_only_unknown_signatures_fail() -> None:
    only_other: list[NoteSigner] = [OTHER]
    note = SignedNote.parse(sign_note(GO["text"], only_other))
    with pytest.raises(VerificationError, match="no signature by a trusted key"):
        note.verify([PETER.verifier])
    with pytest.raises(VerificationError):
        note.verify([])


def test_same_name_or_same_id_but_not_both_is_unknown() -> None:
    """signed-note: ignore keys that share a name or an ID, but not both, with a known key."""
    # Same name as Peter, different key (so different ID): unknown, ignored.
    impostor = seeded_signer("PeterNeumann", b"impostor")
    assert impostor.key_id != PETER.key_id
    signers: list[NoteSigner] = [impostor, PETER]
    note = SignedNote.parse(sign_note(GO["text"], signers))
    assert note.verify([PETER.verifier]) == [PETER.verifier]
    alone: list[NoteSigner] = [impostor]
    with pytest.raises(VerificationError):
        SignedNote.parse(sign_note(GO["text"], alone)).verify([PETER.verifier])
    # Same ID as Peter under another name: unknown, ignored.
    good = SignedNote.parse(GO["signed_note"]).signatures[0]
    renamed = SignedNote(GO["text"], (NoteSignature("Peter", good.key_id, good.signature),))
    with pytest.raises(VerificationError, match="no signature by a trusted key"):
        SignedNote.parse(renamed.to_text()).verify([PETER.verifier])


def test_known_key_with_bad_signature_fails() -> None:
    good = SignedNote.parse(GO["signed_note"]).signatures[0]
    for i in (0, 31, 63):
        sig = bytearray(good.signature)
        sig[i] ^= 0x01
        bad = SignedNote(GO["text"], (NoteSignature(good.name, good.key_id, bytes(sig)),))
        with pytest.raises(VerificationError, match="does not verify"):
            SignedNote.parse(bad.to_text()).verify([PETER.verifier])
    # Wrong length signature from a known key.
    short = SignedNote(GO["text"], (NoteSignature(good.name, good.key_id, good.signature[:-1]),))
    with pytest.raises(VerificationError):
        SignedNote.parse(short.to_text()).verify([PETER.verifier])
    # A bad known signature is fatal even beside a good one from another known key.
    signers: list[NoteSigner] = [OTHER]
    other_sig = SignedNote.parse(sign_note(GO["text"], signers)).signatures[0]
    sig = bytearray(good.signature)
    sig[5] ^= 0x80
    both = SignedNote(GO["text"], (other_sig, NoteSignature(good.name, good.key_id, bytes(sig))))
    with pytest.raises(VerificationError):
        SignedNote.parse(both.to_text()).verify([PETER.verifier, OTHER.verifier])


@settings(max_examples=40, deadline=None)
@given(
    lines=st.lists(
        st.text(
            alphabet=st.characters(
                min_codepoint=0x20, blacklist_categories=["Cs"], blacklist_characters="\n"
            ),
            max_size=40,
        ),
        min_size=1,
        max_size=5,
    )
)
def test_sign_then_verify_any_text(lines: list[str]) -> None:
    text = "\n".join(lines) + "\n"
    signers: list[NoteSigner] = [PETER, OTHER]
    signed = sign_note(text, signers)
    note = SignedNote.parse(signed)
    assert note.text == text
    assert note.to_text() == signed
    assert note.verify([PETER.verifier]) == [PETER.verifier]
    # Changing any one character of the text breaks the signature.
    i = len(text) // 2
    if text[i] != "\n":
        changed = text[:i] + ("a" if text[i] != "a" else "b") + text[i + 1 :]
        with pytest.raises(VerificationError):
            SignedNote(changed, note.signatures).verify([PETER.verifier])


def test_sign_note_rejects_bad_text() -> None:
    signers: list[NoteSigner] = [PETER]
    with pytest.raises(BadData):
        sign_note("no final newline", signers)
    with pytest.raises(BadData):
        sign_note("tab\there\n", signers)
    with pytest.raises(BadData):
        sign_note("cr\r\n", signers)


# -- malformed notes --------------------------------------------------------------

SIG_LINE = GO["signed_note"][len(GO["text"]) + 1 :]
SIG_B64 = SIG_LINE.rsplit(" ", 1)[1].rstrip("\n")


@pytest.mark.parametrize(
    "note",
    [
        pytest.param(GO["text"] + SIG_LINE, id="no-blank-line"),
        pytest.param(GO["signed_note"][:-1], id="no-final-newline"),
        pytest.param(GO["signed_note"] + "\n", id="trailing-blank-line"),
        pytest.param(GO["text"] + "\n", id="no-signatures"),
        pytest.param("\x01" + GO["signed_note"], id="control-char-in-text"),
        pytest.param(GO["text"].replace(" ", "\t", 1) + "\n" + SIG_LINE, id="tab-in-text"),
        pytest.param(GO["text"].replace("\n", "\r\n", 1) + "\n" + SIG_LINE, id="cr-in-text"),
        pytest.param(GO["signed_note"][:-1] + "\x7f\x00\n", id="nul-in-signature"),
        pytest.param(GO["text"] + "\n" + f"{EM_DASH} PeterNeumann {SIG_B64[:-2]}\n",
                     id="bad-base64-padding"),
        pytest.param(GO["text"] + "\n" + f"{EM_DASH} PeterNeumann {SIG_B64[:10]}*{SIG_B64[11:]}\n",
                     id="bad-base64-char"),
        pytest.param(GO["text"] + "\n" + f"{EM_DASH} PeterNeumann AAAA\n", id="sig-too-short"),
        pytest.param(GO["text"] + "\n" + f"{EM_DASH} Peter Neumann {SIG_B64}\n",
                     id="space-in-key-name"),
        pytest.param(GO["text"] + "\n" + f"{EM_DASH} Peter+Neumann {SIG_B64}\n",
                     id="plus-in-key-name"),
        pytest.param(GO["text"] + "\n" + f"{EM_DASH} Peter\u00a0Neumann {SIG_B64}\n",
                     id="unicode-space-in-key-name"),
        pytest.param(GO["text"] + "\n" + f"{EM_DASH}  {SIG_B64}\n", id="empty-key-name"),
        pytest.param(GO["text"] + "\n" + f"{EM_DASH} PeterNeumann\n", id="no-signature"),
        pytest.param(GO["text"] + "\n" + f"- PeterNeumann {SIG_B64}\n", id="hyphen-not-em-dash"),
        pytest.param(GO["text"] + "\n" + f"{EM_DASH}PeterNeumann {SIG_B64}\n",
                     id="no-space-after-dash"),
        pytest.param(GO["signed_note"] + "garbage\n", id="garbage-signature-line"),
        pytest.param(
            GO["text"] + "\n" + f"{EM_DASH} PeterNeumann {SIG_B64}\u2028{EM_DASH} X {SIG_B64}\n",
            id="u2028-inside-signature-line",
        ),
    ],
)
def test_malformed_notes_raise_bad_data(note: str) -> None:
    with pytest.raises(BadData):
        SignedNote.parse(note).verify([PETER.verifier])
    with pytest.raises(BadData):
        SignedNote.parse(note.encode("utf-8"))


def test_malformed_is_bad_data_not_verification_error() -> None:
    """Parse errors are BadData proper, raised before any signature is looked at."""
    with pytest.raises(BadData) as info:
        SignedNote.parse(GO["text"] + SIG_LINE)
    assert not isinstance(info.value, VerificationError)


def test_invalid_utf8_and_oversize_notes() -> None:
    with pytest.raises(BadData, match="UTF-8"):
        SignedNote.parse(b"\xff\xfe\n\n" + SIG_LINE.encode())
    with pytest.raises(BadData, match="too large"):
        SignedNote.parse(b"a" * (1 << 20) + b"\n\n" + SIG_LINE.encode())


def test_signature_count_limit() -> None:
    sig = SignedNote.parse(GO["signed_note"]).signatures[0]
    ok = SignedNote(GO["text"], (sig,) * MAX_SIGNATURES).to_text()
    assert len(SignedNote.parse(ok).signatures) == MAX_SIGNATURES
    # signed-note: verifiers MUST accept at least 16 signatures.
    assert MAX_SIGNATURES >= 16
    too_many = SignedNote(GO["text"], (sig,) * (MAX_SIGNATURES + 1)).to_text()
    with pytest.raises(BadData, match="too many"):
        SignedNote.parse(too_many)


def test_text_may_contain_blank_lines() -> None:
    """The text is separated from the signatures by the *last* blank line."""
    text = "first\n\nsecond\n"
    signers: list[NoteSigner] = [PETER]
    note = SignedNote.parse(sign_note(text, signers))
    assert note.text == text
    note.verify([PETER.verifier])


# -- key names and verifier keys --------------------------------------------------


@pytest.mark.parametrize("name", ["", "a b", "a+b", "a\tb", "a\u3000b", "a\nb", " "])
def test_bad_key_names(name: str) -> None:
    with pytest.raises(BadData):
        check_key_name(name)
    with pytest.raises(BadData):
        Ed25519Verifier.from_public_key(name, bytes(32))
    with pytest.raises(BadData):
        Ed25519Signer(name, Ed25519PrivateKey.from_private_bytes(bytes(32)))


def test_verifier_public_key_length() -> None:
    for n in (0, 31, 33):
        with pytest.raises(BadData):
            Ed25519Verifier.from_public_key("a", bytes(n))


def _vkey_with(name: str, hex_id: str, raw: bytes) -> str:
    return f"{name}+{hex_id}+{base64.b64encode(raw).decode()}"


def test_mangled_vkeys_raise_bad_data() -> None:
    vkey = GO["verifier_key"]
    name, hex_id, b64 = vkey.split("+", 2)
    raw = base64.b64decode(b64)
    pub = raw[1:]
    bad = [
        f"{name}+c74f20a4+{b64}",  # wrong hash
        f"{name}+00000000+{b64}",
        f"{name}+{hex_id[:-1]}+{b64}",
        f"{name}+{hex_id}0+{b64}",
        f"{name}+zzzzzzzz+{b64}",
        f"{name}+{hex_id}+{b64[:-1]}",  # truncated
        f"{name}+{hex_id}+{b64[:-4]}",
        f"{name}+{hex_id}+",
        f"{name}+{hex_id}",
        name,
        f"+{hex_id}+{b64}",
        f"Peter Neumann+{hex_id}+{b64}",
        f"{name}+{hex_id}+{b64}AAAA",  # extended key
        f"{name}+{hex_id}+{b64}!",
        # Wrong type byte; the ID is recomputed for that type so only the type is off.
        _vkey_with(name, f"{key_id(name, 0x02, pub):08x}", b"\x02" + pub),
        _vkey_with(name, f"{key_id(name, 0x04, pub):08x}", b"\x04" + pub),
        # Wrong length key, ID recomputed to match.
        _vkey_with(name, f"{key_id(name, 0x01, pub[:31]):08x}", b"\x01" + pub[:31]),
        _vkey_with(name, f"{key_id(name, 0x01, pub + b'x'):08x}", b"\x01" + pub + b"x"),
    ]
    for k in bad:
        with pytest.raises(BadData):
            Ed25519Verifier.from_vkey(k)


def test_every_substring_and_byte_change_of_vkey_is_rejected() -> None:
    """As the Go reference tests it: no proper substring nor one-byte change parses."""
    vkey = GO["verifier_key"]
    for i in range(len(vkey)):
        for j in range(i + 1, len(vkey) + 1):
            if (i, j) == (0, len(vkey)):
                continue
            with pytest.raises(BadData):
                Ed25519Verifier.from_vkey(vkey[i:j])
    for i in range(len(vkey)):
        changed = vkey[:i] + chr(ord(vkey[i]) + 1) + vkey[i + 1 :]
        with pytest.raises(BadData):
            Ed25519Verifier.from_vkey(changed)


@settings(max_examples=30, deadline=None)
@given(
    name=st.text(
        alphabet=st.characters(blacklist_categories=["Cs", "Zs", "Zl", "Zp", "Cc"],
                               blacklist_characters="+"),
        min_size=1,
        max_size=30,
    ).filter(lambda s: not any(c.isspace() for c in s)),
    seed=st.binary(min_size=32, max_size=32),
)
def test_vkey_round_trip(name: str, seed: bytes) -> None:
    signer = Ed25519Signer(name, Ed25519PrivateKey.from_private_bytes(seed))
    vkey = signer.verifier.vkey
    assert Ed25519Verifier.from_vkey(vkey) == signer.verifier
    assert Ed25519Verifier.from_vkey(vkey).vkey == vkey
    # Signature lines encode the key ID big-endian ahead of the signature.
    signers: list[NoteSigner] = [signer]
    note = SignedNote.parse(sign_note("x\n", signers))
    blob = base64.b64decode(note.to_text().rsplit(" ", 1)[1])
    assert struct.unpack(">I", blob[:4])[0] == signer.key_id
    assert note.verify([Ed25519Verifier.from_vkey(vkey)]) == [signer.verifier]
