"""Orders: placing and moving them (admin), and the order, shipping-info and amount APIs."""

from __future__ import annotations

import random
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from local.sandboxes.temu.rooms.records import (
    CANCELED,
    CURRENCY_EXPONENT,
    DELETED,
    DELIVERED,
    PARTIALLY_DELIVERED,
    PARTIALLY_SHIPPED,
    PENDING,
    REGION_NAMES,
    SHIPPED,
    UN_SHIPPING,
    ItemRecord,
    OrderRecord,
    SandboxError,
    Shop,
    _int,
    _mask,
    _page_size,
)
from local.sandboxes.temu.rooms.world import World


class OrdersRoom(World):
    def _forget(self) -> None:
        super()._forget()
        self.orders: dict[str, OrderRecord] = {}

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


ORDERS_API: dict[str, Callable[[OrdersRoom, Shop, dict[str, Any]], Any]] = {
    "bg.order.list.v2.get": OrdersRoom.api_order_list,
    "bg.order.detail.v2.get": OrdersRoom.api_order_detail,
    "bg.order.shippinginfo.v2.get": OrdersRoom.api_shipping_info,
    "bg.order.decryptshippinginfo.get": OrdersRoom.api_decrypt_shipping_info,
    "bg.order.amount.query": OrdersRoom.api_order_amount,
}
