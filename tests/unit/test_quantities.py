"""The quantity formula: statuses, warehouses, committed units, outstanding, pooling, factors, buffer, cap."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st
from wholecell_temu.domain.listings import ListingConnection, SkuLink, VariationLink
from wholecell_temu.domain.quantities import (
    ORDER_TIME_MARGIN,
    CountingRules,
    LinkQuantity,
    ListingQuantity,
    MirrorOrder,
    MirrorOrderItem,
    MirrorUnit,
    StockBook,
    TemuReading,
    TemuSale,
    closed_statuses_counted,
    judge_temu_quantity,
    listing_quantity,
    needs_push,
    reads_closed,
    units_ordered_since,
)
from wholecell_temu.domain.settings import QUANTITY_MAX, ConnectionSettings

RULES = CountingRules(inventory_statuses=frozenset({"Available", "Ready"}), warehouses=frozenset({"Main"}),
                      outstanding_statuses=frozenset({"Open"}))

_next_id = iter(range(1, 10**9))


def unit(sku: str | None, *, variation: int | None = None, status: str = "Available", warehouse: str = "Main",
         order: int | None = None) -> MirrorUnit:
    return MirrorUnit(next(_next_id), sku, variation, status, warehouse, order)


def order(order_id: int, *items: tuple[str | None, int | None, int], status: str = "Open") -> MirrorOrder:
    return MirrorOrder(order_id, status, tuple(MirrorOrderItem(s, v, q) for s, v, q in items))


def skus(*links: tuple[str, int]) -> ListingConnection:
    return ListingConnection(mode="manual", skus=[SkuLink(sku=s, factor=f) for s, f in links])


def quantity(units: list[MirrorUnit], orders: list[MirrorOrder], connection: ListingConnection,
             rules: CountingRules = RULES) -> int:
    return listing_quantity(connection, StockBook.build(units, orders, rules), rules).quantity


def test_only_chosen_statuses_and_warehouses_count() -> None:
    units = [unit("A"), unit("A", status="Ready"), unit("A", status="Sold"), unit("A", warehouse="Returns"),
             unit("B")]
    assert quantity(units, [], skus(("A", 1))) == 2


def test_every_warehouse_counts_when_none_chosen() -> None:
    rules = CountingRules(frozenset({"Available"}), None, frozenset({"Open"}))
    assert quantity([unit("A"), unit("A", warehouse="Returns")], [], skus(("A", 1)), rules) == 2


def test_committed_units_are_not_available() -> None:
    units = [unit("A"), unit("A"), unit("A", order=99)]
    assert quantity(units, [], skus(("A", 1))) == 2


def test_outstanding_counts_open_orders_only_and_committed_units_offset_it() -> None:
    units = [unit("A") for _ in range(5)] + [unit("A", order=1, status="Sold")]
    orders = [order(1, ("A", None, 2)),  # one of two already committed: 1 outstanding
              order(2, ("A", None, 1)),  # 1 outstanding
              order(3, ("A", None, 4), status="Shipped")]  # not an outstanding status
    book = StockBook.build(units, orders, RULES)
    assert book.for_sku("A") == (5, 2, {1: 1, 2: 1})
    assert quantity(units, orders, skus(("A", 1))) == 3


def test_fully_committed_order_has_nothing_outstanding() -> None:
    units = [unit("A"), unit("A", order=7), unit("A", order=7)]
    assert quantity(units, [order(7, ("A", None, 2))], skus(("A", 1))) == 1


def test_negative_calculated_contributes_zero_not_less() -> None:
    units = [unit("A"), unit("B"), unit("B")]
    orders = [order(1, ("A", None, 5))]
    assert quantity(units, orders, skus(("A", 1), ("B", 1))) == 2


def test_several_skus_pool_and_factors_floor_each() -> None:
    units = [unit("A") for _ in range(5)] + [unit("B") for _ in range(3)]
    assert quantity(units, [], skus(("A", 1), ("B", 1))) == 8
    assert quantity(units, [], skus(("A", 2), ("B", 2))) == 2 + 1  # floor(5/2) + floor(3/2)


def test_buffer_cap_and_clamp() -> None:
    units = [unit("A") for _ in range(10)]
    rules = CountingRules(RULES.inventory_statuses, RULES.warehouses, RULES.outstanding_statuses, buffer=3, cap=5)
    assert quantity(units, [], skus(("A", 1)), rules) == 5
    rules = CountingRules(RULES.inventory_statuses, RULES.warehouses, RULES.outstanding_statuses, buffer=30)
    assert quantity(units, [], skus(("A", 1)), rules) == 0


def test_variation_counts_its_own_units_and_items_naming_it() -> None:
    units = [unit("A", variation=1), unit("A", variation=1), unit("A", variation=2), unit("A", variation=2),
             unit("A", variation=2)]
    orders = [order(1, ("A", 2, 1)), order(2, ("A", None, 1))]  # order 2 names only the shared SKU
    connection = ListingConnection(mode="manual", product_variations=[VariationLink(id=2)])
    assert quantity(units, orders, connection) == 3 - 1  # SKU-only item is not this variation's
    assert quantity(units, orders, skus(("A", 1))) == 5 - 2


def test_variation_takes_sku_items_when_its_sku_has_no_other_variation() -> None:
    units = [unit("C", variation=9) for _ in range(4)]
    orders = [order(1, ("C", None, 1)), order(2, ("C", 9, 1))]
    connection = ListingConnection(mode="manual", product_variations=[VariationLink(id=9, factor=1)])
    assert quantity(units, orders, connection) == 2


def test_units_without_sku_still_count_for_their_variation() -> None:
    units = [unit(None, variation=5), unit(None, variation=5)]
    connection = ListingConnection(mode="manual", product_variations=[VariationLink(id=5)])
    assert quantity(units, [], connection) == 2


@given(st.lists(st.tuples(st.sampled_from(["A", "B"]), st.sampled_from(["Available", "Sold"]),
                          st.sampled_from(["Main", "Other"]), st.booleans()), max_size=40),
       st.integers(0, 20), st.integers(1, 4), st.integers(0, 5), st.one_of(st.none(), st.integers(0, 30)))
def test_formula_matches_a_direct_count(raw: list[tuple[str, str, str, bool]], ordered: int, factor: int,
                                        buffer: int, cap: int | None) -> None:
    units = [unit(s, status=st_, warehouse=w, order=1 if committed else None) for s, st_, w, committed in raw]
    rules = CountingRules(frozenset({"Available"}), frozenset({"Main"}), frozenset({"Open"}), buffer, cap)
    orders = [order(1, ("A", None, ordered))]
    available = sum(1 for s, st_, w, c in raw if s == "A" and st_ == "Available" and w == "Main" and not c)
    committed = sum(1 for s, _st, _w, c in raw if s == "A" and c)
    expected = max(0, available - max(0, ordered - committed)) // factor - buffer
    expected = max(0, min(QUANTITY_MAX, min(expected, cap) if cap is not None else expected))
    assert quantity(units, orders, skus(("A", factor)), rules) == expected


def test_push_only_what_changed_failed_or_drifted() -> None:
    assert not needs_push(5, 5, None, temu_differs=False)
    assert needs_push(4, 5, None, temu_differs=False)
    assert needs_push(5, None, None, temu_differs=False)
    assert needs_push(5, 5, "Temu rejected", temu_differs=False)
    assert needs_push(5, 5, None, temu_differs=True)


def test_temu_showing_more_than_pushed_is_another_writer_whatever_was_ordered() -> None:
    assert judge_temu_quantity(7, 5, None) is TemuReading.RAISED
    assert judge_temu_quantity(7, 5, 3) is TemuReading.RAISED  # orders never raise Temu's stock
    assert judge_temu_quantity(5, 5, None) is TemuReading.HOLDS
    assert judge_temu_quantity(7, 5, None).overwritten is True
    assert judge_temu_quantity(5, 5, None).overwritten is False


def test_temu_showing_less_than_orders_explain_is_another_writer() -> None:
    # 5 pushed, nothing ordered on Temu since: 0 on Temu means someone set it
    assert judge_temu_quantity(0, 5, 0) is TemuReading.LOWERED
    assert judge_temu_quantity(0, 5, 0).overwritten is True
    # one unit ordered explains 4, not 3
    assert judge_temu_quantity(4, 5, 1) is TemuReading.SOLD
    assert judge_temu_quantity(3, 5, 1) is TemuReading.LOWERED


def test_temu_showing_less_that_orders_explain_is_a_sale() -> None:
    assert judge_temu_quantity(0, 5, 5) is TemuReading.SOLD  # sold out on Temu
    assert judge_temu_quantity(2, 5, 9) is TemuReading.SOLD  # cancelled orders counted too: never a false flag
    assert judge_temu_quantity(4, 5, 1).overwritten is False


def test_temu_showing_less_without_known_orders_gets_no_verdict() -> None:
    reading = judge_temu_quantity(0, 5, None)
    assert reading is TemuReading.UNJUDGED and reading.overwritten is None  # the flag stays as it was


PUSHED = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_units_ordered_since_a_push_count_that_sku_only_and_allow_for_clock_skew() -> None:
    sales = [TemuSale(7, PUSHED + timedelta(minutes=10), 2),
             TemuSale(7, PUSHED - ORDER_TIME_MARGIN + timedelta(seconds=1), 1),  # Temu's clock a bit behind
             TemuSale(7, PUSHED - ORDER_TIME_MARGIN - timedelta(minutes=1), 4),  # before the push: overwritten by it
             TemuSale(8, PUSHED + timedelta(minutes=10), 3)]  # another SKU
    assert units_ordered_since(sales, 7, PUSHED) == 3
    assert units_ordered_since(sales, 8, PUSHED) == 3
    assert units_ordered_since(sales, 9, PUSHED) == 0


def test_warns_when_shipped_or_cancelled_statuses_count_as_outstanding() -> None:
    settings = ConnectionSettings(order_status_map={"1": "Open", "3": "Canceled", "4": "Open"})
    warnings = closed_statuses_counted(settings, ["Open"])
    assert len(warnings) == 1 and "Temu status 4 (shipped)" in warnings[0]
    assert closed_statuses_counted(settings, ["Pending"]) == []


def test_warns_when_a_status_wholecell_flags_closed_counts_as_outstanding() -> None:
    warnings = closed_statuses_counted(ConnectionSettings(), ["Open", "Shipped"], closed_statuses=["Shipped", "Void"])
    assert len(warnings) == 1 and "'Shipped'" in warnings[0] and "open: false" in warnings[0]
    # the account's flags win over the title: a "Delivered" it keeps open is not warned about
    assert closed_statuses_counted(ConnectionSettings(), ["Delivered"], closed_statuses=["Void"]) == []
    assert closed_statuses_counted(ConnectionSettings(), ["Open"], closed_statuses=["Shipped"]) == []


def test_without_wholecell_flags_a_title_that_reads_closed_is_warned_about() -> None:
    warnings = closed_statuses_counted(ConnectionSettings(), ["Pending", "shipped", "Partially Shipped",
                                                              " Cancelled ", "Awaiting Return"])
    assert [w.split("'")[1] for w in warnings] == [" Cancelled ", "shipped"]
    assert all(reads_closed(t) for t in ["Shipped", "CANCELED", "Cancelled", "Returned", "Delivered",
                                         "Completed", "Closed", "Refunded"])
    assert not any(reads_closed(t) for t in ["Not Shipped", "Ready to Ship", "Open", "Return Requested"])


def test_a_closed_status_mapped_from_temu_is_warned_about_once() -> None:
    settings = ConnectionSettings(order_status_map={"4": "Shipped"})
    warnings = closed_statuses_counted(settings, ["Shipped"], closed_statuses=["Shipped"])
    assert len(warnings) == 1 and "Temu status 4 (shipped)" in warnings[0]
    alone = closed_statuses_counted(settings, ["Shipped"], closed_statuses=["Shipped"], temu_mapped=False)
    assert len(alone) == 1 and "open: false" in alone[0]


def test_counting_rules_fall_back_to_wholecell_open_statuses() -> None:
    assert CountingRules.from_settings(ConnectionSettings(), ["Open", "New"]).outstanding_statuses == {"Open", "New"}
    explicit = ConnectionSettings(outstanding_order_statuses=["Awaiting"])
    assert CountingRules.from_settings(explicit, ["Open"]).outstanding_statuses == {"Awaiting"}


def test_an_uncounted_order_listed_first_does_not_hide_the_open_ones_after_it() -> None:
    units = [unit("A") for _ in range(5)]
    orders = [order(1, ("A", None, 4), status="Shipped"), order(2, ("A", None, 1)), order(3, ("A", None, 2))]
    assert StockBook.build(units, orders, RULES).for_sku("A") == (5, 3, {2: 1, 3: 2})
    assert quantity(units, orders, skus(("A", 1))) == 2


def test_two_lines_of_one_sku_on_an_order_add_up() -> None:
    units = [unit("A") for _ in range(10)] + [unit("A", order=1, status="Sold")]
    orders = [order(1, ("A", None, 2), ("A", None, 3), ("B", None, 1))]
    book = StockBook.build(units, orders, RULES)
    assert book.for_sku("A") == (10, 5 - 1, {1: 4})  # one of the five already committed
    assert book.for_sku("B") == (0, 1, {1: 1})


def test_a_variation_only_on_orders_takes_the_sku_only_lines_of_its_sku() -> None:
    # no unit names variation 9: the order line naming both tells which SKU it belongs to
    orders = [order(1, ("C", 9, 1)), order(2, ("C", None, 2))]
    book = StockBook.build([], orders, RULES)
    assert book.sku_of(9) == "C"
    assert book.for_variation(9) == (0, 3, {1: 1, 2: 2})


def test_a_unit_naming_only_the_sku_is_not_another_variation_of_it() -> None:
    # the SKU's only variation is 9: it still takes the SKU-only order lines
    units = [unit("C", variation=9) for _ in range(4)] + [unit("C")]
    orders = [order(1, ("C", None, 1)), order(2, ("C", 9, 1))]
    book = StockBook.build(units, orders, RULES)
    assert book.for_variation(9) == (4, 2, {1: 1, 2: 1})
    assert book.for_sku("C") == (5, 2, {1: 1, 2: 1})


def test_a_variation_reports_which_orders_make_up_its_outstanding() -> None:
    units = [unit("A", variation=1), unit("A", variation=2), unit("A", variation=2), unit("A", variation=2, order=3)]
    orders = [order(1, ("A", 2, 1)), order(2, ("A", None, 1)), order(3, ("A", 2, 2))]
    book = StockBook.build(units, orders, RULES)
    assert book.for_variation(2) == (2, 2, {1: 1, 3: 1})  # the SKU-only order 2 is not variation 2's


def test_listing_quantity_names_each_link_with_its_numbers() -> None:
    units = [unit("A") for _ in range(5)] + [unit("B", variation=7) for _ in range(3)]
    orders = [order(1, ("A", None, 2)), order(2, ("B", 7, 1))]
    connection = ListingConnection(mode="manual", skus=[SkuLink(sku="A", factor=2)],
                                   product_variations=[VariationLink(id=7)])
    rules = CountingRules(RULES.inventory_statuses, RULES.warehouses, RULES.outstanding_statuses, buffer=1, cap=9)
    result = listing_quantity(connection, StockBook.build(units, orders, rules), rules)
    assert result == ListingQuantity(
        links=(LinkQuantity("sku", "A", 2, 5, 2, {1: 2}),
               LinkQuantity("product_variation", "7", 1, 3, 1, {2: 1})),
        buffer=1, cap=9)
    assert (result.pooled, result.quantity) == (1 + 2, 3 - 1)


def test_counting_rules_take_every_setting() -> None:
    settings = ConnectionSettings(inventory_statuses=["Available", "Ready"], warehouses=["Main", "Overflow"],
                                  outstanding_order_statuses=["Open", "Awaiting"], quantity_buffer=2,
                                  quantity_cap=40)
    assert CountingRules.from_settings(settings, ["Ignored"]) == CountingRules(
        inventory_statuses=frozenset({"Available", "Ready"}), warehouses=frozenset({"Main", "Overflow"}),
        outstanding_statuses=frozenset({"Open", "Awaiting"}), buffer=2, cap=40)
    assert CountingRules.from_settings(ConnectionSettings(), ["Open"]) == CountingRules(
        inventory_statuses=frozenset({"Available"}), warehouses=None, outstanding_statuses=frozenset({"Open"}),
        buffer=0, cap=None)


def test_counting_rules_from_settings_count_what_the_settings_say() -> None:
    settings = ConnectionSettings(inventory_statuses=["Ready"], warehouses=["Main"], quantity_buffer=1,
                                  quantity_cap=2)
    rules = CountingRules.from_settings(settings, ["Open"])
    units = [unit("A", status="Ready") for _ in range(6)] + [unit("A", status="Ready", warehouse="Returns"),
                                                            unit("A", status="Available")]
    assert quantity(units, [order(1, ("A", None, 1))], skus(("A", 1)), rules) == 2  # min(6 - 1 - 1, cap 2)
    assert quantity(units[:3], [order(1, ("A", None, 1))], skus(("A", 1)), rules) == 1  # 3 - 1 - buffer 1


def test_a_sale_exactly_at_the_clock_margin_counts() -> None:
    sales = [TemuSale(7, PUSHED - ORDER_TIME_MARGIN, 2),
             TemuSale(7, PUSHED - ORDER_TIME_MARGIN - timedelta(microseconds=1), 5)]
    assert units_ordered_since(sales, 7, PUSHED) == 2
