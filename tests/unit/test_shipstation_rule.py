"""Issue #17: the ShipStation set-up rule (domain.shipstation), one case at a time."""

from __future__ import annotations

from typing import Any

import pytest
from wholecell_temu.domain.settings import ConnectionSettings
from wholecell_temu.domain.shipstation import ShipStationProblem, shipstation_problems
from wholecell_temu.wholecell import SalesOrderStatus

STATUSES = [
    SalesOrderStatus(title="Pending", open=True, sync_to_shipstation=False),
    SalesOrderStatus(title="Awaiting Fulfillment", open=True, sync_to_shipstation=True),
    SalesOrderStatus(title="Ready to Ship", open=True, sync_to_shipstation=True),
    SalesOrderStatus(title="Partially Shipped", open=True, sync_to_shipstation=False),
    SalesOrderStatus(title="Shipped", open=False, sync_to_shipstation=False),
    SalesOrderStatus(title="Canceled", open=False, sync_to_shipstation=False),
]
CHANNELS = ["Temu", "Amazon", "eBay"]
GOOD_MAP = {"1": "Pending", "2": "Awaiting Fulfillment", "3": "Canceled", "4": "Shipped", "5": "Shipped"}


def settings(**changes: Any) -> ConnectionSettings:
    return ConnectionSettings.model_validate({"shipstation_sync": True, "order_status_map": GOOD_MAP, **changes})


def problems(s: ConnectionSettings, statuses: list[SalesOrderStatus] | None = STATUSES,
             channels: list[str] | None = CHANNELS) -> list[ShipStationProblem]:
    return shipstation_problems(s, statuses, channels)


def only(found: list[ShipStationProblem]) -> ShipStationProblem:
    assert len(found) == 1, found
    return found[0]


def test_a_working_set_up_has_no_problem() -> None:
    assert problems(settings()) == []
    assert problems(settings(order_status_map={**GOOD_MAP, "41": "Ready to Ship"})) == []
    assert problems(settings(sales_channel="eBay")) == []


def test_nothing_is_checked_with_shipstation_sync_off() -> None:
    off = settings(shipstation_sync=False, sales_channel="temu", order_status_map={"3": "Awaiting Fulfillment"})
    assert problems(off) == []


def test_a_missing_channel_names_the_closest_existing() -> None:
    problem = only(problems(settings(sales_channel="Temu Store")))
    assert (problem.field, problem.severity, problem.kind) == ("sales_channel", "error", "channel_missing")
    assert "'Temu Store' does not exist" in problem.message and "closest: 'Temu'" in problem.message


@pytest.mark.parametrize("name", ["temu", "TEMU", " Temu", "Temu  ", "temu\t"])
def test_a_channel_differing_only_by_case_or_spaces_names_the_exact_title(name: str) -> None:
    problem = only(problems(settings(sales_channel=name)))
    assert (problem.field, problem.severity, problem.kind) == ("sales_channel", "error", "channel_case")
    assert "set sales_channel to 'Temu'" in problem.message


def test_a_space_inside_the_title_is_not_ignored_but_repeated_spaces_are() -> None:
    assert only(problems(settings(sales_channel="Te mu"))).kind == "channel_missing"
    assert only(problems(settings(sales_channel="Temu  Shop"), channels=["Temu Shop"])).kind == "channel_case"


def test_awaiting_shipment_in_a_status_that_does_not_sync_is_an_error_naming_the_synced_ones() -> None:
    problem = only(problems(settings(order_status_map={**GOOD_MAP, "2": "Pending"})))
    assert (problem.field, problem.severity, problem.kind) == ("order_status_map", "error", "not_synced")
    assert "Temu status 2 (awaiting shipment) maps to 'Pending'" in problem.message
    assert "'Awaiting Fulfillment', 'Ready to Ship'" in problem.message  # what to map it to instead
    assert "turn on 'Sync to Shipstation' for 'Pending'" in problem.message


def test_no_status_syncs_at_all_says_to_turn_it_on() -> None:
    unsynced = [s.model_copy(update={"sync_to_shipstation": False}) for s in STATUSES]
    problem = only(problems(settings(), statuses=unsynced))
    assert problem.kind == "not_synced"
    assert "turn on 'Sync to Shipstation' for 'Awaiting Fulfillment'" in problem.message


def test_awaiting_shipment_not_mapped_is_an_error_even_without_the_status_list() -> None:
    unmapped = settings(order_status_map={"1": "Pending"})
    problem = only(problems(unmapped))
    assert (problem.field, problem.severity, problem.kind) == ("order_status_map", "error", "awaiting_unmapped")
    assert "'Awaiting Fulfillment', 'Ready to Ship'" in problem.message
    assert only(problems(unmapped, statuses=None)).kind == "awaiting_unmapped"


