"""The WholeCell adapter: every assumed path, filter and field name lives here and only here.

Most of the sales-order, stock-level, lookup and webhook contract is the project's own
ASSUMPTION (reference `wholecell-api.md` §2-§5, §7). Keeping it in one module means a
correction from WholeCell's official reference is a change to this file, nothing else.
Read models ignore unknown keys so an API that returns more than we model keeps working.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

# --- Paths (relative to the base URL, which ends in /api/v1) -------------------------------
INVENTORIES = "/inventories"
STOCK_LEVELS = "/stock_levels"
SALES_ORDERS = "/sales_orders"
SALES_ORDER_STATUSES = "/sales_order_statuses"
INVENTORY_STATUSES = "/inventory_statuses"
WAREHOUSES = "/warehouses"
SALES_CHANNELS = "/sales_channels"


def sales_order_path(order_id: int) -> str:
    return f"{SALES_ORDERS}/{int(order_id)}"


# --- Query parameters ----------------------------------------------------------------------
Params = list[tuple[str, str]]
PAGE_PARAM = "page"


def format_time(value: datetime) -> str:
    """ISO-8601 with offset, as WholeCell filters expect; a naive time would be ambiguous."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("WholeCell time filters need a timezone-aware datetime")
    return value.isoformat()


def inventory_filters(status: str | None, updated_at_gt: datetime | None) -> Params:
    params: Params = []
    if status is not None:
        params.append(("status", status))
    if updated_at_gt is not None:
        params.append(("updated_at_gt", format_time(updated_at_gt)))
    return params


def stock_level_filters(inventory_statuses: list[str] | None) -> Params:
    return [("inventory_statuses[]", status) for status in inventory_statuses or []]


def sales_order_filters(updated_at_gt: datetime | None, channel: str | None, status: str | None) -> Params:
    params: Params = []
    if updated_at_gt is not None:
        params.append(("updated_at_gt", format_time(updated_at_gt)))
    if channel is not None:
        params.append(("channel", channel))
    if status is not None:
        params.append(("status", status))
    return params


# --- Models --------------------------------------------------------------------------------
class _ReadModel(BaseModel):
    model_config = ConfigDict(extra="ignore")


class NamedRef(_ReadModel):
    name: str | None = None


class Product(_ReadModel):
    manufacturer: str | None = None
    model: str | None = None
    variant: str | None = None
    network: str | None = None
    capacity: str | None = None
    color: str | None = None


class ProductVariation(_ReadModel):
    id: int | None = None
    sku: str | None = None
    grade: str | None = None
    product: Product | None = None

    @field_validator("sku", mode="after")
    @classmethod
    def _blank_sku_is_none(cls, value: str | None) -> str | None:
        """WholeCell returns null *or* empty SKUs; both mean "cannot be matched to Temu"."""
        return value if value and value.strip() else None


class InventoryUnit(_ReadModel):
    """One physical unit (IMEI/ESN or serial), reference §2."""

    id: int
    esn: str | None = None
    hex_id: str | None = None
    status: str
    order_id: int | None = None
    product_variation: ProductVariation = Field(default_factory=ProductVariation)
    warehouse: NamedRef | None = None
    location: NamedRef | None = None
    created_at: AwareDatetime | None = None
    updated_at: AwareDatetime

    @property
    def sku(self) -> str | None:
        return self.product_variation.sku

    @property
    def warehouse_name(self) -> str | None:
        return self.warehouse.name if self.warehouse else None

    @property
    def location_name(self) -> str | None:
        return self.location.name if self.location else None

    @property
    def committed(self) -> bool:
        return self.order_id is not None


class StockLevel(_ReadModel):
    """One SKU's row of Stock Levels (§3.1): available = on_hand - outstanding."""

    sku: str
    on_hand: int
    outstanding: int
    available: int


class ShippingAddress(BaseModel):
    """A buyer's ship-to address. Personal data: repr/str never show the values."""

    model_config = ConfigDict(extra="ignore")

    name: str | None = None
    street1: str | None = None
    street2: str | None = None
    street3: str | None = None
    city: str | None = None
    state: str | None = None
    zip: str | None = None
    country: str | None = None
    phone: str | None = None

    @property
    def is_empty(self) -> bool:
        return not any(self.model_dump().values())

    def __repr__(self) -> str:
        filled = sum(1 for value in self.model_dump().values() if value)
        return f"ShippingAddress(<redacted, {filled} fields set>)"

    __str__ = __repr__


class Customer(BaseModel):
    """The customer organization (one `Temu` organization for all Temu orders)."""

    model_config = ConfigDict(extra="ignore")

    id: int | None = None
    name: str | None = None


class OrderItem(BaseModel):
    """An order item as sent on create/PATCH: an uncommitted quantity of a SKU."""

    model_config = ConfigDict(extra="ignore")

    sku: str | None
    quantity: int = Field(ge=0)
    unit_price_cents: int | None = Field(default=None, ge=0)
    description: str | None = None
    product_variation_id: int | None = None


class SalesOrderItem(OrderItem):
    """An order item as read back; `unknown_sku` marks a line whose SKU WholeCell did not know."""

    unknown_sku: bool = False


class ShipmentItem(_ReadModel):
    sku: str | None = None
    quantity: int


class Shipment(_ReadModel):
    id: int
    carrier: str | None = None
    service: str | None = None
    tracking_number: str | None = None
    shipped_at: AwareDatetime | None = None
    items: list[ShipmentItem] = Field(default_factory=list)


