"""Orders table repository: exactly-once claims, import records, the watermark, sparse work lists."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict
from pynamodb.exceptions import DoesNotExist
from pynamodb.expressions.update import Action

from wholecell_temu.domain.orders import LineRecord
from wholecell_temu.net import Clock
from wholecell_temu.store._conditions import conditional_write
from wholecell_temu.store.states import AddressState, ImportState, ShipmentState
from wholecell_temu.store.tables import ORDER_STATE_KEY, OrderModel


class OrderRecord(BaseModel):
    """What the integration knows of one Temu parent order (never the buyer's address)."""

    model_config = ConfigDict(frozen=True)

    connection_id: str
    parent_order_sn: str
    import_state: ImportState
    skip_reason: str | None = None
    wholecell_order_id: int | None = None
    claim_owner: str | None = None
    claim_until: float | None = None
    claimed_at: datetime | None = None
    temu_status: int | None = None
    temu_update_time: int | None = None
    wholecell_status: str | None = None
    lines: list[LineRecord] = []
    address_state: AddressState | None = None
    address_reason: str | None = None
    shipment_state: ShipmentState | None = None
    shipment_error: str | None = None
    region_id: int | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def unknown_sku_lines(self) -> list[LineRecord]:
        return [line for line in self.lines if line.resolution == "unknown"]


def _record(item: OrderModel) -> OrderRecord:
    return OrderRecord(
        connection_id=item.connection_id, parent_order_sn=item.parent_order_sn,
        import_state=ImportState(item.import_state or ImportState.CLAIMED), skip_reason=item.skip_reason,
        wholecell_order_id=int(item.wholecell_order_id) if item.wholecell_order_id else None,
        claim_owner=item.claim_owner, claim_until=item.claim_until, claimed_at=item.claimed_at,
        temu_status=None if item.temu_status is None else int(item.temu_status),
        temu_update_time=None if item.temu_update_time is None else int(item.temu_update_time),
        wholecell_status=item.wholecell_status,
        lines=[LineRecord.model_validate(line) for line in item.lines or []],
        address_state=None if item.address_state is None else AddressState(item.address_state),
        address_reason=item.address_reason,
        shipment_state=None if item.shipment_state is None else ShipmentState(item.shipment_state),
        shipment_error=item.shipment_error,
        region_id=None if item.region_id is None else int(item.region_id),
        created_at=item.created_at, updated_at=item.updated_at)


class ClaimHeld(Exception):
    """Another run holds a live claim on this order."""


class OrderRepository:
    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or Clock()

    def get(self, connection_id: str, parent_order_sn: str) -> OrderRecord | None:
        try:
            return _record(OrderModel.get(connection_id, parent_order_sn, consistent_read=True))
        except DoesNotExist:
            return None

    def claim(self, connection_id: str, parent_order_sn: str, owner: str, seconds: int,
              now: datetime) -> OrderRecord | None:
        """Claim the creation of a WholeCell order. Returns the previous record when an earlier,
        expired claim existed (the caller must look the order up before creating), None when the
        order was never claimed. Raises ClaimHeld when a live claim or a finished import exists."""
        previous = self.get(connection_id, parent_order_sn)
        # the first claim's time stays: a takeover looks the order up since the earliest attempt
        first_claimed = previous.claimed_at if previous is not None and previous.claimed_at is not None else now
        item = OrderModel(connection_id, parent_order_sn, import_state=ImportState.CLAIMED, claim_owner=owner,
                          claim_until=self.clock.time() + seconds, claimed_at=first_claimed,
                          created_at=previous.created_at if previous and previous.created_at else now, updated_at=now)
        if previous is not None:  # keep what a skipped record knew
            item.temu_status, item.temu_update_time = previous.temu_status, previous.temu_update_time
        never_claimed = OrderModel.parent_order_sn.does_not_exist()
        stale = ((OrderModel.import_state != ImportState.IMPORTED)
                 & (OrderModel.claim_until.does_not_exist() | (OrderModel.claim_until < self.clock.time())))
        with conditional_write(ClaimHeld(parent_order_sn)):
            item.save(condition=never_claimed | stale)
        return previous if previous is not None and previous.claimed_at is not None else None

    def record_import(self, record: OrderRecord, owner: str) -> OrderRecord:
        """The WholeCell order exists: store it and release the claim (only if still ours)."""
        now = self.clock.now()
        model = OrderModel
        unknown = [line.order_sn for line in record.unknown_sku_lines]
        actions: list[Action] = [
            model.import_state.set(ImportState.IMPORTED),
            model.wholecell_order_id.set(str(record.wholecell_order_id)),
            model.wholecell_status.set(record.wholecell_status or ""), model.lines.set(_lines(record.lines)),
            model.temu_status.set(record.temu_status or 0), model.temu_update_time.set(record.temu_update_time or 0),
            model.region_id.set(record.region_id or 0), model.updated_at.set(now),
            model.claim_owner.remove(), model.claim_until.remove(), model.skip_reason.remove(),
            model.address_state.set(record.address_state or AddressState.AWAITING),
            *_work_lists(record, unknown),
        ]
        model(record.connection_id, record.parent_order_sn).update(
            actions=actions, condition=model.claim_owner == owner)
        return record.model_copy(update={"import_state": ImportState.IMPORTED, "claim_owner": None,
                                         "claim_until": None})

    def expire_claim(self, connection_id: str, parent_order_sn: str, owner: str) -> None:
        """Give up a claim after a failed create; `claimed_at` stays, so whoever claims next
        looks the order up in WholeCell before creating it."""
        with conditional_write():
            OrderModel(connection_id, parent_order_sn).update(
                actions=[OrderModel.claim_until.set(0), OrderModel.updated_at.set(self.clock.now())],
                condition=OrderModel.claim_owner == owner)

    def record_skip(self, connection_id: str, parent_order_sn: str, reason: str, temu_status: int,
                    update_time: int | None, *, excluded: bool = False) -> None:
        """A Temu order that is not imported, with why; never touches an imported one. A skipped
        order is revisited when the settings change; an excluded one (history older than the first
        import) only by an explicit re-import."""
        now = self.clock.now()
        model = OrderModel(connection_id, parent_order_sn)
        with conditional_write():
            model.update(actions=[
                OrderModel.import_state.set(ImportState.EXCLUDED if excluded else ImportState.SKIPPED),
                OrderModel.skip_reason.set(reason),
                OrderModel.temu_status.set(temu_status), OrderModel.temu_update_time.set(update_time or 0),
                OrderModel.unresolved.remove() if excluded else OrderModel.unresolved.set(f"skipped#{parent_order_sn}"),
                OrderModel.updated_at.set(now), OrderModel.created_at.set(OrderModel.created_at | now),
            ], condition=OrderModel.import_state.does_not_exist()
                | OrderModel.import_state.is_in(ImportState.SKIPPED, ImportState.EXCLUDED))

    def claim_follow_up(self, connection_id: str, parent_order_sn: str, owner: str, seconds: int) -> OrderRecord:
        """Hold an imported order while one run patches its WholeCell order and records what it
        sent, so two runs never interleave their patches and records. Returns the record as of the
        claim. Raises ClaimHeld while another run holds it."""
        model = OrderModel(connection_id, parent_order_sn)
        now = self.clock.time()
        with conditional_write(ClaimHeld(parent_order_sn)):
            model.update(actions=[OrderModel.claim_owner.set(owner), OrderModel.claim_until.set(now + seconds)],
                         condition=(OrderModel.import_state == ImportState.IMPORTED)
                         & (OrderModel.claim_until.does_not_exist() | (OrderModel.claim_until < now)))
        return _record(model)

    def release_follow_up(self, connection_id: str, parent_order_sn: str, owner: str) -> None:
        """Give up a follow-up claim without recording anything (only if still ours)."""
        with conditional_write():
            OrderModel(connection_id, parent_order_sn).update(
                actions=[OrderModel.claim_owner.remove(), OrderModel.claim_until.remove()],
                condition=OrderModel.claim_owner == owner)

    def update_imported(self, record: OrderRecord, owner: str, *, address_changed: bool) -> None:
        """Status, lines (and the address state when the follow-up changed it) after a follow-up
        that holds the order's claim; releases the claim. The address fields are left alone
        otherwise: the address backfill may be filling them meanwhile."""
        model = OrderModel
        unknown = [line.order_sn for line in record.unknown_sku_lines]
        actions: list[Action] = [
            model.wholecell_status.set(record.wholecell_status or ""), model.lines.set(_lines(record.lines)),
            model.temu_status.set(record.temu_status or 0), model.temu_update_time.set(record.temu_update_time or 0),
            model.updated_at.set(self.clock.now()), model.claim_owner.remove(), model.claim_until.remove(),
            *_work_lists(record, unknown, address=address_changed),
        ]
        if address_changed:
            actions.append(model.address_state.set(record.address_state or AddressState.AWAITING))
            actions.append(model.address_reason.set(record.address_reason) if record.address_reason
                           else model.address_reason.remove())
        model(record.connection_id, record.parent_order_sn).update(
            actions=actions, condition=(model.import_state == ImportState.IMPORTED) & (model.claim_owner == owner))

    def set_address_state(self, connection_id: str, parent_order_sn: str, state: AddressState, reason: str | None,
                          temu_status: int | None = None) -> None:
        """Only the address fields (the order import may be updating the rest meanwhile)."""
        model = OrderModel
        actions: list[Action] = [
            model.address_state.set(state), model.updated_at.set(self.clock.now()),
            model.address_reason.set(reason) if reason else model.address_reason.remove(),
            model.address_due.set(parent_order_sn) if state == AddressState.AWAITING else model.address_due.remove(),
        ]
        if temu_status is not None:
            actions.append(model.temu_status.set(temu_status))
        model(connection_id, parent_order_sn).update(actions=actions,
                                                     condition=model.import_state == ImportState.IMPORTED)

    def set_shipment_state(self, connection_id: str, parent_order_sn: str, state: ShipmentState,
                           error: str | None) -> None:
        OrderModel(connection_id, parent_order_sn).update(actions=[
            OrderModel.shipment_state.set(state), OrderModel.updated_at.set(self.clock.now()),
            OrderModel.shipment_error.set(error[:500]) if error else OrderModel.shipment_error.remove(),
        ], condition=OrderModel.import_state == ImportState.IMPORTED)

    def iter_awaiting_address(self, connection_id: str) -> Iterator[str]:
        for item in OrderModel.awaiting_address.query(connection_id):
            yield item.parent_order_sn

    def iter_unresolved(self, connection_id: str) -> Iterator[str]:
        for item in OrderModel.unresolved_orders.query(connection_id):
            yield item.parent_order_sn

    def by_wholecell_order(self, connection_id: str, wholecell_order_id: int) -> OrderRecord | None:
        for item in OrderModel.by_wholecell_order.query(connection_id, OrderModel.wholecell_order_id
                                                        == str(wholecell_order_id)):
            return _record(item)
        return None

    # --- watermark ---------------------------------------------------------------------------
    def watermark(self, connection_id: str) -> int | None:
        try:
            item = OrderModel.get(connection_id, ORDER_STATE_KEY, consistent_read=True)
        except DoesNotExist:
            return None
        return None if item.watermark is None else int(item.watermark)

    def advance_watermark(self, connection_id: str, value: int) -> bool:
        """Move the watermark forward to `value` (Temu updateTime, seconds); never backwards."""
        with conditional_write() as write:
            OrderModel(connection_id, ORDER_STATE_KEY).update(
                actions=[OrderModel.watermark.set(value), OrderModel.updated_at.set(self.clock.now())],
                condition=OrderModel.watermark.does_not_exist() | (OrderModel.watermark < value))
        return not write.failed


def _lines(lines: list[LineRecord]) -> list[dict[str, Any]]:
    return [line.model_dump(mode="json") for line in lines]


def _work_lists(record: OrderRecord, unknown: list[str], *, address: bool = True) -> list[Action]:
    """Keep the sparse index attributes in step with the record (the address one only when
    the address state is written too)."""
    model = OrderModel
    actions: list[Action] = [
        model.unknown_skus.set(unknown) if unknown else model.unknown_skus.remove(),
        model.unresolved.set(f"unknown_sku#{record.parent_order_sn}") if unknown else model.unresolved.remove(),
    ]
    if address:
        awaiting = record.address_state in (None, AddressState.AWAITING)
        actions.append(model.address_due.set(record.parent_order_sn) if awaiting else model.address_due.remove())
    return actions
