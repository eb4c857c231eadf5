"""Order import benchmark (issue #7): 1,000 new Temu orders into WholeCell in one run, then a run right after.

    python -m bench.orders [--orders 1000] [--awaiting-share 0.15] [--goods 250] [--seed 7] [--scale 1]
                                                                      # or: make bench-orders

The scenario, on the sandboxes through the whole local stack (worker processes, SQS on moto,
DynamoDB on bench.engine's dynalite, as `make bench-quantity`): a Temu shop of 250 goods x 4
SKUs whose seller SKUs equal WholeCell SKUs (the listing import connects them all), order
import on with `order_status_map` {"1": "Pending", "2": "Awaiting Fulfillment"}, and one
earlier empty run so the connection has its watermark, as in steady state. Then 1,000 orders
arrive on Temu (1-2 lines each; 85 % pending, 15 % already awaiting shipment, whose address
is read and sent with the create) and order import runs once on demand (`POST
.../jobs/order_import/run`, until the queues drain), then once more right after.

WholeCell is paced at its 2 requests/s (WHOLECELL_RATE_LIMIT, the account's budget the workers
share, and the sandbox's enforced limit, 429 beyond it). Temu is not the bottleneck: the workers
may use Temu's whole app limit, 20 requests/s (TEMU_APP_RATE_LIMIT=20, the shared app budget, with
TEMU_RATE_LIMIT set alike for SharedBudgets=disabled; one connection), which the sandbox enforces
(4000004 beyond it); an order needs 1 Temu call (its amounts) or 3 (plus the address).
`--scale K` multiplies both rates, worker and sandboxes, to shorten the run; the table says so.

Then fulfilment, at the same rates: Temu releases `--release` of the pending orders (awaiting
shipment), the address backfill runs once on demand and fills each of them (the order detail,
the address, decrypted when masked, one WholeCell PATCH); then the warehouse ships `--ship`
of the orders that arrived awaiting shipment: WholeCell posts each tracking number to the
webhook and the confirmation worker confirms it on Temu (carrier USPS); the last `--lost` of
them are shipped while the webhook endpoint is down, and the shipment reconciler, run once,
queues them. Each worker process's peak memory over the whole scenario is what `make bench`
shows per function (`peak_rss_mb_by_function`).

Checks (exit status 1 when one fails): every Temu order exists exactly once in WholeCell
(external_reference = parentOrderSn, channel Temu, mapped status, the right SKUs, quantities
and prices, the address for orders awaiting shipment), so one create each; run 1 reads
nothing from WholeCell; its wall time (enqueue to drained) is within 1.3x of the time the
WholeCell requests it got accepted need at the rate limit; run 2 writes nothing to WholeCell.
Creates refused with 429 and sent again are warned about, not failed on (their time counts).
Fulfilment: every released order has its address in WholeCell; every webhook was answered
202; the reconciler queued every shipment whose webhook was lost; every shipped order is
shipped on Temu with exactly one confirmation each.
Figures go to bench/orders.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from wholecell_temu.config import load_settings
from wholecell_temu.store.tables import bind_tables

from bench.listings import Checks
from bench.quantity import (
    BOUND_FACTOR,
    LISTING_IMPORT,
    TEMU_RATE,
    WHOLECELL_RATE,
    Counters,
    Timeline,
    Warnings,
    bench_stack,
    bound_line,
    finish,
    import_listings,
    pacing,
    parse_time,
    peak_rss_mb,
    print_table,
    put_settings,
    set_limits,
    timelines,
)
from local.stack import LocalStack

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "orders.json"
FUNCTION = "OrderImportFunction"
BACKFILL, PUSH, RECONCILE = "AddressBackfillFunction", "ShipmentPushFunction", "ShipmentReconcileFunction"
CONFIRM = "bg.logistics.shipment.v2.confirm"
SHIPPED = 4
WHOLECELL = {"app_id": "bench-orders", "app_secret": "bench-orders-secret"}
STATUS_MAP = {"1": "Pending", "2": "Awaiting Fulfillment"}
PENDING, AWAITING_SHIPMENT = 1, 2
CREATE = "POST /api/v1/sales_orders"
SKU_ID_BASE = 17_592_390_000_000
GOODS_ID_BASE = 601_099_800_000_000


@dataclass
class Phases:
    """Where a run's wall time went, from the run log and the WholeCell request timeline (s)."""

    queue_to_start: float
    start_to_first_wholecell: float  # Temu order pages, claims, the first orders' Temu calls
    wholecell_requests: float  # first to last WholeCell request (paced)
    last_wholecell_to_end: float  # the last orders' records, the watermark, the run log
    end_to_drained: float

    @classmethod
    def of(cls, run: dict[str, Any], enqueued: float, drained: float, span: tuple[float, float] | None) -> Phases:
        start, end = parse_time(run["started_at"]), parse_time(run["ended_at"])
        first, last = span if span is not None else (end, end)
        return cls(*(round(v, 1) for v in (start - enqueued, first - start, last - first, end - last, drained - end)))


