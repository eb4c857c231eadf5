"""Shipment confirmation worker: each queued shipment becomes one Temu confirmation."""

from typing import Any

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
from wholecell_temu.config import get_settings
from wholecell_temu.jobs.shipment_push import make_shipment_handler
from wholecell_temu.observability import logger, metrics, tracer

handle = make_shipment_handler(DynamoDBPersistenceLayer(table_name=get_settings().idempotency_table))


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: Any) -> Any:
    return handle(event, context)
