"""Contract tests: every TemuClient call against the Temu sandbox over real HTTP.

The sandbox runs in-process on a free port; the client gets a fake clock (virtual sleeps,
real wall time for the signed timestamp) and tiny retry delays, so the file stays fast and
deterministic.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from wholecell_temu.errors import ErrorClass
from wholecell_temu.net import Clock, RateLimiter, RetryPolicy
from wholecell_temu.temu import (
    ShipmentLine,
    ShipmentPackage,
    SubPackage,
    TemuApiError,
    TemuClient,
)

from local.sandboxes.common import FaultRule, RunningServer
from local.sandboxes.temu import DEFAULT_APP_KEY, DEFAULT_APP_SECRET, SandboxState, serve

CONFIRM = "bg.logistics.shipment.v2.confirm"


class FakeClock(Clock):
    """Virtual monotonic time and sleeps; wall time stays real (the sandbox checks timestamps)."""

    def __init__(self, wall_offset: float = 0.0) -> None:
        self.ticks = 0.0
        self.sleeps: list[float] = []
        self.wall_offset = wall_offset

    def monotonic(self) -> float:
        return self.ticks

    def time(self) -> float:
        return time.time() + self.wall_offset

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.ticks += max(0.0, seconds)


class RealSleepClock(FakeClock):
    """Sleeps for real: used where the sandbox's one-second rate window must actually pass."""

    def sleep(self, seconds: float) -> None:
        super().sleep(seconds)
        time.sleep(max(0.0, seconds))


class FixedRetry(RetryPolicy):
    """No jitter: the delay is always `base_delay` (deterministic tests)."""

    def delay(self, attempt: int) -> float:
        return self.base_delay


class RecordingLimiter(RateLimiter):
    def __init__(self, clock: Clock) -> None:
        super().__init__(1000, burst=1000, clock=clock)
        self.penalties: list[float] = []

    def penalize(self, seconds: float) -> None:
        self.penalties.append(seconds)
        super().penalize(seconds)


@pytest.fixture(scope="module")
def server() -> Iterator[RunningServer]:
    with serve(seed=7) as running:
        yield running


@pytest.fixture
def state(server: RunningServer) -> SandboxState:
    sandbox: SandboxState = server.state
    sandbox.reset()
    sandbox.configure_rate_limit(None)
    return sandbox


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


MakeClient = Callable[..., TemuClient]


@pytest.fixture
def make_client(server: RunningServer, clock: FakeClock) -> MakeClient:
    def make(token: str | None, *, path: str = "/openapi/router", secret: str = DEFAULT_APP_SECRET,
             attempts: int = 3, timeout: float = 5.0, use_clock: Clock | None = None,
             limiter: RateLimiter | None = None, retry: RetryPolicy | None = None) -> TemuClient:
        the_clock = use_clock or clock
        return TemuClient(server.url + path, DEFAULT_APP_KEY, secret, token,
                          rate_limiter=limiter or RateLimiter(1000, burst=1000, clock=the_clock),
                          retry_policy=retry or RetryPolicy(max_attempts=attempts, base_delay=0.01, max_delay=0.02,
                                                            rng=random.Random(0)),
                          timeout=timeout, clock=the_clock)
    return make


def _goods(n_goods: int, skus_per_goods: int) -> list[dict[str, Any]]:
    return [{"goodsName": f"Phone {g}", "skus": [{"skuSn": f"SKU-{g}-{s}", "stock": 1 + s}
                                                for s in range(skus_per_goods)]} for g in range(n_goods)]


@pytest.fixture
def shop(state: SandboxState) -> dict[str, Any]:
    return state.create_shop(region="US", goods=[
        {"goodsName": "iPhone 13", "skus": [{"skuSn": "IP13-128-BLK", "stock": 4},
                                            {"skuSn": "IP13-128-WHT", "stock": 0, "status": "sold_out"},
                                            {"skuSn": "", "stock": 2},
                                            {"skuSn": "IP13-OLD", "stock": 0, "status": "deleted"}]},
        {"goodsName": "Pixel 7", "skus": [{"skuSn": "PX7-128", "stock": 9, "status": "inactive"}]}])


@pytest.fixture
def client(shop: dict[str, Any], make_client: MakeClient) -> TemuClient:
    return make_client(shop["accessToken"])


