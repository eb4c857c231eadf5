"""The connection lifecycle through HTTP: create, authorize, configure, run, lose and regain authorization."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlparse, urlunparse

import pytest
import requests
from wholecell_temu.store.connections import ConnectionRepository
from wholecell_temu.store.tables import ListingModel
from wholecell_temu.wholecell.adapter import sign_webhook

from local.stack import LocalStack
from tests.e2e.helpers import bind_local_tables, run_import

WHOLECELL = {"app_id": "e2e-app", "app_secret": "e2e-secret"}


@pytest.fixture(scope="module")
def shop(stack: LocalStack) -> dict[str, Any]:
    assert stack.wholecell is not None and stack.temu is not None
    stack.wholecell.state.create_account(WHOLECELL["app_id"], WHOLECELL["app_secret"], skus=["SKU-1"])
    return stack.temu.state.create_shop(region="US", goods=[
        {"goodsName": "Phone", "skus": [{"skuSn": "SKU-1", "stock": 1, "status": "active"}]}])


def create(stack: LocalStack, **overrides: Any) -> dict[str, Any]:
    body = {"name": "Shop", "temu_region": "US", "wholecell": WHOLECELL, **overrides}
    response = stack.http("POST", "/admin/connections", json=body)
    assert response.status_code == 201, response.text
    return dict(response.json())


def authorize_link(stack: LocalStack, connection_id: str) -> str:
    """A new single-use authorize link, as the operator asks the admin API for one."""
    response = stack.http("POST", f"/admin/connections/{connection_id}/authorize-link")
    assert response.status_code == 201, response.text
    return str(response.json()["authorize_url"])


def authorize(stack: LocalStack, connection_id: str, mall_id: int | None = None,
              link: str | None = None) -> requests.Response:
    response = requests.get(link or authorize_link(stack, connection_id), allow_redirects=False, timeout=30)
    assert response.status_code == 302, response.text
    seller_center = response.headers["Location"]
    if mall_id is not None:
        seller_center += f"&mall_id={mall_id}"
    response = requests.get(seller_center, allow_redirects=False, timeout=30)
    assert response.status_code == 302
    return requests.get(response.headers["Location"], timeout=30)


def snapshot(stack: LocalStack, connection_id: str) -> dict[str, Any]:
    response = stack.http("GET", f"/admin/connections/{connection_id}")
    assert response.status_code == 200
    return dict(response.json())


def test_create_shows_secret_once_and_never_again(stack: LocalStack, shop: dict[str, Any]) -> None:
    created = create(stack)
    assert created["webhook_secret"].startswith("whsec_")
    assert created["webhook_url"].endswith(f"/wholecell/{created['connection_id']}/shipments")
    view = snapshot(stack, created["connection_id"])
    assert view["status"] == "awaiting_authorization"
    assert created["webhook_secret"] not in str(view) and WHOLECELL["app_secret"] not in str(view)
    listed = stack.http("GET", "/admin/connections").json()["items"]
    assert created["connection_id"] in {c["connection_id"] for c in listed}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "", "temu_region": "US", "wholecell": WHOLECELL}, "name"),
        ({"name": "x", "temu_region": "MARS", "wholecell": WHOLECELL}, "temu_region"),
        ({"name": "x", "temu_region": "US"}, "wholecell"),
        ({"name": "x", "temu_region": "US", "wholecell": WHOLECELL, "settings": {"quantity_buffer": -1}},
         "settings.quantity_buffer"),
        ({"name": "x", "temu_region": "US", "wholecell": WHOLECELL, "settings": {"sales_channel": "temu"}},
         "settings.sales_channel"),
        ({"name": "x", "temu_region": "US", "wholecell": {"app_id": "e2e-app", "app_secret": "wrong"}}, "wholecell"),
    ],
)
def test_bad_create_is_400_naming_the_field_and_stores_nothing(
    stack: LocalStack, shop: dict[str, Any], body: dict[str, Any], field: str
) -> None:
    before = len(stack.http("GET", "/admin/connections").json()["items"])
    response = stack.http("POST", "/admin/connections", json=body)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert field in error.get("fields", {}), error
    assert len(stack.http("GET", "/admin/connections").json()["items"]) == before


def test_channel_mismatch_names_the_closest_title(stack: LocalStack, shop: dict[str, Any]) -> None:
    response = stack.http("POST", "/admin/connections", json={
        "name": "x", "temu_region": "US", "wholecell": WHOLECELL, "settings": {"sales_channel": "temu"}})
    assert "'Temu'" in response.json()["error"]["fields"]["settings.sales_channel"]


def test_authorize_configure_run_and_reauthorize(stack: LocalStack, shop: dict[str, Any]) -> None:
    connection_id = create(stack)["connection_id"]
    page = authorize(stack, connection_id, shop["mallId"])
    assert page.status_code == 200 and "connected" in page.text
    view = snapshot(stack, connection_id)
    assert view["status"] == "active"
    assert view["temu"]["mall_id"] == shop["mallId"] and view["temu"]["missing_scopes"] == []
    assert view["temu"]["days_to_token_expiry"] > 300

    # configure: turning inventory sync on needs the explicit confirmation
    settings = {"inventory_sync_enabled": True, "order_import_enabled": True,
                "order_status_map": {"2": "Awaiting Fulfillment"}}
    refused = stack.http("PUT", f"/admin/connections/{connection_id}/settings", json=settings)
    assert refused.status_code == 400 and "confirm_initial_push" in refused.json()["error"]["fields"]
    assert snapshot(stack, connection_id)["settings"]["inventory_sync_enabled"] is False
    stored = stack.http("PUT", f"/admin/connections/{connection_id}/settings",
                        json={**settings, "confirm_initial_push": True})
    assert stored.status_code == 200 and stored.json()["order_status_map"] == {"2": "Awaiting Fulfillment"}

    # run a job on demand: queued at once, visible in the run log
    queued = stack.http("POST", f"/admin/connections/{connection_id}/jobs/order_import/run")
    assert queued.status_code == 202
    runs = stack.http("GET", f"/admin/connections/{connection_id}/runs?job=order_import")
    assert queued.json()["run_id"] in {r["run_id"] for r in runs.json()["items"]}

    # re-authorizing replaces the token; the old one is revoked by Temu and never used again
    assert stack.temu is not None
    old_token = stack.temu.state.current_token(shop["mallId"])
    assert authorize(stack, connection_id, shop["mallId"]).status_code == 200
    assert stack.temu.state.current_token(shop["mallId"]) != old_token
    assert snapshot(stack, connection_id)["status"] == "active"


def test_callback_rejects_bad_state_and_reused_code(stack: LocalStack, shop: dict[str, Any]) -> None:
    connection_id = create(stack)["connection_id"]
    forged = requests.get(f"{stack.api_url}/temu/callback", params={"code": "x", "state": "abc.def"}, timeout=30)
    assert forged.status_code == 400 and "not issued" in forged.text
    missing = requests.get(f"{stack.api_url}/temu/callback", params={"code": "x"}, timeout=30)
    assert missing.status_code == 400

    response = requests.get(authorize_link(stack, connection_id), allow_redirects=False, timeout=30)
    callback = requests.get(response.headers["Location"] + f"&mall_id={shop['mallId']}",
                            allow_redirects=False, timeout=30).headers["Location"]
    assert requests.get(callback, timeout=30).status_code == 200
    replay = requests.get(callback, timeout=30)
    assert replay.status_code == 400 and "used already" in replay.text


def test_token_for_another_shop_is_refused(stack: LocalStack, shop: dict[str, Any]) -> None:
    assert stack.temu is not None
    other = stack.temu.state.create_shop(region="US", goods=[])
    connection_id = create(stack)["connection_id"]
    assert authorize(stack, connection_id, shop["mallId"]).status_code == 200
    before = snapshot(stack, connection_id)
    refused = authorize(stack, connection_id, other["mallId"])
    assert refused.status_code == 400 and "different Temu shop" in refused.text
    assert snapshot(stack, connection_id)["temu"] == before["temu"]


def test_unknown_connection_and_job(stack: LocalStack, shop: dict[str, Any]) -> None:
    assert stack.http("GET", "/admin/connections/nope").status_code == 404
    assert stack.http("POST", "/admin/connections/nope/jobs/order_import/run").status_code == 404
    connection_id = create(stack)["connection_id"]
    assert stack.http("POST", f"/admin/connections/{connection_id}/jobs/dance/run").status_code == 404
    assert stack.http("GET", f"/admin/connections/{connection_id}/runs?job=dance").status_code == 400
    assert stack.http("POST", "/admin/connections/nope/authorize-link").status_code == 404


def test_settings_put_rejects_and_changes_nothing(stack: LocalStack, shop: dict[str, Any]) -> None:
    connection_id = create(stack)["connection_id"]
    before = snapshot(stack, connection_id)["settings"]
    for bad in ({"warehouses": ["Nowhere"]}, {"order_status_map": {"7": "x"}}, {"inventory_statuses": ["available"]},
                {"dry_run": "maybe"}, ["not", "an", "object"]):
        response = stack.http("PUT", f"/admin/connections/{connection_id}/settings", json=bad)
        assert response.status_code == 400, (bad, response.text)
        error = response.json()["error"]
        assert error["message"] and (not isinstance(bad, dict) or set(error["fields"]) == set(bad))
    assert snapshot(stack, connection_id)["settings"] == before


WRONG_SETTINGS: dict[str, list[Any]] = {
    "order_import_enabled": ["yes", 1, None], "inventory_sync_enabled": ["true", 0], "shipstation_sync": ["no"],
    "dry_run": ["maybe", []], "order_status_map": [["2"], {"2": 5}, {"9": "Pending"}, {"2": "Nope"}],
    "inventory_statuses": ["Available", [1], [], ["Nope"]], "warehouses": ["Main Warehouse", [None], ["Nowhere"]],
    "outstanding_order_statuses": ["Pending", ["Nope"]], "order_acknowledgment": ["later", 1],
    "sales_channel": [5, "", "temu"], "quantity_buffer": ["1", -1, 1.5, 2_000_000], "quantity_cap": ["x", -5, True],
    "initial_lookback_days": [0, 91, "7"], "temu_warehouse_id": [5, ["WH"]],
    "carrier_map": [{"USPS": "x"}, {"USPS": 0}, []], "colour": ["red"],
}


def test_every_wrong_type_and_unknown_title_is_refused(stack: LocalStack, shop: dict[str, Any]) -> None:
    connection_id = create(stack)["connection_id"]
    before = snapshot(stack, connection_id)["settings"]
    for field, values in WRONG_SETTINGS.items():
        for value in values:
            response = stack.http("PUT", f"/admin/connections/{connection_id}/settings", json={field: value})
            assert response.status_code == 400, (field, value, response.text)
            assert any(key.split(".")[0] == field for key in response.json()["error"]["fields"]), (field, value)
    assert snapshot(stack, connection_id)["settings"] == before


def test_openapi_document_is_generated(stack: LocalStack) -> None:
    document = stack.http("GET", "/admin/openapi.json").json()
    assert "/admin/connections" in document["paths"]
    assert "/admin/connections/{connection_id}/settings" in document["paths"]


def connection_secrets(stack: LocalStack, connection_id: str) -> list[str]:
    paginator = stack.client("secretsmanager").get_paginator("list_secrets")
    return [s["Name"] for page in paginator.paginate() for s in page["SecretList"] if connection_id in s["Name"]]


def stored_credentials(stack: LocalStack, connection_id: str) -> dict[str, Any]:
    """The document of the secret version the connection item names (what every reader reads)."""
    bind_local_tables()
    connection = ConnectionRepository().get(connection_id)
    assert connection is not None
    answer = stack.client("secretsmanager").get_secret_value(SecretId=connection.credentials_secret_arn,
                                                             VersionId=connection.credentials_version)
    return dict(json.loads(answer["SecretString"]))


def test_one_secret_per_connection_and_new_wholecell_credentials(stack: LocalStack, shop: dict[str, Any]) -> None:
    """The connection's one secret holds the WholeCell credentials from creation and the Temu token
    from authorization; replacing the WholeCell credentials keeps the token, and a warm job worker
    uses the new credentials at once (it reads the version the connection names)."""
    assert stack.wholecell is not None
    stack.wholecell.state.create_account("rotate-app", "rotate-old", skus=["SKU-1"])
    connection_id = create(stack, wholecell={"app_id": "rotate-app", "app_secret": "rotate-old"})["connection_id"]
    stage = stack.template.parameters["Stage"]
    assert connection_secrets(stack, connection_id) == [f"wholecell-temu/{stage}/connections/{connection_id}"]
    assert stored_credentials(stack, connection_id) == {"wholecell": {"app_id": "rotate-app",
                                                                      "app_secret": "rotate-old"}}
    assert authorize(stack, connection_id, shop["mallId"]).status_code == 200
    token = stored_credentials(stack, connection_id)["temu"]["access_token"]
    assert stack.temu is not None and token == stack.temu.state.current_token(shop["mallId"])
    assert run_import(stack, connection_id)["outcome"] == "succeeded"  # the worker has the version cached

    stack.wholecell.state.account("rotate-app").app_secret = "rotate-new"  # the seller rotates it in WholeCell
    path = f"/admin/connections/{connection_id}/wholecell"
    wrong = stack.http("PUT", path, json={"app_id": "rotate-app", "app_secret": "rotate-wrong"})
    assert wrong.status_code == 400 and "wholecell" in wrong.json()["error"]["fields"], wrong.text
    assert stack.http("PUT", path, json={"app_id": "rotate-app"}).status_code == 400
    assert stored_credentials(stack, connection_id)["wholecell"]["app_secret"] == "rotate-old"
    replaced = stack.http("PUT", path, json={"app_id": "rotate-app", "app_secret": "rotate-new"})
    assert replaced.status_code == 200, replaced.text
    assert "rotate-new" not in replaced.text and replaced.json()["status"] == "active"
    assert stored_credentials(stack, connection_id) == {"wholecell": {"app_id": "rotate-app",
                                                                      "app_secret": "rotate-new"},
                                                        "temu": {"access_token": token}}
    assert run_import(stack, connection_id)["outcome"] == "succeeded"
    assert connection_secrets(stack, connection_id) == [f"wholecell-temu/{stage}/connections/{connection_id}"]
    assert stack.http("PUT", "/admin/connections/nope/wholecell", json=WHOLECELL).status_code == 404


# ---------------------------------------------------------------------- issue #16: shop binding, lifecycle


def seller_center(stack: LocalStack, link: str, mall_id: int) -> str:
    """Our authorize redirect, then Temu's page for `mall_id`: the callback URL Temu redirects to."""
    response = requests.get(link, allow_redirects=False, timeout=30)
    assert response.status_code == 302, response.text
    return str(requests.get(response.headers["Location"] + f"&mall_id={mall_id}", allow_redirects=False,
                            timeout=30).headers["Location"])


