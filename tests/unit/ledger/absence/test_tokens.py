"""ledger.absence.tokens: bearer tokens, of which the ledger keeps only the SHA-256."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import pytest

from ledger.absence.service import Caller
from ledger.errors import BadData, NotFound
from tests.unit.ledger.absence._domain import T0, Domain


def test_a_token_authenticates_its_role_until_revoked(domain: Domain) -> None:
    text = domain.service.create_token("reviewer", T0, label="panel-a")
    (created,) = domain.entries("token.created")
    token = created["body"]["token"]
    assert text.startswith(f"abs_{token}_")
    assert created["body"] == {"token": token, "role": "reviewer", "label": "panel-a",
                               "secret_sha256": hashlib.sha256(text.encode()).hexdigest()}
    assert text not in str(domain.entries())  # the secret itself is never stored
    assert domain.service.authenticate(text) == Caller(f"reviewer:{token}", "reviewer")
    assert domain.service.authenticate(text + "x") is None
    assert domain.service.authenticate("") is None
    (listed,) = domain.service.tokens()
    assert (listed["token"], listed["role"], listed["revoked"]) == (token, "reviewer", False)
    domain.service.revoke_token(token, T0 + timedelta(hours=1))
    (revoked,) = domain.entries("token.revoked")
    assert revoked["body"] == {"token": token}
    assert domain.service.authenticate(text) is None
    assert domain.service.tokens()[0]["revoked"] is True


def test_two_tokens_of_a_role_are_distinct(domain: Domain) -> None:
    a = domain.service.create_token("platform", T0)
    b = domain.service.create_token("platform", T0)
    assert a != b
    ca, cb = domain.service.authenticate(a), domain.service.authenticate(b)
    assert ca is not None
    assert cb is not None
    assert ca.actor != cb.actor
    assert "label" not in domain.entries("token.created")[0]["body"]


def test_a_bad_role_or_unknown_token_writes_nothing(domain: Domain) -> None:
    size = domain.size()
    with pytest.raises(BadData) as bad:
        domain.service.create_token("admin", T0)
    assert bad.value.field == "role"
    with pytest.raises(NotFound) as missing:
        domain.service.revoke_token("tok_none", T0)
    assert missing.value.field == "token"
    assert domain.size() == size
    assert domain.service.tokens() == []


@pytest.mark.parametrize("label", ["13812345678", "张三", "hr@example.com", "a b", "x" * 129])
def test_a_label_is_an_identifier_without_personal_data(domain: Domain, label: str) -> None:
    size = domain.size()
    with pytest.raises(BadData) as bad:
        domain.service.create_token("hr", T0, label=label)
    assert bad.value.field is not None
    assert bad.value.field.endswith("label")  # the entry's field: body.label
    assert domain.size() == size
