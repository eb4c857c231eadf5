"""The order-import job against moto's DynamoDB with scripted Temu and WholeCell clients: the
watermark (greatest updateTime, forward only, held before a failure), the overlap window,
overlapping runs, the masked-address fallback and a create whose outcome is unknown."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from moto import mock_aws
from wholecell_temu.config import load_settings
from wholecell_temu.domain.connection import Connection, ConnectionStatus
from wholecell_temu.domain.settings import ConnectionSettings
from wholecell_temu.errors import ErrorClass
from wholecell_temu.jobs import order_import
from wholecell_temu.jobs.framework import JobContext
from wholecell_temu.store.orders import OrderRepository
from wholecell_temu.store.runs import Outcome, Run
from wholecell_temu.store.tables import InventoryMirrorModel, ListingModel, OrderModel, bind_tables
from wholecell_temu.temu.models import Order, ShippingAddress
from wholecell_temu.wholecell import SalesOrder, SalesOrderCreate, SalesOrderPatch, WholeCellApiError

from tests.integration.test_quantity_sync_job import ENV

NOW = datetime.now(UTC)
MASKED = {"receiptName": "J***", "addressLine1": "4** Maple", "postCode": "4****", "regionName3": "Columbus"}
PLAIN = {"receiptName": "Jordan Smith", "addressLine1": "418 Maple Ave", "postCode": "43215", "regionName3": "Columbus"}


def temu_order(sn: str, status: int, update_time: int) -> Order:
    return Order.model_validate({
        "parentOrderMap": {"parentOrderSn": sn, "parentOrderStatus": status, "updateTime": update_time,
                           "regionId": 211},
        "orderList": [{"orderSn": f"{sn}-1", "goodsId": 1, "skuId": 5, "quantity": 1, "orderStatus": status,
                       "goodsName": "Phone"}]})


class FakeTemu:
    def __init__(self, orders: list[Order]) -> None:
        self.orders = orders
        self.windows: list[tuple[int, int]] = []
        self.decrypted = 0

    def iter_orders(self, *, update_at_start: int, update_at_end: int, **_: Any) -> Iterator[Order]:
        self.windows.append((update_at_start, update_at_end))
        return iter([o for o in self.orders
                     if update_at_start <= (o.parent_order_map.update_time or 0) <= update_at_end])

    def order_detail(self, sn: str) -> Order:
        return next(o for o in self.orders if o.parent_order_sn == sn)

    def shipping_info(self, sn: str) -> ShippingAddress:
        return ShippingAddress.model_validate(MASKED)

    def decrypted_shipping_info(self, sn: str) -> ShippingAddress:
        self.decrypted += 1
        return ShippingAddress.model_validate(PLAIN)


class FakeWholeCell:
    """Creates orders; `fail_refs` answer 422, `lost_refs` create but lose the response once."""

    def __init__(self) -> None:
        self.created: list[SalesOrderCreate] = []
        self.fail_refs: set[str] = set()
        self.lost_refs: set[str] = set()
        self.lookups = 0
        self._lock = threading.Lock()

    def _order(self, body: SalesOrderCreate, order_id: int) -> SalesOrder:
        return SalesOrder.model_validate({"id": order_id, "external_reference": body.external_reference,
                                          "channel": body.channel, "status": body.status, "created_at": NOW,
                                          "updated_at": NOW})

    def create_sales_order(self, body: SalesOrderCreate) -> SalesOrder:
        if body.external_reference in self.fail_refs:
            raise WholeCellApiError("sku is invalid", error_class=ErrorClass.FIX_REQUEST, status=422)
        time.sleep(0.01)  # let overlapping runs interleave
        with self._lock:
            self.created.append(body)
            order_id = len(self.created)
        if body.external_reference in self.lost_refs:
            self.lost_refs.discard(body.external_reference)
            raise WholeCellApiError("timeout", error_class=ErrorClass.VERIFY_BEFORE_RETRY)
        return self._order(body, order_id)

    def find_sales_order_by_reference(self, reference: str, **_: Any) -> SalesOrder | None:
        self.lookups += 1
        found = [(i + 1, b) for i, b in enumerate(self.created) if b.external_reference == reference]
        return self._order(found[0][1], found[0][0]) if found else None

    def update_sales_order(self, order_id: int, patch: SalesOrderPatch) -> SalesOrder:
        return self._order(self.created[order_id - 1], order_id)


@pytest.fixture
def tables() -> Iterator[None]:
    with mock_aws():
        bind_tables(load_settings(ENV))
        for model in (ListingModel, InventoryMirrorModel, OrderModel):
            model.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
        yield


def context(temu: FakeTemu, wholecell: FakeWholeCell, run_id: str = "r1") -> JobContext:
    connection = Connection(connection_id="c1", name="c", status=ConnectionStatus.ACTIVE, temu_region="US",
                            wholecell_secret_arn="x", webhook_secret_arn="y", created_at=NOW, updated_at=NOW,
                            settings=ConnectionSettings(order_import_enabled=True, order_status_map={
                                "1": "Pending", "2": "Awaiting Fulfillment", "4": "Shipped"}))
    run = Run(run_id=run_id, connection_id="c1", job="order_import", trigger="schedule", outcome=Outcome.RUNNING,
              queued_key="k")
    ctx = JobContext(load_settings(ENV), connection, run, None, None)  # type: ignore[arg-type]
    ctx.__dict__["temu"], ctx.__dict__["wholecell"] = temu, wholecell
    return ctx


def test_watermark_is_the_greatest_update_time_and_only_moves_forward(tables: None) -> None:
    now = int(time.time())
    temu = FakeTemu([temu_order("PO-1", 1, now - 300), temu_order("PO-2", 2, now - 100)])
    wholecell = FakeWholeCell()
    order_import.run(context(temu, wholecell))
    repo = OrderRepository()
    assert repo.watermark("c1") == now - 100  # not "now"
    first_start, first_end = temu.windows[0]
    assert first_start <= now - 7 * 86400 + 5 and first_end >= now  # first run: the look-back
    order_import.run(context(temu, wholecell))
    assert temu.windows[1][0] == now - 100 - order_import.OVERLAP_SECONDS  # later runs: watermark - overlap
    assert len(wholecell.created) == 2  # the overlap re-reads, never re-creates
    assert not repo.advance_watermark("c1", now - 200) and repo.watermark("c1") == now - 100


def test_a_failed_order_holds_the_watermark_and_others_flow(tables: None) -> None:
    now = int(time.time())
    temu = FakeTemu([temu_order("PO-BAD", 1, now - 500), temu_order("PO-OK", 1, now - 50)])
    wholecell = FakeWholeCell()
    wholecell.fail_refs = {"PO-BAD"}
    ctx = context(temu, wholecell)
    with pytest.raises(Exception, match="1 order"):
        order_import.run(ctx)
    assert [c.external_reference for c in wholecell.created] == ["PO-OK"]
    assert OrderRepository().watermark("c1") == now - 501  # the next run sees PO-BAD again
    wholecell.fail_refs = set()
    order_import.run(context(temu, wholecell))
    assert sorted(c.external_reference for c in wholecell.created) == ["PO-BAD", "PO-OK"]


@pytest.fixture
def atomic_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto evaluates a conditional write and applies it without a lock, so two threads can both
    pass one condition; DynamoDB makes each request atomic. Serialize requests (not runs) so the
    runs still interleave between requests, as they would against DynamoDB."""
    from botocore.client import BaseClient  # noqa: PLC0415

    lock = threading.Lock()
    original = BaseClient._make_api_call

    def atomic(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        with lock:
            return original(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", atomic)


def test_overlapping_runs_create_each_order_once(tables: None, atomic_requests: None) -> None:
    now = int(time.time())
    temu = FakeTemu([temu_order(f"PO-{n}", 1, now - n) for n in range(1, 21)])
    wholecell = FakeWholeCell()
    errors: list[BaseException] = []

    def one_run(run_id: str) -> None:
        try:
            order_import.run(context(temu, wholecell, run_id))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=one_run, args=(f"run-{i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    references = [c.external_reference for c in wholecell.created]
    assert sorted(references) == sorted(set(references)) and len(references) == 20


def test_masked_addresses_are_read_decrypted(tables: None) -> None:
    temu = FakeTemu([temu_order("PO-9", 2, int(time.time()) - 10)])
    wholecell = FakeWholeCell()
    ctx = context(temu, wholecell)
    order_import.run(ctx)
    address = wholecell.created[0].shipping_address
    assert temu.decrypted == 1 and address is not None and address.street1 == "418 Maple Ave"
    assert ctx.counts["addresses_decrypted"] == 1


def test_a_create_whose_response_was_lost_is_found_not_repeated(tables: None) -> None:
    temu = FakeTemu([temu_order("PO-LOST", 1, int(time.time()) - 10)])
    wholecell = FakeWholeCell()
    wholecell.lost_refs = {"PO-LOST"}
    ctx = context(temu, wholecell)
    order_import.run(ctx)
    assert len(wholecell.created) == 1 and wholecell.lookups == 1 and ctx.counts["verified_after_timeout"] == 1
    assert OrderRepository().get("c1", "PO-LOST").wholecell_order_id == 1  # type: ignore[union-attr]
