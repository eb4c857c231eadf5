"""The local stack's fix to moto's SQS (local/moto_fixes.py): deletes on one queue at once must
all stay deleted. Without the fix this test leaves most of the 300 messages in the queue, as
received and invisible, until their visibility timeout brings them back as duplicates."""

from __future__ import annotations

import sys
import threading

import boto3
from moto import mock_aws
from moto.sqs.models import sqs_backends

from local.moto_fixes import serialize_sqs_deletes
from local.template import ACCOUNT_ID, REGION


def test_deletes_on_one_queue_at_once_all_stay_deleted() -> None:
    serialize_sqs_deletes()
    serialize_sqs_deletes()  # idempotent: applying it twice wraps once
    with mock_aws():
        sqs = boto3.client("sqs", region_name=REGION)
        url = sqs.create_queue(QueueName="deletes")["QueueUrl"]
        queue = sqs_backends[ACCOUNT_ID][REGION].get_queue("deletes")
        for n in range(300):
            sqs.send_message(QueueUrl=url, MessageBody=str(n))
        received = sqs_backends[ACCOUNT_ID][REGION].receive_message("deletes", 300, 0, 600)
        assert len(received) == 300
        handles = [message.receipt_handle for message in received]
        interval = sys.getswitchinterval()
        sys.setswitchinterval(1e-6)  # threads switch often, as on a busy machine
        try:
            def delete(part: list[str]) -> None:
                for handle in part:
                    queue.delete_message(handle)

            threads = [threading.Thread(target=delete, args=(handles[n::12],)) for n in range(12)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        finally:
            sys.setswitchinterval(interval)
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "0"
    assert attributes["ApproximateNumberOfMessages"] == "0"
