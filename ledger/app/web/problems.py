"""RFC 9457 problem details: every error the HTTP API returns, in one place."""

from __future__ import annotations

import json
import logging
import sqlite3
from typing import Any

import psycopg
from flask import Flask, Response, render_template, request
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge

from ledger.app.web import public_lang
from ledger.errors import (
    BadData,
    Conflict,
    CouldNotCheck,
    LedgerError,
    NotAllowed,
    NotFound,
    TooLarge,
    Unauthenticated,
    Unprocessable,
)

log = logging.getLogger(__name__)

MEDIA_TYPE = "application/problem+json"

#: slug -> (status, title, what to do); served as documentation at /problems/<slug>.
PROBLEMS: dict[str, tuple[int, str, str]] = {
    "bad-request": (400, "Bad request", "Correct the named parameter and retry."),
    "not-found": (404, "Not found", "Check the log name, index or tile path."),
    "conflict": (409, "Conflict", "The resource exists already or changed; reload it."),
    "forbidden": (403, "Forbidden", "This operation is not allowed by policy or for "
                  "your role."),
    "unauthorized": (401, "Unauthorized",
                     "Send a valid credential: 'Authorization: Bearer <token>' (absentia "
                     "tokens create --role ROLE), or sign the webhook per Standard Webhooks."),
    "unprocessable": (422, "Unprocessable content",
                      "Fix the listed fields or rows and send the whole request again; "
                      "nothing was recorded."),
    "request-timeout": (408, "Request timeout",
                        "Send the whole request body promptly, or through a proxy that "
                        "buffers it."),
    "too-large": (413, "Content too large", "Split the request into smaller batches."),
    "method-not-allowed": (405, "Method not allowed",
                           "Use one of the methods the Allow header lists."),
    "rate-limited": (429, "Too many requests", "Wait and retry later."),
    "unavailable": (503, "Service unavailable",
                    "A dependency could not be read; retry later or tell the operator."),
    "insufficient-storage": (507, "Insufficient storage",
                             "The database's disk is full; nothing was recorded. Retry "
                             "later; the operator has been alerted."),
    "internal": (500, "Internal server error", "Retry later; the operator has been alerted."),
}

#: Seconds a client is asked to wait (Retry-After) when the database is unavailable.
RETRY_AFTER_S = 2

#: What logs name a request whose path matched no route (405s included).
UNMATCHED_ROUTE = "<unmatched>"


def logged_route() -> str:
    """How log lines name the current request: its route (``url_rule.rule``, e.g.
    ``/api/v1/candidates/<subject>/personal-data``), or ``UNMATCHED_ROUTE``.

    Never the path: anyone can type an ID number or a phone into a URL, and logs hold
    no personal data.  (A problem's ``instance`` echoes the path to its own requester.)
    """
    rule = request.url_rule
    return rule.rule if rule is not None else UNMATCHED_ROUTE


#: Pages for people (the console, self-service, notices) answer an error with a page,
#: not problem+json: the paths under these prefixes, and the home page.
HTML_PREFIXES = ("/console", "/status", "/appeal", "/notices")

#: status -> (Chinese, English, what to do in Chinese, in English), for those pages.
_PAGE_TEXT: dict[int, tuple[str, str, str, str]] = {
    400: ("请求有误", "Bad request", "请返回上一页，检查填写的内容后重新提交。",
          "Go back, check what you entered and submit again."),
    403: ("无权进行此操作", "Not allowed", "请确认您已登录并具有相应权限。",
          "Check that you are signed in with the right role."),
    404: ("页面不存在", "Page not found", "请检查网址，或从首页重新进入。",
          "Check the address, or start again from the home page."),
    405: ("不支持此请求方式", "Method not allowed", "请从页面上的链接或按钮进入。",
          "Use the links and buttons on the page."),
    408: ("提交超时", "The request took too long", "网络较慢时请稍后重新提交。",
          "If the connection is slow, submit again later."),
    409: ("内容已变化", "Conflict", "请刷新页面后重试。", "Reload the page and try again."),
    413: ("提交的内容过大", "Too much was sent", "请缩短填写的内容后重新提交。",
          "Shorten what you entered and submit again."),
    422: ("无法处理提交的内容", "Unprocessable", "请返回上一页，检查填写的内容后重新提交。",
          "Go back, check what you entered and submit again."),
    429: ("操作过于频繁", "Too many requests", "请稍候再试。", "Wait a while and try again."),
    503: ("服务暂时不可用", "Service unavailable", "请稍后再试。", "Try again later."),
    507: ("服务暂时无法保存", "Nothing could be saved",
          "未保存任何内容，请稍后再试；管理员已收到通知。",
          "Nothing was recorded; try again later. The operator has been alerted."),
}


