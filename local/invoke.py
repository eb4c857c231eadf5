"""`make invoke FUNCTION=<LogicalId> EVENT=events/<file>.json`: one function, one event, on the local stack.

Where it runs: when `make local` runs (its Lambda API answers on
127.0.0.1:${LOCAL_LAMBDA_PORT:-3001}), on that stack, by the warm worker that serves the
function there; otherwise on a stack started in this process for the invocation and stopped
after it, whose queues are not delivered while the function runs (so only the named function
handles the event). Either way the function runs in its own worker process with the
environment template.yaml gives it and the credentials of its role, which moto checks
(local/iam.py), exactly as the stack's own deliveries run it.

Placeholders: `{{name}}` in any string of the event is replaced with a real value of that stack
before the invocation (PLACEHOLDERS says what each one becomes). The first that needs a
connection seeds one: a WholeCell sandbox account with units, a Temu sandbox shop, a
connection created and authorized through the admin API and the Temu authorization flow (as
`make demo` does), order import and inventory sync on, listings imported. A running stack
keeps it for later invocations. Events without placeholders run as they are.

Prints what was filled and the function's logs on stderr, then its result (or Lambda's error
payload) on stdout. Exits 0 when the handler returned, 1 when it failed or the stack could
not run it, 2 on a usage error (FUNCTION or EVENT unknown, an event that is not JSON, a
placeholder that is unknown or out of place). `--print-event` prints the filled event instead
of invoking (for `sam local invoke -e`, README).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import re
import secrets
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import requests

from local.demo import TEMU_GOODS, WHOLECELL_SKUS
from local.lambda_api import EventError, Invocation, LambdaApiClient, NotALocalStack, invoke
from local.stack import DEFAULT_PORTS, TEMU_ROUTER_PATH, WHOLECELL_API_PATH, LocalStack, reachable_host
from local.template import queue_arn

ROOT = Path(__file__).resolve().parents[1]
EVENTS_DIR = ROOT / "events"

# Every file in events/ and the function it is for (tests/e2e/test_invoke.py invokes each pair).
EVENT_FUNCTIONS = {
    "address_backfill_schedule.json": "AddressBackfillFunction",
    "address_backfill_sqs.json": "AddressBackfillFunction",
    "admin_create_connection.json": "AdminFunction",
    "admin_list_connections.json": "AdminFunction",
    "listing_import_schedule.json": "ListingImportFunction",
    "listing_import_sqs.json": "ListingImportFunction",
    "oauth_authorize.json": "OauthFunction",
    "oauth_callback.json": "OauthFunction",
    "order_import_schedule.json": "OrderImportFunction",
    "order_import_sqs.json": "OrderImportFunction",
    "quantity_sync_schedule.json": "QuantitySyncFunction",
    "quantity_sync_sqs.json": "QuantitySyncFunction",
    "shipment_push_sqs.json": "ShipmentPushFunction",
    "shipment_reconcile_schedule.json": "ShipmentReconcileFunction",
    "shipment_reconcile_sqs.json": "ShipmentReconcileFunction",
    "shipment_webhook_post.json": "ShipmentWebhookFunction",
}

PLACEHOLDERS = {
    "connection_id": "the demo connection's id (seeded on first use, see the module's doc)",
    "wholecell_app_id": "the demo connection's WholeCell sandbox account (app id)",
    "wholecell_app_secret": "that account's app secret",
    "queue_arn": "the ARN of the queue FUNCTION consumes (its SQS event in template.yaml)",
    "message_id": "a new SQS message id",
    "md5_of_body": "an SQS record's md5OfBody only: the MD5 of that record's body, once filled",
    "event_id": "a new WholeCell webhook event id",
    "sales_order_id": "a new WholeCell sales order of the demo connection: a Temu order awaiting shipment, "
                      "imported by the order import, with a USPS shipment not yet confirmed on Temu",
    "authorize_state": "the state of a new single-use authorize link of the demo connection "
                       "(POST /admin/connections/{id}/authorize-link)",
    "oauth_code": "the code Temu's Seller Center sends the callback for a new authorization of the demo shop",
    "oauth_state": "the state of that same authorization (a new admin-issued authorize link, not spent yet)",
    "webhook_timestamp": "an HTTP event's header only: now, in Unix seconds",
    "webhook_signature": "an HTTP event's header only: v1= HMAC-SHA256 of timestamp.body with the webhook "
                         "secret of the connection in the path (the demo connection's)",
}
_DERIVED = {"md5_of_body", "webhook_timestamp", "webhook_signature"}  # computed from the filled event
_SHOWN_AS_SET = {"wholecell_app_secret", "webhook_signature"}  # not printed
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")
RUN_TIMEOUT = 300.0  # seconds a seeding job run may take
DEMO_STATUS_MAP = {"1": "Pending", "2": "Awaiting Fulfillment", "3": "Canceled", "4": "Shipped"}


# ----------------------------------------------------------------------------- placeholders


def placeholders_in(value: Any) -> set[str]:
    """The placeholder names in every string of a JSON value (keys included)."""
    if isinstance(value, str):
        return set(PLACEHOLDER.findall(value))
    if isinstance(value, dict):
        return set().union(*(placeholders_in(k) | placeholders_in(v) for k, v in value.items()))
    if isinstance(value, list):
        return set().union(*(placeholders_in(v) for v in value))
    return set()


def check_placeholders(event: Any) -> set[str]:
    """The event's placeholders; EventError when one is unknown."""
    names = placeholders_in(event)
    unknown = sorted(names - set(PLACEHOLDERS))
    if unknown:
        raise EventError(f"unknown placeholder(s) {', '.join('{{' + n + '}}' for n in unknown)}; "
                         f"known: {', '.join(sorted(PLACEHOLDERS))}")
    return names


