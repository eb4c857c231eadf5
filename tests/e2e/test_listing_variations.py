"""Connecting a listing by hand to specific WholeCell product variations, through the admin API."""

from __future__ import annotations

from typing import Any

from local.stack import LocalStack
from tests.e2e.helpers import connect, run_import

APP = {"app_id": "variations-app", "app_secret": "variations-secret"}


def _variation_ids(stack: LocalStack) -> dict[str, int]:
    """WholeCell SKU → the product variation id its units carry (as the inventories API shows them)."""
    assert stack.wholecell is not None
    units = stack.wholecell.state.snapshot(APP["app_id"])["accounts"][APP["app_id"]]["units"]
    return {u["product_variation"]["sku"]: int(u["product_variation"]["id"]) for u in units}


def test_connect_to_product_variations_replace_refuse_and_disconnect(stack: LocalStack) -> None:
    assert stack.temu is not None and stack.wholecell is not None
    stack.wholecell.state.create_account(APP["app_id"], APP["app_secret"], skus=["V-1", "V-2", "V-3"])
    stack.wholecell.state.add_units(APP["app_id"], [{"sku": "V-1"}, {"sku": "V-1"}, {"sku": "V-2"}])
    variations = _variation_ids(stack)
    assert set(variations) == {"V-1", "V-2"} and variations["V-1"] != variations["V-2"]
    v1, v2 = variations["V-1"], variations["V-2"]
    shop = stack.temu.state.create_shop(region="US", goods=[{"goodsName": "Graded pair", "skus": [
        {"skuSn": "T-GRADE-A", "stock": 0, "status": "active"}, {"skuSn": "V-1", "stock": 0, "status": "active"}]}])
    connection_id = connect(stack, shop["mallId"], APP)
    assert run_import(stack, connection_id)["outcome"] == "succeeded"
    base = f"/admin/connections/{connection_id}/listings"
    items = {i["seller_sku"]: i for i in stack.http("GET", base).json()["items"]}
    listing, auto = items["T-GRADE-A"], items["V-1"]
    assert listing["connection"] is None and auto["connection"]["mode"] == "auto"
    path = f"{base}/{listing['temu_sku_id']}/connection"

    def shown() -> Any:
        response = stack.http("GET", f"{base}/{listing['temu_sku_id']}")
        assert response.status_code == 200, response.text
        return response.json()["connection"]

    # one variation, two WholeCell units per Temu unit
    one = stack.http("PUT", path, json={"product_variations": [{"id": v1, "factor": 2}]})
    assert one.status_code == 200, one.text
    expected_one = {"mode": "manual", "skus": [], "product_variations": [{"id": v1, "factor": 2}]}
    assert one.json()["connection"] == expected_one
    assert shown() == expected_one

    # several variations replace it; the factor defaults to 1
    several = stack.http("PUT", path, json={"product_variations": [{"id": v1}, {"id": v2, "factor": 3}]})
    assert several.status_code == 200, several.text
    expected_several = {"mode": "manual", "skus": [],
                        "product_variations": [{"id": v1, "factor": 1}, {"id": v2, "factor": 3}]}
    assert shown() == expected_several

    # an unknown variation is refused by name and nothing changes (the known one is not applied alone)
    unknown = 987_654_321
    assert unknown not in variations.values()
    refused = stack.http("PUT", path, json={"product_variations": [{"id": v1}, {"id": unknown}]})
    assert refused.status_code == 400, refused.text
    message = refused.json()["error"]["fields"]["product_variations"]
    assert str(unknown) in message and str(v1) not in message
    assert shown() == expected_several
    for bad in ({"product_variations": [{"id": v1, "factor": 0}]}, {"product_variations": [{"id": 0}]},
                {"skus": [{"sku": "V-1"}], "product_variations": [{"id": v1}]}):
        assert stack.http("PUT", path, json=bad).status_code == 400, bad
    assert shown() == expected_several

    # a re-import keeps the variation connection and leaves the automatic one of the other SKU alone
    assert run_import(stack, connection_id)["outcome"] == "succeeded"
    assert shown() == expected_several
    assert stack.http("GET", f"{base}/{auto['temu_sku_id']}").json()["connection"] == auto["connection"]

    # DELETE disconnects: the listing is unconnected again
    assert stack.http("DELETE", path).status_code == 204
    assert shown() is None
    unconnected = stack.http("GET", f"{base}?connected=false").json()["items"]
    assert [i["temu_sku_id"] for i in unconnected] == [listing["temu_sku_id"]]
