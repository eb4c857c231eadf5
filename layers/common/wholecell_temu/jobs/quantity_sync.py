"""Quantity sync: WholeCell's calculated quantity to every connected, active Temu listing.

One run for one connection:

1. Read WholeCell into the inventory mirror. Normally only what changed: units and sales
   orders with `updated_at` after the last change seen, minus an overlap. A full rebuild
   (units of the counted statuses, orders of the outstanding statuses) runs on a slower
   cadence, on the first run and whenever the settings the mirror was built for change.
   Every read completes before anything is written: a read that fails or ends early
   raises, so nothing is pushed from it — never zeros.
2. Compute each listing's quantity from the mirror (domain.quantities).
3. Push only what differs from what was last pushed (or failed last time), one
   `bg.local.goods.stock.edit` per goods with absolute targets, and record each SKU's
   outcome. Periodically Temu's own stock is read first: a listing whose Temu value moved
   is re-asserted, and flagged `overwritten on Temu` when someone else moved it: up (orders
   never raise it), or down by more than the Temu orders placed since our push took
   (read then, only when some listing shows less than pushed; domain.quantities.judge_temu_quantity).

`dry_run` (or inventory sync turned off, on a manual run) computes and records the
quantities that would be pushed and pushes nothing.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from aws_lambda_powertools.metrics import MetricUnit

from wholecell_temu.domain.listings import ListingStatus
from wholecell_temu.domain.quantities import (
    ORDER_TIME_MARGIN,
    CountingRules,
    MirrorOrder,
    MirrorOrderItem,
    MirrorUnit,
    StockBook,
    TemuOverwrite,
    TemuReading,
    TemuSale,
    judge_temu_quantity,
    listing_quantity,
    needs_push,
    units_ordered_since,
)
from wholecell_temu.errors import ErrorClass, ExternalApiError
from wholecell_temu.jobs.framework import JobContext
from wholecell_temu.jobs.listing_import import read_temu_skus
from wholecell_temu.jobs.ports import QuantitySyncTemu, QuantitySyncWholeCell
from wholecell_temu.observability import logger, metrics
from wholecell_temu.store.inventory import InventoryMirror, Mirror, MirrorChanges, MirrorState
from wholecell_temu.store.listings import Listing, ListingRepository, QuantityRecord
from wholecell_temu.wholecell import InventoryUnit, SalesOrder

CLOCK_SKEW = timedelta(minutes=5)  # first watermark: this long before the run started (our clock)
MAX_CONSECUTIVE_PUSH_FAILURES = 5  # Temu keeps failing after its own retries: stop, retry next run
PUSH_TIME_RESERVE = 60.0  # seconds kept free at the end of an invocation: stop pushing, continue next run
# Temu orders are read at most this far back to explain a lowered Temu quantity; a listing last
# pushed earlier is not judged when Temu shows less (re-pushed, never flagged)
ORDER_LOOKBACK = timedelta(days=7)
TEMU_CLOCK_SKEW_SECONDS = 300  # the order read's window ends this long after our clock's now
Read = TypeVar("Read", InventoryUnit, SalesOrder)


def to_mirror_unit(unit: InventoryUnit) -> MirrorUnit:
    return MirrorUnit(unit_id=unit.id, sku=unit.sku, variation_id=unit.product_variation.id, status=unit.status,
                      warehouse=unit.warehouse_name, order_id=unit.order_id)


def to_mirror_order(order: SalesOrder) -> MirrorOrder:
    items = tuple(MirrorOrderItem(item.sku or None, item.product_variation_id, item.quantity)
                  for item in order.order_items)
    return MirrorOrder(order_id=order.id, status=order.status, items=items, order_number=order.order_number,
                       channel=order.channel, external_reference=order.external_reference)


def settings_fingerprint(inventory_statuses: Iterable[str], outstanding: Iterable[str] | None) -> str:
    """What the mirror's content depends on: which unit statuses and order statuses it keeps."""
    basis = json.dumps([sorted(inventory_statuses), None if outstanding is None else sorted(outstanding)])
    return hashlib.sha256(basis.encode()).hexdigest()[:16]


