"""Contract tests: WholeCellClient against the WholeCell sandbox over real HTTP.

Time is faked (client sleeps and rate-limiter waits advance a fake clock), so backoff and
pacing are asserted exactly and the file runs in a few seconds.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from flask import Flask, request
from wholecell_temu.errors import ErrorClass
from wholecell_temu.net import Clock, RateLimiter, RetryPolicy
from wholecell_temu.wholecell import (
    Customer,
    FilterIgnoredError,
    OrderItem,
    SalesOrderCreate,
    SalesOrderPatch,
    ShipmentEvent,
    ShippingAddress,
    WholeCellApiError,
    WholeCellClient,
    verify_webhook,
)

from local.sandboxes.common import FaultRule, RunningServer
from local.sandboxes.wholecell import WholeCellState, serve

APP_ID, APP_SECRET = "app-main", "s3cret-value-never-logged"
SKUS = ["IP13-128-BLK-B", "IP14-256-BLU-A", "PIXEL7-128-GRN-B"]


class FakeClock(Clock):
    def __init__(self) -> None:
        self.ticks = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.ticks

    def time(self) -> float:
        return 1_767_000_000.0 + self.ticks

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.sleeps.append(seconds)
            self.ticks += seconds


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    with serve() as running:
        yield running


@pytest.fixture
def state(server: RunningServer) -> WholeCellState:
    sandbox: WholeCellState = server.state
    sandbox.reset()
    sandbox.set_rate_limit(None)
    sandbox.webhook_async = False
    sandbox.create_account(APP_ID, APP_SECRET, skus=SKUS)
    return sandbox


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def make_client(server: RunningServer, clock: FakeClock, *, secret: str = APP_SECRET, attempts: int = 3,
                timeout: float = 5.0, rate: float = 1000.0) -> WholeCellClient:
    return WholeCellClient(
        server.url + "/api/v1", APP_ID, secret, rate_limiter=RateLimiter(rate, clock=clock),
        retry_policy=RetryPolicy(max_attempts=attempts, base_delay=0.01, max_delay=0.05,
                                 rng=random.Random(7)),
        timeout=timeout, clock=clock)


@pytest.fixture
def client(server: RunningServer, state: WholeCellState, clock: FakeClock) -> WholeCellClient:
    return make_client(server, clock)


def count(state: WholeCellState, key: str) -> int:
    counts: dict[str, int] = state.snapshot(APP_ID)["accounts"][APP_ID]["request_counts"]
    return counts.get(key, 0)


def new_order(reference: str = "PO-211-1", channel: str = "Temu", sku: str = SKUS[0],
              quantity: int = 1) -> SalesOrderCreate:
    return SalesOrderCreate(
        external_reference=reference, channel=channel, status="Pending", customer=Customer(name="Temu"),
        order_items=[OrderItem(sku=sku, quantity=quantity, unit_price_cents=32900, description="iPhone 13")])


# --- inventory and stock ----------------------------------------------------------------------
def test_paging_reads_every_unit(client: WholeCellClient, state: WholeCellState) -> None:
    state.generate_units(APP_ID, 250, skus=SKUS, seed=3)
    units = list(client.iter_inventories())
    assert len(units) == 250 and len({u.id for u in units}) == 250
    assert count(state, "GET /api/v1/inventories") == 3  # 100 + 100 + 50, then stop at page == pages


def test_generated_units_are_deterministic(state: WholeCellState) -> None:
    first = [(u.esn, u.sku) for u in state.generate_units(APP_ID, 5, skus=SKUS, seed=9)]
    second = [(u.esn, u.sku) for u in state.generate_units(APP_ID, 5, skus=SKUS, seed=9)]
    assert first == second


def test_status_and_delta_filters(client: WholeCellClient, state: WholeCellState) -> None:
    units = state.generate_units(APP_ID, 10, skus=SKUS, statuses=["Available"], seed=1)
    state.set_unit_status(APP_ID, [units[0].id, units[1].id], "Inbound")
    assert {u.id for u in client.iter_inventories(status="Inbound")} == {units[0].id, units[1].id}

    watermark = max(u.updated_at for u in client.iter_inventories())
    state.move_units(APP_ID, [units[5].id], warehouse="Overflow", location="Shelf 2")
    changed = list(client.iter_inventories(updated_at_gt=watermark))
    assert [(u.id, u.warehouse_name, u.location_name) for u in changed] == [
        (units[5].id, "Overflow", "Shelf 2")]


def test_ignored_filter_is_detected(client: WholeCellClient, state: WholeCellState) -> None:
    units = state.generate_units(APP_ID, 3, skus=SKUS, statuses=["Available"], seed=1)
    state.set_unit_status(APP_ID, [units[0].id], "Inbound")
    state.set_ignored_filters(["status"])
    with pytest.raises(FilterIgnoredError) as caught:
        list(client.iter_inventories(status="Inbound"))
    assert caught.value.error_class is ErrorClass.FIX_REQUEST
    assert "filter 'status' was ignored" in str(caught.value)

    client.create_sales_order(new_order("PO-A", channel="Amazon"))
    state.set_ignored_filters(["channel"])
    with pytest.raises(FilterIgnoredError, match="channel"):
        list(client.iter_sales_orders(channel="Temu"))


def test_ignored_paging_is_detected(client: WholeCellClient, state: WholeCellState) -> None:
    state.generate_units(APP_ID, 150, skus=SKUS, seed=4)
    state.set_ignored_filters(["page"])
    with pytest.raises(WholeCellApiError, match="asked for page 2, got page 1"):
        list(client.iter_inventories())


def test_sandbox_ignores_unknown_filters_faithfully(server: RunningServer, state: WholeCellState) -> None:
    state.generate_units(APP_ID, 4, skus=SKUS, seed=2)
    response = requests.get(server.url + "/api/v1/inventories", auth=(APP_ID, APP_SECRET), timeout=5,
                            params={"updated_since": "2999-01-01T00:00:00Z"})
    assert response.status_code == 200 and len(response.json()["data"]) == 4


def test_stock_levels_follow_wholecell_rules(client: WholeCellClient, state: WholeCellState) -> None:
    sku_a, sku_b, sku_zero = SKUS
    units = state.add_units(APP_ID, [{"sku": sku_a}, {"sku": sku_a}, {"sku": sku_a},
                                     {"sku": sku_a, "status": "Inbound"}, {"sku": sku_b}, {"sku": ""}])
    open_order = client.create_sales_order(new_order("PO-1", sku=sku_a, quantity=2))
    state.commit_units(APP_ID, [units[0].id], open_order.id)  # 1 of 2 committed -> 1 outstanding
    closed = client.create_sales_order(new_order("PO-2", sku=sku_b, quantity=5))
    client.update_sales_order(closed.id, SalesOrderPatch(status="Canceled"))

    levels = {row.sku: row for row in client.iter_stock_levels(["Available"])}
    assert set(levels) == set(SKUS)  # zero-stock SKU listed, null-SKU unit ignored
    assert (levels[sku_a].on_hand, levels[sku_a].outstanding, levels[sku_a].available) == (2, 1, 1)
    assert (levels[sku_b].on_hand, levels[sku_b].outstanding) == (1, 0)
    assert levels[sku_zero].on_hand == 0 and levels[sku_zero].available == 0
    everything = {row.sku: row for row in client.iter_stock_levels()}
    assert everything[sku_a].on_hand == 3  # Inbound counts when no status filter is sent


# --- sales orders -----------------------------------------------------------------------------
def test_sales_order_create_get_patch(client: WholeCellClient, state: WholeCellState) -> None:
    created = client.create_sales_order(SalesOrderCreate(
        external_reference="PO-211-77", channel="Temu", status="Pending", customer=Customer(name="Temu"),
        order_items=[OrderItem(sku=SKUS[0], quantity=1, unit_price_cents=32900, description="iPhone 13"),
                     OrderItem(sku="NOT-IN-CATALOG", quantity=1, unit_price_cents=100, description="Case")]))
    assert created.order_number and created.shipping_address is None
    assert created.order_items[0].product_variation_id is not None
    [unknown] = created.unknown_sku_items
    assert unknown.sku is None and unknown.unknown_sku and unknown.description == "Case"

    address = ShippingAddress(name="Jordan Smith", street1="418 Maple Ave", city="Columbus", state="OH",
                              zip="43215", country="US")
    patched = client.update_sales_order(created.id, SalesOrderPatch(shipping_address=address,
                                                                    status="Awaiting Fulfillment"))
    assert patched.shipping_address is not None and patched.shipping_address.zip == "43215"
    assert patched.status == "Awaiting Fulfillment" and len(patched.order_items) == 2  # unsent: unchanged
    assert patched.updated_at > created.updated_at
    corrected = client.update_sales_order(created.id, SalesOrderPatch(shipping_address=ShippingAddress(
        name="Jordan Smith", street1="1 Elm St", zip="43004", country="US")))
    assert corrected.shipping_address is not None and corrected.shipping_address.city is None  # replaced

    replaced = client.update_sales_order(created.id, SalesOrderPatch(
        order_items=[OrderItem(sku=SKUS[1], quantity=3, unit_price_cents=1, description="x")]))
    assert [(i.sku, i.quantity) for i in replaced.order_items] == [(SKUS[1], 3)]
    fetched = client.get_sales_order(created.id)
    assert fetched.model_dump() == replaced.model_dump()


def test_sales_order_filters(client: WholeCellClient, state: WholeCellState) -> None:
    temu = client.create_sales_order(new_order("PO-1"))
    client.create_sales_order(new_order("PO-2", channel="eBay"))
    later = client.create_sales_order(new_order("PO-3"))
    client.update_sales_order(later.id, SalesOrderPatch(status="Canceled"))
    assert [o.external_reference for o in client.iter_sales_orders(channel="Temu")] == ["PO-1", "PO-3"]
    assert [o.external_reference for o in client.iter_sales_orders(status="Canceled")] == ["PO-3"]
    assert [o.id for o in client.iter_sales_orders(updated_at_gt=temu.updated_at)][-1] == later.id
    with pytest.raises(ValueError, match="timezone-aware"):
        list(client.iter_sales_orders(updated_at_gt=datetime(2026, 1, 1)))


def test_find_sales_order_by_reference(client: WholeCellClient, state: WholeCellState) -> None:
    since = datetime.now(UTC) - timedelta(minutes=5)
    client.create_sales_order(new_order("PO-X", channel="eBay"))
    wanted = client.create_sales_order(new_order("PO-X"))
    client.create_sales_order(new_order("PO-Y"))
    found = client.find_sales_order_by_reference("PO-X", channel="Temu", updated_since=since)
    assert found is not None and found.id == wanted.id
    assert client.find_sales_order_by_reference("PO-Z", channel="Temu", updated_since=since) is None


def test_lookups(client: WholeCellClient, state: WholeCellState) -> None:
    statuses = {s.title: s for s in client.sales_order_statuses()}
    assert statuses["Awaiting Fulfillment"].open and statuses["Awaiting Fulfillment"].allow_commitment
    assert not statuses["Canceled"].open
    assert "Temu" in {c.title for c in client.sales_channels()}
    assert {"Available", "Inbound"} <= {s.title for s in client.inventory_statuses()}
    assert all(w.id is not None for w in client.warehouses())


# --- errors -----------------------------------------------------------------------------------
def test_validation_error_is_fix_request_with_messages(client: WholeCellClient,
                                                        state: WholeCellState) -> None:
    bad = SalesOrderCreate(external_reference="PO-9", channel="temu", status="pending",
                           order_items=[OrderItem(sku=SKUS[0], quantity=1)])
    with pytest.raises(WholeCellApiError) as caught:
        client.create_sales_order(bad)
    error = caught.value
    assert error.error_class is ErrorClass.FIX_REQUEST and error.status == 422
    assert "channel 'temu' does not exist" in error.errors
    assert "status 'pending' does not exist" in error.errors
    assert state.snapshot(APP_ID)["accounts"][APP_ID]["orders"] == []
    assert count(state, "POST /api/v1/sales_orders") == 1  # never retried


def test_not_found_is_fix_request(client: WholeCellClient, state: WholeCellState) -> None:
    with pytest.raises(WholeCellApiError) as caught:
        client.get_sales_order(987654)
    assert caught.value.error_class is ErrorClass.FIX_REQUEST and caught.value.status == 404


def test_bad_credentials_reauthorize_without_leaking_secret(server: RunningServer, state: WholeCellState,
                                                            clock: FakeClock) -> None:
    wrong = "wrong-secret-xyz"
    client = make_client(server, clock, secret=wrong)
    with pytest.raises(WholeCellApiError) as caught:
        client.sales_channels()
    assert caught.value.error_class is ErrorClass.REAUTHORIZE and caught.value.status == 401
    for text in (str(caught.value), repr(caught.value), repr(client)):
        assert wrong not in text
    assert APP_SECRET not in repr(make_client(server, clock))


def test_429_backs_off_by_retry_after_then_succeeds(client: WholeCellClient, state: WholeCellState,
                                                    clock: FakeClock) -> None:
    state.set_faults([FaultRule(endpoint="/api/v1/sales_channels", error_rate=1.0, status=429, count=2)])
    assert client.sales_channels()
    assert count(state, "GET /api/v1/sales_channels") == 3
    assert clock.sleeps.count(1.0) == 2  # Retry-After: 1 applied through the shared limiter


def test_sandbox_rate_limit_answers_429_with_retry_after(server: RunningServer,
                                                         state: WholeCellState) -> None:
    state.set_rate_limit(1.0)
    url, auth = server.url + "/api/v1/sales_channels", (APP_ID, APP_SECRET)
    assert requests.get(url, auth=auth, timeout=5).status_code == 200
    limited = requests.get(url, auth=auth, timeout=5)
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "1"
    assert state.snapshot(APP_ID)["accounts"][APP_ID]["throttled"] == 1


def test_server_errors_are_retried_then_surfaced(client: WholeCellClient, state: WholeCellState,
                                                 clock: FakeClock) -> None:
    state.set_faults([FaultRule(endpoint="/api/v1/warehouses", error_rate=1.0, status=503)])
    with pytest.raises(WholeCellApiError) as caught:
        client.warehouses()
    assert caught.value.error_class is ErrorClass.RETRYABLE and caught.value.status == 503
    assert count(state, "GET /api/v1/warehouses") == 3 and len(clock.sleeps) == 2
    assert all(0 <= s <= 0.05 for s in clock.sleeps)

    state.set_faults([FaultRule(endpoint="/api/v1/warehouses", error_rate=1.0, status=500, count=2)])
    assert client.warehouses()


def test_non_json_200_is_retried_then_surfaced(client: WholeCellClient, state: WholeCellState) -> None:
    state.set_faults([FaultRule(endpoint="/api/v1/inventory_statuses", malformed_rate=1.0, count=1)])
    assert client.inventory_statuses()
    state.set_faults([FaultRule(endpoint="/api/v1/inventory_statuses", malformed_rate=1.0)])
    with pytest.raises(WholeCellApiError) as caught:
        client.inventory_statuses()
    assert caught.value.error_class is ErrorClass.RETRYABLE and "non-JSON" in caught.value.message


def test_create_timeout_is_verify_before_retry(server: RunningServer, state: WholeCellState,
                                               clock: FakeClock) -> None:
    """The order is created after the client gave up: it must not be POSTed again blindly, and
    the look-up by reference finds it."""
    client = make_client(server, clock, timeout=0.2)
    started = datetime.now(UTC) - timedelta(seconds=30)
    state.set_faults([FaultRule(endpoint="/api/v1/sales_orders", latency_ms=700)])
    with pytest.raises(WholeCellApiError) as caught:
        client.create_sales_order(new_order("PO-SLOW"))
    assert caught.value.error_class is ErrorClass.VERIFY_BEFORE_RETRY
    assert count(state, "POST /api/v1/sales_orders") == 1
    state.clear_faults()
    deadline = time.monotonic() + 3
    while not state.snapshot(APP_ID)["accounts"][APP_ID]["orders"] and time.monotonic() < deadline:
        time.sleep(0.05)
    found = client.find_sales_order_by_reference("PO-SLOW", channel="Temu", updated_since=started)
    assert found is not None


def test_create_server_error_is_verify_before_retry(client: WholeCellClient, state: WholeCellState) -> None:
    state.set_faults([FaultRule(endpoint="/api/v1/sales_orders", error_rate=1.0, status=502, count=1)])
    with pytest.raises(WholeCellApiError) as caught:
        client.create_sales_order(new_order())
    assert caught.value.error_class is ErrorClass.VERIFY_BEFORE_RETRY
    assert count(state, "POST /api/v1/sales_orders") == 1


def test_rate_limiter_paces_requests(server: RunningServer, state: WholeCellState, clock: FakeClock) -> None:
    client = make_client(server, clock, rate=2.0)  # evenly spaced: one request per 0.5 s, no burst
    for _ in range(5):
        client.sales_channels()
    assert clock.sleeps == pytest.approx([0.5, 0.5, 0.5, 0.5])


def test_accounts_are_isolated(server: RunningServer, state: WholeCellState, clock: FakeClock,
                               client: WholeCellClient) -> None:
    order = client.create_sales_order(new_order())
    state.create_account("app-other", "other-secret")
    other = WholeCellClient(server.url + "/api/v1", "app-other", "other-secret",
                            rate_limiter=RateLimiter(1000, clock=clock), clock=clock)
    assert list(other.iter_sales_orders()) == []
    with pytest.raises(WholeCellApiError, match="not found"):
        other.get_sales_order(order.id)


# --- shipment webhook -------------------------------------------------------------------------
@pytest.fixture
def receiver() -> Iterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    """A tiny webhook receiver recording the exact headers and bytes it got."""
    received: list[tuple[dict[str, str], bytes]] = []
    app = Flask("receiver")

    @app.post("/hook")
    def hook() -> tuple[str, int]:
        received.append((dict(request.headers), request.get_data()))
        return "", 204

    with RunningServer(app, "127.0.0.1", 0) as running:
        yield running.url + "/hook", received


def test_shipment_webhook_is_signed_and_redeliverable(
        server: RunningServer, state: WholeCellState, client: WholeCellClient,
        receiver: tuple[str, list[tuple[dict[str, str], bytes]]]) -> None:
    url, received = receiver
    order = client.create_sales_order(new_order())
    admin = f"{server.url}/_sandbox/accounts/{APP_ID}"
    assert requests.put(f"{admin}/webhook", json={"url": url, "secrets": ["whsec-new", "whsec-old"]},
                        timeout=5).status_code == 200
    shipped = requests.post(f"{admin}/orders/{order.id}/shipments", timeout=5,
                            json={"carrier": "USPS", "service": "Ground Advantage",
                                  "tracking_number": "9400111899562837465012"})
    assert shipped.status_code == 201

    [(headers, body)] = received
    assert verify_webhook(headers, body, [b"whsec-old", b"whsec-new"], now=time.time())
    assert not verify_webhook(headers, body, [b"whsec-old"], now=time.time())
    event = ShipmentEvent.model_validate_json(body)
    assert event.event_id == shipped.json()["event_id"] and event.sales_order_id == order.id

    truth = client.get_sales_order(order.id)  # the payload is a hint; the order is the truth
    assert [s.tracking_number for s in truth.shipments] == ["9400111899562837465012"]
    assert truth.shipments[0].items[0].sku == SKUS[0]
    assert [o.id for o in client.iter_sales_orders(updated_at_gt=order.updated_at)] == [order.id]

    requests.post(f"{admin}/webhook/redeliver", json={"event_id": event.event_id}, timeout=5)
    assert len(received) == 2 and received[1][1] == body  # same event_id and bytes, fresh signature
    deliveries = state.snapshot(APP_ID)["accounts"][APP_ID]["webhook_deliveries"]
    assert [(d["event_id"], d["status"]) for d in deliveries] == [(event.event_id, 204)] * 2


def test_webhook_can_be_delivered_on_a_thread(
        state: WholeCellState, client: WholeCellClient,
        receiver: tuple[str, list[tuple[dict[str, str], bytes]]]) -> None:
    url, received = receiver
    state.webhook_async = True
    state.configure_webhook(APP_ID, url, ["whsec"])
    order = client.create_sales_order(new_order())
    result: dict[str, Any] = state.add_shipment(APP_ID, order.id, carrier="UPS", tracking_number="1Z999")
    deadline = time.monotonic() + 3
    while not received and time.monotonic() < deadline:
        time.sleep(0.02)
    [(headers, body)] = received
    assert verify_webhook(headers, body, [b"whsec"], now=time.time())
    assert ShipmentEvent.model_validate_json(body).event_id == result["event_id"]
