"""Tamper matrix: an attacker with write access to the database, on SQLite and PostgreSQL.

Each case builds a real log of 700 entries (level-0 tiles 000 and 001 full, 002 partial
with 188 hashes, and a partial level-1 tile of two hashes), signs a checkpoint, takes
the log's genuine verifier keys, then drops the append-only triggers and rewrites
history with raw SQL, exactly as someone with database access could.  The log is then
exported with ``export_log`` (which writes what the database holds, never repairing
it) and checked by the offline verifier, both through the Python API and through the
real ``absentia verify`` command: verification must fail and name the first bad index.

Controls: without an attack the log verifies; after a key rotation it verifies with
all keys, but an old checkpoint does not verify with only the new key; and with the
triggers in place the same raw UPDATE/DELETE statements are refused by the database.
"""

from __future__ import annotations

import base64
import dataclasses
import itertools
import os
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from ledger import merkle
from ledger.app.export import export_log
from ledger.app.samples import sample_events
from ledger.checkpoint import Checkpoint
from ledger.entry import Entry
from ledger.errors import VerificationError
from ledger.note import Ed25519Signer, Ed25519Verifier
from ledger.storage import LedgerStore, NewEntry
from ledger.storage.store import StoredCheckpoint
from ledger.storage.tables import APPEND_ONLY_TABLES
from ledger.verify import DirectorySource, VerifyReport, verify_log

LOG = "tamper-test"
ORIGIN = "example.org/tamper-test"
SIZE = 700
T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
ABSENTIA = Path(sys.executable).parent / "absentia"
CLI_TIMEOUT_S = 60
KINDS = (b"invited", b"joined", b"completed", b"withdrew")


# -- building the log -------------------------------------------------------------------


def sample_items(count: int, start: datetime) -> list[NewEntry]:
    """Exactly ``count`` sample entries (``sample_events`` yields "about" count)."""
    return [item for _, item in itertools.islice(sample_events(count, start), count)]


def build_log(store: LedgerStore, size: int = SIZE) -> StoredCheckpoint:
    """Create the log (entry 0), append sample events up to ``size``, sign a checkpoint."""
    store.create_log(LOG, ORIGIN, T0)
    store.append_batch(LOG, sample_items(size - 1, T0), T0 + timedelta(hours=1))
    cp = store.sign_checkpoint(LOG, T0 + timedelta(hours=2))
    assert cp.size == size
    return cp


def grow(store: LedgerStore, count: int, at: datetime) -> StoredCheckpoint:
    """Append ``count`` more sample events and sign a checkpoint at ``at``.

    The sample events restart their idempotency keys at evt-0000001, which the ledger
    would take for retries of the first batch, so these carry none.
    """
    items = [dataclasses.replace(i, idempotency_key=None) for i in sample_items(count, at)]
    receipts = store.append_batch(LOG, items, at)
    assert not any(r.duplicate for r in receipts)
    return store.sign_checkpoint(LOG, at + timedelta(seconds=1))


# -- raw SQL, as an attacker ------------------------------------------------------------


def sql(engine: Engine, statement: str, **params: Any) -> None:
    """Run one raw SQL statement in its own transaction."""
    with engine.begin() as conn:
        conn.execute(text(statement), params)


def rows(engine: Engine, statement: str, **params: Any) -> list[Any]:
    with engine.begin() as conn:
        return list(conn.execute(text(statement), params).all())


def trigger_names(engine: Engine) -> set[str]:
    """Names of the triggers on the ledger's tables (append-only ones and the heads)."""
    tables = ", ".join(f"'{t}'" for t in (*APPEND_ONLY_TABLES, "ledger_heads"))
    if engine.dialect.name == "sqlite":
        q = f"SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN ({tables})"
    else:
        q = ("SELECT t.tgname || ' ON ' || c.relname FROM pg_trigger t JOIN pg_class c "
             f"ON c.oid = t.tgrelid WHERE NOT t.tgisinternal AND c.relname IN ({tables})")
    return {str(r[0]) for r in rows(engine, q)}


