"""Event type registry: closed body schemas and the personal-data scanner."""

from __future__ import annotations

import copy
import hashlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.absence.entries import public_text
from ledger.absence.notice_settings import office_email, office_text
from ledger.app.registry import entry_types
from ledger.errors import BadData
from ledger.events import PII_PATTERNS, EntryTypes, EventType, scan_for_personal_data
from ledger.note import Ed25519Verifier
from ledger.sm2 import SM2Verifier
from ledger.storage.store import NewEntry, PreparedEntry
from ledger.storage.store import prepare as prepare_with

#: The registry the application builds (core, absence and accounts types).
REGISTRY = entry_types()
lookup = REGISTRY.lookup


def prepare(item: NewEntry) -> PreparedEntry:
    return prepare_with(item, REGISTRY)


def _vkey(name: str) -> str:
    return Ed25519Verifier.from_public_key(name, hashlib.sha256(name.encode()).digest()).vkey


VKEY = _vkey("example.com/log")
# The GB/T 32918.5 example's public key as a DER SPKI (id-ecPublicKey, sm2p256v1).
SM2_SPKI = bytes.fromhex(
    "3059301306072a8648ce3d020106082a811ccf5501822d03420004"
    "09f9df311e5421a150dd7d161e4bc5c672179fad1833fc076bb08ff356f35020"
    "ccea490ce26775a52dc6ea718cc1aa600aed05fbf35e084a6632f6072da9ad13")
SM2_VKEY = SM2Verifier.from_spki("example.com/log", SM2_SPKI).vkey
H = "ab" * 32
SUB = "sub_abcdefghijklmnopqrstuvwxyz"

