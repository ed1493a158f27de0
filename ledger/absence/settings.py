"""Typed settings of the absence domain, parsed from ``config.toml`` tables."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ledger.absence.anomaly import AnomalyThresholds
from ledger.absence.notify import NotificationSettings
from ledger.absence.rules import Policy
from ledger.config import Settings
from ledger.errors import BadData


@dataclass(frozen=True)
class AbsenceSettings:
    log: str
    master_key_path: Path  # a master key file; unused when master_key_uri is set
    policies: dict[str, Policy]
    default_policy: str
    thresholds: AnomalyThresholds
    retention_days: int  # days
    factor_chars: int  # characters of the ID number a candidate proves
    webhook_secrets_path: Path
    max_body_bytes: int  # bytes
    max_batch_events: int
    sweep_interval_s: float  # seconds
    outbox_interval_s: float  # seconds
    lease_ttl_s: float  # seconds
    notifications: NotificationSettings
    #: The jobs pause while this host's clock and the database's differ by more.
    max_clock_skew_s: float = 5.0  # seconds
    #: A platform event's ``at`` may be at most this much later than its delivery's
    #: ``webhook-timestamp`` (the two clocks differ a little; an event cannot be later).
    max_event_skew_s: int = 300  # seconds
    #: ``[absence] master_key = "pkcs11:..."``: the master key is in a token (None: a file).
    master_key_uri: str | None = None


def _int(table: dict[str, Any], key: str, default: int, where: str, minimum: int = 0) -> int:
    value = table.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise BadData(f"config {where}.{key}: expected an integer >= {minimum}, got {value!r}",
                      field=f"{where}.{key}")
    return value


def _num(table: dict[str, Any], key: str, default: float, where: str) -> float:
    value = table.get(key, default)
    if not isinstance(value, int | float) or isinstance(value, bool) or value <= 0:
        raise BadData(f"config {where}.{key}: expected a positive number, got {value!r}",
                      field=f"{where}.{key}")
    return float(value)


def _str(table: dict[str, Any], key: str, default: str | None, where: str) -> str:
    value = table.get(key, default)
    if not isinstance(value, str) or not value:
        raise BadData(f"config {where}.{key}: expected a string, got {value!r}",
                      field=f"{where}.{key}")
    return value


def load_absence_settings(settings: Settings) -> AbsenceSettings:
    """The absence domain's settings.

    Raises:
        BadData: a value is missing or of the wrong type; the message names it.
    """
    t = settings.tables
    absence = t.get("absence", {})
    platform = t.get("platform", {})
    sched = t.get("scheduler", {})
    raw_policies = t.get("policies") or {"government": {"mode": "government"}}
    policies = {}
    for name, table in raw_policies.items():
        if not isinstance(table, dict):
            raise BadData(f"config policies.{name}: expected a table", field=f"policies.{name}")
        policies[name] = Policy.from_config(name, table)
    default_log = settings.logs[0].name if settings.logs else None
    log_name = _str(absence, "log", default_log, "absence")
    if log_name not in {lc.name for lc in settings.logs}:
        raise BadData(f"config absence.log: {log_name!r} is not one of the [[logs]]",
                      field="absence.log")
    default_policy = _str(absence, "default_policy", "government", "absence")
    if default_policy not in policies:
        raise BadData(f"config absence.default_policy: no [policies.{default_policy}] table",
                      field="absence.default_policy")
    master_key = _str(absence, "master_key", str(settings.key_dir / "vault-master.key"),
                      "absence")
    return AbsenceSettings(
        log=log_name,
        master_key_path=Path(master_key) if not master_key.startswith("pkcs11:")
        else settings.key_dir / "vault-master.key",
        master_key_uri=master_key if master_key.startswith("pkcs11:") else None,
        policies=policies,
        default_policy=default_policy,
        thresholds=AnomalyThresholds.from_config(t.get("alerts", {})),
        retention_days=_int(absence, "retention_days", 1095, "absence"),
        factor_chars=_int(absence, "verification_factor_chars", 4, "absence", 4),
        webhook_secrets_path=Path(_str(
            platform, "webhook_secrets_file",
            str(settings.key_dir / "platform-webhook-secrets"), "platform")),
        max_body_bytes=_int(platform, "max_body_bytes", 1_048_576, "platform", 1024),
        max_batch_events=_int(platform, "max_batch_events", 1000, "platform", 1),
        sweep_interval_s=_num(sched, "sweep_interval_s", 30.0, "scheduler"),
        outbox_interval_s=_num(sched, "outbox_interval_s", 10.0, "scheduler"),
        lease_ttl_s=_num(sched, "lease_ttl_s", 30.0, "scheduler"),
        notifications=NotificationSettings.from_table(t.get("notifications", {})),
        max_clock_skew_s=_num(sched, "max_clock_skew_s", 5.0, "scheduler"),
        max_event_skew_s=_int(platform, "max_event_skew_s", 300, "platform"),
    )