def drop_triggers(engine: Engine) -> None:
    """Drop every trigger that guards the ledger, as an attacker with DDL rights would."""
    before = trigger_names(engine)
    if engine.dialect.name == "sqlite":
        expected = {f"{t}_no_{op}" for t in APPEND_ONLY_TABLES
                    for op in ("update", "delete", "replace")}
        expected |= {"ledger_heads_no_delete", "ledger_heads_no_replace",
                     "ledger_heads_forward"}
    else:
        expected = {f"{t}_{s} ON {t}" for t in APPEND_ONLY_TABLES
                    for s in ("append_only", "no_truncate")}
        expected |= {"ledger_heads_forward ON ledger_heads",
                     "ledger_heads_no_truncate ON ledger_heads"}
    assert before == expected
    for name in sorted(expected):
        sql(engine, f"DROP TRIGGER {name}")
    assert trigger_names(engine) == set()


def log_id(store: LedgerStore) -> int:
    return store.log(LOG).id


def entry_row(engine: Engine, lid: int, idx: int) -> tuple[bytes, bytes]:
    """(data, leaf_hash) of entry ``idx`` as stored."""
    (row,) = rows(engine, "SELECT data, leaf_hash FROM ledger_entries "
                          "WHERE log_id = :l AND idx = :i", l=lid, i=idx)
    return bytes(row[0]), bytes(row[1])


def all_leaf_hashes(engine: Engine, lid: int) -> list[bytes]:
    return [bytes(r[0]) for r in rows(
        engine, "SELECT leaf_hash FROM ledger_entries WHERE log_id = :l ORDER BY idx", l=lid)]


def other_kind(data: bytes) -> bytes:
    """``data`` with its ``kind`` replaced by another valid kind (still canonical JSON)."""
    for kind in KINDS:
        needle = b'"kind":"' + kind + b'"'
        if needle in data:
            new = KINDS[(KINDS.index(kind) + 1) % len(KINDS)]
            return data.replace(needle, b'"kind":"' + new + b'"')
    # connection_failed / device_incompatible
    for kind in (b"connection_failed", b"device_incompatible"):
        needle = b'"kind":"' + kind + b'"'
        if needle in data:
            return data.replace(needle, b'"kind":"completed"')
    raise AssertionError(f"entry has no kind to change: {data[:80]!r}")


Attack = Callable[[Engine, int], None]


def flip_byte(i: int) -> Attack:
    """Change one byte of entry ``i``'s data, leaving its leaf_hash column alone."""

    def attack(engine: Engine, lid: int) -> None:
        data, _ = entry_row(engine, lid, i)
        changed = bytearray(data)
        pos = data.index(b'"kind":"') + len(b'"kind":"')
        changed[pos] ^= 0x20  # "joined" -> "Joined"
        sql(engine, "UPDATE ledger_entries SET data = :d WHERE log_id = :l AND idx = :i",
            d=bytes(changed), l=lid, i=i)

    return attack


def rewrite_and_rehash(i: int) -> Attack:
    """Rewrite entry ``i`` (still well-formed) and recompute its leaf_hash column."""

    def attack(engine: Engine, lid: int) -> None:
        data, _ = entry_row(engine, lid, i)
        new = other_kind(data)
        assert new != data
        Entry.decode(new)  # still canonical and well-formed: only the chain can tell
        sql(engine, "UPDATE ledger_entries SET data = :d, leaf_hash = :h "
                    "WHERE log_id = :l AND idx = :i",
            d=new, h=merkle.leaf_hash(new), l=lid, i=i)

    return attack


def delete_entry(i: int) -> Attack:
    def attack(engine: Engine, lid: int) -> None:
        sql(engine, "DELETE FROM ledger_entries WHERE log_id = :l AND idx = :i", l=lid, i=i)

    return attack


def insert_forged(i: int) -> Attack:
    """Shift entries >= i up by one and insert a well-formed, chained entry at ``i``."""

    def attack(engine: Engine, lid: int) -> None:
        _, prev_leaf = entry_row(engine, lid, i - 1)
        original, _ = entry_row(engine, lid, i)
        forged = Entry(
            index=i, prev=prev_leaf, time=Entry.decode(original).time, type="platform.event",
            actor="platform:ai-interview",
            body={"event_id": "evt-forged", "window": "w-2026-0001",
                  "subject": "sub_" + "a" * 26, "kind": "completed",
                  "at": Entry.decode(original).time},
        ).encode()
        Entry.decode(forged)
        # Two steps, so that no intermediate row collides with the primary key.
        sql(engine, "UPDATE ledger_entries SET idx = -idx - 1 WHERE log_id = :l AND idx >= :i",
            l=lid, i=i)
        sql(engine, "UPDATE ledger_entries SET idx = -idx WHERE log_id = :l AND idx < 0", l=lid)
        sql(engine, "INSERT INTO ledger_entries (log_id, idx, leaf_hash, entry_type, data, "
                    "idem_key) VALUES (:l, :i, :h, 'platform.event', :d, NULL)",
            l=lid, i=i, h=merkle.leaf_hash(forged), d=forged)

    return attack