# One valid body per registered type, with every optional field present.
VALID: dict[str, dict[str, Any]] = {
    "log.created": {"origin": "example.com/log", "verifier_key": VKEY},
    "log.key_added": {"verifier_key": VKEY, "reason": "rotated", "previous_key_id": "0123abcd"},
    "log.sm2_key_added": {"verifier_key": SM2_VKEY},
    "platform.event": {
        "event_id": "evt-2026-11-25-0001",
        "window": "w-2026-11",
        "subject": "sub_abcdefghijklmnopqrstuvwxyz",
        "kind": "connection_failed",
        "at": "2026-11-25T08:00:00.000Z",
        "webhook_id": "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W",
        "detail": "ice_failed",
    },
    "window.closed": {
        "window": "w-2026-11",
        "closed_at": "2026-11-25T18:00:00.000Z",
        "completed": 40,
        "absent": 2,
    },
    "policy.adopted": {"policy": "government", "digest": H, "mode": "government",
                       "grace_s": 600, "notify_within_s": 3600, "rebook_within_s": 172800,
                       "lock_after": 2, "makeup_causes": "technical,notification_failed",
                       "appeal_period_s": 604800, "backfill": 1,
                       "backfill_cutoff": "2026-12-01", "backfill_cutoff_days": 3,
                       "backfill_day_of_no_show": 0, "backfill_withdrawal_days": 3,
                       "backfill_rounds": 2, "backfill_ties": "written_score"},
    "campaign.notice_settings": {"campaign": "c2026", "notice_issuing_office": "示例市人社局",
                                 "notice_supervision_phone": "010-12345678",
                                 "notice_objection_address": "示例市示例路1号",
                                 "notice_objection_email": "objection@hr.example.gov.cn",
                                 "notice_roster": "withdrawn",
                                 "notice_fields": "registration,name,post,result"},
    "campaign.created": {"campaign": "c2026", "title": "2026年市人社局公开招聘",
                         "timezone": "Asia/Shanghai", "policy": "government",
                         "policy_digest": H},
    "campaign.post_added": {"campaign": "c2026", "post": "p01", "title": "综合管理岗"},
    "subject.registered": {"subject": SUB, "campaign": "c2026", "post": "p01",
                           "registration": "R2026-0001", "commitment": H,
                           "contact": "email,sms"},
    "subject.erased": {"subject": SUB, "reason": "retention_expired"},
    "slot.reserved": {"campaign": "c2026", "slot": "b1", "opens_at": "2026-11-26T01:00:00.000Z",
                      "closes_at": "2026-11-26T10:00:00.000Z", "capacity": 40},
    "slot.withdrawn": {"campaign": "c2026", "slot": "b1"},
    "window.scheduled": {"window": "w_1", "campaign": "c2026", "subject": SUB,
                         "opens_at": "2026-11-25T01:00:00.000Z",
                         "closes_at": "2026-11-25T10:00:00.000Z", "slot": "s1",
                         "kind": "makeup", "origin_decision": "d_w_0"},
    "accommodation.granted": {"window": "w_1", "kind": "extended",
                              "opens_at": "2026-11-25T01:00:00.000Z",
                              "closes_at": "2026-11-25T12:00:00.000Z",
                              "reason": "poor_signal"},
    "platform.quarantined": {"event_id": "e1", "window": "w_x", "kind": "joined",
                             "at": "2026-11-25T08:00:00.000Z", "webhook_id": "msg_1",
                             "reason": "unknown_window", "subject": SUB,
                             "detail": "late_upload"},
    "decision.made": {"decision": "d_w_1", "window": "w_1", "campaign": "c2026",
                      "subject": SUB, "outcome": "makeup_pending_review",
                      "evidence": "12,57", "policy_digest": H, "reason": "connection_failed",
                      "explanation_sha256": H, "basis": "sweep", "cause": "technical",
                      "rebook_until": "2026-11-27T10:00:00.000Z", "supersedes": "d_w_0"},
    "decision.reviewed": {"decision": "d_w_1", "ruling": "makeup_granted",
                          "makeup_window": "w_2", "alert": "c2026:platform_outage:x"},
    "appeal.filed": {"appeal": "a_1", "decision": "d_w_1", "subject": SUB,
                     "ground": "notification", "statement_hmac": H,
                     "attachments": f"png:{H},pdf:{'13800138000' + '0' * 53}"},
    "appeal.ruled": {"appeal": "a_1", "ruling": "overturned", "makeup_window": "w_3"},
    "notification.queued": {"notification": "n_1", "subject": SUB, "channel": "sms",
                            "template": "decision", "due_by": "2026-11-25T11:00:00.000Z",
                            "window": "w_1", "decision": "d_w_1", "appeal": "a_1"},
    "notification.sent": {"notification": "n_1", "attempt": 1, "provider_ref_sha256": H},
    "notification.failed": {"notification": "n_1", "attempt": 2, "error": "smtp_550",
                            "final": 0, "retry_at": "2026-11-25T11:05:00.000Z"},
    "notification.delivered": {"notification": "n_1", "status": "delivered"},
    "alert.raised": {"alert": "c2026:platform_outage:20261125T0800Z", "campaign": "c2026",
                     "kind": "platform_outage", "count": 12, "total": 30, "threshold": 10,
                     "windows": "w_1,w_2", "slot_start": "2026-11-25T08:00:00.000Z"},
    "alert.resolved": {"alert": "c2026:platform_outage:20261125T0800Z",
                       "action": "mass_makeup", "makeups": 12},
    "pii.viewed": {"subject": SUB, "purpose": "review", "fields": "name,phone"},
    "rebook.lapsed": {"decision": "d_w_1", "window": "w_1",
                      "rebook_until": "2026-11-27T02:13:00.000Z"},
    "audit.performed": {"action": "verify", "log": "hr-bureau-2026", "size": 1200,
                        "result": "failed", "bad_index": 17},
    "token.created": {"token": "tok_1", "role": "auditor", "secret_sha256": H,
                      "label": "audit-office"},
    "token.revoked": {"token": "tok_1"},
    "notice.published": {"notice": "nt_1", "campaign": "c2026", "sha256": H, "lines": 240,
                         "checkpoint_size": 17041,
                         "period_start": "2026-11-25T00:00:00.000Z",
                         "period_end": "2026-12-02T16:00:00.000Z", "supersedes": "nt_0"},
    "report.generated": {"report": "rp_1", "campaign": "c2026", "sha256": H,
                         "decisions": 2000, "checkpoint_size": 17041},
    "ranking.imported": {"ranking": "r_1", "campaign": "c2026", "post": "p01", "digest": H,
                         "ranked": 12, "qualified": 9, "places": 3,
                         "interview_day": "2026-12-05", "ties": "file_order"},
    "ranking.ranked": {"ranking": "r_1", "subject": SUB, "rank": 4, "passed": "yes"},
    "vacancy.recorded": {"vacancy": "v_1", "campaign": "c2026", "subject": SUB,
                         "kind": "withdrawn_in_writing", "at": "2026-11-20T02:00:00.000Z"},
    "backfill.proposed": {"proposal": "bf_1", "campaign": "c2026", "post": "p01",
                          "vacancy": "d_w_1", "vacated": SUB, "subject": SUB, "rank": 4,
                          "round": 1},
    "backfill.approved": {"proposal": "bf_1", "window": "w_9", "reason": "主管部门同意"},
    "backfill.declined": {"proposal": "bf_1", "reason": "本人放弃"},
    "backfill.unfilled": {"campaign": "c2026", "post": "p01", "vacancy": "d_w_1",
                          "vacated": SUB, "reason": "cutoff_passed", "round": 1},
    "backfill.list_published": {"notice": "bn_1", "campaign": "c2026", "sha256": H,
                                "lines": 2, "period_start": "2026-11-25T00:00:00.000Z",
                                "period_end": "2026-12-02T16:00:00.000Z"},
    "objection.filed": {"objection": "obj_1", "notice": "nt_1", "campaign": "c2026",
                        "channel": "web", "ground": "qualification", "statement_hmac": H,
                        "objector_sha256": H, "lookup_sha256": H,
                        "ack_by": "2026-11-30T16:00:00.000Z",
                        "reply_by": "2026-12-09T16:00:00.000Z", "subject": SUB, "line": 3},
    "objection.acknowledged": {"objection": "obj_1"},
    "objection.statement_invited": {"objection": "obj_1", "subject": SUB,
                                    "respond_by": "2026-12-03T16:00:00.000Z"},
    "objection.statement_received": {"objection": "obj_1", "channel": "letter",
                                     "statement_hmac": H},
    "objection.ruled": {"objection": "obj_1", "ruling": "cancelled", "reason": "学历不符"},
    "objection.objector_erased": {"objection": "obj_1", "reason": "request"},
    "user.created": {"user": "u_abcdefghijklmnop", "role": "reviewer"},
    "user.totp_enrolled": {"user": "u_abcdefghijklmnop"},
    "user.signed_in": {"user": "u_abcdefghijklmnop", "session": "s_abcdefghijklmnop",
                       "second_factor": "totp"},
    "user.sign_in_failed": {"reason": "bad_password", "user": "u_abcdefghijklmnop"},
    "user.signed_out": {"user": "u_abcdefghijklmnop", "session": "s_abcdefghijklmnop"},
    "user.locked": {"user": "u_abcdefghijklmnop", "until": "2026-11-25T08:01:00.000Z",
                    "failures": 5},
    "user.recovery_codes_issued": {"user": "u_abcdefghijklmnop", "count": 10},
    "user.recovery_code_used": {"user": "u_abcdefghijklmnop", "remaining": 9},
}

