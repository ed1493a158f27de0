"""Who did what, and corrections made on purpose (issue 13, items 4 and 7), through the
Flask test client on both databases: the campaign of ``test_console_hr`` (10 candidates,
cases pending review, an appeal).

Checked: the campaign's activity page lists the import, the decisions and the review by
the reviewer's login name and role, paged (a total, every entry once across the pages);
the decision page shows its reviewer, the review time in Beijing time, the rule in words
and links both ways between a superseded decision and the one that superseded it; no raw
code and no UTC timestamp on these zh pages.  Publishing a correction of a notice is
refused (422, the field named, nothing
appended) without a reason or without the confirmation; with both it is published, the
reason is in its ``notice.published`` entry and on the public notice as 更正说明; the
page shows what the correction changes.
"""

from __future__ import annotations

import re

from sqlalchemy import select, update

from ledger.absence.service import Caller
from ledger.absence.tables import notice_documents
from tests.functional.test_console_hr import (
    CAMPAIGN,
    Built,
    accounts,
    built,
    error_of,
    hr_client,
    submit,
    text,
    why,
)
from tests.functional.test_console_signin import PASSWORD

__all__ = ["built"]  # the fixture, used by name

PAGE = f"/console/campaigns/{CAMPAIGN}/notice"
REASON = "第3号考生复核结论录入有误，予以更正。"


#: Codes that must not reach a zh page meant for people, and a UTC timestamp.
RAW = re.compile(r"makeup_pending_review|connection_failed|no_attempt|decision\.made|"
                 r"decision\.reviewed|subject\.registered|\d{2}:\d{2}:\d{2}(\.\d+)?Z")


def _reviewed_by_rev_one(built: Built) -> tuple[str, str]:
    """A reviewer account ``rev.one`` confirms the first pending case (as its console
    session's actor would); its user id and the decision."""
    env = built.env
    user = accounts(env).create_user("rev.one", PASSWORD, "reviewer", env.now[0])
    decision = env.service.decisions(CAMPAIGN, pending_review=True)[0]["decision"]
    env.service.review(Caller(f"reviewer:{user}", "reviewer"), decision,
                       {"ruling": "confirmed"}, env.now[0])
    return user, decision


def _outside_explanations(page: str) -> str:
    """The page without the decision's recorded explanation (its text, digested in the
    ledger, names the rule by its code: issue 13 item 10, not this page's words)."""
    return re.sub(r'<p lang="(zh-CN|en)" id="explanation-(zh|en)">.*?</p>', "", page,
                  flags=re.DOTALL)


