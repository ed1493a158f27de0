"""An objection's attachments end to end: the public form (multipart) and the API
(base64) take up to 3 JPEG/PNG/PDF files checked as an appeal's; a refusal re-renders
the form in its language naming the file and keeping what was typed; a body over the
limit is a 413 page; HR and reviewers see them on the objection's console page
(通过校验 against the ledger) and open them only with ``pii.viewed`` recorded first;
erasing the objector destroys them."""

from __future__ import annotations

import base64
import html
import io
import json
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
from ledger.absence.rebuild import check_rebuild
from ledger.app.web.ratelimit import RateLimiter
from tests.functional._absence import Env, make_env, problem
from tests.functional.test_console_hr import reviewer_client
from tests.functional.test_notices import js
from tests.functional.test_objections import CONTACT, NAME, form_token, published

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"photo of the candidate's stand-in"
PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\n% letter from the employer\n%%EOF\n"
STATEMENT = "该考生面试时有他人代答，附照片和单位证明。"


@pytest.fixture
def site(tmp_path: Path, sqlite_url: str) -> Iterator[Env]:
    with make_env(tmp_path, sqlite_url) as env:
        env.app.extensions["absentia.rate_limiter"] = RateLimiter(1000, 60)
        yield env


def text_of(resp: TestResponse) -> str:
    return resp.get_data(as_text=True)


def the_form(env: Env, client: FlaskClient, notice: str, reg: str, lang: str = "zh"
             ) -> dict[str, Any]:
    page = text_of(client.get(f"/notices/{notice}/objections/new"
                              + ("?lang=en" if lang == "en" else "")))
    assert 'enctype="multipart/form-data"' in page
    return {"form_token": form_token(page), "lang": lang, "name": NAME, "contact": CONTACT,
            "registration": reg, "line": "", "ground": "conduct", "statement": STATEMENT}


def post(client: FlaskClient, notice: str, form: dict[str, Any],
         files: list[tuple[bytes, str, str]], lang: str = "zh") -> TestResponse:
    data = dict(form)
    data["attachments"] = [(io.BytesIO(content), name, declared)
                           for content, name, declared in files]
    return client.post(f"/notices/{notice}/objections/new"
                       + ("?lang=en" if lang == "en" else ""),
                       data=data, content_type="multipart/form-data")


def error_of(resp: TestResponse) -> str:
    m = re.search(r'<p class="error" role="alert" id="form-error">([^<]*)</p>', text_of(resp))
    assert m is not None, text_of(resp)[-1500:]
    return html.unescape(m.group(1))


def stored(env: Env) -> int:
    with env.store.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(P.objection_attachments))
                   .scalar_one())


def filed(env: Env) -> list[dict[str, Any]]:
    return [e for e in env.ledger_entries() if e["type"] == "objection.filed"]


def table_of(resp: TestResponse) -> str:
    shown = text_of(resp)
    return shown[shown.index('<table id="attachments"'):shown.index("</table>")]


def test_the_form_takes_files_and_a_reviewer_opens_them(site: Env) -> None:
    env = site
    notice, rows = published(env)
    client = env.app.test_client()
    resp = post(client, notice, the_form(env, client, notice, rows[1]["registration"]),
                [(PNG, "王小明-照片.png", "image/png"), (PDF, "证明.pdf", "application/pdf")])
    assert resp.status_code == 201, text_of(resp)[-1500:]
    assert "已随异议提交 2 个附件" in text_of(resp)
    (entry,) = filed(env)
    o = env.service.objections
    assert entry["body"]["attachments"] == (f"png:{o.attachment_hmac(PNG)},"
                                            f"pdf:{o.attachment_hmac(PDF)}")
    raw = json.dumps(env.ledger_entries(), ensure_ascii=False)
    for plain in ("stand-in", "employer", "王小明", "照片", "证明", NAME, "image/png"):
        assert plain not in raw
    assert stored(env) == 2

    rev, user = reviewer_client(env)
    ref = entry["body"]["objection"]
    page = rev.get(f"/console/objections/{ref}")
    assert page.status_code == 200
    table = table_of(page)
    assert table.count("通过校验") == 2
    assert "PNG 图片" in table
    assert "王小明" not in text_of(page)
    links = re.findall(r'href="(/console/objections/[^"]+/attachments/\d)"', table)
    assert links == [f"/console/objections/{ref}/attachments/1",
                     f"/console/objections/{ref}/attachments/2"]
    assert "Verified" in text_of(rev.get(f"/console/objections/{ref}?lang=en"))
    before = len(env.ledger_entries())
    image = rev.get(links[0])
    assert image.status_code == 200
    assert image.data == PNG
    assert image.mimetype == "image/png"
    assert image.headers["Content-Disposition"].startswith("inline;")
    assert "no-store" in image.headers["Cache-Control"]
    assert "sandbox" in image.headers["Content-Security-Policy"]
    after = env.ledger_entries()
    assert len(after) == before + 1
    assert after[-1]["type"] == "pii.viewed"
    assert after[-1]["actor"] == f"reviewer:{user}"
    assert after[-1]["body"] == {"objection": ref, "purpose": "objection",
                                 "fields": "attachment"}
    document = rev.get(links[1])
    assert document.data == PDF
    assert document.headers["Content-Disposition"].startswith("attachment;")
    size = len(env.ledger_entries())
    assert env.app.test_client().get(links[0]).status_code in (302, 303, 401, 403)
    assert len(env.ledger_entries()) == size
    assert rev.get(f"/console/objections/{ref}/attachments/3").status_code == 404
    assert check_rebuild(env.store, env.service.log).equal