def swap(i: int, j: int) -> Attack:
    """Swap data and leaf_hash of entries ``i`` and ``j``."""

    def attack(engine: Engine, lid: int) -> None:
        di, hi = entry_row(engine, lid, i)
        dj, hj = entry_row(engine, lid, j)
        q = "UPDATE ledger_entries SET data = :d, leaf_hash = :h WHERE log_id = :l AND idx = :i"
        sql(engine, q, d=dj, h=hj, l=lid, i=i)
        sql(engine, q, d=di, h=hi, l=lid, i=j)

    return attack


def truncate_tail(k: int) -> Attack:
    def attack(engine: Engine, lid: int) -> None:
        sql(engine, "DELETE FROM ledger_entries WHERE log_id = :l AND idx >= :n",
            l=lid, n=SIZE - k)

    return attack


# -- verifying ---------------------------------------------------------------------------


def cli_env() -> dict[str, str]:
    """The environment for CLI subprocesses, without settings that would redirect them."""
    env = dict(os.environ)
    env.pop("ABSENTIA_DATABASE_URL", None)
    env.pop("ABSENTIA_CONFIG", None)
    return env


def run_verify_cli(prefix: Path, vkeys: Iterable[str], *extra: str,
                   module: bool = False) -> subprocess.CompletedProcess[str]:
    """``absentia verify PREFIX --key ...`` (or ``python -m ledger.verify_cli``)."""
    cmd = [sys.executable, "-m", "ledger.verify_cli"] if module else [str(ABSENTIA), "verify"]
    args = [str(prefix), "--quiet", "--jobs", "1"]
    for k in vkeys:
        args += ["--key", k]
    return subprocess.run([*cmd, *args, *extra], capture_output=True, text=True,
                          timeout=CLI_TIMEOUT_S, env=cli_env(), check=False)


def export(store: LedgerStore, out: Path) -> Path:
    export_log(store, LOG, out)
    return out


def verify(out: Path, verifiers: list[Ed25519Verifier], **kw: Any) -> VerifyReport:
    return verify_log(DirectorySource(out), verifiers, **kw)


# -- controls ------------------------------------------------------------------------------


def test_untampered_log_verifies_api_and_cli(store: LedgerStore, tmp_path: Path) -> None:
    cp = build_log(store)
    vkeys = store.log(LOG).verifier_keys
    out = export(store, tmp_path / "export")
    # The layout the matrix relies on: two full level-0 tiles, a partial one, level 1.
    for rel in ("tile/0/000", "tile/0/001", "tile/0/002.p/188", "tile/1/000.p/2",
                "tile/entries/000", "tile/entries/001", "tile/entries/002.p/188"):
        assert (out / rel).is_file(), rel

    report = verify(out, store.verifiers(LOG))
    assert (report.size, report.entries, report.root) == (SIZE, SIZE, cp.root)

    res = run_verify_cli(out, vkeys)
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith(f"OK: {ORIGIN}: {SIZE} entries")
    res = run_verify_cli(out, vkeys, module=True)
    assert res.returncode == 0, res.stderr


