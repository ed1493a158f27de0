"""Appeal attachments end to end: a candidate attaches files on the self-service page
(or in the JSON API), a reviewer lists and opens them on the console, erasure destroys
them.  Checked: the files are recognised by their content, each refusal names the field
and the file and keeps what was typed, a body over the limit is a 413 (never a 500),
nothing is half-written, the ledger holds no content and no file name, and opening an
attachment is recorded (``pii.viewed``) with strict headers on the bytes.
"""

from __future__ import annotations

import base64
import html
import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from ledger.absence import tables as P  # noqa: N812 (the tables, read as P.windows)
from ledger.absence.attachments import MAX_ATTACHMENT_BYTES
from ledger.absence.context import Caller
from ledger.absence.rebuild import check_rebuild, rebuild
from ledger.app.web.limits import APPEAL_JSON_BYTES
from ledger.app.web.ratelimit import RateLimiter
from tests.functional._absence import make_env, problem
from tests.functional.test_console_hr import reviewer_client
from tests.functional.test_selfservice import (
    CAMPAIGN,
    TOKEN_RE,
    Campaign,
    build_campaign,
    lookup,
)

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"scan of the error screen"
PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n% hospital note for the candidate\n%%EOF\n"
STATEMENT = "面试时网络中断，附上报错截图和证明。"
# A file name can hold a person's name: it must never reach the ledger or the console.
PERSONAL_NAME = "王小明-诊断证明.pdf"
HR = Caller("hr:test", "hr")


@pytest.fixture
def site(tmp_path: Path, sqlite_url: str) -> Iterator[Campaign]:
    with make_env(tmp_path, sqlite_url) as env:
        c = build_campaign(env)
        env.app.extensions["absentia.rate_limiter"] = RateLimiter(1000, 60)
        yield c


def text_of(resp: TestResponse) -> str:
    return resp.get_data(as_text=True)


def appeal_form(site: Campaign, client: FlaskClient, i: int, lang: str = "zh"
                ) -> dict[str, Any]:
    """The appeal form's fields for candidate ``i``, with the token of their result page."""
    page = text_of(lookup(site, client, site.reg(i), site.factor(i), lang=lang))
    tok = TOKEN_RE.search(page)
    assert tok is not None
    assert 'enctype="multipart/form-data"' in page
    return {"form_token": tok.group(1), "campaign": CAMPAIGN, "registration": site.reg(i),
            "factor": site.factor(i), "ground": "technical", "statement": STATEMENT,
            "lang": lang}


def post(client: FlaskClient, form: dict[str, Any], files: list[tuple[bytes, str, str]]
         ) -> TestResponse:
    data = dict(form)
    data["attachments"] = [(io.BytesIO(content), name, declared)
                           for content, name, declared in files]
    return client.post("/appeal", data=data, content_type="multipart/form-data")


def error_of(resp: TestResponse) -> str:
    m = re.search(r'<p class="error" role="alert" id="form-error">([^<]*)</p>', text_of(resp))
    assert m is not None, text_of(resp)[-1500:]
    return html.unescape(m.group(1))


def attachment_table(resp: TestResponse) -> str:
    """The reviewer page's table of attachments."""
    shown = text_of(resp)
    return shown[shown.index('<table id="attachments"'):shown.index("</table>")]


def stored_attachments(site: Campaign) -> int:
    with site.env.store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(P.appeal_attachments))
                   .scalar_one())


def filed(site: Campaign) -> list[dict[str, Any]]:
    return [e for e in site.env.ledger_entries() if e["type"] == "appeal.filed"]


