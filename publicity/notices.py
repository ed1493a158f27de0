"""Public result notices (公示): rendered once, checked for personal data, stored
byte for byte, recorded in the ledger with their SHA-256, superseded but never edited.

Each notice is two documents, one language a page: the Chinese page (the official
text, ``sha256`` in ``notice.published``) and the English page (``sha256_en``), each
linking the other.  A notice published before that is one bilingual page (no
``sha256_en``) and is served as it was.

A notice lists, for the candidates of a campaign whose decisions are final (everyone,
or only those deemed withdrawn: the policy's ``notice_roster``), only whitelisted
fields (the policy's ``notice_fields``: registration number, masked name, gender if
recorded, post, result, cause category), and the ledger index of each decision with a
link to its C2SP tlog-proof.  Its facts name the issuing office (发布单位), the notice
period to its last working day as a date, the supervision telephone (监督电话) and the
objection channel (异议受理: address and e-mail); its foot the office and the sign-off
date (落款).  These come from the campaign's policy (``ledger.absence.notice_settings``);
without them publishing is refused before anything is written.  The page
carries the checkpoint the lines were proven under and the log's verifier keys, so a
small script (``static/verify.js``) can check every line in the reader's browser.
With witnesses configured, the page also lists them (name and verifier key), the policy's
k, and the cosignatures its checkpoint carries, which the script verifies too.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import Connection

from ledger.absence.entries import public_text
from ledger.absence.notice_documents import document_key, store_document
from ledger.absence.notice_settings import NoticeSettings
from ledger.absence.queries import notices as Q  # noqa: N812 (the queries, read as Q.finality)
from ledger.absence.service import AbsenceService, Caller
from ledger.entry import format_time
from ledger.errors import BadData, Conflict, CouldNotCheck, NotFound
from ledger.events import PII_PATTERNS
from ledger.ids import new_id, sha256_hex
from ledger.note import SignedNote
from ledger.storage.store import NewEntry
from ledger.timetext import written, zone_label
from ledger.witness.client import WitnessEndpoint, WitnessSettings, require_cosigned
from ledger.witness.cosig import MAX_TIMESTAMP, TIMESTAMP_SIZE, CosignatureV1Verifier
from publicity.calendar import DEFAULT_NOTICE_DAYS, WorkingCalendar, notice_period
from publicity.errors import PublishingRefused
from publicity.masking import mask_name

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
#: Where a superseded notice's banner goes (the stored bytes keep the marker).
BANNER_MARK = "<!--absentia:banner-->"

#: The only fields a notice line may show (PIPL minimum necessity); which of them a
#: campaign's notice shows is its policy's ``notice_fields``.
WHITELIST = ("registration", "name", "gender", "post", "result", "cause", "index")
#: Column headings (Chinese, English).
HEADINGS = {
    "registration": ("报名号", "Registration"), "name": ("姓名", "Name"),
    "gender": ("性别", "Gender"), "post": ("岗位", "Post"), "result": ("结果", "Result"),
    "cause": ("原因类别", "Cause"),
}
#: The same, as the sentence "this page shows only the ..." names them.
NAMED = {
    "registration": ("报名号", "registration number"), "name": ("脱敏姓名", "masked name"),
    "gender": ("性别", "gender"), "post": ("岗位", "post"), "result": ("结果", "result"),
    "cause": ("原因类别", "cause category"),
}
GENDERS = {None: ("—", "—"), "male": ("男", "male"), "female": ("女", "female")}
#: Who each roster lists, by a line's outcome (``ledger.absence.notice_settings.ROSTERS``;
#: a ``backfill`` roster adds its filter here).
def _everyone(outcome: str) -> bool:
    return True


def _withdrawn(outcome: str) -> bool:
    return outcome in ("forfeited", "confirmed", "locked")


ROSTER_FILTERS: dict[str, Callable[[str], bool]] = {
    "roster": _everyone, "withdrawn": _withdrawn}
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
           "Dec")

RESULTS = {
    "attended": ("已参加面试", "attended"),
    "forfeited": ("视为自动放弃", "deemed withdrawn"),
    "confirmed": ("经复核，视为自动放弃", "deemed withdrawn (confirmed on review)"),
    "rebook_offered": ("可重新预约", "rebooking offered"),
    "locked": ("多次缺席，已锁定", "locked after repeated absences"),
    "makeup_granted": ("经申诉，安排补考", "make-up granted on appeal"),
}
CAUSES = {
    None: ("—", "—"),
    "technical": ("技术原因", "technical"),
    "compatibility": ("设备兼容", "device compatibility"),
    "notification_failed": ("通知未送达", "notification not delivered"),
    "withdrawn": ("主动放弃", "withdrew"),
    "no_show": ("未参加", "did not attend"),
}


@dataclass(frozen=True)
class NoticeLine:
    registration: str
    name: str  # masked
    post: str
    result: tuple[str, str]  # zh, en
    cause: tuple[str, str]
    index: int  # ledger index of the decision
    outcome: str = ""  # the result's code (which roster lists the line)
    gender: tuple[str, str] = ("—", "—")  # zh, en; "—" when not recorded

    def __getitem__(self, column: str) -> object:
        """The value of column ``column`` (``WHITELIST``), for the template."""
        if column not in WHITELIST:
            raise KeyError(column)
        return getattr(self, column)


@dataclass(frozen=True)
class ShownWitness:
    """A configured witness as the page lists it: its name and verifier key (0x04)."""

    name: str
    vkey: str


@dataclass(frozen=True)
class ShownCosignature:
    """A cosignature the notice's checkpoint carries, by a listed witness's key."""

    name: str
    key_id: str  # 8 hex digits
    timestamp: int  # POSIX seconds, as signed
    utc: str  # RFC 3339, for <time datetime>
    local: str  # in the campaign's time zone, as shown


@dataclass(frozen=True)
class RenderedNotice:
    notice: str
    campaign: str
    html: bytes  # the Chinese page (the official text)
    sha256: str
    lines: int
    checkpoint_size: int
    period: tuple[datetime, datetime]
    html_en: bytes = b""  # the English page
    sha256_en: str = ""


def _env() -> Environment:
    return Environment(loader=FileSystemLoader(str(TEMPLATES)),
                       autoescape=select_autoescape(["html"]), keep_trailing_newline=True)


def final_lines(service: AbsenceService, campaign: str
                ) -> tuple[list[NoticeLine], list[str]]:
    """The notice's lines, and the unmasked names of the batch (for the scan).

    Raises:
        Conflict: decisions are not final (undecided windows or cases pending review).
    """
    done = Q.finality(service.engine, campaign)
    if not done.final:
        raise Conflict(f"decisions of {campaign} are not final: {done.undecided} windows "
                       f"undecided, {done.pending} cases pending review; publish once they "
                       "are", field="campaign")
    results = Q.subject_results(service.engine, campaign)
    details = service.personal_details_of(service.engine, [r.subject for r in results])
    lines: list[NoticeLine] = []
    names: list[str] = []
    for r in results:
        person = details[r.subject]
        full = person.name if person is not None else ""
        if full:
            names.append(full)
        outcome = "confirmed" if r.review == "confirmed" else r.outcome
        gender = getattr(person, "gender", None) if person is not None else None
        lines.append(NoticeLine(
            registration=r.registration,
            name=mask_name(full) if full else "（已删除）",
            post=r.post,
            result=RESULTS.get(outcome, (outcome, outcome)),
            cause=CAUSES.get(r.cause if outcome != "attended" else None, CAUSES[None]),
            index=r.index, outcome=outcome,
            gender=GENDERS.get(gender, GENDERS[None])))
    return lines, names


_ID = next(p for w, p in PII_PATTERNS if "ID" in w)
_MOBILE = next(p for w, p in PII_PATTERNS if "mobile" in w)
_EMAIL = next(p for w, p in PII_PATTERNS if "e-mail" in w)


def scan(html: str, names: Sequence[str], published: Sequence[str] = ()) -> list[str]:
    """What in a rendered notice looks like personal data (empty if nothing).

    ``published``: texts shown on purpose (the office's supervision telephone and
    objection e-mail), left out of the scan.
    """
    found = []
    text = re.sub(r"<[^>]*>", " ", html)  # markup (URLs, hashes) is not shown text
    for shown in published:
        text = text.replace(shown, " ")
    if _ID.search(text):
        found.append("something like an 18-digit ID number")
    if _MOBILE.search(text):
        found.append("something like an 11-digit mobile number")
    if _EMAIL.search(text):
        found.append("something like an e-mail address")
    unmasked = sorted({n for n in names if len(n) >= 2 and n in text})
    if unmasked:
        found.append(f"{len(unmasked)} unmasked names of this batch")
    return found


def policy_shown(witnesses: WitnessSettings | None) -> dict[str, Any] | None:
    """What the page says of a tlog-policy file's quorum (None under k-of-n, which the
    page words as "k of n"): the quorum's name, each group's threshold and members (by
    the policy's names: a witness's is mapped to its listed key name), the fewest
    cosignatures that can satisfy it and the policy's text."""
    if witnesses is None or witnesses.quorum is None:
        return None
    p = witnesses.quorum
    shown = {name: CosignatureV1Verifier.from_vkey(w.vkey).name
             for name, w in p.witnesses.items()}
    return {"quorum": p.quorum, "min": p.min_witnesses(), "witnesses": shown,
            "groups": {g.name: {"k": g.threshold, "n": len(g.members),
                                "members": list(g.members)} for g in p.groups.values()},
            "text": p.to_text()}


