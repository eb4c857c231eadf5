"""Quantity sync benchmark (issue #6): 200,000 WholeCell units to 20,000 Temu SKUs, a first run and a 1 % delta.

    python -m bench.quantity [--units 200000] [--goods 5000] [--skus-per-goods 4] [--seed 6]
                             [--first-run-scale 5]                  # or: make bench-quantity

The scenario, on the sandboxes through the whole local stack (worker processes, SQS on moto):

- WholeCell: 200,000 units over 21,000 SKUs (20,000 sold on Temu, 1,000 not), stamped over
  90 days; statuses about half `Available` (the counted one), the rest Sold, Inbound, Moving,
  Needs eBay Draft; three quarters in `Main Warehouse` (the counted one), the rest in
  `Overflow`; 400 open sales orders (eBay, Amazon, Wholesale) with units committed to about
  half of their items, 200 closed orders with their sold units committed. The seeded history
  is then backdated an hour (`WholeCellState.backdate`), so it lies wholly before the sync's
  120 s re-read overlap, as an account's history would.
- Temu: one shop, 5,000 goods x 4 SKUs, every seller SKU equal to a WholeCell SKU, so the
  listing import connects all 20,000 automatically; inventory sync is then turned on
  (`confirm_initial_push`), counting `Available` units in `Main Warehouse`.
- Run 1 (the first, a full rebuild) and run 2 (incremental, after 1 % of the units changed:
  status changes, warehouse moves, commits to open orders, plus a few new open orders) are
  both scheduled-style runs: the schedule's fan-out invocation, then the SQS delivery, until
  the queues drain. Run 2 is measured at the real rates: WholeCell 2 requests/s and Temu
  20 requests/s, each both the worker's pacing (WHOLECELL_RATE_LIMIT, and TEMU_APP_RATE_LIMIT,
  the shared Temu budget's rate, with TEMU_RATE_LIMIT set alike: `pacing`) and the sandbox's
  enforced limit. Run 1 would need ~13 minutes at those rates (1,000 unit pages, 5,000 stock
  edits), so its clocks are scaled by `--first-run-scale` (both rates x5 by default, on both
  sides); the table says so and gives its time at the real rates too.

Checks (exit status 1 when one fails): after each run Temu's stock equals the calculated
quantity of every connected, active listing, computed here independently from the sandboxes'
state (available = uncommitted units in the counted statuses and warehouses; outstanding =
uncommitted quantity on open orders); run 2 sends at most ceil(changed units / 100) + 5
WholeCell requests (refused ones included); it applies exactly one Temu stock edit per goods
whose quantity changed and reads nothing from Temu; its wall time (enqueue to drained) is
within 1.3x of the time the requests the APIs accepted need at the rate limits. Requests a
rate limit refused (429, 4000004) and that were sent again are warned about, not failed on:
their time counts against the wall-time bound. DynamoDB runs on bench.engine's dynalite
(moto's queries cost O(table size)); the report names it. Figures go to bench/quantity.json.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from wholecell_temu.config import load_settings
from wholecell_temu.domain.listings import ListingStatus
from wholecell_temu.domain.settings import QUANTITY_MAX
from wholecell_temu.store.listings import Listing, ListingRepository
from wholecell_temu.store.tables import bind_tables

from bench.engine import engine_description, fast_dynamodb
from bench.listings import Checks
from local.sandboxes.wholecell.state import Account, Unit
from local.stack import LocalStack

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "quantity.json"
FUNCTION = "QuantitySyncFunction"
LISTING_IMPORT = "ListingImportFunction"
WHOLECELL_RATE = 2.0  # WholeCell's limit per account (requests/s), the worker's default pacing
TEMU_RATE = 20.0  # Temu's limit per app (requests/s); one connection here, so the worker may use all of it
SETUP_RATE = 200.0  # pacing of the other functions while seeding (sandbox limits off then); not measured
BOUND_FACTOR = 1.3
DELTA_SLACK = 5  # WholeCell requests allowed beyond one per 100 changed units
PAGE = 100  # WholeCell rows per page
WHOLECELL = {"app_id": "bench-quantity", "app_secret": "bench-quantity-secret"}
MAIN, OVERFLOW = "Main Warehouse", "Overflow"
COUNTED_STATUSES = ("Available",)
COUNTED_WAREHOUSES = (MAIN,)
STATUS_WEIGHTS = {"Available": 50, "Sold": 30, "Inbound": 10, "Moving": 6, "Needs eBay Draft": 4}
WAREHOUSE_WEIGHTS = {MAIN: 3, OVERFLOW: 1}
WHOLECELL_ONLY_SKUS = 1000
HISTORY_SECONDS = 90 * 86400  # seeded units' updated_at spread over this much of the past
BACKDATE_SECONDS = 3600  # then the whole seeded history (orders, commits) is moved this far back
OPEN_ORDERS, CLOSED_ORDERS, NEW_ORDERS = 400, 200, 20
CHANNELS = ("eBay", "Amazon", "Wholesale")
CHANGE_SHARE = 0.01
CHANGE_MIX = (("status", 0.45), ("move", 0.35), ("commit", 0.20))
SKU_ID_BASE = 17_592_290_000_000
GOODS_ID_BASE = 601_099_700_000_000


# --------------------------------------------------------------------------- measuring


class Timeline:
    """WSGI middleware on a sandbox's Flask app: wall-clock (start, end) of every API request."""

    def __init__(self, app: Callable[..., Any], prefix: str) -> None:
        self.app, self.prefix = app, prefix
        self.calls: list[tuple[float, float]] = []
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if not str(environ.get("PATH_INFO", "")).startswith(self.prefix):
            return self.app(environ, start_response)
        started = time.time()
        try:
            return self.app(environ, start_response)  # Flask answers with the whole body built
        finally:
            with self.lock:
                self.calls.append((started, time.time()))

    def span(self, since: float, until: float) -> tuple[float, float] | None:
        """(first start, last end) of the requests started in [since, until]."""
        with self.lock:
            calls = [c for c in self.calls if since <= c[0] <= until]
        return (min(c[0] for c in calls), max(c[1] for c in calls)) if calls else None


