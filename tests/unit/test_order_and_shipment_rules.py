"""Pure order and shipment rules: what is imported, how lines resolve, addresses, packages, carriers."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from wholecell_temu.domain.listings import ListingConnection, SkuLink, VariationLink
from wholecell_temu.domain.orders import (
    LineRecord,
    Skip,
    lines_changed,
    price_cents,
    resolve_line,
    skip_reason,
    to_wholecell_address,
    wholecell_items,
)
from wholecell_temu.domain.settings import ConnectionSettings
from wholecell_temu.domain.shipments import (
    SEND_ONE_PACKAGE,
    SEND_SPLIT,
    Box,
    PermanentShipmentError,
    UnknownCarrier,
    normalize_tracking,
    plan_packages,
    resolve_carrier,
    shipment_key,
)
from wholecell_temu.temu.models import Amount, Carrier, OrderItem, ShippingAddress

MAPPED = ConnectionSettings(order_import_enabled=True, order_status_map={"1": "Pending", "2": "Ready", "4": "Shipped"})


def item(order_sn: str, quantity: int = 1, status: int = 2, sku_id: int = 7) -> OrderItem:
    return OrderItem.model_validate({"orderSn": order_sn, "goodsId": 1, "skuId": sku_id, "quantity": quantity,
                                     "orderStatus": status, "goodsName": "Phone", "spec": "Black"})


def test_import_rules_first_run_mapping_and_acknowledgment() -> None:
    assert skip_reason(1, MAPPED, first_run=False) is None
    assert skip_reason(4, MAPPED, first_run=False) is None
    history = skip_reason(4, MAPPED, first_run=True)
    assert history is not None and "first import" in history.reason and history.final
    unmapped = skip_reason(3, MAPPED, first_run=False)
    assert unmapped is not None and "not mapped" in unmapped.reason and not unmapped.final
    waiting = MAPPED.model_copy(update={"order_acknowledgment": "wait_for_confirmation"})
    pending = skip_reason(1, waiting, first_run=False)
    assert pending is not None and "waiting for confirmation" in pending.reason and not pending.final
    assert skip_reason(2, waiting, first_run=True) is None
    assert skip_reason(2, ConnectionSettings(), first_run=False) == Skip("order import is off", final=False)


@pytest.mark.parametrize(("status", "settings"), [
    (1, MAPPED.model_copy(update={"order_acknowledgment": "wait_for_confirmation"})),  # not confirmed yet
    (1, MAPPED.model_copy(update={"order_status_map": {"2": "Ready"}})),  # status 1 not mapped
    (1, MAPPED.model_copy(update={"order_import_enabled": False})),  # the switch is off
    (2, MAPPED.model_copy(update={"order_import_enabled": False})),
])
def test_a_first_run_never_excludes_an_order_for_a_reason_that_can_change(status: int,
                                                                          settings: ConnectionSettings) -> None:
    skip = skip_reason(status, settings, first_run=True)
    assert skip is not None and not skip.final


def test_history_is_excluded_on_a_first_run_whatever_else_is_wrong() -> None:
    """Outside the first-run window, even with the switch off and the status unmapped: final."""
    skip = skip_reason(3, ConnectionSettings(), first_run=True)
    assert skip is not None and skip.final and "first import" in skip.reason


def test_lines_resolve_through_the_listing_connection() -> None:
    by_sku = resolve_line(item("L1", 2), ListingConnection(mode="auto", skus=[SkuLink(sku="A", factor=3)]), True)
    assert (by_sku.sku, by_sku.wholecell_quantity, by_sku.resolution) == ("A", 6, "sku")
    variation = resolve_line(item("L2"), ListingConnection(mode="manual", product_variations=[VariationLink(id=9)]),
                             True, {9: "V-SKU"})
    assert (variation.sku, variation.variation_id, variation.resolution) == ("V-SKU", 9, "product_variation")
    unknown = resolve_line(item("L3"), None, False)
    assert unknown.resolution == "unknown" and "not among the imported listings" in (unknown.unknown_reason or "")
    assert resolve_line(item("L4"), None, True).unknown_reason == "the listing is not connected to a WholeCell SKU"
    wholecell = unknown.to_wholecell()
    assert wholecell.sku is None and wholecell.description == "Phone - Black"


def test_cancelled_lines_are_dropped_and_changes_detected() -> None:
    before = [resolve_line(item("L1", 2), ListingConnection(mode="auto", skus=[SkuLink(sku="A")]), True)]
    after = [resolve_line(item("L1", 0, status=3), ListingConnection(mode="auto", skus=[SkuLink(sku="A")]), True)]
    assert lines_changed(before, after) and wholecell_items(after) == []
    assert not lines_changed(before, list(before))


def money(amount: object, currency: str) -> Amount:
    return Amount.model_validate({"amount": amount, "currency": currency})


def test_temu_amounts_are_minor_units_and_become_wholecell_cents() -> None:
    """bg.order.amount.query money is an integer in the currency's minor unit (32900 USD = $329.00)."""
    assert price_cents(money(32900, "USD")) == 32900 and price_cents(money(1, "EUR")) == 1
    assert price_cents(money(32900, "JPY")) == 3290000  # ¥32,900: no minor unit, WholeCell counts hundredths
    assert price_cents(money(41990, "KRW")) == 4199000 and price_cents(money(1235, "KWD")) == 124  # 1.235 KWD
    assert price_cents(money(32900, "usd")) == 32900
    assert price_cents(money(32900, "XTS")) is None and price_cents(None) is None  # unknown currency: no price
    for wrong in ("329.00", 329.0, "32900", True):  # a decimal string or a float is not Temu's documented type
        with pytest.raises(ValidationError):
            money(wrong, "USD")


