"""A reviewer opens an appeal's attachment: the read is recorded first (``pii.viewed``),
then the sealed bytes are sent under headers that let nothing in them run, load, be
framed or be cached (added to ``console_hr.bp`` on import)."""

from __future__ import annotations

from flask import Response

from ledger.absence.attachments import Attachment
from ledger.app.web.console import actor
from ledger.app.web.console_hr import _get, _or_error_page
from ledger.app.web.services import now, service

__all__ = ["ATTACHMENT_CSP", "attachment_response"]


#: An attachment shown in the browser: nothing it holds may run, load or be framed.
ATTACHMENT_CSP = "default-src 'none'; img-src 'self'; sandbox; frame-ancestors 'none'"


@_get("/appeals/<appeal>/attachments/<int:position>", "reviewer",
      endpoint="appeal_attachment")
def _appeal_attachment(appeal: str, position: int) -> Response:
    """One attachment's bytes: the read is recorded (``pii.viewed``) before they are
    sent; images inline, PDFs as a download; never cached, never sniffed."""
    with _or_error_page():
        f = service().appeal_attachment(actor(), appeal, position, now())
    return attachment_response(f, f"appeal-{position}")


def attachment_response(f: Attachment, stem: str) -> Response:
    """An attachment's bytes under headers that let nothing in them run, load, be framed,
    be cached or be sniffed: images inline, PDFs as a download named ``<stem>.<ext>``."""
    resp = Response(f.content, mimetype=f.media_type)
    disposition = "inline" if f.kind in ("jpeg", "png") else "attachment"
    ext = "jpg" if f.kind == "jpeg" else f.kind
    resp.headers["Content-Disposition"] = f'{disposition}; filename="{stem}.{ext}"'
    resp.headers["Content-Security-Policy"] = ATTACHMENT_CSP
    resp.headers["X-Frame-Options"] = "DENY"
    resp.headers["Cache-Control"] = "no-store, private"
    return resp
