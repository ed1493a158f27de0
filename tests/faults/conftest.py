"""Fixtures of the fault tests, and their report.

* ``fault_pg`` (session): our own PostgreSQL server, which the tests stop and restart
  (never the shared ``pg_server`` of the rest of the suite).
* ``results``: each scenario records its counts here (``Result``); at the end they are
  written to ``tests/faults/last-run.json`` and printed as a table in pytest's terminal
  summary.
"""

from __future__ import annotations

import json
from collections.abc import Generator, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.pgserver import PgServer, serve_for_tests

LAST_RUN = Path(__file__).resolve().parent / "last-run.json"


@dataclass
class Result:
    """One scenario's counts."""

    scenario: str
    runs: int = 0  # fault injections (kills, restarts, fills, clock steps)
    kills: int = 0
    restarts: int = 0
    deliveries: int = 0
    acked: int = 0  # events acknowledged with a 2xx
    found: int = 0  # of those, found in the ledger
    duplicates: int = 0
    decisions: int = 0
    decided_twice: int = 0
    outcome: str = "failed"
    statuses: dict[str, int] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)


_RESULTS: list[Result] = []


@pytest.fixture(scope="session")
def fault_pg() -> Iterator[PgServer]:
    """A PostgreSQL server for the fault tests alone (they stop and restart it)."""
    yield from serve_for_tests("the fault tests", external_url="")


@pytest.fixture
def result(request: pytest.FixtureRequest) -> Result:
    """This scenario's counts, kept for the report (marked passed if the test passed)."""
    r = Result(request.node.name.removeprefix("test_"))
    _RESULTS.append(r)
    return r


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]
                              ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if report.when == "call" or (report.when == "setup" and report.outcome != "passed"):
        name = item.name.removeprefix("test_")
        for r in _RESULTS:
            if r.scenario == name:
                r.outcome = report.outcome
    return report


COLUMNS = (("scenario", 30), ("runs", 5), ("kills", 6), ("restarts", 9), ("deliveries", 11),
           ("acked", 7), ("found", 7), ("duplicates", 11), ("decisions", 10),
           ("decided_twice", 14), ("outcome", 8))


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _RESULTS:
        return
    LAST_RUN.write_text(json.dumps([asdict(r) for r in _RESULTS], indent=2,
                                   ensure_ascii=False) + "\n", encoding="utf-8")
    tr = terminalreporter
    tr.section("fault scenarios")
    tr.write_line("".join(name.rjust(width) if i else name.ljust(width)
                          for i, (name, width) in enumerate(COLUMNS)))
    for r in _RESULTS:
        row = asdict(r)
        tr.write_line("".join(str(row[name]).rjust(width) if i else
                              str(row[name]).ljust(width)
                              for i, (name, width) in enumerate(COLUMNS)))
    tr.write_line(f"(also in {LAST_RUN})")
