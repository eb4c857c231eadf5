"""WholeCell contract: the documented/observed shapes (tests/contract/wholecell/*.json) against
the adapter's models and the local WholeCell sandbox.

a. Each fixture's example goes through the same adapter parsing the client uses, and what the
   project reads comes out with the right meaning; every field a read model declares is in
   the fixture (a field the evidence lacks fails here, not in production).
b. The sandbox answers with exactly the fixture's keys and JSON types, at every level
   (`local.contract.shape_problems`). A mismatch means the sandbox is wrong: fix the sandbox,
   never the fixture (the fixture follows wholecell-api.md and its sources).
c. The shape checker itself catches what it must, so (b) cannot pass vacuously.

No network beyond the in-process sandbox on localhost.
"""

from __future__ import annotations

import copy
import json
import types
import typing
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import requests
from pydantic import BaseModel
from wholecell_temu.wholecell import adapter
from wholecell_temu.wholecell.adapter import (
    Customer,
    InventoryUnit,
    OrderItem,
    SalesOrder,
    SalesOrderCreate,
    SalesOrderPatch,
    ShippingAddress,
    StockLevel,
)

from local.contract import shape_problems, sub_fields
from local.sandboxes.common import RunningServer
from local.sandboxes.wholecell import WholeCellState, serve

FIXTURES = Path(__file__).parent / "wholecell"
APP_ID, APP_SECRET = "app-contract", "contract-secret"
SKUS = ["IP13-128-BLK-B", "IP14-256-BLU-A"]
EST = timezone(timedelta(hours=-5))


def load(name: str) -> dict[str, Any]:
    fixture: dict[str, Any] = json.loads((FIXTURES / name).read_text())
    return fixture


INVENTORIES = load("inventories.json")
STOCK_LEVELS = load("stock_levels.json")
SALES_ORDERS = load("sales_orders.json")


def fields_of(fixture: dict[str, Any]) -> dict[str, str]:
    fields: dict[str, str] = fixture["response"]["fields"]
    return fields


def element_fields(fixture: dict[str, Any]) -> dict[str, str]:
    """The table for one list element, i.e. for a single-object answer (GET/POST/PATCH one order)."""
    return sub_fields(fields_of(fixture), "data[]")


def example_of(fixture: dict[str, Any]) -> Any:
    return copy.deepcopy(fixture["response"]["example"])


# --- a. documented examples through the adapter -------------------------------------------------
@pytest.mark.parametrize("fixture", [INVENTORIES, STOCK_LEVELS, SALES_ORDERS],
                         ids=["inventories", "stock_levels", "sales_orders"])
def test_fixture_example_fits_its_own_table(fixture: dict[str, Any]) -> None:
    assert shape_problems(example_of(fixture), fields_of(fixture)) == []
    assert fixture["sources"] and fixture["notes"]


def test_inventories_example_parses_with_its_meaning() -> None:
    page = adapter.parse_page(example_of(INVENTORIES), InventoryUnit)  # what WholeCellClient._paged does
    assert (page.page, page.pages, page.is_last) == (1, 1, True)
    available, sold = page.data

    assert (available.id, available.esn, available.hex_id) == (31877420, "356789104523871", "K7QD")
    assert available.status == "Available"
    assert available.sku == "IP13-128-BLK-B" and available.product_variation.id == 6120334
    assert available.warehouse_name == "Main Warehouse" and available.location_name == "Ready Room"
    assert available.order_id is None and not available.committed
    assert available.created_at == datetime(2025, 12, 2, 9, 14, 33, 201000, tzinfo=EST)
    assert available.updated_at == datetime(2025, 12, 3, 16, 5, 12, 877000, tzinfo=EST)
    assert available.updated_at.utcoffset() == timedelta(hours=-5)  # the account's offset is kept

    assert sold.status == "Sold" and sold.order_id == 518204 and sold.committed
    assert sold.sku is None and sold.product_variation.id == 5461395  # null SKU: cannot match Temu
    assert sold.location_name == "Processing"


def test_blank_sku_means_unmatched() -> None:
    payload = example_of(INVENTORIES)
    payload["data"][0]["product_variation"]["sku"] = ""  # observed: null *or* empty
    assert shape_problems(payload, fields_of(INVENTORIES)) == []
    assert adapter.parse_page(payload, InventoryUnit).data[0].sku is None


def test_unit_prices_are_not_read() -> None:
    """Unit prices are integer cents (§1). The adapter does not read them today; whoever starts
    to must treat them as cents and extend the meaning test above."""
    prices = {"sale_price", "total_price_paid", "initial_price_paid"}
    assert not prices & set(InventoryUnit.model_fields)
    unit = example_of(INVENTORIES)["data"][1]
    assert (unit["sale_price"], unit["total_price_paid"]) == (32900, 0)


