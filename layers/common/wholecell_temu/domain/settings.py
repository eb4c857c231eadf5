"""Per-connection settings: the typed, validated object `PUT .../settings` replaces whole.

Only shape and ranges are checked here; whether titles (statuses, warehouses, channel)
exist in the seller's WholeCell account is checked against WholeCell by the caller.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from wholecell_temu.temu.codes import STATUS_CODES as TEMU_ORDER_STATUS_CODES

JOBS = ("listing_import", "quantity_sync", "order_import", "address_backfill", "shipment_reconcile")
QUANTITY_MAX = 1_000_000  # Temu's stock range (bg.local.goods.stock.edit, 150013002)

AcknowledgmentMode = Literal["import_pending", "wait_for_confirmation"]


class ConnectionSettings(BaseModel):
    """Settings of one connection; defaults are what a new connection starts with.

    Strict: "yes" is not a boolean and "7" not a number; a wrong type is refused, never guessed.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    order_import_enabled: bool = False
    inventory_sync_enabled: bool = False
    order_status_map: dict[str, str] = Field(default_factory=dict)
    inventory_statuses: list[str] = Field(default_factory=lambda: ["Available"], min_length=1)
    warehouses: list[str] | None = None  # None = every warehouse
    outstanding_order_statuses: list[str] | None = None  # None = the statuses WholeCell flags open
    order_acknowledgment: AcknowledgmentMode = "import_pending"
    sales_channel: str = Field("Temu", min_length=1)
    shipstation_sync: bool = False
    quantity_buffer: int = Field(0, ge=0, le=QUANTITY_MAX)
    quantity_cap: int | None = Field(None, ge=0, le=QUANTITY_MAX)
    dry_run: bool = False
    initial_lookback_days: int = Field(7, ge=1, le=90)
    temu_warehouse_id: str | None = None
    carrier_map: dict[str, int] = Field(default_factory=dict)

    @field_validator("order_status_map")
    @classmethod
    def _known_temu_codes(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(TEMU_ORDER_STATUS_CODES))
        if unknown:
            raise ValueError(
                f"unknown Temu status code(s) {unknown}; allowed: {', '.join(TEMU_ORDER_STATUS_CODES)}"
            )
        blank = sorted(code for code, title in value.items() if not title)
        if blank:
            raise ValueError(f"empty WholeCell status title for Temu status {blank}")
        return value

    @field_validator("inventory_statuses", "warehouses", "outstanding_order_statuses")
    @classmethod
    def _no_blank_titles(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and any(not title for title in value):
            raise ValueError("titles must not be empty")
        return value

    @field_validator("carrier_map")
    @classmethod
    def _positive_carrier_ids(cls, value: dict[str, int]) -> dict[str, int]:
        if any(carrier_id <= 0 for carrier_id in value.values()):
            raise ValueError("Temu carrier ids are positive integers")
        return value

    def job_enabled(self, job: str) -> bool:
        """Whether the scheduler fans this job out for the connection."""
        if job == "quantity_sync":
            return self.inventory_sync_enabled
        if job in ("order_import", "address_backfill", "shipment_reconcile"):
            return self.order_import_enabled
        return True


def closest_title(title: str, existing: Iterable[str]) -> str | None:
    """The existing title nearest to `title` (for "did you mean" messages)."""
    matches = difflib.get_close_matches(title, list(existing), n=1, cutoff=0.0)
    return matches[0] if matches else None
