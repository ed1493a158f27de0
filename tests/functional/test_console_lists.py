"""The campaign's lists on the HR console (``ledger/app/web/console_hr_lists.py``)
through the Flask test client: 130 candidates decided by a real sweep (20 connection
failures pending review, 50 attended, 60 no-shows); every decision found by paging,
filters kept on every link, the search box, and the CSV and Excel exports read back
and compared with the filtered set."""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from flask.testing import FlaskClient
from openpyxl import load_workbook

from ledger.app.web.console_hr_text import OUTCOMES
from ledger.timetext import written_short
from tests.functional._absence import Env, make_env, run_day
from tests.functional.test_console_hr import CAMPAIGN, hr_client, reviewer_client, text

PLAN: list[tuple[str, ...]] = ([("connection_failed",)] * 20 + [("joined", "completed")] * 50
                               + [()] * 60)
TZ = "Asia/Shanghai"


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    tmp: Path = tmp_path_factory.mktemp("lists")
    with make_env(tmp, f"sqlite:///{tmp / 'a.db'}") as e:
        start = e.clock(datetime.now(UTC).replace(microsecond=0) + timedelta(minutes=1))
        run_day(e, CAMPAIGN, PLAN, start)
        yield e


@pytest.fixture(scope="module")
def hr(env: Env) -> FlaskClient:
    return hr_client(env)[0]


def rows_of(page: str) -> list[list[str]]:
    body = page.split('<table id="list"', 1)[1].split("</table>", 1)[0]
    body = body.split("<tbody>", 1)[1]
    out = []
    for tr in re.findall(r"<tr>(.*?)</tr>", body, re.S):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)
        out.append([html.unescape(re.sub(r"<[^>]+>", "", c)) for c in cells])
    return out


def link(page: str, ident: str) -> str | None:
    tag = re.search(rf'<a [^>]*id="{ident}"[^>]*>', page)
    if tag is None:
        return None
    m = re.search(r'href="([^"]*)"', tag.group(0))
    return html.unescape(m.group(1)) if m else None


def test_paging_reaches_every_decision_once(env: Env, hr: FlaskClient) -> None:
    base = f"/console/campaigns/{CAMPAIGN}/decisions"
    page = text(hr.get(base + "?size=20"))
    assert "共 130 条，第 1/7 页" in page
    seen: list[list[str]] = []
    url: str | None = base + "?size=20"
    while url is not None:
        resp = hr.get(url if url.startswith("/") else base + url)
        assert resp.status_code == 200
        shown = text(resp)
        seen += rows_of(shown)
        url = link(shown, "page-next")
    ids = [r[-1] for r in seen]
    assert len(ids) == 130
    assert sorted(ids) == sorted(d["decision"] for d in env.service.decisions(CAMPAIGN))
    regs = [r[0].lower() for r in seen]
    assert regs == sorted(regs)
    # Chinese words and Beijing times, no codes
    assert {r[3] for r in seen} <= {zh for zh, _ in OUTCOMES.values()}
    visible = re.sub(r"<[^>]+>", " ", page)  # what a person reads (option values aside)
    assert "makeup_pending_review" not in visible
    assert "forfeited" not in visible
    assert "Z " not in visible
    d0 = env.service.decision(seen[0][-1])
    assert seen[0][6] == written_short(d0["decided_at"], TZ)


