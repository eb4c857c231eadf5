"""The shipment worker's de-duplication (Powertools idempotency on moto's DynamoDB): an event is
processed once per connection and event id, never once per event id across all tenants."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
from moto import mock_aws
from wholecell_temu import services as services_module
from wholecell_temu.config import load_settings
from wholecell_temu.jobs import budgets, shipment_push
from wholecell_temu.net import Clock
from wholecell_temu.queues import ShipmentMessage

from tests.integration.test_quantity_sync_job import ENV


@pytest.fixture
def handler(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, list[tuple[str, int]]]]:
    processed: list[tuple[str, int]] = []

    def process(self: Any, message: ShipmentMessage) -> str:
        processed.append((message.connection_id, message.sales_order_id))
        return "confirmed"

    monkeypatch.setattr(shipment_push.ShipmentConfirmer, "__init__", lambda self, services: None)
    monkeypatch.setattr(shipment_push.ShipmentConfirmer, "process", process)
    monkeypatch.setitem(services_module._SERVICES, "services", SimpleNamespace(settings=load_settings(ENV),
                                                                                clock=Clock()))
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        dynamodb.create_table(TableName="IdempotencyTable", BillingMode="PAY_PER_REQUEST",
                              AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                              KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}])
        store = DynamoDBPersistenceLayer(table_name="IdempotencyTable", boto3_client=dynamodb)
        yield shipment_push.make_shipment_handler(store), processed


def batch(*messages: dict[str, Any]) -> dict[str, Any]:
    return {"Records": [{"messageId": f"m{i}", "receiptHandle": "r", "body": json.dumps(m), "attributes": {},
                         "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
                         "eventSourceARN": "arn:aws:sqs:us-east-1:1:q", "awsRegion": "us-east-1"}
                        for i, m in enumerate(messages)]}


def webhook_message(connection_id: str, sales_order_id: int, event_id: str) -> dict[str, Any]:
    return {"connection_id": connection_id, "sales_order_id": sales_order_id, "source": "webhook",
            "event_id": event_id}


def test_the_same_event_id_from_two_connections_is_processed_for_each(handler: Any) -> None:
    handle, processed = handler
    answer = handle(batch(webhook_message("c1", 5, "evt_1"), webhook_message("c2", 7, "evt_1")), None)
    assert answer == {"batchItemFailures": []}
    assert processed == [("c1", 5), ("c2", 7)]


def test_a_repeated_event_of_one_connection_is_processed_once(handler: Any) -> None:
    handle, processed = handler
    handle(batch(webhook_message("c1", 5, "evt_1")), None)
    handle(batch(webhook_message("c1", 5, "evt_1"), webhook_message("c1", 6, "evt_2")), None)
    assert processed == [("c1", 5), ("c1", 6)]


def test_a_confirmation_whose_slot_comes_after_the_invocation_is_stopped_and_delivered_again(
        handler: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each message runs under a deadline of the invocation's end less LAST_SLOT_MARGIN: a paced call
    whose slot starts later raises PastDeadline, and the message fails without keeping an idempotency
    record, so its next delivery is processed."""
    handle, processed = handler
    deadlines: list[float | None] = []

    def process(self: Any, message: ShipmentMessage) -> str:
        deadlines.append(budgets._DEADLINE.get())
        processed.append((message.connection_id, message.sales_order_id))
        if len(processed) == 1:
            raise budgets.PastDeadline("the next temu slot starts 3.0 s after the deadline")
        return "confirmed"

    monkeypatch.setattr(shipment_push.ShipmentConfirmer, "process", process)
    context = SimpleNamespace(get_remaining_time_in_millis=lambda: 60_000, function_name="push",
                              memory_limit_in_mb=512, invoked_function_arn="arn:aws:lambda:us-east-1:1:function:push",
                              aws_request_id="r1")
    began = time.time()
    answer = handle(batch(webhook_message("c1", 5, "evt_1"), webhook_message("c1", 6, "evt_2")), context)
    assert answer == {"batchItemFailures": [{"itemIdentifier": "m0"}]}  # the other message is done
    assert deadlines[0] == pytest.approx(began + 60 - shipment_push.LAST_SLOT_MARGIN, abs=1.0)
    assert budgets._DEADLINE.get() is None  # only while a message runs
    assert handle(batch(webhook_message("c1", 5, "evt_1")), context) == {"batchItemFailures": []}
    assert processed == [("c1", 5), ("c1", 6), ("c1", 5)]  # delivered again: processed again, and done
