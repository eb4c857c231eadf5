"""Shipment reconciler: the schedule tick fans out; each queue message finds one connection's unconfirmed shipments."""

from typing import Any

from wholecell_temu.jobs import shipment_reconcile
from wholecell_temu.jobs.framework import make_job_handler
from wholecell_temu.observability import logger, metrics, tracer

handle = make_job_handler("shipment_reconcile", shipment_reconcile.run)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: Any) -> Any:
    return handle(event, context)
