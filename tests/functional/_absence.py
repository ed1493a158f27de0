"""Shared helpers for the absence-domain tests: an app on a real database with a clock.

``make_env(tmp_path, db_url)`` writes a config file (test thresholds, a file outbox),
opens the store and the service, creates one token per role and returns an ``Env``
whose Flask test client runs on a clock the test moves (``env.clock``).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from ledger.absence.imports import id_check_character
from ledger.absence.service import AbsenceService
from ledger.absence.webhooks import WebhookSecret, sign
from ledger.app.registry import entry_types
from ledger.app.web import create_app
from ledger.app.wiring import open_absence, read_webhook_secrets
from ledger.config import Settings, load_settings
from ledger.storage import LedgerStore
from ledger.storage.open import open_store
from tests.configs import absence_tables

LOG = "hr-test"
T0 = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)  # 08:00 in Asia/Shanghai

CONFIG = """
[storage]
url = "{url}"
sqlite_synchronous = "NORMAL"
key_dir = "{{data}}/keys"

[checkpoints]
min_interval_s = 0.5

[[logs]]
name = "{log}"
origin = "example.org/{log}"

{absence}
[policies.enterprise]
mode = "enterprise"
grace_s = 600
rebook_within_s = 172800
lock_after = 2
notice_issuing_office = "示例公司人力资源部"
notice_supervision_phone = "010-87654321"
notice_objection_address = "示例市示例路2号"
notice_objection_email = "objection@hr.example.com"

[alerts]
slot_minutes = 30
outage_min_technical = 5
outage_min_share_pct = 30
notification_min_failures = 5
absence_rate_min_decided = 20
absence_rate_factor_pct = 200
baseline_absence_pct = 12

[scheduler]
sweep_interval_s = 0.5
outbox_interval_s = 0.5
lease_ttl_s = 3
{extra}
"""



PROBLEM = "application/problem+json"


def J(resp: TestResponse) -> Any:  # noqa: N802 (reads as a cast)
    """The JSON body of ``resp`` (typed ``Any``; ``TestResponse.json`` may be None)."""
    return json.loads(resp.get_data())


def problem(resp: Any, status: int, field: str | None = None) -> dict[str, Any]:
    """Assert ``resp`` is problem+json with ``status`` (and ``field``); return the body."""
    assert resp.status_code == status, (resp.status_code, resp.get_data(as_text=True))
    assert resp.mimetype == PROBLEM, resp.mimetype
    body = json.loads(resp.get_data())
    assert body["status"] == status
    assert body["type"].startswith("/problems/")
    if field is not None:
        assert body.get("field") == field, body
    return dict(body)

def write_config(data: Path, url: str, extra: str = "") -> Path:
    """A config file for ``data`` on the database ``url``; ``extra`` TOML is appended."""
    data.mkdir(parents=True, exist_ok=True)
    path = data / "config.toml"
    absence = absence_tables(LOG, platform="max_body_bytes = 262144\nmax_batch_events = 500")
    path.write_text(CONFIG.format(url=url, log=LOG, absence=absence, extra=extra),
                    encoding="utf-8")
    return path


def id_number(rng: random.Random) -> str:
    """A valid 18-character PRC resident ID number (checksum per GB 11643)."""
    first = (f"{rng.choice(['110105', '310104', '440305', '510107'])}"
             f"{rng.randint(1970, 2004)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
             f"{rng.randint(0, 999):03d}")
    return first + id_check_character(first)


SURNAMES = ["张", "李", "王", "刘", "陈", "欧阳", "司马", "赵", "黄", "周"]
GIVEN = ["伟", "芳", "娜", "敏", "静", "强", "磊", "洋", "艳", "杰", "𠮷", "明"]


def candidates_csv(n: int, *, seed: int = 1, post: str = "p01", prefix: str = "R",
                   email_domain: str = "example.com") -> tuple[bytes, list[dict[str, str]]]:
    """A CSV of ``n`` valid candidates and the rows as dicts."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        rows.append({
            "registration": f"{prefix}{seed:02d}-{i:05d}",
            "name": rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(["", "华"]),
            "id_number": id_number(rng),
            "phone": f"13{rng.randint(0, 9)}{rng.randint(0, 99999999):08d}",
            "email": f"cand{seed}.{i}@{email_domain}",
            "post": post,
        })
    head = "registration,name,id_number,phone,email,post\n"
    body = "".join(",".join(r[k] for k in ("registration", "name", "id_number", "phone",
                                             "email", "post")) + "\n" for r in rows)
    return (head + body).encode("utf-8"), rows


