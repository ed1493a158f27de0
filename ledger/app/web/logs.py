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
from ledger.errors import BadData
from ledger.tiles import TileRef
from ledger.tlog_policy import Log, Policy, to_bytes
from ledger.witness.client import WitnessSettings, cosigned_note

bp = Blueprint("logs", __name__)

IMMUTABLE = "public, max-age=31536000, immutable"
# tlog-tiles §Checkpoints: mutable, so no caching beyond a few seconds.
CHECKPOINT_CACHE = "public, max-age=2"


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
    # The latest checkpoint with the witnesses' cosignatures of exactly its body.
    resp = Response(cosigned_note(store(), name), mimetype="text/plain")
    resp.headers["Content-Type"] = "text/plain; charset=utf-8"
    resp.headers["Cache-Control"] = CHECKPOINT_CACHE
    return resp


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
    ref = TileRef.parse("tile/" + rest)
    data = store().tile(name, ref)
    resp = Response(mimetype="application/octet-stream")
    if ref.level is None:
        # tlog-tiles §Log entries: entry bundles SHOULD be compressed at the HTTP layer.
        resp.headers["Vary"] = "Accept-Encoding"
        if request.accept_encodings.quality("gzip") > 0:
            data = gzip.compress(data, compresslevel=6, mtime=0)
            resp.headers["Content-Encoding"] = "gzip"
    resp.set_data(data)
    resp.headers["Cache-Control"] = IMMUTABLE
    return resp


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
    data = store().entry(name, _index(raw_index))
    resp = Response(data, mimetype="application/json")
    resp.headers["Cache-Control"] = IMMUTABLE
    return resp


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