@dataclass
class WholeCellRead:
    """The result of reading WholeCell for one run, not yet written."""

    units: dict[int, MirrorUnit]
    orders: dict[int, MirrorOrder]
    changes: MirrorChanges = field(default_factory=MirrorChanges)
    state: MirrorState = field(default_factory=MirrorState)
    rebuild_reason: str | None = None


class MirrorReader:
    """Brings a connection's mirror up to date from WholeCell (in memory; `commit` writes it).

    WholeCell is read knowing only the mirror's state (watermarks, what it was built for); the
    stored content is asked of `load` once the reads are done, so a caller can load it while
    the paced reads run."""

    def __init__(self, context: JobContext[object, QuantitySyncWholeCell], state: MirrorState,
                 load: Callable[[], Mirror], now: datetime) -> None:
        self.context = context
        self.settings = context.connection.settings
        self.state = state
        self.load = load
        self.now = now
        self.overlap = timedelta(seconds=context.settings.wholecell_overlap_seconds)

    @property
    def wholecell(self) -> QuantitySyncWholeCell:
        return self.context.wholecell

    def rebuild_reason(self) -> str | None:
        state = self.state
        fingerprint = settings_fingerprint(self.settings.inventory_statuses, self.settings.outstanding_order_statuses)
        if state.rebuilt_at is None or state.units_watermark is None or state.orders_watermark is None:
            return "first run"
        if state.fingerprint != fingerprint:
            return "inventory or outstanding statuses changed"
        if self.now - state.rebuilt_at >= timedelta(minutes=self.context.settings.quantity_rebuild_minutes):
            return "scheduled rebuild"
        return None

    def read(self) -> WholeCellRead:
        state = self.state
        reason = self.rebuild_reason()
        open_statuses = list(state.open_statuses)
        rebuilt: tuple[dict[int, MirrorUnit], dict[int, MirrorOrder]] | None = None
        if reason is not None:
            open_statuses, closed_statuses, rebuilt = self._rebuild()
            state = state.model_copy(update={
                "rebuilt_at": self.now, "open_statuses": open_statuses, "closed_statuses": closed_statuses,
                "fingerprint": settings_fingerprint(self.settings.inventory_statuses,
                                                    self.settings.outstanding_order_statuses)})
        rules = CountingRules.from_settings(self.settings, open_statuses)
        start = self.now - CLOCK_SKEW
        orders_since = state.orders_watermark or start
        units_since = state.units_watermark or start
        changed_orders = self._collect(self.wholecell.iter_sales_orders(updated_at_gt=orders_since - self.overlap),
                                       "orders_read")
        changed_units = self._collect(self.wholecell.iter_inventories(updated_at_gt=units_since - self.overlap),
                                      "units_read")
        before = self.load()
        if rebuilt is None:
            units, orders = dict(before.units), dict(before.orders)
        else:
            units, orders = rebuilt
            # Units committed to a still-outstanding order keep offsetting it, whatever their status
            # (a status outside the counted ones is not read by the rebuild).
            for unit_id, kept in before.units.items():
                if unit_id not in units and kept.order_id in orders:
                    units[unit_id] = kept
        newest_order = self._apply_orders(orders, rules, changed_orders)
        newest_unit = self._apply_units(units, orders, rules, changed_units)
        state = state.model_copy(update={"orders_watermark": max(orders_since, newest_order or orders_since),
                                         "units_watermark": max(units_since, newest_unit or units_since)})
        read = WholeCellRead(units, orders, state=state, rebuild_reason=reason)
        read.changes = self._diff(before, read)
        return read

    def _collect(self, items: Iterable[Read], counter: str) -> list[Read]:
        collected = []
        for item in items:
            self.context.count(counter)
            collected.append(item)
        return collected

    def _rebuild(self) -> tuple[list[str], list[str] | None, tuple[dict[int, MirrorUnit], dict[int, MirrorOrder]]]:
        """Every unit of the counted statuses and every order of the outstanding statuses; WholeCell's
        open statuses (the outstanding ones unless the settings name them) and closed ones."""
        self.context.count("rebuilds")
        if self.settings.outstanding_order_statuses is None:
            statuses = self.wholecell.sales_order_statuses()
            open_statuses = sorted(s.title for s in statuses if s.open)
            closed_statuses: list[str] | None = sorted(s.title for s in statuses if not s.open)
        else:
            open_statuses = list(self.state.open_statuses)
            closed_statuses = self._closed_statuses()
        rules = CountingRules.from_settings(self.settings, open_statuses)
        units: dict[int, MirrorUnit] = {}
        for status in sorted(rules.inventory_statuses):
            for read in self.wholecell.iter_inventories(status=status):
                units[read.id] = to_mirror_unit(read)
                self.context.count("units_read")
        orders: dict[int, MirrorOrder] = {}
        for status in sorted(rules.outstanding_statuses):
            for order in self.wholecell.iter_sales_orders(status=status):
                orders[order.id] = to_mirror_order(order)
                self.context.count("orders_read")
        return open_statuses, closed_statuses, (units, orders)

    def _closed_statuses(self) -> list[str] | None:
        """The statuses WholeCell flags `open: false`, for the diagnosis only (the settings name the
        outstanding ones): None for an account without the endpoint, what the last rebuild saw
        when the read fails (the sync itself does not need them)."""
        try:
            return sorted(s.title for s in self.wholecell.sales_order_statuses() if not s.open)
        except ExternalApiError as exc:
            if exc.error_class is ErrorClass.REAUTHORIZE:
                raise
            if exc.error_class is ErrorClass.FIX_REQUEST and exc.status == 404:
                return None
            logger.warning("WholeCell sales order statuses not read", extra={"error": str(exc)})
            return self.state.closed_statuses

    @staticmethod
    def _apply_orders(orders: dict[int, MirrorOrder], rules: CountingRules,
                      changed: list[SalesOrder]) -> datetime | None:
        newest: datetime | None = None
        for order in changed:
            newest = max(newest or order.updated_at, order.updated_at)
            if order.status in rules.outstanding_statuses:
                orders[order.id] = to_mirror_order(order)
            else:
                orders.pop(order.id, None)
        return newest

    @staticmethod
    def _apply_units(units: dict[int, MirrorUnit], orders: dict[int, MirrorOrder], rules: CountingRules,
                     changed: list[InventoryUnit]) -> datetime | None:
        newest: datetime | None = None
        for read in changed:
            newest = max(newest or read.updated_at, read.updated_at)
            unit = to_mirror_unit(read)
            if unit.status in rules.inventory_statuses or unit.order_id in orders:
                units[unit.unit_id] = unit
            else:
                units.pop(unit.unit_id, None)
        return newest

    @staticmethod
    def _diff(before: Mirror, read: WholeCellRead) -> MirrorChanges:
        return MirrorChanges(
            put_units=[u for uid, u in read.units.items() if before.units.get(uid) != u],
            delete_units=[uid for uid in before.units if uid not in read.units],
            put_orders=[o for oid, o in read.orders.items() if before.orders.get(oid) != o],
            delete_orders=[oid for oid in before.orders if oid not in read.orders],
        )


