"""Fleet benchmark (issue #19): hundreds of accounts on one Temu app, at the physical limits.

    python -m bench.fleet [--small 180] [--medium 19] [--large-goods 5000] [--workers N] [--scale 1] [--seed 11]
                                                                      # or: make bench-fleet

The fleet, on the whole local stack (worker processes, SQS and Secrets Manager on moto, DynamoDB
on bench.engine's dynalite behind a counting proxy): 200 connections of mixed sizes on one Temu
app, each its own Temu shop and WholeCell account whose SKUs equal the shop's seller SKUs:

    180 small   10 goods x 4 SKUs (40 listings), 2 units per SKU
     19 medium  250 goods x 4 SKUs (1,000 listings), 2 units per SKU
      1 large   5,000 goods x 4 SKUs (20,000 listings), 2 units per SKU

Setup (limits off, every worker fast): the listings are imported and connected, the first
quantity sync pushes every listing, order import sets each connection's watermark and imports
a first batch of orders (some awaiting shipment, with their addresses), so the measured ticks
start from a steady state.

A tick, measured twice in the same run, first under today's settings (SharedBudgets=disabled:
2 workers per consumer, each pacing alone at its per-worker Temu share and 2 WholeCell req/s
per account), then under the shared budgets (SharedBudgets=enabled: MaxJobConcurrency
workers per consumer, the app's Temu budget and each account's WholeCell budget shared by
every worker of every function in BudgetsTable). Before each tick the workers restart with its
settings and run every job for 3 x workers small connections with nothing new (limits off), so
their first runs (imports, clients, caches) are behind them, as in a fleet ticking every few
minutes; then quantities change in every
account (units sold, received, moved), new Temu orders arrive (a fifth already awaiting
shipment) and Temu releases some earlier orders to awaiting shipment. The tick fires every
job's schedule for every connection at once (listing import, quantity sync, order import,
address backfill, shipment reconcile) while the warehouses ship earlier orders: WholeCell
posts each tracking number to the webhook during the tick and the confirmation worker
confirms it on Temu. Both sandboxes enforce the real limits throughout: Temu 20 req/s for the
whole app across every shop (a sliding one-second window, 4000004 beyond it), WholeCell 2 req/s
per account (429). Clocks are real (`--scale K` multiplies both limits and the workers'
rates by K and shortens the tick K times; the report says so).

Figures (printed, and written to bench/fleet.json), per tick:
- drain time (fan-out to every queue empty) against the physical bound, max(Temu requests
  accepted / the app limit, the largest account's WholeCell requests accepted / its limit);
- order-import latency (a Temu order waiting at the tick's start to its WholeCell sales order)
  and shipment latency (WholeCell's webhook post to Temu accepting the confirmation), p50/p95;
- requests refused by either limit (Temu 4000004, WholeCell 429), and for each Temu refusal the
  shape of the window that refused it (how its arrivals were spread: paced, or bunched after a gap);
- DynamoDB calls spent on pacing (BudgetsTable writes and reads) and per Temu/WholeCell request;
- slots the workers woke too late for and booked again (their warnings in the workers' log), and
  how busy the machine's CPU was: on a small machine, workers the CPU cannot run at their slot
  are the harness's doing, not the pacing's, and these two figures tell them apart;
- the bench process's own stalls (where the sandboxes count their windows) and garbage collections,
  its heap frozen before each tick.

The sandboxes count their rate windows when a request reaches them, as Temu and WholeCell would,
so nothing of the harness may delay them: the counting proxy and moto (SQS, Secrets Manager) run
in processes of their own (not behind the sandboxes' interpreter lock; the report gives the bench
process's own CPU use). When the 2 cores are short, the sandboxes run first (nice 0), then the
stand-ins for AWS (dynalite, the proxy, moto: nice 5), then the workers (nice 10): the outside
world has machines of its own in reality.

Bounds, on the shared-budget tick (exit status 1 when one is missed): drain time <= 1.3x the
physical bound; order-import and shipment p95 latency within one tick (the order schedule's
period, 300 s); no request refused by either limit; every new order imported exactly once and
every shipment confirmed on Temu exactly once, no message dead-lettered. Today's tick is
reported for the comparison, with its own checks of correctness only (the queues drained, every
order imported once, every shipment confirmed but those whose messages it dead-lettered); its
dead-lettered messages are reported, not judged: that mode's jobs of one account together exceed
the account's WholeCell limit, and a run or a confirmation that exhausts its retries on 429s is
dead-lettered (its known limit, docs/decisions.md; a dead-lettered shipment raises the
ShipmentDLQAlarm and a redrive confirms it, docs/operations.md).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import faulthandler
import gc
import http.client
import itertools
import json
import logging
import multiprocessing
import os
import random
import re
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO
from pathlib import Path
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

from wholecell_temu.jobs.budgets import SENT_LATE, SLOT_MISSED

from bench.engine import engine_description, fast_dynamodb
from bench.listings import Checks
from bench.quantity import print_table
from local.stack import LocalStack
from local.template import load_template
from local.workers import InvocationError

ROOT = Path(__file__).resolve().parents[1]
RESULTS = Path(__file__).resolve().parent / "fleet.json"
TEMU_LIMIT = 20.0  # Temu's limit per app (requests/s), across every shop
WHOLECELL_LIMIT = 2.0  # WholeCell's limit per account (requests/s)
SETUP_RATE = 400.0  # every worker's pacing while seeding (limits off then); not measured
BOUND_FACTOR = 1.3
TICK_SECONDS = 300.0  # the order and quantity schedules' period (template: rate(5 minutes))
SKUS_PER_GOODS = 4
UNITS_PER_SKU = 2
MAIN, OVERFLOW = "Main Warehouse", "Overflow"
CARRIER = "USPS"
PENDING, AWAITING = 1, 2
STATUS_MAP = {"1": "Pending", "2": "Awaiting Fulfillment", "3": "Canceled", "4": "Shipped", "5": "Delivered"}
CONFIRM = "bg.logistics.shipment.v2.confirm"
RATE_LIMITED = 4000004
JOBS = {"listing_import": "ListingImportFunction", "quantity_sync": "QuantitySyncFunction",
        "order_import": "OrderImportFunction", "address_backfill": "AddressBackfillFunction",
        "shipment_reconcile": "ShipmentReconcileFunction"}
CONSUMERS = (*JOBS.values(), "ShipmentPushFunction")
HTTP_FUNCTIONS = ("ShipmentWebhookFunction", "AdminFunction")
BUDGETS_TABLE = "BudgetsTable"  # the local stack names tables by logical id


# --------------------------------------------------------------------------- the fleet


@dataclass
class Size:
    name: str
    count: int
    goods: int
    new_orders: int  # Temu orders arriving before each tick
    changed_skus: int  # SKUs whose quantity changes before each tick
    setup_orders: int  # orders imported during setup, awaiting shipment (shipped during the ticks)
    released: int  # pending orders Temu releases to awaiting shipment before each tick


@dataclass
class Shop:
    label: str
    size: str
    goods: int
    app_id: str = ""
    app_secret: str = ""
    mall_id: int = 0
    connection_id: str = ""
    webhook_url: str = ""
    webhook_secret: str = ""
    sku_ids: dict[str, int] = field(default_factory=dict)  # seller SKU -> Temu SKU id
    pending: list[str] = field(default_factory=list)  # Temu orders placed pending (to release later)
    to_ship: list[str] = field(default_factory=list)  # Temu orders awaiting shipment, not shipped yet

    @property
    def codes(self) -> list[str]:
        return [f"{self.label}-{g:04d}-{s}" for g in range(self.goods) for s in range(SKUS_PER_GOODS)]


def fleet_sizes(args: argparse.Namespace) -> list[Size]:
    return [Size("large", 1, args.large_goods, new_orders=20, changed_skus=400, setup_orders=20, released=10),
            Size("medium", args.medium, 250, new_orders=4, changed_skus=20, setup_orders=4, released=2),
            Size("small", args.small, 10, new_orders=1, changed_skus=2, setup_orders=1, released=1)]


def plan_fleet(sizes: list[Size]) -> list[Shop]:
    return [Shop(label, size.name, size.goods, app_id=f"fleet-{label.lower()}",
                 app_secret=f"fleet-{label.lower()}-secret")
            for size in sizes for n in range(size.count) for label in [f"{size.name[0].upper()}{n:03d}"]]


# --------------------------------------------------------------------------- instruments


class DynamoCounter:
    """A proxy in front of the DynamoDB engine counting calls by (operation, table).

    It runs in a process of its own: every DynamoDB call of every worker passes through it (about 150
    a second in a tick), and in the bench's process it would take the interpreter lock from the
    sandboxes, whose rate windows must see requests when they arrive, not when the lock frees."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.url = ""

    def snapshot(self) -> Counter[tuple[str, str]]:
        with urllib.request.urlopen(f"{self.url}{COUNTS_PATH}", timeout=30) as answer:
            return Counter({(op, table): n for op, table, n in json.load(answer)})

    @contextlib.contextmanager
    def running(self) -> Iterator[DynamoCounter]:
        with spawned(serve_counter, self.upstream, name="dynamo-counter") as self.url:
            yield self


