"""The chaos suite's world and its judge: what is seeded and done to the sandboxes (planned up
front from one seed), the true quantities computed independently of the integration, and the
invariants checked against the sandboxes' final state. Pure: no stack, no threads, no HTTP.

See bench/chaos.py for the run itself.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

MAIN, OVERFLOW = "Main Warehouse", "Overflow"
INVENTORY_STATUSES = ("Available",)
WAREHOUSES = (MAIN,)
STATUS_MAP = {"1": "Pending", "2": "Awaiting Fulfillment", "3": "Canceled", "4": "Shipped",
              "41": "Awaiting Fulfillment", "5": "Delivered"}
CARRIER = "USPS"
# Temu SKU status / sub-status (sandbox, reference §5.5)
TEMU_ACTIVE, TEMU_INACTIVE, TEMU_SOLD_OUT = 2, 3, 3003
PENDING, AWAITING, CANCELLED, SHIPPED = 1, 2, 3, 4


@dataclass(frozen=True)
class ChaosConfig:
    """Sizes, fault rates and the time compression of one chaos run."""

    name: str = "full"
    seed: int = 9
    connections: int = 2
    goods: int = 150  # per connection
    skus_per_goods: int = 4
    orders: int = 120  # per connection
    steps: int = 18  # world changes during the chaos phase, one batch per step
    step_seconds: float = 8.0
    tick_seconds: float = 6.0  # every job's schedule fires this often (plus one overlapping manual run)
    kill_seconds: float = 4.0  # a random busy worker may be killed this often
    kill_share: float = 0.7  # chance a kill tick kills someone
    # faults, both sandboxes (WholeCell also answers 429s and non-JSON 200s)
    error_rate: float = 0.10  # 5xx
    timeout_rate: float = 0.05  # hangs past the client's timeout
    wholecell_429_rate: float = 0.05
    malformed_rate: float = 0.03
    temu_app_rate: float = 12.0  # the Temu sandbox's throttling (4000004 beyond it)
    temu_budget_rate: float = 20.0  # TemuAppRateLimit: above the sandbox's rate on purpose, so Temu throttles
    # on writes (WholeCell create/patch, Temu stock edit and shipment confirm): done, then ...
    lost_rate: float = 0.03  # ... answered 502
    lost_timeout_rate: float = 0.02  # ... answered only after the client gave up
    crash_rate: float = 0.03  # ... the calling worker is killed before it can record the outcome
    # time compression: claims last as long as the invocation that takes them may run
    http_timeout: float = 2.0
    fault_timeout: float = 2.5
    lease_seconds: int = 5  # RUN_LEASE_SECONDS, shorter than many runs: runs of one job for one connection overlap
    order_timeout: int = 90  # OrderImportFunction Timeout = ORDER_CLAIM_SECONDS
    shipment_timeout: int = 30  # ShipmentPushFunction Timeout = SHIPMENT_CLAIM_SECONDS
    # Temu pacing: the template's shared budgets (SharedBudgets=enabled), every worker of every
    # function booking one app-wide schedule at TemuAppRateLimit = temu_budget_rate, so the per-worker
    # *TemuRate shares pace nothing. One still counts: the shipment push expects a confirmation to
    # take domain/shipments.confirmation_seconds(its TEMU_RATE_LIMIT) and starts none with less time
    # left, so its share is raised for more than one confirmation to fit the compressed timeout.
    shipment_push_temu_rate: float = 2.0
    wholecell_worker_rate: float = 10.0  # WHOLECELL_RATE_LIMIT: with shared budgets, each account's, all workers'
    concurrency: int = 2  # invocations per function at once (SQS pollers per queue)
    fast_dynamodb: bool = True  # bench.engine's dynalite instead of moto for DynamoDB
    settle_seconds: float = 300.0  # after the faults stop, time allowed to converge

    @property
    def late_goods(self) -> int:
        """Goods listed on Temu only in the middle of the run (the listing import must find them)."""
        return max(1, self.goods // 20)

    @property
    def late_step(self) -> int:
        return self.steps // 3


FULL = ChaosConfig()
# `make test`'s variant keeps the lease at its production contract (as long as the longest
# claim-taking invocation): runs of one job are requested at once all the time but serialized
# by the lease, so the run is deterministic. The full run's short lease lets them truly overlap.
SMALL = ChaosConfig(name="small", seed=11, goods=25, skus_per_goods=2, orders=15, steps=6, step_seconds=4.0,
                    tick_seconds=2.5, kill_seconds=2.5, lease_seconds=20, order_timeout=20, shipment_timeout=20,
                    fast_dynamodb=False, settle_seconds=100.0)


# --------------------------------------------------------------------------- the planned world


@dataclass(frozen=True)
class PlannedSku:
    goods: int
    code: str  # the seller SKU on Temu ("" = none)
    kind: str  # match | temu_only | case | empty
    status: str  # active | sold_out | inactive (sandbox spec names)
    stock: int

    @property
    def connected(self) -> bool:
        return self.kind == "match"

    @property
    def orderable(self) -> bool:
        return self.connected and self.status != "inactive"


SCRIPTED_STEP = -1  # the order the scripted crash is about: placed before the chaos phase


@dataclass(frozen=True)
class PlannedOrder:
    number: int
    step: int  # arrives on Temu at this step (SCRIPTED_STEP: placed by the scripted crash)
    lines: tuple[tuple[int, int], ...]  # (sku index, quantity)
    initial: int  # Temu status on arrival: 1 or 2
    advance_step: int | None  # pending -> awaiting shipment at this step
    fate: str  # ship | ship_lost_webhook | cancel | cancel_line | wait
    fate_step: int  # from this step on (shipping: once WholeCell holds the order with its address)
    redeliver: bool  # WholeCell sends the shipment webhook twice


@dataclass
class ConnectionWorld:
    index: int
    app_id: str
    app_secret: str
    skus: list[PlannedSku]
    goods: list[list[int]]  # sku indexes per goods
    late_goods: set[int]
    wholecell_skus: list[str]
    units: dict[str, int]  # Available units in Main per WholeCell SKU
    noise: list[dict[str, Any]]  # units that must not count (other warehouse, sold)
    ebay: list[tuple[str, int]]  # (sku, quantity) on an open eBay order with one unit committed
    orders: list[PlannedOrder]
    sales: dict[int, list[str]]  # step -> one unit of each SKU sold elsewhere
    restocks: dict[int, list[str]]  # step -> one unit of each SKU arrives
    drifts: dict[int, list[tuple[int, int]]]  # step -> (sku index, stock another tool sets on Temu)

    @property
    def prefix(self) -> str:
        return f"C{self.index}"

    def goods_spec(self, goods: int) -> dict[str, Any]:
        return {"goodsName": f"Renewed Phone {self.prefix}-{goods:04d}", "skus": [
            {"skuSn": self.skus[i].code, "specName": f"Variant {n}", "stock": self.skus[i].stock,
             "status": self.skus[i].status} for n, i in enumerate(self.goods[goods])]}


def plan_connection(config: ChaosConfig, index: int) -> ConnectionWorld:  # noqa: PLR0915 - one plan, top to bottom
    rng = random.Random(config.seed * 1000 + index)
    prefix = f"C{index}"
    skus: list[PlannedSku] = []
    goods: list[list[int]] = []
    for g in range(config.goods):
        ids = []
        for s in range(config.skus_per_goods):
            code = f"{prefix}-{g:04d}-{s}"
            roll = rng.random()
            kind = "match" if roll < 0.84 else "temu_only" if roll < 0.89 else "case" if roll < 0.94 else "empty"
            if kind == "temu_only":
                code = f"{prefix}-T{g:04d}-{s}"
            elif kind == "case":
                code = code.lower()  # WholeCell holds the upper-case code: no exact match
            elif kind == "empty":
                code = ""
            roll = rng.random()
            status = "active" if roll < 0.8 else "sold_out" if roll < 0.9 else "inactive"
            stock = 0 if status == "sold_out" else rng.randint(1, 20)
            ids.append(len(skus))
            skus.append(PlannedSku(g, code, kind, status, stock))
        goods.append(ids)
    late = set(range(config.goods - config.late_goods, config.goods))

    wholecell_skus = [s.code for s in skus if s.kind == "match"]
    wholecell_skus += [s.code.upper() for s in skus if s.kind == "case"]
    wholecell_skus += [f"{prefix}-WC-{n:03d}" for n in range(max(2, config.goods // 10))]
    budget: Counter[str] = Counter()  # what may hold each connected SKU's stock back at once

    def orderable(step: int) -> list[int]:
        return [i for i, s in enumerate(skus) if s.orderable and (s.goods not in late or step > config.late_step)]

    orders = []
    if index < 2:  # the scripted windows (bench/chaos.py): connection 0 a crash after a create, 1 a lost PATCH
        first = orderable(0)[0]
        orders.append(PlannedOrder(0, SCRIPTED_STEP, ((first, 1),), PENDING if index == 0 else AWAITING, None,
                                   "ship", 0, False))
        budget[skus[first].code] += 1
    arrival_steps = max(1, int(config.steps * 0.5))
    for number in range(len(orders), config.orders):
        step = rng.randrange(arrival_steps)
        pool = orderable(step)
        picked = rng.sample(pool, 1 if rng.random() < 0.7 else 2)
        lines = tuple((i, 1 if rng.random() < 0.75 else 2) for i in picked)
        initial = AWAITING if rng.random() < 0.4 else PENDING
        roll = rng.random()
        fate = ("ship" if roll < 0.6 else "ship_lost_webhook" if roll < 0.68 else "cancel" if roll < 0.76
                else "cancel_line" if roll < 0.82 and any(q == 2 for _, q in lines) else "wait")
        advance = None
        if initial == PENDING and (fate != "wait" or rng.random() < 0.8):
            advance = step + rng.randint(1, 2)
        fate_step = (advance if advance is not None else step) + (0 if fate.startswith("ship") else 1)
        if fate == "cancel" and rng.random() < 0.5:
            fate_step = step + 1  # maybe still pending
        orders.append(PlannedOrder(number, step, lines, initial, advance, fate, fate_step,
                                   fate == "ship" and rng.random() < 0.15))
        for i, quantity in lines:
            budget[skus[i].code] += quantity

    connected = [s.code for s in skus if s.connected]
    ebay = [(code, 2) for code in rng.sample(connected, max(1, len(connected) // 20))]
    for code, _ in ebay:
        budget[code] += 2  # one committed unit + one outstanding
    sales: dict[int, list[str]] = defaultdict(list)
    restocks: dict[int, list[str]] = defaultdict(list)
    drifts: dict[int, list[tuple[int, int]]] = defaultdict(list)
    active_connected = [i for i, s in enumerate(skus) if s.orderable and s.goods not in late]
    for step in range(config.steps):
        for code in rng.sample(connected, max(1, len(connected) // (3 * config.steps))):
            sales[step].append(code)
            budget[code] += 1
        restocks[step] = rng.sample(connected, max(1, len(connected) // (6 * config.steps)))
        drifts[step] = [(i, rng.randint(0, 30)) for i in rng.sample(active_connected, 1)]
    units = {code: 2 + budget[code] + rng.randint(0, 3) for code in connected}
    for code in wholecell_skus:
        units.setdefault(code, rng.randint(0, 3))
    noise = [{"sku": code, "status": "Available", "warehouse": OVERFLOW} for code in rng.sample(connected, 3)]
    noise += [{"sku": code, "status": "Sold", "warehouse": MAIN} for code in rng.sample(connected, 3)]
    return ConnectionWorld(index, f"chaos-app-{index}", f"chaos-secret-{index}", skus, goods, late, wholecell_skus,
                           units, noise, ebay, orders, dict(sales), dict(restocks), dict(drifts))


# --------------------------------------------------------------------------- truth


def true_quantities(account: Mapping[str, Any]) -> dict[str, int]:
    """Calculated quantity per WholeCell SKU from a sandbox account snapshot, computed here and
    not by the integration: units in the counted statuses and warehouses that are not committed,
    minus what orders in WholeCell's open statuses still need beyond the units committed to them
    (layers/common/wholecell_temu/domain/quantities.py states the rule; factor 1, no buffer/cap)."""
    open_statuses = {s["title"] for s in account["sales_order_statuses"] if s["open"]}
    available: Counter[str] = Counter()
    committed: Counter[tuple[int, str]] = Counter()
    for unit in account["units"]:
        sku = unit["product_variation"]["sku"]
        if not sku:
            continue
        if unit["order_id"] is not None:
            committed[(unit["order_id"], sku)] += 1
        elif unit["status"] in INVENTORY_STATUSES and unit["warehouse"]["name"] in WAREHOUSES:
            available[sku] += 1
    outstanding: Counter[str] = Counter()
    for order in account["orders"]:
        if order["status"] not in open_statuses:
            continue
        ordered: Counter[str] = Counter()
        for item in order["order_items"]:
            if item["sku"]:
                ordered[item["sku"]] += item["quantity"]
        for sku, quantity in ordered.items():
            outstanding[sku] += max(0, quantity - committed[(order["id"], sku)])
    return {sku: max(0, available[sku] - outstanding[sku]) for sku in account["skus"]}


def expected_listing_status(status: int, sub_status: int) -> str:
    """domain.listings.listing_status, restated: active, or sold out (a restock brings it back)."""
    return "active" if status == TEMU_ACTIVE or (status == TEMU_INACTIVE and sub_status == TEMU_SOLD_OUT) else "ended"


# --------------------------------------------------------------------------- invariants


@dataclass
class Verdict:
    """How many things each invariant looked at, and every violation found."""

    checked: Counter[str] = field(default_factory=Counter)
    violations: list[dict[str, Any]] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)  # wrong but harmless to the invariants

    def check(self, invariant: str, ok: bool, **detail: Any) -> bool:
        self.checked[invariant] += 1
        if not ok:
            self.violations.append({"invariant": invariant, **detail})
        return ok

    def failed(self, invariant: str) -> list[dict[str, Any]]:
        return [v for v in self.violations if v["invariant"] == invariant]


@dataclass
class TemuOrderView:
    """A Temu order as the judge needs it (copied out of the sandbox under its lock)."""

    sn: str
    status: int
    lines: list[tuple[int, int]]  # (Temu sku id, live quantity)
    address: dict[str, Any]


@dataclass
class TemuPackageView:
    tracking: str
    orders: set[str]


@dataclass
class ConnectionFinal:
    """Everything judged for one connection, read after the run."""

    label: str
    seller_sku_of: dict[int, str]  # Temu sku id -> seller SKU (every SKU of the shop)
    temu_skus: dict[int, tuple[int, int]]  # sku id -> (status, sub status)
    temu_stock: dict[int, int]
    temu_orders: list[TemuOrderView]
    packages: list[TemuPackageView]
    zero_pushes: list[dict[str, Any]]  # stock edits that set 0
    account: dict[str, Any]  # the WholeCell sandbox account snapshot
    listings: list[dict[str, Any]]  # the integration's listings (admin API)
    reached_awaiting: set[str]  # parent orders that were awaiting shipment at some point
    shipment_states: dict[str, str] = field(default_factory=dict)  # parent order -> the integration's record


def judge_orders(verdict: Verdict, final: ConnectionFinal) -> None:
    """Each Temu order exists exactly once in WholeCell, with the right items and mapped status."""
    by_reference: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for order in final.account["orders"]:
        if order["channel"] == "Temu":
            by_reference[str(order["external_reference"])].append(order)
    known = {o.sn for o in final.temu_orders}
    for order in final.temu_orders:
        found = by_reference.get(order.sn, [])
        verdict.check("no_lost_orders", len(found) >= 1, connection=final.label, parent_order_sn=order.sn)
        verdict.check("no_duplicated_orders", len(found) <= 1, connection=final.label, parent_order_sn=order.sn,
                      wholecell_order_ids=[o["id"] for o in found])
        if not found:
            continue
        created = min(found, key=lambda o: o["id"])
        expected = sorted((final.seller_sku_of[sku_id], quantity) for sku_id, quantity in order.lines if quantity)
        actual = sorted((item["sku"], item["quantity"]) for item in created["order_items"])
        verdict.check("order_items", actual == expected, connection=final.label, parent_order_sn=order.sn,
                      expected=expected, actual=actual)
        status = STATUS_MAP.get(str(order.status))
        verdict.check("order_status", created["status"] == status, connection=final.label,
                      parent_order_sn=order.sn, temu_status=order.status, wholecell_status=created["status"])
    for reference, orders in by_reference.items():
        verdict.check("no_unknown_wholecell_orders", reference in known, connection=final.label,
                      external_reference=reference, count=len(orders))


def judge_addresses(verdict: Verdict, final: ConnectionFinal) -> None:
    """Every order that reached awaiting shipment (and was not cancelled) ships to Temu's address."""
    created = {}
    for order in sorted(final.account["orders"], key=lambda o: -int(o["id"])):
        created[str(order["external_reference"])] = order
    for order in final.temu_orders:
        if order.sn not in final.reached_awaiting or order.status == CANCELLED or order.sn not in created:
            continue
        address = created[order.sn]["shipping_address"] or {}
        expected = (order.address.get("receiptName"), order.address.get("addressLine1"),
                    order.address.get("postCode"))
        verdict.check("address_filled", (address.get("name"), address.get("street1"), address.get("zip")) == expected,
                      connection=final.label, parent_order_sn=order.sn, filled=bool(address.get("street1")))


