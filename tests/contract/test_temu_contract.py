"""The Temu client held against Temu's published documents (fixtures in tests/contract/temu/).

For every Temu type the integration calls: the request the client builds carries every
documented required parameter with the documented JSON type and nothing undocumented; the
documented answer parses through the client's model; the fields the integration reads are
documented (so they are present in a real answer) and mean what the code assumes (units,
enums, time formats). The sandbox is held against the same fixtures, so a belief the client
and the sandbox share cannot pass unnoticed.
"""

from __future__ import annotations

import json
import random
import re
import time
import types
import typing
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from wholecell_temu.domain.listings import ListingStatus, listing_status
from wholecell_temu.domain.orders import price_cents, to_wholecell_address
from wholecell_temu.errors import ErrorClass
from wholecell_temu.net import RateLimiter, RetryPolicy
from wholecell_temu.temu import ShipmentLine, ShipmentPackage, SubPackage, TemuClient, models, signed_body
from wholecell_temu.temu.errors import classify_code
from wholecell_temu.temu.models import Sku

from local import temu_contract
from local.contract import shape_problems
from local.sandboxes.common import RunningServer
from local.sandboxes.temu import DEFAULT_APP_KEY, DEFAULT_APP_SECRET, SandboxState, serve

SN = "PO-211-10384726150937164"


class DocumentedTemu(requests.Session):
    """Answers every call with the documented example of its type and keeps what was sent."""

    def __init__(self, result: Any = None) -> None:
        super().__init__()
        self.sent: list[dict[str, Any]] = []
        self.result = result  # answered instead of the documented example

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> Any:  # type: ignore[override]
        body: dict[str, Any] = _loads(request.body)
        self.sent.append(body)
        example = temu_contract.fixture(body["type"])["response"]["example"] if self.result is None else self.result
        return _Response({"success": True, "errorCode": 1000000, "errorMsg": "", "requestId": "us-test",
                          "result": example})


class _Response:
    status_code = 200

    def __init__(self, body: Any) -> None:
        self._body = body

    def json(self) -> Any:
        return self._body


def _loads(data: Any) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(data)
    return loaded


def client_for(session: requests.Session, url: str = "https://openapi-b-us.temu.com/openapi/router") -> TemuClient:
    return TemuClient(url, DEFAULT_APP_KEY, DEFAULT_APP_SECRET, "token", session=session,
                      rate_limiter=RateLimiter(1000, burst=1000),
                      retry_policy=RetryPolicy(max_attempts=1, base_delay=0.01, max_delay=0.02, rng=random.Random(0)))


PACKAGE = ShipmentPackage(
    carrier_id=998264743, tracking_number="9400111899562837465012", warehouse_id="WH-00000000000000001",
    lines=[ShipmentLine(parent_order_sn=SN, order_sn="211-10384726150945164", quantity=1, goods_id=601099512345678,
                        sku_id=17592186044416)],
    sub_packages=[SubPackage(carrier_id=998264743, tracking_number="9400111899562837465029",
                             warehouse_id="WH-00000000000000001")])