@contextlib.contextmanager
def spawned(target: Callable[..., None], *args: Any, name: str) -> Iterator[str]:
    """`target(*args, ready)` in a process of its own, serving HTTP on the port it puts on `ready`;
    yields that server's URL and stops the process at the end."""
    context = multiprocessing.get_context("spawn")
    ready = context.Queue()
    process = context.Process(target=target, args=(*args, ready), name=name, daemon=True)
    process.start()
    try:
        yield f"http://127.0.0.1:{ready.get(timeout=60)}"
    finally:
        process.terminate()
        process.join(10)


@contextlib.contextmanager
def moto_in_its_own_process() -> Iterator[str]:
    """SQS and Secrets Manager (moto) served by a process of its own, for the stack to use as its AWS
    endpoint: in the bench's process, its answers to 60 workers' polls, sends and deletes would take the
    interpreter lock from the sandboxes. Without the stack's own moto, IAM is not enforced (tests do)."""
    with spawned(serve_moto, name="moto") as url, mock.patch.dict(os.environ, {"AWS_ENDPOINT_URL": url}):
        yield url


def serve_moto(ready: Any) -> None:
    """moto's process: the server the local stack would run, with the local stack's fixes."""
    from moto.server import ThreadedMotoServer  # noqa: PLC0415 - in the spawned process only

    from local import moto_fixes  # noqa: PLC0415

    os.nice(AWS_NICENESS)  # before any thread starts: every thread of the server inherits it
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no line per request
    moto_fixes.serialize_sqs_queue_access()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    ready.put(server.get_host_and_port()[1])
    threading.Event().wait()


COUNTS_PATH = "/__counts"
# The workers' nice value. Temu, WholeCell and AWS run on other machines than the functions do; here
# they share 2 cores with 60 workers, and a sandbox starved of CPU counts a second's requests late and
# all at once. Niced workers leave the stand-ins the CPU first; what starving costs the workers
# themselves shows as missed slots.
WORKER_NICENESS = 10
# The nice value of the stand-ins for AWS (dynalite, its counting proxy, moto): below the sandboxes (the
# bench's own process, nice 0), whose rate windows must count a request when it arrives, and above the
# workers, which would wait on them anyway.
AWS_NICENESS = 5


