"""One scripted WholeCell account for every job test: sales orders, inventory, lookups.

It offers what the jobs' ports ask of WholeCell (`wholecell_temu.jobs.ports`), held to them by
mypy (the typed assignments at the end), and keeps what a test needs to look at or script.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime

from wholecell_temu.errors import ErrorClass
from wholecell_temu.jobs.ports import JobWholeCell, ShipmentPushWholeCell
from wholecell_temu.wholecell import (
    InventoryStatus,
    InventoryUnit,
    SalesChannel,
    SalesOrder,
    SalesOrderCreate,
    SalesOrderPatch,
    SalesOrderStatus,
    StockLevel,
    Warehouse,
    WholeCellApiError,
)

NOW = datetime.now(UTC)
OPEN = [SalesOrderStatus(title="Open", open=True)]


class FakeWholeCell:
    """A WholeCell account.

    Sales orders: created (`fail_refs` answer 422, `lost_refs` create but lose the response once),
    found by reference, PATCHed (`patch_gate`: a PATCH to that status waits for the event), read
    by id and listed by `updated_at`/channel/status; `sales_orders` may be given up front and
    `add_shipment` ships one. Inventory: units per SKU (`set_units`; `fail` makes the second unit
    of a read raise) and the catalog's SKUs (`catalog`). Lookups: `statuses`, `channels` (those
    in `missing` answer 404; `lookup_reads` lists the reads). `requests` counts the reads the
    quantity sync makes.
    """

    def __init__(self, sales_orders: Iterable[SalesOrder] = (), *,
                 statuses: Iterable[SalesOrderStatus] = OPEN, channels: Iterable[str] = ("Temu",),
                 catalog: Iterable[str] = ()) -> None:
        self.sales_orders: dict[int, SalesOrder] = {order.id: order for order in sales_orders}
        self.created: list[SalesOrderCreate] = []
        self.fail_refs: set[str] = set()
        self.lost_refs: set[str] = set()
        self.lookups = 0
        self.status: dict[int, str] = {}  # what each WholeCell order shows after its last PATCH
        self.patches: list[tuple[int, SalesOrderPatch]] = []
        self.patch_gate: dict[str, threading.Event] = {}
        self.since: list[datetime] = []  # `updated_at_gt` of each sales-order listing
        self.units: dict[int, InventoryUnit] = {}
        self.fail = False
        self.requests = 0
        self.catalog = list(catalog)
        self.statuses = list(statuses)
        self.channels = list(channels)
        self.lookup_reads: list[str] = []
        self.missing: set[str] = set()  # lookups answering 404
        self._lock = threading.Lock()

    # --- sales orders --------------------------------------------------------------------------

    def _order(self, body: SalesOrderCreate, order_id: int) -> SalesOrder:
        return SalesOrder.model_validate({"id": order_id, "external_reference": body.external_reference,
                                          "channel": body.channel, "status": body.status, "created_at": NOW,
                                          "updated_at": NOW})

    def create_sales_order(self, order: SalesOrderCreate) -> SalesOrder:
        if order.external_reference in self.fail_refs:
            raise WholeCellApiError("sku is invalid", error_class=ErrorClass.FIX_REQUEST, status=422)
        time.sleep(0.01)  # let overlapping runs interleave
        with self._lock:
            self.created.append(order)
            order_id = len(self.created)
            self.sales_orders[order_id] = self._order(order, order_id)
        if order.external_reference in self.lost_refs:
            self.lost_refs.discard(order.external_reference)
            raise WholeCellApiError("timeout", error_class=ErrorClass.VERIFY_BEFORE_RETRY)
        return self._order(order, order_id)

    def find_sales_order_by_reference(self, external_reference: str, *, channel: str,
                                      updated_since: datetime) -> SalesOrder | None:
        self.lookups += 1
        found = [(i + 1, b) for i, b in enumerate(self.created) if b.external_reference == external_reference]
        return self._order(found[0][1], found[0][0]) if found else None

    def update_sales_order(self, order_id: int, patch: SalesOrderPatch) -> SalesOrder:
        if patch.status is not None and (gate := self.patch_gate.get(patch.status)) is not None:
            assert gate.wait(10)
        with self._lock:
            self.patches.append((order_id, patch))
            if patch.status is not None:
                self.status[order_id] = patch.status
        return self._order(self.created[order_id - 1], order_id)

    def get_sales_order(self, order_id: int) -> SalesOrder:
        if order_id not in self.sales_orders:
            raise WholeCellApiError("not found", error_class=ErrorClass.FIX_REQUEST, status=404)
        return self.sales_orders[order_id]

    def iter_sales_orders(self, *, updated_at_gt: datetime | None = None, channel: str | None = None,
                          status: str | None = None) -> Iterator[SalesOrder]:
        self.requests += 1
        if updated_at_gt is not None:
            self.since.append(updated_at_gt)
        return iter([o for o in self.sales_orders.values()
                     if (updated_at_gt is None or o.updated_at > updated_at_gt)
                     and (channel is None or o.channel == channel) and (status is None or o.status == status)])

    def add_shipment(self, order_id: int, tracking_number: str, carrier: str = "USPS",
                     items: dict[str, int] | None = None) -> None:
        """The order ships a box (`items`: SKU -> quantity; none: the box lists no items)."""
        order = self.sales_orders[order_id]
        shipment = {"id": len(order.shipments) + 1, "carrier": carrier, "tracking_number": tracking_number,
                    "items": [{"sku": sku, "quantity": quantity} for sku, quantity in (items or {}).items()]}
        self.sales_orders[order_id] = SalesOrder.model_validate(
            order.model_dump() | {"shipments": [*(s.model_dump() for s in order.shipments), shipment],
                                  "updated_at": datetime.now(UTC)})

    # --- inventory ---------------------------------------------------------------------------

    def set_units(self, sku: str, count: int, first_id: int) -> None:
        """`count` units of `sku`, all `Available` in one warehouse (ids from `first_id`)."""
        for unit_id in [u for u, unit in self.units.items() if unit.sku == sku]:
            del self.units[unit_id]
        for offset in range(count):
            self.units[first_id + offset] = InventoryUnit.model_validate({
                "id": first_id + offset, "status": "Available", "updated_at": datetime.now(UTC).isoformat(),
                "product_variation": {"id": hash(sku) % 1000 + 1, "sku": sku}, "warehouse": {"name": "Main"}})

    def iter_inventories(self, *, status: str | None = None,
                         updated_at_gt: datetime | None = None) -> Iterator[InventoryUnit]:
        self.requests += 1
        for index, unit in enumerate(self.units.values()):
            if self.fail and index == 1:
                raise WholeCellApiError("server error", error_class=ErrorClass.RETRYABLE, status=500)
            if (status is None or unit.status == status) and (updated_at_gt is None or unit.updated_at > updated_at_gt):
                yield unit

    def iter_stock_levels(self) -> Iterator[StockLevel]:
        for sku in self.catalog:
            yield StockLevel.model_validate({"sku": sku, "on_hand": 0, "outstanding": 0, "available": 0})

    # --- lookups -----------------------------------------------------------------------------

    def _lookup(self, name: str) -> None:
        self.lookup_reads.append(name)
        if name in self.missing:
            raise WholeCellApiError("not found", error_class=ErrorClass.FIX_REQUEST, status=404)

    def sales_order_statuses(self) -> list[SalesOrderStatus]:
        self.requests += 1
        self._lookup("sales_order_statuses")
        return list(self.statuses)

    def sales_channels(self) -> list[SalesChannel]:
        self._lookup("sales_channels")
        return [SalesChannel(title=title) for title in self.channels]

    def inventory_statuses(self) -> list[InventoryStatus]:
        return [InventoryStatus(title="Available")]

    def warehouses(self) -> list[Warehouse]:
        return [Warehouse(name="Main Warehouse")]

    def sync(self, title: str, on: bool) -> None:
        """Turn ShipStation export on or off for the status `title`."""
        self.statuses = [s.model_copy(update={"sync_to_shipstation": on}) if s.title == title else s
                         for s in self.statuses]


# mypy holds the fake to the ports: every scheduled job's, and the shipment worker's
_job_wholecell: JobWholeCell = FakeWholeCell()
_shipment_wholecell: ShipmentPushWholeCell = FakeWholeCell()
