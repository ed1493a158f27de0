"""The log's side of witnessing: push checkpoints, keep cosignatures, apply k-of-n.

``[[witnesses]]`` in config.toml names each witness (its cosigner name, submission URL
prefix and ``vkey``); ``[witness_policy]`` says how many cosignatures publishing needs
(``required``, default 0: publish without waiting) and how long to wait (``timeout_s``).
Instead of both, ``[witness_policy] file`` names a C2SP tlog-policy file (its witnesses,
each with its submission URL, and its quorum of groups): publishing then waits until the
cosignatures satisfy that quorum.  Either way the settings carry one ``Policy``
(``WitnessSettings.tlog_policy``: k-of-n is ``from_k_of_n``).

For a checkpoint, ``push_checkpoint`` asks every witness in parallel (C2SP tlog-witness
``add-checkpoint``) with ``old`` = the size that witness last cosigned for this log (from
``ledger_cosignatures``); on a 409 it retries once from the size the witness reports.
Each returned cosignature is verified with the witness's configured key before it is
stored.  ``cosigned_note`` appends the stored cosignatures over exactly a checkpoint's
body to its signed note.
"""

from __future__ import annotations

import logging
import time
import urllib.error
import urllib.request
from collections.abc import Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from ledger import jsonread
from ledger.config import Settings
from ledger.errors import BadData, CouldNotCheck, LedgerError
from ledger.note import SignedNote
from ledger.storage.store import LedgerStore, StoredCheckpoint
from ledger.storage.tables import cosignatures, witness_pushes
from ledger.tlog_policy import Policy, Witness, from_k_of_n, parse_bytes
from ledger.witness.cosig import CosignatureV1Verifier, parse_signature_lines
from ledger.witness.protocol import SIZE_MEDIA_TYPE, AddCheckpoint, parse_size_body

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT_S = 10.0
#: A witness that missed a checkpoint is asked again at most this often by the scheduler.
DEFAULT_RETRY_S = 30.0


# -- configuration --------------------------------------------------------------------------

@dataclass(frozen=True)
class WitnessEndpoint:
    """A witness the log asks: its cosigner name, submission URL prefix and key."""

    name: str
    url: str
    verifier: CosignatureV1Verifier


@dataclass(frozen=True)
class WitnessPolicy:
    required: int = 0
    timeout_s: float = DEFAULT_TIMEOUT_S
    retry_s: float = DEFAULT_RETRY_S


@dataclass(frozen=True)
class WitnessSettings:
    """The witnesses the log asks (``name`` is each one's cosigner key name) and the
    policy publishing waits for: ``quorum``, a tlog-policy file's, or when None the
    k-of-n of ``policy.required`` (then ``policy.required`` is k; with a file it is the
    fewest cosignatures that can satisfy the quorum)."""

    witnesses: tuple[WitnessEndpoint, ...] = ()
    policy: WitnessPolicy = field(default_factory=WitnessPolicy)
    quorum: Policy | None = None
    #: The policy file's text as read (served at /logs/<name>/policy), when there is one.
    policy_text: bytes | None = None

    def tlog_policy(self) -> Policy:
        """The witness policy as a C2SP tlog-policy (k-of-n: one group of them all).

        Raises:
            BadData: the configured witnesses do not make a policy (duplicate keys).
        """
        if self.quorum is not None:
            return self.quorum
        return from_k_of_n([Witness(w.name, w.verifier.vkey, w.url) for w in self.witnesses],
                           self.policy.required)

    def satisfied(self, cosigned: Collection[str]) -> bool:
        """Whether cosignatures by the witnesses of these key names meet the policy."""
        policy = self.tlog_policy()
        by_key = {CosignatureV1Verifier.from_vkey(w.vkey).name: name
                  for name, w in policy.witnesses.items()}
        return policy.satisfied({by_key[n] for n in cosigned if n in by_key})


