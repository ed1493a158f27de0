"""Request bodies: how large each endpoint takes them, and how slowly a client may send.

Size: ``MAX_CONTENT_LENGTH`` (``MAX_REQUEST_BYTES``) is the backstop for every request;
each view then gets its own limit (``DEFAULT_BODY_BYTES`` unless decorated with
``body_limit``), set on the request before the view runs, so werkzeug refuses a larger
declared ``Content-Length`` with 413 *before* reading any of it, and stops a chunked body
at the limit.

Time: a thread of the server reads a request's body while the client sends it, and a
client that sends one byte a second holds that thread as long as it likes.  With a few
such clients the server has no thread left, even for ``/healthz``.  ``BodyDeadline``
gives every body a deadline (``timeout_s`` plus the time the declared length needs at
``MIN_BODY_RATE``); at the deadline a watchdog thread ends the read (the socket's
reading side is shut down), and the client gets 408 and loses the connection.  A front
proxy that buffers bodies (docs/deployment.md) spares the threads the wait altogether.
"""

from __future__ import annotations

import contextlib
import heapq
import re
import socket
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from flask import Flask, current_app, request
from werkzeug.exceptions import RequestTimeout

from ledger.absence.attachments import MAX_ATTACHMENT_BYTES, MAX_ATTACHMENTS
from ledger.absence.imports import MAX_IMPORT_BYTES
from ledger.errors import BadData

#: Room for a multipart form's boundaries and other fields around an uploaded file (bytes).
FORM_OVERHEAD_BYTES = 64 * 1024
#: A candidate's appeal as a form: up to 3 files of 5 MiB and the fields (bytes).
APPEAL_FORM_BYTES = MAX_ATTACHMENTS * MAX_ATTACHMENT_BYTES + FORM_OVERHEAD_BYTES
#: A candidate's appeal as JSON: the same files in base64 (4 characters for every 3 bytes,
#: padded) and the fields (bytes).
APPEAL_JSON_BYTES = (MAX_ATTACHMENTS * 4 * -(-MAX_ATTACHMENT_BYTES // 3)
                     + FORM_OVERHEAD_BYTES)
#: The largest body any endpoint takes (bytes): the candidate import as a form, or an
#: appeal with its attachments as JSON, whichever is larger.
MAX_REQUEST_BYTES = max(MAX_IMPORT_BYTES + FORM_OVERHEAD_BYTES, APPEAL_JSON_BYTES)
#: A view's body limit unless it says otherwise (bytes): forms and small JSON objects.
DEFAULT_BODY_BYTES = 64 * 1024
#: A public lookup: a registration number and a factor (bytes, with room for escapes).
PUBLIC_LOOKUP_BYTES = 1024
#: The public status form: a campaign, a registration number, a factor, a CSRF token
#: (bytes; fields of at most 64 characters, percent-encoded).
PUBLIC_FORM_BYTES = 4096
#: Seconds a client has for any body, before the time its length needs at MIN_BODY_RATE.
BODY_TIMEOUT_S = 10.0
#: The slowest upload rate a body's deadline allows for (bytes per second).
MIN_BODY_RATE = 64 * 1024

F = TypeVar("F", bound=Callable[..., Any])
_ATTR = "absentia_body_limit"


def body_limit(max_bytes: int) -> Callable[[F], F]:
    """Give the decorated view a body limit of ``max_bytes`` (a larger body gets 413).

    Place it below the route decorator, so the registered view carries it.
    """

    def mark(view: F) -> F:
        setattr(view, _ATTR, max_bytes)
        return view

    return mark


def _apply_view_limit() -> None:
    view = current_app.view_functions.get(request.endpoint or "")
    request.max_content_length = getattr(view, _ATTR, DEFAULT_BODY_BYTES)


#: C0 and C1 control characters and DEL: never part of an id, a cursor or a query value
#: (the OpenAPI document's string pattern excludes them too); PostgreSQL cannot even
#: compare a NUL in text.
CONTROL_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f]")


def _refuse_control_characters() -> None:
    """Refuse a path or query argument holding a control character, naming it.

    Raises:
        BadData: the first such argument (path arguments first).
    """
    for name, value in (request.view_args or {}).items():
        if isinstance(value, str) and CONTROL_CHARACTERS.search(value):
            raise BadData(f"{name}: control characters are not allowed", field=name)
    for name, value in request.args.items(multi=True):
        if CONTROL_CHARACTERS.search(name) or CONTROL_CHARACTERS.search(value):
            shown = CONTROL_CHARACTERS.sub("?", name)
            raise BadData(f"{shown}: control characters are not allowed", field=shown)


def init_app(app: Flask) -> None:
    """Set the global backstop and, before each view, that view's body limit; refuse
    control characters in path and query arguments."""
    app.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES
    # Registered first, so it runs before any hook that could read the form.
    app.before_request_funcs.setdefault(None, []).insert(0, _apply_view_limit)
    app.before_request_funcs[None].insert(1, _refuse_control_characters)


