"""The listing-import job against moto's DynamoDB with the shared Temu and WholeCell fakes: every
active and inactive SKU imported once, connected automatically by exact seller SKU only, a manual
connection kept, and listings ended (inactive or gone from Temu) and back."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from moto import mock_aws
from wholecell_temu.config import load_settings
from wholecell_temu.domain.connection import Connection, ConnectionStatus
from wholecell_temu.domain.listings import (
    TEMU_SKU_ACTIVE,
    TEMU_SKU_INACTIVE,
    TEMU_SUB_STATUS_SOLD_OUT,
    ListingConnection,
    ListingStatus,
    SkuLink,
)
from wholecell_temu.domain.settings import ConnectionSettings
from wholecell_temu.jobs import listing_import
from wholecell_temu.jobs.framework import JobContext
from wholecell_temu.store.connections import ConnectionRepository
from wholecell_temu.store.inventory import InventoryMirror
from wholecell_temu.store.listings import Listing, ListingRepository
from wholecell_temu.store.runs import Outcome, Run
from wholecell_temu.store.tables import ConnectionModel, InventoryMirrorModel, ListingModel, bind_tables
from wholecell_temu.temu.models import Sku
from wholecell_temu.wholecell.adapter import StockLevel

from tests.fakes.temu import FakeTemu, sku
from tests.fakes.wholecell import FakeWholeCell
from tests.integration.test_quantity_sync_job import ENV

NOW = datetime.now(UTC)
CATALOG = ["SKU-1", "SKU-2", "SKU-3", "SKU-4"]


@pytest.fixture
def tables() -> Iterator[None]:
    with mock_aws():
        bind_tables(load_settings(ENV))
        for model in (ListingModel, InventoryMirrorModel, ConnectionModel):
            model.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
        yield


def run(temu: FakeTemu, wholecell: FakeWholeCell,
        catalog_size: int | None = None) -> JobContext[FakeTemu, FakeWholeCell]:
    connection = Connection(connection_id="c1", name="c", status=ConnectionStatus.ACTIVE, temu_region="US",
                            credentials_secret_arn="x", credentials_version="v", created_at=NOW, updated_at=NOW,
                            settings=ConnectionSettings(), catalog_size=catalog_size)
    job_run = Run(run_id="r", connection_id="c1", job="listing_import", trigger="schedule", outcome=Outcome.RUNNING,
                  queued_key="k")
    ctx = JobContext(load_settings(ENV), connection, job_run, None, None).with_clients(  # type: ignore[arg-type]
        temu=temu, wholecell=wholecell)
    listing_import.run(ctx)
    return ctx


def shop() -> FakeTemu:
    temu = FakeTemu()
    temu.listed = {
        TEMU_SKU_ACTIVE: [sku(1, "SKU-1", stock=3), sku(2, "sku-2"), sku(3, None, goods_id=2),
                          sku(4, "SKU-4", goods_id=2), sku(5, "SKU-5", goods_id=3)],
        TEMU_SKU_INACTIVE: [sku(6, "ONLY-ON-TEMU", goods_id=4, status=TEMU_SKU_INACTIVE),
                            sku(1, "SKU-1", stock=3)],  # a SKU listed under both counts once
    }
    return temu


def stored() -> dict[int, Listing]:
    return {listing.temu_sku_id: listing for listing in ListingRepository().iter_all("c1")}


def test_every_sku_is_imported_once_and_connected_by_exact_seller_sku(tables: None) -> None:
    ctx = run(shop(), FakeWholeCell(catalog=CATALOG))
    assert ctx.counts == {"imported": 6, "new": 6, "updated": 0, "auto_connected": 2, "connected": 2,
                          "unconnected": 4}
    listings = stored()
    assert listings[1].connection == ListingConnection(mode="auto", skus=[SkuLink(sku="SKU-1")])
    assert listings[4].connection == ListingConnection(mode="auto", skus=[SkuLink(sku="SKU-4")])
    assert listings[2].connection is None  # "sku-2": a case difference is no match
    assert listings[3].connection is None and listings[3].seller_sku is None  # no seller SKU
    assert listings[5].connection is None  # not in WholeCell's catalog
    assert listings[1].temu_quantity == 3 and listings[1].title == "Goods 1"
    assert {sku_id for sku_id, listing in listings.items() if listing.status is ListingStatus.ENDED} == {6}
    catalog = InventoryMirror().load_catalog("c1")  # what connecting by hand reads later
    assert catalog is not None and catalog[0] == set(CATALOG)


def test_a_second_run_keeps_manual_connections_and_ends_what_temu_ended(tables: None) -> None:
    temu, wholecell = shop(), FakeWholeCell(catalog=CATALOG)
    run(temu, wholecell)
    manual = ListingConnection(mode="manual", skus=[SkuLink(sku="SKU-3", factor=2)])
    ListingRepository().update_import_fields(stored()[2].model_copy(update={"connection": manual}))
    wholecell.catalog.append("SKU-5")  # now in WholeCell: connected on the next run
    temu.listed[TEMU_SKU_ACTIVE] = [
        sku(1, "SKU-1", stock=0, status=TEMU_SKU_INACTIVE, sub_status=TEMU_SUB_STATUS_SOLD_OUT),  # sold out
        sku(2, "sku-2"), sku(3, None, goods_id=2), sku(5, "SKU-5", goods_id=3)]  # SKU 4 deleted on Temu
    temu.listed[TEMU_SKU_INACTIVE] = [sku(6, "ONLY-ON-TEMU", goods_id=4, status=TEMU_SKU_INACTIVE)]

    ctx = run(temu, wholecell)
    assert ctx.counts["new"] == 0 and ctx.counts["ended"] == 1 and ctx.counts["auto_connected"] == 1
    listings = stored()
    assert listings[2].connection == manual  # a connection made by hand survives the import
    assert listings[1].status is ListingStatus.ACTIVE and listings[1].temu_quantity == 0  # sold out stays active
    assert listings[4].status is ListingStatus.ENDED  # gone from Temu: ended, kept
    assert listings[4].connection == ListingConnection(mode="auto", skus=[SkuLink(sku="SKU-4")])
    assert listings[5].connection == ListingConnection(mode="auto", skus=[SkuLink(sku="SKU-5")])

    temu.listed[TEMU_SKU_ACTIVE].append(sku(4, "SKU-4", goods_id=2, stock=3))  # back on Temu
    ctx = run(temu, wholecell)
    assert stored()[4].status is ListingStatus.ACTIVE and "ended" not in ctx.counts


def test_wholecell_skus_are_read_while_temu_pages_are(tables: None) -> None:
    """Each API waits on its own budget: the Temu pages do not wait for WholeCell's catalog, nor it for
    them. The Temu fake hands out its first page only once WholeCell's catalog read has started."""
    started = threading.Event()

    class SlowCatalog(FakeWholeCell):
        def iter_stock_levels(self) -> Iterator[StockLevel]:
            started.set()
            yield from super().iter_stock_levels()

    class WaitingTemu(FakeTemu):
        def iter_skus(self, *, sku_search_type: int, sku_status_filter_type: int) -> Iterator[Sku]:
            assert started.wait(5), "WholeCell's catalog was not read while Temu's pages were"
            yield from super().iter_skus(sku_search_type=sku_search_type, sku_status_filter_type=sku_status_filter_type)

    temu = WaitingTemu()
    temu.listed[TEMU_SKU_ACTIVE] = [sku(1, "SKU-1")]
    context = run(temu, SlowCatalog(catalog=CATALOG))
    assert context.counts["imported"] == 1 and context.counts["auto_connected"] == 1


