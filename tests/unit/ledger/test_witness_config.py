"""The log's [[witnesses]] / [witness_policy] and the witness's own config: bad values
are refused with a message naming the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.app.witness_server import load_witness_config
from ledger.errors import BadData
from ledger.witness.client import parse_witness_settings
from ledger.witness.cosig import CosignatureV1Signer

VKEY = CosignatureV1Signer("w1.example", Ed25519PrivateKey.generate()).verifier.vkey


def good(**over: Any) -> dict[str, Any]:
    return {"name": "w1.example", "url": "http://127.0.0.1:7380", "vkey": VKEY} | over


def test_defaults_and_a_valid_policy() -> None:
    ws = parse_witness_settings({}, {})
    assert ws.witnesses == ()
    assert ws.policy.required == 0
    ws = parse_witness_settings([good()], {"required": 1, "timeout_s": 2})
    assert ws.witnesses[0].verifier.vkey == VKEY
    assert ws.policy.timeout_s == 2.0


@pytest.mark.parametrize(("witnesses", "policy", "field"), [
    ([good(url="ftp://x")], {}, "witnesses[0].url"),
    ([good(vkey=None)], {}, "witnesses[0].vkey"),
    ([good(vkey="w1.example+00000000+AQ==")], {}, "vkey"),
    ([good(name="other.example")], {}, "witnesses[0].name"),
    ([good(), good()], {}, "witnesses"),
    ([good()], {"required": 2}, "witness_policy.required"),
    ([good()], {"required": True}, "witness_policy.required"),
    ([good()], {"timeout_s": 0}, "witness_policy.timeout_s"),
    ({"name": "x"}, {}, "witnesses"),
])
def test_bad_log_side_settings_name_the_field(witnesses: Any, policy: Any, field: str) -> None:
    with pytest.raises(BadData) as info:
        parse_witness_settings(witnesses, policy)
    assert info.value.field == field


def test_witness_config_file(tmp_path: Path) -> None:
    path = tmp_path / "witness.toml"
    path.write_text('name = "w.example"\nkey = "k.pem"\n[[logs]]\norigin = "o.example"\n'
                    'vkeys = []\n')
    with pytest.raises(BadData, match=r"logs\[0\]\.vkeys"):
        load_witness_config(path)
    path.write_text('name = "w.example"\nkey = "k.pem"\nport = "80"\n')
    with pytest.raises(BadData, match="port"):
        load_witness_config(path)
    path.write_text('name = "w.example"\nkey = "k.pem"\n')
    cfg = load_witness_config(path)
    assert cfg.key_path == tmp_path / "k.pem"
    assert cfg.database_url == f"sqlite:///{tmp_path}/witness.db"
    with pytest.raises(BadData, match="not found"):
        load_witness_config(tmp_path / "missing.toml")
