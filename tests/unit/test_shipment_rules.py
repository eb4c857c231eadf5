"""Shipment rules (domain/shipments.py) beyond tests/unit/test_order_and_shipment_rules.py: what each
confirmation line and box carries to Temu, boxes sharing a SKU, Temu's cap on extra boxes, the errors
an operator reads, how close a carrier name must be to be suggested, and a confirmation's time budget."""

from __future__ import annotations

from typing import Any

import pytest
from wholecell_temu.domain.shipments import (
    SEND_ONE_PACKAGE,
    SEND_SPLIT,
    Box,
    PermanentShipmentError,
    UnknownCarrier,
    carrier_likeness,
    confirmation_seconds,
    plan_packages,
    resolve_carrier,
    unknown_carrier_hint,
)
from wholecell_temu.temu.models import Carrier, OrderItem, ShipmentPackage


def item(order_sn: str, quantity: int = 1, status: int = 2, goods_id: int = 601099512345678,
         sku_id: int = 17592186044416) -> OrderItem:
    return OrderItem.model_validate({"orderSn": order_sn, "goodsId": goods_id, "skuId": sku_id,
                                     "quantity": quantity, "orderStatus": status, "goodsName": "Phone"})


def line(order_sn: str, quantity: int = 1, goods_id: int = 601099512345678,
         sku_id: int = 17592186044416) -> dict[str, Any]:
    """One `orderSendInfoList` entry as Temu receives it, for parent order PO-1."""
    return {"parentOrderSn": "PO-1", "orderSn": order_sn, "quantity": quantity, "goodsId": goods_id, "skuId": sku_id}


def wire(calls: list[tuple[int, list[ShipmentPackage]]]) -> list[tuple[int, list[dict[str, Any]]]]:
    return [(send_type, [package.to_wire() for package in packages]) for send_type, packages in calls]


def package(tracking: str, lines: list[dict[str, Any]], carrier_id: int = 11, **more: Any) -> dict[str, Any]:
    return {"carrierId": carrier_id, "trackingNumber": tracking, "selfShippingWarehouseId": "WH-1",
            "orderSendInfoList": lines, **more}


def sub_package(tracking: str, carrier_id: int = 11) -> dict[str, Any]:
    return {"carrierId": carrier_id, "trackingNumber": tracking, "selfShippingWarehouseId": "WH-1"}


# --- what the confirmation carries ----------------------------------------------------------------

def test_each_line_carries_its_order_goods_and_sku_ids_and_full_quantity() -> None:
    items = [item("211-1", 2, goods_id=601, sku_id=701), item("211-2", 1, goods_id=602, sku_id=702)]
    calls = plan_packages("PO-1", items, [Box("9400 1118-99#56", 11)], "WH-1", {})
    assert wire(calls) == [(SEND_ONE_PACKAGE, [package("940011189956", [
        line("211-1", 2, 601, 701), line("211-2", 1, 602, 702)])])]


def test_an_item_whose_units_were_all_cancelled_is_not_shipped() -> None:
    items = [item("211-0", 0), item("211-1", 1)]
    calls = plan_packages("PO-1", items, [Box("T1", 11)], "WH-1", {})
    assert wire(calls) == [(SEND_ONE_PACKAGE, [package("T1", [line("211-1")])])]


# --- boxes and SKUs -------------------------------------------------------------------------------

def test_two_boxes_holding_the_same_sku_take_one_line_each() -> None:
    items = [item("211-1"), item("211-2")]
    boxes = [Box("T1", 11, {"A": 1}), Box("T2", 12, {"A": 1})]
    calls = plan_packages("PO-1", items, boxes, "WH-1", {"211-1": "A", "211-2": "A"})
    assert wire(calls) == [(SEND_SPLIT, [package("T1", [line("211-1")]), package("T2", [line("211-2")], 12)])]


