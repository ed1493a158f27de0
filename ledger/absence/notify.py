"""Notification channels: adapters that hand a message to e-mail or SMS (real network I/O).

The article's vendors notify a candidate by SMS and e-mail within an hour of a missed
interview (domain.md, "Tracking and notification"); a fraction of absences are *failed
notifications*, so every failure is classified:

* :class:`DeliveryFailed` ``permanent=True``: retrying cannot help (recipient refused,
  gateway said 4xx); the notification is recorded as failed.
* ``permanent=False``: try again later, after :func:`backoff_s`, at most ``MAX_ATTEMPTS``.

Error codes and messages never contain the recipient's address or number (personal data).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import smtplib
import ssl
import threading
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate
from http.client import HTTPException
from pathlib import Path
from typing import Any, Protocol

from ledger import jsonread
from ledger.config import config_table, config_value
from ledger.errors import BadData

logger = logging.getLogger(__name__)

#: Channels a message can go out on.
CHANNELS = ("email", "sms")

#: Attempts per notification before it is recorded as failed (first try + 4 retries).
MAX_ATTEMPTS = 5

#: The header carrying our notification id on e-mails (RFC 6648: no "X-" meaning, just a name).
REFERENCE_HEADER = "X-Absentia-Reference"

#: A notification reference: dot-separated identifier atoms (valid in an RFC 5322 Message-ID).
MAX_REFERENCE_LENGTH = 100
_REFERENCE_RE = re.compile(r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*")

#: DeliveryFailed codes: short, machine-readable, never personal data.
_CODE_RE = re.compile(r"[a-z0-9_]{1,40}")

#: Control characters (including CR/LF) are refused in headers and addresses.
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")

#: RFC 2606 reserves the ".invalid" TLD; FileChannel fails such addresses on purpose.
INVALID_EMAIL_TLD = "invalid"

#: FileChannel fails mobile numbers with this prefix on purpose (no such numbers are issued).
INVALID_MOBILE_PREFIX = "1999"

#: The gateway's reply is read up to this many bytes (it is a tiny JSON object).
MAX_GATEWAY_REPLY = 64 * 1024

#: Gateway 4xx answers that mean "later" rather than "never" (RFC 9110 §15.5.9, RFC 6585 §4).
_RETRYABLE_4XX = frozenset({408, 429})


@dataclass(frozen=True)
class OutgoingMessage:
    """One message to one recipient.

    Raises (construction):
        BadData: ``reference`` is not identifier-safe, ``channel`` is not "email" or "sms",
            ``to`` is empty or has control characters, or ``subject`` has control characters
            (``field`` names it; the message never repeats the recipient).
    """

    reference: str  # our notification id; e-mail header / SMS JSON field
    channel: str  # "email" | "sms"
    to: str  # e-mail address or mobile number
    subject: str  # e-mail subject (ignored for SMS)
    text: str  # plain text body (UTF-8)

    def __post_init__(self) -> None:
        if (not isinstance(self.reference, str) or len(self.reference) > MAX_REFERENCE_LENGTH
                or _REFERENCE_RE.fullmatch(self.reference) is None):
            raise BadData(f"reference must be 1 to {MAX_REFERENCE_LENGTH} characters of "
                          "A-Z a-z 0-9 _ - (dot-separated)", field="reference")
        if self.channel not in CHANNELS:
            raise BadData(f"channel must be one of {', '.join(CHANNELS)}", field="channel")
        if not isinstance(self.to, str) or not self.to.strip() or _CONTROL_RE.search(self.to):
            raise BadData("recipient is empty or has control characters", field="to")
        if not isinstance(self.subject, str) or _CONTROL_RE.search(self.subject):
            raise BadData("subject has control characters", field="subject")
        if not isinstance(self.text, str):
            raise BadData("text must be a string", field="text")


class DeliveryFailed(Exception):
    """A channel could not deliver a message.

    ``code`` matches ``[a-z0-9_]{1,40}`` (e.g. ``smtp_550``, ``smtp_connect``,
    ``gateway_503``, ``gateway_timeout``, ``gateway_bad_reply``, ``invalid_recipient``);
    ``permanent`` says whether retrying is pointless.

    Raises (construction):
        ValueError: ``code`` is not of that form (a programming error).
    """

    def __init__(self, code: str, *, permanent: bool) -> None:
        if _CODE_RE.fullmatch(code) is None:
            raise ValueError(f"DeliveryFailed code must match {_CODE_RE.pattern}")
        kind = "permanent" if permanent else "temporary"
        super().__init__(f"delivery failed: {code} ({kind})")
        self.code = code
        self.permanent = permanent


class Channel(Protocol):
    """Something that sends an :class:`OutgoingMessage` (``name``: "smtp", "sms_gateway",
    "file")."""

    name: str

    def send(self, message: OutgoingMessage) -> str:
        """Send ``message``; return the provider's message id.

        Raises:
            DeliveryFailed: the message was not accepted (``permanent`` classifies it).
        """
        ...


def backoff_s(attempt: int, *, base_s: int = 60, cap_s: int = 3600) -> int:
    """Seconds to wait after failed attempt ``attempt`` (1 -> base, then doubling, capped).

    Raises:
        ValueError: ``attempt`` < 1, ``base_s`` < 1 or ``cap_s`` < ``base_s``.
    """
    if attempt < 1:
        raise ValueError("attempt counts from 1")
    if base_s < 1 or cap_s < base_s:
        raise ValueError("need 1 <= base_s <= cap_s")
    # Shifting by at most 62 keeps the number small; the cap applies long before.
    return min(cap_s, base_s << min(attempt - 1, 62))


def _smtp_failure(code: int) -> DeliveryFailed:
    """``smtp_<code>``: 5xx permanent (RFC 5321 §4.2.1), 4xx and anything else temporary."""
    if 400 <= code <= 599:
        return DeliveryFailed(f"smtp_{code}", permanent=code >= 500)
    return DeliveryFailed("smtp_error", permanent=False)


class SmtpChannel:
    """E-mail through an SMTP server (:mod:`smtplib`), one connection per message."""

    name: str

    def __init__(self, host: str, port: int, sender: str, username: str | None = None,
                 password: str | None = None, starttls: bool = False,
                 timeout_s: float = 10.0) -> None:
        self.name = "smtp"
        self.host = host
        self.port = port
        self.sender = sender
        self.username = username
        self._password = password
        self.starttls = starttls
        self.timeout_s = timeout_s

    def __repr__(self) -> str:
        return (f"SmtpChannel(host={self.host!r}, port={self.port}, sender={self.sender!r}, "
                f"starttls={self.starttls})")

    def build(self, message: OutgoingMessage, message_id: str) -> EmailMessage:
        """The e-mail for ``message``: UTF-8 subject and plain-text body, reference header.

        Raises:
            ValueError: ``message.to`` is not a single ASCII addr-spec (``local@domain``).
        """
        mail = EmailMessage()
        mail["From"] = self.sender
        # One addr-spec exactly: a comma or display name in ``to`` cannot add recipients.
        mail["To"] = Address(addr_spec=message.to.strip())
        mail["Subject"] = message.subject
        mail["Date"] = formatdate(localtime=False, usegmt=True)
        mail["Message-ID"] = message_id
        mail[REFERENCE_HEADER] = message.reference
        mail.set_content(message.text, charset="utf-8")
        return mail

    def send(self, message: OutgoingMessage) -> str:
        """Send ``message`` by e-mail; return the Message-ID set on it.

        Raises:
            DeliveryFailed: ``smtp_<code>`` when the server refuses (5xx permanent, 4xx
                temporary); ``smtp_connect`` (temporary) on connection refused, timeout or
                disconnect; ``smtp_auth``/``smtp_starttls`` (temporary: fix the config);
                ``invalid_recipient`` (permanent) when ``to`` is not one ASCII addr-spec.
        """
        message_id = f"<{message.reference}.{uuid.uuid4().hex}@absentia>"
        try:
            mail = self.build(message, message_id)
        except (ValueError, TypeError):
            raise DeliveryFailed("invalid_recipient", permanent=True) from None
        try:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout_s)
        except smtplib.SMTPConnectError as exc:
            raise _smtp_failure(exc.smtp_code) from None
        except (OSError, smtplib.SMTPException):
            raise DeliveryFailed("smtp_connect", permanent=False) from None
        try:
            self._session(smtp, mail)
        finally:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                smtp.quit()
            smtp.close()
        return message_id

    def _session(self, smtp: smtplib.SMTP, mail: EmailMessage) -> None:
        step = "smtp_starttls"
        try:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            step = "smtp_auth"
            if self.username is not None:
                smtp.login(self.username, self._password or "")
        except (smtplib.SMTPAuthenticationError, smtplib.SMTPNotSupportedError, ssl.SSLError):
            raise DeliveryFailed(step, permanent=False) from None
        except smtplib.SMTPServerDisconnected:
            raise DeliveryFailed("smtp_connect", permanent=False) from None
        except smtplib.SMTPResponseException as exc:
            raise _smtp_failure(exc.smtp_code) from None
        except (OSError, smtplib.SMTPException):
            raise DeliveryFailed("smtp_connect", permanent=False) from None
        try:
            refused = smtp.send_message(mail, from_addr=self.sender,
                                        to_addrs=[str(mail["To"])])
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _text in exc.recipients.values()]
            raise _smtp_failure(codes[0] if codes else 0) from None
        except smtplib.SMTPServerDisconnected:
            raise DeliveryFailed("smtp_connect", permanent=False) from None
        except smtplib.SMTPResponseException as exc:  # sender refused, DATA refused
            raise _smtp_failure(exc.smtp_code) from None
        except smtplib.SMTPNotSupportedError:  # e.g. a non-ASCII address without SMTPUTF8
            raise DeliveryFailed("invalid_recipient", permanent=True) from None
        except (OSError, smtplib.SMTPException):
            raise DeliveryFailed("smtp_connect", permanent=False) from None
        if refused:  # one recipient: only reached if the server half-refused
            code = next(iter(refused.values()))[0]
            raise _smtp_failure(code)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Redirects are errors: following one would resend the bearer token elsewhere."""

    def redirect_request(self, req: urllib.request.Request, fp: Any, code: int, msg: str,
                         headers: Any, newurl: str) -> None:
        return None


