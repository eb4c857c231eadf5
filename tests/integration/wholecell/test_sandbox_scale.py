"""The WholeCell sandbox's indexed, cached listings answer exactly what a brute-force filter does.

The sandbox keeps indexes (status, ESN, location, channel, update order) and caches each
filtered listing per mutation version so that benchmark-sized accounts page cheaply. These
tests mutate accounts every way the sandbox allows (commit, move, status change, new units,
seeded and backdated stamps, order edits, shipments) and compare every listing, through the
state and through the HTTP API's pages, with the original O(all units) filters below.
"""

from __future__ import annotations

import base64
import math
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient

from local.sandboxes.common import FaultRule
from local.sandboxes.wholecell.app import create_app
from local.sandboxes.wholecell.state import ACCOUNT_TZ, OUTSTANDING_WINDOW, SandboxError, WholeCellState, iso

APP_ID, APP_SECRET = "app-scale", "scale-secret"
AUTH = {"Authorization": "Basic " + base64.b64encode(f"{APP_ID}:{APP_SECRET}".encode()).decode()}
SKUS = [f"SKU-{i:03d}" for i in range(40)]
STATUSES = ["Available", "Inbound", "Moving", "Sold"]
LOCATIONS = ["Shelf 1", "Shelf 2", "Bin 9"]


# --- the reference: the sandbox's original, O(all) filters ------------------------------------------
def brute_units(state: WholeCellState, filters: dict[str, str]) -> list[dict[str, Any]]:
    units = sorted(state.accounts[APP_ID].units.values(), key=lambda u: u.id)
    if "status" in filters:
        units = [u for u in units if u.status == filters["status"]]
    if "esn" in filters:
        units = [u for u in units if u.esn == filters["esn"]]
    if "location" in filters:
        units = [u for u in units if u.location == filters["location"]]
    if "updated_at_gt" in filters:
        since = datetime.fromisoformat(filters["updated_at_gt"])
        since = since if since.tzinfo else since.replace(tzinfo=ACCOUNT_TZ)
        units = [u for u in units if u.updated_at > since]
    return [u.to_json() for u in units]


def brute_orders(state: WholeCellState, filters: dict[str, str]) -> list[dict[str, Any]]:
    orders = sorted(state.accounts[APP_ID].orders.values(), key=lambda o: o.id)
    if "channel" in filters:
        orders = [o for o in orders if o.channel == filters["channel"]]
    if "status" in filters:
        orders = [o for o in orders if o.status == filters["status"]]
    if "updated_at_gt" in filters:
        since = datetime.fromisoformat(filters["updated_at_gt"])
        orders = [o for o in orders if o.updated_at > since]
    return [o.to_json() for o in orders]


def brute_stock(state: WholeCellState, statuses: list[str]) -> list[dict[str, Any]]:
    account = state.accounts[APP_ID]
    on_hand = dict.fromkeys(account.catalog, 0)
    for unit in account.units.values():
        if unit.sku and unit.order_id is None and (not statuses or unit.status in statuses):
            on_hand[unit.sku] += 1
    outstanding = dict.fromkeys(account.catalog, 0)
    cutoff = datetime.now(UTC) - OUTSTANDING_WINDOW
    for order in account.orders.values():
        if not account.order_statuses[order.status]["open"] or order.created_at < cutoff:
            continue
        ordered: dict[str, int] = {}
        for item in order.order_items:
            if item["sku"] in outstanding:
                ordered[item["sku"]] = ordered.get(item["sku"], 0) + item["quantity"]
        for sku, quantity in ordered.items():
            committed = sum(1 for u in account.units.values() if u.order_id == order.id and u.sku == sku)
            outstanding[sku] += max(0, quantity - committed)
    return [{"sku": sku, "on_hand": on_hand[sku], "outstanding": outstanding[sku],
             "available": on_hand[sku] - outstanding[sku]} for sku in sorted(account.catalog)]


# --- fixtures and helpers -------------------------------------------------------------------------
@pytest.fixture
def state() -> WholeCellState:
    sandbox = WholeCellState(seed=1)
    sandbox.create_account(APP_ID, APP_SECRET, skus=SKUS, inventory_statuses=STATUSES)
    return sandbox


@pytest.fixture
def http(state: WholeCellState) -> Iterator[FlaskClient]:
    with create_app(state).test_client() as client:
        yield client


