"""Temu seller authorization: GET /temu/authorize and GET /temu/callback."""

from typing import Any

from wholecell_temu.auth.api import build_app
from wholecell_temu.auth.service import AuthorizationService
from wholecell_temu.observability import logger, tracer
from wholecell_temu.services import Services

app = build_app(lambda: AuthorizationService(Services.cached()))


@logger.inject_lambda_context(correlation_id_path="requestContext.requestId", clear_state=True)
# Answers carry secrets and tokens, and an error can quote the request: neither goes into X-Ray.
@tracer.capture_lambda_handler(capture_response=False, capture_error=False)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