class SmsGatewayChannel:
    """SMS through an HTTP gateway: ``POST {"to","text","reference"}`` with a bearer token,
    answered by 2xx ``{"id": "<provider id>"}``."""

    name: str

    def __init__(self, url: str, api_key: str, timeout_s: float = 10.0) -> None:
        """Raises: BadData: ``url`` is not http(s) (``field="url"``)."""
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise BadData("SMS gateway url must be http:// or https://", field="url")
        self.name = "sms_gateway"
        self.url = url
        self._api_key = api_key
        self.timeout_s = timeout_s
        self._opener = urllib.request.build_opener(_NoRedirect)

    def __repr__(self) -> str:
        return f"SmsGatewayChannel(url={self.url!r})"

    def send(self, message: OutgoingMessage) -> str:
        """Send ``message`` by SMS; return the gateway's message id.

        Raises:
            DeliveryFailed: ``gateway_<status>``: 4xx permanent (except 408 and 429),
                5xx and others temporary; ``gateway_timeout`` and ``gateway_connect``
                (temporary) when the gateway is slow or unreachable; ``gateway_bad_reply``
                (temporary) when a 2xx reply has no string ``id``.
        """
        payload = {"to": message.to, "text": message.text, "reference": message.reference}
        request = urllib.request.Request(  # noqa: S310 (scheme checked in __init__)
            self.url,
            data=json.dumps(payload, ensure_ascii=False).encode("utf-8"),
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "Accept": "application/json",
                "Authorization": f"Bearer {self._api_key}",
            },
        )
        try:
            with self._opener.open(request, timeout=self.timeout_s) as response:
                raw = response.read(MAX_GATEWAY_REPLY + 1)
        except urllib.error.HTTPError as exc:
            exc.close()
            status = exc.code
            permanent = 400 <= status <= 499 and status not in _RETRYABLE_4XX
            code = f"gateway_{status}" if 100 <= status <= 999 else "gateway_bad_reply"
            raise DeliveryFailed(code, permanent=permanent) from None
        except urllib.error.URLError as exc:
            timed_out = isinstance(exc.reason, TimeoutError)
            code = "gateway_timeout" if timed_out else "gateway_connect"
            raise DeliveryFailed(code, permanent=False) from None
        except TimeoutError:
            raise DeliveryFailed("gateway_timeout", permanent=False) from None
        except (OSError, HTTPException):
            raise DeliveryFailed("gateway_connect", permanent=False) from None
        try:
            reply = jsonread.read(raw, field="reply", max_bytes=MAX_GATEWAY_REPLY)
        except BadData:  # not JSON, too deep or too long: not a reply we understand
            reply = None
        provider_id = reply.get("id") if isinstance(reply, dict) else None
        if not isinstance(provider_id, str) or not provider_id:
            raise DeliveryFailed("gateway_bad_reply", permanent=False)
        return provider_id