def wants_page() -> bool:
    """Whether the request came from a page for people (answered with an HTML page)."""
    path = request.path
    if path.endswith(".json"):  # a page's script polling for data: problem+json
        return False
    return path == "/" or any(path == p or path.startswith(p + "/") for p in HTML_PREFIXES)


def error_page(code: int) -> Response:
    """A plain error page for the pages meant for people: Chinese, or English with
    ``?lang=en``, with the language switch."""
    zh, en, advice_zh, advice_en = _PAGE_TEXT.get(
        code, ("服务器内部错误", "Internal server error", "请稍后再试；管理员已收到通知。",
               "Try again later; the operator has been alerted."))
    back = "/console/" if request.path.startswith("/console") else "/status" \
        if request.path.startswith(("/status", "/appeal")) else "/"
    html = render_template("error.html", zh=zh, en=en, advice_zh=advice_zh,
                           advice_en=advice_en, back=back, lg=public_lang.lang(),
                           switch=public_lang.switch_urls())
    resp = Response(html, status=code, mimetype="text/html")
    resp.headers["Cache-Control"] = "no-store"
    return resp


def problem(slug: str, detail: str, *, status: int | None = None, field: str | None = None,
            **extra: Any) -> Response:
    """A problem+json response (RFC 9457 §3) with a ``type`` that documents itself."""
    default_status, title, _ = PROBLEMS.get(slug, PROBLEMS["internal"])
    code = status or default_status
    body: dict[str, Any] = {
        "type": f"/problems/{slug}",
        "title": title,
        "status": code,
        "detail": detail,
        "instance": request.path,
    }
    if field is not None:
        body["field"] = field
    body.update(extra)
    return Response(json.dumps(body, ensure_ascii=False), status=code, mimetype=MEDIA_TYPE)


_MAP: tuple[tuple[type[LedgerError], str], ...] = (
    (NotFound, "not-found"),
    (Unauthenticated, "unauthorized"),
    (Unprocessable, "unprocessable"),
    (Conflict, "conflict"),
    (TooLarge, "too-large"),
    (NotAllowed, "forbidden"),
    (BadData, "bad-request"),
    (CouldNotCheck, "unavailable"),
)


def database_fault(exc: BaseException) -> str | None:
    """The problem slug for a database failure that is not the request's fault, or None.

    ``exc`` is SQLAlchemy's wrapper or the driver's own error (the hot paths run SQL on
    the driver's cursor).  A full disk (PostgreSQL SQLSTATE 53100, SQLite
    ``SQLITE_FULL``) is ``insufficient-storage`` (507); a lost or refused connection, a
    server shutting down or starting up, or an exhausted pool is ``unavailable`` (503).
    Either way the transaction was rolled back, so a client may retry the same request.
    Anything else (a programming or integrity error) is None: a bug, answered with a 500.
    """
    if isinstance(exc, DisconnectionError | PoolTimeout):
        return "unavailable"
    if isinstance(exc, DBAPIError):
        orig: BaseException = exc.orig if exc.orig is not None else exc
        if exc.connection_invalidated:
            return "unavailable"
    elif isinstance(exc, psycopg.Error | sqlite3.Error):
        orig = exc
    else:
        return None
    if isinstance(orig, sqlite3.Error):
        # The primary result code (the low byte): SQLite reports extended codes, such
        # as SQLITE_BUSY_SNAPSHOT or SQLITE_IOERR_SHORT_READ, each a kind of its primary.
        extended = getattr(orig, "sqlite_errorcode", None)
        code = extended & 0xFF if isinstance(extended, int) else None
        if code == sqlite3.SQLITE_FULL:
            return "insufficient-storage"
        if code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR,
                    sqlite3.SQLITE_CANTOPEN):
            return "unavailable"
        return None
    state = str(getattr(orig, "sqlstate", "") or "")
    if state == "53100":
        return "insufficient-storage"
    # PostgreSQL classes 08 (connection), 53 (resources), 57 (operator intervention:
    # shutdown, crash recovery, starting up) and 58 (system/IO error).
    if state[:2] in ("08", "53", "57", "58"):
        return "unavailable"
    if not state and isinstance(orig, psycopg.OperationalError | psycopg.InterfaceError):
        return "unavailable"  # no answer from the server at all (refused, closed, lost)
    return None


