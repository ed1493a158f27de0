"""Standard Webhooks: ledger.absence.webhooks against the reference implementation and the spec."""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook
from werkzeug.datastructures import Headers

from ledger.absence.webhooks import (
    TOLERANCE_S,
    WebhookMessage,
    WebhookSecret,
    sign,
    verify,
)
from ledger.errors import BadData, CouldNotCheck, Unauthenticated

# The example secret of the Standard Webhooks spec (24 bytes).
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
T0 = 1_700_000_000
NOW = datetime.fromtimestamp(T0, UTC)
BODY = '{"type":"session.missed","data":{"candidate":"c-1","note":"未参加面试"}}'.encode()

ids = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters=","),
    min_size=1, max_size=128,
)


@pytest.fixture
def secret() -> WebhookSecret:
    return WebhookSecret.parse(SPEC_SECRET)


def headers_for(secret: WebhookSecret, msg_id: str = "msg_1", ts: int = T0,
                body: bytes = BODY) -> dict[str, str]:
    return {"webhook-id": msg_id, "webhook-timestamp": str(ts),
            "webhook-signature": sign(secret, msg_id, ts, body)}


# --- cross-check with the reference implementation ---------------------------------------


def test_reference_signed_message_is_accepted(secret: WebhookSecret) -> None:
    when = datetime.fromtimestamp(T0, UTC)
    signature = Webhook(SPEC_SECRET).sign("msg_2Lj", when, BODY.decode())
    headers = {"webhook-id": "msg_2Lj", "webhook-timestamp": str(T0),
               "webhook-signature": signature}
    assert verify([secret], headers, BODY, NOW) == WebhookMessage("msg_2Lj", T0)


def test_our_signature_matches_reference_byte_for_byte(secret: WebhookSecret) -> None:
    when = datetime.fromtimestamp(T0, UTC)
    assert sign(secret, "msg_x", T0, BODY) == Webhook(SPEC_SECRET).sign("msg_x", when,
                                                                         BODY.decode())


def test_reference_accepts_our_headers() -> None:
    secret = WebhookSecret.generate()
    ts = int(datetime.now(UTC).timestamp())  # the reference reads the real clock
    headers = headers_for(secret, "msg_ours", ts)
    assert Webhook(secret.to_text()).verify(BODY, headers, json_parse=False) is None
    # ... and its own verify rejects it with another secret (the check is real).
    with pytest.raises(Exception, match="No matching signature"):
        Webhook(WebhookSecret.generate().to_text()).verify(BODY, headers, json_parse=False)


@settings(max_examples=50, deadline=None)
@given(msg_id=ids, text=st.text(max_size=200))
def test_reference_round_trip_property(msg_id: str, text: str) -> None:
    when = datetime.fromtimestamp(T0, UTC)
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(T0),
               "webhook-signature": Webhook(SPEC_SECRET).sign(msg_id, when, text)}
    secret = WebhookSecret.parse(SPEC_SECRET)
    assert verify([secret], headers, text.encode(), NOW).id == msg_id


# --- signatures and secrets ---------------------------------------------------------------


def test_wrong_secret_is_rejected(secret: WebhookSecret) -> None:
    with pytest.raises(Unauthenticated) as info:
        verify([WebhookSecret.generate()], headers_for(secret), BODY, NOW)
    assert info.value.field == "webhook-signature"


def test_second_secret_during_rotation(secret: WebhookSecret) -> None:
    new = WebhookSecret.generate()
    assert verify([new, secret], headers_for(secret), BODY, NOW).id == "msg_1"
    assert verify([new, secret], headers_for(new), BODY, NOW).id == "msg_1"


def test_no_secret_configured(secret: WebhookSecret) -> None:
    with pytest.raises(CouldNotCheck):
        verify([], headers_for(secret), BODY, NOW)


def test_modified_body_byte_is_rejected(secret: WebhookSecret) -> None:
    headers = headers_for(secret)
    changed = bytearray(BODY)
    changed[10] ^= 0x01
    with pytest.raises(Unauthenticated):
        verify([secret], headers, bytes(changed), NOW)