def test_stock_levels_example_parses_with_its_meaning() -> None:
    page = adapter.parse_page(example_of(STOCK_LEVELS), StockLevel)
    rows = {row.sku: row for row in page.data}
    assert (rows["IP13-128-BLK-B"].on_hand, rows["IP13-128-BLK-B"].outstanding,
            rows["IP13-128-BLK-B"].available) == (3, 1, 2)
    assert all(row.available == row.on_hand - row.outstanding for row in page.data)  # INF, §3.1


def test_sales_orders_example_parses_with_its_meaning() -> None:
    page = adapter.parse_page(example_of(SALES_ORDERS), SalesOrder)
    shipped, pending = page.data

    assert (shipped.id, shipped.order_number) == (518204, "SO-10482")
    assert shipped.external_reference == "PO-211-10384726150937164"  # Temu parentOrderSn
    assert (shipped.channel, shipped.status) == ("Temu", "Awaiting Fulfillment")
    assert shipped.customer is not None and shipped.customer.name == "Temu"
    assert shipped.shipping_address is not None and shipped.shipping_address.zip == "43215"
    assert shipped.shipping_address.street3 is None
    [item] = shipped.order_items
    assert (item.sku, item.quantity, item.product_variation_id) == ("IP13-128-BLK-B", 1, 6120334)
    assert item.unit_price_cents == 32900 and not item.unknown_sku  # integer cents: $329.00
    [box] = shipped.shipments
    assert (box.id, box.carrier, box.tracking_number) == (90211, "USPS", "9400111899562837465012")
    assert box.shipped_at == datetime(2026, 1, 2, 15, 20, tzinfo=EST)
    assert [(i.sku, i.quantity) for i in box.items] == [("IP13-128-BLK-B", 1)]
    assert shipped.updated_at.utcoffset() == timedelta(hours=-5)

    assert pending.shipping_address is None and pending.shipments == []
    [unknown] = pending.unknown_sku_items
    assert unknown.sku is None and unknown.description == "Phone case - Clear" and unknown.quantity == 2


def _models_in(annotation: Any) -> list[tuple[type[BaseModel], bool]]:
    """(model, inside a list) for every pydantic model an annotation refers to."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [(annotation, False)]
    origin = typing.get_origin(annotation)
    if origin is list:
        return [(model, True) for model, _ in _models_in(typing.get_args(annotation)[0])]
    if origin in (typing.Union, types.UnionType):
        return [found for arg in typing.get_args(annotation) for found in _models_in(arg)]
    return []


def model_paths(model: type[BaseModel], prefix: str = "") -> set[str]:
    """Every field path a read model declares, in the fixture's notation (`a[].b`)."""
    paths: set[str] = set()
    for name, info in model.model_fields.items():
        path = f"{prefix}.{name}" if prefix else name
        paths.add(path)
        for inner, in_list in _models_in(info.annotation):
            paths |= model_paths(inner, path + "[]" if in_list else path)
    return paths


@pytest.mark.parametrize(("model", "fields"), [
    (InventoryUnit, element_fields(INVENTORIES)),
    (StockLevel, element_fields(STOCK_LEVELS)),
    (SalesOrder, element_fields(SALES_ORDERS)),
    (SalesOrderCreate, SALES_ORDERS["request"]["create"]["fields"]),
    (SalesOrderPatch, SALES_ORDERS["request"]["patch"]["fields"]),
], ids=["InventoryUnit", "StockLevel", "SalesOrder", "SalesOrderCreate", "SalesOrderPatch"])
def test_every_field_the_adapter_models_is_in_the_fixture(model: type[BaseModel], fields: dict[str, str]) -> None:
    assert sorted(model_paths(model) - set(fields)) == []


def test_request_bodies_the_adapter_writes_fit_the_fixture() -> None:
    """Built the way the jobs build them (order_import, address_backfill): every item field set,
    null when unknown; the address null on create until Temu releases it."""
    items = [OrderItem(sku=SKUS[0], quantity=1, unit_price_cents=32900, description="iPhone 13",
                       product_variation_id=6120334),
             OrderItem(sku=None, quantity=2, unit_price_cents=None, description="Phone case",
                       product_variation_id=None)]
    address = ShippingAddress(name="Jordan Smith", street1="418 Maple Ave", street2=None, street3=None,
                              city="Columbus", state="OH", zip="43215", country="US", phone="+1 614-555-0142")
    create = SALES_ORDERS["request"]["create"]["fields"]
    patch = SALES_ORDERS["request"]["patch"]["fields"]
    bodies = [
        (SalesOrderCreate(external_reference="PO-211-1", channel="Temu", status="Pending",
                          customer=Customer(name="Temu"), shipping_address=None, order_items=items), create),
        (SalesOrderCreate(external_reference="PO-211-2", channel="Temu", status="Pending",
                          customer=Customer(name="Temu"), shipping_address=address, order_items=items), create),
        (SalesOrderPatch(status="Canceled"), patch),
        (SalesOrderPatch(shipping_address=address), patch),
        (SalesOrderPatch(order_items=items), patch),
    ]
    for body, fields in bodies:
        assert shape_problems(body.to_body(), fields) == [], body


