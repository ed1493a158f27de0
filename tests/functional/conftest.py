"""Functional-test hooks: summary lines a test module leaves for the end of the run;
the ``env`` fixture most absence tests use (a module may define its own)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.functional._absence import Env, make_env

#: Lines printed after the test results (e.g. the hostile-input suite's counts).
SUMMARY = pytest.StashKey[list[str]]()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter,
                            config: pytest.Config) -> None:
    for line in config.stash.get(SUMMARY, []):
        terminalreporter.write_line(line)


@pytest.fixture
def env(tmp_path: Path, db_url: str) -> Iterator[Env]:
    """The app, its service and its clock on the test's database (``db_url``)."""
    with make_env(tmp_path, db_url) as e:
        yield e