def timelines(stack: LocalStack) -> tuple[Timeline, Timeline]:
    """(WholeCell, Temu) request timelines, wrapped around the sandboxes' Flask apps."""
    assert stack.wholecell is not None and stack.temu is not None
    wholecell = Timeline(stack.wholecell.app.wsgi_app, "/api/v1")
    temu = Timeline(stack.temu.app.wsgi_app, "/")
    stack.wholecell.app.wsgi_app = wholecell  # type: ignore[method-assign]
    stack.temu.app.wsgi_app = temu  # type: ignore[method-assign]
    return wholecell, temu


@dataclass
class Counters:
    """The sandboxes' request counters at one moment."""

    wholecell: Counter[str]
    wholecell_throttled: int
    temu: Counter[str]
    temu_errors: Counter[int]
    stock_edits: int

    @classmethod
    def read(cls, stack: LocalStack, app_id: str) -> Counters:
        assert stack.wholecell is not None and stack.temu is not None
        account = stack.wholecell.state.account(app_id)
        temu = stack.temu.state
        with temu.lock:
            return cls(Counter(account.request_counts), account.throttled, Counter(temu.request_counts),
                       Counter(temu.error_counts), len(temu.stock_edits))

    def since(self, before: Counters) -> Counters:
        return Counters(self.wholecell - before.wholecell, self.wholecell_throttled - before.wholecell_throttled,
                        self.temu - before.temu, self.temu_errors - before.temu_errors,
                        self.stock_edits - before.stock_edits)


class Warnings(list[str]):
    """What the bench reports but does not fail on: requests a rate limit refused and that were sent
    again (their time counts against the wall-time bound, which fails on it when it matters)."""

    def warn(self, ok: bool, what: str) -> None:
        if not ok:
            self.append(what)
            print(f"  WARNING {what}", file=sys.stderr)


def parse_time(value: Any) -> float:
    return datetime.fromisoformat(str(value)).timestamp()


def restart_worker(stack: LocalStack, function: str, environment: dict[str, str]) -> None:
    """Give a function more environment variables; its next invocation is a cold start with them,
    as a Lambda configuration change is."""
    stack.reconfigure(function, stack.environments[function] | environment)


def pacing(wholecell_rate: float, temu_rate: float) -> dict[str, str]:
    """A worker's environment pacing it at these rates: WholeCell's per account (WHOLECELL_RATE_LIMIT,
    the shared budget's rate or the worker's own) and Temu's, both the shared app-wide budget's
    (TEMU_APP_RATE_LIMIT, SharedBudgets=enabled, the default) and the worker's own share
    (TEMU_RATE_LIMIT, SharedBudgets=disabled)."""
    return {"WHOLECELL_RATE_LIMIT": str(wholecell_rate), "TEMU_RATE_LIMIT": str(temu_rate),
            "TEMU_APP_RATE_LIMIT": str(temu_rate)}


@contextmanager
def bench_stack() -> Iterator[tuple[LocalStack, str]]:
    """The whole local stack on bench.engine's dynalite, quiet (no metrics, WARNING logs), every
    worker paced at SETUP_RATE until a bench gives a function its measured rates; yields the
    stack and the DynamoDB engine's description."""
    quiet = {"POWERTOOLS_METRICS_DISABLED": "true", **pacing(SETUP_RATE, SETUP_RATE)}
    with fast_dynamodb() as endpoint, LocalStack(ROOT, api_port=0, dynamodb_endpoint=endpoint,
                                                 parameters={"LogLevel": "WARNING"}, env_overrides=quiet) as stack:
        engine = engine_description()
        print(f"DynamoDB engine: {engine} at {endpoint}; SQS and Secrets Manager on moto", flush=True)
        yield stack, engine