class FileChannel:
    """Development stand-in: appends one JSON line per message to a file, delivers nothing.

    Recipients whose e-mail domain is under ``.invalid`` (RFC 2606) or whose mobile number
    starts with ``1999`` (after an optional ``+86``/``0086``) fail permanently with
    ``invalid_recipient``, so demos can show failed notifications.
    """

    name: str

    def __init__(self, path: Path) -> None:
        self.name = "file"
        self.path = Path(path)
        self._lock = threading.Lock()
        logger.warning("notifications are written to %s and NOT delivered to anyone "
                       "(FileChannel, a development stand-in)", self.path)

    def __repr__(self) -> str:
        return f"FileChannel(path={str(self.path)!r})"

    @staticmethod
    def _deliverable(message: OutgoingMessage) -> bool:
        to = message.to.strip()
        if message.channel == "email":
            domain = to.rpartition("@")[2].lower().rstrip(".")
            return not (domain == INVALID_EMAIL_TLD or domain.endswith("." + INVALID_EMAIL_TLD))
        digits = re.sub(r"[\s-]", "", to)
        for prefix in ("+86", "0086"):
            if digits.startswith(prefix):
                digits = digits[len(prefix):]
                break
        return not digits.startswith(INVALID_MOBILE_PREFIX)

    def send(self, message: OutgoingMessage) -> str:
        """Append ``message`` as one JSON line; return a made-up provider id.

        Raises:
            DeliveryFailed: ``invalid_recipient`` (permanent) for the reserved recipients
                above; ``file_write`` (temporary) when the file cannot be written.
        """
        if not self._deliverable(message):
            raise DeliveryFailed("invalid_recipient", permanent=True)
        provider_id = f"file-{uuid.uuid4().hex}"
        line = json.dumps({
            "id": provider_id,
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "reference": message.reference,
            "channel": message.channel,
            "to": message.to,
            "subject": message.subject,
            "text": message.text,
        }, ensure_ascii=False) + "\n"
        try:
            with self._lock:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
                try:
                    os.write(fd, line.encode("utf-8"))  # one write: lines never interleave
                finally:
                    os.close(fd)
        except OSError:
            raise DeliveryFailed("file_write", permanent=False) from None
        return provider_id


