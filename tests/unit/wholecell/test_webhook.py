"""Webhook signing and verification (wholecell-api.md §7)."""

from __future__ import annotations

import hashlib
import hmac

from hypothesis import given
from hypothesis import strategies as st
from wholecell_temu.wholecell.adapter import sign_webhook, verify_webhook

SECRET = b"whsec-current"
OLD_SECRET = b"whsec-previous"
BODY = b'{"event":"sales_order.shipment_created","event_id":"evt_1","sales_order_id":5}'
NOW = 1_767_385_264.0
TS = str(int(NOW))


def headers(signature: str, timestamp: str = TS) -> dict[str, str]:
    return {"X-WholeCell-Timestamp": timestamp, "X-WholeCell-Signature": signature}


def test_signature_matches_reference_algorithm() -> None:
    expected = hmac.new(SECRET, TS.encode() + b"." + BODY, hashlib.sha256).hexdigest()
    assert sign_webhook(SECRET, TS, BODY) == "v1=" + expected


def test_good_signature_verifies() -> None:
    assert verify_webhook(headers(sign_webhook(SECRET, TS, BODY)), BODY, [SECRET], now=NOW)


def test_header_names_are_case_insensitive() -> None:
    signature = sign_webhook(SECRET, TS, BODY)
    lowered = {"x-wholecell-timestamp": TS, "x-wholecell-signature": signature}
    assert verify_webhook(lowered, BODY, [SECRET], now=NOW)


def test_bad_signature_or_altered_body_is_rejected() -> None:
    signature = sign_webhook(SECRET, TS, BODY)
    assert not verify_webhook(headers(signature), BODY + b" ", [SECRET], now=NOW)
    assert not verify_webhook(headers(sign_webhook(b"wrong", TS, BODY)), BODY, [SECRET], now=NOW)
    assert not verify_webhook(headers(signature[3:]), BODY, [SECRET], now=NOW)  # no v1= prefix
    assert not verify_webhook(headers("v1=" + "0" * 64), BODY, [SECRET], now=NOW)


def test_timestamp_outside_tolerance_is_rejected() -> None:
    old = str(int(NOW) - 301)
    assert not verify_webhook(headers(sign_webhook(SECRET, old, BODY), old), BODY, [SECRET], now=NOW)
    future = str(int(NOW) + 301)
    assert not verify_webhook(headers(sign_webhook(SECRET, future, BODY), future), BODY, [SECRET], now=NOW)
    edge = str(int(NOW) - 300)
    assert verify_webhook(headers(sign_webhook(SECRET, edge, BODY), edge), BODY, [SECRET], now=NOW)
    assert verify_webhook(headers(sign_webhook(SECRET, old, BODY), old), BODY, [SECRET], now=NOW,
                          tolerance=600)


def test_missing_or_malformed_headers_are_rejected() -> None:
    signature = sign_webhook(SECRET, TS, BODY)
    assert not verify_webhook({"X-WholeCell-Signature": signature}, BODY, [SECRET], now=NOW)
    assert not verify_webhook({"X-WholeCell-Timestamp": TS}, BODY, [SECRET], now=NOW)
    assert not verify_webhook({}, BODY, [SECRET], now=NOW)
    assert not verify_webhook(headers(signature, "12.5"), BODY, [SECRET], now=NOW)


def test_rotation_accepts_either_secret() -> None:
    for secret in (SECRET, OLD_SECRET):
        assert verify_webhook(headers(sign_webhook(secret, TS, BODY)), BODY, [SECRET, OLD_SECRET], now=NOW)
    assert not verify_webhook(headers(sign_webhook(OLD_SECRET, TS, BODY)), BODY, [SECRET], now=NOW)
    assert not verify_webhook(headers(sign_webhook(SECRET, TS, BODY)), BODY, [], now=NOW)
    assert not verify_webhook(headers(sign_webhook(b"", TS, BODY)), BODY, [b""], now=NOW)


@given(body=st.binary(max_size=256), secret=st.binary(min_size=1, max_size=64),
       flip=st.integers(min_value=0, max_value=255))
def test_any_body_round_trips_and_any_change_breaks_it(body: bytes, secret: bytes, flip: int) -> None:
    signed = headers(sign_webhook(secret, TS, body))
    assert verify_webhook(signed, body, [secret], now=NOW)
    tampered = body + bytes([flip]) if not body else bytes([body[0] ^ (flip or 1)]) + body[1:]
    assert not verify_webhook(signed, tampered, [secret], now=NOW)


@given(signature=st.text(max_size=80), timestamp=st.text(max_size=20))
def test_any_header_text_is_refused_never_raises(signature: str, timestamp: str) -> None:
    """Non-ASCII signatures (`v1=é`) and Unicode digits (`²`) are refused, not a crash."""
    assert not verify_webhook(headers("v1=" + signature, timestamp), BODY, [SECRET], now=NOW)
    assert not verify_webhook(headers(signature, timestamp), BODY, [SECRET], now=NOW)


def test_non_ascii_signature_and_unicode_digit_timestamp_are_refused() -> None:
    assert not verify_webhook(headers("v1=é"), BODY, [SECRET], now=NOW)
    assert not verify_webhook(headers(sign_webhook(SECRET, TS, BODY), "²"), BODY, [SECRET], now=NOW)
    assert not verify_webhook(headers(sign_webhook(SECRET, TS, BODY), "١٧٦٧٣٨٥٢٦٤"), BODY, [SECRET], now=NOW)
