"""ledger.storage.open: ``open_store`` migrates (or checks) the schema and creates the
configured logs, without Flask, on a real SQLite file."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from ledger.app.registry import entry_types
from ledger.config import LogConfig, Settings, load_settings
from ledger.errors import Conflict
from ledger.migrations import SchemaOutOfDate, current_revision, head_revision, upgrade
from ledger.storage import make_engine
from ledger.storage.open import open_store
from tests.functional._absence import LOG, write_config


def settings_in(tmp_path: Path, **changes: object) -> Settings:
    data = tmp_path / "data"
    s = load_settings(data, write_config(data, f"sqlite:///{tmp_path / 'a.db'}"))
    return dataclasses.replace(s, **changes)  # type: ignore[arg-type]


def test_a_new_database_is_migrated_and_its_logs_created_once(tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    store = open_store(settings, entry_types())
    try:
        with store.engine.connect() as conn:
            assert current_revision(conn) == head_revision()
            # [storage] sqlite_synchronous = "NORMAL" in the test configuration
            assert conn.execute(text("PRAGMA synchronous")).scalar_one() == 1
        info = store.log(LOG)
        assert info.origin == f"example.org/{LOG}"
        first = json.loads(store.entry(LOG, 0))
        assert first["type"] == "log.created"
        assert first["body"]["verifier_key"] == info.verifier_keys[0]
        assert any(settings.key_dir.iterdir())  # the new signing key, in the key dir
    finally:
        store.engine.dispose()
    again = open_store(settings, entry_types())  # the next process finds it all there
    try:
        assert again.log(LOG) == info
        assert again.head(LOG).size == 1
    finally:
        again.engine.dispose()


def test_without_auto_migrate_a_database_never_migrated_is_refused(tmp_path: Path) -> None:
    settings = settings_in(tmp_path, auto_migrate=False)
    with pytest.raises(SchemaOutOfDate, match="absentia db upgrade"):
        open_store(settings, entry_types())
    engine = make_engine(settings.database_url)
    try:
        assert not inspect(engine).has_table("ledger_logs")  # nothing was created
    finally:
        engine.dispose()


def test_without_auto_migrate_an_older_schema_is_refused_and_left_as_it_is(
        tmp_path: Path) -> None:
    settings = settings_in(tmp_path, auto_migrate=False)
    engine = make_engine(settings.database_url)
    try:
        upgrade(engine, "0005")
        with pytest.raises(SchemaOutOfDate):
            open_store(settings, entry_types())
        with engine.connect() as conn:
            assert current_revision(conn) == "0005"
        upgrade(engine)
        store = open_store(settings, entry_types())  # at head: checked, not migrated
        store.engine.dispose()
    finally:
        engine.dispose()


def test_a_log_configured_with_another_origin_is_refused(tmp_path: Path) -> None:
    settings = settings_in(tmp_path)
    open_store(settings, entry_types()).engine.dispose()
    moved = dataclasses.replace(settings, logs=(LogConfig(LOG, "example.org/elsewhere"),))
    with pytest.raises(Conflict, match="origin"):
        open_store(moved, entry_types())
