"""Wiring: the absence service and the platform's webhook secrets from settings."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from ledger.absence.notify import channels_from_config
from ledger.absence.outbox import dispatch
from ledger.absence.service import AbsenceService
from ledger.absence.settings import load_absence_settings
from ledger.absence.vault_token import master_key_of
from ledger.absence.webhooks import WebhookSecret
from ledger.config import Settings
from ledger.errors import BadData, NotAllowed
from ledger.storage.clockguard import ClockGuard
from ledger.storage.store import LedgerStore
from publicity.calendar import WorkingCalendar
from publicity.scheduled import ReportChildren, generate_due_reports

#: Secrets accepted at once: the current one and the one before (rotation).
ACCEPTED_SECRETS = 2


def open_absence(settings: Settings, store: LedgerStore, now: datetime) -> AbsenceService:
    """The absence service over ``store``: tables created, policies recorded.

    Raises:
        BadData: the configuration is invalid.  NotAllowed, CouldNotCheck: the vault's
            master key cannot be used.
    """
    cfg = load_absence_settings(settings)
    # 递补 deadlines count working days on the same calendar as notice periods.
    calendar = WorkingCalendar.from_config(settings.publicity.calendar)
    secret, wrapper = master_key_of(cfg, settings.pkcs11)
    service = AbsenceService(store, cfg, secret, calendar, wrapper=wrapper)
    service.ensure_schema(now)
    return service


_SECRETS_CACHE: dict[Path, tuple[tuple[int, int], list[WebhookSecret]]] = {}


def cached_webhook_secrets(path: Path) -> list[WebhookSecret]:
    """``read_webhook_secrets``, re-read only when the file changes (a rotation)."""
    try:
        st = path.stat()
        stamp = (st.st_mtime_ns, st.st_ino)
    except FileNotFoundError:
        return read_webhook_secrets(path)
    hit = _SECRETS_CACHE.get(path)
    if hit is not None and hit[0] == stamp:
        return hit[1]
    found = read_webhook_secrets(path)
    _SECRETS_CACHE[path] = (stamp, found)
    return found


def read_webhook_secrets(path: Path, *, create: bool = True) -> list[WebhookSecret]:
    """The accepted platform webhook secrets (newest first), creating one if missing.

    Raises:
        NotAllowed: the file is readable by group or others.
        BadData: a line is not a ``whsec_`` secret.
    """
    if not path.exists():
        if not create:
            return []
        rotate_webhook_secret(path)
    if path.stat().st_mode & 0o077:
        raise NotAllowed(f"{path} is readable by others; run: chmod 600 {path}",
                         field="webhook_secrets_file")
    lines = [ln.strip() for ln in path.read_text().splitlines() if ln.strip()]
    if not lines:
        raise BadData(f"{path} holds no secret; run: absentia platform-secret --rotate",
                      field="webhook_secrets_file")
    return [WebhookSecret.parse(ln) for ln in lines[:ACCEPTED_SECRETS]]


def rotate_webhook_secret(path: Path) -> WebhookSecret:
    """Put a new secret first; the previous one stays accepted until the next rotation."""
    old = []
    if path.exists():
        old = [ln.strip() for ln in path.read_text().splitlines() if ln.strip()]
    new = WebhookSecret.generate()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("\n".join([new.to_text(), *old[:ACCEPTED_SECRETS - 1]]) + "\n")
    os.replace(tmp, path)
    return new


def absence_jobs(service: AbsenceService, settings: Settings,
                 reports: ReportChildren | None = None
                 ) -> dict[str, tuple[float, Callable[[datetime], object]]]:
    """The scheduled jobs: the sweep, the outbox, and the archive reports (their child
    processes tracked by ``reports``, a new ``ReportChildren`` if not given).

    Raises:
        BadData: the [notifications] configuration is invalid.
    """
    channels = channels_from_config(service.cfg.notifications, settings.data_dir)
    every = settings.publicity.report_interval_s
    # Each decides by this host's clock: none runs while it disagrees with the
    # database's (a clock stepped forward would deem open windows missed).
    guard = ClockGuard(service.store, service.cfg.log, service.cfg.max_clock_skew_s)
    reports = reports if reports is not None else ReportChildren()
    return {
        "sweep": (service.cfg.sweep_interval_s,
                  guard.wrap("sweep", lambda now: service.sweep(now))),
        "outbox": (service.cfg.outbox_interval_s,
                   guard.wrap("outbox", lambda now: dispatch(
                       service, channels, now,
                       base_url=settings.publicity.base_url or ""))),
        "reports": (float(every), guard.wrap(
            "reports", lambda now: generate_due_reports(service, settings, now, reports))),
    }
