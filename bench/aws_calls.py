"""AWS requests per run, for docs/cost.md: what each function asks of DynamoDB, SQS and Secrets Manager.

    python -m bench.aws_calls [--goods 50] [--skus-per-goods 4] [--units 5000] [--orders 40]

Not a test and not part of `make bench`. One connection on the embedded local stack, everything on
moto (DynamoDB too, so every request is seen; IAM enforced as usual), the sandboxes unpaced. A WSGI
middleware on moto counts each request by the function that sent it (its IAM user's access key;
the harness is `harness`), by service, operation and table, and estimates DynamoDB's billed units:
reads ceil(bytes / 4 KB) per item (GetItem) or per page (Query, Scan), halved when eventually
consistent; writes ceil(max(size before, size after) / 1 KB) per item, plus one per global
secondary index the item is in (before or after). Item sizes follow DynamoDB's rule (attribute
names + values). Each phase also reports the bytes the workers logged (Powertools JSON and EMF;
Lambda's own START/REPORT lines are not produced locally), and the WholeCell and Temu requests
the sandboxes answered, with the bytes sent and received (what would cross the NAT gateway).

Phases, in order (each one function's work, measured from the trigger until the queues drain):
the first quantity run (a full rebuild); `--orders` new Temu orders (15 % awaiting shipment) and
one order-import tick; Temu releases half of the pending ones and one address-backfill tick;
the warehouse ships 10 orders through the webhook (shipment push); then one idle tick of each
5-minute job (after a warm-up tick), the hourly quantity run (rebuild + Temu re-read, by moving
the mirror's state two hours back), one listing-import tick (Temu's stock moved by the pushes),
and the idle ticks again with LogLevel DEBUG. Figures go to bench/aws_calls.json. docs/cost.md
turns these figures into a monthly bill.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from wholecell_temu.config import load_settings
from wholecell_temu.store.inventory import InventoryMirror
from wholecell_temu.store.tables import bind_tables

from bench.quantity import (
    COUNTED_STATUSES,
    COUNTED_WAREHOUSES,
    WHOLECELL,
    Counters,
    import_listings,
    latest_run,
    parse_time,
    plan_world,
    put_settings,
    restart_worker,
    seed_wholecell,
)
from local.stack import LocalStack

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "aws_calls.json"
FAST = "200"  # requests/s the workers pace at here: nothing is timed
STATUS_MAP = {"1": "Pending", "2": "Awaiting Fulfillment"}
PENDING, AWAITING_SHIPMENT = 1, 2
FIVE_MINUTE_JOBS = {"quantity_sync": "QuantitySyncFunction", "order_import": "OrderImportFunction",
                    "address_backfill": "AddressBackfillFunction",
                    "shipment_reconcile": "ShipmentReconcileFunction"}


# --------------------------------------------------------------------------- item sizes


def value_size(value: dict[str, Any]) -> int:
    """Bytes of one DynamoDB-JSON attribute value (DynamoDB's item size rules, approximately)."""
    (kind, inner), = value.items()
    if kind == "S":
        return len(str(inner).encode())
    if kind == "N":
        digits = str(inner).lstrip("-").replace(".", "").lstrip("0") or "0"
        return (len(digits) + 1) // 2 + 1
    if kind == "B":
        return math.ceil(len(str(inner)) * 3 / 4)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in inner)
    if kind == "M":
        return 3 + sum(len(k.encode()) + 1 + value_size(v) for k, v in inner.items())
    if kind in ("SS", "NS", "BS"):
        return sum(value_size({kind[0]: v}) for v in inner)
    return len(json.dumps(inner))


def item_size(item: dict[str, Any] | None) -> int:
    if not item:
        return 0
    return sum(len(name.encode()) + value_size(value) for name, value in item.items())


