"""Who did what, and corrections made on purpose (issue 13, items 4 and 7), through the
Flask test client on both databases: the campaign of ``test_console_hr`` (10 candidates,
cases pending review, an appeal).

Checked: publishing a correction of a notice is refused (422, the field named, nothing
appended) without a reason or without the confirmation; with both it is published, the
reason is in its ``notice.published`` entry and on the public notice as 更正说明; the
page shows what the correction changes.
"""

from __future__ import annotations

from sqlalchemy import select, update

from ledger.absence.service import Caller
from ledger.absence.tables import notice_documents
from tests.functional.test_console_hr import (
    CAMPAIGN,
    Built,
    built,
    error_of,
    hr_client,
    submit,
    text,
    why,
)

__all__ = ["built"]  # the fixture, used by name

PAGE = f"/console/campaigns/{CAMPAIGN}/notice"
REASON = "第3号考生复核结论录入有误，予以更正。"


def _final(built: Built) -> None:
    rev = Caller("reviewer:test", "reviewer")
    for d in built.env.service.decisions(CAMPAIGN, pending_review=True):
        built.env.service.review(rev, d["decision"], {"ruling": "confirmed"}, built.env.now[0])


def test_a_correction_needs_a_reason_and_a_confirmation(built: Built) -> None:
    hr, _ = hr_client(built.env)
    _final(built)
    first = submit(hr, PAGE, PAGE, {"days": "5"})
    assert first.status_code == 303, why(first)
    (published,) = built.entries("notice.published")
    old = published["body"]["notice"]
    assert "reason" not in published["body"]

    page = text(hr.get(PAGE))
    assert 'id="correction"' in page
    assert f'name="supersedes" value="{old}"' in page
    assert 'id="no-changes"' in page  # the rows read back from the published notice
    assert 'name="reason"' in page
    assert 'name="confirm"' in page

    no_reason = submit(hr, PAGE, PAGE, {"days": "5", "supersedes": old, "confirm": "yes"})
    assert no_reason.status_code == 422
    assert "reason" in error_of(no_reason)
    unconfirmed = submit(hr, PAGE, PAGE, {"days": "5", "supersedes": old, "reason": REASON})
    assert unconfirmed.status_code == 422
    assert "confirm" in error_of(unconfirmed)
    assert REASON in text(unconfirmed)  # the form keeps what was typed
    assert len(built.entries("notice.published")) == 1  # nothing published

    ok = submit(hr, PAGE, PAGE, {"days": "5", "supersedes": old, "reason": REASON,
                                 "confirm": "yes"})
    assert ok.status_code == 303, why(ok)
    entries = built.entries("notice.published")
    assert len(entries) == 2
    body = entries[1]["body"]
    assert body["supersedes"] == old
    assert body["reason"] == REASON
    public = text(built.env.client.get(f"/notices/{body['notice']}"))
    assert "更正说明" in public
    assert REASON in public
    assert f'href="/notices/{old}"' in public


def test_a_reason_with_personal_data_is_refused(built: Built) -> None:
    hr, _ = hr_client(built.env)
    _final(built)
    assert submit(hr, PAGE, PAGE, {"days": "5"}).status_code == 303
    (published,) = built.entries("notice.published")
    bad = submit(hr, PAGE, PAGE, {"days": "5", "supersedes": published["body"]["notice"],
                                  "reason": "请联系 13812345678", "confirm": "yes"})
    assert bad.status_code == 400
    assert "reason" in error_of(bad)
    assert len(built.entries("notice.published")) == 1


def test_the_page_shows_what_a_correction_changes(built: Built) -> None:
    hr, _ = hr_client(built.env)
    _final(built)
    assert submit(hr, PAGE, PAGE, {"days": "5"}).status_code == 303
    (published,) = built.entries("notice.published")
    # A stored notice whose first row read differently, one row the new one lacks
    # (the bytes are edited here only to give the page something to compare).
    stored = built.env.service.engine
    with stored.begin() as conn:
        html = conn.execute(select(notice_documents.c.html)).scalar_one()
    assert isinstance(html, bytes)
    reg = built.reg(0)
    edited = html.replace(f"<td>{reg}</td>".encode(), b"<td>R-GONE-1</td>", 1)
    assert edited != html
    with stored.begin() as conn:
        conn.execute(update(notice_documents).values(html=edited))
    page = text(hr.get(PAGE))
    assert 'id="changes"' in page
    assert 'class="added"' in page
    assert reg in page
    assert 'class="removed"' in page
    assert "R-GONE-1" in page
    assert "新增 1 行，删除 1 行，修改 0 行" in page
    assert published["body"]["notice"] in page
