"""Functional-test hooks: summary lines a test module leaves for the end of the run."""

from __future__ import annotations

import pytest

#: Lines printed after the test results (e.g. the hostile-input suite's counts).
SUMMARY = pytest.StashKey[list[str]]()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter,
                            config: pytest.Config) -> None:
    for line in config.stash.get(SUMMARY, []):
        terminalreporter.write_line(line)
