"""The shipment webhook: WholeCell posts `sales_order.shipment_created`; we queue it, fast.

Checks, in order: the connection exists and is not deleted (404), the body is not absurdly large (413), the
signature holds (401: `X-WholeCell-Timestamp` + `X-WholeCell-Signature`, HMAC-SHA256 over
`timestamp + "." + raw body` with the connection's webhook secret, constant-time, 5-minute
tolerance, two secrets during rotation), the connection is not disabled (409), the body parses
(400 naming the fields). A connection's webhook secret is derived from the stack's master key
(WebhookKeySecret), the connection id and its key version, so this function reads no
per-connection secret at all. Then the
event is durably on the shipment queue and the answer is 202. Nothing here calls Temu or
WholeCell; a repeated `event_id` is accepted again and processed once by the worker.
"""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import ValidationError

from wholecell_temu.domain.connection import ConnectionStatus
from wholecell_temu.observability import logger, metrics
from wholecell_temu.queues import ShipmentMessage, send_shipment
from wholecell_temu.secrets import webhook_signing_secrets
from wholecell_temu.services import Services
from wholecell_temu.wholecell import ShipmentEvent, verify_webhook

MAX_BODY_BYTES = 64 * 1024  # a shipment event is a few hundred bytes


def _answer(status: int, code: str, message: str, fields: dict[str, str] | None = None) -> Response[Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if fields:
        error["fields"] = fields
    return Response(status_code=status, content_type="application/json", body=json.dumps({"error": error}))


def build_webhook_app(services: Any, sqs: Any = None) -> APIGatewayHttpResolver:
    """`services()` returns the process's Services (built lazily)."""
    app = APIGatewayHttpResolver()

    @app.post("/wholecell/<connection_id>/shipments")
    def shipment_created(connection_id: str) -> Response[Any]:
        svc: Services = services()
        connection = svc.connections.get(connection_id) if len(connection_id) <= 64 else None
        if connection is None or connection.status is ConnectionStatus.DELETED:
            metrics.add_metric(name="WebhookRejected", unit=MetricUnit.Count, value=1)
            return _answer(404, "not_found", "unknown connection")
        event = app.current_event
        try:
            raw = event.decoded_body or ""
        except (ValueError, TypeError):  # a base64 body that is not UTF-8 (or not base64)
            return _answer(400, "invalid_request", "the body is not UTF-8 JSON")
        raw_bytes = raw.encode() if isinstance(raw, str) else bytes(raw)
        if len(raw_bytes) > MAX_BODY_BYTES:
            return _answer(413, "too_large", f"body over {MAX_BODY_BYTES} bytes")
        secrets = webhook_signing_secrets(svc.settings, svc.secrets, connection, svc.clock.now())
        if not verify_webhook(dict(event.headers or {}), raw_bytes, secrets, svc.clock.time()):
            metrics.add_metric(name="WebhookRejected", unit=MetricUnit.Count, value=1)
            logger.warning("webhook signature rejected", extra={"connection_id": connection_id})
            return _answer(401, "unauthorized", "missing, stale or wrong X-WholeCell-Signature")
        if connection.status is ConnectionStatus.DISABLED:  # told only to the signer; the reconciler catches up
            metrics.add_metric(name="WebhookRejected", unit=MetricUnit.Count, value=1)
            return _answer(409, "connection_disabled", "the connection is disabled; nothing was queued")
        try:
            payload = json.loads(raw_bytes)
            shipment = ShipmentEvent.model_validate(payload)
        except ValueError as exc:  # JSON and validation errors alike
            fields = ({".".join(str(p) for p in err["loc"]) or "body": err["msg"] for err in exc.errors()}
                      if isinstance(exc, ValidationError) else {"body": "not valid JSON"})
            return _answer(400, "invalid_request", "not a sales_order.shipment_created event", fields)
        send_shipment(svc, ShipmentMessage(connection_id=connection_id, sales_order_id=shipment.sales_order_id,
                                           source="webhook", event_id=shipment.event_id), sqs=sqs)
        metrics.add_metric(name="ShipmentEventAccepted", unit=MetricUnit.Count, value=1)
        logger.info("shipment event queued", extra={"connection_id": connection_id, "event_id": shipment.event_id,
                                                     "sales_order_id": shipment.sales_order_id})
        return Response(status_code=202, content_type="application/json",
                        body=json.dumps({"accepted": True, "event_id": shipment.event_id}))

    @app.not_found
    def _not_found(exc: Exception) -> Response[Any]:
        return _answer(404, "not_found", "no such route")

    return app
