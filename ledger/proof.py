"""C2SP tlog-proof: an offline-verifiable inclusion proof with its checkpoint."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Sequence
from dataclasses import dataclass

from ledger.checkpoint import Checkpoint
from ledger.errors import BadData
from ledger.merkle import HASH_SIZE, verify_inclusion
from ledger.note import NoteVerifier

# tlog-proof §Format: the first line.
HEADER = "c2sp.org/tlog-proof@v1"


@dataclass(frozen=True)
class TlogProof:
    """index, inclusion path, the signed checkpoint text and optional extra data."""

    index: int
    path: tuple[bytes, ...]
    checkpoint: str  # the signed note, verbatim
    extra: bytes | None = None

    def to_text(self) -> str:
        """Serialise per tlog-proof §Format."""
        lines = [HEADER]
        if self.extra is not None:
            lines.append("extra " + base64.b64encode(self.extra).decode())
        lines.append(f"index {self.index}")
        lines += [base64.b64encode(h).decode() for h in self.path]
        return "\n".join(lines) + "\n\n" + self.checkpoint

    @classmethod
    def from_text(cls, text: str) -> TlogProof:
        """Parse a tlog-proof.

        Raises:
            BadData: wrong header, bad index line, bad hashes, or no checkpoint.
        """
        head, sep, checkpoint = text.partition("\n\n")
        if not sep or not checkpoint:
            raise BadData("tlog-proof has no checkpoint after a blank line")
        lines = head.split("\n")
        if lines[0] != HEADER:
            raise BadData(f"tlog-proof must start with {HEADER!r}")
        pos = 1
        extra = None
        if pos < len(lines) and lines[pos].startswith("extra "):
            try:
                extra = base64.b64decode(lines[pos][6:], validate=True)
            except binascii.Error as exc:
                raise BadData("tlog-proof extra is not base64") from exc
            pos += 1
        if pos >= len(lines) or not lines[pos].startswith("index "):
            raise BadData("tlog-proof has no index line")
        idx_text = lines[pos][6:]
        if not re.fullmatch(r"0|[1-9][0-9]*", idx_text):
            raise BadData(f"tlog-proof index {idx_text!r} is not a decimal")
        path = []
        for line in lines[pos + 1 :]:
            try:
                h = base64.b64decode(line, validate=True)
            except binascii.Error as exc:
                raise BadData(f"tlog-proof hash {line!r} is not base64") from exc
            if len(h) != HASH_SIZE:
                raise BadData(f"tlog-proof hash {line!r} is not 32 bytes")
            path.append(h)
        return cls(int(idx_text), tuple(path), checkpoint, extra)

    def verify(
        self, leaf: bytes, verifiers: Sequence[NoteVerifier], origin: str | None = None
    ) -> Checkpoint:
        """Check the checkpoint signature and the inclusion of ``leaf`` (a leaf hash).

        Raises:
            BadData: malformed checkpoint.
            VerificationError: bad signature or the leaf is not included.
        """
        cp = Checkpoint.open(self.checkpoint, verifiers, origin)
        verify_inclusion(leaf, self.index, cp.size, self.path, cp.root)
        return cp