# --- b. the sandbox against the fixtures --------------------------------------------------------
@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    with serve() as running:
        yield running


@pytest.fixture
def state(server: RunningServer) -> WholeCellState:
    sandbox: WholeCellState = server.state
    sandbox.reset()
    sandbox.set_rate_limit(None)
    sandbox.webhook_async = False
    sandbox.create_account(APP_ID, APP_SECRET, skus=SKUS)
    return sandbox


def call(server: RunningServer, method: str, path: str, *, params: list[tuple[str, str]] | None = None,
         body: dict[str, Any] | None = None, expect: int = 200) -> Any:
    response = requests.request(method, server.url + "/api/v1" + path, params=params, json=body,
                                auth=(APP_ID, APP_SECRET), timeout=5)
    assert response.status_code == expect, response.text
    return response.json()


def assert_offset_times(values: list[Any]) -> None:
    assert values
    for value in values:
        assert isinstance(value, str) and datetime.fromisoformat(value).utcoffset() is not None, value


def create_body(reference: str, items: list[OrderItem]) -> dict[str, Any]:
    return SalesOrderCreate(external_reference=reference, channel="Temu", status="Pending",
                            customer=Customer(name="Temu"), shipping_address=None,
                            order_items=items).to_body()


def test_sandbox_inventories_match_the_fixture(server: RunningServer, state: WholeCellState) -> None:
    units = state.add_units(APP_ID, [
        {"sku": SKUS[0], "location": "Ready Room"},  # matched, placed
        {"sku": SKUS[1], "status": "Inbound"},  # no location given
        {"sku": None}, {"sku": ""},  # cannot be matched: null or empty
    ])
    order = call(server, "POST", "/sales_orders", expect=201,
                 body=create_body("PO-211-9", [OrderItem(sku=SKUS[0], quantity=1, unit_price_cents=100)]))
    state.commit_units(APP_ID, [units[0].id], order["id"])

    payload = call(server, "GET", "/inventories", params=[("page", "1")])
    assert shape_problems(payload, fields_of(INVENTORIES)) == []
    data = payload["data"]
    assert len(data) == 4
    assert {type(u["order_id"]) for u in data} == {int, type(None)}  # both variants exercised
    assert {u["product_variation"]["sku"] for u in data} == {SKUS[0], SKUS[1], None, ""}
    assert_offset_times([u[key] for u in data for key in ("created_at", "updated_at")])

    filtered = call(server, "GET", "/inventories", params=[("status", "Inbound"), ("page", "1")])
    assert shape_problems(filtered, fields_of(INVENTORIES)) == [] and len(filtered["data"]) == 1


def test_sandbox_stock_levels_match_the_fixture(server: RunningServer, state: WholeCellState) -> None:
    state.add_units(APP_ID, [{"sku": SKUS[0]}, {"sku": SKUS[0], "status": "Inbound"}])
    call(server, "POST", "/sales_orders", expect=201,
         body=create_body("PO-211-8", [OrderItem(sku=SKUS[1], quantity=2, unit_price_cents=100)]))
    payload = call(server, "GET", "/stock_levels", params=[("inventory_statuses[]", "Available"), ("page", "1")])
    assert shape_problems(payload, fields_of(STOCK_LEVELS)) == []
    assert {row["sku"] for row in payload["data"]} == set(SKUS)


