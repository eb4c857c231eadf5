"""Listing import: the schedule tick fans out; each queue message imports one connection's shop."""

from typing import Any

from wholecell_temu.jobs import listing_import
from wholecell_temu.jobs.framework import make_job_handler
from wholecell_temu.observability import logger, metrics, tracer

handle = make_job_handler("listing_import", listing_import.run)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: Any) -> Any:
    return handle(event, context)
