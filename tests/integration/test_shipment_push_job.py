"""The shipment-confirmation worker against moto's DynamoDB with the shared Temu and WholeCell
fakes: a WholeCell shipment's boxes become Temu packages (one call, send type 0 or 1), a message
delivered again confirms nothing twice (also after an attempt whose outcome was lost), and a
permanent failure is recorded on the shipment and the order."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import boto3
import pytest
from moto import mock_aws
from wholecell_temu.config import load_settings
from wholecell_temu.domain.connection import Connection, ConnectionStatus
from wholecell_temu.domain.listings import ListingConnection, ListingStatus, SkuLink
from wholecell_temu.domain.settings import ConnectionSettings
from wholecell_temu.domain.shipments import PermanentShipmentError
from wholecell_temu.errors import ErrorClass
from wholecell_temu.jobs import order_import, shipment_push
from wholecell_temu.jobs.budgets import PastDeadline
from wholecell_temu.jobs.framework import JobContext
from wholecell_temu.jobs.shipment_push import RetryLater, ShipmentConfirmer, ShipmentOutcome
from wholecell_temu.net import Clock
from wholecell_temu.queues import ShipmentMessage
from wholecell_temu.secrets import SecretStore
from wholecell_temu.services import Services
from wholecell_temu.store.connections import ConnectionRepository
from wholecell_temu.store.listings import Listing, ListingRepository
from wholecell_temu.store.orders import OrderRepository
from wholecell_temu.store.runs import Outcome, Run, RunLog
from wholecell_temu.store.shipments import ShipmentRepository
from wholecell_temu.store.states import ShipmentState
from wholecell_temu.store.tables import (
    ConnectionModel,
    InventoryMirrorModel,
    ListingModel,
    OrderModel,
    RunModel,
    ShipmentModel,
    bind_tables,
)
from wholecell_temu.temu.errors import TemuApiError

from tests.fakes.temu import WAREHOUSE_ID, FakeTemu, temu_order
from tests.fakes.wholecell import FakeWholeCell
from tests.integration.test_quantity_sync_job import ENV

NOW = datetime.now(UTC)
STATUS_MAP = {"1": "Pending", "2": "Awaiting Fulfillment", "4": "Shipped"}


class World:
    """One active connection whose shop sells SKU 5 as WholeCell's `A` and SKU 6 as `B`."""

    def __init__(self) -> None:
        self.clock = Clock()
        self.settings = load_settings(ENV)
        secrets = SecretStore("wholecell-temu/test", client=boto3.client("secretsmanager", region_name="us-east-1"))
        self.services = Services(self.settings, ConnectionRepository(self.clock), RunLog(30, self.clock), secrets,
                                 self.clock)
        self.services.connections.create(
            connection_id="c1", name="Shop", temu_region="US", credentials_secret_arn="x", credentials_version="v",
            settings=ConnectionSettings(order_import_enabled=True, order_status_map=STATUS_MAP))
        ConnectionModel("c1").update(actions=[ConnectionModel.status.set(ConnectionStatus.ACTIVE.value)])
        ListingRepository().insert_many([Listing(
            connection_id="c1", temu_sku_id=sku_id, temu_goods_id=1, seller_sku=sku, status=ListingStatus.ACTIVE,
            connection=ListingConnection(mode="auto", skus=[SkuLink(sku=sku)]), first_seen_at=NOW, last_seen_at=NOW)
            for sku_id, sku in ((5, "A"), (6, "B"))])
        self.temu = FakeTemu()
        self.wholecell = FakeWholeCell()
        self.confirmer = ShipmentConfirmer(self.services, temu_for=lambda connection: self.temu,
                                           wholecell_for=lambda connection: self.wholecell)

    @property
    def connection(self) -> Connection:
        connection = self.services.connections.get("c1")
        assert connection is not None
        return connection

    def imported(self, sn: str, *, lines: int = 2, quantity: int = 1) -> int:
        """A Temu order awaiting shipment, imported into WholeCell: its WholeCell id."""
        self.temu.orders.append(temu_order(sn, 2, int(time.time()) - 60, lines=lines, quantity=quantity))
        run = Run(run_id=f"import-{sn}", connection_id="c1", job="order_import", trigger="schedule",
                  outcome=Outcome.RUNNING, queued_key="k")
        context = JobContext(self.settings, self.connection, run, self.services.secrets, self.services.runs)
        order_import.run(context.with_clients(temu=self.temu, wholecell=self.wholecell))
        record = OrderRepository().get("c1", sn)
        assert record is not None and record.wholecell_order_id is not None
        return record.wholecell_order_id

    def push(self, order_id: int, source: str = "webhook") -> ShipmentOutcome:
        return self.confirmer.process(ShipmentMessage.model_validate(
            {"connection_id": "c1", "sales_order_id": order_id, "source": source, "event_id": "e1"}))


