"""Typed configuration from ``config.toml`` (parse, don't validate)."""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ledger.errors import BadData

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "config.toml"


@dataclass(frozen=True)
class LogConfig:
    name: str
    origin: str
    key_uri: str | None = None  # an operator's signing key, used when the log is created


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    database_url: str
    sqlite_synchronous: str
    key_dir: Path
    checkpoint_min_interval_s: float  # seconds
    host: str
    port: int
    workers: int
    threads: int
    logs: tuple[LogConfig, ...]
    #: The raw TOML tables of the absence domain (absence, policies, alerts,
    #: notifications, platform, scheduler) with {data} substituted; parsed into typed
    #: values by ``ledger.absence.settings``.
    tables: dict[str, Any] = field(default_factory=dict)
    trusted_proxies: int = 0  # reverse proxies in front whose X-Forwarded-* are believed
    body_timeout_s: float = 10.0  # seconds a request body may take (plus its length's time)
    auto_migrate: bool = True  # upgrade the schema at start-up (else refuse an old one)
    log_format: str = "text"  # "text" or "json" (one object a line)
    log_level: str = "WARNING"
    metrics_token_file: Path | None = None  # None: /metrics is public
    config_path: Path | None = None  # the file read (child processes are given it)


def _get(table: dict[str, Any], key: str, kind: type, default: Any, where: str) -> Any:
    value = table.get(key, default)
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or isinstance(value, bool) != (kind is bool):
        raise BadData(f"config {where}.{key}: expected {kind.__name__}, got {value!r}",
                      field=f"{where}.{key}")
    return value


def load_settings(data_dir: Path, config_file: Path | None = None) -> Settings:
    """Read the config file (default: the project's ``config.toml``) for ``data_dir``.

    Raises:
        BadData: the file is not TOML or a value has the wrong type; the message names it.
    """
    path = config_file or Path(os.environ.get("ABSENTIA_CONFIG", DEFAULT_CONFIG))
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadData(f"config file {path} not found; pass --config FILE") from None
    except tomllib.TOMLDecodeError as exc:
        raise BadData(f"config file {path} is not valid TOML: {exc}") from exc
    data_dir = data_dir.resolve()

    def sub(text: str) -> str:
        return text.replace("{data}", str(data_dir))

    storage = raw.get("storage", {})
    cps = raw.get("checkpoints", {})
    server = raw.get("server", {})
    url = os.environ.get("ABSENTIA_DATABASE_URL") or sub(
        _get(storage, "url", str, "sqlite:///{data}/absentia.db", "storage"))
    logs = []
    for i, item in enumerate(raw.get("logs", [])):
        key = item.get("key")
        if key is not None and (not isinstance(key, str) or not key.startswith("file:")):
            raise BadData(f"config logs[{i}].key: expected 'file:/path/to/key.pem', got {key!r}",
                          field=f"logs[{i}].key")
        logs.append(LogConfig(_get(item, "name", str, None, f"logs[{i}]"),
                              _get(item, "origin", str, None, f"logs[{i}]"),
                              None if key is None else sub(key)))
    return Settings(
        data_dir=data_dir,
        database_url=url,
        sqlite_synchronous=_get(storage, "sqlite_synchronous", str, "FULL", "storage"),
        key_dir=Path(sub(_get(storage, "key_dir", str, "{data}/keys", "storage"))),
        checkpoint_min_interval_s=_get(cps, "min_interval_s", float, 1.0, "checkpoints"),
        host=_get(server, "host", str, "127.0.0.1", "server"),
        port=_get(server, "port", int, 5000, "server"),
        workers=_get(server, "workers", int, 2, "server"),
        threads=_get(server, "threads", int, 16, "server"),
        trusted_proxies=_get(server, "trusted_proxies", int, 0, "server"),
        body_timeout_s=_get(server, "body_timeout_s", float, 10.0, "server"),
        auto_migrate=_get(storage, "auto_migrate", bool, True, "storage"),
        log_format=_choice(raw.get("logging", {}), "format", ("text", "json"), "text",
                           "logging"),
        log_level=_choice(raw.get("logging", {}), "level",
                          ("DEBUG", "INFO", "WARNING", "ERROR"), "WARNING", "logging"),
        metrics_token_file=_optional_path(raw.get("metrics", {}), "token_file", sub,
                                          "metrics"),
        logs=tuple(logs),
        tables={k: _substitute(raw.get(k, {}), sub) for k in DOMAIN_TABLES},
        config_path=path.resolve(),
    )


def _choice(table: dict[str, Any], key: str, allowed: tuple[str, ...], default: str,
            where: str) -> str:
    value: str = _get(table, key, str, default, where)
    if value not in allowed:
        raise BadData(f"config {where}.{key}: one of {', '.join(allowed)}, got {value!r}",
                      field=f"{where}.{key}")
    return value


def _optional_path(table: dict[str, Any], key: str, sub: Any, where: str) -> Path | None:
    value: str = _get(table, key, str, "", where)
    return Path(sub(value)) if value else None


DOMAIN_TABLES = ("absence", "policies", "alerts", "notifications", "platform", "scheduler",
                 "publicity", "witnesses", "witness_policy")


def _substitute(value: Any, sub: Any) -> Any:
    if isinstance(value, str):
        return sub(value)
    if isinstance(value, dict):
        return {k: _substitute(v, sub) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, sub) for v in value]
    return value
