"""Typed configuration: ``[publicity]`` parsed once into ``PublicitySettings``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ledger.config import PublicitySettings, config_table, config_value, load_settings
from ledger.errors import BadData


def _load(tmp_path: Path, text: str) -> Any:
    config = tmp_path / "config.toml"
    config.write_text(text, encoding="utf-8")
    return load_settings(tmp_path / "data", config)


def test_publicity_defaults_and_values(tmp_path: Path) -> None:
    assert _load(tmp_path, "").publicity == PublicitySettings()
    p = _load(tmp_path, '[publicity]\nbase_url = "https://x.example"\nnotice_days = 7\n'
                        'report_interval_s = 60\nsigning_chain = "{data}/ca.pem"\n'
                        '[publicity.calendar."2027"]\nholidays = ["2027-01-01"]\n').publicity
    assert p.base_url == "https://x.example"
    assert p.notice_days == 7
    assert p.report_interval_s == 60.0
    assert p.signing_chain == (str((tmp_path / "data").resolve() / "ca.pem"),)
    assert p.calendar["2027"] == {"holidays": ["2027-01-01"]}
    with pytest.raises(TypeError):
        p.calendar["2028"] = {}


@pytest.mark.parametrize(("text", "key"), [
    ('notice_days = "5"', "publicity.notice_days"),
    ("notice_days = 0", "publicity.notice_days"),
    ("report_jobs_running = 2\nreport_jobs_max = 1", "publicity.report_jobs_max"),
    ("report_timeout_s = true", "publicity.report_timeout_s"),
    ("report_interval_s = -1", "publicity.report_interval_s"),
    ("base_url = 5", "publicity.base_url"),
    ("signing_cert = 1", "publicity.signing_cert"),
    ("signing_chain = [1]", "publicity.signing_chain"),
    ("calendar = 3", "publicity.calendar"),
])
def test_bad_publicity_values_name_the_key(tmp_path: Path, text: str, key: str) -> None:
    with pytest.raises(BadData, match=key) as info:
        _load(tmp_path, f"[publicity]\n{text}\n")
    assert info.value.field == key


def test_config_value_checks_the_type_and_names_the_key() -> None:
    table = {"port": 25, "ratio": 2, "on": True, "password": 12345}
    assert config_value(table, "port", int, 1, "smtp") == 25
    assert config_value(table, "ratio", float, 1.0, "x") == 2.0  # an integer is a float
    assert config_value(table, "absent", str, "dflt", "x") == "dflt"
    with pytest.raises(BadData, match=r"config x\.on: expected int, got True"):
        config_value(table, "on", int, 0, "x")  # a bool is no integer
    with pytest.raises(BadData, match=r"config smtp\.host is required") as info:
        config_value(table, "host", str, None, "smtp", required=True)
    assert info.value.field == "smtp.host"
    with pytest.raises(BadData, match="got int") as secret:
        config_value(table, "password", str, None, "smtp", secret=True)
    assert "12345" not in str(secret.value)


def test_config_table_refuses_a_value_that_is_not_a_table() -> None:
    assert config_table({"smtp": {"host": "h"}}, "smtp", "n.smtp") == {"host": "h"}
    with pytest.raises(BadData, match=r"expected a table \[n\.smtp\]"):
        config_table({"smtp": "h"}, "smtp", "n.smtp")


def test_a_log_needs_a_name_and_an_origin(tmp_path: Path) -> None:
    with pytest.raises(BadData, match=r"config logs\[0\]\.origin is required"):
        _load(tmp_path, '[[logs]]\nname = "main"\n')


def test_pkcs11_table_names_the_module_and_one_pin_source(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('[pkcs11]\nmodule = "/usr/lib/softhsm/libsofthsm2.so"\n'
                      'pin_file = "{data}/pin"\n\n[[logs]]\nname = "l"\norigin = "o"\n'
                      'key = "pkcs11:token=absentia;object=l-2026"\n', encoding="utf-8")
    settings = load_settings(tmp_path, config)
    assert settings.pkcs11 is not None
    assert settings.pkcs11.pin_file == tmp_path.resolve() / "pin"
    assert settings.pkcs11.pin_env is None
    assert settings.logs[0].key_uri == "pkcs11:token=absentia;object=l-2026"
    for bad in ('module = "/m.so"\n',
                'module = "/m.so"\npin_file = "/p"\npin_env = "PIN"\n',
                'pin_env = "PIN"\n'):
        config.write_text(f"[pkcs11]\n{bad}", encoding="utf-8")
        with pytest.raises(BadData, match="pkcs11"):
            load_settings(tmp_path, config)


def test_the_public_role_and_the_read_replica(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ABSENTIA_READ_DATABASE_URL", raising=False)
    plain = _load(tmp_path, "")
    assert (plain.role, plain.read_url) == ("all", None)
    s = _load(tmp_path, '[server]\nrole = "public"\n'
                        '[storage]\nread_url = "sqlite:///{data}/replica.db"\n')
    assert s.role == "public"
    assert s.read_url == f"sqlite:///{(tmp_path / 'data').resolve()}/replica.db"
    monkeypatch.setenv("ABSENTIA_READ_DATABASE_URL", "postgresql+psycopg://r@replica/db")
    assert _load(tmp_path, "").read_url == "postgresql+psycopg://r@replica/db"
    with pytest.raises(BadData) as exc:
        _load(tmp_path, '[server]\nrole = "reader"\n')
    assert exc.value.field == "server.role"
