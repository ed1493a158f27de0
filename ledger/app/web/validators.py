"""Validators and caching of the public read paths (RFC 9110 §8.8, §13; RFC 9111).

Every public GET answers with a strong ``ETag`` and honours ``If-None-Match`` with a
304 and no body, so a browser, a cache or a CDN in front (docs/deployment.md) can
revalidate for the price of a header:

* immutable things (hash tiles, full and partial alike: a partial tile of width W never
  changes, tlog-tiles; entry bundles; entries; published notice versions) carry
  ``IMMUTABLE`` and are kept, bytes and ETag, in a bounded in-process LRU
  (``ImmutableBytes``), so a repeated read touches neither the database nor a renderer;
* mutable things (checkpoints, a log's info, the lists) carry ``SHORT`` and an ETag that
  is the digest of their bytes (``public_validators`` adds it to whatever a public view
  answered without one).

Representations that differ by ``Accept-Encoding`` (gzip) have ETags of their own and
``Vary: Accept-Encoding``; the language of a page is in its URL (``?lang=en``), never in
a request header, so no page varies by ``Accept-Language``.  Nothing here raises.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Hashable

from flask import Flask, Response, request

#: Never changes: a year, and ``immutable`` (RFC 8246: not even revalidated on reload).
IMMUTABLE = "public, max-age=31536000, immutable"
#: Changes (tlog-tiles §Checkpoints: no caching beyond a few seconds), then revalidated.
SHORT = "public, max-age=2"
#: Path prefixes of the public read API and pages a cache in front may keep.
PUBLIC_READ = ("/logs", "/notices", "/reports/", "/api/v1/notices/")


def strong_etag(data: bytes) -> str:
    """The strong ETag (unquoted) of ``data``: its SHA-256 in hex."""
    return hashlib.sha256(data).hexdigest()


def not_modified(etag: str, cache: str, vary: str | None = None) -> Response | None:
    """A 304 (no body) when the request's ``If-None-Match`` lists ``etag``, else None.

    ``If-None-Match`` compares weakly (RFC 9110 §13.1.2): ``W/"x"`` matches ``"x"``.
    """
    if not request.if_none_match or not request.if_none_match.contains_weak(etag):
        return None
    resp = Response(status=304)
    resp.set_etag(etag)
    resp.headers["Cache-Control"] = cache
    if vary:
        resp.headers["Vary"] = vary
    return resp


def validated(resp: Response, etag: str, cache: str, vary: str | None = None) -> Response:
    """``resp`` with ``etag``, ``cache`` and ``vary`` set, made conditional on the request
    (a 304 without body when ``If-None-Match`` lists the ETag)."""
    resp.set_etag(etag)
    resp.headers["Cache-Control"] = cache
    if vary:
        resp.headers["Vary"] = vary
    resp.make_conditional(request)  # changes resp itself (and returns it)
    return resp


class ImmutableBytes:
    """A bounded LRU of immutable representations: key -> (bytes, ETag), at most
    ``max_bytes`` of bytes in all (one larger than an eighth of that is not kept).
    Thread-safe; per process (each gunicorn worker has its own)."""

    def __init__(self, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[Hashable, tuple[bytes, str]] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> tuple[bytes, str] | None:
        with self._lock:
            found = self._items.get(key)
            if found is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return found

    def put(self, key: Hashable, data: bytes, etag: str) -> None:
        if len(data) > self.max_bytes // 8:
            return
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._size -= len(old[0])
            self._items[key] = (data, etag)
            self._size += len(data)
            while self._size > self.max_bytes and self._items:
                _, (dropped, _) = self._items.popitem(last=False)
                self._size -= len(dropped)

    def clear(self) -> None:
        """Forget everything (tests that rewrite stored bytes behind the app's back)."""
        with self._lock:
            self._items.clear()
            self._size = 0

    def __len__(self) -> int:
        return len(self._items)


def public_validators(app: Flask) -> None:
    """After every public GET (``PUBLIC_READ``) that answered 200 without an ETag: the
    SHA-256 of its body as a strong ETag, ``SHORT`` unless it set a Cache-Control, and
    the 304 when ``If-None-Match`` lists it.  A response that sets a cookie, says
    ``no-store`` or streams is left alone."""

    @app.after_request
    def _validate(resp: Response) -> Response:
        if (request.method not in ("GET", "HEAD") or resp.status_code != 200
                or not request.path.startswith(PUBLIC_READ) or "ETag" in resp.headers
                or resp.direct_passthrough or resp.is_streamed
                or "Set-Cookie" in resp.headers
                or "no-store" in resp.headers.get("Cache-Control", "")):
            return resp
        resp.set_etag(strong_etag(resp.get_data()))
        resp.headers.setdefault("Cache-Control", SHORT)
        resp.make_conditional(request)
        return resp