def set_limits(stack: LocalStack, wholecell_rate: float | None, temu_rate: float | None) -> None:
    """The sandboxes' enforced limits: WholeCell per account (429), Temu per app (4000004)."""
    assert stack.wholecell is not None and stack.temu is not None
    stack.wholecell.state.set_rate_limit(wholecell_rate)
    stack.temu.state.configure_rate_limit(temu_rate)


def connect(stack: LocalStack, mall_id: int, wholecell: dict[str, str], name: str) -> str:
    return stack.connect_shop(mall_id, wholecell, name)


def import_listings(stack: LocalStack, connection_id: str, timeout: float) -> dict[str, Any]:
    response = stack.http("POST", f"/admin/connections/{connection_id}/listings/import")
    response.raise_for_status()
    stack.drain(timeout=timeout)
    return latest_run(stack, connection_id, "listing_import")


def latest_run(stack: LocalStack, connection_id: str, job: str) -> dict[str, Any]:
    response = stack.http("GET", f"/admin/connections/{connection_id}/runs?job={job}")
    response.raise_for_status()
    return dict(response.json()["items"][0])  # newest first


def put_settings(stack: LocalStack, connection_id: str, body: dict[str, Any]) -> None:
    response = stack.http("PUT", f"/admin/connections/{connection_id}/settings", json=body)
    if response.status_code != 200:
        raise RuntimeError(f"PUT settings: {response.status_code} {response.text}")


@dataclass
class Phases:
    """Where a run's wall time went, from the run log and the sandboxes' request timelines (s)."""

    queue_to_start: float = 0.0
    start_to_first_wholecell: float = 0.0  # connection, secrets, loading the mirror
    wholecell_reads: float = 0.0  # first to last WholeCell request (paced)
    wholecell_to_first_temu: float = 0.0  # diff, mirror writes, quantities, listings, plan
    temu: float = 0.0  # first to last Temu request (paced pushes, or the Temu stock read first)
    last_temu_to_end: float = 0.0  # last records, run log
    end_to_drained: float = 0.0  # the bench noticing the queues are empty

    @classmethod
    def of(cls, run: dict[str, Any], enqueued: float, drained: float, wholecell: tuple[float, float] | None,
           temu: tuple[float, float] | None) -> Phases:
        start, end = parse_time(run["started_at"]), parse_time(run["ended_at"])
        phases = cls(queue_to_start=start - enqueued, end_to_drained=drained - end)
        cursor = start
        if wholecell is not None:
            phases.start_to_first_wholecell, phases.wholecell_reads = wholecell[0] - cursor, wholecell[1] - wholecell[0]
            cursor = wholecell[1]
        if temu is not None:
            phases.wholecell_to_first_temu, phases.temu = temu[0] - cursor, temu[1] - temu[0]
            cursor = temu[1]
        phases.last_temu_to_end = end - cursor
        return cls(**{k: round(v, 1) for k, v in asdict(phases).items()})


@dataclass
class RunFigures:
    label: str
    scale: float
    wholecell_rate: float
    temu_rate: float
    run: dict[str, Any]
    wall_seconds: float
    job_seconds: float
    wholecell_requests: int
    wholecell_by_endpoint: dict[str, int]
    wholecell_throttled: int
    temu_requests: int
    temu_by_type: dict[str, int]
    temu_rate_limited: int
    stock_edits: int
    goods_edited_twice: int
    phases: Phases
    worker_peak_rss_mb: float | None
    needed_seconds: float = 0.0
    needed_at_real_rates_seconds: float = 0.0
    goods_changed: int | None = None
    skus_changed: int | None = None
    changed_units: int | None = None
    wholecell_budget: int | None = None

    def __post_init__(self) -> None:
        # the requests the APIs accepted, at their rates; refused ones (429, 4000004) are overhead
        wholecell = self.wholecell_requests - self.wholecell_throttled
        temu = self.temu_requests - self.temu_rate_limited
        self.needed_seconds = round(wholecell / self.wholecell_rate + temu / self.temu_rate, 1)
        self.needed_at_real_rates_seconds = round(wholecell / WHOLECELL_RATE + temu / TEMU_RATE, 1)


