"""A fast DynamoDB-compatible engine for benchmarks: dynalite, in memory, on a localhost port.

moto answers the DynamoDB API faithfully but it is not a benchmark engine: its queries
cost O(table size) per page. Benchmarks may run the same store code (PynamoDB, boto3)
against dynalite instead and must say so; `ENGINE` names it for reports.

    from bench.engine import fast_dynamodb
    with fast_dynamodb() as endpoint:      # e.g. "http://127.0.0.1:40123"
        ...                                # point DynamoDB clients at it

The engine's node packages are pinned in bench/package.json and bench/package-lock.json;
`npm ci --prefix bench` runs on first use (or when the lock file changed), so the first
call needs node (>= 20), npm and the npm registry; later calls need node only.

Command line:
    python -m bench.engine serve [--port N]     # run the engine until Ctrl-C or kill
    python -m bench.engine compare [--items N]  # time moto against the engine (see `compare`)

Measured with `compare` (2 cores, PynamoDB 6.1, moto 5.2.5 server, dynalite 4.0.0 on node 20):
200,000 items (hash connection_id + range unit_id, 6 attributes) in one partition, seconds,
two runs on a shared machine:

    step                          moto          dynalite
    batch_write (PynamoDB)        41.9 - 52.1   24.0 - 32.5   (8,000 requests; ~40% is client CPU)
    query the whole partition    125.8 - 130.9   6.7 - 7.2
    2,000 single-item updates      9.5 - 15.8    1.8 - 2.4

What dynalite lacks that the store might want one day: TransactWriteItems/TransactGetItems,
UpdateTimeToLive (local.stack skips it: nothing expires locally anyway), PartiQL. All of
these answer UnknownOperationException.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import requests

BENCH_DIR = Path(__file__).resolve().parent
PACKAGE_JSON = BENCH_DIR / "package.json"
PACKAGE_LOCK = BENCH_DIR / "package-lock.json"
NODE_MODULES = BENCH_DIR / "node_modules"
INSTALLED_LOCK = NODE_MODULES / ".package-lock.json"  # npm's record of what node_modules holds
DYNALITE_INDEX = NODE_MODULES / "dynalite" / "index.js"
ENGINE = "dynalite"
START_TIMEOUT_SECONDS = 20.0
# Starts dynalite in memory, prints "listening <port>", and exits once its stdin ends (parent gone).
_LAUNCHER = """
const [modulePath, host, port] = process.argv.slice(1);
const server = require(modulePath)({createTableMs: 0, deleteTableMs: 0, updateTableMs: 0});
server.on("error", (err) => { console.error(String(err)); process.exit(1); });
server.listen(Number(port), host, () => console.log("listening " + server.address().port));
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
"""
DUMMY_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
             "AWS_DEFAULT_REGION": "us-east-1", "AWS_REGION": "us-east-1"}


class EngineUnavailableError(RuntimeError):
    """The engine cannot run here (no node or npm, install failed, or it did not start)."""


def pinned_version() -> str:
    """The exact dynalite version bench/package.json pins."""
    version = json.loads(PACKAGE_JSON.read_text())["dependencies"][ENGINE]
    return str(version)


def engine_description() -> str:
    """What a benchmark report should name as its DynamoDB engine."""
    return f"{ENGINE} {pinned_version()} (in memory, node {node_version() or 'unknown'})"


def node_version() -> str | None:
    node = shutil.which("node")
    if node is None:
        return None
    result = subprocess.run([node, "--version"], capture_output=True, text=True, check=False, timeout=30)
    return result.stdout.strip() or None


def _installed_version() -> str | None:
    try:
        return str(json.loads((NODE_MODULES / ENGINE / "package.json").read_text())["version"])
    except (OSError, ValueError, KeyError):
        return None


def is_stale() -> bool:
    """node_modules is missing, older than the lock file, or holds another dynalite version."""
    if not INSTALLED_LOCK.is_file() or not DYNALITE_INDEX.is_file():
        return True
    if INSTALLED_LOCK.stat().st_mtime < max(PACKAGE_LOCK.stat().st_mtime, PACKAGE_JSON.stat().st_mtime):
        return True
    return _installed_version() != pinned_version()


def ensure_installed() -> None:
    """`npm ci --prefix bench` when bench/node_modules is missing or stale."""
    if shutil.which("node") is None:
        raise EngineUnavailableError("node is not installed (dynalite needs node >= 20)")
    if not is_stale():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise EngineUnavailableError("npm is not installed (needed once to install dynalite)")
    result = subprocess.run([npm, "ci", "--prefix", str(BENCH_DIR), "--no-audit", "--no-fund"],
                            capture_output=True, text=True, check=False, timeout=600)
    if result.returncode != 0 or is_stale():
        raise EngineUnavailableError(f"npm ci --prefix bench failed ({result.returncode}): "
                                     f"{result.stderr.strip()[-2000:]}")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _answers(endpoint: str) -> bool:
    """Any HTTP answer means the engine is up (dynalite rejects an unsigned GET with 4xx)."""
    try:
        requests.get(endpoint, timeout=1)
    except requests.RequestException:
        return False
    return True


def _read_port(process: subprocess.Popen[bytes], deadline: float) -> int | None:
    """The port the launcher reports on its first stdout line, or None if it exits or stays silent."""
    assert process.stdout is not None
    while process.poll() is None and time.monotonic() < deadline:
        ready, _, _ = select.select([process.stdout], [], [], 0.1)
        if ready:
            line = process.stdout.readline().decode(errors="replace").split()
            return int(line[1]) if len(line) == 2 and line[0] == "listening" else None
    return None


def _stop(process: subprocess.Popen[bytes]) -> None:
    """Close its stdin (the launcher exits on end of input), then terminate, then kill."""
    for stream in (process.stdin, process.stdout):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


@contextlib.contextmanager
def fast_dynamodb(port: int | None = None, *, niceness: int = 0) -> Iterator[str]:
    """Run dynalite in memory on 127.0.0.1 (a port it picks, unless one is given); yields its endpoint URL.
    A `niceness` above 0 starts the engine (all its threads) at that nice value: the machine's other
    processes get the CPU first.

    Tables become ACTIVE at once (no CREATING delay). Everything is lost on exit. The engine
    also exits when this process dies, even by SIGKILL (it watches its stdin, a pipe from here).
    """
    ensure_installed()
    node = shutil.which("node")
    assert node is not None  # ensure_installed checked
    with tempfile.TemporaryFile() as errors:
        niced = ["nice", "-n", str(niceness)] if niceness else []
        process = subprocess.Popen(
            [*niced, node, "-e", _LAUNCHER, str(NODE_MODULES / ENGINE), "127.0.0.1", str(port or 0)],
            cwd=BENCH_DIR, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors)
        try:
            deadline = time.monotonic() + START_TIMEOUT_SECONDS
            bound = _read_port(process, deadline)
            endpoint = f"http://127.0.0.1:{bound}"
            while bound is not None and not _answers(endpoint) and time.monotonic() < deadline:
                time.sleep(0.05)
            if bound is None or not _answers(endpoint):
                errors.seek(0)
                reason = errors.read().decode(errors="replace").strip()[-2000:] or "no answer"
                raise EngineUnavailableError(f"{ENGINE} did not start: {reason}")
            yield endpoint
        finally:
            _stop(process)


# --- comparison: moto against the engine, for the same work ---------------------------------------
def _timed(label: str, results: dict[str, float], work: Callable[[], object]) -> None:
    started = time.perf_counter()
    work()
    results[label] = round(time.perf_counter() - started, 2)


def run_workload(endpoint: str, items: int, updates: int) -> dict[str, float]:
    """Batch-write `items` small items into one partition (PynamoDB batch_write), query the whole
    partition, then update `updates` items one by one. Seconds per step."""
    from pynamodb.attributes import NumberAttribute, UnicodeAttribute  # noqa: PLC0415 - CLI-only imports
    from pynamodb.models import Model  # noqa: PLC0415

    class Unit(Model):
        class Meta:
            table_name = f"bench-units-{int(time.time() * 1000)}"
            host = endpoint
            region = "us-east-1"
            aws_access_key_id = "testing"
            aws_secret_access_key = "testing"
            billing_mode = "PAY_PER_REQUEST"

        connection_id = UnicodeAttribute(hash_key=True)
        unit_id = NumberAttribute(range_key=True)
        sku = UnicodeAttribute()
        status = UnicodeAttribute()
        warehouse = UnicodeAttribute()
        updated_at = UnicodeAttribute()

    Unit.create_table(wait=True)
    results: dict[str, float] = {}

    def write() -> None:
        with Unit.batch_write() as batch:
            for i in range(items):
                batch.save(Unit("conn-1", i, sku=f"SKU-{i % 20_000:05d}", status="Available",
                                warehouse="Main Warehouse", updated_at="2026-01-01T00:00:00.000-05:00"))

    def query() -> None:
        count = sum(1 for _ in Unit.query("conn-1"))
        if count != items:
            raise AssertionError(f"query returned {count} of {items} items")

    def update() -> None:
        step = max(1, items // max(1, updates))
        for i in range(updates):
            Unit("conn-1", (i * step) % items).update(actions=[Unit.status.set("Sold"),
                                                               Unit.updated_at.set("2026-01-02T00:00:00.000-05:00")])

    _timed("batch_write", results, write)
    _timed("query_partition", results, query)
    _timed("single_updates", results, update)
    return results


@contextlib.contextmanager
def _moto() -> Iterator[str]:
    from moto.server import ThreadedMotoServer  # noqa: PLC0415 - CLI-only import

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request access log
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def compare(items: int = 200_000, updates: int = 2_000) -> dict[str, Any]:
    """The same workload on moto and on the fast engine, in seconds."""
    for key, value in DUMMY_ENV.items():
        os.environ.setdefault(key, value)
    report: dict[str, Any] = {"items": items, "updates": updates, "engine": engine_description()}
    with _moto() as endpoint:
        report["moto"] = run_workload(endpoint, items, updates)
    with fast_dynamodb() as endpoint:
        report[ENGINE] = run_workload(endpoint, items, updates)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.engine", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the engine until interrupted")
    serve.add_argument("--port", type=int, default=None)
    comparison = sub.add_parser("compare", help="time moto and the engine on the same workload")
    comparison.add_argument("--items", type=int, default=200_000)
    comparison.add_argument("--updates", type=int, default=2_000)
    args = parser.parse_args(argv)
    if args.command == "serve":
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # stop the engine on `kill` too
        with fast_dynamodb(args.port) as endpoint:
            print(f"{engine_description()} at {endpoint} (AWS_ENDPOINT_URL_DYNAMODB={endpoint}); Ctrl-C stops it",
                  flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                while True:
                    time.sleep(3600)
        return 0
    print(json.dumps(compare(args.items, args.updates), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
