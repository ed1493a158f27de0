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


# -- [witness_policy] file: a C2SP tlog-policy -------------------------------------------------

V2 = CosignatureV1Signer("w2.example", Ed25519PrivateKey.generate()).verifier.vkey
V3 = CosignatureV1Signer("w3.example", Ed25519PrivateKey.generate()).verifier.vkey
POLICY = (f"witness a1 {VKEY} http://127.0.0.1:7381/\nwitness a2 {V2} https://a2.example\n"
          f"witness b1 {V3} https://b1.example\ngroup a any a1 a2\ngroup both all a b1\n"
          "quorum both\n")


def test_a_policy_file_relative_to_the_config_gives_the_witnesses_and_the_quorum(
        tmp_path: Path) -> None:
    (tmp_path / "w.policy").write_text(POLICY)
    ws = parse_witness_settings([], {"file": "w.policy", "timeout_s": 3}, base_dir=tmp_path)
    assert [(w.name, w.url) for w in ws.witnesses] == [
        ("w1.example", "http://127.0.0.1:7381"), ("w2.example", "https://a2.example"),
        ("w3.example", "https://b1.example")]
    assert ws.policy.timeout_s == 3.0
    assert ws.policy.required == 2  # the fewest cosignatures that can satisfy "both"
    assert ws.policy_text == POLICY.encode()
    assert ws.tlog_policy().quorum == "both"
    # Cosignatures are counted by the witnesses' key names, mapped to the policy's names.
    assert ws.satisfied({"w1.example", "w3.example"})
    assert not ws.satisfied({"w1.example", "w2.example"})
    assert not ws.satisfied({"a1", "b1"})


def test_the_k_of_n_config_is_the_same_kind_of_policy() -> None:
    ws = parse_witness_settings([good()], {"required": 1})
    assert ws.quorum is None
    assert ws.policy_text is None
    p = ws.tlog_policy()
    assert p.witness_vkeys() == {"w1.example": VKEY}
    assert ws.satisfied({"w1.example"})
    assert not ws.satisfied(set())
    assert not parse_witness_settings([], {}).tlog_policy().needs_witnesses()


@pytest.mark.parametrize(("witnesses", "policy", "text", "fragment"), [
    ([good()], {"file": "w.policy"}, POLICY,
     "config witness_policy.file and [[witnesses]]: give the witnesses"),
    ([], {"file": "w.policy", "required": 1}, POLICY,
     "config witness_policy.file and witness_policy.required"),
    ([], {"file": "missing.policy"}, POLICY, "cannot read"),
    ([], {"file": ""}, POLICY, "the path of a C2SP tlog-policy file"),
    ([], {"file": "w.policy", "k": 2}, POLICY, "unknown key(s) ['k']"),
    ([], {"file": "w.policy", "timeout_s": -1}, POLICY, "witness_policy.timeout_s"),
    ([], {"file": "w.policy"}, POLICY.replace("quorum both", "quorum bath"),
     "tlog-policy line 6: the quorum 'bath' is not a witness or group"),
    ([], {"file": "w.policy"}, POLICY.replace(" https://a2.example", ""),
     "witness 'a2' needs its tlog-witness submission URL"),
    ([], {"file": "w.policy"}, POLICY.replace("http://127.0.0.1:7381/", "ftp://x"),
     "witness 'a1' needs its tlog-witness submission URL"),
])
def test_a_bad_policy_file_setting_names_the_key_or_the_line(
        tmp_path: Path, witnesses: Any, policy: dict[str, Any], text: str,
        fragment: str) -> None:
    (tmp_path / "w.policy").write_text(text)
    with pytest.raises(BadData) as info:
        parse_witness_settings(witnesses, policy, base_dir=tmp_path)
    assert fragment in str(info.value)
    assert str(info.value.field).startswith("witness_policy")


def test_two_configured_witnesses_with_one_public_key_are_refused() -> None:
    key = Ed25519PrivateKey.generate()
    one, other = (CosignatureV1Signer(n, key).verifier.vkey for n in ("w1.example", "w9.example"))
    with pytest.raises(BadData, match="two witnesses have the public key") as info:
        parse_witness_settings([good(vkey=one),
                                good(name="w9.example", vkey=other)], {"required": 1})
    assert info.value.field == "witnesses"
