"""The quantity-sync job against moto's DynamoDB with scripted Temu and WholeCell clients:
push outcomes, deferral when time runs short, the Temu-failure cut-off, rebuilds, the fail-safe,
and Temu quantities changed by someone else (up, or down beyond what Temu orders explain)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from moto import mock_aws
from wholecell_temu.config import load_settings
from wholecell_temu.domain.connection import Connection, ConnectionStatus
from wholecell_temu.domain.listings import ListingConnection, ListingStatus, SkuLink
from wholecell_temu.domain.settings import ConnectionSettings
from wholecell_temu.errors import ErrorClass
from wholecell_temu.jobs import quantity_sync
from wholecell_temu.jobs.framework import JobContext
from wholecell_temu.store.inventory import InventoryMirror
from wholecell_temu.store.listings import Listing, ListingRepository
from wholecell_temu.store.runs import Outcome, Run
from wholecell_temu.store.tables import InventoryMirrorModel, ListingModel, bind_tables
from wholecell_temu.temu.errors import TemuApiError
from wholecell_temu.wholecell import WholeCellApiError

from tests.fakes.temu import FakeTemu
from tests.fakes.wholecell import FakeWholeCell

NOW = datetime.now(UTC)
ENV = {f"{n}_TABLE": f"{n.title()}Table" for n in
       ["CONNECTIONS", "LISTINGS", "ORDERS", "SHIPMENTS", "INVENTORY", "RUNS", "IDEMPOTENCY"]} | {
    f"{q}_QUEUE_URL": "unused" for q in
    ["LISTING_IMPORT", "QUANTITY_SYNC", "ORDER_IMPORT", "ADDRESS_BACKFILL", "SHIPMENT_RECONCILE", "SHIPMENT"]} | {
    "INTERNAL_SECRET_ARN": "unused", "TEMU_APP_KEY": "k", "TEMU_APP_SECRET": "s", "TEMU_PUSH_WORKERS": "1"}


@pytest.fixture
def tables() -> Iterator[None]:
    with mock_aws():
        bind_tables(load_settings(ENV))
        for model in (ListingModel, InventoryMirrorModel):
            model.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
        yield


def connection(**settings: Any) -> Connection:
    return Connection(connection_id="c1", name="c", status=ConnectionStatus.ACTIVE, temu_region="US",
                      credentials_secret_arn="x", credentials_version="v",
                      settings=ConnectionSettings(inventory_sync_enabled=True, **settings), created_at=NOW,
                      updated_at=NOW)


def context(wholecell: FakeWholeCell, temu: FakeTemu, *, deadline: float | None = None,
            **settings: Any) -> JobContext[FakeTemu, FakeWholeCell]:
    run = Run(run_id="r", connection_id="c1", job="quantity_sync", trigger="schedule", outcome=Outcome.RUNNING,
              queued_key="k")
    ctx = JobContext(load_settings(ENV), connection(**settings), run, None, None, deadline=deadline)  # type: ignore[arg-type]
    return ctx.with_clients(temu=temu, wholecell=wholecell)


def seed_listings(goods: int) -> None:
    """One listing per goods (SKU id = goods id), connected to SKU `S<goods>`."""
    ListingRepository().insert_many(Listing(
        connection_id="c1", temu_sku_id=g, temu_goods_id=g, seller_sku=f"S{g}", status=ListingStatus.ACTIVE,
        connection=ListingConnection(mode="auto", skus=[SkuLink(sku=f"S{g}")]), first_seen_at=NOW,
        last_seen_at=NOW) for g in range(1, goods + 1))


def listings() -> dict[int, Listing]:
    return {listing.temu_sku_id: listing for listing in ListingRepository().iter_all("c1")}


def world(goods: int) -> tuple[FakeWholeCell, FakeTemu]:
    seed_listings(goods)
    wholecell = FakeWholeCell()
    for g in range(1, goods + 1):
        wholecell.set_units(f"S{g}", g, first_id=g * 100)
    return wholecell, FakeTemu()


def test_rejected_skus_and_goods_are_recorded_and_retried_next_run(tables: None) -> None:
    wholecell, temu = world(3)
    temu.reject_skus = {2}
    temu.raise_for = {3: TemuApiError("goods under review", error_class=ErrorClass.FIX_REQUEST, code=150010003)}
    ctx = context(wholecell, temu)
    quantity_sync.run(ctx)
    assert ctx.counts["pushed"] == 1 and ctx.counts["push_failed"] == 2
    stored = listings()
    assert (stored[1].last_pushed, stored[1].last_error) == (1, None)
    assert stored[2].last_pushed is None and "code 150010003" in (stored[2].last_error or "")
    assert stored[3].last_calculated == 3 and "goods under review" in (stored[3].last_error or "")

    temu.reject_skus, temu.raise_for, temu.edits = set(), {}, []
    quantity_sync.run(context(wholecell, temu))  # only the two failures are sent again
    assert sorted(temu.edits) == [(2, [(2, 2)]), (3, [(3, 3)])]
    assert all(listing.last_error is None for listing in listings().values())


def test_time_running_short_defers_pushes_to_a_follow_up_run(tables: None) -> None:
    wholecell, temu = world(4)
    ctx = context(wholecell, temu, deadline=time.monotonic() + quantity_sync.PUSH_TIME_RESERVE - 1)
    quantity_sync.run(ctx)
    assert temu.edits == [] and ctx.counts["deferred"] == 4 and ctx.continuation_requested
    assert all(listing.last_pushed is None for listing in listings().values())
    follow_up = context(wholecell, temu)
    quantity_sync.run(follow_up)
    assert follow_up.counts["pushed"] == 4 and not follow_up.continuation_requested


def test_temu_failing_repeatedly_stops_the_run(tables: None) -> None:
    wholecell, temu = world(8)
    down = TemuApiError("system busy", error_class=ErrorClass.RETRYABLE, code=4000000)
    temu.raise_for = dict.fromkeys(range(1, 9), down)
    with pytest.raises(Exception, match="kept failing"):
        quantity_sync.run(context(wholecell, temu))
    failed = [listing for listing in listings().values() if listing.last_error]
    assert len(failed) == quantity_sync.MAX_CONSECUTIVE_PUSH_FAILURES  # the rest was not even tried


def test_a_failed_read_writes_nothing_and_pushes_nothing(tables: None) -> None:
    wholecell, temu = world(3)
    quantity_sync.run(context(wholecell, temu))
    pushed = {g: listing.last_pushed for g, listing in listings().items()}
    wholecell.set_units("S3", 0, first_id=300)
    wholecell.fail = True
    with pytest.raises(WholeCellApiError):
        quantity_sync.run(context(wholecell, temu))
    assert {g: listing.last_pushed for g, listing in listings().items()} == pushed
    assert len(temu.edits) == 3
    mirror = InventoryMirror().load("c1")
    assert sum(1 for unit in mirror.units.values() if unit.sku == "S3") == 3  # mirror untouched


def test_rebuild_on_first_run_on_settings_change_and_when_due(tables: None) -> None:
    wholecell, temu = world(2)
    first = context(wholecell, temu)
    quantity_sync.run(first)
    assert first.counts["rebuilds"] == 1
    again = context(wholecell, temu)
    quantity_sync.run(again)
    assert "rebuilds" not in again.counts and again.counts.get("pushed", 0) == 0
    changed = context(wholecell, temu, inventory_statuses=["Available", "Refurbished"])
    quantity_sync.run(changed)
    assert changed.counts["rebuilds"] == 1
    state = InventoryMirror().load("c1").state
    InventoryMirror().save_state("c1", state.model_copy(update={"rebuilt_at": NOW - timedelta(hours=2)}))
    due = context(wholecell, temu, inventory_statuses=["Available", "Refurbished"])
    quantity_sync.run(due)
    assert due.counts["rebuilds"] == 1


def test_watermark_only_moves_forward_and_reads_only_changes(tables: None) -> None:
    wholecell, temu = world(2)
    quantity_sync.run(context(wholecell, temu))
    watermark = InventoryMirror().load("c1").state.units_watermark
    incremental = context(wholecell, temu)
    quantity_sync.run(incremental)
    assert incremental.counts.get("units_read", 0) == 3  # inside the overlap, re-read harmlessly
    assert InventoryMirror().load("c1").state.units_watermark == watermark


def reread_temu(goods: int) -> tuple[FakeWholeCell, FakeTemu]:
    """`goods` listings pushed once; the next run re-reads Temu's stock (the last re-read is due)."""
    wholecell, temu = world(goods)
    quantity_sync.run(context(wholecell, temu))
    state = InventoryMirror().load("c1").state
    InventoryMirror().save_state("c1", state.model_copy(update={"reasserted_at": NOW - timedelta(hours=2)}))
    return wholecell, temu


