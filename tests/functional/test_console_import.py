"""The console's import page: Chinese headers in the forms people write them, errors in
the page's language with Excel row numbers, the accepted-headers table and the template."""

from __future__ import annotations

import html as html_mod
import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.functional._absence import Env, candidates_csv, make_env
from tests.functional.test_console_hr import error_of, hr_client, submit, text

CAMPAIGN = "c2026"
PAGE = f"/console/campaigns/{CAMPAIGN}/import"


@pytest.fixture
def env(tmp_path: Path, db_url: str) -> Iterator[Env]:
    with make_env(tmp_path, db_url) as env:
        env.campaign(CAMPAIGN)
        yield env


def chinese(data: bytes) -> bytes:
    """``data`` with the header written as an office would (spaces, other words)."""
    lines = data.decode().split("\n", 1)
    return ("\ufeff 准考证号 ,姓名,身份证号码,联系电话,电子邮件,报考职位\n" + lines[1]).encode()


def rows_of(html: str) -> list[list[str]]:
    table = html.split('id="row-errors"', 1)[1].split("</table>", 1)[0]
    body = table.split("<tbody>", 1)[1]
    return [[html_mod.unescape(c) for c in re.findall(r"<td>([^<]*)</td>", tr)]
            for tr in body.split("<tr>")[1:]]


def test_chinese_headers_errors_in_chinese_with_excel_rows(env: Env) -> None:
    hr, _ = hr_client(env)
    good, rows = candidates_csv(3, seed=4)
    lines = chinese(good).decode().splitlines()
    bad = lines[2].split(",")
    bad[5] = "nope"  # the 2nd candidate, Excel row 3
    data = "\n".join([lines[0], lines[1], ",".join(bad), lines[3]]) + "\n"
    before = len(env.ledger_entries())
    resp = submit(hr, PAGE, PAGE, {"file": (io.BytesIO(data.encode()), "bad.csv")},
                  content_type="multipart/form-data")
    assert resp.status_code == 422
    html = text(resp)
    assert rows_of(html) == [["3", "岗位", "不是本批次的岗位"]]
    assert "is not one of" not in html
    assert len(env.ledger_entries()) == before
    # In English on request.
    en = PAGE + "?lang=en"
    resp = submit(hr, en, en, {"file": (io.BytesIO(data.encode()), "bad.csv")},
                  content_type="multipart/form-data")
    assert rows_of(text(resp)) == [["3", "Post", "is not one of the campaign's posts"]]
    # A file that is not UTF-8 is refused in Chinese.
    gbk = "报名号,姓名\n".encode("gbk")
    resp = submit(hr, PAGE, PAGE, {"file": (io.BytesIO(gbk), "gbk.csv")},
                  content_type="multipart/form-data")
    assert resp.status_code == 400
    assert "CSV UTF-8" in error_of(resp)
    assert "不是 UTF-8" in error_of(resp)
    # The same file with the header people write is imported.
    resp = submit(hr, PAGE, PAGE, {"file": (io.BytesIO(chinese(good)), "good.csv")},
                  content_type="multipart/form-data")
    assert resp.status_code == 303, text(resp)[-800:]
    regs = {e["body"]["registration"] for e in env.ledger_entries()
            if e["type"] == "subject.registered"}
    assert regs == {r["registration"] for r in rows}


def test_headers_table_and_template(env: Env) -> None:
    hr, _ = hr_client(env)
    html = text(hr.get(PAGE))
    assert 'id="import-headers"' in html
    for label in ("联系电话", "身份证号码", "证件号码", "报考职位", "准考证号", "电子邮件"):
        assert label in html
    assert "表头为第 1 行" in html
    resp = hr.get(PAGE + "/template.csv")
    assert resp.status_code == 200
    assert resp.mimetype == "text/csv"
    assert "attachment" in resp.headers["Content-Disposition"]
    assert resp.get_data().decode("utf-8-sig").strip() == "报名号,姓名,身份证号,手机号,邮箱,岗位"
    # The template, filled in, imports.
    good, _ = candidates_csv(2, seed=5)
    filled = resp.get_data() + good.split(b"\n", 1)[1]
    resp = submit(hr, PAGE, PAGE, {"file": (io.BytesIO(filled), "filled.csv")},
                  content_type="multipart/form-data")
    assert resp.status_code == 303
    assert env.app.test_client().get(PAGE + "/template.csv").status_code in (302, 303)
