"""Operations endpoints: ``/readyz`` (may this host take traffic?) and ``/metrics``.

``/healthz`` (in ``ledger.app.web``) only says the process answers.  ``/readyz`` checks
what a request needs: the database answers, its schema is this release's (or a newer
one's, during a rolling upgrade), every configured log exists and its signing key
loads.  A load balancer sends traffic only to hosts that answer 200.

``/metrics`` is the Prometheus text format, computed from the database at scrape time:
every worker of every host reports the same figures, so one scrape of any host (or of
all, behind the load balancer) tells the truth, and no per-process state needs
aggregating.  It is public unless ``[metrics] token_file`` names a file whose content
is then required as ``Authorization: Bearer <token>``: the figures are counts and
ages, never personal data, and the log sizes are public anyway.

Every request gets an id (``X-Request-Id``: the client's if it is a short token, else
a new one), echoed in the response and carried by every log line of the request.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, request
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ledger.absence.queries import ops as absence_ops
from ledger.absence.settings import load_absence_settings
from ledger.absence.vault_token import token_master_key
from ledger.app.web.credentials import bearer_token
from ledger.app.web.problems import logged_route, problem
from ledger.config import Settings
from ledger.errors import LedgerError, NotFound
from ledger.hsm import Hsm
from ledger.keys import KeyDirectory
from ledger.storage import LedgerStore, status
from ledger.witness.client import witness_status

log = logging.getLogger(__name__)
access_log = logging.getLogger("ledger.app.web.access")

bp = Blueprint("ops", __name__)

#: A client's request id is kept if it is this kind of token (else a new one is made).
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"
#: Request methods logged as sent (RFC 9110 §9 and PATCH); any other token is "<other>".
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS",
                      "TRACE", "PATCH"})


# -- request ids and the request log -------------------------------------------------

def init_app(app: Flask) -> None:
    """Request ids on every request, and one INFO line per request (its route)."""

    @app.before_request
    def _request_id() -> None:
        given = request.headers.get("X-Request-Id", "")
        g.request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        g.request_started = time.monotonic()

    @app.after_request
    def _log_request(resp: Response) -> Response:
        rid = g.get("request_id")
        if rid:
            resp.headers["X-Request-Id"] = rid
        if access_log.isEnabledFor(logging.INFO):
            started = g.get("request_started")
            ms = (time.monotonic() - started) * 1000 if started is not None else 0.0
            # The route, not the path (nor its query): either may carry personal data.
            route = logged_route()
            method = request.method if request.method in _METHODS else "<other>"
            access_log.info("%s %s %d %.1f ms", method, route, resp.status_code, ms,
                            extra={"http_method": method, "route": route,
                                   "status": resp.status_code, "duration_ms": round(ms, 1)})
        return resp


# -- readiness ----------------------------------------------------------------------

@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


def readiness(store: LedgerStore, settings: Settings | None) -> list[Check]:
    """The checks of ``/readyz``, in order; a failed database check skips the rest."""
    out: list[Check] = []
    try:
        status.ping(store.engine)
        out.append(Check("database", True, f"{store.engine.dialect.name} answers"))
        state = status.schema(store.engine)
        current, head = state.current, state.head
        if current == head:
            out.append(Check("schema", True, f"at {head}"))
        elif state.usable:
            out.append(Check("schema", True, f"at {current}, newer than this release's "
                             f"{head} (a rolling upgrade)"))
        else:
            out.append(Check("schema", False, f"at {current or 'nothing'}, this release "
                             f"needs {head}: run `absentia db upgrade`"))
        wanted = ([lc.name for lc in settings.logs] if settings is not None
                  else status.log_names(store.engine))
        rows = status.log_signing(store.engine, wanted)
    except Exception as exc:  # any failure to read is "not ready"
        out.append(Check("database" if not out else "tables", False, _short(exc)))
        return out
    for name in wanted:
        if name not in rows:
            out.append(Check(f"log {name}", False, "not in the database"))
            continue
        if store.read_only:  # a public process signs nothing: its host needs no key
            out.append(Check(f"log {name}", True, "exists (read-only: signs nothing)"))
            continue
        uri = rows[name].key_uri
        if uri is None:
            out.append(Check(f"log {name}", False, "has no signing key recorded"))
            continue
        try:
            # From the file, not this process's cache: what a restart would find.
            KeyDirectory(store.keys.root, store.keys.tokens).load(uri, rows[name].origin,
                                                                  fresh=True)
        except Exception as exc:  # whatever stops signing stops readiness
            out.append(Check(f"log {name}", False, f"signing key does not load: {exc}"))
        else:
            out.append(Check(f"log {name}", True, "exists; signing key loads"))
    if not store.read_only:  # a public process opens no sealed data: it needs no vault key
        out.extend(_vault_check(settings))
    return out


def _vault_check(settings: Settings | None) -> list[Check]:
    """The vault's master key, when it is in a PKCS#11 token (a key file is checked
    where it is opened, at start-up)."""
    if settings is None or settings.pkcs11 is None:
        return []
    try:
        uri = load_absence_settings(settings).master_key_uri
    except LedgerError:
        return []  # no absence domain configured
    if uri is None:
        return []
    try:
        token_master_key(uri, Hsm(settings.pkcs11))
    except Exception as exc:  # whatever stops sealing stops readiness
        return [Check("vault", False, f"master key does not load: {exc}")]
    return [Check("vault", True, "master key in the token answers")]


def _short(exc: BaseException) -> str:
    """An exception as one short line (no statement text: it may hold parameters)."""
    orig = getattr(exc, "orig", None)
    first = str(orig if orig is not None else exc).strip().splitlines()
    return f"{type(exc).__name__}: {first[0][:200] if first else ''}"


@bp.get("/readyz")
def readyz() -> Response:
    store: LedgerStore = current_app.extensions["absentia.store"]
    settings: Settings | None = current_app.extensions.get("absentia.settings")
    checks = readiness(store, settings)
    body = {c.name: {"ok": c.ok, "detail": c.detail} for c in checks}
    failed = [c for c in checks if not c.ok]
    if failed:
        return problem("unavailable",
                       "not ready: " + "; ".join(f"{c.name}: {c.detail}" for c in failed),
                       checks=body)
    return Response(json.dumps({"status": "ready", "checks": body}, ensure_ascii=False),
                    mimetype="application/json", headers={"Cache-Control": "no-store"})


# -- metrics ------------------------------------------------------------------------

class LedgerCollector(Collector):
    """Reads every figure from the database when scraped (``now`` from ``clock``)."""

    def __init__(self, store: LedgerStore, absence: Any = None,
                 clock: Any = lambda: datetime.now(UTC), witnesses: Any = None) -> None:
        self.store = store
        self.absence = absence
        self.clock = clock
        self.witnesses = witnesses

    def collect(self) -> Iterator[Metric]:
        now = self.clock()
        yield from ledger_metrics(self.store, now)
        if self.absence is not None:
            yield from absence_metrics(self.absence, now)
        yield from witness_metrics(self.store, now, self.witnesses)
        yield from clock_metrics(self.store, now)


def clock_metrics(store: LedgerStore, now: datetime) -> Iterable[Metric]:
    """PostgreSQL: how far this host's clock is from the database server's (positive:
    ahead).  The scheduler's jobs pause beyond ``[scheduler] max_clock_skew_s``
    (``ledger.storage.clockguard``); alert on it before they do.  Nothing on SQLite, which has
    no clock of its own.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database cannot be read.
    """
    server = status.database_clock(store.engine)
    if server is None:
        return []
    skew = GaugeMetricFamily("absentia_clock_skew_seconds",
                             "This host's clock minus the database server's (seconds).")
    skew.add_metric([], now.timestamp() - server)
    return [skew]


def ledger_metrics(store: LedgerStore, now: datetime) -> Iterable[Metric]:
    """Log sizes and checkpoint ages and sizes, per log.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database cannot be read.
    """
    size = CounterMetricFamily("absentia_log_entries", "Entries in the log (its size); "
                               "rate() of it is the append rate.", labels=["log"])
    age = GaugeMetricFamily("absentia_checkpoint_age_seconds",
                            "Seconds since the log's latest checkpoint was signed.",
                            labels=["log"])
    cp_size = GaugeMetricFamily("absentia_checkpoint_size",
                                "Tree size of the log's latest checkpoint.", labels=["log"])
    unsigned = GaugeMetricFamily("absentia_log_unsigned_entries",
                                 "Entries not yet covered by a signed checkpoint.",
                                 labels=["log"])
    for r in status.log_heads(store.engine):
        size.add_metric([r.name], float(r.size))
        if r.checkpoint_size is not None and r.checkpoint_signed_at_ms is not None:
            age.add_metric([r.name],
                           max(0.0, now.timestamp() - r.checkpoint_signed_at_ms / 1000))
            cp_size.add_metric([r.name], float(r.checkpoint_size))
            unsigned.add_metric([r.name], float(max(0, r.size - r.checkpoint_size)))
        else:
            unsigned.add_metric([r.name], float(r.size))
    return [size, age, cp_size, unsigned]


def absence_metrics(service: Any, now: datetime) -> Iterable[Metric]:
    """The outbox, the sweep, quarantined events, inbound webhooks, alerts, the lease.

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database cannot be read.
    """
    outbox = GaugeMetricFamily("absentia_outbox_notifications",
                               "Notifications by channel and status (pending: the queue).",
                               labels=["channel", "status"])
    overdue = GaugeMetricFamily("absentia_outbox_overdue",
                                "Pending notifications past their policy's notify-by time.",
                                labels=["channel"])
    sweep = GaugeMetricFamily(
        "absentia_sweep_lag_seconds",
        "Now minus the oldest close + grace of a window not yet decided (0: none waits).")
    undecided = GaugeMetricFamily("absentia_sweep_due_windows",
                                  "Windows past close + grace and not yet decided.")
    quarantined = CounterMetricFamily("absentia_quarantined_events",
                                      "Platform events quarantined, by reason.",
                                      labels=["reason"])
    webhooks = CounterMetricFamily("absentia_webhook_deliveries",
                                   "Platform webhook deliveries received (idempotency "
                                   "receipts kept).")
    alerts = GaugeMetricFamily("absentia_alerts", "Anomaly alerts by status.",
                               labels=["status"])
    lease_expiry = GaugeMetricFamily(
        "absentia_scheduler_lease_expires_in_seconds",
        "Seconds until the scheduler lease expires (negative: expired, nobody renews it).",
        labels=["lease", "holder"])
    engine = service.engine
    for o in absence_ops.outbox_tallies(engine):
        outbox.add_metric([o.channel, o.status], float(o.count))
    for t in absence_ops.overdue_by_channel(engine, now):
        overdue.add_metric([t.label], float(t.count))
    lag = 0.0
    due = 0
    for c in absence_ops.campaign_policies(engine):
        try:
            grace = float(service.policy_by_digest(c.policy_digest).grace_s)
        except NotFound:
            grace = 0.0  # its windows wait for the policy to be restored: lag grows
        cutoff = datetime.fromtimestamp(now.timestamp() - grace, UTC)
        backlog = absence_ops.sweep_backlog(engine, c.campaign, cutoff)
        if backlog.oldest_closes_at is not None:
            lag = max(lag, now.timestamp() - (backlog.oldest_closes_at.timestamp() + grace))
            due += backlog.count
    sweep.add_metric([], max(0.0, lag))
    undecided.add_metric([], float(due))
    for t in absence_ops.quarantined_by_reason(engine):
        quarantined.add_metric([t.label], float(t.count))
    webhooks.add_metric([], float(absence_ops.webhook_delivery_count(engine)))
    for t in absence_ops.alerts_by_status(engine):
        alerts.add_metric([t.label], float(t.count))
    for lease in status.scheduler_lease_list(engine):
        lease_expiry.add_metric([lease.name, lease.holder],
                                lease.expires_at_ms / 1000 - now.timestamp())
    return [outbox, overdue, sweep, undecided, quarantined, webhooks, alerts, lease_expiry]


def witness_metrics(store: LedgerStore, now: datetime, witnesses: Any = None
                    ) -> Iterable[Metric]:
    """How far each witness lags behind each log's latest checkpoint
    (``ledger.witness.client.witness_status``).  ``witnesses``: the
    configured ``WitnessSettings`` (else every witness the logs have pushed to).

    Raises:
        sqlalchemy.exc.SQLAlchemyError: the database cannot be read.
    """
    endpoints = getattr(witnesses, "witnesses", None) or None
    entries = GaugeMetricFamily(
        "absentia_witness_lag_entries",
        "Entries of the latest checkpoint the witness has not cosigned.",
        labels=["log", "witness"])
    seconds = GaugeMetricFamily(
        "absentia_witness_lag_seconds",
        "Seconds the oldest checkpoint the witness has not cosigned has waited (0: it "
        "cosigned the latest).", labels=["log", "witness"])
    for info in store.list_logs():
        try:
            cp = store.latest_checkpoint(info.name)
            states = witness_status(store, info.name, now, endpoints)
        except Exception:  # no checkpoint yet, or no witness tables
            log.debug("no witness figures for log %s", info.name, exc_info=True)
            continue
        for st in states:
            behind = max(0, cp.size - st.cosigned_size)
            entries.add_metric([info.name, st.name], float(behind))
            lag = 0.0
            if behind:
                oldest = status.oldest_checkpoint_beyond(store.engine, info.id,
                                                         st.cosigned_size)
                if oldest is not None:
                    lag = max(0.0, now.timestamp() - oldest / 1000)
            seconds.add_metric([info.name, st.name], lag)
    return [entries, seconds]


def _registry(app: Flask) -> CollectorRegistry:
    reg: CollectorRegistry | None = app.extensions.get("absentia.metrics_registry")
    if reg is None:
        reg = CollectorRegistry(auto_describe=False)
        reg.register(LedgerCollector(app.extensions["absentia.store"],
                                     app.extensions.get("absentia.absence"),
                                     witnesses=app.extensions.get("absentia.witnesses")))
        app.extensions["absentia.metrics_registry"] = reg
    return reg


def _token(settings: Settings | None) -> str | None:
    if settings is None or settings.metrics_token_file is None:
        return None
    return settings.metrics_token_file.read_text(encoding="utf-8").strip()


@bp.get("/metrics")
def metrics() -> Response:
    settings: Settings | None = current_app.extensions.get("absentia.settings")
    try:
        token = _token(settings)
    except OSError:
        log.error("the [metrics] token_file cannot be read")
        return problem("unavailable", "the metrics token cannot be read; tell the operator")
    if token == "":  # an empty file must not make every request's missing token match
        log.error("the [metrics] token_file is empty")
        return problem("unavailable", "the metrics token file is empty; tell the operator")
    if token is not None:
        given = bearer_token(request.headers.get("Authorization", ""))
        if given is None or not hmac.compare_digest(given.encode(), token.encode()):
            resp = problem("unauthorized", "send 'Authorization: Bearer <metrics token>'")
            resp.headers["WWW-Authenticate"] = 'Bearer realm="absentia-metrics"'
            return resp
    try:
        body = generate_latest(_registry(current_app))
    except Exception as exc:  # the scrape fails visibly, the app lives on
        log.warning("metrics could not be read from the database: %s", _short(exc))
        return problem("unavailable", "the database could not be read; see /readyz")
    return Response(body, headers={"Content-Type": PROMETHEUS_TEXT,
                                   "Cache-Control": "no-store"})
