"""Chaos suite (issue #9): the whole flow on the local stack while both sandboxes misbehave.

    python -m bench.chaos [--small] [--seed N] [--output bench/chaos.json]   # or: make chaos

Two connections (two WholeCell accounts, two Temu shops) run every job at once through the
local stack (moto for SQS and Secrets Manager, bench.engine's dynalite for DynamoDB in the
full run, moto in the small one; two worker processes and two SQS pollers per function, as
Lambda's concurrency would). Before the faults start, the sandboxes are seeded, the
connections created and authorized through the admin API, and one order import per
connection sets its watermark (so no order is "history" to the first import). One crash is
scripted, so every run covers that window for certain: a pending Temu order is created in
WholeCell, the worker that created it is killed before it records it, and the buyer confirms
the order on Temu before another run takes the claim over. Then, during the chaos phase:

- both sandboxes inject faults on every call: 5xx, hangs past the client's timeout, and on
  WholeCell 429s and non-JSON 200s; the Temu sandbox throttles at 12/s, answering 4000004
  beyond it, below the one Temu budget the functions share (SharedBudgets, the template's
  default, with TemuAppRateLimit 20), so Temu refuses requests and every worker backs off;
- writes (WholeCell sales-order create/patch, Temu stock edit and shipment confirm) are
  sometimes done and then answered 502, answered only after the client gave up, or done and
  the calling worker killed before it can record the outcome (local.sandboxes.common);
- a random busy worker is killed every few seconds;
- every job's schedule fires for both connections every few seconds, together with a manual
  run of a random job for a random connection, so two runs of one job for one connection are
  requested at once (the run lease, shorter than the longer runs, lets them truly overlap);
- the world moves: Temu orders arrive (pending or awaiting shipment), are confirmed,
  cancelled (whole or one unit of a line); the warehouse ships imported orders in WholeCell
  (the webhook fires, is sometimes sent twice, sometimes lost); units sell elsewhere and
  arrive; goods are listed on Temu mid-run; another tool changes Temu stock.

Time is compressed consistently: the order-import and shipment-confirm functions time out
after `order_timeout` / `shipment_timeout` seconds and their claims (ORDER_CLAIM_SECONDS,
SHIPMENT_CLAIM_SECONDS) last exactly that long, as the settings require (a claim outlives the
invocation that took it); RUN_LEASE_SECONDS is shorter, so killed runs are taken over quickly.

Then the faults stop and the jobs run again (manual runs, round after round, until what the
jobs can still bring about holds, or `settle_seconds`), and one more quantity sync runs.
The invariants are then checked against the sandboxes' state (bench/chaos_world.py): no
lost and no duplicated WholeCell orders, the right items and status, every address filled,
no lost or duplicated shipment confirmations, every listing imported and connected right,
Temu quantities equal to the true calculated quantities, and no quantity ever pushed as 0
(the world keeps every connected listing's true quantity above 0, checked at every step).
Figures go to bench/chaos.json; the exit status is 1 when an invariant fails.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from bench.chaos_world import (
    AWAITING,
    CANCELLED,
    CARRIER,
    FLOW_INVARIANTS,
    FULL,
    MAIN,
    PENDING,
    SCRIPTED_STEP,
    SMALL,
    STATUS_MAP,
    WAREHOUSES,
    ChaosConfig,
    ConnectionFinal,
    ConnectionWorld,
    PlannedOrder,
    TemuOrderView,
    TemuPackageView,
    Verdict,
    judge,
    plan_connection,
    true_quantities,
)
from local.sandboxes.common import FaultRule
from local.sandboxes.temu.state import SandboxState
from local.sandboxes.wholecell.state import WholeCellState
from local.stack import LocalStack
from local.workers import InvocationError

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "chaos.json"
# bench.engine's launcher, plus: a request aborted by its client (a killed worker) does not take
# the engine down (dynalite rethrows the request's ECONNRESET, which would end the process).
DYNALITE_LAUNCHER = """
process.on("uncaughtException", (err) => {
  if (err && err.code === "ECONNRESET") { return; }
  console.error(String(err && err.stack || err)); process.exit(1);
});
const [modulePath, host, port] = process.argv.slice(1);
const server = require(modulePath)({createTableMs: 0, deleteTableMs: 0, updateTableMs: 0});
server.on("error", (err) => { console.error(String(err)); process.exit(1); });
server.listen(Number(port), host, () => console.log("listening " + server.address().port));
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
"""
JOB_FUNCTIONS = {"listing_import": "ListingImportFunction", "quantity_sync": "QuantitySyncFunction",
                 "order_import": "OrderImportFunction", "address_backfill": "AddressBackfillFunction",
                 "shipment_reconcile": "ShipmentReconcileFunction"}
KILLABLE = (*JOB_FUNCTIONS.values(), "ShipmentPushFunction")
WRITERS = {"/api/v1/sales_orders": ("OrderImportFunction", "AddressBackfillFunction"),  # who makes each write
           "bg.local.goods.stock.edit": ("QuantitySyncFunction",),
           "bg.logistics.shipment.v2.confirm": ("ShipmentPushFunction",)}
JOB_QUEUES = {"listing_import": "ListingImportQueue", "quantity_sync": "QuantitySyncQueue",
              "order_import": "OrderImportQueue", "address_backfill": "AddressBackfillQueue",
              "shipment_reconcile": "ShipmentReconcileQueue", "shipment_push": "ShipmentQueue"}
LEASE_BUSY = "another run of this job is in progress"
# what the clients log before each retry (wholecell_temu.wholecell.client / temu.client), matched
# against each log line's message: workers log Powertools JSON, one object per line
RETRY_LINES = {"wholecell": re.compile(r"^wholecell \S+ attempt \d+ failed .*; retrying"),
               "temu": re.compile(r"^temu call retried")}


class HarnessError(RuntimeError):
    """The run itself went wrong (not the system under test): seeding, the world's own rules."""


