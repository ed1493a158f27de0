"""The outbox against real servers: aiosmtpd for e-mail, a local HTTP gateway for SMS.

Windows queue invitations; ``dispatch`` sends the due ones through the channels and
records every attempt in the ledger (``notification.sent`` with the SHA-256 of the
provider's id, or ``notification.failed`` with a retry time, final after
``MAX_ATTEMPTS``).  Failed invitations feed the sweep's cause attribution, and delivery
receipts are recorded.  No address or name ever reaches the ledger.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from ledger.absence.notify import MAX_ATTEMPTS, Channel, SmsGatewayChannel, SmtpChannel, backoff_s
from ledger.absence.outbox import dispatch
from ledger.absence.service import AbsenceService, Caller
from ledger.entry import format_time
from ledger.errors import NotFound
from tests.functional._absence import LOG, T0, Env, candidates_csv, make_env
from tests.functional._mail import MailServer, free_port, serve_mail

HR = Caller("hr:test", "hr")
CAMPAIGN = "c2026"
SENDER = "noreply@hr.example.gov.cn"
API_KEY = "gw-test-key-0001"
INVITATION_SUBJECT = "AI面试邀请 / AI interview invitation"
OPENS = T0 + timedelta(hours=1)  # 09:00 in Asia/Shanghai
CLOSES = T0 + timedelta(hours=2)  # 10:00
GRACE = timedelta(seconds=600)  # [policies.government] grace_s
FIELDS = ("registration", "name", "id_number", "phone", "email", "post")


# --- servers --------------------------------------------------------------------------------


@pytest.fixture
def smtp() -> Iterator[MailServer]:
    with serve_mail() as server:
        yield server


class GatewayServer(ThreadingHTTPServer):
    status: int
    requests: list[dict[str, Any]]
    issued: list[str]
    lock: threading.Lock


class GatewayHandler(BaseHTTPRequestHandler):
    """An SMS gateway: answers ``server.status``; 200 carries ``{"id": "gw-<n>"}``."""

    server: GatewayServer

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with self.server.lock:
            self.server.requests.append({
                "authorization": self.headers.get("Authorization"),
                "json": json.loads(raw.decode("utf-8"))})
            status = self.server.status
            body = b'{"error":"unavailable"}'
            if status == 200:
                ident = f"gw-{len(self.server.issued) + 1:04d}"
                self.server.issued.append(ident)
                body = json.dumps({"id": ident}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def gateway() -> Iterator[GatewayServer]:
    server = GatewayServer(("127.0.0.1", 0), GatewayHandler)
    server.status, server.requests, server.issued = 200, [], []
    server.lock = threading.Lock()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def channels(smtp: MailServer, gateway: GatewayServer) -> dict[str, Channel]:
    return {"email": SmtpChannel("127.0.0.1", smtp.port, SENDER, timeout_s=5.0),
            "sms": SmsGatewayChannel(f"http://127.0.0.1:{gateway.server_address[1]}/send",
                                     API_KEY, timeout_s=5.0)}


# --- the domain -------------------------------------------------------------------------------


@pytest.fixture
def env(tmp_path: Path, db_url: str) -> Iterator[Env]:
    with make_env(tmp_path, db_url) as e:
        e.service.create_campaign(HR, {
            "campaign": CAMPAIGN, "title": "2026年市人社局公开招聘", "policy": "government",
            "posts": [{"post": "p01", "title": "岗位p01"}]}, T0)
        yield e


def csv_of(rows: list[dict[str, str]]) -> bytes:
    return (",".join(FIELDS) + "\n" + "".join(
        ",".join(r[k] for k in FIELDS) + "\n" for r in rows)).encode("utf-8")


def candidates(service: AbsenceService, rows: list[dict[str, str]]) -> list[str]:
    """Import ``rows`` at T0 and open a window (09:00-10:00 local) for each; the subjects."""
    imported = service.import_candidates(HR, CAMPAIGN, csv_of(rows), "text/csv", T0)
    assert [r["registration"] for r in imported] == [r["registration"] for r in rows]
    subjects = [str(r["subject"]) for r in imported]
    made = service.schedule_windows(HR, CAMPAIGN, {
        "opens_at": format_time(OPENS), "closes_at": format_time(CLOSES),
        "subjects": subjects}, T0)
    assert len(made) == len(rows)
    return subjects


def people(n: int, seed: int, **change: str) -> list[dict[str, str]]:
    _, rows = candidates_csv(n, seed=seed, prefix=f"Q{seed}")
    return [r | change for r in rows]


def invitation_of(service: AbsenceService, subject: str) -> dict[str, Any]:
    [note] = [n for n in service.notifications(CAMPAIGN)
              if n["subject"] == subject and n["template"] == "invitation"]
    return note


def outcomes(env: Env, notification: str) -> list[dict[str, Any]]:
    """The sent/failed/delivered entries' bodies of ``notification``, in ledger order."""
    return [e["body"] | {"type": e["type"]} for e in env.ledger_entries()
            if e["type"].startswith("notification.") and e["type"] != "notification.queued"
            and e["body"]["notification"] == notification]


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def assert_no_personal_data(env: Env, rows: list[dict[str, str]]) -> None:
    for e in env.ledger_entries():
        text = json.dumps(e, ensure_ascii=False)  # decoded: \\u escapes would hide names
        for r in rows:
            for key in ("name", "id_number", "phone", "email"):
                if r[key]:
                    assert r[key] not in text, (key, e["type"])


