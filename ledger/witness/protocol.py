"""The body of a C2SP tlog-witness ``add-checkpoint`` request (pure).

::

    old <size>\\n
    <base64 consistency proof hash>\\n      (zero to 63 lines)
    \\n
    <checkpoint note, with its signatures>
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass

from ledger.errors import BadData
from ledger.merkle import HASH_SIZE

#: tlog-witness: "The client MUST NOT send more than 63 consistency proof lines."
MAX_PROOF_LINES = 63
#: tlog-witness: the media type of a 409 response's body (the witness's size).
SIZE_MEDIA_TYPE = "text/x.tlog.size"
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,18}")


@dataclass(frozen=True)
class AddCheckpoint:
    """An ``add-checkpoint`` request: old size, consistency proof, signed checkpoint."""

    old: int
    proof: tuple[bytes, ...]
    checkpoint: str  # the signed note, verbatim

    def to_bytes(self) -> bytes:
        """The request body."""
        lines = [f"old {self.old}"] + [base64.b64encode(h).decode() for h in self.proof]
        return ("\n".join(lines) + "\n\n" + self.checkpoint).encode("utf-8")

    @classmethod
    def parse(cls, data: bytes) -> AddCheckpoint:
        """Parse a request body.

        Raises:
            BadData: not UTF-8, no ``old`` line, a bad size or hash line, too many
                proof lines, or no checkpoint after the blank line (names the field).
        """
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadData("request body is not UTF-8", field="body") from exc
        head, sep, checkpoint = text.partition("\n\n")
        if not sep or not checkpoint:
            raise BadData("request body needs an old size line, proof lines, a blank line "
                          "and the checkpoint", field="body")
        lines = head.split("\n")
        if not lines[0].startswith("old ") or not _DECIMAL.fullmatch(lines[0][4:]):
            raise BadData(f"first line must be 'old <size>' (a decimal without leading "
                          f"zeroes), got {lines[0][:40]!r}", field="old")
        proof_lines = lines[1:]
        if len(proof_lines) > MAX_PROOF_LINES:
            raise BadData(f"at most {MAX_PROOF_LINES} consistency proof lines",
                          field="proof")
        proof = []
        for line in proof_lines:
            try:
                h = base64.b64decode(line, validate=True)
            except binascii.Error as exc:
                raise BadData(f"proof line {line[:60]!r} is not base64", field="proof") from exc
            if len(h) != HASH_SIZE:
                raise BadData(f"proof line {line[:60]!r} is not a SHA-256 hash", field="proof")
            proof.append(h)
        return cls(int(lines[0][4:]), tuple(proof), checkpoint)


def parse_size_body(data: bytes) -> int:
    """The witness's size from a 409 body (``<decimal>\\n``).

    Raises:
        BadData: not a decimal followed by a newline.
    """
    text = data.decode("ascii", errors="replace")
    if not text.endswith("\n") or not _DECIMAL.fullmatch(text[:-1]):
        raise BadData(f"409 body is not a tree size line: {text[:40]!r}")
    return int(text[:-1])