def test_triggers_refuse_raw_update_and_delete(store: LedgerStore, tmp_path: Path) -> None:
    build_log(store)
    engine = store.engine
    lid = log_id(store)
    statements = [
        "UPDATE ledger_entries SET data = data WHERE log_id = :l AND idx = 5",
        "UPDATE ledger_entries SET leaf_hash = leaf_hash WHERE log_id = :l",
        "DELETE FROM ledger_entries WHERE log_id = :l AND idx >= 690",
        "UPDATE ledger_checkpoints SET note = 'x' WHERE log_id = :l",
        "DELETE FROM ledger_checkpoints WHERE log_id = :l",
        "DELETE FROM ledger_nodes WHERE log_id = :l",
        "UPDATE ledger_keys SET vkey = 'x' WHERE log_id = :l",
    ]
    if engine.dialect.name == "postgresql":
        statements.append("TRUNCATE ledger_checkpoints")
    for statement in statements:
        with pytest.raises(DBAPIError, match="append-only"):
            sql(engine, statement, l=lid)
    # Nothing changed: the log still verifies.
    out = export(store, tmp_path / "export")
    assert verify(out, store.verifiers(LOG)).entries == SIZE


# -- the tamper matrix ---------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    attack: Attack
    index: int


CASES: dict[str, Case] = {
    "flip-byte-37": Case(flip_byte(37), 37),
    "flip-byte-511-end-of-tile": Case(flip_byte(511), 511),
    "flip-byte-699-last": Case(flip_byte(699), 699),
    "rewrite-rehash-100": Case(rewrite_and_rehash(100), 100),
    "rewrite-rehash-255-tile-edge": Case(rewrite_and_rehash(255), 255),
    "rewrite-rehash-699-last": Case(rewrite_and_rehash(699), 699),
    "delete-10": Case(delete_entry(10), 10),
    "delete-256-tile-start": Case(delete_entry(256), 256),
    "delete-699-last": Case(delete_entry(699), 699),
    "swap-20-400": Case(swap(20, 400), 20),
    "swap-300-301": Case(swap(300, 301), 300),
    "truncate-5": Case(truncate_tail(5), SIZE - 5),
    "truncate-200": Case(truncate_tail(200), SIZE - 200),
}

# A well-formed forged entry inserted at i, chained to entry i-1 (later rows shifted up).
INSERTS = {
    "insert-50": Case(insert_forged(50), 50),
    "insert-255-tile-end": Case(insert_forged(255), 255),
    "insert-256-tile-start": Case(insert_forged(256), 256),
}
def run_case(store: LedgerStore, tmp_path: Path, case: Case, *, exact: bool = True) -> None:
    """Build, attack, export, verify (API and CLI); with ``exact``, check the index."""
    build_log(store)
    verifiers = store.verifiers(LOG)  # the genuine keys, obtained before the attack
    vkeys = [v.vkey for v in verifiers]
    drop_triggers(store.engine)
    case.attack(store.engine, log_id(store))
    out = export(store, tmp_path / "export")

    with pytest.raises(VerificationError) as info:
        verify(out, verifiers)
    res = run_verify_cli(out, vkeys)
    assert res.returncode == 1, (res.stdout, res.stderr)
    assert "FAILED (first bad index: " in res.stderr, res.stderr
    assert info.value.index is not None, str(info.value)
    if exact:
        assert info.value.index == case.index, str(info.value)
        assert f"FAILED (first bad index: {case.index}): " in res.stderr, res.stderr


@pytest.mark.parametrize("name", list(CASES))
def test_tampered_entries_fail_with_first_bad_index(
    store: LedgerStore, tmp_path: Path, name: str
) -> None:
    run_case(store, tmp_path, CASES[name])


@pytest.mark.parametrize("name", list(INSERTS))
def test_inserted_forged_entry_is_detected(
    store: LedgerStore, tmp_path: Path, name: str
) -> None:
    run_case(store, tmp_path, INSERTS[name], exact=False)


@pytest.mark.parametrize("name", list(INSERTS))
def test_inserted_forged_entry_is_named(
    store: LedgerStore, tmp_path: Path, name: str
) -> None:
    run_case(store, tmp_path, INSERTS[name])


# -- checkpoints ---------------------------------------------------------------------------


def latest_checkpoint_row(engine: Engine, lid: int) -> tuple[int, str]:
    (row,) = rows(engine, "SELECT id, note FROM ledger_checkpoints WHERE log_id = :l "
                          "ORDER BY id DESC LIMIT 1", l=lid)
    return int(row[0]), str(row[1])


