"""Notification channels against real servers: aiosmtpd for SMTP, an HTTP server for SMS."""

from __future__ import annotations

import email
import email.policy
import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from ledger.absence.notify import (
    MAX_ATTEMPTS,
    DeliveryFailed,
    FileChannel,
    NotificationSettings,
    OutgoingMessage,
    SmsGatewayChannel,
    SmtpChannel,
    backoff_s,
    channels_from_config,
)
from ledger.errors import BadData
from tests.functional._mail import MailServer, free_port, serve_mail

SENDER = "noreply@hr.example.gov.cn"
SUBJECT = "面试缺席通知：请在48小时内重新预约"
TEXT = (
    "您好，张三：\n"
    "您未在规定时间内参加AI面试（岗位：综合管理岗）。如有异议，请于5个工作日内申诉。\n"
)
API_KEY = "test-api-key-123"


def email_message(to: str, reference: str = "ntf_0001") -> OutgoingMessage:
    return OutgoingMessage(reference=reference, channel="email", to=to, subject=SUBJECT,
                           text=TEXT)


def sms_message(to: str = "13800138000") -> OutgoingMessage:
    return OutgoingMessage(reference="ntf_sms_1", channel="sms", to=to, subject="", text=TEXT)


def refusal(channel: SmtpChannel | SmsGatewayChannel, message: OutgoingMessage
            ) -> DeliveryFailed:
    """The DeliveryFailed that sending ``message`` through ``channel`` must raise."""
    with pytest.raises(DeliveryFailed) as info:
        channel.send(message)
    return info.value


# --- SMTP ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def smtp_server() -> Iterator[MailServer]:
    with serve_mail() as server:
        yield server


def test_smtp_delivers_chinese_mail_with_reference(
        smtp_server: MailServer) -> None:
    channel = SmtpChannel("127.0.0.1", smtp_server.port, SENDER, timeout_s=5.0)
    message_id = channel.send(email_message("zhang.san@example.cn", "ntf_42"))
    assert message_id.startswith("<ntf_42.")
    assert message_id.endswith("@absentia>")

    envelope = smtp_server.messages[-1]
    assert envelope.mail_from == SENDER
    assert envelope.rcpt_tos == ["zhang.san@example.cn"]
    assert isinstance(envelope.content, bytes)
    received = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert isinstance(received, EmailMessage)
    assert received["Subject"] == SUBJECT
    assert received["X-Absentia-Reference"] == "ntf_42"
    assert received["Message-ID"] == message_id
    assert received["To"] == "zhang.san@example.cn"
    assert received.get_content_type() == "text/plain"
    assert received.get_content_charset() == "utf-8"
    assert received.get_content().replace("\r\n", "\n") == TEXT


@pytest.mark.parametrize(("to", "code", "permanent"), [
    pytest.param("nobody@reject.example", "smtp_550", True, id="550-on-rcpt-is-permanent"),
    pytest.param("spam@spam.example", "smtp_554", True, id="5xx-on-data-is-permanent"),
    pytest.param("busy@busy.example", "smtp_451", False, id="4xx-is-temporary"),
])
def test_smtp_refusals_are_classified(smtp_server: MailServer, to: str, code: str,
                                      permanent: bool) -> None:
    failed = refusal(SmtpChannel("127.0.0.1", smtp_server.port, SENDER, timeout_s=5.0),
                     email_message(to))
    assert failed.code == code
    assert failed.permanent is permanent
    assert to.split("@")[0] not in str(failed)


@pytest.mark.parametrize("to", ["a@example.cn, b@example.cn", "Zhang <a@example.cn>",
                                "nobody", "张三@例子.中国"])
def test_smtp_recipient_must_be_one_address(smtp_server: MailServer, to: str) -> None:
    before = len(smtp_server.messages)
    failed = refusal(SmtpChannel("127.0.0.1", smtp_server.port, SENDER, timeout_s=5.0),
                     email_message(to))
    assert failed.code == "invalid_recipient"
    assert failed.permanent
    assert len(smtp_server.messages) == before


