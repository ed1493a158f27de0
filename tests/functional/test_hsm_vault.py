"""The vault's master key inside a real SoftHSM2 token: data keys wrapped in the token.

``absentia keys create --vault`` makes the keys; one process seals a person's details,
another process (a real restart: a new module load and login) opens them; the stored
form is versioned; a record sealed under a token key is refused by a file-key vault with
a message saying so, and an altered wrapping does not unwrap.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from pkcs11 import Attribute, ObjectClass
from pkcs11 import exceptions as p11e

from ledger.absence.vault import TOKEN_WRAP_TAG, PersonalDetails, SealedPerson, Vault
from ledger.absence.vault_token import create_token_master_key, token_master_key
from ledger.app.web.ops import readiness
from ledger.config import load_settings
from ledger.errors import CouldNotCheck
from ledger.hsm import Hsm
from ledger.storage import LedgerStore
from tests.hsm import SoftHsm

ABSENTIA = Path(sys.executable).parent / "absentia"
SUBJECT = "sub_" + "a" * 26
DETAILS = PersonalDetails("张三", "110105199001011234", "13800001234", "")

SEAL = """
import json, sys
from ledger.absence.vault import PersonalDetails, Vault
from ledger.absence.vault_token import token_master_key
from ledger.config import Pkcs11Settings
from ledger.hsm import Hsm
from ledger.storage import LedgerStore
from pathlib import Path
hsm = Hsm(Pkcs11Settings(sys.argv[1], pin_file=Path(sys.argv[2])))
secret, wrap = token_master_key(sys.argv[3], hsm)
vault = Vault(secret, wrapper=wrap)
if sys.argv[4] == "seal":
    s = vault.seal(sys.argv[5], PersonalDetails("张三", "110105199001011234", "13800001234", ""))
    print(json.dumps({"w": s.wrapped_key.hex(), "c": s.ciphertext.hex(),
                      "m": s.commitment, "b": s.blind_index}))
else:
    d = json.loads(sys.stdin.read())
    from ledger.absence.vault import SealedPerson
    p = vault.open(sys.argv[5], SealedPerson(bytes.fromhex(d["w"]), bytes.fromhex(d["c"]),
                                             d["m"], d["b"]))
    print(p.name, p.id_number)
"""


def test_the_vault_opens_after_a_real_process_restart(
    tmp_path: Path, softhsm: SoftHsm
) -> None:
    uri = f"pkcs11:token=absentia;object=vault-{os.urandom(4).hex()}"
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'[storage]\nurl = "sqlite:///{{data}}/absentia.db"\n\n{softhsm.table()}\n'
                   '[[logs]]\nname = "hr-bureau-2026"\norigin = "example.org/hrb"\n\n'
                   f'[absence]\nlog = "hr-bureau-2026"\nmaster_key = "{uri}"\n',
                   encoding="utf-8")
    env = {k: v for k, v in softhsm.env().items() if not k.startswith("ABSENTIA_")}
    res = subprocess.run([str(ABSENTIA), "keys", "create", "--vault", "--data",
                          str(tmp_path / "data"), "--config", str(cfg)],
                         capture_output=True, text=True, env=env, timeout=120, check=False)
    assert res.returncode == 0, res.stderr
    assert f"created the vault master key {uri} in the token" in res.stdout

    def child(*args: str, stdin: str = "") -> str:
        out = subprocess.run([sys.executable, "-c", SEAL, softhsm.module,
                              str(softhsm.pin_file), uri, *args], input=stdin,
                             capture_output=True, text=True, env=env, timeout=120,
                             check=False)
        assert out.returncode == 0, out.stderr
        return out.stdout

    sealed = child("seal", SUBJECT)
    record = json.loads(sealed)
    wrapped = bytes.fromhex(record["w"])
    assert wrapped.startswith(TOKEN_WRAP_TAG)
    assert len(wrapped) == len(TOKEN_WRAP_TAG) + 40  # RFC 5649 of a 32-byte key
    assert "张三" not in sealed
    assert child("open", SUBJECT, stdin=sealed).split() == ["张三", "110105199001011234"]
    # This process, too (a third login), finds the same blind index: the derived keys
    # come from the token's HMAC, the same in every process.
    secret, wrap = token_master_key(uri, Hsm(softhsm.settings))
    vault = Vault(secret, wrapper=wrap)
    assert vault.blind_index(DETAILS.id_number) == record["b"]


def test_token_sealed_records_are_versioned_and_refused_elsewhere(
    softhsm: SoftHsm
) -> None:
    hsm = Hsm(softhsm.settings)
    uri = f"pkcs11:token=absentia;object=vault-{os.urandom(4).hex()}"
    create_token_master_key(uri, hsm)
    secret, wrap = token_master_key(uri, hsm)
    vault = Vault(secret, wrapper=wrap)
    sealed = vault.seal(SUBJECT, DETAILS)
    assert vault.open(SUBJECT, sealed).name == "张三"
    with pytest.raises(CouldNotCheck, match="sealed under a master key in a PKCS#11 token"):
        Vault(os.urandom(32)).open(SUBJECT, sealed)
    flipped = bytearray(sealed.wrapped_key)
    flipped[-1] ^= 1
    with pytest.raises(CouldNotCheck, match="does not unwrap"):
        vault.open(SUBJECT, replace(sealed, wrapped_key=bytes(flipped)))
    # A file-key record is not opened by the token vault (another master key).
    file_sealed: SealedPerson = Vault(os.urandom(32)).seal(SUBJECT, DETAILS)
    with pytest.raises(CouldNotCheck, match="another master key"):
        vault.open(SUBJECT, file_sealed)
    # Neither vault key can be read out of the token.
    label = uri.split("object=")[1]
    with hsm.token("absentia").session() as session:
        for name in (label, label + "-derive"):
            (key,) = session.get_objects({Attribute.CLASS: ObjectClass.SECRET_KEY,
                                          Attribute.LABEL: name})
            assert key[Attribute.EXTRACTABLE] is False
            with pytest.raises(p11e.AttributeSensitive):
                key[Attribute.VALUE]


def test_readiness_names_a_vault_key_missing_from_the_token(
    tmp_path: Path, store: LedgerStore, softhsm: SoftHsm
) -> None:
    label = f"vault-{os.urandom(4).hex()}"
    cfg = tmp_path / "config.toml"
    cfg.write_text(f'{softhsm.table()}\n[[logs]]\nname = "l"\norigin = "example.org/l"\n\n'
                   f'[absence]\nlog = "l"\nmaster_key = "pkcs11:token=absentia;object={label}"\n',
                   encoding="utf-8")
    settings = load_settings(tmp_path, cfg)
    (vault,) = [c for c in readiness(store, settings) if c.name == "vault"]
    assert not vault.ok
    assert f"no HMAC key pkcs11:token=absentia;object={label}-derive in the token" in vault.detail
    create_token_master_key(f"pkcs11:token=absentia;object={label}", Hsm(softhsm.settings))
    (vault,) = [c for c in readiness(store, settings) if c.name == "vault"]
    assert vault.ok, vault.detail
