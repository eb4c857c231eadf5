"""The states an order or shipment record is in. The values are what the tables store and the
admin API shows, unchanged; code compares and writes the members, never the bare text."""

from __future__ import annotations

from enum import StrEnum


class ImportState(StrEnum):
    """Where a Temu order stands with the order import (Orders table, `import_state`)."""

    CLAIMED = "claimed"  # a run is creating its WholeCell order (or one crashed doing so)
    IMPORTED = "imported"  # the WholeCell order exists
    SKIPPED = "skipped"  # not imported yet, for a reason that can go away
    EXCLUDED = "excluded"  # history outside the first import's window: only an explicit re-import takes it
    NOT_SEEN = "not_seen"  # never stored: the admin view of an order the import never read


class AddressState(StrEnum):
    """Whether an imported order's ship-to address reached WholeCell (Orders table, `address_state`)."""

    AWAITING = "awaiting"  # Temu has not released it yet (or it changed): the backfill fetches it
    FILLED = "filled"
    UNAVAILABLE = "unavailable"  # the order closed before an address could be read


class ShipmentState(StrEnum):
    """A shipment's Temu confirmation (Shipments table `state`; Orders table `shipment_state`)."""

    PENDING = "pending"  # not confirmed yet (or an attempt's outcome is being verified)
    CONFIRMED = "confirmed"
    FAILED = "failed"  # permanently: a person must act, then resend


__all__ = ["AddressState", "ImportState", "ShipmentState"]
