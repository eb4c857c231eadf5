"""Sales orders: the reads behind /sales_orders and their creation and update."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any

from local.sandboxes.wholecell.rooms.records import (
    ADDRESS_FIELDS,
    Order,
    SandboxError,
    _page,
    _parse_time,
)
from local.sandboxes.wholecell.rooms.world import Account, World


class OrdersRoom(World):
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
