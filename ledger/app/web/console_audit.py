"""The auditor's console pages (read-only) under ``/console/audit``.

For the auditor role (an admin reaches them too, through ``console.signed_in``):

* ``/`` — every log: origin, size, latest checkpoint (its note text), links to the
  public tiles, the log's page and its export;
* ``/logs/<name>`` — the checkpoint history (paginated), every verifier key the log has
  used with the ``log.created`` / ``log.key_added`` entries that introduced them, witness
  cosignatures (signature lines by keys other than the log's own) and "verify now";
* ``POST /logs/<name>/verify`` — a full verification in a background thread of this
  worker: export to a temporary directory with ``export_log``, then ``verify_log`` over
  it, trusting the log's own verifier keys.  Its progress is in an in-process job
  registry, read as JSON at ``/jobs/<id>`` (``console-audit.js`` polls it every 500 ms
  and updates a ``<progress>`` element; without JavaScript the page has a reload link);
* ``/logs/<name>/export.zip`` — the exported tlog-tiles directory with its ``keys``
  file, as a zip (``absentia verify`` reads it once unzipped);
* ``/access`` — the access trail: who viewed whose personal data (``pii.viewed``),
  newest first, paginated, filterable by subject.

Chinese by default; ``?lang=en`` for English.
"""

from __future__ import annotations

import json
import logging
import secrets
import shutil
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ParamSpec

from flask import Blueprint, Response, abort, current_app, jsonify, request, send_file
from flask.blueprints import BlueprintSetupState

from ledger.app.export import export_log
from ledger.app.web import console
from ledger.app.web.forms import Lang, words
from ledger.app.web.services import service, store
from ledger.errors import BadData, LedgerError, NotFound, VerificationError
from ledger.events import LOG_CREATED, LOG_KEY_ADDED
from ledger.note import Ed25519Verifier, SignedNote
from ledger.storage import LedgerStore
from ledger.storage.status import entries_of_types
from ledger.storage.store import LogInfo, NewEntry, StoredCheckpoint
from ledger.verify import DirectorySource, verify_log
from ledger.witness.client import stored_cosignatures

P = ParamSpec("P")

log = logging.getLogger(__name__)

bp = Blueprint("console_audit", __name__, url_prefix="/console/audit")

PER_PAGE = 50
MAX_JOBS = 64  # finished jobs beyond this many are forgotten, oldest first
MAX_SUBJECT = 128

#: Interface text: key -> (Chinese, English); the console's own texts included.
TEXT: dict[str, tuple[str, str]] = {**console.TEXT, **words("console_audit.text")}


def lang() -> Lang:
    return Lang.of_request(TEXT)


# -- jobs ----------------------------------------------------------------------------------


@dataclass
class Job:
    """One "verify now" run: its state as the JSON progress shows it."""

    id: str
    log: str
    started_by: str
    state: str = "running"  # running, done, failed
    phase: str = "export"  # export, verify
    done: int = 0
    total: int = 0
    result: dict[str, Any] | None = None
    error: str | None = None
    bad_index: int | None = None
    started: float = field(default_factory=time.monotonic)

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "log": self.log, "state": self.state, "phase": self.phase,
                "done": self.done, "total": self.total, "result": self.result,
                "error": self.error, "bad_index": self.bad_index}


