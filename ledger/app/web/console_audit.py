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

import base64
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
from ledger.events import LOG_CREATED, LOG_KEY_ADDED, LOG_SM2_KEY_ADDED
from ledger.note import SignedNote
from ledger.storage import LedgerStore
from ledger.storage.status import entries_of_types
from ledger.storage.store import LogInfo, NewEntry, StoredCheckpoint
from ledger.timetext import written_short, zone_label
from ledger.verify import DirectorySource, verify_log
from ledger.verify_cli import parse_verifier
from ledger.witness.client import stored_cosignatures

P = ParamSpec("P")

log = logging.getLogger(__name__)

bp = Blueprint("console_audit", __name__, url_prefix="/console/audit")

PER_PAGE = 50
MAX_JOBS = 64  # finished jobs beyond this many are forgotten, oldest first
MAX_SUBJECT = 128

#: Interface text: key -> (Chinese, English); the console's own texts included.
TEXT: dict[str, tuple[str, str]] = {**console.TEXT, **words("console_audit.text")}
PURPOSES = words("console_audit.purposes")
FIELDS = words("console_audit.fields")
KEY_TYPES = words("console_audit.key_types")

#: The zone the office reads times in (logs belong to no campaign): 北京时间.
OFFICE_TZ = "Asia/Shanghai"


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
    """Unix milliseconds as the office's wall clock (``2026-11-12 09:00:05``, 北京时间)."""
    return written_short(datetime.fromtimestamp(ms / 1000, UTC), OFFICE_TZ, seconds=True)


def _entry_time(text: str) -> str:
    """An entry's RFC 3339 UTC time as the office's wall clock ("" if unreadable)."""
    try:
        return written_short(text, OFFICE_TZ, seconds=True)
    except ValueError:
        return ""


def _zone(lg: Lang) -> str:
    """The column label of times: 时间（北京时间）."""
    return lg.t("time_zone", zone=zone_label(OFFICE_TZ, lg.code))


def root_b64(root: bytes) -> str:
    """A tree's root hash as C2SP tlog-checkpoint writes it (standard base64)."""
    return base64.b64encode(root).decode("ascii")


def _key_entries(info: LogInfo) -> list[dict[str, Any]]:
    """The log's ``log.created``, ``log.key_added`` and ``log.sm2_key_added`` (the 国密
    option) entries, in log order."""
    out = []
    for found in entries_of_types(store().engine, info.id,
                                  (LOG_CREATED.name, LOG_KEY_ADDED.name,
                                   LOG_SM2_KEY_ADDED.name)):
        try:
            e = json.loads(found.data)
            body = e.get("body", {})
            out.append({"index": found.index, "type": e.get("type", ""),
                        "time": _entry_time(str(e.get("time", ""))),
                        "key": body.get("verifier_key", ""),
                        "reason": body.get("reason", ""),
                        "previous": body.get("previous_key_id", "")})
        except (ValueError, AttributeError):
            out.append({"index": found.index, "type": "?", "time": "", "key": "", "reason": "",
                        "previous": ""})
    return out


