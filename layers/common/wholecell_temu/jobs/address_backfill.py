"""Address backfill: the ship-to address onto WholeCell orders once Temu releases it.

Temu gives no address while an order is PENDING (1); from UN_SHIPPING (2) on it does. This
job reads only the orders waiting for an address (a sparse index, never a scan). For each,
the Temu status is checked (the order's own detail when the import last saw it pending),
the address is read (decrypted when the plain call masks it) and PATCHed onto the WholeCell
order. Orders that shipped or were cancelled without one stop being retried, with a reason
(also when Temu refuses the address of an order it closed after the import last saw it).
Buyer data never reaches logs, traces or the run log.
"""

from __future__ import annotations

from wholecell_temu.domain.orders import ADDRESS_RELEASED, CLOSED
from wholecell_temu.errors import ErrorClass, ExternalApiError
from wholecell_temu.jobs.framework import JobContext
from wholecell_temu.jobs.order_import import read_address
from wholecell_temu.observability import logger
from wholecell_temu.store.orders import OrderRepository
from wholecell_temu.wholecell import SalesOrderPatch


def run(context: JobContext, orders: OrderRepository | None = None) -> None:
    orders = orders or OrderRepository()
    connection_id = context.connection.connection_id
    failures = 0
    for sn in orders.iter_awaiting_address(connection_id):
        record = orders.get(connection_id, sn)
        if record is None or record.import_state != "imported" or record.address_state != "awaiting":
            continue
        context.count("awaiting")
        try:
            status = record.temu_status or 0
            if status not in ADDRESS_RELEASED:  # re-check: the import may not have seen the change yet
                status = context.temu.order_detail(sn).parent_order_map.parent_order_status
            if status in CLOSED:
                orders.set_address_state(connection_id, sn, "unavailable",
                                         f"Temu status {status} before an address was released", status)
                context.count("given_up")
                continue
            if status not in ADDRESS_RELEASED:
                context.count("still_pending")
                continue
            try:
                address = read_address(context, sn, record.region_id)
            except ExternalApiError as exc:
                if exc.error_class is not ErrorClass.FIX_REQUEST:
                    raise
                # Temu refuses the address of an order it closed since the import last saw it
                status = context.temu.order_detail(sn).parent_order_map.parent_order_status
                if status not in CLOSED:
                    raise
                orders.set_address_state(connection_id, sn, "unavailable",
                                         f"Temu status {status} before the address was read", status)
                context.count("given_up")
                continue
            context.wholecell.update_sales_order(record.wholecell_order_id or 0,
                                                 SalesOrderPatch(shipping_address=address))
            orders.set_address_state(connection_id, sn, "filled", None, status)
            context.count("filled")
        except ExternalApiError as exc:
            if exc.error_class is ErrorClass.REAUTHORIZE:
                raise
            failures += 1
            context.count("failed")
            logger.warning("address not filled", extra={"parent_order_sn": sn, "error": str(exc)})
            orders.set_address_state(connection_id, sn, "awaiting", f"last attempt failed: {exc}"[:300])
    logger.info("address backfill done", extra={"counts": context.counts})
    if failures and not context.counts.get("filled"):
        raise ExternalApiError(f"no address could be filled ({failures} failures)", error_class=ErrorClass.RETRYABLE,
                               operation="address_backfill")
