"""The read API of the logs: C2SP tlog-tiles under /logs/<name>/ plus JSON helpers."""

from __future__ import annotations

import base64
import gzip
import hashlib
import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from ledger.app.web.services import store
from ledger.app.web.validators import (
    IMMUTABLE,
    SHORT,
    ImmutableBytes,
    not_modified,
    strong_etag,
    validated,
)
from ledger.errors import BadData
from ledger.tiles import TileRef
from ledger.tlog_policy import Log, Policy, to_bytes
from ledger.witness.client import WitnessSettings, cosigned_note

bp = Blueprint("logs", __name__)

# tlog-tiles §Checkpoints: mutable, so no caching beyond a few seconds.
CHECKPOINT_CACHE = SHORT


def immutable_cache() -> ImmutableBytes:
    """This process's LRU of tiles and entries (``absentia.immutable``), made on first use."""
    found: ImmutableBytes = current_app.extensions.setdefault("absentia.immutable",
                                                              ImmutableBytes())
    return found


def int_param(name: str, default: int | None = None) -> int:
    """A non-negative integer query parameter.

    Raises:
        BadData: missing (without default), not a decimal, or negative; names the field.
    """
    raw = request.args.get(name)
    if raw is None or raw == "":
        if default is None:
            raise BadData(f"query parameter {name!r} is required", field=name)
        return default
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise BadData(f"query parameter {name!r} must be a non-negative integer, got {raw!r}",
                      field=name)
    return int(raw)


def _b64(hashes: list[bytes]) -> list[str]:
    return [base64.b64encode(h).decode() for h in hashes]


@bp.get("/logs")
def list_logs() -> Response:
    return jsonify([log.to_json() for log in store().list_logs()])


@bp.get("/logs/<name>")
def log_info(name: str) -> Response:
    s = store()
    info: dict[str, Any] = s.log(name).to_json()
    cp = s.latest_checkpoint(name)
    info["size"] = cp.size
    info["root"] = base64.b64encode(cp.root).decode()
    info["checkpoint"] = cosigned_note(s, name, cp)
    return jsonify(info)


@bp.get("/logs/<name>/checkpoint")
def checkpoint(name: str) -> Response:
    # The latest checkpoint with the witnesses' cosignatures of exactly its body; its
    # ETag is the digest of those bytes, so a new checkpoint or cosignature changes it.
    data = cosigned_note(store(), name).encode()
    resp = Response(data, content_type="text/plain; charset=utf-8")
    return validated(resp, strong_etag(data), CHECKPOINT_CACHE)


@bp.get("/logs/<name>/policy")
def witness_policy(name: str) -> Response:
    """The witness policy publishing waits for, as a C2SP tlog-policy (text/plain): the
    ``[witness_policy] file`` as written, or for ``[[witnesses]]`` and ``required`` the
    same k-of-n rendered, with this log's own keys as its ``log`` lines; what
    ``absentia verify --policy`` and ``report verify --policy`` read."""
    info = store().log(name)  # 404 for an unknown log
    ws: WitnessSettings = current_app.extensions.get("absentia.witnesses") or WitnessSettings()
    if ws.policy_text is not None:
        body = ws.policy_text
    else:
        k_of_n = ws.tlog_policy()
        logs = tuple(Log(v) for v in dict.fromkeys(info.verifier_keys)
                     if v.split("+", 1)[0] == info.origin)
        body = to_bytes(Policy(logs, k_of_n.witnesses, k_of_n.groups, k_of_n.quorum))
    resp = Response(body, mimetype="text/plain")
    resp.headers["Content-Type"] = "text/plain; charset=utf-8"
    resp.headers["Cache-Control"] = CHECKPOINT_CACHE
    resp.set_etag(hashlib.sha256(body).hexdigest())
    resp.make_conditional(request)
    return resp


@bp.get("/logs/<name>/tile/<path:rest>")
def tile(name: str, rest: str) -> Response:
    """A hash tile or entry bundle: immutable once it exists (a partial tile of width W
    too), so kept in this process's LRU and answered 304 on a matching If-None-Match."""
    ref = TileRef.parse("tile/" + rest)
    # tlog-tiles §Log entries: entry bundles SHOULD be compressed at the HTTP layer.
    gzipped = ref.level is None and request.accept_encodings.quality("gzip") > 0
    vary = "Accept-Encoding" if ref.level is None else None
    lru = immutable_cache()
    key = ("tile", name, ref.path(), gzipped)
    hit = lru.get(key)
    if hit is None:
        data = store().tile(name, ref)
        etag = strong_etag(data)
        if gzipped:
            data, etag = gzip.compress(data, compresslevel=6, mtime=0), etag + "-gzip"
        lru.put(key, data, etag)
    else:
        data, etag = hit
    early = not_modified(etag, IMMUTABLE, vary)
    if early is not None:
        return early
    resp = Response(data, mimetype="application/octet-stream")
    if gzipped:
        resp.headers["Content-Encoding"] = "gzip"
    return validated(resp, etag, IMMUTABLE, vary)


def _proof(name: str, first: str, second: str,
           prove: Callable[[str, int, int], list[bytes]]) -> Response:
    """A proof between the query's ``first`` size or index (required) and its ``second``
    size (by default the latest checkpoint's), as JSON with both and the hashes.

    Raises:
        BadData: a parameter is missing or not a decimal integer, or the proof cannot be
            made between them.
        NotFound: no such log, or no checkpoint yet.
    """
    s = store()
    a = int_param(first)
    b = int_param(second, s.latest_checkpoint(name).size)
    return jsonify({first: a, second: b, "hashes": _b64(prove(name, a, b))})


@bp.get("/logs/<name>/proof/inclusion")
def inclusion(name: str) -> Response:
    return _proof(name, "index", "size", store().inclusion_proof)


@bp.get("/logs/<name>/proof/consistency")
def consistency(name: str) -> Response:
    return _proof(name, "old", "new", store().consistency_proof)


#: An entry index in the path: canonical decimal (no sign, no leading zeros), < 10**18.
_INDEX = re.compile(r"0|[1-9][0-9]{0,17}")


def _index(raw: str) -> int:
    if not _INDEX.fullmatch(raw):
        raise BadData(f"entry index must be a non-negative integer, got {raw!r}", field="index")
    return int(raw)


@bp.get("/logs/<name>/entries/<raw_index>")
def entry(name: str, raw_index: str) -> Response:
    index = _index(raw_index)
    lru = immutable_cache()
    key = ("entry", name, index)
    hit = lru.get(key)
    if hit is None:
        data = store().entry(name, index)
        etag = strong_etag(data)
        lru.put(key, data, etag)
    else:
        data, etag = hit
    early = not_modified(etag, IMMUTABLE)
    if early is not None:
        return early
    return validated(Response(data, mimetype="application/json"), etag, IMMUTABLE)


@bp.get("/logs/<name>/entries/<raw_index>/tlog-proof")
def entry_proof(name: str, raw_index: str) -> Response:
    s = store()
    proof = s.tlog_proof(name, _index(raw_index))
    cp = s.latest_checkpoint(name)
    if proof.checkpoint == cp.note:
        proof = replace(proof, checkpoint=cosigned_note(s, name, cp))
    resp = Response(proof.to_text(), mimetype="text/plain")
    resp.headers["Content-Type"] = "text/plain; charset=utf-8"
    resp.headers["Cache-Control"] = CHECKPOINT_CACHE
    return resp