class Jobs:
    """The in-process job registry: job id -> Job, guarded by a lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.jobs: dict[str, Job] = {}

    def get(self, job_id: str) -> Job | None:
        with self.lock:
            return self.jobs.get(job_id)

    def start(self, store: LedgerStore, name: str, started_by: str,
              record: Recorder | None = None) -> Job:
        """Start verifying ``name`` in a thread (or join the run in progress); ``record``
        receives the ``audit.performed`` body of the outcome."""
        job = Job(secrets.token_urlsafe(12), name, started_by)
        with self.lock:
            for running in self.jobs.values():  # one run per log at a time: join it
                if running.log == name and running.state == "running":
                    return running
            finished = [j for j in self.jobs.values() if j.state != "running"]
            for old in finished[: max(0, len(self.jobs) + 1 - MAX_JOBS)]:
                del self.jobs[old.id]
            self.jobs[job.id] = job
        threading.Thread(target=self._run, args=(job, store, record), daemon=True,
                         name=f"audit-verify-{job.id}").start()
        return job

    def _progress(self, job: Job, phase: str, done: int, total: int) -> None:
        with self.lock:
            job.phase, job.done, job.total = phase, done, total

    def _run(self, job: Job, store: LedgerStore, record: Recorder | None) -> None:
        tmp = Path(tempfile.mkdtemp(prefix="absentia-audit-"))
        try:
            out = tmp / job.log
            export_log(store, job.log, out,
                       lambda d, t: self._progress(job, "export", d, t))
            report = verify_log(DirectorySource(out), store.verifiers(job.log),
                                progress=lambda d, t: self._progress(job, "verify", d, t))
            with self.lock:
                job.phase, job.done, job.total = "verify", report.entries, report.entries
                job.result = {"entries": report.entries, "tiles": report.tiles,
                              "seconds": round(report.seconds, 2), "origin": report.origin,
                              "signed_by": report.signed_by}
                job.state = "done"
        except VerificationError as exc:
            self._fail(job, str(exc), exc.index)
        except (LedgerError, OSError) as exc:
            self._fail(job, str(exc), None)
        except Exception as exc:  # a thread must never die silently
            current = f"{type(exc).__name__}: {exc}"
            self._fail(job, current, None)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
            if record is not None:
                self._record_outcome(job, record)

    def _record_outcome(self, job: Job, record: Recorder) -> None:
        with self.lock:
            body: dict[str, Any] = {"action": "verify", "log": job.log,
                                    "size": (job.result or {}).get("entries", job.total),
                                    "result": "ok" if job.state == "done" else "failed"}
            if job.bad_index is not None:
                body["bad_index"] = job.bad_index
        try:
            record(body)
        except Exception:  # the outcome is on screen; the missing entry is in the log
            log.exception("could not record the outcome of verification job %s", job.id)

    def _fail(self, job: Job, error: str, index: int | None) -> None:
        with self.lock:
            job.error, job.bad_index, job.state = error, index, "failed"


Recorder = Callable[[dict[str, Any]], None]


def _recorder(actor: str) -> Recorder:
    """Records an ``audit.performed`` entry by ``actor`` on the domain's log (usable from
    the verification thread: the service and the clock are captured here)."""
    svc = service()
    clock: Callable[[], datetime] = current_app.extensions.get(
        "absentia.clock", lambda: datetime.now(UTC))

    def record(body: dict[str, Any]) -> None:
        svc.record(clock(), lambda _conn: [NewEntry("audit.performed", actor, body)])

    return record


@bp.record_once
def _setup(state: BlueprintSetupState) -> None:
    state.app.extensions.setdefault("absentia.audit_jobs", Jobs())


def jobs() -> Jobs:
    j: Jobs = current_app.extensions["absentia.audit_jobs"]
    return j




bp.after_request(console.headers)


#: Auditor pages (admins too): sign-in, role and CSRF checks of ``ledger.app.web.console``.
auditor_page = console.signed_in("auditor")


# -- reading the log -----------------------------------------------------------------------


def _log(name: str) -> LogInfo:
    try:
        return store().log(name)
    except NotFound:
        abort(404)


def _latest(name: str) -> StoredCheckpoint | None:
    try:
        return store().latest_checkpoint(name)
    except NotFound:
        return None


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S")


def _key_entries(info: LogInfo) -> list[dict[str, Any]]:
    """The log's ``log.created`` and ``log.key_added`` entries, in log order."""
    out = []
    for found in entries_of_types(store().engine, info.id,
                                  (LOG_CREATED.name, LOG_KEY_ADDED.name)):
        try:
            e = json.loads(found.data)
            body = e.get("body", {})
            out.append({"index": found.index, "type": e.get("type", ""),
                        "time": e.get("time", ""), "key": body.get("verifier_key", ""),
                        "reason": body.get("reason", ""),
                        "previous": body.get("previous_key_id", "")})
        except (ValueError, AttributeError):
            out.append({"index": found.index, "type": "?", "time": "", "key": "", "reason": "",
                        "previous": ""})
    return out


def _own_keys(info: LogInfo) -> set[tuple[str, int]]:
    own = set()
    for vkey in info.verifier_keys:
        try:
            v = Ed25519Verifier.from_vkey(vkey)
        except BadData:
            continue
        own.add((v.name, v.key_id))
    return own


def _cosignatures(info: LogInfo, history: list[StoredCheckpoint]) -> list[dict[str, Any]]:
    """Signature lines of the checkpoints by keys other than the log's own, newest first."""
    own = _own_keys(info)
    out = []
    for cp in reversed(history):
        try:
            note = SignedNote.parse(cp.note)
        except BadData:
            continue
        for sig in note.signatures:
            if (sig.name, sig.key_id) not in own:
                out.append({"size": cp.size, "time": _iso(cp.signed_at_ms), "name": sig.name,
                            "key_id": f"{sig.key_id:08x}"})
    return out


def _witness_cosignatures(name: str) -> list[dict[str, Any]]:
    """The cosignatures witnesses returned for the log's checkpoints (C2SP tlog-witness)."""
    return [{"size": c.size, "time": _iso(c.cosigned_at * 1000), "name": c.witness,
             "key_id": c.key_id} for c in stored_cosignatures(store(), name)]