class SalesOrder(_ReadModel):
    """A sales order as WholeCell returns it (§4.2)."""

    id: int
    order_number: str | None = None
    external_reference: str | None = None
    channel: str | None = None
    status: str
    customer: Customer | None = None
    shipping_address: ShippingAddress | None = None
    order_items: list[SalesOrderItem] = Field(default_factory=list)
    shipments: list[Shipment] = Field(default_factory=list)
    created_at: AwareDatetime
    updated_at: AwareDatetime

    @property
    def unknown_sku_items(self) -> list[SalesOrderItem]:
        return [item for item in self.order_items if item.unknown_sku or item.sku is None]


class _RequestModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def to_body(self) -> dict[str, Any]:
        """JSON body with only the fields the caller set: on PATCH an unsent field stays as it is."""
        return self.model_dump(mode="json", exclude_unset=True)


class SalesOrderCreate(_RequestModel):
    external_reference: str = Field(min_length=1)
    channel: str = Field(min_length=1)
    status: str = Field(min_length=1)
    customer: Customer | None = None
    shipping_address: ShippingAddress | None = None
    order_items: list[OrderItem]


class SalesOrderPatch(_RequestModel):
    """Partial update. `order_items`, when set, replaces the order's whole item list."""

    status: str | None = None
    channel: str | None = None
    customer: Customer | None = None
    shipping_address: ShippingAddress | None = None
    order_items: list[OrderItem] | None = None


class SalesOrderStatus(_ReadModel):
    title: str
    open: bool
    sync_to_shipstation: bool = False
    allow_commitment: bool = False


class InventoryStatus(_ReadModel):
    title: str


class Warehouse(_ReadModel):
    id: int | None = None
    name: str


class SalesChannel(_ReadModel):
    title: str


# --- List envelope ---------------------------------------------------------------------------
class ListPage[M: BaseModel](BaseModel):
    """`{"data": [...], "page": n, "pages": total}`; a bare array is one complete page."""

    data: list[M]
    page: int = 1
    pages: int = 1

    @property
    def is_last(self) -> bool:
        return not self.data or self.page >= self.pages


def parse_page[M: BaseModel](payload: Any, model: type[M]) -> ListPage[M]:
    """Raises pydantic.ValidationError when the body is neither shape."""
    if isinstance(payload, list):
        payload = {"data": payload, "page": 1, "pages": 1}
    return ListPage[model].model_validate(payload)  # type: ignore[valid-type]


def parse_errors(payload: Any) -> list[str]:
    """Messages of an error body: `{"errors": ["..."]}` (§4.4), or a lone `message`/`error`."""
    if not isinstance(payload, dict):
        return []
    errors = payload.get("errors")
    if isinstance(errors, list):
        return [str(error) for error in errors]
    if isinstance(errors, dict):  # Rails-style {"field": ["msg"]}
        return [f"{field} {msg}" for field, msgs in errors.items() for msg in (msgs if isinstance(msgs, list)
                                                                                 else [msgs])]
    single = payload.get("message") or payload.get("error")
    return [str(single)] if single else []


# --- Shipment webhook (§7) -------------------------------------------------------------------
SHIPMENT_CREATED = "sales_order.shipment_created"
TIMESTAMP_HEADER = "X-WholeCell-Timestamp"
SIGNATURE_HEADER = "X-WholeCell-Signature"
SIGNATURE_PREFIX = "v1="
WEBHOOK_TOLERANCE_SECONDS = 300


class ShipmentEvent(_ReadModel):
    """Body of the `sales_order.shipment_created` webhook: a hint; re-read the order for truth."""

    event: Literal["sales_order.shipment_created"]
    event_id: str = Field(min_length=1, max_length=200)  # bounds of the queued message (ShipmentMessage)
    occurred_at: AwareDatetime
    sales_order_id: int = Field(gt=0)
    shipment: Shipment


def sign_webhook(secret: bytes, timestamp: str, raw_body: bytes) -> str:
    """`v1=` + hex HMAC-SHA256(secret, timestamp + "." + raw body)."""
    digest = hmac.new(secret, timestamp.encode() + b"." + raw_body, hashlib.sha256).hexdigest()
    return SIGNATURE_PREFIX + digest


def verify_webhook(
    headers: Mapping[str, str],
    raw_body: bytes,
    secrets: list[bytes],
    now: float,
    tolerance: int = WEBHOOK_TOLERANCE_SECONDS,
) -> bool:
    """True if the body was signed with any of `secrets` (two during rotation) within `tolerance` s.

    Header names are matched case-insensitively (API Gateway lower-cases them); the
    signature is checked over the exact received bytes with a constant-time compare.
    """
    lowered = {key.lower(): value for key, value in headers.items()}
    timestamp = lowered.get(TIMESTAMP_HEADER.lower(), "")
    signature = lowered.get(SIGNATURE_HEADER.lower(), "")
    # ASCII first: "²".isdigit() holds but int() refuses it, and compare_digest refuses non-ASCII str
    if not (timestamp.isascii() and timestamp.isdigit()) or not (
            signature.isascii() and signature.startswith(SIGNATURE_PREFIX)):
        return False
    if abs(now - int(timestamp)) > tolerance:
        return False
    matches = [hmac.compare_digest(sign_webhook(secret, timestamp, raw_body), signature)
               for secret in secrets if secret]
    return any(matches)
