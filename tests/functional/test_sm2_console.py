"""The auditor's console with the 国密 option: the log's SM2 key is listed beside the
Ed25519 one with the entry that recorded it, and its checkpoint lines are the log's own,
not taken for a witness's cosignatures."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.sm2 import SM2Verifier
from ledger.storage.sm2keys import use_sm2_key
from tests.functional._absence import LOG, Env, make_env
from tests.functional.test_console_audit import auditor, populate


@pytest.fixture
def lite(tmp_path: Path) -> Iterator[Env]:
    with make_env(tmp_path, f"sqlite:///{tmp_path / 'ledger.db'}") as e:
        yield e


def test_the_audit_page_lists_the_sm2_key_and_no_false_cosignature(
        lite: Env, tmp_path: Path) -> None:
    info = use_sm2_key(lite.store, LOG, f"file:{tmp_path / 'keys' / 'sm2.pem'}", lite.now[0])
    populate(lite)
    (vkey,) = info.sm2_verifier_keys
    assert lite.store.latest_checkpoint(LOG).note.count("\n\u2014 ") == 2
    client = auditor(lite)
    for lang, intro, entry in (
            ("?lang=en", "checkpoints carry a second, SM2-with-SM3 signature line",
             'data-type="log.sm2_key_added">SM2 key added (国密)<'),
            ("", "本日志的检查点另有一行 SM2/SM3 签名",
             'data-type="log.sm2_key_added">新增 SM2 密钥（国密）<')):
        page = client.get(f"/console/audit/logs/{LOG}{lang}")
        assert page.status_code == 200
        text = page.get_data(as_text=True)
        assert intro in text
        assert f"<li><code>{vkey}</code></li>" in text
        assert entry in text
    detail = client.get(f"/console/audit/logs/{LOG}?lang=en").get_data(as_text=True)
    assert "None yet." in detail  # the SM2 line is the log's own, not a witness's
    assert f"{SM2Verifier.from_vkey(vkey).key_id:08x}" in detail
