"""What the console's notice page says when a campaign cannot publish yet: the first
required notice setting (``ledger.absence.notice_settings.REQUIRED``) its policy lacks,
and where to set it; and the page's form that sets the campaign's notice settings
(``campaign.notice_settings``; its route is ``console_noticeset``)."""

from __future__ import annotations

from typing import Any

from ledger.absence.notice_settings import FIELDS, REQUEST_FIELDS, ROSTERS
from ledger.absence.service import AbsenceService
from ledger.app.web.forms import Lang, words
from ledger.errors import LedgerError
from publicity import notices as N  # noqa: N812 (the notices module, read as N.publish)

#: The notice settings' names, by config key: (Chinese, English).
NOTICE_SETTINGS: dict[str, tuple[str, str]] = words("console_hr.notice_settings")
#: What is wrong with a setting of the form, by its request field: (Chinese, English).
SETTING_PROBLEMS: dict[str, tuple[str, str]] = words("console_hr.noticeset_problems")


def missing_notice_setting(svc: AbsenceService, campaign: str, policy: str, lg: Lang) -> str:
    """In ``lg``'s language, the first required notice setting the campaign's policy
    lacks and where to set it; empty when none is missing.

    Raises:
        NotFound: no such campaign.
    """
    missing = N.recorded_settings(svc, campaign).missing()
    if not missing:
        return ""
    key = missing[0][0]
    what = NOTICE_SETTINGS[key][0 if lg.code == "zh" else 1]
    return lg.t("notice_setting_missing", what=what, setting=key, policy=policy)


def settings_form(svc: AbsenceService, campaign: str, lg: Lang) -> dict[str, Any]:
    """The notice settings form's values: the campaign's effective settings (its
    policy's, overridden by what HR set), the rosters and the columns to choose from.

    Raises:
        NotFound: no such campaign.
    """
    found = N.recorded_settings(svc, campaign)
    return {"values": {k: getattr(found, k) or "" for k in REQUEST_FIELDS[:4]},
            "roster": found.listed, "columns": found.columns,
            "rosters": [(r, lg.t(f"noticeset_roster_{r}")) for r in ROSTERS],
            "fields": [(f, lg.t(f"noticeset_col_{f}")) for f in FIELDS]}


def setting_problem(exc: LedgerError | None, lg: Lang) -> str:
    """``exc`` in ``lg``'s language when it names a notice setting of the form: the
    setting's label, then what is wrong; empty for any other error."""
    if exc is None or exc.field not in SETTING_PROBLEMS:
        return ""
    colon = ": " if lg.code == "en" else "："
    return f"{lg.t('noticeset_' + exc.field)}{colon}{lg.pick(SETTING_PROBLEMS[exc.field])}"