def read_pages(http: FlaskClient, path: str, params: dict[str, Any], per_page: int | None = None) -> \
        tuple[list[dict[str, Any]], int]:
    """Every page of a listing over HTTP, checking the envelope; (rows, pages)."""
    rows: list[dict[str, Any]] = []
    page, pages = 1, 1
    while page <= pages:
        query = {**params, "page": page, **({"per_page": per_page} if per_page else {})}
        response = http.get(path, query_string=query, headers=AUTH)
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        assert body["page"] == page
        pages = body["pages"]
        rows.extend(body["data"])
        page += 1
    return rows, pages


def unit_filter_sets(state: WholeCellState, marks: list[datetime], rng: random.Random) -> list[dict[str, str]]:
    units = list(state.accounts[APP_ID].units.values())
    picked = rng.sample(units, 3)
    sets: list[dict[str, str]] = [{}]
    sets += [{"status": s} for s in [*STATUSES, "Nope"]]
    sets += [{"location": loc} for loc in [*LOCATIONS, "Nowhere"]]
    sets += [{"esn": u.esn} for u in picked] + [{"esn": "000"}]
    sets += [{"updated_at_gt": iso(mark)} for mark in marks]
    sets += [{"updated_at_gt": mark.astimezone(UTC).isoformat()} for mark in marks[-2:]]  # other offset
    sets += [{"updated_at_gt": "2000-01-01T00:00:00"}]  # naive: the account's offset, everything newer
    for mark in marks[-3:]:
        sets += [{"updated_at_gt": iso(mark), "status": s} for s in STATUSES[:2]]
        sets += [{"updated_at_gt": iso(mark), "location": LOCATIONS[0]}]
        sets += [{"updated_at_gt": iso(mark), "esn": picked[0].esn}]
    sets += [{"status": STATUSES[0], "location": LOCATIONS[1]}, {"status": picked[1].status, "esn": picked[1].esn}]
    return sets


def assert_units_match(state: WholeCellState, http: FlaskClient, marks: list[datetime], rng: random.Random) -> None:
    for filters in unit_filter_sets(state, marks, rng):
        expected = brute_units(state, filters)
        assert state.list_units(APP_ID, filters) == expected, filters
        per_page = rng.choice([None, 7, 100, 500])
        rows, pages = read_pages(http, "/api/v1/inventories", filters, per_page)
        assert rows == expected, filters
        assert pages == max(1, math.ceil(len(expected) / (per_page or 100)))


# --- tests ----------------------------------------------------------------------------------------
def test_unit_filters_match_brute_force_through_mutations(state: WholeCellState, http: FlaskClient) -> None:
    rng = random.Random(7)
    marks: list[datetime] = []
    units = state.generate_units(APP_ID, 600, skus=SKUS, statuses=STATUSES, warehouses=["Main Warehouse", "Overflow"],
                                 seed=5)
    ids = [u.id for u in units]
    state.move_units(APP_ID, rng.sample(ids, 200), location=LOCATIONS[0])
    marks.append(state.accounts[APP_ID].units[ids[-1]].updated_at)
    assert_units_match(state, http, marks, rng)

    # seeded stamps (backdated, so kept out of the update order), a duplicate ESN, units without SKU
    old = (datetime.now(UTC) - timedelta(days=3)).isoformat()
    state.add_units(APP_ID, [{"sku": SKUS[0], "updated_at": old, "location": LOCATIONS[2]},
                             {"sku": SKUS[1], "esn": units[0].esn, "updated_at": old, "status": "Inbound"},
                             {"sku": None}, {"sku": ""}])
    order = state.create_order(APP_ID, {"external_reference": "PO-1", "channel": "Temu", "status": "Pending",
                                        "order_items": [{"sku": SKUS[0], "quantity": 3}]})
    for round_ in range(6):
        marks.append(max(u.updated_at for u in state.accounts[APP_ID].units.values()))
        sample = rng.sample(ids, 25)
        state.set_unit_status(APP_ID, sample[:8], rng.choice(STATUSES))
        state.move_units(APP_ID, sample[8:14], warehouse="Overflow", location=rng.choice(LOCATIONS))
        state.move_units(APP_ID, sample[14:16], warehouse="Main Warehouse")  # location unchanged
        state.commit_units(APP_ID, sample[16:20], order["id"])
        state.commit_units(APP_ID, sample[20:22], None)
        new = state.generate_units(APP_ID, 30, skus=SKUS, statuses=STATUSES, seed=100 + round_)
        ids += [u.id for u in new]
        # a status change back to the same status and a failed mutation leave listings exact too
        state.set_unit_status(APP_ID, sample[22:23], state.accounts[APP_ID].units[sample[22]].status)
        with pytest.raises(SandboxError, match="unknown unit ids"):
            state.set_unit_status(APP_ID, [sample[24], 1], "Sold")
        assert_units_match(state, http, marks, rng)


