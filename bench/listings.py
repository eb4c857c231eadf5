"""Listing import benchmark (issue #5): a 20,000-SKU Temu shop through the whole local stack.

    python -m bench.listings [--goods 5000] [--skus-per-goods 4] [--seed 5]   # or: make bench-listings

Seeds a Temu sandbox shop (5,000 goods x 4 SKUs: mostly active, some sold out (3/3003), some
inactive (3/3002); seller SKUs that equal a WholeCell SKU, differ from one only in case, are
empty, or exist on Temu only) and a WholeCell account whose catalog holds the matching SKUs
plus some of its own. It connects and authorizes the shop as the seller's browser would,
runs the import on demand through the admin API and checks the Listings table against the
rules of #5: every SKU exactly once, status from Temu's status/sub-status, auto-connection
exactly where the seller SKU equals a WholeCell SKU (case-sensitive), run-log counts.

It then changes the shop (deletes, deactivations, sell-outs, restocks, reactivations,
seller-SKU edits), connects one listing by hand through `PUT .../connection`, imports again
and checks the transitions, that the manual connection survived and that the second import
wrote exactly the listings that changed (DynamoDB writes counted at the moto server).

The Temu sandbox enforces Temu's app-wide 20 requests/s (a breach answers 4000004); the
worker paces itself at the template's TemuAppRateLimit, the app-wide budget it books with
priority `listings` (SharedBudgets=enabled, the default; with SharedBudgets=disabled at its own
ListingImportTemuRate), so the measured time includes that pacing. Figures are printed and
written to bench/listings.json; the exit status is 1 when a check fails or the projected job
time exceeds half of ListingImportFunction's timeout.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import random
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from wholecell_temu.config import load_settings
from wholecell_temu.domain.listings import ListingConnection, ListingStatus, SkuLink, VariationLink
from wholecell_temu.store.listings import Listing, _to_listing
from wholecell_temu.store.tables import ListingModel, bind_tables

from local.stack import LocalStack
from local.template import ACCOUNT_ID, REGION

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "listings.json"
IMPORT_FUNCTION = "ListingImportFunction"
TEMU_APP_RATE = 20.0  # Temu's limit per app, across all shops (requests/s)
BUDGET_SHARE = 0.5  # the projected job time must stay under this share of the Lambda timeout
PAGE = 100  # Temu SKUs per page (the job's page size) and WholeCell rows per page (its default)
WHOLECELL = {"app_id": "bench-listings", "app_secret": "bench-listings-secret"}
COLORS = ["BLK", "WHT", "BLU", "RED", "GRN", "GLD", "PNK", "PRP"]
SKU_ID_BASE = 17_592_190_000_000
GOODS_ID_BASE = 601_099_600_000_000

# the seed mix: shares of SKUs by Temu status and by kind of seller SKU
STATUS_MIX = (("active", 0.80), ("sold_out", 0.10), ("inactive", 0.10))
CODE_MIX = (("match", 0.35), ("case", 0.05), ("empty", 0.03), ("temu_only", 0.57))
WHOLECELL_ONLY_SKUS = 200
# the second import's changes, as shares of all SKUs (250, 250, 150, 100, 150 of 20,000)
CHANGES = {"delete": 0.0125, "deactivate": 0.0125, "sell_out": 0.0075, "restock": 0.005, "reactivate": 0.0075}


# --------------------------------------------------------------------------- the seeded world


@dataclass
class PlannedSku:
    sku_id: int
    goods_id: int
    seller_sku: str
    status: str  # active | sold_out | inactive | deleted (sandbox status names)
    kind: str  # match | case | empty | temu_only

    @property
    def temu_status(self) -> tuple[int, int]:
        return {"active": (2, 2001), "inactive": (3, 3002), "sold_out": (3, 3003), "deleted": (6, 6001)}[self.status]


@dataclass
class World:
    goods: list[dict[str, Any]]
    skus: dict[int, PlannedSku]
    wholecell_skus: list[str]
    wholecell_only: list[str]


def _pick(rng: random.Random, mix: tuple[tuple[str, float], ...]) -> str:
    roll, total = rng.random(), 0.0
    for name, share in mix:
        total += share
        if roll < total:
            return name
    return mix[-1][0]


def plan_world(goods_count: int, skus_per_goods: int, seed: int) -> World:
    """The shop and the WholeCell catalog, deterministic per seed."""
    rng = random.Random(seed)
    goods: list[dict[str, Any]] = []
    skus: dict[int, PlannedSku] = {}
    wholecell: list[str] = []
    for g in range(goods_count):
        goods_id = GOODS_ID_BASE + g
        specs = []
        for s in range(skus_per_goods):
            color = COLORS[s % len(COLORS)]
            code = f"WC-{g:05d}-{color}-{64 << (s // len(COLORS))}"
            status, kind = _pick(rng, STATUS_MIX), _pick(rng, CODE_MIX)
            seller_sku = {"match": code, "case": code.lower(), "empty": "",
                          "temu_only": f"TM-{g:05d}-{color}-{s}"}[kind]
            if kind in ("match", "case"):
                wholecell.append(code)
            sku_id = SKU_ID_BASE + g * 100 + s
            stock = 0 if status == "sold_out" else rng.randint(1, 20)
            specs.append({"skuId": sku_id, "skuSn": seller_sku, "stock": stock, "status": status,
                          "specName": f"{color}, {64 << (s // len(COLORS))}GB",
                          "price": f"{rng.randint(100, 900)}.00"})
            skus[sku_id] = PlannedSku(sku_id, goods_id, seller_sku, status, kind)
        goods.append({"goodsId": goods_id, "goodsName": f"Renewed Phone {g:05d}", "outGoodsSn": f"G-{g:05d}",
                      "skus": specs})
    wholecell_only = [f"WC-ONLY-{n:05d}" for n in range(WHOLECELL_ONLY_SKUS)]
    return World(goods, skus, sorted(set(wholecell)) + wholecell_only, wholecell_only)


def expected_listing(planned: PlannedSku, catalog: set[str]) -> tuple[str, ListingConnection | None]:
    """(status, connection) the rules of #5 give a SKU that Temu still returns."""
    status, sub = planned.temu_status
    active = status == 2 or (status == 3 and sub == 3003)
    code = planned.seller_sku
    connection = ListingConnection(mode="auto", skus=[SkuLink(sku=code)]) if code and code in catalog else None
    return ("active" if active else "ended"), connection