def test_modified_id_is_rejected(secret: WebhookSecret) -> None:
    headers = headers_for(secret, "msg_1")
    headers["webhook-id"] = "msg_2"
    with pytest.raises(Unauthenticated) as info:
        verify([secret], headers, BODY, NOW)
    assert info.value.field == "webhook-signature"


def test_modified_timestamp_is_rejected(secret: WebhookSecret) -> None:
    headers = headers_for(secret)
    headers["webhook-timestamp"] = str(T0 + 1)
    with pytest.raises(Unauthenticated):
        verify([secret], headers, BODY, NOW)


def test_several_signatures_in_header(secret: WebhookSecret) -> None:
    other = WebhookSecret.generate()
    good = sign(secret, "msg_1", T0, BODY)
    bad = sign(other, "msg_1", T0, BODY)
    headers = headers_for(secret)
    headers["webhook-signature"] = f"v1a,{base64.b64encode(b'x' * 64).decode()} {bad} {good}"
    assert verify([secret], headers, BODY, NOW).id == "msg_1"
    headers["webhook-signature"] = f"{bad} v1,AAAA"
    with pytest.raises(Unauthenticated):
        verify([secret], headers, BODY, NOW)


def test_unknown_versions_only_is_rejected(secret: WebhookSecret) -> None:
    good_b64 = sign(secret, "msg_1", T0, BODY).split(",", 1)[1]
    headers = headers_for(secret)
    headers["webhook-signature"] = f"v1a,{good_b64} v2,{good_b64} nocomma"
    with pytest.raises(Unauthenticated, match="supported version") as info:
        verify([secret], headers, BODY, NOW)
    assert info.value.field == "webhook-signature"


@pytest.mark.parametrize("garbage", ["v1,!!!not base64!!!", "v1,", "v1,abc", "v1,☃"])
def test_garbage_base64_is_rejected(secret: WebhookSecret, garbage: str) -> None:
    headers = headers_for(secret)
    headers["webhook-signature"] = garbage
    with pytest.raises(Unauthenticated):
        verify([secret], headers, BODY, NOW)


def test_headers_are_case_insensitive(secret: WebhookSecret) -> None:
    plain = headers_for(secret)
    mixed = {"Webhook-Id": plain["webhook-id"], "WEBHOOK-TIMESTAMP": plain["webhook-timestamp"],
             "webhook-Signature": plain["webhook-signature"], "Content-Type": "application/json"}
    assert verify([secret], mixed, BODY, NOW) == WebhookMessage("msg_1", T0)


def test_werkzeug_headers(secret: WebhookSecret) -> None:
    headers = Headers(headers_for(secret))
    assert verify([secret], headers, BODY, NOW).id == "msg_1"


def test_conflicting_duplicate_header_is_bad_data(secret: WebhookSecret) -> None:
    headers = Headers(headers_for(secret))
    headers.add("Webhook-Id", "msg_other")
    with pytest.raises(BadData) as info:
        verify([secret], headers, BODY, NOW)
    assert info.value.field == "webhook-id"


def header_refusal(secret: WebhookSecret, name: str, value: str | None) -> BadData:
    """The BadData that ``verify`` raises for a signed delivery whose header ``name`` is
    then set to ``value`` (None: removed)."""
    headers = headers_for(secret)
    if value is None:
        del headers[name]
    else:
        headers[name] = value
    with pytest.raises(BadData) as info:
        verify([secret], headers, BODY, NOW)
    return info.value


@pytest.mark.parametrize("name", ["webhook-id", "webhook-timestamp", "webhook-signature"])
def test_missing_header_is_bad_data(secret: WebhookSecret, name: str) -> None:
    refused = header_refusal(secret, name, None)
    assert not isinstance(refused, Unauthenticated)
    assert refused.field == name
    assert name in str(refused)


@pytest.mark.parametrize("value", ["", "12.5", "-5", "1e9", "abc", "１２３", " 1700000000x"])
def test_timestamp_not_decimal_integer(secret: WebhookSecret, value: str) -> None:
    assert header_refusal(secret, "webhook-timestamp", value).field == "webhook-timestamp"


@pytest.mark.parametrize("msg_id", ["has space", "has,comma", "x" * 129, "ünïcode", "tab\there"])
def test_bad_id_is_bad_data(secret: WebhookSecret, msg_id: str) -> None:
    assert header_refusal(secret, "webhook-id", msg_id).field == "webhook-id"
    with pytest.raises(BadData):
        sign(secret, msg_id, T0, BODY)