class MotoTables:
    """moto's DynamoDB tables, in this process (the embedded server): items before and after a write."""

    def __init__(self) -> None:
        from moto.dynamodb.models import dynamodb_backends  # noqa: PLC0415 - the embedded server's backends

        self.backends = dynamodb_backends

    def table(self, name: str) -> Any:
        for account in list(self.backends.keys()):
            backend = self.backends[account]["us-east-1"]
            if name in backend.tables:
                return backend.tables[name]
        return None

    def get(self, name: str, key: dict[str, Any]) -> dict[str, Any] | None:
        from moto.dynamodb.models.dynamo_type import DynamoType  # noqa: PLC0415

        table = self.table(name)
        if table is None or table.hash_key_attr not in key:
            return None
        hash_key = DynamoType(key[table.hash_key_attr])
        range_key = DynamoType(key[table.range_key_attr]) if table.range_key_attr else None
        try:
            item = table.get_item(hash_key, range_key)
        except Exception:
            return None
        return None if item is None else dict(item.to_json()["Attributes"])

    def key_of(self, name: str, item: dict[str, Any]) -> dict[str, Any]:
        table = self.table(name)
        names = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
        return {n: item[n] for n in names if n in item}

    def indexes(self, name: str) -> list[tuple[list[str], str]]:
        """(key attribute names, projection type) of each global secondary index."""
        table = self.table(name)
        found = []
        for index in getattr(table, "global_indexes", []) or []:
            schema = index.schema if hasattr(index, "schema") else index["KeySchema"]
            projection = index.projection if hasattr(index, "projection") else index.get("Projection", {})
            found.append(([k["AttributeName"] for k in schema], str(projection.get("ProjectionType", "ALL"))))
        return found


# --------------------------------------------------------------------------- counting


