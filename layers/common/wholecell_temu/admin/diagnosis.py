""""Why is this listing not updating?": the seller's checklist, answered from recorded state.

Nothing here calls Temu or WholeCell. The answer comes from the listing as stored, the
connection's settings, the inventory mirror the last quantity sync left and the run log;
each check is `ok` or a problem with a hint.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from wholecell_temu.admin.service import ConnectionService
from wholecell_temu.domain.connection import Connection
from wholecell_temu.domain.listings import ListingStatus
from wholecell_temu.domain.quantities import (
    CountingRules,
    ListingQuantity,
    StockBook,
    closed_statuses_counted,
    listing_quantity,
)
from wholecell_temu.store.inventory import InventoryMirror, Mirror
from wholecell_temu.store.listings import Listing, ListingRepository
from wholecell_temu.store.runs import Outcome, Run

JOB = "quantity_sync"


class Check(BaseModel):
    check: str
    status: Literal["ok", "problem", "warning"]
    detail: str
    hint: str | None = None


class UnitGroup(BaseModel):
    status: str
    warehouse: str | None
    committed: bool
    units: int
    counted: bool
    reason: str | None = None


class OutstandingOrder(BaseModel):
    order_id: int
    order_number: str | None
    status: str
    channel: str | None
    external_reference: str | None
    quantity: int


class LinkDiagnosis(BaseModel):
    kind: Literal["sku", "product_variation"]
    ref: str
    factor: int
    available: int
    outstanding: int
    calculated: int
    contributes: int
    units: list[UnitGroup]
    outstanding_orders: list[OutstandingOrder]


class MirrorView(BaseModel):
    rebuilt_at: datetime | None
    units_watermark: datetime | None
    orders_watermark: datetime | None
    temu_stock_checked_at: datetime | None
    last_run_outcome: str | None
    last_run_at: datetime | None
    last_run_reason: str | None


class Diagnosis(BaseModel):
    temu_sku_id: int
    checks: list[Check]
    links: list[LinkDiagnosis]
    buffer: int
    cap: int | None
    calculated_from_mirror: int | None
    last_calculated: int | None
    last_pushed: int | None
    last_pushed_at: datetime | None
    temu_quantity: int | None
    temu_quantity_seen_at: datetime | None
    last_error: str | None
    overwritten_on_temu: bool
    mirror: MirrorView


def _ok(check: str, detail: str) -> Check:
    return Check(check=check, status="ok", detail=detail)


def _problem(check: str, detail: str, hint: str) -> Check:
    return Check(check=check, status="problem", detail=detail, hint=hint)


def _links(listing: Listing, mirror: Mirror, rules: CountingRules, book: StockBook,
           quantity: ListingQuantity) -> list[LinkDiagnosis]:
    result = []
    for link in quantity.links:
        if link.kind == "sku":
            units = [u for u in mirror.units.values() if u.sku == link.ref]
        else:
            units = [u for u in mirror.units.values() if u.variation_id == int(link.ref)]
        groups: Counter[tuple[str, str | None, bool]] = Counter(
            (u.status, u.warehouse, u.order_id is not None) for u in units)
        unit_groups = []
        for (status, warehouse, committed), count in sorted(groups.items(), key=lambda g: (g[0][0], g[0][1] or "")):
            sample = next(u for u in units if (u.status, u.warehouse, u.order_id is not None)
                          == (status, warehouse, committed))
            reason = rules.why_not_counted(sample)
            if committed:
                reason = "committed to a sales order"
            unit_groups.append(UnitGroup(status=status, warehouse=warehouse, committed=committed, units=count,
                                         counted=reason is None, reason=reason))
        orders = [OutstandingOrder(order_id=oid, order_number=mirror.orders[oid].order_number,
                                   status=mirror.orders[oid].status, channel=mirror.orders[oid].channel,
                                   external_reference=mirror.orders[oid].external_reference, quantity=qty)
                  for oid, qty in sorted(link.outstanding_orders.items()) if oid in mirror.orders]
        result.append(LinkDiagnosis(kind="sku" if link.kind == "sku" else "product_variation", ref=link.ref,
                                    factor=link.factor, available=link.available, outstanding=link.outstanding,
                                    calculated=link.calculated, contributes=link.contributes, units=unit_groups,
                                    outstanding_orders=orders))
    return result


def _sync_checks(connection: Connection, listing: Listing, last_run: Run | None) -> list[Check]:
    settings = connection.settings
    checks = []
    if not settings.inventory_sync_enabled:
        checks.append(_problem("inventory_sync", "inventory sync is off for this connection",
                               "turn on inventory_sync_enabled in the settings (with confirm_initial_push)"))
    elif settings.dry_run:
        checks.append(_problem("inventory_sync", "dry run: quantities are calculated and recorded, never pushed",
                               "turn dry_run off in the settings once the calculated quantities look right"))
    else:
        checks.append(_ok("inventory_sync", "inventory sync is on"))
    if last_run is None:
        checks.append(_problem("last_run", "quantity sync has not run yet for this connection",
                               "wait for the next schedule tick or run it now (POST .../jobs/quantity_sync/run)"))
    elif last_run.outcome is Outcome.FAILED:
        checks.append(_problem("last_run", f"the last quantity sync failed: {last_run.reason}",
                               "nothing is pushed from a failed read; see docs/operations.md for the cause"))
    elif last_run.outcome is Outcome.SKIPPED:
        checks.append(_problem("last_run", f"the last quantity sync was skipped: {last_run.reason}",
                               "fix the reason given; the next run picks up from where the last one stopped"))
    else:
        checks.append(_ok("last_run", f"the last quantity sync {last_run.outcome.value}"))
    return checks


def _overwrite_detail(listing: Listing) -> str:
    """What the quantity sync saw on Temu when it flagged the listing, and what it did then."""
    seen = listing.overwrite
    if seen is None:  # flagged before the sync recorded what it saw
        return "Temu showed a quantity other than the one we pushed: something else changes this stock on Temu"
    if seen.direction == "up":
        what = (f"Temu showed {seen.temu_quantity}, more than the {seen.last_pushed} last pushed "
                "(Temu orders only lower it)")
    elif seen.ordered_since_push:
        what = (f"Temu showed {seen.temu_quantity}, less than the {seen.last_pushed} last pushed minus the "
                f"{seen.ordered_since_push} units Temu orders took since")
    else:
        what = (f"Temu showed {seen.temu_quantity}, less than the {seen.last_pushed} last pushed, and no Temu "
                "order took units since")
    what += f" (read {seen.seen_at:%Y-%m-%d %H:%M} UTC): another tool or a person changed it on Temu; "
    if seen.repushed is not None:
        return what + f"the sync re-pushed {seen.repushed}"
    if listing.last_error:
        return what + "pushing our value back failed (see last_push)"
    if listing.last_pushed_at is not None and listing.last_pushed_at > seen.seen_at:
        return what + f"the sync has pushed {listing.last_pushed} since"
    return what + "the sync pushes our value back at its next run"


def _push_checks(listing: Listing, calculated: int | None, dry_run: bool) -> list[Check]:
    checks = []
    if listing.last_error:
        checks.append(_problem("last_push", f"the last push failed: {listing.last_error}",
                               "the next run retries it; a lasting error usually means the SKU cannot be "
                               "edited on Temu (deleted, under review)"))
    elif listing.last_pushed is None:
        checks.append(_problem("last_push", "nothing has been pushed for this listing yet",
                               "it is pushed by the next quantity sync run"
                               + (" once dry run is off" if dry_run else "")))
    elif calculated is not None and listing.last_pushed != calculated:
        checks.append(_problem("last_push", f"Temu was last sent {listing.last_pushed}, the mirror now gives "
                               f"{calculated}", "the next quantity sync run pushes the new value"))
    else:
        checks.append(_ok("last_push", f"Temu was last sent {listing.last_pushed}"))
    if listing.overwritten_on_temu:
        checks.append(_problem("overwritten_on_temu", _overwrite_detail(listing),
                               "disconnect other tools (or WholeCell's native Temu integration) from this shop; "
                               "the integration re-asserts its value every hour"))
    else:
        checks.append(_ok("overwritten_on_temu", "no other writer seen on Temu"))
    return checks


def _mirror_view(mirror: Mirror, last_run: Run | None) -> MirrorView:
    return MirrorView(
        rebuilt_at=mirror.state.rebuilt_at, units_watermark=mirror.state.units_watermark,
        orders_watermark=mirror.state.orders_watermark, temu_stock_checked_at=mirror.state.reasserted_at,
        last_run_outcome=last_run.outcome.value if last_run else None,
        last_run_at=(last_run.ended_at or last_run.started_at) if last_run else None,
        last_run_reason=last_run.reason if last_run else None)


def _units_check(links: list[LinkDiagnosis], rules: CountingRules) -> Check:
    """Does any unit of the connected SKUs count as available, and if not, what would make it count."""
    counted = sum(link.available for link in links)
    if counted:
        return _ok("units", f"{counted} units count as available")
    seen = sum(group.units for link in links for group in link.units)
    return _problem("units", f"no unit counts as available ({seen} seen in other statuses, "
                    "warehouses or committed)",
                    f"units count when their status is one of {sorted(rules.inventory_statuses)}"
                    + (f" and their warehouse one of {sorted(rules.warehouses)}"
                       if rules.warehouses is not None else "") + " and they are not committed")


def diagnose(service: ConnectionService, listings: ListingRepository, mirror_store: InventoryMirror,
             connection_id: str, temu_sku_id: int) -> Diagnosis:
    connection = service.require(connection_id)
    settings = connection.settings
    listing = listings.get(connection_id, temu_sku_id)
    mirror = mirror_store.load(connection_id)
    last_run = service.services.runs.latest(connection_id, JOB)
    mirror_view = _mirror_view(mirror, last_run)
    rules = CountingRules.from_settings(settings, mirror.state.open_statuses)
    if listing is None:
        return Diagnosis(
            temu_sku_id=temu_sku_id, links=[], buffer=rules.buffer, cap=rules.cap, calculated_from_mirror=None,
            last_calculated=None, last_pushed=None, last_pushed_at=None, temu_quantity=None,
            temu_quantity_seen_at=None, last_error=None, overwritten_on_temu=False, mirror=mirror_view,
            checks=[_problem("imported", f"Temu SKU {temu_sku_id} is not among this shop's imported listings",
                             "run the listing import (POST .../listings/import); check the id is a SKU id of "
                             "this connection's shop")])

    checks = [_ok("imported", f"imported from Temu goods {listing.temu_goods_id}")]
    links: list[LinkDiagnosis] = []
    calculated = None
    if listing.connection is None:
        checks.append(_problem("connected", "not connected to anything in WholeCell",
                               "give the Temu SKU a seller SKU equal to a WholeCell SKU (exact, case-sensitive) "
                               "or connect it by hand (PUT .../connection)"))
    else:
        parts = [f"{s.sku} x{s.factor}" for s in listing.connection.skus] + [
            f"variation {v.id} x{v.factor}" for v in listing.connection.product_variations]
        checks.append(_ok("connected", f"connected ({listing.connection.mode}) to {', '.join(parts)}"))
        book = StockBook.build(mirror.units.values(), mirror.orders.values(), rules)
        quantity = listing_quantity(listing.connection, book, rules)
        calculated = quantity.quantity
        links = _links(listing, mirror, rules, book, quantity)
    if listing.status is ListingStatus.ENDED:
        checks.append(_problem("active", "ended on Temu (deleted or taken off sale): never pushed",
                               "put it back on sale on Temu; the next listing import marks it active"))
    else:
        checks.append(_ok("active", "active on Temu"))
    checks += _sync_checks(connection, listing, last_run)
    if listing.connection is not None:
        checks.append(_units_check(links, rules))
        held = sum(link.outstanding for link in links)
        checks.append(_ok("outstanding", f"{held} units held back by open sales orders" if held
                          else "no open sales order holds units back"))
        checks += _push_checks(listing, calculated, settings.dry_run or not settings.inventory_sync_enabled)
    # WholeCell's `open` flags as the last rebuild read them (None: not known, titles are judged)
    checks += [Check(check="outstanding_statuses", status="warning", detail=warning,
                     hint="take shipped and cancelled statuses out of outstanding_order_statuses (or mark them "
                          "not open in WholeCell)")
               for warning in closed_statuses_counted(settings, rules.outstanding_statuses,
                                                      mirror.state.closed_statuses)]
    return Diagnosis(
        temu_sku_id=temu_sku_id, checks=checks, links=links, buffer=rules.buffer, cap=rules.cap,
        calculated_from_mirror=calculated, last_calculated=listing.last_calculated, last_pushed=listing.last_pushed,
        last_pushed_at=listing.last_pushed_at, temu_quantity=listing.temu_quantity,
        temu_quantity_seen_at=listing.temu_quantity_seen_at, last_error=listing.last_error,
        overwritten_on_temu=listing.overwritten_on_temu, mirror=mirror_view)