def serve_counter(upstream: str, ready: Any) -> None:
    """The counting proxy's process: forwards POSTs to `upstream`, answers GET COUNTS_PATH."""
    os.nice(AWS_NICENESS)
    target = urlsplit(upstream)
    host, port = target.hostname or "127.0.0.1", int(target.port or 80)
    counts: Counter[tuple[str, str]] = Counter()
    lock = threading.Lock()
    local = threading.local()

    def forward(path: str, headers: dict[str, str], body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        while True:
            connection = getattr(local, "connection", None)
            reused = connection is not None
            if connection is None:
                connection = local.connection = http.client.HTTPConnection(host, port, timeout=60)
            try:
                connection.request("POST", path, body=body, headers=headers)
                response = connection.getresponse()
                return response.status, response.getheaders(), response.read()
            except (OSError, http.client.HTTPException) as exc:
                connection.close()
                local.connection = None
                # only a kept-alive connection the engine closed while idle is tried again: it dropped the
                # request unread. Any other failure may follow a write the engine applied; the worker's
                # SDK sees it as a failed call, as it would from DynamoDB, instead of a second write.
                if not (reused and isinstance(exc, http.client.RemoteDisconnected | BrokenPipeError
                                              | ConnectionResetError)):
                    raise

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # TCP_NODELAY: the answer leaves in two writes (headers, then body), and with Nagle's algorithm the
        # body waited for the client's delayed ACK of the headers: 40 ms on every DynamoDB call of every
        # worker (44 ms a GetItem through the proxy against 1.6 ms direct), so most bookings came back
        # after their slot had passed
        disable_nagle_algorithm = True

        def do_GET(self) -> None:
            with lock:
                answer = json.dumps([[op, table, n] for (op, table), n in counts.items()]).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                table = str(json.loads(body or b"{}").get("TableName", ""))
            except ValueError:
                table = ""
            with lock:
                counts[(self.headers.get("X-Amz-Target", "").rsplit(".", 1)[-1], table)] += 1
            status, headers, answer = forward(self.path, dict(self.headers), body)
            self.send_response(status)
            for name, value in headers:
                if name.lower() not in ("content-length", "connection", "transfer-encoding", "date", "server"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    ready.put(server.server_address[1])
    server.serve_forever()


class TemuRecorder:
    """WSGI middleware on the Temu sandbox: every router call's (end time, type, error code), and when
    each shipment confirmation Temu accepted ended, by tracking number."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app
        self.calls: list[tuple[float, str, int]] = []
        self.accepted: dict[str, list[float]] = {}
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ.get("REQUEST_METHOD") != "POST":
            return self.app(environ, start_response)
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        environ["wsgi.input"] = BytesIO(body)
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            request = {}
        if not isinstance(request, dict):
            return self.app(environ, start_response)
        answer = b"".join(self.app(environ, start_response))
        ended = time.time()
        try:
            envelope = json.loads(answer)
        except ValueError:
            envelope = {}
        code = int(envelope.get("errorCode") or 0) if isinstance(envelope, dict) else 0
        with self.lock:
            self.calls.append((ended, str(request.get("type")), code))
            if request.get("type") == CONFIRM and isinstance(envelope, dict) and envelope.get("success"):
                for number in tracking_numbers(request):
                    self.accepted.setdefault(number, []).append(ended)
        return [answer]


class WholeCellRecorder:
    """WSGI middleware on the WholeCell sandbox: every API call's (end time, account, status)."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app
        self.calls: list[tuple[float, str, int]] = []
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if not str(environ.get("PATH_INFO", "")).startswith("/api/v1"):
            return self.app(environ, start_response)
        status: list[int] = []

        def recording(code: str, headers: Any, *rest: Any) -> Any:
            status.append(int(code.split(maxsplit=1)[0]))
            return start_response(code, headers, *rest)

        answer = b"".join(self.app(environ, recording))
        account = ""
        authorization = str(environ.get("HTTP_AUTHORIZATION", ""))
        if authorization.startswith("Basic "):
            with contextlib.suppress(ValueError):
                account = base64.b64decode(authorization[6:]).decode().split(":", 1)[0]
        with self.lock:
            self.calls.append((time.time(), account, status[0] if status else 0))
        return [answer]


def per_second(times: list[float], started: float, ended: float) -> list[int]:
    """How many of `times` fell in each second of [started, ended)."""
    counts = [0] * max(1, int(ended - started) + 1)
    for t in times:
        if started <= t < ended:
            counts[int(t - started)] += 1
    return counts


def tracking_numbers(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [str(v) for k, v in node.items() if k == "trackingNumber"]
        return found + [n for k, v in node.items() if k != "trackingNumber" for n in tracking_numbers(v)]
    if isinstance(node, list):
        return [n for v in node for n in tracking_numbers(v)]
    return []


# --------------------------------------------------------------------------- driving the stack


class MachineLoad:
    """The machine's CPU use, once a second (Linux /proc/stat): how busy its cores were while a tick ran.
    A worker the CPU cannot run at its slot wakes late, which the bench must tell apart from pacing.
    Also this process's own use, in percent of one core: the sandboxes run here, under one interpreter
    lock, and near 100 % they see requests later than they arrive. And who used the CPU, by niceness
    (NICENESS: the sandboxes, the AWS stand-ins, the workers), with the processes ready to run: a
    second in which the workers got little of a busy machine is one in which they woke late."""

    def __init__(self, proc: Path = Path("/proc")) -> None:
        self.busy: list[int] = []  # percent, per second
        self.harness: list[int] = []  # this process, percent of one core, per second
        self.by_nice: dict[int, list[int]] = {nice: [] for nice in NICENESS}  # percent of the machine, per second
        self.runnable: list[int] = []  # processes ready to run (running or waiting for a core), per second
        self._proc = proc
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, name="machine-load", daemon=True)

    def _times(self) -> tuple[int, int, int]:
        """(busy, total) jiffies of every core, and the processes ready to run now."""
        lines = (self._proc / "stat").read_text().splitlines()
        fields = [int(v) for v in lines[0].split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        running = next((int(line.split()[1]) for line in lines if line.startswith("procs_running ")), 0)
        return sum(fields) - idle, sum(fields), running

    @staticmethod
    def _own() -> tuple[float, float]:
        times = os.times()
        return times.user + times.system, time.monotonic()

    def _sample(self) -> None:
        last, own, processes = self._times(), self._own(), process_ticks(self._proc)
        while not self._stop.wait(1.0):
            now, mine, present = self._times(), self._own(), process_ticks(self._proc)
            total = now[1] - last[1]
            self.busy.append(round(100 * (now[0] - last[0]) / total) if total else 0)
            self.harness.append(round(100 * (mine[0] - own[0]) / max(mine[1] - own[1], 1e-9)))
            spent = ticks_by_nice(processes, present)
            for nice, series in self.by_nice.items():
                series.append(round(100 * spent.get(nice, 0) / total) if total else 0)
            self.runnable.append(now[2])
            last, own, processes = now, mine, present

    def __enter__(self) -> MachineLoad:
        if (self._proc / "stat").exists():
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def figures(self) -> dict[str, Any]:
        saturated = [i for i, b in enumerate(self.busy) if b >= 95]
        return {"mean_percent": round(statistics.mean(self.busy), 1) if self.busy else None,
                "seconds_at_95_percent_or_more": len(saturated), "seconds": len(self.busy),
                "harness_mean_percent_of_a_core": round(statistics.mean(self.harness), 1) if self.harness else None,
                "harness_seconds_at_90_percent_or_more": sum(1 for h in self.harness if h >= 90),
                # of the machine, by niceness: over the tick, and over its saturated seconds only
                "by_nice_mean_percent": {nice: round(statistics.mean(series), 1) if series else None
                                         for nice, series in self.by_nice.items()},
                "by_nice_saturated_percent": {nice: round(statistics.mean(series[i] for i in saturated), 1)
                                              if saturated else None for nice, series in self.by_nice.items()},
                "runnable_p50_max": [statistics.median(self.runnable), max(self.runnable)] if self.runnable else None}


NICENESS = {0: "sandboxes, harness", AWS_NICENESS: "AWS stand-ins", WORKER_NICENESS: "workers"}


def process_ticks(proc: Path = Path("/proc")) -> dict[int, tuple[int, int]]:
    """Every process's CPU time so far (user + system, in clock ticks) and its niceness: pid -> (ticks, nice)."""
    found: dict[int, tuple[int, int]] = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            text = (entry / "stat").read_text()
        except OSError:  # gone meanwhile
            continue
        fields = text[text.rindex(")") + 2:].split()  # after the command's name, which may hold spaces
        found[int(entry.name)] = (int(fields[11]) + int(fields[12]), int(fields[16]))
    return found


def ticks_by_nice(before: dict[int, tuple[int, int]], after: dict[int, tuple[int, int]]) -> Counter[int]:
    """CPU ticks spent between two `process_ticks` readings, by niceness (a process started meanwhile
    counts whole; one that ended meanwhile, its last part lost)."""
    spent: Counter[int] = Counter()
    for pid, (ticks, nice) in after.items():
        spent[nice] += max(ticks - before.get(pid, (0, nice))[0], 0)
    return spent


class ProcessStalls:
    """Pauses of this process, where the sandboxes count their rate windows: a stalled sandbox counts the
    requests that reach it meanwhile late and together. A heartbeat thread that should wake every 20 ms
    records when it woke more than 100 ms late (the interpreter lock held, or the process not run), and the
    garbage collector's own pauses of 20 ms or more (it holds the interpreter lock throughout).

    With `dumps`, a stall of DUMP_AFTER seconds also writes every thread's stack there, from
    faulthandler's own thread, which needs no interpreter lock: a thread holding the lock shows where;
    every thread waiting shows the process was not run."""

    BEAT = 0.02
    LATE = 0.1
    GC_PAUSE = 0.02
    DUMP_AFTER = 1.0
    REARM_EVERY = 5  # beats

    def __init__(self, dumps: Path | None = None) -> None:
        self.started = time.monotonic()
        self.stalls: list[tuple[float, float]] = []  # (seconds into the tick, ms late)
        self.collections: list[tuple[float, float, int]] = []  # (seconds into the tick, ms, generation)
        self.dumps = dumps
        self._dump_file: Any = None
        self._collecting: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="stall-heartbeat", daemon=True)

    def _beat(self) -> None:
        for beat in itertools.count():
            if self._dump_file is not None and beat % self.REARM_EVERY == 0:
                faulthandler.dump_traceback_later(self.DUMP_AFTER, file=self._dump_file)
            before = time.monotonic()
            if self._stop.wait(self.BEAT):
                return
            late = time.monotonic() - before - self.BEAT
            if late > self.LATE:
                self.stalls.append((round(before - self.started, 2), round(1000 * late)))

    def _gc(self, phase: str, info: dict[str, int]) -> None:
        now = time.monotonic()
        if phase == "start":
            self._collecting = now
        elif self._collecting is not None:
            if now - self._collecting >= self.GC_PAUSE:
                self.collections.append((round(self._collecting - self.started, 2),
                                         round(1000 * (now - self._collecting)), info["generation"]))
            self._collecting = None

    def __enter__(self) -> ProcessStalls:
        self.started = time.monotonic()
        if self.dumps is not None:
            self._dump_file = self.dumps.open("w")
        gc.callbacks.append(self._gc)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        gc.callbacks.remove(self._gc)
        if self._dump_file is not None:
            faulthandler.cancel_dump_traceback_later()
            self._dump_file.close()

    def figures(self) -> dict[str, Any]:
        longest = max((ms for _, ms in self.stalls), default=0)
        dumped = self.dumps.read_text().count("Timeout (") if self.dumps is not None and self.dumps.exists() else 0
        return {"stalls_over_100_ms": len(self.stalls), "longest_stall_ms": longest,
                "stalls": self.stalls[:100], "gc_pauses": self.collections[:100],
                "stack_dumps": dumped, "stack_dumps_file": str(self.dumps) if dumped else None}


def frozen_heap() -> dict[str, Any]:
    """Collect this process's garbage once (timed: what one full collection of the sandboxes' state
    costs), then move every object left out of the collector's reach (gc.freeze): the state the
    setup built is never traversed again, so a full collection during a tick cannot stall the
    sandboxes for that long."""
    began = time.monotonic()
    gc.collect()
    full = time.monotonic() - began
    gc.freeze()
    return {"full_collection_ms": round(1000 * full), "frozen_objects": gc.get_freeze_count()}


def refusal_shapes(windows: list[tuple[float, tuple[float, ...]]], started: float) -> list[dict[str, Any]]:
    """How the requests that filled Temu's window were spread when it refused one: paced arrivals fill
    the second evenly; a stall shows as a long gap followed by a bunch arriving together."""
    shapes = []
    for at, window in windows:
        times = [*window, at]
        gaps = [b - a for a, b in itertools.pairwise(times)]
        widest = max(range(len(gaps)), key=gaps.__getitem__) if gaps else 0
        shapes.append({"at": round(at - started, 2), "window": len(window),
                       "span_ms": round(1000 * (at - window[0])) if window else 0,
                       "widest_gap_ms": round(1000 * gaps[widest]) if gaps else 0,
                       "after_widest_gap": len(times) - widest - 1,
                       "within_last_200_ms": sum(1 for t in times if at - t <= 0.2)})
    return shapes


def missed_slots(log: Path, start: int, end: int) -> dict[str, Any]:
    """Slots the workers woke too late for and booked again (their warnings between two offsets of the
    workers' log): how many per budget, and how late (ms); and the requests sent late all the same,
    their last slots missed too (per budget)."""
    if end <= start or not log.exists():
        return {"count": 0, "by_budget": {}, "late_ms": summary([]), "booking_ms": summary([]),
                "sent_late": {}}
    with log.open("rb") as output:
        output.seek(start)
        text = output.read(end - start).decode(errors="replace")
    late: list[float] = []
    booking: list[float] = []
    budgets: Counter[str] = Counter()
    sent_late: Counter[str] = Counter()
    for line in text.splitlines():
        if not line.startswith("{") or (SLOT_MISSED not in line and SENT_LATE not in line):
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("message") == SENT_LATE:
            sent_late[str(entry.get("budget"))] += 1
            continue
        if entry.get("message") != SLOT_MISSED:
            continue
        budgets[str(entry.get("budget"))] += 1
        late.append(float(entry.get("late_ms") or 0))
        booking.append(float(entry.get("booking_ms") or 0))
    return {"count": len(late), "by_budget": dict(budgets), "late_ms": summary(late), "booking_ms": summary(booking),
            "sent_late": dict(sent_late)}




@dataclass
class Observed:
    """What one tick left behind: its times, the counters around it, what the harness placed and posted."""

    started: float
    drained: float
    before: dict[str, Any]
    after: dict[str, Any]
    new_orders: dict[str, str]  # Temu parent order -> connection label
    posted: dict[str, tuple[str, float, str]]  # tracking number -> (parent order, posted at, connection label)
    changed: int
    drain_error: str | None



class Fleet:
    def __init__(self, stack: LocalStack, shops: list[Shop], sizes: dict[str, Size], args: argparse.Namespace,
                 dynamo: DynamoCounter) -> None:
        assert stack.temu is not None and stack.wholecell is not None
        self.stack, self.shops, self.sizes, self.args, self.dynamo = stack, shops, sizes, args, dynamo
        self.temu, self.wholecell = stack.temu.state, stack.wholecell.state
        self.rng = random.Random(args.seed)
        self.template_env = {f: dict(env) for f, env in stack.environments.items()}  # before any worker runs
        self.confirms = TemuRecorder(stack.temu.app.wsgi_app)
        stack.temu.app.wsgi_app = self.confirms  # type: ignore[method-assign]
        self.wholecell_calls = WholeCellRecorder(stack.wholecell.app.wsgi_app)
        stack.wholecell.app.wsgi_app = self.wholecell_calls  # type: ignore[method-assign]
        self.tracking_seq = 0

    def say(self, text: str) -> None:
        print(text, flush=True)

    def api(self, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        response = self.stack.http(method, path, json=body)
        if response.status_code != expect:
            raise RuntimeError(f"{method} {path} answered {response.status_code}: {response.text[:300]}")
        return response.json() if response.content else None

    # ---------------------------------------------------------------- setup
    def configure(self, overrides: dict[str, str], concurrency: int, *, share_scale: float | None = None) -> None:
        """Every function's environment: the template's, with `overrides` (and with `share_scale`, its
        own per-worker Temu share, TEMU_RATE_LIMIT, multiplied by it); workers restart (cold)."""
        for function, env in self.template_env.items():
            own = dict(env)
            if share_scale is not None and "TEMU_RATE_LIMIT" in own:
                own["TEMU_RATE_LIMIT"] = f"{float(own['TEMU_RATE_LIMIT']) * share_scale:g}"
            self.stack.reconfigure(function, own | overrides)
        self.stack.set_concurrency(concurrency)

    def warm(self, concurrency: int) -> None:
        """`concurrency` warm workers of every consumer (an event each handler refuses), as a fleet
        ticking every few minutes keeps them."""
        calls = [f for f in CONSUMERS for _ in range(concurrency)] + [f for f in HTTP_FUNCTIONS for _ in range(2)]

        def refused(function: str) -> None:
            with contextlib.suppress(InvocationError):
                self.stack.invoke(function, {"warm_up": True})

        with ThreadPoolExecutor(max_workers=len(calls)) as pool:
            list(pool.map(refused, calls))

    def warm_runs(self, concurrency: int) -> None:
        """Every job run for 3 x `concurrency` small connections with nothing new (limits off), so the
        workers' first real runs (imports, clients, caches) are behind them, as in a fleet ticking every
        few minutes; on 2 cores, 60 workers doing that at a tick's start would hide the pacing."""
        small = [shop for shop in self.shops if shop.size == "small"][:3 * concurrency]
        for job in JOBS:
            for shop in small:
                self.api("POST", f"/admin/connections/{shop.connection_id}/jobs/{job}/run", expect=202)
        self.stack.drain(timeout=1800)

    def seed(self) -> None:
        rng = random.Random(self.args.seed)
        for shop in self.shops:
            codes = shop.codes
            self.wholecell.create_account(shop.app_id, shop.app_secret, skus=codes)
            self.wholecell.add_units(shop.app_id, [{"sku": code, "status": "Available", "warehouse": MAIN}
                                                   for code in codes for _ in range(UNITS_PER_SKU)])
            goods = [{"goodsName": f"Renewed Phone {shop.label} {g:04d}", "outGoodsSn": f"{shop.label}-G{g:04d}",
                      "skus": [{"skuSn": f"{shop.label}-{g:04d}-{s}", "stock": rng.randint(0, 5), "status": "active",
                                "specName": f"Variant {s}", "price": f"{rng.randint(100, 900)}.00"}
                               for s in range(SKUS_PER_GOODS)]} for g in range(shop.goods)]
            created = self.temu.create_shop(region="US", goods=goods)
            shop.mall_id = int(created["mallId"])
            with self.temu.lock:
                shop.sku_ids = {sku.sku_sn: sku_id for sku_id, sku in self.temu.shops[shop.mall_id].skus.items()}

        def connect(shop: Shop) -> None:
            created = self.stack.connect_with_webhook(
                shop.mall_id, {"app_id": shop.app_id, "app_secret": shop.app_secret}, f"Fleet {shop.label}", {
                    "order_import_enabled": True, "inventory_sync_enabled": True, "confirm_initial_push": True,
                    "order_status_map": STATUS_MAP, "inventory_statuses": ["Available"], "warehouses": [MAIN]})
            shop.connection_id = str(created["connection_id"])
            shop.webhook_url, shop.webhook_secret = created["webhook_url"], created["webhook_secret"]

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(connect, self.shops))

    def tick(self, jobs: list[str], timeout: float) -> None:
        for job in jobs:
            self.stack.fire_schedule(JOBS[job])
        self.stack.drain(timeout=timeout)

    def place_orders(self, shop: Shop, count: int, awaiting_share: float) -> list[str]:
        placed = []
        codes = shop.codes
        for _ in range(count):
            lines = [{"skuId": shop.sku_ids[code], "quantity": 1}
                     for code in self.rng.sample(codes, self.rng.choice((1, 1, 2)))]
            awaiting = self.rng.random() < awaiting_share
            sn = self.temu.add_order(shop.mall_id, lines, status=AWAITING if awaiting else PENDING)
            (shop.to_ship if awaiting else shop.pending).append(sn)
            placed.append(sn)
        return placed

    def setup(self) -> None:
        started = time.monotonic()
        self.seed()
        self.say(f"  seeded {len(self.shops)} accounts, shops and connections in {time.monotonic() - started:.0f} s")
        self.tick(["listing_import"], 1800)
        self.say(f"  listings imported ({time.monotonic() - started:.0f} s)")
        self.tick(["quantity_sync", "order_import"], 1800)  # every listing pushed; order watermarks set
        self.say(f"  first quantity sync and order import ({time.monotonic() - started:.0f} s)")
        for shop in self.shops:
            size = self.sizes[shop.size]
            self.place_orders(shop, size.setup_orders, awaiting_share=1.0)
            self.place_orders(shop, size.released, awaiting_share=0.0)
        self.tick(["order_import"], 1800)
        self.say(f"  setup orders imported ({time.monotonic() - started:.0f} s)")

    # ---------------------------------------------------------------- churn
    def change_quantities(self, shop: Shop, count: int) -> int:
        account = self.wholecell.account(shop.app_id)
        with self.wholecell._lock:
            free: dict[str, list[int]] = {}
            for unit in account.units.values():
                if unit.order_id is None and unit.status == "Available" and unit.warehouse == MAIN and unit.sku:
                    free.setdefault(unit.sku, []).append(unit.id)
        changed = 0
        for code in self.rng.sample(shop.codes, min(count, len(shop.codes))):
            kind = self.rng.random()
            units = free.get(code, [])
            if kind < 0.45 and units:
                self.wholecell.set_unit_status(shop.app_id, [units.pop()], "Sold")
            elif kind < 0.7 and units:
                self.wholecell.move_units(shop.app_id, [units.pop()], warehouse=OVERFLOW)
            else:
                self.wholecell.add_units(shop.app_id, [{"sku": code, "status": "Available", "warehouse": MAIN}])
            changed += 1
        return changed

    def before_tick(self) -> tuple[dict[str, str], int]:
        """New Temu orders (sn -> connection label), releases of earlier ones, quantity changes."""
        new: dict[str, str] = {}
        changed = 0
        for shop in self.shops:
            size = self.sizes[shop.size]
            for sn in self.place_orders(shop, size.new_orders, awaiting_share=0.2):
                new[sn] = shop.label
            for sn in shop.pending[:size.released]:
                if self.temu.orders[sn].status == PENDING:
                    self.temu.advance_order(sn)
                    shop.to_ship.append(sn)
            shop.pending = shop.pending[size.released:]
            changed += self.change_quantities(shop, size.changed_skus)
        return new, changed

    def shippable(self) -> list[tuple[Shop, int, str]]:
        """Orders awaiting shipment that WholeCell holds with their address: (shop, WholeCell id, sn)."""
        ready = []
        for shop in self.shops:
            held = {o["external_reference"]: o for o in self.wholecell.list_orders(shop.app_id, {"channel": "Temu"})}
            for sn in list(shop.to_ship):
                order = held.get(sn)
                if order and (order["shipping_address"] or {}).get("street1") and not order["shipments"]:
                    ready.append((shop, int(order["id"]), sn))
        return ready

    def ship_during(self, ready: list[tuple[Shop, int, str]], spread: float, stop: threading.Event,
                    posted: dict[str, tuple[str, float, str]]) -> None:
        """WholeCell posts one tracking number after another across `spread` seconds of the tick."""
        gap = spread / max(1, len(ready))
        for shop, order_id, sn in ready:
            if stop.wait(gap):
                return
            self.tracking_seq += 1
            number = f"FLT{self.tracking_seq:07d}"
            began = time.time()
            self.wholecell.add_shipment(shop.app_id, order_id, carrier=CARRIER, tracking_number=number)
            posted[number] = (sn, began, shop.label)
            shop.to_ship.remove(sn)

    # ---------------------------------------------------------------- one measured tick
    def measured_tick(self, label: str, concurrency: int, overrides: dict[str, str], *,
                      share_scale: float | None = None) -> dict[str, Any]:
        scale = self.args.scale
        self.say(f"tick '{label}': {concurrency} workers per consumer; warming up ...")
        self.configure(overrides, concurrency, share_scale=share_scale)
        self.warm(concurrency)
        self.warm_runs(concurrency)
        self.temu.configure_rate_limit(TEMU_LIMIT * scale)
        self.wholecell.set_rate_limit(WHOLECELL_LIMIT * scale)
        new_orders, changed = self.before_tick()
        ready = self.shippable()
        before = self.counters()
        posted: dict[str, tuple[str, float, str]] = {}
        stop = threading.Event()
        shipper = threading.Thread(target=self.ship_during, args=(ready, self.args.ship_spread / scale, stop, posted),
                                   daemon=True)
        self.say(f"  {len(new_orders)} new Temu orders, {changed} SKUs changed, {len(ready)} shipments to post; "
                 "firing every schedule")
        heap = frozen_heap()
        started, began = time.time(), time.monotonic()
        dumps = self.args.worker_log.with_name(f"bench-fleet-stalls-{concurrency}.txt")
        with MachineLoad() as load, ProcessStalls(dumps) as stalls:
            for function in JOBS.values():
                self.stack.fire_schedule(function)
            shipper.start()
            shipper.join()  # the posts belong to the tick: drained means after the last one too
            drain_error = None
            try:
                self.stack.drain(timeout=3 * 3600)
            except TimeoutError as exc:
                drain_error = str(exc)
            drained = time.time()
        stop.set()
        after = self.counters()
        self.temu.configure_rate_limit(None)
        self.wholecell.set_rate_limit(None)
        figures = self.figures(label, concurrency, Observed(started, drained, before, after, new_orders, posted,
                                                            changed, drain_error))
        figures["machine_cpu"] = load.figures()
        figures["harness_process"] = {**stalls.figures(), **heap}
        with self.temu.gateway_lock:
            refused = [w for w in self.temu.refused_windows if w[0] >= began]
        figures["temu_refusals"] = refusal_shapes(refused, began)
        figures["timeline"]["cpu_busy_percent"] = load.busy
        figures["timeline"]["harness_cpu_percent"] = load.harness
        figures["timeline"]["cpu_by_nice_percent"] = load.by_nice
        figures["timeline"]["runnable"] = load.runnable
        return figures

    def counters(self) -> dict[str, Any]:
        with self.temu.gateway_lock:
            temu = Counter(self.temu.request_counts)
            errors = Counter({int(k): v for k, v in self.temu.error_counts.items()})
        wholecell, throttled, endpoints = {}, {}, {}
        for shop in self.shops:
            account = self.wholecell.account(shop.app_id)
            grouped: Counter[str] = Counter()
            with self.wholecell._lock:
                for key, count in account.request_counts.items():
                    grouped[re.sub(r"/\d+", "/{id}", key)] += count  # one line per endpoint, not per id
                throttled[shop.label] = account.throttled
            endpoints[shop.label] = grouped
            wholecell[shop.label] = sum(endpoints[shop.label].values())
        return {"temu": temu, "temu_errors": errors, "wholecell": wholecell, "throttled": throttled,
                "wholecell_endpoints": endpoints,
                "dynamo": self.dynamo.snapshot(), "dlq": self.dead_letters(),
                "worker_log": self.args.worker_log.stat().st_size if self.args.worker_log.exists() else 0}

    def dead_letters(self) -> dict[str, int]:
        """Messages in each dead-letter queue, by the queue (its logical id) they were parked from."""
        return {logical_id: len(self.stack.dlq_messages(logical_id))
                for logical_id, queue in self.stack.template.queues.items() if queue.dead_letter_queue}

    def figures(self, label: str, concurrency: int, seen: Observed) -> dict[str, Any]:
        scale = self.args.scale
        started, drained, before, after = seen.started, seen.drained, seen.before, seen.after
        new_orders, posted, changed, drain_error = seen.new_orders, seen.posted, seen.changed, seen.drain_error
        temu = after["temu"] - before["temu"]
        refused_temu = after["temu_errors"][RATE_LIMITED] - before["temu_errors"][RATE_LIMITED]
        temu_total = sum(temu.values())
        temu_accepted = temu_total - refused_temu
        wholecell = {k: after["wholecell"][k] - before["wholecell"][k] for k in after["wholecell"]}
        throttled = {k: after["throttled"][k] - before["throttled"][k] for k in after["throttled"]}
        accepted = {k: wholecell[k] - throttled[k] for k in wholecell}
        busiest = max(accepted, key=lambda k: accepted[k])
        temu_bound = temu_accepted / (TEMU_LIMIT * scale)
        wholecell_bound = accepted[busiest] / (WHOLECELL_LIMIT * scale)
        bound = max(temu_bound, wholecell_bound)
        drain = drained - started
        dynamo = after["dynamo"] - before["dynamo"]
        pacing_writes = sum(n for (op, table), n in dynamo.items() if table == BUDGETS_TABLE and op == "UpdateItem")
        pacing_reads = sum(n for (op, table), n in dynamo.items() if table == BUDGETS_TABLE and op != "UpdateItem")
        store_calls = sum(n for (_, table), n in dynamo.items() if table != BUDGETS_TABLE)
        order_latency, imported, duplicates = self.order_latencies(new_orders, started)
        shipment_latency, confirmed = self.shipment_latencies(posted)
        return {
            "label": label, "workers_per_consumer": concurrency, "scale": scale,
            "drain_seconds": round(drain, 1), "drain_error": drain_error,
            "bound_seconds": round(bound, 1), "ratio": round(drain / bound, 2) if bound else None,
            "bound_from": "temu" if temu_bound >= wholecell_bound else f"wholecell {busiest}",
            "temu_requests": temu_total, "temu_accepted": temu_accepted, "temu_by_type": dict(temu.most_common()),
            "temu_refused_4000004": refused_temu,
            "wholecell_requests": sum(wholecell.values()), "wholecell_refused_429": sum(throttled.values()),
            "wholecell_refused_by_account": {k: n for k, n in throttled.items() if n},
            "wholecell_top": dict(Counter(accepted).most_common(5)),
            "wholecell_busiest": {"connection": busiest, "accepted": accepted[busiest], "by_endpoint": dict(
                (after["wholecell_endpoints"][busiest] - before["wholecell_endpoints"][busiest]).most_common())},
            "jobs": self.job_figures(started),
            "new_orders": len(new_orders), "orders_imported": imported, "orders_imported_twice": duplicates,
            "order_latency": order_latency,
            "shipments_posted": len(posted), "shipments_confirmed": confirmed, "shipment_latency": shipment_latency,
            "webhook_deliveries_failed": self.failed_deliveries(started),
            "skus_changed": changed,
            "pacing_store_writes": pacing_writes, "pacing_store_reads": pacing_reads,
            "pacing_writes_per_request": round(pacing_writes / max(1, temu_total + sum(wholecell.values())), 2),
            "other_dynamodb_calls": store_calls,
            "missed_slots": missed_slots(self.args.worker_log, before["worker_log"], after["worker_log"]),
            "dead_letters": sum(after["dlq"].values()) - sum(before["dlq"].values()),
            "shipment_dead_letters": after["dlq"]["ShipmentQueue"] - before["dlq"]["ShipmentQueue"],
            "timeline": self.timeline(started, drained),
        }

    def failed_deliveries(self, started: float) -> dict[str, int]:
        """WholeCell's webhook posts of this tick that our API did not answer 2xx, by status or error:
        a shipment whose post failed waits for the next reconcile (not part of this tick)."""
        outcomes: Counter[str] = Counter()
        for shop in self.shops:
            account = self.wholecell.account(shop.app_id)
            with self.wholecell._lock:
                records = [dict(r) for r in account.deliveries]
            for record in records:
                status = record.get("status")
                at = record.get("delivered_at")
                if at is None or datetime.fromisoformat(str(at)).timestamp() < started:
                    continue
                if not (isinstance(status, int) and 200 <= status < 300):
                    outcomes[str(status if status is not None else record.get("error"))] += 1
        return dict(outcomes)

    def timeline(self, started: float, drained: float) -> dict[str, list[int]]:
        """Per second of the tick: Temu calls (and those refused), WholeCell calls of the busiest account,
        and WholeCell calls refused (429) in any account."""
        with self.confirms.lock:
            temu = list(self.confirms.calls)
        with self.wholecell_calls.lock:
            wholecell = list(self.wholecell_calls.calls)
        apps = Counter(app for t, app, _ in wholecell if started <= t < drained)
        busiest = apps.most_common(1)[0][0] if apps else ""
        return {"temu": per_second([t for t, _, _ in temu], started, drained),
                "temu_refused": per_second([t for t, _, code in temu if code == RATE_LIMITED], started, drained),
                "temu_stock_edits": per_second([t for t, kind, _ in temu if kind == "bg.local.goods.stock.edit"],
                                               started, drained),
                f"wholecell_{busiest}": per_second([t for t, app, _ in wholecell if app == busiest], started, drained),
                "wholecell_refused": per_second([t for t, _, status in wholecell if status == 429], started, drained)}

    def job_figures(self, started: float) -> dict[str, Any]:
        """Per job, the runs of this tick (from the run log): outcomes, time from the tick's start to each
        run's start and end, and run durations."""
        def runs(shop: Shop) -> list[dict[str, Any]]:
            return list(self.api("GET", f"/admin/connections/{shop.connection_id}/runs")["items"])

        with ThreadPoolExecutor(max_workers=8) as pool:
            every = [r for found in pool.map(runs, self.shops) for r in found]
        figures: dict[str, Any] = {}
        for job in JOBS:
            mine = [r for r in every if r["job"] == job and r["started_at"]
                    and datetime.fromisoformat(r["started_at"]).timestamp() >= started - 1]
            begins = [datetime.fromisoformat(r["started_at"]).timestamp() - started for r in mine]
            ends = [datetime.fromisoformat(r["ended_at"]).timestamp() - started for r in mine if r["ended_at"]]
            durations = [e - b for r, b in zip(mine, begins, strict=True) if r["ended_at"]
                         for e in [datetime.fromisoformat(r["ended_at"]).timestamp() - started]]
            figures[job] = {"runs": len(mine), "outcomes": dict(Counter(r["outcome"] for r in mine)),
                            "start_after": summary(begins), "end_after": summary(ends), "duration": summary(durations)}
        return figures

    def order_latencies(self, new_orders: dict[str, str], started: float) -> tuple[dict[str, Any], int, int]:
        by_label = {shop.label: shop for shop in self.shops}
        waits, imported, duplicates = [], 0, 0
        wanted_by_app: dict[str, set[str]] = {}
        for sn, label in new_orders.items():
            wanted_by_app.setdefault(by_label[label].app_id, set()).add(sn)
        for app_id, wanted in wanted_by_app.items():
            seen: Counter[str] = Counter()
            account = self.wholecell.account(app_id)
            with self.wholecell._lock:
                orders = [(o.external_reference, o.created_at.timestamp()) for o in account.orders.values()]
            for reference, created in orders:
                if reference in wanted:
                    seen[reference] += 1
                    if seen[reference] == 1:
                        waits.append(created - started)
            imported += len(seen)
            duplicates += sum(1 for n in seen.values() if n > 1)
        return summary(waits), imported, duplicates

    def shipment_latencies(self, posted: dict[str, tuple[str, float, str]]) -> tuple[dict[str, Any], int]:
        with self.confirms.lock:
            accepted = {k: list(v) for k, v in self.confirms.accepted.items()}
        waits = [min(accepted[n]) - began for n, (_, began, _) in posted.items() if n in accepted]
        return summary(waits), sum(1 for n in posted if len(accepted.get(n, [])) >= 1)


def summary(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"count": 0, "p50": None, "p95": None, "max": None}
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, max(0, round(0.95 * len(ordered)) - 1))]
    return {"count": len(ordered), "p50": round(statistics.median(ordered), 1), "p95": round(p95, 1),
            "max": round(ordered[-1], 1)}


