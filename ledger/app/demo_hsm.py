"""``absentia demo --hsm``: every key of the demo inside a SoftHSM2 token under the data
directory.

On first run: a SoftHSM2 config and token directory in ``DATA/hsm`` (the process and its
children find it through ``SOFTHSM2_CONF``), a token labelled ``absentia-demo`` with a
random PIN in ``DATA/hsm/pin`` (mode 0600), and ``DATA/hsm/config.toml``: the given config
with ``[pkcs11]`` and every key named by a ``pkcs11:`` URI (each log's checkpoint key, the
vault's master key, the document-signing key).  The log and vault keys are made in the
token; the document-signing key is made at the first report.  A second run reuses them.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

from ledger.absence.settings import load_absence_settings
from ledger.absence.vault_token import create_token_master_key, derive_uri
from ledger.config import DEFAULT_CONFIG, load_settings
from ledger.errors import CouldNotCheck
from ledger.hsm import Hsm
from ledger.keys import KeyDirectory
from ledger.pkcs11uri import Pkcs11Uri

TOKEN = "absentia-demo"  # noqa: S105  (a token label, not a password)
MODULES = ("/usr/lib/softhsm/libsofthsm2.so",
           "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so")


def softhsm_module() -> str:
    """Debian's libsofthsm2.

    Raises:
        CouldNotCheck: softhsm2 is not installed.
    """
    found = next((m for m in MODULES if Path(m).exists()), None)
    if found is None or shutil.which("softhsm2-util") is None:
        raise CouldNotCheck("--hsm needs SoftHSM2: apt-get install softhsm2 (make install "
                            "does it)")
    return found


def prepare(data_dir: Path, config_file: Path | None) -> Path:
    """Make (or reuse) the demo's token and HSM config; return the config's path.

    Raises:
        CouldNotCheck: SoftHSM2 is missing or the token cannot be initialised.
        BadData: the given config cannot be read.
    """
    module = softhsm_module()
    folder = data_dir.resolve() / "hsm"
    tokens = folder / "tokens"
    conf = folder / "softhsm2.conf"
    pin = folder / "pin"
    tokens.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(folder, 0o700)
    if not conf.exists():
        conf.write_text(f"directories.tokendir = {tokens}\nobjectstore.backend = file\n"
                        "log.level = ERROR\nslots.removable = false\n", encoding="utf-8")
    os.environ["SOFTHSM2_CONF"] = str(conf)  # read when the module loads; children inherit
    if not pin.exists():
        fd = os.open(pin, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(secrets.token_hex(8) + "\n")
        user_pin = pin.read_text(encoding="utf-8").strip()
        try:
            subprocess.run(["softhsm2-util", "--init-token", "--free", "--label", TOKEN,
                            "--so-pin", secrets.token_hex(8), "--pin", user_pin],
                           check=True, capture_output=True, timeout=60)
        except subprocess.CalledProcessError as exc:
            pin.unlink()
            # Its command line holds the PINs: say only what the tool said.
            said = (exc.stderr or b"").decode("utf-8", "replace").strip()[-500:]
            raise CouldNotCheck(f"softhsm2-util could not initialise the demo token (exit "
                                f"{exc.returncode}): {said or 'no message'}") from None
        except (OSError, subprocess.SubprocessError) as exc:
            pin.unlink()
            raise CouldNotCheck("softhsm2-util could not initialise the demo token: "
                                f"{type(exc).__name__}") from None
    source = config_file or Path(os.environ.get("ABSENTIA_CONFIG", DEFAULT_CONFIG))
    raw = tomllib.loads(source.read_text(encoding="utf-8"))
    raw["pkcs11"] = {"module": module, "pin_file": str(pin)}
    for lc in raw.get("logs", []):
        lc["key"] = Pkcs11Uri(TOKEN, f"log-{lc['name']}").to_text()
    raw.setdefault("absence", {})["master_key"] = Pkcs11Uri(TOKEN, "vault").to_text()
    publicity = raw.setdefault("publicity", {})
    for key in ("signing_cert", "signing_chain", "signing_p12", "signing_p12_password_file"):
        publicity.pop(key, None)
    publicity["signing_key"] = Pkcs11Uri(TOKEN, "document-signing").to_text()
    out = folder / "config.toml"
    out.write_text(to_toml(raw), encoding="utf-8")
    _make_keys(data_dir, out)
    return out


def _make_keys(data_dir: Path, config: Path) -> None:
    settings = load_settings(data_dir, config)
    assert settings.pkcs11 is not None
    hsm = Hsm(settings.pkcs11)
    token = hsm.token(TOKEN)
    directory = KeyDirectory(settings.key_dir, hsm)
    for lc in settings.logs:
        assert lc.key_uri is not None
        if not token.exists(Pkcs11Uri.parse(lc.key_uri)):
            directory.create_in_token(lc.key_uri, lc.origin)
    vault = load_absence_settings(settings).master_key_uri
    assert vault is not None
    parsed = Pkcs11Uri.parse(vault)
    if not token.exists(parsed) and not token.exists(derive_uri(parsed)):
        create_token_master_key(vault, hsm)


# -- a small TOML writer (the stdlib reads TOML but does not write it) ---------------------

def to_toml(doc: dict[str, Any]) -> str:
    """``doc`` (as ``tomllib`` reads it) as TOML text: scalars and lists inline, tables and
    arrays of tables as sections.  Keys and strings are written as JSON strings, which
    are TOML basic strings."""
    lines: list[str] = []
    _table(doc, [], lines)
    return "\n".join(lines) + "\n"


def _key(k: str) -> str:
    return json.dumps(k, ensure_ascii=False)


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{_key(k)} = {_value(x)}" for k, x in v.items()) + "}"
    raise TypeError(f"cannot write {type(v).__name__} as TOML")


def _is_tables(v: Any) -> bool:
    return isinstance(v, list) and bool(v) and all(isinstance(x, dict) for x in v)


def _table(doc: dict[str, Any], path: list[str], lines: list[str]) -> None:
    for k, v in doc.items():
        if not isinstance(v, dict) and not _is_tables(v):
            lines.append(f"{_key(k)} = {_value(v)}")
    for k, v in doc.items():
        if isinstance(v, dict):
            lines.append(f"\n[{'.'.join(_key(p) for p in [*path, k])}]")
            _table(v, [*path, k], lines)
        elif _is_tables(v):
            for item in v:
                lines.append(f"\n[[{'.'.join(_key(p) for p in [*path, k])}]]")
                _table(item, [*path, k], lines)
