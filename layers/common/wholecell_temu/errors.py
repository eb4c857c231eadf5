"""Error classes shared by both API clients.

Every failure of an external call is classified once, where it is raised, into one of the
handling classes the architecture names. Callers decide on the class, never on messages.
"""

from __future__ import annotations

from enum import StrEnum


class ErrorClass(StrEnum):
    RETRYABLE = "retryable"  # transport errors, throttling, transient server errors
    REAUTHORIZE = "reauthorize"  # the credentials/token are no longer valid; stop and ask the seller
    FIX_REQUEST = "fix_request"  # our request is wrong; retrying cannot help
    VERIFY_BEFORE_RETRY = "verify_before_retry"  # a write's outcome is unknown or contested: re-read first


class ExternalApiError(Exception):
    """A classified failure of a call to Temu or WholeCell."""

    service: str = "external"

    def __init__(
        self,
        message: str,
        *,
        error_class: ErrorClass,
        code: str | int | None = None,
        status: int | None = None,
        request_id: str | None = None,
        operation: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.error_class = error_class
        self.code = code
        self.status = status
        self.request_id = request_id
        self.operation = operation

    @property
    def retryable(self) -> bool:
        return self.error_class is ErrorClass.RETRYABLE

    def __str__(self) -> str:
        parts = [f"{self.service} {self.operation or ''}".strip() + ":", self.message]
        if self.code is not None:
            parts.append(f"(code {self.code})")
        if self.status is not None:
            parts.append(f"[HTTP {self.status}]")
        if self.request_id:
            parts.append(f"requestId={self.request_id}")
        return " ".join(parts)