@dataclass
class RunFigures:
    label: str
    run: dict[str, Any]
    wall_seconds: float
    job_seconds: float
    wholecell_by_endpoint: dict[str, int]
    wholecell_throttled: int
    temu_by_type: dict[str, int]
    temu_rate_limited: int
    phases: Phases
    wholecell_rate: float
    worker_peak_rss_mb: float | None

    @property
    def wholecell_requests(self) -> int:
        return sum(self.wholecell_by_endpoint.values())

    @property
    def creates_sent(self) -> int:
        return self.wholecell_by_endpoint.get(CREATE, 0)

    @property
    def reads(self) -> int:
        return sum(n for key, n in self.wholecell_by_endpoint.items() if key.startswith("GET "))

    @property
    def writes(self) -> int:
        return sum(n for key, n in self.wholecell_by_endpoint.items() if not key.startswith("GET "))

    @property
    def needed_seconds(self) -> float:
        """What the requests WholeCell accepted need at its rate (refused ones are overhead)."""
        return round((self.wholecell_requests - self.wholecell_throttled) / self.wholecell_rate, 1)


def run_import(stack: LocalStack, connection_id: str, label: str, *, wholecell: Timeline, rate: float,
               timeout: float) -> RunFigures:
    """One on-demand run, timed from the enqueue (the admin call returns) until the queues drain."""
    before = Counters.read(stack, WHOLECELL["app_id"])
    fired = time.time()
    response = stack.http("POST", f"/admin/connections/{connection_id}/jobs/order_import/run")
    response.raise_for_status()
    enqueued, started = time.time(), time.monotonic()
    stack.drain(timeout=timeout)
    wall, drained = time.monotonic() - started, time.time()
    delta = Counters.read(stack, WHOLECELL["app_id"]).since(before)
    runs = stack.http("GET", f"/admin/connections/{connection_id}/runs?job=order_import").json()["items"]
    run = next(r for r in runs if r["run_id"] == response.json()["run_id"])
    return RunFigures(
        label=label, run=run, wall_seconds=round(wall, 1),
        job_seconds=round(parse_time(run["ended_at"]) - parse_time(run["started_at"]), 1),
        wholecell_by_endpoint=dict(delta.wholecell), wholecell_throttled=delta.wholecell_throttled,
        temu_by_type=dict(delta.temu), temu_rate_limited=delta.temu_errors.get(4000004, 0),
        phases=Phases.of(run, enqueued, drained, wholecell.span(fired, drained)), wholecell_rate=rate,
        worker_peak_rss_mb=peak_rss_mb(stack, FUNCTION))


def plan_shop(goods_count: int, skus_per_goods: int) -> tuple[list[dict[str, Any]], list[str]]:
    goods, codes = [], []
    for g in range(goods_count):
        skus = []
        for s in range(skus_per_goods):
            code = f"OI-{g:04d}-{s:02d}"
            skus.append({"skuId": SKU_ID_BASE + g * 100 + s, "skuSn": code, "stock": 50, "status": "active",
                         "specName": f"Variant {s}", "price": f"{100 + (g * 7 + s * 13) % 800}.00"})
            codes.append(code)
        goods.append({"goodsId": GOODS_ID_BASE + g, "goodsName": f"Renewed Phone {g:04d}", "skus": skus})
    return goods, codes


