"""Which SKU a line of a listing connected to several SKUs orders (issue #17), and what an unknown
carrier's error suggests. Pure rules, no I/O."""

from __future__ import annotations

import pytest
from wholecell_temu.admin.orders import order_view
from wholecell_temu.domain.listings import ListingConnection, SkuLink
from wholecell_temu.domain.orders import LineRecord, choose_sku, resolve_line
from wholecell_temu.domain.shipments import UnknownCarrier, carrier_likeness, resolve_carrier, unknown_carrier_hint
from wholecell_temu.store.orders import OrderRecord
from wholecell_temu.temu.models import Carrier, OrderItem

POOLED = ListingConnection(mode="manual", skus=[SkuLink(sku="A"), SkuLink(sku="B"), SkuLink(sku="C")])


def item(quantity: int = 1, order_sn: str = "L1") -> OrderItem:
    return OrderItem.model_validate({"orderSn": order_sn, "goodsId": 1, "skuId": 7, "quantity": quantity,
                                     "orderStatus": 2, "goodsName": "Phone"})


def chosen(quantity: int, available: dict[str, int], connection: ListingConnection = POOLED,
           recorded: LineRecord | None = None) -> LineRecord:
    return resolve_line(item(quantity), connection, True, available=available, recorded=recorded)


# --- the choice -------------------------------------------------------------------------------

def test_the_sku_with_the_most_available_wins() -> None:
    line = chosen(1, {"A": 2, "B": 7, "C": 5})
    assert (line.sku, line.resolution) == ("B", "sku")
    assert line.choice_reason == "most available: B 7, C 5, A 2"
    assert chosen(1, {"A": 2, "B": 7, "C": 9}).sku == "C"


def test_availability_is_net_of_outstanding_and_never_below_zero() -> None:
    # available - outstanding may be negative (more ordered than on hand): it counts as nothing,
    # so a SKU at 0 ties with it and the configured order decides
    line = chosen(1, {"A": -4, "B": 0, "C": -1})
    assert line.sku == "A" and line.choice_reason == "tie, configured order: A -4, B 0, C -1"


def test_a_sku_covering_the_whole_line_beats_one_with_more_units_that_cannot() -> None:
    """Counted per Temu unit, as the quantity sync counts a listing: floor(available / factor).
    A holds more units (10) but 3 Temu units need 12 of them; B's 3 cover the line."""
    connection = ListingConnection(mode="manual", skus=[SkuLink(sku="A", factor=4), SkuLink(sku="B")])
    line = chosen(3, {"A": 10, "B": 3}, connection)
    assert (line.sku, line.factor, line.wholecell_quantity) == ("B", 1, 3)
    assert line.choice_reason == "most available: B 3, A 10 (x4)"
    line = chosen(3, {"A": 12, "B": 3}, connection)  # now A covers it too (12 = 3 x 4): a tie, configured order
    assert (line.sku, line.wholecell_quantity) == ("A", 12) and (line.choice_reason or "").startswith("tie")


def test_when_none_covers_the_line_the_most_available_still_wins_and_says_so() -> None:
    line = chosen(5, {"A": 1, "B": 3, "C": 0})
    assert line.sku == "B" and line.choice_reason == "most available, none covers 5: B 3, A 1, C 0"


def test_a_tie_goes_to_the_configured_order() -> None:
    assert chosen(2, {"A": 1, "B": 4, "C": 4}).sku == "B"
    reordered = ListingConnection(mode="manual", skus=[SkuLink(sku="C"), SkuLink(sku="B"), SkuLink(sku="A")])
    line = chosen(2, {"A": 1, "B": 4, "C": 4}, reordered)
    assert line.sku == "C" and line.choice_reason == "tie, configured order: C 4, B 4, A 1"


def test_without_availability_the_configured_order_decides() -> None:
    line = chosen(1, {})  # the inventory mirror was never built
    assert line.sku == "A" and line.choice_reason == "availability unknown, configured order: A, B, C"
    assert chosen(1, {"Z": 50}).sku == "A"  # figures for other SKUs only
    # some known: a SKU missing from the figures counts as 0
    assert chosen(1, {"C": 1}).sku == "C" and chosen(1, {"A": 0}).sku == "A"


def test_one_connected_sku_is_no_choice() -> None:
    line = chosen(1, {"B": 9}, ListingConnection(mode="auto", skus=[SkuLink(sku="A")]))
    assert line.sku == "A" and line.choice_reason is None


def test_a_follow_up_keeps_the_recorded_sku_whatever_the_stock_does_now() -> None:
    imported = chosen(2, {"A": 1, "B": 7, "C": 0})
    assert imported.sku == "B"
    later = chosen(1, {"A": 30, "B": 0, "C": 0}, recorded=imported)  # a unit cancelled, B sold out since
    assert (later.sku, later.temu_quantity, later.choice_reason) == ("B", 1, imported.choice_reason)
    # a record written before the choice existed (no reason) keeps its SKU too, and says why
    old = imported.model_copy(update={"choice_reason": None})
    assert chosen(1, {"A": 30}, recorded=old).choice_reason == "kept: B is the SKU the order was imported with"


def test_a_recorded_sku_no_longer_connected_or_an_unknown_line_is_chosen_afresh() -> None:
    imported = chosen(1, {"B": 7})
    unconnected = ListingConnection(mode="manual", skus=[SkuLink(sku="A"), SkuLink(sku="C")])
    assert chosen(1, {"A": 1, "C": 4}, unconnected, recorded=imported).sku == "C"
    unknown = resolve_line(item(1), None, True)
    line = chosen(1, {"A": 1, "B": 0, "C": 4}, recorded=unknown)
    assert line.sku == "C" and (line.choice_reason or "").startswith("most available")


