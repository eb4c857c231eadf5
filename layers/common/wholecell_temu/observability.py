"""Logger, Tracer and Metrics, one instance each per process.

Secrets and buyer data never reach logs: the formatter below scrubs every key that looks
sensitive (by pattern, any spelling) from every structured log record, wherever it is nested,
and known secret shapes from text (messages, exception messages, tracebacks), as a last line
of defence; the code also keeps them out of log calls in the first place (typed models hide them).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.logging.types import PowertoolsLogRecord
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

METRICS_NAMESPACE = "WholeCellTemu"

# A key is sensitive when, lower-cased and without separators ("refresh_token", "refreshToken" ->
# "refreshtoken"), it contains one of SENSITIVE_PARTS, or one of its words ("region_name3",
# "regionName3" -> region, name, 3) is one of SENSITIVE_WORDS (short words, matched whole so
# "capacity" is not a city), or it is one of SENSITIVE_KEYS. READABLE_KEYS are never redacted.
SENSITIVE_PARTS = (
    "secret", "token", "password", "passwd", "signature", "authorization", "credentialvalue", "apikey",
    "masterkey", "privatekey", "cookie", "address", "email", "phone", "mobile", "receipt", "street", "postcode",
    "postalcode", "zipcode", "taxcode",
)
SENSITIVE_WORDS = frozenset({"name", "names", "city", "zip", "postal", "sign", "mail", "town", "district"})
SENSITIVE_KEYS = frozenset({"code", "state", "auth", "key"})
READABLE_KEYS = frozenset({
    "connectionid", "job", "status", "sku", "parentordersn", "operation", "errorcode", "requestid",
    "functionname", "functionrequestid", "tokenexpiresat", "daystotokenexpiry", "keyversion", "exceptionname",
})
REDACTED = "***"
_WORDS = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
# Secrets inside text (exception messages, tracebacks, log messages): `secret_name=value`,
# `"app_secret": "value"`, HTTP auth schemes and webhook secrets.
_SECRET_IN_TEXT = re.compile(
    r"(?i)([\w-]*(?:secret|token|password|passwd|signature|authorization|api_?key)[\w-]*[\"']?\s*[:=]\s*[\"']?)"
    r"(?!\*\*\*)(?:(?:basic|bearer)\s+)?[^\s\"',;&}]+")
_AUTH_SCHEME = re.compile(r"(?i)\b(basic|bearer)\s+[A-Za-z0-9+/=._~-]{6,}")
_WEBHOOK_SECRET = re.compile(r"whsec_[A-Za-z0-9_-]+")


def sensitive(key: object) -> bool:
    text = str(key)
    flat = re.sub(r"[\s_.-]+", "", text.lower())
    words = [word.lower() for word in _WORDS.findall(text)]
    if flat in READABLE_KEYS:
        return False
    if words and words[-1] in ("id", "ids") and not any(part in flat for part in ("secret", "token", "password")):
        return False  # an identifier (authorization_id, address_id): kept, so logs can be followed
    if flat in SENSITIVE_KEYS or any(part in flat for part in SENSITIVE_PARTS):
        return True
    return any(word in SENSITIVE_WORDS for word in words)


def scrub_text(text: str) -> str:
    """Known secret shapes inside free text replaced (a cheap last line of defence for messages)."""
    text = _SECRET_IN_TEXT.sub(lambda m: m.group(1) + REDACTED, text)
    text = _AUTH_SCHEME.sub(lambda m: m.group(1) + " " + REDACTED, text)
    return _WEBHOOK_SECRET.sub("whsec_" + REDACTED, text)


def redact(value: Any, keep: dict[str, Any] | None = None) -> Any:
    """Return a copy of `value` with every sensitive key's value replaced and secrets in text scrubbed.

    `keep`: top-level keys whose exact values stay (the logger's own `name`, which Powertools adds).
    """
    if isinstance(value, dict):
        return {k: (v if keep and k in keep and keep[k] == v else REDACTED if sensitive(k) else redact(v))
                for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact(v) for v in value]
    if isinstance(value, str | BaseException):  # Powertools' stack_trace holds the exception itself
        return scrub_text(str(value))
    return value


class RedactingFormatter(LambdaPowertoolsFormatter):
    """Powertools' JSON formatter with sensitive keys and secrets in text scrubbed before serialization."""

    _record_name: str | None = None

    def format(self, record: logging.LogRecord) -> str:
        self._record_name = record.name  # formatting runs under the handler's lock: one record at a time
        return super().format(record)

    def serialize(self, log: dict[str, Any] | PowertoolsLogRecord) -> str:
        keep = {"name": self._record_name} if self._record_name else None
        return super().serialize(redact(log, keep) if isinstance(log, dict) else log)


logger = Logger(logger_formatter=RedactingFormatter())
# The package's plain `logging.getLogger(__name__)` loggers (the Temu and WholeCell clients, the
# models) write through the same handler, so the same JSON and the same redaction; they stop
# propagating to the root logger, whose Lambda handler would print them a second time, unscrubbed.
PACKAGE_LOGGER = logging.getLogger(__name__.split(".")[0])
copy_config_to_registered_loggers(source_logger=logger, include={PACKAGE_LOGGER.name})
tracer = Tracer()
metrics = Metrics(namespace=METRICS_NAMESPACE)

__all__ = ["METRICS_NAMESPACE", "PACKAGE_LOGGER", "logger", "metrics", "redact", "scrub_text", "sensitive", "tracer"]