# Every Temu type the client calls, with one call that exercises its parameters.
CALLS: dict[str, Callable[[TemuClient], Any]] = {
    "bg.open.accesstoken.create": lambda c: c.create_access_token("code-123"),
    "bg.open.accesstoken.info.get": lambda c: c.token_info(),
    "bg.local.goods.list.query": lambda c: c.goods_page(2, 50, goods_id_list=[601099512345678], search_text="iPhone",
                                                        status_change_from_ms=1, status_change_to_ms=2),
    "bg.local.goods.sku.list.query": lambda c: c.sku_page(1, 100, sku_search_type=3, sku_status_filter_type=3,
                                                          sku_sub_status_filter_type=3003, sku_id_list=[17592186044416],
                                                          search_text="IP13", status_change_from_ms=1,
                                                          status_change_to_ms=2),
    "temu.local.sku.list.retrieve": lambda c: c.sku_retrieve_page("t100", 100, sku_search_type="INACTIVE",
                                                                  goods_id_list=[601099512345678],
                                                                  sku_id_list=[17592186044416],
                                                                  out_sku_sn_list=["IP13-128-BLK-B"]),
    "bg.local.goods.stock.edit": lambda c: c.edit_stock(601099512345678, [(17592186044416, 4), (17592186044417, 0)]),
    "bg.order.list.v2.get": lambda c: c.order_page(1, 100, update_at_start=1767225600, update_at_end=1767312000,
                                                   parent_order_sn_list=[SN], region_id=211),
    "bg.order.detail.v2.get": lambda c: c.order_detail(SN),
    "bg.order.shippinginfo.v2.get": lambda c: c.shipping_info(SN),
    "bg.order.decryptshippinginfo.get": lambda c: c.decrypted_shipping_info(SN),
    "bg.order.amount.query": lambda c: c.order_amount(SN),
    "bg.logistics.companies.get": lambda c: c.carriers(211),
    "bg.logistics.warehouse.list.get": lambda c: c.warehouses(True),
    "bg.logistics.shipment.v2.confirm": lambda c: c.confirm_shipment(0, [PACKAGE]),
    "bg.logistics.shipment.v2.get": lambda c: c.shipment_info(SN, "211-10384726150945164"),
}
# Documented types the client no longer calls (issue #18 removed their methods, which only tests
# called): their fixtures stay, transcribed from Temu's documents, because the Temu sandbox still
# answers these types and checks its answers against them; a flow that starts calling one adds it
# to CALLS again.
NOT_CALLED = {
    "temu.local.goods.sku.stock.query": "reading a SKU's exact stock back",
    "bg.logistics.shipment.shippingtype.update": "changing a confirmed package's carrier or tracking number",
}


def test_every_type_the_client_calls_is_documented_and_every_fixture_is_used() -> None:
    assert sorted(CALLS) == sorted(set(temu_contract.documented_types()) - set(NOT_CALLED))
    assert set(NOT_CALLED) <= set(temu_contract.documented_types())


@pytest.mark.parametrize("api_type", temu_contract.documented_types())
def test_each_fixture_is_self_consistent(api_type: str) -> None:
    """The transcribed example fits its own field table (a typo in a fixture fails here)."""
    fixture = temu_contract.fixture(api_type)
    assert fixture["type"] == api_type and fixture["sources"]
    assert shape_problems(fixture["response"]["example"], temu_contract.response_fields(api_type)) == []
    assert temu_contract.request_problems(api_type, fixture["request"]["example"]) == []


@pytest.mark.parametrize("api_type", sorted(CALLS))
def test_the_client_sends_what_the_documents_ask_and_reads_their_answer(api_type: str) -> None:
    session = DocumentedTemu()
    result = CALLS[api_type](client_for(session))
    assert [body["type"] for body in session.sent] == [api_type]
    assert temu_contract.request_problems(api_type, session.sent[0]) == []
    assert result is not None


# --- the fields the integration reads are documented -------------------------------------------

MODELS: dict[str, tuple[type[BaseModel], str]] = {  # the model of each answer, and where it sits
    "bg.open.accesstoken.create": (models.AccessToken, ""),
    "bg.open.accesstoken.info.get": (models.TokenInfo, ""),
    "bg.local.goods.list.query": (models.GoodsPage, ""),
    "bg.local.goods.sku.list.query": (models.SkuPage, ""),
    "temu.local.sku.list.retrieve": (models.SkuRetrievePage, ""),
    "bg.local.goods.stock.edit": (models.StockEditResult, ""),
    "bg.order.list.v2.get": (models.OrderPage, ""),
    "bg.order.detail.v2.get": (models.Order, ""),
    "bg.order.shippinginfo.v2.get": (models.ShippingAddress, ""),
    "bg.order.decryptshippinginfo.get": (models.ShippingAddress, ""),
    "bg.order.amount.query": (models.OrderAmount, ""),
    "bg.logistics.companies.get": (models.Carrier, "[]"),
    "bg.logistics.warehouse.list.get": (models.WarehouseList, ""),
    "bg.logistics.shipment.v2.confirm": (models.ShipmentConfirmResult, ""),
    "bg.logistics.shipment.v2.get": (models.ShipmentInfoResult, ""),
}
# Read where present, knowingly absent from a document: each with what the code does about it.
KNOWN_ABSENT = {
    ("bg.order.detail.v2.get", "parentOrderMap.updateTime"):
        "the detail has no updateTime: order_import reads orders by number through the list call, and a "
        "detail only under the order's claim, applied as the newest view",
}