# --- e-mail -------------------------------------------------------------------------------


def test_invitations_go_out_by_email_once(env: Env, smtp: MailServer,
                                          gateway: GatewayServer) -> None:
    service = env.service
    rows = people(5, seed=11)
    subjects = candidates(service, rows)
    notes = [invitation_of(service, s) for s in subjects]
    assert [(n["channel"], n["status"], n["attempts"]) for n in notes] == [
        ("email", "pending", 0)] * 5

    now = T0 + timedelta(minutes=1)
    assert dispatch(service, channels(smtp, gateway), now) == Counter({"sent": 5})
    assert gateway.requests == []  # these candidates have an e-mail address
    received = dict(smtp.received())
    assert sorted(received) == sorted(r["email"] for r in rows)

    sent = {b["notification"]: b for e in env.ledger_entries()
            if e["type"] == "notification.sent" for b in [e["body"]]}
    assert sorted(sent) == sorted(n["notification"] for n in notes)
    for row, note in zip(rows, notes, strict=True):
        msg = received[row["email"]]
        assert msg["Subject"] == INVITATION_SUBJECT
        assert msg["From"] == SENDER
        assert msg["X-Absentia-Reference"] == note["notification"]
        assert msg.get_content_charset() == "utf-8"
        body = msg.get_content()
        assert f"{row['name']}，您好" in body
        assert f"报名号 {row['registration']}" in body
        assert "2026年市人社局公开招聘" in body
        assert "2026-11-25 09:00 至 2026-11-25 10:00（Asia/Shanghai）" in body
        assert f"registration {row['registration']} is open" in body
        assert sent[note["notification"]] == {
            "notification": note["notification"], "attempt": 1,
            "provider_ref_sha256": sha256(str(msg["Message-ID"]))}
    for n in service.notifications(CAMPAIGN):
        assert (n["status"], n["attempts"], n["last_error"]) == ("sent", 1, None)

    # Nothing is due any more: a second run sends nothing.
    assert dispatch(service, channels(smtp, gateway), now + timedelta(hours=1)) == Counter()
    assert len(smtp.messages) == 5
    assert_no_personal_data(env, rows)