# --------------------------------------------------------------------------- measuring


@dataclass
class WriteCounter:
    """Counts DynamoDB requests per table at the moto server (a WSGI middleware)."""

    app: Callable[..., Any]
    table: str
    counts: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        target = str(environ.get("HTTP_X_AMZ_TARGET", ""))
        if target.startswith("DynamoDB_"):
            length = int(environ.get("CONTENT_LENGTH") or 0)
            body = environ["wsgi.input"].read(length) if length else b""
            environ["wsgi.input"] = io.BytesIO(body)
            self._count(target.split(".", 1)[-1], json.loads(body or b"{}"))
        return self.app(environ, start_response)

    def _count(self, operation: str, body: dict[str, Any]) -> None:
        with self.lock:
            if operation in ("BatchWriteItem", "TransactWriteItems"):
                items = (body.get("RequestItems") or {}).get(self.table, [])
                if items:
                    self.counts[f"{operation} requests"] += 1
                    self.counts[f"{operation} items"] += len(items)
            elif body.get("TableName") == self.table:
                self.counts[operation] += 1

    def take(self) -> dict[str, int]:
        with self.lock:
            counts, self.counts = dict(self.counts), Counter()
            return counts


def count_listing_requests(stack: LocalStack) -> WriteCounter:
    """Wrap the embedded moto server's WSGI app (werkzeug reads `server.app` per request)."""
    server = getattr(stack._moto, "_server", None)
    if server is None or getattr(stack, "dynamodb_endpoint_url", stack.endpoint_url) != stack.endpoint_url:
        raise RuntimeError("the bench counts and reads DynamoDB at the embedded moto server: "
                           "unset AWS_ENDPOINT_URL and AWS_ENDPOINT_URL_DYNAMODB")
    counter = WriteCounter(server.app, stack.template.tables["ListingsTable"].name)
    server.app = counter
    return counter


