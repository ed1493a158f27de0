"""ledger.absence.appeals: a candidate appeals a forfeiture once; a reviewer rules once."""

from __future__ import annotations

from datetime import timedelta

import pytest

from ledger.errors import Conflict, NotAllowed
from tests.unit.ledger.absence._domain import CAMPAIGN, CLOSES, GRACE, REVIEWER, Domain

DECIDED = CLOSES + GRACE + timedelta(seconds=1)


def appeal_of(domain: Domain, i: int, factor: str | None = None) -> dict[str, str]:
    row = domain.rows[i]
    return {"registration": row["registration"],
            "factor": factor if factor is not None else row["id_number"][-4:],
            "ground": "technical", "statement": "网络中断，无法进入面试。"}


def test_a_no_show_appeals_and_an_upheld_ruling_stands(domain: Domain) -> None:
    assert domain.service.sweep(DECIDED) == 4  # nobody came: all forfeited
    filed = domain.service.file_appeal(CAMPAIGN, appeal_of(domain, 0),
                                       DECIDED + timedelta(hours=1))
    (entry,) = domain.entries("appeal.filed")
    assert entry["body"]["appeal"] == filed["appeal"]
    assert "网络" not in str(entry["body"])  # the statement stays off the ledger
    with pytest.raises(Conflict):  # one open appeal a decision
        domain.service.file_appeal(CAMPAIGN, appeal_of(domain, 0),
                                   DECIDED + timedelta(hours=2))
    ruled = domain.service.rule_appeal(REVIEWER, filed["appeal"], {"ruling": "upheld"},
                                       DECIDED + timedelta(days=1))
    assert ruled["ruling"] == "upheld"
    assert domain.service.appeals(CAMPAIGN, open_only=True) == []
    with pytest.raises(Conflict):
        domain.service.rule_appeal(REVIEWER, filed["appeal"], {"ruling": "upheld"},
                                   DECIDED + timedelta(days=2))


def test_a_wrong_factor_files_nothing(domain: Domain) -> None:
    domain.service.sweep(DECIDED)
    size = domain.size()
    wrong = "0000" if domain.rows[1]["id_number"][-4:] != "0000" else "1111"
    with pytest.raises(NotAllowed):
        domain.service.file_appeal(CAMPAIGN, appeal_of(domain, 1, wrong),
                                   DECIDED + timedelta(hours=1))
    assert domain.size() == size