def judge_shipments(verdict: Verdict, final: ConnectionFinal) -> None:
    """Each WholeCell tracking number is in exactly one Temu package of its order, the order is
    shipped, and Temu holds no confirmation WholeCell does not have."""
    temu_status = {o.sn: o.status for o in final.temu_orders}
    packages: dict[str, list[TemuPackageView]] = defaultdict(list)
    for package in final.packages:
        packages[package.tracking].append(package)
    wholecell_tracking: set[tuple[str, str]] = set()
    for order in final.account["orders"]:
        reference = str(order["external_reference"])
        for shipment in order["shipments"]:
            tracking = str(shipment["tracking_number"])
            wholecell_tracking.add((reference, tracking))
            found = [p for p in packages.get(tracking, []) if reference in p.orders]
            verdict.check("no_lost_shipment_confirmations", len(found) >= 1, connection=final.label,
                          parent_order_sn=reference, tracking_number=tracking)
            verdict.check("no_duplicated_shipment_confirmations", len(packages.get(tracking, [])) <= 1,
                          connection=final.label, parent_order_sn=reference, tracking_number=tracking)
            verdict.check("shipped_on_temu", temu_status.get(reference) == SHIPPED, connection=final.label,
                          parent_order_sn=reference, temu_status=temu_status.get(reference))
    on_temu = {sn for package in final.packages for sn in package.orders}
    for sn, state in sorted(final.shipment_states.items()):
        if state == "failed" and sn in on_temu and temu_status.get(sn) == SHIPPED:
            verdict.notes.append({"note": "shipment recorded failed (and dead-lettered) though Temu holds it",
                                  "connection": final.label, "parent_order_sn": sn})
    for package in final.packages:
        verdict.check("no_unknown_shipment_confirmations",
                      all((sn, package.tracking) in wholecell_tracking for sn in package.orders),
                      connection=final.label, tracking_number=package.tracking, orders=sorted(package.orders))