def test_smtp_closed_port_is_temporary_connect() -> None:
    failed = refusal(SmtpChannel("127.0.0.1", free_port(), SENDER, timeout_s=2.0),
                     email_message("zhang.san@example.cn"))
    assert failed.code == "smtp_connect"
    assert not failed.permanent


def test_smtp_repr_hides_password() -> None:
    channel = SmtpChannel("mail.example", 587, SENDER, username="u", password="hunter2")
    assert "hunter2" not in repr(channel)


# --- SMS gateway --------------------------------------------------------------------------


@dataclass
class Gateway:
    url: str
    requests: list[dict[str, Any]]


SLOW_S = 1.5


class GatewayHandler(BaseHTTPRequestHandler):
    """Answers by path: /ok, /bad (400), /down (503), /slow, /nonjson, /noid."""

    server: GatewayServer

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep the test output quiet

    def _reply(self, status: int, body: bytes, content_type: str = "application/json") -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:
            pass  # the client gave up (the slow case)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        raw = self.rfile.read(length)
        self.server.requests.append({
            "path": self.path,
            "authorization": self.headers.get("Authorization"),
            "content_type": self.headers.get("Content-Type"),
            "json": json.loads(raw.decode("utf-8")),
        })
        if self.headers.get("Authorization") != f"Bearer {API_KEY}":
            self._reply(401, b'{"error":"unauthorized"}')
        elif self.path == "/ok":
            self._reply(200, json.dumps({"id": "gw-0001"}).encode())
        elif self.path == "/bad":
            self._reply(400, b'{"error":"bad number"}')
        elif self.path == "/down":
            self._reply(503, b"unavailable", "text/plain")
        elif self.path == "/slow":
            time.sleep(SLOW_S)
            self._reply(200, json.dumps({"id": "too-late"}).encode())
        elif self.path == "/nonjson":
            self._reply(200, b"<html>ok</html>", "text/html")
        elif self.path == "/noid":
            self._reply(200, b'{"status":"queued","id":12}')
        else:
            self._reply(404, b"{}")


class GatewayServer(ThreadingHTTPServer):
    requests: list[dict[str, Any]]


@pytest.fixture(scope="module")
def gateway() -> Iterator[Gateway]:
    server = GatewayServer(("127.0.0.1", 0), GatewayHandler)
    server.requests = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Gateway(f"http://127.0.0.1:{server.server_address[1]}", server.requests)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_sms_gateway_sends_json_with_bearer_token(gateway: Gateway) -> None:
    channel = SmsGatewayChannel(f"{gateway.url}/ok", API_KEY, timeout_s=5.0)
    assert channel.send(sms_message()) == "gw-0001"
    request = gateway.requests[-1]
    assert request["authorization"] == f"Bearer {API_KEY}"
    assert request["content_type"].startswith("application/json")
    assert request["json"] == {"to": "13800138000", "text": TEXT, "reference": "ntf_sms_1"}
    assert API_KEY not in repr(channel)


@pytest.mark.parametrize(("path", "key", "code", "permanent"), [
    ("/bad", API_KEY, "gateway_400", True),
    ("/ok", "wrong-key", "gateway_401", True),
    ("/down", API_KEY, "gateway_503", False),
    ("/nonjson", API_KEY, "gateway_bad_reply", False),
    ("/noid", API_KEY, "gateway_bad_reply", False),
])
def test_sms_gateway_failures_are_classified(gateway: Gateway, path: str, key: str, code: str,
                                             permanent: bool) -> None:
    failed = refusal(SmsGatewayChannel(f"{gateway.url}{path}", key, timeout_s=5.0),
                     sms_message())
    assert failed.code == code
    assert failed.permanent is permanent
    assert "13800138000" not in str(failed)


def test_sms_gateway_slow_reply_is_temporary_timeout(gateway: Gateway) -> None:
    failed = refusal(SmsGatewayChannel(f"{gateway.url}/slow", API_KEY, timeout_s=0.3),
                     sms_message())
    assert failed.code == "gateway_timeout"
    assert not failed.permanent


def test_sms_gateway_connection_refused_is_temporary() -> None:
    failed = refusal(SmsGatewayChannel(f"http://127.0.0.1:{free_port()}/send", API_KEY,
                                       timeout_s=2.0), sms_message())
    assert failed.code == "gateway_connect"
    assert not failed.permanent


