"""Constants, records and request-parsing helpers every Temu room shares."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DEFAULT_APP_KEY = "sandbox-app-key"
DEFAULT_APP_SECRET = "sandbox-app-secret"
MAX_PAGE_SIZE = 100
CODE_TTL_SECONDS = 600
TOKEN_TTL_SECONDS = 365 * 86400
STOCK_MAX = 1_000_000
REGION_IDS = {"US": 211, "EU": 76, "GLOBAL": 128}
REGION_NAMES = {
    "US": ("United States", "California", "Los Angeles", "90001"),
    "EU": ("Germany", "Berlin", "Berlin", "10115"),
    "GLOBAL": ("Mexico", "Ciudad de Mexico", "Mexico", "01000"),
}
CARRIERS: dict[str, list[tuple[int, str]]] = {
    "US": [(100000001, "USPS"), (100000002, "UPS"), (100000003, "FedEx")],
    "EU": [(200000001, "DHL"), (200000002, "DPD"), (200000003, "Royal Mail")],
    "GLOBAL": [(300000001, "DHL Express"), (300000002, "Estafeta")],
}
# SKU status (status4VO) and the four-digit sub-status (skuShowSubStatus4VO), reference §5.5.
ACTIVE, INACTIVE, DELETED = 2, 3, 6
ON_SALE, OFF_MANUAL, SOLD_OUT, DELETED_SUB = 2001, 3002, 3003, 6001
# subStatus4VO is another enum (StatusFilterEnum, 1..14); retrieve's statuses are names.
STATUS_FILTER = {ON_SALE: 8, OFF_MANUAL: 2, SOLD_OUT: 1, DELETED_SUB: 13}
STATUS_NAME = {ACTIVE: "ACTIVE", INACTIVE: "INACTIVE", DELETED: "DELETED"}
SUB_STATUS_NAME = {ON_SALE: "ACTIVE", OFF_MANUAL: "CLOSE", SOLD_OUT: "OUT_OF_STOCK", DELETED_SUB: "DELETE_BY_MERCHANT"}
CURRENCY_EXPONENT = {"USD": 2, "EUR": 2, "MXN": 2, "JPY": 0}
STATUS_NAMES = {
    "active": (ACTIVE, ON_SALE),
    "inactive": (INACTIVE, OFF_MANUAL),
    "sold_out": (INACTIVE, SOLD_OUT),
    "deleted": (DELETED, DELETED_SUB),
}
# Order statuses, reference §5.1.
PENDING, UN_SHIPPING, CANCELED, SHIPPED, DELIVERED = 1, 2, 3, 4, 5
PARTIALLY_SHIPPED, PARTIALLY_DELIVERED = 41, 51
BLOCKING_LABELS = {  # parent label → (error code, confirmAcceptance that overrides it)
    "pending_buyer_address_change": (120012023, "DENY_ADDRESS_CHANGE"),
    "pending_buyer_cancellation": (120012030, "DENY_CANCELLATION"),
    "pending_risk_control_alert": (120012031, "DENY_PARENT_RISK_WARNING"),
}



class SandboxError(Exception):
    """A failure answered in the Temu envelope (`success: false`)."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class SkuRecord:
    goods_id: int
    sku_id: int
    sku_sn: str
    stock: int
    status: int = ACTIVE
    sub_status: int = ON_SALE
    spec_name: str = ""
    price: str = "99.00"
    crt_time: int = 0
    status_change_ms: int = 0


@dataclass
class GoodsRecord:
    goods_id: int
    goods_name: str
    out_goods_sn: str
    sku_ids: list[int]
    crt_time: int


@dataclass
class Shop:
    mall_id: int
    region: str
    region_id: int
    mall_type: int = 100
    goods: dict[int, GoodsRecord] = field(default_factory=dict)
    skus: dict[int, SkuRecord] = field(default_factory=dict)
    warehouse_ids: list[str] = field(default_factory=list)

    @property
    def carriers(self) -> dict[int, str]:
        return dict(CARRIERS[self.region])


@dataclass
class ItemRecord:
    order_sn: str
    goods_id: int
    sku_id: int
    original_quantity: int
    canceled: int = 0
    status: int = PENDING
    shipping_time: int | None = None

    @property
    def quantity(self) -> int:
        return self.original_quantity - self.canceled


@dataclass
class OrderRecord:
    parent_order_sn: str
    mall_id: int
    items: list[ItemRecord]
    created: int
    update_time: int
    address: dict[str, Any]
    status: int = PENDING
    labels: dict[str, int] = field(default_factory=dict)
    shipping_time: int | None = None
    cancelled_during_pending: bool = False


@dataclass
class TokenRecord:
    token: str
    mall_id: int
    app_key: str
    scopes: list[str]
    expired_time: int
    revoked: bool = False


@dataclass
class CodeRecord:
    code: str
    mall_id: int
    app_key: str
    scopes: list[str]
    expires_at: float
    used: bool = False


@dataclass
class PackageRecord:
    package_sn: str
    mall_id: int
    carrier_id: int
    tracking_number: str
    warehouse_id: str
    lines: list[dict[str, Any]]
    sub_packages: list[dict[str, Any]]
    send_type: int


def _mask(text: str) -> str:
    """Temu-style masking: keep each word's first character, star the rest."""
    return " ".join(word[:1] + "*" * (len(word) - 1) for word in text.split(" "))


def _int(body: dict[str, Any], key: str, *, required: bool = False, default: int | None = None) -> int | None:
    value = body.get(key)
    if value is None:
        if required:
            raise SandboxError(3000000, f"BAD_PARAMS: {key} is required")
        return default
    if isinstance(value, bool) or not isinstance(value, int | str) or not str(value).lstrip("-").isdigit():
        raise SandboxError(3000000, f"BAD_PARAMS: {key} must be an integer")
    return int(value)


def _page_size(body: dict[str, Any], code: int, default: int) -> int:
    size = _int(body, "pageSize", default=default) or default
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise SandboxError(code, f"pageSize must be between 1 and {MAX_PAGE_SIZE}")
    return size
