"""Order import and address backfill through the local stack: first-run rules, exactly-once
creation, status follow-up, cancellations, Unknown SKUs and their fix, acknowledgment modes,
skipped-then-mapped orders, crash recovery, re-import, and PII-free logs."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from wholecell_temu.store.orders import OrderRepository

from local.stack import LocalStack
from tests.e2e.helpers import bind_local_tables, connect, run_import, run_job

APP = {"app_id": "orders-app", "app_secret": "orders-secret"}
STATUS_MAP = {"1": "Pending", "2": "Awaiting Fulfillment", "3": "Canceled", "4": "Shipped"}


def put_settings(stack: LocalStack, connection_id: str, **settings: Any) -> None:
    body = {"order_import_enabled": True, "order_status_map": STATUS_MAP, **settings}
    response = stack.http("PUT", f"/admin/connections/{connection_id}/settings", json=body)
    assert response.status_code == 200, response.text


@pytest.fixture(scope="module")
def orders_repo() -> OrderRepository:
    bind_local_tables()
    return OrderRepository()


@pytest.fixture(scope="module")
def shop(stack: LocalStack) -> dict[str, Any]:
    assert stack.temu is not None and stack.wholecell is not None
    stack.wholecell.state.create_account(APP["app_id"], APP["app_secret"], skus=["A", "B"])
    shop = stack.temu.state.create_shop(region="US", goods=[{"goodsName": "Phone", "skus": [
        {"skuSn": "A", "specName": "Black", "stock": 5, "status": "active"},
        {"skuSn": "B", "specName": "Blue", "stock": 5, "status": "active"},
        {"skuSn": "NOT-IN-WHOLECELL", "specName": "Gold", "stock": 5, "status": "active"}]}])
    connection_id = connect(stack, shop["mallId"], APP)
    assert run_import(stack, connection_id)["outcome"] == "succeeded"
    listings = {i["seller_sku"]: i for i in
                stack.http("GET", f"/admin/connections/{connection_id}/listings").json()["items"]}
    put_settings(stack, connection_id)
    return {"mall_id": shop["mallId"], "connection_id": connection_id,
            "sku": {code: listings[code]["temu_sku_id"] for code in listings}}


def wholecell_orders(stack: LocalStack) -> dict[str, Any]:
    assert stack.wholecell is not None
    orders = stack.wholecell.state.account(APP["app_id"]).orders.values()
    return {order.external_reference: order for order in orders}


def writes(stack: LocalStack) -> int:
    assert stack.wholecell is not None
    counts = stack.wholecell.state.account(APP["app_id"]).request_counts
    return sum(n for key, n in counts.items() if key.startswith(("POST", "PATCH")))


def view(stack: LocalStack, shop: dict[str, Any], sn: str) -> dict[str, Any]:
    response = stack.http("GET", f"/admin/connections/{shop['connection_id']}/orders/{sn}")
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_first_import_creates_each_waiting_order_once(stack: LocalStack, shop: dict[str, Any],
                                                      capfd: pytest.CaptureFixture[str]) -> None:
    assert stack.temu is not None
    temu = stack.temu.state
    sku = shop["sku"]
    shipped_long_ago = temu.add_order(shop["mall_id"], [{"skuId": sku["A"], "quantity": 1}], status=4)
    pending = temu.add_order(shop["mall_id"], [{"skuId": sku["A"], "quantity": 1}], status=1)
    ready = temu.add_order(shop["mall_id"], [{"skuId": sku["A"], "quantity": 2}, {"skuId": sku["B"], "quantity": 1}],
                           status=2)
    unknown = temu.add_order(shop["mall_id"], [{"skuId": sku["NOT-IN-WHOLECELL"], "quantity": 1}], status=1)
    shop["orders"] = {"pending": pending, "ready": ready, "unknown": unknown, "old": shipped_long_ago}

    run = run_job(stack, shop["connection_id"], "order_import")
    assert run["outcome"] == "succeeded", run
    assert run["counts"]["imported"] == 3 and run["counts"]["unknown_sku_lines"] == 1, run
    created = wholecell_orders(stack)
    assert set(created) == {pending, ready, unknown}  # the first run leaves an already shipped order alone
    assert {o.channel for o in created.values()} == {"Temu"}
    assert (created[pending].status, created[ready].status) == ("Pending", "Awaiting Fulfillment")
    assert [(i["sku"], i["quantity"]) for i in created[ready].order_items] == [("A", 2), ("B", 1)]
    assert created[ready].shipping_address and created[ready].shipping_address["country"] == "US"
    assert created[pending].shipping_address is None  # Temu releases it at status 2
    buyer = created[ready].shipping_address["name"]

    line = created[unknown].order_items[0]
    assert line["sku"] is None and "Phone" in line["description"]
    unknown_view = view(stack, shop, unknown)
    assert unknown_view["unknown_sku"] and "not connected" in unknown_view["lines"][0]["unknown_reason"]
    listing = stack.http("GET", f"/admin/connections/{shop['connection_id']}/listings/"
                                f"{sku['NOT-IN-WHOLECELL']}").json()
    assert "needs mapping" in listing["flags"]
    assert view(stack, shop, ready)["address_state"] == "filled"
    assert "first import" in view(stack, shop, shipped_long_ago)["not_imported_reason"]

    before = writes(stack)
    again = run_job(stack, shop["connection_id"], "order_import")
    assert again["outcome"] == "succeeded" and writes(stack) == before  # nothing changed, nothing written
    assert buyer not in capfd.readouterr().out  # buyer data never reaches the logs


def test_status_follow_up_address_backfill_and_cancellations(stack: LocalStack, shop: dict[str, Any],
                                                             capfd: pytest.CaptureFixture[str]) -> None:
    assert stack.temu is not None
    temu, orders = stack.temu.state, shop["orders"]
    temu.advance_order(orders["pending"])  # 1 -> 2: now the address can be read
    run = run_job(stack, shop["connection_id"], "order_import")
    assert run["counts"]["status_changes"] == 1
    assert wholecell_orders(stack)[orders["pending"]].status == "Awaiting Fulfillment"
    assert view(stack, shop, orders["pending"])["address_state"] == "awaiting"

    backfill = run_job(stack, shop["connection_id"], "address_backfill")
    assert backfill["outcome"] == "succeeded" and backfill["counts"]["filled"] == 1, backfill
    address = wholecell_orders(stack)[orders["pending"]].shipping_address
    assert address and address["street1"] and address["zip"]
    assert address["name"] not in capfd.readouterr().out
    assert view(stack, shop, orders["pending"])["address_state"] == "filled"
    idle = run_job(stack, shop["connection_id"], "address_backfill")["counts"]
    assert idle == {"awaiting": 1, "still_pending": 1}  # only the order still pending on Temu is looked at

    # one unit of a two-unit line cancelled before shipment, then the whole order
    ready = orders["ready"]
    line_sn = temu.orders[ready].items[0].order_sn
    temu.cancel_line(ready, line_sn, 1)
    run = run_job(stack, shop["connection_id"], "order_import")
    assert run["counts"]["cancellations"] == 1
    assert [i["quantity"] for i in wholecell_orders(stack)[ready].order_items] == [1, 1]
    temu.set_order_status(ready, 3)
    run = run_job(stack, shop["connection_id"], "order_import")
    assert run["outcome"] == "succeeded", run
    cancelled = wholecell_orders(stack)[ready]
    assert cancelled.status == "Canceled", (run, view(stack, shop, ready))
    assert cancelled.status == "Canceled" and cancelled.order_items == []  # nothing outstanding any more


def test_unknown_sku_is_fixed_once_the_listing_is_connected(stack: LocalStack, shop: dict[str, Any]) -> None:
    base = f"/admin/connections/{shop['connection_id']}/listings/{shop['sku']['NOT-IN-WHOLECELL']}"
    assert stack.http("PUT", f"{base}/connection", json={"skus": [{"sku": "B", "factor": 2}]}).status_code == 200
    run = run_job(stack, shop["connection_id"], "order_import")
    assert run["counts"]["unknown_sku_fixed"] == 1, run
    item = wholecell_orders(stack)[shop["orders"]["unknown"]].order_items[0]
    assert (item["sku"], item["quantity"]) == ("B", 2)  # a bundle of two units per Temu unit
    assert not view(stack, shop, shop["orders"]["unknown"])["unknown_sku"]
    assert "needs mapping" not in stack.http("GET", base).json()["flags"]


def test_unmapped_and_unconfirmed_orders_wait_and_are_imported_later(stack: LocalStack,
                                                                    shop: dict[str, Any]) -> None:
    assert stack.temu is not None
    temu, sku = stack.temu.state, shop["sku"]
    put_settings(stack, shop["connection_id"], order_status_map={"1": "Pending", "2": "Awaiting Fulfillment"},
                 order_acknowledgment="wait_for_confirmation")
    unconfirmed = temu.add_order(shop["mall_id"], [{"skuId": sku["A"], "quantity": 1}], status=1)
    shipped = temu.add_order(shop["mall_id"], [{"skuId": sku["B"], "quantity": 1}], status=4)
    run_job(stack, shop["connection_id"], "order_import")
    assert unconfirmed not in wholecell_orders(stack) and shipped not in wholecell_orders(stack)
    assert "waiting for confirmation" in view(stack, shop, unconfirmed)["not_imported_reason"]
    assert "not mapped" in view(stack, shop, shipped)["not_imported_reason"]

    temu.advance_order(unconfirmed)  # confirmed: imported with its address
    put_settings(stack, shop["connection_id"], order_acknowledgment="wait_for_confirmation")  # 4 mapped again
    run = run_job(stack, shop["connection_id"], "order_import")
    assert run["outcome"] == "succeeded", run
    created = wholecell_orders(stack)
    assert created[unconfirmed].shipping_address and created[shipped].status == "Shipped"
    assert view(stack, shop, shipped)["imported"]


def test_a_crash_between_create_and_record_never_duplicates(stack: LocalStack, shop: dict[str, Any],
                                                           orders_repo: OrderRepository) -> None:
    assert stack.temu is not None and stack.wholecell is not None
    sn = stack.temu.state.add_order(shop["mall_id"], [{"skuId": shop["sku"]["A"], "quantity": 1}], status=2)
    # the previous run claimed the order and created it in WholeCell, then died before recording it
    orders_repo.claim(shop["connection_id"], sn, "crashed-run", -1, datetime.now(UTC))
    stack.wholecell.state.create_order(APP["app_id"], {"external_reference": sn, "channel": "Temu",
                                                       "status": "Awaiting Fulfillment", "order_items": []})
    run = run_job(stack, shop["connection_id"], "order_import")
    assert run["outcome"] == "succeeded" and run["counts"]["verified_after_crash"] == 1, run
    assert sum(1 for o in stack.wholecell.state.account(APP["app_id"]).orders.values()
               if o.external_reference == sn) == 1
    # the order the crashed run left behind is brought up to what Temu shows now
    assert run["counts"]["brought_up_to_date"] == 1
    found = wholecell_orders(stack)[sn]
    assert [(i["sku"], i["quantity"]) for i in found.order_items] == [("A", 1)] and found.shipping_address
    assert view(stack, shop, sn)["imported"]


def test_reimport_reads_one_order_again(stack: LocalStack, shop: dict[str, Any]) -> None:
    assert stack.temu is not None
    sn = shop["orders"]["pending"]
    stack.temu.state.advance_order(sn)  # shipped on Temu
    response = stack.http("POST", f"/admin/connections/{shop['connection_id']}/orders/{sn}/reimport")
    assert response.status_code == 202, response.text
    stack.drain(timeout=60)
    assert wholecell_orders(stack)[sn].status == "Shipped" and view(stack, shop, sn)["temu_status"] == 4
    missing = stack.http("POST", "/admin/connections/nope/orders/PO-1/reimport")
    assert missing.status_code == 404


def test_an_order_the_import_never_saw_says_why(stack: LocalStack, shop: dict[str, Any]) -> None:
    """Asked live: not on Temu at all (404), not polled yet (with when), switched off."""
    assert stack.temu is not None
    base = f"/admin/connections/{shop['connection_id']}/orders"
    absent = stack.http("GET", f"{base}/PO-211-00000000000000")
    assert absent.status_code == 404 and "Temu has no order PO-211-00000000000000" in absent.text, absent.text

    fresh = stack.temu.state.add_order(shop["mall_id"], [{"skuId": shop["sku"]["A"], "quantity": 1}], status=2)
    why = view(stack, shop, fresh)
    assert (why["import_state"], why["imported"], why["on_temu"], why["temu_status"]) == ("not_seen", False, True, 2)
    assert "not polled yet" in why["not_imported_reason"] and why["next_import_due_at"] is not None

    put_settings(stack, shop["connection_id"], order_import_enabled=False)
    try:
        assert "order import is switched off" in view(stack, shop, fresh)["not_imported_reason"]
    finally:
        put_settings(stack, shop["connection_id"])
    assert run_job(stack, shop["connection_id"], "order_import")["outcome"] == "succeeded"
    assert view(stack, shop, fresh)["import_state"] == "imported"
