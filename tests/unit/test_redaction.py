from __future__ import annotations

import io
import json

from aws_lambda_powertools import Logger
from wholecell_temu.observability import RedactingFormatter, redact


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
