"""Witness cosigning end to end: real witness processes (``absentia witness serve``)
driven by the log's real pusher, on SQLite and PostgreSQL logs.

Covers the C2SP tlog-witness answers (200, 400, 403, 404, 409 with the size, 409 for a
split view, 422), a split-view attack by a second log database holding a copy of the
log's key, rollback, client recovery from a wrong old size, persistence across a
witness restart, and the served checkpoint checked by the offline verifier.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.app.export import export_log
from ledger.app.registry import entry_types
from ledger.app.web import create_app
from ledger.app.witness_server import WitnessDatabase
from ledger.checkpoint import Checkpoint
from ledger.migrations import upgrade
from ledger.note import Ed25519Signer, SignedNote
from ledger.storage import LedgerStore, NewEntry, make_engine
from ledger.storage.records import StoredCheckpoint
from ledger.witness.client import (
    WitnessEndpoint,
    cosigned_note,
    push_checkpoint,
    witness_status,
)
from ledger.witness.cosig import CosignatureV1Signer, CosignatureV1Verifier, verify_cosignatures
from ledger.witness.protocol import AddCheckpoint
from tests.functional._witness import WitnessProcess, absentia

LOG = "l"
ORIGIN = "example.org/l"
T0 = datetime.now(UTC).replace(microsecond=0)


def item(n: int, tag: str = "a") -> NewEntry:
    return NewEntry("platform.event", "platform:t",
                    {"event_id": f"{tag}{n}", "window": "w-1", "subject": "sub_" + "b" * 26,
                     "kind": "joined", "at": "2026-11-25T08:00:00.000Z"})


def grow(store: LedgerStore, n: int, tag: str = "a", minutes: int = 1) -> None:
    start = store.head(LOG).size
    store.append_batch(LOG, [item(start + i, tag) for i in range(n)],
                       T0 + timedelta(minutes=minutes))


def endpoint(w: WitnessProcess) -> WitnessEndpoint:
    return WitnessEndpoint(w.name, w.url, CosignatureV1Verifier.from_vkey(w.vkey))


def cosigned_then_grown(store: LedgerStore, ep: WitnessEndpoint, first: int, more: int
                        ) -> tuple[StoredCheckpoint, tuple[bytes, ...]]:
    """Grow the log by ``first`` entries and have ``ep`` cosign it, then grow it by
    ``more``: the newer checkpoint (signed, not pushed) and the consistency proof from
    the cosigned size to it."""
    grow(store, first)
    cosigned = store.sign_checkpoint(LOG, T0 + timedelta(minutes=2))
    assert push_checkpoint(store, LOG, [ep], cosigned, T0)[0].ok
    grow(store, more, minutes=3)
    newer = store.sign_checkpoint(LOG, T0 + timedelta(minutes=4))
    return newer, tuple(store.consistency_proof(LOG, cosigned.size, newer.size))


def witness_db(w: WitnessProcess) -> WitnessDatabase:
    return WitnessDatabase(make_engine(f"sqlite:///{w.directory / 'witness.db'}"))


@pytest.fixture
def log_store(store: LedgerStore) -> LedgerStore:
    store.create_log(LOG, ORIGIN, T0)
    return store


@pytest.fixture
def witness(tmp_path: Path, log_store: LedgerStore) -> Iterator[WitnessProcess]:
    w = WitnessProcess(tmp_path / "w1", "w1.example.net/witness")
    w.init()
    w.add_log(ORIGIN, *log_store.log(LOG).verifier_keys)
    w.start()
    try:
        yield w
    finally:
        w.stop()


def test_init_writes_a_private_key_and_prints_a_cosignature_vkey(witness: WitnessProcess
                                                                  ) -> None:
    assert os.stat(witness.directory).st_mode & 0o777 == 0o700
    assert os.stat(witness.directory / "witness-key.pem").st_mode & 0o777 == 0o600
    v = CosignatureV1Verifier.from_vkey(witness.vkey)
    assert v.name == "w1.example.net/witness"
    again = absentia("witness", "init", "--dir", witness.directory, "--name", witness.name)
    assert again.returncode == 0
    assert again.stdout.strip() == witness.vkey


def test_pushed_checkpoints_are_cosigned_served_and_verify_offline(
        tmp_path: Path, log_store: LedgerStore, witness: WitnessProcess) -> None:
    w2 = WitnessProcess(tmp_path / "w2", "w2.example.net/witness")
    w2.init()
    w2.add_log(ORIGIN, *log_store.log(LOG).verifier_keys)
    w2.start()
    try:
        eps = [endpoint(witness), endpoint(w2)]
        grow(log_store, 5)
        cp = log_store.sign_checkpoint(LOG, T0 + timedelta(minutes=2))
        results = push_checkpoint(log_store, LOG, eps, cp, T0 + timedelta(minutes=2))
        assert [r.ok for r in results] == [True, True], results
        # The next one is pushed with old = 6 and a real consistency proof.
        grow(log_store, 11, minutes=3)
        cp2 = log_store.sign_checkpoint(LOG, T0 + timedelta(minutes=4))
        assert cp2.size == 17
        results = push_checkpoint(log_store, LOG, eps, cp2, T0 + timedelta(minutes=4))
        assert [r.ok for r in results] == [True, True], results
        assert witness_db(witness).get(ORIGIN).size == 17  # type: ignore[union-attr]
        states = witness_status(log_store, LOG, T0, eps)
        assert [(s.name, s.cosigned_size, s.last_error) for s in states] == [
            (witness.name, 17, None), (w2.name, 17, None)]
        # Served: the latest checkpoint with exactly its cosignatures (not the older).
        client = create_app(store=log_store).test_client()
        served = client.get(f"/logs/{LOG}/checkpoint").get_data(as_text=True)
        note = SignedNote.parse(served)
        assert len(note.signatures) == 3
        assert Checkpoint.open(served, log_store.verifiers(LOG), ORIGIN).size == 17
        assert {c.name for c in verify_cosignatures(note, [e.verifier for e in eps])} == {
            witness.name, w2.name}
        proof = client.get(f"/logs/{LOG}/entries/3/tlog-proof").get_data(as_text=True)
        assert proof.endswith(served)
        # The offline verifier: the log's key, both witnesses, two required.
        out = tmp_path / "export"
        export_log(log_store, LOG, out)
        assert (out / "checkpoint").read_text() == served
        args = [sys.executable, "-m", "ledger.verify_cli", str(out), "--key",
                log_store.log(LOG).verifier_keys[0], "--witness", witness.vkey, "--witness",
                w2.vkey, "--quiet", "--jobs", "1"]
        import subprocess

        ok = subprocess.run([*args, "--witnesses-required", "2"], capture_output=True,
                            text=True, check=False)
        assert ok.returncode == 0, ok.stderr
        assert "2 witness cosignature(s)" in ok.stdout
        stranger = CosignatureV1Signer("w3.example.net", Ed25519PrivateKey.generate())
        short = subprocess.run([*args, "--witness", stranger.verifier.vkey,
                                "--witnesses-required", "3"], capture_output=True, text=True,
                               check=False)
        assert short.returncode == 1
        assert "2 valid witness cosignature(s), 3 required" in short.stderr
        assert "w3.example.net" in short.stderr
    finally:
        w2.stop()


def test_split_view_with_a_copied_key_is_refused_and_changes_nothing(
        tmp_path: Path, log_store: LedgerStore, witness: WitnessProcess) -> None:
    ep = endpoint(witness)
    grow(log_store, 3)
    cp = log_store.sign_checkpoint(LOG, T0 + timedelta(minutes=2))
    assert push_checkpoint(log_store, LOG, [ep], cp, T0)[0].ok
    before = witness_db(witness).get(ORIGIN)
    assert before is not None
    assert before.size == 4
    assert before.root == cp.root
    # An attacker with a copy of the log's key and a database of their own.
    (key_uri,) = [p for p in (log_store.keys.root / LOG).iterdir()]
    stolen = tmp_path / "stolen" / "key.pem"
    stolen.parent.mkdir(mode=0o700)
    shutil.copy(key_uri, stolen)
    stolen.chmod(0o600)
    evil = LedgerStore(make_engine(f"sqlite:///{tmp_path / 'evil.db'}"), tmp_path / "evilkeys",
                       entry_types())
    upgrade(evil.engine)
    evil.create_log(LOG, ORIGIN, T0, key_uri=f"file:{stolen}")
    assert evil.log(LOG).verifier_keys == log_store.log(LOG).verifier_keys
    grow(evil, 3, tag="evil")
    fork = evil.sign_checkpoint(LOG, T0 + timedelta(minutes=2))
    assert fork.size == cp.size
    assert fork.root != cp.root
    (result,) = push_checkpoint(evil, LOG, [ep], fork, T0)
    assert not result.ok
    assert "HTTP 409" in (result.error or "")
    assert "split view" in (result.error or "")
    # Raw: same size, other root -> 409 (problem+json, not a size body).
    status, ctype, body = witness.post(AddCheckpoint(4, (), fork.note).to_bytes())
    assert status == 409
    assert ctype.startswith("application/problem+json")
    assert "split view" in json.loads(body)["detail"]
    # The fork grown further: its consistency proof does not lead from the witness's root.
    grow(evil, 4, tag="evil", minutes=3)
    fork2 = evil.sign_checkpoint(LOG, T0 + timedelta(minutes=4))
    proof = evil.consistency_proof(LOG, 4, fork2.size)
    status, _, body = witness.post(AddCheckpoint(4, tuple(proof), fork2.note).to_bytes())
    assert status == 422, body
    (result,) = push_checkpoint(evil, LOG, [ep], fork2, T0)
    assert not result.ok
    assert "HTTP 422" in (result.error or "")
    assert witness_db(witness).get(ORIGIN) == before
    # The honest log still moves on.
    grow(log_store, 2, minutes=5)
    cp3 = log_store.sign_checkpoint(LOG, T0 + timedelta(minutes=6))
    assert push_checkpoint(log_store, LOG, [ep], cp3, T0)[0].ok
    evil.engine.dispose()


def test_witness_answers_per_spec(log_store: LedgerStore, witness: WitnessProcess) -> None:
    ep = endpoint(witness)
    cp9, proof = cosigned_then_grown(log_store, ep, 5, 3)
    assert cp9.size == 9
    # Wrong old size: 409 with the witness's size as text/x.tlog.size.
    status, ctype, body = witness.post(AddCheckpoint(3, (), cp9.note).to_bytes())
    assert (status, ctype.split(";")[0], body) == (409, "text/x.tlog.size", b"6\n")
    # Rollback: a smaller checkpoint than the witness's, with old = its size: 400.
    old = SignedNote.parse(log_store.checkpoint_history(LOG)[0].note)
    small = log_store.checkpoint_history(LOG)[0]
    assert small.size == 1
    status, ctype, _ = witness.post(AddCheckpoint(6, (), small.note).to_bytes())
    assert status == 400
    assert ctype.startswith("application/problem+json")
    del old
    # ... and with old = its own size: 409 (the witness is at 6).
    status, _, body = witness.post(AddCheckpoint(1, (), small.note).to_bytes())
    assert (status, body) == (409, b"6\n")
    # A bad proof: 422.
    bad = (bytes(32), *proof[1:])
    status, ctype, _ = witness.post(AddCheckpoint(6, bad, cp9.note).to_bytes())
    assert status == 422
    assert ctype.startswith("application/problem+json")
    # Unknown origin: 404.
    stranger = Ed25519Signer("example.org/other", Ed25519PrivateKey.generate())
    other = Checkpoint("example.org/other", 9, cp9.root).sign([stranger])
    status, _, body = witness.post(AddCheckpoint(0, (), other).to_bytes())
    assert status == 404
    assert "example.org/other" in json.loads(body)["detail"]
    # Signed by a key of the right name but not the log's: 403.
    forger = Ed25519Signer(ORIGIN, Ed25519PrivateKey.generate())
    forged = Checkpoint(ORIGIN, 9, cp9.root).sign([forger])
    status, _, _ = witness.post(AddCheckpoint(6, proof, forged).to_bytes())
    assert status == 403
    # Malformed: 400 naming the field.
    status, _, body = witness.post(b"old x\n\n" + cp9.note.encode())
    assert status == 400
    assert json.loads(body)["field"] == "old"
    assert witness_db(witness).get(ORIGIN).size == 6  # type: ignore[union-attr]
    # Finally the right request: 200 with a cosignature line over exactly cp9.
    status, ctype, body = witness.post(AddCheckpoint(6, proof, cp9.note).to_bytes())
    assert status == 200, body
    note = SignedNote.parse(cp9.note + body.decode())
    (c,) = verify_cosignatures(note, [ep.verifier])
    assert c.name == witness.name
    # The same checkpoint again (old = new = 9, same root): cosigned again.
    status, _, _ = witness.post(AddCheckpoint(9, (), cp9.note).to_bytes())
    assert status == 200


def test_client_recovers_from_a_wrong_old_size_and_state_survives_restart(
        log_store: LedgerStore, witness: WitnessProcess) -> None:
    ep = endpoint(witness)
    cp7, proof = cosigned_then_grown(log_store, ep, 3, 3)
    assert cp7.size == 7
    # Someone else (another host of the log) moves the witness on to 7 behind our back.
    assert witness.post(AddCheckpoint(4, proof, cp7.note).to_bytes())[0] == 200
    # The witness restarts: its state is in its database.
    witness.stop()
    witness.start()
    assert witness.post(AddCheckpoint(4, proof, cp7.note).to_bytes())[2] == b"7\n"
    # Our pusher believes the witness is at 4: it gets 409 "7", proves from 7 and succeeds.
    grow(log_store, 5, minutes=5)
    cp12 = log_store.sign_checkpoint(LOG, T0 + timedelta(minutes=6))
    (result,) = push_checkpoint(log_store, LOG, [ep], cp12, T0)
    assert result.ok, result.error
    assert witness_db(witness).get(ORIGIN).size == 12  # type: ignore[union-attr]
    assert len(SignedNote.parse(cosigned_note(log_store, LOG)).signatures) == 2
    # A stopped witness: a clear error, kept for witness_status.
    witness.stop()
    grow(log_store, 1, minutes=7)
    cp13 = log_store.sign_checkpoint(LOG, T0 + timedelta(minutes=8))
    (result,) = push_checkpoint(log_store, LOG, [ep], cp13, T0, timeout_s=3)
    assert not result.ok
    assert "no answer" in (result.error or "")
    (state,) = witness_status(log_store, LOG, T0)
    assert state.cosigned_size == 12
    assert state.last_error == result.error
    assert state.cosigned_at is not None
    # The served checkpoint (13) carries no cosignature of the older 12.
    assert len(SignedNote.parse(cosigned_note(log_store, LOG)).signatures) == 1
    assert base64.b64encode(cp13.root).decode() in cosigned_note(log_store, LOG)


def test_the_scheduler_pushes_checkpoints_that_grew(log_store: LedgerStore,
                                                    witness: WitnessProcess) -> None:
    from sqlalchemy import select, text
    from sqlalchemy.exc import DatabaseError

    from ledger.app.scheduler import sign_due_checkpoints
    from ledger.storage.tables import witness_pushes
    from ledger.witness.client import WitnessPolicy, WitnessSettings

    ws = WitnessSettings((endpoint(witness),), WitnessPolicy(retry_s=60))

    def attempted() -> list[int]:
        with log_store.engine.connect() as conn:
            return list(conn.execute(select(witness_pushes.c.attempted_at_ms)).scalars())

    grow(log_store, 4)
    t1 = T0 + timedelta(minutes=2)
    assert sign_due_checkpoints(log_store, 0, t1, ws) == 1
    (state,) = witness_status(log_store, LOG, t1)
    assert state.cosigned_size == 5
    assert attempted() == [int(t1.timestamp() * 1000)]
    # Nothing grew and nothing was missed: no request.
    assert sign_due_checkpoints(log_store, 0, t1 + timedelta(seconds=90), ws) == 0
    assert attempted() == [int(t1.timestamp() * 1000)]
    grow(log_store, 2, minutes=3)
    assert sign_due_checkpoints(log_store, 0, T0 + timedelta(minutes=4), ws) == 1
    assert witness_status(log_store, LOG, T0)[0].cosigned_size == 7
    assert len(SignedNote.parse(cosigned_note(log_store, LOG)).signatures) == 2
    # The cosignatures are append-only, enforced by the database.
    for sql in ("UPDATE ledger_cosignatures SET size = 1", "DELETE FROM ledger_cosignatures"):
        with pytest.raises(DatabaseError, match="append-only"), \
                log_store.engine.begin() as conn:
            conn.execute(text(sql))