def test_smtp_550_is_final_and_451_backs_off_until_max_attempts(
        env: Env, smtp: MailServer, gateway: GatewayServer) -> None:
    service = env.service
    rows = people(2, seed=12)
    rows[0]["email"] = "no.such.user@reject.example"
    rows[1]["email"] = "busy.user@busy.example"
    rejected, busy = (invitation_of(service, s)["notification"]
                      for s in candidates(service, rows))
    chans = channels(smtp, gateway)

    now = T0 + timedelta(minutes=1)
    assert dispatch(service, chans, now) == Counter({"failed": 1, "retry": 1})
    assert outcomes(env, rejected) == [{
        "type": "notification.failed", "notification": rejected, "attempt": 1,
        "error": "smtp_550", "final": 1}]
    retry_at = now + timedelta(seconds=backoff_s(1))
    assert outcomes(env, busy) == [{
        "type": "notification.failed", "notification": busy, "attempt": 1,
        "error": "smtp_451", "final": 0, "retry_at": format_time(retry_at)}]

    for attempt in range(2, MAX_ATTEMPTS + 1):
        tried = len(smtp.rcpt_attempts)
        # Before the retry time nothing is sent, nothing recorded.
        assert dispatch(service, chans, retry_at - timedelta(milliseconds=1)) == Counter()
        assert len(smtp.rcpt_attempts) == tried
        assert len(outcomes(env, busy)) == attempt - 1

        final = attempt == MAX_ATTEMPTS
        assert dispatch(service, chans, retry_at) == Counter({"failed" if final else "retry": 1})
        last = outcomes(env, busy)[-1]
        expected: dict[str, Any] = {"type": "notification.failed", "notification": busy,
                                    "attempt": attempt, "error": "smtp_451",
                                    "final": int(final)}
        if not final:
            retry_at += timedelta(seconds=backoff_s(attempt))
            expected["retry_at"] = format_time(retry_at)
        assert last == expected

    assert dispatch(service, chans, retry_at + timedelta(days=1)) == Counter()
    assert Counter(smtp.rcpt_attempts) == Counter({rows[0]["email"]: 1,
                                                   rows[1]["email"]: MAX_ATTEMPTS})
    assert smtp.messages == []
    by_id = {n["notification"]: n for n in service.notifications(CAMPAIGN)}
    assert (by_id[rejected]["status"], by_id[rejected]["attempts"],
            by_id[rejected]["last_error"]) == ("failed", 1, "smtp_550")
    assert (by_id[busy]["status"], by_id[busy]["attempts"],
            by_id[busy]["last_error"]) == ("failed", MAX_ATTEMPTS, "smtp_451")
    assert_no_personal_data(env, rows)


def test_mail_server_down_then_back_sends_on_the_retry(
        env: Env, smtp: MailServer, gateway: GatewayServer) -> None:
    service = env.service
    rows = people(1, seed=13)
    [subject] = candidates(service, rows)
    note = invitation_of(service, subject)["notification"]
    down = channels(smtp, gateway) | {
        "email": SmtpChannel("127.0.0.1", free_port(), SENDER, timeout_s=2.0)}

    now = T0 + timedelta(minutes=1)
    assert dispatch(service, down, now) == Counter({"retry": 1})
    retry_at = now + timedelta(seconds=backoff_s(1))
    assert outcomes(env, note) == [{
        "type": "notification.failed", "notification": note, "attempt": 1,
        "error": "smtp_connect", "final": 0, "retry_at": format_time(retry_at)}]

    assert dispatch(service, channels(smtp, gateway), retry_at) == Counter({"sent": 1})
    [(to, msg)] = smtp.received()
    assert to == rows[0]["email"]
    assert outcomes(env, note)[-1] == {
        "type": "notification.sent", "notification": note, "attempt": 2,
        "provider_ref_sha256": sha256(str(msg["Message-ID"]))}
    assert invitation_of(service, subject)["status"] == "sent"


# --- SMS ----------------------------------------------------------------------------------


