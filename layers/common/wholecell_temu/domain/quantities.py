"""The quantity Temu should show for a listing: pure rules, no I/O.

For one WholeCell SKU or product variation, calculated = available - outstanding:

- available: units in the connection's inventory statuses and warehouses that are not
  committed to an order;
- outstanding: the uncommitted quantity on sales orders in the outstanding statuses. For
  each order, units committed to it reduce what it still needs (an order that is fully
  committed has nothing outstanding: its units already left `available`).

A listing sums floor(max(0, calculated) / factor) over what it is connected to, then the
buffer is subtracted, the cap applied and the result clamped to Temu's 0…1,000,000.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict

from wholecell_temu.domain.listings import ListingConnection
from wholecell_temu.domain.settings import QUANTITY_MAX, ConnectionSettings
from wholecell_temu.temu.codes import STOCK_RELEASED


@dataclass(frozen=True, slots=True)
class MirrorUnit:
    """What quantities need to know of one WholeCell unit."""

    unit_id: int
    sku: str | None
    variation_id: int | None
    status: str
    warehouse: str | None
    order_id: int | None = None


@dataclass(frozen=True, slots=True)
class MirrorOrderItem:
    sku: str | None
    variation_id: int | None
    quantity: int


@dataclass(frozen=True, slots=True)
class MirrorOrder:
    """An open WholeCell sales order (any channel): its items hold stock back."""

    order_id: int
    status: str
    items: tuple[MirrorOrderItem, ...]
    order_number: str | None = None
    channel: str | None = None
    external_reference: str | None = None


@dataclass(frozen=True)
class CountingRules:
    """Which units and orders count, from the connection's settings."""

    inventory_statuses: frozenset[str]
    warehouses: frozenset[str] | None  # None = every warehouse
    outstanding_statuses: frozenset[str]
    buffer: int = 0
    cap: int | None = None

    @classmethod
    def from_settings(cls, settings: ConnectionSettings, open_statuses: Iterable[str]) -> CountingRules:
        """`open_statuses` are WholeCell's open statuses, used when the settings name none."""
        outstanding = (settings.outstanding_order_statuses if settings.outstanding_order_statuses is not None
                       else open_statuses)
        return cls(
            inventory_statuses=frozenset(settings.inventory_statuses),
            warehouses=frozenset(settings.warehouses) if settings.warehouses is not None else None,
            outstanding_statuses=frozenset(outstanding),
            buffer=settings.quantity_buffer,
            cap=settings.quantity_cap,
        )

    def why_not_counted(self, unit: MirrorUnit) -> str | None:
        """None when the unit counts as available, else the reason it does not."""
        if unit.status not in self.inventory_statuses:
            return f"status {unit.status!r} is not one of the inventory statuses"
        if self.warehouses is not None and unit.warehouse not in self.warehouses:
            return f"warehouse {unit.warehouse!r} is not one of the warehouses"
        if unit.order_id is not None:
            return f"committed to sales order {unit.order_id}"
        return None


Key = tuple[str, str | int]  # ("sku", "ABC") or ("variation", 123)


def _sku_key(sku: str) -> Key:
    return ("sku", sku)


def _variation_key(variation_id: int) -> Key:
    return ("variation", variation_id)


