"""The inventory mirror: WholeCell units and outstanding orders per connection, and its watermarks."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import BaseModel, ConfigDict

from wholecell_temu.domain.quantities import MirrorOrder, MirrorOrderItem, MirrorUnit
from wholecell_temu.store._conditions import conditional_write
from wholecell_temu.store.connections import ConflictError
from wholecell_temu.store.tables import InventoryMirrorModel

UNIT_PREFIX = "u#"
ORDER_PREFIX = "o#"
CATALOG_PREFIX = "c#"  # WholeCell's SKU catalog as the last listing import read it, in chunks
STATE_KEY = "#state"
CATALOG_CHUNK_BYTES = 300_000  # DynamoDB items hold 400 KB


class MirrorState(BaseModel):
    """How far the mirror has read WholeCell, and what its content was built for."""

    model_config = ConfigDict(frozen=True)

    units_watermark: datetime | None = None  # greatest unit updated_at read
    orders_watermark: datetime | None = None  # greatest sales-order updated_at read
    rebuilt_at: datetime | None = None  # last complete rebuild
    fingerprint: str | None = None  # the settings the content was built for (statuses)
    open_statuses: list[str] = []  # WholeCell's open sales-order statuses at the last rebuild
    # ... and those it flags `open: false` (None: not read, or the account gives no flags)
    closed_statuses: list[str] | None = None
    reasserted_at: datetime | None = None  # last comparison with Temu's own stock
    version: int = 0


@dataclass
class Mirror:
    state: MirrorState = field(default_factory=MirrorState)
    units: dict[int, MirrorUnit] = field(default_factory=dict)
    orders: dict[int, MirrorOrder] = field(default_factory=dict)


@dataclass
class MirrorChanges:
    put_units: list[MirrorUnit] = field(default_factory=list)
    delete_units: list[int] = field(default_factory=list)
    put_orders: list[MirrorOrder] = field(default_factory=list)
    delete_orders: list[int] = field(default_factory=list)
    unit_times: dict[int, datetime] = field(default_factory=dict)
    order_times: dict[int, datetime] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.put_units) + len(self.delete_units) + len(self.put_orders) + len(self.delete_orders)


def _unit(item: InventoryMirrorModel) -> MirrorUnit:
    return MirrorUnit(
        unit_id=int(item.mirror_key[len(UNIT_PREFIX):]), sku=item.sku,
        variation_id=None if item.variation_id is None else int(item.variation_id),
        status=item.status or "", warehouse=item.warehouse,
        order_id=None if item.order_id is None else int(item.order_id))


def _state(item: InventoryMirrorModel) -> MirrorState:
    return MirrorState.model_validate({**(item.state or {}), "version": int(item.version or 0)})


def _order(item: InventoryMirrorModel) -> MirrorOrder:
    items = tuple(MirrorOrderItem(sku, None if variation is None else int(variation), int(quantity))
                  for sku, variation, quantity in item.items or [])
    return MirrorOrder(order_id=int(item.mirror_key[len(ORDER_PREFIX):]), status=item.status or "", items=items,
                       order_number=item.order_number, channel=item.channel,
                       external_reference=item.external_reference)


class InventoryMirror:
    def load(self, connection_id: str) -> Mirror:
        """The whole mirror of a connection (one partition query, paged by DynamoDB)."""
        mirror = Mirror()
        for item in InventoryMirrorModel.query(connection_id):
            key = item.mirror_key
            if key.startswith(UNIT_PREFIX):
                unit = _unit(item)
                mirror.units[unit.unit_id] = unit
            elif key.startswith(ORDER_PREFIX):
                order = _order(item)
                mirror.orders[order.order_id] = order
            elif key.startswith(CATALOG_PREFIX):
                continue
            elif key == STATE_KEY:
                mirror.state = _state(item)
        return mirror

    def load_state(self, connection_id: str) -> MirrorState:
        """The watermarks and what the content was built for, alone (one consistent read)."""
        try:
            return _state(InventoryMirrorModel.get(connection_id, STATE_KEY, consistent_read=True))
        except InventoryMirrorModel.DoesNotExist:
            return MirrorState()

    def apply(self, connection_id: str, changes: MirrorChanges, now: datetime) -> None:
        """Write units and orders (25 per batch request; PynamoDB retries unprocessed items)."""
        with InventoryMirrorModel.batch_write() as batch:
            for unit in changes.put_units:
                batch.save(InventoryMirrorModel(
                    connection_id, f"{UNIT_PREFIX}{unit.unit_id}", status=unit.status, sku=unit.sku,
                    variation_id=unit.variation_id, warehouse=unit.warehouse, order_id=unit.order_id,
                    updated_at=changes.unit_times.get(unit.unit_id, now)))
            for order in changes.put_orders:
                batch.save(InventoryMirrorModel(
                    connection_id, f"{ORDER_PREFIX}{order.order_id}", status=order.status,
                    items=[[i.sku, i.variation_id, i.quantity] for i in order.items],
                    order_number=order.order_number, channel=order.channel,
                    external_reference=order.external_reference,
                    updated_at=changes.order_times.get(order.order_id, now)))
            for unit_id in changes.delete_units:
                batch.delete(InventoryMirrorModel(connection_id, f"{UNIT_PREFIX}{unit_id}"))
            for order_id in changes.delete_orders:
                batch.delete(InventoryMirrorModel(connection_id, f"{ORDER_PREFIX}{order_id}"))

    def save_state(self, connection_id: str, state: MirrorState) -> MirrorState:
        """Store `state` if nobody stored another since it was loaded (its version); returns it
        with the next version. Raises ConflictError otherwise."""
        item = InventoryMirrorModel(connection_id, STATE_KEY, state=state.model_dump(mode="json", exclude={"version"}),
                                    version=state.version + 1)
        condition = (InventoryMirrorModel.version.does_not_exist() if state.version == 0
                     else InventoryMirrorModel.version == state.version)
        with conditional_write(ConflictError("the inventory mirror was updated by another run")):
            item.save(condition=condition)
        return state.model_copy(update={"version": state.version + 1})

    def save_catalog(self, connection_id: str, skus: Iterable[str], read_at: datetime) -> None:
        """Replace the cached WholeCell SKU catalog (chunked; stale chunks are deleted)."""
        chunks: list[list[str]] = [[]]
        size = 0
        for sku in sorted(skus):
            if size + len(sku) + 4 > CATALOG_CHUNK_BYTES:
                chunks.append([])
                size = 0
            chunks[-1].append(sku)
            size += len(sku.encode()) + 4
        existing = {item.mirror_key for item in InventoryMirrorModel.query(
            connection_id, InventoryMirrorModel.mirror_key.startswith(CATALOG_PREFIX))}
        with InventoryMirrorModel.batch_write() as batch:
            for number, chunk in enumerate(chunks):
                key = f"{CATALOG_PREFIX}{number:04d}"
                batch.save(InventoryMirrorModel(connection_id, key, items=chunk, updated_at=read_at,
                                                version=len(chunks)))
                existing.discard(key)
            for key in existing:
                batch.delete(InventoryMirrorModel(connection_id, key))

    def load_catalog(self, connection_id: str) -> tuple[set[str], datetime] | None:
        """The cached SKUs and when they were read, or None before the first listing import.
        A partly written catalog (chunk count disagrees) counts as none."""
        items = list(InventoryMirrorModel.query(connection_id,
                                                InventoryMirrorModel.mirror_key.startswith(CATALOG_PREFIX)))
        if not items or any(int(item.version or 0) != len(items) for item in items):
            return None
        skus = {sku for item in items for sku in item.items or []}
        return skus, min(item.updated_at for item in items if item.updated_at is not None)

    def variation_ids(self, connection_id: str) -> set[int]:
        return {unit.variation_id for unit in self.load(connection_id).units.values() if unit.variation_id is not None}

    def record_order(self, connection_id: str, order: MirrorOrder, updated_at: datetime) -> None:
        """Put one sales order in the mirror at once (an order the integration just created)."""
        self.apply(connection_id, MirrorChanges(put_orders=[order], order_times={order.order_id: updated_at}),
                   updated_at)

