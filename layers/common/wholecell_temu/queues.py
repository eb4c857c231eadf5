"""The queue contracts: what producers put on the job and shipment queues, and how.

A producer (the schedule's fan-out, the admin API, the webhook, the reconciler, a job asking
for a follow-up run) imports this module only: the message models, `enqueue` for a job run,
`send_shipment` for a shipment confirmation and `dead_letter` for a message that cannot
succeed. The consumers (jobs/framework.py, jobs/shipment_push.py) parse the same models.

One SQS client per process, created on first use; boto3 reads the endpoint (AWS_ENDPOINT_URL_SQS,
AWS_ENDPOINT_URL: the local stack) and the region from the environment as before, and a
different configuration (a test that changes it) gets its own client.
"""

from __future__ import annotations

import json
import os
from functools import cache
from typing import Any, Literal, Protocol

import boto3
from pydantic import BaseModel, ConfigDict, Field

from wholecell_temu.config import Settings

# the environment boto3 builds an SQS client from (besides credentials)
_CLIENT_ENVIRONMENT = ("AWS_ENDPOINT_URL_SQS", "AWS_ENDPOINT_URL", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
                       "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE", "AWS_CONFIG_FILE")


class HasSettings(Protocol):
    """Anything carrying the stack's settings (the process's Services)."""

    @property
    def settings(self) -> Settings: ...


class JobMessage(BaseModel):
    """Body of a job queue message: run one job for one connection."""

    model_config = ConfigDict(extra="forbid")

    connection_id: str
    job: str
    trigger: str = "schedule"
    queued_key: str | None = None  # set when a run record was created at enqueue time
    target: str | None = Field(None, max_length=100)  # one item to work on (e.g. a parent order to re-import)


class ShipmentMessage(BaseModel):
    """Body of a shipment-queue message."""

    model_config = ConfigDict(extra="forbid")

    connection_id: str = Field(min_length=1, max_length=64)
    sales_order_id: int = Field(gt=0)
    source: Literal["webhook", "reconcile", "resend"]
    event_id: str | None = Field(None, max_length=200)


def sqs_client() -> Any:
    """The process's SQS client (one per endpoint and region configuration)."""
    return _sqs_client(tuple(os.environ.get(name) for name in _CLIENT_ENVIRONMENT))


@cache
def _sqs_client(configuration: tuple[str | None, ...]) -> Any:
    return boto3.client("sqs")  # boto3 reads `configuration` from the environment itself


def enqueue(services: HasSettings, job: str, connection_id: str, *, trigger: str, queued_key: str | None,
            sqs: Any = None, target: str | None = None) -> None:
    """Queue one run of `job` for one connection."""
    message = JobMessage(connection_id=connection_id, job=job, trigger=trigger, queued_key=queued_key,
                         target=target)
    (sqs or sqs_client()).send_message(
        QueueUrl=services.settings.queue_url(job), MessageBody=message.model_dump_json(exclude_none=True)
    )


def send_shipment(services: HasSettings, message: ShipmentMessage, sqs: Any = None) -> None:
    """Queue one shipment confirmation (webhook, reconcile or resend)."""
    (sqs or sqs_client()).send_message(QueueUrl=services.settings.shipment_queue_url,
                                       MessageBody=message.model_dump_json(exclude_none=True))


def parse_shipment(body: str) -> ShipmentMessage:
    """A shipment-queue message body as the model (raises ValueError or ValidationError)."""
    return ShipmentMessage.model_validate(json.loads(body))


def dead_letter(body: str, reason: str, dlq_url: str | None, sqs: Any = None) -> None:
    """Move a message that cannot succeed to the dead-letter queue, with the reason."""
    if not dlq_url:
        raise RuntimeError(f"SHIPMENT_DLQ_URL is not set; cannot dead-letter: {reason}")
    (sqs or sqs_client()).send_message(
        QueueUrl=dlq_url, MessageBody=body,
        MessageAttributes={"reason": {"DataType": "String", "StringValue": reason[:1000]}})


__all__ = ["JobMessage", "ShipmentMessage", "dead_letter", "enqueue", "parse_shipment", "send_shipment",
           "sqs_client"]