@pytest.mark.parametrize("part", ["size", "root"])
def test_edited_checkpoint_fails_on_its_signature(
    store: LedgerStore, tmp_path: Path, part: str
) -> None:
    cp = build_log(store)
    verifiers = store.verifiers(LOG)
    drop_triggers(store.engine)
    lid = log_id(store)
    cp_id, note = latest_checkpoint_row(store.engine, lid)
    root_b64 = base64.b64encode(cp.root).decode()
    if part == "size":
        # Hide the last entry: delete it and claim size 699 under the old signature.
        sql(store.engine, "DELETE FROM ledger_entries WHERE log_id = :l AND idx = :i",
            l=lid, i=SIZE - 1)
        forged = note.replace(f"\n{SIZE}\n", f"\n{SIZE - 1}\n", 1)
        sql(store.engine, "UPDATE ledger_checkpoints SET note = :n, size = :s WHERE id = :c",
            n=forged, s=SIZE - 1, c=cp_id)
    else:
        other = base64.b64encode(merkle.leaf_hash(b"forged")).decode()
        forged = note.replace(root_b64, other, 1)
        sql(store.engine, "UPDATE ledger_checkpoints SET note = :n WHERE id = :c",
            n=forged, c=cp_id)
    assert forged != note
    assert forged.split("\n\n")[1] == note.split("\n\n")[1]  # the signature line is kept
    out = export(store, tmp_path / "export")
    assert (out / "checkpoint").read_text(encoding="utf-8") == forged

    with pytest.raises(VerificationError, match="signature") as info:
        verify(out, verifiers)
    assert "does not verify" in str(info.value)
    res = run_verify_cli(out, [v.vkey for v in verifiers])
    assert res.returncode == 1, res.stderr
    assert "FAILED" in res.stderr
    assert "signature" in res.stderr


def test_checkpoint_resigned_with_a_forged_key_is_rejected(
    store: LedgerStore, tmp_path: Path
) -> None:
    build_log(store)
    verifiers = store.verifiers(LOG)
    drop_triggers(store.engine)
    engine = store.engine
    lid = log_id(store)
    # A thorough forgery: rewrite entry 5 and every hash derived from it, then sign the
    # new root with a key of the same name (the origin).
    rewrite_and_rehash(5)(engine, lid)
    # Entry 6's prev still names the genuine entry 5; re-chain is impossible without
    # rewriting all later entries, so the attacker rewrites them all.
    prev = entry_row(engine, lid, 5)[1]
    for i in range(6, SIZE):
        data, _ = entry_row(engine, lid, i)
        e = Entry.decode(data)
        new = Entry(e.index, prev, e.time, e.type, e.actor, e.body).encode()
        prev = merkle.leaf_hash(new)
        sql(engine, "UPDATE ledger_entries SET data = :d, leaf_hash = :h "
                    "WHERE log_id = :l AND idx = :i", d=new, h=prev, l=lid, i=i)
    leaves = all_leaf_hashes(engine, lid)
    for t in range(2):
        sql(engine, "UPDATE ledger_nodes SET hash = :h WHERE log_id = :l AND level = 8 "
                    "AND idx = :t", h=merkle.root_of_perfect(leaves[t * 256:(t + 1) * 256]),
            l=lid, t=t)
    root = merkle.root_from_leaf_hashes(leaves)
    forger = Ed25519Signer(ORIGIN, Ed25519PrivateKey.generate())
    note = Checkpoint(ORIGIN, SIZE, root).sign([forger])
    sql(engine, "INSERT INTO ledger_checkpoints (log_id, size, root, key_id, note, "
                "signed_at_ms) VALUES (:l, :s, :r, :k, :n, :t)",
        l=lid, s=SIZE, r=root, k=f"{forger.key_id:08x}", n=note,
        t=int((T0 + timedelta(hours=3)).timestamp() * 1000))
    out = export(store, tmp_path / "export")

    # The forgery is internally consistent: it verifies with the forger's own key ...
    assert verify(out, [forger.verifier]).size == SIZE
    # ... but not with the log's genuine keys.
    with pytest.raises(VerificationError, match="no signature by a trusted key"):
        verify(out, verifiers)
    res = run_verify_cli(out, [v.vkey for v in verifiers])
    assert res.returncode == 1, res.stderr
    assert "no signature by a trusted key" in res.stderr


