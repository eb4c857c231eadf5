"""Quantity sync: the schedule tick fans out; each queue message syncs one connection's quantities."""

from typing import Any

from wholecell_temu.jobs import quantity_sync
from wholecell_temu.jobs.framework import make_job_handler
from wholecell_temu.observability import logger, metrics, tracer

handle = make_job_handler("quantity_sync", quantity_sync.run)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: Any) -> Any:
    return handle(event, context)
