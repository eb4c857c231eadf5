from __future__ import annotations

import io
import json
import logging

from aws_lambda_powertools import Logger
from wholecell_temu.observability import PACKAGE_LOGGER, RedactingFormatter, logger, redact
from wholecell_temu.temu import client


def test_redact_nested() -> None:
    data = {"access_token": "t", "nested": [{"shipping_address": {"street1": "x"}, "ok": 1}], "Sign": "ABC"}
    assert redact(data) == {"access_token": "***", "nested": [{"shipping_address": "***", "ok": 1}], "Sign": "***"}


def test_logger_never_writes_secrets_or_addresses() -> None:
    stream = io.StringIO()
    log = Logger(service="t", stream=stream, logger_formatter=RedactingFormatter())
    log.info("calling", extra={"app_secret": "s3cr3t", "receiptName": "Jordan Smith", "mall_id": 7})
    line = json.loads(stream.getvalue())
    assert "s3cr3t" not in stream.getvalue() and "Jordan" not in stream.getvalue()
    assert line["mall_id"] == 7


def test_connection_secret_documents_are_scrubbed() -> None:
    """A connection's secret ({"wholecell": ..., "temu": ...}), a Secrets Manager answer and the
    webhook master key: no value survives, wherever it is nested."""
    document = {"wholecell": {"app_id": "a", "app_secret": "wc-s3cret"}, "temu": {"access_token": "upl-t0ken"}}
    answer = {"ARN": "arn:x", "VersionId": "v1", "SecretString": '{"master_key": "mk"}'}
    scrubbed = str(redact({"credentials": document, "answer": answer, "key": {"master_key": "mk-value"}}))
    for value in ("wc-s3cret", "upl-t0ken", "master_key\": \"mk", "mk-value"):
        assert value not in scrubbed
    assert "v1" in scrubbed and "'app_id': 'a'" in scrubbed


def test_the_clients_plain_loggers_write_powertools_json_with_redaction() -> None:
    """`logging.getLogger(__name__)` in the clients goes through the Powertools handler and its
    redaction, once, not through the root logger (where Lambda would print it unscrubbed)."""
    assert PACKAGE_LOGGER.propagate is False
    handler = logger.handlers[0]  # the very handler (and formatter) Powertools writes with
    assert handler in PACKAGE_LOGGER.handlers
    assert isinstance(handler, logging.StreamHandler)
    stream = io.StringIO()
    previous = handler.setStream(stream)
    try:
        client.log.warning("temu call retried", extra={"access_token": "upl-t0ken", "operation": "bg.x"})
    finally:
        handler.setStream(previous)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert len(lines) == 1, stream.getvalue()
    assert lines[0]["access_token"] == "***" and lines[0]["operation"] == "bg.x"
    assert lines[0]["name"] == "wholecell_temu.temu.client" and "upl-t0ken" not in stream.getvalue()


def test_keys_are_redacted_by_pattern_in_any_spelling() -> None:
    """snake_case and camelCase address fields, plural and compound secret names, buyer names,
    e-mail, city and zip: all scrubbed, however they are spelled."""
    data = {"address_line1": "418 Maple", "addressLine2": "Apt 2", "receipt_name": "Jordan", "secrets": ["s"],
            "refresh_token": "rt", "refreshToken": "rt2", "client_secret": "cs", "name": "Jordan Smith",
            "email": "j@example.com", "buyer_email": "j2@example.com", "city": "Columbus", "zip": "43215",
            "zip_code": "43216", "postal_code": "43217", "region_name3": "Columbus", "phone_number": "555",
            "mobileNumber": "556", "x-wholecell-signature": "v1=abc", "first_name": "Jo", "password_hash": "p"}
    scrubbed = redact({"outer": data})["outer"]
    assert {key: value for key, value in scrubbed.items() if value != "***"} == {}


def test_operational_keys_stay_readable() -> None:
    data = {"connection_id": "c1", "job": "order_import", "status": "active", "sku": "IP13-128",
            "parent_order_sn": "PO-1", "operation": "bg.order.list.v2.get", "error_code": 4000004,
            "request_id": "r-1", "mall_id": 7, "outcome": "confirmed", "counts": {"created": 2},
            "token_expires_at": "2026-12-31", "capacity": 3, "authorization_id": "a1", "exception_name": "KeyError",
            "app_id": "wc-app"}
    assert redact(data) == data


def test_secrets_inside_strings_and_tracebacks_are_scrubbed() -> None:
    """Exception messages and tracebacks are text, not keys: known secret shapes in them are scrubbed."""
    stream = io.StringIO()
    log = Logger(service="t-traceback", stream=stream, logger_formatter=RedactingFormatter())
    try:
        raise ValueError('refused: {"app_secret": "wc-s3cret"} access_token=upl-t0ken '
                         "Authorization: Basic YWJjOmRlZg== secret whsec_AbCdEf012")
    except ValueError:
        log.exception("call failed with client_secret=cs-v4lue")
    text = stream.getvalue()
    for value in ("wc-s3cret", "upl-t0ken", "YWJjOmRlZg", "whsec_AbCdEf012", "cs-v4lue"):
        assert value not in text, value
    line = json.loads(text)
    assert "ValueError" in line["exception"] and line["message"].startswith("call failed")


def test_the_logger_name_stays_but_a_name_field_does_not() -> None:
    stream = io.StringIO()
    log = Logger(service="t-name", stream=stream, logger_formatter=RedactingFormatter())
    log.info("order", extra={"order": {"name": "Jordan Smith"}})
    log.append_keys(name="Jordan Smith")
    log.info("again")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert "Jordan" not in stream.getvalue()
    assert lines[0]["order"] == {"name": "***"}