# --- configuration --------------------------------------------------------------------------

_EMAIL_KINDS = ("smtp", "file")
_SMS_KINDS = ("gateway", "file")
_SMTP_KEYS = frozenset({"host", "port", "sender", "username", "password", "starttls",
                        "timeout_s"})
_GATEWAY_KEYS = frozenset({"url", "api_key", "timeout_s"})
DEFAULT_FILE_PATH = "{data}/outbox.jsonl"


def _no_unknown(table: Mapping[str, Any], known: frozenset[str], where: str) -> None:
    for key in table:
        if key not in known:
            raise BadData(f"config {where}.{key}: unknown setting", field=f"{where}.{key}")


@dataclass(frozen=True)
class SmtpSettings:
    """``[notifications.smtp]``."""

    host: str
    sender: str
    port: int = 25
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = False
    timeout_s: float = 10.0

    def channel(self) -> SmtpChannel:
        return SmtpChannel(host=self.host, port=self.port, sender=self.sender,
                           username=self.username, password=self.password,
                           starttls=self.starttls, timeout_s=self.timeout_s)


@dataclass(frozen=True)
class GatewaySettings:
    """``[notifications.sms_gateway]``."""

    url: str
    api_key: str = field(repr=False)
    timeout_s: float = 10.0

    def channel(self) -> SmsGatewayChannel:
        return SmsGatewayChannel(self.url, self.api_key, self.timeout_s)


