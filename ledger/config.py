"""Typed configuration from ``config.toml`` (parse, don't validate)."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ledger.errors import BadData

DEFAULT_CONFIG = Path(__file__).resolve().parent.parent / "config.toml"


@dataclass(frozen=True)
class LogConfig:
    name: str
    origin: str
    key_uri: str | None = None  # an operator's signing key, used when the log is created
    #: The 国密 option: an SM2 key (``file:`` URI, created on first run) that signs every
    #: checkpoint beside the Ed25519 key, its verifier key recorded in the log.
    sm2_key: str | None = None


@dataclass(frozen=True)
class PublicitySettings:
    """``[publicity]``: notices, reports and report jobs."""

    #: Printed on notices and report QR codes; None: not configured (notices print
    #: relative links, reports ``publicity.report.DEFAULT_BASE_URL``).
    base_url: str | None = None
    notice_days: int = 5  # working days a notice period lasts
    report_interval_s: float = 86400.0  # the scheduler's fresh reports, at most this often
    report_jobs_running: int = 1  # report jobs rendering at once, over every host
    report_jobs_max: int = 3  # report jobs queued or running, over every host
    report_timeout_s: int = 1800  # an unfinished job counts as failed after this
    #: ``[publicity.calendar]`` as written (one sub-table per year), read-only; parsed
    #: into a working calendar by ``publicity.calendar.WorkingCalendar.from_config``.
    calendar: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    #: The document-signing identity (PAdES): a PEM certificate and key (and optional
    #: chain), or a PKCS#12 file and its password file; none: one under the key directory.
    signing_cert: str | None = None
    signing_key: str | None = None
    signing_chain: tuple[str, ...] = ()
    signing_p12: str | None = None
    signing_p12_password_file: str | None = None

    @classmethod
    def from_table(cls, table: Any) -> PublicitySettings:
        """Parse the ``[publicity]`` table.

        Raises:
            BadData: a value has the wrong type or is out of range; the message and
                the field name the key.
        """
        where = "publicity"
        if not isinstance(table, dict):
            raise BadData("config publicity: expected a table", field=where)
        positive = {}
        for key, default in (("notice_days", 5), ("report_jobs_running", 1),
                             ("report_jobs_max", 3), ("report_timeout_s", 1800)):
            value = config_value(table, key, int, default, where)
            if value < 1:
                raise BadData(f"config publicity.{key}: a positive integer",
                              field=f"publicity.{key}")
            positive[key] = value
        if positive["report_jobs_max"] < positive["report_jobs_running"]:
            raise BadData("config publicity.report_jobs_max: at least report_jobs_running",
                          field="publicity.report_jobs_max")
        every = table.get("report_interval_s", 86400)
        if not isinstance(every, int | float) or isinstance(every, bool) or every <= 0:
            raise BadData("config publicity.report_interval_s: a positive number of seconds",
                          field="publicity.report_interval_s")
        calendar = table.get("calendar", {})
        if not isinstance(calendar, dict):
            raise BadData("config publicity.calendar: expected a table (one per year)",
                          field="publicity.calendar")
        base_url = table.get("base_url")
        if base_url is not None and not isinstance(base_url, str):
            raise BadData(f"config publicity.base_url: expected str, got {base_url!r}",
                          field="publicity.base_url")
        paths = {}
        for key in ("signing_cert", "signing_key", "signing_p12", "signing_p12_password_file"):
            value = table.get(key)
            if value is not None and not isinstance(value, str):
                raise BadData(f"config publicity.{key}: expected a path, got {value!r}",
                              field=f"publicity.{key}")
            paths[key] = value or None
        chain = table.get("signing_chain") or []
        chain = [chain] if isinstance(chain, str) else chain
        if not isinstance(chain, list) or not all(isinstance(c, str) for c in chain):
            raise BadData("config publicity.signing_chain: a path or a list of paths",
                          field="publicity.signing_chain")
        return cls(**paths, signing_chain=tuple(chain), base_url=base_url,
                   notice_days=positive["notice_days"], report_interval_s=float(every),
                   report_jobs_running=positive["report_jobs_running"],
                   report_jobs_max=positive["report_jobs_max"],
                   report_timeout_s=positive["report_timeout_s"],
                   calendar=MappingProxyType(calendar))


@dataclass(frozen=True)
class Pkcs11Settings:
    """``[pkcs11]``: the PKCS#11 module that holds ``pkcs11:`` keys, and where its PIN is.

    The PIN is read when a token is opened, from ``pin_file`` (mode 0600, one line) or
    the environment variable ``pin_env``; it is never logged nor kept in the settings.
    """

    module: str  # path of the module's shared library (libsofthsm2.so, a vendor's .so)
    pin_file: Path | None = None
    pin_env: str | None = None

    @classmethod
    def from_table(cls, table: Any, sub: Any) -> Pkcs11Settings | None:
        """Parse ``[pkcs11]`` (None when the table is absent).

        Raises:
            BadData: ``module`` is missing, or neither or both of ``pin_file`` and
                ``pin_env`` are given; the field names the key.
        """
        if table is None:
            return None
        if not isinstance(table, dict):
            raise BadData("config pkcs11: expected a table", field="pkcs11")
        module = config_value(table, "module", str, None, "pkcs11", required=True)
        pin_file = config_value(table, "pin_file", str, "", "pkcs11")
        pin_env = config_value(table, "pin_env", str, "", "pkcs11")
        if bool(pin_file) == bool(pin_env):
            raise BadData("config pkcs11: give pin_file or pin_env (one of them)",
                          field="pkcs11.pin_file")
        return cls(sub(module), Path(sub(pin_file)) if pin_file else None, pin_env or None)


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
    publicity: PublicitySettings = field(default_factory=PublicitySettings)
    pkcs11: Pkcs11Settings | None = None  # ``[pkcs11]``: where ``pkcs11:`` keys live
    #: ``[storage] read_url``: a read replica the read-only processes read (None: the
    #: database itself, opened read-only).
    read_url: str | None = None
    #: ``[server] role``: "all" (every page and API, the writer) or "public" (the
    #: public pages and read API only, on a read-only database: ``serve --read-only``).
    role: str = "all"
    #: ``[server] page_threads``: threads of a worker that may serve public reads at a
    #: time, so the platform's events always find a free thread (0: no limit;
    #: ``ledger.app.web.gate``).
    page_threads: int = 4
    #: ``[server] switch_interval_ms``: the interpreter's thread switch interval in the
    #: served workers: a request whose database answer came back waits at most this long
    #: for the interpreter lock behind a page being rendered (Python's default is 5 ms).
    switch_interval_ms: float = 1.0


def config_table(parent: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    """The sub-table ``parent[key]`` of a config file (``where`` names it in messages).

    Raises:
        BadData: ``parent[key]`` is missing or not a table.
    """
    value = parent.get(key)
    if not isinstance(value, Mapping):
        raise BadData(f"config {where}: expected a table [{where}]", field=where)
    return value


def config_value(table: Mapping[str, Any], key: str, kind: type, default: Any, where: str, *,
                 required: bool = False, secret: bool = False) -> Any:
    """``table[key]`` checked against ``kind`` (an integer is a float; a bool is no
    integer); ``default`` when the key is absent.

    ``secret``: the message names the value's type, never the value (a password).

    Raises:
        BadData: the key is absent and ``required``, or its value is not a ``kind``; the
            message and the field name ``where.key``.
    """
    name = f"{where}.{key}"
    if key not in table:
        if required:
            raise BadData(f"config {name} is required", field=name)
        return default
    value = table[key]
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or isinstance(value, bool) != (kind is bool):
        got = type(value).__name__ if secret else repr(value)
        raise BadData(f"config {name}: expected {kind.__name__}, got {got}", field=name)
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
        config_value(storage, "url", str, "sqlite:///{data}/absentia.db", "storage"))
    logs = []
    for i, item in enumerate(raw.get("logs", [])):
        key = item.get("key")
        if key is not None and (not isinstance(key, str)
                                or not key.startswith(("file:", "pkcs11:"))):
            raise BadData(f"config logs[{i}].key: expected 'file:/path/to/key.pem' or "
                          f"'pkcs11:token=...;object=...', got {key!r}", field=f"logs[{i}].key")
        logs.append(LogConfig(
            config_value(item, "name", str, None, f"logs[{i}]", required=True),
            config_value(item, "origin", str, None, f"logs[{i}]", required=True),
            None if key is None else sub(key),
            _sm2_key(item, i, sub)))
    return Settings(
        data_dir=data_dir,
        database_url=url,
        sqlite_synchronous=config_value(storage, "sqlite_synchronous", str, "FULL", "storage"),
        key_dir=Path(sub(config_value(storage, "key_dir", str, "{data}/keys", "storage"))),
        checkpoint_min_interval_s=config_value(cps, "min_interval_s", float, 1.0, "checkpoints"),
        host=config_value(server, "host", str, "127.0.0.1", "server"),
        port=config_value(server, "port", int, 5000, "server"),
        workers=config_value(server, "workers", int, 2, "server"),
        threads=config_value(server, "threads", int, 16, "server"),
        page_threads=config_value(server, "page_threads", int, 4, "server"),
        switch_interval_ms=config_value(server, "switch_interval_ms", float, 1.0, "server"),
        trusted_proxies=config_value(server, "trusted_proxies", int, 0, "server"),
        body_timeout_s=config_value(server, "body_timeout_s", float, 10.0, "server"),
        auto_migrate=config_value(storage, "auto_migrate", bool, True, "storage"),
        read_url=os.environ.get("ABSENTIA_READ_DATABASE_URL") or sub(
            config_value(storage, "read_url", str, "", "storage")) or None,
        role=_choice(server, "role", ("all", "public"), "all", "server"),
        log_format=_choice(raw.get("logging", {}), "format", ("text", "json"), "text",
                           "logging"),
        log_level=_choice(raw.get("logging", {}), "level",
                          ("DEBUG", "INFO", "WARNING", "ERROR"), "WARNING", "logging"),
        metrics_token_file=_optional_path(raw.get("metrics", {}), "token_file", sub,
                                          "metrics"),
        logs=tuple(logs),
        tables={k: _substitute(raw.get(k, {}), sub) for k in DOMAIN_TABLES},
        config_path=path.resolve(),
        publicity=PublicitySettings.from_table(_substitute(raw.get("publicity", {}), sub)),
        pkcs11=Pkcs11Settings.from_table(raw.get("pkcs11"), sub),
    )


def _sm2_key(item: Mapping[str, Any], i: int, sub: Any) -> str | None:
    """``logs[i].sm2_key``: the 国密 option's SM2 key URI, or None."""
    value = item.get("sm2_key")
    if value is None:
        return None
    if not isinstance(value, str) or not value.startswith("file:") or value == "file:":
        raise BadData(f"config logs[{i}].sm2_key: expected 'file:{{data}}/keys/<log>.sm2.pem', "
                      f"got {value!r}", field=f"logs[{i}].sm2_key")
    result: str = sub(value)
    return result


def _choice(table: dict[str, Any], key: str, allowed: tuple[str, ...], default: str,
            where: str) -> str:
    value: str = config_value(table, key, str, default, where)
    if value not in allowed:
        raise BadData(f"config {where}.{key}: one of {', '.join(allowed)}, got {value!r}",
                      field=f"{where}.{key}")
    return value


def _optional_path(table: dict[str, Any], key: str, sub: Any, where: str) -> Path | None:
    value: str = config_value(table, key, str, "", where)
    return Path(sub(value)) if value else None


DOMAIN_TABLES = ("absence", "policies", "alerts", "notifications", "platform", "scheduler",
                 "witnesses", "witness_policy")


def _substitute(value: Any, sub: Any) -> Any:
    if isinstance(value, str):
        return sub(value)
    if isinstance(value, dict):
        return {k: _substitute(v, sub) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, sub) for v in value]
    return value
