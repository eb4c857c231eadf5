"""The HTTP API's OpenAPI document, generated from the handlers' routes and models.

    python -m local.openapi           # print it
    python -m local.openapi --write   # write docs/openapi.json (a test fails when it is stale)

The admin routes come from Powertools' generator (routes + pydantic models); the OAuth and
webhook routes, which read raw query strings and raw bytes (the signature covers the exact
body), are described here from their resolvers' routes and the event model.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from wholecell_temu.admin.api import build_app as build_admin_app
from wholecell_temu.admin.api import openapi_document
from wholecell_temu.admin.models import ErrorResponse
from wholecell_temu.auth.api import build_app as build_oauth_app
from wholecell_temu.webhook import MAX_BODY_BYTES, build_webhook_app
from wholecell_temu.wholecell import ShipmentEvent
from wholecell_temu.wholecell.adapter import SIGNATURE_HEADER, TIMESTAMP_HEADER

ROOT = Path(__file__).resolve().parents[1]
DOCUMENT = ROOT / "docs" / "openapi.json"
TITLE = "WholeCell-Temu HTTP API"


def _route_paths(app: APIGatewayHttpResolver) -> set[tuple[str, str]]:
    """(method, OpenAPI path) of every route a resolver serves."""
    routes = [*app._static_routes, *app._dynamic_routes]
    paths = set()
    for route in routes:
        path = route.openapi_path if hasattr(route, "openapi_path") else route.path
        paths.add((route.method.lower(), path.replace("<", "{").replace(">", "}")))
    return paths


def _html(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"text/html": {"schema": {"type": "string"}}}}


def _error(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {
        "schema": {"$ref": "#/components/schemas/ErrorResponse"}}}}


def _oauth_paths() -> dict[str, Any]:
    served = _route_paths(build_oauth_app(lambda: None))  # type: ignore[arg-type,return-value]
    paths = {
        "/temu/authorize": {"get": {
            "summary": "Send the seller to Temu Seller Center to authorize the app (an admin-issued link)",
            "description": "The link comes from POST /admin/connections/{connection_id}/authorize-link (or the "
                           "creation answer's authorize_url): single use, valid 10 minutes.",
            "operationId": "temu_authorize",
            "parameters": [{"name": "state", "in": "query", "required": True, "schema": {"type": "string"}}],
            "responses": {"302": {"description": "Redirect to Temu's authorization page",
                                  "headers": {"Location": {"schema": {"type": "string"}}}},
                          "400": _html("Missing, forged, expired, used or replaced link"),
                          "404": _html("Unknown connection")}}},
        "/temu/callback": {"get": {
            "summary": "Temu's redirect back: exchange the code, store the token",
            "operationId": "temu_callback",
            "parameters": [{"name": name, "in": "query", "required": False, "schema": {"type": "string"}}
                           for name in ("code", "state", "callback_host")],
            "description": "With the state of an admin-issued link: the link is spent and the token stored on its "
                           "connection. Without a state (an install started in Temu's app store): the token is kept "
                           "unbound for an operator to bind (GET /admin/authorizations).",
            "responses": {"200": _html("The shop is connected, or the app-store install was received"),
                          "400": _html("Bad, expired, replaced or reused state/code"),
                          "404": _html("Unknown connection"), "409": _html("The token belongs to another shop"),
                          "502": _html("Temu did not answer; try again")}}},
    }
    missing = {("get", path) for path in paths} - served
    if missing:
        raise RuntimeError(f"documented OAuth routes the resolver does not serve: {sorted(missing)}")
    return paths


def _webhook_paths() -> dict[str, Any]:
    served = _route_paths(build_webhook_app(lambda: None))
    path = "/wholecell/{connection_id}/shipments"
    if ("post", path) not in served:
        raise RuntimeError(f"the webhook resolver does not serve POST {path}")
    headers = [{"name": name, "in": "header", "required": True, "schema": {"type": "string"}}
               for name in (TIMESTAMP_HEADER, SIGNATURE_HEADER)]
    return {path: {"post": {
        "summary": "WholeCell's sales_order.shipment_created event (signed)",
        "description": f"HMAC-SHA256 of `timestamp + '.' + raw body`, 5-minute tolerance; bodies over "
                       f"{MAX_BODY_BYTES} bytes are refused. 202 means the event is on the shipment queue.",
        "operationId": "wholecell_shipment_created",
        "parameters": [{"name": "connection_id", "in": "path", "required": True, "schema": {"type": "string"}},
                       *headers],
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": {"$ref": "#/components/schemas/ShipmentEvent"}}}},
        "responses": {
            "202": {"description": "Queued", "content": {"application/json": {"schema": {
                "type": "object", "required": ["accepted", "event_id"],
                "properties": {"accepted": {"type": "boolean"}, "event_id": {"type": "string"}}}}}},
            "400": _error("Not JSON or not a shipment event (fields named)"),
            "401": _error("Missing, stale or wrong signature"), "404": _error("Unknown connection"),
            "413": _error("Body too large")}}}}


def build_document() -> dict[str, Any]:
    admin = openapi_document(build_admin_app(lambda: None), TITLE)
    public = {**_oauth_paths(), **_webhook_paths()}
    for operations in public.values():
        for operation in operations.values():
            operation["security"] = []  # public: the state, the code or the webhook signature authenticates
    admin.setdefault("paths", {}).update(public)
    schemas = admin.setdefault("components", {}).setdefault("schemas", {})
    event_schema = ShipmentEvent.model_json_schema(ref_template="#/components/schemas/{model}")
    for name, definition in event_schema.pop("$defs", {}).items():
        schemas.setdefault(name, definition)
    schemas["ShipmentEvent"] = event_schema
    schemas.setdefault("ErrorResponse", ErrorResponse.model_json_schema(ref_template="#/components/schemas/{model}"))
    for name, definition in list(schemas["ErrorResponse"].pop("$defs", {}).items()):
        schemas.setdefault(name, definition)
    admin["info"]["description"] = ("Admin routes (IAM-authorized in AWS: SigV4, `sigv4`), the Temu authorization "
                                    "redirect and callback, and WholeCell's shipment webhook (public). Generated by "
                                    "local/openapi.py.")
    return dict(admin)


def render() -> str:
    return json.dumps(build_document(), indent=2, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--write", action="store_true", help=f"write {DOCUMENT.relative_to(ROOT)}")
    args = parser.parse_args(argv)
    text = render()
    if args.write:
        DOCUMENT.write_text(text)
        print(f"wrote {DOCUMENT}")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
