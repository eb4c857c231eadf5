"""Shipment confirmation: a WholeCell shipment becomes a shipped Temu order, exactly once.

A message (from the webhook, the reconciler or a resend) names a WholeCell sales order. The
worker re-reads that order (the payload is only a hint), finds the Temu order it was created
for, claims each (order, tracking number) not yet confirmed, and sends one
`bg.logistics.shipment.v2.confirm` for all of them (send type 0 for one tracking number,
1 for several). Outcomes:

- success, or Temu already holding these tracking numbers (verified by reading it back):
  recorded as confirmed;
- retryable (Temu busy, timeouts whose outcome is not on Temu yet): the claim is released
  and the message fails, so SQS delivers it again after the visibility timeout;
- permanent (unknown carrier, cancelled order, tracking rejected, a pending buyer request):
  recorded with the reason, counted, and the message moved to the dead-letter queue.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit, single_metric
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.idempotency.persistence.base import BasePersistenceLayer
from pydantic import ValidationError

from wholecell_temu.domain.connection import Connection, ConnectionStatus
from wholecell_temu.domain.shipments import (
    Box,
    PermanentShipmentError,
    confirmation_seconds,
    normalize_tracking,
    plan_packages,
    resolve_carrier,
    shipment_key,
)
from wholecell_temu.errors import ErrorClass
from wholecell_temu.jobs import clients
from wholecell_temu.jobs.budgets import PastDeadline, deadline
from wholecell_temu.jobs.ports import ShipmentPushTemu, ShipmentPushWholeCell
from wholecell_temu.observability import METRICS_NAMESPACE, logger, metrics
from wholecell_temu.queues import ShipmentMessage, dead_letter, parse_shipment
from wholecell_temu.services import Services
from wholecell_temu.store.orders import OrderRecord, OrderRepository
from wholecell_temu.store.shipments import ShipmentClaimHeld, ShipmentRecord, ShipmentRepository
from wholecell_temu.store.states import ImportState, ShipmentState
from wholecell_temu.temu.codes import ALREADY_DONE, CANCELED, PENDING, PENDING_BUYER_REQUEST, SHIPPED_STATUSES, TO_SHIP
from wholecell_temu.temu.errors import TemuApiError
from wholecell_temu.temu.models import Carrier, Order
from wholecell_temu.wholecell import SalesOrder, Shipment

CACHE_SECONDS = 6 * 3600  # carriers and warehouses change rarely (reference: cache a few hours)
LAST_SLOT_MARGIN = 5.0  # a paced call's slot must start this long before the invocation ends (the call, the records)


class ShipmentOutcome(StrEnum):
    """How a shipment message ended when it ended well. The value is what the idempotency
    record keeps (unchanged); `label` is the metric dimension."""

    CONFIRMED = "confirmed"
    VERIFIED = "verified"  # Temu already held the tracking numbers (an earlier attempt went through)
    ALREADY_CONFIRMED = "already confirmed"
    FAILED_BEFORE = "failed before; resend to try again"
    UNKNOWN_CONNECTION = "unknown connection"
    NOT_A_TEMU_ORDER = "not a Temu order"
    NO_TRACKING_NUMBER = "no tracking number"

    @property
    def label(self) -> str:
        """The `outcome` dimension of the ShipmentMessages metric: `failed_before`, `not_a_temu_order`, ..."""
        return self.name.lower()


class RetryLater(Exception):
    """Nothing permanent went wrong; deliver the message again later."""


@dataclass
class _Cached:
    value: Any
    until: float


_CACHE: dict[tuple[str, ...], _Cached] = {}


def _cached(key: tuple[str, ...], load: Any) -> Any:
    hit = _CACHE.get(key)
    if hit is None or hit.until < time.monotonic():
        hit = _Cached(load(), time.monotonic() + CACHE_SECONDS)
        _CACHE[key] = hit
    return hit.value


def _unconfirmed(order_id: int, boxes: dict[str, Shipment], known: Mapping[str, ShipmentRecord], *,
                 resend: bool) -> dict[str, Shipment] | ShipmentOutcome:
    """The shipments (by tracking number) still to confirm, or why none is: all confirmed already,
    or one failed before (only a resend tries it again)."""
    pending = {number: s for number, s in boxes.items()
               if (known.get(shipment_key(order_id, number)) is None
                   or known[shipment_key(order_id, number)].state != ShipmentState.CONFIRMED)}
    if not pending:
        return ShipmentOutcome.ALREADY_CONFIRMED
    failed = [n for n in pending if (r := known.get(shipment_key(order_id, n))) and r.state == ShipmentState.FAILED]
    if failed and not resend:
        return ShipmentOutcome.FAILED_BEFORE
    return pending


class ShipmentConfirmer:
    def __init__(self, services: Services, orders: OrderRepository | None = None,
                 shipments: ShipmentRepository | None = None, *,
                 temu_for: Callable[[Connection], ShipmentPushTemu] | None = None,
                 wholecell_for: Callable[[Connection], ShipmentPushWholeCell] | None = None) -> None:
        """`temu_for` and `wholecell_for` build a connection's clients (the real ones unless a test gives its own)."""
        self.services = services
        self.temu_for = temu_for or self._temu_client
        self.wholecell_for = wholecell_for or self._wholecell_client
        self.orders = orders or OrderRepository(services.clock)
        self.shipments = shipments or ShipmentRepository(services.clock)

    def process(self, message: ShipmentMessage) -> ShipmentOutcome:
        """The outcome; raises RetryLater (or a retryable API error) to be delivered again."""
        connection = self.services.connections.get(message.connection_id)
        if connection is None or connection.status is ConnectionStatus.DELETED:
            return ShipmentOutcome.UNKNOWN_CONNECTION
        logger.append_keys(connection_id=connection.connection_id, sales_order_id=message.sales_order_id)
        if connection.status is not ConnectionStatus.ACTIVE:
            raise RetryLater(f"connection is {connection.status.value}")
        wholecell = self.wholecell_for(connection)
        order = wholecell.get_sales_order(message.sales_order_id)  # the truth, not the payload
        if order.channel != connection.settings.sales_channel or not order.external_reference:
            return ShipmentOutcome.NOT_A_TEMU_ORDER
        record = self.orders.get(connection.connection_id, order.external_reference)
        if record is None or record.import_state != ImportState.IMPORTED or record.wholecell_order_id != order.id:
            raise RetryLater(f"Temu order {order.external_reference} is not recorded as imported yet")
        boxes = {normalize_tracking(s.tracking_number or ""): s for s in order.shipments
                 if normalize_tracking(s.tracking_number or "")}
        if not boxes:
            return ShipmentOutcome.NO_TRACKING_NUMBER
        pending = _unconfirmed(order.id, boxes, self.shipments.for_order(connection.connection_id, order.id),
                               resend=message.source == "resend")
        if isinstance(pending, ShipmentOutcome):
            return pending
        return self._confirm(connection, order, record, pending)

    def _confirm(self, connection: Connection, order: SalesOrder, record: OrderRecord,
                 pending: dict[str, Shipment]) -> ShipmentOutcome:
        owner = uuid.uuid4().hex
        cid, sn = connection.connection_id, record.parent_order_sn
        claimed: list[str] = []
        earlier_attempt = False
        try:
            for number, shipment in pending.items():
                previous = self.shipments.claim(
                    cid, shipment_key(order.id, number), owner, self.services.settings.shipment_claim_seconds,
                    parent_order_sn=sn,
                    wholecell_order_id=order.id, tracking_number=number, carrier=shipment.carrier)
                claimed.append(shipment_key(order.id, number))
                earlier_attempt |= previous is not None and previous.state == ShipmentState.PENDING
        except ShipmentClaimHeld:
            self._release(cid, claimed, owner, "another delivery is confirming it")
            raise RetryLater("another delivery holds the claim") from None
        try:
            outcome = self._send(connection, record, pending, earlier_attempt)
        except PermanentShipmentError as exc:
            for key in claimed:
                self.shipments.finish(cid, key, owner, ShipmentState.FAILED, error=str(exc))
            self.orders.set_shipment_state(cid, sn, ShipmentState.FAILED, str(exc))
            metrics.add_metric(name="ShipmentConfirmFailed", unit=MetricUnit.Count, value=1)
            logger.error("shipment confirmation failed permanently", extra={"parent_order_sn": sn, "reason": str(exc)})
            raise
        except Exception as exc:
            self._release(cid, claimed, owner, f"{type(exc).__name__}: {exc}")
            raise
        for key in claimed:
            self.shipments.finish(cid, key, owner, ShipmentState.CONFIRMED,
                                  verified=outcome is ShipmentOutcome.VERIFIED)
        self.orders.set_shipment_state(cid, sn, ShipmentState.CONFIRMED, None)
        metrics.add_metric(name="ShipmentConfirmed", unit=MetricUnit.Count, value=len(claimed))
        logger.info("shipment confirmed on Temu", extra={"parent_order_sn": sn, "outcome": outcome,
                                                          "packages": len(claimed)})
        return outcome

    def _temu_client(self, connection: Connection) -> ShipmentPushTemu:
        return clients.temu_client(self.services.settings, self.services.secrets, connection)

    def _wholecell_client(self, connection: Connection) -> ShipmentPushWholeCell:
        return clients.wholecell_client(self.services.settings, self.services.secrets, connection)

    def _release(self, cid: str, keys: list[str], owner: str, error: str) -> None:
        for key in keys:
            self.shipments.finish(cid, key, owner, ShipmentState.PENDING, error=error)

    def _send(self, connection: Connection, record: OrderRecord, pending: dict[str, Shipment],
              earlier_attempt: bool) -> ShipmentOutcome:
        settings = connection.settings
        temu = self.temu_for(connection)
        sn = record.parent_order_sn
        detail = temu.order_detail(sn)
        numbers = set(pending)
        status = detail.parent_order_map.parent_order_status
        if status == CANCELED:
            raise PermanentShipmentError("the order was cancelled on Temu")
        if status == PENDING:  # Temu accepts shipments from awaiting shipment (2) on; it gets there soon
            raise RetryLater("the Temu order is still pending; it can be shipped once awaiting shipment")
        if earlier_attempt and self._on_temu(temu, detail, numbers):
            return ShipmentOutcome.VERIFIED  # an earlier attempt went through before its outcome was recorded
        if not any(item.order_status in TO_SHIP for item in detail.order_list):
            if self._on_temu(temu, detail, numbers):
                return ShipmentOutcome.VERIFIED
            raise PermanentShipmentError("Temu shows the order shipped with other tracking numbers")
        region = detail.parent_order_map.region_id or record.region_id or 0
        carriers: list[Carrier] = _cached(("carriers", connection.connection_id, str(region)),
                                          lambda: temu.carriers(region))
        boxes = [Box(number, resolve_carrier(s.carrier, settings.carrier_map, carriers),
                     {item.sku: item.quantity for item in s.items if item.sku}) for number, s in pending.items()]
        warehouse_id = settings.temu_warehouse_id or _cached(
            ("warehouse", connection.connection_id), lambda: _default_warehouse(temu))
        sku_of_line = {line.order_sn: line.sku for line in record.lines}
        outcome = ShipmentOutcome.CONFIRMED
        for send_type, packages in plan_packages(sn, detail.order_list, boxes, warehouse_id, sku_of_line):
            try:
                temu.confirm_shipment(send_type, packages)
            except TemuApiError as exc:
                outcome = self._after_error(exc, temu, detail, {p.tracking_number for p in packages})
        return outcome

    def _after_error(self, exc: TemuApiError, temu: ShipmentPushTemu, detail: Order,
                     numbers: set[str]) -> ShipmentOutcome:
        if exc.code in PENDING_BUYER_REQUEST:
            raise PermanentShipmentError(f"{PENDING_BUYER_REQUEST[int(exc.code)]} on Temu: {exc.message}") from None
        if exc.code in ALREADY_DONE or exc.error_class is ErrorClass.VERIFY_BEFORE_RETRY:
            detail = temu.order_detail(detail.parent_order_sn)  # after the confirm: items may be shipped now
            if self._on_temu(temu, detail, numbers):
                return ShipmentOutcome.VERIFIED
            if exc.code in ALREADY_DONE:
                raise PermanentShipmentError(f"{exc.message} (code {exc.code}), and Temu does not hold these "
                                             "tracking numbers for this order") from None
            raise RetryLater(f"outcome unknown and not on Temu yet: {exc}") from None
        if exc.error_class in (ErrorClass.RETRYABLE, ErrorClass.REAUTHORIZE):
            raise exc
        raise PermanentShipmentError(str(exc)) from None

    @staticmethod
    def _on_temu(temu: ShipmentPushTemu, detail: Order, numbers: set[str]) -> bool:
        """Whether Temu already holds every one of `numbers` for this order."""
        found: set[str] = set()
        for item in detail.order_list:
            if item.order_status in SHIPPED_STATUSES:
                found |= {normalize_tracking(t) for t in
                          temu.shipment_info(detail.parent_order_sn, item.order_sn).tracking_numbers()}
            if numbers <= found:
                return True
        return numbers <= found


