"""The witness's state in its own database (SQLite and PostgreSQL): compare-and-swap,
so concurrent add-checkpoint requests from one old size advance it exactly once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger import merkle
from ledger.app.witness_server import Witness, WitnessDatabase, WitnessRefusal
from ledger.checkpoint import Checkpoint
from ledger.note import Ed25519Signer
from ledger.storage import make_engine
from ledger.witness.cosig import CosignatureV1Signer
from ledger.witness.protocol import AddCheckpoint

T = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
ORIGIN = "example.org/race"


def leaves(n: int) -> list[bytes]:
    return [merkle.leaf_hash(str(i).encode()) for i in range(n)]


def test_advance_is_a_compare_and_swap(db_url: str) -> None:
    state = WitnessDatabase(make_engine(db_url))
    log = Ed25519Signer(ORIGIN, Ed25519PrivateKey.generate())
    state.add_log(ORIGIN, (log.verifier.vkey,), T)
    a, b = merkle.root_from_leaf_hashes(leaves(3)), merkle.root_from_leaf_hashes(leaves(5))
    assert state.advance(ORIGIN, (0, merkle.EMPTY_ROOT), (3, a), T)
    assert not state.advance(ORIGIN, (0, merkle.EMPTY_ROOT), (5, b), T)
    got = state.get(ORIGIN)
    assert got is not None
    assert (got.size, got.root) == (3, a)
    # Re-adding the log (new keys) keeps its size.
    state.add_log(ORIGIN, (log.verifier.vkey,), T)
    assert state.get(ORIGIN) == got


def test_concurrent_requests_from_one_old_size_advance_once(db_url: str) -> None:
    log = Ed25519Signer(ORIGIN, Ed25519PrivateKey.generate())
    all_leaves = leaves(40)
    base = 8
    witness = Witness(CosignatureV1Signer("w.example", Ed25519PrivateKey.generate()),
                      WitnessDatabase(make_engine(db_url)))
    witness.state.add_log(ORIGIN, (log.verifier.vkey,), T)
    first = Checkpoint(ORIGIN, base, merkle.root_from_leaf_hashes(all_leaves[:base]))
    witness.add_checkpoint(AddCheckpoint(0, (), first.sign([log])).to_bytes(), T)

    def proof(old: int, new: int) -> tuple[bytes, ...]:
        return tuple(merkle.root_from_leaf_hashes(all_leaves[lo:hi])
                     for lo, hi in merkle.consistency_ranges(old, new))

    outcomes: dict[int, int] = {}
    barrier = threading.Barrier(6)

    def request(size: int) -> None:
        cp = Checkpoint(ORIGIN, size, merkle.root_from_leaf_hashes(all_leaves[:size]))
        body = AddCheckpoint(base, proof(base, size), cp.sign([log])).to_bytes()
        barrier.wait()
        try:
            witness.add_checkpoint(body, T)
            outcomes[size] = 200
        except WitnessRefusal as exc:
            outcomes[size] = exc.status

    threads = [threading.Thread(target=request, args=(s,)) for s in (12, 16, 20, 24, 30, 40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    winners = [s for s, status in outcomes.items() if status == 200]
    assert len(winners) == 1, outcomes
    assert sorted(outcomes.values()) == [200] + [409] * 5
    got = witness.state.get(ORIGIN)
    assert got is not None
    assert got.size == winners[0]
    assert got.root == merkle.root_from_leaf_hashes(all_leaves[:winners[0]])
