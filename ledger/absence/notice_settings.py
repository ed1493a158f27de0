"""What a campaign's public notice (公示) must say besides its lines, and whom it lists.

The settings are part of the campaign's policy: ``notice_...`` keys of its
``[policies.<name>]`` config table, recorded with the policy in ``policy.adopted`` (so
they are per campaign, in the ledger, and fixed when the campaign opens, like its
decision rules).  A policy that sets none of them keeps the body and digest it had
before these settings existed: unset fields are left out of the body.

Why the policy and not an entry of its own: a notice's issuing office, supervision
telephone and objection channel are the office's standing rules for a kind of campaign,
set once by whoever configures the policies, and the ledger then proves which rules each
campaign was published under; a campaign created before a setting was configured keeps
its policy.  HR may set them for one campaign after it opened: a
``campaign.notice_settings`` entry (``from_request``) whose fields override the policy's
field by field (``overridden_by``); the latest such entry replaces the earlier ones.

Pure: no I/O.  Everything here raises ``BadData`` naming the config key (or, for a
request, the request's field).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from dataclasses import fields as dataclass_fields
from typing import Any

from ledger.errors import BadData
from ledger.events import PII_PATTERNS, SelfScanned, pattern

#: Who a notice lists.  ``roster``: every candidate with a final decision;
#: ``withdrawn``: only those deemed withdrawn (forfeited, confirmed, locked).
#: A future ``backfill`` list (递补) adds its name here and its filter in
#: ``publicity.notices.ROSTER_FILTERS``.
ROSTERS = ("roster", "withdrawn")
#: The columns a notice may show (PIPL minimum necessity), in page order.
FIELDS = ("registration", "name", "gender", "post", "result", "cause")
DEFAULT_FIELDS = ("registration", "name", "post", "result", "cause")
#: Never on a public page, whatever the configuration says.
FORBIDDEN_FIELDS = ("id_number", "id", "phone", "mobile", "email", "birth_date",
                    "birthdate", "address")
#: What publishing requires, with its Chinese name (for the refusal).
REQUIRED = (("issuing_office", "发布单位"), ("supervision_phone", "监督电话"),
            ("objection_address", "异议受理地址"), ("objection_email", "异议受理邮箱"))
KEYS = tuple(f"notice_{k}" for k in (
    "issuing_office", "supervision_phone", "objection_address", "objection_email",
    "roster", "fields"))
#: A request's names of the settings (``from_request``).
REQUEST_FIELDS = tuple(k.removeprefix("notice_") for k in KEYS)

_PHONE = re.compile(r"[0-9+(][0-9 ()+-]{2,31}")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]{1,63}(\.[A-Za-z0-9-]{1,63})*"
                    r"\.[A-Za-z]{2,24}")
_NO_CONTACT = tuple((w, p) for w, p in PII_PATTERNS if not w.startswith("Han"))


def _text(value: Any, path: str) -> None:
    """A public office text: 1..200 printable characters, no ID, mobile or e-mail."""
    if not isinstance(value, str) or not 0 < len(value) <= 200 or not value.isprintable():
        raise BadData(f"{path}: must be 1..200 printable characters", field=path)
    for what, regex in _NO_CONTACT:
        if regex.search(value):
            raise BadData(f"{path}: looks like {what}; put telephones and e-mail in "
                          "their own settings", field=path)


def _phone(value: Any, path: str) -> None:
    # An office's line or hotline (010-12345678, 12333); a mobile number could be a
    # person's, which the ledger never takes, so it is refused.
    if not isinstance(value, str) or not _PHONE.fullmatch(value) or \
            sum(c.isdigit() for c in value) < 3:
        raise BadData(f"{path}: a telephone number (digits, spaces, + ( ) -)", field=path)
    for what, regex in _NO_CONTACT:
        if regex.search(value):
            raise BadData(f"{path}: looks like {what}; give the office's landline or "
                          "hotline", field=path)


def _email(value: Any, path: str) -> None:
    # The office's public mailbox for objections, published on purpose: the one field
    # of the ledger that holds an e-mail address (an office's, never a candidate's).
    if not isinstance(value, str) or not _EMAIL.fullmatch(value):
        raise BadData(f"{path}: an e-mail address (name@example.gov.cn)", field=path)


#: Ledger validators of the ``policy.adopted`` fields (``ledger.absence.entries``).
office_text = SelfScanned(_text)
office_phone = SelfScanned(_phone)
office_email = SelfScanned(_email)
field_list = pattern("(" + "|".join(FIELDS) + ")(,(" + "|".join(FIELDS) + "))*",
                     "comma-separated notice fields (" + ", ".join(FIELDS) + ")")


@dataclass(frozen=True)
class NoticeSettings:
    """A policy's notice settings; None: not set (then left out of the policy's body).

    ``roster`` None means ``roster``; ``fields`` None means ``DEFAULT_FIELDS``.
    """

    issuing_office: str | None = None  # 发布单位 and 落款
    supervision_phone: str | None = None  # 监督电话
    objection_address: str | None = None  # 异议受理: postal address
    objection_email: str | None = None  # 异议受理: e-mail
    roster: str | None = None
    fields: tuple[str, ...] | None = None

    @property
    def listed(self) -> str:
        """Who the notice lists (``ROSTERS``)."""
        return self.roster or "roster"

    @property
    def columns(self) -> tuple[str, ...]:
        """The columns the notice shows, in page order."""
        return self.fields or DEFAULT_FIELDS

    def missing(self) -> list[tuple[str, str]]:
        """The required settings not set: (config key, Chinese name), in order."""
        return [(f"notice_{k}", zh) for k, zh in REQUIRED if getattr(self, k) is None]

    def to_body(self) -> dict[str, str]:
        """The set fields as ``policy.adopted`` body fields (``notice_`` prefixed)."""
        body: dict[str, str] = {}
        for key in KEYS:
            value = getattr(self, key.removeprefix("notice_"))
            if value is not None:
                body[key] = ",".join(value) if isinstance(value, tuple) else value
        return body

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> NoticeSettings:
        """The settings of a recorded policy body (fields absent: not set).

        Raises:
            BadData: a field that is not valid (a body the ledger accepted always is).
        """
        return cls.from_config("policy", {k: v for k, v in body.items() if k in KEYS})

    def overridden_by(self, other: NoticeSettings) -> NoticeSettings:
        """These settings with every field ``other`` sets replaced by ``other``'s."""
        return replace(self, **{f.name: getattr(other, f.name) for f in dataclass_fields(other)
                                if getattr(other, f.name) is not None})

    @classmethod
    def from_request(cls, data: Mapping[str, Any]) -> NoticeSettings:
        """A request's settings: ``REQUEST_FIELDS`` (``KEYS`` without ``notice_``), each
        optional, at least one; ``fields`` a list of ``FIELDS``.

        Raises:
            BadData: an unknown or invalid field, or none given; ``field`` is the
                request's field name.
        """
        if not isinstance(data, Mapping):
            raise BadData("body: must be a JSON object", field="body")
        for key in data:
            if key not in REQUEST_FIELDS:
                raise BadData(f"{key}: unknown field (known: {', '.join(REQUEST_FIELDS)})",
                              field=str(key)[:64])
        if not data:
            raise BadData(f"{REQUEST_FIELDS[0]}: give at least one of "
                          f"{', '.join(REQUEST_FIELDS)}", field=REQUEST_FIELDS[0])
        if "fields" in data and not isinstance(data["fields"], list | tuple):
            raise BadData(f"fields: a list of fields ({', '.join(FIELDS)})", field="fields")
        return cls._parse({f"notice_{k}": v for k, v in data.items()},
                          lambda key: key.removeprefix("notice_"))

    @classmethod
    def from_config(cls, prefix: str, table: Mapping[str, Any]) -> NoticeSettings:
        """The ``notice_...`` keys of config table ``prefix`` (other keys are ignored).

        ``notice_fields`` is a list (or comma-separated string) of ``FIELDS``.

        Raises:
            BadData: a value that is not valid, an unknown roster, a field outside the
                whitelist (ID number, phone, e-mail, birth date are refused by name),
                a field listed twice; ``field`` is ``<prefix>.<key>``.
        """
        return cls._parse(table, lambda key: f"{prefix}.{key}")

    @classmethod
    def _parse(cls, table: Mapping[str, Any], name: Callable[[str], str]
               ) -> NoticeSettings:
        values: dict[str, Any] = {}
        for key, check in (("notice_issuing_office", _text),
                           ("notice_supervision_phone", _phone),
                           ("notice_objection_address", _text),
                           ("notice_objection_email", _email)):
            if key in table:
                check(table[key], name(key))
                values[key.removeprefix("notice_")] = table[key]
        if "notice_roster" in table:
            roster = table["notice_roster"]
            if roster not in ROSTERS:
                where = name("notice_roster")
                raise BadData(f"{where}: one of {', '.join(ROSTERS)}, not {roster!r}",
                              field=where)
            values["roster"] = roster
        if "notice_fields" in table:
            values["fields"] = _fields(table["notice_fields"], name("notice_fields"))
        return cls(**values)


#: A policy that sets no notice setting.
NO_NOTICE_SETTINGS = NoticeSettings()


def _fields(raw: object, path: str) -> tuple[str, ...]:
    if isinstance(raw, str):
        items: list[object] = [p.strip() for p in raw.split(",")]
    elif isinstance(raw, list | tuple):
        items = list(raw)
    else:
        raise BadData(f"{path}: a list of fields ({', '.join(FIELDS)})", field=path)
    out: list[str] = []
    for item in items:
        if item in FORBIDDEN_FIELDS:
            raise BadData(f"{path}: {item!r} is personal data that a public notice never "
                          f"shows; choose from {', '.join(FIELDS)}", field=path)
        if not isinstance(item, str) or item not in FIELDS:
            raise BadData(f"{path}: unknown field {item!r} (known: {', '.join(FIELDS)})",
                          field=path)
        if item in out:
            raise BadData(f"{path}: {item!r} listed twice", field=path)
        out.append(item)
    if not out:
        raise BadData(f"{path}: at least one field", field=path)
    return tuple(sorted(out, key=FIELDS.index))
