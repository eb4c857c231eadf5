"""Listings table repository."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime

from pydantic import BaseModel, ConfigDict
from pynamodb.exceptions import DoesNotExist
from pynamodb.expressions.update import Action

from wholecell_temu.domain.listings import ListingConnection, ListingStatus
from wholecell_temu.domain.quantities import TemuOverwrite
from wholecell_temu.store.tables import ListingModel


class Listing(BaseModel):
    """One Temu SKU of a connection's shop, as stored."""

    model_config = ConfigDict(frozen=True)

    connection_id: str
    temu_sku_id: int
    temu_goods_id: int
    seller_sku: str | None = None
    title: str | None = None
    spec: str | None = None
    status: ListingStatus
    temu_status: int | None = None
    temu_sub_status: int | None = None
    connection: ListingConnection | None = None
    last_calculated: int | None = None
    last_pushed: int | None = None
    last_pushed_at: datetime | None = None
    temu_quantity: int | None = None
    temu_quantity_seen_at: datetime | None = None
    last_error: str | None = None
    flags: list[str] = []
    overwritten_on_temu: bool = False
    overwrite: TemuOverwrite | None = None  # what flagged it, while it is flagged
    needs_mapping: bool = False
    first_seen_at: datetime
    last_seen_at: datetime

    def same_import_state(self, other: Listing) -> bool:
        """Equal in everything an import sets (so an unchanged SKU needs no write)."""
        fields = ("temu_goods_id", "seller_sku", "title", "spec", "status", "temu_status", "temu_sub_status",
                  "connection", "temu_quantity")
        return all(getattr(self, f) == getattr(other, f) for f in fields)


def _to_listing(item: ListingModel) -> Listing:
    return Listing(
        connection_id=item.connection_id,
        temu_sku_id=int(item.temu_sku_id),
        temu_goods_id=int(item.temu_goods_id),
        seller_sku=item.seller_sku,
        title=item.title,
        spec=item.spec,
        status=ListingStatus(item.status),
        temu_status=None if item.temu_status is None else int(item.temu_status),
        temu_sub_status=None if item.temu_sub_status is None else int(item.temu_sub_status),
        connection=ListingConnection.model_validate(item.connection) if item.connection else None,
        last_calculated=None if item.last_calculated is None else int(item.last_calculated),
        last_pushed=None if item.last_pushed is None else int(item.last_pushed),
        last_pushed_at=item.last_pushed_at,
        temu_quantity=None if item.temu_quantity is None else int(item.temu_quantity),
        temu_quantity_seen_at=item.temu_quantity_seen_at,
        last_error=item.last_error,
        flags=list(item.flags or []),
        overwritten_on_temu=bool(item.overwritten_on_temu),
        overwrite=TemuOverwrite.model_validate(item.overwrite) if item.overwrite else None,
        needs_mapping=bool(item.needs_mapping),
        first_seen_at=item.first_seen_at,
        last_seen_at=item.last_seen_at,
    )


def _to_item(listing: Listing) -> ListingModel:
    return ListingModel(
        listing.connection_id,
        str(listing.temu_sku_id),
        temu_goods_id=str(listing.temu_goods_id),
        seller_sku=listing.seller_sku,
        title=listing.title,
        spec=listing.spec,
        status=listing.status.value,
        temu_status=listing.temu_status,
        temu_sub_status=listing.temu_sub_status,
        connection=listing.connection.model_dump(mode="json") if listing.connection else None,
        last_calculated=listing.last_calculated,
        last_pushed=listing.last_pushed,
        last_pushed_at=listing.last_pushed_at,
        temu_quantity=listing.temu_quantity,
        temu_quantity_seen_at=listing.temu_quantity_seen_at,
        last_error=listing.last_error,
        flags=listing.flags or None,
        overwritten_on_temu=listing.overwritten_on_temu or None,
        overwrite=listing.overwrite.model_dump(mode="json") if listing.overwrite else None,
        needs_mapping=listing.needs_mapping or None,
        first_seen_at=listing.first_seen_at,
        last_seen_at=listing.last_seen_at,
    )


@dataclass(frozen=True)
class QuantityRecord:
    """What one quantity-sync run learned about a listing at `at`; None fields stay as they are."""

    temu_sku_id: int
    calculated: int
    at: datetime
    pushed: bool = False  # Temu accepted `calculated` (clears the last error)
    error: str | None = None  # the push failed
    temu_quantity: int | None = None  # Temu's own value, when it was read
    overwritten_on_temu: bool | None = None
    overwrite: TemuOverwrite | None = None  # with overwritten_on_temu True: what was seen (None: kept)