def measure_run(stack: LocalStack, connection_id: str, label: str, *, scale: float,
                timelines_: tuple[Timeline, Timeline], mall_id: int, timeout: float) -> RunFigures:
    """One scheduled-style run: the schedule's fan-out invocation enqueues, the SQS delivery runs it."""
    assert stack.temu is not None
    wholecell_rate, temu_rate = WHOLECELL_RATE * scale, TEMU_RATE * scale
    before = Counters.read(stack, WHOLECELL["app_id"])
    edits_before = len(stack.temu.state.stock_edits)
    fired = time.time()
    fanned = stack.fire_schedule(FUNCTION)  # cold start of the restarted worker happens here
    enqueued = time.time()
    started = time.monotonic()
    stack.drain(timeout=timeout)
    wall = time.monotonic() - started
    drained = time.time()
    delta = Counters.read(stack, WHOLECELL["app_id"]).since(before)
    run = latest_run(stack, connection_id, "quantity_sync")
    if fanned != [{"job": "quantity_sync", "messages": 1}] or parse_time(run["started_at"]) < fired:
        raise RuntimeError(f"{label}: unexpected fan-out {fanned} or run {run}")
    edits = [e for e in stack.temu.state.stock_edits[edits_before:] if e["mallId"] == mall_id]
    goods = Counter(e["goodsId"] for e in edits)
    wholecell_span = timelines_[0].span(fired, drained)
    temu_span = timelines_[1].span(fired, drained)
    return RunFigures(
        label=label, scale=scale, wholecell_rate=wholecell_rate, temu_rate=temu_rate, run=run,
        wall_seconds=round(wall, 1), job_seconds=round(parse_time(run["ended_at"]) - parse_time(run["started_at"]), 1),
        wholecell_requests=sum(delta.wholecell.values()), wholecell_by_endpoint=dict(delta.wholecell),
        wholecell_throttled=delta.wholecell_throttled, temu_requests=sum(delta.temu.values()),
        temu_by_type=dict(delta.temu), temu_rate_limited=delta.temu_errors.get(4000004, 0),
        stock_edits=delta.stock_edits, goods_edited_twice=sum(1 for n in goods.values() if n > 1),
        phases=Phases.of(run, enqueued, drained, wholecell_span, temu_span), worker_peak_rss_mb=peak_rss_mb(stack))


def peak_rss_mb(stack: LocalStack, function: str = FUNCTION) -> float | None:
    """A function worker's peak resident memory (Linux /proc), to hold against its MemorySize."""
    try:
        status = Path(f"/proc/{stack.worker(function).pid}/status").read_text()
    except OSError:
        return None
    kilobytes = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), None)
    return None if kilobytes is None else round(kilobytes / 1024, 1)


# --------------------------------------------------------------------------- the seeded world


@dataclass
class World:
    goods: list[dict[str, Any]]
    sku_of: dict[int, str]  # Temu SKU id -> seller SKU (= WholeCell SKU)
    goods_of: dict[int, int]  # Temu SKU id -> goods id
    catalog: list[str]  # WholeCell SKUs (the Temu ones, then WholeCell-only ones)
    seeded_at: float = 0.0
    changes: dict[str, int] = field(default_factory=dict)


def weighted(weights: dict[str, int]) -> list[str]:
    """A list generate_units picks from uniformly, in these proportions."""
    return [name for name, weight in weights.items() for _ in range(weight)]


def plan_world(goods_count: int, skus_per_goods: int, seed: int) -> World:
    rng = random.Random(seed)
    goods: list[dict[str, Any]] = []
    sku_of: dict[int, str] = {}
    goods_of: dict[int, int] = {}
    for g in range(goods_count):
        goods_id = GOODS_ID_BASE + g
        specs = []
        for s in range(skus_per_goods):
            sku_id, code = SKU_ID_BASE + g * 100 + s, f"QS-{g:05d}-{s:02d}"
            specs.append({"skuId": sku_id, "skuSn": code, "stock": rng.randint(1, 30), "status": "active",
                          "specName": f"Variant {s}", "price": f"{rng.randint(100, 900)}.00"})
            sku_of[sku_id], goods_of[sku_id] = code, goods_id
        goods.append({"goodsId": goods_id, "goodsName": f"Renewed Phone {g:05d}", "outGoodsSn": f"QG-{g:05d}",
                      "skus": specs})
    catalog = sorted(sku_of.values()) + [f"QS-WC-{n:05d}" for n in range(WHOLECELL_ONLY_SKUS)]
    return World(goods, sku_of, goods_of, catalog)


def seed_wholecell(stack: LocalStack, world: World, units: int, seed: int) -> None:
    """Units over 90 days, open and closed orders with committed units, then all of it an hour back."""
    assert stack.wholecell is not None
    state, app_id = stack.wholecell.state, WHOLECELL["app_id"]
    state.create_account(app_id, WHOLECELL["app_secret"], skus=world.catalog)
    seeded = state.generate_units(app_id, units, skus=world.catalog, warehouses=weighted(WAREHOUSE_WEIGHTS),
                                  statuses=weighted(STATUS_WEIGHTS), seed=seed, spread_seconds=HISTORY_SECONDS)
    rng = random.Random(seed + 1)
    free: dict[tuple[str | None, str], list[int]] = defaultdict(list)  # (sku, status) -> uncommitted unit ids
    for unit in seeded:
        free[(unit.sku, unit.status)].append(unit.id)
    temu_skus = sorted(world.sku_of.values())
    for n in range(OPEN_ORDERS + CLOSED_ORDERS):
        is_open = n < OPEN_ORDERS
        items: list[dict[str, Any]] = [{"sku": sku, "quantity": rng.randint(1, 2), "unit_price_cents": 19900}
                 for sku in rng.sample(temu_skus, rng.randint(1, 3))]
        status = rng.choice(["Pending", "Awaiting Fulfillment"]) if is_open else "Pending"
        order = state.create_order(app_id, {"external_reference": f"EXT-{n:05d}", "channel": rng.choice(CHANNELS),
                                            "status": status, "order_items": items})
        for item in items:
            if is_open and rng.random() >= 0.5:
                continue  # about half of the open orders' items are picked already
            pool = free[(item["sku"], "Available" if is_open else "Sold")]
            picked = [pool.pop() for _ in range(min(len(pool), item["quantity"]))]
            if picked:
                state.commit_units(app_id, picked, order["id"])
        if not is_open:
            state.update_order(app_id, order["id"], {"status": rng.choice(["Shipped", "Delivered"])})
    state.backdate(app_id, BACKDATE_SECONDS)


