"""The HR console's notice settings form: on a campaign's notice page, set its notice
settings after it opened (``campaign.notice_settings``: issuing office, supervision
telephone, objection address and e-mail, roster, columns).  A refusal shows the notice
page again with the error in the page's language, naming the setting
(``console_hr_notice.setting_problem``).

The route is added to ``console_hr.bp`` (importing this module registers it;
``ledger.app.web`` does).
"""

from __future__ import annotations

from typing import Any

from flask import Response, request

from ledger.absence.notice_settings import REQUEST_FIELDS
from ledger.app.web.console import actor
from ledger.app.web.console_hr import _campaign, _f, _form_post, _notice_page, _redirect
from ledger.app.web.services import now, service

#: The form's text fields (``ns_``: notice setting), by request field.
TEXT_FIELDS = REQUEST_FIELDS[:4]


@_form_post("/campaigns/<campaign>/notice/settings", _notice_page, "hr")
def notice_settings_save(campaign: str) -> Response:
    """Record the campaign's notice settings from the notice page's form: the texts
    filled in, the roster chosen and the columns ticked (none ticked: refused)."""
    _campaign(campaign)
    data: dict[str, Any] = {k: _f(f"ns_{k}", 400) for k in TEXT_FIELDS if _f(f"ns_{k}")}
    roster = _f("ns_roster", 40)
    if roster:
        data["roster"] = roster
    data["fields"] = [f[:40] for f in request.form.getlist("ns_fields")[:20]]
    service().set_notice_settings(actor(), campaign, data, now())
    return _redirect(f"/console/campaigns/{campaign}/notice", done="notice_settings")


__all__ = ["TEXT_FIELDS", "notice_settings_save"]