def _page_number() -> int:
    try:
        n = int(request.args.get("page", "1"))
    except ValueError:
        return 1
    return max(1, min(n, 1_000_000))


def _job_view(job: Job, lg: Lang) -> dict[str, Any]:
    """What the page shows of a job (the same texts console-audit.js writes)."""
    if job.state == "done" and job.result is not None:
        text = lg.t("ok", entries=f"{job.result['entries']:,}",
                    tiles=f"{job.result['tiles']:,}", seconds=job.result["seconds"])
    elif job.state == "failed":
        text = (lg.t("failed_at", index=job.bad_index) if job.bad_index is not None
                else lg.t("failed")) + " " + (job.error or "")
    else:
        text = ""
    phase = lg.t("phase_export" if job.phase == "export" else "phase_verify")
    finished = job.state != "running"
    total = max(job.total, 1) if not finished else max(job.total, job.done, 1)
    return {"id": job.id, "state": job.state, "phase": phase, "done": job.done,
            "total": job.total, "max": total, "value": total if finished else job.done,
            "text": text}


# -- views ---------------------------------------------------------------------------------


@bp.get("/")
@auditor_page
def overview() -> Response:
    rows = []
    for info in store().list_logs():
        rows.append({"info": info, "size": store().head(info.name).size,
                     "latest": _latest(info.name)})
    return console.page("console_audit_index.html", lg=lang(), logs=rows)


@bp.get("/logs/<name>")
@auditor_page
def log_page(name: str) -> Response:
    lg = lang()
    info = _log(name)
    history = store().checkpoint_history(name)
    page_n = _page_number()
    newest_first = list(reversed(history))
    shown = newest_first[(page_n - 1) * PER_PAGE : page_n * PER_PAGE]
    checkpoints = [{"size": cp.size, "time": _iso(cp.signed_at_ms), "key_id": cp.key_id,
                    "root": cp.root.hex()} for cp in shown]
    job = None
    job_id = request.args.get("job", "")
    if job_id:
        found = jobs().get(job_id)
        if found is not None and found.log == name:
            job = _job_view(found, lg)
    return console.page(
        "console_audit_log.html", lg=lg, info=info, size=store().head(name).size,
        latest=_latest(name), checkpoints=checkpoints, count=len(history), page_n=page_n,
        more=page_n * PER_PAGE < len(history), key_entries=_key_entries(info),
        cosignatures=_cosignatures(info, history) + _witness_cosignatures(name), job=job,
        job_missing=bool(job_id) and job is None)


@bp.post("/logs/<name>/verify")
@auditor_page
def verify_now(name: str) -> Response:
    lg = lang()
    _log(name)
    size = store().head(name).size
    record = _recorder(console.actor().actor)
    record({"action": "verify", "log": name, "size": size, "result": "started"})
    job = jobs().start(store(), name, console.actor().actor, record)
    resp = Response(status=303)
    sep = "&" if lg.query else "?"
    resp.headers["Location"] = (f"/console/audit/logs/{name}{lg.query}{sep}job={job.id}"
                                "#verify")
    return resp


@bp.get("/jobs/<job_id>")
@auditor_page
def job_status(job_id: str) -> Response:
    job = jobs().get(job_id)
    if job is None:
        resp = jsonify({"error": "no such job"})
        resp.status_code = 404
        return resp
    with jobs().lock:
        data = job.to_json()
        data["view"] = _job_view(job, lang())
    return jsonify(data)


@bp.get("/logs/<name>/export.zip")
@auditor_page
def export_zip(name: str) -> Response:
    _log(name)
    if _latest(name) is None:
        abort(404)
    tmp = Path(tempfile.mkdtemp(prefix="absentia-export-"))
    try:
        out = tmp / name
        result = export_log(store(), name, out)
        _recorder(console.actor().actor)({"action": "export", "log": name,
                                          "size": result.size, "result": "ok"})
        archive = tmp / f"{name}.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
            for path in sorted(out.rglob("*")):
                if path.is_file():
                    zf.write(path, f"{name}/{path.relative_to(out).as_posix()}")
        handle = archive.open("rb")  # the open file outlives its directory's removal
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return send_file(handle, mimetype="application/zip", as_attachment=True,
                     download_name=f"{name}-export.zip")


@bp.get("/access")
@auditor_page
def access() -> Response:
    subject = request.args.get("subject", "").strip()[:MAX_SUBJECT]
    page_n = _page_number()
    rows = service().access_log(subject or None, limit=page_n * PER_PAGE + 1)
    shown = rows[(page_n - 1) * PER_PAGE : page_n * PER_PAGE]
    return console.page("console_audit_access.html", lg=lang(), rows=shown, subject=subject,
                        page_n=page_n, more=len(rows) > page_n * PER_PAGE)