def test_awaiting_shipment_in_an_unknown_status_is_named() -> None:
    problem = only(problems(settings(order_status_map={**GOOD_MAP, "2": "Awaiting Fulfilment"})))
    assert (problem.severity, problem.kind) == ("error", "unknown_status")
    assert "closest existing: 'Awaiting Fulfillment'" in problem.message


def test_partially_shipped_in_a_status_that_does_not_sync_is_a_warning() -> None:
    problem = only(problems(settings(order_status_map={**GOOD_MAP, "41": "Partially Shipped"})))
    assert (problem.field, problem.severity, problem.kind) == ("order_status_map", "warning", "not_synced")
    assert "Temu status 41 (partially shipped)" in problem.message


def test_pending_in_a_synced_status_is_a_warning_with_import_pending_only() -> None:
    same = settings(order_status_map={**GOOD_MAP, "1": "Awaiting Fulfillment"})
    problem = only(problems(same))
    assert (problem.field, problem.severity, problem.kind) == ("order_status_map", "warning", "pending_synced")
    assert "may ship an order Temu has not moved to awaiting shipment" in problem.message
    assert "'Pending'" in problem.message and "wait_for_confirmation" in problem.message  # the two ways out
    waiting = same.model_copy(update={"order_acknowledgment": "wait_for_confirmation"})
    assert problems(waiting) == []  # pending orders are not imported at all then


@pytest.mark.parametrize(("code", "meaning"), [("3", "cancelled"), ("4", "shipped"), ("5", "delivered"),
                                               ("51", "partially delivered")])
def test_a_closed_temu_status_in_a_synced_status_is_an_error(code: str, meaning: str) -> None:
    problem = only(problems(settings(order_status_map={**GOOD_MAP, code: "Ready to Ship"})))
    assert (problem.field, problem.severity, problem.kind) == ("order_status_map", "error", "closed_synced")
    assert f"Temu status {code} ({meaning}) maps to 'Ready to Ship'" in problem.message
    assert "('Shipped', 'Canceled')" in problem.message  # statuses neither synced nor open, to map it to


def test_every_problem_is_listed_in_order() -> None:
    bad = settings(sales_channel="temu", order_status_map={"1": "Ready to Ship", "2": "Pending", "3": "Ready to Ship",
                                                           "41": "Partially Shipped"})
    found = [(p.kind, p.severity) for p in problems(bad)]
    assert found == [("channel_case", "error"), ("not_synced", "error"), ("not_synced", "warning"),
                     ("pending_synced", "warning"), ("closed_synced", "error")]


def test_lookups_the_account_lacks_leave_their_checks_out() -> None:
    bad = settings(sales_channel="temu", order_status_map={**GOOD_MAP, "2": "Pending"})
    assert problems(bad, statuses=None, channels=None) == []
    assert [p.kind for p in problems(bad, channels=None)] == ["not_synced"]
    assert [p.kind for p in problems(bad, statuses=None)] == ["channel_case"]


SETTINGS_PATH = "WholeCell Settings → Sales Orders → Statuses"
ALL_SYNCED = [s.model_copy(update={"sync_to_shipstation": True}) for s in STATUSES]


def test_a_channel_problem_reads_with_the_names_and_the_way_out() -> None:
    assert only(problems(settings(sales_channel="temu"))) == ShipStationProblem(
        "sales_channel", "error", "channel_case",
        "sales channel 'temu' differs from WholeCell's 'Temu' by case or spaces; "
        "ShipStation export selects channels by exact title",
        "set sales_channel to 'Temu'")
    assert only(problems(settings(sales_channel="Temu Store"))) == ShipStationProblem(
        "sales_channel", "error", "channel_missing",
        "sales channel 'Temu Store' does not exist in WholeCell",
        "create a channel named exactly 'Temu Store' in WholeCell and select it for the ShipStation export, "
        "or set sales_channel to an existing channel (closest: 'Temu')")
    # an account with no channel at all: nothing to call closest
    assert only(problems(settings(), channels=[])).fix == (
        "create a channel named exactly 'Temu' in WholeCell and select it for the ShipStation export, "
        "or set sales_channel to an existing channel")


