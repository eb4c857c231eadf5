"""The address-backfill job against moto's DynamoDB with the shared Temu and WholeCell fakes: an
order imported while pending gets its address once Temu releases it (decrypted when the plain
call masks it), once; an order Temu closes before releasing it is given up with a reason."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from moto import mock_aws
from wholecell_temu.config import load_settings
from wholecell_temu.domain.connection import Connection, ConnectionStatus
from wholecell_temu.domain.settings import ConnectionSettings
from wholecell_temu.jobs import address_backfill, order_import
from wholecell_temu.jobs.framework import JobContext
from wholecell_temu.store.orders import OrderRepository
from wholecell_temu.store.runs import Outcome, Run
from wholecell_temu.store.states import AddressState
from wholecell_temu.store.tables import InventoryMirrorModel, ListingModel, OrderModel, bind_tables

from tests.fakes.temu import FakeTemu, temu_order
from tests.fakes.wholecell import FakeWholeCell
from tests.integration.test_quantity_sync_job import ENV

NOW = datetime.now(UTC)
STATUS_MAP = {"1": "Pending", "2": "Awaiting Fulfillment", "3": "Canceled", "4": "Shipped"}


@pytest.fixture
def tables() -> Iterator[None]:
    with mock_aws():
        bind_tables(load_settings(ENV))
        for model in (ListingModel, InventoryMirrorModel, OrderModel):
            model.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
        yield


def context(temu: FakeTemu, wholecell: FakeWholeCell, job: str) -> JobContext[FakeTemu, FakeWholeCell]:
    connection = Connection(connection_id="c1", name="c", status=ConnectionStatus.ACTIVE, temu_region="US",
                            credentials_secret_arn="x", credentials_version="v", created_at=NOW, updated_at=NOW,
                            settings=ConnectionSettings(order_import_enabled=True, order_status_map=STATUS_MAP))
    run = Run(run_id="r", connection_id="c1", job=job, trigger="schedule", outcome=Outcome.RUNNING, queued_key="k")
    return JobContext(load_settings(ENV), connection, run, None, None).with_clients(  # type: ignore[arg-type]
        temu=temu, wholecell=wholecell)


def backfill(temu: FakeTemu, wholecell: FakeWholeCell) -> dict[str, int]:
    ctx = context(temu, wholecell, "address_backfill")
    address_backfill.run(ctx)
    return ctx.counts


def imported_pending(*sns: str) -> tuple[FakeTemu, FakeWholeCell]:
    """Orders imported while pending on Temu (status 1): no address yet, waiting for one."""
    temu, wholecell = FakeTemu([temu_order(sn, 1, int(time.time()) - 300) for sn in sns]), FakeWholeCell()
    order_import.run(context(temu, wholecell, "order_import"))
    for sn in sns:
        record = OrderRepository().get("c1", sn)
        assert record is not None and record.address_state is AddressState.AWAITING
    assert all(body.shipping_address is None for body in wholecell.created)
    return temu, wholecell


def test_the_address_is_filled_once_temu_releases_it_decrypted_when_masked(tables: None) -> None:
    temu, wholecell = imported_pending("PO-1")
    assert backfill(temu, wholecell) == {"awaiting": 1, "still_pending": 1}  # Temu has not released it yet
    assert wholecell.patches == []

    temu.set_status("PO-1", 2)  # the buyer's order is confirmed: the address can be read
    assert backfill(temu, wholecell) == {"awaiting": 1, "filled": 1, "addresses_decrypted": 1}
    [(order_id, patch)] = wholecell.patches
    address = patch.shipping_address
    assert order_id == 1 and address is not None and address.street1 == "418 Maple Ave"  # decrypted, not masked
    assert patch.status is None and temu.decrypted == 1  # only the address is PATCHed
    record = OrderRepository().get("c1", "PO-1")
    assert record is not None and record.address_state is AddressState.FILLED and record.temu_status == 2
    assert list(OrderRepository().iter_awaiting_address("c1")) == []

    assert backfill(temu, wholecell) == {}  # nothing waits any more: nothing read, nothing written
    assert len(wholecell.patches) == 1


def test_an_address_temu_gives_in_full_is_not_decrypted(tables: None) -> None:
    temu, wholecell = imported_pending("PO-1")
    temu.set_status("PO-1", 2)
    temu.masked = False
    assert backfill(temu, wholecell) == {"awaiting": 1, "filled": 1}
    address = wholecell.patches[0][1].shipping_address
    assert temu.decrypted == 0 and address is not None and address.street1 == "418 Maple Ave"


def test_an_order_closed_before_its_address_was_released_is_given_up(tables: None) -> None:
    temu, wholecell = imported_pending("PO-1", "PO-2")
    temu.set_status("PO-1", 3)  # cancelled while pending
    temu.set_status("PO-2", 2)
    assert backfill(temu, wholecell) == {"awaiting": 2, "given_up": 1, "filled": 1, "addresses_decrypted": 1}
    given_up = OrderRepository().get("c1", "PO-1")
    assert given_up is not None and given_up.address_state is AddressState.UNAVAILABLE and given_up.temu_status == 3
    assert "Temu status 3" in (given_up.address_reason or "")
    filled = OrderRepository().get("c1", "PO-2")
    assert filled is not None and filled.address_state is AddressState.FILLED
    assert [order_id for order_id, _ in wholecell.patches] == [filled.wholecell_order_id]  # PO-2's only
    assert backfill(temu, wholecell) == {}  # neither is looked at again


def test_an_order_closed_after_the_import_saw_it_released_is_given_up(tables: None) -> None:
    """The import saw the order awaiting shipment, so the backfill reads its address directly;
    Temu refuses it because the order was cancelled since: given up, not failed."""
    temu, wholecell = imported_pending("PO-1")
    OrderRepository().set_address_state("c1", "PO-1", AddressState.AWAITING, None, 2)
    temu.set_status("PO-1", 3)
    assert backfill(temu, wholecell) == {"awaiting": 1, "given_up": 1}
    record = OrderRepository().get("c1", "PO-1")
    assert record is not None and record.address_state is AddressState.UNAVAILABLE and record.temu_status == 3
    assert wholecell.patches == [] and temu.detail_reads == 1
