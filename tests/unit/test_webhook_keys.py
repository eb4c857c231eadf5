"""Webhook signing secrets derived from the stack's master key: the derivation, and the webhook
accepting the current and (during a rotation) the previous version, reading nothing but the
master key (no per-connection secret)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from wholecell_temu.config import load_settings
from wholecell_temu.domain.connection import Connection, ConnectionStatus
from wholecell_temu.domain.credentials import (
    ConnectionCredentials,
    TemuToken,
    WholeCellApp,
    derive_webhook_secret,
    valid_webhook_key_versions,
)
from wholecell_temu.domain.settings import ConnectionSettings
from wholecell_temu.net import Clock
from wholecell_temu.webhook import build_webhook_app
from wholecell_temu.wholecell.adapter import sign_webhook

MASTER = b"m" * 32
KEY_ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:wholecell-temu/test/webhook-key-AbCdEf"
ENV = {f"{n}_TABLE": f"{n.title()}Table" for n in
       ["CONNECTIONS", "LISTINGS", "ORDERS", "SHIPMENTS", "INVENTORY", "RUNS", "IDEMPOTENCY"]} | {
    f"{q}_QUEUE_URL": "unused" for q in
    ["LISTING_IMPORT", "QUANTITY_SYNC", "ORDER_IMPORT", "ADDRESS_BACKFILL", "SHIPMENT_RECONCILE", "SHIPMENT"]} | {
    "INTERNAL_SECRET_ARN": "unused", "TEMU_APP_KEY": "k", "TEMU_APP_SECRET": "s", "WEBHOOK_KEY_SECRET_ARN": KEY_ARN}
BODY = json.dumps({"event": "sales_order.shipment_created", "event_id": "evt_1", "occurred_at": "2026-01-02T20:21:04Z",
                   "sales_order_id": 5, "shipment": {"id": 9, "carrier": "USPS", "tracking_number": "94001",
                                                     "shipped_at": "2026-01-02T20:20:00Z", "items": []}}).encode()
T = datetime(2026, 12, 6, tzinfo=UTC)


def test_derivation_is_the_documented_hmac() -> None:
    digest = hmac.new(MASTER, b"c1:1", hashlib.sha256).digest()
    expected = "whsec_" + base64.urlsafe_b64encode(digest).decode().rstrip("=")
    assert derive_webhook_secret(MASTER, "c1", 1) == expected
    assert len(expected) == len("whsec_") + 43 and "=" not in expected


def test_every_connection_and_version_has_its_own_secret() -> None:
    derived = {derive_webhook_secret(MASTER, c, v) for c in ("c1", "c2", "c11") for v in (1, 2, 11)}
    assert len(derived) == 9
    assert derive_webhook_secret(b"other master", "c1", 1) != derive_webhook_secret(MASTER, "c1", 1)
    # "c1:11" and "c11:1" are different messages: the separator keeps id and version apart
    assert derive_webhook_secret(MASTER, "c1", 11) != derive_webhook_secret(MASTER, "c11", 1)
    with pytest.raises(ValueError, match="empty"):
        derive_webhook_secret(b"", "c1", 1)
    with pytest.raises(ValueError, match="start at 1"):
        derive_webhook_secret(MASTER, "c1", 0)


def test_valid_versions_are_the_current_and_the_previous_during_a_rotation() -> None:
    assert valid_webhook_key_versions(1, None) == [1]
    assert valid_webhook_key_versions(3, 2) == [3, 2]


def test_the_previous_secret_is_accepted_only_for_the_stated_overlap() -> None:
    until = datetime(2026, 12, 7, 12, tzinfo=UTC)
    assert valid_webhook_key_versions(3, 2, until, until - timedelta(seconds=1)) == [3, 2]
    assert valid_webhook_key_versions(3, 2, until, until) == [3]
    assert valid_webhook_key_versions(3, 2, until, until + timedelta(days=1)) == [3]


def test_credentials_never_show_their_values() -> None:
    creds = ConnectionCredentials(wholecell=WholeCellApp(app_id="app", app_secret="wc-s3cret"),  # type: ignore[arg-type]
                                  temu=TemuToken(access_token="upl-t0ken"))  # type: ignore[arg-type]
    assert "wc-s3cret" not in repr(creds) and "upl-t0ken" not in repr(creds) and "upl-t0ken" not in str(creds)
    assert creds.document() == {"wholecell": {"app_id": "app", "app_secret": "wc-s3cret"},
                                "temu": {"access_token": "upl-t0ken"}}
    assert ConnectionCredentials.model_validate(creds.document()) == creds
    alone = ConnectionCredentials.model_validate({"wholecell": {"app_id": "a", "app_secret": "s"}})
    assert alone.temu is None and "temu" not in alone.document()


# ---------------------------------------------------------------------------------- the webhook
class MasterKeyOnly:
    """The webhook function's whole view of Secrets Manager: the stack's master key, nothing else."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def get_json(self, arn: str, **_: Any) -> dict[str, Any]:
        self.asked.append(arn)
        if arn != KEY_ARN:
            raise PermissionError(f"not authorized to read {arn}")
        return {"master_key": MASTER.decode()}