def _rows(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr data-index="(\d+)">', page)]


def test_the_campaign_activity_lists_who_did_what(built: Built) -> None:
    hr, _ = hr_client(built.env)
    _reviewed_by_rev_one(built)
    first = hr.get(f"/console/campaigns/{CAMPAIGN}/activity")
    assert first.status_code == 200
    page = text(first)
    total = int(re.search(r"共 (\d+) 条记录，第 1 页，共 (\d+) 页", page).group(1))  # type: ignore[union-attr]
    pages = -(-total // 50)
    assert pages >= 2
    seen = _rows(page)
    for n in range(2, pages + 1):
        seen += _rows(text(hr.get(f"/console/campaigns/{CAMPAIGN}/activity?page={n}")))
    assert len(seen) == total
    assert seen == sorted(set(seen), reverse=True)  # newest first, each entry once
    # Every entry that names the campaign is there, and only entries of this log.
    entries = built.env.ledger_entries()
    named = {i for i, e in enumerate(entries) if e["body"].get("campaign") == CAMPAIGN}
    assert named <= set(seen)
    everything = "".join(text(hr.get(f"/console/campaigns/{CAMPAIGN}/activity?page={n}"))
                         for n in range(1, pages + 1))
    assert "导入考生" in everything
    assert "作出决定" in everything
    assert "人工复查" in everything
    assert "rev.one" in everything
    assert "人事复核" in everything
    assert "北京时间" in page
    assert not RAW.search(everything), RAW.search(everything)
    english = text(hr.get(f"/console/campaigns/{CAMPAIGN}/activity?lang=en"))
    assert "Candidate imported" in english or "Decision made" in english


def test_the_decision_page_shows_its_reviewer_and_activity(built: Built) -> None:
    hr, _ = hr_client(built.env)
    _, decision = _reviewed_by_rev_one(built)
    page = text(hr.get(f"/console/decisions/{decision}"))
    assert re.search(r'id="reviewer">rev\.one（人事复核）<', page)
    at = re.search(r'id="reviewed-at">([^<]*)<', page)
    assert at is not None
    written = r"\d{4}年\d{1,2}月\d{1,2}日 \d{2}:\d{2}（北京时间）"
    assert re.fullmatch(written, at.group(1)), at.group(1)
    assert "经复查维持认定" in page
    assert 'id="reason">连接失败<' in page
    assert f'href="/console/decisions/{decision}/activity"' in page
    assert not RAW.search(_outside_explanations(page)), RAW.search(_outside_explanations(page))
    activity = text(hr.get(f"/console/decisions/{decision}/activity"))
    assert "作出决定" in activity
    assert "人工复查" in activity
    assert "rev.one" in activity
    reviewed = [i for i, e in enumerate(built.env.ledger_entries())
                if e["type"] == "decision.reviewed" and e["body"]["decision"] == decision]
    rows = _rows(activity)
    assert reviewed[0] in rows
    assert rows == sorted(rows, reverse=True)  # newest first
    made = [i for i, e in enumerate(built.env.ledger_entries())
            if e["type"] == "decision.made" and e["body"]["decision"] == decision]
    assert rows[-1] == made[0]  # nothing touched it before it was made
    assert hr.get("/console/decisions/no-such/activity").status_code == 404


def test_superseded_and_superseding_decisions_link_to_each_other(built: Built) -> None:
    env = built.env
    hr, _ = hr_client(env)
    user = accounts(env).create_user("rev.two", PASSWORD, "reviewer", env.now[0])
    appeal = env.service.appeals(CAMPAIGN)[0]
    env.service.rule_appeal(Caller(f"reviewer:{user}", "reviewer"), appeal["appeal"],
                            {"ruling": "overturned"}, env.now[0])
    old = env.service.decision(appeal["decision"])
    new = old["superseded_by"]
    assert new is not None
    old_page = text(hr.get(f"/console/decisions/{old['decision']}"))
    assert f'id="superseded-by" href="/console/decisions/{new}"' in old_page
    new_page = text(hr.get(f"/console/decisions/{new}"))
    assert f'id="supersedes" href="/console/decisions/{old["decision"]}"' in new_page
    assert re.search(r'id="reviewer">rev\.two（人事复核）<', new_page)  # the ruling
    assert "申诉裁定人" in new_page
    assert "申诉成立" in new_page
    activity = text(hr.get(f"/console/decisions/{old['decision']}/activity"))
    assert "考生提出申诉" in activity
    assert "申诉裁定" in activity
    assert not RAW.search(_outside_explanations(new_page) + activity)


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
    mine = notice_documents.c.notice == published["body"]["notice"]  # the Chinese page
    with stored.begin() as conn:
        html = conn.execute(select(notice_documents.c.html).where(mine)).scalar_one()
    assert isinstance(html, bytes)
    reg = built.reg(0)
    edited = html.replace(f'<td data-col="registration">{reg}</td>'.encode(),
                          b'<td data-col="registration">R-GONE-1</td>', 1)
    assert edited != html
    with stored.begin() as conn:
        conn.execute(update(notice_documents).where(mine).values(html=edited))
    page = text(hr.get(PAGE))
    assert 'id="changes"' in page
    assert 'class="added"' in page
    assert reg in page
    assert 'class="removed"' in page
    assert "R-GONE-1" in page
    assert "新增 1 行，删除 1 行，修改 0 行" in page
    assert published["body"]["notice"] in page