def test_sms_through_the_gateway_and_503_retries(env: Env, smtp: MailServer,
                                                 gateway: GatewayServer) -> None:
    service = env.service
    rows = people(3, seed=14, email="")
    subjects = candidates(service, rows)
    notes = [invitation_of(service, s)["notification"] for s in subjects]
    assert {invitation_of(service, s)["channel"] for s in subjects} == {"sms"}
    chans = channels(smtp, gateway)

    now = T0 + timedelta(minutes=1)
    assert dispatch(service, chans, now) == Counter({"sent": 3})
    assert smtp.rcpt_attempts == []
    assert len(gateway.requests) == 3
    by_ref = {r["json"]["reference"]: r for r in gateway.requests}
    assert sorted(by_ref) == sorted(notes)
    issued = dict(zip((r["json"]["reference"] for r in gateway.requests), gateway.issued,
                      strict=True))
    for row, note in zip(rows, notes, strict=True):
        req = by_ref[note]
        assert req["authorization"] == f"Bearer {API_KEY}"
        assert req["json"]["to"] == row["phone"]
        assert f"{row['name']}，您好" in req["json"]["text"]
        assert f"报名号 {row['registration']}" in req["json"]["text"]
        assert outcomes(env, note) == [{
            "type": "notification.sent", "notification": note, "attempt": 1,
            "provider_ref_sha256": sha256(issued[note])}]

    # The gateway is unavailable (503): temporary, retried after the backoff.
    more = people(1, seed=15, email="")
    [subject] = candidates(service, more)
    note = invitation_of(service, subject)["notification"]
    gateway.status = 503
    assert dispatch(service, chans, now) == Counter({"retry": 1})
    retry_at = now + timedelta(seconds=backoff_s(1))
    assert outcomes(env, note) == [{
        "type": "notification.failed", "notification": note, "attempt": 1,
        "error": "gateway_503", "final": 0, "retry_at": format_time(retry_at)}]
    gateway.status = 200
    assert dispatch(service, chans, retry_at - timedelta(seconds=1)) == Counter()
    assert dispatch(service, chans, retry_at) == Counter({"sent": 1})
    tries = [r for r in gateway.requests if r["json"]["reference"] == note]
    assert [r["json"]["to"] for r in tries] == [more[0]["phone"]] * 2
    assert outcomes(env, note)[-1] == {
        "type": "notification.sent", "notification": note, "attempt": 2,
        "provider_ref_sha256": sha256(gateway.issued[-1])}
    assert_no_personal_data(env, rows + more)


# --- cause attribution and delivery receipts ---------------------------------------------------


def test_failed_invitations_are_the_cause_of_absence(env: Env, smtp: MailServer,
                                                     gateway: GatewayServer) -> None:
    service = env.service
    rows = people(5, seed=16)
    for i in (0, 1, 2):
        rows[i]["email"] = f"gone{i}@reject.example"
    failed_a, failed_b, joined, sent_ok, undeliverable = candidates(service, rows)
    notes = {s: invitation_of(service, s)["notification"]
             for s in (failed_a, failed_b, joined, sent_ok, undeliverable)}

    now = T0 + timedelta(minutes=1)
    assert dispatch(service, channels(smtp, gateway), now) == Counter({"failed": 3, "sent": 2})
    # The gateway later reports one sent message undeliverable.
    assert service.record_delivery(notes[undeliverable], "undeliverable", now + timedelta(
        minutes=5)) is True
    # One candidate whose invitation failed joined anyway (she knew from elsewhere).
    window_of = {w["subject"]: w["window"] for w in service.windows(CAMPAIGN)}
    _receipt, new = service.ingest("wh-join-1", {
        "id": "ev-join-1", "window": window_of[joined], "kind": "joined",
        "at": format_time(OPENS + timedelta(minutes=30)), "subject": joined},
        OPENS + timedelta(minutes=30))
    assert new
    assert [e["kind"] for e in service.window(window_of[joined])["events"]] == ["joined"]

    index_of: dict[str, int] = {}  # notification -> index of its last sent/failed/delivered
    for i, (_, data) in enumerate(env.store.iter_entries(LOG)):
        e = json.loads(data)
        if e["type"] in ("notification.failed", "notification.delivered"):
            index_of[e["body"]["notification"]] = i

    assert service.sweep(CLOSES + GRACE) == 5
    decided = {s: service.decision(service.window(window_of[s])["decision"])
               for s in window_of}
    for s in (failed_a, failed_b, undeliverable):
        d = decided[s]
        assert (d["outcome"], d["cause"], d["reason"]) == (
            "makeup_pending_review", "notification_failed", "invitation_not_delivered"), s
        assert d["evidence"] == [index_of[notes[s]]]
    assert (decided[joined]["cause"], decided[joined]["reason"]) == (
        "no_show", "joined_not_completed")
    assert decided[joined]["outcome"] == "forfeited"
    assert (decided[sent_ok]["cause"], decided[sent_ok]["outcome"]) == ("no_show", "forfeited")

    stats = service.statistics(CAMPAIGN)
    assert stats["causes"]["notification_failed"] == 3
    assert stats["causes"]["no_show"] == 2
    assert stats["outcomes"] == {"makeup_pending_review": 3, "forfeited": 2}


