"""Witness cosigning (C2SP tlog-witness, tlog-cosignature v1 with Ed25519).

* ``ledger.witness.cosig``: the cosignature format itself (pure; the offline verifier
  imports it, so it needs nothing but ``cryptography``).
* ``ledger.witness.protocol``: the ``add-checkpoint`` request body (pure).
* ``ledger.app.witness_server``: a witness (its key, its own database, its HTTP endpoint).
* ``ledger.witness.client``: the log side (pushing checkpoints to witnesses, storing
  their cosignatures, the k-of-n publishing policy, ``witness_status``).
"""