def test_authorize_links_come_from_the_admin_api_and_work_once(stack: LocalStack, shop: dict[str, Any]) -> None:
    """Knowing a connection id (it is in the webhook URL) no longer gets anyone a link; a link is
    spent by its first authorization, and a replay (of the link or of its callback) changes nothing."""
    assert stack.temu is not None
    created = create(stack)
    connection_id = created["connection_id"]
    stranger = requests.get(f"{stack.api_url}/temu/authorize", params={"connection_id": connection_id},
                            allow_redirects=False, timeout=30)
    assert stranger.status_code == 400, stranger.text
    assert created["authorize_url"].startswith(f"{stack.api_url}/temu/authorize?state=")
    attacker = stack.temu.state.create_shop(region="US", goods=[])
    temu_page = requests.get(created["authorize_url"], allow_redirects=False, timeout=30).headers["Location"]
    assert requests.get(seller_center(stack, created["authorize_url"], shop["mallId"]), timeout=30).status_code == 200
    bound = snapshot(stack, connection_id)
    assert (bound["status"], bound["temu"]["mall_id"]) == ("active", shop["mallId"])

    replayed_link = requests.get(created["authorize_url"], allow_redirects=False, timeout=30)
    assert replayed_link.status_code == 400 and "used already" in replayed_link.text
    # someone who saw the link authorizes their own shop with its state: refused, nothing changes
    callback = requests.get(f"{temu_page}&mall_id={attacker['mallId']}", allow_redirects=False,
                            timeout=30).headers["Location"]
    replayed = requests.get(callback, timeout=30)
    assert replayed.status_code == 400 and "used already" in replayed.text
    assert snapshot(stack, connection_id)["temu"] == bound["temu"]


