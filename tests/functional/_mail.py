"""A real SMTP server for the tests (aiosmtpd) that refuses some recipients as one would.

``MailServer`` records every mail it accepts and every RCPT it is sent; it refuses, at
RCPT, addresses at ``@reject.example`` (550, no such user) and ``@busy.example`` (451, try
later), and at DATA any mail to ``@spam.example`` (554, rejected).  ``serve_mail()`` runs
one on a free port of 127.0.0.1 (``test_notify_channels``, ``test_outbox``);
``free_port()`` is also where nothing listens (a server that is down).
"""

from __future__ import annotations

import email
import email.policy
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass
class MailServer:
    """Accepts mail; refuses ``@reject.example`` (550), ``@busy.example`` (451) and, at
    DATA, ``@spam.example`` (554)."""

    port: int = 0
    messages: list[Envelope] = field(default_factory=list)
    rcpt_attempts: list[str] = field(default_factory=list)

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,  # noqa: N802
                          address: str, rcpt_options: list[str]) -> str:
        self.rcpt_attempts.append(address)
        if address.endswith("@reject.example"):
            return "550 5.1.1 no such user"
        if address.endswith("@busy.example"):
            return "451 4.3.0 mailbox busy, try later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session,  # noqa: N802
                          envelope: Envelope) -> str:
        if any(rcpt.endswith("@spam.example") for rcpt in envelope.rcpt_tos):
            return "554 5.7.1 message rejected"
        self.messages.append(envelope)
        return "250 Message accepted for delivery"

    def received(self) -> list[tuple[str, EmailMessage]]:
        """(recipient, parsed message) of every accepted mail."""
        out = []
        for env in self.messages:
            assert isinstance(env.content, bytes)
            msg = email.message_from_bytes(env.content, policy=email.policy.default)
            assert isinstance(msg, EmailMessage)
            assert len(env.rcpt_tos) == 1
            out.append((env.rcpt_tos[0], msg))
        return out


def free_port() -> int:
    """A TCP port of 127.0.0.1 that was free a moment ago (nothing listens on it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serve_mail() -> Iterator[MailServer]:
    """A ``MailServer`` listening on a free port of 127.0.0.1 until the block ends."""
    port = free_port()
    server = MailServer(port=port)
    controller = Controller(server, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield server
    finally:
        controller.stop()
