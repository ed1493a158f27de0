"""The auditor's verifier and monitor must stay small: no Flask, no SQLAlchemy, no database."""

from __future__ import annotations

import subprocess
import sys

import pytest


@pytest.mark.parametrize("module", ["ledger.verify", "ledger.verify_cli", "ledger.monitor_run"])
def test_verify_module_imports_neither_flask_nor_sqlalchemy(module: str) -> None:
    code = (
        f"import sys, {module}\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'flask', 'sqlalchemy', 'werkzeug', 'psycopg', 'sqlite3', 'apscheduler'})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "", f"{module} pulled in: {out.stdout.strip()}"
