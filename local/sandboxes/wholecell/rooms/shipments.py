"""Shipments and webhooks: recording a shipment and delivering its signed event."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import requests

from local.sandboxes.wholecell.rooms.records import SandboxError, iso
from local.sandboxes.wholecell.rooms.world import Account, World


class ShipmentsRoom(World):
    # --- shipments and webhooks ---------------------------------------------------------------
    def configure_webhook(self, app_id: str, url: str | None, secrets: list[str]) -> None:
        """Where shipment events go; the first secret signs (rotation: list the new one first)."""
        with self._lock:
            account = self.account(app_id)
            account.webhook_url, account.webhook_secrets = url, list(secrets)

    def add_shipment(self, app_id: str, order_id: int, *, carrier: str, tracking_number: str,
                     service: str | None = None, shipped_at: str | None = None,
                     items: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        """Record a shipment (bumps updated_at) and send the signed webhook, if one is configured.
        Returns {"shipment": ..., "event_id": ... or None}."""
        with self._lock:
            account = self.account(app_id)
            order = self._order(account, order_id)
            stamp = self._tick()
            shipment = {
                "id": self._id(), "carrier": carrier, "service": service, "tracking_number": tracking_number,
                "shipped_at": shipped_at or iso(stamp),
                "items": items if items is not None else [{"sku": i["sku"], "quantity": i["quantity"]}
                                                          for i in order.order_items],
            }
            order.shipments.append(shipment)
            order.updated_at = stamp
            account.orders_by_update.touch(order.id, stamp)
            account.orders_version += 1
            event_id = None
            if account.webhook_url:
                event_id = "evt_" + uuid.uuid4().hex[:20].upper()
                event = {"event": "sales_order.shipment_created", "event_id": event_id,
                         "occurred_at": stamp.strftime("%Y-%m-%dT%H:%M:%SZ"),
                         "sales_order_id": order_id, "shipment": dict(shipment)}
                account.events[event_id] = json.dumps(event, separators=(",", ":")).encode()
        if event_id is not None:
            self._dispatch(account, event_id)
        return {"shipment": shipment, "event_id": event_id}

    def redeliver(self, app_id: str, event_id: str) -> None:
        """Send an already-sent event again (same event_id and body, fresh signature)."""
        with self._lock:
            account = self.account(app_id)
            if event_id not in account.events:
                raise SandboxError(404, [f"unknown event {event_id}"])
        self._dispatch(account, event_id)

    def _dispatch(self, account: Account, event_id: str) -> None:
        if self.webhook_async:
            threading.Thread(target=self._deliver, args=(account, event_id), daemon=True).start()
        else:
            self._deliver(account, event_id)

    def _deliver(self, account: Account, event_id: str) -> None:
        with self._lock:
            url, secrets, body = account.webhook_url, list(account.webhook_secrets), account.events[event_id]
            record: dict[str, Any] = {"event_id": event_id, "url": url, "status": None, "error": None}
            account.deliveries.append(record)
        timestamp = str(int(time.time()))
        secret = secrets[0].encode() if secrets else b""
        signature = "v1=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        headers = {"Content-Type": "application/json", "X-WholeCell-Timestamp": timestamp,
                   "X-WholeCell-Signature": signature}
        try:
            response = requests.post(str(url), data=body, headers=headers, timeout=10)
            outcome: dict[str, Any] = {"status": response.status_code}
        except requests.RequestException as exc:
            outcome = {"error": type(exc).__name__}
        with self._lock:
            record.update(outcome, delivered_at=iso(datetime.now(UTC)))