def test_sweep_decides_while_an_invitation_is_still_being_retried(
        env: Env, smtp: MailServer, gateway: GatewayServer) -> None:
    """An invitation between two attempts does not hold the sweep up.

    It had not reached the candidate when the window closed, so the absence is put
    down to the notification (the failed attempt is the evidence), as for a final failure.
    """
    service = env.service
    rows = people(2, seed=17)
    rows[0]["email"] = "busy.user@busy.example"
    retrying, fine = candidates(service, rows)
    late = CLOSES - timedelta(minutes=1)  # the first try only just before the close
    assert dispatch(service, channels(smtp, gateway), late) == Counter({"retry": 1, "sent": 1})
    assert invitation_of(service, retrying)["status"] == "pending"
    [failed_index] = [i for i, (_, data) in enumerate(env.store.iter_entries(LOG))
                      if json.loads(data)["type"] == "notification.failed"]

    assert service.sweep(CLOSES + GRACE) == 2
    decided = {w["subject"]: service.decision(service.window(w["window"])["decision"])
               for w in service.windows(CAMPAIGN)}
    assert (decided[retrying]["cause"], decided[retrying]["outcome"],
            decided[retrying]["evidence"]) == (
        "notification_failed", "makeup_pending_review", [failed_index])
    assert (decided[fine]["cause"], decided[fine]["outcome"]) == ("no_show", "forfeited")


def test_delivery_receipts(env: Env, smtp: MailServer, gateway: GatewayServer) -> None:
    service = env.service
    rows = people(3, seed=18)
    rows[2]["email"] = "nobody@reject.example"
    a, b, failed = (invitation_of(service, s)["notification"]
                    for s in candidates(service, rows))
    now = T0 + timedelta(minutes=1)
    assert dispatch(service, channels(smtp, gateway), now) == Counter({"sent": 2, "failed": 1})

    later = now + timedelta(minutes=2)
    assert service.record_delivery(a, "delivered", later) is True
    assert outcomes(env, a)[-1] == {"type": "notification.delivered", "notification": a,
                                    "status": "delivered"}
    [entry] = [e for e in env.ledger_entries() if e["type"] == "notification.delivered"]
    assert (entry["actor"], entry["time"]) == ("gateway", format_time(later))
    assert service.record_delivery(b, "undeliverable", later) is True
    by_id = {n["notification"]: n for n in service.notifications(CAMPAIGN)}
    assert by_id[a]["status"] == "delivered"
    assert by_id[b]["status"] == "failed"

    # A repeated receipt, or one for a message never sent, records nothing.
    size = len(env.ledger_entries())
    assert service.record_delivery(a, "delivered", later) is False
    assert service.record_delivery(failed, "delivered", later) is False
    assert len(env.ledger_entries()) == size
    with pytest.raises(NotFound):
        service.record_delivery("n_nosuchnotification", "delivered", later)
    assert service.statistics(CAMPAIGN)["notifications"] == {"delivered": 1, "failed": 2}


def test_now_is_the_only_clock(env: Env, smtp: MailServer, gateway: GatewayServer) -> None:
    """Invitations are due from when they were queued: a dispatch 'before' sends nothing."""
    service = env.service
    candidates(service, people(2, seed=19))
    assert dispatch(service, channels(smtp, gateway), T0 - timedelta(seconds=1)) == Counter()
    assert smtp.rcpt_attempts == []
    assert dispatch(service, channels(smtp, gateway), T0) == Counter({"sent": 2})