#: Fields for which some generic bad values are in fact valid (empty lists, titles).
ALSO_VALID: dict[tuple[str, str], set[str]] = {
    ("policy.adopted", "makeup_causes"): {""},
    ("decision.made", "evidence"): {""},
    ("alert.raised", "windows"): {""},
    ("campaign.created", "title"): {"has space"},
    ("campaign.post_added", "title"): {"has space"},
    ("decision.reviewed", "reason"): {"has space"},
    ("appeal.ruled", "reason"): {"has space"},
    ("notice.published", "reason"): {"has space"},
    ("backfill.approved", "reason"): {"has space"},
    ("backfill.declined", "reason"): {"has space"},
    ("objection.ruled", "reason"): {"has space"},
    # A policy's notice settings: the office's name and address are public texts.
    ("policy.adopted", "notice_issuing_office"): {"has space"},
    ("policy.adopted", "notice_objection_address"): {"has space"},
    ("campaign.notice_settings", "notice_issuing_office"): {"has space"},
    ("campaign.notice_settings", "notice_objection_address"): {"has space"},
}

TYPES = REGISTRY.names()

ID_NUMBERS = ["110105199001011234", "11010519900101123X", "11010519900101123x"]
# International forms of digits only fit in identifiers (and must be caught there too).
MOBILES = ["13812345678", "19912345678", "8613800138000", "008613800138000"]
# Forms with '+', spaces, hyphens or parentheses, international (+86) and domestic.
MOBILES_WRITTEN = ["+8613800138000", "+86 138 0013 8000", "+86-138-0013-8000",
                   "0086 138 0013 8000", "0086-13800138000", "+86 13800138000",
                   "(+86) 138 0013 8000", "(86)13800138000", "138 0013 8000"]
