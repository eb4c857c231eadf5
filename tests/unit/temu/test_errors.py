"""Classification of Temu failures (reference §6.1): one table, callers branch on the class."""

from __future__ import annotations

import pytest
from wholecell_temu.errors import ErrorClass, ExternalApiError
from wholecell_temu.temu.errors import (
    TemuApiError,
    classify_code,
    classify_http_status,
    classify_unknown_outcome,
)

CONFIRM = "bg.logistics.shipment.v2.confirm"
CREATE = "bg.open.accesstoken.create"


@pytest.mark.parametrize(
    "code", [2000000, 4000000, 4000004, 7000000, 150010005, 150010002, 140020008, 140020009, 120014006, 110020001]
)
def test_retryable_codes(code: int) -> None:
    assert classify_code(code, "bg.order.list.v2.get") is ErrorClass.RETRYABLE


@pytest.mark.parametrize("code", [3000030, 3000031, 3000032, 3000034, 5000000])
def test_reauthorize_codes(code: int) -> None:
    assert classify_code(code, "bg.order.list.v2.get") is ErrorClass.REAUTHORIZE


@pytest.mark.parametrize("code", [110020002, 110020003])
def test_token_creation_codes_reauthorize_only_at_token_creation(code: int) -> None:
    assert classify_code(code, CREATE) is ErrorClass.REAUTHORIZE
    assert classify_code(code, "bg.order.list.v2.get") is ErrorClass.FIX_REQUEST


@pytest.mark.parametrize(
    "code",
    [3000000, 3000001, 3000003, 3000011, 3000012, 3000013, 3000020, 3000033, 3000040, 5000001, 5000002, 5000003,
     6000001, 150013001, 150013002, 150013003, 120014001, 120014005, 140020002, 999999999],
)
def test_fix_request_codes_and_unknown_codes(code: int) -> None:
    assert classify_code(code, CONFIRM) is ErrorClass.FIX_REQUEST


@pytest.mark.parametrize("code", [120012004, 120014003, 120014004, 120012023, 120012030, 120017007, 120012031])
def test_verify_before_retry_codes(code: int) -> None:
    assert classify_code(code, CONFIRM) is ErrorClass.VERIFY_BEFORE_RETRY


@pytest.mark.parametrize(("status", "expected"), [(429, ErrorClass.RETRYABLE), (500, ErrorClass.RETRYABLE),
                                                   (503, ErrorClass.RETRYABLE), (400, ErrorClass.FIX_REQUEST),
                                                   (404, ErrorClass.FIX_REQUEST)])
def test_http_status(status: int, expected: ErrorClass) -> None:
    assert classify_http_status(status) is expected


def test_unknown_outcome_is_verify_for_non_idempotent_writes_only() -> None:
    assert classify_unknown_outcome(CONFIRM) is ErrorClass.VERIFY_BEFORE_RETRY
    assert classify_unknown_outcome("bg.logistics.shipment.shippingtype.update") is ErrorClass.VERIFY_BEFORE_RETRY
    assert classify_unknown_outcome("bg.local.goods.stock.edit") is ErrorClass.RETRYABLE  # absolute targets
    assert classify_unknown_outcome("bg.order.list.v2.get") is ErrorClass.RETRYABLE


def test_error_carries_context_and_is_an_external_api_error() -> None:
    exc = TemuApiError("boom", error_class=ErrorClass.RETRYABLE, code=4000004, request_id="us-1",
                       operation="bg.order.list.v2.get")
    assert isinstance(exc, ExternalApiError)
    assert exc.retryable
    assert str(exc) == "temu bg.order.list.v2.get: boom (code 4000004) requestId=us-1"
