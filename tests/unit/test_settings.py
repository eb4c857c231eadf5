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
