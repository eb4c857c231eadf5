"""The job framework's run lease on moto's DynamoDB: a follow-up run queued by a run that ran
short of time finds the lease free even when it is taken at once, and two copies of one
manual-run message (same run id) never both take the lease."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from moto import mock_aws
from wholecell_temu.config import load_settings
from wholecell_temu.domain.connection import Connection, ConnectionStatus
from wholecell_temu.domain.settings import ConnectionSettings
from wholecell_temu.jobs import framework
from wholecell_temu.jobs.framework import CONTINUATION, JobContext, execute
from wholecell_temu.net import Clock
from wholecell_temu.queues import JobMessage
from wholecell_temu.store.runs import Outcome, Run, RunLog
from wholecell_temu.store.tables import RunModel, bind_tables

from tests.integration.test_quantity_sync_job import ENV

NOW = datetime.now(UTC)
JOB = "listing_import"


class Connections:
    def __init__(self) -> None:
        self.connection = Connection(connection_id="c1", name="c", status=ConnectionStatus.ACTIVE, temu_region="US",
                                     credentials_secret_arn="x", credentials_version="v",
                                     settings=ConnectionSettings(), created_at=NOW, updated_at=NOW)

    def get(self, connection_id: str) -> Connection | None:
        return self.connection if connection_id == "c1" else None


@pytest.fixture
def services() -> Iterator[Any]:
    with mock_aws():
        settings = load_settings(ENV)
        bind_tables(settings)
        RunModel.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
        yield SimpleNamespace(settings=settings, connections=Connections(), runs=RunLog(30, Clock()), secrets=None,
                              clock=Clock())


def test_a_follow_up_run_taken_at_once_finds_the_lease_free(services: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    follow_ups: list[Run | None] = []

    def taken_at_once(svc: Any, job: str, connection_id: str, *, trigger: str, queued_key: str | None,
                      sqs: Any = None, target: str | None = None) -> None:
        """A consumer that receives the follow-up the moment it is queued."""
        message = JobMessage(connection_id=connection_id, job=job, trigger=trigger, queued_key=queued_key)
        follow_ups.append(execute(svc, message, lambda context: context.count("rest")))

    monkeypatch.setattr(framework, "enqueue", taken_at_once)

    def runs_short(context: JobContext) -> None:
        context.count("first part")
        context.continue_later()

    first = execute(services, JobMessage(connection_id="c1", job=JOB), runs_short)
    assert first is not None and first.outcome is Outcome.SUCCEEDED
    assert len(follow_ups) == 1 and follow_ups[0] is not None
    assert follow_ups[0].trigger == CONTINUATION
    assert (follow_ups[0].outcome, follow_ups[0].counts) == (Outcome.SUCCEEDED, {"rest": 1})


def test_two_copies_of_one_manual_run_message_run_it_once(services: Any) -> None:
    run = services.runs.create("c1", JOB, "manual")
    message = JobMessage(connection_id="c1", job=JOB, trigger="manual", queued_key=run.queued_key)
    ran: list[str] = []

    def second_copy(context: JobContext) -> None:
        ran.append("second copy")

    def first_copy(context: JobContext) -> None:
        ran.append("first copy")
        during = execute(services, message, second_copy)  # delivered again while the first copy runs
        assert during is not None and during.outcome is Outcome.RUNNING  # the first copy's record, untouched

    finished = execute(services, message, first_copy)
    assert ran == ["first copy"]
    assert finished is not None and finished.outcome is Outcome.SUCCEEDED
    stored = services.runs.get("c1", JOB, run.queued_key)
    assert stored is not None and stored.outcome is Outcome.SUCCEEDED and stored.reason is None
    late = execute(services, message, second_copy)  # a copy delivered after the run finished
    assert ran == ["first copy"] and late is not None and late.outcome is Outcome.SUCCEEDED
    assert services.runs.lease_holder("c1", JOB) is None


def test_another_run_holding_the_lease_still_skips(services: Any) -> None:
    skipped: list[Run | None] = []

    def holds_the_lease(context: JobContext) -> None:
        skipped.append(execute(services, JobMessage(connection_id="c1", job=JOB), lambda context: None))

    execute(services, JobMessage(connection_id="c1", job=JOB), holds_the_lease)
    assert skipped[0] is not None and skipped[0].outcome is Outcome.SKIPPED
    assert skipped[0].reason == "another run of this job is in progress"


class Fleet:
    """Active connections as the Connections table returns them: in no useful order."""

    def __init__(self, sizes: dict[str, int | None]) -> None:
        self.sizes = sizes

    def iter_active(self) -> Iterator[Connection]:
        for connection_id, size in self.sizes.items():
            settings = ConnectionSettings(inventory_sync_enabled=connection_id != "off")
            yield Connection(connection_id=connection_id, name=connection_id, status=ConnectionStatus.ACTIVE,
                             temu_region="US", credentials_secret_arn="x", credentials_version="v",
                             settings=settings, catalog_size=size, created_at=NOW, updated_at=NOW)


def test_fan_out_sends_the_largest_catalogs_first_and_unknown_sizes_before_them() -> None:
    """A tick ends when its longest run does: the large account's run must not start behind the small
    ones. A connection never imported has no size yet and may be the largest."""
    with mock_aws():
        import boto3  # noqa: PLC0415 - inside moto

        sqs = boto3.client("sqs", region_name="us-east-1")
        url = sqs.create_queue(QueueName="quantity-sync")["QueueUrl"]
        settings = load_settings(ENV | {"QUANTITY_SYNC_QUEUE_URL": url})
        sizes: dict[str, int | None] = {f"small-{i:02}": 40 + i for i in range(12)}
        sizes |= {"large": 20_000, "new": None, "medium": 1_000, "off": 50_000}
        fleet = SimpleNamespace(settings=settings, connections=Fleet(sizes))
        sent = framework.fan_out(fleet, "quantity_sync", sqs=sqs)  # type: ignore[arg-type]
        order: list[str] = []
        while len(order) < sent:
            for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
                order.append(JobMessage.model_validate_json(message["Body"]).connection_id)
    assert sent == 15 and "off" not in order  # a connection with the job turned off gets no message
    assert order[:3] == ["new", "large", "medium"]
    assert order[3:] == [f"small-{i:02}" for i in reversed(range(12))]
