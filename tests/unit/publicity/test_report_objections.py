"""The archive report's key figures include the notice's objections (异议) and how they
were answered, when the campaign's statistics carry them."""

from __future__ import annotations

from typing import Any

from publicity.report import charts_and_kpis

STATS: dict[str, Any] = {
    "absent": 3, "decided": 10, "attended": 7, "absence_rate": 0.3,
    "causes": {"no_show": 3}, "cause_shares": {"no_show": 1.0},
    "makeups": {"granted": 0, "rate": None, "attended": 0},
    "appeals": {"filed": 0, "upheld": 0, "overturned": 0, "open": 0,
                "overturn_rate": None, "misjudgment_rate": None},
    "pending_review": 0}


def test_objections_are_among_the_key_figures() -> None:
    _, kpis = charts_and_kpis(STATS | {"objections": {
        "received": 4, "open": 1, "upheld": 1, "cancelled": 1, "deferred": 1}})
    figures = dict(kpis)
    assert figures["公示异议 Objections received"] == "4"
    assert figures["维持/取消/暂缓 Upheld/cancelled/deferred"] == "1 / 1 / 1"


def test_without_objection_counts_the_figures_are_as_before() -> None:
    _, kpis = charts_and_kpis(STATS)
    assert not any("异议" in label for label, _ in kpis)
