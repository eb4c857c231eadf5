"""Address backfill: the ship-to address onto WholeCell orders once Temu releases it.

Temu gives no address while an order is PENDING (1); from UN_SHIPPING (2) on it does. This
job reads only the orders waiting for an address (a sparse index, never a scan). Orders the
import last saw pending are re-checked on Temu in bulk (20 per list call); for each released
one the address is read (decrypted when the plain call masks it) and PATCHed onto the
WholeCell order; a run short of time leaves the rest to a follow-up run. Orders that
shipped or were cancelled without one stop being retried, with a reason (also when Temu
refuses the address of an order it closed after the import last saw it).
Buyer data never reaches logs, traces or the run log.
"""

from __future__ import annotations

from wholecell_temu.errors import ErrorClass, ExternalApiError
from wholecell_temu.jobs.framework import JobContext
from wholecell_temu.jobs.order_import import read_address
from wholecell_temu.jobs.ports import AddressBackfillTemu, AddressBackfillWholeCell
from wholecell_temu.observability import logger
from wholecell_temu.store.orders import OrderRecord, OrderRepository
from wholecell_temu.store.states import AddressState, ImportState
from wholecell_temu.temu.codes import ADDRESS_RELEASED, CLOSED
from wholecell_temu.wholecell import SalesOrderPatch

STATUS_CHUNK = 20  # parentOrderSnList holds at most 20 orders per list call
TIME_RESERVE_SECONDS = 30  # stop filling with this much time left; a follow-up run goes on


def current_statuses(context: JobContext[AddressBackfillTemu, object], sns: list[str]) -> dict[str, int]:
    """Temu's status of orders the import last saw pending, 20 per list call (not one detail
    read each: a shop can have hundreds of orders waiting for the buyer's confirmation)."""
    statuses: dict[str, int] = {}
    for start in range(0, len(sns), STATUS_CHUNK):
        chunk = sns[start:start + STATUS_CHUNK]
        page = context.temu.order_page(1, STATUS_CHUNK, parent_order_sn_list=chunk)
        statuses.update({order.parent_order_sn: order.parent_order_map.parent_order_status
                         for order in page.page_items if order.parent_order_sn in chunk})
    return statuses


def run(context: JobContext[AddressBackfillTemu, AddressBackfillWholeCell],
        orders: OrderRepository | None = None) -> None:
    orders = orders or OrderRepository(context.clock)
    connection_id = context.connection.connection_id
    records = [record for sn in orders.iter_awaiting_address(connection_id)
               if (record := orders.get(connection_id, sn)) is not None
               and record.import_state == ImportState.IMPORTED and record.address_state == AddressState.AWAITING]
    if records:
        context.count("awaiting", len(records))
    statuses, failures = _rechecked_statuses(context, records)
    for record in records:
        status = statuses.get(record.parent_order_sn, record.temu_status or 0)
        failures += _backfill(context, orders, record, status)
    logger.info("address backfill done", extra={"counts": context.counts})
    if failures and not context.counts.get("filled"):
        raise ExternalApiError(f"no address could be filled ({failures} failures)", error_class=ErrorClass.RETRYABLE,
                               operation="address_backfill")


def _rechecked_statuses(context: JobContext[AddressBackfillTemu, object],
                        records: list[OrderRecord]) -> tuple[dict[str, int], int]:
    """Temu's status now of the orders the import last saw pending (it may not have seen the
    change yet), and the failures (0 or 1): when the check fails, the released ones are still
    filled and the rest wait for the next run."""
    pending = [r.parent_order_sn for r in records if (r.temu_status or 0) not in ADDRESS_RELEASED]
    try:
        return (current_statuses(context, pending) if pending else {}), 0
    except ExternalApiError as exc:
        if exc.error_class is ErrorClass.REAUTHORIZE:
            raise
        context.count("status_check_failed")
        logger.warning("Temu status check failed", extra={"error": str(exc)})
        return {}, 1


def _backfill(context: JobContext[AddressBackfillTemu, AddressBackfillWholeCell], orders: OrderRepository,
              record: OrderRecord, status: int) -> int:
    """One order at Temu's `status`: given up, left waiting or filled; the failures (0 or 1)."""
    connection_id, sn = context.connection.connection_id, record.parent_order_sn
    if status in CLOSED:
        orders.set_address_state(connection_id, sn, AddressState.UNAVAILABLE,
                                 f"Temu status {status} before an address was released", status)
        context.count("given_up")
        return 0
    if status not in ADDRESS_RELEASED:
        context.count("still_pending")
        return 0
    if context.seconds_left() < TIME_RESERVE_SECONDS:
        context.count("left_for_next_run")
        context.continue_later()
        return 0
    try:
        fill(context, orders, record, status)
    except ExternalApiError as exc:
        if exc.error_class is ErrorClass.REAUTHORIZE:
            raise
        context.count("failed")
        logger.warning("address not filled", extra={"parent_order_sn": sn, "error": str(exc)})
        orders.set_address_state(connection_id, sn, AddressState.AWAITING,
                                 f"last attempt failed: {exc}"[:300])
        return 1
    return 0


def fill(context: JobContext[AddressBackfillTemu, AddressBackfillWholeCell], orders: OrderRepository,
         record: OrderRecord, status: int) -> None:
    """Read the released address and PATCH it onto the WholeCell order. Never logged."""
    connection_id, sn = context.connection.connection_id, record.parent_order_sn
    try:
        address = read_address(context, sn, record.region_id)
    except ExternalApiError as exc:
        if exc.error_class is not ErrorClass.FIX_REQUEST:
            raise
        # Temu refuses the address of an order it closed since the import last saw it
        status = context.temu.order_detail(sn).parent_order_map.parent_order_status
        if status not in CLOSED:
            raise
        orders.set_address_state(connection_id, sn, AddressState.UNAVAILABLE,
                                 f"Temu status {status} before the address was read", status)
        context.count("given_up")
        return
    context.wholecell.update_sales_order(record.wholecell_order_id or 0, SalesOrderPatch(shipping_address=address))
    orders.set_address_state(connection_id, sn, AddressState.FILLED, None, status)
    context.count("filled")
