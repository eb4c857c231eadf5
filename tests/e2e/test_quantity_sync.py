"""Quantity sync through the local stack: the pushed numbers, only-what-changed, the fail-safe,
dry run, drift and overwrite detection, and the diagnosis."""

from __future__ import annotations

from typing import Any

import pytest

from local.sandboxes.common import FaultRule
from local.stack import LocalStack
from tests.e2e.helpers import connect, run_import, run_job

APP = {"app_id": "qty-app", "app_secret": "qty-secret"}
MAIN, OVERFLOW = "Main Warehouse", "Overflow"


def run_sync(stack: LocalStack, connection_id: str) -> dict[str, Any]:
    return run_job(stack, connection_id, "quantity_sync")


def put_settings(stack: LocalStack, connection_id: str, **settings: Any) -> None:
    body = {"inventory_sync_enabled": True, "inventory_statuses": ["Available"], "warehouses": [MAIN],
            "confirm_initial_push": True, **settings}
    response = stack.http("PUT", f"/admin/connections/{connection_id}/settings", json=body)
    assert response.status_code == 200, response.text


@pytest.fixture(scope="module")
def shop(stack: LocalStack) -> dict[str, Any]:
    """A shop of three goods connected to SKUs A, B, C (C pooled with A as a bundle of two)."""
    assert stack.temu is not None and stack.wholecell is not None
    wholecell = stack.wholecell.state
    wholecell.create_account(APP["app_id"], APP["app_secret"], skus=["A", "B", "C"])
    units = wholecell.add_units(APP["app_id"], [
        *({"sku": "A", "status": "Available", "warehouse": MAIN} for _ in range(6)),
        {"sku": "A", "status": "Sold", "warehouse": MAIN},
        {"sku": "A", "status": "Available", "warehouse": OVERFLOW},
        *({"sku": "B", "status": "Available", "warehouse": MAIN} for _ in range(2)),
        *({"sku": "C", "status": "Available", "warehouse": MAIN} for _ in range(4)),
    ])
    order = wholecell.create_order(APP["app_id"], {
        "external_reference": "EBAY-1", "channel": "eBay", "status": "Pending",
        "order_items": [{"sku": "A", "quantity": 2}]})
    shop = stack.temu.state.create_shop(region="US", goods=[
        {"goodsName": "Phone A", "skus": [{"skuSn": "A", "stock": 50, "status": "active"},
                                          {"skuSn": "B", "stock": 50, "status": "active"}]},
        {"goodsName": "Phone C", "skus": [{"skuSn": "C", "stock": 50, "status": "active"}]},
        {"goodsName": "Old", "skus": [{"skuSn": "B", "stock": 9, "status": "inactive"}]},
    ])
    connection_id = connect(stack, shop["mallId"], APP)
    assert run_import(stack, connection_id)["outcome"] == "succeeded"
    listings = {(i["seller_sku"], i["status"]): i for i in
                stack.http("GET", f"/admin/connections/{connection_id}/listings").json()["items"]}
    return {"mall_id": shop["mallId"], "connection_id": connection_id, "units": units, "order": order,
            "a": listings[("A", "active")], "b": listings[("B", "active")], "c": listings[("C", "active")],
            "old": listings[("B", "ended")]}


def temu_stock(stack: LocalStack, shop: dict[str, Any]) -> dict[str, int]:
    assert stack.temu is not None
    stock = stack.temu.state.stock(shop["mall_id"])
    return {name: stock[shop[name]["temu_sku_id"]] for name in ("a", "b", "c", "old")}


def stock_edits(stack: LocalStack, shop: dict[str, Any]) -> list[dict[str, Any]]:
    assert stack.temu is not None
    return [edit for edit in stack.temu.state.stock_edits if edit["mallId"] == shop["mall_id"]]


def listing(stack: LocalStack, shop: dict[str, Any], name: str) -> dict[str, Any]:
    path = f"/admin/connections/{shop['connection_id']}/listings/{shop[name]['temu_sku_id']}"
    return dict(stack.http("GET", path).json())


