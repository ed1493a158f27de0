"""The archive report's 递补 section: counts, and each vacancy's answer with the reason
a vacancy stayed unfilled, by registration number, never a score (rendered HTML: the
PDF around it is tested in test_report)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from publicity.report import collect, render_html
from tests.functional._absence import T0, Env, candidates_csv, make_env
from tests.unit.ledger.absence._domain import HR

POLICY = """
[policies.bf_cut]
mode = "government"
backfill = true
backfill_cutoff = 2026-11-20
"""


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    with make_env(tmp_path, f"sqlite:///{tmp_path / 'a.db'}", extra_config=POLICY) as env:
        env.campaign("c2026", policy="bf_cut")
        yield env


def test_the_report_lists_vacancies_proposals_and_why_one_stayed_unfilled(env: Env) -> None:
    csv, rows = candidates_csv(3, seed=6)
    assert env.import_csv("c2026", csv).status_code == 201
    regs = [r["registration"] for r in rows]
    ranking = ("报名号,成绩\n" + "".join(f"{r},{88.5 - i}\n" for i, r in enumerate(regs)))
    svc = env.service
    svc.import_ranking(HR, "c2026", ranking.encode(), "text/csv", {
        "post": "p01", "pass_line": "60", "places": "1", "interview_day": "2026-12-01"}, T0)
    svc.record_vacancy(HR, "c2026", {"registration": regs[0], "kind": "withdrawn_in_writing",
                                     "at": (T0 - timedelta(days=10)).isoformat()}, T0)
    svc.record_vacancy(HR, "c2026", {"registration": regs[2], "kind": "disqualified",
                                     "at": (T0 - timedelta(days=1)).isoformat()}, T0)
    html = render_html(collect(svc, "c2026", T0, base_url="https://hr.example.org"))
    section = html.split("递补 Filling vacancies (2)", 1)[1].split("</section>", 1)[0]
    assert regs[0] in section
    assert regs[1] in section
    assert "待审核 pending" in section
    assert "已过递补截止时间 after the cut-off" in section
    assert "未递补 Unfilled: 已过递补截止时间 after the cut-off" in html
    assert "88.5" not in html

