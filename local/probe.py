"""First contact with the real APIs: call each read the integration uses once, hold every answer
against the documented contract (tests/contract/) and the client's models, print a table.

    make probe                      # against the local sandboxes (seeded in-process)
    TEMU_ACCESS_TOKEN=... TEMU_APP_KEY=... TEMU_APP_SECRET=... TEMU_REGION=US make probe
    WHOLECELL_APP_ID=... WHOLECELL_APP_SECRET=... make probe

Read-only: no call here writes, on either side. Nothing secret or personal is printed: a
mismatch names the field and the expected and seen JSON types, never a value. Exit code 0 when
every call fits, 1 when one does not (or failed), 2 on a usage error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from wholecell_temu.config import TEMU_GATEWAYS
from wholecell_temu.errors import ExternalApiError
from wholecell_temu.net import RateLimiter, RetryPolicy
from wholecell_temu.temu import TemuClient
from wholecell_temu.wholecell import WholeCellClient

from local import temu_contract
from local.contract import shape_problems

WHOLECELL_FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "contract" / "wholecell"
WHOLECELL_URL = "https://api.wholecell.io/api/v1"
UN_SHIPPING = 2
LOOK_BACK = timedelta(days=30)


@dataclass
class Row:
    api: str
    call: str
    outcome: str  # ok | mismatch | failed | skipped
    detail: str = ""


class Recorder(requests.Session):
    """Keeps the decoded body of every answer, for the contract check (the clients parse their own)."""

    def __init__(self) -> None:
        super().__init__()
        self.bodies: list[Any] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        response = super().send(request, **kwargs)
        try:
            self.bodies.append(response.json())
        except ValueError:
            self.bodies.append(None)
        return response


class Probe:
    def __init__(self) -> None:
        self.rows: list[Row] = []

    def check(self, api: str, call: str, run: Callable[[], Any], recorder: Recorder,
              shape: Callable[[Any], list[str]]) -> Any:
        """Run one read; record ok, the first mismatches, or the failure. Returns the parsed value."""
        before = len(recorder.bodies)
        try:
            value = run()
        except ExternalApiError as exc:
            body = recorder.bodies[-1] if len(recorder.bodies) > before else None
            problems = shape(body) if body is not None else []
            detail = "; ".join(problems[:3]) if problems else f"{exc.error_class.value}: {_safe(exc)}"
            self.rows.append(Row(api, call, "mismatch" if problems else "failed", detail))
            return None
        problems = [p for body in recorder.bodies[before:] for p in shape(body)]
        self.rows.append(Row(api, call, "mismatch" if problems else "ok", "; ".join(problems[:3])))
        return value

    def skip(self, api: str, call: str, why: str) -> None:
        self.rows.append(Row(api, call, "skipped", why))

    # --- Temu --------------------------------------------------------------------------------
    def temu(self, client: TemuClient, recorder: Recorder) -> None:
        def shape(api_type: str) -> Callable[[Any], list[str]]:
            def problems(body: Any) -> list[str]:
                if not isinstance(body, dict) or not body.get("success"):
                    return []  # failures are reported by the client's classified error
                return temu_contract.result_problems(api_type, body.get("result"))
            return problems

        info = self.check("temu", "bg.open.accesstoken.info.get", client.token_info, recorder,
                          shape("bg.open.accesstoken.info.get"))
        self.check("temu", "bg.local.goods.sku.list.query", lambda: client.sku_page(1, 20), recorder,
                   shape("bg.local.goods.sku.list.query"))
        now = int(time.time())
        start = now - int(LOOK_BACK.total_seconds())
        orders = self.check("temu", "bg.order.list.v2.get",
                            lambda: client.order_page(1, 20, update_at_start=start, update_at_end=now), recorder,
                            shape("bg.order.list.v2.get"))
        if orders and orders.page_items:
            sn = orders.page_items[0].parent_order_sn
            self.check("temu", "bg.order.detail.v2.get", lambda: client.order_detail(sn), recorder,
                       shape("bg.order.detail.v2.get"))
        else:
            self.skip("temu", "bg.order.detail.v2.get", f"no order updated in the last {LOOK_BACK.days} days")
        waiting = self.check("temu", "bg.order.list.v2.get (awaiting shipment)",
                             lambda: client.order_page(1, 1, parent_order_status=UN_SHIPPING), recorder,
                             shape("bg.order.list.v2.get"))
        if waiting and waiting.page_items:
            sn = waiting.page_items[0].parent_order_sn
            self.check("temu", "bg.order.shippinginfo.v2.get", lambda: client.shipping_info(sn), recorder,
                       shape("bg.order.shippinginfo.v2.get"))
        else:
            self.skip("temu", "bg.order.shippinginfo.v2.get", "no order awaiting shipment")
        region_id = info.region_id if info is not None and info.region_id else 211
        self.check("temu", "bg.logistics.companies.get", lambda: client.carriers(region_id), recorder,
                   shape("bg.logistics.companies.get"))
        self.check("temu", "bg.logistics.warehouse.list.get", client.warehouses, recorder,
                   shape("bg.logistics.warehouse.list.get"))

    # --- WholeCell ---------------------------------------------------------------------------
    def wholecell(self, client: WholeCellClient, recorder: Recorder) -> None:
        def shape(name: str) -> Callable[[Any], list[str]]:
            fields = json.loads((WHOLECELL_FIXTURES / f"{name}.json").read_text())["response"]["fields"]
            return lambda body: shape_problems(body, fields) if body is not None else []

        self.check("wholecell", "GET inventories (first page)", lambda: _first(client.iter_inventories()), recorder,
                   shape("inventories"))
        self.check("wholecell", "GET stock levels (first page)", lambda: _first(client.iter_stock_levels()),
                   recorder, shape("stock_levels"))
        since = datetime.now(UTC) - LOOK_BACK
        self.check("wholecell", "GET sales orders (first page)",
                   lambda: _first(client.iter_sales_orders(updated_at_gt=since)), recorder, shape("sales_orders"))

    def table(self) -> str:
        widths = [max(len(getattr(r, f)) for r in [*self.rows, Row("api", "call", "outcome")])
                  for f in ("api", "call", "outcome")]
        lines = [f"{'api':<{widths[0]}}  {'call':<{widths[1]}}  {'outcome':<{widths[2]}}  detail"]
        for r in self.rows:
            lines.append(f"{r.api:<{widths[0]}}  {r.call:<{widths[1]}}  {r.outcome:<{widths[2]}}  {r.detail}")
        return "\n".join(lines)

    @property
    def all_fit(self) -> bool:
        return all(r.outcome in ("ok", "skipped") for r in self.rows)


def _first(items: Iterator[Any]) -> Any:
    return next(items, None)  # one page is enough to see the shape


def _safe(exc: ExternalApiError) -> str:
    """The error without a body excerpt: code and class are enough to act on."""
    code = getattr(exc, "code", None)
    return f"{exc.operation} failed" + (f" (code {code})" if code is not None else "")


def temu_client(env: dict[str, str], recorder: Recorder) -> TemuClient:
    region = env.get("TEMU_REGION", "US").upper()
    gateway = env.get("TEMU_GATEWAY_URL") or TEMU_GATEWAYS.get(region)
    if gateway is None:
        raise SystemExit(f"TEMU_REGION must be one of {', '.join(TEMU_GATEWAYS)}")
    return TemuClient(gateway, env["TEMU_APP_KEY"], env["TEMU_APP_SECRET"], env["TEMU_ACCESS_TOKEN"],
                      session=recorder, rate_limiter=RateLimiter(1), retry_policy=RetryPolicy(max_attempts=2))


def wholecell_client(env: dict[str, str], recorder: Recorder) -> WholeCellClient:
    return WholeCellClient(env.get("WHOLECELL_API_URL") or WHOLECELL_URL, env["WHOLECELL_APP_ID"],
                           env["WHOLECELL_APP_SECRET"], session=recorder, rate_limiter=RateLimiter(1),
                           retry_policy=RetryPolicy(max_attempts=2))


TEMU_KEYS = ("TEMU_ACCESS_TOKEN", "TEMU_APP_KEY", "TEMU_APP_SECRET")
WHOLECELL_KEYS = ("WHOLECELL_APP_ID", "WHOLECELL_APP_SECRET")


def probe(env: dict[str, str]) -> Probe:
    """Probe whichever side `env` has credentials for."""
    result = Probe()
    if all(env.get(k) for k in TEMU_KEYS):
        recorder = Recorder()
        result.temu(temu_client(env, recorder), recorder)
    if all(env.get(k) for k in WHOLECELL_KEYS):
        recorder = Recorder()
        result.wholecell(wholecell_client(env, recorder), recorder)
    return result


@contextmanager
def local_sandboxes(mistype: str | None = None) -> Iterator[dict[str, str]]:
    """Both sandboxes in-process, seeded with a shop, orders (one awaiting shipment) and stock;
    yields the environment a real probe would be given."""
    from local.sandboxes import temu as temu_sandbox  # noqa: PLC0415 - the sandboxes only for --local
    from local.sandboxes import wholecell as wholecell_sandbox  # noqa: PLC0415

    with ExitStack() as stack:
        temu = stack.enter_context(temu_sandbox.serve(seed=11))
        wholecell = stack.enter_context(wholecell_sandbox.serve(seed=11))
        shop = temu.state.create_shop(region="US", generate={"goods": 3, "skus_per_goods": 2, "seed": 11})
        sku_id = next(iter(temu.state.shops[shop["mallId"]].skus))
        temu.state.add_order(shop["mallId"], [{"skuId": sku_id, "quantity": 1}])
        temu.state.add_order(shop["mallId"], [{"skuId": sku_id, "quantity": 2}], status=UN_SHIPPING)
        if mistype:
            api_type, _, path = mistype.partition(":")
            temu.state.mistype_field(api_type, path)
        app_id, app_secret = "probe-app", "probe-secret"
        skus = ["IP13-128-BLK-B", "IP14-256-WHT-A"]
        wholecell.state.create_account(app_id, app_secret, skus=skus)
        wholecell.state.generate_units(app_id, 12, skus=skus, seed=11)
        wholecell.state.create_order(app_id, {"external_reference": "PO-211-1", "channel": "Temu",
                                              "status": "Pending", "customer": {"name": "Temu"},
                                              "order_items": [{"sku": skus[0], "quantity": 1,
                                                               "unit_price_cents": 32900,
                                                               "description": "iPhone 13 128GB"}]})
        yield {"TEMU_ACCESS_TOKEN": shop["accessToken"], "TEMU_APP_KEY": temu_sandbox.DEFAULT_APP_KEY,
               "TEMU_APP_SECRET": temu_sandbox.DEFAULT_APP_SECRET,
               "TEMU_GATEWAY_URL": temu.url + "/openapi/router",
               "WHOLECELL_APP_ID": app_id, "WHOLECELL_APP_SECRET": app_secret,
               "WHOLECELL_API_URL": wholecell.url + "/api/v1"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--local", action="store_true",
                        help="probe the local sandboxes (the default when no credentials are set)")
    parser.add_argument("--mistype", metavar="TYPE:FIELD",
                        help="with --local: the Temu sandbox answers FIELD (e.g. skuList[].stock) of TYPE "
                             "with another JSON type, to see a mismatch reported")
    args = parser.parse_args(argv)
    env = dict(os.environ)
    has_credentials = all(env.get(k) for k in TEMU_KEYS) or all(env.get(k) for k in WHOLECELL_KEYS)
    if args.mistype and has_credentials and not args.local:
        parser.error("--mistype only applies to the local sandboxes")
    if args.local or not has_credentials:
        print("probing the local sandboxes (set TEMU_* and/or WHOLECELL_* credentials to probe the real APIs)")
        with local_sandboxes(args.mistype) as local_env:
            result = probe(local_env)
    else:
        result = probe(env)
    print(result.table())
    return 0 if result.all_fit else 1


if __name__ == "__main__":
    sys.exit(main())