def apply_changes(stack: LocalStack, world: World, share: float, seed: int) -> int:
    """Change `share` of the units, each once: status changes (sales, receipts, returns), warehouse
    moves, and units picked for what open orders still need (committed); then add a few open
    orders. Returns how many units changed."""
    assert stack.wholecell is not None
    state, app_id = stack.wholecell.state, WHOLECELL["app_id"]
    account = state.account(app_id)
    rng = random.Random(seed + 2)
    units = sorted(account.units.values(), key=lambda u: u.id)
    total = round(len(units) * share)
    counts = {kind: round(total * weight) for kind, weight in CHANGE_MIX}

    free: dict[str | None, list[Unit]] = defaultdict(list)  # uncommitted Available units by SKU
    committed: Counter[tuple[int, str | None]] = Counter()
    for unit in units:
        if unit.order_id is not None:
            committed[(unit.order_id, unit.sku)] += 1
        elif unit.status == "Available":
            free[unit.sku].append(unit)
    needs = [(order.id, item["sku"], item["quantity"] - committed[(order.id, item["sku"])])
             for order in sorted(account.orders.values(), key=lambda o: o.id)
             if account.order_statuses[order.status]["open"] for item in order.order_items]
    rng.shuffle(needs)
    commits: dict[int, list[int]] = defaultdict(list)
    taken: set[int] = set()
    for order_id, sku, missing in needs:
        for unit in free[sku][:max(0, min(missing, counts["commit"] - len(taken)))]:
            commits[order_id].append(unit.id)
            taken.add(unit.id)
        free[sku] = [u for u in free[sku] if u.id not in taken]
    others = rng.sample([u for u in units if u.id not in taken], total - len(taken))
    statuses, moved = others[:counts["status"]], others[counts["status"]:]

    transitions = {"Available": "Sold", "Inbound": "Available", "Moving": "Available", "Sold": "Available",
                   "Needs eBay Draft": "Available"}
    by_target: dict[str, list[int]] = defaultdict(list)
    for unit in statuses:
        by_target[transitions[unit.status]].append(unit.id)
    for status, ids in sorted(by_target.items()):
        state.set_unit_status(app_id, ids, status)
    moves: dict[str, list[int]] = defaultdict(list)
    for unit in moved:
        moves[OVERFLOW if unit.warehouse == MAIN else MAIN].append(unit.id)
    for warehouse, ids in sorted(moves.items()):
        state.move_units(app_id, ids, warehouse=warehouse)
    for order_id, ids in sorted(commits.items()):
        state.commit_units(app_id, ids, order_id)
    temu_skus = sorted(world.sku_of.values())
    for n in range(NEW_ORDERS):
        state.create_order(app_id, {"external_reference": f"NEW-{n:05d}", "channel": rng.choice(CHANNELS),
                                    "status": "Pending", "order_items": [
                                        {"sku": sku, "quantity": 1} for sku in rng.sample(temu_skus, 2)]})
    world.changes = {"status": len(statuses), "move": len(moved), "commit": len(taken), "new_orders": NEW_ORDERS}
    return len(statuses) + len(moved) + len(taken)


# --------------------------------------------------------------------------- the truth, independently


def true_quantities(account: Account) -> dict[str, int]:
    """Calculated quantity per SKU from the sandbox's own units and orders (domain/quantities.py's
    rule, written out again): uncommitted units in the counted statuses and warehouses, minus the
    quantity still uncommitted on every open order, clamped to Temu's range."""
    available: Counter[str] = Counter()
    committed: Counter[tuple[int, str]] = Counter()
    for unit in account.units.values():
        if not unit.sku:
            continue
        if unit.order_id is not None:
            committed[(unit.order_id, unit.sku)] += 1
        elif unit.status in COUNTED_STATUSES and unit.warehouse in COUNTED_WAREHOUSES:
            available[unit.sku] += 1
    outstanding: Counter[str] = Counter()
    for order in account.orders.values():
        if not account.order_statuses[order.status]["open"]:
            continue
        ordered: Counter[str] = Counter()
        for item in order.order_items:
            if item["sku"]:
                ordered[item["sku"]] += item["quantity"]
        for sku, quantity in ordered.items():
            outstanding[sku] += max(0, quantity - committed[(order.id, sku)])
    return {sku: max(0, min(QUANTITY_MAX, available[sku] - outstanding[sku])) for sku in account.catalog}