def test_a_box_takes_lines_of_its_sku_until_its_units_are_used_up() -> None:
    skus = {"211-1": "A", "211-2": "A", "211-3": "A"}
    items = [item("211-1", 2), item("211-2"), item("211-3")]
    # T1 holds 3 units of A: the 2-unit line and one more; the third line goes to T2
    calls = plan_packages("PO-1", items, [Box("T1", 11, {"A": 3}), Box("T2", 11, {"A": 1})], "WH-1", skus)
    assert wire(calls) == [(SEND_SPLIT, [package("T1", [line("211-1", 2), line("211-2")]),
                                         package("T2", [line("211-3")])])]
    # T1 holds just the 2 units of the first line: the next line goes to T2, the last one to nobody
    calls = plan_packages("PO-1", items, [Box("T1", 11, {"A": 2}), Box("T2", 11, {"A": 1})], "WH-1", skus)
    assert wire(calls) == [(SEND_ONE_PACKAGE, [package("T1", [line("211-1", 2)])]),
                           (SEND_ONE_PACKAGE, [package("T2", [line("211-2")])])]


def test_an_item_no_box_holds_is_left_for_later_and_the_next_items_still_placed() -> None:
    items = [item("211-1"), item("211-2"), item("211-3")]
    skus = {"211-1": "A", "211-2": "B", "211-3": "C"}
    one = plan_packages("PO-1", items[:2], [Box("T1", 11, {"B": 1})], "WH-1", skus)
    assert wire(one) == [(SEND_ONE_PACKAGE, [package("T1", [line("211-2")])])]
    # two boxes that do not ship every item: one send-type-0 call each
    two = plan_packages("PO-1", items, [Box("T2", 11, {"B": 1}), Box("T3", 12, {"C": 1})], "WH-1", skus)
    assert wire(two) == [(SEND_ONE_PACKAGE, [package("T2", [line("211-2")])]),
                         (SEND_ONE_PACKAGE, [package("T3", [line("211-3")], 12)])]


@pytest.mark.parametrize(("empty_boxes", "sent"), [(9, 9), (10, 10), (11, 10), (12, 10)])
def test_boxes_holding_no_item_travel_as_at_most_ten_extra_boxes(empty_boxes: int, sent: int) -> None:
    """Temu takes at most 10 `subSendRequests` per package (error 120011098 beyond)."""
    boxes = [Box("T0", 11), *(Box(f"X-{n}", 12, {"Z": 1}) for n in range(1, empty_boxes + 1))]
    calls = plan_packages("PO-1", [item("211-1")], boxes, "WH-1", {"211-1": "A"})
    assert wire(calls) == [(SEND_ONE_PACKAGE, [package("T0", [line("211-1")], subSendRequests=[
        sub_package(f"X{n}", 12) for n in range(1, sent + 1)])])]


# --- what the operator reads when a shipment cannot be confirmed -----------------------------------

def test_the_errors_say_what_is_missing() -> None:
    for items in ([item("211-1", status=4)], [item("211-1", 0)], []):
        with pytest.raises(PermanentShipmentError) as nothing_to_ship:
            plan_packages("PO-1", items, [Box("T1", 11)], "WH-1", {})
        assert str(nothing_to_ship.value) == "no item of the Temu order is waiting to be shipped"
    with pytest.raises(PermanentShipmentError) as no_tracking:
        plan_packages("PO-1", [item("211-1")], [], "WH-1", {})
    assert str(no_tracking.value) == "no tracking number to confirm"
    boxes = [Box("T1", 11, {"Z": 1, "Y": 2}), Box("T2", 11, {"Y": 1})]
    with pytest.raises(PermanentShipmentError) as unmatched:
        plan_packages("PO-1", [item("211-1")], boxes, "WH-1", {"211-1": "A"})
    assert str(unmatched.value) == ("the WholeCell shipments hold none of the Temu order's items left to ship "
                                    "(their SKUs: ['Y', 'Z'])")
    for name in (None, ""):
        with pytest.raises(UnknownCarrier) as no_carrier:
            resolve_carrier(name, {"": 1}, [])
        assert str(no_carrier.value) == "the WholeCell shipment has no carrier"