def test_a_new_link_replaces_the_previous_one(stack: LocalStack, shop: dict[str, Any]) -> None:
    connection_id = create(stack)["connection_id"]
    first, second = authorize_link(stack, connection_id), authorize_link(stack, connection_id)
    assert requests.get(first, allow_redirects=False, timeout=30).status_code == 400
    assert snapshot(stack, connection_id)["status"] == "awaiting_authorization"
    assert authorize(stack, connection_id, shop["mallId"], link=second).status_code == 200


def test_the_expected_shop_named_at_creation_is_the_only_one_accepted(stack: LocalStack,
                                                                      shop: dict[str, Any]) -> None:
    assert stack.temu is not None
    other = stack.temu.state.create_shop(region="US", goods=[])
    connection_id = create(stack, expected_mall_id=shop["mallId"])["connection_id"]
    refused = authorize(stack, connection_id, other["mallId"])
    assert refused.status_code == 400 and "different Temu shop" in refused.text
    assert snapshot(stack, connection_id)["status"] == "awaiting_authorization"
    assert authorize(stack, connection_id, shop["mallId"]).status_code == 200
    assert snapshot(stack, connection_id)["status"] == "active"
    assert stack.http("POST", "/admin/connections", json={"name": "x", "temu_region": "US", "wholecell": WHOLECELL,
                                                          "expected_mall_id": -1}).status_code == 400