def test_choose_sku_takes_the_temu_quantity_and_the_recorded_line() -> None:
    links = POOLED.skus
    assert choose_sku(links, 1, {"A": 0, "B": 0, "C": 1}) == (links[2], "most available: C 1, A 0, B 0")
    recorded = chosen(1, {"A": 5}).model_copy(update={"choice_reason": "most available: A 5, B 0, C 0"})
    assert choose_sku(links, 1, {"C": 9}, recorded) == (links[0], "most available: A 5, B 0, C 0")


def test_an_old_line_record_without_a_choice_reason_still_loads_and_shows() -> None:
    stored = chosen(1, {"B": 7}).model_dump(mode="json")
    assert stored["choice_reason"] == "most available: B 7, A 0, C 0"
    del stored["choice_reason"]  # as written before the field existed
    line = LineRecord.model_validate(stored)
    assert line.sku == "B" and line.choice_reason is None
    view = order_view(OrderRecord(connection_id="c1", parent_order_sn="PO-1", import_state="imported",
                                  lines=[line, chosen(1, {"C": 3})]))
    assert [v.choice_reason for v in view.lines] == [None, "most available: C 3, A 0, B 0"]


# --- unknown carriers -------------------------------------------------------------------------

def carrier(carrier_id: int, name: str, brand: str | None = None) -> Carrier:
    return Carrier.model_validate({"logisticsServiceProviderId": carrier_id, "logisticsServiceProviderName": name,
                                   "logisticsBrandName": brand or name})


US = [carrier(11, "USPS"), carrier(12, "UPS"), carrier(13, "FedEx"), carrier(14, "OnTrac"),
      carrier(15, "DHL eCommerce", "DHL")]


def hint(name: str, carriers: list[Carrier] = US) -> str:
    with pytest.raises(UnknownCarrier) as raised:
        resolve_carrier(name, {}, carriers)
    assert str(raised.value) == unknown_carrier_hint(name, carriers)
    return str(raised.value)


def test_an_unknown_carrier_names_the_closest_temu_carriers_and_the_map_entry() -> None:
    assert hint("USPS Priority") == (
        "carrier 'USPS Priority' is not a Temu carrier for this region; closest Temu carriers: USPS (id 11). "
        'If it is USPS, map it in the connection\'s settings: "carrier_map": {"USPS Priority": 11}')
    assert "closest Temu carriers: FedEx (id 13)." in hint("Fed-Ex")  # punctuation and case ignored
    assert '"carrier_map": {"Fedx": 13}' in hint("Fedx")  # a typo, by difflib's ratio
    ups = hint("UPS Ground")
    assert "closest Temu carriers: UPS (id 12)." in ups and "USPS" not in ups and '{"UPS Ground": 12}' in ups


def test_the_brand_counts_and_at_most_three_are_named_best_first() -> None:
    assert '"carrier_map": {"DHL Parcel": 15}' in hint("DHL Parcel")  # by brand "DHL", not the provider name
    many = [carrier(21, "Royal Mail Tracked 24"), carrier(22, "Parcelforce"), carrier(23, "Royal Mail Tracked 48"),
            carrier(24, "Royal Mail"), carrier(25, "Royal Mail International")]
    text = hint("Royal-Mail 1st Class", many)
    assert "closest Temu carriers: Royal Mail (id 24), Royal Mail Tracked 24 (id 21), Royal Mail Tracked 48 (id 23)." \
        in text and "Parcelforce" not in text and "(id 25)" not in text
    assert text.endswith('"carrier_map": {"Royal-Mail 1st Class": 24}')


def test_with_nothing_close_the_error_says_so_and_lists_a_short_sample() -> None:
    assert hint("Pony Express") == (
        "carrier 'Pony Express' is not a Temu carrier for this region, and none of its 5 carriers is a close name; "
        'find its Temu carrier id and map it in the connection\'s settings: "carrier_map": {"Pony Express": '
        "<Temu carrier id>}. Temu's carriers here: DHL eCommerce / DHL (id 15), FedEx (id 13), OnTrac (id 14), "
        "UPS (id 12), USPS (id 11)")
    more = [carrier(100 + n, f"Carrier {chr(65 + n)}x") for n in range(8)]
    text = hint("Zzz", more)
    assert "(id 104)" in text and "(id 105)" not in text and text.endswith("and 3 more")
    long_names = [carrier(900 + n, f"Regional Parcel Carrier With A Long Name {n}") for n in range(9)]
    kept = hint("Pony Express Overnight", long_names)[:500]  # what the order view keeps of it
    assert '"carrier_map": {"Pony Express Overnight": <Temu carrier id>}' in kept and "(id 900)" in kept
    assert hint("Pony", []) == "carrier 'Pony' is not a Temu carrier for this region: Temu lists no carriers for it"


def test_carrier_likeness_orders_the_kinds_of_closeness() -> None:
    assert carrier_likeness("fed ex", "FedEx") == 1.0
    assert carrier_likeness("USPS Priority", "USPS") > carrier_likeness("USPS Priority", "UPS")
    assert carrier_likeness("USPS Priority", "UPS") < 0.7  # not suggested
    assert carrier_likeness("Pony Express", "DHL Express") < 0.7  # a shared generic word is not closeness
    assert carrier_likeness("", "USPS") == 0.0


def test_the_map_and_exact_names_still_resolve_without_a_hint() -> None:
    assert resolve_carrier("USPS Priority", {"USPS Priority": 11}, US) == 11
    assert resolve_carrier("dhl", {}, US) == 15  # the brand, case-insensitive
    with pytest.raises(UnknownCarrier, match="has no carrier"):
        resolve_carrier(None, {}, US)
