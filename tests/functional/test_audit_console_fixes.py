"""The auditor console's fixes (issue 13, item 13).

* a finished "verify now" no longer reads 正在核验 (the phase it was last in): it reads
  已完成 with a full bar, or 已结束（未通过） when it failed;
* root hashes are base64 as C2SP tlog-checkpoint writes them (as in the checkpoint text
  and the public JSON), labelled; times are 北京时间, not UTC;
* the access trail shows the viewer's login name and role, not ``hr:u_…``, words for
  purposes and fields, and is filtered by registration number;
* the export zip has a README.txt (Chinese and English) on offline verification and on
  getting the keys independently.
"""

from __future__ import annotations

import base64
import io
import re
import zipfile

from ledger.absence.service import Caller
from tests.functional._absence import LOG, Env, candidates_csv
from tests.functional.test_console_audit import auditor, lite, populate, start_job, wait_job
from tests.functional.test_console_signin import PASSWORD, accounts

__all__ = ["lite"]


def test_a_finished_verification_says_finished_with_a_full_bar(lite: Env) -> None:
    populate(lite)
    client = auditor(lite)
    lite.store.sign_checkpoint(LOG, lite.clock(seconds=1))
    data = wait_job(client, start_job(client))
    assert data["state"] == "done", data
    assert data["view"]["phase"] == "已完成"
    assert data["view"]["value"] == data["view"]["max"] == data["total"]
    page = client.get(f"/console/audit/logs/{LOG}?job={data['id']}").get_data(as_text=True)
    phase = re.search(r'<span id="verify-phase">([^<]*)</span>', page)
    assert phase is not None
    assert phase.group(1) == "已完成"
    assert "正在核验" not in page
    assert "正在导出" not in page
    bar = re.search(r'<progress id="verify-progress" max="(\d+)" value="(\d+)"', page)
    assert bar is not None
    assert bar.group(1) == bar.group(2)
    en = client.get(f"/console/audit/jobs/{data['id']}?lang=en").get_json()
    assert en["view"]["phase"] == "Finished"


def test_root_hashes_are_base64_and_times_beijing(lite: Env) -> None:
    populate(lite)
    client = auditor(lite)
    cp = lite.store.latest_checkpoint(LOG)
    page = client.get(f"/console/audit/logs/{LOG}").get_data(as_text=True)
    b64 = base64.b64encode(cp.root).decode()
    assert f"<code>{b64}</code>" in page
    assert b64 in cp.note.splitlines()[2]  # the same text as the checkpoint's root line
    assert cp.root.hex() not in page
    assert "根哈希（base64" in page
    assert "UTC" not in page
    assert "时间（北京时间）" in page
    assert "<code>log.created</code>" not in page
    assert "账本创建" in page
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", page)


def test_access_trail_names_the_viewer_and_filters_by_registration(lite: Env) -> None:
    subjects = populate(lite)
    rows = candidates_csv(6)[1]
    user = accounts(lite).create_user("hr.wang@hr.example.gov.cn", PASSWORD, "hr", lite.now[0])
    lite.service.personal_data(Caller(f"hr:{user}", "hr"), subjects[1], "contact",
                               lite.clock(minutes=1))
    lite.service.personal_data(Caller(f"hr:{user}", "hr"), subjects[2], "contact",
                               lite.clock(minutes=2))
    client = auditor(lite)
    page = client.get("/console/audit/access").get_data(as_text=True)
    assert "hr.wang@hr.example.gov.cn" in page
    assert "人事经办" in page
    assert f"<code>hr:{user}</code>" not in page
    assert "联系考生" in page
    assert "data-purpose=\"contact\"" in page
    assert all(w in page for w in ("姓名", "手机号", "电子邮箱"))
    assert "email" not in page
    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", page)
    # A registration number (any letter case) finds its candidate's reads, and only those.
    reg = rows[1]["registration"]
    only = client.get(f"/console/audit/access?registration={reg.lower()}").get_data(
        as_text=True)
    assert subjects[1] in only
    assert subjects[2] not in only
    assert f'value="{reg.lower()}"' in only
    none = client.get("/console/audit/access?registration=NOBODY-0000").get_data(as_text=True)
    assert 'id="access-none"' in none


def test_export_zip_has_a_readme_in_both_languages(lite: Env) -> None:
    populate(lite)
    client = auditor(lite)
    resp = client.get(f"/console/audit/logs/{LOG}/export.zip")
    assert resp.status_code == 200
    with zipfile.ZipFile(io.BytesIO(resp.data)) as zf:
        readme = zf.read("README.txt").decode("utf-8")
    assert "离线核验" in readme
    assert "Verifying offline" in readme
    assert f"absentia verify {LOG} --key" in readme
    assert "/notices" in readme
    assert f"/logs/{LOG}" in readme
    assert "不要只用压缩包里的 keys 文件" in readme
    assert "do not trust" in readme


def test_the_console_language_switch_keeps_the_query(lite: Env) -> None:
    populate(lite)
    client = auditor(lite)
    zh = client.get("/console/audit/access?registration=R01-00001&page=1").get_data(
        as_text=True)
    assert 'href="/console/audit/access?registration=R01-00001&amp;page=1&amp;lang=en"' in zh
    en = client.get("/console/audit/access?registration=R01-00001&lang=en").get_data(
        as_text=True)
    assert 'href="/console/audit/access?registration=R01-00001"' in en
