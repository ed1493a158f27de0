"""The entries an archive report summarises besides its decisions, with their proofs.

The report's 递补 section lists every answer to a vacancy and its KPIs count the
objections to the campaign's notices and their rulings.  The bundle embeds each entry
those lines and counts rest on, with its C2SP tlog-proof against the report's
checkpoint, as it does for decisions: ``backfill`` records (``vacancy.recorded``,
``backfill.proposed``, ``unfilled``, ``approved``, ``declined``) and ``objection`` records
(every step from ``objection.filed`` to ``objection.ruled``), each ``{"kind", "index",
"entry_b64", "proof"}``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ledger.absence.service import AbsenceService
from ledger.errors import VerificationError
from ledger.note import NoteSigner
from ledger.storage.reads import entries_of_types
from ledger.storage.store import StoredCheckpoint
from publicity.report_sm2 import digests, signature_files

BUNDLE_NAME = "absentia-report-bundle.jsonl"
CHECKPOINT_NAME = "checkpoint.txt"
KEYS_NAME = "verifier-keys.txt"
BUNDLE_FORMAT = "absentia-report-bundle/v2"
BUNDLE_FORMATS = ("absentia-report-bundle/v1", BUNDLE_FORMAT)  # what verify reads

#: The entry types of each kind of summarised record.
KINDS: Mapping[str, tuple[str, ...]] = {
    "backfill": ("vacancy.recorded", "backfill.proposed", "backfill.unfilled",
                 "backfill.approved", "backfill.declined"),
    "objection": ("objection.filed", "objection.acknowledged", "objection.statement_invited",
                  "objection.statement_received", "objection.ruled")}


@dataclass(frozen=True)
class Summarised:
    """One summarised entry: its kind, ledger index, exact bytes and proof text."""

    kind: str
    index: int
    entry: bytes
    proof: str


def _kind_of(body: Mapping[str, Any], campaign: str, proposals: set[str],
             objections: set[str]) -> str | None:
    """Which kind of ``campaign``'s summary an entry body belongs to, if any."""
    if body.get("proposal") in proposals or (
            body.get("campaign") == campaign and "vacancy" in body):
        return "backfill"
    if body.get("objection") in objections:
        return "objection"
    return None


def summarised(service: AbsenceService, campaign: str, size: int,
               prove: Callable[[int], str]) -> list[Summarised]:
    """The 递补 and objection entries of ``campaign`` below ``size``, in ledger order,
    each with ``prove(index)`` (its tlog-proof text against the report's checkpoint).

    Raises:
        NotFound: no such campaign or log.
    """
    proposals = {a["proposal"] for a in service.backfills(campaign) if a["proposal"]}
    objections = {o["objection"] for o in service.objections.objections(campaign)}
    raw = entries_of_types(service.store, service.log,
                           [t for types in KINDS.values() for t in types], size)
    out = []
    for idx, data in raw.items():
        kind = _kind_of(json.loads(data)["body"], campaign, proposals, objections)
        if kind is not None:
            out.append(Summarised(kind, idx, data, prove(idx)))
    return out


def check_kind(kind: str, entry: Mapping[str, Any]) -> None:
    """Check that a summarised record's entry (parsed) is of a type its ``kind`` has.

    Raises:
        VerificationError: an unknown kind, or an entry of another type.
    """
    if kind not in KINDS:
        raise VerificationError(f"unknown kind of record {kind!r}")
    if entry.get("type") not in KINDS[kind]:
        raise VerificationError(f"a {kind} record holds a {entry.get('type')!r} entry")


# -- the files embedded in the PDF -------------------------------------------------------

class _Row(Protocol):
    @property
    def index(self) -> int: ...


class BundleData(Protocol):
    """What the bundle is made of (``publicity.report.ReportData`` has it)."""

    report_id: str
    log: str
    origin: str
    campaign: dict[str, Any]
    entries: dict[int, bytes]
    proofs: dict[int, str]
    checkpoint: StoredCheckpoint
    verifier_keys: tuple[str, ...]
    summarised: list[Summarised]

    @property
    def rows(self) -> Sequence[_Row]: ...


def bundle_files(data: BundleData, sm2: NoteSigner | None = None
                 ) -> dict[str, tuple[bytes, str, str]]:
    """name -> (bytes, AFRelationship, description) of the embedded files; with ``sm2``
    (the log's SM2 signer, the 国密 option) the bundle's SM2 signature files too."""
    head = {"format": BUNDLE_FORMAT, "report": data.report_id, "digests": ["sha256", "sm3"],
            "campaign": data.campaign["campaign"], "log": data.log, "origin": data.origin,
            "checkpoint_size": data.checkpoint.size, "decisions": len(data.rows),
            **{k: sum(e.kind == k[:-1] for e in data.summarised)
               for k in ("backfills", "objections")}}
    lines = [json.dumps(head, ensure_ascii=False, sort_keys=True)]
    for r in data.rows:
        lines.append(json.dumps({"index": r.index,
                                 "entry_b64": base64.b64encode(data.entries[r.index]).decode(),
                                 "proof": data.proofs[r.index],
                                 **digests(data.entries[r.index])}, sort_keys=True))
    lines += [json.dumps({"kind": e.kind, "index": e.index, "proof": e.proof,
                          "entry_b64": base64.b64encode(e.entry).decode(), **digests(e.entry)},
                         sort_keys=True)
              for e in data.summarised]
    bundle = ("\n".join(lines) + "\n").encode()
    return {
        BUNDLE_NAME: (bundle, "Source",
                      "Entries and C2SP tlog-proofs of every decision, 递补 answer and "
                      "objection (JSON Lines)"),
        CHECKPOINT_NAME: (data.checkpoint.note.encode(), "Data",
                          "Signed checkpoint (C2SP tlog-checkpoint)"),
        KEYS_NAME: (("\n".join(data.verifier_keys) + "\n").encode(), "Data",
                    "Verifier keys of the log (C2SP signed-note)"),
        **signature_files(bundle, sm2),
    }


BUNDLE_DOC = f"""{BUNDLE_NAME} (AFRelationship /Source), JSON Lines:
  line 1: {{"format": "{BUNDLE_FORMAT}", "report", "campaign", "log",
           "origin", "checkpoint_size", "decisions", "backfills", "objections",
           "digests": ["sha256", "sm3"]}}
  then per decision: {{"index", "entry_b64" (exact entry bytes),
           "proof" (C2SP tlog-proof text against the checkpoint),
           "leaf_sha256" (RFC 9162 leaf hash), "sm3" (SM3 of the entry bytes)}}
  then per 递补 answer or objection entry: the same with "kind"
{CHECKPOINT_NAME} (/Data): the signed checkpoint note.
{KEYS_NAME} (/Data): the log's verifier keys, one a line.
With the 国密 option: absentia-report-bundle.jsonl.sm2.sig (/Data), the bundle's
SM2-with-SM3 signature (DER), and sm2-verifier-key.txt (/Data), its key."""
