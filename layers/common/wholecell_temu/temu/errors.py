"""Temu failures and the one table that classifies them (reference §6.1; the codes: temu/codes.py).

Every Temu failure becomes a `TemuApiError` carrying an `ErrorClass`; callers branch on the
class only. Classification depends on the code and, for a few codes, on the operation:
token-creation codes mean "authorize again" only at token creation, and an unknown outcome
(timeout) is harmless for reads and absolute stock targets but must be verified for writes
such as shipment confirm.
"""

from __future__ import annotations

from wholecell_temu.errors import ErrorClass, ExternalApiError
from wholecell_temu.temu.codes import (
    RATE_LIMITED,
    REAUTHORIZE_CODES,
    RETRYABLE_CODES,
    SUCCESS_CODE,
    TOKEN_CREATE_REAUTHORIZE_CODES,
    VERIFY_CODES,
)

CREATE_TOKEN_API = "bg.open.accesstoken.create"  # noqa: S105 - an API name, not a secret

# Writes whose outcome is unknown after a timeout; everything else (reads, absolute stock
# targets, token info) is idempotent and may simply be retried.
NON_IDEMPOTENT_TYPES = frozenset(
    {"bg.logistics.shipment.v2.confirm", "bg.logistics.shipment.shippingtype.update", CREATE_TOKEN_API}
)


class TemuApiError(ExternalApiError):
    """A classified failure of a Temu Open API call (never carries secrets or tokens)."""

    service = "temu"


def classify_code(code: int, operation: str | None = None) -> ErrorClass:
    """The handling class of a Temu `errorCode` for `operation` (the Temu `type`)."""
    if code in RETRYABLE_CODES:
        return ErrorClass.RETRYABLE
    if code in REAUTHORIZE_CODES:
        return ErrorClass.REAUTHORIZE
    if code in TOKEN_CREATE_REAUTHORIZE_CODES and operation == CREATE_TOKEN_API:
        return ErrorClass.REAUTHORIZE
    if code in VERIFY_CODES:
        return ErrorClass.VERIFY_BEFORE_RETRY
    return ErrorClass.FIX_REQUEST


def classify_http_status(status: int) -> ErrorClass:
    """Non-2xx answers: 429 and 5xx are transient; other statuses mean our request is wrong."""
    return ErrorClass.RETRYABLE if status == 429 or status >= 500 else ErrorClass.FIX_REQUEST


def classify_unknown_outcome(operation: str) -> ErrorClass:
    """A timeout or dropped connection after sending leaves a write's outcome unknown.

    Reads and absolute stock targets are safe to repeat; the listed writes must be re-read first.
    """
    return ErrorClass.VERIFY_BEFORE_RETRY if operation in NON_IDEMPOTENT_TYPES else ErrorClass.RETRYABLE


__all__ = [
    "RATE_LIMITED",
    "SUCCESS_CODE",
    "TemuApiError",
    "classify_code",
    "classify_http_status",
    "classify_unknown_outcome",
]