def init_app(app: Flask) -> None:
    """Register the error handlers and the problem documentation pages."""

    @app.errorhandler(LedgerError)
    def _ledger_error(exc: LedgerError) -> Response:
        for cls, slug in _MAP:
            if isinstance(exc, cls):
                extra: dict[str, Any] = {}
                if isinstance(exc, Unprocessable) and exc.errors:
                    extra["errors"] = exc.errors
                resp = (error_page(PROBLEMS[slug][0]) if wants_page() else
                        problem(slug, str(exc), field=exc.field, **extra))
                if isinstance(exc, Unauthenticated):
                    resp.headers["WWW-Authenticate"] = 'Bearer realm="absentia"'
                return resp
        return error_page(500) if wants_page() else problem("internal",
                                                            "unexpected ledger error")

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        code = exc.code or 500
        slug = {400: "bad-request", 401: "unauthorized", 404: "not-found", 409: "conflict",
                403: "forbidden", 405: "method-not-allowed", 408: "request-timeout",
                413: "too-large", 422: "unprocessable", 429: "rate-limited"}.get(
            code, "bad-request" if code < 500 else "internal")
        detail = exc.description or exc.name
        if code == 413 and detail == RequestEntityTooLarge.description:  # werkzeug's own
            detail = (f"body: larger than the {request.max_content_length} bytes this "
                      "endpoint takes")
        # A body too large (413) or too slow (408) is the body's fault: say so.
        field = "body" if code in (408, 413) else None
        resp = error_page(code) if wants_page() else problem(slug, detail, status=code,
                                                             field=field)
        # The exception's own headers are part of the answer: Allow on a 405 (RFC 9110
        # §15.5.6: MUST), Retry-After on a 429 or 503, WWW-Authenticate on a 401,
        # Content-Range on a 416.  Only its HTML Content-Type is not.
        for name, value in exc.get_headers():
            if name.lower() != "content-type":
                resp.headers.add(name, value)
        return resp

    @app.errorhandler(DBAPIError)
    @app.errorhandler(DisconnectionError)
    @app.errorhandler(PoolTimeout)
    @app.errorhandler(psycopg.Error)
    @app.errorhandler(sqlite3.Error)
    def _database_error(exc: Exception) -> Response:
        slug = database_fault(exc)
        if slug is None:
            return _unexpected(exc)
        log.error("database unavailable on %s (%s): %s", logged_route(), slug,
                  type(getattr(exc, "orig", None) or exc).__name__)
        detail = ("the database's disk is full; nothing was recorded"
                  if slug == "insufficient-storage" else
                  "the database is unavailable; retry the request later")
        resp = error_page(PROBLEMS[slug][0]) if wants_page() else problem(slug, detail)
        resp.headers["Retry-After"] = str(RETRY_AFTER_S)
        return resp

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        log.exception("unhandled error on %s", logged_route())
        return error_page(500) if wants_page() else problem("internal",
                                                            "an unexpected error occurred")

    @app.get("/problems/<slug>")
    def _problem_doc(slug: str) -> Response:
        if slug not in PROBLEMS:
            return problem("not-found", f"no problem type {slug!r}")
        status, title, advice = PROBLEMS[slug]
        return Response(f"{status} {title}\n\n{advice}\n", mimetype="text/plain")
