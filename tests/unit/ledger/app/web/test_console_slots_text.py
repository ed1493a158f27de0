"""ledger.app.web.console_slots_text: each refusal of the backup-slot commands has its
words in both languages (never the domain's English on a Chinese page), with the field's
label; other errors are left to the page."""

from __future__ import annotations

import pytest

from ledger.app.web.console_hr_text import ALL_TEXT
from ledger.app.web.console_slots_text import slot_problem
from ledger.app.web.forms import Lang
from ledger.errors import BadData, Conflict, LedgerError, NotFound

ZH, EN = Lang("zh", ALL_TEXT), Lang("en", ALL_TEXT)


@pytest.mark.parametrize(("exc", "zh", "en"), [
    (Conflict("backup_slot: b1 is full (1 of 1 seats used, 1 asked)", field="backup_slot"),
     "使用备用时间段：该备用时间段已满", "Use a backup slot: this backup slot is full"),
    (Conflict("backup_slot: b1 ended at 2026-11-27T01:00:00.000Z", field="backup_slot"),
     "使用备用时间段：该备用时间段已结束", "Use a backup slot: this backup slot has ended"),
    (NotFound("backup_slot: no backup slot 'x' in campaign c1", field="backup_slot"),
     "使用备用时间段：没有这个备用时间段", "Use a backup slot: there is no such backup slot"),
    (BadData("backup_slot: give a backup slot or opens_at/closes_at, not both",
             field="backup_slot"),
     "使用备用时间段：请在备用时间段和填写时间中二选一",
     "Use a backup slot: choose a backup slot or type times, not both"),
    (Conflict("slot: b1 is a backup slot of c1; its seats are given by make-ups",
              field="slot"),
     "备用时间段编号：该编号属于备用时间段，常规时段请用其他编号",
     "Backup slot ID: this ID belongs to a backup slot; give the regular slot another one"),
    (Conflict("use_backup_slots: the backup slots have 2 free seats, 5 are needed",
              field="use_backup_slots"),
     "使用备用时间段：备用时间段的剩余名额不够",
     "Use a backup slot: the backup slots have too few free seats"),
    (BadData("opens_at: a backup slot opens in the future", field="opens_at"),
     "开始时间：开始时间必须在将来", "Opens: must be in the future"),
])
def test_backup_slot_refusals_in_both_languages(exc: LedgerError, zh: str, en: str) -> None:
    assert slot_problem(exc, ZH) == zh
    assert slot_problem(exc, EN) == en


def test_other_errors_are_left_to_the_page() -> None:
    assert slot_problem(BadData("reason: required", field="reason"), ZH) == ""
    assert slot_problem(None, ZH) == ""
