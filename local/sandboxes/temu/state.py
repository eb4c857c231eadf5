"""State and behaviour of the Temu sandbox: shops, listings, orders, tokens, shipments.

Everything the router answers is computed here, under one lock, so the HTTP layer
(`app.py`) only does the gateway checks and the envelope. Admin operations are plain
methods, so in-process tests can seed and inspect without HTTP.

Behaviour follows the reference (`temu-open-api.md`). Every answer is cut to the keys Temu's
documents list and checked against their JSON types (`local.temu_contract`, fixtures in
tests/contract/temu/), so the sandbox cannot share a belief the documents contradict. Where the
reference names no error code for a rule the sandbox enforces, it answers a code of the right
domain, marked "sandbox-chosen" below; clients classify those as fix-request like any unknown code.
"""

from __future__ import annotations

import itertools
import random
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from local import temu_contract
from local.sandboxes.common import FaultInjector

DEFAULT_APP_KEY = "sandbox-app-key"
DEFAULT_APP_SECRET = "sandbox-app-secret"
MAX_PAGE_SIZE = 100
CODE_TTL_SECONDS = 600
TOKEN_TTL_SECONDS = 365 * 86400
STOCK_MAX = 1_000_000
REGION_IDS = {"US": 211, "EU": 76, "GLOBAL": 128}
REGION_NAMES = {
    "US": ("United States", "California", "Los Angeles", "90001"),
    "EU": ("Germany", "Berlin", "Berlin", "10115"),
    "GLOBAL": ("Mexico", "Ciudad de Mexico", "Mexico", "01000"),
}
CARRIERS: dict[str, list[tuple[int, str]]] = {
    "US": [(100000001, "USPS"), (100000002, "UPS"), (100000003, "FedEx")],
    "EU": [(200000001, "DHL"), (200000002, "DPD"), (200000003, "Royal Mail")],
    "GLOBAL": [(300000001, "DHL Express"), (300000002, "Estafeta")],
}
# SKU status (status4VO) and the four-digit sub-status (skuShowSubStatus4VO), reference §5.5.
ACTIVE, INACTIVE, DELETED = 2, 3, 6
ON_SALE, OFF_MANUAL, SOLD_OUT, DELETED_SUB = 2001, 3002, 3003, 6001
# subStatus4VO is another enum (StatusFilterEnum, 1..14); retrieve's statuses are names.
STATUS_FILTER = {ON_SALE: 8, OFF_MANUAL: 2, SOLD_OUT: 1, DELETED_SUB: 13}
STATUS_NAME = {ACTIVE: "ACTIVE", INACTIVE: "INACTIVE", DELETED: "DELETED"}
SUB_STATUS_NAME = {ON_SALE: "ACTIVE", OFF_MANUAL: "CLOSE", SOLD_OUT: "OUT_OF_STOCK", DELETED_SUB: "DELETE_BY_MERCHANT"}
CURRENCY_EXPONENT = {"USD": 2, "EUR": 2, "MXN": 2, "JPY": 0}
STATUS_NAMES = {
    "active": (ACTIVE, ON_SALE),
    "inactive": (INACTIVE, OFF_MANUAL),
    "sold_out": (INACTIVE, SOLD_OUT),
    "deleted": (DELETED, DELETED_SUB),
}
# Order statuses, reference §5.1.
PENDING, UN_SHIPPING, CANCELED, SHIPPED, DELIVERED = 1, 2, 3, 4, 5
PARTIALLY_SHIPPED, PARTIALLY_DELIVERED = 41, 51
BLOCKING_LABELS = {  # parent label → (error code, confirmAcceptance that overrides it)
    "pending_buyer_address_change": (120012023, "DENY_ADDRESS_CHANGE"),
    "pending_buyer_cancellation": (120012030, "DENY_CANCELLATION"),
    "pending_risk_control_alert": (120012031, "DENY_PARENT_RISK_WARNING"),
}


def _mistype(result: Any, path: str) -> Any:
    """A copy of `result` whose values at `path` (`a[].b` notation) have another JSON type:
    a string becomes a number, anything else its text."""
    steps = path.replace("[]", ".[]").split(".")

    def walk(node: Any, rest: list[str]) -> Any:
        if not rest:
            return 12345 if isinstance(node, str) else str(node)
        step, more = rest[0], rest[1:]
        if step == "[]" and isinstance(node, list):
            return [walk(item, more) for item in node]
        if isinstance(node, dict) and step in node:
            return {**node, step: walk(node[step], more)}
        return node

    return walk(result, [s for s in steps if s])


class SandboxError(Exception):
    """A failure answered in the Temu envelope (`success: false`)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class SkuRecord:
    goods_id: int
    sku_id: int
    sku_sn: str
    stock: int
    status: int = ACTIVE
    sub_status: int = ON_SALE
    spec_name: str = ""
    price: str = "99.00"
    crt_time: int = 0
    status_change_ms: int = 0


@dataclass
class GoodsRecord:
    goods_id: int
    goods_name: str
    out_goods_sn: str
    sku_ids: list[int]
    crt_time: int


@dataclass
class Shop:
    mall_id: int
    region: str
    region_id: int
    mall_type: int = 100
    goods: dict[int, GoodsRecord] = field(default_factory=dict)
    skus: dict[int, SkuRecord] = field(default_factory=dict)
    warehouse_ids: list[str] = field(default_factory=list)

    @property
    def carriers(self) -> dict[int, str]:
        return dict(CARRIERS[self.region])


@dataclass
class ItemRecord:
    order_sn: str
    goods_id: int
    sku_id: int
    original_quantity: int
    canceled: int = 0
    status: int = PENDING
    shipping_time: int | None = None

    @property
    def quantity(self) -> int:
        return self.original_quantity - self.canceled


@dataclass
class OrderRecord:
    parent_order_sn: str
    mall_id: int
    items: list[ItemRecord]
    created: int
    update_time: int
    address: dict[str, Any]
    status: int = PENDING
    labels: dict[str, int] = field(default_factory=dict)
    shipping_time: int | None = None
    cancelled_during_pending: bool = False


@dataclass
class TokenRecord:
    token: str
    mall_id: int
    app_key: str
    scopes: list[str]
    expired_time: int
    revoked: bool = False


@dataclass
class CodeRecord:
    code: str
    mall_id: int
    app_key: str
    scopes: list[str]
    expires_at: float
    used: bool = False


@dataclass
class PackageRecord:
    package_sn: str
    mall_id: int
    carrier_id: int
    tracking_number: str
    warehouse_id: str
    lines: list[dict[str, Any]]
    sub_packages: list[dict[str, Any]]
    send_type: int


def _mask(text: str) -> str:
    """Temu-style masking: keep each word's first character, star the rest."""
    return " ".join(word[:1] + "*" * (len(word) - 1) for word in text.split(" "))