@dataclass
class StockBook:
    """Available and outstanding per SKU and per product variation, for one connection."""

    available: Counter[Key] = field(default_factory=Counter)
    outstanding: Counter[Key] = field(default_factory=Counter)
    # which orders make up the outstanding of each key: key -> {order id: uncommitted quantity}
    outstanding_orders: dict[Key, dict[int, int]] = field(default_factory=lambda: defaultdict(dict))
    variations_of_sku: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    sku_of_variation: dict[int, str] = field(default_factory=dict)

    @classmethod
    def build(cls, units: Iterable[MirrorUnit], orders: Iterable[MirrorOrder], rules: CountingRules) -> StockBook:
        book = cls()
        committed: dict[int, Counter[Key]] = defaultdict(Counter)
        for unit in units:
            if unit.sku and unit.variation_id is not None:
                book.variations_of_sku[unit.sku].add(unit.variation_id)
                book.sku_of_variation[unit.variation_id] = unit.sku
            keys = _unit_keys(unit)
            if unit.order_id is not None:
                committed[unit.order_id].update(keys)
            elif rules.why_not_counted(unit) is None:
                book.available.update(keys)
        for order in orders:
            if order.status not in rules.outstanding_statuses:
                continue
            ordered: Counter[Key] = Counter()
            for item in order.items:
                if item.sku and item.variation_id is not None:
                    book.variations_of_sku[item.sku].add(item.variation_id)
                    book.sku_of_variation.setdefault(item.variation_id, item.sku)
                for key in _item_keys(item):
                    ordered[key] += item.quantity
            for key, quantity in ordered.items():
                uncommitted = max(0, quantity - committed[order.order_id][key])
                if uncommitted:
                    book.outstanding[key] += uncommitted
                    book.outstanding_orders[key][order.order_id] = uncommitted
        return book

    def _outstanding_key(self, variation_id: int, sku: str | None) -> Key:
        """A variation's outstanding is that of its SKU when the SKU has no other variation
        (order items often name only the SKU)."""
        if sku is not None and self.variations_of_sku.get(sku, set()) <= {variation_id}:
            return _sku_key(sku)
        return _variation_key(variation_id)

    def sku_of(self, variation_id: int) -> str | None:
        return self.sku_of_variation.get(variation_id)

    def for_sku(self, sku: str) -> tuple[int, int, dict[int, int]]:
        """(available, outstanding, {order id: quantity}) of a SKU (every variation sharing it)."""
        key = _sku_key(sku)
        return self.available[key], self.outstanding[key], dict(self.outstanding_orders.get(key, {}))

    def for_variation(self, variation_id: int) -> tuple[int, int, dict[int, int]]:
        key = self._outstanding_key(variation_id, self.sku_of(variation_id))
        return (self.available[_variation_key(variation_id)], self.outstanding[key],
                dict(self.outstanding_orders.get(key, {})))


def _unit_keys(unit: MirrorUnit) -> list[Key]:
    keys: list[Key] = []
    if unit.sku:
        keys.append(_sku_key(unit.sku))
    if unit.variation_id is not None:
        keys.append(_variation_key(unit.variation_id))
    return keys


def _item_keys(item: MirrorOrderItem) -> list[Key]:
    return _unit_keys(MirrorUnit(0, item.sku, item.variation_id, "", None))


@dataclass(frozen=True)
class LinkQuantity:
    """One SKU or variation a listing draws on, and what it contributes."""

    kind: str  # "sku" | "product_variation"
    ref: str
    factor: int
    available: int
    outstanding: int
    outstanding_orders: Mapping[int, int]

    @property
    def calculated(self) -> int:
        return self.available - self.outstanding

    @property
    def contributes(self) -> int:
        return max(0, self.calculated) // self.factor


@dataclass(frozen=True)
class ListingQuantity:
    links: tuple[LinkQuantity, ...]
    buffer: int
    cap: int | None

    @property
    def pooled(self) -> int:
        return sum(link.contributes for link in self.links)

    @property
    def quantity(self) -> int:
        value = self.pooled - self.buffer
        if self.cap is not None:
            value = min(value, self.cap)
        return max(0, min(QUANTITY_MAX, value))


def listing_quantity(connection: ListingConnection, book: StockBook, rules: CountingRules) -> ListingQuantity:
    links: list[LinkQuantity] = []
    for sku_link in connection.skus:
        available, outstanding, orders = book.for_sku(sku_link.sku)
        links.append(LinkQuantity("sku", sku_link.sku, sku_link.factor, available, outstanding, orders))
    for variation_link in connection.product_variations:
        available, outstanding, orders = book.for_variation(variation_link.id)
        links.append(LinkQuantity("product_variation", str(variation_link.id), variation_link.factor,
                                  available, outstanding, orders))
    return ListingQuantity(tuple(links), rules.buffer, rules.cap)


def needs_push(calculated: int, last_pushed: int | None, last_error: str | None, temu_differs: bool) -> bool:
    """Push only what changed, what failed last time, or what Temu no longer shows."""
    return last_pushed != calculated or last_error is not None or temu_differs


# Temu's order times and our push times come from different clocks; an order up to this long
# before a push still counts as taken after it (more allowance: never a false "down").
ORDER_TIME_MARGIN = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class TemuSale:
    """Units of one Temu SKU a Temu order took (Temu lowers its own stock when a buyer orders)."""

    sku_id: int
    ordered_at: datetime
    units: int


def units_ordered_since(sales: Iterable[TemuSale], sku_id: int, since: datetime) -> int:
    """Units Temu orders took from `sku_id` since `since` (a push), with ORDER_TIME_MARGIN."""
    return sum(sale.units for sale in sales if sale.sku_id == sku_id and sale.ordered_at >= since - ORDER_TIME_MARGIN)


