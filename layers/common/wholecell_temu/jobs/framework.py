"""What every scheduled job shares: fan-out, the SQS consumer, leases and the run log.

A schedule tick enqueues one message per enabled connection (never loops over accounts
inside one invocation). The consumer runs one connection per message under a lease, so two
runs of the same job for the same connection never overlap, and records the run. A
re-authorize error parks the connection instead of retrying, so an expired token causes
neither a retry storm nor a DLQ flood.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, cast

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from pydantic import ValidationError

from wholecell_temu.config import Settings
from wholecell_temu.domain.connection import Connection, ConnectionStatus, longest_first
from wholecell_temu.errors import ErrorClass, ExternalApiError
from wholecell_temu.jobs import clients
from wholecell_temu.jobs.ports import JobTemu, JobWholeCell
from wholecell_temu.net import Clock
from wholecell_temu.observability import logger, metrics, tracer
from wholecell_temu.queues import JobMessage, enqueue, sqs_client
from wholecell_temu.secrets import SecretStore
from wholecell_temu.services import Services
from wholecell_temu.store.runs import Outcome, Run, RunLog

Counts = dict[str, int]


CONTINUATION = "continuation"  # trigger of a follow-up run a job asked for


class JobSkipped(Exception):
    """The job decided not to run for a stated reason (recorded as `skipped`)."""


@dataclass
class JobContext[TemuT = Any, WholeCellT = Any]:
    """Everything a job needs for one connection, built lazily.

    A job names the ports it uses (`JobContext[OrderImportTemu, OrderImportWholeCell]`, see
    `jobs.ports`): mypy then holds it to those methods. The clients are the real ones unless a
    test hands in its own (`with_clients`)."""

    settings: Settings
    connection: Connection
    run: Run
    secrets: SecretStore
    runs: RunLog
    counts: Counts = field(default_factory=dict)
    deadline: float | None = None  # time.monotonic() by which the invocation must be done
    target: str | None = None  # the message's target, for runs about one item
    continuation_requested: bool = False
    clock: Clock = field(default_factory=Clock)  # the wall clock every job reads (tests set the date)
    notes: list[str] = field(default_factory=list)  # problems the run found and worked around: its reason

    @cached_property
    def temu(self) -> TemuT:
        client: JobTemu = clients.temu_client(self.settings, self.secrets, self.connection)  # satisfies every port
        return cast("TemuT", client)

    @cached_property
    def wholecell(self) -> WholeCellT:
        client: JobWholeCell = clients.wholecell_client(self.settings, self.secrets, self.connection)
        return cast("WholeCellT", client)

    def with_clients[T, W](self, *, temu: T, wholecell: W) -> JobContext[T, W]:
        """This context with the given clients in place of the real ones (tests: the shared fakes)."""
        self.__dict__["temu"], self.__dict__["wholecell"] = temu, wholecell  # what the cached properties hold
        return cast("JobContext[T, W]", self)

    _count_lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def seconds_left(self) -> float:
        """Time left in this invocation (unbounded outside Lambda)."""
        return float("inf") if self.deadline is None else self.deadline - time.monotonic()

    def continue_later(self) -> None:
        """Ask for another run right after this one (work left over when time ran short)."""
        self.continuation_requested = True

    def count(self, name: str, by: int = 1) -> None:
        with self._count_lock:  # jobs may count from worker threads
            self.counts[name] = self.counts.get(name, 0) + by

    def note(self, problem: str) -> None:
        """Record a problem that did not stop the run: the run's reason names it, even when it succeeds."""
        with self._count_lock:
            if problem not in self.notes:
                self.notes.append(problem)

    def reason(self, reason: str | None = None) -> str | None:
        """`reason` followed by the run's notes (None when there is neither)."""
        return "; ".join(part for part in (reason, *self.notes) if part) or None


JobFn = Callable[[JobContext[JobTemu, JobWholeCell]], None]


