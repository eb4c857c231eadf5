"""Typed results: ids stay ints (strings coerced, floats refused), unknown fields tolerated,
buyer data never in repr/str."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from wholecell_temu.temu.models import (
    CARRIER_LIST,
    AccessToken,
    Order,
    OrderPage,
    RetrievedSku,
    ShipmentLine,
    ShipmentPackage,
    ShippingAddress,
    Sku,
    StockEditResult,
    SubPackage,
)


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
