"""The shipment worker's de-duplication (Powertools idempotency on moto's DynamoDB): an event is
processed once per connection and event id, never once per event id across all tenants."""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
from moto import mock_aws
from wholecell_temu import services as services_module
from wholecell_temu.config import load_settings
from wholecell_temu.jobs import shipment_push
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
    monkeypatch.setitem(services_module._SERVICES, "services", SimpleNamespace(settings=load_settings(ENV)))
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
