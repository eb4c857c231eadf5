"""docs/openapi.json is generated from the routes and models, never edited by hand."""

from __future__ import annotations

import json

from local.openapi import DOCUMENT, build_document, render


def test_openapi_document_is_current() -> None:
    assert DOCUMENT.read_text() == render(), "docs/openapi.json is stale: run python -m local.openapi --write"


def test_document_covers_every_http_route_of_the_template() -> None:
    from local.template import load_template  # noqa: PLC0415

    template = load_template(DOCUMENT.parents[1] / "template.yaml")
    documented = {(method.upper(), path) for path, ops in build_document()["paths"].items() for method in ops}
    for function in template.functions.values():
        for route in function.http_routes:
            if "{proxy+}" in route.path:
                continue  # the admin function's catch-all; its routes are the /admin/... paths
            assert (route.method.upper(), route.path) in documented, route
    assert json.loads(DOCUMENT.read_text())["paths"]["/wholecell/{connection_id}/shipments"]["post"]["responses"]


def test_the_document_says_what_the_api_answers() -> None:
    """Validation errors are 400 (never Powertools' 422); admin routes are SigV4-signed, the public ones
    are not; the hand-read bodies (settings, listing connection, CSV) are documented."""
    document = build_document()
    operations = {(method, path): op for path, ops in document["paths"].items() for method, op in ops.items()}
    assert all("422" not in op["responses"] for op in operations.values())
    assert all("400" in op["responses"] for (_, path), op in operations.items()
               if path.startswith("/admin/") and (op.get("parameters") or op.get("requestBody")))
    assert "HTTPValidationError" not in document["components"]["schemas"]
    assert document["components"]["securitySchemes"]["sigv4"]["x-amazon-apigateway-authtype"] == "awsSigv4"
    assert document["security"] == [{"sigv4": []}]
    assert {path for (_, path), op in operations.items() if op.get("security") == []} == {
        "/temu/authorize", "/temu/callback", "/wholecell/{connection_id}/shipments"}
    bodies = {path.rsplit("/", 1)[-1]: operations[(method, path)]["requestBody"]["content"] for method, path in (
        ("put", "/admin/connections/{connection_id}/settings"),
        ("put", "/admin/connections/{connection_id}/listings/{temu_sku_id}/connection"),
        ("post", "/admin/connections/{connection_id}/listings/connections"))}
    assert bodies["settings"]["application/json"]["schema"] == {"$ref": "#/components/schemas/SettingsRequest"}
    assert bodies["connection"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ConnectionRequest"}
    assert bodies["connections"] == {"text/csv": {"schema": {"type": "string"}}}
    assert "confirm_initial_push" in document["components"]["schemas"]["SettingsRequest"]["properties"]