def _is_lenient(info: FieldInfo) -> bool:
    return any(getattr(m, "func", None) is models._tolerate for m in info.metadata)


def read_paths(model: type[BaseModel], prefix: str) -> set[str]:
    """Wire paths of every field the integration reads (plain types; `Lenient` ones are not read)."""
    paths: set[str] = set()
    for name, info in model.model_fields.items():
        if _is_lenient(info) or _lenient_annotation(info.annotation):
            continue
        path = f"{prefix}.{info.alias or name}" if prefix else info.alias or name
        paths.add(path)
        inner, is_list = _inner(info.annotation)
        if isinstance(inner, type) and issubclass(inner, BaseModel):
            paths |= read_paths(inner, path + ("[]" if is_list else ""))
    return paths


def _lenient_annotation(annotation: Any) -> bool:
    return any(getattr(m, "func", None) is models._tolerate for m in getattr(annotation, "__metadata__", ()))


def _inner(annotation: Any) -> tuple[Any, bool]:
    """The model inside `X | None`, `list[X]`, `list[X] | None`, and whether it is a list."""
    is_list = False
    while True:
        origin = typing.get_origin(annotation)
        if origin in (typing.Union, types.UnionType):
            annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
        elif origin is list:
            annotation, is_list = typing.get_args(annotation)[0], True
        elif origin is typing.Annotated:
            annotation = typing.get_args(annotation)[0]
        else:
            return annotation, is_list


@pytest.mark.parametrize("api_type", sorted(MODELS))
def test_every_field_the_integration_reads_is_documented(api_type: str) -> None:
    model, prefix = MODELS[api_type]
    documented = set(temu_contract.response_fields(api_type))
    undocumented = {path for path in read_paths(model, prefix) if path not in documented
                    and (api_type, path) not in KNOWN_ABSENT}
    assert undocumented == set()


def test_the_known_absences_are_still_absent() -> None:
    for api_type, path in KNOWN_ABSENT:
        assert path not in temu_contract.response_fields(api_type)


# --- what the fields mean ----------------------------------------------------------------------


def call(api_type: str) -> Any:
    return CALLS[api_type](client_for(DocumentedTemu()))


def test_order_money_is_in_the_currency_minor_unit() -> None:
    amount = call("bg.order.amount.query")
    line = amount.order_list[0]
    documented = temu_contract.fixture("bg.order.amount.query")["response"]["example"]["orderList"][0]
    assert line.unit_retail_price.amount == documented["unitRetailPrice"]["amount"]
    assert line.unit_retail_price.currency == "USD"
    assert price_cents(line.unit_retail_price) == documented["unitRetailPrice"]["amount"]  # cents stay cents


def test_order_times_are_seconds_and_only_the_list_carries_update_time() -> None:
    page = call("bg.order.list.v2.get")
    parent = page.page_items[0].parent_order_map
    assert parent.update_time is not None and 1_600_000_000 < parent.update_time < 4_000_000_000  # seconds
    assert parent.parent_order_status in (1, 2, 3, 4, 41, 5, 51)
    assert "parentOrderMap.updateTime" not in temu_contract.fixture("bg.order.detail.v2.get")["response"]["fields"]
    detail = call("bg.order.detail.v2.get")
    assert detail.parent_order_map.update_time is None and detail.order_list[0].sku_id is not None


def test_the_sold_out_code_is_the_show_sub_status() -> None:
    """`subStatus4VO` is a 1..14 enum; the four-digit code (3003 sold out) is `skuShowSubStatus4VO`."""
    example = temu_contract.fixture("bg.local.goods.sku.list.query")["response"]["example"]["skuList"][0]
    sold_out = Sku.model_validate({**example, "status4VO": 3, "subStatus4VO": 1, "skuShowSubStatus4VO": 3003})
    assert listing_status(sold_out.status, sold_out.show_sub_status) is ListingStatus.ACTIVE  # a restock brings it back
    closed = Sku.model_validate({**example, "status4VO": 3, "subStatus4VO": 2, "skuShowSubStatus4VO": 3002})
    assert listing_status(closed.status, closed.show_sub_status) is ListingStatus.ENDED
    page = call("bg.local.goods.sku.list.query")
    assert all(isinstance(s.stock, int) and s.sku_sn for s in page.sku_list)