def shown_cosignatures(note: str, witnesses: Sequence[WitnessEndpoint], tz: ZoneInfo
                       ) -> list[ShownCosignature]:
    """The cosignatures in the signed ``note`` by the keys of ``witnesses`` (configured
    ``WitnessEndpoint``s), in note order, with their times: what the page shows without
    JavaScript.  Signatures by other keys (the log's own) are left out.  They are not
    verified here: the reader's browser verifies each one (``static/verify.js``).

    Raises:
        BadData: ``note`` is not a signed note.
    """
    known = {(w.verifier.name, w.verifier.key_id) for w in witnesses}
    out = []
    for sig in SignedNote.parse(note).signatures:
        if (sig.name, sig.key_id) not in known or len(sig.signature) < TIMESTAMP_SIZE:
            continue
        timestamp = int.from_bytes(sig.signature[:TIMESTAMP_SIZE], "big")
        try:
            if timestamp > MAX_TIMESTAMP:
                raise OverflowError(timestamp)
            moment = datetime.fromtimestamp(timestamp, UTC)
            utc, local = (moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
                          moment.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S"))
        except (OverflowError, ValueError, OSError):
            utc, local = "", f"time {timestamp}"  # out of range: the browser flags it
        out.append(ShownCosignature(sig.name, f"{sig.key_id:08x}", timestamp, utc, local))
    return out


def recorded_settings(service: AbsenceService, campaign: str) -> NoticeSettings:
    """``campaign``'s effective notice settings (some may be unset): those its policy was
    adopted with, overridden field by field by the latest ``campaign.notice_settings``.

    Raises:
        NotFound: no such campaign.
    """
    info = service.campaign(campaign)
    return NoticeSettings.from_body(
        Q.policy_body(service.engine, str(info["policy_digest"])) or {}
    ).overridden_by(service.notice_settings_set(campaign))


def listed(lines: Sequence[NoticeLine], chosen: NoticeSettings) -> list[NoticeLine]:
    """The lines the notice lists under ``chosen``'s roster."""
    keep = ROSTER_FILTERS[chosen.listed]
    return [line for line in lines if keep(line.outcome)]


def settings_of(service: AbsenceService, campaign: str) -> NoticeSettings:
    """The effective notice settings of ``campaign`` (``recorded_settings``).

    Raises:
        NotFound: no such campaign.
        PublishingRefused: a required setting (issuing office, supervision telephone,
            objection address or e-mail) is not set; names the first missing one and
            where to set it.  Nothing is written.
    """
    info = service.campaign(campaign)
    found = recorded_settings(service, campaign)
    missing = found.missing()
    if missing:
        key, zh = missing[0]
        raise PublishingRefused(
            f"{key}: the notice has no {zh} ({key.removeprefix('notice_').replace('_', ' ')}"
            f"); set it for this campaign (PUT /api/v1/campaigns/{campaign}/notice-settings "
            f"or the console's notice page), or set {key} in [policies.{info['policy']}] "
            "of the config for campaigns opened after that. Nothing was published",
            field=key)
    return found


def written_day(day: date, lang: str) -> str:
    """A date as a notice writes it: ``2026年11月27日`` or ``27 Nov 2026``."""
    if lang == "zh":
        return f"{day.year}年{day.month}月{day.day}日"
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def period_text(period: tuple[datetime, datetime], days: int, tz: ZoneInfo, lang: str
                ) -> str:
    """公示期 as people write it: from the day of publication to the notice period's
    last working day (its end is 24:00 of that day, so the day before the end)."""
    first = period[0].astimezone(tz).date()
    last = (period[1].astimezone(tz) - timedelta(seconds=1)).date()
    if lang == "zh":
        return f"{written_day(first, 'zh')}至{written_day(last, 'zh')}（{days}个工作日）"
    return (f"{written_day(first, 'en')} to {written_day(last, 'en')} ({days} working "
            f"day{'s' if days != 1 else ''})")


def signed(now: datetime, tz: ZoneInfo) -> dict[str, str]:
    """The sign-off date (落款) of a notice published at ``now``, for the templates'
    ``rules.signoff``: ``signed_iso``, ``signed_zh`` and ``signed_en``."""
    day = now.astimezone(tz).date()
    return {"signed_iso": day.isoformat(), "signed_zh": written_day(day, "zh"),
            "signed_en": written_day(day, "en")}


def published_contact(chosen: NoticeSettings) -> list[str]:
    """The office's telephone and e-mail a notice shows on purpose (left out of
    ``scan``)."""
    return [v for v in (chosen.supervision_phone, chosen.objection_email) if v]


def _page(lang: str, **context: Any) -> str:
    """One language's page of the notice (``notice.html``)."""
    zh = lang != "en"

    def t(chinese: str, english: str) -> str:
        return chinese if zh else english

    notice = context["notice"]
    columns = context["columns"]
    named = [t(*NAMED[c]) for c in columns]
    shown_columns = ("、".join(named) if zh else
                     ", ".join(named[:-1]) + (" and " if len(named) > 1 else "") + named[-1])
    return _env().get_template("notice.html").render(
        lg={"code": "zh" if zh else "en"}, t=t, q="" if zh else "?lang=en",
        amp="" if zh else "&lang=en",
        switch={"zh": f"/notices/{notice}", "en": f"/notices/{notice}?lang=en"},
        headings=HEADINGS, shown_columns=shown_columns,
        zone=zone_label(context["tz"], "zh" if zh else "en"), **context)


def render(service: AbsenceService, campaign: str, now: datetime, *, days: int,
           calendar: WorkingCalendar, base_url: str = "",
           supersedes: str | None = None, reason: str | None = None,
           witnesses: WitnessSettings | None = None) -> RenderedNotice:
    """Render the notice as it would be published now (checks included, nothing
    stored): its Chinese page (the official text) and its English page.

    The pages embed a checkpoint of everything appended so far; under a k-of-n witness
    policy (``witnesses``), one that k witnesses cosigned, with their cosignatures.
    Which candidates and columns they show, and the issuing office, supervision
    telephone and objection channel at their foot, are the campaign policy's notice
    settings (``ledger.absence.notice_settings``).

    Raises:
        NotFound: no such campaign.  Conflict: decisions not final.
        PublishingRefused: a required notice setting is missing (checked first, before
            any witness is asked), or a page would show personal data.
        CalendarUnknown: the notice period reaches a year the calendar does not know.
        WitnessQuorumUnavailable: fewer witnesses than required cosigned in time.
    """
    info = service.campaign(campaign)
    chosen = settings_of(service, campaign)
    tz = ZoneInfo(info["timezone"])
    cosigned = require_cosigned(service.store, service.log, witnesses, now)
    checkpoint = cosigned.checkpoint
    lines, names = final_lines(service, campaign)
    if lines and checkpoint.size <= max(line.index for line in lines):
        raise CouldNotCheck(f"the latest checkpoint ({checkpoint.size} entries) does not "
                            "cover every decision; sign one (absentia checkpoint) and retry",
                            field="checkpoint")
    period = notice_period(now, days, tz, calendar)
    shown = listed(lines, chosen)
    notice = new_id("nt")
    log = service.store.log(service.log)
    endpoints = witnesses.witnesses if witnesses is not None else ()
    context: dict[str, Any] = dict(
        notice=notice, campaign=info, lines=shown, days=days, log=log,
        checkpoint=cosigned.note, checkpoint_size=checkpoint.size,
        period_zh=period_text(period, days, tz, "zh"),
        period_en=period_text(period, days, tz, "en"),
        published_zh=written(now, tz, "zh", zone=True),
        published_en=written(now, tz, "en", zone=True),
        tz=info["timezone"], **signed(now, tz),
        settings=chosen, columns=chosen.columns, roster=chosen.listed,
        supersedes=supersedes, reason=reason, base_url=base_url, banner=BANNER_MARK,
        witnesses=[ShownWitness(w.name, w.verifier.vkey) for w in endpoints],
        witnesses_required=witnesses.policy.required if witnesses is not None else 0,
        witness_policy=policy_shown(witnesses),
        cosignatures=shown_cosignatures(cosigned.note, endpoints, tz))
    pages = {lang: _page(lang, **context) for lang in ("zh", "en")}
    contact = published_contact(chosen)
    for lang, html in pages.items():
        problems = scan(html, names, contact)
        if problems:
            raise PublishingRefused(
                f"the notice ({lang}) would show " + "; ".join(problems) + ": nothing was "
                "published. Check the campaign and post titles and the registration "
                "numbers", field="notice")
    data, data_en = pages["zh"].encode("utf-8"), pages["en"].encode("utf-8")
    return RenderedNotice(notice, campaign, data, sha256_hex(data),
                          len(shown), checkpoint.size, period, data_en,
                          sha256_hex(data_en))


def publish(service: AbsenceService, caller: Caller, campaign: str, now: datetime, *,
            days: int = DEFAULT_NOTICE_DAYS, calendar: WorkingCalendar | None = None,
            base_url: str = "", supersedes: str | None = None, reason: str | None = None,
            witnesses: WitnessSettings | None = None) -> dict[str, Any]:
    """Render, check, store and record a notice (``notice.published``).

    A correction (``supersedes``) may carry ``reason``, why it was made: recorded in the
    entry and shown on the notice as 更正说明 (a public text: no personal data).

    Raises:
        WitnessQuorumUnavailable: the witness policy's k cosignatures did not come in
            time; nothing was published.
        NotFound: no such campaign or superseded notice.
        Conflict: decisions not final, or ``supersedes`` is not this campaign's current
            notice.
        PublishingRefused: a required notice setting is missing (named), or a page
            would show personal data.
        BadData: ``reason`` is not a public text (1..200 printable characters, no ID
            number, mobile or e-mail), or is given without ``supersedes``.
    """
    cal = calendar or WorkingCalendar()
    if reason is not None:
        if supersedes is None:
            raise BadData("reason: only a correction (supersedes) carries a reason",
                          field="reason")
        public_text(reason, "reason")
    if supersedes is not None:
        old = notice(service, supersedes)
        if old["campaign"] != campaign or old["superseded_by"] is not None:
            raise Conflict(f"notice {supersedes} is not the current notice of {campaign}",
                           field="supersedes")
    rendered = render(service, campaign, now, days=days, calendar=cal, base_url=base_url,
                      supersedes=supersedes, reason=reason, witnesses=witnesses)

    def plan(conn: Connection) -> list[NewEntry]:
        if supersedes is not None:
            now_old = Q.notice_record(conn, supersedes)
            if now_old is not None and now_old.superseded_by is not None:
                raise Conflict(f"notice {supersedes} was superseded meanwhile",
                               field="supersedes")
        store_document(conn, rendered.notice, rendered.html)
        store_document(conn, document_key(rendered.notice, "en"), rendered.html_en)
        body: dict[str, Any] = {
            "notice": rendered.notice, "campaign": campaign, "sha256": rendered.sha256,
            "sha256_en": rendered.sha256_en,
            "lines": rendered.lines, "checkpoint_size": rendered.checkpoint_size,
            "period_start": format_time(rendered.period[0]),
            "period_end": format_time(rendered.period[1])}
        if supersedes is not None:
            body["supersedes"] = supersedes
        if reason is not None:
            body["reason"] = reason
        return [NewEntry("notice.published", caller.actor, body)]

    service.record(now, plan)
    return notice(service, rendered.notice)


def notice(service: AbsenceService, notice_id: str) -> dict[str, Any]:
    """A notice's record (not its bytes).

    Raises:
        NotFound: no such notice.
    """
    record = Q.notice_record(service.engine, notice_id)
    if record is None:
        raise NotFound(f"no notice {notice_id!r}", field="notice")
    return _json(record)


def notices(service: AbsenceService, *, page: int = 1, per_page: int = 20
            ) -> tuple[list[dict[str, Any]], int]:
    """Notices newest first, one page; and how many there are."""
    listed, total = Q.notice_page(service.engine, page=page, per_page=per_page)
    return [_json(n.record) | {"title": n.title} for n in listed], total


def document(service: AbsenceService, notice_id: str, lang: str = "zh") -> bytes:
    """The published bytes of a notice in ``lang``: ``zh`` its Chinese page, ``en`` its
    English page.  A notice published as one bilingual page (before both languages)
    has that page in either language.

    Raises:
        NotFound: no such notice.
    """
    html = Q.notice_html(service.engine, notice_id, lang)
    if html is None and lang != "zh":
        html = Q.notice_html(service.engine, notice_id)
    if html is None:
        raise NotFound(f"no notice {notice_id!r}", field="notice")
    return html


def _json(record: Q.NoticeRecord) -> dict[str, Any]:
    return {"notice": record.notice, "campaign": record.campaign, "sha256": record.sha256,
            "sha256_en": record.sha256_en,
            "lines": record.lines, "checkpoint_size": record.checkpoint_size,
            "period_start": record.period_start, "period_end": record.period_end,
            "supersedes": record.supersedes, "superseded_by": record.superseded_by,
            "published_at": record.published_at, "ledger_index": record.index}
