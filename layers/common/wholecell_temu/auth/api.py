"""OAuth routes: send the seller to Temu, then take Temu's callback."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response

from wholecell_temu.api_errors import ApiError
from wholecell_temu.auth.pages import connected_page, error_page, received_page
from wholecell_temu.auth.service import AuthorizationService
from wholecell_temu.web import base_url


def build_app(service_factory: Callable[[], AuthorizationService]) -> APIGatewayHttpResolver:
    app = APIGatewayHttpResolver()

    def html(status: int, body: str) -> Response[Any]:
        return Response(status_code=status, content_type="text/html; charset=utf-8", body=body,
                        headers={"Cache-Control": "no-store"})

    @app.exception_handler(ApiError)
    def _api_error(exc: ApiError) -> Response[Any]:
        return html(exc.status, error_page(exc.message))

    @app.get("/temu/authorize")
    def authorize() -> Response[Any]:
        query = app.current_event.query_string_parameters or {}
        url = service_factory().authorize_url(query.get("state"), f"{base_url(app)}/temu/callback")
        return Response(status_code=302, headers={"Location": url, "Cache-Control": "no-store"}, body="")

    @app.get("/temu/callback")
    def callback() -> Response[Any]:
        query = app.current_event.query_string_parameters or {}
        if not query.get("state"):  # the install started in Temu's app store: kept for an operator to bind
            unbound = service_factory().install(query.get("code"), query.get("callback_host"))
            return html(200, received_page(unbound.mall_id))
        connection = service_factory().callback(query.get("code"), query.get("state"), query.get("callback_host"))
        return html(200, connected_page(connection.name, connection.temu_mall_id or 0, connection.missing_scopes))

    return app
