"""The local stack's fix to moto's SQS (local/moto_fixes.py): deletes on one queue at once must
all stay deleted, and receives at once must each move a message past maxReceiveCount to the
dead-letter queue once. Without the fix the first test leaves most of the 300 messages in the
queue, as received and invisible, until their visibility timeout brings them back as duplicates;
the second sees receives fail (a message already moved) and messages left behind."""

from __future__ import annotations

import json
import sys
import threading
from collections.abc import Callable
from typing import Any

import boto3
from moto import mock_aws
from moto.sqs.models import sqs_backends

from local.moto_fixes import serialize_sqs_queue_access
from local.template import ACCOUNT_ID, REGION


def at_once(work: Callable[[int], None], threads: int = 12) -> None:
    """`work(n)` in `threads` threads at once, switching between them often, as on a busy machine."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        running = [threading.Thread(target=work, args=(n,)) for n in range(threads)]
        for thread in running:
            thread.start()
        for thread in running:
            thread.join()
    finally:
        sys.setswitchinterval(interval)


def test_deletes_on_one_queue_at_once_all_stay_deleted() -> None:
    serialize_sqs_queue_access()
    serialize_sqs_queue_access()  # idempotent: applying it twice wraps once
    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        url = sqs.create_queue(QueueName="deletes")["QueueUrl"]
        queue = sqs_backends[ACCOUNT_ID][REGION].get_queue("deletes")
        for n in range(300):
            sqs.send_message(QueueUrl=url, MessageBody=str(n))
        received = sqs_backends[ACCOUNT_ID][REGION].receive_message("deletes", 300, 0, 600)
        assert len(received) == 300
        handles = [str(message.receipt_handle) for message in received]

        def delete(n: int) -> None:
            for handle in handles[n::12]:
                queue.delete_message(handle)

        at_once(delete)
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "0"
    assert attributes["ApproximateNumberOfMessages"] == "0"


def test_receives_on_one_queue_at_once_dead_letter_each_message_once() -> None:
    serialize_sqs_queue_access()
    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        backend = sqs_backends[ACCOUNT_ID][REGION]
        dead_url = sqs.create_queue(QueueName="receives-dlq")["QueueUrl"]
        dead_arn = sqs.get_queue_attributes(QueueUrl=dead_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        url = sqs.create_queue(QueueName="receives", Attributes={"RedrivePolicy": json.dumps(
            {"deadLetterTargetArn": dead_arn, "maxReceiveCount": 1})})["QueueUrl"]
        for n in range(300):
            sqs.send_message(QueueUrl=url, MessageBody=str(n))
        assert len(backend.receive_message("receives", 300, 0, 0)) == 300  # received once, visible again at once
        failures: list[BaseException] = []
        delivered: list[Any] = []

        def receive(_: int) -> None:
            try:
                for _ in range(20):
                    delivered.extend(backend.receive_message("receives", 10, 0, 600))
            except Exception as exc:
                failures.append(exc)

        at_once(receive)
        dead = backend.get_queue("receives-dlq")
        bodies = sorted(int(message.body) for message in dead._messages)
        left = len(backend.get_queue("receives")._messages)
    assert failures == []
    assert delivered == []  # every message was past maxReceiveCount
    assert bodies == list(range(300))
    assert left == 0