@dataclass
class Live:
    """One connection as the run drives it."""

    world: ConnectionWorld
    connection_id: str = ""
    mall_id: int = 0
    webhook_url: str = ""
    webhook_secret: str = ""
    sku_ids: dict[int, int] = field(default_factory=dict)  # planned SKU index -> Temu SKU id
    sns: dict[int, str] = field(default_factory=dict)  # planned order -> parentOrderSn
    reached_awaiting: set[str] = field(default_factory=set)
    done: set[int] = field(default_factory=set)  # planned orders whose fate was carried out
    free_units: dict[str, list[int]] = field(default_factory=dict)  # uncommitted Available units in Main

    @property
    def label(self) -> str:
        return self.world.prefix


@dataclass
class Report:
    config: dict[str, Any]
    engine: str
    seconds: dict[str, float] = field(default_factory=dict)
    world: dict[str, int] = field(default_factory=dict)
    faults: dict[str, dict[str, int]] = field(default_factory=dict)
    retries: dict[str, int] = field(default_factory=dict)
    workers: dict[str, Any] = field(default_factory=dict)
    sqs: dict[str, int] = field(default_factory=dict)
    dlq_messages: dict[str, int] = field(default_factory=dict)
    dlq_reasons: dict[str, dict[str, int]] = field(default_factory=dict)  # per queue: why, how many
    runs: dict[str, dict[str, int]] = field(default_factory=dict)
    settle: dict[str, Any] = field(default_factory=dict)
    invariants_checked: dict[str, int] = field(default_factory=dict)
    violations: list[dict[str, Any]] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)
    worker_log: str = ""

    @property
    def ok(self) -> bool:
        return not self.violations


def parse_stamp(value: str | None) -> float | None:
    """A Runs-table timestamp (PynamoDB UTCDateTimeAttribute) as epoch seconds."""
    if not value:
        return None
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