def test_prices_are_cents_and_addresses_map_without_leaking() -> None:
    address = ShippingAddress.model_validate({
        "receiptName": "Jordan Smith", "addressLine1": "418 Maple Ave", "addressLine2": "", "regionName1": "US",
        "regionName2": "OH", "regionName3": "Columbus", "postCode": "43215", "mobile": "+1 614-555-0142"})
    mapped = to_wholecell_address(address, 211)
    assert (mapped.street1, mapped.street2, mapped.city, mapped.state, mapped.zip, mapped.country) == (
        "418 Maple Ave", None, "Columbus", "OH", "43215", "US")
    assert "Jordan" not in repr(mapped) and "Maple" not in repr(address)


def test_tracking_numbers_are_normalized_into_the_shipment_key() -> None:
    assert normalize_tracking(" 9400-1118 %99#56 ") == "940011189956"
    assert shipment_key(518204, "9400 1118") == shipment_key(518204, "9400-1118") == "518204#94001118"


def test_carriers_resolve_by_map_then_by_temu_name() -> None:
    carriers = [Carrier.model_validate({"logisticsServiceProviderId": 11, "logisticsServiceProviderName": "USPS",
                                        "logisticsBrandName": "USPS"}),
                Carrier.model_validate({"logisticsServiceProviderId": 12, "logisticsServiceProviderName": "FedEx",
                                        "logisticsBrandName": "FedEx"})]
    assert resolve_carrier("usps", {}, carriers) == 11
    assert resolve_carrier("Pony", {"pony": 99}, carriers) == 99
    assert resolve_carrier("FedEx", {"FedEx": 55}, carriers) == 55  # the map overrides Temu's list
    with pytest.raises(UnknownCarrier, match=r"'DHL'.*none of its 2 carriers.*FedEx \(id 12\), USPS \(id 11\)"):
        resolve_carrier("DHL", {}, carriers)  # suggestions: tests/unit/test_sku_choice_and_carrier_hints.py


def test_one_box_ships_everything_in_one_package() -> None:
    calls = plan_packages("PO-1", [item("L1", 2), item("L2", 1, sku_id=8), item("L3", 1, status=4)],
                          [Box("9400-11", 11)], "WH-1", {})
    assert len(calls) == 1 and calls[0][0] == SEND_ONE_PACKAGE
    package = calls[0][1][0]
    assert package.tracking_number == "940011" and [(line.order_sn, line.quantity) for line in package.lines] == [
        ("L1", 2), ("L2", 1)]  # the already shipped item is left out, full quantities


def test_boxes_by_sku_split_or_ship_partially() -> None:
    items = [item("L1"), item("L2", sku_id=8)]
    skus = {"L1": "A", "L2": "B"}
    split = plan_packages("PO-1", items, [Box("T1", 11, {"A": 1}), Box("T2", 11, {"B": 1})], "WH-1", skus)
    assert len(split) == 1 and split[0][0] == SEND_SPLIT and len(split[0][1]) == 2
    partial = plan_packages("PO-1", items, [Box("T1", 11, {"A": 1})], "WH-1", skus)
    assert partial[0][0] == SEND_ONE_PACKAGE and [line.order_sn for line in partial[0][1][0].lines] == ["L1"]
    extra = plan_packages("PO-1", items, [Box("T1", 11), Box("T2", 11, {"Z": 1})], "WH-1", skus)
    assert extra[0][1][0].sub_packages and extra[0][1][0].sub_packages[0].tracking_number == "T2"
    alone = plan_packages("PO-1", items, [Box("T1", 11, {"Z": 1})], "WH-1", {})  # its SKUs match no line
    assert alone[0][0] == SEND_ONE_PACKAGE and len(alone[0][1][0].lines) == 2
    with pytest.raises(PermanentShipmentError, match="none of the Temu order's items"):
        plan_packages("PO-1", items, [Box("T1", 11, {"Z": 1}), Box("T2", 11, {"Y": 1})], "WH-1", skus)
    with pytest.raises(PermanentShipmentError, match="waiting to be shipped"):
        plan_packages("PO-1", [item("L1", status=4)], [Box("T1", 11)], "WH-1", skus)


def test_line_record_round_trips_as_stored() -> None:
    line = resolve_line(item("L1"), ListingConnection(mode="auto", skus=[SkuLink(sku="A")]), True, None, 32900)
    assert LineRecord.model_validate(line.model_dump(mode="json")) == line