def _policy_file(raw: dict[str, Any], base_dir: Path | None, timeout: float,
                 retry: float) -> WitnessSettings:
    value = raw["file"]
    where = "witness_policy.file"
    if not isinstance(value, str) or not value:
        raise BadData(f"config {where}: the path of a C2SP tlog-policy file", field=where)
    path = Path(value)
    if not path.is_absolute() and base_dir is not None:
        path = base_dir / path
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise BadData(f"config {where}: cannot read {path}: {exc}", field=where) from exc
    try:
        quorum = parse_bytes(text)
    except BadData as exc:
        raise BadData(f"config {where} ({path}): {exc}", field=where) from exc
    out: list[WitnessEndpoint] = []
    for name, w in quorum.witnesses.items():
        if w.url is None or not w.url.startswith(("http://", "https://")):
            raise BadData(f"config {where} ({path}): witness {name!r} needs its tlog-witness "
                          f"submission URL (http or https) after its key; the log pushes "
                          f"checkpoints to <url>/add-checkpoint", field=where)
        verifier = CosignatureV1Verifier.from_vkey(w.vkey)
        if any(e.name == verifier.name for e in out):
            raise BadData(f"config {where} ({path}): two witnesses have the key name "
                          f"{verifier.name!r}", field=where)
        out.append(WitnessEndpoint(verifier.name, w.url.rstrip("/"), verifier))
    return WitnessSettings(tuple(out), WitnessPolicy(quorum.min_witnesses(), timeout, retry),
                           quorum, text)


def parse_witness_settings(witnesses: Any, policy: Any, *,
                           base_dir: Path | None = None) -> WitnessSettings:
    """Typed witness settings from the raw ``[[witnesses]]`` and ``[witness_policy]``
    (whose ``file``, a C2SP tlog-policy, relative to ``base_dir``, replaces both
    ``[[witnesses]]`` and ``required``).

    Raises:
        BadData: a missing or malformed value, a vkey whose name is not the witness's
            name, more cosignatures required than witnesses configured, or a policy
            file beside ``[[witnesses]]`` or ``required`` (named), unreadable, not a
            tlog-policy (its line named) or with a witness lacking an http(s) URL.
    """
    items = witnesses or []
    if not isinstance(items, list):
        raise BadData("config witnesses: use [[witnesses]] tables", field="witnesses")
    if isinstance(policy, dict) and "file" in policy:
        if items or "required" in policy:
            clash = "[[witnesses]]" if items else "witness_policy.required"
            raise BadData(f"config witness_policy.file and {clash}: give the witnesses and "
                          "the quorum either in the tlog-policy file or as [[witnesses]] "
                          "and witness_policy.required, not both", field="witness_policy.file")
        unknown = set(policy) - {"file", "timeout_s", "retry_s"}
        if unknown:
            raise BadData(f"config witness_policy: unknown key(s) {sorted(unknown)}",
                          field="witness_policy")
        times = parse_witness_settings([], {k: v for k, v in policy.items() if k != "file"})
        return _policy_file(policy, base_dir, times.policy.timeout_s, times.policy.retry_s)
    out = []
    for i, item in enumerate(items):
        where = f"witnesses[{i}]"
        if not isinstance(item, dict):
            raise BadData(f"config {where}: a table with name, url and vkey", field=where)
        url, vkey = item.get("url"), item.get("vkey")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise BadData(f"config {where}.url: an http(s) URL prefix, got {url!r}",
                          field=f"{where}.url")
        if not isinstance(vkey, str):
            raise BadData(f"config {where}.vkey: the witness's verifier key (name+id+key)",
                          field=f"{where}.vkey")
        verifier = CosignatureV1Verifier.from_vkey(vkey)
        name = item.get("name", verifier.name)
        if name != verifier.name:
            raise BadData(f"config {where}.name {name!r} is not the name in its vkey "
                          f"({verifier.name!r})", field=f"{where}.name")
        out.append(WitnessEndpoint(name, url.rstrip("/"), verifier))
    if len({w.name for w in out}) != len(out):
        raise BadData("config witnesses: two witnesses have the same name", field="witnesses")
    raw = policy or {}
    if not isinstance(raw, dict):
        raise BadData("config witness_policy: a table", field="witness_policy")
    required = raw.get("required", 0)
    timeout = raw.get("timeout_s", DEFAULT_TIMEOUT_S)
    retry = raw.get("retry_s", DEFAULT_RETRY_S)
    if not isinstance(required, int) or isinstance(required, bool) or \
            not 0 <= required <= len(out):
        raise BadData(f"config witness_policy.required: 0..{len(out)} (the number of "
                      f"[[witnesses]]), got {required!r}", field="witness_policy.required")
    for key, value in (("timeout_s", timeout), ("retry_s", retry)):
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise BadData(f"config witness_policy.{key}: a positive number of seconds",
                          field=f"witness_policy.{key}")
    ws = WitnessSettings(tuple(out), WitnessPolicy(required, float(timeout), float(retry)))
    try:
        ws.tlog_policy()  # the same checks as a policy file's: two witnesses, one key
    except BadData as exc:
        raise BadData(f"config witnesses: {exc}", field="witnesses") from exc
    return ws


