"""ledger.absence.notice_settings: what a notice must say, set in a policy; personal
fields refused; a policy without settings keeps its digest."""

from __future__ import annotations

import pytest

from ledger.absence.entries import POLICY_ADOPTED
from ledger.absence.notice_settings import NoticeSettings
from ledger.absence.rebuild import check_rebuild
from ledger.absence.rules import Policy
from ledger.errors import BadData, NotFound
from tests.unit.ledger.absence._domain import CAMPAIGN, HR, T0, Domain

FULL = {"mode": "government", "notice_issuing_office": "示例市人社局",
        "notice_supervision_phone": "010-12345678",
        "notice_objection_address": "示例市示例路1号",
        "notice_objection_email": "gongshi@hrss.example.gov.cn",
        "notice_roster": "withdrawn", "notice_fields": ["name", "registration", "result"]}


def test_a_policy_without_notice_settings_keeps_its_body_and_digest() -> None:
    plain = Policy.from_config("government", {"mode": "government"})
    assert not [k for k in plain.to_body() if k.startswith("notice_")]
    assert plain.digest() == Policy(name="government", mode="government").digest()
    assert plain.notice.missing()[0] == ("notice_issuing_office", "发布单位")


def test_settings_are_recorded_with_the_policy_and_read_back() -> None:
    policy = Policy.from_config("government", FULL)
    body = policy.to_body()
    assert body["notice_fields"] == "registration,name,result"  # page order
    assert policy.digest() != Policy.from_config("government", {"mode": "government"}
                                                 ).digest()
    recorded = {k: v for k, v in body.items() if k != "name"}
    POLICY_ADOPTED.check_body({"policy": "government", "digest": policy.digest(), **recorded})
    again = NoticeSettings.from_body(body)
    assert again == policy.notice
    assert not again.missing()
    assert again.listed == "withdrawn"


@pytest.mark.parametrize("field", ["id_number", "phone", "email", "birth_date"])
def test_personal_fields_are_refused_by_name(field: str) -> None:
    with pytest.raises(BadData) as e:
        Policy.from_config("government", {"mode": "government",
                                          "notice_fields": ["registration", field]})
    assert e.value.field == "policies.government.notice_fields"
    assert "never" in str(e.value)


@pytest.mark.parametrize(("key", "value"), [
    ("notice_roster", "backfill"), ("notice_objection_email", "not an address"),
    ("notice_supervision_phone", "call us"),
    ("notice_supervision_phone", "138 1234 5678"),  # a mobile: perhaps a person's
    ("notice_issuing_office", "联系13812345678"),
])
def test_bad_values_name_the_key(key: str, value: str) -> None:
    with pytest.raises(BadData) as e:
        Policy.from_config("government", {"mode": "government", key: value})
    assert e.value.field == f"policies.government.{key}"


# -- set for one campaign after it opened (campaign.notice_settings) ----------------


def test_a_campaign_s_settings_override_its_policy_field_by_field() -> None:
    policy = NoticeSettings.from_config("p", FULL)
    set_later = NoticeSettings.from_request({"issuing_office": "示例县人社局",
                                             "fields": ["registration", "result"]})
    effective = policy.overridden_by(set_later)
    assert effective.issuing_office == "示例县人社局"
    assert effective.columns == ("registration", "result")
    # What it does not set stays the policy's.
    assert effective.supervision_phone == policy.supervision_phone == "010-12345678"
    assert effective.listed == "withdrawn"
    assert NoticeSettings().overridden_by(set_later).missing()[0][0] == \
        "notice_supervision_phone"
    assert policy.overridden_by(NoticeSettings()) == policy


@pytest.mark.parametrize(("data", "field"), [
    ({}, "issuing_office"),
    ({"office": "示例市人社局"}, "office"),
    ({"issuing_office": ""}, "issuing_office"),
    ({"issuing_office": "联系13812345678"}, "issuing_office"),
    ({"supervision_phone": "138 1234 5678"}, "supervision_phone"),
    ({"objection_address": 12}, "objection_address"),
    ({"objection_email": "not an address"}, "objection_email"),
    ({"roster": "backfill"}, "roster"),
    ({"fields": "registration,name"}, "fields"),
    ({"fields": ["registration", "id_number"]}, "fields"),
    ({"fields": []}, "fields"),
])
def test_a_request_s_bad_setting_is_named_by_its_field(data: dict[str, object], field: str
                                                        ) -> None:
    with pytest.raises(BadData) as e:
        NoticeSettings.from_request(data)
    assert e.value.field == field


def test_set_for_a_campaign_recorded_replaced_and_rebuilt(domain: Domain) -> None:
    size = domain.size()
    out = domain.service.set_notice_settings(HR, CAMPAIGN, {
        "issuing_office": "示例县人社局", "supervision_phone": "0991-1234567",
        "fields": ["result", "registration"]}, T0)
    assert out["issuing_office"] == "示例县人社局"
    (entry,) = domain.entries("campaign.notice_settings")
    assert entry["actor"] == HR.actor
    assert entry["body"] == {"campaign": CAMPAIGN, "notice_issuing_office": "示例县人社局",
                             "notice_supervision_phone": "0991-1234567",
                             "notice_fields": "registration,result"}
    assert out["ledger_index"] == entry["index"] == size
    # The latest entry replaces the earlier one: what it does not set is the policy's.
    domain.service.set_notice_settings(HR, CAMPAIGN, {"issuing_office": "示例州人社局"}, T0)
    assert domain.service.notice_settings_set(CAMPAIGN) == NoticeSettings(
        issuing_office="示例州人社局")
    info = domain.service.campaign(CAMPAIGN)
    policy = domain.service.policy_by_digest(info["policy_digest"]).notice
    effective = policy.overridden_by(domain.service.notice_settings_set(CAMPAIGN))
    assert effective.issuing_office == "示例州人社局"
    assert effective.supervision_phone == policy.supervision_phone
    result = check_rebuild(domain.service.store, domain.service.log)
    assert result.equal, result.differences
    assert result.tables["p_campaign_notice_settings"] == 1


def test_a_bad_setting_or_campaign_writes_nothing(domain: Domain) -> None:
    size = domain.size()
    with pytest.raises(BadData) as bad:
        domain.service.set_notice_settings(HR, CAMPAIGN, {"objection_email": "x@"}, T0)
    assert bad.value.field == "objection_email"
    with pytest.raises(NotFound):
        domain.service.set_notice_settings(HR, "nope", {"issuing_office": "某局"}, T0)
    assert domain.size() == size
    assert domain.service.notice_settings_set(CAMPAIGN) == NoticeSettings()
