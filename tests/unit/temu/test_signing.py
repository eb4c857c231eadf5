"""The signer reproduces every worked example Temu's docs publish, byte for byte.

Sources (opastorello/temu-api-docs, a copy of the partner docs): developer-guide/13 (signature
guide, v1 shipment confirm), api-integration-guide/27 (inventory, two stock.edit) and
api-integration-guide/38 (split and ship: two shipment.v2.confirm, one shipment.create).
Bodies are parsed with json.loads, which keeps the nested key order as published.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from wholecell_temu.temu.signing import sign, signed_body

# The US test app of the docs' "Sandbox Test Shops" (public test credentials).
US_TEST_SECRET = "4782d2d827276688bf4758bed55dbdd4bbe79a79"
SIGNATURE_GUIDE_SECRET = "c7e0a1a63542be4de3cb5488f9fba8149e8fc290"

SIGNATURE_GUIDE = """{"access_token":"2nifvmpyymvypwmcms5ct4uqqudrwgpmzbcnmkt1jzjkuaf3x56iixym",
"app_key":"f9d5cc9313893a20d5aa85c654e8f503","data_type":"JSON",
"sendRequestList":[{"orderSendInfoList":[{"quantity":1,"orderSn":"211-21905473070712792",
"parentOrderSn":"PO-211-21905452099192792","goodsId":601099548666279,"skuId":17592352673534}],
"carrierId":"699272611","trackingNumber":"270324232756"}],"sendType":0,"timestamp":1711009072,
"type":"bg.logistics.shipment.confirm"}"""

STOCK_TARGET = """{"access_token":"uplkbmf5vg0myfpxf4zwrqsc4ckchfcpliybejcpjfbv8pnruu67bibgfkk",
"app_key":"4ebbc9190ae410443d65b4c2faca981f","data_type":"JSON","goodsId":603050097881935,
"sign":"29B41A0038BB8AE9AED1F896CA457CBA","skuStockTargetList":[{"skuId":51481625557677,"stockTarget":10}],
"timestamp":1733997133,"type":"bg.local.goods.stock.edit"}"""

STOCK_DIFF = """{"access_token":"uplkbmf5vg0myfpxf4zwrqsc4ckchfcpliybejcpjfbv8pnruu67bibgfkk",
"app_key":"4ebbc9190ae410443d65b4c2faca981f","data_type":"JSON","goodsId":603050097881935,
"requestUniqueKey":"12321","sign":"5BC9111D9C61C9F65AC0F8D670B4F2DD",
"skuStockChangeList":[{"skuId":51481625557677,"stockDiff":10}],"timestamp":1733996761,
"type":"bg.local.goods.stock.edit"}"""

_SPLIT_COMMON = """"app_key":"4ebbc9190ae410443d65b4c2faca981f",
"access_token":"uplv3hfyt5kcwoymrgnajnbl1ow5qxlz4sqhev6hl3xosz5dejrtyl2jre7","data_type":"JSON","""

SPLIT_TWO_TRACKING = "{" + _SPLIT_COMMON + """"timestamp":1768189927,
"type":"bg.logistics.shipment.v2.confirm","version":"V1","sendRequestList":[
{"orderSendInfoList":[{"quantity":1,"orderSn":"211-03568305731193450","parentOrderSn":"PO-211-03568242816633450",
"goodsId":602368171198347,"skuId":37386079732361}],"selfShippingWarehouseId":"WH-04024228864152414",
"carrierId":998264743,"trackingNumber":"AAAstwbsn1767818982181269"},
{"orderSendInfoList":[{"quantity":1,"orderSn":"211-03568305731193450","parentOrderSn":"PO-211-03568242816633450",
"goodsId":602368171198347,"skuId":37386079732361}],"selfShippingWarehouseId":"WH-04024228864152414",
"carrierId":998264743,"trackingNumber":"BBBstwbsn1767818982181269"}],
"sendType":1,"sign":"78D868729C113975C644FD07962DDE96"}"""

SPLIT_SUB_PACKAGE = "{" + _SPLIT_COMMON + """"timestamp":1767967820,
"type":"bg.logistics.shipment.v2.confirm","version":"V1","sendRequestList":[
{"orderSendInfoList":[{"quantity":1,"orderSn":"211-07092887880312890","parentOrderSn":"PO-211-07092877394552890",
"goodsId":602368171198347,"skuId":37386079732361}],"selfShippingWarehouseId":"WH-04024228864152414",
"subSendRequests":[{"carrierId":998264743,"trackingNumber":"FTEstwbsn1767818982181268",
"selfShippingWarehouseId":"WH-04024228864152414"}],"carrierId":998264743,
"trackingNumber":"AAAstwbsn1767818982181269"}],"sendType":1,"sign":"2C5EFE5352301B5238A25AF7D005DD48"}"""

_BUY_LABEL_PACKAGE = """{"extendWeightUnit":"oz","extendWeight":"1","length":"1","dimensionUnit":"in","weight":"1",
"shipCompanyId":998264938,"warehouseId":"WH-03541043302552414","width":"1","shipLogisticsType":"Standard",
"channelId":684244464201728,"weightUnit":"lb","height":"1","orderSendInfoList":[{"quantity":%d,
"orderSn":"211-19373803543673450","parentOrderSn":"PO-211-19373740629113450","goodsId":602368171198347,
"skuId":37386079732361}]}"""

SHIPMENT_CREATE = "{" + _SPLIT_COMMON + """"timestamp":1767097533,"type":"bg.logistics.shipment.create",
"version":"V1","shipLater":true,"sendType":1,"sendRequestList":[""" + (_BUY_LABEL_PACKAGE % 1) + "," + (
    _BUY_LABEL_PACKAGE % 2) + """],"sign":"B798170D01600467CD0269D3C5884FE1"}"""


@pytest.mark.parametrize(
    ("body", "secret", "expected"),
    [
        pytest.param(SIGNATURE_GUIDE, SIGNATURE_GUIDE_SECRET, "4CCF219942D4180C6DDA3CE36C1B838F",
                     id="guide-v1-confirm"),
        pytest.param(STOCK_TARGET, US_TEST_SECRET, "29B41A0038BB8AE9AED1F896CA457CBA", id="stock-target"),
        pytest.param(STOCK_DIFF, US_TEST_SECRET, "5BC9111D9C61C9F65AC0F8D670B4F2DD", id="stock-diff"),
        pytest.param(SPLIT_TWO_TRACKING, US_TEST_SECRET, "78D868729C113975C644FD07962DDE96", id="v2-confirm-split"),
        pytest.param(SPLIT_SUB_PACKAGE, US_TEST_SECRET, "2C5EFE5352301B5238A25AF7D005DD48", id="v2-confirm-sub"),
        pytest.param(SHIPMENT_CREATE, US_TEST_SECRET, "B798170D01600467CD0269D3C5884FE1", id="shipment-create"),
    ],
)
def test_published_examples(body: str, secret: str, expected: str) -> None:
    params = json.loads(body)
    assert sign(params, secret) == expected


def test_signed_body_carries_the_same_sign_and_values() -> None:
    params = json.loads(STOCK_TARGET)
    params.pop("sign")
    sent = json.loads(signed_body(params, US_TEST_SECRET))
    assert sent["sign"] == "29B41A0038BB8AE9AED1F896CA457CBA"
    assert {k: v for k, v in sent.items() if k != "sign"} == params
    assert list(sent["skuStockTargetList"][0]) == ["skuId", "stockTarget"]


def _md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest().upper()


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("plain", "plain"),
        ("", ""),
        (0, "0"),
        (601099512345678, "601099512345678"),
        (-5, "-5"),
        (True, "true"),
        (False, "false"),
        ({"b": 1, "a": "x"}, '{"b":1,"a":"x"}'),
        ([1, "two", {"k": False}], '[1,"two",{"k":false}]'),
        ([], "[]"),
        ("Grüße 東京", "Grüße 東京"),
        ({"name": "Café"}, '{"name":"Café"}'),
    ],
)
def test_value_rendering(value: Any, text: str) -> None:
    assert sign({"k": value}, "S") == _md5("Sk" + text + "S")


def test_keys_sorted_by_ascii_and_sign_excluded() -> None:
    expected = _md5("SECRET" + "Zz1" + "a_b2" + "ab3" + "SECRET")
    assert sign({"ab": 3, "a_b": 2, "Zz": 1, "sign": "IGNORED"}, "SECRET") == expected


def test_nested_key_order_is_signed_as_sent() -> None:
    first = {"skuStockTargetList": [{"skuId": 1, "stockTarget": 2}]}
    swapped = {"skuStockTargetList": [{"stockTarget": 2, "skuId": 1}]}
    assert sign(first, "S") != sign(swapped, "S")


def test_none_valued_top_level_params_are_omitted_not_sent_as_null() -> None:
    sent = json.loads(signed_body({"type": "t", "pageToken": None, "pageSize": 10}, "S"))
    assert "pageToken" not in sent
    assert sent["sign"] == sign({"type": "t", "pageSize": 10}, "S")


def test_a_stale_sign_in_the_input_is_replaced() -> None:
    sent = json.loads(signed_body({"type": "t", "sign": "OLD"}, "S"))
    assert sent["sign"] == sign({"type": "t"}, "S")


def test_the_body_is_compact_utf8_json_signed_over_the_documented_concatenation() -> None:
    """Reference §2.1/§2.2: keys ASCII-sorted, strings raw, nested values compact JSON in their sent
    order, non-ASCII unescaped, MD5 of `secret + … + secret` in uppercase hex; the body sent is the same
    values as compact UTF-8 JSON, a stale `sign` replaced by the new one at the end and None dropped."""
    params = {"type": "bg.local.goods.update", "sign": "STALE", "app_key": "k", "goodsName": "Café 東京",
              "skuList": [{"specName": "Grüße", "price": "9.99", "onSale": True}], "pageToken": None,
              "timestamp": 1700000000}
    concatenation = ("app_keyk" "goodsNameCafé 東京" 'skuList[{"specName":"Grüße","price":"9.99","onSale":true}]'
                     "timestamp1700000000" "typebg.local.goods.update")
    expected_sign = hashlib.md5(("S3CR3T" + concatenation + "S3CR3T").encode("utf-8")).hexdigest().upper()
    assert signed_body(params, "S3CR3T") == (
        '{"type":"bg.local.goods.update","app_key":"k","goodsName":"Café 東京",'
        '"skuList":[{"specName":"Grüße","price":"9.99","onSale":true}],"timestamp":1700000000,'
        f'"sign":"{expected_sign}"}}').encode()
    assert "Café 東京".encode() in signed_body(params, "S3CR3T")  # raw UTF-8, not \u00e9 escapes
