"""State and behaviour of the Temu sandbox: shops, listings, orders, tokens, shipments.

Everything the router answers is computed here, under one lock, so the HTTP layer
(`app.py`) only does the gateway checks and the envelope. Admin operations are plain
methods, so in-process tests can seed and inspect without HTTP.

The work is split by API area into rooms (`local.sandboxes.temu.rooms`: auth, goods, orders,
logistics, gateway) over one shared world; `SandboxState` composes them, and this module keeps
every name callers import (the records, constants, `SandboxError`, `API_TYPES`).

Behaviour follows the reference (`temu-open-api.md`). Every answer is cut to the keys Temu's
documents list and checked against their JSON types (`local.temu_contract`, fixtures in
tests/contract/temu/), so the sandbox cannot share a belief the documents contradict. Where the
reference names no error code for a rule the sandbox enforces, it answers a code of the right
domain, marked "sandbox-chosen" below; clients classify those as fix-request like any unknown code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from local.sandboxes.temu.rooms.auth import AUTH_API
from local.sandboxes.temu.rooms.gateway import GatewayRoom
from local.sandboxes.temu.rooms.goods import GOODS_API, GoodsRoom
from local.sandboxes.temu.rooms.logistics import LOGISTICS_API, LogisticsRoom
from local.sandboxes.temu.rooms.orders import ORDERS_API
from local.sandboxes.temu.rooms.records import (
    ACTIVE,
    BLOCKING_LABELS,
    CANCELED,
    CARRIERS,
    CODE_TTL_SECONDS,
    CURRENCY_EXPONENT,
    DEFAULT_APP_KEY,
    DEFAULT_APP_SECRET,
    DELETED,
    DELETED_SUB,
    DELIVERED,
    INACTIVE,
    MAX_PAGE_SIZE,
    OFF_MANUAL,
    ON_SALE,
    PARTIALLY_DELIVERED,
    PARTIALLY_SHIPPED,
    PENDING,
    REGION_IDS,
    REGION_NAMES,
    SHIPPED,
    SOLD_OUT,
    STATUS_FILTER,
    STATUS_NAME,
    STATUS_NAMES,
    STOCK_MAX,
    SUB_STATUS_NAME,
    TOKEN_TTL_SECONDS,
    UN_SHIPPING,
    CodeRecord,
    GoodsRecord,
    ItemRecord,
    OrderRecord,
    PackageRecord,
    SandboxError,
    Shop,
    SkuRecord,
    TokenRecord,
)

__all__ = [
    "ACTIVE",
    "API_TYPES",
    "BLOCKING_LABELS",
    "CANCELED",
    "CARRIERS",
    "CODE_TTL_SECONDS",
    "CURRENCY_EXPONENT",
    "DEFAULT_APP_KEY",
    "DEFAULT_APP_SECRET",
    "DELETED",
    "DELETED_SUB",
    "DELIVERED",
    "INACTIVE",
    "MAX_PAGE_SIZE",
    "OFF_MANUAL",
    "ON_SALE",
    "PARTIALLY_DELIVERED",
    "PARTIALLY_SHIPPED",
    "PENDING",
    "REGION_IDS",
    "REGION_NAMES",
    "SHIPPED",
    "SOLD_OUT",
    "STATUS_FILTER",
    "STATUS_NAME",
    "STATUS_NAMES",
    "STOCK_MAX",
    "SUB_STATUS_NAME",
    "TOKEN_TTL_SECONDS",
    "UN_SHIPPING",
    "CodeRecord",
    "GoodsRecord",
    "ItemRecord",
    "OrderRecord",
    "PackageRecord",
    "SandboxError",
    "SandboxState",
    "Shop",
    "SkuRecord",
    "TokenRecord",
]

# API type → the room method answering it (every room's table, in the reference's order).
API_TYPES: dict[str, Callable[[SandboxState, Shop, dict[str, Any]], Any]] = {
    **AUTH_API,
    **GOODS_API,
    **ORDERS_API,
    **LOGISTICS_API,
}


class SandboxState(LogisticsRoom, GoodsRoom, GatewayRoom):
    """The whole sandbox world, composed of its rooms (orders under logistics, auth under goods).
    Every public method takes the one lock."""

    api_types = API_TYPES

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
                **self._gateway_counts(),
                "faults": self.faults.snapshot(),
                "rateLimit": self.rate_limit,
            }

