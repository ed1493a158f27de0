"""``absentia monitor``: the log monitor's I/O — state files, alert channels, the loop.

The checks are ``ledger.monitor.advance``; this module keeps each log's trusted state
on disk (one JSON file a log, written atomically: temp file, fsync, rename, fsync of the
directory), sends each new alert once (a Standard Webhooks signed POST, an e-mail over
SMTP), writes Prometheus gauges (a textfile for node_exporter, and/or an HTTP port) and
turns the alerts of a pass into an exit status.  Standard library and the core only.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import http.server
import json
import os
import secrets
import signal
import smtplib
import sys
import threading
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from ledger.checkpoint import Checkpoint
from ledger.errors import BadData, CouldNotCheck, LedgerError
from ledger.monitor import (
    ENTRY,
    FORK,
    KINDS,
    ROLLBACK,
    SIGNATURE,
    STALE,
    UNREACHABLE,
    WITNESS,
    Alert,
    LogState,
    Outcome,
    Trust,
    advance,
)
from ledger.tlog_policy import Policy, load_policy
from ledger.verify import Source, _TerminalProgress, open_source
from ledger.verify_cli import load_verifiers
from ledger.webhook_signing import (
    HEADER_ID,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    WebhookSecret,
    sign,
)
from ledger.witness.cosig import CosignatureV1Verifier

#: ``--once`` exit status: 0 when every log checked out, else the code of the most
#: severe alert of the pass (2 is also argparse's usage error).
EXIT_OK = 0
EXIT_USAGE = 2
EXIT_CODES = {UNREACHABLE: 3, STALE: 4, WITNESS: 5, ENTRY: 6, SIGNATURE: 7, ROLLBACK: 8,
              FORK: 9}


@dataclass(frozen=True)
class WatchedLog:
    """One log to follow: where it is served and what it is checked against."""

    prefix: str
    trust: Trust
    name: str  # label in alerts and metrics; also names the state file

    @property
    def state_file(self) -> str:
        digest = hashlib.sha256(self.prefix.encode()).hexdigest()[:12]
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in self.name)[:60]
        return f"{safe}-{digest}.json"


@dataclass
class Record:
    """A log's state file: the trusted state and the alerts still active."""

    state: LogState
    active: dict[str, str] = field(default_factory=dict)  # kind -> message
    seen_size: int | None = None