def test_cached_pages_follow_a_change_between_pages(state: WholeCellState, http: FlaskClient) -> None:
    units = state.generate_units(APP_ID, 250, skus=SKUS, statuses=["Available"], seed=2)
    first = http.get("/api/v1/inventories", query_string={"status": "Available"}, headers=AUTH).get_json()
    assert [u["id"] for u in first["data"]] == [u.id for u in units[:100]] and first["pages"] == 3
    state.set_unit_status(APP_ID, [u.id for u in units[:150]], "Sold")  # page 2 of the walk shifts
    second = http.get("/api/v1/inventories", query_string={"status": "Available", "page": 2},
                      headers=AUTH).get_json()
    assert second == {"data": [], "page": 2, "pages": 1}
    assert brute_units(state, {"status": "Available"}) == state.list_units(APP_ID, {"status": "Available"})
    assert len(state.list_units(APP_ID, {"status": "Available"})) == 100


def test_order_filters_match_brute_force(state: WholeCellState, http: FlaskClient) -> None:
    rng = random.Random(3)
    channels, statuses = ["Temu", "Amazon", "eBay"], ["Pending", "Awaiting Fulfillment", "Shipped", "Canceled"]
    orders = [state.create_order(APP_ID, {"external_reference": f"PO-{i}", "channel": rng.choice(channels),
                                          "status": "Pending",
                                          "order_items": [{"sku": rng.choice(SKUS), "quantity": 2}]})
              for i in range(150)]
    marks = [datetime.fromisoformat(orders[-1]["updated_at"])]
    for _ in range(4):
        for order in rng.sample(orders, 20):
            state.update_order(APP_ID, order["id"], {"status": rng.choice(statuses), "channel": rng.choice(channels)})
        for order in rng.sample(orders, 5):
            state.add_shipment(APP_ID, order["id"], carrier="UPS", tracking_number="1Z")
        state.update_order(APP_ID, orders[0]["id"], {"shipping_address": {"name": "A", "zip": "1"}})
        marks.append(max(o.updated_at for o in state.accounts[APP_ID].orders.values()))
        for filters in [{}, *({"channel": c} for c in [*channels, "Wholesale"]), *({"status": s} for s in statuses),
                        *({"updated_at_gt": iso(m)} for m in marks),
                        *({"updated_at_gt": iso(m), "channel": "Temu"} for m in marks),
                        {"channel": "Temu", "status": "Pending"}]:
            expected = brute_orders(state, filters)
            assert state.list_orders(APP_ID, filters) == expected, filters
            assert read_pages(http, "/api/v1/sales_orders", filters, rng.choice([None, 9]))[0] == expected, filters


def test_stock_levels_match_brute_force(state: WholeCellState, http: FlaskClient) -> None:
    rng = random.Random(11)
    units = state.generate_units(APP_ID, 800, skus=SKUS, statuses=STATUSES, seed=4)
    orders = [state.create_order(APP_ID, {"external_reference": f"PO-{i}", "channel": "Temu", "status": "Pending",
                                          "order_items": [{"sku": rng.choice(SKUS), "quantity": rng.randint(1, 4)},
                                                          {"sku": rng.choice(SKUS), "quantity": 1},
                                                          {"sku": "UNKNOWN", "quantity": 1}]})
              for i in range(60)]
    for round_ in range(4):
        for order in rng.sample(orders, 15):
            item_skus = [item["sku"] for item in order["order_items"] if item["sku"]]
            matching = [u.id for u in units if u.sku in item_skus][:3]
            current = state.accounts[APP_ID].orders[order["id"]].status
            if current in ("Pending", "Awaiting Fulfillment") and matching:
                state.commit_units(APP_ID, matching, order["id"])
        for order in rng.sample(orders, 5):
            state.update_order(APP_ID, order["id"], {"status": rng.choice(["Shipped", "Canceled", "Pending"])})
        state.set_unit_status(APP_ID, [u.id for u in rng.sample(units, 40)], rng.choice(STATUSES))
        state.commit_units(APP_ID, [u.id for u in rng.sample(units, 10)], None)
        state.add_skus(APP_ID, [f"NEW-{round_}"])
        for statuses in ([], ["Available"], ["Available", "Inbound"], ["Nope"]):
            expected = brute_stock(state, statuses)
            assert state.stock_levels(APP_ID, statuses) == expected
            rows, _ = read_pages(http, "/api/v1/stock_levels", {"inventory_statuses[]": statuses}, 13)
            assert rows == expected