def test_a_quantity_lowered_on_temu_by_another_writer_is_flagged_down_and_pushed_back(tables: None) -> None:
    wholecell, temu = reread_temu(3)
    temu.stock[3] = 0  # another tool marks SKU 3 out of stock; no Temu order took its units
    temu.edits = []
    rerun = context(wholecell, temu)
    quantity_sync.run(rerun)
    assert temu.edits == [(3, [(3, 3)])] and temu.stock[3] == 3
    assert rerun.counts["overwritten_on_temu"] == rerun.counts["overwritten_on_temu_down"] == 1
    assert len(temu.order_windows) == 1  # one order read, for the lowered listing
    stored = listings()
    assert stored[3].overwritten_on_temu and stored[3].overwrite is not None
    seen = stored[3].overwrite
    assert (seen.direction, seen.temu_quantity, seen.last_pushed, seen.ordered_since_push, seen.repushed) == (
        "down", 0, 3, 0, 3)
    assert not stored[1].overwritten_on_temu and not stored[2].overwritten_on_temu

    # the next re-read finds Temu holding our value: the flag and what flagged it clear
    state = InventoryMirror().load("c1").state
    InventoryMirror().save_state("c1", state.model_copy(update={"reasserted_at": NOW - timedelta(hours=2)}))
    quantity_sync.run(context(wholecell, temu))
    assert not listings()[3].overwritten_on_temu and listings()[3].overwrite is None