@dataclass(frozen=True)
class Push:
    listing: Listing
    quantity: int
    temu_quantity: int | None
    overwritten: bool | None
    overwrite: TemuOverwrite | None = None  # what flagged it, when this run did


@dataclass(frozen=True)
class TemuSales:
    """Every Temu order line placed since `since` (the read of the whole window completed)."""

    since: datetime
    sales: tuple[TemuSale, ...]

    def ordered_since(self, sku_id: int, pushed_at: datetime | None) -> int | None:
        """Units Temu orders took from the SKU since a push; None when the read does not reach
        back to it (an order before `since` may have taken units as well)."""
        if pushed_at is None or pushed_at - ORDER_TIME_MARGIN < self.since:
            return None
        return units_ordered_since(self.sales, sku_id, pushed_at)


def lowered_since(listings: Iterable[Listing], temu_stock: dict[int, int], now: datetime) -> datetime | None:
    """Where the Temu order read starts: the oldest push of a listing Temu now shows less than
    pushed, no further back than ORDER_LOOKBACK; None when no listing shows less (no read)."""
    pushed = [listing.last_pushed_at for listing in listings
              if listing.connection is not None and listing.status is not ListingStatus.ENDED
              and listing.last_pushed is not None and listing.last_pushed_at is not None
              and temu_stock.get(listing.temu_sku_id, listing.last_pushed) < listing.last_pushed]
    if not pushed:
        return None
    return max(min(pushed) - ORDER_TIME_MARGIN, now - ORDER_LOOKBACK)