def judge_listings_and_quantities(verdict: Verdict, final: ConnectionFinal) -> None:
    """Every Temu SKU is listed once with the right connection and status; every connected active
    listing shows the true calculated quantity on Temu."""
    truth = true_quantities(final.account)
    catalog = set(final.account["skus"])
    listed = {int(item["temu_sku_id"]): item for item in final.listings}
    verdict.check("listings_complete", set(listed) == set(final.temu_skus) and len(final.listings) == len(listed),
                  connection=final.label, missing=sorted(set(final.temu_skus) - set(listed))[:10],
                  extra=sorted(set(listed) - set(final.temu_skus))[:10])
    for sku_id, (status, sub_status) in final.temu_skus.items():
        item = listed.get(sku_id)
        if item is None:
            continue
        code = final.seller_sku_of[sku_id]
        connected_to = [link["sku"] for link in (item.get("connection") or {}).get("skus", [])]
        expected_link = [code] if code and code in catalog else []
        verdict.check("listing_connection", connected_to == expected_link, connection=final.label,
                      temu_sku_id=sku_id, seller_sku=code, connected_to=connected_to)
        verdict.check("listing_status", item["status"] == expected_listing_status(status, sub_status),
                      connection=final.label, temu_sku_id=sku_id, listed=item["status"], temu=(status, sub_status))
        if connected_to and item["status"] == "active":
            want = sum(truth.get(sku, 0) for sku in connected_to)
            shown = final.temu_stock.get(sku_id)
            verdict.check("temu_quantity_is_true_quantity", shown == want, connection=final.label,
                          temu_sku_id=sku_id, seller_sku=code, temu=shown, true=want)


def judge_zero_pushes(verdict: Verdict, final: ConnectionFinal, edits_checked: int) -> None:
    """No stock edit ever set 0: every connected listing's true quantity stays above 0 throughout
    (the world is planned so, and the run checks it at every step), so a 0 can only come from a
    failed or partial read."""
    verdict.checked["no_zero_pushed"] += edits_checked
    for push in final.zero_pushes:
        verdict.violations.append({"invariant": "no_zero_pushed", "connection": final.label, **push})


def judge(finals: Iterable[ConnectionFinal], edits_checked: Mapping[str, int]) -> Verdict:
    verdict = Verdict()
    for final in finals:
        judge_orders(verdict, final)
        judge_addresses(verdict, final)
        judge_shipments(verdict, final)
        judge_listings_and_quantities(verdict, final)
        judge_zero_pushes(verdict, final, edits_checked.get(final.label, 0))
    return verdict


FLOW_INVARIANTS = ("no_lost_orders", "order_items", "order_status", "address_filled",
                   "no_lost_shipment_confirmations", "shipped_on_temu", "listings_complete", "listing_connection",
                   "listing_status")
"""What the jobs can still bring about after the faults stop (the run settles until these hold)."""