def test_awaiting_shipment_unmapped_reads_with_the_statuses_that_sync_when_they_are_known() -> None:
    unmapped = settings(order_status_map={"1": "Pending"})
    expected = ShipStationProblem(
        "order_status_map", "error", "awaiting_unmapped",
        "Temu status 2 (awaiting shipment) is not mapped, so orders ready to ship never reach a status "
        "that syncs to ShipStation",
        "map '2' to a status that syncs to ShipStation ('Awaiting Fulfillment', 'Ready to Ship')")
    assert only(problems(unmapped)) == expected
    assert only(problems(unmapped, statuses=None)) == ShipStationProblem(
        "order_status_map", "error", "awaiting_unmapped", expected.problem,
        "map '2' to a status that syncs to ShipStation")
    unsynced = [s.model_copy(update={"sync_to_shipstation": False}) for s in STATUSES]
    assert only(problems(unmapped, statuses=unsynced)).fix == (
        "map '2' to a status that syncs to ShipStation "
        f"(none does yet: turn on 'Sync to Shipstation' for one in {SETTINGS_PATH})")


def test_an_unknown_status_reads_with_the_statuses_that_sync_and_the_closest_one() -> None:
    assert only(problems(settings(order_status_map={**GOOD_MAP, "2": "Awaiting Fulfilment"}))) == ShipStationProblem(
        "order_status_map", "error", "unknown_status",
        "Temu status 2 (awaiting shipment) maps to 'Awaiting Fulfilment', which is not a sales-order status "
        "in WholeCell",
        "map '2' to an existing status that syncs to ShipStation ('Awaiting Fulfillment', 'Ready to Ship'); "
        "closest existing: 'Awaiting Fulfillment'")
    # an account without any sales-order status: nothing syncs, nothing is closest
    assert only(problems(settings(), statuses=[])) == ShipStationProblem(
        "order_status_map", "error", "unknown_status",
        "Temu status 2 (awaiting shipment) maps to 'Awaiting Fulfillment', which is not a sales-order status "
        "in WholeCell",
        "map '2' to an existing status that syncs to ShipStation "
        f"(none does yet: turn on 'Sync to Shipstation' for one in {SETTINGS_PATH})")


def test_a_status_that_does_not_sync_reads_with_both_ways_out_or_only_turning_it_on() -> None:
    assert only(problems(settings(order_status_map={**GOOD_MAP, "2": "Pending"}))) == ShipStationProblem(
        "order_status_map", "error", "not_synced",
        "Temu status 2 (awaiting shipment) maps to 'Pending', which does not sync to ShipStation, "
        "so those orders are not exported",
        "map '2' to a status that syncs ('Awaiting Fulfillment', 'Ready to Ship') or "
        f"turn on 'Sync to Shipstation' for 'Pending' ({SETTINGS_PATH})")
    unsynced = [s.model_copy(update={"sync_to_shipstation": False}) for s in STATUSES]
    assert only(problems(settings(), statuses=unsynced)).fix == (
        f"turn on 'Sync to Shipstation' for 'Awaiting Fulfillment' ({SETTINGS_PATH})")


def test_partially_shipped_is_checked_even_when_awaiting_shipment_is_unmapped() -> None:
    found = problems(settings(order_status_map={"1": "Pending", "41": "Partially Shipped"}))
    assert [(p.kind, p.severity) for p in found] == [("awaiting_unmapped", "error"), ("not_synced", "warning")]
    assert found[1].problem.startswith("Temu status 41 (partially shipped) maps to 'Partially Shipped'")


def test_pending_in_a_synced_status_reads_with_the_statuses_that_do_not_sync() -> None:
    same = settings(order_status_map={**GOOD_MAP, "1": "Awaiting Fulfillment"})
    assert only(problems(same)) == ShipStationProblem(
        "order_status_map", "warning", "pending_synced",
        "Temu status 1 (pending) maps to 'Awaiting Fulfillment', which syncs to ShipStation: with "
        "order_acknowledgment 'import_pending', ShipStation may ship an order Temu has not moved to awaiting "
        "shipment yet (it has no address yet and can still be cancelled)",
        "map '1' to a status that does not sync to ShipStation ('Pending', 'Partially Shipped', 'Shipped', "
        "'Canceled'), or set order_acknowledgment to 'wait_for_confirmation'")
    # every status syncs: no status to move it to, only the other way out
    pending = [p for p in problems(same, statuses=ALL_SYNCED) if p.kind == "pending_synced"]
    assert only(pending).fix == ("map '1' to a status that does not sync to ShipStation (none), "
                                 "or set order_acknowledgment to 'wait_for_confirmation'")


def test_a_closed_status_in_a_synced_status_reads_with_what_would_happen() -> None:
    assert only(problems(settings(order_status_map={**GOOD_MAP, "3": "Ready to Ship"}))) == ShipStationProblem(
        "order_status_map", "error", "closed_synced",
        "Temu status 3 (cancelled) maps to 'Ready to Ship', which syncs to ShipStation: a cancelled order "
        "would be exported and could be shipped",
        "map '3' to a status that does not sync to ShipStation ('Shipped', 'Canceled')")
