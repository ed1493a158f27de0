"""ledger.absence.campaigns: a campaign opened with its posts, its policy recorded once."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.errors import BadData, Conflict, NotFound
from tests.unit.ledger.absence._domain import CAMPAIGN, HR, T0, Domain


def campaign(**changes: Any) -> dict[str, Any]:
    return {"campaign": "c2", "title": "2027年校园招聘", "policy": "enterprise",
            "posts": [{"post": "dev", "title": "开发岗"}, {"post": "ops", "title": "运维岗"}],
            **changes}


def test_a_campaign_is_recorded_with_its_posts_and_policy(domain: Domain) -> None:
    adopted = domain.entries("policy.adopted")  # every configured policy, at start-up
    out = domain.service.create_campaign(HR, campaign(timezone="Asia/Urumqi"), T0)
    (created,) = [e for e in domain.entries("campaign.created")
                  if e["body"]["campaign"] == "c2"]
    assert created["actor"] == HR.actor
    assert created["body"]["policy"] == "enterprise"
    assert created["body"]["timezone"] == "Asia/Urumqi"
    posts = [e["body"] for e in domain.entries("campaign.post_added")
             if e["body"]["campaign"] == "c2"]
    assert posts == [{"campaign": "c2", "post": "dev", "title": "开发岗"},
                     {"campaign": "c2", "post": "ops", "title": "运维岗"}]
    digests = {e["body"]["policy"]: e["body"]["digest"] for e in adopted}
    assert digests["enterprise"] == created["body"]["policy_digest"]
    assert out["posts"] == [{"post": "dev", "title": "开发岗"},
                            {"post": "ops", "title": "运维岗"}]
    assert (out["candidates"], out["ledger_index"]) == (0, created["index"])
    assert [c["campaign"] for c in domain.service.campaigns()] == ["c2", CAMPAIGN]
    assert domain.entries("policy.adopted") == adopted  # recorded once, not a campaign


def test_an_existing_campaign_is_not_opened_again(domain: Domain) -> None:
    size = domain.size()
    with pytest.raises(Conflict) as err:
        domain.service.create_campaign(HR, campaign(campaign=CAMPAIGN), T0)
    assert err.value.field == "campaign"
    assert domain.size() == size


@pytest.mark.parametrize(("changes", "field"), [
    ({"campaign": "c 2"}, "campaign"),
    ({"timezone": "Mars/Olympus"}, "timezone"),
    ({"timezone": 8}, "timezone"),
    ({"policy": "lenient"}, "policy"),
    ({"posts": []}, "posts"),
    ({"posts": ["dev"]}, "posts[0]"),
    ({"posts": [{"post": "dev", "title": "a"}, {"post": "dev", "title": "b"}]},
     "posts[1].post"),
    ({"posts": [{"post": "dev"}]}, "posts[0].title"),
    ({"posts": [{"post": "dev", "title": "a", "salary": 1}]}, "posts[0].salary"),
    ({"title": "联系13812345678"}, "title"),  # personal data in a public title
    ({"budget": 1}, "budget"),
])
def test_a_bad_campaign_is_refused_naming_the_field(domain: Domain, changes: dict[str, Any],
                                                    field: str) -> None:
    size = domain.size()
    with pytest.raises(BadData) as err:
        domain.service.create_campaign(HR, campaign(**changes), T0)
    assert err.value.field == field
    assert domain.size() == size
    with pytest.raises(NotFound):
        domain.service.campaign("c2")