# --- timestamp tolerance ------------------------------------------------------------------


@pytest.mark.parametrize("offset", [-TOLERANCE_S, 0, TOLERANCE_S])
def test_timestamp_within_tolerance(secret: WebhookSecret, offset: int) -> None:
    ts = T0 + offset
    assert verify([secret], headers_for(secret, ts=ts), BODY, NOW).timestamp == ts


@pytest.mark.parametrize(("offset", "word"), [(-TOLERANCE_S - 1, "past"),
                                              (TOLERANCE_S + 1, "future")])
def test_timestamp_outside_tolerance(secret: WebhookSecret, offset: int, word: str) -> None:
    with pytest.raises(Unauthenticated) as info:
        verify([secret], headers_for(secret, ts=T0 + offset), BODY, NOW)
    assert info.value.field == "webhook-timestamp"
    message = str(info.value)
    assert "301 s" in message
    assert word in message
    assert "clock" in message


def test_stale_timestamp_is_rejected_before_signature(secret: WebhookSecret) -> None:
    later = NOW + timedelta(hours=1)
    with pytest.raises(Unauthenticated) as info:
        verify([secret], headers_for(secret), BODY, later)
    assert info.value.field == "webhook-timestamp"


def test_naive_now_is_a_programming_error(secret: WebhookSecret) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        verify([secret], headers_for(secret), BODY, datetime(2023, 11, 14))


# --- secret text --------------------------------------------------------------------------


def test_secret_text_round_trip() -> None:
    secret = WebhookSecret.generate()
    text = secret.to_text()
    assert text.startswith("whsec_")
    assert WebhookSecret.parse(text) == secret
    assert WebhookSecret.parse(text.removeprefix("whsec_")) == secret
    assert WebhookSecret.parse(text.rstrip("=")) == secret  # padding optional
    assert len(secret.key) == 32
    assert secret.key.hex() not in repr(secret)


@pytest.mark.parametrize("text", [
    "whsec_" + base64.b64encode(b"k" * 23).decode(),  # too short
    "whsec_" + base64.b64encode(b"k" * 65).decode(),  # too long
    "whsec_not*base64*at*all*secretvalue",
    "whsec_",
    "",
])
def test_secret_parse_errors_do_not_echo_the_secret(text: str) -> None:
    with pytest.raises(BadData) as info:
        WebhookSecret.parse(text)
    assert info.value.field == "webhook secret"
    body = text.removeprefix("whsec_")
    if body:
        assert body not in str(info.value)
        assert body[:8] not in str(info.value)


def test_secret_bounds_accepted() -> None:
    for size in (24, 64):
        text = "whsec_" + base64.b64encode(b"k" * size).decode()
        assert len(WebhookSecret.parse(text).key) == size


# --- properties ---------------------------------------------------------------------------


@settings(max_examples=100, deadline=None)
@given(msg_id=ids, body=st.binary(max_size=300), ts=st.integers(T0 - TOLERANCE_S,
                                                                T0 + TOLERANCE_S))
def test_sign_verify_round_trip(msg_id: str, body: bytes, ts: int) -> None:
    secret = WebhookSecret.parse(SPEC_SECRET)
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(ts),
               "webhook-signature": sign(secret, msg_id, ts, body)}
    assert verify([secret], headers, body, NOW) == WebhookMessage(msg_id, ts)


@settings(max_examples=100, deadline=None)
@given(msg_id=ids, body=st.binary(min_size=1, max_size=300), data=st.data())
def test_any_single_byte_change_fails(msg_id: str, body: bytes, data: st.DataObject) -> None:
    secret = WebhookSecret.parse(SPEC_SECRET)
    headers = {"webhook-id": msg_id, "webhook-timestamp": str(T0),
               "webhook-signature": sign(secret, msg_id, T0, body)}
    index = data.draw(st.integers(0, len(body) - 1))
    flip = data.draw(st.integers(1, 255))
    changed = bytearray(body)
    changed[index] ^= flip
    with pytest.raises(Unauthenticated):
        verify([secret], headers, bytes(changed), NOW)