class _Watchdog:
    """One thread that ends the body reads still going at their deadlines.

    A socket timeout bounds each ``recv``, not a whole body: a client sending a byte a
    second satisfies every ``recv`` and never finishes.  So at the deadline the socket's
    reading side is shut down (``shutdown(SHUT_RD)``): the blocked ``recv`` returns at
    once, no further bytes are read, and the answer can still be written.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, socket.socket]] = []
        self._live: set[int] = set()
        self._next = 0
        self._thread: threading.Thread | None = None

    def watch(self, deadline: float, sock: socket.socket) -> int:
        """Shut ``sock``'s reading down at ``deadline`` (monotonic) unless unwatched first."""
        with self._cond:
            self._next += 1
            token = self._next
            heapq.heappush(self._heap, (deadline, token, sock))
            self._live.add(token)
            if self._thread is None or not self._thread.is_alive():
                # Started in the process that serves (after gunicorn's fork), once.
                self._thread = threading.Thread(target=self._run, name="body-deadline",
                                                daemon=True)
                self._thread.start()
            self._cond.notify()
        return token

    def unwatch(self, token: int) -> None:
        with self._cond:
            self._live.discard(token)

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._heap and self._heap[0][1] not in self._live:
                    heapq.heappop(self._heap)  # finished in time
                if not self._heap:
                    self._cond.wait()
                    continue
                deadline, token, sock = self._heap[0]
                wait = deadline - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                heapq.heappop(self._heap)
                self._live.discard(token)
            with contextlib.suppress(OSError):  # closed meanwhile: nothing to stop
                sock.shutdown(socket.SHUT_RD)


_WATCHDOG = _Watchdog()


class _DeadlineInput:
    """``wsgi.input`` whose reads end at a deadline (RequestTimeout, 408, after it)."""

    def __init__(self, stream: Any, sock: socket.socket | None, deadline: float,
                 length: int | None) -> None:
        self._stream = stream
        self._deadline = deadline
        self._left = length  # bytes still expected (None: chunked, until EOF)
        self._token = _WATCHDOG.watch(deadline, sock) if sock is not None else None

    def done(self) -> None:
        """The body has been read (or the request is over): stop watching it."""
        if self._token is not None:
            _WATCHDOG.unwatch(self._token)
            self._token = None

    def _call(self, read: Callable[[], bytes]) -> bytes:
        if time.monotonic() >= self._deadline:
            self.done()
            raise RequestTimeout("the request body did not arrive in time")
        try:
            data = read()
        except OSError:
            if time.monotonic() >= self._deadline:
                raise RequestTimeout("the request body did not arrive in time") from None
            raise
        if time.monotonic() >= self._deadline and (not data or self._left is None
                                                    or len(data) < self._left):
            self.done()  # cut short by the watchdog: the body is incomplete
            raise RequestTimeout("the request body did not arrive in time")
        if self._left is not None:
            self._left -= len(data)
        if not data or (self._left is not None and self._left <= 0):
            self.done()
        return data

    def read(self, size: int = -1) -> bytes:
        return self._call(lambda: bytes(self._stream.read(size)))

    def readline(self, size: int = -1) -> bytes:
        return self._call(lambda: bytes(self._stream.readline(size)))


WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class BodyDeadline:
    """WSGI middleware: each request's body must arrive by a deadline (see the module).

    The deadline is ``timeout_s`` plus the declared length at ``min_rate`` bytes/s (a body
    without ``Content-Length`` is allowed the time of ``MAX_REQUEST_BYTES``).  The socket
    is the one gunicorn puts in ``environ["gunicorn.socket"]``; without it (another server)
    the deadline is checked between reads only.
    """

    def __init__(self, app: WSGIApp, timeout_s: float = BODY_TIMEOUT_S,
                 min_rate: int = MIN_BODY_RATE) -> None:
        self.app = app
        self.timeout_s = timeout_s
        self.min_rate = min_rate

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]
                 ) -> Iterable[bytes]:
        length = environ.get("CONTENT_LENGTH") or ""
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if (length in ("", "0") and not chunked) or "wsgi.input" not in environ:
            return self.app(environ, start_response)
        declared = int(length) if length.isdigit() and not chunked else None
        expected = MAX_REQUEST_BYTES if declared is None else min(declared, MAX_REQUEST_BYTES)
        deadline = time.monotonic() + self.timeout_s + expected / self.min_rate
        sock = environ.get("gunicorn.socket")
        body = _DeadlineInput(environ["wsgi.input"],
                              sock if isinstance(sock, socket.socket) else None,
                              deadline, declared)
        environ["wsgi.input"] = body
        try:
            return self.app(environ, start_response)
        finally:
            body.done()  # Flask has answered: what was not read will not be