def test_a_candidate_attaches_files_and_a_reviewer_opens_them(site: Campaign) -> None:
    env = site.env
    client = env.app.test_client()
    resp = post(client, appeal_form(site, client, 5),
                [(PNG, "截图.png", "image/png"), (PDF, PERSONAL_NAME, "application/pdf")])
    assert resp.status_code == 200, text_of(resp)
    assert "已随申诉提交 2 个附件" in text_of(resp)
    (entry,) = filed(site)
    body = entry["body"]
    assert body["attachments"] == (f"png:{env.service.attachment_hmac(PNG)},"
                                   f"pdf:{env.service.attachment_hmac(PDF)}")
    # The ledger: kinds and keyed digests only; no content, file name or statement.
    raw = str(env.ledger_entries())
    for plain in ("scan of the error screen", "hospital note", "王小明", "截图", "诊断",
                  STATEMENT, "image/png"):
        assert plain not in raw
    assert stored_attachments(site) == 2

    rev, user = reviewer_client(env)
    appeal = body["appeal"]
    page = rev.get(f"/console/appeals/{appeal}")
    assert page.status_code == 200
    shown = text_of(page)
    table = attachment_table(page)
    assert table.count("通过校验") == 2
    assert "PNG 图片" in table
    assert "PDF 文件" in table
    assert "王小明" not in shown
    assert "截图.png" not in shown
    links = re.findall(r'href="(/console/appeals/[^"]+/attachments/\d)"', table)
    assert links == [f"/console/appeals/{appeal}/attachments/1",
                     f"/console/appeals/{appeal}/attachments/2"]
    assert "Verified" in text_of(rev.get(f"/console/appeals/{appeal}?lang=en"))

    before = len(env.ledger_entries())
    image = rev.get(links[0])
    assert image.status_code == 200
    assert image.data == PNG
    assert image.mimetype == "image/png"
    assert image.headers["Content-Disposition"].startswith("inline;")
    assert image.headers["X-Content-Type-Options"] == "nosniff"
    assert "no-store" in image.headers["Cache-Control"]
    assert "default-src 'none'" in image.headers["Content-Security-Policy"]
    assert "sandbox" in image.headers["Content-Security-Policy"]
    after = env.ledger_entries()
    assert len(after) == before + 1  # the read, recorded once, before the bytes went out
    assert after[-1]["type"] == "pii.viewed"
    assert after[-1]["actor"] == f"reviewer:{user}"
    assert after[-1]["body"] == {"subject": body["subject"], "purpose": "appeal",
                                 "fields": "attachment"}
    document = rev.get(links[1])
    assert document.data == PDF
    assert document.mimetype == "application/pdf"
    assert document.headers["Content-Disposition"].startswith("attachment;")
    assert "王小明" not in document.headers["Content-Disposition"]
    # Someone not signed in as a reviewer gets nothing, and nothing is recorded.
    size = len(env.ledger_entries())
    assert env.app.test_client().get(links[0]).status_code in (302, 303, 401, 403)
    assert len(env.ledger_entries()) == size
    assert rev.get(f"/console/appeals/{appeal}/attachments/3").status_code == 404
    # Replaying the ledger gives the same projections and keeps the sealed files (they
    # are not in the ledger, so a rebuild must not drop them).
    assert check_rebuild(env.store, env.service.log).equal
    rebuild(env.store, env.service.log, env.now[0])
    assert stored_attachments(site) == 2
    assert attachment_table(rev.get(f"/console/appeals/{appeal}")).count("通过校验") == 2


@pytest.mark.parametrize(("files", "status", "position", "name", "why"), [
    ([(PNG, f"p{i}.png", "image/png") for i in range(1, 5)], 400, 4, "p4.png",
     "最多只能上传 3 个文件"),
    ([(PNG, "ok.png", "image/png"),
      (b"%PDF-" + b"\x00" * (6 * 1024 * 1024), "big.pdf", "application/pdf")],
     413, 2, "big.pdf", "文件超过 5 MB"),
    ([(b"this is only text, not a photo", "photo.jpg", "image/jpeg")], 400, 1, "photo.jpg",
     "不是 JPEG、PNG 图片或 PDF 文件"),
    ([(PDF, "a.pdf", "application/pdf"), (b"", "empty.png", "image/png")], 400, 2,
     "empty.png", "文件是空的"),
], ids=["four-files", "six-mb", "text-named-jpg", "empty-file"])
def test_a_refused_file_is_named_and_what_was_typed_is_kept(
        site: Campaign, files: list[tuple[bytes, str, str]], status: int, position: int,
        name: str, why: str) -> None:
    client = site.env.app.test_client()
    form = appeal_form(site, client, 5) | {"ground": "notification"}
    size = len(site.env.ledger_entries())
    resp = post(client, form, files)
    assert resp.status_code == status, text_of(resp)[-800:]
    error = error_of(resp)
    assert error.startswith("附件（可选）")  # the field, by its label
    assert f"第 {position} 个文件（{name}）" in error
    assert why in error
    page = text_of(resp)
    assert f">{STATEMENT}</textarea>" in page  # what the candidate typed is kept
    assert '<option value="notification" selected>' in page
    assert "请重新选择要上传的文件" in page
    assert 'aria-describedby="attachments-hint form-error"' in page
    assert len(site.env.ledger_entries()) == size  # nothing written, not half
    assert stored_attachments(site) == 0
    # The candidate can still appeal, with an acceptable file.
    ok = post(client, appeal_form(site, client, 5), [(PNG, "ok.png", "image/png")])
    assert ok.status_code == 200, error_of(ok)
    assert len(filed(site)) == 1


def test_a_refusal_in_english(site: Campaign) -> None:
    client = site.env.app.test_client()
    resp = post(client, appeal_form(site, client, 5, lang="en"),
                [(b"plain text", "notes.jpg", "image/jpeg")])
    assert resp.status_code == 400
    assert error_of(resp) == ("Attachments (optional), file 1 (notes.jpg): not a JPEG or "
                              "PNG image or a PDF file (judged by its content, not its name).")
    assert '<html lang="en">' in text_of(resp)


