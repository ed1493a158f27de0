"""The public page of a 递补名单 (``publicity.backfill_notice`` publishes it): its bytes,
checked against the SHA-256 the ledger recorded, served as they were published.

Raises (to the error handler): NotFound for an unknown notice (404)."""

from __future__ import annotations

from flask import Blueprint, Response

from ledger.app.web.notices import _serve
from ledger.app.web.services import service
from ledger.ids import sha256_hex

bp = Blueprint("backfill_notices", __name__)

#: Published bytes never change.
IMMUTABLE = "public, max-age=31536000, immutable"


@bp.get("/notices/backfill/<notice>")
def backfill_notice(notice: str) -> Response:
    data = service().backfill_list_document(notice)
    return _serve(data, sha256_hex(data), IMMUTABLE)