class ListingRepository:
    def iter_all(self, connection_id: str) -> Iterator[Listing]:
        for item in ListingModel.query(connection_id):
            yield _to_listing(item)

    def get(self, connection_id: str, temu_sku_id: int) -> Listing | None:
        try:
            return _to_listing(ListingModel.get(connection_id, str(temu_sku_id), consistent_read=True))
        except DoesNotExist:
            return None

    def insert_many(self, listings: Iterable[Listing]) -> int:
        """Batch-write new listings (25 per request; PynamoDB retries unprocessed items)."""
        written = 0
        with ListingModel.batch_write() as batch:
            for listing in listings:
                batch.save(_to_item(listing))
                written += 1
        return written

    def set_connection(self, listing: Listing, connection: ListingConnection | None) -> Listing:
        """Connect by hand (or disconnect); nothing else on the listing changes."""
        item = ListingModel(listing.connection_id, str(listing.temu_sku_id))
        item.update(
            actions=[ListingModel.connection.set(connection.model_dump(mode="json")) if connection
                     else ListingModel.connection.remove()],
            condition=ListingModel.temu_sku_id.exists(),
        )
        return listing.model_copy(update={"connection": connection})

    def update_import_fields(self, listing: Listing) -> None:
        """Write only what an import owns, so quantity-sync fields written meanwhile survive."""
        ListingModel(listing.connection_id, str(listing.temu_sku_id)).update(actions=[
            ListingModel.temu_goods_id.set(str(listing.temu_goods_id)),
            ListingModel.seller_sku.set(listing.seller_sku) if listing.seller_sku else ListingModel.seller_sku.remove(),
            ListingModel.title.set(listing.title) if listing.title else ListingModel.title.remove(),
            ListingModel.spec.set(listing.spec) if listing.spec else ListingModel.spec.remove(),
            ListingModel.status.set(listing.status.value),
            ListingModel.temu_status.set(listing.temu_status) if listing.temu_status is not None
            else ListingModel.temu_status.remove(),
            ListingModel.temu_sub_status.set(listing.temu_sub_status) if listing.temu_sub_status is not None
            else ListingModel.temu_sub_status.remove(),
            ListingModel.connection.set(listing.connection.model_dump(mode="json")) if listing.connection
            else ListingModel.connection.remove(),
            ListingModel.temu_quantity.set(listing.temu_quantity) if listing.temu_quantity is not None
            else ListingModel.temu_quantity.remove(),
            ListingModel.temu_quantity_seen_at.set(listing.last_seen_at),
            ListingModel.last_seen_at.set(listing.last_seen_at),
        ])

    def record_quantity(self, connection_id: str, record: QuantityRecord) -> None:
        """Write only quantity-sync fields, so an import running meanwhile keeps its own."""
        model = ListingModel
        actions: list[Action] = [model.last_calculated.set(record.calculated)]
        temu_quantity = record.calculated if record.pushed else record.temu_quantity
        if record.pushed:
            actions += [model.last_pushed.set(record.calculated), model.last_pushed_at.set(record.at),
                        model.last_error.remove()]
        elif record.error is not None:
            actions.append(model.last_error.set(record.error[:500]))
        if temu_quantity is not None:
            actions += [model.temu_quantity.set(temu_quantity), model.temu_quantity_seen_at.set(record.at)]
        if record.overwritten_on_temu is not None:
            actions.append(model.overwritten_on_temu.set(True) if record.overwritten_on_temu
                           else model.overwritten_on_temu.remove())
            if not record.overwritten_on_temu:
                actions.append(model.overwrite.remove())
            elif record.overwrite is not None:
                actions.append(model.overwrite.set(record.overwrite.model_dump(mode="json")))
        model(connection_id, str(record.temu_sku_id)).update(actions=actions, condition=model.temu_sku_id.exists())

    def flag_needs_mapping(self, connection_id: str, temu_sku_id: int) -> None:
        """An order line for this listing could not be resolved (shown while it stays unconnected)."""
        ListingModel(connection_id, str(temu_sku_id)).update(
            actions=[ListingModel.needs_mapping.set(True)], condition=ListingModel.temu_sku_id.exists())