EMAILS = ["a@b.cn", "someone.else@example.com"]
HAN = ["张三", "李"]
PII = ID_NUMBERS + MOBILES + MOBILES_WRITTEN + EMAILS + HAN


def _body(name: str) -> dict[str, Any]:
    if name not in VALID:
        pytest.fail(f"event type {name!r} is registered but has no sample body in this test")
    return copy.deepcopy(VALID[name])


def test_every_registered_type_has_a_sample() -> None:
    assert set(VALID) == set(REGISTRY.names())


@pytest.mark.parametrize("name", TYPES)
def test_valid_body_accepted(name: str) -> None:
    et = lookup(name)
    assert et.name == name
    body = _body(name)
    et.check_body(body)
    prepare(NewEntry(name, "system", body))
    # Only the required fields (and one field of each exactly-one group) is also valid.
    minimal = {k: v for k, v in body.items() if k in et.required}
    minimal.update({group[0]: body[group[0]] for group in et.exactly_one})
    et.check_body(minimal)


def test_appeal_filed_carries_the_keyed_digest_or_the_old_plain_one() -> None:
    """New entries hold ``statement_hmac``; entries written before hold
    ``statement_sha256`` and stay valid; exactly one of the two."""
    et = lookup("appeal.filed")
    old = {k: v for k, v in VALID["appeal.filed"].items() if k != "statement_hmac"}
    et.check_body({**old, "statement_sha256": H})
    for body in (old, {**old, "statement_sha256": H, "statement_hmac": H}):
        with pytest.raises(BadData, match="exactly one") as info:
            et.check_body(body)
        assert info.value.field == "body.statement_hmac"


def test_appeal_filed_lists_attachments_by_kind_and_digest_only() -> None:
    """At most three ``kind:hmac`` items; a file name, a fourth file or another kind is
    refused (a digest that happens to hold 11 digits is not taken for a phone number)."""
    et = lookup("appeal.filed")
    base = VALID["appeal.filed"]
    et.check_body({**base, "attachments": ",".join([f"jpeg:{H}"] * 3)})
    for bad in (",".join([f"png:{H}"] * 4), f"gif:{H}", f"png:{H}:scan.png",
                "张三的诊断书.pdf", f"png:{H},"):
        with pytest.raises(BadData) as info:
            et.check_body({**base, "attachments": bad})
        assert info.value.field == "body.attachments"


@pytest.mark.parametrize("name", TYPES)
def test_unknown_field_rejected(name: str) -> None:
    for extra in ("extra", "Event_id", "subject ", ""):
        body = _body(name)
        if extra in body:
            continue
        body[extra] = "x"
        with pytest.raises(BadData, match="unknown field") as info:
            lookup(name).check_body(body)
        assert info.value.field == f"body.{extra}"
        with pytest.raises(BadData):
            prepare(NewEntry(name, "system", body))


@pytest.mark.parametrize("name", TYPES)
def test_missing_field_rejected(name: str) -> None:
    et = lookup(name)
    assert et.required, f"{name} has no required fields"
    for field_name in et.required:
        body = _body(name)
        del body[field_name]
        with pytest.raises(BadData, match="required") as info:
            et.check_body(body)
        assert info.value.field == f"body.{field_name}"
        with pytest.raises(BadData):
            prepare(NewEntry(name, "system", body))


@pytest.mark.parametrize("name", TYPES)
def test_non_object_body_rejected(name: str) -> None:
    not_objects: list[Any] = [None, [], "x", 1]
    for body in not_objects:
        with pytest.raises(BadData):
            lookup(name).check_body(body)


@pytest.mark.parametrize("name", TYPES)
def test_wrong_value_types_rejected(name: str) -> None:
    et = lookup(name)
    for field_name in [*et.required, *et.optional]:
        bad_values: list[Any] = [None, True, [], {}, -1, "", "has space", 1.5]
        for bad in bad_values:
            if isinstance(bad, str) and bad in ALSO_VALID.get((name, field_name), set()):
                continue
            body = _body(name)
            body[field_name] = bad
            with pytest.raises(BadData) as info:
                et.check_body(body)
            assert info.value.field == f"body.{field_name}"


def test_unknown_type_rejected() -> None:
    for name in ("platform.unknown", "platform", "", "PLATFORM.EVENT"):
        with pytest.raises(BadData, match="unknown entry type"):
            lookup(name)
        with pytest.raises(BadData):
            prepare(NewEntry(name, "system", {}))


