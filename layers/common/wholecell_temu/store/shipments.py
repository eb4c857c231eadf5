"""Shipments table repository: one Temu confirmation per (WholeCell order, tracking number)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict
from pynamodb.exceptions import DoesNotExist
from pynamodb.expressions.update import Action

from wholecell_temu.net import Clock
from wholecell_temu.store._conditions import conditional_write
from wholecell_temu.store.states import ShipmentState
from wholecell_temu.store.tables import SHIPMENT_STATE_KEY, ShipmentModel


class ShipmentRecord(BaseModel):
    model_config = ConfigDict(frozen=True)

    shipment_key: str
    parent_order_sn: str | None = None
    wholecell_order_id: int | None = None
    tracking_number: str | None = None
    carrier: str | None = None
    state: ShipmentState = ShipmentState.PENDING
    verified: bool = False
    attempts: int = 0
    last_error: str | None = None
    claim_owner: str | None = None
    claim_until: float | None = None
    updated_at: datetime | None = None


def _record(item: ShipmentModel) -> ShipmentRecord:
    return ShipmentRecord(
        shipment_key=item.shipment_key, parent_order_sn=item.parent_order_sn,
        wholecell_order_id=None if item.wholecell_order_id is None else int(item.wholecell_order_id),
        tracking_number=item.tracking_number, carrier=item.carrier,
        state=ShipmentState(item.state or ShipmentState.PENDING),
        verified=bool(item.verified), attempts=int(item.attempts or 0), last_error=item.last_error,
        claim_owner=item.claim_owner, claim_until=item.claim_until, updated_at=item.updated_at)


class ShipmentClaimHeld(Exception):
    """Another delivery is confirming this shipment right now."""


class ShipmentRepository:
    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or Clock()

    def get(self, connection_id: str, key: str) -> ShipmentRecord | None:
        try:
            return _record(ShipmentModel.get(connection_id, key, consistent_read=True))
        except DoesNotExist:
            return None

    def for_order(self, connection_id: str, wholecell_order_id: int) -> dict[str, ShipmentRecord]:
        prefix = f"{wholecell_order_id}#"
        return {item.shipment_key: _record(item) for item in
                ShipmentModel.query(connection_id, ShipmentModel.shipment_key.startswith(prefix),
                                    consistent_read=True)}

    def claim(self, connection_id: str, key: str, owner: str, seconds: int, *, parent_order_sn: str,
              wholecell_order_id: int, tracking_number: str, carrier: str | None) -> ShipmentRecord | None:
        """Claim the confirmation of one shipment. Returns the earlier record when an attempt was
        made before (its outcome must be verified on Temu first), None for a first attempt. Raises
        ShipmentClaimHeld while another delivery holds it; a confirmed one cannot be claimed."""
        previous = self.get(connection_id, key)
        now = self.clock.now()
        item = ShipmentModel(connection_id, key, parent_order_sn=parent_order_sn,
                             wholecell_order_id=wholecell_order_id, tracking_number=tracking_number,
                             carrier=carrier, state=ShipmentState.PENDING, claim_owner=owner,
                             claim_until=self.clock.time() + seconds,
                             attempts=(previous.attempts if previous else 0) + 1,
                             last_error=previous.last_error if previous else None,
                             created_at=now, updated_at=now)
        free = ShipmentModel.shipment_key.does_not_exist() | (
            (ShipmentModel.state != ShipmentState.CONFIRMED)
            & (ShipmentModel.claim_until.does_not_exist() | (ShipmentModel.claim_until < self.clock.time())))
        with conditional_write(ShipmentClaimHeld(key)):
            item.save(condition=free)
        return previous

    def finish(self, connection_id: str, key: str, owner: str, state: ShipmentState, *, error: str | None = None,
               verified: bool = False) -> None:
        """Record the outcome and release the claim (only if it is still ours)."""
        model = ShipmentModel
        actions: list[Action] = [model.state.set(state), model.updated_at.set(self.clock.now()),
                   model.claim_owner.remove(), model.claim_until.remove(),
                   model.last_error.set(error[:500]) if error else model.last_error.remove()]
        if verified:
            actions.append(model.verified.set(True))
        with conditional_write():
            model(connection_id, key).update(actions=actions, condition=model.claim_owner == owner)

    def reopen(self, connection_id: str, key: str) -> None:
        """A failed shipment may be tried again (resend)."""
        with conditional_write():
            ShipmentModel(connection_id, key).update(
                actions=[ShipmentModel.state.set(ShipmentState.PENDING), ShipmentModel.claim_until.remove(),
                         ShipmentModel.claim_owner.remove(), ShipmentModel.updated_at.set(self.clock.now())],
                condition=ShipmentModel.state == ShipmentState.FAILED)

    # --- reconciler watermark ------------------------------------------------------------------
    def watermark(self, connection_id: str) -> datetime | None:
        try:
            return ShipmentModel.get(connection_id, SHIPMENT_STATE_KEY, consistent_read=True).watermark
        except DoesNotExist:
            return None

    def advance_watermark(self, connection_id: str, value: datetime) -> None:
        with conditional_write():
            ShipmentModel(connection_id, SHIPMENT_STATE_KEY).update(
                actions=[ShipmentModel.watermark.set(value), ShipmentModel.updated_at.set(self.clock.now())],
                condition=ShipmentModel.watermark.does_not_exist() | (ShipmentModel.watermark < value))
