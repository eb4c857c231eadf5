"""`make demo`: one complete scenario on the embedded local stack, then a JSON summary.

Seeds the two sandboxes (a WholeCell account with serialized units, a Temu shop whose
seller SKU codes partly match), then drives the integration only through its public
surfaces: the operator's steps through the `wholecell-temu` command (printed as typed, each
request SigV4-signed and verified by the local API as API Gateway would), the seller's through
the Temu authorization redirect, WholeCell's through the webhook, plus the admin API where a
check reads state. Each stage prints what happened; the last line is one JSON object with the
counts.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import boto3
import requests
from botocore.exceptions import ClientError

from local.stack import LocalStack
from local.template import REGION

ROOT = Path(__file__).resolve().parents[1]
WHOLECELL_APP = ("demo-wholecell-app", "demo-wholecell-secret")
WHOLECELL_SKUS = ["IP13-128-BLK-B", "IP13-128-BLU-A", "IP14P-256-GLD-A", "SGS22-128-GRY-B", "PX7-128-WHT-A"]
TEMU_GOODS = [
    {"goodsName": "Apple iPhone 13 128GB Unlocked (Renewed)", "skus": [
        {"skuSn": "IP13-128-BLK-B", "specName": "Black, 128GB", "stock": 0, "status": "active"},
        {"skuSn": "IP13-128-BLU-A", "specName": "Blue, 128GB", "stock": 3, "status": "active", "price": "329.00"},
    ]},
    {"goodsName": "Apple iPhone 14 Pro 256GB Unlocked (Renewed)", "skus": [
        {"skuSn": "IP14P-256-GLD-A", "specName": "Gold, 256GB", "stock": 1, "status": "active"},
        {"skuSn": "", "specName": "Purple, 256GB", "stock": 0, "status": "active"},
    ]},
    {"goodsName": "Samsung Galaxy S22 128GB (Renewed)", "skus": [
        {"skuSn": "sgs22-128-gry-b", "specName": "Gray, 128GB", "stock": 2, "status": "active"},
    ]},
    {"goodsName": "Google Pixel 7 128GB (Renewed)", "skus": [
        {"skuSn": "PX7-128-WHT-A", "specName": "White, 128GB", "stock": 5, "status": "sold_out"},
    ]},
]


class Demo:
    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self.summary: dict[str, int] = {
            "listings_imported": 0, "listings_connected": 0, "quantities_pushed": 0, "orders_imported": 0,
            "addresses_filled": 0, "shipments_confirmed": 0, "connection_secrets": 0,
            "replayed_links_refused": 0, "runs_skipped_while_disabled": 0, "questions_answered": 0, "errors": 0,
        }
        self.connection_id = ""
        self.authorize_url = ""
        self.mall_id = 0
        self.orders: dict[str, str] = {}
        self.webhook = ("", "")

    def say(self, text: str) -> None:
        print(f"  {text}", flush=True)

    def stage(self, title: str, step: Callable[[], None]) -> None:
        print(f"\n== {title}", flush=True)
        started = time.monotonic()
        try:
            step()
        except Exception as exc:
            self.summary["errors"] += 1
            print(f"  FAILED: {type(exc).__name__}: {exc}", flush=True)
        else:
            print(f"  ok ({time.monotonic() - started:.1f} s)", flush=True)

    def cli(self, *args: str, show: bool = True) -> Any:
        """One `wholecell-temu` command as an operator types it (against this stack), its JSON read back."""
        if show:
            self.say(f"$ wholecell-temu {shlex.join(args)}")
        env = {**os.environ, "WHOLECELL_TEMU_LOCAL_CREDENTIALS": "/nonexistent"}  # not a `make local`'s profile
        command = [sys.executable, "-m", "wholecell_temu_cli", "--api-url", self.stack.api_url, "--output", "json",
                   *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"wholecell-temu {shlex.join(args)} exited {done.returncode}: {done.stderr[-400:]}")
        return json.loads(done.stdout) if done.stdout.strip() else None

    def run_job(self, job: str) -> dict[str, Any]:
        """`wholecell-temu jobs run`: queues the run and waits for its end (exit 1 unless it succeeded)."""
        run = self.cli("jobs", "run", self.connection_id, job)
        return dict(run)

    def api(self, method: str, path: str, expect: int, body: Any = None) -> Any:
        response = self.stack.http(method, path, json=body)
        if response.status_code != expect:
            raise RuntimeError(f"{method} {path} answered {response.status_code}: {response.text[:300]}")
        return response.json() if response.content and "json" in response.headers.get("content-type", "") else None

    # ------------------------------------------------------------------ stages
    def seed(self) -> None:
        assert self.stack.wholecell is not None and self.stack.temu is not None
        wholecell = self.stack.wholecell.state
        wholecell.create_account(*WHOLECELL_APP, skus=WHOLECELL_SKUS)
        wholecell.generate_units(WHOLECELL_APP[0], 40, skus=WHOLECELL_SKUS, seed=7)
        shop = self.stack.temu.state.create_shop(region="US", goods=TEMU_GOODS)
        self.mall_id = int(shop["mallId"])
        self.say(f"WholeCell: 40 units over {len(WHOLECELL_SKUS)} SKUs; "
                 f"Temu: shop {self.mall_id} with {shop['skuCount']} SKUs in {shop['goodsCount']} goods")

    def connect(self) -> None:
        # only this Temu shop's token will be accepted; the secret comes from the environment, never typed
        os.environ["WHOLECELL_APP_SECRET"] = WHOLECELL_APP[1]
        created = self.cli("connections", "create", "Demo Wireless", "--temu-region", "US",
                           "--wholecell-app-id", WHOLECELL_APP[0], "--expected-mall-id", str(self.mall_id),
                           "--show-secret")
        self.connection_id = created["connection_id"]
        self.authorize_url = created["authorize_url"]  # single use, 10 minutes: sent to the seller
        self.webhook = (created["webhook_url"], created["webhook_secret"])
        self.say(f"connection {self.connection_id} created; webhook {created['webhook_url']}")

    def authorize(self) -> None:
        # The seller's browser, with the link the admin API issued: our authorize route -> Temu
        # Seller Center -> our callback.
        url = self.authorize_url
        for hop in range(3):
            response = requests.get(url, allow_redirects=False, timeout=30)
            if response.status_code != 302:
                break
            url = response.headers["Location"]
            self.say(f"redirect {hop + 1}: {urlparse(url).path}")
        if response.status_code != 200:
            raise RuntimeError(f"authorization ended with {response.status_code}: {response.text[:200]}")
        connection = self.api("GET", f"/admin/connections/{self.connection_id}", 200)
        if connection["status"] != "active" or connection["temu"]["mall_id"] != self.mall_id:
            raise RuntimeError(f"connection not active after authorization: {connection['status']}")
        self.say(f"authorized: shop {connection['temu']['mall_id']}, token expires "
                 f"{connection['temu']['token_expires_at']}, missing scopes: {connection['temu']['missing_scopes']}")

    def configure(self) -> None:
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "settings.yaml"
            path.write_text("order_import_enabled: true\ninventory_sync_enabled: true\n"
                            "order_status_map: {'1': Pending, '2': Awaiting Fulfillment, '3': Canceled, '4': Shipped}\n"
                            "inventory_statuses: [Available]\n")
            self.cli("connections", "settings", "edit", self.connection_id, str(path), "--confirm-initial-push",
                     "--yes", show=False)
            self.say(f"$ wholecell-temu connections settings edit {self.connection_id} settings.yaml "
                     "--confirm-initial-push --yes")
        settings = self.api("GET", f"/admin/connections/{self.connection_id}", 200)["settings"]
        self.say(f"settings stored: order import {settings['order_import_enabled']}, "
                 f"inventory sync {settings['inventory_sync_enabled']}")

    def import_listings(self) -> None:
        counts = self.run_job("listing_import")["counts"]
        self.summary["listings_imported"] = counts.get("imported", 0)
        self.summary["listings_connected"] = counts.get("connected", 0)
        self.say(f"imported {counts.get('imported', 0)} Temu SKUs ({counts.get('new', 0)} new): "
                 f"{counts.get('auto_connected', 0)} auto-connected by exact seller SKU, "
                 f"{counts.get('unconnected', 0)} unconnected (empty or non-matching codes)")

    def connect_by_hand(self) -> None:
        unconnected = self.cli("listings", "search", self.connection_id, "--not-connected")["items"]
        listing = next(i for i in unconnected if i["seller_sku"] == "sgs22-128-gry-b")
        self.say(f"unconnected: {[i['seller_sku'] or '(empty)' for i in unconnected]}; "
                 f"connecting {listing['seller_sku']!r} to SGS22-128-GRY-B by hand")
        connected = self.cli("listings", "connect", self.connection_id, str(listing["temu_sku_id"]),
                             "--sku", "SGS22-128-GRY-B:1")
        if connected["connection"]["mode"] != "manual":
            raise RuntimeError("manual connection not stored")
        self.summary["listings_connected"] += 1

    def sync_quantities(self) -> None:
        assert self.stack.temu is not None and self.stack.wholecell is not None
        base = f"/admin/connections/{self.connection_id}"
        counts = self.run_job("quantity_sync")["counts"]
        self.summary["quantities_pushed"] += counts.get("pushed", 0)
        self.say(f"read {counts.get('units_read', 0)} WholeCell units, pushed {counts.get('pushed', 0)} quantities "
                 f"in {counts.get('goods_written', 0)} Temu stock updates (one per goods)")
        temu_stock = self.stack.temu.state.stock(self.mall_id)
        for item in self.api("GET", f"{base}/listings?connected=true", 200)["items"]:
            shown = temu_stock[item["temu_sku_id"]]
            if item["status"] == "active" and shown != item["last_pushed"]:
                raise RuntimeError(f"Temu shows {shown} for {item['seller_sku']}, pushed {item['last_pushed']}")
            self.say(f"  {item['seller_sku']:<18} calculated {item['last_calculated']!s:>3}  Temu shows {shown:>3}")

        # a unit sells elsewhere: the next run pushes only that listing
        units = self.stack.wholecell.state.list_units(WHOLECELL_APP[0], {"status": "Available"})
        sold = next(u for u in units if u["product_variation"]["sku"] == "IP13-128-BLU-A")
        self.stack.wholecell.state.set_unit_status(WHOLECELL_APP[0], [sold["id"]], "Sold")
        counts = self.run_job("quantity_sync")["counts"]
        if counts.get("pushed", 0) != 1:
            raise RuntimeError(f"expected exactly one push after one unit sold, got {counts}")
        self.summary["quantities_pushed"] += 1
        self.say(f"one IP13-128-BLU-A unit sold in WholeCell: the next run read only units changed since the last "
                 f"(with a 30-second overlap: {counts.get('units_read', 0)} here, all seeded a moment ago) and "
                 "pushed 1 quantity")

    def diagnose(self) -> None:
        listing = next(i for i in self.cli("listings", "search", self.connection_id, "-q", "IP13-128-BLK-B")["items"])
        diagnosis = self.cli("listings", "diagnose", self.connection_id, str(listing["temu_sku_id"]))
        self.say(f"why does Temu show {diagnosis['temu_quantity']} for IP13-128-BLK-B?")
        for check in diagnosis["checks"]:
            self.say(f"  [{check['status']}] {check['check']}: {check['detail']}")
        for link in diagnosis["links"]:
            groups = ", ".join(f"{g['units']} {g['status']}@{g['warehouse']}{'' if g['counted'] else ' (not counted)'}"
                               for g in link["units"])
            self.say(f"  {link['ref']}: available {link['available']} - outstanding {link['outstanding']} "
                     f"= {link['calculated']} ({groups})")

    def import_orders(self) -> None:
        assert self.stack.temu is not None and self.stack.wholecell is not None
        temu = self.stack.temu.state
        base = f"/admin/connections/{self.connection_id}"
        listings = {i["seller_sku"]: i for i in self.api("GET", f"{base}/listings", 200)["items"]}
        sku = {code: listing["temu_sku_id"] for code, listing in listings.items()}
        self.orders = {
            "pending": temu.add_order(self.mall_id, [{"skuId": sku["IP13-128-BLU-A"], "quantity": 1}], status=1),
            "ready": temu.add_order(self.mall_id, [{"skuId": sku["IP14P-256-GLD-A"], "quantity": 1},
                                                   {"skuId": sku["PX7-128-WHT-A"], "quantity": 2}], status=2),
            "unknown": temu.add_order(self.mall_id, [{"skuId": sku[None], "quantity": 1}], status=1),
        }
        counts = self.run_job("order_import")["counts"]
        self.summary["orders_imported"] = counts.get("imported", 0)
        self.summary["addresses_filled"] += counts.get("addresses_filled", 0)
        self.say(f"imported {counts.get('imported', 0)} Temu orders into WholeCell (channel Temu); "
                 f"{counts.get('addresses_filled', 0)} already awaiting shipment came with their address; "
                 f"{counts.get('unknown_sku_lines', 0)} line flagged Unknown SKU")
        for sn in self.orders.values():
            order = self.cli("orders", "show", self.connection_id, sn, show=sn == self.orders["unknown"])
            lines = ", ".join(f"{line['sku'] or 'Unknown SKU'} x{line['wholecell_quantity']}"
                              for line in order["lines"])
            self.say(f"  {sn}: Temu {order['temu_status_name']:<17} -> WholeCell {order['wholecell_status']!r} "
                     f"#{order['wholecell_order_id']} [{lines}] address {order['address_state']}")
        unknown = self.api("GET", f"{base}/orders/{self.orders['unknown']}", 200)["lines"][0]
        self.say(f"why Unknown SKU? {unknown['unknown_reason']}")
        # Temu's order amounts are integers in the currency's minor unit: $329.00 arrives as 32900
        pending = self.api("GET", f"{base}/orders/{self.orders['pending']}", 200)
        item = self.stack.wholecell.state.get_order(WHOLECELL_APP[0], pending["wholecell_order_id"])["order_items"][0]
        if item["unit_price_cents"] != 32900:
            raise RuntimeError(f"a $329.00 Temu line reached WholeCell at {item['unit_price_cents']} cents")
        self.say(f"price: the $329.00 Temu line is {item['unit_price_cents']} cents in WholeCell")

    def fill_addresses(self) -> None:
        assert self.stack.temu is not None and self.stack.wholecell is not None
        base = f"/admin/connections/{self.connection_id}"
        self.stack.temu.state.advance_order(self.orders["pending"])  # the buyer's order is confirmed on Temu
        counts = self.run_job("order_import")["counts"]
        self.say(f"Temu moved {self.orders['pending']} to awaiting shipment: "
                 f"{counts.get('status_changes', 0)} WholeCell status change")
        counts = self.run_job("address_backfill")["counts"]
        self.summary["addresses_filled"] += counts.get("filled", 0)
        order = self.api("GET", f"{base}/orders/{self.orders['pending']}", 200)
        wholecell = self.stack.wholecell.state.get_order(WHOLECELL_APP[0], order["wholecell_order_id"])
        if order["address_state"] != "filled" or not (wholecell["shipping_address"] or {}).get("street1"):
            raise RuntimeError(f"address not filled: {order['address_state']}")
        ship_to = wholecell["shipping_address"]
        self.say(f"address backfill: {counts.get('filled', 0)} filled, {counts.get('still_pending', 0)} still "
                 f"pending on Temu; WholeCell order #{order['wholecell_order_id']} now ships to {ship_to['city']}, "
                 f"{ship_to['state']} (buyer details are never logged)")

    def confirm_shipments(self) -> None:
        assert self.stack.temu is not None and self.stack.wholecell is not None
        wholecell, temu = self.stack.wholecell.state, self.stack.temu.state
        base = f"/admin/connections/{self.connection_id}"
        wholecell.configure_webhook(WHOLECELL_APP[0], self.webhook[0], [self.webhook[1]])
        ready = self.api("GET", f"{base}/orders/{self.orders['ready']}", 200)
        # the warehouse buys a label in ShipStation; ShipStation posts it back to WholeCell
        event = wholecell.add_shipment(WHOLECELL_APP[0], ready["wholecell_order_id"], carrier="USPS",
                                       tracking_number="9400 1118 9956 2837 4650 12")
        delivery = wholecell.account(WHOLECELL_APP[0]).deliveries[-1]
        self.stack.drain(timeout=120)
        if temu.orders[self.orders["ready"]].status != 4:
            raise RuntimeError(f"Temu order not shipped: status {temu.orders[self.orders['ready']].status}")
        self.summary["shipments_confirmed"] += 1
        self.say(f"WholeCell posted {event['event_id']} to the webhook (answered {delivery['status']}); "
                 f"Temu order {self.orders['ready']} is now shipped (status 4)")

        # the webhook is lost (endpoint down): the reconciler catches it on its next run
        wholecell.configure_webhook(WHOLECELL_APP[0], None, [self.webhook[1]])
        pending = self.api("GET", f"{base}/orders/{self.orders['pending']}", 200)
        wholecell.add_shipment(WHOLECELL_APP[0], pending["wholecell_order_id"], carrier="UPS",
                               tracking_number="1Z 999 AA1 01 2345 6784")
        counts = self.run_job("shipment_reconcile")["counts"]
        self.stack.drain(timeout=120)
        if temu.orders[self.orders["pending"]].status != 4:
            raise RuntimeError("the reconciler did not confirm the shipment whose webhook was lost")
        self.summary["shipments_confirmed"] += 1
        self.say(f"a shipment whose webhook never arrived: the reconciler queued {counts.get('queued', 0)}, "
                 f"Temu order {self.orders['pending']} is now shipped too")

    def seller_questions(self) -> None:
        """The questions a seller asks, answered from recorded state (and Temu, where it must be asked)."""
        assert self.stack.temu is not None
        base = f"/admin/connections/{self.connection_id}"
        listings = {i["seller_sku"]: i for i in self.api("GET", f"{base}/listings", 200)["items"]}
        fresh = self.stack.temu.state.add_order(
            self.mall_id, [{"skuId": listings["IP13-128-BLU-A"]["temu_sku_id"], "quantity": 1}], status=2)
        why = self.cli("orders", "why", self.connection_id, fresh)
        if why["import_state"] != "not_seen" or "not polled yet" not in why["not_imported_reason"]:
            raise RuntimeError(f"an order placed after the last run: {why}")
        self.summary["questions_answered"] += 1
        self.say(f"why is {fresh} not in WholeCell? {why['not_imported_reason']}")
        absent = self.stack.http("GET", f"{base}/orders/PO-211-99999999999999")
        if absent.status_code != 404:
            raise RuntimeError(f"an order Temu does not have answered {absent.status_code}")
        self.summary["questions_answered"] += 1
        self.say(f"and PO-211-99999999999999? {absent.json()['error']['message']}")

        # "my listing was set to out of stock by other software": Temu's own orders lowered some
        # listings since the last push (sales); another tool sets this one to 0 (an overwrite)
        self.stack.temu.state.set_sku(self.mall_id, listings["sgs22-128-gry-b"]["temu_sku_id"], stock=0)
        counts = self.run_job("quantity_sync")["counts"]
        checks = {c["check"]: c for c in self.api(
            "GET", f"{base}/listings/{listings['sgs22-128-gry-b']['temu_sku_id']}/diagnosis", 200)["checks"]}
        if counts.get("overwritten_on_temu_down") != 1 or checks["overwritten_on_temu"]["status"] == "ok":
            raise RuntimeError(f"an out-of-stock set by another tool was not flagged: {counts}")
        self.summary["questions_answered"] += 1
        self.say(f"Temu quantities below what was pushed: {counts.get('temu_sold_since_push', 0)} explained by Temu "
                 f"orders (sales), {counts['overwritten_on_temu_down']} not: "
                 f"{checks['overwritten_on_temu']['detail']}")

        # "why do my Temu orders not reach ShipStation?": a set-up that cannot work is refused, saying why
        current = self.api("GET", f"/admin/connections/{self.connection_id}", 200)["settings"]
        refused = self.stack.http("PUT", f"{base}/settings", json={
            **current, "shipstation_sync": True,
            "order_status_map": {**current["order_status_map"], "2": "Pending"}})
        fields = refused.json().get("error", {}).get("fields", {}) if refused.status_code == 400 else {}
        if "order_status_map" not in fields:
            raise RuntimeError(f"a ShipStation set-up that cannot work answered {refused.status_code}: {refused.text}")
        self.summary["questions_answered"] += 1
        self.say(f"ShipStation set-up refused: {fields['order_status_map']}")

    def run(self) -> None:
        self.stage("Seed the sandboxes", self.seed)
        self.stage("Connect a WholeCell account to a Temu shop", self.connect)
        if self.connection_id:
            self.stage("Authorize the shop in Temu Seller Center", self.authorize)
            self.stage("Configure the connection", self.configure)
            self.stage("Import Temu listings and connect them by SKU", self.import_listings)
            self.stage("Connect a listing by hand", self.connect_by_hand)
            self.stage("Push WholeCell quantities to Temu", self.sync_quantities)
            self.stage("Explain a listing's quantity", self.diagnose)
            self.stage("Import Temu orders into WholeCell", self.import_orders)
            self.stage("Fill addresses once Temu releases them", self.fill_addresses)
            self.stage("Confirm WholeCell shipments on Temu", self.confirm_shipments)
            self.stage("Answer a seller's questions", self.seller_questions)
            self.stage("Run as deployed: one secret, each function only its role", self.least_privilege)
            self.stage("Guard the connection: a used authorize link, a disabled connection", self.lifecycle)

    def lifecycle(self) -> None:
        """A spent authorize link is refused; a disabled connection's runs are skipped until enabled."""
        replay = requests.get(self.authorize_url, allow_redirects=False, timeout=30)
        if replay.status_code != 400:
            raise RuntimeError(f"a used authorize link answered {replay.status_code}")
        self.summary["replayed_links_refused"] += 1
        self.say("the authorize link the seller used is refused a second time (400): "
                 "a new one comes only from `wholecell-temu connections authorize-link ID` (the admin API)")
        disabled = self.cli("connections", "disable", self.connection_id)
        run = self.run_job("order_import")
        if run["outcome"] != "skipped":
            raise RuntimeError(f"a disabled connection's run ended {run['outcome']}")
        self.summary["runs_skipped_while_disabled"] += 1
        enabled = self.cli("connections", "enable", self.connection_id)
        self.say(f"disabled ({disabled['status']}): an order import was skipped ({run['reason']}); "
                 f"enabled again: {enabled['status']}")

    def least_privilege(self) -> None:
        """The local stack runs every function with its template role, as AWS would (IAM enforced)."""
        secrets = self.stack.client("secretsmanager")
        prefix = f"wholecell-temu/{self.stack.template.parameters['Stage']}/connections/{self.connection_id}"
        names = [s["Name"] for s in secrets.list_secrets(MaxResults=100)["SecretList"] if s["Name"].startswith(prefix)]
        if names != [prefix]:
            raise RuntimeError(f"expected one secret for the connection, found {names}")

        def reads(function: str) -> str:
            creds = self.stack.function_credentials[function]
            client = boto3.client("secretsmanager", endpoint_url=self.stack.endpoint_url,  # type: ignore[call-overload]
                                  region_name=REGION, aws_access_key_id=creds.access_key_id,
                                  aws_secret_access_key=creds.secret_access_key)
            try:
                client.get_secret_value(SecretId=prefix)
            except ClientError as exc:  # moto answers 403 with IAM's message, AWS AccessDeniedException
                denied = exc.response["ResponseMetadata"]["HTTPStatusCode"] == 403
                return "AccessDenied" if denied else str(exc.response["Error"]["Code"])
            return "allowed"

        webhook, push = reads("ShipmentWebhookFunction"), reads("ShipmentPushFunction")
        if push != "allowed" or webhook == "allowed":
            raise RuntimeError(f"IAM not as the template says: webhook {webhook}, shipment push {push}")
        self.summary["connection_secrets"] = len(names)
        self.say(f"the connection's credentials are one secret ({names[0]}): the shipment push's role "
                 f"reads it ({push}), the webhook's is refused ({webhook}); "
                 f"{len(self.stack.function_credentials)} functions, each with only its template role")


def main() -> int:
    print("Starting the local stack (moto, Temu and WholeCell sandboxes, HTTP API) ...", flush=True)
    with LocalStack(ROOT, api_port=0, verify_sigv4=True) as stack:
        print(f"  HTTP API {stack.api_url}", flush=True)
        demo = Demo(stack)
        demo.run()
    print(json.dumps(demo.summary, sort_keys=False), flush=True)
    return 1 if demo.summary["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