def _int(body: dict[str, Any], key: str, *, required: bool = False, default: int | None = None) -> int | None:
    value = body.get(key)
    if value is None:
        if required:
            raise SandboxError(3000000, f"BAD_PARAMS: {key} is required")
        return default
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).lstrip("-").isdigit():
        raise SandboxError(3000000, f"BAD_PARAMS: {key} must be an integer")
    return int(value)


def _page_size(body: dict[str, Any], code: int, default: int) -> int:
    size = _int(body, "pageSize", default=default) or default
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise SandboxError(code, f"pageSize must be between 1 and {MAX_PAGE_SIZE}")
    return size


class SandboxState:
    """The whole sandbox world. Every public method takes the lock."""

    def __init__(
        self, app_keys: dict[str, str] | None = None, rate_limit: float | None = None, seed: int | None = None
    ) -> None:
        self.lock = threading.RLock()
        self.app_keys = dict(app_keys or {DEFAULT_APP_KEY: DEFAULT_APP_SECRET})
        self.seed = seed
        self.faults = FaultInjector(seed=seed)
        self.rate_limit = rate_limit
        self.reset()

    # --- admin: lifecycle ----------------------------------------------------------------------

    def reset(self) -> None:
        """Forget every shop, order, token, shipment, counter and fault."""
        with self.lock:
            self.rng = random.Random(self.seed)
            self.shops: dict[int, Shop] = {}
            self.orders: dict[str, OrderRecord] = {}
            self.tokens: dict[str, TokenRecord] = {}
            self.codes: dict[str, CodeRecord] = {}
            self.packages: dict[str, PackageRecord] = {}
            self.used_tracking: dict[tuple[int, str], str] = {}  # (mall, tracking) → packageSn
            self.stock_edits: list[dict[str, Any]] = []
            self.used_unique_keys: set[tuple[int, str]] = set()
            self.request_counts: dict[str, int] = {}
            self.error_counts: dict[int, int] = {}
            self._recent: deque[float] = deque()
            self._ids = itertools.count(1)
            self.mistyped_fields: dict[str, str] = {}
            self.faults.clear()

    def configure_rate_limit(self, rate: float | None) -> None:
        """Requests per second across all shops of all apps; None = unlimited."""
        with self.lock:
            self.rate_limit = rate
            self._recent.clear()

    def _next(self) -> int:
        return next(self._ids)

    @staticmethod
    def now() -> int:
        return int(time.time())

    # --- admin: shops and listings ------------------------------------------------------------

    def create_shop(
        self,
        *,
        region: str = "US",
        mall_id: int | None = None,
        goods: Iterable[dict[str, Any]] = (),
        generate: dict[str, Any] | None = None,
        scopes: list[str] | None = None,
        app_key: str | None = None,
    ) -> dict[str, Any]:
        """Create a shop with explicit goods and/or generated ones; returns its summary and a token.

        Explicit goods: `{"goodsName", "goodsId"?, "outGoodsSn"?, "skus": [{"skuSn", "stock",
        "status": active|inactive|sold_out|deleted, "skuId"?, "specName"?, "price"?}]}`.
        Generated: `{"goods": N, "skus_per_goods": M, "seed": S}` (deterministic per seed).
        """
        region = region.upper()
        if region not in REGION_IDS:
            raise ValueError(f"unknown region {region!r}")
        with self.lock:
            mall_id = mall_id or 634418210000000 + self._next()
            if mall_id in self.shops:
                raise ValueError(f"shop {mall_id} exists")
            shop = Shop(
                mall_id=mall_id,
                region=region,
                region_id=REGION_IDS[region],
                warehouse_ids=[f"WH-{mall_id:017d}"[:20], f"WH-{mall_id + 1:017d}"[:20]],
            )
            self.shops[mall_id] = shop
            for spec in goods:
                self._add_goods(shop, spec)
            if generate:
                self._generate_goods(
                    shop,
                    int(generate.get("goods", 1)),
                    int(generate.get("skus_per_goods", 1)),
                    generate.get("seed", self.seed),
                )
            token = self.issue_token(mall_id, scopes=scopes, app_key=app_key)
            return {
                "mallId": mall_id,
                "region": region,
                "regionId": shop.region_id,
                "accessToken": token,
                "goodsCount": len(shop.goods),
                "skuCount": len(shop.skus),
                "warehouseIds": list(shop.warehouse_ids),
            }

    def add_goods(self, mall_id: int, goods: Iterable[dict[str, Any]]) -> list[int]:
        """List more goods in an existing shop (specs as in `create_shop`); returns their goods ids."""
        with self.lock:
            shop = self._shop(mall_id)
            return [self._add_goods(shop, spec).goods_id for spec in goods]

    def _add_goods(self, shop: Shop, spec: dict[str, Any]) -> GoodsRecord:
        goods_id = int(spec.get("goodsId") or 601099510000000 + self._next())
        now = self.now()
        record = GoodsRecord(
            goods_id=goods_id,
            goods_name=str(spec.get("goodsName", f"Goods {goods_id}")),
            out_goods_sn=str(spec.get("outGoodsSn", "")),
            sku_ids=[],
            crt_time=now,
        )
        shop.goods[goods_id] = record
        for sku_spec in spec.get("skus", []):
            status, sub = STATUS_NAMES[str(sku_spec.get("status", "active"))]
            sku = SkuRecord(
                goods_id=goods_id,
                sku_id=int(sku_spec.get("skuId") or 17592186040000 + self._next()),
                sku_sn=str(sku_spec.get("skuSn", "")),
                stock=int(sku_spec.get("stock", 0)),
                status=status,
                sub_status=sub,
                spec_name=str(sku_spec.get("specName", "")),
                price=str(sku_spec.get("price", "99.00")),
                crt_time=now,
                status_change_ms=now * 1000,
            )
            shop.skus[sku.sku_id] = sku
            record.sku_ids.append(sku.sku_id)
        return record

    def _generate_goods(self, shop: Shop, goods: int, skus_per_goods: int, seed: int | None) -> None:
        rng = random.Random(seed)
        colors = ["Black", "White", "Blue", "Red", "Green", "Gold"]
        for g in range(goods):
            skus = []
            for s in range(skus_per_goods):
                stock = rng.randint(0, 20)
                skus.append(
                    {
                        "skuSn": f"GEN-{shop.mall_id % 10000:04d}-{g:04d}-{s:02d}",
                        "stock": stock,
                        "status": "active" if stock else "sold_out",
                        "specName": f"{colors[s % len(colors)]}, {64 * (1 + s // len(colors))}GB",
                        "price": f"{rng.randint(100, 900)}.00",
                    }
                )
            self._add_goods(
                shop, {"goodsName": f"Renewed Phone Model {g}", "outGoodsSn": f"GEN-{g:04d}", "skus": skus}
            )

    def set_sku(
        self,
        mall_id: int,
        sku_id: int,
        *,
        stock: int | None = None,
        status: str | None = None,
        sku_sn: str | None = None,
    ) -> None:
        """Change a SKU as Seller Center or another tool would."""
        with self.lock:
            sku = self._shop(mall_id).skus[sku_id]
            if stock is not None:
                self._set_stock(sku, stock)
            if status is not None:
                sku.status, sku.sub_status = STATUS_NAMES[status]
                sku.status_change_ms = self.now() * 1000
            if sku_sn is not None:
                sku.sku_sn = sku_sn

    def stock(self, mall_id: int) -> dict[int, int]:
        with self.lock:
            return {sku_id: sku.stock for sku_id, sku in self._shop(mall_id).skus.items()}

    def _shop(self, mall_id: int) -> Shop:
        try:
            return self.shops[int(mall_id)]
        except KeyError:
            raise KeyError(f"unknown shop {mall_id}") from None

    # --- admin: tokens and codes ----------------------------------------------------------------

    def issue_token(
        self,
        mall_id: int,
        *,
        scopes: list[str] | None = None,
        app_key: str | None = None,
        expires_in: int = TOKEN_TTL_SECONDS,
    ) -> str:
        """A new token for the shop; it replaces (revokes) the shop's earlier tokens for that app."""
        with self.lock:
            self._shop(mall_id)
            app_key = app_key or next(iter(self.app_keys))
            for old in self.tokens.values():
                if old.mall_id == mall_id and old.app_key == app_key:
                    old.revoked = True
            token = "upl" + secrets.token_hex(26)
            self.tokens[token] = TokenRecord(
                token=token,
                mall_id=mall_id,
                app_key=app_key,
                scopes=list(scopes if scopes is not None else API_TYPES),
                expired_time=self.now() + expires_in,
            )
            return token

    def current_token(self, mall_id: int) -> str | None:
        with self.lock:
            live = [t for t in self.tokens.values() if t.mall_id == mall_id and not t.revoked]
            return live[-1].token if live else None

    def expire_token(self, token: str, expired_time: int | None = None) -> None:
        with self.lock:
            self.tokens[token].expired_time = expired_time if expired_time is not None else self.now() - 1

    def revoke_token(self, token: str) -> None:
        with self.lock:
            self.tokens[token].revoked = True

    def issue_code(
        self,
        mall_id: int,
        *,
        scopes: list[str] | None = None,
        app_key: str | None = None,
        expires_in: float = CODE_TTL_SECONDS,
    ) -> str:
        """A one-time authorization code, as Seller Center issues after the seller authorizes."""
        with self.lock:
            self._shop(mall_id)
            code = secrets.token_hex(16)
            self.codes[code] = CodeRecord(
                code=code,
                mall_id=mall_id,
                app_key=app_key or next(iter(self.app_keys)),
                scopes=list(scopes if scopes is not None else API_TYPES),
                expires_at=time.time() + expires_in,
            )
            return code

    # --- admin: orders --------------------------------------------------------------------------

    def add_order(
        self,
        mall_id: int,
        lines: list[dict[str, Any]],
        *,
        status: int = PENDING,
        parent_order_sn: str | None = None,
        address: dict[str, Any] | None = None,
        labels: dict[str, int] | None = None,
    ) -> str:
        """Place an order of `lines` ([{"skuId", "quantity"}]) and move it to `status`."""
        with self.lock:
            shop = self._shop(mall_id)
            if not lines:
                raise ValueError("an order needs at least one line")
            base = 10384726150000000 + self._next() * 1000
            sn = parent_order_sn or f"PO-{shop.region_id}-{base}"
            if sn in self.orders:
                raise ValueError(f"order {sn} exists")
            items = []
            for n, line in enumerate(lines):
                sku = shop.skus[int(line["skuId"])]
                # Temu takes a buyer's units from the listing's stock when the order is placed
                # (orderList[].inventoryDeductionWarehouseId names where they were deducted)
                sku.stock = max(0, sku.stock - int(line.get("quantity", 1)))
                items.append(
                    ItemRecord(
                        order_sn=f"{shop.region_id}-{base + 8 + n}",
                        goods_id=sku.goods_id,
                        sku_id=sku.sku_id,
                        original_quantity=int(line.get("quantity", 1)),
                    )
                )
            now = self.now()
            order = OrderRecord(
                parent_order_sn=sn,
                mall_id=mall_id,
                items=items,
                created=now,
                update_time=now,
                address=address or self._fake_address(shop),
                labels=dict(labels or {}),
            )
            self.orders[sn] = order
            if status != PENDING:
                self.set_order_status(sn, status)
            return sn

    def generate_orders(
        self, mall_id: int, count: int, *, status: int = UN_SHIPPING, seed: int | None = None
    ) -> list[str]:
        """`count` orders of 1-2 random active SKUs, deterministic per seed."""
        with self.lock:
            rng = random.Random(seed if seed is not None else self.seed)
            active = sorted(s.sku_id for s in self._shop(mall_id).skus.values() if s.status != DELETED)
            if not active:
                raise ValueError("the shop has no SKUs to order")
            return [
                self.add_order(
                    mall_id,
                    [
                        {"skuId": sku, "quantity": rng.randint(1, 2)}
                        for sku in rng.sample(active, min(len(active), rng.randint(1, 2)))
                    ],
                    status=status,
                )
                for _ in range(count)
            ]

    def _fake_address(self, shop: Shop) -> dict[str, Any]:
        country, state, city, post = REGION_NAMES[shop.region]
        n = self.rng.randint(1, 999)
        return {
            "receiptName": f"Jordan Buyer{n}",
            "receiptAdditionalName": "",
            "mobile": f"213555{n:04d}",
            "backupMobile": "",
            "mail": f"buyer{n}@relay.temu.example",
            "regionName1": country,
            "regionName2": state,
            "regionName3": city,
            "regionName4": "",
            "addressLine1": f"{n} Main Street",
            "addressLine2": "Apt 4",
            "addressLine3": "",
            "postCode": post,
            "taxCode": "",
            "taxCodeType": 0,  # an integer in the documents (values undocumented)
            "addressExtra": {"firstName": "Jordan", "lastName": f"Buyer{n}"},
        }

    def set_order_status(self, parent_order_sn: str, status: int) -> None:
        """Move every live item (and so the parent) to `status`; 3 cancels the whole order."""
        with self.lock:
            order = self.orders[parent_order_sn]
            for item in order.items:
                if item.status == CANCELED:
                    continue
                if status == CANCELED:
                    item.canceled = item.original_quantity
                    order.cancelled_during_pending = order.status == PENDING
                if status in (SHIPPED, DELIVERED) and item.shipping_time is None:
                    item.shipping_time = self.now()
                item.status = status
            self._touch(order)

    def advance_order(self, parent_order_sn: str) -> int:
        """The next step of the happy path: 1 → 2 → 4 → 5."""
        with self.lock:
            steps = {
                PENDING: UN_SHIPPING,
                UN_SHIPPING: SHIPPED,
                PARTIALLY_SHIPPED: SHIPPED,
                SHIPPED: DELIVERED,
                PARTIALLY_DELIVERED: DELIVERED,
            }
            order = self.orders[parent_order_sn]
            if order.status not in steps:
                raise ValueError(f"order in status {order.status} does not advance")
            self.set_order_status(parent_order_sn, steps[order.status])
            return order.status

    def cancel_line(self, parent_order_sn: str, order_sn: str, quantity: int | None = None) -> None:
        """Cancel `quantity` units (default all) of one item before shipment."""
        with self.lock:
            order = self.orders[parent_order_sn]
            item = next(i for i in order.items if i.order_sn == order_sn)
            if item.status in (SHIPPED, DELIVERED):
                raise ValueError("a shipped item cannot be cancelled")
            item.canceled = min(item.original_quantity, item.canceled + (quantity or item.quantity))
            if item.quantity == 0:
                item.status = CANCELED
            self._touch(order)

    def set_order_labels(self, parent_order_sn: str, labels: dict[str, int]) -> None:
        with self.lock:
            order = self.orders[parent_order_sn]
            order.labels.update(labels)
            self._touch(order)

    def _touch(self, order: OrderRecord) -> None:
        """Recompute the parent status from its items and bump updateTime (strictly increasing)."""
        live = {i.status for i in order.items if i.status != CANCELED}
        if not live:
            order.status = CANCELED
        elif len(live) == 1:
            order.status = live.pop()
        elif DELIVERED in live:
            order.status = PARTIALLY_DELIVERED
        elif SHIPPED in live:
            order.status = PARTIALLY_SHIPPED
        else:
            order.status = min(live)
        if order.status in (SHIPPED, PARTIALLY_SHIPPED, DELIVERED) and order.shipping_time is None:
            order.shipping_time = self.now()
        order.update_time = max(self.now(), order.update_time + 1)

    # --- admin: inspection ------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Everything a test or the demo wants to assert on, as JSON-ready data."""
        with self.lock:
            return {
                "shops": [
                    {
                        "mallId": s.mall_id,
                        "region": s.region,
                        "goodsCount": len(s.goods),
                        "stock": {str(k): v.stock for k, v in s.skus.items()},
                        "currentToken": self.current_token(s.mall_id),
                    }
                    for s in self.shops.values()
                ],
                "stockEditCount": len(self.stock_edits),
                "stockEdits": list(self.stock_edits),
                "shipments": [self._package_json(p) for p in self.packages.values()],
                "orders": [self._order_json(o) for o in self.orders.values()],
                "requestCounts": dict(self.request_counts),
                "errorCounts": {str(k): v for k, v in self.error_counts.items()},
                "faults": self.faults.snapshot(),
                "rateLimit": self.rate_limit,
            }

    @staticmethod
    def _package_json(p: PackageRecord) -> dict[str, Any]:
        return {
            "packageSn": p.package_sn,
            "mallId": p.mall_id,
            "carrierId": p.carrier_id,
            "trackingNumber": p.tracking_number,
            "warehouseId": p.warehouse_id,
            "lines": p.lines,
            "subPackages": p.sub_packages,
            "sendType": p.send_type,
        }

    # --- gateway support ------------------------------------------------------------------------

    def count_request(self, api_type: str) -> None:
        with self.lock:
            self.request_counts[api_type] = self.request_counts.get(api_type, 0) + 1

    def count_error(self, code: int) -> None:
        with self.lock:
            self.error_counts[code] = self.error_counts.get(code, 0) + 1

    def rate_limited(self) -> bool:
        """Sliding one-second window over all router requests."""
        with self.lock:
            if self.rate_limit is None:
                return False
            now = time.monotonic()
            while self._recent and now - self._recent[0] >= 1.0:
                self._recent.popleft()
            if len(self._recent) >= self.rate_limit:
                return True
            self._recent.append(now)
            return False

    def authenticate(self, api_type: str, app_key: str, token: str | None) -> Shop:
        """Resolve the shop behind a token (or, for token creation, behind the one-time code)."""
        if not token:
            raise SandboxError(3000030, "access_token is missing")
        if api_type == "bg.open.accesstoken.create":
            code = self.codes.get(token)
            if code is None:
                raise SandboxError(110020002, "Invalid code, please check and try again")
            return self._shop(code.mall_id)
        record = self.tokens.get(token)
        if record is None:
            raise SandboxError(3000031, "access_token is invalid")
        if record.app_key != app_key:
            raise SandboxError(3000033, "access_token does not belong to this app_key")
        if record.revoked or record.expired_time <= self.now():
            raise SandboxError(3000034, "access_token is expired or have been refreshed, please re-authorize")
        if api_type not in record.scopes:
            raise SandboxError(3000032, "access_token don't have this api access")
        return self._shop(record.mall_id)

    def dispatch(self, api_type: str, shop: Shop, body: dict[str, Any]) -> Any:
        with self.lock:
            result = temu_contract.conform(api_type, API_TYPES[api_type](self, shop, body))
            problems = temu_contract.result_problems(api_type, result)
            if problems:  # a sandbox bug: its answer is not what Temu documents
                raise AssertionError(f"sandbox answer to {api_type} differs from the documents: {problems[:3]}")
            mistype = self.mistyped_fields.get(api_type)
            return result if mistype is None else _mistype(result, mistype)

    def mistype_field(self, api_type: str, path: str | None) -> None:
        """Answer `path` (e.g. `skuList[].stock`) with a value of another JSON type than the
        documented one, to prove a reader notices (None puts the documented type back)."""
        with self.lock:
            if path is None:
                self.mistyped_fields.pop(api_type, None)
            else:
                self.mistyped_fields[api_type] = path

    # --- API: authorization ---------------------------------------------------------------------

    def _token_info(self, shop: Shop, record: TokenRecord) -> dict[str, Any]:
        return {
            "mallId": shop.mall_id,
            "regionId": shop.region_id,
            "mallType": shop.mall_type,
            "expiredTime": record.expired_time,
            "apiScopeList": list(record.scopes),
            "appSubscribeEventCodeList": [],
            "appSubscribeStatus": 1,
            "authEventCodeList": [],
            "semiUniqueId": None,
        }

    def api_token_create(self, shop: Shop, body: dict[str, Any]) -> dict[str, Any]:
        code = self.codes.get(str(body.get("code") or ""))
        if (
            code is None
            or code.used
            or code.expires_at < time.time()
            or code.code != body.get("access_token")
            or code.app_key != body.get("app_key")
        ):
            raise SandboxError(110020002, "Invalid code, please check and try again")
        code.used = True
        token = self.issue_token(code.mall_id, scopes=code.scopes, app_key=code.app_key)
        return {
            "accessToken": token,
            **self._token_info(shop, self.tokens[token]),
            "associatedMallTokenList": [],
        }

    def api_token_info(self, shop: Shop, body: dict[str, Any]) -> dict[str, Any]:
        return self._token_info(shop, self.tokens[str(body["access_token"])])

    # --- API: listings ----------------------------------------------------------------------------

    def _live_goods_status(self, goods: GoodsRecord, shop: Shop) -> int:
        return 6 if all(shop.skus[s].status == DELETED for s in goods.sku_ids) else 1

    def api_goods_list(self, shop: Shop, body: dict[str, Any]) -> dict[str, Any]:
        page_no = _int(body, "pageNo", required=True) or 1
        size = _page_size(body, 150010003, MAX_PAGE_SIZE)
        wanted = _int(body, "goodsStatusFilterType", default=1)
        id_filter = {int(g) for g in body.get("goodsIdList") or []}
        goods = sorted(
            (
                g
                for g in shop.goods.values()
                if self._live_goods_status(g, shop) == wanted and (not id_filter or g.goods_id in id_filter)
            ),
            key=lambda g: g.goods_id,
        )
        page = goods[(page_no - 1) * size : page_no * size]
        return {
            "pageNo": page_no,
            "total": len(goods),
            "goodsList": [self._goods_json(g, shop) for g in page],
        }

    def _goods_json(self, goods: GoodsRecord, shop: Shop) -> dict[str, Any]:
        skus = [shop.skus[s] for s in goods.sku_ids]
        first = skus[0] if skus else None
        return {
            "goodsId": goods.goods_id,
            "goodsName": goods.goods_name,
            "outGoodsSn": goods.out_goods_sn,
            "outSkuSnList": [s.sku_sn for s in skus],
            "skuIdList": [s.sku_id for s in skus],
            "skuInfoList": [{"skuId": s.sku_id, "skuSn": s.sku_sn, "specList": []} for s in skus],
            "quantity": sum(s.stock for s in skus),
            "price": first.price if first else None,
            "currency": "USD" if shop.region == "US" else "EUR",
            "crtTime": goods.crt_time,
            "status4VO": self._live_goods_status(goods, shop),
            "subStatus4VO": STATUS_FILTER.get(first.sub_status) if first else None,
            "goodsShowSubStatus": first.sub_status if first else None,
        }

    def _sku_json(self, sku: SkuRecord, shop: Shop) -> dict[str, Any]:
        goods = shop.goods[sku.goods_id]
        return {
            "goodsId": sku.goods_id,
            "skuId": sku.sku_id,
            "skuSn": sku.sku_sn,
            "goodsName": goods.goods_name,
            "specName": sku.spec_name,
            "specList": [],
            "stock": sku.stock,
            "price": sku.price,
            "currency": "USD" if shop.region == "US" else "EUR",
            "crtTime": sku.crt_time,
            "status4VO": sku.status,
            "subStatus4VO": STATUS_FILTER.get(sku.sub_status),
            "skuShowSubStatus4VO": sku.sub_status,
            "goodsIsOnSale": 1 if sku.status == ACTIVE else 0,
            "skuStatusChangeTime": str(sku.status_change_ms),
        }

    def api_sku_list(self, shop: Shop, body: dict[str, Any]) -> dict[str, Any]:
        page_no = _int(body, "pageNo", required=True) or 1
        size = _page_size(body, 150010003, MAX_PAGE_SIZE)
        search = _int(body, "skuSearchType", required=True)
        wanted = _int(body, "skuStatusFilterType", required=True)
        sub = _int(body, "skuSubStatusFilterType")
        id_filter = {int(s) for s in body.get("skuIdList") or []}
        text = str(body.get("searchText") or "")
        skus = sorted(
            (
                s
                for s in shop.skus.values()
                if s.status == wanted
                and (s.status == ACTIVE) == (search == 2)
                and (sub is None or s.sub_status == sub)
                and (not id_filter or s.sku_id in id_filter)
                and (
                    not text
                    or text in (s.sku_sn, str(s.goods_id))
                    or text in shop.goods[s.goods_id].goods_name
                )
            ),
            key=lambda s: (s.goods_id, s.sku_id),
        )
        page = skus[(page_no - 1) * size : page_no * size]
        return {"pageNo": page_no, "total": len(skus), "skuList": [self._sku_json(s, shop) for s in page]}

    def api_sku_retrieve(self, shop: Shop, body: dict[str, Any]) -> dict[str, Any]:
        size = _page_size(body, 3000000, 25)
        names = {"ACTIVE": ACTIVE, "INACTIVE": INACTIVE, "DELETED": DELETED}
        search = str(body.get("skuSearchType") or "ACTIVE")
        if search not in names and search not in ("INCOMPLETE", "DRAFT"):
            raise SandboxError(3000000, "BAD_PARAMS: skuSearchType")
        token = str(body.get("pageToken") or "")
        try:
            offset = int(token[1:]) if token else 0
        except ValueError:
            raise SandboxError(3000000, "BAD_PARAMS: pageToken") from None
        ids = {int(s) for s in body.get("skuIdList") or []}
        sns = set(body.get("outSkuSnList") or [])
        skus = sorted(
            (
                s
                for s in shop.skus.values()
                if s.status == names.get(search)
                and (not ids or s.sku_id in ids)
                and (not sns or s.sku_sn in sns)
            ),
            key=lambda s: (s.goods_id, s.sku_id),
        )
        page = skus[offset : offset + size]
        more = offset + size < len(skus)
        return {
            "total": len(skus),
            "pagination": {
                "nextToken": f"t{offset + size}" if more else "",
                "previousToken": f"t{max(0, offset - size)}" if offset else "",
            },
            "skuList": [
                {
                    "goodsId": str(s.goods_id),
                    "skuId": str(s.sku_id),
                    "outSkuSn": s.sku_sn,
                    "outGoodsSn": shop.goods[s.goods_id].out_goods_sn,
                    "skuStatus": STATUS_NAME.get(s.status),
                    "skuSubStatus": SUB_STATUS_NAME.get(s.sub_status),
                    "goodsName": shop.goods[s.goods_id].goods_name,
                    "specName": s.spec_name,
                    "specList": [],
                    "goodsCreateTime": s.crt_time * 1000,
                    "skuStatusChangeTime": s.status_change_ms,
                }
                for s in page
            ],
        }

    def api_sku_stock(self, shop: Shop, body: dict[str, Any]) -> dict[str, Any]:
        goods_id = _int(body, "goodsId", required=True)
        goods = shop.goods.get(goods_id or 0)
        if goods is None:
            raise SandboxError(150010003, "invalid goodsId")
        ids = {int(s) for s in body.get("skuIdList") or []}
        sns = set(body.get("outSkuSnList") or [])
        infos = [
            {
                "skuId": s.sku_id,
                "outSkuSn": s.sku_sn,
                "selfOrdinaryStock": {"stock": s.stock, "stockType": 0},
            }
            for s in (shop.skus[i] for i in goods.sku_ids)
            if (not ids or s.sku_id in ids) and (not sns or s.sku_sn in sns)
        ]
        return {"stockList": [{"goodsId": goods.goods_id, "skuStockInfoList": infos}]}

    def _set_stock(self, sku: SkuRecord, stock: int) -> None:
        """Temu moves a SKU to sold out (3003) at zero stock and back on sale when restocked."""
        sku.stock = stock
        if stock == 0 and sku.status == ACTIVE:
            sku.status, sku.sub_status = INACTIVE, SOLD_OUT
            sku.status_change_ms = self.now() * 1000
        elif stock > 0 and sku.sub_status == SOLD_OUT:
            sku.status, sku.sub_status = ACTIVE, ON_SALE
            sku.status_change_ms = self.now() * 1000

    def api_stock_edit(self, shop: Shop, body: dict[str, Any]) -> dict[str, Any]:
        goods_id = _int(body, "goodsId", required=True) or 0
        targets, changes = body.get("skuStockTargetList"), body.get("skuStockChangeList")
        if targets and changes:
            raise SandboxError(150013003, "Only one inventory adjustment method can be used")
        entries = targets or changes
        if not entries or not isinstance(entries, list):
            raise SandboxError(150010003, "skuStockTargetList or skuStockChangeList is required")
        key = "stockTarget" if targets else "stockDiff"
        sku_ids = [_int(e, "skuId", required=True) for e in entries]
        if len(set(sku_ids)) != len(sku_ids):
            raise SandboxError(150013001, "Duplicate SKUs in one request")
        if changes:
            unique = str(body.get("requestUniqueKey") or "")
            if (shop.mall_id, unique) in self.used_unique_keys:
                raise SandboxError(150010003, "requestUniqueKey was already used")  # sandbox-chosen
            if unique:
                self.used_unique_keys.add((shop.mall_id, unique))
        goods = shop.goods.get(goods_id)
        if goods is None:
            raise SandboxError(150010003, "invalid goodsId")
        statuses = []
        for entry, sku_id in zip(entries, sku_ids, strict=True):
            amount = _int(entry, key, required=True) or 0
            sku = shop.skus.get(sku_id or 0)
            new = amount if targets else (sku.stock if sku else 0) + amount
            if not 0 <= new <= STOCK_MAX:
                raise SandboxError(150013002, "Stock quantity must be between 0 and 1,000,000")
            if sku is None or sku.goods_id != goods_id or sku.status == DELETED:
                statuses.append(
                    {
                        "skuId": sku_id,
                        "stockEditStatus": False,
                        "errorCode": 150010003,
                        "errorMsg": "invalid sku",
                    }
                )
                continue
            self._set_stock(sku, new)
            statuses.append({"skuId": sku_id, "stockEditStatus": True, "errorCode": None, "errorMsg": None})
        ok = all(s["stockEditStatus"] for s in statuses)
        self.stock_edits.append(
            {
                "mallId": shop.mall_id,
                "goodsId": goods_id,
                "mode": key,
                "entries": [{"skuId": i, key: e.get(key)} for i, e in zip(sku_ids, entries, strict=True)],
            }
        )
        return {
            "goodsId": goods_id,
            "operateResult": ok,
            "msg": "success" if ok else "partial success",
            "skuStockEditStatusInfoList": statuses,
        }

    # --- API: orders --------------------------------------------------------------------------------

    def _order_json(self, order: OrderRecord, *, detail: bool = False) -> dict[str, Any]:
        shop = self.shops[order.mall_id]
        parent: dict[str, Any] = {
            "parentOrderSn": order.parent_order_sn,
            "parentOrderStatus": order.status,
            "parentOrderTime": order.created,
            "parentConfirmTime": order.created,
            "expectShipLatestTime": order.created + 3 * 86400,
            "latestDeliveryTime": order.created + 10 * 86400,
            "parentShippingTime": order.shipping_time,
            "updateTime": order.update_time,
            "regionId": shop.region_id,
            "siteId": 100,
            "parentOrderLabel": [{"name": k, "value": v} for k, v in sorted(order.labels.items())],
            "fulfillmentWarning": [],
            "hasShippingFee": False,
            "orderPaymentType": "PPD",
            "shippingMethod": 1,
        }
        if detail:
            parent.update({f"regionName{n}": order.address.get(f"regionName{n}") for n in (1, 2, 3)})
        items = []
        for item in order.items:
            sku = shop.skus[item.sku_id]
            entry = {
                "orderSn": item.order_sn,
                "goodsId": item.goods_id,
                "skuId": item.sku_id,
                "quantity": item.quantity,
                "originalOrderQuantity": item.original_quantity,
                "canceledQuantityBeforeShipment": item.canceled,
                "orderStatus": item.status,
                "isCancelledDuringPending": order.cancelled_during_pending,
                "goodsName": shop.goods[item.goods_id].goods_name,
                "spec": sku.spec_name,
                "fulfillmentType": "fulfillBySeller",
                "fulfillmentWarning": [],
                "orderLabel": [],
                "orderPaymentType": "PPD",
                "orderCreateTime": order.created,
                "orderShippingTime": item.shipping_time,
                "productList": [
                    {
                        "productId": item.goods_id,
                        "productSkuId": item.sku_id,
                        "soldFactor": 1,
                        "extCode": sku.sku_sn,
                    }
                ],
            }
            if detail:
                entry["packageSnInfo"] = [
                    {"packageSn": p.package_sn, "packageDeliveryType": 1, "callSuccess": True}
                    for p in self.packages.values()
                    if any(line["orderSn"] == item.order_sn for line in p.lines)
                ]
            items.append(entry)
        return {"parentOrderMap": parent, "orderList": items}

    def api_order_list(self, shop: Shop, body: dict[str, Any]) -> dict[str, Any]:
        page_number = _int(body, "pageNumber", default=1) or 1
        size = _page_size(body, 3000000, 10)
        status = _int(body, "parentOrderStatus", default=0)
        sns = set(body.get("parentOrderSnList") or [])
        if len(sns) > 20:
            raise SandboxError(3000000, "BAD_PARAMS: parentOrderSnList holds at most 20")
        windows = []
        for start_key, end_key, attr in (
            ("updateAtStart", "updateAtEnd", "update_time"),
            ("createAfter", "createBefore", "created"),
        ):
            start, end = _int(body, start_key), _int(body, end_key)
            if (start is None) != (end is None):
                raise SandboxError(140020013, f"{end_key if start is not None else start_key} not passed in")
            if start is not None and end is not None:
                windows.append((attr, start, end))
        sort_attr = {"updateTime": "update_time", "createTime": "created"}.get(
            str(body.get("sortby") or "createTime")
        )
        if sort_attr is None:
            raise SandboxError(3000000, "BAD_PARAMS: sortby")
        orders = [
            o
            for o in self.orders.values()
            if o.mall_id == shop.mall_id
            and (not status or o.status == status)
            and (not sns or o.parent_order_sn in sns)
            and all(lo <= getattr(o, attr) <= hi for attr, lo, hi in windows)
        ]
        orders.sort(key=lambda o: (getattr(o, sort_attr), o.parent_order_sn), reverse=True)
        page = orders[(page_number - 1) * size : page_number * size]
        return {"totalItemNum": len(orders), "pageItems": [self._order_json(o) for o in page]}

    def _own_order(self, shop: Shop, body: dict[str, Any]) -> OrderRecord:
        order = self.orders.get(str(body.get("parentOrderSn") or ""))
        if order is None or order.mall_id != shop.mall_id:
            raise SandboxError(140020002, "The order does not exist")
        return order

    def api_order_detail(self, shop: Shop, body: dict[str, Any]) -> dict[str, Any]:
        return self._order_json(self._own_order(shop, body), detail=True)

    def _address(self, shop: Shop, body: dict[str, Any], *, masked: bool) -> dict[str, Any]:
        order = self._own_order(shop, body)
        if order.status in (PENDING, CANCELED):
            raise SandboxError(
                180020003, "The address is not available for this order status"
            )  # sandbox-chosen
        address = dict(order.address)
        if not masked:
            return address
        for key in (
            "receiptName",
            "receiptAdditionalName",
            "addressLine1",
            "addressLine2",
            "addressLine3",
            "mobile",
            "backupMobile",
        ):
            if address.get(key):
                address[key] = _mask(str(address[key]))
        address["addressLineAll"] = ", ".join(
            str(address[k]) for k in ("addressLine1", "addressLine2", "addressLine3") if address.get(k)
        )
        address["addressExtra"] = {k: _mask(str(v)) for k, v in (address.get("addressExtra") or {}).items()}
        address["warning"] = {"isRestriction": False, "reason": None}
        return address

    def api_shipping_info(self, shop: Shop, body: dict[str, Any]) -> dict[str, Any]:
        return self._address(shop, body, masked=True)

    def api_decrypt_shipping_info(self, shop: Shop, body: dict[str, Any]) -> dict[str, Any]:
        address = self._address(shop, body, masked=False)
        address["addressLineAll"] = ", ".join(
            str(address[k]) for k in ("addressLine1", "addressLine2", "addressLine3") if address.get(k)
        )
        return address

    def api_order_amount(self, shop: Shop, body: dict[str, Any]) -> dict[str, Any]:
        order = self._own_order(shop, body)
        currency = "USD" if shop.region == "US" else "EUR"

        def minor(price: str) -> int:  # money of the order APIs: an integer in the currency's minor unit
            return int(Decimal(price).scaleb(CURRENCY_EXPONENT[currency]))

        lines = [
            {
                "orderSn": i.order_sn,
                "quantity": i.original_quantity,
                "unitRetailPrice": {"amount": minor(shop.skus[i.sku_id].price), "currency": currency},
            }
            for i in order.items
        ]
        total = sum(minor(shop.skus[i.sku_id].price) * i.quantity for i in order.items)
        return {
            "parentOrderMap": {
                "parentOrderSn": order.parent_order_sn,
                "retailPriceTotal": {"amount": total, "currency": currency},
            },
            "orderList": lines,
            "warning": [],
        }

    # --- API: logistics -----------------------------------------------------------------------------

    def api_carriers(self, shop: Shop, body: dict[str, Any]) -> list[dict[str, Any]]:
        region_id = _int(body, "regionId", default=shop.region_id)
        region = next((r for r, rid in REGION_IDS.items() if rid == region_id), "GLOBAL")
        return [
            {
                "logisticsServiceProviderId": cid,
                "logisticsServiceProviderName": name,
                "logisticsBrandName": name,
            }
            for cid, name in CARRIERS[region]
        ]

    def api_warehouses(self, shop: Shop, body: dict[str, Any]) -> dict[str, Any]:
        return {
            "warehouseList": [
                {
                    "warehouseId": wid,
                    "warehouseName": f"Warehouse {n + 1}",
                    "defaultWarehouse": n == 0,
                    "warehouseBrand": None,
                    "regionId1": shop.region_id,
                    "warehouseManagementType": 1,
                    "enableBuyShippingLabel": False,
                }
                for n, wid in enumerate(shop.warehouse_ids)
            ]
        }

    def _check_tracking(
        self, shop: Shop, carrier_id: Any, tracking: Any, warehouse: Any, package_sn: str | None = None
    ) -> tuple[int, str]:
        if _int({"c": carrier_id}, "c") not in shop.carriers:
            raise SandboxError(120014005, "The carrier is not valid for this region")
        number = "".join(ch for ch in str(tracking or "") if ch not in "-%# ")
        if not number:
            raise SandboxError(120014001, "Tracking number is blank")
        if not number.isalnum():
            raise SandboxError(120014020, "Tracking number contains invalid characters")
        used_by = self.used_tracking.get((shop.mall_id, number))
        if used_by is not None and used_by != package_sn:
            raise SandboxError(120014004, "The tracking number has already been used")
        if warehouse is None:
            raise SandboxError(120015527, "selfShippingWarehouseId is required")
        if str(warehouse) not in shop.warehouse_ids:
            raise SandboxError(120011085, "The warehouse does not exist")
        return int(carrier_id), number

    def _check_line(self, shop: Shop, line: dict[str, Any], acceptance: set[str]) -> ItemRecord:
        order = self.orders.get(str(line.get("parentOrderSn") or ""))
        if order is None or order.mall_id != shop.mall_id:
            raise SandboxError(120012007, "The parent order does not match")
        item = next((i for i in order.items if i.order_sn == line.get("orderSn")), None)
        if item is None:
            raise SandboxError(120012016, "The order does not belong to the parent order")
        if item.status in (SHIPPED, DELIVERED):
            raise SandboxError(120012004, "The order has already been shipped")
        if CANCELED in (item.status, order.status):
            raise SandboxError(120012005, "The order has been cancelled")  # sandbox-chosen
        if item.status != UN_SHIPPING:
            raise SandboxError(120012006, "The order is not awaiting shipment")  # sandbox-chosen
        for label, (code, override) in BLOCKING_LABELS.items():
            if order.labels.get(label) == 1 and override not in acceptance:
                raise SandboxError(code, f"The order is blocked: {label}")
        if _int(line, "quantity", required=True) != item.quantity:
            raise SandboxError(120012010, "Only the full item quantity can be shipped")  # sandbox-chosen
        return item

    def api_shipment_confirm(self, shop: Shop, body: dict[str, Any]) -> dict[str, Any]:
        send_type = _int(body, "sendType", required=True)
        packages = body.get("sendRequestList")
        if send_type not in (0, 1, 2) or not packages or not isinstance(packages, list):
            raise SandboxError(3000000, "BAD_PARAMS: sendType and sendRequestList are required")
        checked = []
        for package in packages:
            acceptance = set(package.get("confirmAcceptance") or [])
            carrier_id, number = self._check_tracking(
                shop,
                package.get("carrierId"),
                package.get("trackingNumber"),
                package.get("selfShippingWarehouseId"),
            )
            subs = [
                self._check_tracking(
                    shop, s.get("carrierId"), s.get("trackingNumber"), s.get("selfShippingWarehouseId")
                )
                for s in package.get("subSendRequests") or []
            ]
            if len(subs) > 10:
                raise SandboxError(120011098, "At most 10 sub tracking numbers")
            lines = package.get("orderSendInfoList") or []
            if not lines:
                raise SandboxError(3000000, "BAD_PARAMS: orderSendInfoList is required")
            items = [self._check_line(shop, line, acceptance) for line in lines]
            checked.append((package, carrier_id, number, subs, items))
        self._check_send_type(send_type, checked)
        for package, carrier_id, number, subs, items in checked:
            sn = f"PK-{self._next():019d}"
            self.packages[sn] = PackageRecord(
                package_sn=sn,
                mall_id=shop.mall_id,
                carrier_id=carrier_id,
                tracking_number=number,
                warehouse_id=str(package["selfShippingWarehouseId"]),
                lines=[
                    {
                        "parentOrderSn": line["parentOrderSn"],
                        "orderSn": line["orderSn"],
                        "quantity": int(line["quantity"]),
                        "skuId": item.sku_id,
                    }
                    for line, item in zip(package["orderSendInfoList"], items, strict=True)
                ],
                sub_packages=[{"carrierId": c, "trackingNumber": t} for c, t in subs],
                send_type=send_type,
            )
            for tracking in [number, *(t for _, t in subs)]:
                self.used_tracking[(shop.mall_id, tracking)] = sn
        now = self.now()
        for parent in {line["parentOrderSn"] for p in checked for line in p[0]["orderSendInfoList"]}:
            order = self.orders[parent]
            for item in (i for p in checked for i in p[4] if i in order.items):
                item.status, item.shipping_time = SHIPPED, now
            self._touch(order)
        return {"assistantAgreementText": None, "warningMessage": []}

    def _check_send_type(self, send_type: int, checked: list[Any]) -> None:
        parents = {line["parentOrderSn"] for p in checked for line in p[0]["orderSendInfoList"]}
        if send_type == 0 and (len(checked) != 1 or len(parents) != 1):
            raise SandboxError(3000000, "BAD_PARAMS: sendType 0 ships one parent order in one package")
        if send_type == 1:
            if len(parents) != 1:
                raise SandboxError(3000000, "BAD_PARAMS: sendType 1 splits one parent order")
            order = self.orders[parents.pop()]
            sent = {i.order_sn for p in checked for i in p[4]}
            if any(i.status == UN_SHIPPING and i.order_sn not in sent for i in order.items):
                raise SandboxError(120012016, "Split shipping must include every item of the parent order")

    def api_shipment_get(self, shop: Shop, body: dict[str, Any]) -> dict[str, Any]:
        order = self._own_order(shop, body)
        order_sn = body.get("orderSn")
        if not any(i.order_sn == order_sn for i in order.items):
            raise SandboxError(120012016, "The order does not belong to the parent order")
        names = shop.carriers
        infos = [
            {
                "carrierId": p.carrier_id,
                "carrierName": names.get(p.carrier_id),
                "trackingNumber": p.tracking_number,
                "skuId": line["skuId"],
                "quantity": line["quantity"],
                "packageSn": p.package_sn,
                "packageDeliveryType": 1,
                "trackingWarningLabel": 0,
                "subPackageShipmentInfoList": [
                    {
                        "carrierId": s["carrierId"],
                        "carrierName": names.get(s["carrierId"]),
                        "packageSn": f"{p.package_sn}-{n + 1}",
                        "packageDeliveryType": 1,
                        "trackingNumber": s["trackingNumber"],
                    }
                    for n, s in enumerate(p.sub_packages)
                ],
            }
            for p in self.packages.values()
            if p.mall_id == shop.mall_id
            for line in p.lines
            if line["orderSn"] == order_sn
        ]
        return {"shipmentInfoDTO": infos}

    def api_shipping_type_update(self, shop: Shop, body: dict[str, Any]) -> bool:
        edits = body.get("editPackageRequestList")
        if not edits or not isinstance(edits, list):
            raise SandboxError(3000000, "BAD_PARAMS: editPackageRequestList is required")
        planned = []
        for edit in edits:
            package = self.packages.get(str(edit.get("packageSn") or ""))
            if package is None or package.mall_id != shop.mall_id:
                raise SandboxError(120012016, "The package does not exist")  # sandbox-chosen
            warehouse = edit.get("selfShippingWarehouseId", package.warehouse_id)
            planned.append(
                (
                    package,
                    *self._check_tracking(
                        shop,
                        edit.get("shipCompanyId"),
                        edit.get("trackingNumber"),
                        warehouse,
                        package.package_sn,
                    ),
                    str(warehouse),
                )
            )
        for package, carrier_id, number, warehouse in planned:
            self.used_tracking.pop((shop.mall_id, package.tracking_number), None)
            package.carrier_id, package.tracking_number, package.warehouse_id = carrier_id, number, warehouse
            self.used_tracking[(shop.mall_id, number)] = package.package_sn
        return True