def test_a_quantity_lowered_by_temu_orders_is_not_flagged(tables: None) -> None:
    wholecell, temu = reread_temu(3)
    temu.sell(3, 2, "PO-211-1")  # Temu shows 1 of the 3 pushed: the order explains it
    temu.sell(2, 1, "PO-211-2")
    temu.stock[2] -= 1  # ... but SKU 2 lost a unit more than its order took
    temu.edits = []
    rerun = context(wholecell, temu)
    quantity_sync.run(rerun)
    assert rerun.counts["temu_sold_since_push"] == 1 and rerun.counts["overwritten_on_temu_down"] == 1
    stored = listings()
    assert not stored[3].overwritten_on_temu and stored[3].overwrite is None
    assert stored[2].overwritten_on_temu and stored[2].overwrite is not None
    assert (stored[2].overwrite.temu_quantity, stored[2].overwrite.ordered_since_push) == (0, 1)
    # both re-asserted (WholeCell has not heard of the orders yet)
    assert sorted(temu.edits) == [(2, [(2, 2)]), (3, [(3, 3)])]


def test_a_temu_quantity_raised_is_flagged_up_without_reading_orders(tables: None) -> None:
    wholecell, temu = reread_temu(2)
    temu.stock[2] = 40
    rerun = context(wholecell, temu)
    quantity_sync.run(rerun)
    assert rerun.counts["overwritten_on_temu_up"] == 1 and temu.order_windows == []
    seen = listings()[2].overwrite
    assert seen is not None and (seen.direction, seen.temu_quantity, seen.last_pushed) == ("up", 40, 2)


def test_a_lowered_quantity_goes_unjudged_when_temu_orders_cannot_be_read(tables: None) -> None:
    wholecell, temu = reread_temu(2)
    temu.stock[2] = 0
    temu.orders_fail = TemuApiError("scope missing", error_class=ErrorClass.REAUTHORIZE, code=3000032)
    rerun = context(wholecell, temu)
    quantity_sync.run(rerun)  # the sync goes on: the order read only explains
    assert rerun.counts["temu_orders_unread"] == 1 and rerun.counts["temu_lower_unjudged"] == 1
    assert "overwritten_on_temu" not in rerun.counts and not listings()[2].overwritten_on_temu
    assert temu.stock[2] == 2  # re-asserted all the same


def test_a_listing_pushed_before_the_order_lookback_is_not_judged_down(tables: None) -> None:
    wholecell, temu = reread_temu(2)
    old = NOW - quantity_sync.ORDER_LOOKBACK - timedelta(days=1)
    ListingModel("c1", "2").update(actions=[ListingModel.last_pushed_at.set(old)])
    temu.stock[2] = 0
    rerun = context(wholecell, temu)
    quantity_sync.run(rerun)
    after, before = temu.order_windows[0]
    assert before - after <= quantity_sync.ORDER_LOOKBACK.total_seconds() + 2 * quantity_sync.TEMU_CLOCK_SKEW_SECONDS
    assert rerun.counts["temu_lower_unjudged"] == 1 and not listings()[2].overwritten_on_temu
