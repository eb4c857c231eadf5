"""Shipment reconciler: a shipment whose webhook never arrived still ends in a confirmation.

Reads the connection's WholeCell orders changed since the last run (by `updated_at`, with an
overlap), keeps those the integration imported that carry a tracking number without a
recorded Temu confirmation, and queues them for the confirmation worker. The watermark is
the greatest `updated_at` seen and only moves forward, held before any tracked order whose
import is still being recorded (claimed, not yet imported), so it is read again.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Literal

from wholecell_temu.domain.shipments import normalize_tracking, shipment_key
from wholecell_temu.domain.watermarks import advanced_watermark
from wholecell_temu.jobs.framework import JobContext
from wholecell_temu.jobs.ports import ShipmentReconcileWholeCell
from wholecell_temu.observability import logger
from wholecell_temu.queues import ShipmentMessage, send_shipment, sqs_client
from wholecell_temu.store.orders import OrderRepository
from wholecell_temu.store.shipments import ShipmentRecord, ShipmentRepository
from wholecell_temu.store.states import ImportState, ShipmentState
from wholecell_temu.wholecell.adapter import SalesOrder

OVERLAP = timedelta(minutes=10)
FIRST_LOOK_BACK = timedelta(days=7)


def run(context: JobContext[object, ShipmentReconcileWholeCell], orders: OrderRepository | None = None,
        shipments: ShipmentRepository | None = None, sqs: Any = None) -> None:
    orders = orders or OrderRepository(context.clock)
    shipments = shipments or ShipmentRepository(context.clock)
    connection_id = context.connection.connection_id
    watermark = shipments.watermark(connection_id)
    since = (watermark - OVERLAP) if watermark else context.clock.now() - FIRST_LOOK_BACK
    newest = watermark
    held: datetime | None = None  # the oldest tracked order whose import is not recorded yet
    queue = sqs or sqs_client()
    for order in context.wholecell.iter_sales_orders(updated_at_gt=since,
                                                     channel=context.connection.settings.sales_channel):
        context.count("orders_read")
        newest = max(newest or order.updated_at, order.updated_at)
        decision = _decide(connection_id, order, orders, shipments)
        if decision == "held":
            held = min(held or order.updated_at, order.updated_at)
            context.count("import_not_recorded_yet")
        if decision != "queue":
            continue
        message = ShipmentMessage(connection_id=connection_id, sales_order_id=order.id, source="reconcile")
        send_shipment(context, message, sqs=queue)
        context.count("queued")
    moved = advanced_watermark(watermark, newest, held, lambda moment: moment - timedelta(microseconds=1))
    if moved is not None:
        shipments.advance_watermark(connection_id, moved)
    logger.info("shipment reconcile done", extra={"counts": context.counts})


def _decide(connection_id: str, order: SalesOrder, orders: OrderRepository,
            shipments: ShipmentRepository) -> Literal["skip", "held", "queue"]:
    """What one WholeCell order asks: `queue` when a tracking number of an order the integration
    imported has no recorded confirmation, `held` while its import is still being recorded."""
    numbers = {normalize_tracking(s.tracking_number or "") for s in order.shipments} - {""}
    if not numbers or not order.external_reference:
        return "skip"
    record = orders.get(connection_id, order.external_reference)
    if record is not None and record.import_state == ImportState.CLAIMED:
        return "held"
    if record is None or record.import_state != ImportState.IMPORTED or record.wholecell_order_id != order.id:
        return "skip"
    return "queue" if _unconfirmed(order.id, numbers, shipments.for_order(connection_id, order.id)) else "skip"


def _unconfirmed(order_id: int, numbers: set[str], known: Mapping[str, ShipmentRecord]) -> list[str]:
    """The tracking numbers with no shipment record, or one still pending."""
    return [n for n in numbers
            if (r := known.get(shipment_key(order_id, n))) is None or r.state == ShipmentState.PENDING]
