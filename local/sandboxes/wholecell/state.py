"""In-memory WholeCell accounts: units, catalog, stock levels, sales orders, shipments, webhooks.

Behaves as the reference (`wholecell-api.md`) says the real API does, including its
awkward parts: unknown filters are silently ignored, titles are exact and case-sensitive,
an unknown SKU on an order item is accepted with `sku` null. Every method is thread-safe
(one re-entrant lock); webhook deliveries happen outside the lock so a receiver may call
the sandbox back while handling one.

Built to hold benchmark-sized accounts (hundreds of thousands of units, thousands of
orders): listings keep indexes (by status, ESN, location, channel, and in update order for
`updated_at_gt`) and cache each filtered, id-ordered result per mutation version, so one page
costs O(page + matching items), not O(all units). Units and orders must therefore change
only through this class's methods (which keep the indexes), never by assigning fields.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Collection, Hashable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import requests

from local.sandboxes.common import FaultInjector, FaultRule

ACCOUNT_TZ = timezone(timedelta(hours=-5))  # WholeCell answers in the account's offset
OUTSTANDING_WINDOW = timedelta(days=90)
ADDRESS_FIELDS = ("name", "street1", "street2", "street3", "city", "state", "zip", "country", "phone")
DEFAULT_ORDER_STATUSES: list[dict[str, Any]] = [
    {"title": "Pending", "open": True, "sync_to_shipstation": False, "allow_commitment": True},
    {"title": "Awaiting Fulfillment", "open": True, "sync_to_shipstation": True, "allow_commitment": True},
    {"title": "Shipped", "open": False, "sync_to_shipstation": False, "allow_commitment": False},
    {"title": "Canceled", "open": False, "sync_to_shipstation": False, "allow_commitment": False},
    {"title": "Delivered", "open": False, "sync_to_shipstation": False, "allow_commitment": False},
]
DEFAULT_CHANNELS = ["Temu", "Amazon", "eBay", "Wholesale"]
DEFAULT_INVENTORY_STATUSES = ["Available", "Inbound", "Moving", "Sold", "Needs eBay Draft"]
DEFAULT_WAREHOUSES = ["Main Warehouse", "Overflow"]
# Keys the observed /inventories record always carries (reference §2, contract fixture
# tests/contract/wholecell/inventories.json); the sandbox does not model them, so fixed values.
DEFAULT_LOCATION = "Receiving"  # a unit seeded without a location still has one, as observed
PURCHASE_ORDER_ID = 240118  # every seeded unit arrived on one purchase order
PRODUCT_ID_OFFSET = 9_000_000  # placeholder product id = offset + product variation id
VIEW_CACHE_SIZE = 32  # filtered, ordered listings kept per account and kind (units, orders, stock)


class SandboxError(Exception):
    """A request the real API would reject; `status` and `errors` become the HTTP answer."""

    def __init__(self, status: int, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.status = status
        self.errors = errors


def iso(value: datetime) -> str:
    return value.astimezone(ACCOUNT_TZ).isoformat(timespec="milliseconds")


@dataclass
class Unit:
    id: int
    esn: str
    hex_id: str
    sku: str | None
    product_variation_id: int
    status: str
    warehouse: str
    location: str
    order_id: int | None
    created_at: datetime
    updated_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "esn": self.esn, "hex_id": self.hex_id, "status": self.status,
            "order_id": self.order_id, "purchase_order_id": PURCHASE_ORDER_ID, "sale_price": None,
            "total_price_paid": 18500, "initial_price_paid": 17500,
            "created_at": iso(self.created_at), "updated_at": iso(self.updated_at),
            "product_variation": {"id": self.product_variation_id, "sku": self.sku, "grade": "B",
                                  "conditions": [],
                                  "product": {"id": PRODUCT_ID_OFFSET + self.product_variation_id,
                                              "manufacturer": "APPLE", "model": "IPHONE 13", "variant": "A2482",
                                              "network": "UNLOCKED", "capacity": "128GB", "color": "BLACK"}},
            "custom_field_values": {},
            "warehouse": {"name": self.warehouse},
            "location": {"name": self.location},
        }


@dataclass
class Order:
    id: int
    order_number: str
    external_reference: str | None
    channel: str
    status: str
    customer: dict[str, Any] | None
    shipping_address: dict[str, Any] | None
    order_items: list[dict[str, Any]]
    shipments: list[dict[str, Any]]
    created_at: datetime
    updated_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "order_number": self.order_number, "external_reference": self.external_reference,
            "channel": self.channel, "status": self.status, "customer": self.customer,
            "shipping_address": self.shipping_address,
            "order_items": [dict(item) for item in self.order_items],
            "shipments": [dict(shipment) for shipment in self.shipments],
            "created_at": iso(self.created_at), "updated_at": iso(self.updated_at),
        }


class UpdateOrder:
    """Ids in nondecreasing `updated_at` order, so "changed after T" walks back from the newest
    and stops at the first older one: O(matches), not O(all).

    `_tick()` stamps only grow, so a touched id is simply moved to the end. A stamp older than
    the newest appended (an explicit `updated_at` from seeding, or ticks that follow a seeded
    stamp in the future) cannot go at the end without breaking the order; such ids are kept
    aside as stragglers and checked one by one, so results stay exact, only slower.
    """

    def __init__(self) -> None:
        self._order: dict[int, None] = {}  # insertion-ordered; re-insert = move to the end
        self._stragglers: set[int] = set()
        self._newest: datetime | None = None

    def touch(self, item_id: int, stamp: datetime) -> None:
        self._order.pop(item_id, None)
        self._stragglers.discard(item_id)
        try:
            in_order = self._newest is None or stamp >= self._newest
        except TypeError:  # a naive seeded stamp: compared (and failing) only when filtered on, as before
            in_order = False
        if in_order:
            self._order[item_id] = None
            self._newest = stamp
        else:
            self._stragglers.add(item_id)

    def newer_than(self, since: datetime, stamp_of: Callable[[int], datetime],
                   limit: int | None = None) -> list[int] | None:
        """Ids stamped after `since` (unordered); None once more than `limit` are found."""
        found: list[int] = []
        for item_id in reversed(self._order):
            if stamp_of(item_id) <= since:
                break
            found.append(item_id)
            if limit is not None and len(found) > limit:
                return None
        found.extend(i for i in self._stragglers if stamp_of(i) > since)
        return found if limit is None or len(found) <= limit else None

    def shift(self, delta: timedelta) -> None:
        """Every stamp moved by `delta` (their order is unchanged, so only the newest moves here)."""
        if self._newest is not None:
            self._newest += delta


class Index:
    """value -> ids having it (one attribute of units or orders)."""

    def __init__(self) -> None:
        self._ids: dict[Hashable, set[int]] = {}

    def add(self, value: Hashable, item_id: int) -> None:
        ids = self._ids.get(value)
        if ids is None:
            ids = self._ids[value] = set()
        ids.add(item_id)

    def move(self, old: Hashable, new: Hashable, item_id: int) -> None:
        if old == new:
            return
        ids = self._ids.get(old)
        if ids is not None:
            ids.discard(item_id)
            if not ids:
                del self._ids[old]
        self.add(new, item_id)

    def get(self, value: Hashable) -> set[int]:
        return self._ids.get(value, set())


class ViewCache:
    """Results computed for one mutation version; a newer version makes them all stale."""

    def __init__(self) -> None:
        self._views: dict[Hashable, tuple[Hashable, Any]] = {}

    def get(self, key: Hashable, version: Hashable) -> Any | None:
        hit = self._views.get(key)
        return hit[1] if hit is not None and hit[0] == version else None

    def put(self, key: Hashable, version: Hashable, value: Any) -> None:
        self._views = {k: v for k, v in self._views.items() if v[0] == version}  # drop stale ones
        while len(self._views) >= VIEW_CACHE_SIZE:
            del self._views[next(iter(self._views))]
        self._views[key] = (version, value)


@dataclass
class Account:
    app_id: str
    app_secret: str
    order_statuses: dict[str, dict[str, Any]]
    channels: list[str]
    inventory_statuses: list[str]
    warehouses: list[dict[str, Any]]
    catalog: dict[str, int] = field(default_factory=dict)  # SKU -> product variation id
    customers: dict[str, int] = field(default_factory=dict)  # organization name -> id
    units: dict[int, Unit] = field(default_factory=dict)
    orders: dict[int, Order] = field(default_factory=dict)
    webhook_url: str | None = None
    webhook_secrets: list[str] = field(default_factory=list)
    deliveries: list[dict[str, Any]] = field(default_factory=list)
    events: dict[str, bytes] = field(default_factory=dict)  # event_id -> exact body sent
    request_counts: dict[str, int] = field(default_factory=dict)
    throttled: int = 0  # requests answered 429 by the rate limit (they are in request_counts too)
    bucket_tokens: float = 0.0
    bucket_updated: float = 0.0
    # indexes and cached listings (kept by WholeCellState's methods; see the module docstring)
    units_version: int = 0
    orders_version: int = 0
    catalog_version: int = 0
    units_by_update: UpdateOrder = field(default_factory=UpdateOrder)
    units_by_status: Index = field(default_factory=Index)
    units_by_esn: dict[str, list[int]] = field(default_factory=dict)  # ESNs never change; mostly unique
    units_by_location: Index = field(default_factory=Index)
    orders_by_update: UpdateOrder = field(default_factory=UpdateOrder)
    orders_by_status: Index = field(default_factory=Index)
    orders_by_channel: Index = field(default_factory=Index)
    unit_views: ViewCache = field(default_factory=ViewCache)
    order_views: ViewCache = field(default_factory=ViewCache)
    stock_views: ViewCache = field(default_factory=ViewCache)


class WholeCellState:
    """All sandbox accounts plus the shared knobs (faults, rate limit, ignored filters)."""

    def __init__(self, *, rate_limit: float | None = None, seed: int | None = None,
                 webhook_async: bool = False) -> None:
        self._lock = threading.RLock()
        self.faults = FaultInjector(seed=seed)
        self.rate_limit = rate_limit
        self.webhook_async = webhook_async
        self.ignored_filters: set[str] = set()
        self.accounts: dict[str, Account] = {}
        self._next_id = 1000
        self._last_tick = datetime.fromtimestamp(0, UTC)

    # --- bookkeeping --------------------------------------------------------------------------
    def _id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _tick(self) -> datetime:
        """Now, strictly after the previous change, at the API's millisecond precision, so
        `updated_at_gt` deltas never miss or repeat a change."""
        now = datetime.now(UTC)
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)
        self._last_tick = max(now, self._last_tick + timedelta(milliseconds=1))
        return self._last_tick

    def account(self, app_id: str) -> Account:
        try:
            return self.accounts[app_id]
        except KeyError:
            raise SandboxError(404, [f"no sandbox account {app_id!r}"]) from None

    def reset(self) -> None:
        with self._lock:
            self.accounts.clear()
            self.faults.clear()
            self.ignored_filters.clear()

    def create_account(
        self, app_id: str, app_secret: str, *,
        sales_order_statuses: list[dict[str, Any]] | None = None,
        channels: list[str] | None = None,
        inventory_statuses: list[str] | None = None,
        warehouses: list[str] | None = None,
        skus: list[str] | None = None,
    ) -> Account:
        """A fresh account; omitted lists get the defaults (channel `Temu`, `Pending`, ...)."""
        with self._lock:
            statuses = sales_order_statuses or DEFAULT_ORDER_STATUSES
            account = Account(
                app_id=app_id, app_secret=app_secret,
                order_statuses={s["title"]: {"title": s["title"], "open": bool(s.get("open", True)),
                                             "sync_to_shipstation": bool(s.get("sync_to_shipstation", False)),
                                             "allow_commitment": bool(s.get("allow_commitment", False))}
                                for s in statuses},
                channels=list(channels or DEFAULT_CHANNELS),
                inventory_statuses=list(inventory_statuses or DEFAULT_INVENTORY_STATUSES),
                warehouses=[{"id": self._id(), "name": name} for name in warehouses or DEFAULT_WAREHOUSES],
            )
            self.accounts[app_id] = account
            self.add_skus(app_id, skus or [])
            return account

    def authenticate(self, app_id: str, app_secret: str) -> Account | None:
        with self._lock:
            account = self.accounts.get(app_id)
            ok = account is not None and hmac.compare_digest(account.app_secret, app_secret)
            return account if ok else None

    def count_request(self, account: Account, key: str) -> None:
        with self._lock:
            account.request_counts[key] = account.request_counts.get(key, 0) + 1

    def take_token(self, account: Account) -> float | None:
        """None when the request may proceed, else seconds until a token frees (-> 429)."""
        with self._lock:
            if self.rate_limit is None:
                return None
            now = time.monotonic()
            if account.bucket_updated == 0.0:
                account.bucket_tokens, account.bucket_updated = max(1.0, self.rate_limit), now
            capacity = max(1.0, self.rate_limit)
            account.bucket_tokens = min(capacity, account.bucket_tokens + (now - account.bucket_updated)
                                        * self.rate_limit)
            account.bucket_updated = now
            if account.bucket_tokens >= 1.0:
                account.bucket_tokens -= 1.0
                return None
            account.throttled += 1
            return (1.0 - account.bucket_tokens) / self.rate_limit

    def set_rate_limit(self, rate: float | None) -> None:
        with self._lock:
            self.rate_limit = rate
            for account in self.accounts.values():
                account.bucket_updated = 0.0

    def set_faults(self, rules: list[FaultRule]) -> None:
        self.faults.set_rules(rules)

    def clear_faults(self) -> None:
        self.faults.clear()

    def set_ignored_filters(self, names: Iterable[str]) -> None:
        """Simulate WholeCell not supporting these filters: they are dropped silently."""
        with self._lock:
            self.ignored_filters = set(names)

    # --- catalog and units --------------------------------------------------------------------
    def add_skus(self, app_id: str, skus: Iterable[str]) -> None:
        """Register SKUs in the product catalog (Stock Levels lists every one, zero included)."""
        with self._lock:
            account = self.account(app_id)
            for sku in skus:
                if sku and sku not in account.catalog:
                    account.catalog[sku] = self._id()
                    account.catalog_version += 1

    def add_units(self, app_id: str, units: list[dict[str, Any]]) -> list[Unit]:
        """Seed explicit units: {sku, esn?, status?, warehouse?, location?, order_id?, updated_at?}.
        `sku` may be null or "" to model units that cannot be matched; no location means
        `DEFAULT_LOCATION` (a null location was never observed)."""
        with self._lock:
            account = self.account(app_id)
            created = []
            for spec in units:
                sku = spec.get("sku")
                if sku and sku not in account.catalog:
                    self.add_skus(app_id, [sku])
                stamp = (datetime.fromisoformat(spec["updated_at"]) if spec.get("updated_at")
                         else self._tick())
                unit_id = self._id()
                unit = Unit(
                    id=unit_id, esn=str(spec.get("esn") or f"35{unit_id:013d}"), hex_id=f"{unit_id:X}",
                    sku=sku, product_variation_id=account.catalog[sku] if sku else self._id(),
                    status=spec.get("status", "Available"),
                    warehouse=spec.get("warehouse", account.warehouses[0]["name"]),
                    location=spec.get("location") or DEFAULT_LOCATION, order_id=spec.get("order_id"),
                    created_at=stamp, updated_at=stamp)
                account.units[unit.id] = unit
                account.units_by_update.touch(unit.id, stamp)
                account.units_by_status.add(unit.status, unit.id)
                account.units_by_esn.setdefault(unit.esn, []).append(unit.id)
                account.units_by_location.add(unit.location, unit.id)
                created.append(unit)
            account.units_version += 1
            return created

    def generate_units(self, app_id: str, count: int, *, skus: list[str], warehouses: list[str] | None = None,
                       statuses: list[str] | None = None, seed: int = 0,
                       spread_seconds: float | None = None) -> list[Unit]:
        """`count` units spread over the given SKUs/warehouses/statuses; same seed, same units.

        Each unit gets its own tick (1 ms apart, so 200,000 units end 200 s ahead of the wall
        clock, densely stamped) unless `spread_seconds` is given: then their `updated_at` run
        evenly, oldest first, over the `spread_seconds` up to now, as an account's history
        would (later changes are stamped after all of them). Seed a fresh account that way
        before other changes; older stamps seeded after newer ones stay exact but slower.
        """
        rng = random.Random(seed)
        with self._lock:
            account = self.account(app_id)
            warehouse_names = warehouses or [account.warehouses[0]["name"]]
            status_names = statuses or ["Available"]
            specs: list[dict[str, Any]] = [
                {"sku": rng.choice(skus), "esn": "35" + "".join(rng.choices("0123456789", k=13)),
                 "warehouse": rng.choice(warehouse_names), "status": rng.choice(status_names)}
                for _ in range(count)]
            if spread_seconds is not None and count:
                end = self._tick()  # reserved: every later tick is after the newest seeded stamp
                step = timedelta(seconds=max(0.0, spread_seconds)) / count
                for index, spec in enumerate(specs):
                    stamp = end - step * (count - 1 - index)
                    spec["updated_at"] = stamp.replace(microsecond=stamp.microsecond // 1000 * 1000).isoformat()
            return self.add_units(app_id, specs)

    def backdate(self, app_id: str, seconds: float) -> None:
        """Move every unit's and sales order's `created_at`/`updated_at` `seconds` into the past, as
        if the seeded history had ended that long ago. Benchmarks seed units, orders and commits
        (stamped now), then backdate them, so a delta read's overlap right after seeding holds none
        of the history; later changes are stamped after all of it."""
        delta = -timedelta(seconds=seconds)
        with self._lock:
            account = self.account(app_id)
            for unit in account.units.values():
                unit.created_at, unit.updated_at = unit.created_at + delta, unit.updated_at + delta
            for order in account.orders.values():
                order.created_at, order.updated_at = order.created_at + delta, order.updated_at + delta
            account.units_by_update.shift(delta)
            account.orders_by_update.shift(delta)
            account.units_version += 1
            account.orders_version += 1

    def _units(self, account: Account, unit_ids: Iterable[int]) -> list[Unit]:
        missing = [uid for uid in unit_ids if uid not in account.units]
        if missing:
            raise SandboxError(404, [f"unknown unit ids {missing}"])
        return [account.units[uid] for uid in unit_ids]

    @staticmethod
    def _touch_unit(account: Account, unit: Unit, stamp: datetime) -> None:
        unit.updated_at = stamp
        account.units_by_update.touch(unit.id, stamp)

    def commit_units(self, app_id: str, unit_ids: list[int], order_id: int | None) -> None:
        """Commit units to an order (None uncommits); the order's status must allow commitment."""
        with self._lock:
            account = self.account(app_id)
            if order_id is not None:
                order = self._order(account, order_id)
                if not account.order_statuses[order.status]["allow_commitment"]:
                    raise SandboxError(422, [f"status {order.status!r} does not allow commitment"])
            stamp = self._tick()
            units = self._units(account, unit_ids)
            for unit in units:
                unit.order_id = order_id
                self._touch_unit(account, unit, stamp)
            account.units_version += 1

    def move_units(self, app_id: str, unit_ids: list[int], *, warehouse: str | None = None,
                   location: str | None = None) -> None:
        with self._lock:
            account = self.account(app_id)
            if warehouse is not None and warehouse not in {w["name"] for w in account.warehouses}:
                raise SandboxError(422, [f"unknown warehouse {warehouse!r}"])
            stamp = self._tick()
            units = self._units(account, unit_ids)
            for unit in units:
                unit.warehouse = warehouse if warehouse is not None else unit.warehouse
                if location is not None:
                    account.units_by_location.move(unit.location, location, unit.id)
                    unit.location = location
                self._touch_unit(account, unit, stamp)
            account.units_version += 1

    def set_unit_status(self, app_id: str, unit_ids: list[int], status: str) -> None:
        with self._lock:
            account = self.account(app_id)
            if status not in account.inventory_statuses:
                raise SandboxError(422, [f"unknown inventory status {status!r}"])
            stamp = self._tick()
            units = self._units(account, unit_ids)
            for unit in units:
                account.units_by_status.move(unit.status, status, unit.id)
                unit.status = status
                self._touch_unit(account, unit, stamp)
            account.units_version += 1

    # --- reads behind the API -----------------------------------------------------------------
    def list_units(self, app_id: str, filters: dict[str, str]) -> list[dict[str, Any]]:
        """`status`, `esn`, `location`, `updated_at_gt` apply; anything else is ignored. Id order."""
        with self._lock:
            return [u.to_json() for u in self._matching_units(self.account(app_id), filters)]

    def units_page(self, app_id: str, filters: dict[str, str], page: int,
                   per_page: int) -> tuple[list[dict[str, Any]], int]:
        """One page of `list_units` and the total count, at O(page + matching units)."""
        with self._lock:
            units = self._matching_units(self.account(app_id), filters)
            return [u.to_json() for u in _page(units, page, per_page)], len(units)

    def _matching_units(self, account: Account, filters: dict[str, str]) -> Sequence[Unit]:
        """The units passing every filter, by id; cached until the units change."""
        since = _parse_time(filters["updated_at_gt"]) if "updated_at_gt" in filters else None
        key = tuple(sorted(filters.items()))
        cached: Sequence[Unit] | None = account.unit_views.get(key, account.units_version)
        if cached is not None:
            return cached
        indexed: list[Collection[int]] = [index.get(filters[name]) for name, index in (
            ("status", account.units_by_status), ("location", account.units_by_location)) if name in filters]
        if "esn" in filters:
            indexed.append(account.units_by_esn.get(filters["esn"], []))
        candidates: Collection[int] | None = min(indexed, key=len) if indexed else None
        if since is not None:
            limit = None if candidates is None else len(candidates)
            newer = account.units_by_update.newer_than(since, lambda uid: account.units[uid].updated_at, limit)
            candidates = newer if newer is not None else candidates
        if candidates is None:
            units = list(account.units.values())
            if any(units[i].id > units[i + 1].id for i in range(len(units) - 1)):
                units.sort(key=lambda u: u.id)
        else:
            units = [account.units[uid] for uid in sorted(candidates)]
        if filters:
            status, esn, location = filters.get("status"), filters.get("esn"), filters.get("location")
            units = [u for u in units
                     if (status is None or u.status == status) and (esn is None or u.esn == esn)
                     and ("location" not in filters or u.location == location)
                     and (since is None or u.updated_at > since)]
        account.unit_views.put(key, account.units_version, units)
        return units

    def stock_levels(self, app_id: str, inventory_statuses: list[str]) -> list[dict[str, Any]]:
        """As WholeCell documents it (§3.1): on_hand = uncommitted units (in the statuses, if
        any given); outstanding = uncommitted item quantity on open orders of the last 90 days;
        available = on_hand - outstanding; one row per catalog SKU."""
        with self._lock:
            return [dict(row) for row in self._stock_rows(self.account(app_id), inventory_statuses)]

    def stock_levels_page(self, app_id: str, inventory_statuses: list[str], page: int,
                          per_page: int) -> tuple[list[dict[str, Any]], int]:
        """One page of `stock_levels` and the row count; computed once per change of units,
        orders or catalog (O(units + order items)), then O(page) per request."""
        with self._lock:
            rows = self._stock_rows(self.account(app_id), inventory_statuses)
            return [dict(row) for row in _page(rows, page, per_page)], len(rows)

    def _stock_rows(self, account: Account, inventory_statuses: list[str]) -> list[dict[str, Any]]:
        now = datetime.now(UTC)
        version = (account.units_version, account.orders_version, account.catalog_version)
        key = tuple(sorted(set(inventory_statuses)))
        cached: tuple[datetime, list[dict[str, Any]]] | None = account.stock_views.get(key, version)
        if cached is not None and now <= cached[0]:  # valid until an open order leaves the window
            return cached[1]
        wanted = set(inventory_statuses)
        on_hand = dict.fromkeys(account.catalog, 0)
        committed: Counter[tuple[int, str]] = Counter()  # (order id, sku) -> units committed
        for unit in account.units.values():
            if not unit.sku:
                continue
            if unit.order_id is not None:
                committed[(unit.order_id, unit.sku)] += 1
            elif not wanted or unit.status in wanted:
                on_hand[unit.sku] += 1
        outstanding = dict.fromkeys(account.catalog, 0)
        cutoff = now - OUTSTANDING_WINDOW
        valid_until = datetime.max.replace(tzinfo=UTC)
        for order in account.orders.values():
            if not account.order_statuses[order.status]["open"] or order.created_at < cutoff:
                continue
            valid_until = min(valid_until, order.created_at + OUTSTANDING_WINDOW)
            ordered: dict[str, int] = {}
            for item in order.order_items:
                if item["sku"] in outstanding:
                    ordered[item["sku"]] = ordered.get(item["sku"], 0) + item["quantity"]
            for sku, quantity in ordered.items():
                outstanding[sku] += max(0, quantity - committed[(order.id, sku)])
        rows = [{"sku": sku, "on_hand": on_hand[sku], "outstanding": outstanding[sku],
                 "available": on_hand[sku] - outstanding[sku]} for sku in sorted(account.catalog)]
        account.stock_views.put(key, version, (valid_until, rows))
        return rows

    def lookups(self, app_id: str, kind: str) -> list[dict[str, Any]]:
        with self._lock:
            account = self.account(app_id)
            if kind == "sales_order_statuses":
                return [dict(s) for s in account.order_statuses.values()]
            if kind == "inventory_statuses":
                return [{"title": t} for t in account.inventory_statuses]
            if kind == "warehouses":
                return [dict(w) for w in account.warehouses]
            return [{"title": t} for t in account.channels]

    def list_orders(self, app_id: str, filters: dict[str, str]) -> list[dict[str, Any]]:
        """`updated_at_gt`, `channel`, `status` apply; anything else is ignored. Id order."""
        with self._lock:
            return [o.to_json() for o in self._matching_orders(self.account(app_id), filters)]

    def orders_page(self, app_id: str, filters: dict[str, str], page: int,
                    per_page: int) -> tuple[list[dict[str, Any]], int]:
        """One page of `list_orders` and the total count, at O(page + matching orders)."""
        with self._lock:
            orders = self._matching_orders(self.account(app_id), filters)
            return [o.to_json() for o in _page(orders, page, per_page)], len(orders)

    def _matching_orders(self, account: Account, filters: dict[str, str]) -> Sequence[Order]:
        since = _parse_time(filters["updated_at_gt"]) if "updated_at_gt" in filters else None
        key = tuple(sorted(filters.items()))
        cached: Sequence[Order] | None = account.order_views.get(key, account.orders_version)
        if cached is not None:
            return cached
        indexed = [index.get(filters[name]) for name, index in (
            ("channel", account.orders_by_channel), ("status", account.orders_by_status)) if name in filters]
        candidates: Collection[int] | None = min(indexed, key=len) if indexed else None
        if since is not None:
            limit = None if candidates is None else len(candidates)
            newer = account.orders_by_update.newer_than(since, lambda oid: account.orders[oid].updated_at, limit)
            candidates = newer if newer is not None else candidates
        if candidates is None:
            orders = list(account.orders.values())
            if any(orders[i].id > orders[i + 1].id for i in range(len(orders) - 1)):
                orders.sort(key=lambda o: o.id)
        else:
            orders = [account.orders[oid] for oid in sorted(candidates)]
        if filters:
            channel, status = filters.get("channel"), filters.get("status")
            orders = [o for o in orders
                      if (channel is None or o.channel == channel) and (status is None or o.status == status)
                      and (since is None or o.updated_at > since)]
        account.order_views.put(key, account.orders_version, orders)
        return orders

    def _order(self, account: Account, order_id: int) -> Order:
        if order_id not in account.orders:
            raise SandboxError(404, [f"sales order {order_id} not found"])
        return account.orders[order_id]

    def get_order(self, app_id: str, order_id: int) -> dict[str, Any]:
        with self._lock:
            return self._order(self.account(app_id), order_id).to_json()

    # --- order writes -------------------------------------------------------------------------
    def _items(self, account: Account, raw: Any, errors: list[str]) -> list[dict[str, Any]]:
        if not isinstance(raw, list):
            errors.append("order_items must be an array")
            return []
        items = []
        for index, item in enumerate(raw):
            if not isinstance(item, dict):
                errors.append(f"order_items[{index}] must be an object")
                continue
            quantity, price = item.get("quantity"), item.get("unit_price_cents")
            if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
                errors.append(f"order_items[{index}].quantity must be a positive integer")
            if price is not None and (not isinstance(price, int) or price < 0):
                errors.append(f"order_items[{index}].unit_price_cents must be a non-negative integer")
            sku = item.get("sku")
            variation = account.catalog.get(sku) if isinstance(sku, str) else None
            known = variation is not None
            items.append({"sku": sku if known else None, "quantity": quantity, "unit_price_cents": price,
                          "description": item.get("description"),
                          "product_variation_id": variation,
                          "unknown_sku": not known})
        return items

    def _validate_common(self, account: Account, body: dict[str, Any], errors: list[str]) -> None:
        if "channel" in body and body["channel"] not in account.channels:
            errors.append(f"channel {body['channel']!r} does not exist")
        if "status" in body and body["status"] not in account.order_statuses:
            errors.append(f"status {body['status']!r} does not exist")
        address = body.get("shipping_address")
        if address is not None and (not isinstance(address, dict) or set(address) - set(ADDRESS_FIELDS)):
            errors.append(f"shipping_address accepts only {', '.join(ADDRESS_FIELDS)}")
        customer = body.get("customer")
        if customer is not None and not (isinstance(customer, dict) and customer.get("name")):
            errors.append("customer needs a name")

    def _customer(self, account: Account, raw: dict[str, Any] | None) -> dict[str, Any] | None:
        if raw is None:
            return None
        name = str(raw["name"])
        if name not in account.customers:
            account.customers[name] = self._id()
        return {"id": account.customers[name], "name": name}

    def create_order(self, app_id: str, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            account = self.account(app_id)
            errors: list[str] = []
            for required in ("external_reference", "channel", "status"):
                if not isinstance(body.get(required), str) or not body[required]:
                    errors.append(f"{required} is required")
            self._validate_common(account, body, errors)
            items = self._items(account, body.get("order_items", []), errors)
            if errors:
                raise SandboxError(422, errors)
            stamp = self._tick()
            order_id = self._id()
            address = body.get("shipping_address")
            order = Order(
                id=order_id, order_number=f"SO-{order_id}", external_reference=body["external_reference"],
                channel=body["channel"], status=body["status"],
                customer=self._customer(account, body.get("customer")),
                shipping_address={k: address.get(k) for k in ADDRESS_FIELDS} if address else None,
                order_items=items, shipments=[], created_at=stamp, updated_at=stamp)
            account.orders[order_id] = order
            account.orders_by_update.touch(order_id, stamp)
            account.orders_by_status.add(order.status, order_id)
            account.orders_by_channel.add(order.channel, order_id)
            account.orders_version += 1
            return order.to_json()

    def update_order(self, app_id: str, order_id: int, body: dict[str, Any]) -> dict[str, Any]:
        """PATCH: fields not sent stay; a sent `order_items` or `shipping_address` replaces the old one."""
        with self._lock:
            account = self.account(app_id)
            order = self._order(account, order_id)
            errors: list[str] = []
            self._validate_common(account, body, errors)
            items = self._items(account, body["order_items"], errors) if "order_items" in body else None
            if errors:
                raise SandboxError(422, errors)
            channel, status = body.get("channel", order.channel), body.get("status", order.status)
            account.orders_by_channel.move(order.channel, channel, order.id)
            account.orders_by_status.move(order.status, status, order.id)
            order.channel, order.status = channel, status
            if "customer" in body:
                order.customer = self._customer(account, body["customer"])
            if "shipping_address" in body:
                address = body["shipping_address"]
                order.shipping_address = {k: address.get(k) for k in ADDRESS_FIELDS} if address else None
            if items is not None:
                order.order_items = items
            order.updated_at = self._tick()
            account.orders_by_update.touch(order.id, order.updated_at)
            account.orders_version += 1
            return order.to_json()

    # --- shipments and webhooks ---------------------------------------------------------------
    def configure_webhook(self, app_id: str, url: str | None, secrets: list[str]) -> None:
        """Where shipment events go; the first secret signs (rotation: list the new one first)."""
        with self._lock:
            account = self.account(app_id)
            account.webhook_url, account.webhook_secrets = url, list(secrets)

    def add_shipment(self, app_id: str, order_id: int, *, carrier: str, tracking_number: str,
                     service: str | None = None, shipped_at: str | None = None,
                     items: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """Record a shipment (bumps updated_at) and send the signed webhook, if one is configured.
        Returns {"shipment": ..., "event_id": ... or None}."""
        with self._lock:
            account = self.account(app_id)
            order = self._order(account, order_id)
            stamp = self._tick()
            shipment = {
                "id": self._id(), "carrier": carrier, "service": service, "tracking_number": tracking_number,
                "shipped_at": shipped_at or iso(stamp),
                "items": items if items is not None else [{"sku": i["sku"], "quantity": i["quantity"]}
                                                          for i in order.order_items],
            }
            order.shipments.append(shipment)
            order.updated_at = stamp
            account.orders_by_update.touch(order.id, stamp)
            account.orders_version += 1
            event_id = None
            if account.webhook_url:
                event_id = "evt_" + uuid.uuid4().hex[:20].upper()
                event = {"event": "sales_order.shipment_created", "event_id": event_id,
                         "occurred_at": stamp.strftime("%Y-%m-%dT%H:%M:%SZ"),
                         "sales_order_id": order_id, "shipment": dict(shipment)}
                account.events[event_id] = json.dumps(event, separators=(",", ":")).encode()
        if event_id is not None:
            self._dispatch(account, event_id)
        return {"shipment": shipment, "event_id": event_id}

    def redeliver(self, app_id: str, event_id: str) -> None:
        """Send an already-sent event again (same event_id and body, fresh signature)."""
        with self._lock:
            account = self.account(app_id)
            if event_id not in account.events:
                raise SandboxError(404, [f"unknown event {event_id}"])
        self._dispatch(account, event_id)

    def _dispatch(self, account: Account, event_id: str) -> None:
        if self.webhook_async:
            threading.Thread(target=self._deliver, args=(account, event_id), daemon=True).start()
        else:
            self._deliver(account, event_id)

    def _deliver(self, account: Account, event_id: str) -> None:
        with self._lock:
            url, secrets, body = account.webhook_url, list(account.webhook_secrets), account.events[event_id]
            record: dict[str, Any] = {"event_id": event_id, "url": url, "status": None, "error": None}
            account.deliveries.append(record)
        timestamp = str(int(time.time()))
        secret = secrets[0].encode() if secrets else b""
        signature = "v1=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        headers = {"Content-Type": "application/json", "X-WholeCell-Timestamp": timestamp,
                   "X-WholeCell-Signature": signature}
        try:
            response = requests.post(str(url), data=body, headers=headers, timeout=10)
            outcome: dict[str, Any] = {"status": response.status_code}
        except requests.RequestException as exc:
            outcome = {"error": type(exc).__name__}
        with self._lock:
            record.update(outcome, delivered_at=iso(datetime.now(UTC)))

    # --- inspection ---------------------------------------------------------------------------
    def snapshot(self, app_id: str | None = None) -> dict[str, Any]:
        """Everything a test may want to assert on (app secrets and webhook secrets left out)."""
        with self._lock:
            accounts = [self.account(app_id)] if app_id else list(self.accounts.values())
            return {
                "rate_limit": self.rate_limit,
                "ignored_filters": sorted(self.ignored_filters),
                "faults": self.faults.snapshot(),
                "accounts": {a.app_id: {
                    "sales_order_statuses": list(a.order_statuses.values()), "channels": a.channels,
                    "inventory_statuses": a.inventory_statuses, "warehouses": a.warehouses,
                    "skus": sorted(a.catalog), "units": [u.to_json() for u in a.units.values()],
                    "orders": [o.to_json() for o in a.orders.values()],
                    "request_counts": dict(a.request_counts), "throttled": a.throttled,
                    "webhook_url": a.webhook_url,
                    "webhook_deliveries": [dict(d) for d in a.deliveries],
                } for a in accounts},
            }


def _page(rows: Sequence[Any], page: int, per_page: int) -> Sequence[Any]:
    return rows[(page - 1) * per_page: page * per_page]


def _parse_time(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise SandboxError(422, [f"invalid time {value!r}"]) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=ACCOUNT_TZ)
