"""The archive report's bundle proves the 递补 answers and objections it summarises, as it
does its decisions (issue 14): each proposal, approval and objection filing and ruling of
the campaign is embedded with a C2SP tlog-proof that verifies against the report's
checkpoint with the log's keys; entries of another campaign are left out, and a record
holding an entry of the wrong type is refused."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ledger.checkpoint import Checkpoint
from ledger.errors import VerificationError
from ledger.merkle import leaf_hash
from ledger.note import Ed25519Verifier
from ledger.proof import TlogProof
from publicity.report import (
    BUNDLE_NAME,
    CHECKPOINT_NAME,
    bundle_files,
    collect,
    generate,
    render_html,
)
from publicity.report_proofs import check_kind
from publicity.report_verify import verify_report
from tests.configs import NOTICE_SETTINGS
from tests.functional._absence import Env, candidates_csv, make_env
from tests.functional.test_notices import js, local
from tests.unit.ledger.absence._domain import REVIEWER

POLICY = ('\n[policies.bf_obj]\nmode = "government"\nbackfill = true\n'
          "backfill_day_of_no_show = true\n" + NOTICE_SETTINGS)


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    with make_env(tmp_path, f"sqlite:///{tmp_path / 'a.db'}", extra_config=POLICY) as env:
        yield env


def _campaign(env: Env, campaign: str, seed: int, start: datetime) -> list[str]:
    """Four ranked candidates; the first attends, the second misses (forfeited at the
    sweep, which proposes the third)."""
    assert env.campaign(campaign, policy="bf_obj")["campaign"] == campaign
    data, rows = candidates_csv(4, seed=seed)
    resp = env.import_csv(campaign, data)
    subject = {c["registration"]: c["subject"] for c in js(resp)["candidates"]}
    regs = [r["registration"] for r in rows]
    ranking = "报名号,成绩\n" + "".join(f"{r},{90 - i}\n" for i, r in enumerate(regs))
    resp = env.post(f"/api/v1/campaigns/{campaign}/rankings?post=p01&pass_line=60&places=2"
                    "&interview_day=2026-12-10", "hr", data=ranking.encode(),
                    content_type="text/csv")
    assert resp.status_code == 201, js(resp)
    resp = env.post(f"/api/v1/campaigns/{campaign}/windows", "hr", {
        "opens_at": local(start + timedelta(minutes=10)),
        "closes_at": local(start + timedelta(hours=1)),
        "subjects": [subject[regs[0]], subject[regs[1]]]})
    assert resp.status_code == 201, js(resp)
    window = {w["registration"]: w["window"] for w in js(resp)["windows"]}
    return [regs[0], window[regs[0]], *regs[1:]]


def _records(data: dict[str, tuple[bytes, str, str]]) -> tuple[dict[str, Any],
                                                                list[dict[str, Any]]]:
    lines = [json.loads(ln) for ln in data[BUNDLE_NAME][0].decode().splitlines()]
    return lines[0], lines[1:]


def test_backfill_and_objection_entries_are_proven_against_the_checkpoint(env: Env) -> None:
    start = env.clock(datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1))
    ours = _campaign(env, "c2026", 31, start)
    other = _campaign(env, "o2026", 32, start)
    env.clock(start + timedelta(minutes=20))
    events = [{"id": f"e-{c}", "window": c, "kind": "completed",
               "at": local(start + timedelta(minutes=15))} for c in (ours[1], other[1])]
    assert env.webhook({"events": events}, msg_id="m1").status_code == 201
    decided = env.clock(start + timedelta(hours=2))
    env.service.sweep(decided)
    svc = env.service
    proposal = next(a for a in svc.backfills("c2026") if a["status"] == "proposed")
    assert proposal["registration"] == ours[3]
    # A notice (before the approval opens a window), an objection entered by HR,
    # acknowledged and ruled; then the proposal approved.
    resp = env.post("/api/v1/campaigns/c2026/notices", "hr", {})
    assert resp.status_code == 201, js(resp)
    notice = js(resp)["notice"]
    resp = env.post(f"/api/v1/notices/{notice}/objections/received", "hr", {
        "name": "李建国", "contact": "lijianguo@example.net", "ground": "qualification",
        "statement": "电话反映：学历不符。", "line": 1, "channel": "phone"})
    assert resp.status_code == 201, js(resp)
    ref = js(resp)["objection"]
    env.clock(decided + timedelta(hours=1))
    assert env.post(f"/api/v1/objections/{ref}/acknowledgement", "hr").status_code == 200
    ruled = env.post(f"/api/v1/objections/{ref}/ruling", "reviewer",
                     {"ruling": "upheld", "reason": "经核实学历相符"})
    assert ruled.status_code == 200, js(ruled)
    svc.approve_backfill(REVIEWER, proposal["proposal"], {
        "opens_at": (decided + timedelta(days=1)).isoformat(),
        "closes_at": (decided + timedelta(days=1, hours=2)).isoformat(),
        "reason": "按成绩排名递补"}, env.now[0])

    data = collect(svc, "c2026", env.now[0], base_url="https://hr.example.org")
    head, records = _records(bundle_files(data))
    assert head["format"] == "absentia-report-bundle/v2"
    note = bundle_files(data)[CHECKPOINT_NAME][0].decode()
    log = svc.store.log(svc.log)
    verifiers = [Ed25519Verifier.from_vkey(k) for k in log.verifier_keys]
    cp = Checkpoint.open(note, verifiers, log.origin)
    kinds: dict[str, list[str]] = {}
    for rec in records:
        entry_bytes = base64.b64decode(rec["entry_b64"])
        entry = json.loads(entry_bytes)
        assert entry["index"] == rec["index"] < cp.size
        proof = TlogProof.from_text(rec["proof"])
        assert proof.index == rec["index"]
        assert proof.checkpoint == note
        proof.verify(leaf_hash(entry_bytes), verifiers, cp.origin)  # raises if not included
        kinds.setdefault(rec.get("kind", "decision"), []).append(entry["type"])
    assert kinds["backfill"] == ["backfill.proposed", "backfill.approved"]
    assert kinds["objection"] == ["objection.filed", "objection.acknowledged",
                                  "objection.ruled"]
    assert head["backfills"] == 2
    assert head["objections"] == 3
    assert head["decisions"] == len(kinds["decision"])
    # The proposal the report's 递补 section lists is one of the proven entries.
    listed = {b.ledger_index for b in data.backfills}
    proven = {r["index"] for r in records if r.get("kind") == "backfill"}
    assert listed <= proven
    assert f'<td class="mono">{proposal["ledger_index"]}</td>' in render_html(data)
    # The other campaign's 递补 is not in this report.
    theirs = {a["ledger_index"] for a in svc.backfills("o2026")}
    assert theirs
    assert not theirs & {r["index"] for r in records}
    # The signed PDF: `absentia report verify` checks these proofs too.
    result = generate(svc, env.settings, "c2026", env.clock(minutes=5))
    checked = verify_report(result.path)
    assert checked.code == 0, checked.lines
    assert "proofs: 2 递补 and 3 objection entries included too" in checked.lines


def test_a_record_of_the_wrong_type_is_refused() -> None:
    check_kind("backfill", {"type": "backfill.approved"})
    with pytest.raises(VerificationError):
        check_kind("backfill", {"type": "decision.made"})
    with pytest.raises(VerificationError):
        check_kind("objection", {"type": "backfill.proposed"})
    with pytest.raises(VerificationError):
        check_kind("appeal", {"type": "appeal.filed"})
