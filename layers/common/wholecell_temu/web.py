"""What the HTTP surfaces (admin API, OAuth routes, webhook) share about the request itself."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver


def base_url(app: APIGatewayHttpResolver) -> str:
    """The public base URL of this API, from the request (API Gateway's domain name)."""
    domain = app.current_event.request_context.domain_name
    local = domain.startswith(("127.0.0.1", "localhost"))
    return f"{'http' if local else 'https'}://{domain}"