def verify_temu(checks: Checks, label: str, stack: LocalStack, *, mall_id: int, listings: list[Listing],
                truth: dict[str, int]) -> int:
    """Temu's stock equals the calculated quantity for every connected, active listing; returns how many."""
    assert stack.temu is not None
    stock = stack.temu.state.stock(mall_id)
    pushed = [listing for listing in listings if listing.connection is not None
              and listing.status is ListingStatus.ACTIVE]
    wrong = [listing.temu_sku_id for listing in pushed if listing.seller_sku is None
             or stock.get(listing.temu_sku_id) != truth[listing.seller_sku]]
    checks.check(not wrong, f"{label}: {len(wrong)} of {len(pushed)} listings show another quantity on Temu "
                            f"than calculated (first: {wrong[:3]})")
    return len(pushed)


def changed_goods(world: World, before: dict[str, int], after: dict[str, int]) -> tuple[set[int], int]:
    """Goods with at least one SKU whose calculated quantity changed, and how many SKUs changed."""
    skus = [sku_id for sku_id, code in world.sku_of.items() if before[code] != after[code]]
    return {world.goods_of[sku_id] for sku_id in skus}, len(skus)


# --------------------------------------------------------------------------- report


def bound_line(label: str, wall: float, needed: float) -> str:
    """A run's wall-time bound, stated with its figures and verdict."""
    verdict = "holds" if wall <= BOUND_FACTOR * needed else "MISSED"
    limit = round(BOUND_FACTOR * needed, 1)
    return f"{label} bound: wall {wall} s <= {BOUND_FACTOR} x {needed} s = {limit} s: {verdict}"


def finish(checks: Checks, warnings: Warnings, total_s: float, output: Path) -> int:
    """Print the warnings and the checks' tally; the exit status (1 when a check failed)."""
    for warning in warnings:
        print(f"WARNING {warning}")
    print(f"checks: {checks.passed} passed, {len(checks.failed)} failed; total {total_s} s; figures in "
          f"{output.relative_to(ROOT) if output.is_relative_to(ROOT) else output}")
    return 1 if checks.failed else 0


def print_table(header: Iterable[str], rows: Iterable[tuple[str, ...]]) -> None:
    rows, header = list(rows), list(header)
    width = max(len(r[0]) for r in [tuple(header), *rows])
    cells = [max(len(str(r[i])) for r in [tuple(header), *rows]) for i in range(1, len(header))]
    print(f"{header[0]:{width}}  " + "  ".join(f"{h:>{w}}" for h, w in zip(header[1:], cells, strict=True)))
    for row in rows:
        print(f"{row[0]:{width}}  " + "  ".join(f"{c!s:>{w}}" for c, w in zip(row[1:], cells, strict=True)))