def _skus(state: SandboxState, mall_id: int) -> list[Any]:
    return sorted(state.shops[mall_id].skus.values(), key=lambda s: s.sku_id)


def _raises(error_class: ErrorClass, code: int | None, call: Callable[[], object]) -> TemuApiError:
    with pytest.raises(TemuApiError) as info:
        call()
    assert info.value.error_class is error_class, info.value
    assert info.value.code == code, info.value
    return info.value


# --- authorization --------------------------------------------------------------------------------


def test_token_info(client: TemuClient, shop: dict[str, Any]) -> None:
    info = client.token_info()
    assert info.mall_id == shop["mallId"] and info.region_id == 211 and info.mall_type == 100
    assert info.expired_time and info.expired_time > time.time() + 300 * 86400
    assert "bg.local.goods.stock.edit" in info.api_scope_list


def test_token_exchange_is_single_use_and_replaces_the_old_token(
        state: SandboxState, shop: dict[str, Any], make_client: MakeClient) -> None:
    code = state.issue_code(shop["mallId"], scopes=["bg.open.accesstoken.info.get", "bg.order.list.v2.get"])
    app = make_client(None)
    token = app.create_access_token(code)
    assert token.mall_id == shop["mallId"] and token.mall_type == 100
    assert token.api_scope_list == ["bg.open.accesstoken.info.get", "bg.order.list.v2.get"]
    new = make_client(token.access_token.get_secret_value())
    assert new.token_info().mall_id == shop["mallId"]
    _raises(ErrorClass.REAUTHORIZE, 110020002, lambda: app.create_access_token(code))
    _raises(ErrorClass.REAUTHORIZE, 3000034, make_client(shop["accessToken"]).token_info)
    _raises(ErrorClass.REAUTHORIZE, 3000032, new.warehouses)  # outside the granted scopes


def test_expired_code_is_refused(state: SandboxState, shop: dict[str, Any], make_client: MakeClient) -> None:
    code = state.issue_code(shop["mallId"], expires_in=-1)
    _raises(ErrorClass.REAUTHORIZE, 110020002, lambda: make_client(None).create_access_token(code))


def test_authorization_page_redirects_with_a_code(server: RunningServer, shop: dict[str, Any],
                                                  make_client: MakeClient) -> None:
    response = requests.get(f"{server.url}/open-platform/client-manage/authorization", allow_redirects=False,
                            params={"appKey": DEFAULT_APP_KEY, "redirect_uri": "https://app.example/cb?x=1",
                                    "state": "st-1"}, timeout=5)
    assert response.status_code == 302
    location = urlparse(response.headers["Location"])
    query = parse_qs(location.query)
    assert location.netloc == "app.example" and query["x"] == ["1"] and query["state"] == ["st-1"]
    assert query["app_key"] == [DEFAULT_APP_KEY]
    assert query["callback_host"] == [server.url.removeprefix("http://")]
    token = make_client(None).create_access_token(query["code"][0])
    assert token.mall_id == shop["mallId"]


def test_expired_unknown_and_missing_tokens(state: SandboxState, shop: dict[str, Any],
                                            make_client: MakeClient) -> None:
    _raises(ErrorClass.REAUTHORIZE, 3000031, make_client("upl-unknown").token_info)
    _raises(ErrorClass.REAUTHORIZE, 3000030, make_client(None).token_info)
    state.expire_token(shop["accessToken"])
    error = _raises(ErrorClass.REAUTHORIZE, 3000034, make_client(shop["accessToken"]).token_info)
    assert state.request_counts["bg.open.accesstoken.info.get"] == 2  # re-auth errors are never retried
    assert error.request_id and error.request_id.startswith("us-")


# --- gateway checks ---------------------------------------------------------------------------------


def test_bad_sign_is_a_fix_request_and_not_retried(state: SandboxState, shop: dict[str, Any],
                                                   make_client: MakeClient) -> None:
    error = _raises(ErrorClass.FIX_REQUEST, 3000001, make_client(shop["accessToken"], secret="wrong").token_info)
    assert state.request_counts == {"bg.open.accesstoken.info.get": 1}
    assert shop["accessToken"] not in str(error) and DEFAULT_APP_SECRET not in str(error)


