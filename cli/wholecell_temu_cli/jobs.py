"""`wholecell-temu jobs run` and `runs list|show`: queue a run, follow it to its end, read the run log."""

from __future__ import annotations

import time
from enum import StrEnum
from typing import Annotated, Any

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from wholecell_temu_cli.client import Api, authorize_hint
from wholecell_temu_cli.common import ConnectionId, api, options
from wholecell_temu_cli.output import Exit, err, fail, fields_table, note, print_json, table

jobs_app = typer.Typer(help="Run a job for one connection now.", no_args_is_help=True)
runs_app = typer.Typer(help="The run log.", no_args_is_help=True)

FINISHED = ("succeeded", "failed", "skipped")


class Job(StrEnum):
    LISTING_IMPORT = "listing_import"
    QUANTITY_SYNC = "quantity_sync"
    ORDER_IMPORT = "order_import"
    ADDRESS_BACKFILL = "address_backfill"
    SHIPMENT_RECONCILE = "shipment_reconcile"


Timeout = Annotated[float, typer.Option(help="Seconds to wait for the run to end.", min=1)]
Interval = Annotated[float, typer.Option(help="Seconds between looks at the run log.", min=0.1)]


def _find(client: Api, connection_id: str, job: str, run_id: str) -> dict[str, Any] | None:
    runs = client.get("connections", connection_id, "runs", query={"job": job})["items"]
    return next((r for r in runs if r["run_id"] == run_id), None)


def wait_for_run(ctx: typer.Context, connection_id: str, job: str, run_id: str, *, timeout: float,
                 interval: float) -> dict[str, Any]:
    """Poll the run log until the run ends (a spinner on stderr meanwhile); exit 1 on timeout."""
    client = api(ctx)
    deadline = time.monotonic() + timeout
    run: dict[str, Any] | None = None
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err(),
                  transient=True) as progress:
        task = progress.add_task(f"{job} {run_id}: queued", total=None)
        while time.monotonic() < deadline:
            run = _find(client, connection_id, job, run_id)
            if run is not None:
                progress.update(task, description=f"{job} {run_id}: {run['outcome']}")
                if run["outcome"] in FINISHED:
                    return run
            time.sleep(interval)
    fail(Exit.REFUSED, f"run {run_id} had not ended after {timeout:g} s (last seen: "
         f"{run['outcome'] if run else 'not in the run log'})",
         hints=[f"follow it with `wholecell-temu runs show {connection_id} {run_id}`"])


def report_run(ctx: typer.Context, connection_id: str, run: dict[str, Any]) -> None:
    """Print the run (outcome, counts, reason); exit 1 when it failed."""
    if options(ctx).json:
        print_json(run)
    else:
        _run_tables(run)
    reason = (run.get("reason") or "").lower()
    if "authoriz" in reason or "token" in reason:
        note(f"→ {authorize_hint(connection_id)}")
    if run["outcome"] == "failed":
        raise typer.Exit(Exit.REFUSED)


def _run_tables(run: dict[str, Any]) -> None:
    fields_table(f"Run {run['run_id']}", run, ["job", "trigger", "outcome", "started_at", "ended_at", "reason"])
    if run.get("counts"):
        table("Counts", ["count", "value"], sorted(run["counts"].items()))


@jobs_app.command("run")
def run_job(
    ctx: typer.Context,
    connection_id: ConnectionId,
    job: Annotated[Job, typer.Argument(help="The job.", show_default=False)],
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait for the run's end.")] = True,
    timeout: Timeout = 900,
    interval: Interval = 1.0,
) -> None:
    """Queue a run of JOB, wait for its end, print its outcome and counts (exit 1 if it failed)."""
    queued = api(ctx).post("connections", connection_id, "jobs", job.value, "run")
    follow_run(ctx, connection_id, job.value, queued, wait=wait, timeout=timeout, interval=interval)


def follow_run(ctx: typer.Context, connection_id: str, job: str, queued: dict[str, Any], *, wait: bool,
               timeout: float, interval: float) -> None:
    """A run just queued: say so (--no-wait), or wait for its end and report it."""
    if not wait:
        if options(ctx).json:
            print_json(queued)
        else:
            note(f"Queued run {queued['run_id']}.")
        return
    report_run(ctx, connection_id, wait_for_run(ctx, connection_id, job, queued["run_id"], timeout=timeout,
                                                interval=interval))


@runs_app.command("list")
def list_runs(
    ctx: typer.Context,
    connection_id: ConnectionId,
    job: Annotated[Job | None, typer.Option(help="Only this job's runs.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many (newest first).", min=1)] = 20,
) -> None:
    """A connection's recent runs."""
    answer = api(ctx).get("connections", connection_id, "runs", query={"job": job.value if job else None})
    items = answer["items"][:limit]
    if options(ctx).json:
        print_json({"items": items})
        return
    table(None, ["run_id", "job", "trigger", "outcome", "started_at", "ended_at", "reason"],
          ((r["run_id"], r["job"], r["trigger"], r["outcome"], r["started_at"], r["ended_at"], r["reason"])
           for r in items), no_wrap=["run_id"])


@runs_app.command("show")
def show_run(
    ctx: typer.Context,
    connection_id: ConnectionId,
    run_id: Annotated[str, typer.Argument(help="The run's id (`runs list`).", show_default=False)],
) -> None:
    """One run: outcome, reason and counts."""
    runs = api(ctx).get("connections", connection_id, "runs")["items"]
    run = next((r for r in runs if r["run_id"] == run_id), None)
    if run is None:
        fail(Exit.REFUSED, f"run {run_id} is not in the run log of {connection_id}",
             hints=[f"`wholecell-temu runs list {connection_id}` lists its runs"])
    if options(ctx).json:
        print_json(run)
    else:
        _run_tables(run)
