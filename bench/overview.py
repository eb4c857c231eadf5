"""`make bench`: every benchmark, then one overview table and bench/results.json.

Runs, one after the other (each prints its own table and checks its own bounds):
`bench.quantity` (quantity sync, 200,000 units), `bench.orders` (1,000 new orders, then
address backfill and shipment confirmations) and
`bench.footprint` (cold starts, sizes, Temu budget, fan-out of 1,000 connections); then
gathers their JSON, adds the peak memory of each job's worker over its scenario, prints one
table and writes bench/results.json. Exits non-zero when any benchmark missed a bound.

    python -m bench.overview [--skip quantity,orders] [--reuse]   # --reuse: read existing JSON only
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCHES = {  # name -> (module, JSON it writes, the Lambda function whose worker it measures)
    "quantity": ("bench.quantity", "quantity.json", "QuantitySyncFunction"),
    "orders": ("bench.orders", "orders.json", "OrderImportFunction"),
    "footprint": ("bench.footprint", "footprint.json", None),
}


def _numbers(tree: Any, key_suffix: str, path: str = "") -> Iterator[tuple[str, float]]:
    """Every numeric value whose key ends with `key_suffix`, with where it was found."""
    if isinstance(tree, dict):
        for key, value in tree.items():
            here = f"{path}.{key}" if path else str(key)
            if str(key).endswith(key_suffix) and isinstance(value, int | float) and not isinstance(value, bool):
                yield here, float(value)
            else:
                yield from _numbers(value, key_suffix, here)
    elif isinstance(tree, list):
        for index, value in enumerate(tree):
            yield from _numbers(value, key_suffix, f"{path}[{index}]")


def run(names: list[str], reuse: bool) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for name in names:
        module, output, _ = BENCHES[name]
        started = time.monotonic()
        code = 0
        if not reuse:
            print(f"\n===== {module} =====", flush=True)
            code = subprocess.run([sys.executable, "-m", module], cwd=ROOT, check=False).returncode
        path = ROOT / "bench" / output
        figures = json.loads(path.read_text()) if path.exists() else None
        results[name] = {"exit_code": code, "seconds": round(time.monotonic() - started, 1), "figures": figures}
    return results


def memory_peaks(results: dict[str, Any]) -> dict[str, Any]:
    """Each job worker's peak memory over its scenario: a benchmark names its functions in
    `peak_rss_mb_by_function`, or its one function (BENCHES) has every `*peak_rss_mb` figure."""
    from local.template import load_template  # noqa: PLC0415

    functions = load_template(ROOT / "template.yaml").functions
    found: dict[str, float] = {}

    def gather(figures: dict[str, Any] | None, function: str | None) -> None:
        if not figures:
            return
        named = figures.get("peak_rss_mb_by_function") or {}
        if not named and function is not None:
            values = [value for _, value in _numbers(figures, "peak_rss_mb")]
            named = {function: max(values)} if values else {}
        for name, value in named.items():
            if value:
                found[name] = max(found.get(name, 0.0), float(value))

    for name, result in results.items():
        gather(result["figures"], BENCHES[name][2])
    listings = ROOT / "bench" / "listings.json"
    if listings.exists():  # from `make bench-listings`, when it was run
        gather(json.loads(listings.read_text()), "ListingImportFunction")
    return {name: {"peak_rss_mb": value, "memory_mb": functions[name].memory_size} for name, value in found.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip", default="", help="comma-separated benchmarks not to run (quantity, orders)")
    parser.add_argument("--reuse", action="store_true", help="read the benchmarks' existing JSON, run nothing")
    args = parser.parse_args(argv)
    skipped = {name.strip() for name in args.skip.split(",") if name.strip()}
    names = [name for name in BENCHES if name not in skipped]
    results = run(names, args.reuse)
    peaks = memory_peaks(results)
    overview = {"benchmarks": {name: {"exit_code": r["exit_code"], "seconds": r["seconds"]}
                               for name, r in results.items()},
                "memory_peaks": peaks, "details": {name: r["figures"] for name, r in results.items()}}
    (ROOT / "bench" / "results.json").write_text(json.dumps(overview, indent=2) + "\n")

    print("\n===== overview =====")
    print(f"{'benchmark':<12}{'result':>10}{'seconds':>10}")
    for name, r in results.items():
        status = "missing" if r["figures"] is None else ("ok" if r["exit_code"] == 0 else "FAILED")
        print(f"{name:<12}{status:>10}{r['seconds']:>10.0f}")
    footprint = results.get("footprint", {}).get("figures") or {}
    if footprint:
        starts = footprint["cold_start"]
        slowest = max(starts.items(), key=lambda item: item[1]["import_ms_median"])
        print(f"\ncold start (import, median): {min(r['import_ms_median'] for r in starts.values()):.0f}-"
              f"{slowest[1]['import_ms_median']:.0f} ms across {len(starts)} handlers (slowest {slowest[0]})")
        layer = footprint["layer"]
        if "layer_unzipped_bytes" in layer:
            print(f"layer: {layer['layer_unzipped_bytes'] / 2**20:.1f} MB unzipped "
                  f"({layer['layer_unzipped_share_of_limit']:.0%} of 250 MB); largest function code "
                  f"{max(r['code_bytes'] for r in starts.values()) / 1024:.1f} KB")
        budget = footprint["temu_budget"]
        print(f"Temu ceiling: {budget['ceiling_requests_per_second']:g} req/s of {budget['app_limit']}; fan-out of "
              f"{footprint['fan_out']['connections']} connections: one message each per job")
    if peaks:
        print("\nworker peak memory over its scenario:")
        for function, peak in peaks.items():
            print(f"  {function:<26}{peak['peak_rss_mb']:>8.0f} MB of {peak['memory_mb']} MB")
    print(f"\nwritten to {ROOT / 'bench' / 'results.json'}")
    failed = [name for name, r in results.items() if r["exit_code"] != 0 or r["figures"] is None]
    for name in failed:
        print(f"FAILED: {name}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