def test_timestamp_outside_the_window(shop: dict[str, Any], make_client: MakeClient) -> None:
    ahead = make_client(shop["accessToken"], use_clock=FakeClock(wall_offset=1000))
    _raises(ErrorClass.FIX_REQUEST, 3000011, ahead.token_info)
    behind = make_client(shop["accessToken"], use_clock=FakeClock(wall_offset=-1000))
    _raises(ErrorClass.FIX_REQUEST, 3000012, behind.token_info)


def test_wrong_region_gateway(state: SandboxState, make_client: MakeClient) -> None:
    eu = state.create_shop(region="EU", goods=_goods(1, 1))
    assert make_client(eu["accessToken"], path="/eu/openapi/router").token_info().region_id == 76
    _raises(ErrorClass.FIX_REQUEST, 120011072, make_client(eu["accessToken"], path="/us/openapi/router").token_info)


def test_unknown_type_and_page_size_limit(client: TemuClient) -> None:
    _raises(ErrorClass.FIX_REQUEST, 3000003, lambda: client.call("bg.does.not.exist"))
    _raises(ErrorClass.FIX_REQUEST, 150010003, lambda: client.sku_page(1, 101))


def test_rate_limit_is_retried_after_backing_off(state: SandboxState, shop: dict[str, Any],
                                                 make_client: MakeClient) -> None:
    state.configure_rate_limit(3)
    real = RealSleepClock()
    limiter = RecordingLimiter(real)
    paced = make_client(shop["accessToken"], use_clock=real, limiter=limiter,
                        retry=FixedRetry(max_attempts=3, base_delay=1.05))
    for _ in range(5):
        assert paced.token_info().mall_id == shop["mallId"]
    assert state.error_counts[4000004] >= 1
    assert limiter.penalties and all(p == 1.05 for p in limiter.penalties)
    # each refusal keeps the window that refused it: the 3 arrivals within the second before it
    assert len(state.refused_windows) == state.error_counts[4000004]
    assert all(len(window) == 3 and 0 < at - window[0] < 1.0 for at, window in state.refused_windows)


def test_the_rate_window_counts_a_request_when_it_arrives_not_when_the_shops_are_free(
        state: SandboxState, shop: dict[str, Any], make_client: MakeClient) -> None:
    """Temu's gateway counts a request as it comes in, whatever its services are busy with. Here one
    request arrives while another's work (a page of a large catalog) holds the shops, a second 1.6 s
    later: a window counted after the work would see both in the same second and refuse the second."""
    state.configure_rate_limit(1)
    results: dict[str, Any] = {}

    def call(name: str) -> None:
        client = make_client(shop["accessToken"], attempts=1)
        try:
            results[name] = client.token_info().mall_id
        except TemuApiError as exc:
            results[name] = exc.code

    with state.lock:  # the shops busy for 2 s
        first = threading.Thread(target=call, args=("first",))
        first.start()
        time.sleep(1.6)
        second = threading.Thread(target=call, args=("second",))
        second.start()
        time.sleep(0.4)
    first.join(10)
    second.join(10)
    assert results == {"first": shop["mallId"], "second": shop["mallId"]}
    assert 4000004 not in state.error_counts


@pytest.mark.parametrize(("rule", "status"), [({"error_rate": 1.0, "status": 500}, 500),
                                              ({"error_rate": 1.0, "status": 429}, 429),
                                              ({"malformed_rate": 1.0}, 200)])
def test_transient_failures_are_retried_then_surfaced(state: SandboxState, client: TemuClient, clock: FakeClock,
                                                      rule: dict[str, Any], status: int) -> None:
    state.faults.set_rules([FaultRule(endpoint="bg.order.list.v2.get", **rule)])
    error = _raises(ErrorClass.RETRYABLE, None, client.order_page)
    assert error.status == status
    assert state.request_counts["bg.order.list.v2.get"] == 3
    assert len(clock.sleeps) == 2 and all(0 <= s <= 0.02 for s in clock.sleeps)


def test_transient_failure_then_success(state: SandboxState, client: TemuClient) -> None:
    state.faults.set_rules([FaultRule(endpoint="bg.order.list.v2.get", error_rate=1.0, count=2)])
    assert client.order_page().total_item_num == 0
    assert state.request_counts["bg.order.list.v2.get"] == 3