def test_sms_gateway_rejects_non_http_url() -> None:
    with pytest.raises(BadData):
        SmsGatewayChannel("file:///etc/passwd", API_KEY)


# --- FileChannel --------------------------------------------------------------------------


def test_file_channel_appends_lines_and_warns(tmp_path: Path,
                                              caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "out" / "outbox.jsonl"
    with caplog.at_level(logging.WARNING, logger="ledger.absence.notify"):
        channel = FileChannel(path)
    assert any("NOT delivered" in r.getMessage() for r in caplog.records)

    first = channel.send(email_message("li.si@example.cn", "ntf_1"))
    second = channel.send(sms_message("+86 138 0013 8000"))
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 2
    records = [json.loads(line) for line in lines]
    assert [r["id"] for r in records] == [first, second]
    assert records[0]["reference"] == "ntf_1"
    assert records[0]["subject"] == SUBJECT
    assert records[0]["text"] == TEXT
    assert records[1]["channel"] == "sms"
    assert "面试" in lines[0]  # UTF-8 as is, not \\u escapes


@pytest.mark.parametrize("message", [
    email_message("wang.wu@nowhere.invalid"),
    email_message("wang.wu@INVALID"),
    sms_message("19990001234"),
    sms_message("+86 1999 000 1234"),
])
def test_file_channel_reserved_recipients_fail_permanently(tmp_path: Path,
                                                           message: OutgoingMessage) -> None:
    path = tmp_path / "outbox.jsonl"
    with pytest.raises(DeliveryFailed) as info:
        FileChannel(path).send(message)
    assert info.value.code == "invalid_recipient"
    assert info.value.permanent
    assert message.to not in str(info.value)
    assert not path.exists()


# --- messages, errors, backoff ------------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "field_name"), [
    ({"reference": "has space"}, "reference"),
    ({"reference": ""}, "reference"),
    ({"reference": "a..b"}, "reference"),
    ({"channel": "fax"}, "channel"),
    ({"to": ""}, "to"),
    ({"to": "a@b.cn\r\nBcc: evil@x.cn"}, "to"),
    ({"subject": "hi\r\nBcc: evil@x.cn"}, "subject"),
])
def test_outgoing_message_validation(kwargs: dict[str, str], field_name: str) -> None:
    values = {"reference": "ntf_1", "channel": "email", "to": "a@b.cn", "subject": "s",
              "text": "t"} | kwargs
    with pytest.raises(BadData) as info:
        OutgoingMessage(**values)
    assert info.value.field == field_name
    if field_name == "to" and values["to"]:
        assert values["to"] not in str(info.value)


def test_delivery_failed_code_shape() -> None:
    assert DeliveryFailed("smtp_550", permanent=True).code == "smtp_550"
    with pytest.raises(ValueError, match="code"):
        DeliveryFailed("Bad Code!", permanent=False)
    with pytest.raises(ValueError, match="code"):
        DeliveryFailed("x" * 41, permanent=False)


def test_backoff_values() -> None:
    assert [backoff_s(n) for n in range(1, 9)] == [60, 120, 240, 480, 960, 1920, 3600, 3600]
    assert backoff_s(10_000) == 3600
    assert backoff_s(3, base_s=10, cap_s=25) == 25
    assert MAX_ATTEMPTS == 5
    with pytest.raises(ValueError, match="attempt"):
        backoff_s(0)


# --- configuration ------------------------------------------------------------------------


def test_config_defaults_to_one_shared_file_channel(tmp_path: Path) -> None:
    channels = channels_from_config({}, tmp_path)
    assert isinstance(channels["email"], FileChannel)
    assert channels["sms"] is channels["email"]
    assert channels["email"].path == tmp_path / "outbox.jsonl"