class AwsCounter:
    """WSGI middleware on the embedded moto server: every request by function, service, operation, table."""

    def __init__(self, app: Callable[..., Any], who: dict[str, str]) -> None:
        self.app = app
        self.who = who  # access key id -> function logical id
        self.tables = MotoTables()
        self.lock = threading.Lock()
        self.counts: dict[tuple[str, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))

    def take(self) -> dict[str, dict[str, dict[str, float]]]:
        with self.lock:
            counts, self.counts = self.counts, defaultdict(lambda: defaultdict(float))
        result: dict[str, dict[str, dict[str, float]]] = defaultdict(dict)
        for (function, what), figures in sorted(counts.items()):
            result[function][what] = {k: round(v, 2) for k, v in figures.items()}
        return dict(result)

    def _add(self, function: str, what: str, **figures: float) -> None:
        with self.lock:
            for name, value in figures.items():
                self.counts[(function, what)][name] += value

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        auth = str(environ.get("HTTP_AUTHORIZATION", ""))
        key = auth.split("Credential=", 1)[1].split("/", 1)[0] if "Credential=" in auth else ""
        function = self.who.get(key, "harness")
        target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        if not target:  # SQS's query protocol (older clients) or moto's own API
            action = next((p.split("=", 1)[1] for p in body.decode(errors="replace").split("&")
                           if p.startswith("Action=")), "")
            service, operation = ("sqs", action) if action else ("other", str(environ.get("PATH_INFO")))
        else:
            prefix, operation = target.split(".", 1)
            service = {"DynamoDB_20120810": "dynamodb", "AmazonSQS": "sqs", "secretsmanager": "secretsmanager"}.get(
                prefix, prefix)
        request = json.loads(body or b"{}") if service in ("dynamodb", "sqs", "secretsmanager") and target else {}
        before = self._before(operation, request) if service == "dynamodb" else None
        status: list[str] = []

        def capture(code: str, headers: Any, exc_info: Any = None) -> Any:
            status.append(code)
            return start_response(code, headers, exc_info) if exc_info else start_response(code, headers)

        chunks = self.app(environ, capture)
        try:
            answer = b"".join(chunks)
        finally:
            if hasattr(chunks, "close"):
                chunks.close()
        try:
            if service == "dynamodb":
                ok = bool(status) and status[0].startswith("2")
                self._dynamodb(function, operation, request, before=before,
                               answer=json.loads(answer or b"{}") if ok else {}, ok=ok)
            elif service == "sqs":
                entries = len(request.get("Entries") or []) or 1
                self._add(function, f"sqs {operation}", requests=1, entries=entries)
            else:
                self._add(function, f"{service} {operation}", requests=1)
        except Exception as exc:  # counting must never break the stack
            print(f"[aws_calls] could not count {operation}: {exc!r}", file=sys.stderr)
        return [answer]

    # DynamoDB ------------------------------------------------------------
    def _before(self, operation: str, request: dict[str, Any]) -> Any:
        """Sizes (and items) the writes will replace, read from moto before the request runs."""
        if operation in ("PutItem", "UpdateItem", "DeleteItem"):
            table = request["TableName"]
            key = request.get("Key") or self.tables.key_of(table, request.get("Item") or {})
            return self.tables.get(table, key)
        if operation == "BatchWriteItem":
            found = []
            for table, entries in (request.get("RequestItems") or {}).items():
                for entry in entries:
                    if "PutRequest" in entry:
                        item = entry["PutRequest"]["Item"]
                        found.append((table, self.tables.get(table, self.tables.key_of(table, item)), item))
                    else:
                        found.append((table, self.tables.get(table, entry["DeleteRequest"]["Key"]), None))
            return found
        return None

    def _write_units(self, table: str, before: dict[str, Any] | None, after: dict[str, Any] | None) -> float:
        units = float(max(1, math.ceil(max(item_size(before), item_size(after)) / 1024)))
        old, new = before or {}, after or {}
        for keys, projection in self.tables.indexes(table):
            had = bool(old) and all(k in old for k in keys)
            has = bool(new) and all(k in new for k in keys)
            if not (had or has):
                continue
            size = item_size(new or old) if projection == "ALL" else 100
            one = max(1, math.ceil(size / 1024))
            moved = had and has and any(old[k] != new[k] for k in keys)
            units += 2 * one if moved else one
        return units

    def _dynamodb(self, function: str, operation: str, request: dict[str, Any], *, before: Any,
                  answer: dict[str, Any], ok: bool) -> None:
        table = request.get("TableName", "")
        consistent = 1.0 if request.get("ConsistentRead") else 0.5
        if operation == "GetItem":
            size = item_size(answer.get("Item"))
            self._add(function, f"dynamodb GetItem {table}", requests=1, items=1 if answer.get("Item") else 0,
                      bytes=size, rru=max(1, math.ceil(size / 4096)) * consistent)
        elif operation in ("Query", "Scan"):
            items = answer.get("Items") or []
            read_bytes = float(sum(item_size(i) for i in items))
            scanned, count = int(answer.get("ScannedCount", len(items))), int(answer.get("Count", len(items)))
            if count and scanned > count:
                read_bytes = read_bytes * scanned / count
            index = f"/{request['IndexName']}" if request.get("IndexName") else ""
            self._add(function, f"dynamodb {operation} {table}{index}", requests=1, items=len(items),
                      scanned=scanned, bytes=read_bytes, rru=max(1, math.ceil(read_bytes / 4096)) * consistent)
        elif operation == "BatchGetItem":
            for name, items in (answer.get("Responses") or {}).items():
                rru = sum(max(1, math.ceil(item_size(i) / 4096)) * 0.5 for i in items)
                self._add(function, f"dynamodb BatchGetItem {name}", requests=1, items=len(items),
                          bytes=sum(item_size(i) for i in items), rru=rru)
        elif operation in ("PutItem", "UpdateItem", "DeleteItem"):
            after = None
            if operation == "PutItem" and ok:
                after = request["Item"]
            elif operation == "UpdateItem" and ok:
                after = self.tables.get(table, request["Key"])
            wru = self._write_units(table, before, after) if ok else max(1, math.ceil(item_size(before) / 1024))
            self._add(function, f"dynamodb {operation} {table}", requests=1, items=1, failed=0 if ok else 1,
                      bytes=item_size(after or before), wru=wru)
        elif operation == "BatchWriteItem":
            per_table: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
            for name, old, new in before or []:
                figures = per_table[name]
                figures["items"] += 1
                figures["bytes"] += item_size(new or old)
                figures["wru"] += self._write_units(name, old, new)
            for name, figures in per_table.items():
                self._add(function, f"dynamodb BatchWriteItem {name}", requests=1, **figures)
        else:
            self._add(function, f"dynamodb {operation} {table}", requests=1)