def test_quantities_are_pushed_once_and_only_when_they_change(stack: LocalStack, shop: dict[str, Any]) -> None:
    assert stack.wholecell is not None
    connection_id = shop["connection_id"]
    base = f"/admin/connections/{connection_id}/listings"
    assert stack.http("PUT", f"{base}/{shop['c']['temu_sku_id']}/connection",
                      json={"skus": [{"sku": "C"}, {"sku": "A", "factor": 2}]}).status_code == 200

    # inventory sync off: a manual run only calculates (a preview), pushes nothing
    preview = run_sync(stack, connection_id)
    assert preview["outcome"] == "succeeded" and preview["counts"]["would_push"] == 3, preview
    assert stock_edits(stack, shop) == [] and listing(stack, shop, "a")["last_calculated"] == 5  # every warehouse

    put_settings(stack, connection_id)
    first = run_sync(stack, connection_id)
    assert first["outcome"] == "succeeded", first
    # A: 6 available in Main (Sold and Overflow do not count) - 2 on an open eBay order = 4
    # C: 4 of C + floor(4 / 2) of A = 6; the ended listing is never pushed
    assert temu_stock(stack, shop) == {"a": 4, "b": 2, "c": 6, "old": 9}
    assert len(stock_edits(stack, shop)) == 2  # one call per goods
    assert first["counts"]["pushed"] == 3 and first["counts"]["ended"] == 1
    a = listing(stack, shop, "a")
    assert (a["last_calculated"], a["last_pushed"], a["temu_quantity"]) == (4, 4, 4) and a["last_pushed_at"]

    unchanged = run_sync(stack, connection_id)
    assert unchanged["outcome"] == "succeeded" and unchanged["counts"].get("pushed", 0) == 0
    assert len(stock_edits(stack, shop)) == 2

    # one unit of A is committed to the eBay order, one B is sold: only what changed is sent
    wholecell = stack.wholecell.state
    a_units = [u.id for u in shop["units"] if u.sku == "A" and u.status == "Available" and u.warehouse == MAIN]
    b_units = [u.id for u in shop["units"] if u.sku == "B"]
    wholecell.commit_units(APP["app_id"], a_units[:1], shop["order"]["id"])
    wholecell.set_unit_status(APP["app_id"], b_units[:1], "Sold")
    changed = run_sync(stack, connection_id)
    assert changed["outcome"] == "succeeded", changed
    # A: 5 available - 1 still uncommitted on the order = 4 (unchanged); B: 1
    assert temu_stock(stack, shop) == {"a": 4, "b": 1, "c": 6, "old": 9}
    assert changed["counts"]["pushed"] == 1 and len(stock_edits(stack, shop)) == 3
    assert stock_edits(stack, shop)[-1]["entries"] == [{"skuId": shop["b"]["temu_sku_id"], "stockTarget": 1}]


def test_a_failed_read_pushes_nothing(stack: LocalStack, shop: dict[str, Any]) -> None:
    assert stack.wholecell is not None
    connection_id = shop["connection_id"]
    put_settings(stack, connection_id)
    run_sync(stack, connection_id)
    before, edits = temu_stock(stack, shop), len(stock_edits(stack, shop))
    units = [u.id for u in shop["units"] if u.sku == "C"]
    stack.wholecell.state.set_unit_status(APP["app_id"], units, "Sold")  # C would drop to 0 + 2
    stack.wholecell.state.set_faults([FaultRule(endpoint="/api/v1/inventories", error_rate=1.0, status=500)])
    try:
        failed = run_sync(stack, connection_id)  # every delivery fails, the message is dead-lettered
    finally:
        stack.wholecell.state.clear_faults()
    assert failed["outcome"] == "failed" and "server error" in failed["reason"], failed
    assert temu_stock(stack, shop) == before and len(stock_edits(stack, shop)) == edits  # never zeros
    assert len(stack.dlq_messages("QuantitySyncQueue")) == 1
    assert run_sync(stack, connection_id)["outcome"] == "succeeded"
    assert temu_stock(stack, shop)["c"] == 2
    stack.wholecell.state.set_unit_status(APP["app_id"], units, "Available")
    assert run_sync(stack, connection_id)["outcome"] == "succeeded"
    assert temu_stock(stack, shop)["c"] == 6


def test_dry_run_records_and_pushes_nothing(stack: LocalStack, shop: dict[str, Any]) -> None:
    assert stack.wholecell is not None
    connection_id = shop["connection_id"]
    put_settings(stack, connection_id, dry_run=True)
    stack.wholecell.state.add_units(APP["app_id"], [{"sku": "B", "status": "Available", "warehouse": MAIN}])
    edits = len(stock_edits(stack, shop))
    dry = run_sync(stack, connection_id)
    assert dry["outcome"] == "succeeded" and dry["counts"]["would_push"] == 1, dry
    assert len(stock_edits(stack, shop)) == edits
    b = listing(stack, shop, "b")
    assert b["last_calculated"] == b["last_pushed"] + 1
    diagnosis = stack.http("GET", f"/admin/connections/{connection_id}/listings/{shop['b']['temu_sku_id']}"
                                  "/diagnosis").json()
    assert {c["check"]: c["status"] for c in diagnosis["checks"]}["inventory_sync"] == "problem"
    put_settings(stack, connection_id)
    assert run_sync(stack, connection_id)["outcome"] == "succeeded"
    assert listing(stack, shop, "b")["last_pushed"] == b["last_calculated"]