def test_addresses_with_a_tax_code_type_are_read() -> None:
    address = call("bg.order.shippinginfo.v2.get")
    documented = temu_contract.fixture("bg.order.shippinginfo.v2.get")["response"]["example"]
    assert isinstance(documented["taxCodeType"], int) and address.tax_code_type == documented["taxCodeType"]
    mapped = to_wholecell_address(address, 211)
    assert (mapped.street1, mapped.city, mapped.state, mapped.zip, mapped.country) == (
        documented["addressLine1"], documented["regionName3"], documented["regionName2"], documented["postCode"], "US")


def test_tokens_expire_in_seconds_and_local_shops_are_type_100() -> None:
    info = call("bg.open.accesstoken.info.get")
    assert info.mall_type in (1, 100) and info.expired_time is not None and info.expired_time < 4_000_000_000
    assert info.api_scope_list


def test_a_field_the_integration_does_not_read_never_fails_a_page(caplog: pytest.LogCaptureFixture) -> None:
    example = temu_contract.fixture("bg.local.goods.sku.list.query")["response"]["example"]
    odd = {**example, "skuList": [{**sku, "goodsIsOnSale": "yes", "crtTime": "soon", "retailPrice": [1],
                                   "specList": "none"} for sku in example["skuList"] * 2]}
    session = DocumentedTemu(result=odd)
    with caplog.at_level("WARNING"):
        page = client_for(session).sku_page()
    assert len(page.sku_list) == 2 * len(example["skuList"]) and page.sku_list[0].goods_is_on_sale is None
    warnings = [r for r in caplog.records if r.getMessage() == "Temu field of an unexpected type ignored"]
    assert 1 <= len(warnings) <= 4  # once per field, not once per SKU


def test_a_field_the_integration_reads_fails_loudly_with_type_and_field() -> None:
    example = temu_contract.fixture("bg.local.goods.sku.list.query")["response"]["example"]
    odd = {**example, "skuList": [{**example["skuList"][0], "stock": "four"}]}
    session = DocumentedTemu(result=odd)
    with pytest.raises(Exception, match=r"bg\.local\.goods\.sku\.list\.query.*skuList\.0\.stock"):
        client_for(session).sku_page()


TRANSIENT = re.compile(r"(?i)try again later|system error|system abnormality|still (being|undergoing)")
GATEWAY_CLASSES = {  # developer-guide/15: the names say which are transient and which mean "authorize again"
    ErrorClass.RETRYABLE: {2000000, 4000000, 4000004, 7000000},
    ErrorClass.REAUTHORIZE: {3000030, 3000031, 3000032, 3000034, 5000000},
}


def test_every_documented_business_code_is_retried_exactly_when_its_message_says_so() -> None:
    """A code whose documented message says "try again later" or "system error" is retried; no
    other is (a failure that will not heal is never blindly repeated)."""
    checked = 0
    for api_type in temu_contract.documented_types():
        for code, message in temu_contract.fixture(api_type).get("errors", {}).items():
            retried = classify_code(int(code), api_type) is ErrorClass.RETRYABLE
            assert retried == bool(TRANSIENT.search(message)), (api_type, code, message)
            checked += 1
    assert checked > 50
    assert classify_code(140020008, "bg.order.amount.query") is ErrorClass.RETRYABLE  # amounts still calculating


def test_every_gateway_code_has_its_documented_class() -> None:
    gateway = json.loads((temu_contract.FIXTURES / "_gateway_errors.json").read_text())["errors"]
    for code in map(int, gateway):
        if code == 1000000:
            continue
        expected = next((cls for cls, codes in GATEWAY_CLASSES.items() if code in codes), ErrorClass.FIX_REQUEST)
        assert classify_code(code, "bg.order.list.v2.get") is expected, (code, gateway[str(code)])


