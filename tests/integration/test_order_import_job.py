"""The order-import job against moto's DynamoDB with scripted Temu and WholeCell clients: the
watermark (greatest updateTime, forward only, held before a failure), the overlap window,
overlapping runs (creates and follow-ups), the masked-address fallback and a create whose
outcome is unknown."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from moto import mock_aws
from wholecell_temu.config import load_settings
from wholecell_temu.domain.connection import Connection, ConnectionStatus
from wholecell_temu.domain.listings import ListingConnection, ListingStatus, SkuLink
from wholecell_temu.domain.orders import OVERLAP_SECONDS
from wholecell_temu.domain.quantities import MirrorOrder, MirrorOrderItem, MirrorUnit
from wholecell_temu.domain.settings import ConnectionSettings
from wholecell_temu.jobs import address_backfill, order_import
from wholecell_temu.jobs.framework import JobContext
from wholecell_temu.store.inventory import InventoryMirror, MirrorChanges, MirrorState
from wholecell_temu.store.listings import Listing, ListingRepository
from wholecell_temu.store.orders import OrderRepository
from wholecell_temu.store.runs import Outcome, Run
from wholecell_temu.store.states import AddressState
from wholecell_temu.store.tables import InventoryMirrorModel, ListingModel, OrderModel, bind_tables
from wholecell_temu.temu.models import Order

from tests.fakes.temu import FakeTemu, temu_order
from tests.fakes.wholecell import FakeWholeCell
from tests.integration.test_quantity_sync_job import ENV

NOW = datetime.now(UTC)

@pytest.fixture
def tables() -> Iterator[None]:
    with mock_aws():
        bind_tables(load_settings(ENV))
        for model in (ListingModel, InventoryMirrorModel, OrderModel):
            model.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
        yield


STATUS_MAP = {"1": "Pending", "2": "Awaiting Fulfillment", "4": "Shipped"}


def context(temu: FakeTemu, wholecell: FakeWholeCell, run_id: str = "r1",
            status_map: dict[str, str] | None = None) -> JobContext[FakeTemu, FakeWholeCell]:
    connection = Connection(connection_id="c1", name="c", status=ConnectionStatus.ACTIVE, temu_region="US",
                            credentials_secret_arn="x", credentials_version="v", created_at=NOW, updated_at=NOW,
                            settings=ConnectionSettings(order_import_enabled=True,
                                                        order_status_map=status_map or STATUS_MAP))
    run = Run(run_id=run_id, connection_id="c1", job="order_import", trigger="schedule", outcome=Outcome.RUNNING,
              queued_key="k")
    ctx = JobContext(load_settings(ENV), connection, run, None, None)  # type: ignore[arg-type]
    return ctx.with_clients(temu=temu, wholecell=wholecell)


def test_watermark_is_the_greatest_update_time_and_only_moves_forward(tables: None) -> None:
    now = int(time.time())
    temu = FakeTemu([temu_order("PO-1", 1, now - 300), temu_order("PO-2", 2, now - 100)])
    wholecell = FakeWholeCell()
    order_import.run(context(temu, wholecell))
    repo = OrderRepository()
    assert repo.watermark("c1") == now - 100  # not "now"
    first_start, first_end = temu.windows[0]
    assert first_start <= now - 7 * 86400 + 5 and first_end >= now  # first run: the look-back
    order_import.run(context(temu, wholecell))
    assert temu.windows[1][0] == now - 100 - OVERLAP_SECONDS  # later runs: watermark - overlap
    assert len(wholecell.created) == 2  # the overlap re-reads, never re-creates
    assert not repo.advance_watermark("c1", now - 200) and repo.watermark("c1") == now - 100


def test_a_failed_order_holds_the_watermark_and_others_flow(tables: None) -> None:
    now = int(time.time())
    temu = FakeTemu([temu_order("PO-BAD", 1, now - 500), temu_order("PO-OK", 1, now - 50)])
    wholecell = FakeWholeCell()
    wholecell.fail_refs = {"PO-BAD"}
    ctx = context(temu, wholecell)
    with pytest.raises(Exception, match="1 order"):
        order_import.run(ctx)
    assert [c.external_reference for c in wholecell.created] == ["PO-OK"]
    assert OrderRepository().watermark("c1") == now - 501  # the next run sees PO-BAD again
    wholecell.fail_refs = set()
    order_import.run(context(temu, wholecell))
    assert sorted(c.external_reference for c in wholecell.created) == ["PO-BAD", "PO-OK"]


@pytest.fixture
def atomic_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    """moto evaluates a conditional write and applies it without a lock, so two threads can both
    pass one condition; DynamoDB makes each request atomic. Serialize requests (not runs) so the
    runs still interleave between requests, as they would against DynamoDB."""
    from botocore.client import BaseClient  # noqa: PLC0415

    lock = threading.Lock()
    original = BaseClient._make_api_call

    def atomic(self: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        with lock:
            return original(self, operation, params)

    monkeypatch.setattr(BaseClient, "_make_api_call", atomic)


def test_overlapping_runs_create_each_order_once(tables: None, atomic_requests: None) -> None:
    now = int(time.time())
    temu = FakeTemu([temu_order(f"PO-{n}", 1, now - n) for n in range(1, 21)])
    wholecell = FakeWholeCell()
    errors: list[BaseException] = []

    def one_run(run_id: str) -> None:
        try:
            order_import.run(context(temu, wholecell, run_id))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=one_run, args=(f"run-{i}",)) for i in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    references = [c.external_reference for c in wholecell.created]
    assert sorted(references) == sorted(set(references)) and len(references) == 20


def test_masked_addresses_are_read_decrypted(tables: None) -> None:
    temu = FakeTemu([temu_order("PO-9", 2, int(time.time()) - 10)])
    wholecell = FakeWholeCell()
    ctx = context(temu, wholecell)
    order_import.run(ctx)
    address = wholecell.created[0].shipping_address
    assert temu.decrypted == 1 and address is not None and address.street1 == "418 Maple Ave"
    assert ctx.counts["addresses_decrypted"] == 1


def test_a_create_whose_response_was_lost_is_found_not_repeated(tables: None) -> None:
    temu = FakeTemu([temu_order("PO-LOST", 1, int(time.time()) - 10)])
    wholecell = FakeWholeCell()
    wholecell.lost_refs = {"PO-LOST"}
    ctx = context(temu, wholecell)
    order_import.run(ctx)
    assert len(wholecell.created) == 1 and wholecell.lookups == 1 and ctx.counts["verified_after_timeout"] == 1
    assert OrderRepository().get("c1", "PO-LOST").wholecell_order_id == 1  # type: ignore[union-attr]


def test_a_follow_up_ignores_a_temu_view_older_than_the_record(tables: None) -> None:
    now = int(time.time())
    temu = FakeTemu([temu_order("PO-1", 1, now - 300)])
    wholecell = FakeWholeCell()
    order_import.run(context(temu, wholecell))
    temu.orders = [temu_order("PO-1", 4, now - 100)]
    order_import.run(context(temu, wholecell))
    assert wholecell.status[1] == "Shipped"
    temu.orders = [temu_order("PO-1", 2, now - 200)]  # an older snapshot, as a slow overlapping run holds it
    ctx = context(temu, wholecell)
    order_import.run(ctx, parent_order_sn="PO-1")
    assert wholecell.status[1] == "Shipped" and len(wholecell.patches) == 1
    assert ctx.counts["older_temu_view_ignored"] == 1
    record = OrderRepository().get("c1", "PO-1")
    assert record is not None and record.wholecell_status == "Shipped" and record.temu_update_time == now - 100


def test_a_follow_up_waits_for_another_runs_claim_and_holds_the_watermark(tables: None) -> None:
    now = int(time.time())
    temu = FakeTemu([temu_order("PO-1", 1, now - 300)])
    wholecell = FakeWholeCell()
    order_import.run(context(temu, wholecell))
    repo = OrderRepository()
    repo.claim_follow_up("c1", "PO-1", "another-run", 60)
    temu.orders = [temu_order("PO-1", 2, now - 100)]
    ctx = context(temu, wholecell)
    order_import.run(ctx)
    assert ctx.counts["claimed_by_another_run"] == 1 and wholecell.patches == []
    assert repo.watermark("c1") == now - 300  # PO-1's new view is read again next run
    with pytest.raises(Exception, match="ConditionalCheckFailed"):  # only the holder records or releases
        repo.update_imported(repo.get("c1", "PO-1"), "r1", address_changed=False)  # type: ignore[arg-type]
    with pytest.raises(Exception, match="another run is updating order PO-1"):  # a re-import asked for by hand
        order_import.run(context(temu, wholecell), parent_order_sn="PO-1")
    repo.release_follow_up("c1", "PO-1", "another-run")
    order_import.run(context(temu, wholecell))
    record = repo.get("c1", "PO-1")
    assert wholecell.status[1] == "Awaiting Fulfillment" and record is not None
    assert record.wholecell_status == "Awaiting Fulfillment" and record.claim_owner is None
    assert record.claim_until is None and repo.watermark("c1") == now - 100


def claim_owner(sn: str) -> str | None:
    record = OrderRepository().get("c1", sn)
    return None if record is None else record.claim_owner


def test_overlapping_follow_ups_leave_wholecell_and_the_record_in_step(tables: None, atomic_requests: None) -> None:
    """Run A (older view: awaiting shipment) is inside its PATCH when run B (newer view:
    shipped) follows the same order: B waits for A's claim instead of interleaving, and the
    next run brings both WholeCell and the record to the newest view."""
    now = int(time.time())
    wholecell = FakeWholeCell()
    order_import.run(context(FakeTemu([temu_order("PO-1", 1, now - 300)]), wholecell))
    gate = wholecell.patch_gate["Awaiting Fulfillment"] = threading.Event()
    older, newer = FakeTemu([temu_order("PO-1", 2, now - 200)]), FakeTemu([temu_order("PO-1", 4, now - 100)])
    run_a = threading.Thread(target=order_import.run, args=(context(older, wholecell, "A"),))
    run_a.start()
    deadline = time.time() + 10
    while claim_owner("PO-1") != "A":  # A is inside its PATCH, holding the order
        assert time.time() < deadline
        time.sleep(0.01)
    ctx_b = context(newer, wholecell, "B")
    order_import.run(ctx_b)
    gate.set()
    run_a.join(10)
    assert ctx_b.counts["claimed_by_another_run"] == 1
    assert [p.status for _, p in wholecell.patches] == ["Awaiting Fulfillment"]
    order_import.run(context(newer, wholecell, "C"))
    record = OrderRepository().get("c1", "PO-1")
    assert wholecell.status[1] == "Shipped" and record is not None and record.wholecell_status == "Shipped"


def test_a_follow_up_never_overwrites_an_address_the_backfill_filled(tables: None) -> None:
    now = int(time.time())
    temu = FakeTemu([temu_order("PO-1", 1, now - 300)])
    wholecell = FakeWholeCell()
    order_import.run(context(temu, wholecell))
    repo = OrderRepository()
    seen_by_import = repo.get("c1", "PO-1")
    assert seen_by_import is not None and seen_by_import.address_state == "awaiting"
    # the backfill, between the import's read and write
    repo.set_address_state("c1", "PO-1", AddressState.FILLED, None, 2)
    repo.claim_follow_up("c1", "PO-1", "r2", 60)
    followed = seen_by_import.model_copy(update={"temu_status": 2, "wholecell_status": "Awaiting Fulfillment"})
    repo.update_imported(followed, "r2", address_changed=False)
    record = repo.get("c1", "PO-1")
    assert record is not None and record.address_state == "filled" and record.wholecell_status == "Awaiting Fulfillment"
    assert list(repo.iter_awaiting_address("c1")) == []


def test_a_claim_taken_over_twice_still_looks_up_since_the_first_attempt(tables: None) -> None:
    repo = OrderRepository()
    first = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
    assert repo.claim("c1", "PO-7", "r1", 60, first) is None
    repo.expire_claim("c1", "PO-7", "r1")
    second = repo.claim("c1", "PO-7", "r2", 60, datetime(2026, 11, 1, 11, 0, tzinfo=UTC))
    repo.expire_claim("c1", "PO-7", "r2")
    third = repo.claim("c1", "PO-7", "r3", 60, datetime(2026, 11, 1, 12, 0, tzinfo=UTC))
    assert second is not None and third is not None and second.claimed_at == third.claimed_at == first


def test_the_backfill_gives_up_on_an_order_temu_closed_since_the_import_saw_it(tables: None) -> None:
    now = int(time.time())
    temu = FakeTemu([temu_order("PO-1", 1, now - 300), temu_order("PO-2", 1, now - 300)])
    wholecell = FakeWholeCell()
    order_import.run(context(temu, wholecell))
    repo = OrderRepository()
    for sn in ("PO-1", "PO-2"):  # the import saw both awaiting shipment
        repo.set_address_state("c1", sn, AddressState.AWAITING, None, 2)
    temu.orders = [temu_order("PO-1", 3, now - 100), temu_order("PO-2", 2, now - 100)]  # PO-1 cancelled since
    ctx = context(temu, wholecell)
    address_backfill.run(ctx)  # does not fail the run
    assert ctx.counts["given_up"] == 1 and ctx.counts["filled"] == 1
    cancelled = repo.get("c1", "PO-1")
    assert cancelled is not None and cancelled.address_state == "unavailable" and cancelled.temu_status == 3
    assert "3" in (cancelled.address_reason or "") and list(repo.iter_awaiting_address("c1")) == []


def test_a_failure_before_the_create_releases_the_claim_at_once(tables: None) -> None:
    temu = FakeTemu([temu_order("PO-1", 2, int(time.time()) - 10)])
    temu.address_read_failures = 1
    wholecell = FakeWholeCell()
    with pytest.raises(Exception, match="1 order"):
        order_import.run(context(temu, wholecell, "r1"))
    ctx = context(temu, wholecell, "r2")
    order_import.run(ctx)  # not held for the claim's 15 minutes
    assert "claimed_by_another_run" not in ctx.counts and len(wholecell.created) == 1
    assert ctx.counts["verified_after_crash"] == 1  # the takeover looked it up first


def test_the_backfill_rechecks_pending_orders_in_bulk(tables: None) -> None:
    now = int(time.time())
    temu = FakeTemu([temu_order(f"PO-{n}", 1, now - 300) for n in range(45)])
    wholecell = FakeWholeCell()
    order_import.run(context(temu, wholecell))
    temu.orders = [temu_order(f"PO-{n}", 2 if n in (3, 22, 44) else 1, now - 100) for n in range(45)]
    ctx = context(temu, wholecell)
    address_backfill.run(ctx)  # the import has not seen the confirmations yet
    assert temu.list_calls == 3 and temu.detail_reads == 0  # ceil(45 / 20) list calls, no detail read each
    assert ctx.counts == {"awaiting": 45, "still_pending": 42, "filled": 3, "addresses_decrypted": 3}
    filled = {sn for sn in (f"PO-{n}" for n in range(45))
              if (r := OrderRepository().get("c1", sn)) is not None and r.address_state == "filled"}
    assert filled == {"PO-3", "PO-22", "PO-44"}


def test_a_backfill_short_of_time_leaves_the_rest_to_a_follow_up_run(tables: None) -> None:
    now = int(time.time())
    temu = FakeTemu([temu_order("PO-1", 1, now - 300)])
    wholecell = FakeWholeCell()
    order_import.run(context(temu, wholecell))
    temu.orders = [temu_order("PO-1", 2, now - 100)]
    ctx = context(temu, wholecell)
    ctx.deadline = time.monotonic() + 5  # less than the reserve
    address_backfill.run(ctx)
    assert ctx.counts == {"awaiting": 1, "left_for_next_run": 1} and ctx.continuation_requested
    assert wholecell.patches == [] and OrderRepository().get("c1", "PO-1").address_state == "awaiting"  # type: ignore[union-attr]


def test_a_failed_status_check_still_fills_the_released_orders(tables: None) -> None:
    now = int(time.time())
    temu = FakeTemu([temu_order("PO-1", 1, now - 300), temu_order("PO-2", 1, now - 300)])
    wholecell = FakeWholeCell()
    order_import.run(context(temu, wholecell))
    OrderRepository().set_address_state("c1", "PO-2", AddressState.AWAITING, None, 2)  # the import saw PO-2 released
    temu.orders = [temu_order("PO-1", 2, now - 100), temu_order("PO-2", 2, now - 100)]
    temu.list_failures = 1
    ctx = context(temu, wholecell)
    address_backfill.run(ctx)  # PO-2 filled; PO-1's status unknown this run
    assert ctx.counts == {"awaiting": 2, "status_check_failed": 1, "still_pending": 1, "filled": 1,
                          "addresses_decrypted": 1}
    address_backfill.run(ctx := context(temu, wholecell))
    assert ctx.counts["filled"] == 1  # PO-1, next run


def test_a_reimport_applies_what_temu_shows_now(tables: None) -> None:
    """Re-import reads the order through the list call (it carries updateTime) and, when the list
    does not return it, through the detail, which has no updateTime: read under the claim, it is
    applied as the newest view, never ignored as an older one."""
    now = int(time.time())
    temu = FakeTemu([temu_order("PO-1", 1, now - 300), temu_order("PO-2", 1, now - 300)])
    wholecell = FakeWholeCell()
    order_import.run(context(temu, wholecell))
    repo = OrderRepository()
    po1, po2 = (repo.get("c1", sn).wholecell_order_id or 0 for sn in ("PO-1", "PO-2"))  # type: ignore[union-attr]
    temu.orders = [temu_order("PO-1", 2, now - 100), temu_order("PO-2", 4, now - 100)]
    order_import.run(context(temu, wholecell), parent_order_sn="PO-1")
    assert wholecell.status[po1] == "Awaiting Fulfillment" and temu.detail_reads == 0
    temu.unlisted = {"PO-2"}
    ctx = context(temu, wholecell)
    order_import.run(ctx, parent_order_sn="PO-2")
    assert wholecell.status[po2] == "Shipped" and ctx.counts["read_by_detail"] == 1
    assert temu.detail_reads == 2  # once to decide, once more under the claim
    record = OrderRepository().get("c1", "PO-2")
    assert record is not None and record.wholecell_status == "Shipped" and record.temu_status == 4
    assert record.temu_update_time == now - 300  # a detail read invents no update time
    temu.orders = [temu_order("PO-1", 2, now - 100), temu_order("PO-2", 2, now - 200)]  # an older list view
    temu.unlisted = set()
    order_import.run(context(temu, wholecell), parent_order_sn="PO-2")
    assert wholecell.status[po2] == "Shipped"


# --- listings connected to several SKUs (issue #17) -------------------------------------------

def pooled_order(sn: str, update_time: int, *quantities: int) -> Order:
    """An order awaiting shipment whose lines are all on Temu SKU 5 (the pooled listing)."""
    return Order.model_validate({
        "parentOrderMap": {"parentOrderSn": sn, "parentOrderStatus": 2, "updateTime": update_time, "regionId": 211},
        "orderList": [{"orderSn": f"{sn}-{n}", "goodsId": 1, "skuId": 5, "quantity": quantity, "orderStatus": 2,
                       "goodsName": "Phone"} for n, quantity in enumerate(quantities, start=1)]})


def seed_pooled_listing(built: bool = True, **units: tuple[int, int]) -> None:
    """Temu SKU 5 connected to WholeCell SKUs A then B; `units[sku]` = (available units, units an
    open WholeCell order still needs), in a mirror the quantity sync has built (or never built)."""
    ListingRepository().insert_many([Listing(
        connection_id="c1", temu_sku_id=5, temu_goods_id=1, status=ListingStatus.ACTIVE,
        connection=ListingConnection(mode="manual", skus=[SkuLink(sku="A"), SkuLink(sku="B")]),
        first_seen_at=NOW, last_seen_at=NOW)])
    mirror, changes, unit_id = InventoryMirror(), MirrorChanges(), 0
    for sku, (available, outstanding) in units.items():
        for _ in range(available):
            unit_id += 1
            changes.put_units.append(MirrorUnit(unit_id, sku, None, "Available", None))
        unit_id += 1  # sold units never count
        changes.put_units.append(MirrorUnit(unit_id, sku, None, "Sold", None))
        if outstanding:
            changes.put_orders.append(MirrorOrder(1000 + unit_id, "Open", (MirrorOrderItem(sku, None, outstanding),)))
    mirror.apply("c1", changes, NOW)
    if built:
        mirror.save_state("c1", MirrorState(rebuilt_at=NOW, open_statuses=["Open"]))


def test_a_pooled_listing_orders_the_sku_with_the_most_available_and_keeps_it(tables: None) -> None:
    """B holds more units than A (5 to 2), but an open WholeCell order still needs 4 of them: net
    A 2, B 1, as the quantity sync counts them. The first line (2) takes A; the second (1) sees
    A emptied by the first and takes B. A later cancellation keeps both SKUs, although B has
    plenty by then: WholeCell must not see its items moved."""
    now = int(time.time())
    seed_pooled_listing(A=(2, 0), B=(5, 4))
    temu = FakeTemu([pooled_order("PO-1", now - 300, 2, 1)])
    wholecell = FakeWholeCell()
    order_import.run(context(temu, wholecell))
    assert [(i.sku, i.quantity) for i in wholecell.created[0].order_items] == [("A", 2), ("B", 1)]
    record = OrderRepository().get("c1", "PO-1")
    assert record is not None
    assert [(line.sku, line.choice_reason) for line in record.lines] == [
        ("A", "most available: A 2, B 1"), ("B", "most available: B 1, A 0")]

    InventoryMirror().apply("c1", MirrorChanges(put_units=[  # restocked: B now has far more than A
        MirrorUnit(100 + n, "B", None, "Available", None) for n in range(40)]), NOW)
    temu.orders = [pooled_order("PO-1", now - 100, 1, 1)]  # one unit of the first line cancelled
    order_import.run(context(temu, wholecell))
    assert [[(i.sku, i.quantity) for i in patch.order_items or []] for _, patch in wholecell.patches] == [
        [("A", 1), ("B", 1)]]
    after = OrderRepository().get("c1", "PO-1")
    assert after is not None and [(line.sku, line.temu_quantity) for line in after.lines] == [("A", 1), ("B", 1)]
    assert [line.choice_reason for line in after.lines] == [line.choice_reason for line in record.lines]


def test_a_pooled_listing_without_a_built_mirror_orders_the_configured_first_sku(tables: None) -> None:
    seed_pooled_listing(built=False, B=(9, 0))  # units read, but the quantity sync never finished a build
    temu = FakeTemu([pooled_order("PO-1", int(time.time()) - 300, 1)])
    wholecell = FakeWholeCell()
    order_import.run(context(temu, wholecell))
    assert [i.sku for i in wholecell.created[0].order_items] == ["A"]
    record = OrderRepository().get("c1", "PO-1")
    assert record is not None and record.lines[0].choice_reason == "availability unknown, configured order: A, B"


def test_only_the_poll_moves_the_watermark(tables: None) -> None:
    """A skipped order imported later is read again by itself, after the poll read its window: its
    newer updateTime must not carry the watermark past orders the poll has not seen."""
    now = int(time.time())
    temu = FakeTemu([temu_order("PO-A", 1, now - 300)])
    wholecell = FakeWholeCell()
    order_import.run(context(temu, wholecell))
    temu.orders.append(temu_order("PO-S", 41, now - 250))  # partially shipped: not mapped yet
    order_import.run(context(temu, wholecell))
    assert OrderRepository().get("c1", "PO-S").import_state == "skipped"  # type: ignore[union-attr]
    temu.orders[-1] = temu_order("PO-S", 41, now + 1000)  # changed on Temu after this run's poll
    order_import.run(context(temu, wholecell, status_map={**STATUS_MAP, "41": "Partially Shipped"}))
    assert [c.external_reference for c in wholecell.created] == ["PO-A", "PO-S"]
    assert OrderRepository().watermark("c1") == now - 250


# --- orders skipped on a connection's first run (issue #17) -----------------------------------

def context_with(temu: FakeTemu, wholecell: FakeWholeCell, run_id: str = "r1",
                 **changes: Any) -> JobContext[FakeTemu, FakeWholeCell]:
    """`context`, with the connection's settings changed."""
    ctx = context(temu, wholecell, run_id)
    ctx.connection = ctx.connection.model_copy(
        update={"settings": ctx.connection.settings.model_copy(update=changes)})
    return ctx


