"""The public role (``absentia serve --read-only``, ``[server] role = "public"``): the
public pages and the read API only, from a database opened read-only (or a replica).

Such a process never takes the ledger's write lock and holds no secret of the writer:
its store refuses writes (``LedgerStore(read_only=True)``, and the database refuses them
again: SQLite ``mode=ro``, PostgreSQL ``default_transaction_read_only``); its absence
service has a throwaway vault key (it opens no sealed data) and records no policy.
Every request to a route outside ``PUBLIC_ENDPOINTS`` is answered, before its view
runs: a write method with a 405 problem+json (``Allow: GET, HEAD``), a page only the
writer serves with a 404 (the plain bilingual error page for the pages meant for
people, problem+json for the API).  The candidate's status lookup is not served: each
attempt is counted in the rate-limit table (a write), so it goes to the writer.
"""

from __future__ import annotations

import os

from flask import Flask, Response, request

from ledger.absence.service import AbsenceService
from ledger.absence.settings import load_absence_settings
from ledger.app.web.problems import error_page, problem, wants_page
from ledger.config import Settings
from ledger.storage.store import LedgerStore
from publicity.calendar import WorkingCalendar

#: The views a public process serves (Flask endpoints): pure reads, GET and HEAD only.
PUBLIC_ENDPOINTS = frozenset({
    "home", "healthz", "static", "_problem_doc",
    "ops.readyz", "ops.metrics",
    "logs.list_logs", "logs.log_info", "logs.checkpoint", "logs.tile", "logs.inclusion",
    "logs.consistency", "logs.entry", "logs.entry_proof", "logs.witness_policy",
    "publicity.static", "publicity.verify_words", "publicity.notice_list", "publicity.notice_page",
    "publicity.notice_original", "publicity.notice_record", "publicity.report_page",
    "backfill_notices.backfill_notice",
    "openapi.openapi_json",
})
#: What a public process answers to a write: it serves reads only.
READ_METHODS = ("GET", "HEAD")


def public_absence(settings: Settings, store: LedgerStore) -> AbsenceService:
    """The absence service of a public process: the configured settings, a random
    vault key held only in memory (it never opens sealed data: the public pages hold
    none), no policy recorded (``ensure_schema`` writes).

    Raises:
        BadData: the configuration is invalid.
    """
    calendar = WorkingCalendar.from_config(settings.publicity.calendar)
    return AbsenceService(store, load_absence_settings(settings), os.urandom(32), calendar)


def refuse_writes(app: Flask) -> None:
    """Before each request: anything but a public read gets its problem+json."""

    @app.before_request
    def _public_only() -> Response | None:
        if request.method not in READ_METHODS and request.method != "OPTIONS":
            resp = problem("method-not-allowed",
                           f"{request.method} is not served here: this server is read-only "
                           "(public pages and the read API); send writes to the writer")
            resp.headers["Allow"] = ", ".join(READ_METHODS)
            return resp
        if request.endpoint is not None and request.endpoint not in PUBLIC_ENDPOINTS:
            if wants_page():  # a person's page (the console, the status form): in words
                return error_page(404)
            return problem("not-found", "this read-only server serves the public pages and "
                           "the read API only; this page is served by the writer")
        return None