# --- carrier names ----------------------------------------------------------------------------------

def carrier(carrier_id: int, name: str | None, brand: str | None) -> Carrier:
    return Carrier.model_validate({"logisticsServiceProviderId": carrier_id, "logisticsServiceProviderName": name,
                                   "logisticsBrandName": brand})


def hint(name: str, carriers: list[Carrier]) -> str:
    with pytest.raises(UnknownCarrier) as raised:
        resolve_carrier(name, {}, carriers)
    assert str(raised.value) == unknown_carrier_hint(name, carriers)
    return str(raised.value)


@pytest.mark.parametrize(("wholecell", "temu", "likeness"), [
    ("FedEx", "Fed Ex", 1.0),  # the same letters, however Temu spaces them
    ("USPSPriority", "USPS", 0.9),  # Temu's name leads ours
    ("Priority Mail USPS", "USPS", 0.9),  # all of Temu's words among ours, not leading
    ("Express DHL", "DHL Express", 0.9),  # the same words in another order
    ("Fed", "FedEx", 0.85),  # ours leads Temu's
    ("Express", "DHL Express", 0.85),  # all our words among Temu's, not leading
    ("DHL eCommerce", "DHL Express", 0.8),  # the same first word
    ("Post Standard", "PostNord", 0.7),  # difflib: 2 x 7 matching letters / 20
    ("USPS", "--", 0.0),
])
def test_carrier_likeness_of_each_kind_of_closeness(wholecell: str, temu: str, likeness: float) -> None:
    assert carrier_likeness(wholecell, temu) == likeness


def test_a_carrier_exactly_at_the_closeness_threshold_is_suggested() -> None:
    carriers = [carrier(31, "PostNord", "PostNord"), carrier(32, "Bring", "Bring")]
    assert hint("Post Standard", carriers) == (
        "carrier 'Post Standard' is not a Temu carrier for this region; closest Temu carriers: PostNord (id 31). "
        'If it is PostNord, map it in the connection\'s settings: "carrier_map": {"Post Standard": 31}')


def test_a_carrier_is_close_by_its_provider_name_or_its_brand_and_is_named_by_its_provider_name() -> None:
    carriers = [carrier(14, "OnTrac Ground", "LaserShip"), carrier(15, None, "DHL")]
    assert hint("OnTrac", carriers) == (
        "carrier 'OnTrac' is not a Temu carrier for this region; closest Temu carriers: OnTrac Ground / LaserShip "
        '(id 14). If it is OnTrac Ground, map it in the connection\'s settings: "carrier_map": {"OnTrac": 14}')
    assert hint("DHL Ground", carriers) == (
        "carrier 'DHL Ground' is not a Temu carrier for this region; closest Temu carriers: DHL (id 15). "
        'If it is DHL, map it in the connection\'s settings: "carrier_map": {"DHL Ground": 15}')


@pytest.mark.parametrize("name", ["Pony", "XXXX", "N/A"])
def test_a_carrier_temu_lists_without_a_name_is_never_suggested_and_listed_first(name: str) -> None:
    carriers = [carrier(41, None, None), carrier(42, "UPS", "UPS"), carrier(43, None, "Yodel")]
    assert hint(name, carriers).endswith(
        "none of its 3 carriers is a close name; find its Temu carrier id and map it in the connection's settings: "
        f'"carrier_map": {{"{name}": <Temu carrier id>}}. Temu\'s carriers here: unnamed (id 41), Yodel (id 43), '
        "UPS (id 42)")


# --- time budget ------------------------------------------------------------------------------------

def test_a_confirmation_budgets_four_temu_calls_and_five_seconds_of_wholecell() -> None:
    assert confirmation_seconds(2.0) == 7.0  # 4 calls at 2 per second + 5 s
    assert confirmation_seconds(0.5) == 13.0