API_TYPES: dict[str, Callable[[SandboxState, Shop, dict[str, Any]], Any]] = {
    "bg.open.accesstoken.create": SandboxState.api_token_create,
    "bg.open.accesstoken.info.get": SandboxState.api_token_info,
    "bg.local.goods.list.query": SandboxState.api_goods_list,
    "bg.local.goods.sku.list.query": SandboxState.api_sku_list,
    "temu.local.sku.list.retrieve": SandboxState.api_sku_retrieve,
    "temu.local.goods.sku.stock.query": SandboxState.api_sku_stock,
    "bg.local.goods.stock.edit": SandboxState.api_stock_edit,
    "bg.order.list.v2.get": SandboxState.api_order_list,
    "bg.order.detail.v2.get": SandboxState.api_order_detail,
    "bg.order.shippinginfo.v2.get": SandboxState.api_shipping_info,
    "bg.order.decryptshippinginfo.get": SandboxState.api_decrypt_shipping_info,
    "bg.order.amount.query": SandboxState.api_order_amount,
    "bg.logistics.companies.get": SandboxState.api_carriers,
    "bg.logistics.warehouse.list.get": SandboxState.api_warehouses,
    "bg.logistics.shipment.v2.confirm": SandboxState.api_shipment_confirm,
    "bg.logistics.shipment.v2.get": SandboxState.api_shipment_get,
    "bg.logistics.shipment.shippingtype.update": SandboxState.api_shipping_type_update,
}
