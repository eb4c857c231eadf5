"""Order import: the schedule tick fans out; each queue message imports one connection's new and changed Temu orders."""

from typing import Any

from wholecell_temu.jobs import order_import
from wholecell_temu.jobs.framework import make_job_handler
from wholecell_temu.observability import logger, metrics, tracer

handle = make_job_handler("order_import", order_import.run)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: Any) -> Any:
    return handle(event, context)
