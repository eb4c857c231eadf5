"""Listing import through the local stack: paging, transitions, the exact-match rule, re-authorization."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest
import requests
from wholecell_temu.domain.listings import ListingConnection, SkuLink
from wholecell_temu.store.listings import ListingRepository

from local.stack import LocalStack
from tests.e2e.helpers import bind_local_tables, connect, run_import

WHOLECELL = {"app_id": "listings-app", "app_secret": "listings-secret"}


@pytest.fixture(scope="module")
def listings() -> ListingRepository:
    bind_local_tables()
    return ListingRepository()


def test_import_pages_transitions_and_exact_match(stack: LocalStack, listings: ListingRepository) -> None:
    assert stack.temu is not None and stack.wholecell is not None
    skus = [f"SKU-{i:04d}" for i in range(240)]
    stack.wholecell.state.create_account(WHOLECELL["app_id"], WHOLECELL["app_secret"], skus=skus)
    goods = [{"goodsName": f"Phone {g}", "skus": [
        {"skuSn": skus[g * 2], "stock": 1, "status": "active"},
        {"skuSn": skus[g * 2 + 1].lower() if g % 10 == 0 else skus[g * 2 + 1], "stock": 0, "status": "active"},
    ]} for g in range(120)]
    goods.append({"goodsName": "No code", "skus": [{"skuSn": "", "stock": 2, "status": "active"},
                                                   {"skuSn": "ONLY-ON-TEMU", "stock": 2, "status": "inactive"}]})
    shop = stack.temu.state.create_shop(region="US", goods=goods)
    connection_id = connect(stack, shop["mallId"], WHOLECELL)

    run = run_import(stack, connection_id)
    assert run["outcome"] == "succeeded", run
    counts = run["counts"]
    assert counts["imported"] == counts["new"] == 242  # three pages of SKUs, every one once
    assert counts["auto_connected"] == 240 - 12  # 12 lower-cased codes do not match
    assert counts["unconnected"] == 12 + 2
    stored = {item.temu_sku_id: item for item in listings.iter_all(connection_id)}
    assert len(stored) == 242
    by_code = {item.seller_sku: item for item in stored.values()}
    assert by_code["ONLY-ON-TEMU"].status == "ended" and by_code[None].status == "active"

    # a manual connection survives re-import; a sold-out SKU stays active; a deleted one ends
    manual_sku = by_code["SKU-0000"]
    listings.update_import_fields(manual_sku.model_copy(update={"connection": ListingConnection(
        mode="manual", skus=[SkuLink(sku="SKU-0239", factor=2)])}))
    sold_out, deleted = by_code["SKU-0002"], by_code["SKU-0004"]
    stack.temu.state.set_sku(shop["mallId"], sold_out.temu_sku_id, stock=0)
    stack.temu.state.set_sku(shop["mallId"], deleted.temu_sku_id, status="deleted")
    run = run_import(stack, connection_id)
    assert run["outcome"] == "succeeded" and run["counts"]["new"] == 0 and run["counts"]["ended"] == 1
    after = {item.temu_sku_id: item for item in listings.iter_all(connection_id)}
    assert after[manual_sku.temu_sku_id].connection == ListingConnection(
        mode="manual", skus=[SkuLink(sku="SKU-0239", factor=2)])
    assert after[sold_out.temu_sku_id].status == "active" and after[sold_out.temu_sku_id].temu_quantity == 0
    assert after[deleted.temu_sku_id].status == "ended"

    # the deleted SKU comes back
    stack.temu.state.set_sku(shop["mallId"], deleted.temu_sku_id, status="active", stock=3)
    assert run_import(stack, connection_id)["outcome"] == "succeeded"
    assert listings.get(connection_id, deleted.temu_sku_id).status == "active"  # type: ignore[union-attr]


def test_lost_authorization_parks_the_connection_until_reauthorized(stack: LocalStack) -> None:
    assert stack.temu is not None and stack.wholecell is not None
    stack.wholecell.state.create_account("reauth-app", "reauth-secret", skus=["A"])
    shop = stack.temu.state.create_shop(region="US", goods=[{"goodsName": "A", "skus": [
        {"skuSn": "A", "stock": 1, "status": "active"}]}])
    response = stack.http("POST", "/admin/connections", json={
        "name": "Reauth", "temu_region": "US", "wholecell": {"app_id": "reauth-app", "app_secret": "reauth-secret"}})
    connection_id = response.json()["connection_id"]
    authorize_url = response.json()["authorize_url"]
    assert urlparse(authorize_url).path == "/temu/authorize"

    links = [authorize_url]  # the creation answer's link is single use: the next comes from the admin API

    def authorize() -> None:
        link = links.pop() if links else stack.http(
            "POST", f"/admin/connections/{connection_id}/authorize-link").json()["authorize_url"]
        redirect = requests.get(link, allow_redirects=False, timeout=30).headers["Location"]
        callback = requests.get(f"{redirect}&mall_id={shop['mallId']}", allow_redirects=False,
                                timeout=30).headers["Location"]
        assert requests.get(callback, timeout=30).status_code == 200

    authorize()
    stack.temu.state.expire_token(stack.temu.state.current_token(shop["mallId"]))  # type: ignore[arg-type]
    failed = run_import(stack, connection_id)
    assert failed["outcome"] == "failed" and "re-authorize" in failed["reason"]
    view = stack.http("GET", f"/admin/connections/{connection_id}").json()
    assert view["status"] == "needs_reauthorization"
    assert view["health"]["listing_import"]["last_outcome"] == "failed"
    skipped = run_import(stack, connection_id)
    assert skipped["outcome"] == "skipped" and "authorized again" in skipped["reason"]
    assert stack.dlq_messages("ListingImportDLQ") == []  # no DLQ flood

    authorize()
    assert stack.http("GET", f"/admin/connections/{connection_id}").json()["status"] == "active"
    assert run_import(stack, connection_id)["outcome"] == "succeeded"


def test_search_and_connect_by_hand(stack: LocalStack) -> None:
    assert stack.temu is not None and stack.wholecell is not None
    stack.wholecell.state.create_account("hand-app", "hand-secret", skus=["W-1", "W-2"])
    stack.wholecell.state.generate_units("hand-app", 4, skus=["W-1", "W-2"], seed=3)
    shop = stack.temu.state.create_shop(region="US", goods=[{"goodsName": "Bundle of two", "skus": [
        {"skuSn": "T-PAIR", "stock": 0, "status": "active"}, {"skuSn": "W-1", "stock": 0, "status": "active"}]}])
    connection_id = connect(stack, shop["mallId"], {"app_id": "hand-app", "app_secret": "hand-secret"})
    assert run_import(stack, connection_id)["outcome"] == "succeeded"
    base = f"/admin/connections/{connection_id}/listings"

    unconnected = stack.http("GET", f"{base}?connected=false").json()
    assert [i["seller_sku"] for i in unconnected["items"]] == ["T-PAIR"] and unconnected["next_cursor"] is None
    first_page = stack.http("GET", f"{base}?connected=false&cursor=")  # an empty cursor is the first page
    assert first_page.status_code == 200 and first_page.json() == unconnected
    pair = unconnected["items"][0]
    for q in (str(pair["temu_sku_id"]), str(pair["temu_goods_id"]), "t-pair", "bundle"):
        found = stack.http("GET", f"{base}?q={q}").json()["items"]
        assert pair["temu_sku_id"] in {i["temu_sku_id"] for i in found}, q
    assert stack.http("GET", f"{base}/{pair['temu_sku_id']}").json()["connection"] is None
    assert stack.http("GET", f"{base}/1").status_code == 404

    # unknown SKUs are refused and nothing changes; a bundle of two units per Temu unit is accepted
    path = f"{base}/{pair['temu_sku_id']}/connection"
    refused = stack.http("PUT", path, json={"skus": [{"sku": "W-1"}, {"sku": "NOPE"}]})
    assert refused.status_code == 400 and "NOPE" in refused.json()["error"]["fields"]["skus"]
    for bad in ({}, {"skus": [], "product_variations": []}, {"skus": [{"sku": "W-1", "factor": 0}]}):
        assert stack.http("PUT", path, json=bad).status_code == 400, bad
    assert stack.http("GET", f"{base}/{pair['temu_sku_id']}").json()["connection"] is None
    connected = stack.http("PUT", path, json={"skus": [{"sku": "W-1", "factor": 2}, {"sku": "W-2"}]})
    assert connected.status_code == 200, connected.text
    assert connected.json()["connection"] == {"mode": "manual", "skus": [
        {"sku": "W-1", "factor": 2}, {"sku": "W-2", "factor": 1}], "product_variations": []}

    # the manual connection survives a re-import; DELETE disconnects
    assert run_import(stack, connection_id)["outcome"] == "succeeded"
    assert stack.http("GET", f"{base}/{pair['temu_sku_id']}").json()["connection"]["mode"] == "manual"
    assert stack.http("DELETE", path).status_code == 204
    assert stack.http("GET", f"{base}/{pair['temu_sku_id']}").json()["connection"] is None


def test_bulk_csv_applies_good_rows_and_reports_bad_ones(stack: LocalStack) -> None:
    assert stack.temu is not None and stack.wholecell is not None
    stack.wholecell.state.create_account("bulk-app", "bulk-secret", skus=["B-1", "B-2"])
    shop = stack.temu.state.create_shop(region="US", goods=[{"goodsName": "Bulk", "skus": [
        {"skuSn": "X-1", "stock": 0, "status": "active"}, {"skuSn": "X-2", "stock": 0, "status": "active"},
        {"skuSn": "X-3", "stock": 0, "status": "active"}]}])
    connection_id = connect(stack, shop["mallId"], {"app_id": "bulk-app", "app_secret": "bulk-secret"})
    assert run_import(stack, connection_id)["outcome"] == "succeeded"
    base = f"/admin/connections/{connection_id}/listings"
    by_code = {i["seller_sku"]: i for i in stack.http("GET", base).json()["items"]}
    goods_id = by_code["X-2"]["temu_goods_id"]
    csv_body = (
        "temu_sku_id,temu_goods_id,seller_sku,wholecell_sku,factor\n"
        f"{by_code['X-1']['temu_sku_id']},,,B-1,2\n"
        f"{by_code['X-1']['temu_sku_id']},,,B-2,\n"
        f",{goods_id},X-2,B-2,1\n"
        f"{by_code['X-3']['temu_sku_id']},,,NOT-IN-WHOLECELL,1\n"
        "999,,,B-1,1\n"
    )
    response = requests.post(f"{stack.api_url}{base}/connections", data=csv_body,
                             headers={"Content-Type": "text/csv"}, timeout=30)
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["applied"], result["rejected"]) == (3, 2)
    assert [r["status"] for r in result["rows"]] == ["applied", "applied", "applied", "rejected", "rejected"]
    assert "NOT-IN-WHOLECELL" in result["rows"][3]["reason"] and "999" in result["rows"][4]["reason"]
    after = {i["seller_sku"]: i for i in stack.http("GET", base).json()["items"]}
    assert after["X-1"]["connection"]["skus"] == [{"sku": "B-1", "factor": 2}, {"sku": "B-2", "factor": 1}]
    assert after["X-2"]["connection"]["skus"] == [{"sku": "B-2", "factor": 1}]
    assert after["X-3"]["connection"] is None
    bad = requests.post(f"{stack.api_url}{base}/connections", data="a,b\n1,2\n", timeout=30)
    assert bad.status_code == 400


def test_connecting_by_hand_uses_the_catalog_the_import_read(stack: LocalStack) -> None:
    """A large WholeCell catalog is never read inside an API request: the import caches it."""
    assert stack.temu is not None and stack.wholecell is not None
    wholecell = stack.wholecell.state
    wholecell.create_account("catalog-app", "catalog-secret", skus=["K-1"])
    shop = stack.temu.state.create_shop(region="US", goods=[{"goodsName": "K", "skus": [
        {"skuSn": "T-1", "stock": 0, "status": "active"}]}])
    connection_id = connect(stack, shop["mallId"], {"app_id": "catalog-app", "app_secret": "catalog-secret"})
    assert run_import(stack, connection_id)["outcome"] == "succeeded"
    listing = stack.http("GET", f"/admin/connections/{connection_id}/listings").json()["items"][0]
    path = f"/admin/connections/{connection_id}/listings/{listing['temu_sku_id']}/connection"

    def stock_level_reads() -> int:
        counts = wholecell.account("catalog-app").request_counts
        return sum(n for key, n in counts.items() if "stock_levels" in key)

    reads = stock_level_reads()
    assert stack.http("PUT", path, json={"skus": [{"sku": "K-1"}]}).status_code == 200
    wholecell.add_skus("catalog-app", ["K-2"])  # created after the import
    refused = stack.http("PUT", path, json={"skus": [{"sku": "K-2"}]})
    assert refused.status_code == 400 and "run the listing import" in refused.json()["error"]["fields"]["skus"]
    assert stock_level_reads() == reads
    assert run_import(stack, connection_id)["outcome"] == "succeeded"
    assert stack.http("PUT", path, json={"skus": [{"sku": "K-2"}]}).status_code == 200