def install(stack: LocalStack) -> AwsCounter:
    server = getattr(stack._moto, "_server", None)
    if server is None or stack.dynamodb_endpoint_url != stack.endpoint_url:
        raise RuntimeError("this bench counts at the embedded moto server: unset AWS_ENDPOINT_URL and "
                           "AWS_ENDPOINT_URL_DYNAMODB")
    who = {credentials.access_key_id: name for name, credentials in stack.function_credentials.items()}
    counter = AwsCounter(server.app, who)
    server.app = counter
    return counter


# --------------------------------------------------------------------------- phases


class ApiBytes:
    """WSGI middleware on a sandbox's app: bytes of the requests and answers that crossed it."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app, self.sent, self.received, self.lock = app, 0, 0, threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        sent = int(environ.get("CONTENT_LENGTH") or 0)
        answer = b"".join(self.app(environ, start_response))
        with self.lock:
            self.sent += sent
            self.received += len(answer)
        return [answer]

    def take(self) -> tuple[int, int]:
        with self.lock:
            figures, self.sent, self.received = (self.sent, self.received), 0, 0
            return figures


class Phases:
    def __init__(self, stack: LocalStack, counter: AwsCounter, log: Path) -> None:
        self.stack, self.counter, self.log = stack, counter, log
        self.results: dict[str, dict[str, Any]] = {}
        assert stack.wholecell is not None and stack.temu is not None
        self.wholecell_bytes = ApiBytes(stack.wholecell.app.wsgi_app)
        self.temu_bytes = ApiBytes(stack.temu.app.wsgi_app)
        stack.wholecell.app.wsgi_app = self.wholecell_bytes  # type: ignore[method-assign]
        stack.temu.app.wsgi_app = self.temu_bytes  # type: ignore[method-assign]

    def measure(self, label: str, step: Callable[[], Any], *, units: int = 1, unit: str = "run") -> Any:
        """Run `step` and drain the queues; what every function asked of AWS, per `unit`."""
        self.stack.drain(timeout=600)
        self.counter.take()
        log_before = self.log.stat().st_size if self.log.exists() else 0
        lines_before = _lines(self.log)
        apis_before = Counters.read(self.stack, WHOLECELL["app_id"])
        self.wholecell_bytes.take()
        self.temu_bytes.take()
        started = time.monotonic()
        outcome = step()
        self.stack.drain(timeout=900)
        wall = time.monotonic() - started
        calls = self.counter.take()
        calls.pop("harness", None)
        apis = Counters.read(self.stack, WHOLECELL["app_id"]).since(apis_before)
        log_bytes = (self.log.stat().st_size if self.log.exists() else 0) - log_before
        self.results[label] = {"per": unit, "units": units, "wall_seconds": round(wall, 1), "log_bytes": log_bytes,
                               "log_lines": _lines(self.log) - lines_before, "calls": calls,
                               "totals": totals(calls), "outcome": outcome,
                               "wholecell_requests": dict(apis.wholecell), "temu_requests": dict(apis.temu),
                               "wholecell_bytes_sent_received": self.wholecell_bytes.take(),
                               "temu_bytes_sent_received": self.temu_bytes.take()}
        summary = self.results[label]["totals"]
        print(f"{label:<48} {units:>4} {unit:<9} rru {summary['rru']:>9.1f}  wru {summary['wru']:>7.0f}  "
              f"ddb req {summary['dynamodb_requests']:>5.0f}  sqs {summary['sqs_requests']:>4.0f}  "
              f"secrets {summary['secretsmanager_requests']:>3.0f}  log {log_bytes / 1024:>7.1f} KB  "
              f"WholeCell {sum(apis.wholecell.values()):>4}  Temu {sum(apis.temu.values()):>4}", flush=True)
        return outcome


def _lines(path: Path) -> int:
    if not path.exists():
        return 0
    with path.open("rb") as file:
        return sum(1 for _ in file)


def totals(calls: dict[str, dict[str, dict[str, float]]]) -> dict[str, float]:
    result: dict[str, float] = defaultdict(float)
    for figures in calls.values():
        for what, numbers in figures.items():
            service = what.split(" ", 1)[0]
            result[f"{service}_requests"] += numbers.get("requests", 0)
            result["rru"] += numbers.get("rru", 0)
            result["wru"] += numbers.get("wru", 0)
    for service in ("dynamodb", "sqs", "secretsmanager"):
        result.setdefault(f"{service}_requests", 0)
    result.setdefault("rru", 0)
    result.setdefault("wru", 0)
    return {k: round(v, 1) for k, v in result.items()}


def table_sizes(counter: AwsCounter, stack: LocalStack) -> dict[str, dict[str, float]]:
    """Items and average item size per table (what storage is billed on), and per key prefix."""
    sizes: dict[str, dict[str, float]] = {}
    for logical_id, table in stack.template.tables.items():
        moto_table = counter.tables.table(table.name)
        if moto_table is None:
            continue
        groups: dict[str, list[int]] = defaultdict(list)
        for item in moto_table.all_items():
            attributes = dict(item.to_json()["Attributes"])
            sort = next((v for k, v in attributes.items() if k == moto_table.range_key_attr), None)
            prefix = str(next(iter(sort.values()))).split("#", 1)[0][:2] if sort else ""
            groups[prefix].append(item_size(attributes))
        every = [s for group in groups.values() for s in group]
        sizes[logical_id] = {"items": len(every), "avg_bytes": round(sum(every) / len(every)) if every else 0,
                             **{f"avg_bytes[{p or '-'}]": round(sum(g) / len(g)) for p, g in groups.items()
                                if len(groups) > 1}}
    return sizes


def tick(stack: LocalStack, job: str) -> Callable[[], Any]:
    return lambda: stack.fire_schedule(FIVE_MINUTE_JOBS.get(job) or "ListingImportFunction")


def main(argv: list[str] | None = None) -> int:  # noqa: PLR0915 - one scenario, read top to bottom
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--goods", type=int, default=50)
    parser.add_argument("--skus-per-goods", type=int, default=4)
    parser.add_argument("--units", type=int, default=5000)
    parser.add_argument("--orders", type=int, default=40)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    world = plan_world(args.goods, args.skus_per_goods, args.seed)
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as scratch:
        log = Path(scratch) / "workers.log"
        overrides = {"WHOLECELL_RATE_LIMIT": FAST, "TEMU_RATE_LIMIT": FAST, "TEMU_APP_RATE_LIMIT": FAST}
        with LocalStack(ROOT, api_port=0, env_overrides=overrides, worker_output=log) as stack:
            assert stack.temu is not None and stack.wholecell is not None
            counter = install(stack)
            bind_tables(load_settings(stack.environments["QuantitySyncFunction"]))
            phases = Phases(stack, counter, log)

            seed_wholecell(stack, world, args.units, args.seed)
            shop = stack.temu.state.create_shop(region="US", goods=world.goods)
            mall_id = int(shop["mallId"])
            created = stack.create_connection(WHOLECELL, "Cost bench")
            connection_id = str(created["connection_id"])
            stack.authorize(connection_id, mall_id)
            phases.measure("listing import, first", lambda: import_listings(stack, connection_id, 900)["counts"])
            put_settings(stack, connection_id, {
                "inventory_sync_enabled": True, "confirm_initial_push": True,
                "inventory_statuses": list(COUNTED_STATUSES), "warehouses": list(COUNTED_WAREHOUSES),
                "order_import_enabled": True, "order_status_map": STATUS_MAP})
            phases.measure("quantity sync, first run (rebuild)", tick(stack, "quantity_sync"))
            phases.measure("order import, empty first run", tick(stack, "order_import"))

            awaiting = max(1, round(args.orders * 0.15))
            pending = stack.temu.state.generate_orders(mall_id, args.orders - awaiting, status=PENDING, seed=args.seed)
            ready = stack.temu.state.generate_orders(mall_id, awaiting, status=AWAITING_SHIPMENT, seed=args.seed + 1)
            phases.measure("order import, new orders", tick(stack, "order_import"), units=args.orders, unit="order")
            release = pending[: len(pending) // 2]
            for sn in release:
                stack.temu.state.advance_order(sn)
            phases.measure("order import, released orders seen", tick(stack, "order_import"),
                           units=len(release), unit="order")
            phases.measure("address backfill, released orders", tick(stack, "address_backfill"),
                           units=len(release), unit="order")

            assert stack.wholecell is not None and stack.temu is not None
            account = stack.wholecell.state.account(WHOLECELL["app_id"])
            by_reference = {o.external_reference: o for o in account.orders.values()}
            shipped = (ready + release)[:10]
            wholecell = stack.wholecell.state
            wholecell.configure_webhook(WHOLECELL["app_id"], created["webhook_url"], [created["webhook_secret"]])

            def ship() -> int:
                for n, sn in enumerate(shipped):
                    wholecell.add_shipment(WHOLECELL["app_id"], by_reference[sn].id, carrier="USPS",
                                           tracking_number=f"9400111899562{n:09d}")
                return len(shipped)

            phases.measure("shipments: webhook + shipment push", ship, units=len(shipped), unit="shipment")

            for job in FIVE_MINUTE_JOBS:  # warm-up: the watermarks and leases settle
                tick(stack, job)()
                stack.drain(timeout=600)
            for job in FIVE_MINUTE_JOBS:
                phases.measure(f"{job}, idle tick", tick(stack, job))

            mirror = InventoryMirror()

            def hourly() -> Any:
                state = mirror.load_state(connection_id)
                back = timedelta(hours=2)
                mirror.save_state(connection_id, state.model_copy(update={
                    "rebuilt_at": state.rebuilt_at - back if state.rebuilt_at else None,
                    "reasserted_at": state.reasserted_at - back if state.reasserted_at else None}))
                return tick(stack, "quantity_sync")()

            phases.measure("quantity sync, hourly (rebuild + Temu re-read)", hourly)
            phases.measure("listing import, 6-hourly tick (Temu stock moved)", tick(stack, "listing_import"))

            for function in FIVE_MINUTE_JOBS.values():
                restart_worker(stack, function, {"POWERTOOLS_LOG_LEVEL": "DEBUG"})
            for job in FIVE_MINUTE_JOBS:  # the cold start's own lines stay out of the measured tick
                tick(stack, job)()
                stack.drain(timeout=600)
            for job in FIVE_MINUTE_JOBS:
                phases.measure(f"{job}, idle tick, LogLevel DEBUG", tick(stack, job))

            runs = {job: latest_run(stack, connection_id, job) for job in [*FIVE_MINUTE_JOBS, "listing_import"]}
            durations = {job: round(parse_time(r["ended_at"]) - parse_time(r["started_at"]), 2)
                         for job, r in runs.items() if r.get("ended_at") and r.get("started_at")}
            sizes = table_sizes(counter, stack)

    figures = {"world": {"goods": args.goods, "temu_skus": args.goods * args.skus_per_goods, "units": args.units,
                         "orders": args.orders},
               "phases": phases.results, "table_sizes": sizes, "last_run_seconds_local": durations,
               "total_s": round(time.monotonic() - started, 1)}
    args.output.write_text(json.dumps(figures, indent=2, default=str) + "\n")
    print("\nitems and average item size per table:")
    for name, row in sizes.items():
        print(f"  {name:<18} {json.dumps(row)}")
    print(f"\nwritten to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
