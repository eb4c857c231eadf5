"""Runs table repository: the run log (newest first, expiring) and the per-job run lease."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict
from pynamodb.exceptions import DeleteError, DoesNotExist, PutError
from pynamodb.expressions.update import Action

from wholecell_temu.domain.settings import JOBS
from wholecell_temu.net import Clock
from wholecell_temu.store.tables import LEASE_SK, RunModel


class Outcome(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"


class Run(BaseModel):
    model_config = ConfigDict(frozen=True)

    run_id: str
    connection_id: str
    job: str
    trigger: str
    outcome: Outcome
    queued_key: str  # the item's sort key
    started_at: datetime | None = None
    ended_at: datetime | None = None
    counts: dict[str, Any] = {}
    reason: str | None = None


# A copy of a job's last finished run, so a connection's health is one batch read, not a query per
# job; it sorts before LEASE_SK, so run listings (sort keys after LEASE_SK) never see it.
LATEST_SK = "#latest"


def _pk(connection_id: str, job: str) -> str:
    return f"{connection_id}#{job}"


def _to_run(item: RunModel) -> Run:
    return Run(
        run_id=item.run_id or "",
        connection_id=item.connection_id or "",
        job=item.job or "",
        trigger=item.trigger or "schedule",
        outcome=Outcome(item.outcome or Outcome.QUEUED),
        queued_key=item.sk,
        started_at=item.started_at,
        ended_at=item.ended_at,
        counts=dict(item.counts or {}),
        reason=item.reason,
    )


class RunLog:
    def __init__(self, retention_days: int = 30, clock: Clock | None = None) -> None:
        self.retention = timedelta(days=retention_days)
        self.clock = clock or Clock()

    def create(self, connection_id: str, job: str, trigger: str, outcome: Outcome = Outcome.QUEUED) -> Run:
        now = self.clock.now()
        run_id = uuid.uuid4().hex
        item = RunModel(
            _pk(connection_id, job),
            f"{now.isoformat()}#{run_id}",
            run_id=run_id,
            connection_id=connection_id,
            job=job,
            trigger=trigger,
            outcome=outcome.value,
            started_at=now if outcome is Outcome.RUNNING else None,
            expires_at=now + self.retention,
        )
        item.save()
        return _to_run(item)

    def get(self, connection_id: str, job: str, queued_key: str) -> Run | None:
        try:
            return _to_run(RunModel.get(_pk(connection_id, job), queued_key, consistent_read=True))
        except DoesNotExist:
            return None

    def mark_running(self, run: Run) -> Run:
        now = self.clock.now()
        item = RunModel(_pk(run.connection_id, run.job), run.queued_key)
        item.update(actions=[RunModel.outcome.set(Outcome.RUNNING.value), RunModel.started_at.set(now)])
        return run.model_copy(update={"outcome": Outcome.RUNNING, "started_at": now})

    def finish(self, run: Run, outcome: Outcome, counts: dict[str, Any] | None = None,
               reason: str | None = None) -> Run:
        now = self.clock.now()
        actions: list[Action] = [RunModel.outcome.set(outcome.value), RunModel.ended_at.set(now),
                   RunModel.counts.set(counts or {})]
        actions.append(RunModel.reason.set(reason) if reason else RunModel.reason.remove())
        if run.started_at is None:
            actions.append(RunModel.started_at.set(now))
        RunModel(_pk(run.connection_id, run.job), run.queued_key).update(actions=actions)
        finished = run.model_copy(update={"outcome": outcome, "ended_at": now, "counts": counts or {},
                                          "reason": reason, "started_at": run.started_at or now})
        RunModel(_pk(run.connection_id, run.job), LATEST_SK, run_id=run.run_id, connection_id=run.connection_id,
                 job=run.job, trigger=run.trigger, outcome=outcome.value, started_at=finished.started_at,
                 ended_at=now, reason=reason or None, expires_at=now + self.retention).save()
        return finished

    def last_finished(self, connection_ids: Iterable[str], jobs: Iterable[str] = JOBS) -> dict[tuple[str, str], Run]:
        """The last finished run of each (connection, job) that has one: batch reads, 100 keys each."""
        keys = [(_pk(connection_id, job), LATEST_SK) for connection_id in connection_ids for job in jobs]
        return {(item.connection_id or "", item.job or ""): _to_run(item) for item in RunModel.batch_get(keys)}

    def list(self, connection_id: str, job: str | None = None, limit: int = 50) -> list[Run]:
        """Newest first; across every job when `job` is None."""
        jobs = [job] if job else list(JOBS)
        runs: list[Run] = []
        for name in jobs:
            query = RunModel.query(_pk(connection_id, name), RunModel.sk > LEASE_SK,
                                   scan_index_forward=False, limit=limit)
            runs.extend(_to_run(item) for item in query)
        runs.sort(key=lambda r: r.queued_key, reverse=True)
        return runs[:limit]

    def latest(self, connection_id: str, job: str) -> Run | None:
        found = self.list(connection_id, job, limit=1)
        return found[0] if found else None

    # ------------------------------------------------------------------ lease
    def acquire_lease(self, connection_id: str, job: str, owner: str, seconds: int) -> bool:
        """Take the job's lease for this connection unless someone else holds a live one.

        `owner` names one attempt (the framework adds a random part to the run id), so two
        deliveries of the same message cannot both hold it."""
        now = self.clock.time()
        item = RunModel(_pk(connection_id, job), LEASE_SK, lease_owner=owner, lease_until=now + seconds,
                        expires_at=self.clock.now() + timedelta(seconds=seconds) + timedelta(days=1))
        try:
            item.save(condition=RunModel.pk.does_not_exist() | (RunModel.lease_until < now)
                      | (RunModel.lease_owner == owner))
        except PutError:
            return False
        return True

    def lease_holder(self, connection_id: str, job: str) -> str | None:
        """Who holds the job's lease for this connection (None: nobody, or it expired)."""
        try:
            item = RunModel.get(_pk(connection_id, job), LEASE_SK, consistent_read=True)
        except DoesNotExist:
            return None
        return item.lease_owner if (item.lease_until or 0) >= self.clock.time() else None

    def release_lease(self, connection_id: str, job: str, owner: str) -> None:
        try:
            RunModel(_pk(connection_id, job), LEASE_SK).delete(condition=RunModel.lease_owner == owner)
        except DeleteError:  # someone else holds it now, or it is gone: nothing to release
            return
