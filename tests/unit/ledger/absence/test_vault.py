"""The personal-data vault: sealing, opening, tamper detection, commitments, key files."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import os
import re
import stat
from pathlib import Path

import pytest
import rfc8785

from ledger.absence.vault import PersonalDetails, SealedPerson, Vault, new_subject_id
from ledger.errors import BadData, CouldNotCheck, NotAllowed

MASTER = bytes(range(32))
OTHER_MASTER = bytes(range(1, 33))
ALICE = PersonalDetails(name="欧阳𠮷", id_number="11010519491231002X",
                        phone="13800138000", email="oyj@example.cn")
BOB = PersonalDetails(name="张三", id_number="110105194912310037", phone="", email="z@example.cn")
SUBJECT = "sub_abcdefghijklmnopqrstuvwxyz"
OTHER_SUBJECT = "sub_zyxwvutsrqponmlkjihgfedcba"


def _flip(data: bytes, position: int) -> bytes:
    return data[:position] + bytes([data[position] ^ 0x01]) + data[position + 1:]


def sealed_alice() -> tuple[Vault, SealedPerson]:
    """A vault on ``MASTER`` and Alice's details sealed in it for ``SUBJECT``."""
    vault = Vault(MASTER)
    return vault, vault.seal(SUBJECT, ALICE)


def _with(sealed: SealedPerson, part: str, value: bytes) -> SealedPerson:
    if part == "wrapped_key":
        return dataclasses.replace(sealed, wrapped_key=value)
    return dataclasses.replace(sealed, ciphertext=value)


def _assert_no_personal_data(message: str, details: PersonalDetails) -> None:
    for value in details.to_json().values():
        if value:
            assert value not in message
    assert details.id_number.lower() not in message


def test_round_trip() -> None:
    vault, sealed = sealed_alice()
    assert vault.open(SUBJECT, sealed) == ALICE
    # A second Vault with the same master key (a restart) opens it too.
    assert Vault(MASTER).open(SUBJECT, sealed) == ALICE


def test_sealed_record_holds_no_plaintext() -> None:
    sealed = Vault(MASTER).seal(SUBJECT, ALICE)
    blob = sealed.wrapped_key + sealed.ciphertext
    for value in ALICE.to_json().values():
        assert value.encode("utf-8") not in blob
    assert re.fullmatch(r"[0-9a-f]{64}", sealed.commitment)
    assert re.fullmatch(r"[0-9a-f]{64}", sealed.blind_index)
    # nonce (12) + 32-byte key + 16-byte tag
    assert len(sealed.wrapped_key) == 12 + 32 + 16


def test_plaintext_layout_is_canonical_json_with_salt() -> None:
    # Decrypt by hand with the documented layout: an independent reading of the format.
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    vault, sealed = sealed_alice()
    aad = SUBJECT.encode()
    data_key = AESGCM(MASTER).decrypt(sealed.wrapped_key[:12], sealed.wrapped_key[12:], aad)
    plaintext = AESGCM(data_key).decrypt(sealed.ciphertext[:12], sealed.ciphertext[12:], aad)
    salt = vault.salt_of(SUBJECT, sealed)
    expected = {**ALICE.to_json(), "salt": base64.b64encode(salt).decode()}
    assert plaintext == rfc8785.dumps(expected)


def test_wrapped_key_and_ciphertext_differ_per_person_and_per_seal() -> None:
    vault = Vault(MASTER)
    a1 = vault.seal(SUBJECT, ALICE)
    a2 = vault.seal(SUBJECT, ALICE)
    b = vault.seal(OTHER_SUBJECT, BOB)
    assert len({a1.wrapped_key, a2.wrapped_key, b.wrapped_key}) == 3
    assert len({a1.ciphertext, a2.ciphertext, b.ciphertext}) == 3
    # Fresh salt per seal: the same person gets unlinkable commitments.
    assert a1.commitment != a2.commitment
    assert vault.salt_of(SUBJECT, a1) != vault.salt_of(SUBJECT, a2)
    # ... but the same blind index.
    assert a1.blind_index == a2.blind_index != b.blind_index


@pytest.mark.parametrize("part", ["wrapped_key", "ciphertext"])
def test_tampering_any_byte_is_detected(part: str) -> None:
    vault, sealed = sealed_alice()
    blob: bytes = getattr(sealed, part)
    for position in range(len(blob)):
        tampered = _with(sealed, part, _flip(blob, position))
        with pytest.raises(CouldNotCheck) as info:
            vault.open(SUBJECT, tampered)
        _assert_no_personal_data(str(info.value), ALICE)