def verify_orders(checks: Checks, label: str, stack: LocalStack, mall_id: int, expected: list[str]) -> None:
    """Every Temu order once in WholeCell, with channel, mapped status, lines, prices and address."""
    assert stack.temu is not None and stack.wholecell is not None
    shop = stack.temu.state.shops[mall_id]
    by_reference: dict[str | None, list[Any]] = {}
    for order in stack.wholecell.state.account(WHOLECELL["app_id"]).orders.values():
        by_reference.setdefault(order.external_reference, []).append(order)
    wrong: Counter[str] = Counter()
    for sn in expected:
        found = by_reference.get(sn, [])
        if len(found) != 1:
            wrong[f"{len(found)} WholeCell orders instead of one"] += 1
            continue
        order, temu = found[0], stack.temu.state.orders[sn]
        if order.channel != "Temu" or order.status != STATUS_MAP[str(temu.status)]:
            wrong["channel or status"] += 1
        lines = sorted((shop.skus[i.sku_id].sku_sn, i.quantity, round(float(shop.skus[i.sku_id].price) * 100))
                       for i in temu.items)
        items = sorted((i["sku"], i["quantity"], i["unit_price_cents"]) for i in order.order_items)
        if items != lines:
            wrong["items (SKU, quantity, price)"] += 1
        if (order.shipping_address is not None) != (temu.status == AWAITING_SHIPMENT):
            wrong["address present or missing"] += 1
    extra = sum(len(v) for k, v in by_reference.items() if k not in set(expected))
    for problem, n in sorted(wrong.items()):
        checks.check(False, f"{label}: {n} orders with {problem}")
    checks.check(not wrong and not extra, f"{label}: {len(expected)} Temu orders each once in WholeCell, "
                                          f"right items ({extra} unexpected WholeCell orders)")


@dataclass
class PhaseFigures:
    """One fulfilment phase: wall time until the queues drained, what each API was asked."""

    label: str
    wall_seconds: float
    wholecell_by_endpoint: dict[str, int]
    temu_by_type: dict[str, int]
    worker_peak_rss_mb: float | None  # the phase's own function
    counts: dict[str, int]
    push_peak_rss_mb: float | None = None  # the confirmation worker's, when the phase ends in confirmations


def job_phase(stack: LocalStack, connection_id: str, job: str, *, function: str, label: str,
              timeout: float) -> PhaseFigures:
    """Run one job on demand and wait until the queues drain (what it queued included)."""
    before, started = Counters.read(stack, WHOLECELL["app_id"]), time.monotonic()
    response = stack.http("POST", f"/admin/connections/{connection_id}/jobs/{job}/run")
    response.raise_for_status()
    stack.drain(timeout=timeout)
    wall = time.monotonic() - started
    delta = Counters.read(stack, WHOLECELL["app_id"]).since(before)
    runs = stack.http("GET", f"/admin/connections/{connection_id}/runs?job={job}").json()["items"]
    run = next(r for r in runs if r["run_id"] == response.json()["run_id"])
    return PhaseFigures(label, round(wall, 1), dict(delta.wholecell), dict(delta.temu), peak_rss_mb(stack, function),
                        {"outcome_" + run["outcome"]: 1, **(run.get("counts") or {})}, peak_rss_mb(stack, PUSH))