def listing_writes(counts: dict[str, int]) -> int:
    return sum(counts.get(k, 0) for k in ("PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem items",
                                          "TransactWriteItems items"))


def _seconds(run: dict[str, Any]) -> float:
    started, ended = (datetime.fromisoformat(str(run[k])) for k in ("started_at", "ended_at"))
    return (ended - started).total_seconds()


# --------------------------------------------------------------------------- driving the stack


class Checks:
    def __init__(self) -> None:
        self.failed: list[str] = []
        self.passed = 0

    def check(self, ok: bool, what: str) -> None:
        if ok:
            self.passed += 1
        else:
            self.failed.append(what)
            print(f"  FAIL {what}", file=sys.stderr)


def connect(stack: LocalStack, mall_id: int) -> str:
    return stack.connect_shop(mall_id, WHOLECELL, "Bench")


@dataclass
class ImportFigures:
    run: dict[str, Any]
    wall_seconds: float
    job_seconds: float
    temu_requests: int
    temu_rate_limited: int
    wholecell_requests: int
    listing_requests: dict[str, int]
    worker_peak_rss_mb: float | None


def run_import(stack: LocalStack, connection_id: str, counter: WriteCounter, timeout: float) -> ImportFigures:
    assert stack.temu is not None and stack.wholecell is not None
    temu_before = sum(stack.temu.state.request_counts.values())
    throttled_before = stack.temu.state.error_counts.get(4000004, 0)
    wholecell_before = _wholecell_requests(stack)
    counter.take()
    started = time.monotonic()
    response = stack.http("POST", f"/admin/connections/{connection_id}/listings/import")
    response.raise_for_status()
    stack.drain(timeout=timeout)
    wall = time.monotonic() - started
    runs = stack.http("GET", f"/admin/connections/{connection_id}/runs?job=listing_import").json()["items"]
    run = next(r for r in runs if r["run_id"] == response.json()["run_id"])
    return ImportFigures(
        run=run, wall_seconds=round(wall, 1), job_seconds=round(_seconds(run), 1) if run.get("ended_at") else -1,
        temu_requests=sum(stack.temu.state.request_counts.values()) - temu_before,
        temu_rate_limited=stack.temu.state.error_counts.get(4000004, 0) - throttled_before,
        wholecell_requests=_wholecell_requests(stack) - wholecell_before,
        listing_requests=counter.take(), worker_peak_rss_mb=peak_rss_mb(stack))


def peak_rss_mb(stack: LocalStack) -> float | None:
    """The import worker's peak resident memory so far (Linux /proc), to hold against MemorySize."""
    pid = stack.worker(IMPORT_FUNCTION).pid
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    kilobytes = next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), None)
    return None if kilobytes is None else round(kilobytes / 1024, 1)


def _wholecell_requests(stack: LocalStack) -> int:
    assert stack.wholecell is not None
    snapshot = stack.wholecell.state.snapshot(WHOLECELL["app_id"])
    return sum(snapshot["accounts"][WHOLECELL["app_id"]]["request_counts"].values())


def stored_listings(stack: LocalStack, connection_id: str) -> dict[int, Listing]:
    """The connection's Listings rows, read from the embedded moto's memory.

    The bench reads the whole partition three times; moto's Query costs O(table size) per
    1 MB page (about 15 s for 20,000 listings), so it reads moto's items directly and converts
    them with the repository's own mapping (the import itself still queries through the API).
    """
    from moto.dynamodb.models import dynamodb_backends  # noqa: PLC0415 - the embedded moto only

    table = dynamodb_backends[ACCOUNT_ID][REGION].get_table(stack.template.tables["ListingsTable"].name)
    listings = (_to_listing(ListingModel.from_raw_data(item.to_json()["Attributes"]))
                for item in table.all_items() if item.hash_key.value == connection_id)
    return {listing.temu_sku_id: listing for listing in listings}


