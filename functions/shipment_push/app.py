"""Shipment confirmation worker: each queued shipment becomes one Temu confirmation."""

import os
from typing import Any

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
from wholecell_temu.jobs.shipment_push import make_shipment_handler
from wholecell_temu.observability import logger, metrics, tracer

handle = make_shipment_handler(DynamoDBPersistenceLayer(table_name=os.environ["IDEMPOTENCY_TABLE"]))


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: Any) -> Any:
    return handle(event, context)