def fan_out(services: Services, job: str, sqs: Any = None) -> int:
    """One message per active connection with the job enabled, largest catalogs first; returns how many.

    SQS standard queues keep send order on a best-effort basis, so a large account's long run starts at
    the beginning of the tick, not behind every small one (the tick ends when its longest run does)."""
    sqs = sqs or sqs_client()
    batch: list[dict[str, str]] = []
    sent = 0

    def flush() -> None:
        nonlocal sent
        if not batch:
            return
        response = sqs.send_message_batch(QueueUrl=services.settings.queue_url(job), Entries=batch)
        failed = response.get("Failed") or []
        if failed:  # surface, so the schedule's retry policy tries the tick again
            raise RuntimeError(f"fan-out of {job}: {len(failed)} messages not sent: {failed[0]}")
        sent += len(batch)
        batch.clear()

    for connection in longest_first([c for c in services.connections.iter_active() if c.settings.job_enabled(job)]):
        body = JobMessage(connection_id=connection.connection_id, job=job).model_dump_json(exclude_none=True)
        batch.append({"Id": str(len(batch)), "MessageBody": body})
        if len(batch) == 10:
            flush()
    flush()
    metrics.add_metric(name=f"{job}_fanout", unit=MetricUnit.Count, value=sent)
    logger.info("fan-out done", extra={"job": job, "messages": sent})
    return sent


def _record_token_health(connection: Connection, clock: Clock) -> None:
    days = connection.days_to_token_expiry(clock.now())
    if days is not None:
        metrics.add_metric(name="TokenDaysToExpiry", unit=MetricUnit.Count, value=round(days, 2))


def execute(services: Services, message: JobMessage, job_fn: JobFn, deadline: float | None = None) -> Run | None:
    """Run one job for one connection; returns the finished run (None if the connection is gone).

    Raises for failures that SQS should retry (and finally dead-letter).
    """
    job = message.job
    connection = services.connections.get(message.connection_id)
    if connection is None:
        logger.warning("message for an unknown connection dropped", extra={"job": job})
        return None
    logger.append_keys(connection_id=connection.connection_id, job=job)
    run = (services.runs.get(connection.connection_id, job, message.queued_key) if message.queued_key else None)
    if run is None:
        run = services.runs.create(connection.connection_id, job, message.trigger)
    elif run.outcome in (Outcome.SUCCEEDED, Outcome.SKIPPED):  # a late copy of a message already handled
        logger.info("duplicate delivery of a finished run dropped", extra={"run_id": run.run_id})
        return run

    if connection.status is not ConnectionStatus.ACTIVE:
        reason = {
            ConnectionStatus.NEEDS_REAUTHORIZATION: "the Temu shop must be authorized again"
            + (f" ({connection.status_reason})" if connection.status_reason else ""),
            ConnectionStatus.AWAITING_AUTHORIZATION: "the Temu shop is not authorized yet",
            ConnectionStatus.DISABLED: "the connection is disabled",
            ConnectionStatus.DELETED: "the connection was deleted",
        }[connection.status]
        return services.runs.finish(run, Outcome.SKIPPED, reason=reason)
    if message.trigger != "manual" and not connection.settings.job_enabled(job):
        return services.runs.finish(run, Outcome.SKIPPED, reason=f"{job} is turned off in the settings")
    _record_token_health(connection, services.clock)

    # The lease is held by this attempt, not by the run: two copies of one manual-run message
    # (SQS delivers at least once) share the run id, and only one of them may take the lease.
    owner = f"{run.run_id}:{uuid.uuid4().hex}"
    if not services.runs.acquire_lease(connection.connection_id, job, owner, services.settings.lease_seconds):
        holder = services.runs.lease_holder(connection.connection_id, job) or ""
        if holder.startswith(f"{run.run_id}:"):  # a copy of this message runs it: leave its record alone
            logger.info("duplicate delivery of a running run dropped", extra={"run_id": run.run_id})
            return run
        return services.runs.finish(run, Outcome.SKIPPED, reason="another run of this job is in progress")
    try:
        run, continuation = _run_leased(services, connection, run, job_fn, target=message.target, deadline=deadline)
    finally:
        services.runs.release_lease(connection.connection_id, job, owner)
    if continuation:  # queued only once the lease is free: taken at once, it must not find it held
        enqueue(services, job, connection.connection_id, trigger=CONTINUATION, queued_key=None)
    return run