@pytest.fixture
def world() -> Iterator[World]:
    with mock_aws():
        bind_tables(load_settings(ENV))
        for model in (ConnectionModel, RunModel, ListingModel, InventoryMirrorModel, OrderModel, ShipmentModel):
            model.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
        shipment_push._CACHE.clear()  # carriers and warehouses are cached per process
        yield World()


def shipment_states(order_id: int) -> dict[str, ShipmentState]:
    return {key: record.state for key, record in ShipmentRepository().for_order("c1", order_id).items()}


def test_one_box_ships_every_line_in_one_package_and_a_replay_confirms_nothing_again(world: World) -> None:
    order_id = world.imported("PO-1", quantity=2)
    world.wholecell.add_shipment(order_id, "9400 1118-9956#2837")  # a box that lists no items holds them all
    assert world.push(order_id) is ShipmentOutcome.CONFIRMED
    [(send_type, [package])] = world.temu.confirmations
    assert send_type == 0 and package.tracking_number == "940011189956" + "2837"
    assert package.carrier_id == 1 and package.warehouse_id == WAREHOUSE_ID  # USPS, the default warehouse
    assert sorted((line.order_sn, line.quantity) for line in package.lines) == [("PO-1-1", 2), ("PO-1-2", 2)]
    assert world.temu.order("PO-1").parent_order_map.parent_order_status == 4
    record = OrderRepository().get("c1", "PO-1")
    assert record is not None and record.shipment_state is ShipmentState.CONFIRMED
    assert shipment_states(order_id) == {f"{order_id}#9400111899562837": ShipmentState.CONFIRMED}

    assert world.push(order_id) is ShipmentOutcome.ALREADY_CONFIRMED  # WholeCell sent the event again
    assert world.push(order_id, "reconcile") is ShipmentOutcome.ALREADY_CONFIRMED
    assert len(world.temu.confirmations) == 1


def test_boxes_arriving_one_by_one_ship_partially_then_fully(world: World) -> None:
    order_id = world.imported("PO-1")
    world.wholecell.add_shipment(order_id, "BOXA1", items={"A": 1})
    assert world.push(order_id) is ShipmentOutcome.CONFIRMED
    assert world.temu.order("PO-1").parent_order_map.parent_order_status == 41  # partially shipped
    world.wholecell.add_shipment(order_id, "BOXB1", items={"B": 1})
    assert world.push(order_id) is ShipmentOutcome.CONFIRMED
    assert world.temu.order("PO-1").parent_order_map.parent_order_status == 4
    assert [(send_type, [p.tracking_number for p in packages]) for send_type, packages in world.temu.confirmations] \
        == [(0, ["BOXA1"]), (0, ["BOXB1"])]  # only the new box each time
    assert [[line.order_sn for line in p.lines] for p in world.temu.packages_for("PO-1")] == [["PO-1-1"], ["PO-1-2"]]


def test_boxes_known_at_once_go_in_one_call_of_send_type_1(world: World) -> None:
    order_id = world.imported("PO-1")
    world.wholecell.add_shipment(order_id, "SPLITA", items={"A": 1})
    world.wholecell.add_shipment(order_id, "SPLITB", "UPS", items={"B": 1})
    assert world.push(order_id) is ShipmentOutcome.CONFIRMED
    [(send_type, packages)] = world.temu.confirmations
    assert send_type == 1 and [(p.tracking_number, p.carrier_id) for p in packages] == [("SPLITA", 1), ("SPLITB", 2)]
    assert set(shipment_states(order_id).values()) == {ShipmentState.CONFIRMED}


