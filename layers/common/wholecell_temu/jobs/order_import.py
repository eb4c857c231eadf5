"""Order import: every Temu order into WholeCell once, in the mapped status, followed afterwards.

One run for one connection:

1. Poll `bg.order.list.v2.get` by update time from the watermark minus an overlap (the
   first run looks back `initial_lookback_days` and takes only orders still waiting for the
   seller), every page.
2. A new order is claimed in the Orders table, then created in WholeCell (one create; the
   address included when Temu already releases it), then recorded. A claim left by a crash
   is taken over only after looking the order up in WholeCell by its external reference,
   so a retry never creates a second order.
3. A known order follows Temu: a changed status is mapped and patched, cancelled quantities
   rewrite the items, a confirmed address change is pulled again by the backfill. The
   follow-up holds the order's claim from its PATCH to its record, and a Temu view older
   than the record's is ignored, so overlapping runs cannot leave WholeCell behind.
4. Orders skipped earlier (status unmapped, waiting for confirmation) are imported once the
   settings allow it; Unknown SKU lines are fixed once their listing is connected.
5. The watermark moves forward to the greatest `updateTime` the poll saw (never "now"), held
   back before any order that failed so the next run sees it again. A run while order import
   is switched off records why it imported nothing and leaves the watermark where it was.

Only history outside the first run's window is excluded for good; an order skipped for a
reason that can change (switch off, status not mapped, not confirmed yet) stays on the work
list and is imported when the reason goes away.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cached_property

from aws_lambda_powertools.metrics import MetricUnit

from wholecell_temu.domain.listings import ListingConnection
from wholecell_temu.domain.orders import (
    ADDRESS_CHANGED,
    OVERLAP_SECONDS,
    LineRecord,
    behind,
    kept_sku,
    lines_changed,
    mapped_status,
    price_cents,
    resolve_line,
    skip_reason,
    to_wholecell_address,
    wholecell_items,
)
from wholecell_temu.domain.quantities import CountingRules, MirrorOrder, MirrorOrderItem, StockBook
from wholecell_temu.domain.settings import ConnectionSettings
from wholecell_temu.domain.watermarks import advanced_watermark
from wholecell_temu.errors import ErrorClass, ExternalApiError
from wholecell_temu.jobs.framework import JobContext
from wholecell_temu.jobs.ports import AddressTemu, OrderImportTemu, OrderImportWholeCell
from wholecell_temu.jobs.shipstation_setup import check_shipstation_setup
from wholecell_temu.observability import logger, metrics
from wholecell_temu.store.inventory import InventoryMirror, Mirror
from wholecell_temu.store.listings import Listing, ListingRepository
from wholecell_temu.store.orders import ClaimHeld, OrderRecord, OrderRepository
from wholecell_temu.store.states import AddressState, ImportState
from wholecell_temu.temu.client import PARENT_ORDER_SN_LIST_MAX
from wholecell_temu.temu.codes import ADDRESS_RELEASED, CLOSED
from wholecell_temu.temu.models import Order, OrderItem
from wholecell_temu.wholecell import (
    Customer,
    SalesOrder,
    SalesOrderCreate,
    SalesOrderPatch,
    ShippingAddress,
    WholeCellApiError,
)

CLOCK_SKEW_SECONDS = 300
LOOKUP_MARGIN = timedelta(minutes=10)  # look an order up among WholeCell orders changed since claim - margin
AMOUNT_SCOPE = "bg.order.amount.query"
SN_FILTER_MAX = PARENT_ORDER_SN_LIST_MAX
ORDER_WORKERS = 4  # orders processed at once; WholeCell's shared limiter still paces every call


class ChannelMissing(ExternalApiError):
    """ShipStation sync needs the sales channel to exist in WholeCell with exactly this name."""


def read_address(context: JobContext[AddressTemu, object], parent_order_sn: str,
                 region_id: int | None) -> ShippingAddress:
    """The ship-to, decrypted when the plain call masks it. Never logged."""
    address = context.temu.shipping_info(parent_order_sn)
    if address.is_masked:
        address = context.temu.decrypted_shipping_info(parent_order_sn)
        context.count("addresses_decrypted")
    return to_wholecell_address(address, region_id)


@dataclass
class Outcome:
    parent_order_sn: str
    update_time: int
    failed: str | None = None
    unfinished: bool = False  # another run holds it: keep the watermark before it, without failing


@dataclass(frozen=True)
class FollowUp:
    """What one follow-up changes: the WholeCell PATCH and the record fields written after it."""

    patch: SalesOrderPatch
    lines: list[LineRecord]
    address_state: AddressState | None
    address_reason: str | None


@dataclass
class OrderImporter:
    context: JobContext[OrderImportTemu, OrderImportWholeCell]
    orders: OrderRepository
    listings: ListingRepository
    mirror: InventoryMirror
    first_run: bool = False
    explicit: bool = False  # a re-import asked for by hand: even excluded history is imported
    handled: set[str] = field(default_factory=set)
    stock_lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    _available: dict[str, int] | None = field(default=None, init=False, repr=False)

    @property
    def settings(self) -> ConnectionSettings:
        return self.context.connection.settings

    @property
    def connection_id(self) -> str:
        return self.context.connection.connection_id

    @cached_property
    def listings_by_sku(self) -> dict[int, Listing]:
        return {listing.temu_sku_id: listing for listing in self.listings.iter_all(self.connection_id)}

    @cached_property
    def stored_mirror(self) -> Mirror:
        return self.mirror.load(self.connection_id)

    @cached_property
    def sku_of_variation(self) -> dict[int, str]:
        units = self.stored_mirror.units.values()
        return {unit.variation_id: unit.sku for unit in units if unit.variation_id is not None and unit.sku}

    def available_by_sku(self) -> dict[str, int]:
        """Available - outstanding of each SKU a listing with several SKUs draws on, counted as the
        quantity sync counts it (the settings' inventory statuses and warehouses, the outstanding
        statuses), from the inventory mirror: read once per run, when a line first needs it.
        Empty (availability unknown) before the mirror's first build. Call with `stock_lock` held."""
        if self._available is None:
            mirror, available = self.stored_mirror, {}
            if mirror.state.rebuilt_at is not None:
                book = StockBook.build(mirror.units.values(), mirror.orders.values(),
                                       CountingRules.from_settings(self.settings, mirror.state.open_statuses))
                pooled = {link.sku for listing in self.listings_by_sku.values() if listing.connection is not None
                          and len(listing.connection.skus) > 1 for link in listing.connection.skus}
                for sku in pooled:
                    units, outstanding, _ = book.for_sku(sku)
                    available[sku] = units - outstanding
            self._available = available
        return self._available

    def resolve_among_skus(self, item: OrderItem, connection: ListingConnection, price: int | None,
                           recorded: LineRecord | None) -> LineRecord:
        """A line of a listing connected to several SKUs: the SKU with the most available (or the
        one the line was imported with). The units a new choice takes are taken off this run's
        figures, so the run's later orders see them gone, as the next run's mirror will."""
        with self.stock_lock:
            available = self.available_by_sku()
            line = resolve_line(item, connection, True, None, price, available=available, recorded=recorded)
            if kept_sku(connection.skus, recorded) is None and line.sku in available:
                available[line.sku] -= line.wholecell_quantity
        return line

    # --- lines ------------------------------------------------------------------------------
    def resolve(self, order: Order, prices: dict[str, int] | None = None,
                recorded: Iterable[LineRecord] = ()) -> list[LineRecord]:
        """The order's lines; `recorded` (the lines as imported) keeps each line's SKU choice."""
        before = {line.order_sn: line for line in recorded}
        lines = []
        for item in order.order_list:
            listing = self.listings_by_sku.get(item.sku_id or 0)
            connection = listing.connection if listing else None
            variations = self.sku_of_variation if connection and connection.product_variations else None
            price = (prices or {}).get(item.order_sn)
            if connection is not None and len(connection.skus) > 1:
                lines.append(self.resolve_among_skus(item, connection, price, before.get(item.order_sn)))
            else:
                lines.append(resolve_line(item, connection, listing is not None, variations, price))
        for line in lines:
            if line.resolution == "unknown" and line.sku_id in self.listings_by_sku:
                self.listings.flag_needs_mapping(self.connection_id, line.sku_id)
        return lines

    def prices(self, order: Order) -> dict[str, int]:
        if AMOUNT_SCOPE not in self.context.connection.scopes:
            return {}
        amount = self.context.temu.order_amount(order.parent_order_sn)
        prices = {}
        for line in amount.order_list:
            cents = price_cents(line.unit_retail_price)
            if cents is not None:
                prices[line.order_sn] = cents
            elif line.unit_retail_price is not None:
                self.context.count("prices_in_unknown_currency")
        return prices

    def address(self, order: Order) -> ShippingAddress:
        return read_address(self.context, order.parent_order_sn, order.parent_order_map.region_id)

    def current_view(self, parent_order_sn: str) -> Order:
        """One order as Temu shows it now, for a re-import or a revisit: the list call filtered
        to it, which carries `updateTime` (the detail call has none, so its view cannot be
        ordered against the record); the detail only when the list does not return the order."""
        page = self.context.temu.order_page(1, SN_FILTER_MAX, parent_order_sn_list=[parent_order_sn])
        listed = next((o for o in page.page_items if o.parent_order_sn == parent_order_sn), None)
        if listed is not None:
            return listed
        self.context.count("read_by_detail")
        return self.context.temu.order_detail(parent_order_sn)

    # --- one order --------------------------------------------------------------------------
    def reconcile(self, order: Order) -> Outcome:
        sn = order.parent_order_sn
        parent = order.parent_order_map
        outcome = Outcome(sn, parent.update_time or 0)
        self.handled.add(sn)
        try:
            record = self.orders.get(self.connection_id, sn)
            if record is not None and record.import_state == ImportState.IMPORTED:
                self.follow_up(order, record)
            elif record is not None and record.import_state == ImportState.EXCLUDED and not self.explicit:
                self.context.count("excluded")
            else:
                skip = skip_reason(parent.parent_order_status, self.settings, self.first_run)
                if skip is None:
                    self.create(order)
                else:
                    self.context.count("excluded" if skip.final else "skipped")
                    # history the first import leaves alone stays excluded; anything else waits for its chance
                    self.orders.record_skip(self.connection_id, sn, skip.reason, parent.parent_order_status,
                                            parent.update_time, excluded=skip.final)
        except ClaimHeld:
            self.context.count("claimed_by_another_run")
            outcome.unfinished = True
        except ExternalApiError as exc:
            if exc.error_class is ErrorClass.REAUTHORIZE or isinstance(exc, ChannelMissing):
                raise
            self.context.count("failed")
            logger.warning("order not reconciled", extra={"parent_order_sn": sn, "error": str(exc)})
            outcome.failed = str(exc)
        return outcome

    def create(self, order: Order) -> None:
        sn = order.parent_order_sn
        parent = order.parent_order_map
        owner = self.context.run.run_id
        previous = self.orders.claim(self.connection_id, sn, owner, self.context.settings.order_claim_seconds,
                                     self.context.clock.now())
        try:
            status = mapped_status(parent.parent_order_status, self.settings) or ""
            lines = self.resolve(order, self.prices(order))
            address_state: AddressState = AddressState.AWAITING
            address_reason: str | None = None
            address = None
            if parent.parent_order_status in ADDRESS_RELEASED:
                address, address_state = self.address(order), AddressState.FILLED
            elif parent.parent_order_status in CLOSED:
                address_state = AddressState.UNAVAILABLE
                address_reason = f"imported in Temu status {parent.parent_order_status}"
            existing = None
            if previous is not None and previous.claimed_at is not None:  # a crash may have created it already
                existing = self.find(sn, previous.claimed_at)
                self.context.count("verified_after_crash")
            body = SalesOrderCreate(external_reference=sn, channel=self.settings.sales_channel, status=status,
                                    customer=Customer(name="Temu"), shipping_address=address,
                                    order_items=wholecell_items(lines))
            if existing is None:
                existing = self.create_once(body, claimed_at=self.context.clock.now())
            else:
                existing = self.bring_up_to_date(existing, body)
            created = existing
        except Exception:
            self.orders.expire_claim(self.connection_id, sn, owner)  # the next run takes over, looking it up first
            raise
        record = OrderRecord(
            connection_id=self.connection_id, parent_order_sn=sn, import_state=ImportState.IMPORTED,
            wholecell_order_id=created.id, temu_status=parent.parent_order_status, temu_update_time=parent.update_time,
            wholecell_status=status, lines=lines, address_state=address_state, address_reason=address_reason,
            region_id=parent.region_id)
        self.orders.record_import(record, owner)
        self.count_lines(lines)
        self.context.count("imported")
        metrics.add_metric(name="OrdersImported", unit=MetricUnit.Count, value=1)
        if address is not None:
            self.context.count("addresses_filled")
        if self.settings.inventory_sync_enabled:  # outstanding counts it before WholeCell's next delta read
            self.mirror.record_order(self.connection_id, MirrorOrder(
                created.id, status, tuple(MirrorOrderItem(line.sku, line.variation_id, line.wholecell_quantity)
                                          for line in lines),
                created.order_number, created.channel, sn), created.updated_at)

    def create_once(self, body: SalesOrderCreate, claimed_at: datetime) -> SalesOrder:
        """Create; if the outcome is unknown, look the order up before trying once more."""
        for attempt in range(2):
            try:
                return self.context.wholecell.create_sales_order(body)
            except WholeCellApiError as exc:
                if exc.error_class is not ErrorClass.VERIFY_BEFORE_RETRY or attempt == 1:
                    raise
                found = self.find(body.external_reference, claimed_at)
                if found is not None:
                    self.context.count("verified_after_timeout")
                    return self.bring_up_to_date(found, body)
        raise AssertionError("unreachable")

    def bring_up_to_date(self, found: SalesOrder, body: SalesOrderCreate) -> SalesOrder:
        """An order an earlier attempt created (its outcome was lost) may predate what Temu shows
        now: patch its status, items and address to what this attempt would have created."""
        patch = SalesOrderPatch()
        if found.status != body.status:
            patch.status = body.status
        wanted = [(i.sku, i.quantity, i.product_variation_id) for i in body.order_items]
        if [(i.sku, i.quantity, i.product_variation_id) for i in found.order_items] != wanted:
            patch.order_items = body.order_items
        if body.shipping_address is not None and (found.shipping_address is None or found.shipping_address.is_empty):
            patch.shipping_address = body.shipping_address
        if not patch.model_fields_set:
            return found
        self.context.count("brought_up_to_date")
        return self.context.wholecell.update_sales_order(found.id, patch)

    def find(self, parent_order_sn: str, since: datetime) -> SalesOrder | None:
        return self.context.wholecell.find_sales_order_by_reference(
            parent_order_sn, channel=self.settings.sales_channel, updated_since=since - LOOKUP_MARGIN)

    def follow_up(self, order: Order, record: OrderRecord) -> None:
        """Bring an imported order up to Temu's view. Decided first on the record read without a
        claim (most orders seen again have nothing new); when something changes, the order's
        claim is taken and the plan made again on the record as of the claim, so the WholeCell
        PATCH and the record that follows it never interleave with another run's, and a Temu
        view older than what the record holds is never applied.

        A detail view (no `updateTime`: only the list call has one) cannot be ordered against
        the record, so it is read again once the claim is held and applied as the newest view:
        nothing recorded before the claim can be newer than a read made after it."""
        if self.stale(order, record):
            return
        # the prices are the ones recorded at creation; they never change, so lines resolve once
        prices = {line.order_sn: line.unit_price_cents for line in record.lines if line.unit_price_cents is not None}
        lines = self.resolve(order, prices, record.lines)
        if self.follow_up_plan(order, record, lines) is None:
            return
        owner = self.context.run.run_id
        recorded_lines = record.lines
        record = self.orders.claim_follow_up(self.connection_id, record.parent_order_sn, owner,
                                             self.context.settings.order_claim_seconds)
        try:
            read_again = order.parent_order_map.update_time is None
            if read_again:
                order = self.context.temu.order_detail(record.parent_order_sn)
            if read_again or record.lines != recorded_lines:  # another run may have chosen a SKU since
                lines = self.resolve(order, prices, record.lines)
            plan = None if self.stale(order, record) else self.follow_up_plan(order, record, lines)
            if plan is None:
                self.orders.release_follow_up(self.connection_id, record.parent_order_sn, owner)
                return
            self.apply_follow_up(order, record, plan, owner)
        except Exception:
            self.orders.release_follow_up(self.connection_id, record.parent_order_sn, owner)
            raise

    def stale(self, order: Order, record: OrderRecord) -> bool:
        """An older view than the record's: an earlier `updateTime`, or an earlier stage of the
        order's life (which also orders a list view against a detail applied before it)."""
        parent = order.parent_order_map
        if (parent.update_time is not None and parent.update_time < (record.temu_update_time or 0)) \
                or behind(parent.parent_order_status, record.temu_status):
            self.context.count("older_temu_view_ignored")
            return True
        return False

    def follow_up_plan(self, order: Order, record: OrderRecord, lines: list[LineRecord]) -> FollowUp | None:
        """What a follow-up would change, or None when the record already holds this view."""
        parent = order.parent_order_map
        status_code = parent.parent_order_status
        patch = SalesOrderPatch()
        new_status = mapped_status(status_code, self.settings)
        if new_status is not None and new_status != record.wholecell_status:
            patch.status = new_status
        if lines_changed(record.lines, lines):
            patch.order_items = wholecell_items(lines)
        address_state, address_reason = record.address_state, record.address_reason
        if ADDRESS_CHANGED in parent.fulfillment_warning and record.address_state == AddressState.FILLED \
                and parent.update_time is not None and parent.update_time != record.temu_update_time:
            address_state = AddressState.AWAITING  # the backfill pulls the changed address again
        if address_state == AddressState.AWAITING and status_code in CLOSED:
            address_state = AddressState.UNAVAILABLE
            address_reason = f"Temu status {status_code} before an address was read"
        plan = FollowUp(patch, lines, address_state, address_reason)
        if patch.model_fields_set or status_code != record.temu_status or address_state != record.address_state \
                or (parent.update_time is not None and parent.update_time != record.temu_update_time):
            return plan
        return None

    def apply_follow_up(self, order: Order, record: OrderRecord, plan: FollowUp, owner: str) -> None:
        parent = order.parent_order_map
        patch, lines = plan.patch, plan.lines
        fields = patch.model_fields_set
        if fields:
            self.context.wholecell.update_sales_order(record.wholecell_order_id or 0, patch)
            self.context.count("updated")
            if "status" in fields:
                self.context.count("status_changes")
        if "status" not in fields and parent.parent_order_status != record.temu_status \
                and mapped_status(parent.parent_order_status, self.settings) is None:
            self.context.count("status_unmapped")
        if "order_items" in fields and any(line.temu_quantity < old.temu_quantity
                                           for line, old in zip(lines, record.lines, strict=False)):
            self.context.count("cancellations")
        address_changed = plan.address_state != record.address_state
        if address_changed and plan.address_state == AddressState.AWAITING:
            self.context.count("address_changes")
        self.orders.update_imported(record.model_copy(update={
            "wholecell_status": patch.status or record.wholecell_status, "lines": lines,
            "temu_status": parent.parent_order_status,
            "temu_update_time": record.temu_update_time if parent.update_time is None else parent.update_time,
            "address_state": plan.address_state, "address_reason": plan.address_reason}), owner,
            address_changed=address_changed)
        fixed = len(record.unknown_sku_lines) - sum(1 for line in lines if line.resolution == "unknown")
        if fixed > 0:
            self.context.count("unknown_sku_fixed", fixed)

    def count_lines(self, lines: Iterable[LineRecord]) -> None:
        unknown = sum(1 for line in lines if line.resolution == "unknown")
        if unknown:
            self.context.count("unknown_sku_lines", unknown)
            metrics.add_metric(name="UnknownSkuLines", unit=MetricUnit.Count, value=unknown)

    # --- work lists -----------------------------------------------------------------------
    def revisit_unresolved(self) -> list[Outcome]:
        """Skipped orders the settings now allow, and Unknown SKU lines whose listing is now
        connected (read again from Temu only when there is something to do)."""
        outcomes = []
        for sn in self.orders.iter_unresolved(self.connection_id):
            if sn in self.handled:
                continue
            record = self.orders.get(self.connection_id, sn)
            if record is None:
                continue
            if record.import_state == ImportState.SKIPPED:
                if skip_reason(record.temu_status or 0, self.settings, False) is not None:
                    continue
            elif not any(self.listings_by_sku.get(line.sku_id or 0) is not None
                         and self.listings_by_sku[line.sku_id or 0].connection is not None
                         for line in record.unknown_sku_lines):
                continue
            outcomes.append(self.reconcile(self.current_view(sn)))
        return outcomes


