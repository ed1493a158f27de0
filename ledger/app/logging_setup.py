"""Log output for every process: plain text, or one JSON object a line.

``[logging] format = "json"`` (or ``absentia --log-format json``, or the environment
variable ``ABSENTIA_LOG_FORMAT``) makes every line on stderr a JSON object::

    {"ts": "2026-11-25T20:31:02.114Z", "level": "WARNING", "logger": "ledger.app.scheduler",
     "message": "...", "request_id": "...", "exception": "Traceback ..."}

``ts`` is RFC 3339 UTC with milliseconds; ``request_id`` is there when the line was
written during an HTTP request; ``exception`` when an exception was logged.  The same
formatter is given to gunicorn's error log (``GunicornLogger``), so ``absentia serve``
writes one format throughout.  Messages never carry personal data: the code logs ids,
counts and routes (never a request's path or query), never names, contacts or request
bodies.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from datetime import UTC, datetime
from typing import Any

from flask import g, has_request_context
from gunicorn.glogging import Logger as _GunicornLogger

FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
ENV_FORMAT = "ABSENTIA_LOG_FORMAT"

#: LogRecord attributes that are not "extra" fields.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message", "asctime", "taskName"}


def _request_id() -> str | None:
    if not has_request_context():
        return None
    rid = g.get("request_id")
    return str(rid) if rid else None


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        at = datetime.fromtimestamp(record.created, UTC)
        out: dict[str, Any] = {
            "ts": at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = getattr(record, "request_id", None) or _request_id()
        if rid:
            out["request_id"] = rid
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in out and not key.startswith("_"):
                out[key] = value if isinstance(value, str | int | float | bool) or \
                    value is None else str(value)
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exception"] = record.exc_text
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return json.dumps(out, ensure_ascii=False)


class _TextFormatter(logging.Formatter):
    """The text format, with times in UTC (as every time the app writes)."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None  # noqa: N802
                   ) -> str:
        at = datetime.fromtimestamp(record.created, UTC)
        return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def formatter(fmt: str) -> logging.Formatter:
    """The formatter for ``fmt`` ("text" or "json").

    Raises:
        ValueError: another format.
    """
    if fmt == "json":
        return JsonFormatter()
    if fmt == "text":
        return _TextFormatter(TEXT_FORMAT)
    raise ValueError(f"log format must be one of {', '.join(FORMATS)}, not {fmt!r}")


_state: dict[str, str] = {}


def configure(fmt: str | None = None, level: str | None = None, *,
              explicit: bool = False) -> None:
    """Send the root logger's records to stderr in ``fmt`` at ``level``.

    Called early by the command line with ``explicit`` (its options), and again when
    the config file is read.  What wins: the option, then ``ABSENTIA_LOG_FORMAT``, then
    the config file, then text at WARNING.

    Raises:
        ValueError: an unknown format.
    """
    if explicit:
        if fmt is not None:
            _state["explicit_format"] = fmt
        if level is not None:
            _state["explicit_level"] = level
    fmt = (_state.get("explicit_format") or os.environ.get(ENV_FORMAT) or fmt
           or _state.get("format") or "text")
    level = (_state.get("explicit_level") or level or _state.get("level")
             or "WARNING").upper()
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(fmt))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # Alembic says "Context impl ..." at every schema check: only its warnings, unless
    # debugging (ledger.migrations says what an upgrade did).
    logging.getLogger("alembic").setLevel(level if level == "DEBUG" else "WARNING")
    _state["format"] = fmt
    _state["level"] = level
    for h in logging.getLogger("gunicorn.error").handlers:  # if already set up
        h.setFormatter(formatter(fmt))


def status(message: str) -> None:
    """A status line for the operator on stderr ("scheduler running"): plain text, or
    in the JSON format an INFO record of logger ``absentia`` (shown at any level)."""
    if current_format() != "json":
        sys.stderr.write(message + "\n")
        sys.stderr.flush()
        return
    record = logging.LogRecord("absentia", logging.INFO, __file__, 0, message, None, None)
    sys.stderr.write(JsonFormatter().format(record) + "\n")
    sys.stderr.flush()


def current_format() -> str:
    """The format in force ("text" until ``configure`` says otherwise)."""
    return _state.get("format", "text")


#: gunicorn's line for a request it could not parse: "Invalid request from ip=<ip>: <error>",
#: where the error quotes what it could not parse (a request line, a header).
_INVALID_REQUEST = re.compile(r"(Invalid request from ip=\S*: )(.*)", re.S)
_NOT_LOGGED = " (the request's text is not logged)"


def _without_request_text(error: str) -> str:
    """A gunicorn parse error without what it quotes (up to the first ': ' or quote)."""
    cut = min((i for i in (error.find(": "), error.find("'"), error.find('"')) if i >= 0),
              default=-1)
    return error if cut < 0 else error[:cut].rstrip() + _NOT_LOGGED


class GunicornLogger(_GunicornLogger):  # type: ignore[misc]
    """gunicorn's logger with the app's format on its error log (no access log).

    gunicorn's own messages that would quote a request's target or headers (a request
    it could not parse, a request that failed in the worker) are written without them:
    anyone can type an ID number into a URL, and logs hold no personal data.  The app's
    access log names each request by its route.
    """

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        fmt = formatter(current_format())
        for h in self.error_log.handlers:
            h.setFormatter(fmt)

    def warning(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        found = _INVALID_REQUEST.fullmatch(msg) if isinstance(msg, str) and not args else None
        if found is not None:
            msg = found.group(1) + _without_request_text(found.group(2))
        super().warning(msg, *args, **kwargs)

    def exception(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        if isinstance(msg, str) and msg.startswith("Error handling request %s"):
            msg, args = "Error handling request" + _NOT_LOGGED, ()
        super().exception(msg, *args, **kwargs)


def no_request_line(_worker: Any, _req: Any) -> None:
    """gunicorn's ``pre_request`` hook, replacing its default (which logs every request's
    method and path at DEBUG): the app's access log names the route instead."""
