"""递补 over the JSON API: a ranking imported, a vacancy answered, a proposal ruled, on the
test's database (SQLite, and PostgreSQL where the run provides it)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from tests.functional._absence import T0, Env, J, candidates_csv, make_env, problem

POLICY = """
[policies.bf_on]
mode = "government"
backfill = true
"""


@pytest.fixture
def env(tmp_path: Path, db_url: str) -> Iterator[Env]:
    with make_env(tmp_path, db_url, extra_config=POLICY) as e:
        yield e


def _campaign(env: Env) -> list[str]:
    r = env.post("/api/v1/campaigns", "hr", {
        "campaign": "c1", "title": "2026年公开招聘", "policy": "bf_on",
        "posts": [{"post": "p01", "title": "岗位p01"}]})
    assert r.status_code == 201, r.get_data(as_text=True)
    csv, rows = candidates_csv(4)
    r = env.post("/api/v1/campaigns/c1/candidates", "hr", data=csv,
                 content_type="text/csv")
    assert r.status_code == 201, r.get_data(as_text=True)
    return [row["registration"] for row in rows]


def test_a_ranking_a_vacancy_and_a_ruling_over_the_api(env: Env) -> None:
    regs = _campaign(env)
    ranking = "报名号,成绩\n" + "".join(f"{reg},{90 - i}\n" for i, reg in enumerate(regs))
    query = "post=p01&pass_line=60&places=2&interview_day=2026-12-10"
    r = env.post(f"/api/v1/campaigns/c1/rankings?{query}", "reviewer",
                 data=ranking.encode(), content_type="text/csv")
    problem(r, 403)
    r = env.post(f"/api/v1/campaigns/c1/rankings?{query.replace('60', 'x')}", "hr",
                 data=ranking.encode(), content_type="text/csv")
    problem(r, 400, "pass_line")
    r = env.post(f"/api/v1/campaigns/c1/rankings?{query}", "hr",
                 data=b"\xe6\x8a\xa5\xe5\x90\x8d\xe5\x8f\xb7,\xe6\x88\x90\xe7\xbb\xa9\nX,1\n",
                 content_type="text/csv")
    assert [e["row"] for e in problem(r, 422, "rows")["errors"]] == [2]
    r = env.post(f"/api/v1/campaigns/c1/rankings?{query}", "hr", data=ranking.encode(),
                 content_type="text/csv")
    assert r.status_code == 201, r.get_data(as_text=True)
    assert (J(r)["ranked"], J(r)["qualified"]) == (4, 4)

    env.clock(T0 + timedelta(hours=1))
    r = env.post("/api/v1/campaigns/c1/vacancies", "hr", {
        "registration": regs[0], "kind": "withdrawn_in_writing",
        "at": T0.isoformat()})
    assert r.status_code == 201, r.get_data(as_text=True)
    assert J(r)["answer"] == "backfill.proposed"
    r = env.post("/api/v1/campaigns/c1/vacancies", "hr", {
        "registration": regs[0], "kind": "withdrawn_in_writing", "at": T0.isoformat()})
    problem(r, 409, "registration")

    answers = J(env.get("/api/v1/campaigns/c1/backfills", "auditor"))
    assert [(a["status"], a["vacated_registration"], a["registration"]) for a in answers] == [
        ("proposed", regs[0], regs[1])]
    proposal = answers[0]["proposal"]
    problem(env.post(f"/api/v1/backfills/{proposal}/decline", "reviewer", {}), 400, "reason")
    r = env.post(f"/api/v1/backfills/{proposal}/decline", "reviewer",
                 {"reason": "本人放弃递补"})
    assert J(r)["status"] == "declined"
    second = J(env.get("/api/v1/campaigns/c1/backfills", "hr"))[1]
    assert (second["registration"], second["round"]) == (regs[2], 2)
    opens = env.now[0] + timedelta(hours=1)
    r = env.post(f"/api/v1/backfills/{second['proposal']}/approval", "reviewer", {
        "opens_at": opens.isoformat(), "closes_at": (opens + timedelta(hours=2)).isoformat()})
    assert r.status_code == 200, r.get_data(as_text=True)
    assert J(env.get(f"/api/v1/windows/{J(r)['window']}", "hr"))["kind"] == "regular"
    problem(env.get("/api/v1/backfills/nope", "hr"), 404)
    stats = J(env.get("/api/v1/campaigns/c1/statistics", "auditor"))["backfill"]
    assert (stats["vacancies"], stats["filled"], stats["declined"]) == (1, 1, 1)