def run(context: JobContext[OrderImportTemu, OrderImportWholeCell], orders: OrderRepository | None = None,
        listings: ListingRepository | None = None, mirror: InventoryMirror | None = None,
        parent_order_sn: str | None = None) -> None:
    orders = orders or OrderRepository(context.clock)
    settings = context.connection.settings
    connection_id = context.connection.connection_id
    # ShipStation set-up, as the account is now: a status problem is recorded on the run and orders are
    # still imported (into WholeCell they must come; only the export is wrong). A channel problem stops
    # the run, as before: orders under a channel WholeCell lacks miss the export and the look-up by
    # channel that keeps a retried create from making a second order
    channel = next((p for p in check_shipstation_setup(context) if p.field == "sales_channel"), None)
    if channel is not None:
        raise ChannelMissing(channel.message, error_class=ErrorClass.FIX_REQUEST, operation="sales_channels")
    watermark = orders.watermark(connection_id)
    parent_order_sn = parent_order_sn or context.target
    importer = OrderImporter(context, orders, listings or ListingRepository(), mirror or InventoryMirror(),
                             first_run=watermark is None and parent_order_sn is None,
                             explicit=parent_order_sn is not None)
    if parent_order_sn is not None:  # re-import of one order (admin)
        _reimport(importer, parent_order_sn)
        return

    now = int(context.clock.time())
    start = now - settings.initial_lookback_days * 86400 if watermark is None else watermark - OVERLAP_SECONDS
    # the window's end allows for Temu's clock running ahead of ours (the watermark is Temu's time)
    pages = context.temu.iter_orders(update_at_start=start, update_at_end=now + CLOCK_SKEW_SECONDS)
    with ThreadPoolExecutor(max_workers=ORDER_WORKERS) as pool:
        polled = list(pool.map(importer.reconcile, pages))
    revisited = importer.revisit_unresolved()
    outcomes = polled + revisited
    context.count("orders_seen", len(outcomes))

    failed = [o for o in outcomes if o.failed]
    _move_watermark(context, orders, watermark, start, polled)
    if failed:
        raise ExternalApiError(f"{len(failed)} order(s) not imported, first {failed[0].parent_order_sn}: "
                               f"{failed[0].failed}", error_class=ErrorClass.RETRYABLE, operation="order_import")
    logger.info("order import done", extra={"counts": context.counts})


