"""Campaigns: open one with its posts (recording its policy), read them."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import Connection, Row, Table, func, select

from ledger.absence import tables as P  # noqa: N812 (the tables, read as P.windows)
from ledger.absence.context import Caller, Context, UseCase, row_by_key
from ledger.absence.entries import public_text
from ledger.absence.fields import MAX_POSTS, check_id, only, req
from ledger.absence.notice_settings import NoticeSettings
from ledger.absence.rules import Policy
from ledger.errors import BadData, Conflict
from ledger.storage.store import NewEntry

log = logging.getLogger(__name__)


def adopt_policy(conn: Connection, policy: Policy) -> list[NewEntry]:
    digest = policy.digest()
    if conn.execute(select(P.policies.c.digest)
                    .where(P.policies.c.digest == digest)).first() is not None:
        return []
    body: dict[str, Any] = {"policy": policy.name, "digest": digest, **policy.to_body()}
    body.pop("name", None)
    return [NewEntry("policy.adopted", "system", body, idempotency_key=f"policy:{digest}")]


class Campaigns(UseCase):
    """Open and read campaigns."""

    def create_campaign(self, caller: Caller, data: Mapping[str, Any], now: datetime
                        ) -> dict[str, Any]:
        """Open a campaign from ``{"campaign", "title", "timezone"?, "policy"?, "posts"}``.

        Raises:
            BadData: a field is missing or invalid (named).
            Conflict: the campaign exists.
        """
        only(data, {"campaign", "title", "timezone", "policy", "posts"}, "")
        campaign = check_id(req(data, "campaign"), "campaign")
        title = req(data, "title")
        public_text(title, "title")  # here, to name the request's field, not the entry's
        tz_name = data.get("timezone", "Asia/Shanghai")
        try:
            if not isinstance(tz_name, str):
                raise ValueError
            ZoneInfo(tz_name)
        except (ValueError, ZoneInfoNotFoundError):
            raise BadData(f"timezone: {tz_name!r} is not an IANA time zone such as "
                          "Asia/Shanghai", field="timezone") from None
        policy_name = data.get("policy", self.cfg.default_policy)
        policy = self.cfg.policies.get(policy_name) if isinstance(policy_name, str) else None
        if policy is None:
            raise BadData(f"policy: {policy_name!r} is not configured; one of "
                          f"{', '.join(sorted(self.cfg.policies))}", field="policy")
        raw_posts = req(data, "posts")
        if not isinstance(raw_posts, list) or not raw_posts:
            raise BadData("posts: give a non-empty list of {\"post\", \"title\"}", field="posts")
        if len(raw_posts) > MAX_POSTS:
            raise BadData(f"posts: at most {MAX_POSTS}", field="posts")
        post_list: list[tuple[str, Any]] = []
        for i, p in enumerate(raw_posts):
            if not isinstance(p, dict):
                raise BadData(f"posts[{i}]: expected an object", field=f"posts[{i}]")
            only(p, {"post", "title"}, f"posts[{i}].")
            pid = check_id(req(p, "post", f"posts[{i}]."), f"posts[{i}].post")
            if pid in {x for x, _ in post_list}:
                raise BadData(f"posts[{i}].post: {pid!r} is listed twice",
                              field=f"posts[{i}].post")
            ptitle = req(p, "title", f"posts[{i}].")
            public_text(ptitle, f"posts[{i}].title")
            post_list.append((pid, ptitle))

        def plan(conn: Connection) -> list[NewEntry]:
            if conn.execute(select(P.campaigns.c.campaign)
                            .where(P.campaigns.c.campaign == campaign)).first():
                raise Conflict(f"campaign {campaign!r} exists", field="campaign")
            items = adopt_policy(conn, policy)
            items.append(NewEntry("campaign.created", caller.actor, {
                "campaign": campaign, "title": title, "timezone": tz_name,
                "policy": policy.name, "policy_digest": policy.digest()}))
            items += [NewEntry("campaign.post_added", caller.actor,
                               {"campaign": campaign, "post": pid, "title": ptitle})
                      for pid, ptitle in post_list]
            return items

        self._run(now, plan)
        return self.campaign(campaign)

    def campaign(self, campaign: str) -> dict[str, Any]:
        """A campaign with its posts and counts.

        Raises:
            NotFound: no such campaign.
        """
        with self.read() as conn:
            row = row_by_key(conn, P.campaigns.c.campaign, campaign)
            post_rows = conn.execute(select(P.posts.c.post, P.posts.c.title)
                                     .where(P.posts.c.campaign == campaign)
                                     .order_by(P.posts.c.post)).all()
            candidates = conn.execute(select(func.count()).select_from(P.subjects)
                                      .where(P.subjects.c.campaign == campaign)).scalar_one()
        return {"campaign": row.campaign, "title": row.title, "timezone": row.timezone,
                "policy": row.policy, "policy_digest": row.policy_digest,
                "created_at": row.created_at, "ledger_index": row.created_index,
                "posts": [{"post": p.post, "title": p.title} for p in post_rows],
                "candidates": candidates}

    def set_notice_settings(self, caller: Caller, campaign: str, data: Mapping[str, Any],
                            now: datetime) -> dict[str, Any]:
        """Record the campaign's notice settings (``campaign.notice_settings``) from
        ``{"issuing_office"?, "supervision_phone"?, "objection_address"?,
        "objection_email"?, "roster"?, "fields"?}``: the fields given override its
        policy's; this entry replaces any earlier one.  Returns what was set.

        Raises:
            NotFound: no such campaign.
            BadData: an unknown or invalid field, or none (named).
        """
        chosen = NoticeSettings.from_request(data)
        self.campaign(campaign)
        body: dict[str, Any] = {"campaign": campaign, **chosen.to_body()}

        def plan(conn: Connection) -> list[NewEntry]:
            row_by_key(conn, P.campaigns.c.campaign, campaign)
            return [NewEntry("campaign.notice_settings", caller.actor, body)]

        receipts = self._run(now, plan)
        return {"campaign": campaign, "ledger_index": receipts[-1].index,
                **{k.removeprefix("notice_"): v for k, v in chosen.to_body().items()}}

    def notice_settings_set(self, campaign: str) -> NoticeSettings:
        """The notice settings set for ``campaign`` after it opened (the latest
        ``campaign.notice_settings``; none set: every field None).

        Raises:
            NotFound: no such campaign.
        """
        self.campaign(campaign)
        with self.read() as conn:
            found = conn.execute(select(P.campaign_notice_settings.c.settings).where(
                P.campaign_notice_settings.c.campaign == campaign)).scalar()
        return NoticeSettings.from_body(json.loads(found)) if found else NoticeSettings()

    def newest_first(self, table: Table, campaign: str | None, limit: int | None = None
                     ) -> Sequence[Row[Any]]:
        """Rows of ``table`` (a projection with ``campaign`` and ``idx`` columns), the
        newest (highest ledger index) first: those of ``campaign``, or all; at most
        ``limit`` (None: every one).

        Raises:
            NotFound: ``campaign`` is given and no such campaign exists.
        """
        q = select(table)
        if campaign is not None:
            self.campaign(campaign)
            q = q.where(table.c.campaign == campaign)
        with self.read() as conn:
            rows: Sequence[Row[Any]] = conn.execute(q.order_by(table.c.idx.desc())
                                                    .limit(limit)).all()
        return rows

    def campaigns(self) -> list[dict[str, Any]]:
        """Every campaign, newest first."""
        with self.read() as conn:
            names = conn.execute(select(P.campaigns.c.campaign)
                                 .order_by(P.campaigns.c.created_index.desc())).scalars().all()
        return [self.campaign(n) for n in names]


class CampaignUseCase(UseCase):
    """A use case over campaigns: one that checks a campaign exists, or reads a
    projection's rows of one (``self._campaigns``)."""

    def __init__(self, ctx: Context, campaigns: Campaigns) -> None:
        """The use case over ``campaigns``."""
        super().__init__(ctx)
        self._campaigns = campaigns