def verify_listings(checks: Checks, label: str, stored: dict[int, Listing], world: World,
                    returned: set[int], *, manual: dict[int, ListingConnection]) -> None:
    """Every planned SKU once; status and connection by the rules; manual connections untouched."""
    catalog = set(world.wholecell_skus)
    checks.check(len(stored) == len(world.skus), f"{label}: {len(stored)} Listings rows, expected {len(world.skus)}")
    checks.check(set(stored) == set(world.skus), f"{label}: stored SKU ids differ from the shop's")
    wrong: Counter[str] = Counter()
    for sku_id, planned in world.skus.items():
        listing = stored.get(sku_id)
        if listing is None:
            continue
        status, connection = expected_listing(planned, catalog)
        if sku_id in returned:
            if listing.seller_sku != (planned.seller_sku or None) or listing.temu_goods_id != planned.goods_id:
                wrong["seller SKU or goods id"] += 1
            if (listing.temu_status, listing.temu_sub_status) != planned.temu_status:
                wrong["Temu status"] += 1
        else:  # deleted on Temu: ended and kept, its connection untouched
            status = "ended"
        if listing.status.value != status:
            wrong[f"status {listing.status.value} instead of {status}"] += 1
        if listing.connection != manual.get(sku_id, connection):
            wrong["connection"] += 1
    for problem, n in sorted(wrong.items()):
        checks.check(False, f"{label}: {n} listings with a wrong {problem}")
    checks.check(not wrong, f"{label}: statuses and connections follow the rules")


def expected_counts(world: World, returned: set[int], before: dict[int, Listing] | None,
                    manual: dict[int, ListingConnection]) -> dict[str, int]:
    """The run-log counts the job should report for this import."""
    catalog = set(world.wholecell_skus)
    counts: Counter[str] = Counter(imported=len(returned), connected=0, unconnected=0, auto_connected=0, ended=0)
    for sku_id in returned:
        status, connection = expected_listing(world.skus[sku_id], catalog)
        connection = manual.get(sku_id, connection)
        counts["connected" if connection else "unconnected"] += 1
        old = before.get(sku_id) if before else None
        if connection is not None and connection.mode == "auto" and (old is None or old.connection != connection):
            counts["auto_connected"] += 1
        if old is not None and old.status is ListingStatus.ACTIVE and status == "ended":
            counts["ended"] += 1
    for sku_id, old in (before or {}).items():
        if sku_id not in returned and old.status is ListingStatus.ACTIVE:
            counts["ended"] += 1
    return dict(counts)


def verify_counts(checks: Checks, label: str, run: dict[str, Any], expected: dict[str, int]) -> None:
    checks.check(run["outcome"] == "succeeded", f"{label}: run {run['outcome']} ({run.get('reason')})")
    counts = run.get("counts") or {}
    for name, value in expected.items():
        checks.check(counts.get(name, 0) == value, f"{label}: run-log {name} = {counts.get(name, 0)}, "
                                                   f"expected {value}")


# --------------------------------------------------------------------------- the second import's changes


@dataclass
class Changes:
    by_kind: dict[str, list[int]]
    to_match: int  # a Temu-only seller SKU renamed to a WholeCell-only SKU: connects automatically
    to_unmatch: int  # a matching seller SKU renamed to a Temu-only one: the auto-connection goes
    manual: int  # connected by hand to a product variation, then renamed on Temu: stays manual

    def changed(self) -> int:
        return sum(len(ids) for ids in self.by_kind.values()) + 3


