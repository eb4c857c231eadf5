"""Inventory: the catalog, units (seed, commit, move, status) and the reads behind
/inventories and /stock_levels."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from local.sandboxes.wholecell.rooms.records import (
    DEFAULT_LOCATION,
    OUTSTANDING_WINDOW,
    SandboxError,
    Unit,
    _page,
    _parse_time,
)
from local.sandboxes.wholecell.rooms.world import Account, World


class InventoryRoom(World):
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