def test_a_retryable_failure_releases_the_claim_and_the_next_delivery_confirms(world: World) -> None:
    order_id = world.imported("PO-1")
    world.wholecell.add_shipment(order_id, "RETRY1")
    world.temu.confirm_failures = [TemuApiError("system busy", error_class=ErrorClass.RETRYABLE, code=4000000)]
    with pytest.raises(TemuApiError):
        world.push(order_id)
    assert shipment_states(order_id) == {f"{order_id}#RETRY1": ShipmentState.PENDING}
    assert world.push(order_id) is ShipmentOutcome.CONFIRMED and len(world.temu.confirmations) == 1


def test_a_confirmation_stopped_at_its_deadline_releases_the_claim_and_sends_nothing(world: World) -> None:
    """A paced call whose slot comes after the invocation's deadline raises PastDeadline before sending:
    the claim is released at once (not held until it expires), so the next delivery confirms."""
    order_id = world.imported("PO-1")
    world.wholecell.add_shipment(order_id, "LATE1")
    world.temu.confirm_failures = [PastDeadline("the next temu slot starts 2.0 s after the deadline")]
    with pytest.raises(PastDeadline):
        world.push(order_id)
    assert shipment_states(order_id) == {f"{order_id}#LATE1": ShipmentState.PENDING}
    assert world.temu.confirmations == []
    assert world.push(order_id) is ShipmentOutcome.CONFIRMED and len(world.temu.confirmations) == 1


def test_a_replay_after_a_lost_outcome_is_verified_on_temu_not_sent_again(world: World) -> None:
    """The confirm went through, but its answer was lost: the next delivery finds the tracking
    number on Temu and records the shipment as verified instead of confirming it twice."""
    order_id = world.imported("PO-1")
    world.wholecell.add_shipment(order_id, "LOST1")
    world.temu.lost_confirm = TemuApiError("gateway timeout", error_class=ErrorClass.RETRYABLE, code=4000000)
    with pytest.raises(TemuApiError):
        world.push(order_id)
    assert len(world.temu.confirmations) == 1 and shipment_states(order_id) == {
        f"{order_id}#LOST1": ShipmentState.PENDING}
    assert world.push(order_id) is ShipmentOutcome.VERIFIED
    assert len(world.temu.confirmations) == 1  # not sent again
    record = ShipmentRepository().for_order("c1", order_id)[f"{order_id}#LOST1"]
    assert record.state is ShipmentState.CONFIRMED and record.verified


def test_a_pending_temu_order_waits(world: World) -> None:
    order_id = world.imported("PO-1")
    world.temu.set_status("PO-1", 1)
    world.wholecell.add_shipment(order_id, "EARLY1")
    with pytest.raises(RetryLater, match="still pending"):
        world.push(order_id)
    assert world.temu.confirmations == [] and shipment_states(order_id) == {
        f"{order_id}#EARLY1": ShipmentState.PENDING}


def test_a_cancelled_order_is_a_permanent_failure_recorded_on_the_shipment(world: World) -> None:
    order_id = world.imported("PO-1")
    world.temu.set_status("PO-1", 3)  # cancelled on Temu after the import
    world.wholecell.add_shipment(order_id, "LATE1")
    with pytest.raises(PermanentShipmentError, match="cancelled"):
        world.push(order_id)
    assert world.temu.confirmations == []
    record = ShipmentRepository().for_order("c1", order_id)[f"{order_id}#LATE1"]
    assert record.state is ShipmentState.FAILED and "cancelled" in (record.last_error or "")
    order = OrderRepository().get("c1", "PO-1")
    assert order is not None and order.shipment_state is ShipmentState.FAILED
    assert "cancelled" in (order.shipment_error or "")
    assert world.push(order_id) is ShipmentOutcome.FAILED_BEFORE  # not tried again until resent


def test_an_unknown_carrier_fails_permanently_and_names_the_map_entry(world: World) -> None:
    order_id = world.imported("PO-1")
    world.wholecell.add_shipment(order_id, "PONY1", "Pony Express")
    with pytest.raises(PermanentShipmentError) as failed:
        world.push(order_id)
    assert '"carrier_map": {"Pony Express": <Temu carrier id>}' in str(failed.value)
    order = OrderRepository().get("c1", "PO-1")
    assert order is not None and order.shipment_state is ShipmentState.FAILED
    assert "Pony Express" in (order.shipment_error or "") and world.temu.confirmations == []
    assert world.temu.order("PO-1").parent_order_map.parent_order_status == 2
