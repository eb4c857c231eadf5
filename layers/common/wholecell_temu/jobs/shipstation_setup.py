"""The ShipStation set-up checked at run time (the account may have changed since the settings
were saved): domain.shipstation's rule against the account's statuses and channels, read once."""

from __future__ import annotations

from collections.abc import Callable

from aws_lambda_powertools.metrics import MetricUnit

from wholecell_temu.domain.shipstation import ShipStationProblem, shipstation_problems
from wholecell_temu.errors import ErrorClass, ExternalApiError
from wholecell_temu.jobs.framework import JobContext
from wholecell_temu.jobs.ports import ShipStationSetupWholeCell
from wholecell_temu.observability import logger, metrics


def _unless_missing[T](read: Callable[[], T]) -> T | None:
    """None when the account has no such endpoint (404): configuration wins, as on the settings save."""
    try:
        return read()
    except ExternalApiError as exc:
        if exc.error_class is ErrorClass.FIX_REQUEST and exc.status == 404:
            return None
        raise


def check_shipstation_setup(context: JobContext[object, ShipStationSetupWholeCell]) -> list[ShipStationProblem]:
    """Every problem of the set-up; those not about the channel are recorded on the run (its
    reason names them, `shipstation_problems` counts them, a metric) for the run to go on.
    A channel problem is left to the caller, which stops the run."""
    settings = context.connection.settings
    if not settings.shipstation_sync:
        return []
    statuses = _unless_missing(context.wholecell.sales_order_statuses)
    channels = _unless_missing(context.wholecell.sales_channels)
    problems = shipstation_problems(settings, statuses,
                                    None if channels is None else [channel.title for channel in channels])
    recorded = [problem for problem in problems if problem.field != "sales_channel"]
    if recorded:
        context.count("shipstation_problems", len(recorded))
        context.note("ShipStation set-up, orders still imported into WholeCell: " + " | ".join(
            f"{problem.severity} in {problem.field}: {problem.problem}; {problem.fix}" for problem in recorded))
        metrics.add_metric(name="ShipStationSetupProblems", unit=MetricUnit.Count, value=len(recorded))
        logger.warning("ShipStation set-up problem", extra={"problems": [p.message for p in recorded]})
    return problems