def _own_keys(info: LogInfo) -> set[tuple[str, int]]:
    own = set()
    for vkey in (*info.verifier_keys, *info.sm2_verifier_keys):  # an SM2 line is the log's
        try:
            v = parse_verifier(vkey)
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
    finished = job.state != "running"
    if finished:  # a finished run says so, not the phase it was last in
        phase = lg.t("phase_done" if job.state == "done" else "phase_failed")
    else:
        phase = lg.t("phase_export" if job.phase == "export" else "phase_verify")
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
                    "root": root_b64(cp.root)} for cp in shown]
    job = None
    job_id = request.args.get("job", "")
    if job_id:
        found = jobs().get(job_id)
        if found is not None and found.log == name:
            job = _job_view(found, lg)
    return console.page(
        "console_audit_log.html", lg=lg, zone=_zone(lg), key_types=KEY_TYPES, info=info,
        size=store().head(name).size,
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


def export_readme(name: str, origin: str, size: int, site: str) -> str:
    """The ``README.txt`` of an export zip (Chinese, then English): how to verify the
    export offline, and where to get the verifier keys independently of the zip."""
    return f"""Absentia 账本导出包：{name}（来源标识 {origin}，{size:,} 个条目）
================================================================

一、内容
  {name}/checkpoint        最新检查点（C2SP tlog-checkpoint，签名文本；根哈希为 base64）
  {name}/tile/...          默克尔树瓦片与条目瓦片（C2SP tlog-tiles）
  {name}/keys              本账本的验证密钥（仅供对照，请勿只信任这份文件）

二、离线核验
  1. 解压本文件。
  2. 从独立渠道取得验证密钥（不要只用压缩包里的 keys 文件：伪造的导出包可以附带伪造的密钥）：
     - 本单位公开首页 {site} 的“验证密钥”一栏；
     - 公开接口 {site}logs/{name} （verifier_keys）；
     - 已发布的结果公示（{site}notices）上登载的验证密钥，以及纸质或正式公告中的密钥。
  3. 运行（可在不联网的电脑上）：
       absentia verify {name} --key '验证密钥'
     若配置了见证方，另加 --witness '见证方密钥' --witnesses-required N（见证方密钥见公开首页），
     或按见证策略文件核验：--policy policy.txt（见证策略见 {site}logs/{name}/policy）。
  4. 命令以退出码 0 结束并列出条目数即为通过；任何被改动、删除或重排的条目都会报出第一个出错的序号。
  也可以用 keys 文件核验（absentia verify {name} --keys {name}/keys），但只有当其中的密钥与
  独立取得的密钥逐字相同时，结论才可靠。

Absentia ledger export: {name} (origin {origin}, {size:,} entries)
================================================================

1. Contents
  {name}/checkpoint        the latest checkpoint (C2SP tlog-checkpoint, a signed note; the
                           root hash is base64)
  {name}/tile/...          Merkle tree tiles and entry bundles (C2SP tlog-tiles)
  {name}/keys              this log's verifier keys (for comparison only: do not trust
                           this file alone)

2. Verifying offline
  1. Unzip this file.
  2. Get the verifier keys independently (not only from the keys file in this zip: a forged
     export can carry forged keys):
     - the "Verifier keys" column of the public home page {site};
     - the public API {site}logs/{name} (verifier_keys);
     - the verifier key printed on the published result notices ({site}notices), or in the
       official paper announcement.
  3. Run (on a computer with no network, if you like):
       absentia verify {name} --key 'VERIFIER-KEY'
     With witnesses, add --witness 'WITNESS-KEY' --witnesses-required N (the witnesses'
     keys are on the public home page), or check against the witness policy file:
     --policy policy.txt (the policy is at {site}logs/{name}/policy).
  4. Exit status 0 with the entry count means it passed; an entry changed, removed or
     reordered is reported with the first bad index (exit status not 0).
  The keys file works too (absentia verify {name} --keys {name}/keys), but the result means
  something only if its keys are character for character the ones you got independently.
"""


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
            zf.writestr("README.txt", export_readme(name, _log(name).origin, result.size,
                                                    request.host_url))
            for path in sorted(out.rglob("*")):
                if path.is_file():
                    zf.write(path, f"{name}/{path.relative_to(out).as_posix()}")
        handle = archive.open("rb")  # the open file outlives its directory's removal
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return send_file(handle, mimetype="application/zip", as_attachment=True,
                     download_name=f"{name}-export.zip")


def _who(actor: str, lg: Lang, logins: dict[str, str]) -> dict[str, str]:
    """An access row's actor (``hr:u_…``) as a person reads it: login name and role."""
    role, _, user = actor.partition(":")
    if role == "platform":
        return {"login": "", "role": lg.t("role_platform"), "actor": actor}
    if user not in logins:
        try:
            logins[user] = console.accounts().account(user).login
        except NotFound:
            logins[user] = ""
    return {"login": logins[user] or lg.t("unknown_user"),
            "role": lg.of(console.ROLES, role) if role in console.ROLES
            else lg.t("role_unknown"), "actor": actor}


def _access_row(row: dict[str, Any], lg: Lang, logins: dict[str, str]) -> dict[str, Any]:
    return {**row, "who": _who(str(row["actor"]), lg, logins),
            "at": _entry_time(str(row["at"])),
            "purpose": lg.of(PURPOSES, row["purpose"]), "purpose_code": row["purpose"],
            "fields": [lg.of(FIELDS, f) for f in row["fields"]]}


@bp.get("/access")
@auditor_page
def access() -> Response:
    """The access trail, filtered by subject id and (or) registration number."""
    lg = lang()
    subject = request.args.get("subject", "").strip()[:MAX_SUBJECT]
    registration = request.args.get("registration", "").strip()[:MAX_SUBJECT]
    page_n = _page_number()
    rows = service().access_log(subject or None, limit=page_n * PER_PAGE + 1,
                                registration=registration or None)
    logins: dict[str, str] = {}
    shown = [_access_row(r, lg, logins)
             for r in rows[(page_n - 1) * PER_PAGE : page_n * PER_PAGE]]
    return console.page("console_audit_access.html", lg=lg, zone=_zone(lg), rows=shown,
                        subject=subject, registration=registration, page_n=page_n,
                        more=len(rows) > page_n * PER_PAGE)