def read_temu_sales(context: JobContext[QuantitySyncTemu, object], since: datetime, now: datetime) -> TemuSales | None:
    """Every Temu order line placed since `since`, any status (a cancelled order took its units
    when placed). None when the read fails: lowered quantities then go unjudged, the sync goes on."""
    sales: list[TemuSale] = []
    seen: set[str] = set()  # a page shift may show an order twice
    try:
        for order in context.temu.iter_orders(create_after=int(since.timestamp()),
                                              create_before=int(now.timestamp()) + TEMU_CLOCK_SKEW_SECONDS):
            context.count("temu_orders_read")
            placed = order.parent_order_map.parent_order_time
            for item in order.order_list:
                if item.sku_id is None or item.order_sn in seen:
                    continue
                seen.add(item.order_sn)
                at = item.order_create_time or placed
                sales.append(TemuSale(sku_id=item.sku_id, ordered_at=datetime.fromtimestamp(at, UTC) if at else now,
                                      units=max(item.quantity, item.original_order_quantity or 0)))
    except ExternalApiError as exc:  # the stock read just worked: most likely the order scope is missing
        context.count("temu_orders_unread")
        logger.warning("Temu orders not read: lowered Temu quantities are not judged", extra={"error": str(exc)})
        return None
    return TemuSales(since, tuple(sales))


@dataclass
class Plan:
    pushes: dict[int, list[Push]] = field(default_factory=lambda: defaultdict(list))  # by goods id
    records: list[QuantityRecord] = field(default_factory=list)  # record-only updates


def plan(context: JobContext[object, object], listings: Iterable[Listing], book: StockBook, rules: CountingRules, *,
         temu_stock: dict[int, int] | None, now: datetime, temu_sales: TemuSales | None = None) -> Plan:
    """What to push and what to record, for every listing of the connection. `temu_sales`: the Temu
    orders that may explain a Temu quantity below the one pushed (None: such a listing is not judged)."""
    result = Plan()
    for listing in listings:
        if listing.connection is None:
            context.count("not_connected")
            continue
        if listing.status is ListingStatus.ENDED:
            context.count("ended")
            continue
        context.count("connected_active")
        quantity = listing_quantity(listing.connection, book, rules).quantity
        temu_value = temu_stock.get(listing.temu_sku_id) if temu_stock is not None else None
        overwritten = None
        overwrite = None
        differs = False
        if temu_stock is not None and listing.last_pushed is not None and temu_value is not None:
            differs = temu_value != listing.last_pushed
            overwritten, overwrite = _judge(context, listing, listing.last_pushed, temu_value,
                                           temu_sales=temu_sales, now=now)
            if differs:
                context.count("temu_differs")
        if needs_push(quantity, listing.last_pushed, listing.last_error, differs):
            result.pushes[listing.temu_goods_id].append(Push(listing, quantity, temu_value, overwritten, overwrite))
        elif (quantity != listing.last_calculated or (temu_value is not None and temu_value != listing.temu_quantity)
              or (overwritten is not None and overwritten != listing.overwritten_on_temu)):
            result.records.append(QuantityRecord(listing.temu_sku_id, quantity, now, temu_quantity=temu_value,
                                                 overwritten_on_temu=overwritten, overwrite=overwrite))
    return result


