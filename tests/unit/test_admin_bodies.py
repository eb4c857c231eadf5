"""Malformed admin requests are refused before any route runs: a JSON array where an object is
expected (Powertools' validation would read its first element), a body that is not UTF-8, a
parent order number no Temu order has; and the shipment webhook refuses a signed event whose
fields could not be queued (a 400, not a 500)."""

from __future__ import annotations

import base64
import json
import time
from types import SimpleNamespace
from typing import Any

import pytest
from wholecell_temu.admin.api import build_app
from wholecell_temu.config import load_settings
from wholecell_temu.domain.credentials import derive_webhook_secret
from wholecell_temu.net import Clock
from wholecell_temu.webhook import build_webhook_app
from wholecell_temu.wholecell.adapter import sign_webhook

from tests.unit.test_webhook_keys import ENV, MASTER, Connections, MasterKeyOnly, Queue, connection

VALID = {"name": "X", "temu_region": "US", "wholecell": {"app_id": "a", "app_secret": "b"}}


class Reached(Exception):
    pass


def event(method: str, path: str, body: str | bytes | None, headers: dict[str, str] | None = None) -> dict[str, Any]:
    binary = isinstance(body, bytes)
    return {"version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
            "headers": {"content-type": "application/json", **(headers or {})}, "isBase64Encoded": binary,
            "body": base64.b64encode(body).decode() if isinstance(body, bytes) else body,
            "requestContext": {"http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "1.1.1.1",
                                        "userAgent": "t"}, "requestId": "r", "stage": "$default",
                               "routeKey": "$default", "accountId": "1", "apiId": "a", "domainName": "example",
                               "domainPrefix": "e", "time": "x", "timeEpoch": 0}}


def admin(method: str, path: str, body: str | bytes | None) -> int:
    def untouchable() -> Any:
        raise Reached(f"{method} {path} reached the service")
    return int(build_app(untouchable).resolve(event(method, path, body), None)["statusCode"])  # type: ignore[arg-type]


@pytest.mark.parametrize(("method", "path"), [
    ("POST", "/admin/connections"), ("PUT", "/admin/connections/c1/wholecell"),
    ("POST", "/admin/connections/c1/webhook-secret"), ("PUT", "/admin/connections/c1/settings")])
def test_a_json_array_is_not_read_as_its_first_element(method: str, path: str) -> None:
    assert admin(method, path, json.dumps([VALID])) == 400


def test_a_body_that_is_not_utf8_is_a_bad_request() -> None:
    assert admin("POST", "/admin/connections", b"\xff\xfe{\"name\"") == 400
    assert admin("POST", "/admin/connections/c1/listings/connections", b"\xff\xfetemu_sku_id\n") == 400


@pytest.mark.parametrize("path", ["/admin/connections/c1/settings", "/admin/connections/c1/listings/1/connection"])
@pytest.mark.parametrize("body", ['{"dry_run": "yes"}', '"settings"', '{"dry_run": tr', None])
def test_a_validated_body_is_refused_in_the_apis_shape(path: str, body: str | None) -> None:
    """The settings and listing connection bodies are validated before the route runs: 400, fields named."""
    answer = build_app(lambda: None).resolve(event("PUT", path, body), None)  # type: ignore[arg-type]
    error = json.loads(answer["body"])["error"]
    assert int(answer["statusCode"]) == 400 and error["code"] == "invalid_request" and error["fields"]


@pytest.mark.parametrize("path", ["/admin/connections/c1/settings", "/admin/connections/c1/listings/1/connection"])
def test_a_json_route_sent_another_media_type_is_a_bad_request(path: str) -> None:
    answer = build_app(lambda: None).resolve(event("PUT", path, "{}", {"content-type": "text/plain"}),
                                             None)  # type: ignore[arg-type]
    assert int(answer["statusCode"]) == 400 and json.loads(answer["body"])["error"]["fields"] == {
        "body": "send Content-Type: application/json"}


@pytest.mark.parametrize(("method", "path"), [("GET", ""), ("PUT", "/settings"), ("GET", "/listings"),
                                              ("POST", "/jobs/order_import/run")])
def test_a_connection_id_longer_than_any_is_not_looked_up(method: str, path: str) -> None:
    """DynamoDB refuses keys over 2 KB (a 500); no connection id is longer than 64 characters."""
    assert admin(method, f"/admin/connections/{'c' * 3000}{path}", None) == 404


@pytest.mark.parametrize("path", ["/admin/connections/c1/orders/{}", "/admin/connections/c1/orders/{}/reimport",
                                  "/admin/connections/c1/orders/{}/shipments/resend"])
def test_an_order_number_no_temu_order_has_is_refused(path: str) -> None:
    method = "GET" if path.endswith("{}") else "POST"
    assert admin(method, path.format("P" * 3000), None) == 400


@pytest.mark.parametrize("changes", [{"sales_order_id": -1}, {"sales_order_id": 0}, {"event_id": "e" * 201}])
def test_a_signed_event_that_cannot_be_queued_is_a_bad_request(changes: dict[str, Any]) -> None:
    body = json.dumps({"event": "sales_order.shipment_created", "event_id": "evt_1",
                       "occurred_at": "2026-01-02T20:21:04Z", "sales_order_id": 5,
                       "shipment": {"id": 9, "carrier": "USPS", "tracking_number": "94001",
                                    "shipped_at": "2026-01-02T20:20:00Z", "items": []}, **changes}).encode()
    queue = Queue()
    services = SimpleNamespace(settings=load_settings(ENV), connections=Connections(connection("c1", 1, None)),
                               secrets=MasterKeyOnly(), clock=Clock())
    app = build_webhook_app(lambda: services, sqs=queue)
    stamp = str(int(time.time()))
    signature = sign_webhook(derive_webhook_secret(MASTER, "c1", 1).encode(), stamp, body)
    request = event("POST", "/wholecell/c1/shipments", body.decode(),
                    {"x-wholecell-timestamp": stamp, "x-wholecell-signature": signature})
    request["routeKey"] = "POST /wholecell/{connection_id}/shipments"
    request["pathParameters"] = {"connection_id": "c1"}
    assert int(app.resolve(request, None)["statusCode"]) == 400  # type: ignore[arg-type]
    assert queue.sent == []
