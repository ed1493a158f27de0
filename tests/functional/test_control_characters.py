"""Control characters in a query or path argument are refused as the field they are in
(PostgreSQL cannot store or compare a NUL in text: it was a 500 there)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.functional._absence import Env, make_env


@pytest.fixture(scope="module", params=[
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres)])
def env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[Env]:
    tmp: Path = tmp_path_factory.mktemp(f"control-{request.param}")
    url = (f"sqlite:///{tmp / 'ledger.db'}" if request.param == "sqlite"
           else request.getfixturevalue("pg_server").create_database())
    with make_env(tmp, url) as made:
        yield made


@pytest.mark.parametrize(("role", "path", "field"), [
    ("platform", "/api/v1/platform/windows?campaign=a%00b", "campaign"),
    ("platform", "/api/v1/platform/windows?campaign=c1&after=w%00", "after"),
    ("hr", "/api/v1/campaigns/a%00b", "campaign"),
    ("hr", "/api/v1/windows/w%1f1", "window"),
    ("hr", "/api/v1/decisions/d%7f", "decision"),
])
def test_a_control_character_is_a_400_naming_its_field(env: Env, role: str, path: str,
                                                        field: str) -> None:
    before = env.store.head(env.service.log).size
    resp = env.client.get(path, headers=env.auth(role))
    assert resp.status_code == 400, resp.get_data(as_text=True)
    assert resp.mimetype == "application/problem+json"
    problem = resp.get_json()
    assert problem["field"] == field, problem
    assert "control character" in problem["detail"]
    assert env.store.head(env.service.log).size == before