class TemuReading(StrEnum):
    """What a re-read of Temu's own stock says about the value we last pushed."""

    HOLDS = "holds"  # Temu shows what we pushed
    RAISED = "up"  # more than we pushed: another writer
    LOWERED = "down"  # less than orders explain: another writer
    SOLD = "sold"  # less, and the Temu orders since the push explain it
    UNJUDGED = "unjudged"  # less, and the Temu orders since the push are not known

    @property
    def overwritten(self) -> bool | None:
        """True: another writer changed it; False: nobody did; None: not known (keep the flag as it is)."""
        if self is TemuReading.UNJUDGED:
            return None
        return self in (TemuReading.RAISED, TemuReading.LOWERED)


def judge_temu_quantity(temu_quantity: int, last_pushed: int, ordered_since_push: int | None) -> TemuReading:
    """Did someone other than the sync change this SKU's stock on Temu since our last push?

    `last_pushed` is a value Temu accepted in an earlier run (this run reads Temu before it
    pushes anything, and runs of a connection never overlap), so Temu held it right after the push.
    Since then only Temu's own orders legitimately move it, and only down: a buyer's order
    takes its units from Temu's stock at once, before WholeCell hears of the order. So:

    - more than pushed: nothing of ours raises it: another tool or a person (RAISED);
    - less than pushed: legitimate as far as `ordered_since_push` (units of Temu orders for this
      SKU placed since the push, cancelled ones included: a cancellation may give the units back,
      so counting them only widens the allowance) explains: Temu showing less than
      `last_pushed - ordered_since_push` means units vanished that no order took (LOWERED),
      e.g. another tool setting it to 0; otherwise it was sold (SOLD);
    - less, with the orders since the push not known (`ordered_since_push` None): no verdict
      (UNJUDGED): a sale is the usual reason, a flag would mostly be wrong.
    """
    if temu_quantity == last_pushed:
        return TemuReading.HOLDS
    if temu_quantity > last_pushed:
        return TemuReading.RAISED
    if ordered_since_push is None:
        return TemuReading.UNJUDGED
    return TemuReading.LOWERED if temu_quantity < last_pushed - ordered_since_push else TemuReading.SOLD


class TemuOverwrite(BaseModel):
    """What the re-read found when it flagged a listing `overwritten on Temu` (stored with the flag)."""

    model_config = ConfigDict(frozen=True)

    direction: Literal["up", "down"]
    temu_quantity: int  # what Temu showed
    last_pushed: int  # what we had pushed before
    ordered_since_push: int | None = None  # units of Temu orders since that push (down only)
    seen_at: datetime
    repushed: int | None = None  # what the sync then pushed and Temu accepted (None: not pushed back)


# Temu order statuses whose mapped WholeCell status should not hold stock back: {"3": "cancelled", ...}
TEMU_CLOSED_STATUSES = {str(status.value): status.meaning for status in STOCK_RELEASED}
# WholeCell status titles that read closed, for an account whose statuses carry no `open` flag
CLOSED_TITLES = frozenset({"shipped", "canceled", "cancelled", "returned", "delivered", "completed", "closed",
                           "refunded"})


def reads_closed(title: str) -> bool:
    """The whole title (case and surrounding space aside) is a closed word: "Shipped", "CANCELLED".
    Not "Partially Shipped" or "Not Shipped": such orders may still need their units."""
    return title.strip().casefold() in CLOSED_TITLES


def closed_statuses_counted(settings: ConnectionSettings, outstanding_statuses: Iterable[str],
                            closed_statuses: Iterable[str] | None = None, *, temu_mapped: bool = True) -> list[str]:
    """Warnings for closed WholeCell statuses that count as outstanding: an order in one would
    hold stock back after it left (shipped, cancelled...), so Temu shows too little.

    - a status Temu's cancelled/shipped/delivered states (3/4/5) map to in `order_status_map`
      (unless `temu_mapped` is False);
    - a status WholeCell flags `open: false` (`closed_statuses`, from `GET /sales_order_statuses`);
      when the account gives no flags (`closed_statuses` None), a title that reads closed.
    A status a Temu state maps to is not warned about again on its own.
    """
    counted = set(outstanding_statuses)
    warnings = []
    warned: set[str] = set()
    for code, meaning in TEMU_CLOSED_STATUSES.items() if temu_mapped else ():
        title = settings.order_status_map.get(code)
        if title is not None and title in counted:
            warned.add(title)
            warnings.append(f"Temu status {code} ({meaning}) maps to {title!r}, which counts as outstanding")
    closed = None if closed_statuses is None else set(closed_statuses)
    for title in sorted(counted - warned):
        if closed is not None and title in closed:
            warnings.append(f"{title!r} counts as outstanding, but WholeCell marks it closed (open: false)")
        elif closed is None and reads_closed(title):
            warnings.append(f"{title!r} counts as outstanding, but reads as a closed status")
    return warnings
