"""The shared state under every room: the accounts, ids, the clock, the knobs, the one lock."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from local.sandboxes.common import FaultInjector
from local.sandboxes.wholecell.rooms.indexes import Index, UpdateOrder, ViewCache
from local.sandboxes.wholecell.rooms.records import Order, SandboxError, Unit


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


class World:
    """All sandbox accounts plus the shared knobs (faults, rate limit, ignored filters); every room
    builds on it and takes its one lock."""

    def __init__(self, *, rate_limit: float | None = None, seed: int | None = None,
                 webhook_async: bool = False) -> None:
        self._lock = threading.RLock()
        # the rate buckets' own: a request takes its token when it arrives, never after another
        # request's work (a page of a large account's units) has let go of `_lock`
        self._bucket_lock = threading.Lock()
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

    def _order(self, account: Account, order_id: int) -> Order:
        if order_id not in account.orders:
            raise SandboxError(404, [f"sales order {order_id} not found"])
        return account.orders[order_id]
