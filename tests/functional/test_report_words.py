"""The archive report as people read it (the real WeasyPrint render, read back with
pdftotext): times written as people write them at the campaign's clock (北京时间, UTC
labelled as UTC), Chinese first, words instead of codes in the decision table, no page
left nearly empty by a forced break, and the configured public base URL in the QR code.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from ledger.absence.entries import OUTCOMES
from tests.functional.test_report import ABSENTIA

pytestmark = pytest.mark.slow

BASE = "https://absentia.example.gov.cn"
CODES = [*OUTCOMES, "notification_failed", "no_show", "compatibility", "technical"]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([ABSENTIA, *args], capture_output=True, text=True, timeout=600,
                          check=False)


@pytest.fixture(scope="module")
def pdf(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A demo campaign's report, rendered with a configured [publicity] base_url."""
    root = tmp_path_factory.mktemp("words")
    data = root / "data"
    shipped = (Path(__file__).resolve().parents[2] / "config.toml").read_text("utf-8")
    config = root / "config.toml"
    config.write_text(shipped.replace('# base_url = "https://absentia.example.gov.cn"',
                                      f'base_url = "{BASE}"'), "utf-8")
    demo = _run("demo", "--data", str(data), "--config", str(config), "--no-serve",
                "--candidates", "200")
    assert demo.returncode == 0, demo.stderr
    out = _run("report", "generate", "--data", str(data), "--config", str(config),
               "--campaign", "hrb-2026-autumn")
    assert out.returncode == 0, out.stderr
    m = re.search(r"report (\S+):", out.stdout)
    assert m
    return Path(out.stdout.strip().splitlines()[-1]), m.group(1)


def _pages(path: Path) -> list[str]:
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True,
                          text=True, timeout=120, check=True).stdout
    return text.split("\f")


def test_the_cover_writes_times_as_people_do(pdf: tuple[Path, str]) -> None:
    cover = _pages(pdf[0])[0]
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d", cover), cover  # no ISO/RFC 3339
    assert "(Asia/Shanghai)" not in cover
    assert "北京时间" in cover
    assert re.search(r"20\d\d年\d{1,2}月\d{1,2}日 \d\d:\d\d", cover), cover
    assert re.search(r"UTC 20\d\d-\d\d-\d\d \d\d:\d\d:\d\d", cover), cover  # labelled UTC
    zh = cover.find("本报表所列每一项决定")
    assert 0 <= zh < cover.find("Every decision below"), cover  # Chinese first


def test_the_decision_table_shows_words_not_codes(pdf: tuple[Path, str]) -> None:
    pages = _pages(pdf[0])
    table = "".join(p for p in pages if "叶哈希" in p or re.search(r"[0-9a-f]{64}", p))
    table = table.split("附录 Appendix")[0]  # the appendix may give the codes
    assert re.search(r"[0-9a-f]{64}", table)
    for code in CODES:
        assert code not in table, code
    assert not re.search(r"\bp0\d\b", table)  # post codes: only in the appendix
    assert "视为放弃" in table
    assert "报名号" in table


def test_no_page_is_left_nearly_empty(pdf: tuple[Path, str]) -> None:
    pages = [p for p in _pages(pdf[0]) if p.strip()]
    for n, page in enumerate(pages[:-1], 1):
        lines = [ln for ln in page.splitlines() if ln.strip()]
        assert len(lines) > 12, (n, page)  # e.g. 6 rows, then a forced break


def test_the_qr_code_says_the_configured_base_url(pdf: tuple[Path, str]) -> None:
    """The caption under the QR code is the code's payload (``ReportData.verify_url``)."""
    path, report_id = pdf
    # In content order (-raw), not laid out: -layout puts the caption's wrapped lines on
    # the text lines beside them (the cover's times), interleaving the two by how long
    # the report's id happens to be.
    raw = subprocess.run(["pdftotext", "-raw", "-f", "1", "-l", "1", str(path), "-"],
                         capture_output=True, text=True, timeout=120, check=True).stdout
    caption = re.sub(r"\s", "", raw)
    assert f"{BASE}/reports/{report_id}" in caption
    assert "127.0.0.1" not in caption
