from __future__ import annotations

import pytest
from pydantic import ValidationError
from wholecell_temu.domain.settings import ConnectionSettings, closest_title


def test_defaults() -> None:
    s = ConnectionSettings()
    assert (s.order_import_enabled, s.inventory_sync_enabled, s.dry_run) == (False, False, False)
    assert s.inventory_statuses == ["Available"]
    assert s.sales_channel == "Temu" and s.order_acknowledgment == "import_pending"
    assert s.quantity_buffer == 0 and s.quantity_cap is None and s.initial_lookback_days == 7


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"order_status_map": {"9": "New"}}, "order_status_map"),
        ({"order_status_map": {"2": ""}}, "order_status_map"),
        ({"inventory_statuses": []}, "inventory_statuses"),
        ({"quantity_buffer": -1}, "quantity_buffer"),
        ({"quantity_cap": 1_000_001}, "quantity_cap"),
        ({"order_acknowledgment": "later"}, "order_acknowledgment"),
        ({"dry_run": "yes please"}, "dry_run"),
        ({"carrier_map": {"USPS": 0}}, "carrier_map"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_bad_fields_are_named(body: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        ConnectionSettings.model_validate(body)
    assert field in {str(e["loc"][0]) for e in info.value.errors()}


def test_job_enabled_follows_switches() -> None:
    s = ConnectionSettings(order_import_enabled=True)
    assert s.job_enabled("order_import") and s.job_enabled("address_backfill") and s.job_enabled("listing_import")
    assert not s.job_enabled("quantity_sync")


def test_closest_title() -> None:
    assert closest_title("available", ["Available", "Sold"]) == "Available"
    assert closest_title("x", []) is None


@pytest.mark.parametrize("body", [
    {"order_import_enabled": "yes"},
    {"inventory_sync_enabled": 1},
    {"quantity_buffer": "7"},
    {"initial_lookback_days": 7.0},
])
def test_a_wrong_type_is_refused_never_guessed(body: dict[str, object]) -> None:
    """Strict: "yes" is not a boolean, 1 is not True and "7" not a number."""
    with pytest.raises(ValidationError) as info:
        ConnectionSettings.model_validate(body)
    assert [e["loc"][0] for e in info.value.errors()] == list(body)


@pytest.mark.parametrize(("orders", "inventory", "expected"), [
    (False, True, {"listing_import": True, "quantity_sync": True, "order_import": False, "address_backfill": False,
                   "shipment_reconcile": False}),
    (True, False, {"listing_import": True, "quantity_sync": False, "order_import": True, "address_backfill": True,
                   "shipment_reconcile": True}),
])
def test_each_job_follows_its_own_switch(orders: bool, inventory: bool, expected: dict[str, bool]) -> None:
    s = ConnectionSettings(order_import_enabled=orders, inventory_sync_enabled=inventory)
    assert {job: s.job_enabled(job) for job in expected} == expected
