"""The shared state object under every room: shops, app keys, seed, ids, clock, faults, the lock."""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from local.sandboxes.common import FaultInjector
from local.sandboxes.temu.rooms.records import DEFAULT_APP_KEY, DEFAULT_APP_SECRET, PackageRecord, Shop


class World:
    """What every room reads. Each room keeps its own records and forgets them in `_forget`
    (cooperatively, through `super()`), which `reset` calls under the one lock."""

    # the API dispatch table, set by the composed class (auth's default token scopes are its keys)
    api_types: ClassVar[Mapping[str, Callable[[Any, Shop, dict[str, Any]], Any]]]
    # the logistics room's packages; the orders room reads them for an item's packageSnInfo
    packages: dict[str, PackageRecord]

    def __init__(
        self, app_keys: dict[str, str] | None = None, rate_limit: float | None = None, seed: int | None = None
    ) -> None:
        self.lock = threading.RLock()
        # the gateway's own (request and error counters, the rate window): a request is counted when it
        # arrives, never after another request's business logic (a page of a large catalog) has let go
        # of `lock` (Temu documents 20 requests/s per app, not how it counts; a gateway in front of
        # services counts requests as they come in)
        self.gateway_lock = threading.Lock()
        self.app_keys = dict(app_keys or {DEFAULT_APP_KEY: DEFAULT_APP_SECRET})
        self.seed = seed
        self.faults = FaultInjector(seed=seed)
        self.rate_limit = rate_limit
        self.reset()

    # --- admin: lifecycle ----------------------------------------------------------------------

    def reset(self) -> None:
        """Forget every shop, order, token, shipment, counter and fault."""
        with self.lock:
            self._forget()
            self.faults.clear()

    def _forget(self) -> None:
        self.rng = random.Random(self.seed)
        self.shops: dict[int, Shop] = {}
        self._ids = itertools.count(1)

    def _next(self) -> int:
        return next(self._ids)

    @staticmethod
    def now() -> int:
        return int(time.time())

    def _shop(self, mall_id: int) -> Shop:
        try:
            return self.shops[int(mall_id)]
        except KeyError:
            raise KeyError(f"unknown shop {mall_id}") from None