def fulfil(stack: LocalStack, connection_id: str, *, webhook: tuple[str, str], release: list[str],
           ship: list[str], lost: list[str], checks: Checks, timeout: float) -> list[PhaseFigures]:
    """Temu releases `release`; the backfill fills their addresses. The warehouse ships `ship`
    (the webhook and the confirmation worker confirm them on Temu) and then `lost`, whose
    webhooks never arrive (the reconciler queues them)."""
    assert stack.temu is not None and stack.wholecell is not None
    temu, wholecell = stack.temu.state, stack.wholecell.state
    account = wholecell.account(WHOLECELL["app_id"])
    by_reference = {order.external_reference: order for order in account.orders.values()}

    for sn in release:
        temu.advance_order(sn)  # the buyer's order is confirmed: awaiting shipment, address released
    backfill = job_phase(stack, connection_id, "address_backfill", function=BACKFILL, label="address backfill",
                         timeout=timeout)
    checks.check(backfill.counts.get("outcome_succeeded") == 1 and backfill.counts.get("filled") == len(release),
                 f"address backfill: {backfill.counts} for {len(release)} released orders")
    missing = [sn for sn in release if by_reference[sn].shipping_address is None]
    checks.check(not missing, f"address backfill: {len(release) - len(missing)} of {len(release)} released orders "
                              "have their address in WholeCell")

    wholecell.configure_webhook(WHOLECELL["app_id"], webhook[0], [webhook[1]])
    delivered = len(account.deliveries)
    before, started = Counters.read(stack, WHOLECELL["app_id"]), time.monotonic()
    for n, sn in enumerate(ship):
        wholecell.add_shipment(WHOLECELL["app_id"], by_reference[sn].id, carrier="USPS",
                               tracking_number=f"94001118995628{n:08d}")
    stack.drain(timeout=timeout)
    wall = time.monotonic() - started
    delta = Counters.read(stack, WHOLECELL["app_id"]).since(before)
    answers = Counter(str(d["status"]) for d in account.deliveries[delivered:])
    shipments = PhaseFigures("shipments (webhook)", round(wall, 1), dict(delta.wholecell), dict(delta.temu),
                             peak_rss_mb(stack, PUSH), {f"webhook_answered_{k}": v for k, v in answers.items()},
                             peak_rss_mb(stack, PUSH))
    checks.check(answers == Counter({"202": len(ship)}), f"shipments: webhook answers {dict(answers)}")

    wholecell.configure_webhook(WHOLECELL["app_id"], None, [webhook[1]])  # the endpoint is down
    for n, sn in enumerate(lost, start=len(ship)):
        wholecell.add_shipment(WHOLECELL["app_id"], by_reference[sn].id, carrier="USPS",
                               tracking_number=f"94001118995628{n:08d}")
    reconcile = job_phase(stack, connection_id, "shipment_reconcile", function=RECONCILE,
                          label="shipments (reconciler)", timeout=timeout)
    checks.check(reconcile.counts.get("queued") == len(lost),
                 f"shipment reconcile: {reconcile.counts} for {len(lost)} shipments whose webhook was lost")
    for label, sns, phase in (("webhook", ship, shipments), ("reconciler", lost, reconcile)):
        not_shipped = [sn for sn in sns if temu.orders[sn].status != SHIPPED]
        confirms = phase.temu_by_type.get(CONFIRM, 0)
        checks.check(not not_shipped and confirms == len(sns),
                     f"shipments ({label}): {len(sns) - len(not_shipped)} of {len(sns)} shipped on Temu with "
                     f"{confirms} confirmations (one each)")
    return [backfill, shipments, reconcile]


