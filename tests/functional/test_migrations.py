"""Schema migrations (``ledger/migrations``) on real SQLite and PostgreSQL databases.

* From an empty database to head: every table, index and append-only trigger.
* The migrated schema equals the models (Alembic's ``compare_metadata``: no drift), so
  a model changed without a revision fails here.
* A database made by the old ``create_all`` code (no ``alembic_version``), even one
  missing an index a later release added, is adopted: completed, stamped 0001, upgraded.
* Between releases: a database made and filled by the previous release's own code (from
  the repository's history), upgraded to head by ``absentia db upgrade``, keeps every
  entry and row, derives new projection columns as a replay would, its chain verifies,
  and the app at head appends to it consistently.
* Two processes upgrading one PostgreSQL database at once both succeed (one migrates,
  the other finds it done): they are released together from behind the DDL lock.
* ``[storage] auto_migrate = false`` refuses an old schema with a one-line message.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, MetaData, inspect, text
from sqlalchemy.exc import DBAPIError

from ledger.absence.notify import FileChannel
from ledger.absence.outbox import dispatch
from ledger.absence.rebuild import check_rebuild
from ledger.absence.service import AbsenceService, Caller
from ledger.absence.settings import load_absence_settings
from ledger.absence.vault import Vault
from ledger.app.export import export_log
from ledger.app.registry import entry_types, table_metadata
from ledger.app.wiring import open_absence
from ledger.config import load_settings
from ledger.migrations import (
    BASELINE,
    current_revision,
    head_revision,
    history,
    script_directory,
    upgrade,
)
from ledger.storage import LedgerStore, make_engine
from ledger.storage.db import DDL_LOCK_KEY
from ledger.storage.open import open_store
from ledger.storage.tables import APPEND_ONLY_TABLES
from ledger.verify import DirectorySource, verify_log
from tests.functional._absence import LOG, T0, candidates_csv, write_config
from tests.functional.test_cli import ABSENTIA, cli_env

CST = timezone(timedelta(hours=8))
TIMEOUT_S = 120


def local(minutes: float) -> str:
    return (T0 + timedelta(minutes=minutes)).astimezone(CST).isoformat()


def models() -> MetaData:
    """Every model table in one ``MetaData`` (what ``compare_metadata`` takes)."""
    md = MetaData()
    for part in table_metadata():
        for table in part.tables.values():
            table.to_metadata(md)
    return md


def drift(engine: Engine) -> list[object]:
    """Alembic's differences between the migrated schema and the models ([]: none)."""
    with engine.connect() as conn:
        return list(compare_metadata(MigrationContext.configure(conn), models()))


def tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def triggered_tables(engine: Engine) -> set[str]:
    """Tables that carry a trigger of ours."""
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.execute(text(
                "SELECT tbl_name FROM sqlite_master WHERE type = 'trigger'"))
        else:
            rows = conn.execute(text(
                "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "WHERE NOT t.tgisinternal"))
        return {r[0] for r in rows}


def model_tables() -> set[str]:
    return {t for md in table_metadata() for t in md.tables}


def absentia(*args: str | Path, env: dict[str, str] | None = None
             ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(ABSENTIA), *map(str, args)], capture_output=True, text=True,
                          timeout=TIMEOUT_S, env=env or cli_env(), check=False)


# -- empty to head ---------------------------------------------------------------------


def test_empty_database_to_head_has_the_models_schema_and_triggers(
        db_url: str, key_dir: Path) -> None:
    engine = make_engine(db_url)
    try:
        assert tables(engine) == set()
        done = upgrade(engine)
        assert (done.before, done.after, done.adopted) == (None, head_revision(), False)
        assert tables(engine) == model_tables() | {"alembic_version"}
        assert drift(engine) == []
        # Every index of the models exists by name.
        insp = inspect(engine)
        for md in table_metadata():
            for table in md.tables.values():
                have = {ix["name"] for ix in insp.get_indexes(table.name)}
                assert {ix.name for ix in table.indexes} <= have, table.name
        # Every table the models call append-only has its triggers.
        assert set(APPEND_ONLY_TABLES) <= triggered_tables(engine)
        # The append-only triggers: history cannot be rewritten.
        store = LedgerStore(engine, key_dir, entry_types())
        store.create_log(LOG, f"example.org/{LOG}", T0)
        store.sign_checkpoint(LOG, T0)
        refused = []
        for name in APPEND_ONLY_TABLES:
            with engine.connect() as conn:
                if not conn.execute(text(f"SELECT count(*) FROM {name}")).scalar_one():
                    continue  # row triggers fire on rows (nodes: only at tile levels)
            with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
                conn.execute(text(f"DELETE FROM {name}"))
            refused.append(name)
        assert {"ledger_entries", "ledger_checkpoints", "ledger_keys"} <= set(refused)
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.execute(text("UPDATE ledger_entries SET entry_type = 'forged'"))
        if engine.dialect.name == "postgresql":
            with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
                conn.execute(text("TRUNCATE ledger_entries"))
        # Upgrading again changes nothing.
        again = upgrade(engine)
        assert not again.changed
        assert again.after == head_revision()
    finally:
        engine.dispose()


def test_a_model_without_a_revision_is_drift(db_url: str) -> None:
    """The drift check can fail: a column the migrations never added is reported."""
    engine = make_engine(db_url)
    try:
        upgrade(engine)
        with engine.begin() as conn:
            conn.execute(text("ALTER TABLE p_tokens ADD COLUMN stray INTEGER"))
        found = drift(engine)
        assert any(d[0] == "remove_column" and d[2] == "p_tokens"  # type: ignore[index]
                   for d in found), found
    finally:
        engine.dispose()


def test_revisions_form_one_line_from_the_baseline() -> None:
    revs = history()
    assert revs[0][:2] == (BASELINE, None)
    for (before, _, _), (rev, parent, doc) in itertools.pairwise(revs):
        assert parent == before, rev
        assert doc, rev
    assert revs[-1][0] == head_revision()
    assert all(s.module.__doc__ for s in script_directory().walk_revisions())


# -- adoption of a create_all database ---------------------------------------------------


def test_database_made_by_create_all_is_adopted(db_url: str, key_dir: Path) -> None:
    engine = make_engine(db_url)
    baseline = script_directory().get_revision(BASELINE)
    assert baseline is not None
    try:
        # What the releases before migrations did: create_all and the triggers, here
        # from an older one still that lacked the sweep index.
        with engine.begin() as conn:
            baseline.module.meta.create_all(conn)
            baseline.module.install_append_only_triggers(conn)
            conn.execute(text("DROP INDEX ix_windows_sweep"))
        store = LedgerStore(engine, key_dir, entry_types())
        store.create_log(LOG, f"example.org/{LOG}", T0)
        store.sign_checkpoint(LOG, T0)
        before = [d for _, d in store.iter_entries(LOG)]
        with engine.connect() as conn:
            assert current_revision(conn) is None
        done = upgrade(engine)
        assert done.adopted
        assert done.after == head_revision()
        assert "ix_windows_sweep" in {ix["name"] for ix in inspect(engine).get_indexes(
            "p_windows")}
        assert drift(engine) == []
        assert [d for _, d in store.iter_entries(LOG)] == before
        assert store.latest_checkpoint(LOG).size == len(before)
    finally:
        engine.dispose()


# -- between releases ----------------------------------------------------------------------


@dataclass
class AtRevision:
    """The app as the release whose head is ``revision`` ran it: the schema migrated to
    that revision only, the store and the service wired by hand and driven through the
    service's commands (no start-up migration in between)."""

    data: Path
    config: Path
    store: LedgerStore
    service: AbsenceService
    now: datetime


def app_at_revision(tmp_path: Path, db_url: str, revision: str) -> AtRevision:
    data = tmp_path / "data"
    config = write_config(data, db_url)
    settings = load_settings(data, config)
    engine = make_engine(db_url)
    upgrade(engine, revision)
    store = LedgerStore(engine, settings.key_dir, entry_types())
    for lc in settings.logs:
        store.ensure_log(lc.name, lc.origin, T0)
    cfg = load_absence_settings(settings)
    service = AbsenceService(store, cfg, Vault.load_or_create_master_key(cfg.master_key_path))
    return AtRevision(data, config, store, service, T0)


def run_campaign(app: AtRevision) -> None:
    """A small campaign: candidates, windows, platform events, the sweep, the outbox."""
    hr = Caller("hr-test", "hr")
    now = app.now
    app.service.create_campaign(hr, {"campaign": "c2026", "title": "2026年公开招聘",
                                     "posts": [{"post": "p01", "title": "岗位"}]}, now)
    data, _ = candidates_csv(12, seed=7)
    app.service.import_candidates(hr, "c2026", data, "text/csv", now)
    windows = [w["window"] for w in app.service.schedule_windows(
        hr, "c2026", {"opens_at": local(60), "closes_at": local(120)}, now)]
    now += timedelta(minutes=90)
    events = [{"id": f"e{i}", "window": w, "kind": "completed", "at": local(70 + i)}
              for i, w in enumerate(windows[:6])]
    app.service.ingest("m1", {"events": events}, now)
    now += timedelta(minutes=120)
    assert app.service.sweep(now) == len(windows)
    channel = FileChannel(app.data / "outbox.jsonl")
    assert dispatch(app.service, {"email": channel, "sms": channel}, now)["sent"]
    app.service.create_token("hr", now, label="before-upgrade")
    app.store.sign_checkpoint(LOG, now)
    app.now = now


#: The last release before migrations (and before the witnesses, the rate-limit table and
#: the rebooking offer's state): its own code makes the "old" database below.
PREVIOUS_RELEASE = "efcadb7"

#: Run by the previous release's code (its ledger/ on PYTHONPATH): a government campaign
#: (imports, windows, events, the sweep, the outbox) and an enterprise one whose offer of
#: a rebooking is taken, so every kind of row the upgrade must keep or derive exists.
#: Runs on the previous release's source tree: its module names, not this release's.
OLD_RELEASE_SCRIPT = """
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from ledger.absence.outbox import dispatch
from ledger.absence.service import Caller
from ledger.absence.setup import open_absence
from ledger.config import load_settings
from ledger.notify import FileChannel
from ledger.web import open_store

data, config, csv_a, csv_b = (Path(a) for a in sys.argv[1:5])
T0 = datetime(2026, 11, 25, tzinfo=timezone.utc)
CST = timezone(timedelta(hours=8))
local = lambda m: (T0 + timedelta(minutes=m)).astimezone(CST).isoformat()
settings = load_settings(data, config)
store = open_store(settings)
service = open_absence(settings, store, T0)
hr = Caller("hr-test", "hr")
for name, policy, csv in (("c2026", "government", csv_a), ("e2026", "enterprise", csv_b)):
    service.create_campaign(hr, {"campaign": name, "title": "2026年公开招聘",
                                 "policy": policy,
                                 "posts": [{"post": "p01", "title": "岗位"}]}, T0)
    service.import_candidates(hr, name, csv.read_bytes(), "text/csv", T0)
windows = [w["window"] for w in service.schedule_windows(
    hr, "c2026", {"opens_at": local(60), "closes_at": local(120)}, T0)]
service.schedule_windows(hr, "e2026", {"opens_at": local(60), "closes_at": local(120)}, T0)
now = T0 + timedelta(minutes=90)
service.ingest("m1", {"events": [{"id": f"e{i}", "window": w, "kind": "completed",
                                  "at": local(70 + i)} for i, w in enumerate(windows[:6])]},
               now)
now += timedelta(minutes=120)
service.sweep(now)
offer = next(d for d in service.decisions("e2026") if d["outcome"] == "rebook_offered")
service.rebook(hr, offer["decision"], {"opens_at": local(600), "closes_at": local(660)}, now)
channel = FileChannel(data / "outbox.jsonl")
dispatch(service, {"email": channel, "sms": channel}, now)
service.create_token("hr", now, label="before-upgrade")
store.sign_checkpoint("%s", now)
print(now.isoformat())
"""


def previous_release(where: Path) -> Path:
    """The previous release's source tree, from this repository's history."""
    repo = Path(__file__).resolve().parents[2]
    archive = subprocess.run(["git", "-C", str(repo), "archive", "--format=tar",
                              PREVIOUS_RELEASE, "ledger", "publicity", "templates"],
                             capture_output=True, check=False, timeout=TIMEOUT_S)
    assert archive.returncode == 0, (
        f"this test needs the repository's history (commit {PREVIOUS_RELEASE}); in a "
        f"shallow clone run `git fetch --unshallow`: {archive.stderr.decode()}")
    where.mkdir(parents=True)
    subprocess.run(["tar", "-x", "-C", str(where)], input=archive.stdout, check=True,
                   timeout=TIMEOUT_S)
    return where


def row_counts(engine: Engine, names: set[str]) -> dict[str, int]:
    with engine.connect() as conn:
        return {t: int(conn.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one())
                for t in sorted(names)}


def test_previous_release_database_upgrades_keeping_everything(
        tmp_path: Path, db_url: str) -> None:
    """The previous release's own code makes and fills a database; this release's
    `absentia db upgrade` adopts it (no alembic_version: stamped 0001) and upgrades it;
    every entry and row is kept, the new projection column is derived as a replay would
    (``rebuild --check``), and the old checkpoint stays consistent with the new ones."""
    old_src = previous_release(tmp_path / "old-release")
    data = tmp_path / "data"
    config = write_config(data, db_url)
    csv_a, csv_b = tmp_path / "a.csv", tmp_path / "b.csv"
    csv_a.write_bytes(candidates_csv(12, seed=7)[0])
    csv_b.write_bytes(candidates_csv(3, seed=8, prefix="E")[0])
    # The previous release knows no notice_... policy key (the notice settings came later).
    old_config = tmp_path / "old-config.toml"
    old_config.write_text("".join(
        line for line in config.read_text(encoding="utf-8").splitlines(keepends=True)
        if not line.startswith("notice_")), encoding="utf-8")
    run = subprocess.run([sys.executable, "-c", OLD_RELEASE_SCRIPT % LOG, str(data),
                          str(old_config), str(csv_a), str(csv_b)],
                         capture_output=True, text=True, timeout=TIMEOUT_S, check=False,
                         cwd=old_src, env={**cli_env(), "PYTHONPATH": str(old_src)})
    assert run.returncode == 0, run.stderr
    then = datetime.fromisoformat(run.stdout.strip())
    engine = make_engine(db_url)
    try:
        old_tables = tables(engine)
        assert "alembic_version" not in old_tables  # made before migrations existed
        assert "p_decisions" in old_tables
        counts = row_counts(engine, old_tables)
        with engine.connect() as conn:
            taken = conn.execute(text(
                "SELECT count(*) FROM p_windows WHERE kind = 'rebook'")).scalar_one()
        assert taken == 1
    finally:
        engine.dispose()
    settings = load_settings(data, config)
    store = LedgerStore(make_engine(db_url), settings.key_dir, entry_types())
    try:
        entries = [d for _, d in store.iter_entries(LOG)]
        checkpoint = store.latest_checkpoint(LOG)
    finally:
        store.engine.dispose()

    # This release: `absentia db upgrade`, a real process, on the same database.
    done = absentia("db", "upgrade", "--data", data, "--config", config)
    assert done.returncode == 0, done.stderr
    assert f"to {head_revision()}" in done.stdout, done.stdout

    store = open_store(settings, entry_types())
    try:
        with store.engine.connect() as conn:
            assert current_revision(conn) == head_revision()
        assert row_counts(store.engine, old_tables) == counts
        assert drift(store.engine) == []
        assert [d for _, d in store.iter_entries(LOG)] == entries
        # The derived column (the offer taken by the rebooking) equals a replay.
        result = check_rebuild(store, LOG)
        assert result.equal, result.differences
        # The chain and the old checkpoint verify; this release appends after them.
        service = open_absence(settings, store, then)
        later = then + timedelta(hours=1)
        service.create_token("hr", later, label="after-upgrade")
        store.sign_checkpoint(LOG, later)
        export_log(store, LOG, tmp_path / "export")
        report = verify_log(DirectorySource(tmp_path / "export"), store.verifiers(LOG),
                            old_checkpoint=checkpoint.note)
        assert report.old_size == len(entries)
        assert report.size == store.head(LOG).size > len(entries)
    finally:
        store.engine.dispose()


# -- concurrency -------------------------------------------------------------------------


@pytest.mark.postgres
def test_two_processes_upgrading_one_postgresql_database_both_succeed(
        tmp_path: Path, pg_url: str) -> None:
    engine = make_engine(pg_url)
    env = {**cli_env(), "ABSENTIA_DATABASE_URL": pg_url}
    procs: list[subprocess.Popen[str]] = []
    try:
        # Hold the DDL lock so that both processes queue behind it, then let them race.
        with engine.connect() as holder, holder.begin():
            holder.exec_driver_sql(f"SELECT pg_advisory_xact_lock({DDL_LOCK_KEY})")
            for i in range(2):
                procs.append(subprocess.Popen(
                    [str(ABSENTIA), "db", "upgrade", "--data", str(tmp_path / f"d{i}")],
                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env))
            deadline = time.monotonic() + TIMEOUT_S
            while True:
                with engine.connect() as conn:
                    waiting = conn.execute(text(
                        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                        "AND NOT granted AND database = (SELECT oid FROM pg_database "
                        "WHERE datname = current_database())")).scalar_one()
                if waiting == 2:
                    break
                assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
                assert time.monotonic() < deadline, "the processes never reached the lock"
                time.sleep(0.05)
        outputs = [p.communicate(timeout=TIMEOUT_S) for p in procs]
        assert [p.returncode for p in procs] == [0, 0], outputs
        said = sorted(out for out, _ in outputs)
        assert said[0].startswith("already at"), said
        assert said[1].startswith("upgraded from"), said
        with engine.connect() as conn:
            assert current_revision(conn) == head_revision()
        assert drift(engine) == []
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
        engine.dispose()


# -- the command line and auto_migrate ---------------------------------------------------


def test_auto_migrate_off_refuses_an_old_schema_until_db_upgrade(
        tmp_path: Path, db_url: str) -> None:
    data = tmp_path / "data"
    config = write_config(data, db_url).read_text(encoding="utf-8").replace(
        'key_dir = "{data}/keys"', 'key_dir = "{data}/keys"\nauto_migrate = false')
    path = data / "config.toml"
    path.write_text(config, encoding="utf-8")
    refused = absentia("keys", "--data", data, "--config", path)
    assert refused.returncode == 1
    assert "absentia db upgrade" in refused.stderr
    assert "Traceback" not in refused.stderr
    current = absentia("db", "current", "--data", data, "--config", path)
    assert current.returncode == 1
    assert "absentia db upgrade" in current.stdout
    engine = make_engine(db_url)
    try:
        assert tables(engine) == set()  # refusing did not create anything
    finally:
        engine.dispose()

    done = absentia("db", "upgrade", "--data", data, "--config", path)
    assert done.returncode == 0, done.stderr
    assert absentia("db", "current", "--data", data, "--config", path).stdout.strip() == \
        f"{head_revision()} (head)"
    ok = absentia("keys", "--data", data, "--config", path)
    assert ok.returncode == 0, ok.stderr
    again = absentia("db", "upgrade", "--data", data, "--config", path)
    assert again.stdout.strip() == f"already at {head_revision()}; nothing to do"


def test_db_history_lists_every_revision() -> None:
    done = absentia("db", "history")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"<base> -> {BASELINE}, Baseline")
    assert lines[-1].startswith(f"-> {head_revision()} (head)", lines[-1].index(" ") + 1)
    assert len(lines) == len(history())


def test_rebuild_check_replays_into_a_migrated_scratch_database(
        tmp_path: Path, db_url: str) -> None:
    app = app_at_revision(tmp_path, db_url, "head")
    try:
        run_campaign(app)
        result = check_rebuild(app.store, LOG)
        assert result.equal, result.differences
        assert result.tables["p_decisions"] == 12
    finally:
        app.store.engine.dispose()