class StateDir:
    """The ``--state`` directory: one JSON file a log."""

    def __init__(self, root: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.root = root

    def load(self, log: WatchedLog, now: float) -> Record:
        """The saved record, or an empty one on the first pass.

        Raises:
            BadData: the file is not a monitor state file.
        """
        path = self.root / log.state_file
        try:
            obj = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return Record(LogState.empty(now))
        except (OSError, ValueError) as exc:
            raise BadData(f"cannot read the monitor state {path}: {exc}") from exc
        if not isinstance(obj, dict) or obj.get("prefix") != log.prefix:
            raise BadData(f"{path} is not the state of {log.prefix}")
        active = obj.get("active", {})
        seen = obj.get("seen_size")
        return Record(LogState.from_json(obj.get("state")),
                      {str(k): str(v) for k, v in dict(active).items()},
                      seen if isinstance(seen, int) else None)

    def save(self, log: WatchedLog, record: Record) -> None:
        """Write atomically: a crash leaves the old file or the new one, never half."""
        obj = {"prefix": log.prefix, "name": log.name, "state": record.state.to_json(),
               "active": record.active, "seen_size": record.seen_size}
        write_atomically(self.root / log.state_file, json.dumps(obj, indent=1).encode())


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``path`` via a temp file, fsync and rename (then fsync the directory)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Channels:
    """Where alerts go besides stderr."""

    webhook: str | None = None
    webhook_secret: WebhookSecret | None = None
    smtp: tuple[str, int] | None = None
    mail_from: str = "absentia-monitor@localhost"
    mail_to: tuple[str, ...] = ()


def alert_payload(log: WatchedLog, record: Record, alert: Alert, now: float) -> dict[str, Any]:
    """The JSON body of a webhook (and the facts of an e-mail) for one alert."""
    return {"type": f"absentia.monitor.{alert.kind}",
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
            "data": {"log": log.name, "prefix": log.prefix, "kind": alert.kind,
                     "message": alert.message, "index": alert.index,
                     "trusted_size": record.state.size,
                     "trusted_root": base64.b64encode(record.state.root).decode(),
                     "seen_size": record.seen_size}}


def send_webhook(channels: Channels, payload: dict[str, Any], now: float) -> None:
    """POST the payload; signed the Standard Webhooks way if a secret is configured.

    Raises:
        CouldNotCheck: the receiver could not be reached or did not answer 2xx.
    """
    assert channels.webhook is not None
    body = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()
    msg_id = "msg_" + secrets.token_hex(12)
    headers = {"Content-Type": "application/json", HEADER_ID: msg_id,
               HEADER_TIMESTAMP: str(int(now))}
    if channels.webhook_secret is not None:
        headers[HEADER_SIGNATURE] = sign(channels.webhook_secret, msg_id, int(now), body)
    if not channels.webhook.startswith(("http://", "https://")):
        raise CouldNotCheck(f"webhook {channels.webhook} is not an http(s) URL")
    req = urllib.request.Request(  # noqa: S310 (http(s) only, checked above)
        channels.webhook, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:  # noqa: S310 (the auditor's URL)
            resp.read()
    except (urllib.error.URLError, OSError) as exc:
        raise CouldNotCheck(f"webhook {channels.webhook}: {exc}") from exc


def send_mail(channels: Channels, payload: dict[str, Any]) -> None:
    """Mail the alert to every ``--mail-to`` address.

    Raises:
        CouldNotCheck: the SMTP server refused or could not be reached.
    """
    assert channels.smtp is not None
    data = payload["data"]
    msg = EmailMessage()
    msg["From"] = channels.mail_from
    msg["To"] = ", ".join(channels.mail_to)
    msg["Subject"] = f"[absentia monitor] {data['kind']}: {data['log']}"
    msg.set_content(
        f"{data['message']}\n\nlog: {data['log']} ({data['prefix']})\n"
        f"kind: {data['kind']}\nfirst bad index: {data['index']}\n"
        f"trusted: {data['trusted_size']} entries, root {data['trusted_root']}\n"
        f"seen: {data['seen_size']} entries\ntime: {payload['timestamp']}\n")
    try:
        with smtplib.SMTP(*channels.smtp, timeout=10) as smtp:
            smtp.send_message(msg)
    except (smtplib.SMTPException, OSError) as exc:
        raise CouldNotCheck(f"mail via {channels.smtp[0]}:{channels.smtp[1]}: {exc}") from exc


def metrics_text(logs: Sequence[WatchedLog], records: dict[str, Record]) -> str:
    """The Prometheus text exposition of every log's gauges."""
    def lbl(value: str) -> str:
        return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    out = ["# HELP absentia_monitor_log_size Entries in the last checkpoint the monitor trusts.",
           "# TYPE absentia_monitor_log_size gauge"]
    out += [f'absentia_monitor_log_size{{log="{lbl(lg.name)}"}} {records[lg.name].state.size}'
            for lg in logs if lg.name in records]
    out += ["# HELP absentia_monitor_lag_entries Entries seen in the log but not yet trusted.",
            "# TYPE absentia_monitor_lag_entries gauge"]
    for lg in logs:
        if lg.name in records:
            r = records[lg.name]
            lag = max(0, (r.seen_size or r.state.size) - r.state.size)
            out.append(f'absentia_monitor_lag_entries{{log="{lbl(lg.name)}"}} {lag}')
    out += ["# HELP absentia_monitor_last_ok_timestamp_seconds Unix time of the last pass "
            "with no alert.", "# TYPE absentia_monitor_last_ok_timestamp_seconds gauge"]
    out += [f'absentia_monitor_last_ok_timestamp_seconds{{log="{lbl(lg.name)}"}} '
            f"{records[lg.name].state.last_ok:.3f}" for lg in logs if lg.name in records]
    out += ["# HELP absentia_monitor_alert 1 while an alert of this kind is active.",
            "# TYPE absentia_monitor_alert gauge"]
    for lg in logs:
        if lg.name in records:
            for kind in KINDS:
                on = 1 if kind in records[lg.name].active else 0
                out.append(f'absentia_monitor_alert{{log="{lbl(lg.name)}",kind="{kind}"}} {on}')
    return "\n".join(out) + "\n"


class MetricsServer:
    """Serves the latest gauges at ``/metrics`` on 127.0.0.1:PORT (a daemon thread)."""

    def __init__(self, port: int, host: str = "127.0.0.1") -> None:
        self.text = ""
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = owner.text.encode()
                self.send_response(200 if self.path.split("?")[0] == "/metrics" else 404)
                self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = http.server.ThreadingHTTPServer((host, port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


class Monitor:
    """Follows several logs; one ``run_pass`` checks each once."""

    def __init__(self, logs: Sequence[WatchedLog], state: StateDir, channels: Channels,
                 metrics_file: Path | None = None, metrics_server: MetricsServer | None = None,
                 progress: bool = False) -> None:
        self.logs = list(logs)
        self.state = state
        self.channels = channels
        self.metrics_file = metrics_file
        self.metrics_server = metrics_server
        self.progress = progress
        self.sources: dict[str, Source] = {}
        self.records: dict[str, Record] = {}

    def run_pass(self, now: float) -> list[tuple[WatchedLog, Alert]]:
        """Check every log once; return the alerts of this pass (new or still active)."""
        alerts: list[tuple[WatchedLog, Alert]] = []
        for log in self.logs:
            record = self.state.load(log, now)
            try:
                source = self.sources.get(log.prefix) or open_source(log.prefix)
                self.sources[log.prefix] = source
                progress = _TerminalProgress() if self.progress else None
                out = advance(record.state, source, log.trust, now=now, progress=progress)
            except CouldNotCheck as exc:
                out = Outcome(record.state, [Alert(UNREACHABLE, str(exc))])
            record = self._settle(log, record, out, now)
            alerts += [(log, a) for a in out.alerts]
            self.records[log.name] = record
        self._write_metrics()
        return alerts

    def _settle(self, log: WatchedLog, record: Record, out: Outcome, now: float) -> Record:
        new = Record(out.state, {a.kind: a.message for a in out.alerts},
                     out.seen_size if out.seen_size is not None else record.seen_size)
        if out.new_entries:
            print(f"{log.name}: checked entries {out.checked_from:,}..{out.state.size - 1:,} "
                  f"({out.new_entries:,} new); trusted size {out.state.size:,}", flush=True)
        elif out.ok:
            print(f"{log.name}: unchanged at {out.state.size:,} entries", flush=True)
        # Sent once while active: a stale or unreachable log is one alert however long it
        # lasts (its message counts the seconds); the others again when the message changes.
        fresh = [a for a in out.alerts if a.kind not in record.active or (
            a.kind not in (STALE, UNREACHABLE) and record.active[a.kind] != a.message)]
        for a in out.alerts:
            where = f" (first bad index {a.index})" if a.index is not None else ""
            print(f"ALERT {a.kind} {log.name}{where}: {a.message}", file=sys.stderr, flush=True)
        # Saved before the alerts go out: a channel that hangs never loses the state.
        self.state.save(log, new)
        for a in fresh:
            self._send(log, new, a, now)
        return new

    def _send(self, log: WatchedLog, record: Record, alert: Alert, now: float) -> None:
        payload = alert_payload(log, record, alert, now)
        for channel, send in (("webhook", self.channels.webhook is not None),
                              ("mail", self.channels.smtp is not None and
                               bool(self.channels.mail_to))):
            if not send:
                continue
            try:
                if channel == "webhook":
                    send_webhook(self.channels, payload, now)
                else:
                    send_mail(self.channels, payload)
            except CouldNotCheck as exc:
                print(f"warning: could not send the {alert.kind} alert by {channel}: {exc}",
                      file=sys.stderr, flush=True)

    def _write_metrics(self) -> None:
        text = metrics_text(self.logs, self.records)
        if self.metrics_file is not None:
            write_atomically(self.metrics_file, text.encode())
        if self.metrics_server is not None:
            self.metrics_server.text = text


def exit_status(alerts: Sequence[tuple[WatchedLog, Alert]]) -> int:
    """The exit status of a pass: the code of its most severe alert, 0 if none."""
    return max((EXIT_CODES[a.kind] for _, a in alerts), default=EXIT_OK)


def load_config(path: Path, stale_after: float | None) -> list[WatchedLog]:
    """Read a TOML file of ``[[log]]`` tables: prefix, origin, keys, witnesses, ...

    Raises:
        BadData: the file is not TOML, or a table lacks ``prefix`` or ``keys``.
        CouldNotCheck: the file cannot be read.
    """
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CouldNotCheck(f"cannot read {path}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise BadData(f"{path} is not TOML: {exc}") from exc
    logs = []
    for i, t in enumerate(doc.get("log", [])):
        if not isinstance(t, dict) or not isinstance(t.get("prefix"), str) or not t.get("keys"):
            raise BadData(f"{path}: [[log]] number {i + 1} needs prefix and keys", field="log")
        witnesses = [CosignatureV1Verifier.from_vkey(w) for w in t.get("witnesses", [])]
        required = int(t.get("witnesses_required", 0))
        if not 0 <= required <= len(witnesses):
            raise BadData(f"{path}: witnesses_required {required} needs that many witnesses",
                          field="witnesses_required")
        stale = t.get("stale_after", stale_after)
        old = _read_old(Path(t["old"])) if "old" in t else None
        trust = Trust(load_verifiers(list(t["keys"]), []), t.get("origin"), witnesses,
                      required, None if stale is None else float(stale), old)
        if "policy" in t:
            if witnesses or required:
                raise BadData(f"{path}: [[log]] number {i + 1} gives policy and witnesses; "
                              "give one", field="policy")
            trust = with_policy(trust, load_policy(path.parent / str(t["policy"])))
        _check_old(trust)
        logs.append(WatchedLog(t["prefix"], trust, str(t.get("name", t["prefix"]))))
    if not logs:
        raise BadData(f"{path} lists no [[log]]", field="log")
    return logs


def with_policy(trust: Trust, policy: Policy) -> Trust:
    """``trust`` with the witnesses and the quorum of a C2SP tlog-policy: a new checkpoint
    must carry cosignatures that satisfy the policy's quorum (groups, any/all).

    Raises:
        BadData: a witness key of the policy is malformed.
    """
    names = {vkey: name for name, vkey in policy.witness_vkeys().items()}
    witnesses = [CosignatureV1Verifier.from_vkey(v) for v in names]

    def quorum(cosigners: frozenset[str]) -> bool:
        return policy.satisfied({names[v] for v in cosigners if v in names})

    return replace(trust, witnesses=witnesses, witnesses_required=policy.min_witnesses(),
                   quorum=quorum)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="absentia monitor",
        description="Follow Absentia logs (tlog-tiles directories or URL prefixes), check "
                    "every new checkpoint and entry, and alert on a fork, a rollback, a bad "
                    "signature, a stale checkpoint or an entry that does not check.",
        epilog="Exit status with --once: 0 ok, 2 usage, 3 unreachable, 4 stale, 5 witness "
               "quorum not met, 6 bad entry or tile, 7 bad signature, 8 rollback, 9 fork "
               "(the most severe of the pass).")
    p.add_argument("prefix", nargs="*", help="exported directory or http(s)://host/logs/NAME")
    p.add_argument("--config", type=Path, help="TOML file of [[log]] tables instead of PREFIX")
    p.add_argument("--key", action="append", default=[], metavar="VKEY",
                   help="trusted verifier key of the PREFIX logs; repeatable")
    p.add_argument("--keys", action="append", default=[], type=Path, metavar="FILE",
                   help="file of trusted verifier keys, one a line; repeatable")
    p.add_argument("--origin", help="expected origin line (one PREFIX)")
    p.add_argument("--old", type=Path, metavar="CHECKPOINT",
                   help="a checkpoint obtained independently that the first pass must find "
                        "extended (else the first one seen is trusted on first use)")
    p.add_argument("--witness", action="append", default=[], metavar="VKEY",
                   help="trusted witness cosigner key (type 0x04 vkey); repeatable")
    p.add_argument("--witnesses-required", type=int, default=0, metavar="K",
                   help="alert unless a new checkpoint has K valid --witness cosignatures")
    p.add_argument("--policy", type=Path, metavar="FILE",
                   help="a C2SP tlog-policy file: alert unless a new checkpoint's witness "
                        "cosignatures satisfy its quorum (instead of --witness/"
                        "--witnesses-required)")
    p.add_argument("--state", type=Path, required=True, metavar="DIR",
                   help="directory for the trusted state (one JSON file a log)")
    p.add_argument("--interval", type=float, default=10.0, metavar="SECONDS",
                   help="seconds between passes (default 10)")
    p.add_argument("--once", action="store_true", help="one pass, then exit (for cron)")
    p.add_argument("--stale-after", type=float, default=None, metavar="SECONDS",
                   help="alert when no new tree was seen (nor cosigned) for this long")
    p.add_argument("--webhook", metavar="URL", help="POST each new alert as JSON here")
    p.add_argument("--webhook-secret", metavar="WHSEC",
                   help="sign webhooks (Standard Webhooks); or env ABSENTIA_MONITOR_WEBHOOK_SECRET")
    p.add_argument("--smtp", metavar="HOST:PORT", help="mail each new alert via this server")
    p.add_argument("--mail-from", default="absentia-monitor@localhost")
    p.add_argument("--mail-to", action="append", default=[], metavar="ADDRESS")
    p.add_argument("--metrics", type=Path, metavar="FILE",
                   help="Prometheus textfile (node_exporter textfile collector), rewritten "
                        "atomically every pass")
    p.add_argument("--metrics-port", type=int, metavar="PORT",
                   help="serve the gauges at http://127.0.0.1:PORT/metrics")
    p.add_argument("--quiet", action="store_true", help="no progress output")
    return p


def _read_old(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CouldNotCheck(f"cannot read the --old checkpoint {path}: {exc}") from exc


def _check_old(trust: Trust) -> None:
    """Raises BadData or VerificationError: the --old checkpoint is not one of the keys'."""
    if trust.old is not None:
        Checkpoint.open(trust.old, list(trust.verifiers), trust.origin)


def _logs_from_args(args: argparse.Namespace) -> list[WatchedLog]:
    if args.config is not None:
        if args.prefix:
            raise BadData("give PREFIX... or --config, not both", field="--config")
        return load_config(args.config, args.stale_after)
    if not args.prefix:
        raise BadData("give at least one PREFIX or --config", field="PREFIX")
    if args.origin is not None and len(args.prefix) > 1:
        raise BadData("--origin goes with one PREFIX", field="--origin")
    if args.policy is not None and (args.witness or args.witnesses_required):
        raise BadData("give --policy FILE or --witness/--witnesses-required, not both",
                      field="--policy")
    if not 0 <= args.witnesses_required <= len(args.witness):
        raise BadData(f"--witnesses-required {args.witnesses_required} needs at least that "
                      f"many --witness keys (got {len(args.witness)})",
                      field="--witnesses-required")
    verifiers = load_verifiers(args.key, args.keys)
    if not verifiers:
        raise BadData("no verifier keys: pass --key or --keys (keys you obtained "
                      "independently of the log)", field="--key")
    witnesses = [CosignatureV1Verifier.from_vkey(w) for w in args.witness]
    trust = Trust(verifiers, args.origin, witnesses, args.witnesses_required, args.stale_after,
                  _read_old(args.old) if args.old is not None else None)
    if args.policy is not None:
        trust = with_policy(trust, load_policy(args.policy))
    _check_old(trust)
    return [WatchedLog(p, trust, p) for p in args.prefix]


def main(argv: list[str] | None = None) -> int:
    """``absentia monitor``; returns the exit status (see ``EXIT_CODES``)."""
    args = _parser().parse_args(argv)
    try:
        logs = _logs_from_args(args)
        secret_text = args.webhook_secret or os.environ.get("ABSENTIA_MONITOR_WEBHOOK_SECRET")
        smtp = None
        if args.smtp:
            host, _, port = args.smtp.rpartition(":")
            if not host or not port.isdigit():
                raise BadData("--smtp wants HOST:PORT", field="--smtp")
            smtp = (host, int(port))
        channels = Channels(args.webhook, WebhookSecret.parse(secret_text) if secret_text
                            else None, smtp, args.mail_from, tuple(args.mail_to))
        monitor = Monitor(logs, StateDir(args.state), channels, args.metrics,
                          MetricsServer(args.metrics_port) if args.metrics_port else None,
                          progress=not args.quiet and sys.stderr.isatty())
        stop = threading.Event()
        if not args.once:
            # SIGTERM (systemd, docker stop) ends the loop between passes, never mid-write.
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
        while True:
            alerts = monitor.run_pass(time.time())
            if args.once:
                return exit_status(alerts)
            if stop.wait(max(0.05, args.interval)):
                return EXIT_OK
    except (LedgerError, OSError) as exc:
        print(f"absentia monitor: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