class ChaosRun:
    """Seeds, drives, settles and judges one chaos run on a started local stack."""

    def __init__(self, config: ChaosConfig, stack: LocalStack, out: TextIO = sys.stdout) -> None:
        if stack.temu is None or stack.wholecell is None:
            raise HarnessError("the chaos run needs the stack's own sandboxes")
        self.config = config
        self.stack = stack
        self.out = out
        self.temu: SandboxState = stack.temu.state
        self.wholecell: WholeCellState = stack.wholecell.state
        self.lives = [Live(plan_connection(config, n)) for n in range(config.connections)]
        self.events: Counter[str] = Counter()
        self.crash_kills: Counter[str] = Counter()
        self.random_kills: Counter[str] = Counter()
        self.min_true_quantity: int | None = None
        self.stop_chaos = threading.Event()
        self.chaos_errors: list[str] = []
        self.settle_failures: list[dict[str, Any]] = []
        self.crashed = threading.Event()
        self.crash_rng = random.Random(config.seed + 17)
        self.scripted: list[tuple[Live, str]] = []  # the scripted windows' parent orders
        self.gave_up: list[tuple[str, str]] = []  # (job, connection) that never succeeded in time
        self.settle_runs = 0

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    # ------------------------------------------------------------------ admin API
    def api(self, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        response = self.stack.http(method, path, json=body)
        if response.status_code != expect:
            raise HarnessError(f"{method} {path} answered {response.status_code}: {response.text[:300]}")
        return response.json() if response.content else None

    def connect(self, live: Live) -> None:
        created = self.stack.connect_with_webhook(
            live.mall_id, {"app_id": live.world.app_id, "app_secret": live.world.app_secret}, f"Chaos {live.label}", {
                "order_import_enabled": True, "inventory_sync_enabled": True, "confirm_initial_push": True,
                "order_status_map": STATUS_MAP, "inventory_statuses": ["Available"], "warehouses": list(WAREHOUSES)})
        live.connection_id = str(created["connection_id"])
        live.webhook_url, live.webhook_secret = created["webhook_url"], created["webhook_secret"]

    def queue_run(self, live: Live, job: str) -> str:
        return str(self.api("POST", f"/admin/connections/{live.connection_id}/jobs/{job}/run", expect=202)["run_id"])

    def run_of(self, live: Live, job: str, run_id: str) -> dict[str, Any]:
        runs = self.api("GET", f"/admin/connections/{live.connection_id}/runs?job={job}")["items"]
        return next((dict(r) for r in runs if r["run_id"] == run_id), {"outcome": "missing", "reason": None})

    def drain(self, deadline: float) -> None:
        """Until the queues are empty; a queue still busy at `deadline` is noted, not fatal (the
        invariants then tell what did not happen)."""
        try:
            self.stack.drain(timeout=max(30.0, deadline - time.monotonic()))
        except TimeoutError as exc:
            self.settle_failures.append({"drain": str(exc)})

    def run_everywhere(self, job: str, deadline: float, lives: list[Live] | None = None) -> dict[str, dict[str, Any]]:
        """A manual run of `job` for every connection (or `lives`), at once; runs that found the
        lease held (a killed run's) or failed are queued again until they succeed or `deadline`."""
        return {label: run for (label, _), run in self.run_all([job], deadline, lives).items()}

    def run_all(self, jobs: list[str], deadline: float,
                lives: list[Live] | None = None) -> dict[tuple[str, str], dict[str, Any]]:
        """`run_everywhere` for several jobs at once (they wait out killed runs' leases together)."""
        results: dict[tuple[str, str], dict[str, Any]] = {}
        waiting = [(live, job) for job in jobs for live in (self.lives if lives is None else lives)]
        while waiting:
            queued = [(live, job, self.queue_run(live, job)) for live, job in waiting]
            self.drain(deadline)
            waiting = []
            for live, job, run_id in queued:
                run = self.run_of(live, job, run_id)
                results[(live.label, job)] = run
                self.settle_runs += 1
                if run["outcome"] == "succeeded":
                    continue
                if not (run["outcome"] == "skipped" and run.get("reason") == LEASE_BUSY):
                    self.settle_failures.append({"job": job, "connection": live.label, "outcome": run["outcome"],
                                                 "reason": run.get("reason")})
                waiting.append((live, job))
            if waiting:
                if time.monotonic() > deadline:
                    self.gave_up += [(job, live.label) for live, job in waiting]
                    break
                time.sleep(1.0)
        return results

    # ------------------------------------------------------------------ seeding
    def seed(self) -> None:
        self.temu.configure_rate_limit(self.config.temu_app_rate)
        for live in self.lives:
            world = live.world
            self.wholecell.create_account(world.app_id, world.app_secret, skus=world.wholecell_skus)
            specs = [{"sku": code, "status": "Available", "warehouse": MAIN}
                     for code, count in world.units.items() for _ in range(count)]
            units = self.wholecell.add_units(world.app_id, specs + world.noise)
            for unit in units[:len(specs)]:
                live.free_units.setdefault(str(unit.sku), []).append(unit.id)
            for code, quantity in world.ebay:
                order = self.wholecell.create_order(world.app_id, {
                    "external_reference": f"EBAY-{code}", "channel": "eBay", "status": "Pending",
                    "order_items": [{"sku": code, "quantity": quantity}]})
                self.wholecell.commit_units(world.app_id, [live.free_units[code].pop()], order["id"])
            listed = [g for g in range(len(world.goods)) if g not in world.late_goods]
            shop = self.temu.create_shop(region="US", goods=[world.goods_spec(g) for g in listed])
            live.mall_id = int(shop["mallId"])
            with self.temu.lock:
                records = list(self.temu.shops[live.mall_id].goods.values())
            self._map_skus(live, listed, [r.sku_ids for r in records])
            self.connect(live)

    def _map_skus(self, live: Live, planned_goods: list[int], sku_ids: list[list[int]]) -> None:
        for goods, ids in zip(planned_goods, sku_ids, strict=True):
            for index, sku_id in zip(live.world.goods[goods], ids, strict=True):
                live.sku_ids[index] = sku_id

    def warm_up(self) -> None:
        """One warm worker per function before the clock starts (an event every handler refuses)."""
        functions = [*JOB_FUNCTIONS.values(), "ShipmentPushFunction", "ShipmentWebhookFunction"]
        threads = [threading.Thread(target=self._refused, args=(f,), daemon=True) for f in functions]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)

    def _refused(self, function: str) -> None:
        with contextlib.suppress(InvocationError):
            self.stack.invoke(function, {"warm_up": True})

    def set_watermarks(self) -> None:
        """One order import per connection before any order exists (no order is first-run history)."""
        results = self.run_everywhere("order_import", time.monotonic() + 120)
        if any(r["outcome"] != "succeeded" for r in results.values()):
            raise HarnessError(f"first order import failed: {results}")

    # ------------------------------------------------------------------ faults
    def faults_on(self) -> None:
        c = self.config
        after_write = FaultRule(lost_rate=c.lost_rate, lost_timeout_rate=c.lost_timeout_rate,
                                crash_rate=c.crash_rate, timeout_seconds=c.fault_timeout)
        everywhere = FaultRule(error_rate=c.error_rate, timeout_rate=c.timeout_rate, timeout_seconds=c.fault_timeout)
        self.temu.faults.set_rules([
            replace(after_write, endpoint="bg.local.goods.stock.edit"),
            replace(after_write, endpoint="bg.logistics.shipment.v2.confirm"),
            everywhere], seed=c.seed + 1)
        self.wholecell.faults.set_rules([
            replace(after_write, endpoint="/api/v1/sales_orders", methods=["POST", "PATCH"]),
            replace(everywhere, malformed_rate=c.malformed_rate),
            FaultRule(error_rate=c.wholecell_429_rate, status=429)], seed=c.seed + 2)
        self.temu.faults.crash_hook = self.wholecell.faults.crash_hook = self.crash

    def faults_off(self) -> None:
        self.temu.faults.clear()
        self.wholecell.faults.clear()
        self.temu.faults.crash_hook = self.wholecell.faults.crash_hook = None
        self.temu.configure_rate_limit(None)

    def crash(self, endpoint: str, port: int | None) -> bool:
        """A write was done; kill the worker that made it before it can record the outcome (found by
        its TCP port; where /proc cannot tell, a busy worker of a function that makes this call)."""
        killed = self.stack.kill_worker_on_port(port)
        if killed is None:
            killed = self.stack.kill_busy_worker(self.crash_rng, WRITERS.get(endpoint, KILLABLE))
        if killed is not None:
            self.crash_kills[killed] += 1
        self.crashed.set()
        return killed is not None

    def scripted_crash(self) -> None:
        """A WholeCell create of a pending order is done and the worker killed before it records
        it; the buyer confirms the order on Temu before another run takes the claim over."""
        live = self.lives[0]
        order = next(o for o in live.world.orders if o.step == SCRIPTED_STEP)
        self.crashed.clear()
        self.wholecell.faults.set_rules([FaultRule(endpoint="/api/v1/sales_orders", methods=["POST"],
                                                   crash_rate=1.0, count=1)])
        self.wholecell.faults.crash_hook = self.crash
        lines = [{"skuId": live.sku_ids[i], "quantity": quantity} for i, quantity in order.lines]
        sn = self.temu.add_order(live.mall_id, lines, status=order.initial)
        live.sns[order.number] = sn
        self.events["temu_orders"] += 1
        self.queue_run(live, "order_import")
        if not self.crashed.wait(120) or not self.crash_kills:
            raise HarnessError("the scripted crash after a WholeCell create did not happen")
        self.wholecell.faults.clear()
        self.temu.advance_order(sn)
        live.reached_awaiting.add(sn)
        self.events["temu_orders_confirmed"] += 1
        self.events["scripted_crashes"] += 1
        self.scripted.append((live, sn))

    def scripted_lost_patch(self) -> None:
        """An order imported with an Unknown SKU line (its listing not imported yet); the listing
        import connects it; the order import's PATCH fixing the line reaches WholeCell but every
        answer is lost, and Temu's order list fails for a while, so no run records the fix before
        the warehouse ships the order (WholeCell already shows the SKU). The shipment must still
        be confirmed once the faults stop."""
        live = self.lives[1]
        order = next(o for o in live.world.orders if o.step == SCRIPTED_STEP)
        lines = [{"skuId": live.sku_ids[i], "quantity": quantity} for i, quantity in order.lines]
        sn = self.temu.add_order(live.mall_id, lines, status=order.initial)
        live.sns[order.number] = sn
        live.reached_awaiting.add(sn)
        self.events["temu_orders"] += 1
        deadline = time.monotonic() + 120
        for job in ("order_import", "listing_import"):
            if self.run_everywhere(job, deadline, [live])[live.label]["outcome"] != "succeeded":
                raise HarnessError(f"scripted lost PATCH: {job} did not succeed")
        attempts = int(self.stack.environments["OrderImportFunction"].get("HTTP_MAX_ATTEMPTS", "4"))
        lost_before = self.wholecell.faults.injected.get("lost_http_502", 0)
        self.wholecell.faults.set_rules([FaultRule(endpoint="/api/v1/sales_orders", methods=["PATCH"],
                                                   lost_rate=1.0, count=attempts)])
        self.queue_run(live, "order_import")
        self._wait(lambda: self.wholecell.faults.injected.get("lost_http_502", 0) >= lost_before + attempts,
                   "the order import's PATCH")
        self.temu.faults.set_rules([FaultRule(endpoint="bg.order.list.v2.get", error_rate=1.0)])
        self.wholecell.faults.clear()
        self._ship(live, order, sn)
        if order.number not in live.done:
            raise HarnessError("scripted lost PATCH: WholeCell does not show the fixed order to ship")
        self._wait(lambda: self._confirmation_attempted(live, sn), "the shipment confirmation's first attempt")
        self.temu.faults.clear()
        self.events["scripted_lost_patches"] += 1
        self.scripted.append((live, sn))

    def _confirmation_attempted(self, live: Live, sn: str) -> bool:
        """Whether a confirmation of the order's shipment was attempted and its claim let go
        (Shipments table: an item for the WholeCell order, with no live claim)."""
        order_id = next(o["id"] for o in self.wholecell.list_orders(live.world.app_id, {"channel": "Temu"})
                        if o["external_reference"] == sn)
        items = self.stack.client("dynamodb").query(
            TableName=self.stack.template.tables["ShipmentsTable"].name, ConsistentRead=True,
            KeyConditionExpression="connection_id = :c AND begins_with(shipment_key, :k)",
            ExpressionAttributeValues={":c": {"S": live.connection_id}, ":k": {"S": f"{order_id}#"}})["Items"]
        return bool(items) and all("claim_owner" not in item for item in items)

    @staticmethod
    def _wait(done: Callable[[], bool], what: str, seconds: float = 120) -> None:
        """Until `done()` (a sandbox or the stack reaching a state no drain can wait for)."""
        deadline = time.monotonic() + seconds
        while not done():
            if time.monotonic() > deadline:
                raise HarnessError(f"timed out waiting for {what}")
            time.sleep(0.1)

    def scripted_outcome(self) -> list[dict[str, Any]]:
        """What WholeCell, Temu and the integration hold for the scripted orders at the end."""
        outcomes = []
        for live, sn in self.scripted:
            found = [o for o in self.wholecell.list_orders(live.world.app_id, {}) if o["external_reference"] == sn]
            view = self.api("GET", f"/admin/connections/{live.connection_id}/orders/{sn}")
            outcomes.append({"connection": live.label, "parent_order_sn": sn, "temu_status": self._temu_status(sn),
                             "integration": {k: view[k] for k in ("wholecell_status", "address_state",
                                                                  "shipment_state", "shipment_error")},
                             "wholecell": [{"status": o["status"],
                                            "address": bool((o["shipping_address"] or {}).get("street1")),
                                            "items": [(i["sku"], i["quantity"]) for i in o["order_items"]],
                                            "shipments": len(o["shipments"])} for o in found]})
        return outcomes

    # ------------------------------------------------------------------ chaos threads
    @contextlib.contextmanager
    def background(self) -> Iterator[None]:
        self.stop_chaos.clear()
        threads = [threading.Thread(target=self._guard(self.ticker), name="chaos-ticker", daemon=True),
                   threading.Thread(target=self._guard(self.killer), name="chaos-killer", daemon=True)]
        for thread in threads:
            thread.start()
        try:
            yield
        finally:
            self.stop_chaos.set()
            for thread in threads:
                thread.join(timeout=120)

    def _guard(self, target: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                target()
            except Exception as exc:  # recorded: a harness thread must not die silently
                self.chaos_errors.append(f"{threading.current_thread().name}: {type(exc).__name__}: {exc}")
        return run

    def ticker(self) -> None:
        """Every job's schedule for both connections, and one overlapping manual run, each tick."""
        rng = random.Random(self.config.seed + 7)
        while not self.stop_chaos.wait(self.config.tick_seconds):
            for job, function in JOB_FUNCTIONS.items():
                try:
                    self.stack.fire_schedule(function)
                    self.events[f"fanout_{job}"] += 1
                except Exception:
                    self.events["fanout_failed"] += 1
            live, job = rng.choice(self.lives), rng.choice(sorted(JOB_FUNCTIONS))
            response = self.stack.http("POST", f"/admin/connections/{live.connection_id}/jobs/{job}/run")
            self.events["manual_runs" if response.status_code == 202 else "manual_run_refused"] += 1

    def killer(self) -> None:
        rng = random.Random(self.config.seed + 13)
        while not self.stop_chaos.wait(self.config.kill_seconds):
            if rng.random() < self.config.kill_share:
                killed = self.stack.kill_busy_worker(rng, KILLABLE)
                if killed is not None:
                    self.random_kills[killed] += 1

    # ------------------------------------------------------------------ the world moves
    def step(self, number: int) -> None:
        for live in self.lives:
            world = live.world
            if number == self.config.late_step and world.late_goods:
                late = sorted(world.late_goods)
                goods_ids = self.temu.add_goods(live.mall_id, [world.goods_spec(g) for g in late])
                with self.temu.lock:
                    shop = self.temu.shops[live.mall_id]
                    self._map_skus(live, late, [shop.goods[g].sku_ids for g in goods_ids])
                self.events["goods_listed_mid_run"] += len(late)
            for order in world.orders:
                self._move_order(live, order, number)
            for code in world.sales.get(number, []):
                self.wholecell.set_unit_status(world.app_id, [live.free_units[code].pop()], "Sold")
                self.events["units_sold_elsewhere"] += 1
            for code in world.restocks.get(number, []):
                unit, = self.wholecell.add_units(world.app_id, [{"sku": code, "status": "Available",
                                                                  "warehouse": MAIN}])
                live.free_units[code].append(unit.id)
                self.events["units_arrived"] += 1
            for index, stock in world.drifts.get(number, []):
                if index in live.sku_ids:
                    self.temu.set_sku(live.mall_id, live.sku_ids[index], stock=stock)
                    self.events["temu_stock_changed_by_another_tool"] += 1
        self.check_truth()

    def _temu_status(self, sn: str) -> int:
        with self.temu.lock:
            return int(self.temu.orders[sn].status)

    def _move_order(self, live: Live, order: PlannedOrder, step: int) -> None:
        if order.step == step:
            lines = [{"skuId": live.sku_ids[i], "quantity": quantity} for i, quantity in order.lines]
            placed = self.temu.add_order(live.mall_id, lines, status=order.initial)
            live.sns[order.number] = placed
            self.events["temu_orders"] += 1
            if order.initial == AWAITING:
                live.reached_awaiting.add(placed)
        sn = live.sns.get(order.number)
        if sn is None or order.number in live.done:
            return
        status = self._temu_status(sn)
        cancelled_first = order.fate == "cancel" and order.fate_step <= step
        if order.advance_step == step and status == PENDING and not cancelled_first:
            self.temu.advance_order(sn)
            live.reached_awaiting.add(sn)
            self.events["temu_orders_confirmed"] += 1
            status = AWAITING
        if order.fate_step > step or order.fate == "wait":
            return
        if order.fate == "cancel" and status in (PENDING, AWAITING):
            self.temu.set_order_status(sn, CANCELLED)
            live.done.add(order.number)
            self.events["temu_orders_cancelled"] += 1
        elif order.fate == "cancel_line" and status == AWAITING:
            with self.temu.lock:
                item = next(i for i in self.temu.orders[sn].items if i.quantity == 2)
            self.temu.cancel_line(sn, item.order_sn, 1)
            live.done.add(order.number)
            self.events["temu_lines_partly_cancelled"] += 1
        elif order.fate.startswith("ship") and status == AWAITING:
            self._ship(live, order, sn)

    def _ship(self, live: Live, order: PlannedOrder, sn: str) -> None:
        """The warehouse ships an order WholeCell holds with its address and Temu's items."""
        app = live.world.app_id
        created = sorted((o for o in self.wholecell.list_orders(app, {"channel": "Temu"})
                          if o["external_reference"] == sn), key=lambda o: int(o["id"]))
        if not created or not (created[0]["shipping_address"] or {}).get("street1"):
            return
        expected = sorted((live.world.skus[i].code, q) for i, q in order.lines)
        items = created[0]["order_items"]
        # an Unknown SKU line (sku None, not fixed yet) is never comparable: sorting it with the
        # others' SKU codes failed the harness itself (None < str), not the system under test
        if any(i["sku"] is None for i in items) or sorted((i["sku"], i["quantity"]) for i in items) != expected:
            return  # WholeCell does not hold Temu's items yet
        tracking = f"{live.label}TRK{order.number:05d}"
        lost = order.fate == "ship_lost_webhook"
        if lost:
            self.wholecell.configure_webhook(app, None, [live.webhook_secret])
        try:
            result = self.wholecell.add_shipment(app, int(created[0]["id"]), carrier=CARRIER, tracking_number=tracking)
        finally:
            if lost:
                self.wholecell.configure_webhook(app, live.webhook_url, [live.webhook_secret])
        live.done.add(order.number)
        self.events["shipments_webhook_lost" if lost else "shipments"] += 1
        event_id = result["event_id"]
        if order.redeliver and event_id:
            self.wholecell.redeliver(app, str(event_id))
            self.events["webhooks_sent_twice"] += 1

    def check_truth(self) -> None:
        """The world's own rule: every connected listing's true quantity stays above 0."""
        for live in self.lives:
            truth = true_quantities(self.wholecell.snapshot(live.world.app_id)["accounts"][live.world.app_id])
            connected = [s.code for s in live.world.skus if s.connected]
            lowest = min(truth[code] for code in connected)
            self.min_true_quantity = lowest if self.min_true_quantity is None else min(self.min_true_quantity, lowest)
            if lowest <= 0:
                raise HarnessError(f"{live.label}: a connected SKU's true quantity reached {lowest}; the world plan "
                                   "must keep it above 0 for the zero-push invariant to be sound")

    # ------------------------------------------------------------------ after the faults
    def settle(self, started: float) -> dict[str, Any]:
        """Faults off: run the jobs again until what they can still bring about holds, then one
        more quantity sync."""
        deadline = started + self.config.settle_seconds
        self.settle_runs = 0
        self.drain(deadline)
        rounds, previous, stable = 0, None, 0
        claims_expired = started + max(self.config.order_timeout, self.config.shipment_timeout,
                                       self.config.lease_seconds) + 5
        pending: list[dict[str, Any]] = []
        self.run_all(list(JOB_FUNCTIONS), deadline)  # every job once, waiting out killed runs' leases together
        while True:
            rounds += 1
            for job in ("listing_import", "order_import", "address_backfill", "shipment_reconcile"):
                self.run_everywhere(job, deadline)
            self.drain(deadline)
            self.run_everywhere("order_import", deadline)  # Temu's shipped statuses onto WholeCell
            verdict = judge(self.final_state(), {})
            pending = [v for v in verdict.violations if v["invariant"] in FLOW_INVARIANTS]
            stable = stable + 1 if pending == previous else 0
            previous = pending
            if not pending or time.monotonic() > deadline or (stable >= 2 and time.monotonic() > claims_expired):
                break
            time.sleep(2.0)
        self.run_everywhere("quantity_sync", deadline)  # the one more sync after the faults stopped
        return {"rounds": rounds, "seconds": round(time.monotonic() - started, 1),
                "unsettled_after_rounds": len(pending)}

    # ------------------------------------------------------------------ judging
    def read_listings(self, live: Live) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        cursor = ""
        while True:
            page = self.api("GET", f"/admin/connections/{live.connection_id}/listings?cursor={cursor}")
            items += page["items"]
            if not page["next_cursor"]:
                return items
            cursor = page["next_cursor"]

    def final_state(self) -> list[ConnectionFinal]:
        finals = []
        for live in self.lives:
            with self.temu.lock:
                shop = self.temu.shops[live.mall_id]
                seller_sku_of = {sku_id: sku.sku_sn for sku_id, sku in shop.skus.items()}
                temu_skus = {sku_id: (sku.status, sku.sub_status) for sku_id, sku in shop.skus.items()}
                stock = {sku_id: sku.stock for sku_id, sku in shop.skus.items()}
                orders = [TemuOrderView(o.parent_order_sn, o.status, [(i.sku_id, i.quantity) for i in o.items],
                                        dict(o.address))
                          for o in self.temu.orders.values() if o.mall_id == live.mall_id]
                packages = [TemuPackageView(p.tracking_number, {line["parentOrderSn"] for line in p.lines})
                            for p in self.temu.packages.values() if p.mall_id == live.mall_id]
                edits = [e for e in self.temu.stock_edits if e["mallId"] == live.mall_id]
            zero = [{"edit": n, "goods_id": e["goodsId"], "temu_sku_id": entry["skuId"]}
                    for n, e in enumerate(edits) if e["mode"] == "stockTarget"
                    for entry in e["entries"] if entry.get("stockTarget") == 0]
            account = self.wholecell.snapshot(live.world.app_id)["accounts"][live.world.app_id]
            finals.append(ConnectionFinal(live.label, seller_sku_of, temu_skus, stock, orders, packages, zero,
                                          account, self.read_listings(live), set(live.reached_awaiting),
                                          self.shipment_states(live)))
        return finals

    def shipment_states(self, live: Live) -> dict[str, str]:
        """The integration's shipment state per parent order (Orders table)."""
        dynamodb = self.stack.client("dynamodb")
        table = self.stack.template.tables["OrdersTable"].name
        states: dict[str, str] = {}
        pages = dynamodb.get_paginator("query").paginate(
            TableName=table, KeyConditionExpression="connection_id = :c", ConsistentRead=True,
            ExpressionAttributeValues={":c": {"S": live.connection_id}})
        for page in pages:
            for item in page["Items"]:
                if "shipment_state" in item:
                    states[item["parent_order_sn"]["S"]] = item["shipment_state"]["S"]
        return states

    def diagnose(self, violations: list[dict[str, Any]], limit: int = 12) -> None:
        """Attach the integration's own record (Orders table item) to order violations, for the report."""
        dynamodb = self.stack.client("dynamodb")
        table = self.stack.template.tables["OrdersTable"].name
        ids = {live.label: live.connection_id for live in self.lives}
        for violation in [v for v in violations if "parent_order_sn" in v][:limit]:
            item = dynamodb.get_item(TableName=table, ConsistentRead=True, Key={
                "connection_id": {"S": ids[violation["connection"]]},
                "parent_order_sn": {"S": violation["parent_order_sn"]}}).get("Item", {})
            violation["orders_table"] = {key: next(iter(value.values())) for key, value in sorted(item.items())
                                         if key not in ("lines", "connection_id", "parent_order_sn")}

    def stock_edit_entries(self) -> dict[str, int]:
        with self.temu.lock:
            return {live.label: sum(len(e["entries"]) for e in self.temu.stock_edits if e["mallId"] == live.mall_id)
                    for live in self.lives}

    def run_figures(self) -> dict[str, dict[str, int]]:
        """Outcomes per job from the Runs table, runs left running by a kill, and true overlaps
        (two runs of one job for one connection executing at the same time)."""
        dynamodb = self.stack.client("dynamodb")
        table = self.stack.template.tables["RunsTable"].name
        items: list[dict[str, Any]] = []
        for page in dynamodb.get_paginator("scan").paginate(TableName=table):
            items += page["Items"]
        by_key: dict[str, list[tuple[float, float]]] = {}
        figures: dict[str, Counter[str]] = {job: Counter() for job in JOB_FUNCTIONS}
        for item in items:
            if item["sk"]["S"] in ("#lease", "#latest") or "job" not in item:  # the lease; a last run's copy
                continue
            job, outcome = item["job"]["S"], item.get("outcome", {}).get("S", "queued")
            reason = item.get("reason", {}).get("S")
            figures[job][outcome] += 1
            if outcome == "skipped" and reason == LEASE_BUSY:
                figures[job]["skipped_lease_held"] += 1
            start = parse_stamp(item.get("started_at", {}).get("S"))
            end = parse_stamp(item.get("ended_at", {}).get("S"))
            if start is not None and outcome in ("succeeded", "failed") and end is not None:
                by_key.setdefault(item["pk"]["S"], []).append((start, end))
        for key, spans in by_key.items():
            spans.sort()
            job = key.rsplit("#", 1)[1]
            latest_end = float("-inf")
            for start, end in spans:
                if start < latest_end:
                    figures[job]["overlapped_another_run"] += 1
                latest_end = max(latest_end, end)
        return {job: dict(sorted(counts.items())) for job, counts in figures.items()}

    def retry_figures(self, log: Path | None) -> dict[str, int]:
        text = log.read_text(errors="replace") if log is not None and log.exists() else ""
        messages = [log_message(line) for line in text.splitlines()]
        figures = {f"{api}_client_retries": sum(1 for message in messages if pattern.match(message))
                   for api, pattern in RETRY_LINES.items()}
        figures["sqs_redeliveries"] = self.stack.stats["redeliveries"]
        return figures


def log_message(line: str) -> str:
    """A worker log line's message: the JSON object's, or the line itself when it is not JSON."""
    with contextlib.suppress(ValueError):
        record = json.loads(line)
        if isinstance(record, dict):
            return str(record.get("message", ""))
    return line


# --------------------------------------------------------------------------- the run


def dead_letters(stack: LocalStack) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
    parked = {job: stack.dlq_messages(queue) for job, queue in JOB_QUEUES.items()}
    return ({job: len(messages) for job, messages in parked.items()},
            {job: dlq_reasons(messages) for job, messages in parked.items() if messages})


def dlq_reasons(messages: list[dict[str, Any]]) -> dict[str, int]:
    """Why messages were parked: the `reason` a worker dead-lettered them with (its first words;
    numbers masked so alike reasons count together), or SQS's redrive after too many deliveries."""
    reasons: Counter[str] = Counter()
    for message in messages:
        reason = message.get("MessageAttributes", {}).get("reason", {}).get("StringValue")
        if reason:
            reasons[re.sub(r"\d+", "N", reason)[:90]] += 1
        else:  # (its receive count is no figure: every peek at the DLQ adds one)
            reasons["redriven by SQS after maxReceiveCount failed deliveries"] += 1
    return dict(reasons.most_common())


def stack_options(config: ChaosConfig, worker_log: Path | None) -> dict[str, Any]:
    env = {
        "ORDER_CLAIM_SECONDS": str(config.order_timeout), "SHIPMENT_CLAIM_SECONDS": str(config.shipment_timeout),
        "RUN_LEASE_SECONDS": str(config.lease_seconds), "HTTP_TIMEOUT_SECONDS": str(config.http_timeout),
        "WHOLECELL_RATE_LIMIT": str(config.wholecell_worker_rate), "POWERTOOLS_METRICS_DISABLED": "true",
    }
    parameters = {"LogLevel": "WARNING", "SharedBudgets": "enabled", "TemuAppRateLimit": f"{config.temu_budget_rate:g}",
                  "MaxJobConcurrency": str(config.concurrency),
                  "ShipmentPushTemuRate": f"{config.shipment_push_temu_rate:g}"}
    return {"api_port": 0, "env_overrides": env, "parameters": parameters,
            "concurrency": config.concurrency, "worker_output": worker_log,
            "function_timeouts": {"OrderImportFunction": config.order_timeout,
                                  "ShipmentPushFunction": config.shipment_timeout}}


def run_chaos(config: ChaosConfig, stack: LocalStack, engine: str, worker_log: Path | None = None,
              out: TextIO = sys.stdout) -> Report:
    """One whole chaos run on a started stack; the report holds every figure and violation."""
    run = ChaosRun(config, stack, out)
    report = Report(config=asdict(config), engine=engine, worker_log=str(worker_log or ""))
    began = time.monotonic()
    run.say(f"chaos ({config.name}): {config.connections} connections x {config.goods * config.skus_per_goods} Temu "
            f"SKUs, {config.orders} orders; seeding ...")
    run.seed()
    run.warm_up()
    run.set_watermarks()
    report.seconds["setup"] = round(time.monotonic() - began, 1)

    chaos_started = time.monotonic()
    run.scripted_crash()
    run.scripted_lost_patch()
    run.say(f"  faults on: {config.steps} steps of {config.step_seconds:g} s")
    run.faults_on()
    try:
        with run.background():
            for number in range(config.steps):
                step_started = time.monotonic()
                run.step(number)
                run.say(f"  step {number + 1}/{config.steps}: {dict(sorted(run.events.items()))}")
                time.sleep(max(0.0, config.step_seconds - (time.monotonic() - step_started)))
    finally:
        run.faults_off()
    report.seconds["chaos"] = round(time.monotonic() - chaos_started, 1)
    faults = {"temu": dict(run.temu.faults.injected), "wholecell": dict(run.wholecell.faults.injected)}
    faults["temu"]["rate_limited_4000004"] = run.temu.error_counts.get(4000004, 0)

    run.say("  faults off; settling ...")
    settle_started = time.monotonic()
    report.settle = run.settle(settle_started)
    report.settle["scripted"] = run.scripted_outcome()
    report.seconds["settle"] = round(time.monotonic() - settle_started, 1)

    verdict: Verdict = judge(run.final_state(), run.stock_edit_entries())
    for job, label in run.gave_up:
        verdict.violations.append({"invariant": "jobs_succeed_after_faults_stop", "job": job, "connection": label})
    verdict.checked["jobs_succeed_after_faults_stop"] += run.settle_runs
    report.settle["job_failures_after_faults_stopped"] = len(run.settle_failures)
    report.settle["examples"] = run.settle_failures[:5]
    if run.chaos_errors:
        raise HarnessError(f"chaos threads failed: {run.chaos_errors}")
    report.faults = faults
    report.retries = run.retry_figures(worker_log)
    report.workers = {"killed_at_random": dict(run.random_kills), "killed_after_a_write": dict(run.crash_kills),
                      "timed_out": stack.stats["function_timeouts"],
                      "crashed_invocations": stack.stats["worker_crashes"]}
    report.sqs = {k: int(v) for k, v in sorted(stack.stats.items())}
    report.dlq_messages, report.dlq_reasons = dead_letters(stack)
    report.runs = run.run_figures()
    report.world = {**dict(sorted(run.events.items())), "listings": sum(len(f.temu_skus) for f in run.final_state()),
                    "min_true_quantity_seen": run.min_true_quantity or 0}
    report.invariants_checked = dict(sorted(verdict.checked.items()))
    run.diagnose(verdict.violations)
    report.violations = verdict.violations
    report.notes = verdict.notes
    report.seconds["total"] = round(time.monotonic() - began, 1)
    return report


def print_report(report: Report, out: TextIO = sys.stdout) -> None:
    def line(label: str, value: Any) -> None:
        print(f"  {label:<34} {value}", file=out)

    print(f"\nchaos run '{report.config['name']}' (DynamoDB: {report.engine}; seed {report.config['seed']})", file=out)
    line("seconds (setup/chaos/settle/total)", "/".join(str(report.seconds.get(k)) for k in
                                                     ("setup", "chaos", "settle", "total")))
    line("Temu orders / listings", f"{report.world.get('temu_orders', 0)} / {report.world.get('listings', 0)}")
    for key in ("shipments", "shipments_webhook_lost", "webhooks_sent_twice", "temu_orders_cancelled",
                "temu_lines_partly_cancelled", "units_sold_elsewhere", "goods_listed_mid_run",
                "temu_stock_changed_by_another_tool", "manual_runs", "min_true_quantity_seen"):
        line(key, report.world.get(key, 0))
    for api, kinds in report.faults.items():  # crash_killed / crash_missed say how each crash ended
        injected = sum(n for kind, n in kinds.items() if kind not in ("crash_killed", "crash_missed"))
        line(f"faults injected ({api})", f"{injected} {kinds}")
    line("retries", report.retries)
    line("workers killed", report.workers)
    line("SQS", report.sqs)
    line("DLQ messages", report.dlq_messages)
    for job, reasons in report.dlq_reasons.items():
        line(f"  DLQ {job}", reasons)
    for job, counts in report.runs.items():
        line(f"runs {job}", counts)
    line("settle", {k: v for k, v in report.settle.items() if k != "examples"})
    line("invariants checked", f"{sum(report.invariants_checked.values())} {report.invariants_checked}")
    for note in report.notes[:5]:
        line("note", note)
    if report.violations:
        kinds = Counter(v["invariant"] for v in report.violations)
        line("VIOLATIONS", f"{len(report.violations)} {dict(kinds)}")
        for violation in report.violations[:15]:
            print(f"    {violation}", file=out)
    else:
        line("violations", 0)


@contextlib.contextmanager
def dynamodb_surviving_kills() -> Iterator[str]:
    """bench.engine.fast_dynamodb with DYNALITE_LAUNCHER: dynalite in memory on a free port."""
    from bench import engine  # noqa: PLC0415 - needs node; the small variant runs on moto

    engine.ensure_installed()
    node = shutil.which("node")
    assert node is not None  # ensure_installed checked
    with tempfile.TemporaryFile() as errors:
        process = subprocess.Popen([node, "-e", DYNALITE_LAUNCHER, str(engine.NODE_MODULES / engine.ENGINE),
                                    "127.0.0.1", "0"], cwd=engine.BENCH_DIR, stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, stderr=errors)
        try:
            deadline = time.monotonic() + engine.START_TIMEOUT_SECONDS
            bound = engine._read_port(process, deadline)  # the engine module's own start-up steps
            endpoint = f"http://127.0.0.1:{bound}"
            while bound is not None and not engine._answers(endpoint) and time.monotonic() < deadline:
                time.sleep(0.05)
            if bound is None or not engine._answers(endpoint):
                errors.seek(0)
                raise engine.EngineUnavailableError(f"{engine.ENGINE} did not start: {errors.read().decode()[-2000:]}")
            yield endpoint
            if process.poll() is not None:
                errors.seek(0)
                raise HarnessError(f"{engine.ENGINE} died during the run: {errors.read().decode()[-2000:]}")
        finally:
            engine._stop(process)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--small", action="store_true", help="the small variant `make test` runs")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--moto", action="store_true", help="DynamoDB on moto instead of dynalite")
    parser.add_argument("--lease-seconds", type=int, default=None,
                        help="RUN_LEASE_SECONDS (shorter: more runs of one job for one connection overlap)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    config = SMALL if args.small else FULL
    if args.seed is not None:
        config = replace(config, seed=args.seed)
    if args.moto:
        config = replace(config, fast_dynamodb=False)
    if args.lease_seconds is not None:
        config = replace(config, lease_seconds=args.lease_seconds)
    log = Path(tempfile.mkdtemp(prefix="chaos-")) / "workers.log"
    with contextlib.ExitStack() as resources:
        engine, endpoint = "moto", None
        if config.fast_dynamodb:
            from bench.engine import engine_description  # noqa: PLC0415 - needs node

            endpoint = resources.enter_context(dynamodb_surviving_kills())
            engine = engine_description()
        stack = resources.enter_context(LocalStack(ROOT, dynamodb_endpoint=endpoint, **stack_options(config, log)))
        report = run_chaos(config, stack, engine, log)
    print_report(report)
    args.output.write_text(json.dumps(asdict(report), indent=2, default=str) + "\n")
    print(f"\nfigures written to {args.output}; worker output in {log}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