def test_the_body_limit_takes_three_full_files_and_refuses_more_with_413(
        site: Campaign) -> None:
    client = site.env.app.test_client()
    full = PNG + b"\x00" * (MAX_ATTACHMENT_BYTES - len(PNG))
    too_much = [(full, f"f{i}.png", "image/png") for i in range(4)]  # 20 MiB
    size = len(site.env.ledger_entries())
    resp = post(client, appeal_form(site, client, 4), too_much)
    assert resp.status_code == 413
    assert "提交的内容过大" in error_of(resp)
    assert len(site.env.ledger_entries()) == size
    resp = post(client, appeal_form(site, client, 4), too_much[:3])
    assert resp.status_code == 200, text_of(resp)[-800:]
    assert "已随申诉提交 3 个附件" in text_of(resp)
    assert filed(site)[0]["body"]["attachments"].count("png:") == 3


def test_the_json_api_takes_base64_attachments(site: Campaign) -> None:
    env = site.env
    url = f"/api/v1/campaigns/{CAMPAIGN}/appeals"
    data = {"registration": site.reg(6), "factor": site.factor(6), "ground": "technical",
            "statement": STATEMENT}

    def b64(content: bytes) -> str:
        return base64.b64encode(content).decode()

    for files, status, detail in (
            (["not base64!"], 400, "attachments[1]"),
            ([b64(PNG)] * 4, 400, "attachments[4]"),
            ([b64(PNG), b64(b"text")], 400, "attachments[2]"),
            ([b64(b"")], 400, "attachments[1]"),
            ([b64(b"\xff\xd8\xff" + b"\x00" * MAX_ATTACHMENT_BYTES)], 413, "attachments[1]"),
            ("PNG", 400, "attachments")):
        resp = env.client.post(url, json=data | {"attachments": files})
        doc = problem(resp, status, "attachments")
        assert detail in doc["detail"]
    assert filed(site) == []
    resp = env.client.post(url, json=data | {"attachments": [b64(PDF)]})
    assert resp.status_code == 201, resp.json
    assert resp.json is not None
    assert resp.json["attachments"] == 1
    (entry,) = filed(site)
    assert entry["body"]["attachments"] == f"pdf:{env.service.attachment_hmac(PDF)}"
    shown = env.get(f"/api/v1/appeals/{entry['body']['appeal']}", "reviewer").json
    assert shown is not None
    assert shown["attachments"] == [{"position": 1, "kind": "pdf",
                                     "media_type": "application/pdf", "size": len(PDF),
                                     "erased": False, "verified": True}]
    # Three files of the full 5 MiB fit the route's body limit as base64 too.
    full = b64(PNG + b"\x00" * (MAX_ATTACHMENT_BYTES - len(PNG)))
    resp = env.client.post(url, json={"registration": site.reg(7), "factor": site.factor(7),
                                      "ground": "other", "statement": "三个文件。",
                                      "attachments": [full] * 3})
    assert resp.status_code == 201, resp.json
    # ... and a body larger than that limit is a 413 problem naming the body.
    resp = env.client.post(url, data=b"{" + b" " * (APPEAL_JSON_BYTES + 1) + b"}",
                           content_type="application/json")
    problem(resp, 413, "body")


def test_erasure_makes_the_attachments_unreadable(tmp_path: Path, db_url: str) -> None:
    with make_env(tmp_path, db_url) as env:
        site = build_campaign(env)
        env.app.extensions["absentia.rate_limiter"] = RateLimiter(1000, 60)
        client = env.app.test_client()
        resp = post(client, appeal_form(site, client, 5), [(PNG, "a.png", "image/png")])
        assert resp.status_code == 200, text_of(resp)[-800:]
        (entry,) = filed(site)
        appeal, subject = entry["body"]["appeal"], entry["body"]["subject"]
        env.service.erase(HR, subject, "request", env.clock(minutes=5))
        with env.store.engine.connect() as conn:
            sealed = conn.execute(select(P.appeal_attachments.c.ciphertext)).scalars().all()
        assert sealed == [None]
        rev, _ = reviewer_client(env)
        shown = text_of(rev.get(f"/console/appeals/{appeal}"))
        assert "已删除（考生个人信息已销毁）" in shown
        assert f"/console/appeals/{appeal}/attachments/1" not in shown
        size = len(env.ledger_entries())
        gone = rev.get(f"/console/appeals/{appeal}/attachments/1")
        assert gone.status_code == 404
        assert PNG not in gone.data
        assert len(env.ledger_entries()) == size  # nothing was read, nothing recorded


def test_a_hostile_file_name_is_shown_escaped_and_never_stored(site: Campaign) -> None:
    client = site.env.app.test_client()
    name = "<script>alert(1)</script>\u202e\x00gpj.jpg"
    resp = post(client, appeal_form(site, client, 5), [(b"\x00\x01 not an image", name,
                                                         "image/jpeg")])
    assert resp.status_code == 400
    assert "<script>" not in text_of(resp)
    assert "&lt;script&gt;" in text_of(resp)
    ok = post(client, appeal_form(site, client, 5), [(PNG, name, "text/html")])
    assert ok.status_code == 200, text_of(ok)[-800:]
    assert "script" not in str(site.env.ledger_entries())