def plan_changes(world: World, seed: int) -> Changes:
    rng = random.Random(seed + 1)
    pools = {status: sorted(s.sku_id for s in world.skus.values() if s.status == status)
             for status in ("active", "sold_out", "inactive")}
    for pool in pools.values():
        rng.shuffle(pool)
    taken: set[int] = set()

    def take(status: str, share: float | int, kind: str | None = None) -> list[int]:
        n = share if isinstance(share, int) else max(1, round(share * len(world.skus)))
        picked = [i for i in pools[status] if i not in taken and (kind is None or world.skus[i].kind == kind)][:n]
        taken.update(picked)
        return picked

    by_kind = {
        "delete": take("active", CHANGES["delete"]),
        "deactivate": take("active", CHANGES["deactivate"]),
        "sell_out": take("active", CHANGES["sell_out"]),
        "restock": take("sold_out", CHANGES["restock"]),
        "reactivate": take("inactive", CHANGES["reactivate"]),
    }
    (to_match,), (to_unmatch, manual) = take("active", 1, "temu_only"), take("active", 2, "match")
    return Changes(by_kind, to_match, to_unmatch, manual)


def apply_changes(stack: LocalStack, mall_id: int, world: World, changes: Changes) -> None:
    """Change the shop as Seller Center would, and the plan with it."""
    assert stack.temu is not None
    state = stack.temu.state
    for sku_id in changes.by_kind["delete"]:
        state.set_sku(mall_id, sku_id, status="deleted")
        world.skus[sku_id].status = "deleted"
    for sku_id in changes.by_kind["deactivate"]:
        state.set_sku(mall_id, sku_id, status="inactive")
        world.skus[sku_id].status = "inactive"
    for sku_id in changes.by_kind["sell_out"]:
        state.set_sku(mall_id, sku_id, stock=0)  # Temu moves it to sold out (3/3003)
        world.skus[sku_id].status = "sold_out"
    for sku_id in changes.by_kind["restock"]:
        state.set_sku(mall_id, sku_id, stock=5)  # back on sale (2/2001)
        world.skus[sku_id].status = "active"
    for sku_id in changes.by_kind["reactivate"]:
        state.set_sku(mall_id, sku_id, status="active", stock=3)
        world.skus[sku_id].status = "active"
    renames = {changes.to_match: world.wholecell_only[0], changes.to_unmatch: "TM-RENAMED-1",
               changes.manual: "TM-RENAMED-2"}
    for sku_id, code in renames.items():
        state.set_sku(mall_id, sku_id, sku_sn=code)
        world.skus[sku_id].seller_sku = code
        world.skus[sku_id].kind = "match" if code in world.wholecell_only else "temu_only"


def connect_by_hand(stack: LocalStack, checks: Checks, connection_id: str, sku_id: int,
                    world: World) -> tuple[ListingConnection, float]:
    """PUT .../connection to a product variation (a WholeCell unit's), as the seller would."""
    assert stack.wholecell is not None
    sku = world.skus[sku_id].seller_sku
    stack.wholecell.state.add_units(WHOLECELL["app_id"], [{"sku": sku}])
    units = stack.wholecell.state.snapshot(WHOLECELL["app_id"])["accounts"][WHOLECELL["app_id"]]["units"]
    variation = next(int(u["product_variation"]["id"]) for u in units if u["product_variation"]["sku"] == sku)
    started = time.monotonic()
    response = stack.http("PUT", f"/admin/connections/{connection_id}/listings/{sku_id}/connection",
                          json={"product_variations": [{"id": variation, "factor": 2}]})
    seconds = time.monotonic() - started
    connection = ListingConnection(mode="manual", product_variations=[VariationLink(id=variation, factor=2)])
    checks.check(response.status_code == 200, f"manual connection: HTTP {response.status_code} {response.text}")
    if response.status_code == 200:
        checks.check(ListingConnection.model_validate(response.json()["connection"]) == connection,
                     f"manual connection answered {response.json().get('connection')}")
    return connection, seconds


# --------------------------------------------------------------------------- figures


