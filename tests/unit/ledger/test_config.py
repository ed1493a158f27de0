"""Typed configuration: ``[publicity]`` parsed once into ``PublicitySettings``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ledger.config import PublicitySettings, load_settings
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