def post_webhook(stack: LocalStack, connection_id: str, secret: str) -> requests.Response:
    body = json.dumps({"event": "sales_order.shipment_created", "event_id": "evt_lifecycle",
                       "occurred_at": "2026-01-02T20:21:04Z", "sales_order_id": 999999,
                       "shipment": {"id": 1, "carrier": "USPS", "tracking_number": "1Z"}}).encode()
    timestamp = str(int(time.time()))
    headers = {"Content-Type": "application/json", "X-WholeCell-Timestamp": timestamp,
               "X-WholeCell-Signature": sign_webhook(secret.encode(), timestamp, body)}
    return requests.post(f"{stack.api_url}/wholecell/{connection_id}/shipments", data=body, headers=headers,
                         timeout=30)


def test_disable_enable_and_delete_a_connection(stack: LocalStack, shop: dict[str, Any]) -> None:
    created = create(stack)
    connection_id, secret = created["connection_id"], created["webhook_secret"]
    assert authorize(stack, connection_id, shop["mallId"], link=created["authorize_url"]).status_code == 200
    assert run_import(stack, connection_id)["outcome"] == "succeeded"
    base = f"/admin/connections/{connection_id}"

    disabled = stack.http("POST", f"{base}/disable")
    assert disabled.status_code == 200 and disabled.json()["status"] == "disabled", disabled.text
    skipped = run_import(stack, connection_id)
    assert skipped["outcome"] == "skipped" and "disabled" in skipped["reason"]
    refused = post_webhook(stack, connection_id, secret)
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "connection_disabled"
    # the seller re-authorizes meanwhile: the token is stored, the connection stays disabled
    assert authorize(stack, connection_id, shop["mallId"]).status_code == 200
    assert snapshot(stack, connection_id)["status"] == "disabled"
    enabled = stack.http("POST", f"{base}/enable")
    assert enabled.status_code == 200 and enabled.json()["status"] == "active"
    assert post_webhook(stack, connection_id, secret).status_code == 202

    bind_local_tables()
    connection = ConnectionRepository().get(connection_id)
    assert connection is not None
    deleted = stack.http("DELETE", base)
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["status"] == "deleted" and deleted.json()["secret_deletion_date"]
    secrets = stack.client("secretsmanager")
    assert secrets.describe_secret(SecretId=connection.credentials_secret_arn)["DeletedDate"]
    assert snapshot(stack, connection_id)["status"] == "deleted"  # a tombstone
    assert post_webhook(stack, connection_id, secret).status_code == 404
    for method, path in (("DELETE", base), ("POST", f"{base}/enable"), ("POST", f"{base}/jobs/listing_import/run"),
                         ("POST", f"{base}/authorize-link"), ("PUT", f"{base}/settings")):
        assert stack.http(method, path, json={}).status_code == 404, (method, path)
    listings = stack.http("GET", f"{base}/listings")
    assert listings.status_code == 404  # the records stay in their tables (read them there), not in the API
    assert list(ListingModel.query(connection_id))  # kept


