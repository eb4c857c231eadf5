"""Temu's codes have one home, and record states and shipment outcomes are enums whose values
(what the tables, the idempotency records, the API and the metrics show) did not change."""

from __future__ import annotations

from wholecell_temu.domain.quantities import TEMU_CLOSED_STATUSES
from wholecell_temu.domain.settings import TEMU_ORDER_STATUS_CODES  # type: ignore[attr-defined]  # its use there
from wholecell_temu.jobs.shipment_push import ShipmentOutcome
from wholecell_temu.store.states import AddressState, ImportState, ShipmentState
from wholecell_temu.temu import codes
from wholecell_temu.temu.codes import OrderStatus
from wholecell_temu.temu.errors import VERIFY_CODES as CLASSIFIED_VERIFY_CODES  # type: ignore[attr-defined]


def test_order_statuses_and_their_groups() -> None:
    assert [int(status) for status in OrderStatus] == [1, 2, 3, 4, 41, 5, 51]
    assert TEMU_ORDER_STATUS_CODES == ("1", "2", "3", "4", "41", "5", "51")
    assert codes.MEANINGS == {1: "pending", 2: "awaiting shipment", 3: "cancelled", 4: "shipped",
                              41: "partially shipped", 5: "delivered", 51: "partially delivered"}
    assert codes.SHIPPED_STATUSES == (4, 41, 5, 51) and codes.TO_SHIP == (2, 41)
    assert codes.WAITING_FOR_SELLER == (1, 2) and codes.ADDRESS_RELEASED == (2, 41)
    assert codes.CLOSED == (3, 4, 5, 51)
    assert TEMU_CLOSED_STATUSES == {"3": "cancelled", "4": "shipped", "5": "delivered"}
    assert f"Temu status {OrderStatus.PARTIALLY_SHIPPED}" == "Temu status 41"  # messages show the code


def test_confirmation_codes_are_the_ones_classified_verify_before_retry() -> None:
    assert {120012004, 120014003, 120014004} == codes.ALREADY_DONE
    assert set(codes.PENDING_BUYER_REQUEST) == {120012023, 120012030, 120017007, 120012031}
    assert CLASSIFIED_VERIFY_CODES is codes.VERIFY_CODES
    assert codes.ALREADY_DONE | set(codes.PENDING_BUYER_REQUEST) == codes.VERIFY_CODES


def test_stored_state_values_are_unchanged() -> None:
    assert [s.value for s in ImportState] == ["claimed", "imported", "skipped", "excluded", "not_seen"]
    assert [s.value for s in AddressState] == ["awaiting", "filled", "unavailable"]
    assert [s.value for s in ShipmentState] == ["pending", "confirmed", "failed"]


def test_shipment_outcomes_carry_their_metric_label() -> None:
    labels = {outcome.value: outcome.label for outcome in ShipmentOutcome}
    assert labels == {
        "confirmed": "confirmed", "verified": "verified", "already confirmed": "already_confirmed",
        "failed before; resend to try again": "failed_before", "unknown connection": "unknown_connection",
        "not a Temu order": "not_a_temu_order", "no tracking number": "no_tracking_number",
    }
    # a repeated webhook event answers with the stored result, the outcome's value as text
    assert ShipmentOutcome("failed before; resend to try again") is ShipmentOutcome.FAILED_BEFORE