def main(argv: list[str] | None = None) -> int:  # noqa: PLR0915 - one scenario, read top to bottom
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--orders", type=int, default=1000)
    parser.add_argument("--awaiting-share", type=float, default=0.15,
                        help="share of the orders already awaiting shipment (address read and sent)")
    parser.add_argument("--goods", type=int, default=250)
    parser.add_argument("--skus-per-goods", type=int, default=4)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--release", type=int, default=200, help="pending orders Temu releases (address backfill)")
    parser.add_argument("--ship", type=int, default=100, help="orders awaiting shipment the warehouse ships")
    parser.add_argument("--lost", type=int, default=20, help="of those, shipped while the webhook endpoint is down")
    parser.add_argument("--scale", type=float, default=1.0, help="both rate limits x this (worker and sandboxes)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)

    wholecell_rate, temu_rate = WHOLECELL_RATE * args.scale, TEMU_RATE * args.scale
    goods, codes = plan_shop(args.goods, args.skus_per_goods)
    checks, warnings = Checks(), Warnings()
    started = time.monotonic()
    with bench_stack() as (stack, engine):
        assert stack.temu is not None and stack.wholecell is not None
        for function in (FUNCTION, BACKFILL, PUSH, RECONCILE):  # before their workers start
            stack.environments[function].update(pacing(wholecell_rate, temu_rate))
        bind_tables(load_settings(stack.environments[FUNCTION]))
        timeout = float(stack.template.functions[FUNCTION].timeout) + 60
        wholecell_timeline, _ = timelines(stack)
        set_limits(stack, None, None)

        seeding = time.monotonic()
        stack.wholecell.state.create_account(WHOLECELL["app_id"], WHOLECELL["app_secret"], skus=codes)
        shop = stack.temu.state.create_shop(region="US", goods=goods)
        mall_id = int(shop["mallId"])
        created = stack.create_connection(WHOLECELL, "Bench orders")
        connection_id = str(created["connection_id"])
        stack.authorize(connection_id, mall_id)
        imported = import_listings(stack, connection_id, timeout)
        listing_import_peak = peak_rss_mb(stack, LISTING_IMPORT)
        checks.check(imported["outcome"] == "succeeded" and imported["counts"].get("connected") == len(codes),
                     f"listing import: {imported['outcome']} {imported['counts']}")
        put_settings(stack, connection_id, {"order_import_enabled": True, "order_status_map": STATUS_MAP})
        set_limits(stack, wholecell_rate, temu_rate)
        empty = run_import(stack, connection_id, "run 0", wholecell=wholecell_timeline, rate=wholecell_rate,
                           timeout=timeout)
        checks.check(empty.run["outcome"] == "succeeded" and empty.writes == 0,
                     f"empty first run: {empty.run['outcome']} {empty.wholecell_by_endpoint}")
        awaiting = round(args.orders * args.awaiting_share)
        pending_sns = stack.temu.state.generate_orders(mall_id, args.orders - awaiting, status=PENDING, seed=args.seed)
        awaiting_sns = stack.temu.state.generate_orders(mall_id, awaiting, status=AWAITING_SHIPMENT,
                                                        seed=args.seed + 1)
        sns = pending_sns + awaiting_sns
        lines = sum(len(stack.temu.state.orders[sn].items) for sn in sns)
        seed_seconds = time.monotonic() - seeding
        print(f"seeded {len(codes)} connected Temu SKUs and {len(sns)} new orders ({lines} lines, {awaiting} awaiting "
              f"shipment) in {seed_seconds:.0f} s; importing (WholeCell {wholecell_rate:g} req/s, Temu "
              f"{temu_rate:g} req/s)...", flush=True)

        first = run_import(stack, connection_id, "run 1", wholecell=wholecell_timeline, rate=wholecell_rate,
                           timeout=timeout)
        print(f"run 1: {first.wall_seconds} s end to end, {first.wholecell_requests} WholeCell requests", flush=True)
        second = run_import(stack, connection_id, "run 2", wholecell=wholecell_timeline, rate=wholecell_rate,
                            timeout=timeout)
        verify_orders(checks, "run 2", stack, mall_id, sns)  # before fulfilment changes statuses and addresses
        print(f"fulfilment: Temu releases {min(args.release, len(pending_sns))} orders, the warehouse ships "
              f"{min(args.ship, len(awaiting_sns))} ...", flush=True)
        fulfilment = fulfil(stack, connection_id, webhook=(created["webhook_url"], created["webhook_secret"]),
                            release=pending_sns[:args.release], ship=awaiting_sns[:args.ship - args.lost],
                            lost=awaiting_sns[args.ship - args.lost:args.ship], checks=checks, timeout=timeout)
        set_limits(stack, None, None)

        checks.check(first.run["outcome"] == "succeeded" and first.run["counts"].get("imported") == len(sns),
                     f"run 1: {first.run['outcome']} {first.run.get('reason')} {first.run['counts']}")
        warnings.warn(first.creates_sent == len(sns),
                      f"run 1: {first.creates_sent} creates sent for {len(sns)} orders: "
                      f"{first.wholecell_throttled} answered 429 and sent again")
        checks.check(first.reads == 0, f"run 1: {first.reads} WholeCell reads {first.wholecell_by_endpoint}")
        limit = round(BOUND_FACTOR * first.needed_seconds, 1)
        checks.check(first.wall_seconds <= limit, f"run 1: wall {first.wall_seconds} s > {BOUND_FACTOR} x "
                                                  f"{first.needed_seconds} s = {limit} s")
        checks.check(second.run["outcome"] == "succeeded" and second.writes == 0,
                     f"run 2: {second.run['outcome']} {second.writes} WholeCell writes {second.wholecell_by_endpoint}")

    runs = [first, second]
    figures = {
        "engine": engine, "orders": len(sns), "lines": lines, "awaiting_shipment": awaiting,
        "temu_skus": len(codes), "scale": args.scale, "wholecell_rate": wholecell_rate, "temu_rate": temu_rate,
        "bound_factor": BOUND_FACTOR,
        "runs": [{**{k: v for k, v in asdict(r).items() if k != "run"}, "counts": r.run.get("counts"),
                  "outcome": r.run.get("outcome"), "wholecell_requests": r.wholecell_requests,
                  "wholecell_reads": r.reads, "wholecell_writes": r.writes, "needed_seconds": r.needed_seconds}
                 for r in runs],
        "fulfilment": [asdict(phase) for phase in fulfilment],
        "peak_rss_mb_by_function": {  # over the whole scenario (VmHWM: a worker's high-water mark)
            FUNCTION: max((r.worker_peak_rss_mb or 0 for r in runs), default=0),
            LISTING_IMPORT: listing_import_peak,
            BACKFILL: fulfilment[0].worker_peak_rss_mb, PUSH: max(f.push_peak_rss_mb or 0 for f in fulfilment[1:]),
            RECONCILE: fulfilment[2].worker_peak_rss_mb},
        "seed_s": round(seed_seconds, 1), "total_s": round(time.monotonic() - started, 1),
        "checks_passed": checks.passed, "checks_failed": checks.failed, "warnings": warnings,
    }
    args.output.write_text(json.dumps(figures, indent=2) + "\n")

    def temu(r: RunFigures, *types: str) -> int:
        return sum(r.temu_by_type.get(f"bg.order.{t}", 0) for t in types)

    print()
    print(f"{len(sns)} new Temu orders ({lines} lines; {awaiting} awaiting shipment) over {len(codes)} connected "
          f"SKUs. DynamoDB: {engine}. Clocks x{args.scale:g}: WholeCell {wholecell_rate:g} req/s, Temu "
          f"{temu_rate:g} req/s (worker and sandboxes).")
    rows = [
        ("orders seen / imported (run log)", *(f"{r.run['counts'].get('orders_seen', 0)} / "
                                               f"{r.run['counts'].get('imported', 0)}" for r in runs)),
        ("WholeCell requests", *(str(r.wholecell_requests) for r in runs)),
        ("  creates (POST /sales_orders)", *(str(r.creates_sent) for r in runs)),
        ("  other writes / reads", *(f"{r.writes - r.creates_sent} / {r.reads}" for r in runs)),
        ("  answered 429", *(str(r.wholecell_throttled) for r in runs)),
        ("Temu requests", *(str(sum(r.temu_by_type.values())) for r in runs)),
        ("  order list pages / amounts", *(f"{temu(r, 'list.v2.get')} / {temu(r, 'amount.query')}" for r in runs)),
        ("  addresses (plain + decrypted)", *(str(temu(r, 'shippinginfo.v2.get', 'decryptshippinginfo.get'))
                                             for r in runs)),
        ("  answered 4000004", *(str(r.temu_rate_limited) for r in runs)),
        (f"time needed at {wholecell_rate:g} req/s (s)", *(str(r.needed_seconds) for r in runs)),
        ("wall time, enqueue to drained (s)", *(str(r.wall_seconds) for r in runs)),
        ("job time in the worker (s)", *(str(r.job_seconds) for r in runs)),
        ("wall / needed", *(f"{r.wall_seconds / r.needed_seconds:.2f}" if r.needed_seconds else "-" for r in runs)),
        ("worker peak RSS (MB)", *(str(r.worker_peak_rss_mb) for r in runs)),
        ("phase: queue to job start (s)", *(str(r.phases.queue_to_start) for r in runs)),
        ("phase: start to 1st WholeCell (s)", *(str(r.phases.start_to_first_wholecell) for r in runs)),
        ("phase: WholeCell requests (s)", *(str(r.phases.wholecell_requests) for r in runs)),
        ("phase: last WholeCell to end (s)", *(str(r.phases.last_wholecell_to_end) for r in runs)),
        ("phase: job end to drained (s)", *(str(r.phases.end_to_drained) for r in runs)),
    ]
    print_table(["", f"run 1: {len(sns):,} new", "run 2: right after"], rows)
    print(f"{bound_line('run 1', first.wall_seconds, first.needed_seconds)}; run 2 WholeCell writes: {second.writes}")
    print()
    print_table(["fulfilment", "wall (s)", "WholeCell requests", "Temu requests", "worker peak RSS (MB)"],
                [(f"{phase.label}", str(phase.wall_seconds), str(sum(phase.wholecell_by_endpoint.values())),
                  str(sum(phase.temu_by_type.values())), str(phase.worker_peak_rss_mb)) for phase in fulfilment])
    return finish(checks, warnings, figures["total_s"], args.output)


if __name__ == "__main__":
    sys.exit(main())
