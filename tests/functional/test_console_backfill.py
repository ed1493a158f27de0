"""The console's 递补 page: a ranking imported (errors in the page's language with the
spreadsheet's row numbers), a written withdrawal recorded, the proposal it makes shown
with registration numbers only, declined with a reason (confirmed) and the next one
approved."""

from __future__ import annotations

import hashlib
import html as html_mod
import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from publicity.masking import mask_name
from tests.configs import NOTICE_SETTINGS
from tests.functional._absence import T0, Env, candidates_csv, make_env
from tests.functional.test_console_hr import hr_client, reviewer_client, submit, text

CAMPAIGN = "c2026"
PAGE = f"/console/campaigns/{CAMPAIGN}/backfill"
#: With the notice settings the 递补名单 names, like any notice (test_backfill_notice).
POLICY = '\n[policies.bf_on]\nmode = "government"\nbackfill = true\n' + NOTICE_SETTINGS


@pytest.fixture
def env(tmp_path: Path, db_url: str) -> Iterator[Env]:
    with make_env(tmp_path, db_url, extra_config=POLICY) as env:
        env.campaign(CAMPAIGN, policy="bf_on")
        yield env


def _rows(html: str, table: str) -> list[list[str]]:
    part = html.split(f'id="{table}"', 1)[1].split("</table>", 1)[0]
    body = part.split("<tbody>", 1)[1]
    return [[html_mod.unescape(re.sub(r"<[^>]+>", "", c))
             for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", tr)]
            for tr in re.split(r"<tr[^>]*>", body)[1:]]


def test_a_ranking_a_withdrawal_a_decline_and_an_approval(env: Env) -> None:
    csv, rows = candidates_csv(3, seed=5)
    assert env.import_csv(CAMPAIGN, csv).status_code == 201
    regs = [r["registration"] for r in rows]
    hr, _ = hr_client(env)
    form = {"post": "p01", "pass_line": "60", "places": "1", "interview_day": "2026-12-10"}
    bad = f"报名号,成绩\n{regs[0]},九十\n{regs[1]},80\n".encode()
    resp = submit(hr, PAGE, PAGE + "/ranking",
                  {**form, "file": (io.BytesIO(bad), "rank.csv")},
                  content_type="multipart/form-data")
    assert resp.status_code == 422
    assert _rows(text(resp), "bf-row-errors") == [["2", "成绩", "不是 0 到 1000 之间的分数"]]
    good = ("报名号,成绩\n" + "".join(f"{r},{90 - i}\n" for i, r in enumerate(regs))).encode()
    resp = submit(hr, PAGE, PAGE + "/ranking", {**form, "file": (io.BytesIO(good), "r.csv")},
                  content_type="multipart/form-data")
    assert resp.status_code == 303, text(resp)[-800:]
    assert _rows(text(hr.get(PAGE)), "bf-rankings") == [["p01", "3", "3", "1", "2026-12-10"]]
    at = T0.astimezone().strftime("%Y-%m-%dT%H:%M")
    resp = submit(hr, PAGE, PAGE + "/vacancy", {
        "registration": regs[0], "kind": "withdrawn_in_writing", "at": at})
    assert resp.status_code == 303, text(resp)[-800:]
    shown = text(hr.get(PAGE))
    assert _rows(shown, "bf-answers")[0][:5] == [regs[0], regs[1], "2", "1", "待审核"]
    assert 'class="action-approve"' not in shown  # hr does not rule
    rev, _ = reviewer_client(env)
    page = text(rev.get(PAGE))
    proposal = re.search(r'name="proposal" value="([^"]+)"', page)
    assert proposal is not None
    refused = submit(rev, PAGE, PAGE + "/ruling", {
        "proposal": proposal.group(1), "ruling": "declined", "reason": "本人放弃"})
    assert refused.status_code == 400  # the confirmation box was not ticked
    resp = submit(rev, PAGE, PAGE + "/ruling", {
        "proposal": proposal.group(1), "ruling": "declined", "reason": "本人放弃",
        "confirm": "yes"})
    assert resp.status_code == 303, text(resp)[-800:]
    page = text(rev.get(PAGE))
    second = re.search(r'name="proposal" value="([^"]+)"', page)
    assert second is not None
    opens = T0.replace(day=26).astimezone().strftime("%Y-%m-%dT%H:%M")
    closes = T0.replace(day=26, hour=3).astimezone().strftime("%Y-%m-%dT%H:%M")
    approval = {"proposal": second.group(1), "ruling": "approved", "opens_at": opens,
                "closes_at": closes}
    refused = submit(rev, PAGE, PAGE + "/ruling", approval)
    assert refused.status_code == 400  # approving invites at once: the box must be ticked
    assert 'id="no-invited"' in text(rev.get(PAGE))
    resp = submit(rev, PAGE, PAGE + "/ruling", {**approval, "confirm": "yes"})
    assert resp.status_code == 303, text(resp)[-800:]
    # The promoted candidate's new window and its invitation, on the page.
    invited = _rows(text(rev.get(PAGE)), "bf-invited")
    assert len(invited) == 1
    assert invited[0][0] == regs[2]
    assert "至" in invited[0][1]
    assert invited[0][2].startswith("电子邮件：待发送")
    answers = _rows(text(rev.get(PAGE + "?lang=en")), "bf-answers")
    assert [a[4] for a in answers] == ["Declined", "Approved"]
    assert answers[0][5] == "本人放弃"
    assert "1 filled" in text(rev.get(PAGE + "?lang=en"))
    # hr publishes the 递补名单 as a notice of its own; the public page has the masked
    # name and the registration number, and its bytes are the ones the ledger recorded.
    resp = submit(hr, PAGE, PAGE + "/notice", {"confirm": "yes"})
    assert resp.status_code == 303, text(resp)[-800:]
    public = env.app.test_client().get(resp.headers["Location"])
    assert public.status_code == 200
    page = text(public)
    assert regs[2] in page
    assert rows[2]["name"] not in page
    assert mask_name(rows[2]["name"]) in page
    recorded = [e["body"] for e in env.ledger_entries() if e["type"] == "backfill.list_published"]
    assert recorded[0]["sha256"] == hashlib.sha256(public.get_data()).hexdigest()
    assert recorded[0]["lines"] == 1