def substitute(value: Any, values: dict[str, str]) -> Any:
    """`value` with `{{name}}` replaced by values[name] in every string (others are left)."""
    if isinstance(value, str):
        return PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), value)
    if isinstance(value, dict):
        return {substitute(k, values): substitute(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, values) for v in value]
    return value


def webhook_signature(secret: str, timestamp: str, body: bytes) -> str:
    """WholeCell's signature header, by the layer's own signing (the counterpart of verify_webhook)."""
    from wholecell_temu.wholecell.adapter import sign_webhook  # noqa: PLC0415 - the layer, only when signing

    return sign_webhook(secret.encode(), timestamp, body)


@dataclass(frozen=True)
class DemoConnection:
    connection_id: str
    webhook_secret: str  # from the admin API's creation answer (shown once)
    mall_id: int
    app_id: str
    app_secret: str
    temu_skus: dict[str, int] = field(default_factory=dict)  # seller SKU -> Temu SKU id


class SeedingError(RuntimeError):
    """Seeding the sandboxes or the stack for a placeholder failed."""


class EventFiller:
    """Fills placeholders from a local stack, in the stack's own process (the runner's for `make
    local`, ours for an in-process stack): the sandboxes, the HTTP API and the template are at hand."""

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self._lock = threading.Lock()  # one seeding at a time
        self._demo: DemoConnection | None = None

    def __call__(self, function: str, event: Any) -> tuple[Any, dict[str, str]]:
        return self.fill(function, event)

    def fill(self, function: str, event: Any) -> tuple[Any, dict[str, str]]:
        """(the event with every placeholder filled, the values filled in by name)."""
        names = check_placeholders(event)
        values: dict[str, str] = {}
        with self._lock:
            for name in sorted(names - _DERIVED):
                if name not in values:
                    values.update(self._values(name, function))
        filled = substitute(event, values)
        derived = self._derive(filled, names & _DERIVED)
        left = placeholders_in(filled)
        if left:
            raise EventError(f"{', '.join('{{' + n + '}}' for n in sorted(left))} out of place: "
                             + "; ".join(f"{{{{{n}}}}}: {PLACEHOLDERS[n]}" for n in sorted(left)))
        shown = {k: ("(set)" if k in _SHOWN_AS_SET else v) for k, v in (values | derived).items()}
        return filled, dict(sorted(shown.items()))

    def _values(self, name: str, function: str) -> dict[str, str]:
        simple: dict[str, Callable[[], str]] = {
            "connection_id": lambda: self.demo().connection_id,
            "wholecell_app_id": lambda: self.demo().app_id,
            "wholecell_app_secret": lambda: self.demo().app_secret,
            "queue_arn": lambda: self._queue_arn(function),
            "message_id": lambda: str(uuid.uuid4()),
            "event_id": lambda: "evt_" + secrets.token_hex(10),
            "sales_order_id": lambda: str(self.shipped_order()),
            "authorize_state": lambda: parse_qs(urlparse(self.authorize_link()).query)["state"][0],
        }
        if name in simple:
            return {name: simple[name]()}
        code, state = self.authorization()  # oauth_code, oauth_state: one authorization for both
        return {"oauth_code": code, "oauth_state": state}

    def _queue_arn(self, function: str) -> str:
        mappings = self.stack.template.functions[function].sqs_mappings
        if not mappings:
            raise EventError(f"{{{{queue_arn}}}}: {function} has no SQS event in template.yaml")
        return queue_arn(self.stack.template.queues[mappings[0].queue].name)

    def _derive(self, event: Any, names: set[str]) -> dict[str, str]:
        """Fill md5_of_body (SQS records) and the webhook headers, from the filled event."""
        derived: dict[str, str] = {}
        if "md5_of_body" in names and isinstance(event, dict):
            for record in event.get("Records") or []:
                if isinstance(record, dict) and PLACEHOLDER.fullmatch(str(record.get("md5OfBody", ""))):
                    record["md5OfBody"] = hashlib.md5(str(record.get("body", "")).encode()).hexdigest()
        headers = event.get("headers") if isinstance(event, dict) else None
        if names & {"webhook_timestamp", "webhook_signature"} and isinstance(headers, dict):
            raw = str(event.get("body") or "")
            body = base64.b64decode(raw) if event.get("isBase64Encoded") else raw.encode()
            connection_id = str((event.get("pathParameters") or {}).get("connection_id", ""))
            timestamp = str(int(time.time()))
            derived = {"webhook_timestamp": timestamp}
            if "webhook_signature" in names:
                derived["webhook_signature"] = webhook_signature(self.webhook_secret(connection_id), timestamp, body)
            for key, value in list(headers.items()):
                if isinstance(value, str):
                    headers[key] = substitute(value, derived)
        return derived

    # ------------------------------------------------------------------ the demo connection

    def webhook_secret(self, connection_id: str) -> str:
        """The one place that knows a connection's webhook secret: the admin API's answer when the
        demo connection was created (a secret is shown once; no other connection's is known)."""
        demo = self._demo
        if demo is None or connection_id != demo.connection_id:
            raise EventError(f"{{{{webhook_signature}}}}: no webhook secret is known for connection "
                             f"{connection_id!r}; only the demo connection's ({{{{connection_id}}}})")
        return demo.webhook_secret

    def demo(self) -> DemoConnection:
        if self._demo is None:
            self._demo = self._seed_demo()
        return self._demo

    def _call(self, method: str, url: str, expect: int, body: Any = None) -> Any:
        response = requests.request(method, url, json=body, timeout=60)
        if response.status_code != expect:
            raise SeedingError(f"{method} {url} answered {response.status_code}: {response.text[:300]}")
        return response.json() if response.content else None

    def _api(self, method: str, path: str, expect: int, body: Any = None) -> Any:
        return self._call(method, self.stack.api_url + path, expect, body)

    @property
    def _temu(self) -> str:
        return self.stack.temu_gateway_url.removesuffix(TEMU_ROUTER_PATH)

    @property
    def _wholecell(self) -> str:
        return self.stack.wholecell_api_url.removesuffix(WHOLECELL_API_PATH)

    def _seed_demo(self) -> DemoConnection:
        """A WholeCell account and a Temu shop in the sandboxes (their admin routes), then a
        connection through the stack's public surfaces only, as a seller would make it."""
        app_id, app_secret = f"invoke-{secrets.token_hex(4)}", secrets.token_urlsafe(16)
        self._call("POST", f"{self._wholecell}/_sandbox/accounts", 201,
                   {"app_id": app_id, "app_secret": app_secret, "skus": WHOLECELL_SKUS})
        self._call("POST", f"{self._wholecell}/_sandbox/accounts/{app_id}/units", 201,
                   {"generate": {"count": 40, "skus": WHOLECELL_SKUS, "seed": 7}})
        mall_id = int(self._call("POST", f"{self._temu}/_sandbox/shops", 201,
                                 {"region": "US", "goods": TEMU_GOODS})["mallId"])
        created = self._api("POST", "/admin/connections", 201, {
            "name": "make invoke", "temu_region": "US", "wholecell": {"app_id": app_id, "app_secret": app_secret}})
        connection_id = str(created["connection_id"])
        self.stack.authorize(connection_id, mall_id)
        self._api("PUT", f"/admin/connections/{connection_id}/settings", 200, {
            "order_import_enabled": True, "inventory_sync_enabled": True, "confirm_initial_push": True,
            "order_status_map": DEMO_STATUS_MAP, "inventory_statuses": ["Available"]})
        self._run(connection_id, "listing_import", f"/admin/connections/{connection_id}/listings/import")
        listings = self._api("GET", f"/admin/connections/{connection_id}/listings", 200)["items"]
        return DemoConnection(connection_id, str(created["webhook_secret"]), mall_id, app_id, app_secret,
                              {str(i["seller_sku"]): int(i["temu_sku_id"]) for i in listings if i["seller_sku"]})

    def _run(self, connection_id: str, job: str, path: str | None = None) -> dict[str, Any]:
        """Queue a run of `job` through the admin API and wait for its outcome (the stack's
        pollers deliver it). A run skipped because a scheduled one held the job is queued again."""
        run: dict[str, Any] = {}
        for _ in range(3):
            run_id = self._api("POST", path or f"/admin/connections/{connection_id}/jobs/{job}/run", 202)["run_id"]
            run = self._outcome(connection_id, job, run_id)
            if run["outcome"] != "skipped":
                break
            time.sleep(1)
        if run["outcome"] != "succeeded":
            raise SeedingError(f"{job} run {run['outcome']}: {run.get('reason')}")
        return run

    def _outcome(self, connection_id: str, job: str, run_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + RUN_TIMEOUT
        while time.monotonic() < deadline:
            runs = self._api("GET", f"/admin/connections/{connection_id}/runs?job={job}", 200)["items"]
            run = next((r for r in runs if r["run_id"] == run_id), None)
            if run is not None and run["outcome"] not in ("queued", "running"):
                return dict(run)
            time.sleep(0.2)
        raise SeedingError(f"{job} run {run_id} did not finish within {RUN_TIMEOUT:.0f} s")

    def shipped_order(self) -> int:
        """A new Temu order awaiting shipment, imported into WholeCell, shipped there (USPS)."""
        demo = self.demo()
        sku = demo.temu_skus["IP13-128-BLU-A"]
        sn = self._call("POST", f"{self._temu}/_sandbox/shops/{demo.mall_id}/orders", 201,
                        {"lines": [{"skuId": sku, "quantity": 1}], "status": 2})["parentOrderSns"][0]
        self._run(demo.connection_id, "order_import")
        order = self._api("GET", f"/admin/connections/{demo.connection_id}/orders/{sn}", 200)
        order_id = int(order["wholecell_order_id"])
        tracking = "9400" + "".join(secrets.choice("0123456789") for _ in range(18))
        self._call("POST", f"{self._wholecell}/_sandbox/accounts/{demo.app_id}/orders/{order_id}/shipments", 201,
                   {"carrier": "USPS", "tracking_number": tracking})
        return order_id

    def authorize_link(self) -> str:
        """A new single-use authorize link of the demo connection, as the admin API issues it."""
        demo = self.demo()
        return str(self._api("POST", f"/admin/connections/{demo.connection_id}/authorize-link", 201)["authorize_url"])

    def authorization(self) -> tuple[str, str]:
        """(code, state) of a new authorization of the demo shop: an admin-issued authorize link,
        our authorize redirect, then Temu's Seller Center, whose redirect to our callback is not followed."""
        demo = self.demo()
        response = requests.get(self.authorize_link(), allow_redirects=False, timeout=30)
        if response.status_code != 302:
            raise SeedingError(f"GET /temu/authorize answered {response.status_code}: {response.text[:300]}")
        seller_center = requests.get(f"{response.headers['Location']}&mall_id={demo.mall_id}", allow_redirects=False,
                                     timeout=30)
        if seller_center.status_code != 302:
            raise SeedingError(f"Temu's authorization page answered {seller_center.status_code}: "
                               f"{seller_center.text[:300]}")
        query = parse_qs(urlparse(seller_center.headers["Location"]).query)
        return query["code"][0], query["state"][0]


# ----------------------------------------------------------------------------- command line


class UsageError(Exception):
    pass


def lambda_api_url() -> str:
    """Where `make local` serves its Lambda API (LOCAL_BIND_HOST, LOCAL_LAMBDA_PORT as the runner reads them)."""
    host = reachable_host(os.environ.get("LOCAL_BIND_HOST", "127.0.0.1"))
    return f"http://{host}:{int(os.environ.get('LOCAL_LAMBDA_PORT', DEFAULT_PORTS['lambda']))}"


def read_event(path_text: str) -> tuple[Path, Any]:
    if not path_text:
        raise UsageError("EVENT is missing: make invoke FUNCTION=<LogicalId> EVENT=events/<file>.json")
    path = Path(path_text)
    if not path.is_file():
        known = ", ".join(f"events/{name}" for name in sorted(EVENT_FUNCTIONS))
        raise UsageError(f"EVENT {path_text}: no such file (events/ holds {known})")
    try:
        return path, json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise UsageError(f"EVENT {path_text} is not JSON: {exc}") from None


def paired_function(event_path: Path) -> str | None:
    """The function a sample event in events/ is for (EVENT_FUNCTIONS)."""
    return EVENT_FUNCTIONS.get(event_path.name) if event_path.resolve().parent == EVENTS_DIR else None


def choose_function(function: str, event_path: Path) -> str:
    """FUNCTION, or the sample event's own function when FUNCTION is not given."""
    if function:
        return function
    paired = paired_function(event_path)
    if paired is None:
        raise UsageError("FUNCTION is missing: make invoke FUNCTION=<LogicalId> EVENT=...")
    return paired


def check_function(function: str, known: list[str], event_path: Path) -> None:
    if function not in known:
        raise UsageError(f"unknown FUNCTION {function!r}; the functions are: {', '.join(sorted(known))}")
    paired = paired_function(event_path)
    if paired is not None and paired != function:
        print(f"note: {event_path} is the sample event of {paired}, not of {function}", file=sys.stderr)


def report(function: str, where: str, event_path: Path, filled: dict[str, str], outcome: Invocation) -> int:
    print(f"invoked {function} with {event_path} on {where}", file=sys.stderr)
    for name, value in filled.items():
        print(f"  {{{{{name}}}}} = {value}", file=sys.stderr)
    print(f"---- logs of {function} ----", file=sys.stderr)
    sys.stderr.write(outcome.logs if outcome.logs.endswith("\n") or not outcome.logs else outcome.logs + "\n")
    print("---- " + ("error" if outcome.error is not None else "result") + " ----", file=sys.stderr, flush=True)
    print(json.dumps(outcome.error if outcome.error is not None else outcome.result, indent=2), flush=True)
    return 1 if outcome.error is not None else 0


def run_on_running_stack(client: LambdaApiClient, functions: list[str], function: str, event_path: Path,
                         event: Any, *, print_event: bool) -> int:
    check_function(function, functions, event_path)
    filled_event, filled = client.fill(function, event)
    if print_event:
        print(json.dumps(filled_event, indent=2))
        return 0
    outcome = client.invoke(function, filled_event)
    return report(function, f"the running local stack ({client.url})", event_path, filled, outcome)


def run_in_process(function: str, event_path: Path, event: Any) -> int:
    with tempfile.TemporaryDirectory(prefix="make-invoke-") as tmp:
        output = Path(tmp) / "workers.log"  # the seeding's invocations; the invoked one's logs come back
        stack = LocalStack(ROOT, api_port=0, schedule_seconds=0, worker_output=output)
        check_function(function, list(stack.template.functions), event_path)
        print("no local stack runs (make local): starting one in this process ...", file=sys.stderr, flush=True)
        try:
            with stack:
                filled_event, filled = EventFiller(stack).fill(function, event)
                stack.pause()  # only the named function handles the event; queued work is not delivered
                outcome = invoke(stack, function, filled_event)
        except SeedingError:
            if output.exists():
                sys.stderr.write("---- the stack's worker output ----\n" + output.read_text()[-20_000:])
            raise
        return report(function, "a local stack started for it (stopped again)", event_path, filled, outcome)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make invoke", description=__doc__.splitlines()[0])
    parser.add_argument("--function", default="", help="the function's logical id in template.yaml")
    parser.add_argument("--event", default="", help="an event file (events/*.json)")
    parser.add_argument("--lambda-url", default="", help="a running stack's Lambda API (default: "
                        "127.0.0.1:$LOCAL_LAMBDA_PORT, 3001)")
    parser.add_argument("--print-event", action="store_true",
                        help="print the event filled on the running stack instead of invoking")
    args = parser.parse_args(argv)
    try:
        event_path, event = read_event(args.event)
        function = choose_function(args.function, event_path)
        check_placeholders(event)
        client = LambdaApiClient(args.lambda_url or lambda_api_url())
        functions = client.functions()
        if functions is not None:
            return run_on_running_stack(client, functions, function, event_path, event, print_event=args.print_event)
        if args.print_event:
            raise UsageError(f"--print-event fills the event on a running stack; none answers on {client.url} "
                             "(start `make local`)")
        return run_in_process(function, event_path, event)
    except (UsageError, EventError, NotALocalStack) as exc:
        print(f"make invoke: {exc}", file=sys.stderr)
        return 2
    except (SeedingError, RuntimeError, requests.RequestException) as exc:
        print(f"make invoke: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
