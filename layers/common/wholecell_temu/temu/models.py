"""Typed `result` payloads of the Temu endpoints the integration uses, and shipment requests.

This module is the one place that knows Temu's field names: attributes are snake_case with
the wire camelCase as alias. Models are lenient where Temu is inconsistent (unknown fields
are ignored, newer fields may be absent) and strict where mistakes are costly: ids are ints,
accepted as ints or decimal strings (the `temu.local.*` APIs send strings), never floats,
because ~15-digit ids do not survive a float. Buyer addresses and tokens never show in
`repr`/`str`, so an accidental log line cannot leak them.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, Strict, TypeAdapter
from pydantic.alias_generators import to_camel


def _parse_id(value: object) -> object:
    """Decimal strings become ints; floats and booleans are refused (Strict rejects the rest)."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    if isinstance(value, bool | float):
        raise ValueError("Temu ids are integers or decimal strings, never floats or booleans")
    return value


TemuId = Annotated[int, BeforeValidator(_parse_id), Strict()]


class TemuModel(BaseModel):
    """Base: camelCase aliases, unknown fields ignored, immutable, constructible by name too."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore", frozen=True)


# --- authorization -------------------------------------------------------------------------


class AuthEventCode(TemuModel):
    event_code: str | None = None
    permits_status: int | None = None


class AssociatedMallToken(TemuModel):
    access_token: SecretStr
    mall_id: TemuId


class TokenInfo(TemuModel):
    """`bg.open.accesstoken.info.get`: which shop a token belongs to and what it may call."""

    mall_id: TemuId
    region_id: int | None = None
    mall_type: int | None = None  # 1 SEMI, 100 LOCAL
    expired_time: int | None = None  # Unix seconds
    api_scope_list: list[str] = Field(default_factory=list)
    app_subscribe_event_code_list: list[str] = Field(default_factory=list)
    app_subscribe_status: int | None = None
    auth_event_code_list: list[AuthEventCode] = Field(default_factory=list)
    semi_unique_id: str | None = None


class AccessToken(TokenInfo):
    """`bg.open.accesstoken.create`: the new token (a secret) plus the token info."""

    access_token: SecretStr
    associated_mall_token_list: list[AssociatedMallToken] = Field(default_factory=list)


# --- listings ------------------------------------------------------------------------------


class Money(TemuModel):
    amount: Decimal | None = None
    currency: str | None = None


class SkuSpec(TemuModel):
    spec_id: int | None = None
    parent_spec_id: int | None = None
    spec_name: str | None = None
    parent_spec_name: str | None = None


class GoodsSkuInfo(TemuModel):
    sku_id: TemuId
    sku_sn: str | None = None
    spec_list: list[SkuSpec] = Field(default_factory=list)


class Goods(TemuModel):
    """One entry of `bg.local.goods.list.query`; `quantity` is goods-level stock."""

    goods_id: TemuId
    goods_name: str | None = None
    out_goods_sn: str | None = None
    out_sku_sn_list: list[str] = Field(default_factory=list)
    sku_id_list: list[TemuId] = Field(default_factory=list)
    sku_info_list: list[GoodsSkuInfo] = Field(default_factory=list)
    quantity: int | None = None
    price: str | None = None
    currency: str | None = None
    thumb_url: str | None = None
    spec_name: str | None = None
    cat_id: int | None = None
    crt_time: int | None = None
    goods_status_change_time: int | None = None
    status: int | None = Field(None, alias="status4VO")
    sub_status: int | None = Field(None, alias="subStatus4VO")
    goods_show_sub_status: int | None = None


class GoodsPage(TemuModel):
    page_no: int | None = None
    total: int = 0
    goods_list: list[Goods] = Field(default_factory=list)


class Sku(TemuModel):
    """One entry of `bg.local.goods.sku.list.query`: per-SKU stock; `sku_sn` is the seller SKU."""

    goods_id: TemuId
    sku_id: TemuId
    sku_sn: str | None = None
    goods_name: str | None = None
    spec_name: str | None = None
    spec_list: list[SkuSpec] = Field(default_factory=list)
    thumb_url: str | None = None
    stock: int | None = None
    price: str | None = None
    currency: str | None = None
    retail_price: Money | None = None
    crt_time: int | None = None
    status: int | None = Field(None, alias="status4VO")
    sub_status: int | None = Field(None, alias="subStatus4VO")
    show_sub_status: int | None = Field(None, alias="skuShowSubStatus4VO")
    goods_is_on_sale: bool | None = None
    sku_status_change_time: int | None = None


class SkuPage(TemuModel):
    page_no: int | None = None
    total: int = 0
    sku_list: list[Sku] = Field(default_factory=list)


class RetrievedSku(TemuModel):
    """One entry of `temu.local.sku.list.retrieve` (ids arrive as strings; no stock)."""

    goods_id: TemuId
    sku_id: TemuId
    out_sku_sn: str | None = None
    out_goods_sn: str | None = None
    sku_status: int | None = None
    sku_sub_status: int | None = None
    goods_name: str | None = None
    spec_name: str | None = None
    cat_id: int | None = None
    thumb_url: str | None = None
    goods_create_time: int | None = None
    sku_status_change_time: int | None = None


class Pagination(TemuModel):
    next_token: str | None = None
    previous_token: str | None = None


class SkuRetrievePage(TemuModel):
    total: int = 0
    pagination: Pagination = Field(default_factory=Pagination)
    sku_list: list[RetrievedSku] = Field(default_factory=list)


class StockValue(TemuModel):
    stock: int | None = None
    stock_type: int | None = None


class SkuStockInfo(TemuModel):
    sku_id: TemuId
    out_sku_sn: str | None = None
    self_ordinary_stock: StockValue | None = None
    self_pre_sale_stock: StockValue | None = None
    cert_ordinary_stock: StockValue | None = None


class GoodsStock(TemuModel):
    goods_id: TemuId
    sku_stock_info_list: list[SkuStockInfo] = Field(default_factory=list)


class SkuStockResult(TemuModel):
    """`temu.local.goods.sku.stock.query`: exact stock, for verifying writes."""

    stock_list: list[GoodsStock] = Field(default_factory=list)

    def ordinary_stock(self) -> dict[int, int]:
        """skuId → ordinary (self-fulfilled) stock, for the SKUs that report one."""
        return {
            info.sku_id: info.self_ordinary_stock.stock
            for goods in self.stock_list
            for info in goods.sku_stock_info_list
            if info.self_ordinary_stock is not None and info.self_ordinary_stock.stock is not None
        }


class SkuStockEditStatus(TemuModel):
    sku_id: TemuId
    stock_edit_status: bool
    error_code: int | None = None
    error_msg: str | None = None


class StockEditResult(TemuModel):
    """`bg.local.goods.stock.edit`: per-SKU outcomes matter even when the call succeeded."""

    goods_id: TemuId
    operate_result: bool | None = None
    msg: str | None = None
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
    """`parentOrderMap`; times in Unix seconds. `region_name1..3` only in the detail."""

    parent_order_sn: str
    parent_order_status: int
    parent_order_time: int | None = None
    parent_confirm_time: int | None = None
    parent_order_pending_finish_time: int | None = None
    expect_ship_latest_time: int | None = None
    latest_delivery_time: int | None = None
    parent_shipping_time: int | None = None
    update_time: int | None = None
    region_id: int | None = None
    site_id: int | None = None
    parent_order_label: list[Label] = Field(default_factory=list)
    fulfillment_warning: list[str] = Field(default_factory=list)
    has_shipping_fee: bool | None = None
    order_payment_type: str | None = None
    shipping_method: int | None = None
    region_name1: str | None = None
    region_name2: str | None = None
    region_name3: str | None = None

    def has_label(self, name: str) -> bool:
        return any(label.name == name and label.value == 1 for label in self.parent_order_label)


class OrderProduct(TemuModel):
    product_id: int | None = None
    product_sku_id: int | None = None
    sold_factor: int | None = None
    ext_code: str | None = None


class PackageSnInfo(TemuModel):
    package_sn: str
    package_delivery_type: int | None = None
    call_success: bool | None = None


class OrderItem(TemuModel):
    """One line (`orderList[]`); `quantity` already excludes units cancelled before shipment."""

    order_sn: str
    goods_id: TemuId | None = None
    sku_id: TemuId | None = None
    quantity: int
    original_order_quantity: int | None = None
    canceled_quantity_before_shipment: int = 0
    order_status: int
    is_cancelled_during_pending: bool | None = None
    goods_name: str | None = None
    original_goods_name: str | None = None
    spec: str | None = None
    original_spec_name: str | None = None
    thumb_url: str | None = None
    fulfillment_type: str | None = None
    fulfillment_warning: list[str] = Field(default_factory=list)
    order_label: list[Label] = Field(default_factory=list)
    inventory_deduction_warehouse_id: str | None = None
    order_payment_type: str | None = None
    order_create_time: int | None = None
    order_shipping_time: int | None = None
    product_list: list[OrderProduct] = Field(default_factory=list)
    package_sn_info: list[PackageSnInfo] = Field(default_factory=list)


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


class AmountLine(TemuModel):
    order_sn: str
    quantity: int | None = None
    unit_retail_price: Money | None = None
    base_price: Money | None = None
    discount_from_seller: Money | None = None
    product_tax_amount: Money | None = None


class ParentAmount(TemuModel):
    parent_order_sn: str | None = None
    customer_paid: Money | None = None
    retail_price_total: Money | None = None
    shipping_amount_total: Money | None = None
    tax_total: Money | None = None
    total_discount: Money | None = None
    estimated_revenue: Money | None = None


class OrderAmount(TemuModel):
    """`bg.order.amount.query` (whitelisted); the amount unit is as Temu sends it."""

    parent_order_map: ParentAmount = Field(default_factory=ParentAmount)
    order_list: list[AmountLine] = Field(default_factory=list)
    warning: list[str] = Field(default_factory=list)


# --- addresses -----------------------------------------------------------------------------


class AddressExtra(TemuModel):
    first_name: str | None = Field(None, repr=False)
    last_name: str | None = Field(None, repr=False)
    additional_first_name: str | None = Field(None, repr=False)
    additional_last_name: str | None = Field(None, repr=False)
    contactless_drop_point: str | None = Field(None, repr=False)


class AddressWarning(TemuModel):
    is_restriction: bool | None = None
    reason: int | None = None  # 1 COD, 2 restricted from self-shipping, 3 buy-shipping only


class ShippingAddress(TemuModel):
    """`bg.order.shippinginfo.v2.get` / `bg.order.decryptshippinginfo.get`.

    Every buyer field is excluded from repr/str; read the attributes explicitly to map them.
    """

    receipt_name: str | None = Field(None, repr=False)
    receipt_additional_name: str | None = Field(None, repr=False)
    mobile: str | None = Field(None, repr=False)
    backup_mobile: str | None = Field(None, repr=False)
    mail: str | None = Field(None, repr=False)
    region_name1: str | None = Field(None, repr=False)
    region_name2: str | None = Field(None, repr=False)
    region_name3: str | None = Field(None, repr=False)
    region_name4: str | None = Field(None, repr=False)
    address_line1: str | None = Field(None, repr=False)
    address_line2: str | None = Field(None, repr=False)
    address_line3: str | None = Field(None, repr=False)
    address_line_all: str | None = Field(None, repr=False)
    post_code: str | None = Field(None, repr=False)
    tax_code: str | None = Field(None, repr=False)
    tax_code_type: str | None = Field(None, repr=False)
    address_extra: AddressExtra | None = Field(None, repr=False)
    warning: AddressWarning | None = None

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
    logistics_brand_name: str | None = None


CARRIER_LIST: TypeAdapter[list[Carrier]] = TypeAdapter(list[Carrier])


class Warehouse(TemuModel):
    warehouse_id: str
    warehouse_name: str | None = None
    default_warehouse: bool | None = None
    warehouse_brand: str | None = None
    region_id1: int | None = None
    warehouse_management_type: int | None = None
    enable_buy_shipping_label: bool | None = None


class WarehouseList(TemuModel):
    warehouse_list: list[Warehouse] = Field(default_factory=list)

    def default(self) -> Warehouse | None:
        return next((w for w in self.warehouse_list if w.default_warehouse), None)


class ShipmentConfirmResult(TemuModel):
    assistant_agreement_text: str | None = None
    warning_message: list[Any] | None = None


class SubPackageShipment(TemuModel):
    carrier_id: TemuId | None = None
    carrier_name: str | None = None
    package_sn: str | None = None
    package_delivery_type: int | None = None
    tracking_number: str | None = None


class ShipmentInfo(TemuModel):
    carrier_id: TemuId | None = None
    carrier_name: str | None = None
    tracking_number: str | None = None
    sku_id: TemuId | None = None
    quantity: int | None = None
    package_sn: str | None = None
    package_delivery_type: int | None = None
    tracking_warning_label: int | None = None
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


class PackageEdit(TemuModel):
    """One `editPackageRequestList` entry of `bg.logistics.shipment.shippingtype.update`."""

    package_sn: str
    tracking_number: str
    carrier_id: TemuId = Field(alias="shipCompanyId")
    warehouse_id: str | None = Field(None, alias="selfShippingWarehouseId")

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True, exclude_none=True)