@pytest.mark.parametrize("part", ["wrapped_key", "ciphertext"])
def test_truncated_or_empty_parts_are_detected(part: str) -> None:
    vault, sealed = sealed_alice()
    blob: bytes = getattr(sealed, part)
    for cut in (b"", blob[:12], blob[:-1]):
        with pytest.raises(CouldNotCheck):
            vault.open(SUBJECT, _with(sealed, part, cut))


def test_swapped_commitment_or_blind_index_is_detected() -> None:
    vault = Vault(MASTER)
    alice = vault.seal(SUBJECT, ALICE)
    bob = vault.seal(OTHER_SUBJECT, BOB)
    with pytest.raises(CouldNotCheck, match="commitment"):
        vault.open(SUBJECT, dataclasses.replace(alice, commitment=bob.commitment))
    with pytest.raises(CouldNotCheck, match="blind index"):
        vault.open(SUBJECT, dataclasses.replace(alice, blind_index=bob.blind_index))


def test_wrong_subject_is_refused() -> None:
    vault, sealed = sealed_alice()
    with pytest.raises(CouldNotCheck) as info:
        vault.open(OTHER_SUBJECT, sealed)
    assert OTHER_SUBJECT in str(info.value)
    _assert_no_personal_data(str(info.value), ALICE)
    with pytest.raises(CouldNotCheck):
        vault.salt_of(OTHER_SUBJECT, sealed)


def test_moving_the_data_ciphertext_to_another_subject_is_refused() -> None:
    # Re-wrapping keys is not enough: the details themselves are bound to the subject.
    vault = Vault(MASTER)
    alice = vault.seal(SUBJECT, ALICE)
    bob = vault.seal(OTHER_SUBJECT, BOB)
    with pytest.raises(CouldNotCheck):
        vault.open(OTHER_SUBJECT, dataclasses.replace(bob, ciphertext=alice.ciphertext))


def test_wrong_master_key_is_refused() -> None:
    sealed = Vault(MASTER).seal(SUBJECT, ALICE)
    with pytest.raises(CouldNotCheck) as info:
        Vault(OTHER_MASTER).open(SUBJECT, sealed)
    _assert_no_personal_data(str(info.value), ALICE)


@pytest.mark.parametrize("key", [b"", b"\x00" * 16, b"\x00" * 31, b"\x00" * 33])
def test_master_key_must_be_32_bytes(key: bytes) -> None:
    with pytest.raises(BadData):
        Vault(key)


@pytest.mark.parametrize("subject", [
    "", "alice", "sub_ABCDEFGHIJKLMNOPQRSTUVWXYZ", "sub_abcdefghijklmnopqrstuvwxy",
    "sub_abcdefghijklmnopqrstuvwx01", SUBJECT + "\n"])
def test_subject_must_be_a_pseudonym(subject: str) -> None:
    vault = Vault(MASTER)
    with pytest.raises(BadData):
        vault.seal(subject, ALICE)
    sealed = vault.seal(SUBJECT, ALICE)
    with pytest.raises(BadData):
        vault.open(subject, sealed)


def test_commitment_is_recomputable_from_details_and_salt() -> None:
    vault, sealed = sealed_alice()
    salt = vault.salt_of(SUBJECT, sealed)
    assert len(salt) == 16
    assert Vault.commitment(ALICE, salt) == sealed.commitment
    # Independently, from the documented formula and the reference RFC 8785 encoder.
    expected = hashlib.sha256(
        b"absentia-commitment/v1\n" + salt + rfc8785.dumps(ALICE.to_json())).hexdigest()
    assert sealed.commitment == expected
    # Any other details or salt give another commitment.
    assert Vault.commitment(dataclasses.replace(ALICE, phone="13900139000"), salt) != expected
    assert Vault.commitment(ALICE, bytes(16)) != expected


def test_commitment_needs_a_16_byte_salt() -> None:
    with pytest.raises(BadData):
        Vault.commitment(ALICE, b"short")


def test_erasure_leaves_the_commitment_unlinkable() -> None:
    # Without the salt (inside the deleted ciphertext) knowing the details is not enough.
    _, sealed = sealed_alice()
    guesses = {Vault.commitment(ALICE, bytes([i]) * 16) for i in range(256)}
    assert sealed.commitment not in guesses