def app_store_install(stack: LocalStack, mall_id: int) -> requests.Response:
    """The seller authorizes the app from Temu's app store: Seller Center calls our callback without
    our state (the page's URL is taken from a link the admin API issued, minus its state)."""
    page = requests.get(authorize_link(stack, create(stack)["connection_id"]), allow_redirects=False,
                        timeout=30).headers["Location"]
    parts = urlparse(page)
    query = {k: v for k, v in parse_qsl(parts.query) if k != "state"} | {"mall_id": str(mall_id)}
    callback = requests.get(urlunparse(parts._replace(query=urlencode(query))), allow_redirects=False,
                            timeout=30).headers["Location"]
    assert "state=&" in callback or "state=" not in callback
    return requests.get(callback, timeout=30)


def test_an_app_store_install_waits_unbound_until_an_operator_binds_it(stack: LocalStack,
                                                                      shop: dict[str, Any]) -> None:
    assert stack.temu is not None
    installed = stack.temu.state.create_shop(region="US", goods=[
        {"goodsName": "Phone", "skus": [{"skuSn": "SKU-1", "stock": 1, "status": "active"}]}])
    received = app_store_install(stack, installed["mallId"])
    assert received.status_code == 200 and "received" in received.text, received.text
    token = stack.temu.state.current_token(installed["mallId"])
    listed = stack.http("GET", "/admin/authorizations")
    assert listed.status_code == 200 and token is not None and token not in listed.text
    waiting = [a for a in listed.json()["items"] if a["mall_id"] == installed["mallId"]]
    assert len(waiting) == 1
    authorization_id = waiting[0]["authorization_id"]

    other_shop = create(stack, expected_mall_id=shop["mallId"])["connection_id"]
    refused = stack.http("POST", f"/admin/connections/{other_shop}/bind", json={"authorization_id": authorization_id})
    assert refused.status_code == 400 and "different Temu shop" in refused.text
    connection_id = create(stack)["connection_id"]
    bound = stack.http("POST", f"/admin/connections/{connection_id}/bind", json={"authorization_id": authorization_id})
    assert bound.status_code == 200, bound.text
    assert (bound.json()["status"], bound.json()["temu"]["mall_id"]) == ("active", installed["mallId"])
    assert stored_credentials(stack, connection_id)["temu"]["access_token"] == token
    assert run_import(stack, connection_id)["outcome"] == "succeeded"
    again = stack.http("POST", f"/admin/connections/{connection_id}/bind", json={"authorization_id": authorization_id})
    assert again.status_code == 404
    stage = stack.template.parameters["Stage"]
    assert connection_secrets(stack, authorization_id) == []  # the install's own secret is gone
    assert authorization_id not in stack.http("GET", "/admin/authorizations").text
    assert connection_secrets(stack, connection_id) == [f"wholecell-temu/{stage}/connections/{connection_id}"]
    assert stack.http("POST", f"/admin/connections/{connection_id}/bind",
                      json={"authorization_id": "not hex"}).status_code == 400
