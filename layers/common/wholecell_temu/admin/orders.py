"""Orders behind the admin API: one order as the integration sees it, and its re-import."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from wholecell_temu.admin.service import ConnectionService
from wholecell_temu.api_errors import NotFound
from wholecell_temu.jobs.shipment_push import ShipmentMessage, send_to_queue
from wholecell_temu.store.orders import OrderRecord, OrderRepository
from wholecell_temu.store.shipments import ShipmentRepository

TEMU_STATUS_NAMES = {1: "pending", 2: "awaiting shipment", 3: "cancelled", 4: "shipped", 41: "partially shipped",
                     5: "delivered", 51: "partially delivered"}


class OrderLineView(BaseModel):
    order_sn: str
    temu_sku_id: int | None
    temu_goods_id: int | None
    title: str | None
    spec: str | None
    temu_quantity: int
    wholecell_quantity: int
    temu_status: int
    sku: str | None
    product_variation_id: int | None
    factor: int
    resolution: Literal["sku", "product_variation", "unknown"]
    unknown_sku: bool
    unknown_reason: str | None


class OrderView(BaseModel):
    """Never the buyer's address: only whether it was filled."""

    parent_order_sn: str
    imported: bool
    import_state: str
    not_imported_reason: str | None
    temu_status: int | None
    temu_status_name: str | None
    wholecell_status: str | None
    wholecell_order_id: int | None
    lines: list[OrderLineView]
    unknown_sku: bool
    address_state: str | None
    address_reason: str | None
    shipment_state: str | None
    shipment_error: str | None
    updated_at: datetime | None


def order_view(record: OrderRecord) -> OrderView:
    return OrderView(
        parent_order_sn=record.parent_order_sn, imported=record.import_state == "imported",
        import_state=record.import_state,
        not_imported_reason=record.skip_reason if record.import_state != "imported" else None,
        temu_status=record.temu_status, temu_status_name=TEMU_STATUS_NAMES.get(record.temu_status or 0),
        wholecell_status=record.wholecell_status, wholecell_order_id=record.wholecell_order_id,
        lines=[OrderLineView(
            order_sn=line.order_sn, temu_sku_id=line.sku_id, temu_goods_id=line.goods_id, title=line.title,
            spec=line.spec, temu_quantity=line.temu_quantity, wholecell_quantity=line.wholecell_quantity,
            temu_status=line.temu_status, sku=line.sku, product_variation_id=line.variation_id, factor=line.factor,
            resolution=line.resolution, unknown_sku=line.resolution == "unknown", unknown_reason=line.unknown_reason)
            for line in record.lines],
        unknown_sku=bool(record.unknown_sku_lines), address_state=record.address_state,
        address_reason=record.address_reason, shipment_state=record.shipment_state,
        shipment_error=record.shipment_error, updated_at=record.updated_at)


def get_order(service: ConnectionService, orders: OrderRepository, connection_id: str,
              parent_order_sn: str) -> OrderView:
    service.require(connection_id)
    record = orders.get(connection_id, parent_order_sn)
    if record is None:
        raise NotFound(f"order {parent_order_sn} has not been seen by the order import (not placed in this shop, "
                       "older than the first import's look-back, or not polled yet); re-import it to read it now")
    return order_view(record)


class ResendQueued(BaseModel):
    parent_order_sn: str
    wholecell_order_id: int
    reopened: int  # shipments that had failed and are tried again


def resend_shipments(service: ConnectionService, orders: OrderRepository, shipments: ShipmentRepository,
                     connection_id: str, parent_order_sn: str) -> ResendQueued:
    """Queue a fresh confirmation attempt for the order's shipments (failed ones are reopened)."""
    service.require(connection_id)
    record = orders.get(connection_id, parent_order_sn)
    if record is None or record.import_state != "imported" or record.wholecell_order_id is None:
        raise NotFound(f"order {parent_order_sn} was not imported into WholeCell by this connection")
    reopened = 0
    for key, shipment in shipments.for_order(connection_id, record.wholecell_order_id).items():
        if shipment.state == "failed":
            shipments.reopen(connection_id, key)
            reopened += 1
    send_to_queue(service.services, ShipmentMessage(connection_id=connection_id,
                                                    sales_order_id=record.wholecell_order_id, source="resend"))
    return ResendQueued(parent_order_sn=parent_order_sn, wholecell_order_id=record.wholecell_order_id,
                        reopened=reopened)