@pytest.mark.parametrize(("files", "status", "name", "why"), [
    ([(PNG, f"p{i}.png", "image/png") for i in range(1, 5)], 400, "p4.png",
     "最多只能上传 3 个文件"),
    ([(PNG, "ok.png", "image/png"),
      (b"%PDF-" + b"\x00" * (6 * 1024 * 1024), "big.pdf", "application/pdf")],
     413, "big.pdf", "文件超过 5 MB"),
    ([(b"this is only text, not a photo", "photo.jpg", "image/jpeg")], 400, "photo.jpg",
     "不是 JPEG、PNG 图片或 PDF 文件"),
], ids=["four-files", "six-mb", "fake-jpg"])
def test_a_refused_file_is_named_and_what_was_typed_is_kept(
        site: Env, files: list[tuple[bytes, str, str]], status: int, name: str, why: str
) -> None:
    env = site
    notice, rows = published(env)
    client = env.app.test_client()
    size = len(env.ledger_entries())
    resp = post(client, notice, the_form(env, client, notice, rows[1]["registration"]),
                files)
    assert resp.status_code == status
    error = error_of(resp)
    assert "附件" in error
    assert name in error
    assert why in error
    shown = text_of(resp)
    assert STATEMENT in shown
    assert f'value="{NAME}"' in shown
    assert 'id="attachments" name="attachments" type="file" multiple' in shown
    assert len(env.ledger_entries()) == size
    assert stored(env) == 0


def test_a_refusal_in_english(site: Env) -> None:
    env = site
    notice, rows = published(env)
    client = env.app.test_client()
    resp = post(client, notice, the_form(env, client, notice, rows[0]["registration"],
                                         lang="en"),
                [(b"GIF89a not allowed", "a.gif", "image/gif")], lang="en")
    assert resp.status_code == 400
    assert "not a JPEG or PNG image or a PDF file" in error_of(resp)
    assert "a.gif" in error_of(resp)


def test_a_body_over_the_limit_is_a_413_page(site: Env) -> None:
    env = site
    notice, rows = published(env)
    client = env.app.test_client()
    full = PNG + b"\x00" * (MAX_ATTACHMENT_BYTES - len(PNG))
    size = len(env.ledger_entries())
    resp = post(client, notice, the_form(env, client, notice, rows[0]["registration"]),
                [(full, f"f{i}.png", "image/png") for i in range(4)])
    assert resp.status_code == 413
    assert resp.mimetype == "text/html"
    assert "提交的内容过大" in error_of(resp)
    assert len(env.ledger_entries()) == size
    # The API answers the same body with a problem document naming the body.
    api = env.post(f"/api/v1/notices/{notice}/objections", None,
                   {"attachments": ["A" * (8 * MAX_ATTACHMENT_BYTES)]})
    problem(api, 413, "body")


def test_the_api_takes_base64_attachments(site: Env) -> None:
    env = site
    notice, rows = published(env)
    data = {"name": NAME, "contact": CONTACT, "ground": "score", "statement": "成绩有误",
            "registration": rows[2]["registration"]}
    url = f"/api/v1/notices/{notice}/objections"
    problem(env.post(url, None, data | {"attachments": ["not base64!"]}), 400, "attachments")
    problem(env.post(url, None, data | {"attachments": [base64.b64encode(b"text").decode()]}),
            400, "attachments")
    problem(env.post(url, None, data | {"attachments": [
        base64.b64encode(PNG).decode()] * 4}), 400, "attachments")
    assert filed(env) == []
    resp = env.post(url, None, data | {"attachments": [base64.b64encode(PDF).decode()]})
    assert resp.status_code == 201, js(resp)
    assert js(resp)["attachments"] == 1
    assert filed(env)[0]["body"]["attachments"].startswith("pdf:")
    entered = env.post(f"{url}/received", "hr", data | {
        "channel": "letter", "attachments": [base64.b64encode(PNG).decode()]})
    assert entered.status_code == 201, js(entered)
    assert stored(env) == 2


def test_erasing_the_objector_destroys_the_attachments(tmp_path: Path, db_url: str) -> None:
    with make_env(tmp_path, db_url) as env:
        notice, rows = published(env)
        resp = env.post(f"/api/v1/notices/{notice}/objections", None, {
            "name": NAME, "contact": CONTACT, "ground": "other", "statement": "见附件",
            "registration": rows[0]["registration"],
            "attachments": [base64.b64encode(PNG).decode()]})
        assert resp.status_code == 201, js(resp)
        ref = js(resp)["objection"]
        erased = env.post(f"/api/v1/objections/{ref}/objector-erasure", "hr",
                          {"reason": "request"})
        assert erased.status_code == 200, js(erased)
        with env.store.engine.connect() as conn:
            assert conn.execute(select(P.objection_attachments.c.ciphertext)).scalar() is None
        rev, _ = reviewer_client(env)
        page = rev.get(f"/console/objections/{ref}")
        assert "已删除（异议人信息已销毁）" in table_of(page)
        assert f"/console/objections/{ref}/attachments/1" not in text_of(page)
        size = len(env.ledger_entries())
        assert rev.get(f"/console/objections/{ref}/attachments/1").status_code == 404
        assert len(env.ledger_entries()) == size
        assert check_rebuild(env.store, env.service.log).equal
