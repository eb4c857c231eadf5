"""The chaos suite's small variant (bench/chaos.py, issue #9) as part of `make test`, and the
sandbox faults it relies on: a write that is done while its answer is lost, and the hook that
kills the caller right after the write."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pytest
import requests
from wholecell_temu.errors import ErrorClass
from wholecell_temu.net import RateLimiter, RetryPolicy
from wholecell_temu.temu import TemuClient
from wholecell_temu.temu.errors import TemuApiError

from bench.chaos import print_report, run_chaos, stack_options
from bench.chaos_world import SMALL
from local.sandboxes import temu as temu_sandbox
from local.sandboxes import wholecell as wholecell_sandbox
from local.sandboxes.common import FaultRule
from local.stack import LocalStack

ROOT = Path(__file__).resolve().parents[2]
ORDER = {"external_reference": "PO-1", "channel": "Temu", "status": "Pending",
         "order_items": [{"sku": "A", "quantity": 1}]}


def test_a_wholecell_write_is_done_when_its_answer_is_lost_or_its_caller_killed() -> None:
    with wholecell_sandbox.serve() as server:
        state = server.state
        state.create_account("app", "secret", skus=["A"])
        url, auth = f"{server.url}/api/v1/sales_orders", ("app", "secret")
        state.faults.set_rules([FaultRule(endpoint="/api/v1/sales_orders", methods=["POST"], lost_rate=1.0)])
        assert requests.get(url, auth=auth, timeout=10).status_code == 200  # not a POST: answered
        lost = requests.post(url, json=ORDER, auth=auth, timeout=10)
        assert lost.status_code == 502 and len(state.account("app").orders) == 1  # done, answer lost

        callers: list[tuple[str, int | None]] = []
        state.faults.crash_hook = lambda endpoint, port: callers.append((endpoint, port)) is None
        state.faults.set_rules([FaultRule(endpoint="/api/v1/sales_orders", crash_rate=1.0, count=1)])
        crashed = requests.post(url, json={**ORDER, "external_reference": "PO-2"}, auth=auth, timeout=10)
        assert crashed.status_code == 502 and len(state.account("app").orders) == 2
        assert callers and callers[0][0] == "/api/v1/sales_orders" and callers[0][1] not in (None, server.port)
        assert state.faults.injected == {"lost_http_502": 1, "crash": 1, "crash_killed": 1}
        assert requests.post(url, json={**ORDER, "external_reference": "PO-3"}, auth=auth,
                             timeout=10).status_code == 201  # the count is spent


def test_a_temu_stock_edit_is_done_when_its_answer_hangs() -> None:
    with temu_sandbox.serve() as server:
        state = server.state
        shop = state.create_shop(goods=[{"goodsName": "Phone", "skus": [{"skuSn": "A", "stock": 3}]}])
        sku_id, sku = next(iter(state.shops[shop["mallId"]].skus.items()))
        state.faults.set_rules([FaultRule(endpoint="bg.local.goods.stock.edit", lost_timeout_rate=1.0,
                                          timeout_seconds=1.0)])
        client = TemuClient(f"{server.url}/openapi/router", temu_sandbox.DEFAULT_APP_KEY,
                            temu_sandbox.DEFAULT_APP_SECRET, shop["accessToken"], rate_limiter=RateLimiter(50),
                            retry_policy=RetryPolicy(max_attempts=1), timeout=0.5)
        with pytest.raises(TemuApiError) as raised:
            client.edit_stock(sku.goods_id, [(sku_id, 7)])
        assert raised.value.error_class is ErrorClass.RETRYABLE  # an absolute target may simply be sent again
        assert state.stock(shop["mallId"])[sku_id] == 7 and state.faults.injected == {"lost_timeout": 1}


@pytest.mark.timeout(300)
def test_small_chaos_run_keeps_every_invariant(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """30 orders, 100 listings, two connections, faults on both sandboxes, killed workers (two
    windows scripted), every job requested twice at once (the lease at its production contract
    serializes them); then the faults stop and every invariant of issue #9 must hold."""
    log = tmp_path / "workers.log"
    with LocalStack(ROOT, **stack_options(SMALL, log)) as stack:
        report = run_chaos(SMALL, stack, "moto", log)
    (tmp_path / "chaos.json").write_text(json.dumps(asdict(report), indent=2, default=str))
    print_report(report)
    with capsys.disabled():
        print(f"\nsmall chaos run: {report.seconds}, {len(report.violations)} violations", flush=True)

    assert report.world["temu_orders"] >= 30 and report.world["listings"] >= 100
    assert report.world["shipments"] > 0
    assert report.world["scripted_crashes"] == report.world["scripted_lost_patches"] == 1
    assert min(sum(kinds.values()) for kinds in report.faults.values()) > 0
    assert report.workers["killed_after_a_write"] and report.retries["sqs_redeliveries"] > 0
    # the workers' JSON log lines are read: a 5xx the clients retried is counted
    assert report.retries["wholecell_client_retries"] + report.retries["temu_client_retries"] > 0
    assert sum(report.invariants_checked.values()) > 500
    assert report.violations == [], json.dumps(report.violations[:10], indent=1, default=str)