def test_the_run_keeps_how_much_it_read_on_the_connection_for_fan_out_order(tables: None,
                                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    connections = ConnectionRepository()
    stored_connection = connections.create(connection_id="c1", name="c", temu_region="US", credentials_secret_arn="x",
                                           credentials_version="v", settings=ConnectionSettings())
    assert stored_connection.catalog_size is None
    run(shop(), FakeWholeCell(catalog=[f"WC-{i}" for i in range(9)]))  # 6 Temu SKUs, 9 WholeCell SKUs
    after = connections.get("c1")
    assert after is not None and after.catalog_size == 9 and after.updated_at == stored_connection.updated_at
    run(shop(), FakeWholeCell(catalog=CATALOG), catalog_size=9)  # now Temu's 6 are the larger
    assert (connections.get("c1") or after).catalog_size == 6
    writes: list[int] = []
    monkeypatch.setattr(ConnectionRepository, "record_catalog_size", lambda self, cid, size: writes.append(size))
    run(shop(), FakeWholeCell(catalog=CATALOG), catalog_size=6)
    assert writes == []  # unchanged: no write
    monkeypatch.undo()
    connections.mark_deleted("c1")
    run(shop(), FakeWholeCell(catalog=[f"WC-{i}" for i in range(20)]), catalog_size=6)  # deleted: left alone
    gone = connections.get("c1")
    assert gone is not None and gone.catalog_size == 6
