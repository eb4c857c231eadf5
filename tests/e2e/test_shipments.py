"""Shipments through the local stack: the webhook's rejections, confirmation once per
(order, tracking number), duplicates and concurrent deliveries, Temu outcome classes,
partial and split shipments, the reconciler catching a lost webhook, and resend."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from typing import Any

import pytest
import requests
from wholecell_temu.domain.credentials import derive_webhook_secret

from local.sandboxes.common import FaultRule
from local.stack import LocalStack
from tests.e2e.helpers import run_job

APP = {"app_id": "ship-app", "app_secret": "ship-secret"}


@pytest.fixture(scope="module")
def shop(stack: LocalStack) -> dict[str, Any]:
    assert stack.temu is not None and stack.wholecell is not None
    stack.wholecell.state.create_account(APP["app_id"], APP["app_secret"], skus=["A", "B"])
    shop = stack.temu.state.create_shop(region="US", goods=[{"goodsName": "Phone", "skus": [
        {"skuSn": "A", "stock": 50, "status": "active"}, {"skuSn": "B", "stock": 50, "status": "active"}]}])
    created = stack.http("POST", "/admin/connections", json={"name": "Ship", "temu_region": "US", "wholecell": APP})
    assert created.status_code == 201, created.text
    connection_id = created.json()["connection_id"]
    stack.authorize(connection_id, shop["mallId"])
    assert run_job(stack, connection_id, "listing_import")["outcome"] == "succeeded"
    response = stack.http("PUT", f"/admin/connections/{connection_id}/settings", json={
        "order_import_enabled": True, "order_status_map": {"1": "Pending", "2": "Awaiting Fulfillment",
                                                           "4": "Shipped", "41": "Awaiting Fulfillment"}})
    assert response.status_code == 200, response.text
    skus = {i["seller_sku"]: i["temu_sku_id"] for i in
            stack.http("GET", f"/admin/connections/{connection_id}/listings").json()["items"]}
    webhook = {"url": created.json()["webhook_url"], "secret": created.json()["webhook_secret"]}
    stack.wholecell.state.configure_webhook(APP["app_id"], webhook["url"], [webhook["secret"]])
    return {"mall_id": shop["mallId"], "connection_id": connection_id, "skus": skus, **webhook}


def new_order(stack: LocalStack, shop: dict[str, Any], *lines: tuple[str, int]) -> tuple[str, int]:
    """A Temu order awaiting shipment, imported into WholeCell: (parentOrderSn, WholeCell id)."""
    assert stack.temu is not None
    sn = stack.temu.state.add_order(shop["mall_id"], [{"skuId": shop["skus"][sku], "quantity": qty}
                                                      for sku, qty in lines], status=2)
    assert run_job(stack, shop["connection_id"], "order_import")["outcome"] == "succeeded"
    orders = stack.wholecell.state.account(APP["app_id"]).orders.values()  # type: ignore[union-attr]
    return sn, next(order.id for order in orders if order.external_reference == sn)


def ship(stack: LocalStack, order_id: int, tracking: str, carrier: str = "USPS",
         items: list[dict[str, Any]] | None = None) -> str | None:
    assert stack.wholecell is not None
    result = stack.wholecell.state.add_shipment(APP["app_id"], order_id, carrier=carrier, tracking_number=tracking,
                                                items=items)
    stack.drain(timeout=120)
    return result["event_id"]


def temu_packages(stack: LocalStack, sn: str) -> list[Any]:
    assert stack.temu is not None
    return [p for p in stack.temu.state.packages.values() if any(line["parentOrderSn"] == sn for line in p.lines)]


def temu_status(stack: LocalStack, sn: str) -> int:
    assert stack.temu is not None
    return int(stack.temu.state.orders[sn].status)


def order_view(stack: LocalStack, shop: dict[str, Any], sn: str) -> dict[str, Any]:
    return dict(stack.http("GET", f"/admin/connections/{shop['connection_id']}/orders/{sn}").json())


def signed(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    stamp = str(timestamp if timestamp is not None else int(time.time()))
    digest = hmac.new(secret.encode(), stamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return {"Content-Type": "application/json", "X-WholeCell-Timestamp": stamp, "X-WholeCell-Signature": f"v1={digest}"}


def test_webhook_rejects_bad_requests_and_queues_nothing(stack: LocalStack, shop: dict[str, Any]) -> None:
    body = json.dumps({"event": "sales_order.shipment_created", "event_id": "evt_1", "occurred_at":
                       "2026-01-02T20:21:04Z", "sales_order_id": 999999, "shipment": {
                           "id": 1, "carrier": "USPS", "tracking_number": "1Z"}}).encode()
    url = shop["url"]
    other = url.replace(shop["connection_id"], "not-a-connection")
    cases = [
        (other, body, signed(shop["secret"], body), 404),
        (url, body, {"Content-Type": "application/json"}, 401),
        (url, body, signed("whsec_wrong", body), 401),
        (url, body, signed(shop["secret"], body, int(time.time()) - 600), 401),  # replayed after 10 minutes
        (url, body + b" ", signed(shop["secret"], body), 401),  # body changed after signing
        (url, body[:-20], signed(shop["secret"], body), 401),  # truncated in transit
        (url, body[:-20], signed(shop["secret"], body[:-20]), 400),  # truncated, then signed: not JSON
        (url, b"{not json", signed(shop["secret"], b"{not json"), 400),
        (url, b'{"event": "sales_order.shipment_created"}', signed(shop["secret"],
                                                                   b'{"event": "sales_order.shipment_created"}'), 400),
        (url, b"x" * 70_000, signed(shop["secret"], b"x" * 70_000), 413),
    ]
    for target, payload, headers, status in cases:
        response = requests.post(target, data=payload, headers=headers, timeout=30)
        assert response.status_code == status, (status, response.text)
    missing = requests.post(url, data=b'{"event": "sales_order.shipment_created"}', timeout=30,
                            headers=signed(shop["secret"], b'{"event": "sales_order.shipment_created"}'))
    assert {"event_id", "sales_order_id", "shipment", "occurred_at"} <= set(missing.json()["error"]["fields"])
    assert stack.dlq_messages("ShipmentQueue") == []
    stack.drain(timeout=30)
    assert stack.dlq_messages("ShipmentQueue") == []  # nothing was queued, so nothing failed


def test_a_shipment_marks_the_temu_order_shipped_once(stack: LocalStack, shop: dict[str, Any]) -> None:
    assert stack.wholecell is not None
    sn, order_id = new_order(stack, shop, ("A", 1), ("B", 2))
    event_id = ship(stack, order_id, "9400 1118-9956#2837")
    assert temu_status(stack, sn) == 4
    packages = temu_packages(stack, sn)
    assert len(packages) == 1 and packages[0].tracking_number == "940011189956" + "2837"
    assert sorted(line["quantity"] for line in packages[0].lines) == [1, 2]  # full quantities
    assert order_view(stack, shop, sn)["shipment_state"] == "confirmed"

    # the same event again (WholeCell retried it), and both at once: accepted, processed once
    assert event_id is not None
    stack.wholecell.state.redeliver(APP["app_id"], event_id)
    threads = [threading.Thread(target=stack.wholecell.state.redeliver, args=(APP["app_id"], event_id))
               for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    deliveries = [d for d in stack.wholecell.state.account(APP["app_id"]).deliveries if d["event_id"] == event_id]
    assert [d["status"] for d in deliveries] == [202, 202, 202, 202]
    stack.drain(timeout=60)
    assert len(temu_packages(stack, sn)) == 1


def test_concurrent_events_for_one_tracking_number_confirm_once(stack: LocalStack, shop: dict[str, Any]) -> None:
    assert stack.wholecell is not None
    sn, order_id = new_order(stack, shop, ("A", 1))
    stack.pause()
    try:
        stack.wholecell.state.add_shipment(APP["app_id"], order_id, carrier="UPS", tracking_number="1Z999AA10")
        for _ in range(3):  # a label re-sent by ShipStation: new events, same tracking number
            event = stack.wholecell.state.add_shipment(APP["app_id"], order_id, carrier="UPS",
                                                       tracking_number="1Z999AA10")
            assert event["event_id"]
    finally:
        stack.resume()
    stack.drain(timeout=120)
    assert temu_status(stack, sn) == 4 and len(temu_packages(stack, sn)) == 1


def test_partial_then_full_and_split_shipments(stack: LocalStack, shop: dict[str, Any]) -> None:
    assert stack.wholecell is not None
    # one box per line, arriving one after the other: partially shipped, then shipped
    sn, order_id = new_order(stack, shop, ("A", 1), ("B", 1))
    ship(stack, order_id, "BOXA1", items=[{"sku": "A", "quantity": 1}])
    assert temu_status(stack, sn) == 41
    ship(stack, order_id, "BOXB1", items=[{"sku": "B", "quantity": 1}])
    assert temu_status(stack, sn) == 4 and len(temu_packages(stack, sn)) == 2

    # two boxes known at once (the webhook was down): one call, send type 1
    stack.wholecell.state.configure_webhook(APP["app_id"], None, [shop["secret"]])
    sn, order_id = new_order(stack, shop, ("A", 1), ("B", 1))
    ship(stack, order_id, "SPLITA", items=[{"sku": "A", "quantity": 1}])
    ship(stack, order_id, "SPLITB", items=[{"sku": "B", "quantity": 1}])
    stack.wholecell.state.configure_webhook(APP["app_id"], shop["url"], [shop["secret"]])
    assert temu_status(stack, sn) == 2  # lost webhooks: nothing happened yet
    run = run_job(stack, shop["connection_id"], "shipment_reconcile")
    assert run["outcome"] == "succeeded" and run["counts"]["queued"] >= 1, run
    stack.drain(timeout=60)
    packages = temu_packages(stack, sn)
    assert temu_status(stack, sn) == 4 and {p.send_type for p in packages} == {1} and len(packages) == 2


def test_temu_outcomes_retry_verify_and_dead_letter(stack: LocalStack, shop: dict[str, Any]) -> None:
    assert stack.temu is not None and stack.wholecell is not None
    # retryable: Temu fails every attempt of the first delivery, the next delivery succeeds
    sn, order_id = new_order(stack, shop, ("A", 1))
    stack.temu.state.faults.set_rules([FaultRule(endpoint="bg.logistics.shipment.v2.confirm", error_rate=1.0,
                                                 status=503, count=4)])
    ship(stack, order_id, "RETRY1")
    assert temu_status(stack, sn) == 4 and len(temu_packages(stack, sn)) == 1

    # Temu already holds the tracking number (an earlier attempt went through): verified, not sent again
    sn, order_id = new_order(stack, shop, ("B", 1))
    detail = stack.temu.state.orders[sn]
    carrier_id = next(cid for cid, name in stack.temu.state.shops[shop["mall_id"]].carriers.items() if name == "USPS")
    warehouse = next(iter(stack.temu.state.shops[shop["mall_id"]].warehouse_ids))
    stack.temu.state.api_shipment_confirm(stack.temu.state.shops[shop["mall_id"]], {
        "sendType": 0, "sendRequestList": [{"carrierId": carrier_id, "trackingNumber": "ALREADY1",
                                            "selfShippingWarehouseId": warehouse, "orderSendInfoList": [
                                                {"parentOrderSn": sn, "orderSn": detail.items[0].order_sn,
                                                 "quantity": 1}]}]})
    ship(stack, order_id, "ALREADY1")
    assert len(temu_packages(stack, sn)) == 1 and order_view(stack, shop, sn)["shipment_state"] == "confirmed"

    # permanent: a carrier Temu does not know → recorded, dead-lettered; resend after fixing the map
    sn, order_id = new_order(stack, shop, ("A", 1))
    ship(stack, order_id, "PONY1", carrier="Pony Express")
    view = order_view(stack, shop, sn)
    assert view["shipment_state"] == "failed" and "Pony Express" in view["shipment_error"]
    # no US carrier is a close name: the error says so, names them with their ids and the entry to add
    hint = ('"carrier_map": {"Pony Express": <Temu carrier id>}', "none of its 3 carriers is a close name",
            f"USPS (id {carrier_id})")
    assert all(part in view["shipment_error"] for part in hint), view["shipment_error"]
    dead = [m for m in stack.dlq_messages("ShipmentQueue") if json.loads(m["Body"])["sales_order_id"] == order_id]
    assert dead and all(part in dead[0]["MessageAttributes"]["reason"]["StringValue"] for part in hint), dead
    assert temu_status(stack, sn) == 2
    settings = stack.http("GET", f"/admin/connections/{shop['connection_id']}").json()["settings"]
    settings["carrier_map"] = {"Pony Express": carrier_id}
    assert stack.http("PUT", f"/admin/connections/{shop['connection_id']}/settings", json=settings).status_code == 200
    resend = stack.http("POST", f"/admin/connections/{shop['connection_id']}/orders/{sn}/shipments/resend")
    assert resend.status_code == 202 and resend.json()["reopened"] == 1, resend.text
    stack.drain(timeout=60)
    assert temu_status(stack, sn) == 4 and order_view(stack, shop, sn)["shipment_state"] == "confirmed"

    # a close name: the error names the Temu carrier it likely is, and the entry that maps it
    sn, order_id = new_order(stack, shop, ("B", 1))
    ship(stack, order_id, "PRIO1", carrier="USPS Priority")
    error = order_view(stack, shop, sn)["shipment_error"]
    assert f"closest Temu carriers: USPS (id {carrier_id})." in error, error
    assert error.endswith(f'"carrier_map": {{"USPS Priority": {carrier_id}}}') and temu_status(stack, sn) == 2


def test_cancelled_order_is_a_permanent_failure(stack: LocalStack, shop: dict[str, Any]) -> None:
    assert stack.temu is not None
    sn, order_id = new_order(stack, shop, ("B", 1))
    stack.temu.state.set_order_status(sn, 3)
    ship(stack, order_id, "LATE1")
    view = order_view(stack, shop, sn)
    assert view["shipment_state"] == "failed" and "cancelled" in view["shipment_error"]


def test_a_shipment_for_a_pending_order_waits_and_the_reconciler_finishes_it(stack: LocalStack,
                                                                              shop: dict[str, Any]) -> None:
    assert stack.temu is not None and stack.wholecell is not None
    sn = stack.temu.state.add_order(shop["mall_id"], [{"skuId": shop["skus"]["A"], "quantity": 1}], status=1)
    assert run_job(stack, shop["connection_id"], "order_import")["outcome"] == "succeeded"
    orders = stack.wholecell.state.account(APP["app_id"]).orders.values()
    order_id = next(order.id for order in orders if order.external_reference == sn)
    ship(stack, order_id, "EARLY1")  # Temu refuses shipments before awaiting shipment: retried, not failed
    assert temu_status(stack, sn) == 1 and order_view(stack, shop, sn)["shipment_state"] != "failed"
    stack.temu.state.advance_order(sn)
    run = run_job(stack, shop["connection_id"], "shipment_reconcile")
    assert run["counts"]["queued"] >= 1, run
    stack.drain(timeout=60)
    assert temu_status(stack, sn) == 4 and order_view(stack, shop, sn)["shipment_state"] == "confirmed"


def test_webhook_secret_rotation(stack: LocalStack, shop: dict[str, Any]) -> None:
    """The webhook secret is derived (master key, connection, version), never stored per connection:
    a rotation accepts the old and the new secret until the old one is retired."""
    created = stack.http("POST", "/admin/connections", json={"name": "Rotate", "temu_region": "US",
                                                             "wholecell": APP}).json()
    connection_id, url, first = created["connection_id"], created["webhook_url"], created["webhook_secret"]
    body = b'{"event": "sales_order.shipment_created"}'

    def verdict(secret: str) -> int:  # 400: the signature held and the (incomplete) body was refused
        return requests.post(url, data=body, headers=signed(secret, body), timeout=30).status_code

    assert verdict(first) == 400 and verdict("whsec_wrong") == 401
    rotate = f"/admin/connections/{connection_id}/webhook-secret"
    rotated = stack.http("POST", rotate, json={})
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()["webhook_secret"]
    assert second.startswith("whsec_") and second != first and rotated.json()["webhook_url"] == url
    assert (rotated.json()["key_version"], rotated.json()["previous_key_version"]) == (2, 1)
    assert verdict(first) == 400 and verdict(second) == 400  # both, while WholeCell switches
    view = stack.http("GET", f"/admin/connections/{connection_id}")
    webhook = view.json()["webhook"]
    assert (webhook["key_version"], webhook["previous_key_version"]) == (2, 1)
    assert webhook["previous_valid_until"] == rotated.json()["previous_valid_until"] is not None
    assert first not in view.text and second not in view.text

    retired = stack.http("DELETE", f"{rotate}/previous")
    assert retired.status_code == 200 and retired.json()["webhook"]["previous_key_version"] is None
    assert verdict(first) == 401 and verdict(second) == 400
    revoked = stack.http("POST", rotate, json={"overlap_hours": 0})  # a leaked secret: revoke at once
    third = revoked.json()["webhook_secret"]
    assert verdict(second) == 401 and verdict(third) == 400 and verdict(first) == 401

    sm = stack.client("secretsmanager")
    master = json.loads(sm.get_secret_value(SecretId=stack.secret_arns["WebhookKeySecret"])["SecretString"])
    assert derive_webhook_secret(master["master_key"].encode(), connection_id, 3) == third
    names = [s["Name"] for page in sm.get_paginator("list_secrets").paginate() for s in page["SecretList"]]
    assert [n for n in names if connection_id in n] == [
        f"wholecell-temu/{stack.template.parameters['Stage']}/connections/{connection_id}"]
    assert stack.http("POST", "/admin/connections/nope/webhook-secret", json={}).status_code == 404
    assert stack.http("POST", rotate, json={"overlap_hours": "maybe"}).status_code == 400
    assert stack.http("POST", rotate, json={"overlap_hours": 721}).status_code == 400
