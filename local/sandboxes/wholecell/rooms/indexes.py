"""The per-account indexes and cached listings that keep a page O(page + matching items)."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from datetime import datetime, timedelta
from typing import Any

VIEW_CACHE_SIZE = 32  # filtered, ordered listings kept per account and kind (units, orders, stock)


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