def test_timeouts_retry_reads_but_not_shipment_confirm(state: SandboxState, shop: dict[str, Any],
                                                       make_client: MakeClient) -> None:
    state.faults.set_rules([FaultRule(endpoint="*", timeout_rate=1.0, timeout_seconds=0.4)])
    slow = make_client(shop["accessToken"], timeout=0.15, attempts=2)
    _raises(ErrorClass.RETRYABLE, None, slow.warehouses)
    assert state.request_counts["bg.logistics.warehouse.list.get"] == 2
    package = ShipmentPackage(carrier_id=100000001, tracking_number="T1", warehouse_id="WH-1",
                              lines=[ShipmentLine(parent_order_sn="PO-1", order_sn="1", quantity=1)])
    _raises(ErrorClass.VERIFY_BEFORE_RETRY, None, lambda: slow.confirm_shipment(0, [package]))
    assert state.request_counts[CONFIRM] == 1


# --- listings and stock ------------------------------------------------------------------------------


def test_listing_pages_and_filters(client: TemuClient, state: SandboxState, shop: dict[str, Any]) -> None:
    active = list(client.iter_skus())
    assert sorted(s.sku_sn or "" for s in active) == ["", "IP13-128-BLK"]
    inactive = list(client.iter_skus(sku_search_type=3, sku_status_filter_type=3))
    assert {(s.sku_sn, s.show_sub_status) for s in inactive} == {("IP13-128-WHT", 3003), ("PX7-128", 3002)}
    goods = client.goods_page().goods_list
    assert [g.goods_name for g in goods] == ["iPhone 13", "Pixel 7"] and goods[0].quantity == 6
    retrieved = client.sku_retrieve_page(sku_search_type="DELETED").sku_list
    assert [s.out_sku_sn for s in retrieved] == ["IP13-OLD"] and isinstance(retrieved[0].sku_id, int)


def test_paging_walks_every_page(state: SandboxState, make_client: MakeClient) -> None:
    big = state.create_shop(region="US", goods=_goods(25, 10))
    client = make_client(big["accessToken"])
    skus = list(client.iter_skus(page_size=100))
    assert len(skus) == 250 and len({s.sku_id for s in skus}) == 250
    assert state.request_counts["bg.local.goods.sku.list.query"] == 3
    state.generate_orders(big["mallId"], 120, seed=3)
    orders = list(client.iter_orders(page_size=50))
    assert len({o.parent_order_sn for o in orders}) == 120
    assert state.request_counts["bg.order.list.v2.get"] == 3


def test_generated_shop_is_deterministic(state: SandboxState) -> None:
    first = state.create_shop(generate={"goods": 3, "skus_per_goods": 4, "seed": 11})
    second = state.create_shop(generate={"goods": 3, "skus_per_goods": 4, "seed": 11})
    stock = [sorted(state.stock(s["mallId"]).values()) for s in (first, second)]
    assert stock[0] == stock[1] and len(stock[0]) == 12


def test_stock_edit_surfaces_per_sku_failures(client: TemuClient, state: SandboxState,
                                              shop: dict[str, Any]) -> None:
    blk, wht, blank, _, other = _skus(state, shop["mallId"])
    result = client.edit_stock(blk.goods_id, [(blk.sku_id, 7), (wht.sku_id, 3), (other.sku_id, 1)])
    assert result.operate_result is False
    assert [f.sku_id for f in result.failed] == [other.sku_id]  # belongs to another goods
    assert result.failed[0].error_code == 150010003
    assert state.stock(shop["mallId"])[blk.sku_id] == 7
    assert state.shops[shop["mallId"]].skus[wht.sku_id].sub_status == 2001  # restocked: back on sale
    client.edit_stock(blk.goods_id, [(blank.sku_id, 0)])
    assert state.shops[shop["mallId"]].skus[blank.sku_id].sub_status == 3003  # zero stock: sold out
    assert len(state.stock_edits) == 2


def test_stock_edit_validation(client: TemuClient, state: SandboxState, shop: dict[str, Any]) -> None:
    blk = _skus(state, shop["mallId"])[0]
    _raises(ErrorClass.FIX_REQUEST, 150013002, lambda: client.edit_stock(blk.goods_id, [(blk.sku_id, 1_000_001)]))
    _raises(ErrorClass.FIX_REQUEST, 150013002, lambda: client.edit_stock(blk.goods_id, [(blk.sku_id, -1)]))
    _raises(ErrorClass.FIX_REQUEST, 150013001,
            lambda: client.edit_stock(blk.goods_id, [(blk.sku_id, 1), (blk.sku_id, 2)]))
    both = {"goodsId": blk.goods_id, "skuStockTargetList": [{"skuId": blk.sku_id, "stockTarget": 1}],
            "skuStockChangeList": [{"skuId": blk.sku_id, "stockDiff": 1}]}
    _raises(ErrorClass.FIX_REQUEST, 150013003, lambda: client.call("bg.local.goods.stock.edit", both))
    assert state.stock(shop["mallId"])[blk.sku_id] == 4 and not state.stock_edits


