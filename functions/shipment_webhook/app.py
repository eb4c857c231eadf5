"""Shipment webhook: verify WholeCell's signature, queue the event, answer 202 (nothing slow)."""

from typing import Any

from wholecell_temu.observability import logger, metrics, tracer
from wholecell_temu.services import Services
from wholecell_temu.webhook import build_webhook_app

app = build_webhook_app(Services.cached)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: Any) -> Any:
    return app.resolve(event, context)