def _reimport(importer: OrderImporter, parent_order_sn: str) -> None:
    """One order again (admin): a failure or another run holding the order → retried."""
    outcome = importer.reconcile(importer.current_view(parent_order_sn))
    if outcome.failed:
        raise ExternalApiError(outcome.failed, error_class=ErrorClass.RETRYABLE, operation="reimport")
    if outcome.unfinished:  # delivered again, once the other run has let the order go
        raise ExternalApiError(f"another run is updating order {parent_order_sn} right now",
                               error_class=ErrorClass.RETRYABLE, operation="reimport")


def _move_watermark(context: JobContext[OrderImportTemu, OrderImportWholeCell], orders: OrderRepository,
                    watermark: int | None, start: int, polled: list[Outcome]) -> None:
    """Only the poll moves the watermark: a revisit reads its order later than the poll read the
    window, and its work list (not the watermark) brings a failed one back next run."""
    held = [o for o in polled if o.failed or o.unfinished]  # held back before: seen again next run
    newest = advanced_watermark(watermark, max((o.update_time for o in polled if o not in held), default=None),
                                min((o.update_time for o in held), default=None), lambda seconds: seconds - 1)
    if not context.connection.settings.order_import_enabled:
        # a run by hand while the switch is off imports nothing: it records why, and leaves the
        # watermark (and so the first import's window) to the first run that imports
        context.count("watermark_kept_while_off")
    elif newest:
        orders.advance_watermark(context.connection.connection_id, newest)
    elif watermark is None:
        # first run with nothing found: later runs are not first
        orders.advance_watermark(context.connection.connection_id, start)
