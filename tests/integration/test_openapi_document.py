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