# --- orders and addresses ----------------------------------------------------------------------------


def test_order_lifecycle_filters_and_addresses(client: TemuClient, state: SandboxState,
                                               shop: dict[str, Any]) -> None:
    blk, _, blank, *_ = _skus(state, shop["mallId"])
    sn = state.add_order(shop["mallId"], [{"skuId": blk.sku_id, "quantity": 2}, {"skuId": blank.sku_id}])
    other = state.add_order(shop["mallId"], [{"skuId": blk.sku_id}], status=2)
    pending = client.order_detail(sn)
    assert pending.parent_order_map.parent_order_status == 1 and sn.startswith("PO-211-")
    _raises(ErrorClass.FIX_REQUEST, 180020003, lambda: client.shipping_info(sn))
    assert pending.parent_order_map.update_time is None  # only the list call carries updateTime

    def listed_update_time() -> int:
        listed = client.order_page(parent_order_sn_list=[sn]).page_items
        assert len(listed) == 1 and listed[0].parent_order_map.update_time is not None
        return listed[0].parent_order_map.update_time

    before = listed_update_time()
    state.advance_order(sn)
    state.cancel_line(sn, pending.order_list[0].order_sn, 1)
    detail = client.order_detail(sn)
    assert detail.parent_order_map.parent_order_status == 2
    assert listed_update_time() > before
    line = detail.order_list[0]
    assert (line.quantity, line.original_order_quantity, line.canceled_quantity_before_shipment) == (1, 2, 1)
    assert {o.parent_order_sn for o in client.iter_orders(parent_order_status=2)} == {sn, other}
    assert [o.parent_order_sn for o in client.iter_orders(parent_order_status=1)] == []
    window = list(client.iter_orders(update_at_start=before + 1, update_at_end=int(time.time()) + 60))
    assert sn in [o.parent_order_sn for o in window]
    assert [o.parent_order_sn for o in client.iter_orders(parent_order_sn_list=[other])] == [other]
    masked = client.shipping_info(sn)
    assert masked.is_masked and masked.warning is not None
    clear = client.decrypted_shipping_info(sn)
    assert not clear.is_masked and clear.receipt_name and clear.receipt_name.startswith("Jordan")
    assert clear.receipt_name not in repr(clear)
    amount = client.order_amount(sn)
    assert [a.order_sn for a in amount.order_list] == [i.order_sn for i in detail.order_list]
    _raises(ErrorClass.FIX_REQUEST, 140020002, lambda: client.order_detail("PO-211-0"))


def test_update_window_sorted_by_update_time(client: TemuClient, state: SandboxState,
                                             shop: dict[str, Any]) -> None:
    blk = _skus(state, shop["mallId"])[0]
    first = state.add_order(shop["mallId"], [{"skuId": blk.sku_id}])
    second = state.add_order(shop["mallId"], [{"skuId": blk.sku_id}])
    state.advance_order(first)  # now the most recently updated
    orders = client.order_page(update_at_start=0, update_at_end=int(time.time()) + 60).page_items
    assert [o.parent_order_sn for o in orders] == [first, second]


def test_cancelled_order_shape(client: TemuClient, state: SandboxState, shop: dict[str, Any]) -> None:
    blk = _skus(state, shop["mallId"])[0]
    sn = state.add_order(shop["mallId"], [{"skuId": blk.sku_id}], status=3)
    order = client.order_detail(sn)
    assert order.parent_order_map.parent_order_status == 3
    item = order.order_list[0]
    assert (item.quantity, item.canceled_quantity_before_shipment, item.order_status) == (0, 1, 3)


# --- shipping ----------------------------------------------------------------------------------------


