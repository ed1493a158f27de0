"""One error root for the ledger, split by fault.

``BadData``: the input (an entry, a proof, a checkpoint, a parameter) is malformed or
fails a check.  ``CouldNotCheck``: something needed for a check was unavailable.
``NotAllowed``: the operation is refused by policy (append-only, unknown key).
``TooLarge``: bad data beyond a size limit.  ``NotFound`` and ``Conflict`` complete the
set the HTTP layer maps to status codes.
"""

from __future__ import annotations


class LedgerError(Exception):
    """Root of every error the ledger raises; ``str()`` is a user-facing message."""

    #: The field or parameter at fault, when there is one (used by problem+json).
    field: str | None = None

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class BadData(LedgerError):
    """Input is malformed or fails verification."""


class TooLarge(BadData):
    """Input is longer than the limit for it (HTTP 413)."""


class VerificationError(BadData):
    """A cryptographic or structural check failed (signature, proof, chain)."""

    def __init__(self, message: str, *, index: int | None = None) -> None:
        super().__init__(message)
        #: The first log index found bad, when the failure can be pinned to one.
        self.index = index


class CouldNotCheck(LedgerError):
    """A resource needed for a check could not be obtained."""


class NotAllowed(LedgerError):
    """The operation is refused by policy."""


class Unauthenticated(NotAllowed):
    """The caller did not prove who it is (no or bad credentials, bad signature)."""


class Unprocessable(BadData):
    """Well-formed input that cannot be applied (HTTP 422), e.g. a per-row import error.

    ``errors`` lists each problem as ``{"row"?, "field", "message"}``.
    """

    def __init__(self, message: str, *, field: str | None = None,
                 errors: list[dict[str, object]] | None = None) -> None:
        super().__init__(message, field=field)
        self.errors = errors or []


class NotFound(LedgerError):
    """The named log, entry, tile or checkpoint does not exist."""


class Conflict(LedgerError):
    """The request conflicts with the current state (for example a duplicate name)."""