def test_sandbox_sales_orders_match_the_fixture(server: RunningServer, state: WholeCellState) -> None:
    one, many = element_fields(SALES_ORDERS), fields_of(SALES_ORDERS)
    known = [OrderItem(sku=SKUS[0], quantity=1, unit_price_cents=32900, description="iPhone 13",
                       product_variation_id=None)]
    mixed = [*known, OrderItem(sku="NOT-IN-CATALOG", quantity=2, unit_price_cents=1299, description="Case",
                               product_variation_id=None)]

    created = call(server, "POST", "/sales_orders", body=create_body("PO-211-1", known), expect=201)
    assert shape_problems(created, one) == []
    unknown = call(server, "POST", "/sales_orders", body=create_body("PO-211-2", mixed), expect=201)
    assert shape_problems(unknown, one) == []
    assert [item["sku"] for item in unknown["order_items"]] == [SKUS[0], None]  # §4.4: kept, sku null

    address = ShippingAddress(name="Jordan Smith", street1="418 Maple Ave", street2=None, street3=None,
                              city="Columbus", state="OH", zip="43215", country="US", phone="+1 614-555-0142")
    patched = call(server, "PATCH", f"/sales_orders/{created['id']}",
                   body=SalesOrderPatch(shipping_address=address, status="Awaiting Fulfillment").to_body())
    assert shape_problems(patched, one) == []

    state.add_shipment(APP_ID, created["id"], carrier="USPS", service="Ground Advantage",
                       tracking_number="9400111899562837465012")
    read = call(server, "GET", f"/sales_orders/{created['id']}")
    assert shape_problems(read, one) == []
    assert len(read["shipments"]) == 1 and read["shipments"][0]["items"]  # element shapes exercised

    listing = call(server, "GET", "/sales_orders", params=[("channel", "Temu"), ("page", "1")])
    assert shape_problems(listing, many) == [] and len(listing["data"]) == 2
    assert_offset_times([o[key] for o in listing["data"] for key in ("created_at", "updated_at")]
                        + [s["shipped_at"] for o in listing["data"] for s in o["shipments"]])


# --- c. the shape checker cannot pass vacuously -------------------------------------------------
def test_checker_catches_a_wrong_type() -> None:
    payload = example_of(INVENTORIES)
    payload["data"][0]["id"] = "31877420"
    payload["pages"] = None
    assert shape_problems(payload, fields_of(INVENTORIES)) == [
        "data[0].id: expected integer, got string", "pages: expected integer, got null"]


def test_checker_catches_an_extra_key() -> None:
    payload = example_of(INVENTORIES)
    payload["data"][1]["total_pages"] = 1
    payload["data"][0]["warehouse"]["id"] = 3
    payload["total_pages"] = 1
    assert shape_problems(payload, fields_of(INVENTORIES)) == [
        "data[0].warehouse.id: unexpected key (not in the field table)",
        "data[1].total_pages: unexpected key (not in the field table)",
        "total_pages: unexpected key (not in the field table)"]


def test_checker_catches_a_wrong_type_inside_an_array_element() -> None:
    payload = example_of(INVENTORIES)
    payload["data"][0]["product_variation"]["conditions"][0]["id"] = True  # a boolean is no integer
    payload["data"][1]["product_variation"]["conditions"] = ["Light Scratches"]
    assert shape_problems(payload, fields_of(INVENTORIES)) == [
        "data[0].product_variation.conditions[0].id: expected integer, got boolean",
        "data[1].product_variation.conditions[0]: expected object, got string"]


def test_checker_catches_missing_keys_and_honours_absent() -> None:
    payload = example_of(SALES_ORDERS)
    del payload["data"][0]["order_items"][0]["product_variation_id"]  # integer|null|absent
    del payload["data"][0]["shipments"][0]["items"]  # array|absent
    del payload["data"][1]["status"]
    assert shape_problems(payload, fields_of(SALES_ORDERS)) == ["data[1].status: missing key"]


def test_checker_needs_element_and_map_rows() -> None:
    fields = {"items": "array", "meta": "object", "tags": "object", "tags.*": "string"}
    assert shape_problems({"items": [], "meta": {}, "tags": {}}, fields) == []  # empty: nothing to describe
    assert shape_problems({"items": [1], "meta": {"a": 1}, "tags": {"x": "y", "z": 2}}, fields) == [
        "items: array elements are not in the field table (add 'items[]')",
        "meta.a: unexpected key (not in the field table)",
        "tags.z: expected string, got integer"]
    assert shape_problems({"n": 1}, {"n": "number"}) == []  # an integer is a JSON number
    assert shape_problems({"n": 1.5}, {"n": "integer"}) == ["n: expected integer, got number"]
    assert shape_problems([{"a": 1}], {"": "array", "[]": "object", "[].a": "integer"}) == []


def test_checker_rejects_a_malformed_table() -> None:
    with pytest.raises(ValueError, match="bad type"):
        shape_problems({}, {"a": "int"})
    with pytest.raises(ValueError, match="bad type"):
        shape_problems({}, {"a": "absent"})


def test_sub_fields_reroots_a_table() -> None:
    fields = {"data": "array", "data[]": "object", "data[].id": "integer", "data[].tags[]": "string",
              "page": "integer"}
    assert sub_fields(fields, "data[]") == {"": "object", "id": "integer", "tags[]": "string"}
    assert sub_fields(fields, "data") == {"": "array", "[]": "object", "[].id": "integer",
                                          "[].tags[]": "string"}