def test_field_validators() -> None:
    et = lookup("platform.event")
    for field_name, bad in [
        ("subject", "sub_" + "a" * 25),
        ("subject", "sub_" + "a" * 27),
        ("subject", "sub_" + "A" * 26),
        ("subject", "sub_" + "1" * 26),
        ("kind", "absent"),
        ("kind", "Joined"),
        ("at", "2026-11-25T08:00:00.000+08:00"),
        ("at", "2026-11-25"),
        ("event_id", "-starts-with-dash"),
        ("event_id", "a" * 129),
        ("window", "a/b"),
    ]:
        body = _body("platform.event")
        body[field_name] = bad
        with pytest.raises(BadData):
            et.check_body(body)
    et.check_body({**_body("platform.event"), "event_id": "a" * 128})
    closed = lookup("window.closed")
    for bad_count in (-1, True, "3", 2.0):
        with pytest.raises(BadData):
            closed.check_body({**_body("window.closed"), "absent": bad_count})
    key_added = lookup("log.key_added")
    bad_changes: list[dict[str, str]] = [
        {"reason": "stolen"},
        {"previous_key_id": "0123ABCD"},
        {"previous_key_id": "0123abc"},
        {"verifier_key": VKEY[:-1]},
    ]
    for change in bad_changes:
        with pytest.raises(BadData):
            key_added.check_body({**_body("log.key_added"), **change})
    created = lookup("log.created")
    for origin in ("has space", "a+b", "", "x" * 256, "tab\there"):
        with pytest.raises(BadData):
            created.check_body({**_body("log.created"), "origin": origin})


# -- personal data ----------------------------------------------------------------


@pytest.mark.parametrize("value", PII)
def test_scanner_finds_pii_anywhere(value: str) -> None:
    for wrapped in (
        value,
        f"prefix {value} suffix",
        {"a": value},
        {"a": {"b": [1, "ok", {"c": value}]}},
        [value],
        {value: "key"},
    ):
        with pytest.raises(BadData, match="personal data"):
            scan_for_personal_data(wrapped, "body")


@pytest.mark.parametrize(
    "value",
    [
        "sub_abcdefghijklmnopqrstuvwxyz",
        "w-2026-11",
        "2026-11-25T08:00:00.000Z",
        "1381234567",  # 10 digits: not a mobile number
        "12812345678",  # 12x is not a mobile prefix
        "+86 128 0013 8000",  # nor in international form
        "86138001380001",  # 14 digits
        "130-2026-0001",  # hyphens without a country code: an identifier, not a number
        "evt-2026-11-25-0001",
        "R2026-0001-1301",
        "+08:00 2026 1125",
        "evt-0001",
        "a@b",  # no top-level domain
        "example.com/log",
        "hello world",
        "\u00e9t\u00e9",  # accented Latin is not Han
    ],
)
def test_scanner_accepts_ordinary_values(value: str) -> None:
    scan_for_personal_data({"v": value, "n": [value, 12, None, True]}, "body")


def _pii_bodies() -> list[tuple[str, dict[str, Any], str]]:
    """Bodies whose only fault is a personal-data value (the field validator accepts it)."""
    out: list[tuple[str, dict[str, Any], str]] = []
    for value in ID_NUMBERS + MOBILES:
        # Identifiers allow digits, so the field validator passes and the scanner must act.
        for field_name in ("event_id", "window"):
            body = _body("platform.event")
            body[field_name] = value
            out.append(("platform.event", body, field_name))
            body = _body("platform.event")
            body[field_name] = f"evt-{value}"
            out.append(("platform.event", body, field_name))
        body = _body("window.closed")
        body["window"] = value
        out.append(("window.closed", body, "window"))
    for value in ID_NUMBERS + MOBILES + EMAILS:
        # A log origin is printable ASCII without spaces or '+': e-mail addresses pass it.
        body = _body("log.created")
        body["origin"] = value
        out.append(("log.created", body, "origin"))
    for value in ID_NUMBERS + MOBILES + EMAILS + HAN:
        # Verifier key names may be any non-space text, Han characters included.
        body = _body("log.created")
        body["verifier_key"] = _vkey(value)
        out.append(("log.created", body, "verifier_key"))
        body = _body("log.key_added")
        body["verifier_key"] = _vkey(value)
        out.append(("log.key_added", body, "verifier_key"))
    return out


PII_BODIES = _pii_bodies()