def _package(order: Any, tracking: str, *, carrier: int = 100000001, warehouse: str,
             acceptance: list[str] | None = None) -> ShipmentPackage:
    return ShipmentPackage(carrier_id=carrier, tracking_number=tracking, warehouse_id=warehouse,
                           confirm_acceptance=acceptance,
                           lines=[ShipmentLine(parent_order_sn=order.parent_order_sn, order_sn=i.order_sn,
                                               quantity=i.quantity, goods_id=i.goods_id, sku_id=i.sku_id)
                                  for i in order.order_list])


def test_shipment_confirm_rules(client: TemuClient, state: SandboxState, shop: dict[str, Any]) -> None:
    blk = _skus(state, shop["mallId"])[0]
    carriers = client.carriers(211)
    assert "USPS" in {c.logistics_service_provider_name for c in carriers}
    warehouse = client.warehouses().default()
    assert warehouse is not None
    wh = warehouse.warehouse_id
    sn = state.add_order(shop["mallId"], [{"skuId": blk.sku_id, "quantity": 2}], status=2)
    order = client.order_detail(sn)

    eu_carrier = 200000001
    _raises(ErrorClass.FIX_REQUEST, 120014005,
            lambda: client.confirm_shipment(0, [_package(order, "T100", carrier=eu_carrier, warehouse=wh)]))
    _raises(ErrorClass.FIX_REQUEST, 120011085,
            lambda: client.confirm_shipment(0, [_package(order, "T100", warehouse="WH-nope")]))
    short = order.model_copy(update={"order_list": [order.order_list[0].model_copy(update={"quantity": 1})]})
    _raises(ErrorClass.FIX_REQUEST, 120012010, lambda: client.confirm_shipment(0, [_package(short, "T100",
                                                                                            warehouse=wh)]))

    result = client.confirm_shipment(0, [_package(order, "9400-1118-9956", warehouse=wh)])
    assert result.warning_message == []
    assert client.order_detail(sn).parent_order_map.parent_order_status == 4
    shipped = client.shipment_info(sn, order.order_list[0].order_sn)
    assert shipped.tracking_numbers() == {"940011189956"}
    assert shipped.shipments[0].carrier_id == 100000001 and shipped.shipments[0].quantity == 2

    _raises(ErrorClass.VERIFY_BEFORE_RETRY, 120012004,
            lambda: client.confirm_shipment(0, [_package(order, "T200", warehouse=wh)]))
    second = client.order_detail(state.add_order(shop["mallId"], [{"skuId": blk.sku_id}], status=2))
    _raises(ErrorClass.VERIFY_BEFORE_RETRY, 120014004,
            lambda: client.confirm_shipment(0, [_package(second, "940011189956", warehouse=wh)]))
    assert len(state.packages) == 1


def test_blocked_and_cancelled_orders(client: TemuClient, state: SandboxState, shop: dict[str, Any]) -> None:
    blk = _skus(state, shop["mallId"])[0]
    wh = shop["warehouseIds"][0]
    blocked_sn = state.add_order(shop["mallId"], [{"skuId": blk.sku_id}], status=2,
                                 labels={"pending_buyer_address_change": 1})
    blocked = client.order_detail(blocked_sn)
    _raises(ErrorClass.VERIFY_BEFORE_RETRY, 120012023,
            lambda: client.confirm_shipment(0, [_package(blocked, "T300", warehouse=wh)]))
    client.confirm_shipment(0, [_package(blocked, "T300", warehouse=wh, acceptance=["DENY_ADDRESS_CHANGE"])])
    cancelled = client.order_detail(state.add_order(shop["mallId"], [{"skuId": blk.sku_id}], status=3))
    error = _raises(ErrorClass.FIX_REQUEST, 120012005,
                    lambda: client.confirm_shipment(0, [_package(cancelled, "T301", warehouse=wh)]))
    assert error.operation == CONFIRM


