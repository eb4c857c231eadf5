"""One scripted Temu shop for every job test: orders, SKUs and stock, logistics.

It offers what the jobs' ports ask of Temu (`wholecell_temu.jobs.ports`), held to them by mypy
(the typed assignments at the end), and keeps what a test needs to look at or script: the windows
read, the calls made, failures to answer with.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence

from wholecell_temu.domain.listings import TEMU_SKU_ACTIVE
from wholecell_temu.errors import ErrorClass
from wholecell_temu.jobs.ports import JobTemu, ShipmentPushTemu
from wholecell_temu.temu.codes import CLOSED
from wholecell_temu.temu.errors import TemuApiError
from wholecell_temu.temu.models import (
    Carrier,
    Order,
    OrderAmount,
    OrderPage,
    ShipmentConfirmResult,
    ShipmentInfoResult,
    ShipmentPackage,
    ShippingAddress,
    Sku,
    StockEditResult,
    WarehouseList,
)

MASKED = {"receiptName": "J***", "addressLine1": "4** Maple", "postCode": "4****", "regionName3": "Columbus"}
PLAIN = {"receiptName": "Jordan Smith", "addressLine1": "418 Maple Ave", "postCode": "43215", "regionName3": "Columbus"}
CARRIERS = [Carrier(logistics_service_provider_id=1, logistics_service_provider_name="USPS"),
            Carrier(logistics_service_provider_id=2, logistics_service_provider_name="UPS")]
WAREHOUSE_ID = "WH-1"
SHIPPED, PARTIALLY_SHIPPED = 4, 41


def temu_order(sn: str, status: int, update_time: int, *, lines: int = 1, quantity: int = 1) -> Order:
    """A parent order of `lines` lines (`<sn>-1`, ..., SKU ids 5, 6, ...), all in `status`."""
    return Order.model_validate({
        "parentOrderMap": {"parentOrderSn": sn, "parentOrderStatus": status, "updateTime": update_time,
                           "regionId": 211},
        "orderList": [{"orderSn": f"{sn}-{n}", "goodsId": 1, "skuId": 4 + n, "quantity": quantity,
                       "orderStatus": status, "goodsName": "Phone"} for n in range(1, lines + 1)]})


def sku(sku_id: int, seller_sku: str | None, *, goods_id: int = 1, stock: int = 1, status: int = 2,
        sub_status: int | None = None) -> Sku:
    """A SKU as `bg.local.goods.sku.list.query` lists it (status 2 active, 3 inactive)."""
    return Sku.model_validate({"goodsId": goods_id, "skuId": sku_id, "skuSn": seller_sku, "stock": stock,
                               "goodsName": f"Goods {goods_id}", "status4VO": status,
                               "skuShowSubStatus4VO": sub_status})


class FakeTemu:
    """A Temu shop. Orders: read by window (update or creation time), by number and in detail;
    addresses masked (the decrypted call answers in full). SKUs: `listed` by search type, and one
    active SKU per `stock` entry (SKU id = goods id) whose stock `edit_stock` moves. Logistics:
    a confirmed package ships its lines and Temu then holds its tracking number."""

    def __init__(self, orders: list[Order] | None = None) -> None:
        self.orders = list(orders or [])
        self._lock = threading.Lock()
        # order reads
        self.windows: list[tuple[int, int]] = []  # update windows the order import read
        self.order_windows: list[tuple[int, int]] = []  # creation windows the quantity sync read
        self.orders_fail: Exception | None = None  # a window read raises this
        self.unlisted: set[str] = set()  # orders the list call does not return when filtered by number
        self.detail_reads = self.list_calls = self.list_failures = 0
        self.decrypted = 0
        self.address_read_failures = 0
        self.masked = True  # the plain address call masks the buyer's data
        # SKUs and stock
        self.listed: dict[int, list[Sku]] = {}  # search type (2 active, 3 inactive) -> SKUs
        self.stock: dict[int, int] = {}  # SKU id (= goods id) -> Temu's stock
        self.edits: list[tuple[int, list[tuple[int, int]]]] = []
        self.raise_for: dict[int, Exception] = {}  # goods id -> what an edit of it raises
        self.reject_skus: set[int] = set()
        # logistics
        self.carrier_list = list(CARRIERS)
        self.warehouse_list = WarehouseList.model_validate(
            {"warehouseList": [{"warehouseId": WAREHOUSE_ID, "defaultWarehouse": True}]})
        self.confirmations: list[tuple[int, list[ShipmentPackage]]] = []
        self.confirm_failures: list[Exception] = []  # the next confirm calls raise these, in turn
        self.lost_confirm: Exception | None = None  # the next confirm goes through, then raises this
        self.held: dict[tuple[str, str], set[str]] = {}  # (parent order, order line) -> tracking numbers

    def order(self, sn: str) -> Order:
        return next(o for o in self.orders if o.parent_order_sn == sn)

    # --- orders ------------------------------------------------------------------------------

    def iter_orders(self, *, update_at_start: int | None = None, update_at_end: int | None = None,
                    create_after: int | None = None, create_before: int | None = None) -> Iterator[Order]:
        if update_at_start is not None and update_at_end is not None:
            self.windows.append((update_at_start, update_at_end))
            return iter([o for o in self.orders
                         if update_at_start <= (o.parent_order_map.update_time or 0) <= update_at_end])
        assert create_after is not None and create_before is not None
        self.order_windows.append((create_after, create_before))
        if self.orders_fail is not None:
            raise self.orders_fail
        return iter([o for o in self.orders
                     if create_after <= (o.parent_order_map.parent_order_time or 0) <= create_before])

    def order_detail(self, parent_order_sn: str) -> Order:
        """As Temu documents it: the detail's parentOrderMap has no updateTime."""
        self.detail_reads += 1
        order = self.order(parent_order_sn)
        return order.model_copy(update={"parent_order_map": order.parent_order_map.model_copy(
            update={"update_time": None})})

    def order_page(self, page_number: int, page_size: int, *, parent_order_sn_list: Sequence[str]) -> OrderPage:
        assert page_number == 1 and len(parent_order_sn_list) <= 20 == page_size
        if self.list_failures:
            self.list_failures -= 1
            raise TemuApiError("system error", error_class=ErrorClass.RETRYABLE, code=4000000)
        self.list_calls += 1
        found = [o for o in self.orders if o.parent_order_sn in parent_order_sn_list and o.parent_order_sn
                 not in self.unlisted]
        return OrderPage(total_item_num=len(found), page_items=found)

    def shipping_info(self, parent_order_sn: str) -> ShippingAddress:
        if self.address_read_failures:
            self.address_read_failures -= 1
            raise TemuApiError("system error", error_class=ErrorClass.RETRYABLE, code=4000000)
        if self.order(parent_order_sn).parent_order_map.parent_order_status in CLOSED:
            raise TemuApiError("invalid param", error_class=ErrorClass.FIX_REQUEST, code=180020003)
        return ShippingAddress.model_validate(MASKED if self.masked else PLAIN)

    def decrypted_shipping_info(self, parent_order_sn: str) -> ShippingAddress:
        self.decrypted += 1
        return ShippingAddress.model_validate(PLAIN)

    def order_amount(self, parent_order_sn: str) -> OrderAmount:
        return OrderAmount.model_validate({})

    def sell(self, sku_id: int, quantity: int, sn: str) -> None:
        """A buyer orders on Temu: Temu lowers its own stock at once."""
        self.stock[sku_id] -= quantity
        self.orders.append(Order.model_validate({
            "parentOrderMap": {"parentOrderSn": sn, "parentOrderStatus": 1, "parentOrderTime": int(time.time())},
            "orderList": [{"orderSn": f"{sn}-1", "goodsId": sku_id, "skuId": sku_id, "quantity": quantity,
                           "orderStatus": 1}]}))

    def set_status(self, sn: str, status: int) -> None:
        """The order and all its lines move to `status` on Temu."""
        order = self.order(sn)
        self._replace(order.model_copy(update={
            "parent_order_map": order.parent_order_map.model_copy(update={"parent_order_status": status}),
            "order_list": [item.model_copy(update={"order_status": status}) for item in order.order_list]}))

    def _replace(self, order: Order) -> None:
        self.orders = [order if o.parent_order_sn == order.parent_order_sn else o for o in self.orders]

    # --- SKUs and stock ----------------------------------------------------------------------

    def iter_skus(self, *, sku_search_type: int, sku_status_filter_type: int) -> Iterator[Sku]:
        yield from self.listed.get(sku_search_type, [])
        if sku_search_type == TEMU_SKU_ACTIVE:
            for sku_id, stock in self.stock.items():
                yield Sku.model_validate({"goodsId": sku_id, "skuId": sku_id, "stock": stock, "status4VO": 2})

    def edit_stock(self, goods_id: int, targets: Sequence[tuple[int, int]]) -> StockEditResult:
        if goods_id in self.raise_for:
            raise self.raise_for[goods_id]
        self.edits.append((goods_id, list(targets)))
        self.stock.update((sku_id, stock) for sku_id, stock in targets if sku_id not in self.reject_skus)
        return StockEditResult.model_validate({"goodsId": goods_id, "skuStockEditStatusInfoList": [
            {"skuId": sku_id, "stockEditStatus": sku_id not in self.reject_skus,
             "errorCode": 150010003 if sku_id in self.reject_skus else None} for sku_id, _ in targets]})

    # --- logistics ---------------------------------------------------------------------------

    def carriers(self, region_id: int) -> list[Carrier]:
        return list(self.carrier_list)

    def warehouses(self) -> WarehouseList:
        return self.warehouse_list

    def confirm_shipment(self, send_type: int, packages: Sequence[ShipmentPackage]) -> ShipmentConfirmResult:
        if self.confirm_failures:
            raise self.confirm_failures.pop(0)
        with self._lock:
            self.confirmations.append((send_type, list(packages)))
            for package in packages:
                for line in package.lines:
                    self.held.setdefault((line.parent_order_sn, line.order_sn), set()).add(package.tracking_number)
                    self._ship_line(line.parent_order_sn, line.order_sn)
        if self.lost_confirm is not None:
            lost, self.lost_confirm = self.lost_confirm, None
            raise lost
        return ShipmentConfirmResult()

    def _ship_line(self, sn: str, order_sn: str) -> None:
        order = self.order(sn)
        items = [item.model_copy(update={"order_status": SHIPPED}) if item.order_sn == order_sn else item
                 for item in order.order_list]
        status = SHIPPED if all(item.order_status == SHIPPED for item in items) else PARTIALLY_SHIPPED
        self._replace(order.model_copy(update={
            "order_list": items,
            "parent_order_map": order.parent_order_map.model_copy(update={"parent_order_status": status})}))

    def shipment_info(self, parent_order_sn: str, order_sn: str) -> ShipmentInfoResult:
        numbers = sorted(self.held.get((parent_order_sn, order_sn), set()))
        return ShipmentInfoResult.model_validate({"shipmentInfoDTO": [{"trackingNumber": n} for n in numbers]})

    def packages_for(self, sn: str) -> list[ShipmentPackage]:
        """Every package confirmed for order `sn`."""
        return [p for _, packages in self.confirmations for p in packages
                if any(line.parent_order_sn == sn for line in p.lines)]


# mypy holds the fake to the ports: every scheduled job's, and the shipment worker's
_job_temu: JobTemu = FakeTemu()
_shipment_temu: ShipmentPushTemu = FakeTemu()
