"""The ``absentia`` command line, run as a real program on a throwaway data directory.

``demo`` builds, exports and verifies a log; ``keys`` lists and rotates its signing
keys; ``export`` and ``verify`` then check it offline with exit codes 0 (verified),
1 (failed) and 2 (could not check).  Also: nothing the demo wrote into the ledger
looks like personal data.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ledger.entry import Entry
from ledger.events import PII_PATTERNS
from ledger.note import Ed25519Signer, Ed25519Verifier
from ledger.tiles import bundles_for_size, decode_bundle

ABSENTIA = Path(sys.executable).parent / "absentia"
LOG = "hr-bureau-2026"
ORIGIN = "absentia.example.gov.cn/hr-bureau/2026"
ENTRIES = 1200
TIMEOUT_S = 120


def cli_env() -> dict[str, str]:
    """The environment for the CLI, without settings that would redirect it elsewhere."""
    env = dict(os.environ)
    env.pop("ABSENTIA_DATABASE_URL", None)
    env.pop("ABSENTIA_CONFIG", None)
    return env


def absentia(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(ABSENTIA), *map(str, args)], capture_output=True, text=True,
                          timeout=TIMEOUT_S, env=cli_env(), check=False)


@dataclass(frozen=True)
class Demo:
    data: Path
    stdout: str
    size: int

    @property
    def export(self) -> Path:
        return self.data / "export" / LOG


def run_demo(data: Path) -> Demo:
    res = absentia("demo", "--data", data, "--no-serve", "--entries", str(ENTRIES))
    assert res.returncode == 0, (res.stdout, res.stderr)
    m = re.search(rf"^log {LOG} \({re.escape(ORIGIN)}\): ([\d,]+) entries, checkpoint signed$",
                  res.stdout, re.MULTILINE)
    assert m is not None, res.stdout
    return Demo(data, res.stdout, int(m.group(1).replace(",", "")))


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    """One demo data directory for the tests that only read it."""
    return run_demo(tmp_path_factory.mktemp("cli") / "data")


def listed_keys(stdout: str) -> list[tuple[str, bool]]:
    """(verifier key, current?) lines of ``absentia keys`` for LOG."""
    lines = stdout.splitlines()
    start = lines.index(f"{LOG}\t{ORIGIN}")
    out: list[tuple[str, bool]] = []
    for line in lines[start + 1 :]:
        if not line.startswith("  "):
            break
        key, _, mark = line.strip().partition("  ")
        out.append((key, mark == "(current)"))
    return out


def stranger_key() -> str:
    """A well-formed verifier key with the log's name that never signed anything."""
    return Ed25519Signer(ORIGIN, Ed25519PrivateKey.generate()).verifier.vkey


# -- demo, keys, verify ----------------------------------------------------------------------


def test_demo_builds_exports_and_verifies(demo: Demo) -> None:
    out = demo.data.resolve() / "export" / LOG
    assert f"exported to {out}\n" in demo.stdout
    assert re.search(rf"verified offline: {demo.size:,} entries, \d+ tiles", demo.stdout)
    assert f"absentia verify {out} --keys {out / 'keys'}" in demo.stdout
    # sample_events yields about --entries events; entry 0 records the log's creation.
    assert ENTRIES + 1 <= demo.size < ENTRIES + 60
    for rel in ("checkpoint", "keys", "tile/0/000", "tile/entries/000", "tile/1/000.p/4"):
        assert (out / rel).is_file(), rel
    assert (out / "checkpoint").read_text(encoding="utf-8").split("\n")[:2] == [
        ORIGIN, str(demo.size)]


def test_keys_lists_the_log_and_its_key(demo: Demo) -> None:
    res = absentia("keys", "--data", demo.data)
    assert res.returncode == 0, res.stderr
    keys = listed_keys(res.stdout)
    assert len(keys) == 1
    key, current = keys[0]
    assert current
    v = Ed25519Verifier.from_vkey(key)
    assert v.name == ORIGIN
    assert (demo.export / "keys").read_text(encoding="utf-8") == key + "\n"


def test_verify_exit_codes(demo: Demo, tmp_path: Path) -> None:
    keys = demo.export / "keys"
    res = absentia("verify", demo.export, "--keys", keys, "--quiet")
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith(f"OK: {ORIGIN}: {demo.size:,} entries")

    res = absentia("verify", tmp_path / "no-such-dir", "--keys", keys, "--quiet")
    assert res.returncode == 2, (res.stdout, res.stderr)
    assert "could not verify" in res.stderr

    res = absentia("verify", demo.export, "--key", stranger_key(), "--quiet")
    assert res.returncode == 1, (res.stdout, res.stderr)
    assert "FAILED" in res.stderr
    assert "no signature by a trusted key" in res.stderr

    res = absentia("verify", demo.export, "--key", "not-a-key", "--quiet")
    assert res.returncode == 1, (res.stdout, res.stderr)
    assert "malformed" in res.stderr