def test_temu_drift_is_reasserted_and_overwrites_flagged(stack: LocalStack, shop: dict[str, Any]) -> None:
    assert stack.temu is not None
    connection_id = shop["connection_id"]
    put_settings(stack, connection_id)
    run_sync(stack, connection_id)
    expected = temu_stock(stack, shop)
    stack.temu.state.set_sku(shop["mall_id"], shop["a"]["temu_sku_id"], stock=expected["a"] + 10)  # another tool
    # a Temu sale: Temu takes the unit from its stock itself
    stack.temu.state.add_order(shop["mall_id"], [{"skuId": shop["b"]["temu_sku_id"], "quantity": 1}])
    assert temu_stock(stack, shop)["b"] == expected["b"] - 1
    stack.temu.state.set_sku(shop["mall_id"], shop["c"]["temu_sku_id"], stock=0)  # out of stock, by another tool
    rerun = run_sync(stack, connection_id)  # a manual run re-reads Temu's own stock
    assert rerun["outcome"] == "succeeded", rerun
    assert rerun["counts"]["temu_differs"] == 3 and rerun["counts"]["overwritten_on_temu"] == 2
    assert rerun["counts"]["overwritten_on_temu_down"] == rerun["counts"]["temu_sold_since_push"] == 1
    assert temu_stock(stack, shop) == expected
    a = listing(stack, shop, "a")
    assert a["flags"] == ["overwritten on Temu"] and listing(stack, shop, "b")["flags"] == []
    assert listing(stack, shop, "c")["flags"] == ["overwritten on Temu"]
    c_checks = {c["check"]: c for c in stack.http(
        "GET", f"/admin/connections/{connection_id}/listings/{shop['c']['temu_sku_id']}/diagnosis").json()["checks"]}
    assert f"Temu showed 0, less than the {expected['c']} last pushed" in c_checks["overwritten_on_temu"]["detail"]

    diagnosis = stack.http("GET", f"/admin/connections/{connection_id}/listings/{shop['a']['temu_sku_id']}"
                                  "/diagnosis")
    assert diagnosis.status_code == 200, diagnosis.text
    body = diagnosis.json()
    checks = {c["check"]: c for c in body["checks"]}
    assert checks["overwritten_on_temu"]["status"] == "problem" and checks["overwritten_on_temu"]["hint"]
    assert checks["connected"]["status"] == checks["imported"]["status"] == "ok"
    link = body["links"][0]
    assert (link["ref"], link["available"]) == ("A", expected["a"] + link["outstanding"])
    assert [o["external_reference"] for o in link["outstanding_orders"]] == ["EBAY-1"]
    counted = {(g["status"], g["warehouse"]): g["counted"] for g in link["units"]}
    assert counted[("Available", MAIN)] is True and counted[("Available", OVERFLOW)] is False

    # the next re-read finds Temu holding our value: the flag clears
    assert run_sync(stack, connection_id)["outcome"] == "succeeded"
    assert listing(stack, shop, "a")["flags"] == []


def test_diagnosis_explains_ended_unconnected_and_unknown_listings(stack: LocalStack, shop: dict[str, Any]) -> None:
    connection_id = shop["connection_id"]
    base = f"/admin/connections/{connection_id}/listings"

    def problems(temu_sku_id: int) -> dict[str, str]:
        response = stack.http("GET", f"{base}/{temu_sku_id}/diagnosis")
        assert response.status_code == 200, response.text
        return {c["check"]: c["hint"] for c in response.json()["checks"] if c["status"] != "ok"}

    assert "active" in problems(shop["old"]["temu_sku_id"])
    assert "imported" in problems(123456789)
    put_settings(stack, connection_id, order_status_map={"2": "Pending", "4": "Pending"})
    assert "outstanding_statuses" in problems(shop["a"]["temu_sku_id"])
    assert stack.http("GET", "/admin/connections/nope/listings/1/diagnosis").status_code == 404
