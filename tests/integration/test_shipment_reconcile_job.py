"""The shipment reconciler against moto (DynamoDB, SQS) with a scripted WholeCell client: what
it queues, and a watermark that never passes a tracked order whose import is still being
recorded."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws
from wholecell_temu.config import load_settings
from wholecell_temu.domain.connection import Connection, ConnectionStatus
from wholecell_temu.domain.settings import ConnectionSettings
from wholecell_temu.jobs import shipment_reconcile
from wholecell_temu.jobs.framework import JobContext
from wholecell_temu.store.orders import OrderRecord, OrderRepository
from wholecell_temu.store.runs import Outcome, Run
from wholecell_temu.store.shipments import ShipmentRepository
from wholecell_temu.store.tables import OrderModel, ShipmentModel, bind_tables
from wholecell_temu.wholecell import SalesOrder

from tests.fakes.clock import SetClock
from tests.fakes.wholecell import FakeWholeCell
from tests.integration.test_quantity_sync_job import ENV

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
NOW = SetClock(T0 + timedelta(hours=3))  # the job's clock: its first run looks back from here


def sales_order(order_id: int, reference: str, updated_at: datetime, tracking: str | None) -> SalesOrder:
    return SalesOrder.model_validate({
        "id": order_id, "external_reference": reference, "channel": "Temu", "status": "Awaiting Fulfillment",
        "created_at": T0, "updated_at": updated_at,
        "shipments": [{"id": order_id, "tracking_number": tracking}] if tracking else []})


@pytest.fixture
def queue() -> Iterator[tuple[Any, str]]:
    with mock_aws():
        settings = load_settings(ENV)
        bind_tables(settings)
        for model in (OrderModel, ShipmentModel):
            model.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
        sqs = boto3.client("sqs", region_name="us-east-1")
        yield sqs, sqs.create_queue(QueueName="shipments")["QueueUrl"]


def run(wholecell: FakeWholeCell, sqs: Any, url: str) -> JobContext:
    connection = Connection(connection_id="c1", name="c", status=ConnectionStatus.ACTIVE, temu_region="US",
                            credentials_secret_arn="x", credentials_version="v", created_at=T0, updated_at=T0,
                            settings=ConnectionSettings())
    job_run = Run(run_id="r", connection_id="c1", job="shipment_reconcile", trigger="schedule",
                  outcome=Outcome.RUNNING, queued_key="k")
    ctx = JobContext(load_settings(ENV | {"SHIPMENT_QUEUE_URL": url}), connection, job_run, None, None,  # type: ignore[arg-type]
                     clock=NOW)
    shipment_reconcile.run(ctx.with_clients(temu=None, wholecell=wholecell), sqs=sqs)
    return ctx


def imported(sn: str, order_id: int, *, claimed: bool = False) -> None:
    repo = OrderRepository(NOW)
    if not claimed:
        repo.claim("c1", sn, "import", 60, T0)
    repo.record_import(OrderRecord(connection_id="c1", parent_order_sn=sn, import_state="imported",
                                   wholecell_order_id=order_id, temu_status=2, wholecell_status="x"), "import")


def queued(sqs: Any, url: str) -> list[int]:
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return sorted(json.loads(m["Body"])["sales_order_id"] for m in messages)


def test_tracked_orders_are_queued_and_the_watermark_waits_for_an_unrecorded_import(queue: tuple[Any, str]) -> None:
    sqs, url = queue
    imported("PO-1", 1)
    OrderRepository(NOW).claim("c1", "PO-2", "import", 60, T0)  # created in WholeCell, its record not written yet
    wholecell = FakeWholeCell([
        sales_order(1, "PO-1", T0 + timedelta(minutes=1), "1Z999"),
        sales_order(2, "PO-2", T0 + timedelta(minutes=5), "1Z888"),
        sales_order(3, "PO-3", T0 + timedelta(hours=2), None),
    ])
    ctx = run(wholecell, sqs, url)
    assert wholecell.since == [NOW.now() - timedelta(days=7)]  # the first run looks back from the job's clock
    assert queued(sqs, url) == [1] and ctx.counts["import_not_recorded_yet"] == 1
    watermark = ShipmentRepository().watermark("c1")
    assert watermark is not None and watermark < T0 + timedelta(minutes=5)  # not two hours on: PO-2 is read again

    imported("PO-2", 2, claimed=True)  # the import records it; WholeCell's order does not change
    run(wholecell, sqs, url)
    assert wholecell.since[-1] < T0 + timedelta(minutes=5)
    assert 2 in queued(sqs, url)
    assert ShipmentRepository().watermark("c1") == T0 + timedelta(hours=2)