def load_witness_settings(settings: Settings) -> WitnessSettings:
    """The witness settings of the config file ``settings`` came from.

    Raises:
        BadData: see ``parse_witness_settings``.
    """
    return parse_witness_settings(
        settings.tables.get("witnesses"), settings.tables.get("witness_policy"),
        base_dir=settings.config_path.parent if settings.config_path is not None else None)


# -- what is stored ---------------------------------------------------------------------------

@dataclass(frozen=True)
class WitnessState:
    """How far a witness has cosigned a log, and what went wrong last time."""

    name: str
    cosigned_size: int
    cosigned_at: datetime | None
    last_error: str | None


def _latest_cosigned(store: LedgerStore, log_id: int, witness: str) -> tuple[int, int] | None:
    """(size, timestamp) of the largest checkpoint ``witness`` cosigned, if any."""
    with store.engine.connect() as conn:
        row = conn.execute(
            select(cosignatures.c.size, cosignatures.c.cosigned_at)
            .where(cosignatures.c.log_id == log_id, cosignatures.c.witness == witness)
            .order_by(cosignatures.c.size.desc(), cosignatures.c.cosigned_at.desc()).limit(1)
        ).first()
    return None if row is None else (int(row.size), int(row.cosigned_at))


def witness_status(store: LedgerStore, log_name: str, now: datetime,
                   witnesses: Sequence[WitnessEndpoint] | None = None) -> list[WitnessState]:
    """Each witness's cosigned size for ``log_name`` (the configured ``witnesses``, or
    every witness the log has pushed to), with its last error.

    Raises:
        NotFound: no such log.
    """
    del now  # the state is as stored; the caller compares it with its own clock
    info = store.log(log_name)
    with store.engine.connect() as conn:
        errors = {r.witness: r.last_error for r in conn.execute(
            select(witness_pushes.c.witness, witness_pushes.c.last_error)
            .where(witness_pushes.c.log_id == info.id))}
        seen = conn.execute(select(cosignatures.c.witness).distinct()
                            .where(cosignatures.c.log_id == info.id)).scalars().all()
    names = [w.name for w in witnesses] if witnesses is not None \
        else sorted(set(errors) | set(seen))
    out = []
    for name in names:
        got = _latest_cosigned(store, info.id, name)
        out.append(WitnessState(
            name, got[0] if got else 0,
            datetime.fromtimestamp(got[1], UTC) if got else None, errors.get(name)))
    return out


