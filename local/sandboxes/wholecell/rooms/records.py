"""Constants, the unit and order records, and helpers every WholeCell room shares."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

ACCOUNT_TZ = timezone(timedelta(hours=-5))  # WholeCell answers in the account's offset
OUTSTANDING_WINDOW = timedelta(days=90)
ADDRESS_FIELDS = ("name", "street1", "street2", "street3", "city", "state", "zip", "country", "phone")
DEFAULT_ORDER_STATUSES: list[dict[str, Any]] = [
    {"title": "Pending", "open": True, "sync_to_shipstation": False, "allow_commitment": True},
    {"title": "Awaiting Fulfillment", "open": True, "sync_to_shipstation": True, "allow_commitment": True},
    {"title": "Shipped", "open": False, "sync_to_shipstation": False, "allow_commitment": False},
    {"title": "Canceled", "open": False, "sync_to_shipstation": False, "allow_commitment": False},
    {"title": "Delivered", "open": False, "sync_to_shipstation": False, "allow_commitment": False},
]
DEFAULT_CHANNELS = ["Temu", "Amazon", "eBay", "Wholesale"]
DEFAULT_INVENTORY_STATUSES = ["Available", "Inbound", "Moving", "Sold", "Needs eBay Draft"]
DEFAULT_WAREHOUSES = ["Main Warehouse", "Overflow"]
# Keys the observed /inventories record always carries (reference §2, contract fixture
# tests/contract/wholecell/inventories.json); the sandbox does not model them, so fixed values.
DEFAULT_LOCATION = "Receiving"  # a unit seeded without a location still has one, as observed
PURCHASE_ORDER_ID = 240118  # every seeded unit arrived on one purchase order
PRODUCT_ID_OFFSET = 9_000_000  # placeholder product id = offset + product variation id


class SandboxError(Exception):
    """A request the real API would reject; `status` and `errors` become the HTTP answer."""

    def __init__(self, status: int, errors: list[str]) -> None:
        super().__init__("; ".join(errors))
        self.status = status
        self.errors = errors


def iso(value: datetime) -> str:
    return value.astimezone(ACCOUNT_TZ).isoformat(timespec="milliseconds")


@dataclass
class Unit:
    id: int
    esn: str
    hex_id: str
    sku: str | None
    product_variation_id: int
    status: str
    warehouse: str
    location: str
    order_id: int | None
    created_at: datetime
    updated_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "esn": self.esn, "hex_id": self.hex_id, "status": self.status,
            "order_id": self.order_id, "purchase_order_id": PURCHASE_ORDER_ID, "sale_price": None,
            "total_price_paid": 18500, "initial_price_paid": 17500,
            "created_at": iso(self.created_at), "updated_at": iso(self.updated_at),
            "product_variation": {"id": self.product_variation_id, "sku": self.sku, "grade": "B",
                                  "conditions": [],
                                  "product": {"id": PRODUCT_ID_OFFSET + self.product_variation_id,
                                              "manufacturer": "APPLE", "model": "IPHONE 13", "variant": "A2482",
                                              "network": "UNLOCKED", "capacity": "128GB", "color": "BLACK"}},
            "custom_field_values": {},
            "warehouse": {"name": self.warehouse},
            "location": {"name": self.location},
        }


@dataclass
class Order:
    id: int
    order_number: str
    external_reference: str | None
    channel: str
    status: str
    customer: dict[str, Any] | None
    shipping_address: dict[str, Any] | None
    order_items: list[dict[str, Any]]
    shipments: list[dict[str, Any]]
    created_at: datetime
    updated_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id, "order_number": self.order_number, "external_reference": self.external_reference,
            "channel": self.channel, "status": self.status, "customer": self.customer,
            "shipping_address": self.shipping_address,
            "order_items": [dict(item) for item in self.order_items],
            "shipments": [dict(shipment) for shipment in self.shipments],
            "created_at": iso(self.created_at), "updated_at": iso(self.updated_at),
        }


def _page(rows: Sequence[Any], page: int, per_page: int) -> Sequence[Any]:
    return rows[(page - 1) * per_page: page * per_page]


def _parse_time(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise SandboxError(422, [f"invalid time {value!r}"]) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=ACCOUNT_TZ)
