"""Orders behind the admin API: one order as the integration sees it, and its re-import."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel

from wholecell_temu.admin.service import ConnectionService
from wholecell_temu.api_errors import NotFound
from wholecell_temu.domain.connection import Connection, ConnectionStatus
from wholecell_temu.domain.orders import OVERLAP_SECONDS, skip_reason
from wholecell_temu.domain.settings import ConnectionSettings
from wholecell_temu.errors import ErrorClass, ExternalApiError
from wholecell_temu.jobs.clients import ConnectionNotAuthorized
from wholecell_temu.queues import ShipmentMessage, send_shipment
from wholecell_temu.store.orders import OrderRecord, OrderRepository
from wholecell_temu.store.shipments import ShipmentRepository
from wholecell_temu.store.states import ImportState, ShipmentState
from wholecell_temu.temu.client import PARENT_ORDER_SN_LIST_MAX
from wholecell_temu.temu.codes import MEANINGS
from wholecell_temu.temu.models import Order


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
    # why this SKU when the listing is connected to several, e.g. "most available: A 7, B 2"
    choice_reason: str | None = None


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
    on_temu: bool | None = None  # an order the import never saw: whether Temu has it (None: not asked)
    next_import_due_at: datetime | None = None  # an order not polled yet: when the next order import is due


def order_view(record: OrderRecord) -> OrderView:
    return OrderView(
        parent_order_sn=record.parent_order_sn, imported=record.import_state == ImportState.IMPORTED,
        import_state=record.import_state,
        not_imported_reason=record.skip_reason if record.import_state != ImportState.IMPORTED else None,
        temu_status=record.temu_status, temu_status_name=MEANINGS.get(record.temu_status or 0),
        wholecell_status=record.wholecell_status, wholecell_order_id=record.wholecell_order_id,
        lines=[OrderLineView(
            order_sn=line.order_sn, temu_sku_id=line.sku_id, temu_goods_id=line.goods_id, title=line.title,
            spec=line.spec, temu_quantity=line.temu_quantity, wholecell_quantity=line.wholecell_quantity,
            temu_status=line.temu_status, sku=line.sku, product_variation_id=line.variation_id, factor=line.factor,
            resolution=line.resolution, unknown_sku=line.resolution == "unknown", unknown_reason=line.unknown_reason,
            choice_reason=line.choice_reason)
            for line in record.lines],
        unknown_sku=bool(record.unknown_sku_lines), address_state=record.address_state,
        address_reason=record.address_reason, shipment_state=record.shipment_state,
        shipment_error=record.shipment_error, updated_at=record.updated_at)


def get_order(service: ConnectionService, orders: OrderRepository, connection_id: str,
              parent_order_sn: str) -> OrderView:
    """The order as recorded; for one the import never saw, why not (asking Temu whether it exists)."""
    connection = service.require(connection_id)
    record = orders.get(connection_id, parent_order_sn)
    if record is not None:
        return order_view(record)
    lookup = look_up_on_temu(service, connection, parent_order_sn)
    runs = service.services.runs.last_finished([connection_id], ["order_import"])
    last = runs.get((connection_id, "order_import"))
    why = explain_not_seen(NotSeenFacts(
        parent_order_sn=parent_order_sn, connection=connection, lookup=lookup,
        watermark=orders.watermark(connection_id), last_run_at=None if last is None else last.started_at,
        schedule=service.services.settings.order_import_schedule, now=service.services.clock.now()))
    if why.on_temu is False:
        raise NotFound(why.reason)
    return OrderView(
        parent_order_sn=parent_order_sn, imported=False, import_state=ImportState.NOT_SEEN,
        not_imported_reason=why.reason,
        temu_status=why.temu_status, temu_status_name=MEANINGS.get(why.temu_status or 0),
        wholecell_status=None, wholecell_order_id=None, lines=[], unknown_sku=False, address_state=None,
        address_reason=None, shipment_state=None, shipment_error=None, updated_at=None,
        on_temu=why.on_temu, next_import_due_at=why.next_import_due_at)


# --- an order the import never saw ------------------------------------------------------------

@dataclass(frozen=True)
class TemuLookup:
    """What Temu answered for one order number: the order, not found, or why it was not asked."""

    order: Order | None = None
    found: bool | None = None  # None: not asked, or no answer
    problem: str | None = None


def look_up_on_temu(service: ConnectionService, connection: Connection, parent_order_sn: str) -> TemuLookup:
    """The order as Temu's list call shows it (it carries `updateTime`). Never raises: an answer
    about why an order is missing must not fail because Temu is down."""
    if connection.status in (ConnectionStatus.AWAITING_AUTHORIZATION, ConnectionStatus.NEEDS_REAUTHORIZATION):
        return TemuLookup(problem=f"the connection is {connection.status.value.replace('_', ' ')}")
    try:
        temu = service.temu_for(connection)
        page = temu.order_page(1, PARENT_ORDER_SN_LIST_MAX, parent_order_sn_list=[parent_order_sn])
    except ConnectionNotAuthorized:
        return TemuLookup(problem="the connection has no Temu token")
    except ExternalApiError as exc:
        if exc.error_class is ErrorClass.REAUTHORIZE:
            return TemuLookup(problem="Temu refused the shop's token (re-authorize the shop)")
        return TemuLookup(problem=f"Temu did not answer ({exc.error_class.value})")
    order = next((o for o in page.page_items if o.parent_order_sn == parent_order_sn), None)
    return TemuLookup(order=order, found=order is not None)


@dataclass(frozen=True)
class NotSeenFacts:
    parent_order_sn: str
    connection: Connection
    lookup: TemuLookup
    watermark: int | None  # the order import's watermark (Temu updateTime, seconds)
    last_run_at: datetime | None  # the last finished order import run
    schedule: str  # the order import's schedule expression
    now: datetime


@dataclass(frozen=True)
class NotSeen:
    reason: str
    on_temu: bool | None
    temu_status: int | None = None
    next_import_due_at: datetime | None = None


def schedule_interval(expression: str) -> timedelta | None:
    """The period of an EventBridge `rate(...)` expression; None for cron and one-off schedules."""
    match = re.fullmatch(r"rate\((\d+) (minute|hour|day)s?\)", expression.strip())
    if match is None:
        return None
    return timedelta(**{match.group(2) + "s": int(match.group(1))})


def explain_not_seen(facts: NotSeenFacts) -> NotSeen:
    """Why the order import never saw an order, most fundamental reason first. Pure."""
    sn, connection, lookup, settings = facts.parent_order_sn, facts.connection, facts.lookup, facts.connection.settings
    if lookup.found is False:
        return NotSeen(f"Temu has no order {sn} in shop {connection.temu_mall_id}: check the number (a parent "
                       "order number, PO-...) and that the order belongs to this connection's shop", on_temu=False)
    order = lookup.order
    status = None if order is None else order.parent_order_map.parent_order_status
    updated = None if order is None else order.parent_order_map.update_time
    asked = "" if lookup.problem is None else f" (Temu could not be asked: {lookup.problem})"
    if connection.status is ConnectionStatus.DISABLED:
        return NotSeen("the connection is disabled: no job runs for it (enable it)" + asked, lookup.found, status)
    if connection.status is ConnectionStatus.AWAITING_AUTHORIZATION:
        return NotSeen("the connection is not authorized yet: the seller has not authorized the app in Temu Seller "
                       "Center (issue an authorize link)", None)
    if connection.status is ConnectionStatus.NEEDS_REAUTHORIZATION:
        return NotSeen("the connection needs re-authorization: Temu no longer accepts its token, so no order is "
                       "read (issue an authorize link)", None)
    if not settings.order_import_enabled:
        return NotSeen("order import is switched off for this connection (settings: order_import_enabled)" + asked,
                       lookup.found, status)
    due = _next_run(facts)
    due_text = "" if due is None else f"; the next run is due by {due.isoformat(timespec='seconds')}"
    upcoming = "" if status is None else _would_skip(status, settings, facts.watermark is None)
    if facts.watermark is None:
        return NotSeen("order import has not run for this connection yet" + due_text + upcoming + asked,
                       lookup.found, status, due)
    if order is None:
        return NotSeen("the order import has not seen it; without Temu's view of the order (Temu could not be "
                       f"asked: {lookup.problem}) the reason cannot be told: re-import it to read it now",
                       None, None, due)
    if updated is None or updated >= facts.watermark - OVERLAP_SECONDS:
        return NotSeen("not polled yet: Temu changed it after what the last order import read" + due_text + upcoming,
                       True, status, due)
    return NotSeen(f"outside the first import's window: Temu last changed it before the first order import read "
                   f"(look-back {settings.initial_lookback_days} days), and history is left alone; re-import it to "
                   "import it now", True, status)


def _next_run(facts: NotSeenFacts) -> datetime | None:
    interval = schedule_interval(facts.schedule)
    if interval is None:
        return None
    if facts.last_run_at is None or facts.last_run_at + interval < facts.now:
        return facts.now + interval
    return facts.last_run_at + interval


def _would_skip(status: int, settings: ConnectionSettings, first_run: bool) -> str:
    skip = skip_reason(status, settings, first_run)
    return "" if skip is None else f"; when it is read it will not be imported yet: {skip.reason}"


class ResendQueued(BaseModel):
    parent_order_sn: str
    wholecell_order_id: int
    reopened: int  # shipments that had failed and are tried again


def resend_shipments(service: ConnectionService, orders: OrderRepository, shipments: ShipmentRepository,
                     connection_id: str, parent_order_sn: str) -> ResendQueued:
    """Queue a fresh confirmation attempt for the order's shipments (failed ones are reopened)."""
    service.require(connection_id)
    record = orders.get(connection_id, parent_order_sn)
    if record is None or record.import_state != ImportState.IMPORTED or record.wholecell_order_id is None:
        raise NotFound(f"order {parent_order_sn} was not imported into WholeCell by this connection")
    reopened = 0
    for key, shipment in shipments.for_order(connection_id, record.wholecell_order_id).items():
        if shipment.state == ShipmentState.FAILED:
            shipments.reopen(connection_id, key)
            reopened += 1
    send_shipment(service.services, ShipmentMessage(connection_id=connection_id,
                                                    sales_order_id=record.wholecell_order_id, source="resend"))
    return ResendQueued(parent_order_sn=parent_order_sn, wholecell_order_id=record.wholecell_order_id,
                        reopened=reopened)