def cosignature_lines(store: LedgerStore, log_name: str, cp: StoredCheckpoint) -> list[str]:
    """The stored cosignature lines over exactly ``cp``'s body (size and root), one per
    witness key (the newest)."""
    info = store.log(log_name)
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(cosignatures.c.witness, cosignatures.c.key_id, cosignatures.c.line)
            .where(cosignatures.c.log_id == info.id, cosignatures.c.size == cp.size,
                   cosignatures.c.root == cp.root)
            .order_by(cosignatures.c.witness, cosignatures.c.cosigned_at)).all()
    lines: dict[tuple[str, str], str] = {}
    for r in rows:
        lines[(r.witness, r.key_id)] = r.line
    return list(lines.values())


@dataclass(frozen=True)
class StoredCosignature:
    size: int
    witness: str
    key_id: str
    cosigned_at: int  # POSIX seconds


def stored_cosignatures(store: LedgerStore, log_name: str, *, limit: int = 200
                        ) -> list[StoredCosignature]:
    """The cosignatures the log received, newest checkpoint first (at most ``limit``).

    Raises:
        NotFound: no such log.
    """
    info = store.log(log_name)
    with store.engine.connect() as conn:
        rows = conn.execute(
            select(cosignatures.c.size, cosignatures.c.witness, cosignatures.c.key_id,
                   cosignatures.c.cosigned_at)
            .where(cosignatures.c.log_id == info.id)
            .order_by(cosignatures.c.size.desc(), cosignatures.c.witness).limit(limit)).all()
    return [StoredCosignature(int(r.size), r.witness, r.key_id, int(r.cosigned_at))
            for r in rows]


def cosigned_note(store: LedgerStore, log_name: str, cp: StoredCheckpoint | None = None) -> str:
    """The checkpoint ``cp`` (default: the latest) with its cosignatures appended: a
    C2SP signed note whose extra lines verifiers without witness keys ignore.

    Raises:
        NotFound: no such log or no checkpoint.
    """
    cp = cp if cp is not None else store.latest_checkpoint(log_name)
    return cp.note + "".join(cosignature_lines(store, log_name, cp))


def _record(store: LedgerStore, log_id: int, witness: str, now: datetime,
            error: str | None) -> None:
    now_ms = int(now.timestamp() * 1000)
    with store.write() as conn:
        done = conn.execute(update(witness_pushes).where(
            witness_pushes.c.log_id == log_id, witness_pushes.c.witness == witness)
            .values(attempted_at_ms=now_ms, last_error=error))
        if done.rowcount == 0:
            try:
                with conn.begin_nested():
                    conn.execute(insert(witness_pushes).values(
                        log_id=log_id, witness=witness, attempted_at_ms=now_ms,
                        last_error=error))
            except IntegrityError:
                pass  # another pusher recorded it first


def _store_cosignature(store: LedgerStore, log_id: int, cp: StoredCheckpoint, witness: str,
                       key_id: int, timestamp: int, line: str, now: datetime) -> None:
    try:
        with store.write() as conn:
            conn.execute(insert(cosignatures).values(
                log_id=log_id, size=cp.size, root=cp.root, witness=witness,
                key_id=f"{key_id:08x}", cosigned_at=timestamp, line=line,
                received_at_ms=int(now.timestamp() * 1000)))
    except IntegrityError:
        pass  # this witness's cosignature of this size is stored already (another push)


# -- pushing ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PushResult:
    """What one witness answered for one checkpoint."""

    witness: str
    ok: bool
    error: str | None = None


class _Answer:
    def __init__(self, status: int, content_type: str, body: bytes) -> None:
        self.status = status
        self.content_type = content_type.split(";")[0].strip().lower()
        self.body = body

    def problem(self) -> str:
        if self.content_type == "application/problem+json":
            try:
                detail = jsonread.read(self.body, field="reply").get("detail")
                if isinstance(detail, str):
                    return detail
            except (BadData, AttributeError):
                pass
        return self.body[:200].decode("utf-8", errors="replace").strip()


