"""`absentia serve` warns in its (JSON) log when no public base URL is set."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import pytest

from ledger.app.cli.serve import NO_BASE_URL, warn_if_no_base_url
from ledger.config import load_settings


def test_serve_warns_without_a_base_url(tmp_path: Path,
                                        caplog: pytest.LogCaptureFixture) -> None:
    s = load_settings(tmp_path)
    assert s.publicity.base_url is None
    with caplog.at_level(logging.WARNING, logger="absentia"):
        assert warn_if_no_base_url(s)
    assert NO_BASE_URL in caplog.text


def test_serve_is_quiet_with_a_base_url(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                        ) -> None:
    s = load_settings(tmp_path)
    s = replace(s, publicity=replace(s.publicity, base_url="https://absentia.example"))
    assert not warn_if_no_base_url(s)
    assert capsys.readouterr().err == ""


def test_the_shipped_config_does_not_pin_a_loopback_base_url() -> None:
    shipped = Path(__file__).resolve().parents[5] / "config.toml"
    s = load_settings(shipped.parent, shipped)
    assert s.publicity.base_url is None  # a copied config must not print 127.0.0.1
