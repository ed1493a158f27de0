"""C2SP tlog-checkpoint: the signed tree head as a parsed value object."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass

from ledger.errors import BadData, VerificationError
from ledger.merkle import HASH_SIZE
from ledger.note import NoteSigner, NoteVerifier, SignedNote, sign_note


@dataclass(frozen=True)
class Checkpoint:
    """origin, tree size and root hash (tlog-checkpoint §Note text); no extension lines."""

    origin: str
    size: int
    root: bytes

    def body(self) -> str:
        """The note text: three lines, each ending in a newline."""
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"

    def sign(self, signers: list[NoteSigner]) -> str:
        """The signed checkpoint note."""
        return sign_note(self.body(), signers)

    @classmethod
    def from_body(cls, text: str) -> Checkpoint:
        """Parse checkpoint note text.

        Raises:
            BadData: fewer than three lines, a bad size, a bad root, or empty extension lines.
        """
        if not text.endswith("\n"):
            raise BadData("checkpoint text must end with a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise BadData("checkpoint needs origin, size and root lines")
        origin, size_text, root_text = lines[:3]
        if not origin:
            raise BadData("checkpoint origin is empty")
        if any(not line for line in lines[3:]):
            raise BadData("checkpoint extension lines must be non-empty")
        if not size_text.isascii() or not size_text.isdigit() or (
            size_text != "0" and size_text.startswith("0")
        ):
            raise BadData(f"checkpoint size {size_text!r} is not a decimal without leading zeroes")
        try:
            root = base64.b64decode(root_text, validate=True)
        except binascii.Error as exc:
            raise BadData("checkpoint root is not base64") from exc
        if len(root) != HASH_SIZE:
            raise BadData("checkpoint root is not a SHA-256 hash")
        return cls(origin, int(size_text), root)

    @classmethod
    def open(
        cls, note: bytes | str, verifiers: Sequence[NoteVerifier], origin: str | None = None
    ) -> Checkpoint:
        """Parse a signed checkpoint and verify it with trusted keys (Ed25519 or SM2; lines
        by other keys are ignored).

        Raises:
            BadData: the note or its body is malformed.
            VerificationError: no trusted signature, a bad one, or an unexpected origin.
        """
        parsed = SignedNote.parse(note)
        parsed.verify(verifiers)
        cp = cls.from_body(parsed.text)
        if origin is not None and cp.origin != origin:
            raise VerificationError(f"checkpoint origin {cp.origin!r}, expected {origin!r}")
        return cp