def test_ignored_filters_invalid_times_and_faults_behave_as_before(state: WholeCellState,
                                                                   http: FlaskClient) -> None:
    units = state.generate_units(APP_ID, 150, skus=SKUS, statuses=["Available"], seed=8)
    state.set_unit_status(APP_ID, [units[0].id], "Inbound")
    assert len(read_pages(http, "/api/v1/inventories", {"status": "Inbound"})[0]) == 1
    state.set_ignored_filters(["status"])
    assert len(read_pages(http, "/api/v1/inventories", {"status": "Inbound"})[0]) == 150  # silently ignored
    state.set_ignored_filters(["page"])
    body = http.get("/api/v1/inventories", query_string={"page": 2}, headers=AUTH).get_json()
    assert body["page"] == 1 and [u["id"] for u in body["data"]] == [u.id for u in units[:100]]
    state.set_ignored_filters(["per_page"])
    body = http.get("/api/v1/inventories", query_string={"per_page": 500}, headers=AUTH).get_json()
    assert len(body["data"]) == 100 and body["pages"] == 2
    state.set_ignored_filters([])
    body = http.get("/api/v1/inventories", query_string={"per_page": 10_000}, headers=AUTH).get_json()
    assert len(body["data"]) == 150 and body["pages"] == 1  # capped at 500
    for _ in range(2):  # the second answer must not come from a cache
        bad = http.get("/api/v1/inventories", query_string={"updated_at_gt": "yesterday"}, headers=AUTH)
        assert bad.status_code == 422
    state.set_faults([FaultRule(endpoint="/api/v1/inventories", error_rate=1.0, count=1)])
    assert http.get("/api/v1/inventories", headers=AUTH).status_code == 500
    assert http.get("/api/v1/inventories", headers=AUTH).status_code == 200


def test_moderate_scale_walk_and_one_percent_delta(state: WholeCellState, http: FlaskClient) -> None:
    """Not timed: 20,000 units over 2,000 SKUs; a full walk sees each unit once, in id order, and a
    delta after 1% of units changed returns exactly those, in ⌈changed / 100⌉ pages."""
    skus = [f"BULK-{i:04d}" for i in range(2000)]
    units = state.generate_units(APP_ID, 20_000, skus=skus, statuses=STATUSES, seed=21)
    rows, pages = read_pages(http, "/api/v1/inventories", {}, 500)
    assert pages == 40 and [r["id"] for r in rows] == sorted(u.id for u in units)

    watermark = max(datetime.fromisoformat(r["updated_at"]) for r in rows)
    rng = random.Random(22)
    changed = rng.sample(units, 200)
    state.set_unit_status(APP_ID, [u.id for u in changed[:100]], "Sold")
    state.move_units(APP_ID, [u.id for u in changed[100:150]], location="Shelf 2")
    order = state.create_order(APP_ID, {"external_reference": "PO-BULK", "channel": "Temu", "status": "Pending",
                                        "order_items": [{"sku": skus[0], "quantity": 50}]})
    state.commit_units(APP_ID, [u.id for u in changed[150:]], order["id"])
    delta, delta_pages = read_pages(http, "/api/v1/inventories", {"updated_at_gt": iso(watermark)})
    assert delta_pages == 2 and sorted(r["id"] for r in delta) == sorted(u.id for u in changed)
    assert delta == brute_units(state, {"updated_at_gt": iso(watermark)})
    levels, level_pages = read_pages(http, "/api/v1/stock_levels", {"inventory_statuses[]": ["Available"]}, 500)
    assert level_pages == math.ceil((len(SKUS) + len(skus)) / 500) and levels == brute_stock(state, ["Available"])


