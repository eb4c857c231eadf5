"""The ports: what each job needs of the Temu and WholeCell clients, and nothing more.

A job is typed against its own small Protocols (`JobContext[OrderImportTemu, OrderImportWholeCell]`),
so mypy refuses a call outside them; the real `TemuClient` and `WholeCellClient` satisfy every port
(checked where `JobContext` and the shipment worker build them), and so do the test fakes
(`tests/fakes/`, checked by typed assignments there). A method a job starts calling is added to its
port here, where the reader sees all that a job asks of an API at a glance.

`JobTemu` and `JobWholeCell` are the union of the scheduled jobs' ports: what `JobContext` hands
out and a fake standing in for a whole API must offer.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Protocol

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
from wholecell_temu.wholecell import (
    InventoryUnit,
    SalesChannel,
    SalesOrder,
    SalesOrderCreate,
    SalesOrderPatch,
    SalesOrderStatus,
    StockLevel,
)

# --- Temu ------------------------------------------------------------------------------------


class OrderLookupTemu(Protocol):
    """Orders read by number: a page of up to 20 named orders, or one order's detail."""

    def order_page(self, page_number: int, page_size: int, *, parent_order_sn_list: Sequence[str]) -> OrderPage: ...

    def order_detail(self, parent_order_sn: str) -> Order: ...


class AddressTemu(Protocol):
    """The ship-to address (`order_import.read_address`): plain, decrypted when the plain one is masked."""

    def shipping_info(self, parent_order_sn: str) -> ShippingAddress: ...

    def decrypted_shipping_info(self, parent_order_sn: str) -> ShippingAddress: ...


class OrderImportTemu(OrderLookupTemu, AddressTemu, Protocol):
    def iter_orders(self, *, update_at_start: int, update_at_end: int) -> Iterator[Order]: ...

    def order_amount(self, parent_order_sn: str) -> OrderAmount: ...


class AddressBackfillTemu(OrderLookupTemu, AddressTemu, Protocol):
    pass


class ListingImportTemu(Protocol):
    def iter_skus(self, *, sku_search_type: int, sku_status_filter_type: int) -> Iterator[Sku]: ...


class QuantitySyncTemu(ListingImportTemu, Protocol):
    def iter_orders(self, *, create_after: int, create_before: int) -> Iterator[Order]: ...

    def edit_stock(self, goods_id: int, targets: Sequence[tuple[int, int]]) -> StockEditResult: ...


class ShipmentPushTemu(Protocol):
    def order_detail(self, parent_order_sn: str) -> Order: ...

    def carriers(self, region_id: int) -> list[Carrier]: ...

    def warehouses(self) -> WarehouseList: ...

    def confirm_shipment(self, send_type: int, packages: Sequence[ShipmentPackage]) -> ShipmentConfirmResult: ...

    def shipment_info(self, parent_order_sn: str, order_sn: str) -> ShipmentInfoResult: ...


class JobTemu(OrderImportTemu, AddressBackfillTemu, QuantitySyncTemu, ListingImportTemu, Protocol):
    """Every scheduled job's Temu port in one: what `JobContext.temu` offers."""

    def iter_orders(self, *, update_at_start: int | None = None, update_at_end: int | None = None,
                    create_after: int | None = None, create_before: int | None = None) -> Iterator[Order]: ...


# --- WholeCell -------------------------------------------------------------------------------


class ShipStationSetupWholeCell(Protocol):
    """The account's lookups the ShipStation set-up rule reads (`shipstation_setup`)."""

    def sales_order_statuses(self) -> list[SalesOrderStatus]: ...

    def sales_channels(self) -> list[SalesChannel]: ...


class SalesOrderUpdateWholeCell(Protocol):
    def update_sales_order(self, order_id: int, patch: SalesOrderPatch) -> SalesOrder: ...


class OrderImportWholeCell(SalesOrderUpdateWholeCell, ShipStationSetupWholeCell, Protocol):
    def create_sales_order(self, order: SalesOrderCreate) -> SalesOrder: ...

    def find_sales_order_by_reference(self, external_reference: str, *, channel: str,
                                      updated_since: datetime) -> SalesOrder | None: ...


class AddressBackfillWholeCell(SalesOrderUpdateWholeCell, Protocol):
    pass


class SalesOrderReadWholeCell(Protocol):
    def iter_sales_orders(self, *, updated_at_gt: datetime | None = None, channel: str | None = None,
                          status: str | None = None) -> Iterator[SalesOrder]: ...


class QuantitySyncWholeCell(SalesOrderReadWholeCell, Protocol):
    def iter_inventories(self, *, status: str | None = None,
                         updated_at_gt: datetime | None = None) -> Iterator[InventoryUnit]: ...

    def sales_order_statuses(self) -> list[SalesOrderStatus]: ...


class ShipmentReconcileWholeCell(SalesOrderReadWholeCell, Protocol):
    pass


class ListingImportWholeCell(Protocol):
    def iter_stock_levels(self) -> Iterator[StockLevel]: ...


class ShipmentPushWholeCell(Protocol):
    def get_sales_order(self, order_id: int) -> SalesOrder: ...


class JobWholeCell(OrderImportWholeCell, AddressBackfillWholeCell, QuantitySyncWholeCell, ShipmentReconcileWholeCell,
                   ListingImportWholeCell, Protocol):
    """Every scheduled job's WholeCell port in one: what `JobContext.wholecell` offers."""