def projection(figures: ImportFigures, temu_rate: float, wholecell_rate: float, latency: float) -> dict[str, float]:
    """Seconds the job needs in Lambda: the pacing of its requests plus what else it measured locally.

    The clients call one request at a time, so each request takes the longer of its pacing
    slot (1/rate) and the API's latency (`latency`, an assumption; the sandboxes answer in ms).
    """
    temu_pacing = figures.temu_requests / temu_rate
    wholecell_pacing = figures.wholecell_requests / wholecell_rate
    other = max(0.0, figures.job_seconds - temu_pacing - wholecell_pacing)  # DynamoDB, parsing, sandboxes
    projected = (other + figures.temu_requests * max(1 / temu_rate, latency)
                 + figures.wholecell_requests * max(1 / wholecell_rate, latency))
    return {
        "temu_s_at_worker_rate": round(temu_pacing, 1),
        "temu_s_at_app_rate": round(figures.temu_requests / TEMU_APP_RATE, 1),
        "wholecell_s_at_rate": round(wholecell_pacing, 1),
        "other_s": round(other, 1),
        "projected_job_s": round(projected, 1),
    }


def print_table(rows: Iterable[tuple[str, Any, Any]]) -> None:
    rows = list(rows)
    width = max(len(r[0]) for r in rows)
    print(f"{'':{width}}  {'import 1':>12}  {'import 2':>12}")
    for name, first, second in rows:
        print(f"{name:{width}}  {first!s:>12}  {second!s:>12}")


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:  # noqa: PLR0915 - one scenario, read top to bottom
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--goods", type=int, default=5000)
    parser.add_argument("--skus-per-goods", type=int, default=4)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--temu-rate-limit", type=float, default=None,
                        help="the import's Temu rate: the TemuAppRateLimit template parameter (shared budgets), "
                             "and ListingImportTemuRate (SharedBudgets=disabled) (default: the template's)")
    parser.add_argument("--assumed-latency", type=float, default=0.5,
                        help="seconds per Temu/WholeCell request assumed in the Lambda projection")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    world = plan_world(args.goods, args.skus_per_goods, args.seed)
    mix = {"status": dict(Counter(s.status for s in world.skus.values())),
           "seller_sku": dict(Counter(s.kind for s in world.skus.values()))}
    checks = Checks()
    parameters = {"LogLevel": "WARNING"}  # the workers' per-run INFO lines would bury the figures
    if args.temu_rate_limit:
        parameters["TemuAppRateLimit"] = parameters["ListingImportTemuRate"] = str(args.temu_rate_limit)
    started = time.monotonic()
    quiet = {"POWERTOOLS_METRICS_DISABLED": "true"}  # no EMF lines between the figures
    with LocalStack(ROOT, api_port=0, parameters=parameters, env_overrides=quiet) as stack:
        assert stack.temu is not None and stack.wholecell is not None
        settings = load_settings(stack.environments[IMPORT_FUNCTION])
        bind_tables(settings)
        # the import's Temu pace: the app's shared budget (booked with priority `listings`) or its own share
        shared = bool(settings.budgets_table)
        temu_rate = settings.temu_app_rate_limit if shared else settings.temu_rate_limit
        wholecell_rate = settings.wholecell_rate_limit
        lambda_timeout = float(stack.template.functions[IMPORT_FUNCTION].timeout)
        memory_mb = stack.template.functions[IMPORT_FUNCTION].memory_size
        admin_timeout = float(stack.template.functions["AdminFunction"].timeout)
        counter = count_listing_requests(stack)
        stack.temu.state.configure_rate_limit(TEMU_APP_RATE)  # Temu's app-wide limit, enforced

        seeding = time.monotonic()
        stack.wholecell.state.create_account(WHOLECELL["app_id"], WHOLECELL["app_secret"], skus=world.wholecell_skus)
        shop = stack.temu.state.create_shop(region="US", goods=world.goods)
        mall_id = int(shop["mallId"])
        connection_id = connect(stack, mall_id)
        seed_seconds = time.monotonic() - seeding
        print(f"seeded {shop['skuCount']} SKUs / {shop['goodsCount']} goods, {len(world.wholecell_skus)} WholeCell "
              f"SKUs in {seed_seconds:.1f} s; importing (Temu {temu_rate:g} req/s, WholeCell "
              f"{wholecell_rate:g} req/s {'shared budgets' if shared else 'per worker'})...", flush=True)

        # ---- import 1: everything new
        first = run_import(stack, connection_id, counter, timeout=lambda_timeout + 60)
        print(f"import 1: {first.job_seconds} s in the worker, {first.wall_seconds} s end to end", flush=True)
        returned = {i for i, s in world.skus.items() if s.status != "deleted"}
        verify_counts(checks, "import 1", first.run, {
            **expected_counts(world, returned, None, {}), "new": len(world.skus), "updated": 0})
        before = stored_listings(stack, connection_id)
        verify_listings(checks, "import 1", before, world, returned, manual={})
        active = sum(1 for s in world.skus.values() if s.status == "active")
        pages = math.ceil(active / PAGE) + math.ceil((len(world.skus) - active) / PAGE)
        checks.check(first.temu_requests == pages, f"import 1: {first.temu_requests} Temu requests, "
                                                   f"expected {pages} (one per page)")
        checks.check(first.wholecell_requests == math.ceil(len(world.wholecell_skus) / PAGE),
                     f"import 1: {first.wholecell_requests} WholeCell requests")
        checks.check(first.temu_rate_limited == 0, f"import 1: {first.temu_rate_limited} answers 4000004")
        checks.check(listing_writes(first.listing_requests) == len(world.skus),
                     f"import 1: {listing_writes(first.listing_requests)} Listings items written")

        # ---- changes on Temu, one connection by hand
        changes = plan_changes(world, args.seed)
        manual_connection, manual_seconds = connect_by_hand(stack, checks, connection_id, changes.manual, world)
        manual = {changes.manual: manual_connection}
        apply_changes(stack, mall_id, world, changes)
        before = stored_listings(stack, connection_id)  # with the manual connection

        # ---- import 2: transitions, only what changed is written
        second = run_import(stack, connection_id, counter, timeout=lambda_timeout + 60)
        print(f"import 2: {second.job_seconds} s in the worker, {second.wall_seconds} s end to end", flush=True)
        returned = {i for i, s in world.skus.items() if s.status != "deleted"}
        verify_counts(checks, "import 2", second.run, {
            **expected_counts(world, returned, before, manual), "new": 0, "updated": changes.changed()})
        after = stored_listings(stack, connection_id)
        verify_listings(checks, "import 2", after, world, returned, manual=manual)
        for kind, status in (("delete", "ended"), ("deactivate", "ended"), ("sell_out", "active"),
                             ("restock", "active"), ("reactivate", "active")):
            wrong = [i for i in changes.by_kind[kind] if after[i].status.value != status]
            checks.check(not wrong, f"import 2: {len(wrong)} {kind} SKUs not {status}")
        checks.check(after[changes.manual].connection == manual_connection, "import 2: the manual connection changed")
        checks.check(after[changes.to_match].connection is not None
                     and after[changes.to_match].connection.mode == "auto",  # type: ignore[union-attr]
                     "import 2: a renamed SKU that now matches was not auto-connected")
        checks.check(after[changes.to_unmatch].connection is None,
                     "import 2: a renamed SKU that no longer matches kept its auto-connection")
        writes = listing_writes(second.listing_requests)
        checks.check(writes == changes.changed(), f"import 2: {writes} Listings writes, expected "
                                                  f"{changes.changed()} (only the changed SKUs)")
        checks.check(second.temu_rate_limited == 0, f"import 2: {second.temu_rate_limited} answers 4000004")

    projections = [projection(f, temu_rate, wholecell_rate, args.assumed_latency) for f in (first, second)]
    budget = lambda_timeout * BUDGET_SHARE
    worst = max(p["projected_job_s"] for p in projections)
    checks.check(worst <= budget, f"projected job time {worst} s exceeds {BUDGET_SHARE:.0%} of {lambda_timeout:g} s")
    # connecting a listing to WholeCell SKUs by hand checks them against the catalog the import cached; only
    # before a connection's first import does the admin call read every stock-level page itself
    admin_sku_put_s = round(first.wholecell_requests / wholecell_rate, 1)

    figures = {
        "skus": len(world.skus), "goods": len(world.goods), "wholecell_skus": len(world.wholecell_skus),
        "mix": mix, "changes": {**{k: len(v) for k, v in changes.by_kind.items()}, "renamed": 3, "manual": 1},
        "import_memory_mb": memory_mb,
        "shared_budgets": shared, "temu_rate_limit": temu_rate, "temu_app_rate_limit": TEMU_APP_RATE,
        "wholecell_rate_limit": wholecell_rate, "assumed_latency_s": args.assumed_latency,
        "lambda_timeout_s": lambda_timeout, "budget_s": budget,
        "imports": [
            {**{k: v for k, v in asdict(f).items() if k != "run"}, "counts": f.run.get("counts"),
             "listing_writes": listing_writes(f.listing_requests), **p,
             "margin_to_timeout_s": round(lambda_timeout - p["projected_job_s"], 1)}
            for f, p in zip((first, second), projections, strict=True)],
        "manual_connection_put_s": round(manual_seconds, 2),
        "admin_connect_by_sku_wholecell_s": admin_sku_put_s, "admin_timeout_s": admin_timeout,
        "seed_s": round(seed_seconds, 1), "total_s": round(time.monotonic() - started, 1),
        "checks_passed": checks.passed, "checks_failed": checks.failed,
    }
    args.output.write_text(json.dumps(figures, indent=2) + "\n")

    print()
    print(f"{len(world.skus)} Temu SKUs across {len(world.goods)} goods; {len(world.wholecell_skus)} WholeCell SKUs; "
          f"status mix {mix['status']}; seller SKUs {mix['seller_sku']}")
    i1, i2 = figures["imports"]
    print_table([(name, i1[key], i2[key]) for name, key in [
        ("Temu requests", "temu_requests"), ("WholeCell requests", "wholecell_requests"),
        ("Listings items written", "listing_writes"), ("job time in worker (s)", "job_seconds"),
        ("wall time end to end (s)", "wall_seconds"),
        (f"worker peak RSS (MB of {memory_mb})", "worker_peak_rss_mb"),
        (f"Temu pacing at {temu_rate:g} req/s (s)", "temu_s_at_worker_rate"),
        (f"Temu pacing at {TEMU_APP_RATE:g} req/s (s)", "temu_s_at_app_rate"),
        (f"WholeCell pacing at {wholecell_rate:g} req/s (s)", "wholecell_s_at_rate"),
        ("other (DynamoDB, CPU) (s)", "other_s"),
        (f"projected in Lambda, {args.assumed_latency:g} s/request (s)", "projected_job_s"),
        (f"margin to the {lambda_timeout:g} s timeout (s)", "margin_to_timeout_s")]])
    print(f"manual connection (PUT, product variation): {manual_seconds:.2f} s; connecting by WholeCell SKU checks the "
          f"catalog the import cached; before a first import it would read {first.wholecell_requests} stock-level "
          f"pages = {admin_sku_put_s} s at {wholecell_rate:g} req/s (AdminFunction timeout {admin_timeout:g} s)")
    if admin_sku_put_s > admin_timeout / 2:  # outside #5's import checks, so reported, not failed
        verdict = "exceed" if admin_sku_put_s >= admin_timeout else "take over half of"
        print(f"note: before a connection's first listing import, connecting by WholeCell SKU would {verdict} the "
              f"AdminFunction timeout at this catalog size ({admin_sku_put_s} s of {admin_timeout:g} s): run the "
              "import first", file=sys.stderr)
    print(f"checks: {checks.passed} passed, {len(checks.failed)} failed; total {figures['total_s']} s; "
          f"figures in {args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output}")
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
