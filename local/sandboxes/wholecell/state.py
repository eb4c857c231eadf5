"""In-memory WholeCell accounts: units, catalog, stock levels, sales orders, shipments, webhooks.

Behaves as the reference (`wholecell-api.md`) says the real API does, including its
awkward parts: unknown filters are silently ignored, titles are exact and case-sensitive,
an unknown SKU on an order item is accepted with `sku` null. Every method is thread-safe
(one re-entrant lock); webhook deliveries happen outside the lock so a receiver may call
the sandbox back while handling one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import threading
import time
import uuid
from collections.abc import Iterable
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
    location: str | None
    order_id: int | None
    created_at: datetime
    updated_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "esn": self.esn, "hex_id": self.hex_id, "status": self.status,
            "order_id": self.order_id, "purchase_order_id": None, "sale_price": None,
            "total_price_paid": 18500, "initial_price_paid": 17500,
            "created_at": iso(self.created_at), "updated_at": iso(self.updated_at),
            "product_variation": {"id": self.product_variation_id, "sku": self.sku, "grade": "B",
                                  "conditions": [], "product": {"manufacturer": "APPLE"}},
            "custom_field_values": {},
            "warehouse": {"name": self.warehouse},
            "location": {"name": self.location} if self.location else None,
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
    bucket_tokens: float = 0.0
    bucket_updated: float = 0.0


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

    def add_units(self, app_id: str, units: list[dict[str, Any]]) -> list[Unit]:
        """Seed explicit units: {sku, esn?, status?, warehouse?, location?, order_id?, updated_at?}.
        `sku` may be null or "" to model units that cannot be matched."""
        with self._lock:
            account = self.account(app_id)
            created = []
            for spec in units:
                sku = spec.get("sku")
                if sku:
                    self.add_skus(app_id, [sku])
                stamp = (datetime.fromisoformat(spec["updated_at"]) if spec.get("updated_at")
                         else self._tick())
                unit_id = self._id()
                unit = Unit(
                    id=unit_id, esn=str(spec.get("esn") or f"35{unit_id:013d}"), hex_id=f"{unit_id:X}",
                    sku=sku, product_variation_id=account.catalog[sku] if sku else self._id(),
                    status=spec.get("status", "Available"),
                    warehouse=spec.get("warehouse", account.warehouses[0]["name"]),
                    location=spec.get("location"), order_id=spec.get("order_id"),
                    created_at=stamp, updated_at=stamp)
                account.units[unit.id] = unit
                created.append(unit)
            return created

    def generate_units(self, app_id: str, count: int, *, skus: list[str], warehouses: list[str] | None = None,
                       statuses: list[str] | None = None, seed: int = 0) -> list[Unit]:
        """`count` units spread over the given SKUs/warehouses/statuses; same seed, same units."""
        rng = random.Random(seed)
        with self._lock:
            account = self.account(app_id)
            warehouse_names = warehouses or [account.warehouses[0]["name"]]
            status_names = statuses or ["Available"]
            specs = [{"sku": rng.choice(skus), "esn": "35" + "".join(rng.choices("0123456789", k=13)),
                      "warehouse": rng.choice(warehouse_names), "status": rng.choice(status_names)}
                     for _ in range(count)]
            return self.add_units(app_id, specs)

    def _units(self, account: Account, unit_ids: Iterable[int]) -> list[Unit]:
        missing = [uid for uid in unit_ids if uid not in account.units]
        if missing:
            raise SandboxError(404, [f"unknown unit ids {missing}"])
        return [account.units[uid] for uid in unit_ids]

    def commit_units(self, app_id: str, unit_ids: list[int], order_id: int | None) -> None:
        """Commit units to an order (None uncommits); the order's status must allow commitment."""
        with self._lock:
            account = self.account(app_id)
            if order_id is not None:
                order = self._order(account, order_id)
                if not account.order_statuses[order.status]["allow_commitment"]:
                    raise SandboxError(422, [f"status {order.status!r} does not allow commitment"])
            stamp = self._tick()
            for unit in self._units(account, unit_ids):
                unit.order_id, unit.updated_at = order_id, stamp

    def move_units(self, app_id: str, unit_ids: list[int], *, warehouse: str | None = None,
                   location: str | None = None) -> None:
        with self._lock:
            account = self.account(app_id)
            if warehouse is not None and warehouse not in {w["name"] for w in account.warehouses}:
                raise SandboxError(422, [f"unknown warehouse {warehouse!r}"])
            stamp = self._tick()
            for unit in self._units(account, unit_ids):
                unit.warehouse = warehouse if warehouse is not None else unit.warehouse
                unit.location = location if location is not None else unit.location
                unit.updated_at = stamp

    def set_unit_status(self, app_id: str, unit_ids: list[int], status: str) -> None:
        with self._lock:
            account = self.account(app_id)
            if status not in account.inventory_statuses:
                raise SandboxError(422, [f"unknown inventory status {status!r}"])
            stamp = self._tick()
            for unit in self._units(account, unit_ids):
                unit.status, unit.updated_at = status, stamp

    # --- reads behind the API -----------------------------------------------------------------
    def list_units(self, app_id: str, filters: dict[str, str]) -> list[dict[str, Any]]:
        """`status`, `esn`, `location`, `updated_at_gt` apply; anything else is ignored."""
        with self._lock:
            units = sorted(self.account(app_id).units.values(), key=lambda u: u.id)
            if "status" in filters:
                units = [u for u in units if u.status == filters["status"]]
            if "esn" in filters:
                units = [u for u in units if u.esn == filters["esn"]]
            if "location" in filters:
                units = [u for u in units if u.location == filters["location"]]
            if "updated_at_gt" in filters:
                since = _parse_time(filters["updated_at_gt"])
                units = [u for u in units if u.updated_at > since]
            return [u.to_json() for u in units]

    def stock_levels(self, app_id: str, inventory_statuses: list[str]) -> list[dict[str, Any]]:
        """As WholeCell documents it (§3.1): on_hand = uncommitted units (in the statuses, if
        any given); outstanding = uncommitted item quantity on open orders of the last 90 days;
        available = on_hand - outstanding; one row per catalog SKU."""
        with self._lock:
            account = self.account(app_id)
            on_hand = dict.fromkeys(account.catalog, 0)
            for unit in account.units.values():
                if unit.sku and unit.order_id is None and (not inventory_statuses
                                                           or unit.status in inventory_statuses):
                    on_hand[unit.sku] += 1
            outstanding = dict.fromkeys(account.catalog, 0)
            cutoff = datetime.now(UTC) - OUTSTANDING_WINDOW
            for order in account.orders.values():
                if not account.order_statuses[order.status]["open"] or order.created_at < cutoff:
                    continue
                ordered: dict[str, int] = {}
                for item in order.order_items:
                    if item["sku"] in outstanding:
                        ordered[item["sku"]] = ordered.get(item["sku"], 0) + item["quantity"]
                for sku, quantity in ordered.items():
                    committed = sum(1 for u in account.units.values()
                                    if u.order_id == order.id and u.sku == sku)
                    outstanding[sku] += max(0, quantity - committed)
            return [{"sku": sku, "on_hand": on_hand[sku], "outstanding": outstanding[sku],
                     "available": on_hand[sku] - outstanding[sku]} for sku in sorted(account.catalog)]

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
        """`updated_at_gt`, `channel`, `status` apply; anything else is ignored."""
        with self._lock:
            orders = sorted(self.account(app_id).orders.values(), key=lambda o: o.id)
            if "channel" in filters:
                orders = [o for o in orders if o.channel == filters["channel"]]
            if "status" in filters:
                orders = [o for o in orders if o.status == filters["status"]]
            if "updated_at_gt" in filters:
                since = _parse_time(filters["updated_at_gt"])
                orders = [o for o in orders if o.updated_at > since]
            return [o.to_json() for o in orders]

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
            order.channel = body.get("channel", order.channel)
            order.status = body.get("status", order.status)
            if "customer" in body:
                order.customer = self._customer(account, body["customer"])
            if "shipping_address" in body:
                address = body["shipping_address"]
                order.shipping_address = {k: address.get(k) for k in ADDRESS_FIELDS} if address else None
            if items is not None:
                order.order_items = items
            order.updated_at = self._tick()
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
                    "request_counts": dict(a.request_counts), "webhook_url": a.webhook_url,
                    "webhook_deliveries": [dict(d) for d in a.deliveries],
                } for a in accounts},
            }


def _parse_time(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise SandboxError(422, [f"invalid time {value!r}"]) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=ACCOUNT_TZ)
