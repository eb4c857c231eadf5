"""`wholecell-temu dlq show|redrive`: the dead-letter queues (SQS), found from the stack's resources
(deployed) or by name on the local stack's moto."""

from __future__ import annotations

import configparser
import os
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import boto3
import botocore.exceptions
import typer

from wholecell_temu_cli.common import Yes, confirm, options
from wholecell_temu_cli.output import Exit, fail, note, print_json, table
from wholecell_temu_cli.target import AWS_PROBLEMS, LOCAL_CREDENTIALS, LOCAL_REGION, Options, Target

app = typer.Typer(help="Dead-letter queues: messages that failed every attempt.", no_args_is_help=True)


class Queue(StrEnum):
    LISTING_IMPORT = "listing_import"
    QUANTITY_SYNC = "quantity_sync"
    ORDER_IMPORT = "order_import"
    ADDRESS_BACKFILL = "address_backfill"
    SHIPMENT_RECONCILE = "shipment_reconcile"
    SHIPMENT = "shipment"
    SCHEDULER = "scheduler"  # schedule ticks: look, never redrive (the next tick repeats them)

    @property
    def dlq(self) -> str:
        """The DLQ's logical id in template.yaml (locally, also its name)."""
        return "".join(part.title() for part in self.value.split("_")) + "DLQ"

    @property
    def source(self) -> str | None:
        """The queue a redrive sends to (logical id); None for the scheduler's."""
        return None if self is Queue.SCHEDULER else self.dlq.removesuffix("DLQ") + "Queue"


QueueArgument = Annotated[Queue, typer.Argument(help="Which dead-letter queue.", show_default=False)]
BATCH = 10
LOCAL_CREDENTIALS_FILE = "local/.credentials"  # `make local` writes it (relative to the project's root)
OPERATOR_PROFILE = "operator"


