"""Backup and restore, end to end: ``absentia export --all`` and ``absentia restore``.

A demo campaign (200 candidates) runs on a real database (SQLite and PostgreSQL); the
CLI backs it up, more happens, it is backed up again.  The backups are restored by the
CLI, in real processes, into fresh databases of the same and of the other kind; the app
then serves the restored database and a fresh export of it verifies.  Refusals (a
rollback, a damaged or altered backup, a backup older than a checkpoint someone holds,
another history) are checked to write nothing: the target's rows are counted before and
after, in the real database.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, inspect, select

from ledger.app.backup import check_backup, check_files
from ledger.app.backup import restore as restore_backup
from ledger.app.backup_export import backup
from ledger.app.backup_format import app_tables, open_backup
from ledger.app.demo import DEFAULT_SEED, demo_people
from ledger.app.registry import entry_types
from ledger.app.web import create_app
from ledger.config import load_settings
from ledger.storage import LedgerStore, NewEntry, make_engine
from ledger.storage.store import TreeHead
from ledger.tiles import decode_bundle, encode_bundle
from ledger.witness.protocol import AddCheckpoint
from tests.functional._witness import WitnessProcess
from tests.pgserver import PgServer

ABSENTIA = Path(sys.executable).parent / "absentia"
REPO_CONFIG = Path(__file__).resolve().parents[2] / "config.toml"
LOG = "hr-bureau-2026"
CANDIDATES = 200
TIMEOUT_S = 300
KINDS = [pytest.param("sqlite", id="sqlite"),
         pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres)]


def absentia(*args: str | Path, url: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI on the database ``url`` (the project's config.toml otherwise)."""
    env = dict(os.environ)
    env.pop("ABSENTIA_CONFIG", None)
    env["ABSENTIA_DATABASE_URL"] = url
    return subprocess.run([str(ABSENTIA), *map(str, args)], capture_output=True, text=True,
                          timeout=TIMEOUT_S, env=env, check=False)


def ok(res: subprocess.CompletedProcess[str]) -> str:
    assert res.returncode == 0, (res.stdout, res.stderr)
    return res.stdout


def new_url(kind: str, where: Path, request: pytest.FixtureRequest) -> str:
    """A fresh, empty database of ``kind``."""
    if kind == "sqlite":
        where.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{where / 'absentia.db'}"
    server: PgServer = request.getfixturevalue("pg_server")
    return server.create_database()


def _norm(v: Any) -> Any:
    return bytes(v) if isinstance(v, memoryview | bytearray) else v