def test_rotate_export_verify_and_key_file_modes(tmp_path: Path) -> None:
    demo = run_demo(tmp_path / "data")
    before = listed_keys(absentia("keys", "--data", demo.data).stdout)
    assert len(before) == 1

    res = absentia("keys", "--data", demo.data, "--rotate", LOG)
    assert res.returncode == 0, res.stderr
    assert f"rotated the signing key of {LOG}" in res.stdout
    after = listed_keys(res.stdout)
    assert [k for k, _ in after][:1] == [before[0][0]]
    assert [c for _, c in after] == [False, True]
    old_key, new_key = after[0][0], after[1][0]
    assert old_key != new_key
    assert absentia("keys", "--data", demo.data).stdout == res.stdout.split("\n", 1)[1]

    out = tmp_path / "export2"
    res = absentia("export", "--data", demo.data, "--log", LOG, "--out", out)
    assert res.returncode == 0, res.stderr
    size = demo.size + 1  # the log.key_added entry
    assert f"exported {LOG}: {size:,} entries" in res.stdout
    assert (out / "keys").read_text(encoding="utf-8").splitlines() == [old_key, new_key]

    res = absentia("verify", out, "--keys", out / "keys", "--old", demo.export / "checkpoint",
                   "--quiet")
    assert res.returncode == 0, res.stderr
    assert res.stdout.startswith(f"OK: {ORIGIN}: {size:,} entries")
    assert f"extends the checkpoint of size {demo.size}" in res.stdout
    # The rotation is itself recorded in the log, naming the new key.
    *_, last_bundle = bundles_for_size(size)
    last = Entry.decode(decode_bundle((out / last_bundle.path()).read_bytes())[-1])
    assert (last.index, last.type) == (size - 1, "log.key_added")
    assert last.body["verifier_key"] == new_key
    res = absentia("verify", out, "--key", new_key, "--quiet")
    assert res.returncode == 0, res.stderr
    res = absentia("verify", out, "--key", old_key, "--quiet")
    assert res.returncode == 1, (res.stdout, res.stderr)

    key_dir = demo.data / "keys" / LOG
    files = sorted(key_dir.iterdir())
    assert len(files) == 2
    ids = {f"{Ed25519Verifier.from_vkey(k).key_id:08x}.pem" for k in (old_key, new_key)}
    assert {f.name for f in files} == ids
    for f in files:
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
    assert stat.S_IMODE(key_dir.stat().st_mode) == 0o700


# -- no personal data in the ledger -----------------------------------------------------------


def strings_in(value: Any) -> Iterator[str]:
    """Every string in a JSON value, object keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield k
            yield from strings_in(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings_in(v)


def personal_data(text: str) -> list[str]:
    return [what for what, pattern in PII_PATTERNS if pattern.search(text)]


def test_patterns_catch_personal_data() -> None:
    """The scan below can fail: each pattern catches its kind of personal data."""
    samples = ["110101199003074514", "13812345678", "zhang.san@example.cn", "张三"]
    assert [personal_data(s) for s in samples] == [
        ["an ID number"], ["a mobile number"], ["an e-mail address"],
        ["Han characters (a name?)"]]


def test_demo_ledger_holds_no_personal_data(demo: Demo) -> None:
    with closing(sqlite3.connect(demo.data / "absentia.db")) as db:
        rows = db.execute("SELECT idx, data FROM ledger_entries ORDER BY log_id, idx").fetchall()
    assert len(rows) == demo.size
    found: dict[int, list[str]] = {}
    for idx, data in rows:
        raw = bytes(data)
        Entry.decode(raw)
        texts = [raw.decode("utf-8"), *strings_in(json.loads(raw))]
        hits = sorted({what for t in texts for what in personal_data(t)})
        if hits:
            found[idx] = hits
    assert found == {}


def test_config_conflicting_with_the_database_is_a_clear_error(demo: Demo, tmp_path: Path) -> None:
    config = (Path(__file__).resolve().parents[2] / "config.toml").read_text(encoding="utf-8")
    bad = tmp_path / "bad.toml"
    bad.write_text(config.replace('origin = "absentia.example.gov.cn/hr-bureau/2026"',
                                  'origin = "elsewhere.example/log"'), encoding="utf-8")
    res = absentia("keys", "--data", demo.data, "--config", bad)
    assert res.returncode == 1, (res.stdout, res.stderr)
    assert "exists with origin" in res.stderr
    assert "Traceback" not in res.stderr