def test_rollback_to_an_older_checkpoint_is_detected(
    store: LedgerStore, tmp_path: Path
) -> None:
    small = build_log(store, 600)
    lid = log_id(store)
    (head_600,) = rows(store.engine, "SELECT size, last_leaf, frontier FROM ledger_heads "
                                     "WHERE log_id = :l", l=lid)
    big = grow(store, SIZE - 600, T0 + timedelta(hours=5))
    assert (small.size, big.size) == (600, SIZE)
    verifiers = store.verifiers(LOG)
    old_file = tmp_path / "seen-checkpoint"
    old_file.write_text(big.note, encoding="utf-8")  # what an auditor saw earlier

    # Roll the log back to its genuine size-600 state, hiding the last 100 entries.
    drop_triggers(store.engine)
    sql(store.engine, "DELETE FROM ledger_entries WHERE log_id = :l AND idx >= 600", l=lid)
    sql(store.engine, "DELETE FROM ledger_checkpoints WHERE log_id = :l AND size > 600", l=lid)
    sql(store.engine, "UPDATE ledger_heads SET size = :s, last_leaf = :h, frontier = :f "
                      "WHERE log_id = :l", s=head_600[0], h=head_600[1], f=head_600[2], l=lid)
    out = export(store, tmp_path / "export")

    # On its own the rolled-back log is a genuine, consistent, signed log ...
    assert verify(out, verifiers).size == 600
    # ... but not an extension of the checkpoint the auditor already trusts.
    with pytest.raises(VerificationError, match="rollback") as info:
        verify(out, verifiers, old_checkpoint=big.note)
    assert info.value.index == 600
    res = run_verify_cli(out, [v.vkey for v in verifiers], "--old", str(old_file))
    assert res.returncode == 1, res.stderr
    assert "rollback" in res.stderr
    # Control: the older genuine checkpoint of size 600 is accepted as --old.
    old_ok = tmp_path / "older-checkpoint"
    old_ok.write_text(small.note, encoding="utf-8")
    res = run_verify_cli(out, [v.vkey for v in verifiers], "--old", str(old_ok))
    assert res.returncode == 0, res.stderr


# -- key rotation --------------------------------------------------------------------------


def test_key_rotation_old_checkpoints_need_the_old_key(
    store: LedgerStore, tmp_path: Path
) -> None:
    before = build_log(store, 300)
    old_key = store.log(LOG).verifier_keys[0]
    store.rotate_key(LOG, T0 + timedelta(hours=3))
    after = grow(store, 399, T0 + timedelta(hours=4))
    assert after.size == SIZE
    all_keys = store.log(LOG).verifier_keys
    assert len(all_keys) == 2
    assert all_keys[0] == old_key
    new_key = all_keys[1]
    old_v, new_v = (Ed25519Verifier.from_vkey(k) for k in (old_key, new_key))
    assert before.key_id == f"{old_v.key_id:08x}"
    assert after.key_id == f"{new_v.key_id:08x}"
    out = export(store, tmp_path / "export")
    old_file = tmp_path / "old-checkpoint"
    old_file.write_text(before.note, encoding="utf-8")

    # With all keys: the log verifies and extends the checkpoint signed by the old key.
    report = verify(out, [old_v, new_v], old_checkpoint=before.note)
    assert (report.size, report.old_size) == (SIZE, 300)
    assert report.signed_by == [f"{ORIGIN}+{new_v.key_id:08x}"]
    res = run_verify_cli(out, all_keys, "--old", str(old_file))
    assert res.returncode == 0, res.stderr
    assert "extends the checkpoint of size 300" in res.stdout

    # The old checkpoint carries no signature by the new key.
    assert Checkpoint.open(before.note, [old_v]).size == 300
    with pytest.raises(VerificationError, match="no signature by a trusted key"):
        Checkpoint.open(before.note, [new_v])
    assert verify(out, [new_v]).size == SIZE  # the current checkpoint alone is fine
    with pytest.raises(VerificationError, match="no signature by a trusted key"):
        verify(out, [new_v], old_checkpoint=before.note)
    res = run_verify_cli(out, [new_key], "--old", str(old_file))
    assert res.returncode == 1, res.stderr
    assert "no signature by a trusted key" in res.stderr
    # And the current checkpoint is not signed by the retired key.
    with pytest.raises(VerificationError, match="no signature by a trusted key"):
        verify(out, [old_v])
