"""The 国密 option in a store: a log's SM2 checkpoint key, adopted and recorded.

A log configured with ``[[logs]] sm2_key = "file:..."`` has every checkpoint signed by
that SM2 key too (a second signature line, ``ledger.sm2``); the key's verifier key is
recorded in the log (``log.sm2_key_added``) the first time any process uses it, and is
listed with the Ed25519 keys (``LogInfo.sm2_verifier_keys``, ``GET /logs``).
"""

from __future__ import annotations

from datetime import datetime

from ledger.events import LOG_SM2_KEY_ADDED
from ledger.keys import load_sm2_signer, sm2_key_path
from ledger.storage.records import LogInfo, NewEntry
from ledger.storage.store import LedgerStore


def use_sm2_key(store: LedgerStore, name: str, uri: str, now: datetime) -> LogInfo:
    """Sign log ``name``'s checkpoints with the SM2 key ``uri`` names (created on first
    use, mode 0600) beside its Ed25519 key, from now on in this process.  A key the log
    has not recorded yet is recorded first (once, whichever process gets there first:
    the entry's idempotency key is the key ID) and a checkpoint is signed.

    Raises:
        NotFound: no such log.
        NotAllowed, CouldNotCheck: the key cannot be used (a readable-by-others file, not
            an SM2 key, tongsuopy missing).
    """
    log = store.log(name)
    signer = load_sm2_signer(sm2_key_path(store.keys.root, uri), log.origin, create=True)
    store.sm2_signers[name] = signer
    vkey = signer.verifier.vkey
    if vkey in log.sm2_verifier_keys:
        return log
    receipt = store.append(name, NewEntry(
        LOG_SM2_KEY_ADDED.name, "system", {"verifier_key": vkey},
        f"sm2-key:{signer.key_id:08x}"), now)
    store.forget_log(name)
    if not receipt.duplicate:
        store.sign_checkpoint(name, now)
    return store.log(name)