def contents(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every app table in the database, in primary-key order."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            present = set(inspect(conn).get_table_names())
            out = {}
            for t in app_tables():
                if t.name in present:
                    pk = list(t.primary_key.columns) or list(t.columns)
                    out[t.name] = [tuple(_norm(v) for v in r)
                                   for r in conn.execute(select(t).order_by(*pk)).all()]
            return out
    finally:
        engine.dispose()


def counts(url: str) -> dict[str, int]:
    """Rows per app table (absent tables left out)."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            present = set(inspect(conn).get_table_names())
            return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                    for t in app_tables() if t.name in present}
    finally:
        engine.dispose()


def backup_contents(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    """The rows the backup holds, per table, as ``contents`` gives a database's."""
    b = open_backup(path)
    tables = {t.name: t for t in app_tables()}
    return {name: [tuple(row.get(c.name) for c in tables[name].columns)
                   for row in b.rows(name)] for name in b.manifest["tables"]}


def log_size(path: Path) -> int:
    return int(json.loads((path / "manifest.json").read_text())["logs"][0]["size"])


def rehash(path: Path, rel: str) -> None:
    """Recompute one file's SHA-256 in the manifest (an attacker covering their tracks)."""
    manifest = json.loads((path / "manifest.json").read_text())
    manifest["files"][rel]["sha256"] = hashlib.sha256((path / rel).read_bytes()).hexdigest()
    (path / "manifest.json").write_text(json.dumps(manifest))


@dataclass(frozen=True)
class Source:
    """A demo database backed up twice: ``b1``, then more entries, ``b2``."""

    kind: str
    url: str
    data: Path
    b1: Path
    b2: Path
    demo_stdout: str


@pytest.fixture(scope="module", params=KINDS)
def source(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
           ) -> Source:
    kind = str(request.param)
    root = tmp_path_factory.mktemp(f"backup-{kind}")
    data = root / "src"
    url = new_url(kind, data, request)
    demo = ok(absentia("demo", "--data", data, "--no-serve", "--candidates", str(CANDIDATES),
                       url=url))
    b1 = root / "b1"
    out = ok(absentia("export", "--all", "--out", b1, "--data", data, url=url))
    assert "private keys are not in the backup" in out
    for _ in range(2):  # more happens after the first backup
        ok(absentia("tokens", "create", "--role", "auditor", "--data", data, url=url))
    b2 = root / "b2"
    ok(absentia("export", "--all", "--out", b2, "--data", data, url=url))
    assert log_size(b2) == log_size(b1) + 2
    return Source(kind, url, data, b1, b2, demo)


@dataclass(frozen=True)
class Target:
    url: str
    data: Path


def make_target(kind: str, source: Source, where: Path, request: pytest.FixtureRequest
                ) -> Target:
    """An empty database with the source's key directory (backed up separately)."""
    data = where / "dst"
    url = new_url(kind, data, request)
    shutil.copytree(source.data / "keys", data / "keys")
    return Target(url, data)


@pytest.fixture
def target(source: Source, tmp_path: Path, request: pytest.FixtureRequest) -> Target:
    """An empty database of the source's kind."""
    return make_target(source.kind, source, tmp_path, request)


@pytest.fixture
def other_target(source: Source, tmp_path: Path, request: pytest.FixtureRequest) -> Target:
    """An empty database of the other kind (SQLite -> PostgreSQL, PostgreSQL -> SQLite)."""
    kind = "postgresql" if source.kind == "sqlite" else "sqlite"
    return make_target(kind, source, tmp_path, request)


@pytest.fixture
def copy_b1(source: Source, tmp_path: Path) -> Path:
    """A copy of the first backup to damage."""
    dst = tmp_path / "b1-copy"
    shutil.copytree(source.b1, dst)
    return dst


def restore(backup: Path, target: Target, *extra: str | Path
            ) -> subprocess.CompletedProcess[str]:
    return absentia("restore", backup, "--data", target.data, *extra, url=target.url)



def refused(backup: Path, target: Target, *extra: str | Path) -> str:
    """Run a restore that must be refused; check it wrote nothing; return its message."""
    before = contents(target.url)
    res = restore(backup, target, *extra)
    assert res.returncode == 1, (res.stdout, res.stderr)
    assert "Traceback" not in res.stderr
    assert contents(target.url) == before
    return res.stderr


# -- round trips ----------------------------------------------------------------------------


def test_backup_manifest_covers_every_table_and_log(source: Source) -> None:
    manifest = json.loads((source.b1 / "manifest.json").read_text())
    assert manifest["format"] == "absentia-backup"
    assert manifest["dialect"] == source.kind
    assert manifest["schema_revision"]
    assert "vault master key" in manifest["not_included"]
    [log] = manifest["logs"]
    assert log["name"] == LOG
    assert log["size"] == log["checkpoint"]["size"]
    assert log["checkpoint"]["note"] == (source.b1 / "logs" / LOG / "checkpoint").read_text()
    # Every table of the app that the database has, found from the app's MetaData.
    db_tables = counts(source.url)
    assert set(manifest["tables"]) == set(db_tables)
    for name in ("ledger_entries", "ledger_checkpoints", "vault_people", "console_accounts",
                 "p_tokens", "notice_documents", "p_decisions"):
        assert manifest["tables"][name]["rows"] > 0, name
    # Every file is listed with its SHA-256 and row count; no file is left out.
    on_disk = {str(p.relative_to(source.b1)) for p in source.b1.rglob("*") if p.is_file()}
    assert set(manifest["files"]) == on_disk - {"manifest.json"}
    for rel, info in manifest["files"].items():
        assert hashlib.sha256((source.b1 / rel).read_bytes()).hexdigest() == info["sha256"]
    for info in manifest["tables"].values():
        with gzip.open(source.b1 / info["file"]) as f:
            assert sum(1 for _ in f) == info["rows"] == manifest["files"][info["file"]]["rows"]
    history = (source.b1 / "logs" / LOG / "checkpoints.jsonl").read_text().splitlines()
    assert len(history) == manifest["tables"]["ledger_checkpoints"]["rows"]
    # The vault's personal data is in the backup only as stored: encrypted.
    people = open_backup(source.b1).rows("vault_people")
    assert all(isinstance(p["ciphertext"], bytes | None) for p in people)
    dumps = []
    for info in manifest["tables"].values():
        with gzip.open(source.b1 / info["file"]) as f:
            dumps.append(f.read().decode())
    text = "".join(dumps)
    for p in demo_people(CANDIDATES, DEFAULT_SEED):
        assert p.id_number not in text
        assert json.dumps(p.name)[1:-1] not in text
        assert p.name not in text
    # The log part is a tlog-tiles export `absentia verify` accepts as it is.
    res = subprocess.run([str(ABSENTIA), "verify", source.b1 / "logs" / LOG, "--keys",
                          source.b1 / "logs" / LOG / "keys"], capture_output=True, text=True,
                         timeout=TIMEOUT_S, check=False)
    assert res.returncode == 0, res.stderr


def test_restore_into_empty_database_then_serve_and_verify(
        source: Source, target: Target, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    out = ok(restore(source.b1, target))
    assert "restored (into an empty database)" in out
    assert "projections equal a replay" in out
    assert "note: private keys are not in the backup" in out
    # Exactly the backup's rows, table by table (ids, bytes and all).
    assert contents(target.url) == backup_contents(source.b1)
    # The app runs on the restored database.
    monkeypatch.setenv("ABSENTIA_DATABASE_URL", target.url)
    settings = load_settings(target.data)
    app = create_app(settings)
    try:
        client = app.test_client()
        assert client.get("/healthz").status_code == 200
        cp = client.get(f"/logs/{LOG}/checkpoint")
        assert cp.status_code == 200
        assert cp.data == (source.b1 / "logs" / LOG / "checkpoint").read_bytes()
        token = re.search(r"^  auditor +(\S+)$", source.demo_stdout, re.MULTILINE)
        campaign = re.search(r"^campaign (\S+):", source.demo_stdout, re.MULTILINE)
        assert token
        assert campaign
        stats = client.get(f"/api/v1/campaigns/{campaign.group(1)}/statistics",
                           headers={"Authorization": f"Bearer {token.group(1)}"})
        assert stats.status_code == 200, stats.json
        assert stats.json
        assert stats.json["decided"] > 0
    finally:
        app.extensions["absentia.store"].engine.dispose()
    # A fresh export of the restored database verifies offline with the backup's keys.
    fresh = tmp_path / "fresh"
    ok(absentia("export", "--log", LOG, "--out", fresh, "--data", target.data, url=target.url))
    res = subprocess.run([str(ABSENTIA), "verify", fresh, "--keys",
                          source.b1 / "logs" / LOG / "keys"], capture_output=True, text=True,
                         timeout=TIMEOUT_S, check=False)
    assert res.returncode == 0, res.stderr
    m = re.match(r"OK: \S+: ([\d,]+) entries", res.stdout)
    assert m, res.stdout
    assert int(m.group(1).replace(",", "")) >= log_size(source.b1)
    ok(absentia("rebuild", "--check", "--data", target.data, url=target.url))


def test_restore_across_databases(source: Source, other_target: Target) -> None:
    """SQLite -> PostgreSQL (the embedded default to production) and back."""
    out = ok(restore(source.b2, other_target, "--not-before",
                     source.b1 / "logs" / LOG / "checkpoint"))
    assert "projections equal a replay" in out
    assert contents(other_target.url) == backup_contents(source.b2)
    # The restored database takes new entries: the sequences are past the restored ids.
    ok(absentia("tokens", "create", "--role", "hr", "--data", other_target.data,
                url=other_target.url))
    ok(absentia("checkpoint", "--log", LOG, "--data", other_target.data, url=other_target.url))
    after = counts(other_target.url)
    manifest = json.loads((source.b2 / "manifest.json").read_text())
    assert after["ledger_entries"] == manifest["tables"]["ledger_entries"]["rows"] + 1
    assert after["ledger_checkpoints"] == manifest["tables"]["ledger_checkpoints"]["rows"] + 1


# -- rollback and roll forward --------------------------------------------------------------


def test_rollback_refused_roll_forward_allowed(source: Source, target: Target) -> None:
    ok(restore(source.b1, target))
    # The target is a prefix of the newer backup: rolled forward.
    out = ok(restore(source.b2, target))
    assert "restored (rolled forward)" in out
    assert f"{log_size(source.b1):,} -> {log_size(source.b2):,} entries" in out
    assert contents(target.url) == backup_contents(source.b2)
    # The older backup onto the newer database: refused, naming the log and both sizes.
    msg = refused(source.b1, target)
    assert f"would roll log {LOG} back" in msg
    assert f"the database has {log_size(source.b2):,} entries, the backup " \
           f"{log_size(source.b1):,}" in msg


def test_another_history_refused(source: Source, target: Target) -> None:
    """A target that went on differently from the backup's first entries is no prefix."""
    ok(restore(source.b1, target))
    ok(absentia("tokens", "create", "--role", "hr", "--data", target.data, url=target.url))
    msg = refused(source.b2, target)
    size = log_size(source.b1) + 1
    assert f"log {LOG} in the database is not a prefix of the backup's: its {size:,} " \
           "entries differ" in msg


def test_not_before_a_newer_checkpoint_refused(source: Source, target: Target) -> None:
    newer = source.b2 / "logs" / LOG / "checkpoint"
    msg = refused(source.b1, target, "--not-before", newer)
    assert "the backup is older than the --not-before checkpoint" in msg
    assert f"{log_size(source.b1):,} entries in the backup, the checkpoint " \
           f"{log_size(source.b2):,}" in msg
    assert counts(target.url) == {}  # not even the schema was created


def test_not_before_a_forged_checkpoint_refused(source: Source, target: Target,
                                                tmp_path: Path) -> None:
    forged = tmp_path / "forged"
    text = (source.b1 / "logs" / LOG / "checkpoint").read_text()
    forged.write_text(text.replace(f"\n{log_size(source.b1)}\n", "\n1\n", 1))
    msg = refused(source.b2, target, "--not-before", forged)
    assert "--not-before checkpoint" in msg


# -- damaged and altered backups ------------------------------------------------------------


def test_one_byte_changed_refused_by_checksum(source: Source, target: Target,
                                              copy_b1: Path) -> None:
    rel = "tables/vault_people.jsonl.gz"
    data = bytearray((copy_b1 / rel).read_bytes())
    data[len(data) // 2] ^= 0x01
    (copy_b1 / rel).write_bytes(bytes(data))
    msg = refused(copy_b1, target)
    assert f"backup file {rel} does not have the SHA-256 the manifest gives it" in msg
    assert counts(target.url) == {}


def test_altered_tiles_with_recomputed_checksums_refused(source: Source, target: Target,
                                                         copy_b1: Path) -> None:
    rel = f"logs/{LOG}/tile/entries/000"
    entries = decode_bundle((copy_b1 / rel).read_bytes())
    entries[3] = entries[3].replace(b'"actor":"', b'"actor":"x', 1)
    assert entries[3] != decode_bundle((source.b1 / rel).read_bytes())[3]
    (copy_b1 / rel).write_bytes(encode_bundle(entries))
    rehash(copy_b1, rel)
    msg = refused(copy_b1, target)
    assert f"log {LOG} does not verify (first bad index: 3)" in msg


def test_altered_rows_with_recomputed_checksums_refused(source: Source, target: Target,
                                                        copy_b1: Path) -> None:
    """The raw ledger rows must be the verified tiles' entries, byte for byte."""
    rel = "tables/ledger_entries.jsonl.gz"
    with gzip.open(copy_b1 / rel) as f:
        lines = f.read().splitlines()
    row = json.loads(lines[5])
    data = base64.b64decode(row["data"]["$b64"]).replace(b'"actor":"', b'"actor":"x', 1)
    assert data != base64.b64decode(row["data"]["$b64"])
    row["data"]["$b64"] = base64.b64encode(data).decode()
    lines[5] = json.dumps(row, separators=(",", ":")).encode()
    with gzip.open(copy_b1 / rel, "wb") as f:
        f.write(b"\n".join(lines) + b"\n")
    rehash(copy_b1, rel)
    msg = refused(copy_b1, target)
    assert f"log {LOG}: entry 5 in ledger_entries is out of order or does not hash" in msg


# -- a coherent snapshot while the app writes -----------------------------------------------


def test_backup_is_one_snapshot_while_the_log_grows(store: LedgerStore, db_url: str,
                                                    tmp_path: Path) -> None:
    """Entries appended and checkpoints signed during the dump are not in it, and what
    is in it agrees with itself: the heads, the entries, the nodes, the checkpoints."""
    t0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
    store.create_log("l", "example.org/l", t0)

    def grow(n: int, tag: str) -> None:
        for k in range(0, n, 100):
            store.append_batch("l", [NewEntry(
                "platform.event", "platform:t",
                {"event_id": f"{tag}-{k + j}", "window": "w-1", "subject": "sub_" + "b" * 26,
                 "kind": "joined", "at": "2026-11-25T08:00:00.000Z"})
                for j in range(min(100, n - k))], t0)
        store.sign_checkpoint("l", t0)

    grow(700, "before")
    size = store.head("l").size
    writes: list[str] = []

    def writer(label: str) -> Callable[[int, int], None]:
        # Called as each part of the dump starts, on the dump's own thread: the log
        # grows by a tile and a checkpoint is signed between every two reads.
        grow(300, f"during-{len(writes)}")
        writes.append(label)
        return lambda done, total: None

    out = tmp_path / "b"
    result = backup(store.engine, out, t0, writer)
    assert len(writes) > 10
    assert store.head("l").size == size + 300 * len(writes)
    assert [lg.size for lg in result.logs] == [size]
    b = open_backup(out)
    check_files(b)
    check_backup(b)  # heads, entries, nodes and checkpoints agree: one snapshot
    assert b.manifest["tables"]["ledger_entries"]["rows"] == size
    target = LedgerStore(make_engine(f"sqlite:///{tmp_path / 'restored.db'}"),
                         store.keys.root, entry_types())
    try:
        restored = restore_backup(target, b)
        assert restored.mode == "empty"
        assert target.head("l") == TreeHead(size, result.logs[0].root)
    finally:
        target.engine.dispose()


def test_restore_warns_when_the_keys_are_not_there(source: Source, tmp_path: Path,
                                                   request: pytest.FixtureRequest) -> None:
    """The backup holds no private key: a restore without them says what is missing."""
    data = tmp_path / "bare"
    target = Target(new_url(source.kind, data, request), data)
    res = restore(source.b1, target)
    assert res.returncode == 0, res.stderr
    assert f"the signing key of log {LOG}" in res.stderr
    assert "the vault master key" in res.stderr
    assert "is missing: put it back before starting the app" in res.stderr
    # And a backup is never written over another one.
    again = absentia("export", "--all", "--out", source.b1, "--data", source.data,
                     url=source.url)
    assert again.returncode == 1
    assert "exists and is not empty: back up into a new directory" in again.stderr


# -- the witnesses remember how far a log grew ---------------------------------------------


def _config_with(target: Target, witness: WitnessProcess) -> Path:
    """The project's config.toml plus one [[witnesses]] table."""
    config = target.data / "config.toml"
    config.write_text(REPO_CONFIG.read_text(encoding="utf-8")
                      + f'\n[[witnesses]]\nname = "{witness.name}"\nurl = "{witness.url}"\n'
                        f'vkey = "{witness.vkey}"\n\n[witness_policy]\ntimeout_s = 5\n',
                      encoding="utf-8")
    return config


def test_restore_asks_the_witnesses_how_far_the_log_grew(
        source: Source, target: Target, tmp_path: Path) -> None:
    """After losing the database, the witnesses may be the only memory of the latest
    size: an older backup is refused even into an empty database."""
    newest = open_backup(source.b2).log(LOG)
    assert newest is not None
    assert newest.checkpoint_note is not None
    witness = WitnessProcess(tmp_path / "witness", "witness.example.org/w1")
    witness.init()
    witness.add_log(newest.origin, *newest.verifier_keys)
    witness.start()
    try:
        # The witness cosigned the log at the newer backup's size.
        status, _, _ = witness.post(AddCheckpoint(0, (), newest.checkpoint_note).to_bytes())
        assert status == 200
        config = _config_with(target, witness)
        msg = refused(source.b1, target, "--config", config)
        assert f"witness {witness.name} has cosigned log {LOG} up to size " \
               f"{newest.checkpoint_size:,}" in msg
        assert "roll the log back" in msg
        out = ok(restore(source.b2, target, "--config", config))
        assert f"witness {witness.name} on {LOG}: same (its size " \
               f"{newest.checkpoint_size:,})" in out
    finally:
        witness.stop()


def test_restore_refuses_when_a_witness_cannot_be_asked(
        source: Source, target: Target, tmp_path: Path) -> None:
    witness = WitnessProcess(tmp_path / "witness", "witness.example.org/w1")
    witness.init()  # configured, never started: nobody answers on its port
    config = _config_with(target, witness)
    msg = refused(source.b2, target, "--config", config)
    assert f"could not ask witness {witness.name}" in msg
    assert "--skip-witness-check" in msg
    res = restore(source.b2, target, "--config", config, "--skip-witness-check")
    assert res.returncode == 0, (res.stdout, res.stderr)
    assert "the witnesses were not asked" in res.stderr
