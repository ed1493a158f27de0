"""A candidate understands their page (issue 13 items 10, 11): registration numbers as
typed, a rate-limit message that says when to try again and keeps the form filled."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

from ledger.app.web.ratelimit import InProcessHits, RateLimiter
from publicity.calendar import WorkingCalendar
from tests.functional.test_selfservice import (
    CAMPAIGN,
    Campaign,
    lookup,
    site,
    text_of,
    token,
)

__all__ = ["site"]  # the fixture, used by name


def test_registration_is_found_whatever_its_case_and_spaces(site: Campaign) -> None:
    client = site.env.app.test_client()
    reg = site.reg(4)
    typed = "\u3000 " + reg.lower()[:3] + "\u3000" + reg.lower()[3:] + " \u3000"
    resp = lookup(site, client, typed, site.factor(4))
    assert resp.status_code == 200, text_of(resp)
    assert "视为自动放弃" in text_of(resp)
    assert reg in text_of(resp)  # the number as registered, not as typed


def test_rate_limit_says_when_to_try_again_and_keeps_the_registration(site: Campaign
                                                                      ) -> None:
    # A still clock: the window ends exactly 60 s after the first attempt.
    site.env.app.extensions["absentia.rate_limiter"] = RateLimiter(
        2, 60, InProcessHits(clock=lambda: 1000.0))
    client = site.env.app.test_client()
    for _ in range(2):
        assert lookup(site, client, site.reg(4), "0000").status_code == 403
    limited = lookup(site, client, site.reg(4), site.factor(4))
    assert limited.status_code == 429
    assert limited.headers["Retry-After"] == "60"
    now = site.env.now[0]
    after = now + timedelta(seconds=60)
    if after.second or after.microsecond:
        after = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
    clock = after.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%H:%M")
    page = text_of(limited)
    assert f"请于 {clock}（北京时间）后再试（约 1 分钟后）" in page
    reg_input = re.search(r'<input id="registration"[^>]*>', page)
    assert reg_input is not None
    assert f'value="{site.reg(4)}"' in reg_input.group(0)
    factor_input = re.search(r'<input id="factor"[^>]*>', page)
    assert factor_input is not None
    assert "value=" not in factor_input.group(0)
    # English, and the appeal form is limited the same way.
    form = {"form_token": token(client), "campaign": CAMPAIGN, "registration": site.reg(4),
            "factor": "0000", "ground": "other", "statement": "x"}
    en = client.post("/appeal?lang=en", data=form)
    assert en.status_code == 429
    assert f"try again after {clock} (Beijing time), in about 1 min" in text_of(en)


def test_appeal_confirmation_then_overturn_reads_as_current_and_history(site: Campaign
                                                                       ) -> None:
    client = site.env.app.test_client()
    form = {"form_token": token(client), "campaign": CAMPAIGN, "registration": site.reg(5),
            "factor": site.factor(5), "ground": "notification", "statement": "没有收到通知。"}
    filed = client.post("/appeal", data=form)
    assert filed.status_code == 200, text_of(filed)
    # Ten working days of the official calendar after the day of filing, a date alone.
    filed_on = site.env.now[0].astimezone(ZoneInfo("Asia/Shanghai")).date()
    by = WorkingCalendar().add_working_days(filed_on, 10)
    assert (f"一般在 10 个工作日内（约{by.year}年{by.month}月{by.day}日前）作出答复"
            in text_of(filed))
    appeal = next(e["body"]["appeal"] for e in site.env.ledger_entries()
                  if e["type"] == "appeal.filed")
    ruled = site.env.post(f"/api/v1/appeals/{appeal}/ruling", "reviewer",
                          {"ruling": "overturned"})
    assert ruled.status_code == 200, ruled.get_data(as_text=True)
    page = text_of(lookup(site, client, site.reg(5), site.factor(5)))
    current, _, history = page.partition("此前的认定")
    assert "当前认定" in current
    assert "<strong>经申诉安排补考</strong>" in current
    assert "本决定由申诉复核于" in current
    assert "结果：补考待人工复核" not in page
    assert "视为自动放弃（已被后续决定取代）" in history
    assert "此认定已被后续决定取代，以当前认定为准。" in history
    for code in ("appeal_overturned", "makeup_granted", "no_attempt", "Asia/Shanghai"):
        assert code not in page
    en = client.post("/status?lang=en", data={
        "form_token": token(client), "campaign": CAMPAIGN, "registration": site.reg(5),
        "factor": site.factor(5), "lang": "en"})
    assert "made on appeal" in text_of(en)
