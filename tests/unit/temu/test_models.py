"""Typed results: ids stay ints (strings coerced, floats refused), unknown fields tolerated,
buyer data never in repr/str."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ConfigDict, TypeAdapter, ValidationError
from wholecell_temu.temu import models
from wholecell_temu.temu.models import (
    CARRIER_LIST,
    AccessToken,
    AddressExtra,
    AddressWarning,
    Amount,
    AmountLine,
    AuthEventCode,
    Carrier,
    GoodsPage,
    Lenient,
    Money,
    Order,
    OrderAmount,
    OrderPage,
    OrderProduct,
    PackageSnInfo,
    Pagination,
    ParentAmount,
    RetrievedSku,
    ShipmentConfirmResult,
    ShipmentInfoResult,
    ShipmentLine,
    ShipmentPackage,
    ShippingAddress,
    Sku,
    SkuPage,
    SkuRetrievePage,
    StockEditResult,
    SubPackage,
    TokenInfo,
    Warehouse,
    WarehouseList,
)

from local import temu_contract


def test_sku_from_reference_sample_keeps_int_ids() -> None:
    sku = Sku.model_validate({"goodsId": 601099512345678, "skuId": 17592186044416, "skuSn": "IP13-128-BLK-B",
                              "stock": 4, "price": "329.00", "status4VO": 2, "brandNew": "ignored"})
    assert sku.goods_id == 601099512345678 and sku.sku_id == 17592186044416
    assert sku.sku_sn == "IP13-128-BLK-B" and sku.stock == 4 and sku.status == 2


def test_string_ids_are_coerced_to_int() -> None:
    sku = RetrievedSku.model_validate({"goodsId": "601099512345678", "skuId": "17592186044416"})
    assert sku.goods_id == 601099512345678 and isinstance(sku.sku_id, int)


@pytest.mark.parametrize("bad", [6.01099512345678e14, True, "12a", "1.5"])
def test_ids_refuse_floats_booleans_and_non_decimal_strings(bad: object) -> None:
    with pytest.raises(ValidationError):
        Sku.model_validate({"goodsId": bad, "skuId": 1})


def test_absent_newer_fields_and_extra_fields_are_tolerated() -> None:
    page = OrderPage.model_validate({"totalItemNum": 1, "pageItems": [{
        "parentOrderMap": {"parentOrderSn": "PO-211-1", "parentOrderStatus": 2, "somethingNew": {"x": 1}},
        "orderList": [{"orderSn": "211-1", "quantity": 0, "originalOrderQuantity": 1,
                       "canceledQuantityBeforeShipment": 1, "orderStatus": 3}]}]})
    order = page.page_items[0]
    assert order.parent_order_sn == "PO-211-1"
    assert order.parent_order_map.parent_confirm_time is None
    assert order.order_list[0].canceled_quantity_before_shipment == 1


def test_order_labels() -> None:
    order = Order.model_validate({"parentOrderMap": {"parentOrderSn": "PO-1", "parentOrderStatus": 2,
                                                     "parentOrderLabel": [{"name": "past_due", "value": 1},
                                                                          {"name": "soon_to_be_overdue", "value": 0}]}})
    assert order.parent_order_map.has_label("past_due")
    assert not order.parent_order_map.has_label("soon_to_be_overdue")


def test_stock_edit_failures_are_listed() -> None:
    result = StockEditResult.model_validate({"goodsId": 1, "operateResult": False, "msg": "partial success",
                                             "skuStockEditStatusInfoList": [
                                                 {"skuId": 10, "stockEditStatus": True, "errorCode": None},
                                                 {"skuId": "11", "stockEditStatus": False, "errorCode": 150010003,
                                                  "errorMsg": "invalid sku"}]})
    assert [f.sku_id for f in result.failed] == [11]
    assert result.succeeded_sku_ids == [10]


def test_address_never_shows_buyer_data() -> None:
    address = ShippingAddress.model_validate({"receiptName": "Jane Doe", "mobile": "2135550100",
                                              "addressLine1": "1 Secret Street", "postCode": "90001",
                                              "addressExtra": {"firstName": "Jane"},
                                              "warning": {"isRestriction": False}})
    for text in (repr(address), str(address)):
        for secret in ("Jane", "Doe", "2135550100", "Secret", "90001"):
            assert secret not in text
    assert address.receipt_name == "Jane Doe"
    assert not address.is_masked
    assert ShippingAddress.model_validate({"addressLine1": "1** M*** S*****"}).is_masked


def test_access_token_is_secret() -> None:
    token = AccessToken.model_validate({"accessToken": "upl-secret-token", "mallId": "634418210000001",
                                        "regionId": 211, "mallType": 100, "expiredTime": 1799999999,
                                        "apiScopeList": ["bg.order.list.v2.get"]})
    assert "upl-secret-token" not in repr(token)
    assert token.access_token.get_secret_value() == "upl-secret-token"
    assert token.mall_id == 634418210000001


def test_carrier_list_result_is_an_array() -> None:
    carriers = CARRIER_LIST.validate_python([{"logisticsServiceProviderId": "100000001",
                                              "logisticsServiceProviderName": "USPS"}])
    assert carriers[0].logistics_service_provider_id == 100000001


def test_shipment_package_wire_shape_and_order() -> None:
    package = ShipmentPackage(carrier_id=100000001, tracking_number="9400111899562837465012", warehouse_id="WH-1",
                              lines=[ShipmentLine(parent_order_sn="PO-211-1", order_sn="211-1", quantity=1,
                                                  goods_id=5, sku_id=6)],
                              sub_packages=[SubPackage(carrier_id=100000001, tracking_number="T2",
                                                       warehouse_id="WH-1")])
    wire = package.to_wire()
    assert list(wire) == ["carrierId", "trackingNumber", "selfShippingWarehouseId", "orderSendInfoList",
                          "subSendRequests"]
    assert wire["orderSendInfoList"] == [{"parentOrderSn": "PO-211-1", "orderSn": "211-1", "quantity": 1,
                                          "goodsId": 5, "skuId": 6}]


# --- Temu's documented answers (tests/contract/temu/), parsed as the client does ------------------


def _documented(api_type: str) -> Any:
    return temu_contract.fixture(api_type)["response"]["example"]


def test_the_documented_sku_page_keeps_ids_stock_statuses_and_prices() -> None:
    page = SkuPage.model_validate(_documented("bg.local.goods.sku.list.query"))
    assert (page.page_no, page.total, len(page.sku_list)) == (1, 2, 2)
    first = page.sku_list[0]
    assert (first.goods_id, first.sku_id, first.sku_sn, first.stock, first.status, first.sub_status,
            first.show_sub_status, first.goods_is_on_sale) == (
        602871634509218, 51481625557901, "IP13-128-BLK-B", 4, 2, 8, 2001, 1)
    assert (first.price, first.currency, first.spec_name, first.crt_time, first.sku_status_change_time) == (
        "329.00", "USD", "Black, 128GB", 1764547200000, "1766102400000")
    assert first.retail_price == Money(amount=Decimal("449.00"), currency="USD")
    assert first.spec_list is not None
    assert [(s.parent_spec_name, s.spec_name, s.spec_id) for s in first.spec_list] == [
        ("Color", "Black", 15213), ("Storage Capacity", "128GB", 35876)]
    assert [(s.sku_sn, s.stock) for s in page.sku_list] == [("IP13-128-BLK-B", 4), ("IP13-128-BLU-B", 0)]


def test_the_documented_goods_page_keeps_goods_level_and_per_sku_values() -> None:
    page = GoodsPage.model_validate(_documented("bg.local.goods.list.query"))
    assert (page.page_no, page.total) == (1, 37)
    goods = page.goods_list[0]
    assert (goods.goods_id, goods.goods_name, goods.out_goods_sn, goods.quantity, goods.status, goods.sub_status,
            goods.goods_show_sub_status, goods.cat_id) == (
        602871634509218, "Apple iPhone 13 128GB Unlocked (Renewed)", "IP13-128", 6, 2, 8, 2001, 29063)
    assert goods.sku_id_list == [51481625557901, 51481625557902]
    assert [(s.sku_id, s.sku_sn, s.stock) for s in goods.sku_info_list] == [
        (51481625557901, "IP13-128-BLK-B", 4), (51481625557902, "IP13-128-BLU-B", 2)]


def test_the_documented_retrieve_page_turns_string_ids_into_ints_and_keeps_the_tokens() -> None:
    page = SkuRetrievePage.model_validate(_documented("temu.local.sku.list.retrieve"))
    assert page.total == 2
    assert page.pagination == Pagination(next_token="eyJsYXN0U2t1SWQiOjUxNDgxNjI1NTU3OTAyfQ",
                                         previous_token="eyJmaXJzdFNrdUlkIjo1MTQ4MTYyNTU1NzkwMX0")
    first = page.sku_list[0]
    assert (first.goods_id, first.sku_id, first.out_sku_sn, first.sku_status, first.cat_id, first.stock,
            first.sku_status_change_time) == (
        602871634509218, 51481625557901, "IP13-128-BLK-B", "ACTIVE", "29063", 4, 1766102400000)
    assert SkuRetrievePage.model_validate({}) == SkuRetrievePage(total=0, pagination=Pagination(), sku_list=[])


def test_the_documented_stock_edit_answer_lists_both_skus_as_succeeded() -> None:
    result = StockEditResult.model_validate(_documented("bg.local.goods.stock.edit"))
    assert (result.goods_id, result.operate_result, result.msg) == (602871634509218, True, "success")
    assert result.failed == []
    assert result.succeeded_sku_ids == [51481625557901, 51481625557902]


def test_the_documented_tokens_name_the_shop_and_its_scopes() -> None:
    created = AccessToken.model_validate(_documented("bg.open.accesstoken.create"))
    assert created.access_token.get_secret_value() == "uplv7r2kx9cd0qm4nw8tz1hj5ga3ye6bfs0ol2pkv9dxr4mc8wtq1zn7e"
    assert (created.mall_id, created.region_id, created.mall_type, created.expired_time) == (
        634418209871234, 211, 100, 1798848000)
    assert created.associated_mall_token_list is not None
    assert [t.mall_id for t in created.associated_mall_token_list] == [634418209871235]
    assert "uplm3x8" not in repr(created)
    info = TokenInfo.model_validate(_documented("bg.open.accesstoken.info.get"))
    assert info.api_scope_list[:2] == ["bg.open.accesstoken.info.get", "bg.local.goods.list.query"]
    assert info.auth_event_code_list == [
        AuthEventCode(event_code="bg_order_status_change_event", permits_status=1),
        AuthEventCode(event_code="bg_trade_logistics_address_changed", permits_status=1)]
    assert TokenInfo.model_validate({"mallId": "7"}).api_scope_list == []


def test_the_documented_order_list_keeps_parents_items_and_unix_second_times() -> None:
    page = OrderPage.model_validate(_documented("bg.order.list.v2.get"))
    assert page.total_item_num == 2
    assert [o.parent_order_sn for o in page.page_items] == ["PO-211-10384726150937164", "PO-211-10384726150937188"]
    parent = page.page_items[0].parent_order_map
    assert (parent.parent_order_status, parent.update_time, parent.region_id, parent.parent_order_time,
            parent.has_shipping_fee, parent.fulfillment_warning) == (
        4, 1767312060, 211, 1767225600, True, ["SUGGEST_SIGNATURE_ON_DELIVERY"])
    assert not parent.has_label("soon_to_be_overdue")  # documented with value 0
    item = page.page_items[1].order_list[0]
    assert (item.order_sn, item.goods_id, item.sku_id, item.quantity, item.original_order_quantity,
            item.canceled_quantity_before_shipment, item.order_status, item.spec) == (
        "211-10384726150945188", 601099512345702, 17592186044480, 2, 3, 1, 4, "Blue, 256GB")
    assert item.product_list == [OrderProduct(product_id=48201937561203, product_sku_id=52318746650277,
                                              sold_factor=1, ext_code="GS22-256-BLU-A")]


def test_the_documented_order_detail_has_no_update_time_but_region_names() -> None:
    order = Order.model_validate(_documented("bg.order.detail.v2.get"))
    parent = order.parent_order_map
    assert (parent.update_time, parent.region_name1, parent.region_name2, parent.region_name3) == (
        None, "United States", "New Jersey", "Newark")
    assert order.order_list[0].package_sn_info == [
        PackageSnInfo(package_sn="PK-0592545917174551617", package_delivery_type=3, call_success=False)]


def test_the_documented_amounts_are_integers_in_the_minor_unit() -> None:
    amounts = OrderAmount.model_validate(_documented("bg.order.amount.query"))
    parent = amounts.parent_order_map
    assert parent.parent_order_sn == "PO-211-10384726150937164"
    assert (parent.customer_paid, parent.retail_price_total, parent.tax_total, parent.estimated_revenue) == (
        Amount(amount=37886, currency="USD"), Amount(amount=34999, currency="USD"),
        Amount(amount=2887, currency="USD"), Amount(amount=32900, currency="USD"))
    line = amounts.order_list[0]
    assert (line.order_sn, line.quantity, line.unit_retail_price, line.base_price) == (
        "211-10384726150945164", 1, Amount(amount=34999, currency="USD"), Amount(amount=32900, currency="USD"))
    assert OrderAmount.model_validate({}).parent_order_map == ParentAmount()


@pytest.mark.parametrize("amount", ["349.99", 349.99, "34999"])
def test_an_order_amount_that_is_not_an_integer_fails_loudly(amount: object) -> None:
    line = {"orderSn": "211-1", "unitRetailPrice": {"currency": "USD", "amount": amount}}
    with pytest.raises(ValidationError) as raised:
        AmountLine.model_validate(line)
    assert raised.value.errors()[0]["loc"] == ("unitRetailPrice", "amount")


def test_the_documented_addresses_are_read_in_full_and_never_shown() -> None:
    for api_type in ("bg.order.shippinginfo.v2.get", "bg.order.decryptshippinginfo.get"):
        address = ShippingAddress.model_validate(_documented(api_type))
        assert (address.receipt_name, address.address_line1, address.address_line2, address.region_name3,
                address.region_name2, address.region_name1, address.post_code) == (
            "Jane Doe", "1234 Sunset Blvd", "Apt 5B", "Los Angeles", "California", "United States", "90028")
        assert address.address_extra == AddressExtra(first_name="Jane", last_name="Doe", additional_first_name="",
                                                     additional_last_name="", contactless_drop_point="")
        assert not address.is_masked
        assert "Jane" not in repr(address) and "Sunset" not in str(address) and "90028" not in repr(address)
    shipping = ShippingAddress.model_validate(_documented("bg.order.shippinginfo.v2.get"))
    assert shipping.warning == AddressWarning(is_restriction=False, reason=0)


@pytest.mark.parametrize(("field", "masked"), [("receiptName", "J*** D**"), ("addressLine1", "1*** S*****"),
                                               ("addressLine2", "A** 5*"), ("postCode", "900**")])
def test_an_address_is_masked_when_any_street_level_field_has_a_star(field: str, masked: str) -> None:
    documented = _documented("bg.order.shippinginfo.v2.get")
    assert ShippingAddress.model_validate({**documented, field: masked}).is_masked
    assert not ShippingAddress.model_validate({**documented, "mobile": "213***0147", "regionName3": "L*"}).is_masked
    assert not ShippingAddress.model_validate({}).is_masked


def test_the_documented_carriers_are_a_list_with_int_ids() -> None:
    carriers = CARRIER_LIST.validate_python(_documented("bg.logistics.companies.get"))
    assert [(c.logistics_service_provider_id, c.logistics_service_provider_name, c.logistics_brand_name)
            for c in carriers] == [(998264743, "USPS", "USPS"), (998264751, "UPS", "UPS")]


def test_the_documented_warehouses_name_the_default_one() -> None:
    warehouses = WarehouseList.model_validate(_documented("bg.logistics.warehouse.list.get"))
    default = warehouses.default()
    assert default is not None
    assert (default.warehouse_id, default.warehouse_name, default.region_id1) == (
        "WH-04024228864152414", "Dallas Refurb Center", 211)
    second = warehouses.warehouse_list[1]
    assert WarehouseList(warehouse_list=[second, warehouses.warehouse_list[0]]).default() == default


@pytest.mark.parametrize("flags", [[], [False], [None, False]])
def test_a_warehouse_list_without_a_default_has_none(flags: list[bool | None]) -> None:
    warehouses = WarehouseList(warehouse_list=[Warehouse(warehouse_id=f"WH-{i}", default_warehouse=flag)
                                               for i, flag in enumerate(flags)])
    assert warehouses.default() is None


def test_the_documented_shipment_info_gives_every_tracking_number() -> None:
    info = ShipmentInfoResult.model_validate(_documented("bg.logistics.shipment.v2.get"))
    shipment = info.shipments[0]
    assert (shipment.carrier_id, shipment.sku_id, shipment.quantity, shipment.package_sn) == (
        998264743, 17592186044416, 1, "PK-0878421204009732414")
    assert info.tracking_numbers() == {"9400111899562837465012", "9400111899562837465029"}


def test_tracking_numbers_skip_empty_ones_and_join_packages_with_sub_packages() -> None:
    info = ShipmentInfoResult.model_validate({"shipmentInfoDTO": [
        {"trackingNumber": "T1", "subPackageShipmentInfoList": [{"trackingNumber": ""}, {"trackingNumber": "T2"}]},
        {"trackingNumber": None, "subPackageShipmentInfoList": [{"trackingNumber": "T1"}]},
        {"trackingNumber": "T3"}]})
    assert info.tracking_numbers() == {"T1", "T2", "T3"}
    only_top = ShipmentInfoResult.model_validate({"shipmentInfoDTO": [{"trackingNumber": "T4"}]})
    assert only_top.tracking_numbers() == {"T4"}
    assert ShipmentInfoResult.model_validate({}).tracking_numbers() == set()


def test_the_documented_confirmation_keeps_its_warnings() -> None:
    result = ShipmentConfirmResult.model_validate(_documented("bg.logistics.shipment.v2.confirm"))
    assert result == ShipmentConfirmResult(assistant_agreement_text=None, warning_message=[
        "The order is about to be overdue; please make sure the package is handed to the carrier today."])


# --- ids and fields the integration does not read ----------------------------------------------------


def test_a_float_or_boolean_id_fails_with_a_message_that_says_why() -> None:
    for bad in (1.0, False):
        with pytest.raises(ValidationError) as raised:
            Carrier.model_validate({"logisticsServiceProviderId": bad})
        assert [(e["loc"], e["msg"]) for e in raised.value.errors()] == [(
            ("logisticsServiceProviderId",),
            "Value error, Temu ids are integers or decimal strings, never floats or booleans")]


def test_an_id_string_with_spaces_is_still_an_id() -> None:
    assert Carrier.model_validate({"logisticsServiceProviderId": " 998264743 "}).logistics_service_provider_id == (
        998264743)


@pytest.fixture
def fresh_odd_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts as a fresh process: no odd field seen yet."""
    monkeypatch.setattr(models, "_odd_fields_seen", set())


