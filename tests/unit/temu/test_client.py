"""What the client puts on the wire and how it retries, with a fake session (no sockets)."""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from typing import Any

import pytest
import requests
from wholecell_temu.errors import ErrorClass
from wholecell_temu.net import Clock, RateLimiter, RetryPolicy
from wholecell_temu.temu import TemuApiError, TemuClient, sign


class SteppingClock(Clock):
    """Wall time advances 7 s per reading; sleeps are virtual."""

    def __init__(self) -> None:
        self.wall = 1_767_312_000.0
        self.mono = 0.0

    def time(self) -> float:
        self.wall += 7
        return self.wall

    def monotonic(self) -> float:
        return self.mono

    def sleep(self, seconds: float) -> None:
        self.mono += seconds


class FakeResponse:
    def __init__(self, status: int, body: Any) -> None:
        self.status_code = status
        self._body = body

    def json(self) -> Any:
        if isinstance(self._body, str):
            raise ValueError("not JSON")
        return self._body


class FakeSession(requests.Session):
    def __init__(self, responses: list[FakeResponse]) -> None:
        super().__init__()
        self.responses = responses
        self.bodies: list[dict[str, Any]] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> Any:  # type: ignore[override]
        self.bodies.append(_loads(request.body))
        return self.responses.pop(0)


def _loads(data: bytes | str | None) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(data or b"")
    return loaded


def _ok(result: Any) -> FakeResponse:
    return FakeResponse(200, {"success": True, "errorCode": 1000000, "errorMsg": "", "requestId": "us-1",
                              "result": result})


def _fail(code: int, message: str = "failed") -> FakeResponse:
    return FakeResponse(200, {"success": False, "errorCode": code, "errorMsg": message, "requestId": "us-2",
                              "result": None})


def _client(session: FakeSession, clock: Clock | None = None) -> tuple[TemuClient, RateLimiter]:
    the_clock = clock or SteppingClock()
    limiter = RateLimiter(100, clock=the_clock)
    client = TemuClient("https://gw.example/openapi/router", "KEY", "SECRET", "TOKEN", rate_limiter=limiter,
                        retry_policy=RetryPolicy(max_attempts=3, base_delay=0.5, rng=random.Random(1)),
                        session=session, clock=the_clock)
    return client, limiter


def test_body_has_common_params_flat_business_params_and_a_valid_sign() -> None:
    session = FakeSession([_ok({"pageNo": 1, "total": 0, "skuList": []})])
    client, _ = _client(session)
    client.sku_page(2, 50)
    body = session.bodies[0]
    assert body["type"] == "bg.local.goods.sku.list.query" and body["app_key"] == "KEY"
    assert body["access_token"] == "TOKEN" and body["data_type"] == "JSON"
    assert isinstance(body["timestamp"], int)
    assert (body["pageNo"], body["pageSize"], body["skuSearchType"], body["skuStatusFilterType"]) == (2, 50, 2, 2)
    assert "skuIdList" not in body and "searchText" not in body  # absent optionals are omitted
    assert body["sign"] == sign(body, "SECRET")
    assert "SECRET" not in json.dumps(body)


class BuildTwice(RateLimiter):
    """A pacer whose first build comes too late for its slot: it builds the request again."""

    def __init__(self, events: list[str]) -> None:
        super().__init__(100)
        self.events = events

    def paced[T](self, prepare: Callable[[], T]) -> T:
        self.events.append("slot")
        prepare()
        self.events.append("slot missed; booked again")
        return prepare()


def test_the_request_is_signed_in_its_slot_and_sent_as_built_with_nothing_in_between() -> None:
    events: list[str] = []

    class Watching(FakeSession):
        def send(self, request: requests.PreparedRequest, **kwargs: Any) -> Any:  # type: ignore[override]
            events.append(f"sent {_loads(request.body)['timestamp']}")
            return super().send(request, **kwargs)

    clock = SteppingClock()
    session = Watching([_ok({"warehouseList": []})])
    client = TemuClient("https://gw.example/openapi/router", "KEY", "SECRET", "TOKEN", rate_limiter=BuildTwice(events),
                        session=session, clock=clock)
    client.warehouses()
    stamp = int(clock.wall)  # the second build's timestamp: the clock's last reading
    assert events == ["slot", "slot missed; booked again", f"sent {stamp}"]
    assert session.bodies[0]["sign"] == sign(session.bodies[0], "SECRET")


def test_each_retry_has_a_fresh_timestamp_and_sign_and_rate_limit_penalizes() -> None:
    session = FakeSession([_fail(4000004), FakeResponse(502, "bad gateway"), _ok({"warehouseList": []})])
    client, limiter = _client(session)
    assert client.warehouses().warehouse_list == []
    timestamps = [b["timestamp"] for b in session.bodies]
    assert len(set(timestamps)) == 3
    assert len({b["sign"] for b in session.bodies}) == 3
    assert limiter._blocked_until > 0


def test_stock_edit_targets_are_absolute_and_in_order() -> None:
    session = FakeSession([_ok({"goodsId": 1, "operateResult": True, "skuStockEditStatusInfoList": []})])
    client, _ = _client(session)
    client.edit_stock(1, [(10, 5), (11, 0)])
    assert session.bodies[0]["skuStockTargetList"] == [{"skuId": 10, "stockTarget": 5},
                                                       {"skuId": 11, "stockTarget": 0}]


def test_errors_never_carry_the_secret_or_token() -> None:
    session = FakeSession([_fail(3000000, "bad params near TOKEN and SECRET")])
    client, _ = _client(session)
    with pytest.raises(TemuApiError) as info:
        client.token_info()
    assert "TOKEN" not in str(info.value) and "SECRET" not in str(info.value)
    assert info.value.error_class is ErrorClass.FIX_REQUEST and info.value.request_id == "us-2"
    assert "SECRET" not in repr(client)


def test_unexpected_result_shape_is_a_fix_request() -> None:
    session = FakeSession([_ok({"goodsId": 1.5})])
    client, _ = _client(session)
    with pytest.raises(TemuApiError) as info:
        client.edit_stock(1, [(10, 5)])
    assert info.value.error_class is ErrorClass.FIX_REQUEST


def test_limiter_never_bursts_and_nothing_accrues_during_a_penalty() -> None:
    clock = SteppingClock()
    limiter = RateLimiter(10, clock=clock)
    assert [limiter.acquire() for _ in range(3)] == pytest.approx([0.0, 0.1, 0.1])  # evenly spaced from the start
    limiter.penalize(5.0)
    clock.sleep(5.0)  # the whole pause passes
    assert limiter.acquire() == pytest.approx(0.1)  # pacing restarts empty: no burst after the pause
    assert limiter.acquire() == pytest.approx(0.1)
