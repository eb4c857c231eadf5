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
only through the state's methods (which keep the indexes), never by assigning fields.

The methods are split by API area into rooms (`local.sandboxes.wholecell.rooms`: accounts,
inventory, orders, shipments) over one shared world; `WholeCellState` composes them, and this
module keeps every name callers import (the records, constants, `SandboxError`, `iso`).
"""

from __future__ import annotations

from typing import Any

from local.sandboxes.wholecell.rooms.accounts import AccountsRoom
from local.sandboxes.wholecell.rooms.indexes import VIEW_CACHE_SIZE, Index, UpdateOrder, ViewCache
from local.sandboxes.wholecell.rooms.orders import OrdersRoom
from local.sandboxes.wholecell.rooms.records import (
    ACCOUNT_TZ,
    ADDRESS_FIELDS,
    DEFAULT_CHANNELS,
    DEFAULT_INVENTORY_STATUSES,
    DEFAULT_LOCATION,
    DEFAULT_ORDER_STATUSES,
    DEFAULT_WAREHOUSES,
    OUTSTANDING_WINDOW,
    PRODUCT_ID_OFFSET,
    PURCHASE_ORDER_ID,
    Order,
    SandboxError,
    Unit,
    iso,
)
from local.sandboxes.wholecell.rooms.shipments import ShipmentsRoom
from local.sandboxes.wholecell.rooms.world import Account

__all__ = [
    "ACCOUNT_TZ",
    "ADDRESS_FIELDS",
    "DEFAULT_CHANNELS",
    "DEFAULT_INVENTORY_STATUSES",
    "DEFAULT_LOCATION",
    "DEFAULT_ORDER_STATUSES",
    "DEFAULT_WAREHOUSES",
    "OUTSTANDING_WINDOW",
    "PRODUCT_ID_OFFSET",
    "PURCHASE_ORDER_ID",
    "VIEW_CACHE_SIZE",
    "Account",
    "Index",
    "Order",
    "SandboxError",
    "Unit",
    "UpdateOrder",
    "ViewCache",
    "WholeCellState",
    "iso",
]


class WholeCellState(AccountsRoom, OrdersRoom, ShipmentsRoom):
    """All sandbox accounts plus the shared knobs (faults, rate limit, ignored filters), composed of
    the rooms (inventory under accounts). Every method takes the one re-entrant lock."""

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
