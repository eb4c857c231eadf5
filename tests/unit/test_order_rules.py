"""Order rules as the import uses them: the WholeCell items a Temu order becomes, the ship-to address,
the money, which stage a Temu view is at, and what a new order waits for."""

from __future__ import annotations

import pytest
from wholecell_temu.domain.listings import ListingConnection, SkuLink, VariationLink
from wholecell_temu.domain.orders import (
    Skip,
    behind,
    choose_sku,
    mapped_status,
    price_cents,
    resolve_line,
    skip_reason,
    to_wholecell_address,
    wholecell_items,
)
from wholecell_temu.temu.models import ShippingAddress
from wholecell_temu.wholecell.adapter import OrderItem as WholeCellItem
from wholecell_temu.wholecell.adapter import ShippingAddress as WholeCellAddress

from tests.unit.test_order_and_shipment_rules import MAPPED, item, money

BY_SKU = ListingConnection(mode="auto", skus=[SkuLink(sku="PHONE-BLK", factor=2)])
BY_VARIATION = ListingConnection(mode="manual", product_variations=[VariationLink(id=9, factor=3)])


def test_a_sku_line_becomes_a_wholecell_item_with_its_sku_quantity_and_price() -> None:
    line = resolve_line(item("L1", 2), BY_SKU, True, None, 32900)
    assert line.unit_price_cents == 32900
    assert wholecell_items([line]) == [WholeCellItem(sku="PHONE-BLK", quantity=4, unit_price_cents=32900,
                                                     description="Phone - Black", product_variation_id=None)]


def test_a_variation_line_orders_the_variation_times_its_factor() -> None:
    line = resolve_line(item("L2", 2), BY_VARIATION, True, {9: "V-SKU"}, 1999)
    assert (line.factor, line.wholecell_quantity) == (3, 6)
    assert line.to_wholecell() == WholeCellItem(sku="V-SKU", quantity=6, unit_price_cents=1999,
                                                description="Phone - Black", product_variation_id=9)


def test_a_variation_the_mirror_does_not_know_still_orders_by_id() -> None:
    line = resolve_line(item("L3"), BY_VARIATION, True, {}, None)
    assert line.to_wholecell() == WholeCellItem(sku=None, quantity=3, unit_price_cents=None,
                                                description="Phone - Black", product_variation_id=9)


def test_a_single_unit_line_is_kept_and_only_an_empty_line_is_dropped() -> None:
    one = resolve_line(item("L1", 1), ListingConnection(mode="auto", skus=[SkuLink(sku="A")]), True)
    empty = resolve_line(item("L2", 0, status=3), ListingConnection(mode="auto", skus=[SkuLink(sku="B")]), True)
    assert [(wc.sku, wc.quantity) for wc in wholecell_items([one, empty])] == [("A", 1)]


def test_supply_counts_whole_listing_units_so_a_remainder_does_not_win() -> None:
    """5 units of a x2 SKU supply 2 listing units, as many as 2 of a x1 SKU: a tie, configured order."""
    links = [SkuLink(sku="SINGLE"), SkuLink(sku="PAIR", factor=2)]
    chosen, reason = choose_sku(links, 1, {"SINGLE": 2, "PAIR": 5})
    assert (chosen.sku, reason) == ("SINGLE", "tie, configured order: SINGLE 2, PAIR 5 (x2)")


def address(**fields: str) -> ShippingAddress:
    return ShippingAddress.model_validate({
        "receiptName": "Jordan Smith", "mobile": "+1 614-555-0142", "addressLine1": "418 Maple Ave",
        "addressLine2": "Apt 2", "addressLine3": "c/o Front Desk", "regionName1": "United States",
        "regionName2": "OH", "regionName3": "Columbus", "postCode": "43215", **fields})


def test_every_ship_to_field_is_mapped() -> None:
    assert to_wholecell_address(address(), 211) == WholeCellAddress(
        name="Jordan Smith", street1="418 Maple Ave", street2="Apt 2", street3="c/o Front Desk", city="Columbus",
        state="OH", zip="43215", country="US", phone="+1 614-555-0142")


def test_empty_street_lines_become_none() -> None:
    mapped = to_wholecell_address(address(addressLine2="", addressLine3=""), 211)
    assert (mapped.street1, mapped.street2, mapped.street3) == ("418 Maple Ave", None, None)


@pytest.mark.parametrize(("region_id", "country"), [
    (211, "US"), (210, "GB"), (None, "United States"), (999, "United States")])
def test_the_country_is_the_region_code_else_temus_country_name(region_id: int | None, country: str) -> None:
    assert to_wholecell_address(address(), region_id).country == country


def test_money_in_three_decimal_currencies_rounds_half_up() -> None:
    assert price_cents(money(1245, "KWD")) == 125  # 1.245 KWD: half up, not to the even 124
    assert price_cents(money(1244, "BHD")) == 124 and price_cents(money(1246, "OMR")) == 125


@pytest.mark.parametrize(("view", "recorded", "is_behind"), [
    (2, 4, True),  # awaiting shipment seen after shipped was recorded
    (1, 3, True),  # pending seen after the cancellation
    (4, 2, False),
    (2, 2, False),  # the same stage is not behind
    (2, None, False),  # nothing recorded yet
    (99, 4, False),  # an unknown view code never is
    (2, 99, False),  # nor an unknown recorded one
])
def test_a_view_is_behind_only_when_both_stages_are_known_and_earlier(view: int, recorded: int | None,
                                                                      is_behind: bool) -> None:
    assert behind(view, recorded) is is_behind


def test_mapped_status_is_the_configured_wholecell_title() -> None:
    assert (mapped_status(1, MAPPED), mapped_status(2, MAPPED), mapped_status(3, MAPPED)) == ("Pending", "Ready", None)


def test_a_pending_order_waiting_for_confirmation_says_when_it_will_be_imported() -> None:
    waiting = MAPPED.model_copy(update={"order_acknowledgment": "wait_for_confirmation"})
    assert skip_reason(1, waiting, first_run=False) == Skip(
        "waiting for confirmation: imported once Temu moves it to awaiting shipment (2)", final=False)
    assert skip_reason(3, MAPPED, first_run=False) == Skip("Temu status 3 is not mapped in order_status_map")
    assert skip_reason(4, MAPPED, first_run=True) == Skip(
        "first import only takes orders still waiting for the seller (status 4)", final=True)