def _run_leased(services: Services, connection: Connection, run: Run, job_fn: JobFn, *, target: str | None,
                deadline: float | None) -> tuple[Run, bool]:
    """Run the job under its lease; the finished run and whether a follow-up run is wanted."""
    job = run.job
    run = services.runs.mark_running(run)
    context: JobContext[JobTemu, JobWholeCell] = JobContext(
        services.settings, connection, run, services.secrets, services.runs, deadline=deadline, target=target,
        clock=services.clock)
    try:
        job_fn(context)
    except JobSkipped as skipped:
        return services.runs.finish(run, Outcome.SKIPPED, context.counts, context.reason(str(skipped))), False
    except ExternalApiError as exc:
        if exc.error_class is ErrorClass.REAUTHORIZE:
            if not services.connections.mark_needs_reauthorization(
                    connection.connection_id, str(exc), credentials_version=connection.credentials_version) \
                    and _reauthorized_since(services, connection):
                # the shop was re-authorized while this run used the token it replaced (Temu revoked
                # it): fail the run, SQS delivers it again and it reads the new token
                services.runs.finish(run, Outcome.FAILED, context.counts,
                                     context.reason(f"token replaced while the run used the old one: {exc}"))
                raise ExternalApiError(f"token replaced during the run: {exc}", error_class=ErrorClass.RETRYABLE,
                                       operation=exc.operation) from exc
            metrics.add_metric(name="ConnectionNeedsReauthorization", unit=MetricUnit.Count, value=1)
            logger.warning("connection needs re-authorization", extra={"error": str(exc)})
            return services.runs.finish(run, Outcome.FAILED, context.counts,
                                        context.reason(f"authorization lost, re-authorize the shop: {exc}")), False
        services.runs.finish(run, Outcome.FAILED, context.counts, context.reason(str(exc)))
        raise
    except Exception as exc:
        services.runs.finish(run, Outcome.FAILED, context.counts, context.reason(f"{type(exc).__name__}: {exc}"))
        raise
    metrics.add_metric(name=f"{job}_succeeded", unit=MetricUnit.Count, value=1)
    if context.continuation_requested:
        reason = "time ran short: the rest continues in a follow-up run"
        return services.runs.finish(run, Outcome.SUCCEEDED, context.counts, context.reason(reason)), True
    return services.runs.finish(run, Outcome.SUCCEEDED, context.counts, context.reason()), False


def _reauthorized_since(services: Services, connection: Connection) -> bool:
    """The connection is active on credentials other than the ones this run read."""
    current = services.connections.get(connection.connection_id)
    return current is not None and current.status is ConnectionStatus.ACTIVE \
        and current.credentials_version != connection.credentials_version


def make_job_handler(job: str, job_fn: JobFn) -> Callable[[dict[str, Any], Any], Any]:
    """The Lambda entry for a job: a schedule tick fans out, an SQS batch runs connections."""
    services = Services.cached
    invocation: dict[str, float | None] = {"deadline": None}

    def record_handler(record: SQSRecord) -> None:
        try:
            message = JobMessage.model_validate(json.loads(record.body))
        except (ValueError, ValidationError) as exc:
            raise ValueError(f"poison message {record.message_id}: {exc}") from exc  # → retries → DLQ
        if message.job != job:
            raise ValueError(f"message for job {message.job!r} on the {job} queue")
        execute(services(), message, job_fn, invocation["deadline"])

    def handle(event: dict[str, Any], context: Any) -> Any:
        remaining = getattr(context, "get_remaining_time_in_millis", None)
        invocation["deadline"] = time.monotonic() + remaining() / 1000 if callable(remaining) else None
        if "Records" in event:
            processor = BatchProcessor(event_type=EventType.SQS)
            return process_partial_response(event=event, record_handler=record_handler,
                                            processor=processor, context=context)
        if event.get("fanout") == job:
            return {"job": job, "messages": fan_out(services(), job)}
        raise ValueError(f"unsupported event for {job}: expected SQS records or {{'fanout': '{job}'}}")

    return handle


def job_lambda_handler(job: str, job_fn: JobFn) -> Callable[[dict[str, Any], Any], Any]:
    """A job function's complete Lambda handler: Powertools logging context, metrics, tracing."""
    handle = make_job_handler(job, job_fn)

    @logger.inject_lambda_context(clear_state=True)
    @metrics.log_metrics
    @tracer.capture_lambda_handler
    def lambda_handler(event: dict[str, Any], context: Any) -> Any:
        return handle(event, context)

    return lambda_handler
