"""Address backfill: the schedule tick fans out; each queue message fills one connection's awaited addresses."""

from typing import Any

from wholecell_temu.jobs import address_backfill
from wholecell_temu.jobs.framework import make_job_handler
from wholecell_temu.observability import logger, metrics, tracer

handle = make_job_handler("address_backfill", address_backfill.run)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: Any) -> Any:
    return handle(event, context)