# --------------------------------------------------------------------------- report


def judge(checks: Checks, tick: dict[str, Any], *, bounded: bool) -> None:
    name = tick["label"]
    checks.check(tick["drain_error"] is None, f"{name}: the queues drained ({tick['drain_error']})")
    checks.check(tick["orders_imported"] == tick["new_orders"] and not tick["orders_imported_twice"],
                 f"{name}: every new order imported exactly once ({tick['orders_imported']} of {tick['new_orders']}, "
                 f"{tick['orders_imported_twice']} twice)")
    # today's settings dead-letter messages when one account's jobs together exceed its WholeCell limit
    # and a run or a confirmation exhausts its retries on 429s: the known limit of that mode, reported,
    # not judged; a shipment left unconfirmed without its message dead-lettered is a failure in any mode
    excused = 0 if bounded else tick["shipment_dead_letters"]
    checks.check(tick["shipments_confirmed"] + excused >= tick["shipments_posted"],
                 f"{name}: every shipment confirmed on Temu ({tick['shipments_confirmed']} of "
                 f"{tick['shipments_posted']}" + (f"; {excused} dead-lettered" if excused else "") + ")")
    if not bounded:
        if tick["dead_letters"]:
            print(f"  note: {name}: {tick['dead_letters']} message(s) dead-lettered, {tick['shipment_dead_letters']} "
                  "of them shipments (that mode's known limit; a redrive confirms those)")
        return
    checks.check(not tick["dead_letters"], f"{name}: no message dead-lettered ({tick['dead_letters']})")
    limit = round(BOUND_FACTOR * tick["bound_seconds"], 1)
    checks.check(tick["drain_seconds"] <= limit,
                 f"{name}: drain {tick['drain_seconds']} s <= {BOUND_FACTOR} x bound {tick['bound_seconds']} s "
                 f"= {limit} s")
    period = TICK_SECONDS / tick["scale"]
    for what in ("order_latency", "shipment_latency"):
        p95 = tick[what]["p95"]
        checks.check(p95 is not None and p95 <= period, f"{name}: {what} p95 {p95} s within one tick ({period:g} s)")
    checks.check(tick["temu_refused_4000004"] == 0 and tick["wholecell_refused_429"] == 0,
                 f"{name}: no request refused by a limit (Temu {tick['temu_refused_4000004']}, "
                 f"WholeCell {tick['wholecell_refused_429']})")