def test_split_shipment_with_sub_packages_and_partial_shipping(client: TemuClient, state: SandboxState,
                                                               shop: dict[str, Any]) -> None:
    blk, _, blank, *_ = _skus(state, shop["mallId"])
    wh = shop["warehouseIds"][0]
    sn = state.add_order(shop["mallId"], [{"skuId": blk.sku_id}, {"skuId": blank.sku_id}], status=2)
    order = client.order_detail(sn)
    first, second = order.order_list
    one = order.model_copy(update={"order_list": [first]})
    _raises(ErrorClass.FIX_REQUEST, 120012016,
            lambda: client.confirm_shipment(1, [_package(one, "T400", warehouse=wh)]))
    client.confirm_shipment(0, [_package(one, "T400", warehouse=wh)])
    assert client.order_detail(sn).parent_order_map.parent_order_status == 41
    rest = order.model_copy(update={"order_list": [second]})
    package = _package(rest, "T401", warehouse=wh).model_copy(
        update={"sub_packages": [SubPackage(carrier_id=100000001, tracking_number="T402", warehouse_id=wh)]})
    client.confirm_shipment(0, [package])
    assert client.order_detail(sn).parent_order_map.parent_order_status == 4
    assert client.shipment_info(sn, second.order_sn).tracking_numbers() == {"T401", "T402"}


# --- the sandbox's HTTP admin interface ---------------------------------------------------------------


def test_admin_interface_over_http(server: RunningServer, state: SandboxState, make_client: MakeClient) -> None:
    admin = f"{server.url}/_sandbox"
    shop = requests.post(f"{admin}/shops", timeout=5, json={
        "region": "US", "goods": _goods(1, 2), "generate": {"goods": 2, "skus_per_goods": 2, "seed": 1}}).json()
    assert shop["skuCount"] == 6
    mall = shop["mallId"]
    sku_id = next(iter(state.shops[mall].skus))
    sns = requests.post(f"{admin}/shops/{mall}/orders", timeout=5,
                        json={"lines": [{"skuId": sku_id, "quantity": 2}]}).json()["parentOrderSns"]
    assert requests.post(f"{admin}/orders/{sns[0]}/advance", timeout=5).json() == {"status": 2}
    order_sn = state.orders[sns[0]].items[0].order_sn
    requests.post(f"{admin}/orders/{sns[0]}/cancel-line", timeout=5, json={"orderSn": order_sn, "quantity": 1})
    requests.post(f"{admin}/orders/{sns[0]}/labels", timeout=5, json={"soon_to_be_overdue": 1})
    generated = requests.post(f"{admin}/shops/{mall}/orders", timeout=5, json={"generate": 3, "seed": 2}).json()
    assert len(generated["parentOrderSns"]) == 3
    requests.post(f"{admin}/orders/{generated['parentOrderSns'][0]}/status", timeout=5, json={"status": 3})
    requests.post(f"{admin}/shops/{mall}/skus/{sku_id}", timeout=5, json={"stock": 42})
    assert requests.get(f"{admin}/shops/{mall}/stock", timeout=5).json()[str(sku_id)] == 42
    code = requests.post(f"{admin}/shops/{mall}/codes", timeout=5, json={}).json()["code"]
    token = make_client(None).create_access_token(code).access_token.get_secret_value()
    extra = requests.post(f"{admin}/shops/{mall}/tokens", timeout=5, json={"scopes": []}).json()["accessToken"]
    _raises(ErrorClass.REAUTHORIZE, 3000034, make_client(token).token_info)  # replaced by `extra`
    _raises(ErrorClass.REAUTHORIZE, 3000032, make_client(extra).token_info)
    requests.post(f"{admin}/tokens/revoke", timeout=5, json={"accessToken": extra})
    _raises(ErrorClass.REAUTHORIZE, 3000034, make_client(extra).token_info)
    requests.post(f"{admin}/faults", timeout=5, json=[{"endpoint": "*", "error_rate": 1.0, "status": 503}])
    _raises(ErrorClass.RETRYABLE, None, make_client(extra).token_info)
    assert requests.delete(f"{admin}/faults", timeout=5).json() == {"ok": True}
    assert requests.post(f"{admin}/rate-limit", timeout=5, json={"rate": 5}).json() == {"rate": 5.0}
    snapshot = requests.get(f"{admin}/state", timeout=5).json()
    statuses = {o["parentOrderMap"]["parentOrderSn"]: o["parentOrderMap"]["parentOrderStatus"]
                for o in snapshot["orders"]}
    assert statuses[sns[0]] == 2 and statuses[generated["parentOrderSns"][0]] == 3
    assert snapshot["requestCounts"]["bg.open.accesstoken.info.get"] >= 5
    assert snapshot["errorCounts"]["3000034"] == 2
    assert requests.get(f"{admin}/shops/999/stock", timeout=5).status_code == 404
    requests.post(f"{admin}/reset", timeout=5)
    assert state.shops == {} and state.rate_limit == 5.0
