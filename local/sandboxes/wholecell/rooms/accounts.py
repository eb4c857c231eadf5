"""Accounts and their access: creation, authentication, request counts, the rate limit,
faults and ignored filters, and the account's lookups (statuses, warehouses, channels)."""

from __future__ import annotations

import hmac
import time
from collections.abc import Iterable
from typing import Any

from local.sandboxes.common import FaultRule
from local.sandboxes.wholecell.rooms.inventory import InventoryRoom
from local.sandboxes.wholecell.rooms.records import (
    DEFAULT_CHANNELS,
    DEFAULT_INVENTORY_STATUSES,
    DEFAULT_ORDER_STATUSES,
    DEFAULT_WAREHOUSES,
)
from local.sandboxes.wholecell.rooms.world import Account


class AccountsRoom(InventoryRoom):
    """Needs `add_skus` (an account may start with a catalog), hence built on the inventory room."""

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
        with self._bucket_lock:
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
        with self._lock, self._bucket_lock:
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