def report(ticks: list[dict[str, Any]]) -> None:
    def latency(figures: dict[str, Any]) -> str:
        return f"{figures['p50']} / {figures['p95']} s (n={figures['count']})"

    def ends(job: dict[str, Any]) -> str:
        return f"{job['end_after']['p50']} / {job['end_after']['max']} s (n={job['runs']})"

    rows = [
        ("workers per consumer", *(str(t["workers_per_consumer"]) for t in ticks)),
        ("drain time", *(f"{t['drain_seconds']} s" for t in ticks)),
        ("physical bound", *(f"{t['bound_seconds']} s ({t['bound_from']})" for t in ticks)),
        ("drain / bound", *(f"{t['ratio']}x" for t in ticks)),
        ("Temu requests (4000004)", *(f"{t['temu_requests']} ({t['temu_refused_4000004']})" for t in ticks)),
        ("WholeCell requests (429)", *(f"{t['wholecell_requests']} ({t['wholecell_refused_429']})" for t in ticks)),
        ("busiest account's WholeCell", *(f"{t['wholecell_busiest']['accepted']}" for t in ticks)),
        *((f"{job} runs end p50 / max", *(ends(t["jobs"][job]) for t in ticks)) for job in JOBS),
        ("order-import latency p50 / p95", *(latency(t["order_latency"]) for t in ticks)),
        ("shipment latency p50 / p95", *(latency(t["shipment_latency"]) for t in ticks)),
        ("webhook posts not answered 2xx", *(str(sum(t["webhook_deliveries_failed"].values()) or 0)
                                             for t in ticks)),
        ("pacing store writes (reads)", *(f"{t['pacing_store_writes']} ({t['pacing_store_reads']})" for t in ticks)),
        ("pacing writes per API request", *(str(t["pacing_writes_per_request"]) for t in ticks)),
        ("slots missed, booked again", *(str(t["missed_slots"]["count"]) for t in ticks)),
        ("requests sent late all the same", *(str(sum(t["missed_slots"]["sent_late"].values())) for t in ticks)),
        ("machine CPU busy (mean; s at >= 95 %)", *(f"{t['machine_cpu']['mean_percent']} %; "
                                                   f"{t['machine_cpu']['seconds_at_95_percent_or_more']} s"
                                                   for t in ticks)),
        (f"CPU by niceness {' / '.join(map(str, NICENESS))} (mean; saturated)", *(
            " / ".join(str(t["machine_cpu"]["by_nice_mean_percent"][n]) for n in NICENESS) + "; "
            + " / ".join(str(t["machine_cpu"]["by_nice_saturated_percent"][n]) for n in NICENESS) for t in ticks)),
        ("processes ready to run p50 / max", *(" / ".join(str(v) for v in t["machine_cpu"]["runnable_p50_max"] or [])
                                               for t in ticks)),
        ("harness process stalls > 100 ms (longest)", *(f"{t['harness_process']['stalls_over_100_ms']} "
                                                        f"({t['harness_process']['longest_stall_ms']} ms)"
                                                        for t in ticks)),
        ("full GC before the tick (frozen after)", *(f"{t['harness_process']['full_collection_ms']} ms "
                                                     f"({t['harness_process']['frozen_objects']:,} objects)"
                                                     for t in ticks)),
        ("harness process CPU (mean; s at >= 90 %)", *(f"{t['machine_cpu']['harness_mean_percent_of_a_core']} %; "
                                                      f"{t['machine_cpu']['harness_seconds_at_90_percent_or_more']} s"
                                                      for t in ticks)),
    ]
    print_table(("", *(t["label"] for t in ticks)), rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--small", type=int, default=180)
    parser.add_argument("--medium", type=int, default=19)
    parser.add_argument("--large-goods", type=int, default=5000, help="goods of the large shop (x4 SKUs)")
    parser.add_argument("--workers", type=int, default=None,
                        help="MaxJobConcurrency for the shared-budget tick (default: the template's)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply both limits and the workers' rates")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--shared-only", action="store_true", help="skip the tick under today's settings")
    parser.add_argument("--ship-spread", type=float, default=60.0,
                        help="seconds of the tick across which WholeCell posts the shipments")
    parser.add_argument("--worker-log", type=Path, default=Path(tempfile.gettempdir()) / "bench-fleet-workers.log",
                        help="where the workers' output goes")
    args = parser.parse_args(argv)
    sizes = fleet_sizes(args)
    shops = plan_fleet(sizes)
    parameters = {"LogLevel": "WARNING", "SharedBudgets": "enabled"}
    if args.workers:
        parameters["MaxJobConcurrency"] = str(args.workers)
    # the template's worker count per consumer (MaximumConcurrency) with the shared budgets
    template = load_template(ROOT / "template.yaml", parameters)
    workers = max(m.maximum_concurrency or 2 for f in template.functions.values() for m in f.sqs_mappings)
    began = time.monotonic()
    with fast_dynamodb(niceness=AWS_NICENESS) as engine, DynamoCounter(engine).running() as dynamo, \
            moto_in_its_own_process(), \
            LocalStack(ROOT, api_port=0, dynamodb_endpoint=dynamo.url, parameters=parameters,
                       env_overrides={"POWERTOOLS_METRICS_DISABLED": "true"}, concurrency=workers,
                       worker_output=args.worker_log, worker_niceness=WORKER_NICENESS, enforce_iam=False) as stack:
        print(f"DynamoDB engine: {engine_description()} behind a counting proxy; SQS and Secrets Manager on moto "
              "(a process of its own); "
              f"{len(shops)} connections ({args.small} small, {args.medium} medium, 1 large of "
              f"{args.large_goods * SKUS_PER_GOODS:,} listings); clocks x{args.scale:g}", flush=True)
        fleet = Fleet(stack, shops, {s.name: s for s in sizes}, args, dynamo)
        fleet.configure({"WHOLECELL_RATE_LIMIT": str(SETUP_RATE), "TEMU_RATE_LIMIT": str(SETUP_RATE),
                         "TEMU_APP_RATE_LIMIT": str(SETUP_RATE), "TEMU_PUSH_WORKERS": "16"}, workers)
        fleet.say("setup (limits off) ...")
        fleet.setup()
        wholecell = {"WHOLECELL_RATE_LIMIT": f"{WHOLECELL_LIMIT * args.scale:g}"}
        ticks = []
        if not args.shared_only:
            ticks.append(fleet.measured_tick("today: 2 workers, per-worker shares", 2,
                                             wholecell | {"BUDGETS_TABLE": ""}, share_scale=args.scale))
        ticks.append(fleet.measured_tick(f"shared budgets: {workers} workers", workers,
                                         wholecell | {"TEMU_APP_RATE_LIMIT": f"{TEMU_LIMIT * args.scale:g}"}))
    checks = Checks()
    for tick in ticks:
        judge(checks, tick, bounded=tick is ticks[-1])
    print()
    report(ticks)
    total = round(time.monotonic() - began, 1)
    args.output.write_text(json.dumps({"engine": "dynalite", "fleet": [asdict(s) for s in sizes],
                                       "connections": len(shops), "ticks": ticks, "total_seconds": total,
                                       "checks_failed": checks.failed}, indent=2) + "\n")
    print(f"checks: {checks.passed} passed, {len(checks.failed)} failed; total {total} s; figures in "
          f"{args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output}")
    return 1 if checks.failed else 0


if __name__ == "__main__":
    sys.exit(main())