def _odd_field_logs(caplog: pytest.LogCaptureFixture) -> list[tuple[str, object, object, object]]:
    return [(r.getMessage(), getattr(r, "model", None), getattr(r, "field", None), getattr(r, "seen_type", None))
            for r in caplog.records if r.name == models.__name__]


@pytest.mark.usefixtures("fresh_odd_fields")
def test_an_unread_field_of_another_type_becomes_none_and_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    documented = _documented("bg.local.goods.sku.list.query")["skuList"][0]
    odd = {**documented, "goodsIsOnSale": "yes", "crtTime": ["soon"]}
    with caplog.at_level(logging.WARNING, logger=models.__name__):
        skus = [Sku.model_validate(odd) for _ in range(3)]
        Sku.model_validate({**documented, "goodsIsOnSale": 2.5})
    assert [(s.goods_is_on_sale, s.crt_time, s.price, s.stock) for s in skus] == [(None, None, "329.00", 4)] * 3
    assert _odd_field_logs(caplog) == [
        ("Temu field of an unexpected type ignored", "Sku", "crt_time", "list"),
        ("Temu field of an unexpected type ignored", "Sku", "goods_is_on_sale", "str"),
        ("Temu field of an unexpected type ignored", "Sku", "goods_is_on_sale", "float")]
    assert "yes" not in caplog.text and "soon" not in caplog.text


@pytest.mark.usefixtures("fresh_odd_fields")
def test_an_unread_value_outside_a_model_is_logged_without_a_model_or_field(
        caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger=models.__name__):
        assert TypeAdapter(Lenient[int]).validate_python("x") is None
        assert TypeAdapter(Lenient[int], config=ConfigDict(strict=True)).validate_python([1]) is None
        assert TypeAdapter(Lenient[int]).validate_python(7) == 7
    assert _odd_field_logs(caplog) == [("Temu field of an unexpected type ignored", "?", "?", "str"),
                                       ("Temu field of an unexpected type ignored", "?", "?", "list")]


def test_a_read_field_of_another_type_fails_with_its_path() -> None:
    documented = _documented("bg.local.goods.sku.list.query")
    odd = {**documented, "skuList": [{**documented["skuList"][0], "stock": "four"}]}
    with pytest.raises(ValidationError) as raised:
        SkuPage.model_validate(odd)
    assert [e["loc"] for e in raised.value.errors()] == [("skuList", 0, "stock")]
