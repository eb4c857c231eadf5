"""Cold start and package size of every handler, and the fan-out of one schedule tick.

    python -m bench.footprint [--runs N] [--connections N] [--no-layer-download]

- Cold-start import time: each handler's module imported in a fresh interpreter with its
  template environment (median of N runs). This is the import part of a Lambda cold start,
  measured on this machine's CPU; Lambda adds its own init and the layer's unzip.
- Sizes: each function's code (as `sam build` ships it) and the shared layer: the pinned
  runtime requirements downloaded as wheels for the deployment target (Linux arm64,
  CPython 3.13; needs the PyPI registry, cached in bench/.cache) plus the package; set
  against Lambda's 250 MB unzipped limit.
- Fan-out: N active connections (moto, in process) and one schedule tick of every job: the
  messages sent, the SendMessageBatch calls and the time they take, and the Temu request
  ceiling the template allows however many shops there are (with shared budgets, the
  default, the app-wide TemuAppRateLimit every worker books; with SharedBudgets=disabled,
  workers x rate per consumer plus the admin/OAuth rate).

Figures are printed as a table and written to bench/footprint.json.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import statistics
import subprocess
import sys
import time
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from local.stack import env_json
from local.template import load_template

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "bench" / ".cache"
LAMBDA_UNZIPPED_LIMIT_MB = 250
TEMU_APP_LIMIT = 20
IMPORT_SNIPPET = ("import sys, time\nt = time.perf_counter()\nimport app  # noqa\n"
                  "print(time.perf_counter() - t)\n")


def _tree_bytes(path: Path) -> tuple[int, int]:
    """(bytes on disk, bytes zipped) of a source tree, without caches."""
    buffer = io.BytesIO()
    raw = 0
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(path.rglob("*")):
            if file.is_file() and "__pycache__" not in file.parts and file.suffix != ".pyc":
                raw += file.stat().st_size
                archive.write(file, file.relative_to(path))
    return raw, len(buffer.getvalue())


def cold_starts(runs: int) -> dict[str, dict[str, Any]]:
    template = load_template(ROOT / "template.yaml")
    environments = env_json(template)
    results: dict[str, dict[str, Any]] = {}
    for logical_id, function in sorted(template.functions.items()):
        code = ROOT / function.code_uri
        env = {**os.environ, **environments[logical_id], "PYTHONPATH": f"{code}{os.pathsep}{ROOT / 'layers/common'}",
               "POWERTOOLS_TRACE_DISABLED": "true", "PYTHONDONTWRITEBYTECODE": "1"}
        times = []
        for _ in range(runs):
            done = subprocess.run([sys.executable, "-c", IMPORT_SNIPPET], cwd=code, env=env, capture_output=True,
                                  text=True, timeout=120, check=False)
            if done.returncode != 0:
                raise RuntimeError(f"{logical_id}: import failed: {done.stderr[-800:]}")
            times.append(float(done.stdout.strip().splitlines()[-1]))
        raw, zipped = _tree_bytes(code)
        results[logical_id] = {"import_ms_median": round(statistics.median(times) * 1000, 1),
                               "import_ms_max": round(max(times) * 1000, 1), "code_bytes": raw,
                               "code_zip_bytes": zipped, "memory_mb": function.memory_size}
    return results


def layer_size(download: bool) -> dict[str, Any]:
    """The layer as deployed: target wheels (unzipped sizes summed) plus the package."""
    package_raw, package_zip = _tree_bytes(ROOT / "layers/common/wholecell_temu")
    result: dict[str, Any] = {"package_bytes": package_raw, "package_zip_bytes": package_zip}
    if not download:
        return result | {"dependencies": "not measured (--no-layer-download)"}
    wheels = CACHE / "layer-wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "-r",
         str(ROOT / "layers/common/requirements.txt"), "--dest", str(wheels), "--only-binary=:all:",
         "--platform", "manylinux2014_aarch64", "--python-version", "3.13", "--implementation", "cp"],
        capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        return result | {"dependencies": f"not measured: pip download failed: {done.stderr.strip()[-300:]}"}
    unzipped = zipped = 0
    for wheel in wheels.glob("*.whl"):
        zipped += wheel.stat().st_size
        with zipfile.ZipFile(wheel) as archive:
            unzipped += sum(info.file_size for info in archive.infolist())
    total = unzipped + package_raw
    return result | {"dependency_wheels": len(list(wheels.glob("*.whl"))), "dependencies_bytes": unzipped,
                     "dependencies_zip_bytes": zipped, "layer_unzipped_bytes": total,
                     "layer_unzipped_share_of_limit": round(total / (LAMBDA_UNZIPPED_LIMIT_MB * 2**20), 3)}


def temu_budget() -> dict[str, Any]:
    """The Temu request ceiling of the template's defaults. With shared budgets (BUDGETS_TABLE
    set) every worker of every function books one app-wide schedule at TEMU_APP_RATE_LIMIT, however
    many workers run; without, workers x rate of every Temu-calling consumer plus admin/OAuth."""
    template = load_template(ROOT / "template.yaml")
    environments = env_json(template)
    admin = environments["AdminFunction"]
    if admin["BUDGETS_TABLE"]:
        app_rate = float(admin["TEMU_APP_RATE_LIMIT"])
        return {"mode": "shared", "app_rate": app_rate, "ceiling_requests_per_second": app_rate,
                "app_limit": TEMU_APP_LIMIT}
    consumers: dict[str, Any] = {}
    total = float(admin["TEMU_RATE_LIMIT"])
    for logical_id, function in sorted(template.functions.items()):
        if not function.sqs_mappings or logical_id == "ShipmentReconcileFunction":
            continue
        workers = function.sqs_mappings[0].maximum_concurrency or 0
        rate = float(environments[logical_id]["TEMU_RATE_LIMIT"])
        consumers[logical_id] = {"workers": workers, "rate_per_worker": rate, "budget": workers * rate}
        total += workers * rate
    return {"mode": "disabled", "consumers": consumers, "admin_and_oauth": float(admin["TEMU_RATE_LIMIT"]),
            "ceiling_requests_per_second": total, "app_limit": TEMU_APP_LIMIT}


def fan_out(connections: int) -> dict[str, Any]:
    """One tick of every scheduled job for `connections` active shops, on moto in process."""
    import boto3  # noqa: PLC0415 - benchmark-only imports, after the cold-start measurements
    from moto import mock_aws  # noqa: PLC0415
    from wholecell_temu.config import load_settings  # noqa: PLC0415
    from wholecell_temu.domain.settings import JOBS, ConnectionSettings  # noqa: PLC0415
    from wholecell_temu.jobs.framework import fan_out as tick  # noqa: PLC0415
    from wholecell_temu.services import Services  # noqa: PLC0415
    from wholecell_temu.store.connections import ConnectionRepository  # noqa: PLC0415
    from wholecell_temu.store.runs import RunLog  # noqa: PLC0415
    from wholecell_temu.store.tables import ConnectionModel, bind_tables  # noqa: PLC0415

    with mock_aws():
        os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
        sqs = boto3.client("sqs", region_name="us-east-1")
        urls = {job: sqs.create_queue(QueueName=f"{job}-queue")["QueueUrl"] for job in JOBS}
        env = {f"{n}_TABLE": f"{n.title()}Table" for n in
               ["CONNECTIONS", "LISTINGS", "ORDERS", "SHIPMENTS", "INVENTORY", "RUNS", "IDEMPOTENCY"]}
        env |= {f"{job.upper()}_QUEUE_URL": url for job, url in urls.items()}
        env |= {"SHIPMENT_QUEUE_URL": "unused", "INTERNAL_SECRET_ARN": "x", "TEMU_APP_KEY": "k",
                "TEMU_APP_SECRET": "s"}
        settings = load_settings(env)
        bind_tables(settings)
        ConnectionModel.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
        now = time.time()
        stamp = datetime.now(UTC)
        enabled = ConnectionSettings(order_import_enabled=True, inventory_sync_enabled=True).model_dump(mode="json")
        with ConnectionModel.batch_write() as batch:
            for n in range(connections):
                batch.save(ConnectionModel(f"c{n:05d}", name=f"shop {n}", status="active", created_at=stamp,
                                           updated_at=stamp, temu_region="US", credentials_secret_arn="x",
                                           credentials_version="v", settings=enabled))
        services = Services(settings, ConnectionRepository(), RunLog(), None)  # type: ignore[arg-type]
        jobs: dict[str, Any] = {}
        for job in JOBS:
            started = time.perf_counter()
            sent = tick(services, job, sqs=sqs)
            elapsed = time.perf_counter() - started
            depth = int(sqs.get_queue_attributes(QueueUrl=urls[job], AttributeNames=[
                "ApproximateNumberOfMessages"])["Attributes"]["ApproximateNumberOfMessages"])
            jobs[job] = {"messages": sent, "queued": depth, "batch_calls": -(-sent // 10),
                         "seconds": round(elapsed, 2)}
        return {"connections": connections, "jobs": jobs, "seeded_in_seconds": round(time.time() - now, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--no-layer-download", action="store_true")
    args = parser.parse_args(argv)
    results: dict[str, Any] = {"cold_start": cold_starts(args.runs), "layer": layer_size(not args.no_layer_download),
                               "temu_budget": temu_budget(), "fan_out": fan_out(args.connections)}
    failures = []
    if results["temu_budget"]["ceiling_requests_per_second"] > TEMU_APP_LIMIT:
        failures.append("the Temu budgets exceed the app limit")
    if any(job["messages"] != args.connections or job["queued"] != args.connections
           for job in results["fan_out"]["jobs"].values()):
        failures.append("a tick did not queue exactly one message per connection")
    share = results["layer"].get("layer_unzipped_share_of_limit")
    if isinstance(share, float) and share > 0.8:
        failures.append("the layer uses more than 80 % of Lambda's unzipped limit")
    results["failures"] = failures
    (ROOT / "bench" / "footprint.json").write_text(json.dumps(results, indent=2) + "\n")

    print(f"{'handler':<28}{'import ms (median/max)':>24}{'code KB':>10}{'memory MB':>11}")
    for name, row in results["cold_start"].items():
        print(f"{name:<28}{row['import_ms_median']:>14.1f} / {row['import_ms_max']:<7.1f}"
              f"{row['code_bytes'] / 1024:>10.1f}{row['memory_mb']:>11}")
    layer = results["layer"]
    if "layer_unzipped_bytes" in layer:
        unzipped, zipped = layer["layer_unzipped_bytes"] / 2**20, layer["dependencies_zip_bytes"] / 2**20
        print(f"\nlayer: {layer['dependency_wheels']} wheels + package = {unzipped:.1f} MB unzipped "
              f"({zipped:.1f} MB zipped), {layer['layer_unzipped_share_of_limit']:.0%} of Lambda's "
              f"{LAMBDA_UNZIPPED_LIMIT_MB} MB")
    else:
        print(f"\nlayer: package {layer['package_bytes'] / 1024:.0f} KB; dependencies {layer['dependencies']}")
    budget = results["temu_budget"]
    if budget["mode"] == "shared":
        how = f"shared budgets: every worker books the app's one schedule at {budget['app_rate']:g} req/s"
    else:
        how = ", ".join(f"{name.removesuffix('Function')} {row['workers']}x{row['rate_per_worker']:g}"
                        for name, row in budget["consumers"].items())
        how = f"SharedBudgets=disabled: {how}, admin/OAuth {budget['admin_and_oauth']:g}"
    print(f"\nTemu ceiling: {budget['ceiling_requests_per_second']:g} req/s of the app's {TEMU_APP_LIMIT} ({how})")
    fan = results["fan_out"]
    print(f"\nfan-out of {fan['connections']} connections, one tick per job:")
    for job, row in fan["jobs"].items():
        print(f"  {job:<20} {row['messages']:>5} messages in {row['batch_calls']:>4} batch calls, "
              f"{row['seconds']:.2f} s")
    for failure in failures:
        print(f"FAILED: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