def imported(wholecell: FakeWholeCell) -> list[str]:
    return [body.external_reference for body in wholecell.created]


def state(sn: str) -> str | None:
    record = OrderRepository().get("c1", sn)
    return None if record is None else record.import_state


def test_first_run_pending_orders_waiting_for_confirmation_come_in_once_confirmed(tables: None) -> None:
    now = int(time.time())
    temu = FakeTemu([temu_order("PO-P", 1, now - 300), temu_order("PO-H", 4, now - 200)])
    wholecell = FakeWholeCell()
    order_import.run(context_with(temu, wholecell, order_acknowledgment="wait_for_confirmation"))
    assert imported(wholecell) == [] and state("PO-P") == "skipped" and state("PO-H") == "excluded"
    temu.orders[0] = temu_order("PO-P", 2, now - 100)  # confirmed: awaiting shipment
    temu.orders[1] = temu_order("PO-H", 4, now - 90)  # history touched again on Temu: still left alone
    order_import.run(context_with(temu, wholecell, order_acknowledgment="wait_for_confirmation"))
    assert imported(wholecell) == ["PO-P"] and state("PO-P") == "imported" and state("PO-H") == "excluded"
    assert wholecell.created[0].status == "Awaiting Fulfillment"


def test_first_run_with_status_1_unmapped_imports_the_order_once_temu_moves_it_on(tables: None) -> None:
    now = int(time.time())
    temu = FakeTemu([temu_order("PO-U", 1, now - 300)])
    wholecell = FakeWholeCell()
    order_import.run(context_with(temu, wholecell, order_status_map={"2": "Awaiting Fulfillment"}))
    record = OrderRepository().get("c1", "PO-U")
    assert record is not None and record.import_state == "skipped" and "not mapped" in (record.skip_reason or "")
    temu.orders[0] = temu_order("PO-U", 2, now - 100)
    order_import.run(context_with(temu, wholecell, order_status_map={"2": "Awaiting Fulfillment"}))
    assert imported(wholecell) == ["PO-U"] and state("PO-U") == "imported"