def _default_warehouse(temu: ShipmentPushTemu) -> str:
    warehouse = temu.warehouses().default()
    if warehouse is None:
        raise PermanentShipmentError("the shop has no default Temu warehouse; set temu_warehouse_id in the settings")
    return warehouse.warehouse_id


def make_shipment_handler(persistence_store: BasePersistenceLayer) -> Callable[[dict[str, Any], Any], Any]:
    """The Lambda entry of the confirmation worker: SQS batches with partial failures.

    A webhook event is processed once per connection and `event_id` (Powertools idempotency; event
    ids are WholeCell's, unique within one account, not across tenants); a message that
    cannot succeed (permanent failure, poison) goes to the dead-letter queue with its reason
    and is acknowledged; anything else that fails is delivered again by SQS.
    """
    services = Services.cached
    config = IdempotencyConfig(event_key_jmespath="[connection_id, event_id]", raise_on_no_idempotency_key=False,
                               expires_after_seconds=24 * 3600)

    def confirm_any(message: dict[str, Any]) -> dict[str, str]:
        return {"outcome": ShipmentConfirmer(services()).process(ShipmentMessage.model_validate(message))}

    confirm_event = idempotent_function(data_keyword_argument="message", config=config,
                                        persistence_store=persistence_store)(confirm_any)

    invocation: dict[str, Any] = {}

    def record_handler(record: SQSRecord) -> None:
        settings = services().settings
        remaining = getattr(invocation.get("context"), "get_remaining_time_in_millis", None)
        if remaining is not None and remaining() < 1000 * confirmation_seconds(settings.temu_rate_limit):
            metrics.add_metric(name="ShipmentDeferred", unit=MetricUnit.Count, value=1)
            raise RetryLater("not started: too little time left in this invocation")
        try:
            message = parse_shipment(record.body)
        except (ValueError, ValidationError) as exc:
            dead_letter(record.body, f"poison message: {exc}"[:1000], settings.shipment_dlq_url)
            return
        # on a shared budget a call may wait far longer than the estimate above: none starts too late to end
        until = None if remaining is None else services().clock.time() + remaining() / 1000 - LAST_SLOT_MARGIN
        try:
            # a webhook event is processed once per (connection, event_id); reconcile and resend messages always run
            confirm = confirm_event if message.event_id else confirm_any
            with deadline(until):
                result = confirm(message=message.model_dump())
        except PermanentShipmentError as exc:
            dead_letter(record.body, str(exc), settings.shipment_dlq_url)
            return
        except PastDeadline as exc:  # the claims are released; nothing was sent for the slot given up
            metrics.add_metric(name="ShipmentDeferred", unit=MetricUnit.Count, value=1)
            raise RetryLater(f"stopped: {exc}") from None
        with single_metric(name="ShipmentMessages", unit=MetricUnit.Count, value=1,
                           namespace=METRICS_NAMESPACE) as metric:
            # a repeated webhook event answers with the stored result: the outcome's value as text
            metric.add_dimension(name="outcome", value=ShipmentOutcome(result["outcome"]).label)

    def handle(event: dict[str, Any], context: Any) -> Any:
        invocation["context"] = context
        if context is not None and hasattr(context, "get_remaining_time_in_millis"):
            config.register_lambda_context(context)
        return process_partial_response(event=event, record_handler=record_handler,
                                        processor=BatchProcessor(event_type=EventType.SQS), context=context)

    return handle


__all__ = ["RetryLater", "ShipmentConfirmer", "ShipmentOutcome", "make_shipment_handler"]