@pytest.mark.parametrize(
    ("name", "body", "field_name"),
    PII_BODIES,
    ids=[f"{n}-{f}-{i}" for i, (n, _, f) in enumerate(PII_BODIES)],
)
def test_pii_rejected_by_check_body_and_prepare(
    name: str, body: dict[str, Any], field_name: str
) -> None:
    et = lookup(name)
    # The field's own validator accepts the value: it is the scanner that refuses it.
    validator = et.required.get(field_name) or et.optional[field_name]
    validator(body[field_name], f"body.{field_name}")
    with pytest.raises(BadData, match="personal data") as info:
        et.check_body(body)
    assert info.value.field == f"body.{field_name}"
    with pytest.raises(BadData, match="personal data"):
        prepare(NewEntry(name, "system", body))


@pytest.mark.parametrize("value", PII)
def test_pii_in_any_field_rejected(value: str) -> None:
    """Whatever field it lands in, a PII value never gets through check_body or prepare.

    The designed exceptions: public titles (a campaign's or post's name, an office's
    name and address) may be Chinese, so Han characters alone pass there; ID, mobile
    and e-mail never do; and a policy's notice_objection_email is an office's mailbox.
    """
    for name in TYPES:
        et = lookup(name)
        for field_name in [*et.required, *et.optional]:
            validator = et.required.get(field_name) or et.optional[field_name]
            if value in HAN and validator in (public_text, office_text):
                continue
            if "@" in value and validator is office_email:
                continue  # the office's mailbox for objections: an address by design
            body = _body(name)
            body[field_name] = value
            with pytest.raises(BadData):
                et.check_body(body)
            with pytest.raises(BadData):
                prepare(NewEntry(name, "system", body))


@settings(max_examples=100, deadline=None)
@given(
    prefix=st.from_regex(r"[A-Za-z._:-]{0,20}", fullmatch=True),
    suffix=st.from_regex(r"[._:-]{0,20}", fullmatch=True),
    pii=st.sampled_from(ID_NUMBERS + MOBILES),
)
def test_pii_embedded_in_identifiers(prefix: str, suffix: str, pii: str) -> None:
    body = _body("platform.event")
    body["event_id"] = "e" + prefix + pii + suffix
    with pytest.raises(BadData, match="personal data"):
        lookup("platform.event").check_body(body)
    with pytest.raises(BadData, match="personal data"):
        prepare(NewEntry("platform.event", "system", body))


@pytest.mark.parametrize("name", REGISTRY.names())
def test_every_field_admits_only_strings_and_safe_integers(name: str) -> None:
    """prepare() canonicalises checked bodies without a float walk: keep that sound."""
    event_type = lookup(name)
    fields = {**event_type.required, **event_type.optional}
    for field_name, check in fields.items():
        for bad in (1.5, 2.0, 2**53, -1, [], {}, None, True, ["x"], {"a": "b"}):
            with pytest.raises(BadData):
                check(bad, f"body.{field_name}")


def test_digests_that_look_like_mobile_numbers_are_not_personal_data() -> None:
    """About one random SHA-256 in 300 holds 11 digits shaped like a mobile number."""
    found = 0
    for i in range(3000):
        digest = hashlib.sha256(str(i).encode()).hexdigest()
        if not PII_PATTERNS[1][1].search(digest):
            continue
        found += 1
        body = _body("subject.registered") | {"commitment": digest}
        lookup("subject.registered").check_body(body)
        prepare(NewEntry("subject.registered", "hr", body))
    assert found > 0  # the sample does contain such digests
    # ...while the same text in a free-form identifier is still refused.
    with pytest.raises(BadData, match="mobile"):
        lookup("platform.event").check_body(
            _body("platform.event") | {"event_id": "evt-13812345678"})


def test_registry_refuses_a_type_defined_twice_or_misnamed() -> None:
    one = lookup("window.closed")
    with pytest.raises(ValueError, match="twice"):
        EntryTypes([one, one])
    with pytest.raises(ValueError, match="bad event type name"):
        EntryTypes([EventType("Not A Name", "", {})])


def test_a_registry_knows_only_its_types() -> None:
    core_only = EntryTypes([lookup("window.closed")])
    assert "window.closed" in core_only
    assert len(core_only) == 1
    assert "decision.made" not in core_only
    with pytest.raises(BadData, match="unknown entry type"):
        core_only.lookup("decision.made")