class Queues:
    """SQS and the queues' URLs for the target."""

    def __init__(self, opts: Options) -> None:
        self.target: Target = opts.target()
        self._urls: dict[str, str] = {}
        if self.target.stack_name:
            self.sqs = self.target.session.client("sqs")
            self._urls = self._stack_queues()
        elif self.target.local:
            endpoint = (os.environ.get("AWS_ENDPOINT_URL_SQS") or os.environ.get("AWS_ENDPOINT_URL")
                        or f"http://127.0.0.1:{os.environ.get('LOCAL_MOTO_PORT', '4566')}")
            self.sqs = _local_session(opts).client("sqs", endpoint_url=endpoint)
        else:
            fail(Exit.USAGE, "the dead-letter queues are found from the stack: pass --stack-name (or --local)")

    def _stack_queues(self) -> dict[str, str]:
        cfn = self.target.session.client("cloudformation")
        urls: dict[str, str] = {}
        try:
            for page in cfn.get_paginator("list_stack_resources").paginate(StackName=self.target.stack_name):
                urls |= {r["LogicalResourceId"]: r["PhysicalResourceId"] for r in page["StackResourceSummaries"]
                         if r["ResourceType"] == "AWS::SQS::Queue" and r.get("PhysicalResourceId")}
        except AWS_PROBLEMS as exc:
            fail(Exit.UNREACHABLE, f"the stack's resources could not be listed: {exc}")
        return urls

    def url(self, logical_id: str) -> str:
        if logical_id in self._urls:
            return self._urls[logical_id]
        if self.target.stack_name:
            fail(Exit.UNREACHABLE, f"stack {self.target.stack_name} has no queue {logical_id}")
        try:
            self._urls[logical_id] = str(self.sqs.get_queue_url(QueueName=logical_id)["QueueUrl"])
        except AWS_PROBLEMS as exc:
            fail(Exit.UNREACHABLE, f"queue {logical_id} not found on the local stack's SQS: {exc}",
                 hints=["is the local stack running? `make local` (its moto on LOCAL_MOTO_PORT, 4566)"])
        return self._urls[logical_id]

    def depth(self, logical_id: str) -> int:
        attributes = self.sqs.get_queue_attributes(QueueUrl=self.url(logical_id),
                                                   AttributeNames=["ApproximateNumberOfMessages"])
        return int(attributes["Attributes"].get("ApproximateNumberOfMessages", 0))

    def arn(self, logical_id: str) -> str:
        attributes = self.sqs.get_queue_attributes(QueueUrl=self.url(logical_id), AttributeNames=["QueueArn"])
        return str(attributes["Attributes"]["QueueArn"])

    def peek(self, logical_id: str, most: int) -> list[dict[str, Any]]:
        """Up to `most` messages, received with visibility 0 so they stay (deduplicated by id)."""
        found: dict[str, dict[str, Any]] = {}
        for _ in range(max(1, most // BATCH) + 2):
            batch = self.sqs.receive_message(QueueUrl=self.url(logical_id), MaxNumberOfMessages=BATCH,
                                             VisibilityTimeout=0, MessageSystemAttributeNames=["All"],
                                             MessageAttributeNames=["All"]).get("Messages", [])
            found.update({m["MessageId"]: m for m in batch})
            if len(batch) < BATCH or len(found) >= most:
                break
        return list(found.values())[:most]

    def move(self, source: str, destination: str) -> int:
        """Receive, send on (body and attributes), delete: every message of `source`."""
        moved = 0
        while True:
            batch = self.sqs.receive_message(QueueUrl=self.url(source), MaxNumberOfMessages=BATCH,
                                             VisibilityTimeout=60, MessageAttributeNames=["All"]).get("Messages", [])
            if not batch:
                return moved
            for message in batch:
                send: dict[str, Any] = {"QueueUrl": self.url(destination), "MessageBody": message["Body"]}
                if message.get("MessageAttributes"):
                    send["MessageAttributes"] = message["MessageAttributes"]
                self.sqs.send_message(**send)
                self.sqs.delete_message(QueueUrl=self.url(source), ReceiptHandle=message["ReceiptHandle"])
                moved += 1


def _local_session(opts: Options) -> Any:
    """Credentials for the local stack's moto (IAM enforced): --profile; else the `operator` profile `make
    local` writes to local/.credentials while it runs; else the environment's; else the dummy pair."""
    if opts.profile:
        return boto3.Session(profile_name=opts.profile, region_name=LOCAL_REGION)
    written = configparser.ConfigParser()
    written.read(Path(os.environ.get("WHOLECELL_TEMU_LOCAL_CREDENTIALS", LOCAL_CREDENTIALS_FILE)))
    if written.has_section(OPERATOR_PROFILE):
        section = written[OPERATOR_PROFILE]
        return boto3.Session(section.get("aws_access_key_id"), section.get("aws_secret_access_key"),
                             region_name=LOCAL_REGION)
    aws = boto3.Session(region_name=LOCAL_REGION)
    return aws if aws.get_credentials() is not None else boto3.Session(*LOCAL_CREDENTIALS, region_name=LOCAL_REGION)


def _sent(message: dict[str, Any]) -> str:
    stamp = message.get("Attributes", {}).get("SentTimestamp")
    return datetime.fromtimestamp(int(stamp) / 1000, UTC).isoformat(timespec="seconds") if stamp else "-"


def _view(message: dict[str, Any]) -> dict[str, Any]:
    attributes = message.get("MessageAttributes") or {}
    return {"message_id": message["MessageId"], "sent_at": _sent(message),
            "receive_count": int(message.get("Attributes", {}).get("ApproximateReceiveCount", 0)),
            "reason": attributes.get("reason", {}).get("StringValue"),
            "attributes": {k: v.get("StringValue") for k, v in attributes.items()}, "body": message["Body"]}


@app.command("show")
def show(
    ctx: typer.Context,
    queue: Annotated[Queue | None, typer.Argument(help="One DLQ's messages; all DLQs' depths without it.",
                                                  show_default=False)] = None,
    limit: Annotated[int, typer.Option(help="At most this many messages.", min=1)] = 50,
) -> None:
    """The DLQs' depths, or one DLQ's parked messages with their reason."""
    opts = options(ctx)
    queues = Queues(opts)
    try:
        if queue is None:
            depths = {q.value: queues.depth(q.dlq) for q in Queue}
            if opts.json:
                print_json(depths)
            else:
                table("Dead-letter queues", ["queue", "messages"], depths.items())
            return
        messages = [_view(m) for m in queues.peek(queue.dlq, limit)]
    except AWS_PROBLEMS as exc:
        fail(Exit.UNREACHABLE, f"SQS: {exc}")
    if opts.json:
        print_json({"queue": queue.value, "messages": messages})
        return
    table(f"{queue.dlq}: {len(messages)} messages", ["message_id", "sent_at", "receives", "reason", "body"],
          ((m["message_id"], m["sent_at"], m["receive_count"], m["reason"], m["body"]) for m in messages))
    if messages and queue.source:
        note(f"Fix the cause first, then: `wholecell-temu dlq redrive {queue.value}`")


@app.command("redrive")
def redrive(ctx: typer.Context, queue: QueueArgument, yes: Yes = False) -> None:
    """Move a DLQ's messages back to their queue (fix the cause first)."""
    opts = options(ctx)
    if queue.source is None:
        fail(Exit.REFUSED, "the scheduler's DLQ is not redriven: the next tick repeats the fan-out",
             hints=["find why the fan-out failed (the job function's log group), then purge the queue"])
    queues = Queues(opts)
    try:
        waiting = queues.depth(queue.dlq)
        if not waiting:
            note(f"{queue.dlq} is empty.")
            if opts.json:
                print_json({"queue": queue.value, "moved": 0})
            return
        confirm(f"Move {waiting} messages from {queue.dlq} back to {queue.source}?", yes)
        result = _redrive(queues, queue.dlq, queue.source)
    except AWS_PROBLEMS as exc:
        fail(Exit.UNREACHABLE, f"SQS: {exc}")
    if opts.json:
        print_json({"queue": queue.value, **result})
    elif "task_handle" in result:
        note(f"Started a message move task ({result['task_handle']}); SQS moves the messages in the background.")
    else:
        note(f"Moved {result['moved']} messages to {queue.source}.")


def _redrive(queues: Queues, dlq: str, source: str) -> dict[str, Any]:
    """SQS's message move task on AWS; receive, send and delete where it is not available (moto)."""
    if not queues.target.local:
        try:
            task = queues.sqs.start_message_move_task(SourceArn=queues.arn(dlq), DestinationArn=queues.arn(source))
            return {"task_handle": task["TaskHandle"]}
        except botocore.exceptions.ClientError as exc:
            note(f"StartMessageMoveTask is not available ({exc.response.get('Error', {}).get('Code')}); "
                 "moving the messages one by one")
    return {"moved": queues.move(dlq, source)}
