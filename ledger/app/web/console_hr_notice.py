"""What the console's notice page says when a campaign cannot publish yet: the first
required notice setting (``ledger.absence.notice_settings.REQUIRED``) its policy lacks,
and where to set it."""

from __future__ import annotations

from ledger.absence.service import AbsenceService
from ledger.app.web.forms import Lang, words
from publicity import notices as N  # noqa: N812 (the notices module, read as N.publish)

#: The notice settings' names, by config key: (Chinese, English).
NOTICE_SETTINGS: dict[str, tuple[str, str]] = words("console_hr.notice_settings")


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