def test_spread_stamps_model_an_account_history(state: WholeCellState, http: FlaskClient) -> None:
    """`spread_seconds` stamps seeded units over the past instead of 1 ms apart up to the future, so
    a delta that starts a few minutes before the last change reads only what changed since."""
    before = datetime.now(UTC)
    response = http.post(f"/_sandbox/accounts/{APP_ID}/units", json={"generate": {
        "count": 5000, "skus": SKUS, "statuses": STATUSES, "seed": 4, "spread_seconds": 86_400}})
    assert response.status_code == 201
    units = [state.accounts[APP_ID].units[uid] for uid in response.get_json()["unit_ids"]]
    stamps = [u.updated_at for u in units]
    assert stamps == sorted(stamps) and stamps[-1] <= datetime.now(UTC) + timedelta(seconds=1)
    assert before - timedelta(days=1, seconds=1) <= stamps[0] < before - timedelta(hours=23)
    plain = WholeCellState()
    plain.create_account("other", "x", skus=SKUS)
    same_seed = plain.generate_units("other", 5, skus=SKUS, statuses=STATUSES, seed=4)
    assert [(u.esn, u.sku, u.status) for u in units[:5]] == [(u.esn, u.sku, u.status) for u in same_seed]

    newest = stamps[-1]
    state.set_unit_status(APP_ID, [units[10].id], "Sold")
    assert state.accounts[APP_ID].units[units[10].id].updated_at > newest
    overlap = iso(newest - timedelta(seconds=120))  # the quantity sync's default overlap
    delta = read_pages(http, "/api/v1/inventories", {"updated_at_gt": overlap})[0]
    assert delta == brute_units(state, {"updated_at_gt": overlap})
    assert 1 < len(delta) < 20 and units[10].id in {r["id"] for r in delta}

    # seeded after later changes: older than the newest stamp, still answered exactly
    late = state.generate_units(APP_ID, 300, skus=SKUS, statuses=STATUSES, seed=5, spread_seconds=3600)
    state.move_units(APP_ID, [late[0].id, units[0].id], location=LOCATIONS[1])
    rng = random.Random(9)
    assert_units_match(state, http, [newest - timedelta(minutes=30), newest, late[-1].updated_at], rng)


def test_backdated_history_leaves_a_delta_with_only_later_changes(state: WholeCellState, http: FlaskClient) -> None:
    """`backdate` moves seeded units and orders (commits included) into the past: a delta read whose
    overlap starts just before seeding ended then sees only what changed afterwards, exactly."""
    units = state.generate_units(APP_ID, 2000, skus=SKUS, statuses=STATUSES, seed=6, spread_seconds=86_400)
    order = state.create_order(APP_ID, {"external_reference": "R-1", "channel": "eBay", "status": "Pending",
                                        "order_items": [{"sku": SKUS[0], "quantity": 2}]})
    state.commit_units(APP_ID, [units[0].id], order["id"])
    state.add_units(APP_ID, [{"sku": SKUS[1], "updated_at": "2020-01-01T00:00:00+00:00"}])  # a straggler
    seeded_end = datetime.now(UTC) + timedelta(seconds=1)  # ticks may run a few ms ahead of the clock
    state.backdate(APP_ID, 3600)
    account = state.accounts[APP_ID]
    assert max(u.updated_at for u in account.units.values()) <= seeded_end - timedelta(seconds=3600)
    assert account.orders[order["id"]].created_at <= seeded_end - timedelta(seconds=3600)
    overlap = iso(seeded_end - timedelta(seconds=120))
    assert read_pages(http, "/api/v1/inventories", {"updated_at_gt": overlap})[0] == []
    assert read_pages(http, "/api/v1/sales_orders", {"updated_at_gt": overlap})[0] == []

    state.set_unit_status(APP_ID, [units[5].id, units[6].id], "Sold")
    state.commit_units(APP_ID, [units[7].id], order["id"])
    delta = read_pages(http, "/api/v1/inventories", {"updated_at_gt": overlap})[0]
    assert sorted(r["id"] for r in delta) == [units[5].id, units[6].id, units[7].id]
    assert_units_match(state, http, [seeded_end - timedelta(hours=2), seeded_end - timedelta(seconds=3601),
                                     seeded_end], random.Random(11))
    assert read_pages(http, "/api/v1/stock_levels", {"inventory_statuses[]": ["Available"]}, 500)[0] == \
        brute_stock(state, ["Available"])