def test_config_smtp_and_gateway(tmp_path: Path) -> None:
    config = {"notifications": {
        "email": "smtp", "sms": "gateway", "file_path": "{data}/x.jsonl",
        "smtp": {"host": "localhost", "port": 2525, "sender": SENDER, "starttls": True,
                 "username": "hr", "password": "pw"},
        "sms_gateway": {"url": "http://127.0.0.1:9000/send", "api_key": "k"},
    }}
    channels = channels_from_config(config, tmp_path)
    email_channel, sms_channel = channels["email"], channels["sms"]
    assert isinstance(email_channel, SmtpChannel)
    assert (email_channel.host, email_channel.port, email_channel.starttls) == (
        "localhost", 2525, True)
    assert isinstance(sms_channel, SmsGatewayChannel)
    assert sms_channel.url == "http://127.0.0.1:9000/send"
    # The notifications table itself is accepted too.
    again = channels_from_config(config["notifications"], tmp_path)
    assert isinstance(again["email"], SmtpChannel)


SMTP_OK = {"host": "localhost", "port": 25, "sender": SENDER}
GATEWAY_OK = {"url": "http://127.0.0.1:9000/send", "api_key": "secret-key-value"}


@pytest.mark.parametrize(("notifications", "field_name"), [
    ({"email": "pigeon"}, "notifications.email"),
    ({"sms": "smtp"}, "notifications.sms"),
    ({"email": 1}, "notifications.email"),
    ({"file_path": 3}, "notifications.file_path"),
    ({"email": "smtp"}, "notifications.smtp"),
    ({"email": "smtp", "smtp": {**SMTP_OK, "port": "25"}}, "notifications.smtp.port"),
    ({"email": "smtp", "smtp": {**SMTP_OK, "port": 70000}}, "notifications.smtp.port"),
    ({"email": "smtp", "smtp": {**SMTP_OK, "port": True}}, "notifications.smtp.port"),
    ({"email": "smtp", "smtp": {"port": 25, "sender": SENDER}}, "notifications.smtp.host"),
    ({"email": "smtp", "smtp": {**SMTP_OK, "starttls": "yes"}}, "notifications.smtp.starttls"),
    ({"email": "smtp", "smtp": {**SMTP_OK, "prot": 25}}, "notifications.smtp.prot"),
    ({"email": "smtp", "smtp": {**SMTP_OK, "password": 12345678}},
     "notifications.smtp.password"),
    ({"sms": "gateway"}, "notifications.sms_gateway"),
    ({"sms": "gateway", "sms_gateway": {"url": GATEWAY_OK["url"]}},
     "notifications.sms_gateway.api_key"),
    ({"sms": "gateway", "sms_gateway": {**GATEWAY_OK, "url": "ftp://x/send"}},
     "notifications.sms_gateway.url"),
    ({"sms": "gateway", "sms_gateway": {**GATEWAY_OK, "timeout_s": "10"}},
     "notifications.sms_gateway.timeout_s"),
])
def test_config_errors_name_the_setting(tmp_path: Path, notifications: dict[str, Any],
                                        field_name: str) -> None:
    with pytest.raises(BadData) as info:
        channels_from_config({"notifications": notifications}, tmp_path)
    assert info.value.field == field_name
    assert field_name in str(info.value)
    assert "12345678" not in str(info.value)
    assert "secret-key-value" not in str(info.value)


def test_config_notifications_not_a_table(tmp_path: Path) -> None:
    with pytest.raises(BadData) as info:
        channels_from_config({"notifications": "smtp"}, tmp_path)
    assert info.value.field == "notifications"


def test_parsed_settings_are_typed_and_do_not_echo_secrets(tmp_path: Path) -> None:
    parsed = NotificationSettings.from_table({
        "email": "smtp", "sms": "gateway",
        "smtp": {**SMTP_OK, "password": "hunter2hunter2"}, "sms_gateway": GATEWAY_OK})
    assert parsed.smtp is not None
    assert parsed.smtp.port == 25
    assert parsed.gateway is not None
    assert parsed.gateway.url == GATEWAY_OK["url"]
    assert "hunter2hunter2" not in repr(parsed)
    assert "secret-key-value" not in repr(parsed)
    channels = channels_from_config(parsed, tmp_path)
    assert isinstance(channels["email"], SmtpChannel)
    assert isinstance(channels["sms"], SmsGatewayChannel)
