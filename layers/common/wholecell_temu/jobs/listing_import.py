"""Listing import: every Temu SKU of the shop into the Listings table, auto-connected by SKU.

Reads active and inactive SKUs (`bg.local.goods.sku.list.query`, every page) and, meanwhile,
WholeCell's SKUs (stock levels, zero stock included), then writes only what changed: new SKUs in
batches, changed ones field by field (quantity-sync fields are never overwritten). A known
SKU Temu no longer returns was deleted there: it is marked ended, never removed. How much it
read is kept on the connection (`catalog_size`), so fan-out sends the largest connections first.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

from wholecell_temu.domain.listings import (
    TEMU_SKU_ACTIVE,
    TEMU_SKU_INACTIVE,
    ListingStatus,
    auto_connection,
    listing_status,
)
from wholecell_temu.jobs.framework import JobContext
from wholecell_temu.jobs.ports import ListingImportTemu, ListingImportWholeCell
from wholecell_temu.observability import logger
from wholecell_temu.store.connections import ConnectionRepository
from wholecell_temu.store.inventory import InventoryMirror
from wholecell_temu.store.listings import Listing, ListingRepository
from wholecell_temu.temu.models import Sku


def read_temu_skus(context: JobContext[ListingImportTemu, object]) -> dict[int, Sku]:
    """Every active and inactive SKU of the shop, keyed by SKU id (a SKU seen twice counts once)."""
    skus: dict[int, Sku] = {}
    for search_type in (TEMU_SKU_ACTIVE, TEMU_SKU_INACTIVE):
        for sku in context.temu.iter_skus(sku_search_type=search_type, sku_status_filter_type=search_type):
            skus.setdefault(sku.sku_id, sku)
    return skus


def _listing(connection_id: str, sku: Sku, before: Listing | None, wholecell_skus: set[str],
             now: datetime) -> Listing:
    """The listing of one Temu SKU as Temu shows it now, keeping what the table knew before."""
    seller_sku = sku.sku_sn or None
    return Listing(
        connection_id=connection_id,
        temu_sku_id=sku.sku_id,
        temu_goods_id=sku.goods_id,
        seller_sku=seller_sku,
        title=sku.goods_name,
        spec=sku.spec_name,
        status=listing_status(sku.status, sku.show_sub_status),
        temu_status=sku.status,
        temu_sub_status=sku.show_sub_status,
        connection=auto_connection(seller_sku, wholecell_skus, before.connection if before else None),
        temu_quantity=sku.stock,
        temu_quantity_seen_at=now,
        first_seen_at=before.first_seen_at if before else now,
        last_seen_at=now,
    )


def _count_listing(context: JobContext[ListingImportTemu, ListingImportWholeCell], listing: Listing,
                   before: Listing | None) -> None:
    if before is not None and before.status is ListingStatus.ACTIVE and listing.status is ListingStatus.ENDED:
        context.count("ended")
    if listing.connection is not None and listing.connection.mode == "auto" and (
        before is None or before.connection != listing.connection
    ):
        context.count("auto_connected")
    context.count("connected" if listing.connection else "unconnected")


def run(context: JobContext[ListingImportTemu, ListingImportWholeCell], repository: ListingRepository | None = None,
        catalog: InventoryMirror | None = None, connections: ConnectionRepository | None = None) -> None:
    repository = repository or ListingRepository()
    connection_id = context.connection.connection_id
    # WholeCell's SKUs are read while Temu's pages are: each API paces on its own budget (for a large
    # shop both take minutes, and in a busy fleet Temu's pages wait for stock edits and orders)
    with ThreadPoolExecutor(max_workers=1) as reader:
        wholecell_read = reader.submit(lambda: {level.sku for level in context.wholecell.iter_stock_levels()
                                                if level.sku})
        temu_skus = read_temu_skus(context)
        wholecell_skus = wholecell_read.result()
    (catalog or InventoryMirror()).save_catalog(connection_id, wholecell_skus, context.clock.now())
    existing = {listing.temu_sku_id: listing for listing in repository.iter_all(connection_id)}
    now = context.clock.now()

    new: list[Listing] = []
    changed: list[Listing] = []
    for sku_id, sku in temu_skus.items():
        before = existing.get(sku_id)
        listing = _listing(connection_id, sku, before, wholecell_skus, now)
        if before is None:
            new.append(listing)
        elif not listing.same_import_state(before):
            changed.append(listing)
        _count_listing(context, listing, before)

    for sku_id, before in existing.items():  # deleted on Temu: ended, kept
        if sku_id not in temu_skus and before.status is ListingStatus.ACTIVE:
            changed.append(before.model_copy(update={"status": ListingStatus.ENDED, "last_seen_at": now}))
            context.count("ended")

    repository.insert_many(new)
    for listing in changed:
        repository.update_import_fields(listing)
    size = max(len(temu_skus), len(wholecell_skus))
    if size != context.connection.catalog_size:  # the order fan-out sends this connection's work in
        (connections or ConnectionRepository()).record_catalog_size(connection_id, size)
    context.count("imported", len(temu_skus))
    context.count("new", len(new))
    context.count("updated", len(changed))
    logger.info("listing import done", extra={"counts": context.counts})