@dataclass
class Env:
    """An app on a real database, a clock the test controls, and a token per role."""

    data: Path
    settings: Settings
    store: LedgerStore
    service: AbsenceService
    app: Flask
    client: FlaskClient
    tokens: dict[str, str]
    secret: WebhookSecret
    now: list[datetime] = field(default_factory=lambda: [T0])

    def clock(self, moment: datetime | None = None, **delta: float) -> datetime:
        """Set the clock to ``moment`` or move it by ``timedelta(**delta)``."""
        self.now[0] = moment if moment is not None else self.now[0] + timedelta(**delta)
        return self.now[0]

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def get(self, path: str, role: str) -> TestResponse:
        return self.client.get(path, headers=self.auth(role))

    def post(self, path: str, role: str | None, payload: Any = None, **kw: Any) -> TestResponse:
        headers = self.auth(role) if role else {}
        if payload is not None:
            return self.client.post(path, json=payload, headers=headers, **kw)
        return self.client.post(path, headers=headers, **kw)

    def webhook(self, payload: Any, *, msg_id: str, secret: WebhookSecret | None = None,
                timestamp: int | None = None, raw: bytes | None = None) -> TestResponse:
        """POST signed platform events (Standard Webhooks)."""
        body = raw if raw is not None else json.dumps(payload).encode()
        ts = int(self.now[0].timestamp()) if timestamp is None else timestamp
        sig = sign(secret or self.secret, msg_id, ts, body)
        return self.client.post("/api/v1/platform/events", data=body, headers={
            "webhook-id": msg_id, "webhook-timestamp": str(ts), "webhook-signature": sig,
            "Content-Type": "application/json"})

    def campaign(self, campaign: str = "c2026", *, policy: str = "government",
                 posts: tuple[str, ...] = ("p01",)) -> dict[str, Any]:
        resp = self.post("/api/v1/campaigns", "hr", {
            "campaign": campaign, "title": "2026年市人社局公开招聘", "policy": policy,
            "posts": [{"post": p, "title": f"岗位{p}"} for p in posts]})
        assert resp.status_code == 201, resp.json
        return dict(resp.json or {})

    def import_csv(self, campaign: str, data: bytes) -> TestResponse:
        return self.client.post(f"/api/v1/campaigns/{campaign}/candidates", data=data,
                                content_type="text/csv", headers=self.auth("hr"))

    def ledger_entries(self) -> list[dict[str, Any]]:
        """Every entry of the test log, decoded."""
        return [json.loads(d) for _, d in self.store.iter_entries(LOG)]



@dataclass
class Day:
    """One interview day run through the API: who, their windows, when it was decided."""

    rows: list[dict[str, str]]
    window: dict[str, str]  # registration -> window
    decided_at: datetime


def run_day(env: Env, campaign: str, plan: list[tuple[str, ...]], start: datetime) -> Day:
    """Campaign ``campaign``, one candidate per ``plan`` row, one window each (opens at
    start + 10 min, closes at + 70), the platform events of ``plan`` in one signed batch
    at + 40, the sweep at + 90 (every window decided); the clock ends at + 95."""
    env.campaign(campaign)
    data, rows = candidates_csv(len(plan))
    resp = env.import_csv(campaign, data)
    assert resp.status_code == 201, resp.get_data(as_text=True)
    resp = env.post(f"/api/v1/campaigns/{campaign}/windows", "hr", {
        "opens_at": (start + timedelta(minutes=10)).isoformat(),
        "closes_at": (start + timedelta(minutes=70)).isoformat()})
    assert resp.status_code == 201, resp.get_data(as_text=True)
    window = {w["registration"]: w["window"] for w in json.loads(resp.get_data())["windows"]}
    events = [{"id": f"ev-{i}-{k}", "window": window[rows[i]["registration"]], "kind": kind,
               "at": (start + timedelta(minutes=20 + k)).isoformat()}
              for i, kinds in enumerate(plan) for k, kind in enumerate(kinds)]
    env.clock(start + timedelta(minutes=40))
    resp = env.webhook({"events": events}, msg_id="batch-1")
    assert resp.status_code == 201, resp.get_data(as_text=True)
    decided_at = env.clock(start + timedelta(minutes=90))
    assert env.service.sweep(decided_at) == len(plan)
    return Day(rows, window, decided_at)

@contextmanager
def make_env(tmp_path: Path, db_url: str, *, extra_config: str = "") -> Iterator[Env]:
    """An ``Env`` on ``db_url`` under ``tmp_path / "data"``; disposes the engine after."""
    data = tmp_path / "data"
    config = write_config(data, db_url, extra_config)
    settings = load_settings(data, config)
    store = open_store(settings, entry_types())
    service = open_absence(settings, store, T0)
    app = create_app(store=store, absence=service)
    secrets_path = service.cfg.webhook_secrets_path
    app.extensions["absentia.webhook_secrets"] = lambda: read_webhook_secrets(secrets_path)
    env = Env(data, settings, store, service, app, app.test_client(), {},
              read_webhook_secrets(secrets_path)[0])
    app.extensions["absentia.clock"] = lambda: env.now[0]
    for role in ("platform", "hr", "reviewer", "auditor"):
        env.tokens[role] = service.create_token(role, T0, label=f"test-{role}")
    try:
        yield env
    finally:
        store.engine.dispose()
