"""ledger.absence.notice_settings: what a notice must say, set in a policy; personal
fields refused; a policy without settings keeps its digest."""

from __future__ import annotations

import pytest

from ledger.absence.entries import POLICY_ADOPTED
from ledger.absence.notice_settings import NoticeSettings
from ledger.absence.rules import Policy
from ledger.errors import BadData

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
