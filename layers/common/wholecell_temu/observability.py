"""Logger, Tracer and Metrics, one instance each per process.

Secrets and buyer data never reach logs: the formatter below scrubs known sensitive keys
from every structured log record, wherever they are nested, as a last line of defence;
the code also keeps them out of log calls in the first place (typed models hide them).
"""

from __future__ import annotations

import logging
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.logging.types import PowertoolsLogRecord
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

METRICS_NAMESPACE = "WholeCellTemu"

# Keys whose values are secrets or buyer personal data (lower-cased, exact match).
SENSITIVE_KEYS = frozenset(
    {
        "access_token", "accesstoken", "app_secret", "appsecret", "sign", "authorization", "code",
        "webhook_secret", "secret", "password", "token", "state", "master_key", "secretstring",
        "shipping_address", "address", "receiptname", "receiptadditionalname", "mobile", "backupmobile",
        "mail", "addressline1", "addressline2", "addressline3", "addresslineall", "postcode", "street1",
        "street2", "street3", "phone", "name_of_buyer", "taxcode", "addressextra",
    }
)
REDACTED = "***"


def redact(value: Any) -> Any:
    """Return a copy of `value` with every sensitive key's value replaced."""
    if isinstance(value, dict):
        return {k: (REDACTED if str(k).lower() in SENSITIVE_KEYS else redact(v)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    return value


class RedactingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON formatter with sensitive keys scrubbed before serialization."""

    def serialize(self, log: dict[str, Any] | PowertoolsLogRecord) -> str:
        return super().serialize(redact(log) if isinstance(log, dict) else log)


logger = Logger(logger_formatter=RedactingFormatter())
# The package's plain `logging.getLogger(__name__)` loggers (the Temu and WholeCell clients, the
# models) write through the same handler, so the same JSON and the same redaction; they stop
# propagating to the root logger, whose Lambda handler would print them a second time, unscrubbed.
PACKAGE_LOGGER = logging.getLogger(__name__.split(".")[0])
copy_config_to_registered_loggers(source_logger=logger, include={PACKAGE_LOGGER.name})
tracer = Tracer()
metrics = Metrics(namespace=METRICS_NAMESPACE)

__all__ = ["METRICS_NAMESPACE", "PACKAGE_LOGGER", "logger", "metrics", "redact", "tracer"]