@dataclass(frozen=True)
class NotificationSettings:
    """``[notifications]``: which channel sends e-mail and SMS, and their settings."""

    email: str = "file"  # "smtp" or "file"
    sms: str = "file"  # "gateway" or "file"
    file_path: str = DEFAULT_FILE_PATH  # the file channel's JSON lines ({data}: data dir)
    smtp: SmtpSettings | None = None  # when email is "smtp"
    gateway: GatewaySettings | None = None  # when sms is "gateway"

    @classmethod
    def from_table(cls, table: Mapping[str, Any]) -> NotificationSettings:
        """Parse the config's ``[notifications]`` (``table`` is the parsed config file,
        whose ``notifications`` table is used, or that table itself; missing means file
        channels for both).

        Raises:
            BadData: an unknown channel kind, a missing or mistyped setting or an unknown
                key in ``[notifications.smtp]``/``[notifications.sms_gateway]``; ``field``
                names it, e.g. ``"notifications.smtp.port"``.  Values (passwords, keys)
                are never echoed.
        """
        where = "notifications"
        section = config_table(table, "notifications", where) if "notifications" in table else table
        email_kind = config_value(section, "email", str, "file", where, secret=True)
        sms_kind = config_value(section, "sms", str, "file", where, secret=True)
        if email_kind not in _EMAIL_KINDS:
            raise BadData(f"config {where}.email: expected one of {', '.join(_EMAIL_KINDS)}",
                          field=f"{where}.email")
        if sms_kind not in _SMS_KINDS:
            raise BadData(f"config {where}.sms: expected one of {', '.join(_SMS_KINDS)}",
                          field=f"{where}.sms")
        return cls(
            email=email_kind, sms=sms_kind,
            file_path=config_value(section, "file_path", str, DEFAULT_FILE_PATH, where,
                                   secret=True),
            smtp=(_smtp_from(config_table(section, "smtp", f"{where}.smtp"), f"{where}.smtp")
                  if email_kind == "smtp" else None),
            gateway=(_gateway_from(config_table(section, "sms_gateway", f"{where}.sms_gateway"),
                                   f"{where}.sms_gateway")
                     if sms_kind == "gateway" else None))

    def channels(self, data_dir: Path) -> dict[str, Channel]:
        """The ``{"email": ..., "sms": ...}`` channels; ``{data}`` in ``file_path`` is
        replaced by ``data_dir``.  Both file channels share one instance."""
        file_channel: FileChannel | None = None

        def file() -> FileChannel:
            nonlocal file_channel
            if file_channel is None:
                file_channel = FileChannel(Path(self.file_path.replace("{data}", str(data_dir))))
            return file_channel

        email: Channel = self.smtp.channel() if self.smtp is not None else file()
        sms: Channel = self.gateway.channel() if self.gateway is not None else file()
        return {"email": email, "sms": sms}


def _smtp_from(table: Mapping[str, Any], where: str) -> SmtpSettings:
    _no_unknown(table, _SMTP_KEYS, where)
    host = config_value(table, "host", str, None, where, required=True, secret=True)
    port = config_value(table, "port", int, 25, where, secret=True)
    if not 1 <= port <= 65535:
        raise BadData(f"config {where}.port: must be 1 to 65535", field=f"{where}.port")
    sender = config_value(table, "sender", str, None, where, required=True, secret=True)
    if "@" not in sender or _CONTROL_RE.search(sender):
        raise BadData(f"config {where}.sender: expected an e-mail address",
                      field=f"{where}.sender")
    timeout_s = config_value(table, "timeout_s", float, 10.0, where, secret=True)
    if timeout_s <= 0:
        raise BadData(f"config {where}.timeout_s: must be positive", field=f"{where}.timeout_s")
    return SmtpSettings(
        host=host, port=port, sender=sender,
        username=config_value(table, "username", str, None, where, secret=True),
        password=config_value(table, "password", str, None, where, secret=True),
        starttls=config_value(table, "starttls", bool, False, where, secret=True),
        timeout_s=timeout_s,
    )


def _gateway_from(table: Mapping[str, Any], where: str) -> GatewaySettings:
    _no_unknown(table, _GATEWAY_KEYS, where)
    url = config_value(table, "url", str, None, where, required=True, secret=True)
    api_key = config_value(table, "api_key", str, None, where, required=True, secret=True)
    if not api_key:
        raise BadData(f"config {where}.api_key: must not be empty", field=f"{where}.api_key")
    timeout_s = config_value(table, "timeout_s", float, 10.0, where, secret=True)
    if timeout_s <= 0:
        raise BadData(f"config {where}.timeout_s: must be positive", field=f"{where}.timeout_s")
    try:
        SmsGatewayChannel(url, api_key, timeout_s)  # checks the URL's scheme
    except BadData:
        raise BadData(f"config {where}.url: expected an http:// or https:// URL",
                      field=f"{where}.url") from None
    return GatewaySettings(url, api_key, timeout_s)


def channels_from_config(table: Mapping[str, Any] | NotificationSettings, data_dir: Path
                         ) -> dict[str, Channel]:
    """The ``{"email": ..., "sms": ...}`` channels from ``[notifications]`` (parsed, or
    a table as ``NotificationSettings.from_table`` takes it).

    Raises:
        BadData: see ``NotificationSettings.from_table``.
    """
    if not isinstance(table, NotificationSettings):
        table = NotificationSettings.from_table(table)
    return table.channels(data_dir)
