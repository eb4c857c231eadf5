"""Typed `result` payloads of the Temu endpoints the integration uses, and shipment requests.

This module is the one place that knows Temu's field names: attributes are snake_case with
the wire camelCase as alias; the types are the ones Temu's partner documentation gives
(tests/contract/temu/ holds them, each with its source).

Tolerant where it is safe, strict where it matters (docs/decisions.md, 2026-12-06):
- a field the integration reads has a plain type and fails the call loudly, naming the Temu
  type and the field, when Temu sends something else;
- a field it does not read is `Lenient`: a value of an unexpected type becomes None and is
  logged once per model and field, so one odd field never fails a page;
- unknown fields are ignored and newer fields may be absent.
Ids are ints, accepted as ints or decimal strings (the `temu.local.*` APIs send strings),
never floats, because ~15-digit ids do not survive a float. Money amounts of the order APIs
are integers in the currency's minor unit, strictly. Buyer addresses and tokens never show
in `repr`/`str`, so an accidental log line cannot leak them.
"""

from __future__ import annotations

import logging
import threading
from decimal import Decimal
from typing import Annotated, Any, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    Strict,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WrapValidator,
)
from pydantic.alias_generators import to_camel

log = logging.getLogger(__name__)


def _parse_id(value: object) -> object:
    """Decimal strings become ints; floats and booleans are refused (Strict rejects the rest)."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    if isinstance(value, bool | float):
        raise ValueError("Temu ids are integers or decimal strings, never floats or booleans")
    return value


TemuId = Annotated[int, BeforeValidator(_parse_id), Strict()]

_odd_fields_seen: set[tuple[str, str, str]] = set()
_odd_fields_lock = threading.Lock()


def _tolerate(value: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo) -> Any:
    """A field the integration does not read: a value of an unexpected type becomes None,
    logged once per model, field and JSON type (never the value: it may be a buyer's)."""
    try:
        return handler(value)
    except ValidationError:
        key = (info.config.get("title", "?") if info.config else "?", info.field_name or "?",
               type(value).__name__)
        with _odd_fields_lock:
            first = key not in _odd_fields_seen
            _odd_fields_seen.add(key)
        if first:
            log.warning("Temu field of an unexpected type ignored",
                        extra={"model": key[0], "field": key[1], "seen_type": key[2]})
        return None


T = TypeVar("T")
Lenient = Annotated[T | None, WrapValidator(_tolerate)]  # a field the integration does not read


class TemuModel(BaseModel):
    """Base: camelCase aliases, unknown fields ignored, immutable, constructible by name too."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)


# --- authorization -------------------------------------------------------------------------


class AuthEventCode(TemuModel):
    event_code: Lenient[str] = None
    permits_status: Lenient[int] = None


class AssociatedMallToken(TemuModel):
    access_token: SecretStr
    mall_id: TemuId


class TokenInfo(TemuModel):
    """`bg.open.accesstoken.info.get`: which shop a token belongs to and what it may call."""

    mall_id: TemuId
    region_id: Lenient[int] = None
    mall_type: int | None = None  # 1 SEMI, 100 LOCAL
    expired_time: int | None = None  # Unix seconds
    api_scope_list: list[str] = Field(default_factory=list)
    app_subscribe_event_code_list: Lenient[list[str]] = None
    app_subscribe_status: Lenient[int] = None
    auth_event_code_list: Lenient[list[AuthEventCode]] = None
    semi_unique_id: Lenient[str] = None


class AccessToken(TokenInfo):
    """`bg.open.accesstoken.create`: the new token (a secret) plus the token info."""

    access_token: SecretStr
    associated_mall_token_list: Lenient[list[AssociatedMallToken]] = None


# --- listings ------------------------------------------------------------------------------


class Money(TemuModel):
    """A listing price: a decimal string in currency units (`"329.00"`), as the product APIs send it."""

    amount: Lenient[Decimal] = None
    currency: Lenient[str] = None


class SkuSpec(TemuModel):
    spec_id: Lenient[int] = None
    parent_spec_id: Lenient[int] = None
    spec_name: Lenient[str] = None
    parent_spec_name: Lenient[str] = None


class GoodsSkuInfo(TemuModel):
    sku_id: TemuId
    sku_sn: str | None = None
    stock: Lenient[int] = None
    spec_list: Lenient[list[SkuSpec]] = None


class Goods(TemuModel):
    """One entry of `bg.local.goods.list.query`; `quantity` is goods-level stock."""

    goods_id: TemuId
    goods_name: str | None = None
    out_goods_sn: Lenient[str] = None
    out_sku_sn_list: Lenient[list[str]] = None
    sku_id_list: list[TemuId] = Field(default_factory=list)
    sku_info_list: list[GoodsSkuInfo] = Field(default_factory=list)
    quantity: Lenient[int] = None
    price: Lenient[str] = None
    currency: Lenient[str] = None
    thumb_url: Lenient[str] = None
    spec_name: Lenient[str] = None
    cat_id: Lenient[int] = None
    crt_time: Lenient[int] = None
    goods_status_change_time: Lenient[str] = None  # a string in the docs; unit undocumented
    status: Lenient[int] = Field(None, alias="status4VO")
    sub_status: Lenient[int] = Field(None, alias="subStatus4VO")  # 1..14 (StatusFilterEnum)
    goods_show_sub_status: Lenient[int] = None  # the four-digit code (3003 = sold out)


class GoodsPage(TemuModel):
    page_no: Lenient[int] = None
    total: int = 0
    goods_list: list[Goods] = Field(default_factory=list)


class Sku(TemuModel):
    """One entry of `bg.local.goods.sku.list.query`: per-SKU stock; `sku_sn` is the seller SKU.

    Two status fields: `status4VO` (2 active, 3 inactive) and `skuShowSubStatus4VO`, the
    four-digit sub-status (3003 = sold out). `subStatus4VO` is a different enum (1..14).
    """

    goods_id: TemuId
    sku_id: TemuId
    sku_sn: str | None = None
    goods_name: str | None = None
    spec_name: str | None = None
    spec_list: Lenient[list[SkuSpec]] = None
    thumb_url: Lenient[str] = None
    stock: int | None = None
    price: Lenient[str] = None
    currency: Lenient[str] = None
    retail_price: Lenient[Money] = None
    crt_time: Lenient[int] = None
    status: int | None = Field(None, alias="status4VO")
    sub_status: Lenient[int] = Field(None, alias="subStatus4VO")  # StatusFilterEnum: 1 OUT_OF_STOCK .. 14
    show_sub_status: int | None = Field(None, alias="skuShowSubStatus4VO")  # 2001 on sale, 3003 sold out, ...
    goods_is_on_sale: Lenient[int] = None  # an integer in the docs, values undocumented
    sku_status_change_time: Lenient[str] = None  # a string in the docs; unit undocumented


class SkuPage(TemuModel):
    page_no: Lenient[int] = None
    total: int = 0
    sku_list: list[Sku] = Field(default_factory=list)


class RetrievedSku(TemuModel):
    """One entry of `temu.local.sku.list.retrieve` (ids arrive as strings; statuses are names)."""

    goods_id: TemuId
    sku_id: TemuId
    out_sku_sn: str | None = None
    out_goods_sn: Lenient[str] = None
    sku_status: str | None = None  # ACTIVE, INACTIVE, INCOMPLETE, DRAFT, DELETED
    sku_sub_status: Lenient[str] = None  # a name, e.g. OUT_OF_STOCK
    goods_name: str | None = None
    spec_name: str | None = None
    cat_id: Lenient[str] = None
    thumb_url: Lenient[str] = None
    stock: Lenient[int] = None
    goods_create_time: Lenient[int] = None
    sku_status_change_time: Lenient[int] = None  # ms


class Pagination(TemuModel):
    next_token: str | None = None
    previous_token: Lenient[str] = None


class SkuRetrievePage(TemuModel):
    total: int = 0
    pagination: Pagination = Field(default_factory=Pagination)
    sku_list: list[RetrievedSku] = Field(default_factory=list)


class SkuStockEditStatus(TemuModel):
    sku_id: TemuId
    stock_edit_status: bool
    error_code: int | None = None
    error_msg: str | None = None


class StockEditResult(TemuModel):
    """`bg.local.goods.stock.edit`: per-SKU outcomes matter even when the call succeeded."""

    goods_id: TemuId
    operate_result: bool | None = None
    msg: Lenient[str] = None
    sku_stock_edit_status_info_list: list[SkuStockEditStatus] = Field(default_factory=list)

    @property
    def failed(self) -> list[SkuStockEditStatus]:
        return [s for s in self.sku_stock_edit_status_info_list if not s.stock_edit_status]

    @property
    def succeeded_sku_ids(self) -> list[int]:
        return [s.sku_id for s in self.sku_stock_edit_status_info_list if s.stock_edit_status]


# --- orders --------------------------------------------------------------------------------


class Label(TemuModel):
    name: str
    value: int = 0


class ParentOrder(TemuModel):
    """`parentOrderMap`; times in Unix seconds. `updateTime` only in the list call (the detail
    has none); `region_name1..3` only in the detail."""

    parent_order_sn: str
    parent_order_status: int
    parent_order_time: Lenient[int] = None
    parent_confirm_time: Lenient[int] = None
    parent_order_pending_finish_time: Lenient[int] = None
    expect_ship_latest_time: Lenient[int] = None
    latest_delivery_time: Lenient[int] = None
    parent_shipping_time: Lenient[int] = None
    update_time: int | None = None
    region_id: int | None = None
    site_id: Lenient[int] = None
    parent_order_label: list[Label] = Field(default_factory=list)
    fulfillment_warning: list[str] = Field(default_factory=list)
    has_shipping_fee: Lenient[bool] = None
    order_payment_type: Lenient[str] = None
    shipping_method: Lenient[int] = None
    region_name1: Lenient[str] = None
    region_name2: Lenient[str] = None
    region_name3: Lenient[str] = None

    def has_label(self, name: str) -> bool:
        return any(label.name == name and label.value == 1 for label in self.parent_order_label)


class OrderProduct(TemuModel):
    product_id: Lenient[int] = None
    product_sku_id: Lenient[int] = None
    sold_factor: Lenient[int] = None
    ext_code: Lenient[str] = None


class PackageSnInfo(TemuModel):
    package_sn: str
    package_delivery_type: Lenient[int] = None
    call_success: Lenient[bool] = None


class OrderItem(TemuModel):
    """One line (`orderList[]`); `quantity` already excludes units cancelled before shipment."""

    order_sn: str
    goods_id: TemuId | None = None
    sku_id: TemuId | None = None
    quantity: int
    original_order_quantity: Lenient[int] = None
    canceled_quantity_before_shipment: int = 0
    order_status: int
    is_cancelled_during_pending: Lenient[bool] = None
    goods_name: str | None = None
    original_goods_name: Lenient[str] = None
    spec: str | None = None
    original_spec_name: Lenient[str] = None
    thumb_url: Lenient[str] = None
    fulfillment_type: Lenient[str] = None
    fulfillment_warning: Lenient[list[str]] = None
    order_label: Lenient[list[Label]] = None
    inventory_deduction_warehouse_id: Lenient[str] = None
    order_payment_type: Lenient[str] = None
    order_create_time: Lenient[int] = None
    order_shipping_time: Lenient[int] = None
    product_list: Lenient[list[OrderProduct]] = None
    package_sn_info: Lenient[list[PackageSnInfo]] = None


class Order(TemuModel):
    """A parent order with its items (list entry and detail share this shape)."""

    parent_order_map: ParentOrder
    order_list: list[OrderItem] = Field(default_factory=list)

    @property
    def parent_order_sn(self) -> str:
        return self.parent_order_map.parent_order_sn


class OrderPage(TemuModel):
    total_item_num: int = 0
    page_items: list[Order] = Field(default_factory=list)


class Amount(TemuModel):
    """Money of the order APIs: an integer in the currency's minor unit (US cents: 32900 is
    $329.00; JPY has no minor unit: 32900 is ¥32,900)."""

    amount: Annotated[int, Strict()]
    currency: str


class AmountLine(TemuModel):
    order_sn: str
    quantity: Lenient[int] = None  # the originally ordered quantity
    unit_retail_price: Amount | None = None
    base_price: Lenient[Amount] = None
    discount_from_seller: Lenient[Amount] = None
    product_tax_amount: Lenient[Amount] = None


class ParentAmount(TemuModel):
    parent_order_sn: Lenient[str] = None
    customer_paid: Lenient[Amount] = None
    retail_price_total: Lenient[Amount] = None
    shipping_amount_total: Lenient[Amount] = None
    tax_total: Lenient[Amount] = None
    total_discount: Lenient[Amount] = None
    estimated_revenue: Lenient[Amount] = None


class OrderAmount(TemuModel):
    """`bg.order.amount.query` (whitelisted)."""

    parent_order_map: ParentAmount = Field(default_factory=ParentAmount)
    order_list: list[AmountLine] = Field(default_factory=list)
    warning: Lenient[list[str]] = None


# --- addresses -----------------------------------------------------------------------------


class AddressExtra(TemuModel):
    first_name: Lenient[str] = Field(None, repr=False)
    last_name: Lenient[str] = Field(None, repr=False)
    additional_first_name: Lenient[str] = Field(None, repr=False)
    additional_last_name: Lenient[str] = Field(None, repr=False)
    contactless_drop_point: Lenient[str] = Field(None, repr=False)


class AddressWarning(TemuModel):
    is_restriction: Lenient[bool] = None
    reason: Lenient[int] = None  # 1 COD, 2 restricted from self-shipping, 3 buy-shipping only, 5 store delivery


class ShippingAddress(TemuModel):
    """`bg.order.shippinginfo.v2.get` / `bg.order.decryptshippinginfo.get`.

    Every buyer field is excluded from repr/str; read the attributes explicitly to map them.
    """

    receipt_name: str | None = Field(None, repr=False)
    receipt_additional_name: Lenient[str] = Field(None, repr=False)
    mobile: str | None = Field(None, repr=False)
    backup_mobile: Lenient[str] = Field(None, repr=False)
    mail: Lenient[str] = Field(None, repr=False)
    region_name1: str | None = Field(None, repr=False)
    region_name2: str | None = Field(None, repr=False)
    region_name3: str | None = Field(None, repr=False)
    region_name4: Lenient[str] = Field(None, repr=False)
    address_line1: str | None = Field(None, repr=False)
    address_line2: str | None = Field(None, repr=False)
    address_line3: str | None = Field(None, repr=False)
    address_line_all: Lenient[str] = Field(None, repr=False)
    post_code: str | None = Field(None, repr=False)
    tax_code: Lenient[str] = Field(None, repr=False)
    tax_code_type: Lenient[int] = Field(None, repr=False)  # an integer in the docs; values undocumented
    address_extra: Lenient[AddressExtra] = Field(None, repr=False)
    warning: Lenient[AddressWarning] = None

    @property
    def is_masked(self) -> bool:
        """True when a street-level field is masked with `*` (then use the decrypt API)."""
        fields = (self.receipt_name, self.address_line1, self.address_line2, self.post_code)
        return any(value is not None and "*" in value for value in fields)


# --- logistics -----------------------------------------------------------------------------


class Carrier(TemuModel):
    """`bg.logistics.companies.get` entry; ids are per region."""

    logistics_service_provider_id: TemuId
    logistics_service_provider_name: str | None = None
    logistics_brand_name: Lenient[str] = None


CARRIER_LIST: TypeAdapter[list[Carrier]] = TypeAdapter(list[Carrier])


class Warehouse(TemuModel):
    warehouse_id: str
    warehouse_name: Lenient[str] = None
    default_warehouse: bool | None = None
    warehouse_brand: Lenient[str] = None
    region_id1: Lenient[int] = None
    warehouse_management_type: Lenient[int] = None
    enable_buy_shipping_label: Lenient[bool] = None


class WarehouseList(TemuModel):
    warehouse_list: list[Warehouse] = Field(default_factory=list)

    def default(self) -> Warehouse | None:
        return next((w for w in self.warehouse_list if w.default_warehouse), None)


class ShipmentConfirmResult(TemuModel):
    assistant_agreement_text: Lenient[str] = None
    warning_message: Lenient[list[Any]] = None


class SubPackageShipment(TemuModel):
    carrier_id: TemuId | None = None
    carrier_name: Lenient[str] = None
    package_sn: Lenient[str] = None
    package_delivery_type: Lenient[int] = None
    tracking_number: str | None = None


class ShipmentInfo(TemuModel):
    carrier_id: TemuId | None = None
    carrier_name: Lenient[str] = None
    tracking_number: str | None = None
    sku_id: TemuId | None = None
    quantity: int | None = None
    package_sn: Lenient[str] = None
    package_delivery_type: Lenient[int] = None
    tracking_warning_label: Lenient[int] = None
    sub_package_shipment_info_list: list[SubPackageShipment] = Field(default_factory=list)


class ShipmentInfoResult(TemuModel):
    """`bg.logistics.shipment.v2.get`: what Temu holds as shipped for one order item."""

    shipments: list[ShipmentInfo] = Field(default_factory=list, alias="shipmentInfoDTO")

    def tracking_numbers(self) -> set[str]:
        found = {s.tracking_number for s in self.shipments if s.tracking_number}
        found |= {p.tracking_number for s in self.shipments for p in s.sub_package_shipment_info_list
                  if p.tracking_number}
        return found


# --- requests (serialized in field order; the signature depends on it) -----------------------


class ShipmentLine(TemuModel):
    """One `orderSendInfoList` entry: always the item's full `quantity`."""

    parent_order_sn: str
    order_sn: str
    quantity: int
    goods_id: TemuId | None = None
    sku_id: TemuId | None = None


class SubPackage(TemuModel):
    carrier_id: TemuId
    tracking_number: str
    warehouse_id: str = Field(alias="selfShippingWarehouseId")


class ShipmentPackage(TemuModel):
    """One `sendRequestList` entry (one box with its tracking number)."""

    carrier_id: TemuId
    tracking_number: str
    warehouse_id: str = Field(alias="selfShippingWarehouseId")
    lines: list[ShipmentLine] = Field(alias="orderSendInfoList", min_length=1)
    confirm_acceptance: list[str] | None = None
    sub_packages: list[SubPackage] | None = Field(None, alias="subSendRequests", max_length=10)

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)