def report_rows(runs: list[RunFigures]) -> list[tuple[str, ...]]:
    def row(name: str, value: Callable[[RunFigures], Any]) -> tuple[str, ...]:
        return (name, *(str(value(r)) for r in runs))

    return [
        row("clock scale (x real rates)", lambda r: f"x{r.scale:g}"),
        row("WholeCell / Temu pacing (req/s)", lambda r: f"{r.wholecell_rate:g} / {r.temu_rate:g}"),
        row("units read (run log)", lambda r: r.run["counts"].get("units_read", 0)),
        row("WholeCell requests", lambda r: r.wholecell_requests),
        row("  of which answered 429", lambda r: r.wholecell_throttled),
        row("  allowed: ceil(changed / 100) + 5", lambda r: r.wholecell_budget if r.wholecell_budget else "-"),
        row("Temu requests", lambda r: r.temu_requests),
        row("  Temu reads (SKU list)", lambda r: r.temu_requests - r.temu_by_type.get("bg.local.goods.stock.edit", 0)),
        row("  stock edits sent / applied", lambda r: f"{r.temu_by_type.get('bg.local.goods.stock.edit', 0)}"
                                                      f" / {r.stock_edits}"),
        row("  answered 4000004", lambda r: r.temu_rate_limited),
        row("goods whose quantity changed", lambda r: r.goods_changed if r.goods_changed is not None else "-"),
        row("SKUs pushed / failed (run log)", lambda r: f"{r.run['counts'].get('pushed', 0)}"
                                                        f" / {r.run['counts'].get('push_failed', 0)}"),
        row("time accepted requests need (s)", lambda r: r.needed_seconds),
        row("  the same at 2 / 20 req/s (s)", lambda r: r.needed_at_real_rates_seconds),
        row("wall time, enqueue to drained (s)", lambda r: r.wall_seconds),
        row("job time in the worker (s)", lambda r: r.job_seconds),
        row("wall / needed", lambda r: f"{r.wall_seconds / r.needed_seconds:.2f}" if r.needed_seconds else "-"),
        row("worker peak RSS (MB)", lambda r: r.worker_peak_rss_mb),
        row("phase: queue to job start (s)", lambda r: r.phases.queue_to_start),
        row("phase: start to 1st WholeCell (s)", lambda r: r.phases.start_to_first_wholecell),
        row("phase: WholeCell reads (s)", lambda r: r.phases.wholecell_reads),
        row("phase: compute and write (s)", lambda r: r.phases.wholecell_to_first_temu),
        row("phase: Temu requests (s)", lambda r: r.phases.temu),
        row("phase: last Temu to job end (s)", lambda r: r.phases.last_temu_to_end),
        row("phase: job end to drained (s)", lambda r: r.phases.end_to_drained),
    ]


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:  # noqa: PLR0915 - one scenario, read top to bottom
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--units", type=int, default=200_000)
    parser.add_argument("--goods", type=int, default=5000)
    parser.add_argument("--skus-per-goods", type=int, default=4)
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--first-run-scale", type=float, default=5.0,
                        help="run 1's clocks: both rates x this, worker and sandboxes (run 2 is always x1)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    world = plan_world(args.goods, args.skus_per_goods, args.seed)
    checks, warnings = Checks(), Warnings()
    started = time.monotonic()
    with bench_stack() as (stack, engine):
        assert stack.temu is not None and stack.wholecell is not None
        settings = load_settings(stack.environments[FUNCTION])
        bind_tables(settings)
        timeout = float(stack.template.functions[FUNCTION].timeout)
        memory_mb = stack.template.functions[FUNCTION].memory_size
        timelines_ = timelines(stack)
        set_limits(stack, None, None)

        seeding = time.monotonic()
        seed_wholecell(stack, world, args.units, args.seed)
        shop = stack.temu.state.create_shop(region="US", goods=world.goods)
        mall_id = int(shop["mallId"])
        connection_id = connect(stack, mall_id, WHOLECELL, "Bench quantities")
        imported = import_listings(stack, connection_id, timeout + 60)
        listing_import_peak = peak_rss_mb(stack, LISTING_IMPORT)
        checks.check(imported["outcome"] == "succeeded",
                     f"listing import: {imported['outcome']} {imported.get('reason')}")
        put_settings(stack, connection_id, {"inventory_sync_enabled": True, "confirm_initial_push": True,
                                            "inventory_statuses": list(COUNTED_STATUSES),
                                            "warehouses": list(COUNTED_WAREHOUSES)})
        listings = list(ListingRepository().iter_all(connection_id))
        connected = sum(1 for listing in listings if listing.connection is not None
                        and listing.status is ListingStatus.ACTIVE)
        checks.check(connected == len(world.sku_of), f"{connected} connected active listings, "
                                                     f"expected {len(world.sku_of)}")
        account = stack.wholecell.state.account(WHOLECELL["app_id"])
        mix = {"status": dict(Counter(u.status for u in account.units.values())),
               "warehouse": dict(Counter(u.warehouse for u in account.units.values())),
               "committed_units": sum(1 for u in account.units.values() if u.order_id is not None),
               "open_orders": sum(1 for o in account.orders.values() if account.order_statuses[o.status]["open"]),
               "closed_orders": sum(1 for o in account.orders.values()
                                    if not account.order_statuses[o.status]["open"])}
        seed_seconds = time.monotonic() - seeding
        print(f"seeded {len(account.units)} units, {len(account.catalog)} WholeCell SKUs, "
              f"{len(account.orders)} orders, {len(listings)} Temu SKUs over {len(world.goods)} goods "
              f"({connected} connected) in {seed_seconds:.0f} s", flush=True)

        # ---- run 1: the first run (a full rebuild, every listing pushed), clocks scaled
        scale = args.first_run_scale
        restart_worker(stack, FUNCTION, pacing(WHOLECELL_RATE * scale, TEMU_RATE * scale))
        set_limits(stack, WHOLECELL_RATE * scale, TEMU_RATE * scale)
        print(f"run 1 (first, full rebuild) at x{scale:g}: WholeCell {WHOLECELL_RATE * scale:g} req/s, "
              f"Temu {TEMU_RATE * scale:g} req/s...", flush=True)
        first = measure_run(stack, connection_id, "run 1", scale=scale, timelines_=timelines_, mall_id=mall_id,
                            timeout=timeout + 60)
        truth_before = true_quantities(account)
        rebuilt = first.run["outcome"] == "succeeded" and first.run["counts"].get("rebuilds") == 1
        checks.check(rebuilt, f"run 1: {first.run['outcome']} {first.run.get('reason')} {first.run['counts']}")
        checked = verify_temu(checks, "run 1", stack, mall_id=mall_id, listings=listings, truth=truth_before)
        checks.check(checked == connected, f"run 1: {checked} listings checked, expected {connected}")
        print(f"run 1: {first.wall_seconds} s end to end, {first.wholecell_requests} WholeCell and "
              f"{first.temu_requests} Temu requests", flush=True)

        # ---- 1 % of the units change; run 2 at the real rates
        set_limits(stack, None, None)
        changed_units = apply_changes(stack, world, CHANGE_SHARE, args.seed)
        truth_after = true_quantities(account)
        goods, skus_changed = changed_goods(world, truth_before, truth_after)
        restart_worker(stack, FUNCTION, pacing(WHOLECELL_RATE, TEMU_RATE))
        set_limits(stack, WHOLECELL_RATE, TEMU_RATE)
        print(f"run 2 (incremental) after {changed_units} units changed {world.changes}: "
              f"{skus_changed} SKUs in {len(goods)} goods change quantity; WholeCell {WHOLECELL_RATE:g} req/s, "
              f"Temu {TEMU_RATE:g} req/s...", flush=True)
        edits_before = len(stack.temu.state.stock_edits)
        second = measure_run(stack, connection_id, "run 2", scale=1.0, timelines_=timelines_, mall_id=mall_id,
                             timeout=timeout + 60)
        second.goods_changed, second.skus_changed, second.changed_units = len(goods), skus_changed, changed_units
        second.wholecell_budget = math.ceil(changed_units / PAGE) + DELTA_SLACK
        first.goods_changed = len(world.goods)  # every listing is pushed the first time
        set_limits(stack, None, None)

        checks.check(second.run["outcome"] == "succeeded" and not second.run["counts"].get("rebuilds"),
                     f"run 2: {second.run['outcome']} {second.run.get('reason')} {second.run['counts']}")
        verify_temu(checks, "run 2", stack, mall_id=mall_id, listings=listings, truth=truth_after)
        checks.check(second.wholecell_requests <= second.wholecell_budget,
                     f"run 2: {second.wholecell_requests} WholeCell requests > {second.wholecell_budget} allowed")
        edited = {e["goodsId"] for e in stack.temu.state.stock_edits[edits_before:] if e["mallId"] == mall_id}
        sent = second.temu_by_type.get("bg.local.goods.stock.edit", 0)
        checks.check(second.stock_edits == len(goods) and edited == goods and not second.goods_edited_twice,
                     f"run 2: {second.stock_edits} stock edits applied ({len(edited)} goods, "
                     f"{second.goods_edited_twice} twice), expected one for each of {len(goods)} changed goods")
        warnings.warn(sent == second.stock_edits, f"run 2: {sent} stock edits sent for {second.stock_edits} applied: "
                                                  f"{second.temu_rate_limited} refused by Temu's {TEMU_RATE:g} req/s "
                                                  "limit (4000004) and sent again")
        checks.check(second.temu_requests == sent, f"run 2: {second.temu_requests - sent} Temu requests besides "
                                                   "stock edits (no Temu read is due)")
        warnings.warn(second.wholecell_throttled == 0, f"run 2: {second.wholecell_throttled} WholeCell requests "
                                                       "answered 429 and sent again")
        limit = round(BOUND_FACTOR * second.needed_seconds, 1)
        checks.check(second.wall_seconds <= limit, f"run 2: wall {second.wall_seconds} s > {BOUND_FACTOR} x "
                                                   f"{second.needed_seconds} s = {limit} s")

    runs = [first, second]
    figures = {
        "engine": engine, "units": args.units, "goods": len(world.goods), "temu_skus": len(world.sku_of),
        "connected_active_listings": connected, "wholecell_skus": len(world.catalog), "mix": mix,
        "counted": {"statuses": list(COUNTED_STATUSES), "warehouses": list(COUNTED_WAREHOUSES)},
        "changes": world.changes, "real_rates": {"wholecell": WHOLECELL_RATE, "temu": TEMU_RATE},
        "bound_factor": BOUND_FACTOR, "quantity_memory_mb": memory_mb,
        "peak_rss_mb_by_function": {FUNCTION: max(r.worker_peak_rss_mb or 0 for r in runs),
                                    LISTING_IMPORT: listing_import_peak},
        "runs": [{**{k: v for k, v in asdict(r).items() if k != "run"}, "counts": r.run.get("counts"),
                  "outcome": r.run.get("outcome")} for r in runs],
        "seed_s": round(seed_seconds, 1), "total_s": round(time.monotonic() - started, 1),
        "checks_passed": checks.passed, "checks_failed": checks.failed, "warnings": warnings,
    }
    args.output.write_text(json.dumps(figures, indent=2) + "\n")

    print()
    print(f"{args.units} units ({mix['committed_units']} committed), {len(world.catalog)} WholeCell SKUs, "
          f"{mix['open_orders']} open / {mix['closed_orders']} closed orders; {connected} connected Temu SKUs over "
          f"{len(world.goods)} goods; counted: {', '.join(COUNTED_STATUSES)} in {', '.join(COUNTED_WAREHOUSES)}")
    print(f"DynamoDB: {engine}. Run 1's clocks x{first.scale:g} (both sides); run 2 at the real rates.")
    print_table(["", "run 1: first (rebuild)", "run 2: incremental"], report_rows(runs))
    print(bound_line("run 2", second.wall_seconds, second.needed_seconds))
    return finish(checks, warnings, figures["total_s"], args.output)


if __name__ == "__main__":
    sys.exit(main())