# --- the sandbox answers as the documents say ---------------------------------------------------


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningServer]:
    with serve(seed=3) as running:
        yield running


def test_every_sandbox_answer_has_the_documented_keys_and_types(sandbox: RunningServer) -> None:
    """One shop, one order through its life, one shipment: every type the client calls, answered
    by the sandbox and held against the fixture (the sandbox also checks itself on every answer)."""
    state: SandboxState = sandbox.state
    state.reset()
    shop = state.create_shop(region="US", generate={"goods": 3, "skus_per_goods": 2, "seed": 3})
    token = state.issue_token(shop["mallId"])
    seen: dict[str, list[Any]] = {}

    class Recording(requests.Session):
        def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
            response = super().send(request, **kwargs)
            body = response.json()
            if body.get("success"):
                seen.setdefault(_loads(request.body)["type"], []).append(body["result"])
            return response

    client = TemuClient(sandbox.url + "/openapi/router", DEFAULT_APP_KEY, DEFAULT_APP_SECRET, token,
                        session=Recording(), rate_limiter=RateLimiter(1000, burst=1000),
                        retry_policy=RetryPolicy(max_attempts=1))
    sku = next(iter(client.iter_skus()))
    sn = state.add_order(shop["mallId"], [{"skuId": sku.sku_id, "quantity": 2}], status=2)
    detail = client.order_detail(sn)
    drive_every_call(client, state, shop["mallId"], sku, sn, detail)
    assert sorted(seen) == sorted(CALLS)
    for api_type, results in seen.items():
        for result in results:
            assert temu_contract.result_problems(api_type, result) == [], api_type


def drive_every_call(client: TemuClient, state: SandboxState, mall_id: int, sku: Any, sn: str, detail: Any) -> None:
    client.token_info()
    client.goods_page()
    client.sku_page(sku_search_type=3, sku_status_filter_type=3)
    client.sku_retrieve_page()
    client.edit_stock(sku.goods_id, [(sku.sku_id, 5)])
    client.order_page(parent_order_sn_list=[sn])
    client.order_amount(sn)
    client.shipping_info(sn)
    client.decrypted_shipping_info(sn)
    carrier = client.carriers(211)[0]
    warehouse = client.warehouses().default()
    assert warehouse is not None
    item = detail.order_list[0]
    client.confirm_shipment(0, [ShipmentPackage(
        carrier_id=carrier.logistics_service_provider_id, tracking_number="9400111899562837465012",
        warehouse_id=warehouse.warehouse_id, lines=[ShipmentLine(parent_order_sn=sn, order_sn=item.order_sn,
                                                                 quantity=item.quantity, goods_id=item.goods_id,
                                                                 sku_id=item.sku_id)])])
    client.shipment_info(sn, item.order_sn)
    code = state.issue_code(mall_id)
    client.create_access_token(code)


def test_a_mistyped_sandbox_field_is_noticed(sandbox: RunningServer) -> None:
    """The sandbox switch that answers one field with another JSON type: the contract check
    names it (this is what `make probe` reports against a real shop)."""
    state: SandboxState = sandbox.state
    state.reset()
    shop = state.create_shop(region="US", generate={"goods": 1, "skus_per_goods": 1, "seed": 3})
    token = state.issue_token(shop["mallId"])
    state.mistype_field("bg.local.goods.sku.list.query", "skuList[].stock")
    response = requests.post(sandbox.url + "/openapi/router", timeout=5, data=_signed(
        {"type": "bg.local.goods.sku.list.query", "access_token": token, "pageNo": 1, "pageSize": 10,
         "skuSearchType": 2, "skuStatusFilterType": 2}), headers={"Content-Type": "application/json"})
    result = response.json()["result"]
    assert temu_contract.result_problems("bg.local.goods.sku.list.query", result) == [
        "skuList[0].stock: expected integer|null, got string"]
    state.mistype_field("bg.local.goods.sku.list.query", None)


def _signed(params: dict[str, Any]) -> bytes:
    return signed_body({"app_key": DEFAULT_APP_KEY, "timestamp": int(time.time()), "data_type": "JSON", **params},
                       DEFAULT_APP_SECRET)
