"""The notice page's verifier (``static/verify.js``, run by node's JavaScript engine and
WebCrypto) on a checkpoint with the 国密 option's SM2 line: the unknown ``0xff`` line is
ignored and the Ed25519 signature still decides; an SM2 verifier key is not taken for
an Ed25519 one (and does not throw)."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.checkpoint import Checkpoint
from ledger.note import Ed25519Signer
from ledger.sm2 import SM2Signer

NODE = shutil.which("node")
VERIFY_JS = Path(__file__).resolve().parents[2] / "ledger" / "app" / "web" / "static" / "verify.js"
ORIGIN = "example.org/log"

# verify.js in a bare context: a stub document (no page), the real WebCrypto; it exports
# its pure checks as window.absentiaVerify.
RUNNER = r"""
const fs = require("fs"), vm = require("vm");
const input = JSON.parse(fs.readFileSync(process.argv[3], "utf8"));
const document = { querySelector: () => null, documentElement: { lang: "zh" },
  readyState: "complete", getElementById: () => null, querySelectorAll: () => [] };
const ctx = { document, crypto: globalThis.crypto, TextEncoder, TextDecoder, atob, btoa,
  Promise, console, Uint8Array, Error };
ctx.window = ctx;
vm.createContext(ctx);
vm.runInContext(fs.readFileSync(process.argv[2], "utf8"), ctx);
const v = ctx.absentiaVerify;
async function open(note, keys) {
  try { const cp = await v.openCheckpoint(note, keys); return "size " + cp.size; }
  catch (e) { return "refused: " + (e && (e.en || e.message) || String(e)); }
}
(async () => {
  const out = {};
  out.sm2_as_ed25519 = (await v.parseVkey(input.sm2)) === null ? "null" : "parsed";
  const ed = await v.parseVkey(input.ed);
  out.with_sm2_line = await open(input.note, [ed]);
  out.tampered_ed25519 = await open(input.tampered, [ed]);
  out.no_keys = await open(input.note, []);
  console.log(JSON.stringify(out));
})();
"""


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_verify_js_ignores_the_sm2_line_and_still_checks_ed25519(tmp_path: Path) -> None:
    assert NODE is not None
    ed = Ed25519Signer(ORIGIN, Ed25519PrivateKey.generate())
    sm2 = SM2Signer.from_pem(ORIGIN, SM2Signer.generate_pem())
    note = Checkpoint(ORIGIN, 5, bytes(range(32))).sign([ed, sm2])
    lines = note.split("\n")
    name_part, b64 = lines[-3].rsplit(" ", 1)  # the Ed25519 line (the SM2 one is last)
    blob = bytearray(base64.b64decode(b64))
    blob[-1] ^= 0x01
    lines[-3] = f"{name_part} {base64.b64encode(bytes(blob)).decode()}"
    (tmp_path / "in.json").write_text(json.dumps({
        "note": note, "tampered": "\n".join(lines), "ed": ed.verifier.vkey,
        "sm2": sm2.verifier.vkey}), encoding="utf-8")
    (tmp_path / "run.js").write_text(RUNNER, encoding="utf-8")
    res = subprocess.run([NODE, str(tmp_path / "run.js"), str(VERIFY_JS),
                          str(tmp_path / "in.json")], capture_output=True, text=True,
                         timeout=60, check=False)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out == {
        "sm2_as_ed25519": "null",
        "with_sm2_line": "size 5",
        "tampered_ed25519": "refused: 检查点签名无效 checkpoint signature does not verify",
        "no_keys": "refused: 检查点未由所列公钥签名 checkpoint not signed by a listed key",
    }