def _post(url: str, body: bytes, timeout_s: float) -> _Answer:
    # The URL's scheme is http(s), checked when the config was parsed.
    req = urllib.request.Request(url + "/add-checkpoint", data=body, method="POST",  # noqa: S310
                                 headers={"Content-Type": "text/plain; charset=utf-8"})
    try:
        with urllib.request.urlopen(req, timeout=timeout_s) as resp:  # noqa: S310
            return _Answer(resp.status, resp.headers.get("Content-Type", ""), resp.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return _Answer(exc.code, exc.headers.get("Content-Type", ""), exc.read())


def _push_one(store: LedgerStore, log_name: str, w: WitnessEndpoint, cp: StoredCheckpoint,
              now: datetime, deadline: float) -> PushResult:
    info = store.log(log_name)
    have = cosignature_lines(store, log_name, cp)
    if any(line.startswith(f"— {w.name} ") for line in have):
        return PushResult(w.name, True)
    latest = _latest_cosigned(store, info.id, w.name)
    old = latest[0] if latest is not None else 0
    if old > cp.size:
        return PushResult(w.name, False, f"the witness already cosigned size {old}, larger "
                                         f"than this checkpoint ({cp.size})")
    try:
        for attempt in (1, 2):
            proof = store.consistency_proof(log_name, old, cp.size) if 0 < old < cp.size \
                else []
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no time left")
            answer = _post(w.url, AddCheckpoint(old, tuple(proof), cp.note).to_bytes(), left)
            if answer.status == 409 and answer.content_type == SIZE_MEDIA_TYPE and attempt == 1:
                theirs = parse_size_body(answer.body)
                if theirs > cp.size:
                    return PushResult(w.name, False, f"the witness has size {theirs}, larger "
                                                     f"than this checkpoint ({cp.size})")
                old = theirs  # prove consistency from the witness's own size and retry
                continue
            if answer.status != 200:
                return PushResult(w.name, False, f"HTTP {answer.status}: {answer.problem()}")
            lines = parse_signature_lines(answer.body.decode("utf-8"))
            body = SignedNote.parse(cp.note).text.encode("utf-8")
            good = 0
            for sig in lines:
                if (sig.name, sig.key_id) != (w.verifier.name, w.verifier.key_id):
                    continue  # tlog-witness: ignore cosignatures from unknown keys
                if not w.verifier.verify(body, sig.signature):
                    return PushResult(w.name, False, "the witness's cosignature does not "
                                                     "verify with its configured key")
                timestamp = int.from_bytes(sig.signature[:8], "big")
                _store_cosignature(store, info.id, cp, w.name, sig.key_id, timestamp,
                                   sig.line(), now)
                good += 1
            if not good:
                return PushResult(w.name, False, "the answer holds no cosignature by the "
                                                 "configured key")
            return PushResult(w.name, True)
        return PushResult(w.name, False, "the witness's size changed again (409 twice)")
    except (OSError, TimeoutError) as exc:  # refused, reset, DNS, timeout (URLError too)
        reason = getattr(exc, "reason", exc)
        return PushResult(w.name, False, f"no answer from {w.url}: {reason}")
    except (LedgerError, UnicodeDecodeError) as exc:
        return PushResult(w.name, False, f"bad answer from {w.url}: {exc}")


@dataclass(frozen=True)
class WitnessProbe:
    """What a witness has seen of a log, compared with a checkpoint of size ``size``.

    ``state``: ``same`` (it cosigned this very tree), ``behind`` (it saw less: ``seen``),
    ``ahead`` (it cosigned a larger tree: ``seen``; going back to ``size`` would be a
    rollback), ``other_root`` (it cosigned another tree of the same size), ``unknown_log``
    (it does not witness this origin) or ``unreachable`` (no usable answer: ``detail``).
    """

    witness: str
    state: str
    seen: int | None = None
    detail: str = ""


def probe_witness(w: WitnessEndpoint, note: str, size: int, timeout_s: float
                  ) -> WitnessProbe:
    """Ask ``w`` where it stands on the log of the signed checkpoint ``note``, through the
    standard request only: ``add-checkpoint`` with ``old`` = the checkpoint's own size and
    no proof.  A witness at that size with that root cosigns it again (no state change);
    at another size it answers 409 with its size (C2SP tlog-witness); a witness never
    moves on such a request.
    """
    try:
        answer = _post(w.url, AddCheckpoint(size, (), note).to_bytes(), timeout_s)
    except (OSError, TimeoutError) as exc:
        return WitnessProbe(w.name, "unreachable", detail=f"no answer from {w.url}: "
                                                          f"{getattr(exc, 'reason', exc)}")
    if answer.status == 200:
        return WitnessProbe(w.name, "same", size)
    if answer.status == 409 and answer.content_type == SIZE_MEDIA_TYPE:
        try:
            seen = parse_size_body(answer.body)
        except LedgerError as exc:
            return WitnessProbe(w.name, "unreachable", detail=f"bad size body: {exc}")
        return WitnessProbe(w.name, "ahead" if seen > size else "behind", seen)
    if answer.status == 409:
        return WitnessProbe(w.name, "other_root", size, answer.problem())
    if answer.status == 404:
        return WitnessProbe(w.name, "unknown_log", detail=answer.problem())
    return WitnessProbe(w.name, "unreachable", detail=f"HTTP {answer.status}: "
                                                      f"{answer.problem()}")


def push_checkpoint(store: LedgerStore, log_name: str, witnesses: Sequence[WitnessEndpoint],
                    cp: StoredCheckpoint, now: datetime, *,
                    timeout_s: float = DEFAULT_TIMEOUT_S) -> list[PushResult]:
    """Ask every witness, in parallel, to cosign ``cp``; store what they return.

    Never raises for a witness's fault: each result says what went wrong, and the last
    error is kept for ``witness_status``.
    """
    if not witnesses:
        return []
    info = store.log(log_name)
    deadline = time.monotonic() + timeout_s
    with ThreadPoolExecutor(max_workers=len(witnesses)) as pool:
        futures = [pool.submit(_push_one, store, log_name, w, cp, now, deadline)
                   for w in witnesses]
        results = [f.result() for f in futures]
    for r in results:
        _record(store, info.id, r.witness, now, r.error)
        if r.error:
            log.warning("witness %s did not cosign %s size %d: %s", r.witness, log_name,
                        cp.size, r.error)
    return results


def push_due(store: LedgerStore, log_name: str, ws: WitnessSettings, cp: StoredCheckpoint,
             now: datetime, *, grew: bool) -> list[PushResult]:
    """The scheduler's push: to every witness if the checkpoint grew, otherwise only to
    witnesses that lack it and were last asked more than ``retry_s`` ago."""
    if not ws.witnesses:
        return []
    if grew:
        due = list(ws.witnesses)
    else:
        info = store.log(log_name)
        have = cosignature_lines(store, log_name, cp)
        with store.engine.connect() as conn:
            last = dict(conn.execute(select(witness_pushes.c.witness,
                                            witness_pushes.c.attempted_at_ms)
                                     .where(witness_pushes.c.log_id == info.id)).all())
        now_ms = int(now.timestamp() * 1000)
        due = [w for w in ws.witnesses
               if not any(line.startswith(f"— {w.name} ") for line in have)
               and not 0 <= now_ms - last.get(w.name, -10**15) < ws.policy.retry_s * 1000]
    return push_checkpoint(store, log_name, due, cp, now, timeout_s=ws.policy.timeout_s)


# -- the k-of-n policy --------------------------------------------------------------------------

@dataclass(frozen=True)
class CosignStatus:
    """A checkpoint and how many witnesses cosigned it, against the policy."""

    checkpoint: StoredCheckpoint
    note: str  # the signed checkpoint with its cosignatures
    required: int  # k, or the fewest cosignatures that can satisfy a policy's quorum
    cosigned: tuple[str, ...]
    failed: dict[str, str]  # witness -> why it did not cosign
    satisfied: bool | None = None  # the policy's quorum met (None: count against k)
    quorum: str | None = None  # a policy file's quorum name, for messages

    @property
    def ok(self) -> bool:
        if self.satisfied is not None:
            return self.satisfied
        return len(self.cosigned) >= self.required

    def describe(self) -> str:
        parts = [f"checkpoint {self.checkpoint.size}: {len(self.cosigned)} of "
                 f"{self.required} required witness cosignatures"]
        if self.quorum is not None:
            parts[0] += (f" (the policy's quorum {self.quorum!r} is "
                         f"{'' if self.ok else 'not '}satisfied)")
        if self.cosigned:
            parts.append("cosigned by " + ", ".join(self.cosigned))
        if self.failed:
            parts.append("no cosignature from " + "; ".join(
                f"{name} ({why})" for name, why in sorted(self.failed.items())))
        return "; ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return {"checkpoint_size": self.checkpoint.size, "required": self.required,
                "quorum": self.quorum, "satisfied": self.ok,
                "cosigned": list(self.cosigned),
                "failed": [{"witness": k, "error": v} for k, v in sorted(self.failed.items())]}