class Connections:
    def __init__(self, *connections: Connection) -> None:
        self.items = {c.connection_id: c for c in connections}

    def get(self, connection_id: str) -> Connection | None:
        return self.items.get(connection_id)


class Queue:
    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def send_message(self, **kwargs: Any) -> dict[str, Any]:
        self.sent.append(kwargs)
        return {"MessageId": str(len(self.sent))}


def connection(connection_id: str, version: int, previous: int | None,
               previous_until: datetime | None = None) -> Connection:
    return Connection(connection_id=connection_id, name="n", status=ConnectionStatus.ACTIVE, temu_region="US",
                      credentials_secret_arn="arn:connection", credentials_version="v1",
                      webhook_key_version=version, webhook_previous_key_version=previous,
                      webhook_previous_key_until=previous_until,
                      settings=ConnectionSettings(), created_at=T, updated_at=T)


def post(app: Any, connection_id: str, secret: str) -> int:
    stamp = str(int(time.time()))
    path = f"/wholecell/{connection_id}/shipments"
    event = {
        "version": "2.0", "routeKey": "POST /wholecell/{connection_id}/shipments", "rawPath": path,
        "rawQueryString": "", "isBase64Encoded": False, "body": BODY.decode(),
        "headers": {"content-type": "application/json", "x-wholecell-timestamp": stamp,
                    "x-wholecell-signature": sign_webhook(secret.encode(), stamp, BODY)},
        "requestContext": {"http": {"method": "POST", "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.1",
                                    "userAgent": "WholeCell"}, "requestId": "r", "stage": "$default",
                           "routeKey": "POST /wholecell/{connection_id}/shipments", "accountId": "1",
                           "apiId": "a", "domainName": "example", "domainPrefix": "example", "time": "x",
                           "timeEpoch": 0},
        "pathParameters": {"connection_id": connection_id},
    }
    return int(app.resolve(event, None)["statusCode"])


def webhook(*connections: Connection) -> tuple[Any, MasterKeyOnly, Queue]:
    store, queue = MasterKeyOnly(), Queue()
    services = SimpleNamespace(settings=load_settings(ENV), connections=Connections(*connections), secrets=store,
                               clock=Clock())
    return build_webhook_app(lambda: services, sqs=queue), store, queue


def test_webhook_verifies_the_derived_secret_reading_only_the_master_key() -> None:
    app, store, queue = webhook(connection("c1", 1, None), connection("c2", 1, None))
    assert post(app, "c1", derive_webhook_secret(MASTER, "c1", 1)) == 202
    assert post(app, "c1", derive_webhook_secret(MASTER, "c2", 1)) == 401  # another connection's secret
    assert post(app, "c1", derive_webhook_secret(b"x" * 32, "c1", 1)) == 401  # another master key
    assert post(app, "c1", "whsec_guess") == 401
    assert len(queue.sent) == 1
    assert set(store.asked) == {KEY_ARN}


def test_rotation_accepts_current_and_previous_then_only_current() -> None:
    rotating, _, queue = webhook(connection("c1", 2, 1))
    assert post(rotating, "c1", derive_webhook_secret(MASTER, "c1", 2)) == 202  # the new secret
    assert post(rotating, "c1", derive_webhook_secret(MASTER, "c1", 1)) == 202  # the old one, until retired
    assert post(rotating, "c1", derive_webhook_secret(MASTER, "c1", 3)) == 401  # not issued yet
    assert len(queue.sent) == 2
    retired, _, _ = webhook(connection("c1", 2, None))
    assert post(retired, "c1", derive_webhook_secret(MASTER, "c1", 1)) == 401
    assert post(retired, "c1", derive_webhook_secret(MASTER, "c1", 2)) == 202
    skipped, _, _ = webhook(connection("c1", 3, 2))  # rotated twice: version 1 is gone for good
    assert post(skipped, "c1", derive_webhook_secret(MASTER, "c1", 1)) == 401


def test_the_webhook_refuses_the_previous_secret_once_the_overlap_is_over() -> None:
    now = datetime.now(UTC)
    during, _, _ = webhook(connection("c1", 2, 1, previous_until=now + timedelta(hours=1)))
    assert post(during, "c1", derive_webhook_secret(MASTER, "c1", 1)) == 202
    after, _, _ = webhook(connection("c1", 2, 1, previous_until=now - timedelta(seconds=1)))
    assert post(after, "c1", derive_webhook_secret(MASTER, "c1", 1)) == 401
    assert post(after, "c1", derive_webhook_secret(MASTER, "c1", 2)) == 202