def _judge(context: JobContext[object, object], listing: Listing, last_pushed: int, temu_value: int, *,
           temu_sales: TemuSales | None, now: datetime) -> tuple[bool | None, TemuOverwrite | None]:
    """Whether Temu's `temu_value` overwrote the quantity last pushed (None: not judged), and how."""
    ordered = (temu_sales.ordered_since(listing.temu_sku_id, listing.last_pushed_at)
               if temu_sales is not None and temu_value < last_pushed else None)
    reading = judge_temu_quantity(temu_value, last_pushed, ordered)
    overwritten = reading.overwritten
    overwrite = None
    if overwritten:
        context.count("overwritten_on_temu")
        context.count(f"overwritten_on_temu_{reading.value}")  # _up / _down
        overwrite = TemuOverwrite(direction="up" if reading is TemuReading.RAISED else "down",
                                  temu_quantity=temu_value, last_pushed=last_pushed,
                                  ordered_since_push=ordered, seen_at=now)
    elif reading is TemuReading.SOLD:
        context.count("temu_sold_since_push")
    elif reading is TemuReading.UNJUDGED:
        context.count("temu_lower_unjudged")
    return overwritten, overwrite


class Pusher:
    """Sends one stock edit per goods and records every SKU's outcome."""

    def __init__(self, context: JobContext[QuantitySyncTemu, object], listings: ListingRepository,
                 now: datetime) -> None:
        self.context = context
        self.listings = listings
        self.now = now
        self.connection_id = context.connection.connection_id
        self.consecutive_failures = 0
        self._lock = threading.Lock()

    def push_goods(self, goods_id: int, pushes: list[Push]) -> None:
        if self.consecutive_failures >= MAX_CONSECUTIVE_PUSH_FAILURES:
            return  # Temu is failing: leave the rest for the next run (last_pushed unchanged)
        if self.context.seconds_left() < PUSH_TIME_RESERVE:
            self.context.count("deferred", len(pushes))  # still differs from last_pushed: the next run sends it
            return
        try:
            result = self.context.temu.edit_stock(goods_id, [(p.listing.temu_sku_id, p.quantity) for p in pushes])
        except ExternalApiError as exc:
            if exc.error_class is ErrorClass.REAUTHORIZE:
                raise
            with self._lock:
                self.consecutive_failures = self.consecutive_failures + 1 if exc.retryable else 0
            self.context.count("push_failed", len(pushes))
            metrics.add_metric(name="QuantityPushFailed", unit=MetricUnit.Count, value=len(pushes))
            for push in pushes:
                self._record(push, error=f"Temu rejected the stock update: {exc}")
            return
        with self._lock:
            self.consecutive_failures = 0
        self.context.count("goods_written")
        failed = {status.sku_id: status for status in result.failed}
        succeeded = set(result.succeeded_sku_ids)
        for push in pushes:
            sku_id = push.listing.temu_sku_id
            if sku_id in succeeded:
                self.context.count("pushed")
                self._record(push, pushed=True)
            else:
                status = failed.get(sku_id)
                reason = (f"{status.error_msg or 'failed'} (code {status.error_code})" if status
                          else "Temu did not report this SKU")
                self.context.count("push_failed")
                self._record(push, error=f"Temu rejected the stock update: {reason}")

    def _record(self, push: Push, *, pushed: bool = False, error: str | None = None) -> None:
        overwritten = push.overwritten
        if pushed and overwritten is None and push.listing.overwritten_on_temu:
            overwritten = True  # keep the flag until a re-read shows Temu holding our value
        overwrite = push.overwrite
        if overwrite is not None and pushed:
            overwrite = overwrite.model_copy(update={"repushed": push.quantity})
        self.listings.record_quantity(self.connection_id, QuantityRecord(
            push.listing.temu_sku_id, push.quantity, self.now, pushed=pushed, error=error,
            temu_quantity=push.temu_quantity, overwritten_on_temu=overwritten, overwrite=overwrite))


def _read_temu(context: JobContext[QuantitySyncTemu, object], stored: list[Listing],
               now: datetime) -> tuple[dict[int, int], TemuSales | None]:
    """Temu's quantities, and the Temu orders since the oldest push Temu now shows less than (if any)."""
    temu_stock = {sku_id: sku.stock for sku_id, sku in read_temu_skus(context).items() if sku.stock is not None}
    context.count("temu_stock_read", len(temu_stock))
    since = lowered_since(stored, temu_stock, now)
    if since is None:
        return temu_stock, None
    # some Temu quantity is below what we pushed: did orders take it?
    return temu_stock, read_temu_sales(context, since, now)