def test_filters_stay_on_every_link_and_search_finds_one(env: Env, hr: FlaskClient) -> None:
    base = f"/console/campaigns/{CAMPAIGN}/decisions"
    page = text(hr.get(base + "?outcome=attended&size=20"))
    assert "共 50 条，第 1/3 页" in page
    assert 'value="attended" selected' in page
    for ident in ("page-next", "page-last", "export-csv", "export-xlsx"):
        href = link(page, ident)
        assert href is not None, ident
        assert parse_qs(urlsplit(href).query)["outcome"] == ["attended"], ident
    last = text(hr.get(base + link(page, "page-last")))  # type: ignore[operator]
    assert "共 50 条，第 3/3 页" in last
    assert len(rows_of(last)) == 10
    pending = text(hr.get(base + "?review=pending"))
    assert "共 20 条" in pending
    reg = env.service.candidates(CAMPAIGN)[77]["registration"]
    found = text(hr.get(base + "?q=" + f"+{reg.lower()}+"))
    assert "共 1 条，第 1/1 页" in found
    assert rows_of(found)[0][0] == reg
    assert f'value="{reg.lower()}"' in found  # the box keeps what was typed (trimmed)
    en = text(hr.get(base + "?outcome=attended&lang=en"))
    assert "50 rows, page 1 of 1" in en
    assert "lang=en" in (link(en, "export-csv") or "")


def test_exports_hold_exactly_the_filtered_rows(env: Env, hr: FlaskClient) -> None:
    base = f"/console/campaigns/{CAMPAIGN}/decisions"
    want = [r for r in env.service.decisions(CAMPAIGN) if r["outcome"] != "attended"]
    resp = hr.get(base + "?outcome=&review=&size=20&page=3&format=csv&post=p01")
    assert resp.status_code == 200
    assert resp.headers["Content-Disposition"] == f'attachment; filename="{CAMPAIGN}-decisions.csv"'
    raw = resp.get_data()
    assert raw.startswith(b"\xef\xbb\xbf")
    got = list(csv.reader(io.StringIO(raw.decode("utf-8-sig"))))
    assert got[0][:2] == ["报名号", "岗位"]
    assert got[0][6] == "认定时间（北京时间）"
    assert len(got) == 1 + 130  # every page, not just page 3
    no = "forfeited"
    resp = hr.get(base + f"?outcome={no}&format=xlsx")
    assert resp.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    book = load_workbook(io.BytesIO(resp.get_data()))
    sheet = book.active
    assert sheet is not None
    values = list(sheet.iter_rows(values_only=True))
    assert sheet.freeze_panes == "A2"
    assert sheet["A1"].font.b
    ids = sorted(str(r[-1]) for r in values[1:])
    assert ids == sorted(d["decision"] for d in want if d["outcome"] == no)
    assert len(ids) > 0
    en = hr.get(base + "?format=csv&lang=en").get_data().decode("utf-8-sig")
    assert en.splitlines()[0].startswith("Registration,Post")


def test_candidates_and_windows_lists(env: Env, hr: FlaskClient) -> None:
    cands = text(hr.get(f"/console/campaigns/{CAMPAIGN}/candidates?size=100"))
    assert "共 130 条，第 1/2 页" in cands
    assert "/contact" in cands  # HR may open a candidate's contact details
    rev = reviewer_client(env)[0]
    assert "/contact" not in text(rev.get(f"/console/campaigns/{CAMPAIGN}/candidates"))
    wins = text(hr.get(f"/console/campaigns/{CAMPAIGN}/windows?outcome=attended"))
    assert "共 50 条" in wins
    got = list(csv.reader(io.StringIO(hr.get(
        f"/console/campaigns/{CAMPAIGN}/windows?format=csv").get_data().decode("utf-8-sig"))))
    assert len(got) == 131
    detail = text(hr.get(f"/console/campaigns/{CAMPAIGN}"))
    assert "缺席认定 130 条" in detail
    assert "考生 130 人" in detail
    assert detail.count("<tr data-decision=") == 20
    assert hr.get("/console/campaigns/nope/decisions").status_code == 404


def test_the_campaign_page_links_evidence_of_its_first_decisions(env: Env, hr: FlaskClient
                                                                  ) -> None:
    detail = text(hr.get(f"/console/campaigns/{CAMPAIGN}"))
    first = [d for d in env.service.decisions(CAMPAIGN) if d["evidence"]]
    assert first
    assert 'href="/logs/hr-test/entries/' in detail
