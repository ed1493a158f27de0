"""Operator-provided signing keys: at log creation (config) and on rotation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text

from ledger.checkpoint import Checkpoint
from ledger.config import load_settings
from ledger.errors import BadData, Conflict, NotAllowed, NotFound
from ledger.note import Ed25519Signer
from ledger.storage import LedgerStore

T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
ORIGIN = "example.org/l"
ROOT = Path(__file__).resolve().parents[2]


def operator_key(path: Path, mode: int = 0o600, name: str = ORIGIN) -> Ed25519Signer:
    """Write a fresh PKCS#8 PEM key to ``path``; return its signer for key name ``name``."""
    private = Ed25519PrivateKey.generate()
    path.write_bytes(private.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    path.chmod(mode)
    return Ed25519Signer(name, private)


def test_log_created_with_the_operators_key_signs_with_it(
    store: LedgerStore, tmp_path: Path
) -> None:
    mine = operator_key(tmp_path / "op.pem")
    info = store.create_log("l", ORIGIN, T0, key_uri=f"file:{tmp_path / 'op.pem'}")
    assert info.verifier_keys == (mine.verifier.vkey,)
    cp = Checkpoint.open(store.latest_checkpoint("l").note, [mine.verifier])
    assert cp.size == 1
    # The key stays where the operator keeps it: nothing was generated.
    assert not list(store.keys.root.glob("**/*.pem"))


def test_a_key_readable_by_others_is_refused_and_nothing_is_created(
    store: LedgerStore, tmp_path: Path
) -> None:
    operator_key(tmp_path / "loose.pem", mode=0o644)
    with pytest.raises(NotAllowed, match="chmod 600"):
        store.create_log("l", ORIGIN, T0, key_uri=f"file:{tmp_path / 'loose.pem'}")
    with pytest.raises(NotFound):
        store.log("l")


def test_rotating_to_the_operators_key_is_recorded_as_imported(
    store: LedgerStore, tmp_path: Path
) -> None:
    first = store.create_log("l", ORIGIN, T0).verifier_keys[0]
    mine = operator_key(tmp_path / "op.pem")
    uri = f"file:{tmp_path / 'op.pem'}"
    info = store.rotate_key("l", T0, key_uri=uri)
    assert info.verifier_keys == (first, mine.verifier.vkey)
    with store.engine.connect() as conn:
        data = conn.execute(text(
            "SELECT data FROM ledger_entries WHERE entry_type = 'log.key_added'")).scalar_one()
    body = json.loads(data)["body"]
    assert body["reason"] == "imported"
    assert body["verifier_key"] == mine.verifier.vkey
    assert body["previous_key_id"] == first.split("+")[1]
    Checkpoint.open(store.latest_checkpoint("l").note, [mine.verifier])
    with pytest.raises(Conflict, match="used by log"):
        store.rotate_key("l", T0, key_uri=uri)


def test_config_names_a_key_per_log(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[[logs]]\nname = "l"\norigin = "o"\nkey = "file:{data}/k.pem"\n',
                      encoding="utf-8")
    settings = load_settings(tmp_path, config)
    assert settings.logs[0].key_uri == f"file:{tmp_path.resolve()}/k.pem"
    config.write_text('[[logs]]\nname = "l"\norigin = "o"\nkey = "/k.pem"\n', encoding="utf-8")
    with pytest.raises(BadData, match=r"logs\[0\]\.key"):
        load_settings(tmp_path, config)


def test_cli_rotates_to_a_key_file(tmp_path: Path) -> None:
    absentia = Path(sys.executable).parent / "absentia"
    env = {k: v for k, v in os.environ.items()
           if k not in ("ABSENTIA_DATABASE_URL", "ABSENTIA_CONFIG")}
    data = tmp_path / "data"

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(absentia), *args], capture_output=True, text=True,
                              env=env, timeout=120, check=False)

    assert run("keys", "--data", str(data)).returncode == 0
    mine_for_log = operator_key(tmp_path / "op.pem",
                                name="absentia.example.gov.cn/hr-bureau/2026")
    res = run("keys", "--data", str(data), "--rotate", "hr-bureau-2026",
              "--key-file", str(tmp_path / "op.pem"))
    assert res.returncode == 0, res.stderr
    assert f"  {mine_for_log.verifier.vkey}  (current)" in res.stdout
    res = run("keys", "--data", str(data), "--key-file", str(tmp_path / "op.pem"))
    assert res.returncode == 2
    assert "goes with --rotate" in res.stderr