class WitnessQuorumUnavailable(CouldNotCheck):
    """Fewer witnesses than the policy requires cosigned in time (HTTP 503)."""

    def __init__(self, status: CosignStatus, retry_after_s: int) -> None:
        super().__init__(f"publishing refused: {status.describe()}. Nothing was published; "
                         f"retry in {retry_after_s} s or check the witnesses",
                         field="witnesses")
        self.status = status
        self.retry_after_s = retry_after_s


def require_cosigned(store: LedgerStore, log_name: str, ws: WitnessSettings | None,
                     now: datetime) -> CosignStatus:
    """Sign a checkpoint of everything appended so far and, under a k-of-n policy, get
    it cosigned by at least k witnesses (asking them in parallel, up to ``timeout_s``);
    under a tlog-policy file, by witnesses that satisfy its quorum.

    With no policy (``required`` 0, or ``quorum none``) nothing is asked: the checkpoint
    is returned with whatever cosignatures it already has.

    Raises:
        WitnessQuorumUnavailable: fewer than k witnesses cosigned in time, or those
            that did do not satisfy the policy's quorum.
        NotFound: no such log.  CouldNotCheck: the log's key cannot be used.
    """
    cp = store.sign_checkpoint(log_name, now)
    ws = ws or WitnessSettings()
    failed: dict[str, str] = {}
    if ws.tlog_policy().needs_witnesses():
        for r in push_checkpoint(store, log_name, ws.witnesses, cp, now,
                                 timeout_s=ws.policy.timeout_s):
            if not r.ok:
                failed[r.witness] = r.error or "failed"
    # Each stored line is verified again with the witness's configured key before it
    # counts or is embedded: a row altered in the database must not reach the public.
    body = SignedNote.parse(cp.note).text.encode("utf-8")
    lines = []
    stored = "".join(cosignature_lines(store, log_name, cp))
    for sig in parse_signature_lines(stored) if stored else []:
        w = next((w for w in ws.witnesses
                  if (w.verifier.name, w.verifier.key_id) == (sig.name, sig.key_id)), None)
        if w is not None and not w.verifier.verify(body, sig.signature):
            log.error("a stored cosignature of %s by %s does not verify with its "
                      "configured key; it is left out", log_name, w.name)
            failed[w.name] = ("its stored cosignature does not verify with the configured "
                              "key (was the database altered?)")
            continue
        lines.append(sig.line())
    names = {w.name for w in ws.witnesses}
    cosigned = tuple(sorted(n for n in names
                            if any(line.startswith(f"— {n} ") for line in lines)))
    status = CosignStatus(cp, cp.note + "".join(lines), ws.policy.required, cosigned,
                          {k: v for k, v in failed.items() if k not in cosigned},
                          ws.satisfied(cosigned) if ws.quorum is not None else None,
                          ws.quorum.quorum if ws.quorum is not None else None)
    if not status.ok:
        raise WitnessQuorumUnavailable(status, max(1, int(ws.policy.timeout_s)))
    return status
