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