def _record_dry_run(context: JobContext[object, object], listings: ListingRepository, work: Plan,
                    now: datetime) -> None:
    """A dry run pushes nothing: it records what it would push, once."""
    to_push = sum(len(p) for p in work.pushes.values())
    context.count("would_push", to_push)
    for pushes in work.pushes.values():
        for push in pushes:
            if push.quantity != push.listing.last_calculated:  # record what would be pushed, once
                listings.record_quantity(context.connection.connection_id,
                                         QuantityRecord(push.listing.temu_sku_id, push.quantity, now))
    logger.info("dry run: nothing pushed", extra={"would_push": to_push})


def _push(context: JobContext[QuantitySyncTemu, object], listings: ListingRepository, work: Plan,
          now: datetime) -> None:
    """One stock edit per goods, `temu_push_workers` at a time; Temu failing again and again stops the run."""
    pusher = Pusher(context, listings, now)
    with ThreadPoolExecutor(max_workers=context.settings.temu_push_workers) as pool:
        for future in [pool.submit(pusher.push_goods, goods_id, pushes) for goods_id, pushes in work.pushes.items()]:
            future.result()
    if pusher.consecutive_failures >= MAX_CONSECUTIVE_PUSH_FAILURES:
        raise ExternalApiError("Temu kept failing stock updates; the rest is retried next run",
                               error_class=ErrorClass.RETRYABLE, operation="bg.local.goods.stock.edit")


def run(context: JobContext[QuantitySyncTemu, QuantitySyncWholeCell], mirror_store: InventoryMirror | None = None,
        listings: ListingRepository | None = None) -> None:
    mirror_store = mirror_store or InventoryMirror()
    listings = listings or ListingRepository()
    settings = context.connection.settings
    connection_id = context.connection.connection_id
    now = context.clock.now()
    dry_run = settings.dry_run or not settings.inventory_sync_enabled

    # The stored mirror and listings load while WholeCell's paced reads run: the reads need only the state.
    with ThreadPoolExecutor(max_workers=1) as loader:
        stored_mirror = loader.submit(mirror_store.load, connection_id)
        stored_listings = loader.submit(lambda: list(listings.iter_all(connection_id)))
        read = MirrorReader(context, mirror_store.load_state(connection_id), stored_mirror.result,
                            now).read()  # raises on any failed or incomplete read
    if read.rebuild_reason:
        logger.info("inventory mirror rebuilt", extra={"reason": read.rebuild_reason})
    mirror_store.apply(connection_id, read.changes, now)
    state = mirror_store.save_state(connection_id, read.state)
    context.count("mirror_writes", len(read.changes))

    rules = CountingRules.from_settings(settings, state.open_statuses)
    book = StockBook.build(read.units.values(), read.orders.values(), rules)
    temu_stock = None
    reassert_due = (context.run.trigger == "manual" or state.reasserted_at is None  # "sync now" checks Temu too
                    or now - state.reasserted_at >= timedelta(minutes=context.settings.quantity_reassert_minutes))
    temu_sales = None
    if reassert_due and not dry_run:
        temu_stock, temu_sales = _read_temu(context, stored_listings.result(), now)
    work = plan(context, stored_listings.result(), book, rules, temu_stock=temu_stock, now=now,
                temu_sales=temu_sales)

    for record in work.records:
        listings.record_quantity(connection_id, record)
    if dry_run:
        _record_dry_run(context, listings, work, now)
        return

    _push(context, listings, work, now)
    if context.counts.get("deferred"):
        context.continue_later()
    if temu_stock is not None:
        mirror_store.save_state(connection_id, state.model_copy(update={"reasserted_at": now}))
    metrics.add_metric(name="QuantityPushed", unit=MetricUnit.Count, value=context.counts.get("pushed", 0))
    if context.counts.get("overwritten_on_temu"):  # both directions (the run's counts split them: _up, _down)
        metrics.add_metric(name="ListingOverwrittenOnTemu", unit=MetricUnit.Count,
                           value=context.counts["overwritten_on_temu"])
    logger.info("quantity sync done", extra={"counts": context.counts})