def test_mapping_the_status_later_imports_orders_skipped_on_the_first_run(tables: None) -> None:
    """A settings change alone (nothing new on Temu) makes the skipped order importable."""
    now = int(time.time())
    temu = FakeTemu([temu_order("PO-U", 1, now - 300)])
    wholecell = FakeWholeCell()
    order_import.run(context_with(temu, wholecell, order_status_map={"2": "Awaiting Fulfillment"}))
    order_import.run(context_with(temu, wholecell, order_status_map={"2": "Awaiting Fulfillment"}))
    assert imported(wholecell) == []
    order_import.run(context_with(temu, wholecell, order_status_map={"1": "Pending", "2": "Awaiting Fulfillment"}))
    assert imported(wholecell) == ["PO-U"] and wholecell.created[0].status == "Pending"


def test_a_run_by_hand_while_order_import_is_off_loses_nothing(tables: None) -> None:
    now = int(time.time())
    temu = FakeTemu([temu_order("PO-W", 1, now - 300), temu_order("PO-H", 4, now - 200)])
    wholecell = FakeWholeCell()
    ctx = context_with(temu, wholecell, order_import_enabled=False)
    order_import.run(ctx)
    assert imported(wholecell) == [] and state("PO-W") == "skipped" and state("PO-H") == "excluded"
    assert OrderRepository().watermark("c1") is None  # the first import's window is still to come
    assert ctx.counts["watermark_kept_while_off"] == 1
    temu.orders[0] = temu_order("PO-W", 2, now - 100)  # moved on while the switch was off
    order_import.run(context_with(temu, wholecell))
    assert imported(wholecell) == ["PO-W"] and state("PO-H") == "excluded"
    assert temu.windows[1][0] <= now - 7 * 86400 + 5  # the first importing run looks back in full


def test_turning_order_import_on_imports_what_a_run_by_hand_skipped(tables: None) -> None:
    """Once a watermark exists: a run while off keeps it, and the next run imports what it skipped."""
    now = int(time.time())
    temu = FakeTemu([temu_order("PO-A", 2, now - 900)])
    wholecell = FakeWholeCell()
    order_import.run(context_with(temu, wholecell))
    temu.orders.append(temu_order("PO-B", 2, now - 300))
    order_import.run(context_with(temu, wholecell, order_import_enabled=False))
    assert state("PO-B") == "skipped" and OrderRepository().watermark("c1") == now - 900
    temu.windows.clear()
    temu.orders = [o for o in temu.orders if o.parent_order_sn == "PO-B"]
    order_import.run(context_with(temu, wholecell))
    assert imported(wholecell) == ["PO-A", "PO-B"]