def test_blind_index() -> None:
    vault = Vault(MASTER)
    upper = vault.blind_index("11010519491231002X")
    assert vault.blind_index("11010519491231002x") == upper
    assert vault.blind_index(" 11010519491231002X\n") == upper
    assert vault.blind_index("１１０１０５１９４９１２３１００２Ｘ") == upper  # full-width
    assert vault.blind_index("110105194912310037") != upper
    assert Vault(OTHER_MASTER).blind_index("11010519491231002X") != upper
    assert re.fullmatch(r"[0-9a-f]{64}", upper)
    # Keyed: not a plain hash of the ID number.
    assert upper != hashlib.sha256(b"11010519491231002X").hexdigest()
    assert vault.seal(SUBJECT, ALICE).blind_index == upper


def test_new_subject_id_format_and_uniqueness() -> None:
    ids = [new_subject_id() for _ in range(2000)]
    for subject in ids:
        assert re.fullmatch(r"sub_[a-z2-7]{26}", subject), subject
    assert len(set(ids)) == len(ids)
    # Every base32 character shows up somewhere in the first 25 positions (random bytes).
    assert set("".join(s[4:29] for s in ids)) == set("abcdefghijklmnopqrstuvwxyz234567")
    # The subject round-trips to 16 bytes.
    raw = base64.b32decode(ids[0][4:].upper() + "======")
    assert len(raw) == 16


def test_personal_details_repr_is_redacted() -> None:
    sealed = Vault(MASTER).seal(SUBJECT, ALICE)
    for text in (repr(ALICE), str(ALICE)):
        _assert_no_personal_data(text, ALICE)
    assert isinstance(sealed, SealedPerson)


def test_lone_surrogate_is_refused_without_echo() -> None:
    bad = dataclasses.replace(ALICE, name="欧阳\ud800")
    with pytest.raises(BadData) as info:
        Vault(MASTER).seal(SUBJECT, bad)
    assert "欧阳" not in str(info.value)


# --- the master key file -----------------------------------------------------------


def test_master_key_file_created_0600_in_0700_dir_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "nested" / "master.key"
    key = Vault.load_or_create_master_key(path)
    assert len(key) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    # Documented format: one line of base64 of the 32 bytes.
    assert path.read_bytes() == base64.b64encode(key) + b"\n"
    assert Vault.load_or_create_master_key(path) == key
    # No temporary files are left behind.
    assert sorted(p.name for p in path.parent.iterdir()) == ["master.key"]
    # Another file gets another key.
    assert Vault.load_or_create_master_key(path.with_name("other.key")) != key
    # And the key works: what one process seals, the next one opens.
    sealed = Vault(key).seal(SUBJECT, ALICE)
    assert Vault(Vault.load_or_create_master_key(path)).open(SUBJECT, sealed) == ALICE


def test_master_key_file_respects_a_restrictive_umask(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        path = tmp_path / "k" / "master.key"
        Vault.load_or_create_master_key(path)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644, 0o620])
def test_master_key_readable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "master.key"
    key = Vault.load_or_create_master_key(path)
    path.chmod(mode)
    with pytest.raises(NotAllowed) as info:
        Vault.load_or_create_master_key(path)
    assert f"chmod 600 {path}" in str(info.value)
    assert base64.b64encode(key).decode() not in str(info.value)
    path.chmod(0o600)
    assert Vault.load_or_create_master_key(path) == key


@pytest.mark.parametrize("content", [b"", b"not base64!\n", base64.b64encode(bytes(31)) + b"\n",
                                     base64.b64encode(bytes(33)), bytes(32)])
def test_corrupt_master_key_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "master.key"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(content)
    with pytest.raises(CouldNotCheck, match="corrupt"):
        Vault.load_or_create_master_key(path)
    assert path.read_bytes() == content  # never overwritten


def test_master_key_file_accepts_base64_without_newline(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(base64.b64encode(MASTER))
    assert Vault.load_or_create_master_key(path) == MASTER


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files regardless of mode")
def test_unreadable_master_key_file(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    Vault.load_or_create_master_key(path)
    path.chmod(0o000)
    try:
        with pytest.raises(CouldNotCheck, match="cannot read"):
            Vault.load_or_create_master_key(path)
    finally:
        path.chmod(0o600)


def test_master_key_path_that_is_a_directory(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    path.mkdir(mode=0o700)
    with pytest.raises(CouldNotCheck):
        Vault.load_or_create_master_key(path)


def test_master_key_cannot_be_created(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_bytes(b"")
    with pytest.raises(CouldNotCheck, match="cannot create"):
        Vault.load_or_create_master_key(not_a_dir / "master.key")


def test_dangling_symlink_master_key(tmp_path: Path) -> None:
    path = tmp_path / "master.key"
    path.symlink_to(tmp_path / "gone")
    with pytest.raises(CouldNotCheck, match="cannot read"):
        Vault.load_or_create_master_key(path)
    assert not (tmp_path / "gone").exists()  # never created through the link
