"""Temu Open API client: one signed POST per call, classified errors, bounded retries.

Every attempt takes a rate-limiter token, gets a fresh timestamp and signature, and parses
the envelope (`success`/`errorCode`/`errorMsg`/`requestId`/`result`) into a typed result.
Only RETRYABLE failures are retried (backoff with jitter from the RetryPolicy); 4000004 also
penalizes the shared limiter so every worker in the process slows down. The app secret and
access token never appear in logs or exception messages.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import requests
from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ValidationError

from wholecell_temu.errors import ErrorClass
from wholecell_temu.net import Clock, Outgoing, Pacer, RetryPolicy, prepare, send
from wholecell_temu.observability import metrics
from wholecell_temu.temu.errors import (
    CREATE_TOKEN_API,
    RATE_LIMITED,
    SUCCESS_CODE,
    TemuApiError,
    classify_code,
    classify_http_status,
    classify_unknown_outcome,
)
from wholecell_temu.temu.models import (
    CARRIER_LIST,
    AccessToken,
    Carrier,
    GoodsPage,
    Order,
    OrderAmount,
    OrderPage,
    ShipmentConfirmResult,
    ShipmentInfoResult,
    ShipmentPackage,
    ShippingAddress,
    Sku,
    SkuPage,
    SkuRetrievePage,
    StockEditResult,
    TokenInfo,
    WarehouseList,
)
from wholecell_temu.temu.signing import signed_body

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)
MAX_PAGE_SIZE = 100
PARENT_ORDER_SN_LIST_MAX = 20  # bg.order.list.v2.get's parentOrderSnList holds at most 20


class TemuClient:
    """One seller's (or, with no token, the app's) view of the Temu router at `gateway_url`."""

    def __init__(
        self,
        gateway_url: str,
        app_key: str,
        app_secret: str,
        access_token: str | None,
        *,
        rate_limiter: Pacer,
        retry_policy: RetryPolicy | None = None,
        timeout: float = 30,
        session: requests.Session | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.gateway_url = gateway_url
        self.app_key = app_key
        self._app_secret = app_secret
        self._access_token = access_token
        self._limiter = rate_limiter
        self._retry = retry_policy or RetryPolicy()
        self._timeout = timeout
        self._session = session or requests.Session()
        self._clock = clock or Clock()

    def __repr__(self) -> str:
        return f"TemuClient(gateway_url={self.gateway_url!r}, app_key={self.app_key!r})"

    # --- transport -------------------------------------------------------------------------

    def call(self, api_type: str, params: Mapping[str, Any] | None = None, *,
             access_token: str | None = None) -> Any:
        """Call `api_type` with flat business `params` (None values omitted); return raw `result`."""
        token = access_token or self._access_token
        if token is None:
            raise TemuApiError("no access token for this call", error_class=ErrorClass.REAUTHORIZE,
                               code=3000030, operation=api_type)
        attempt = 0
        while True:
            try:
                return self._attempt(api_type, params or {}, token)
            except TemuApiError as exc:
                if exc.code == RATE_LIMITED or exc.status == 429:
                    metrics.add_metric(name="TemuThrottled", unit=MetricUnit.Count, value=1)
                if not exc.retryable or attempt + 1 >= self._retry.max_attempts:
                    raise
                delay = self._retry.delay(attempt)
                if exc.code == RATE_LIMITED:
                    self._limiter.penalize(delay)
                log.warning("temu call retried", extra={"operation": api_type, "attempt": attempt + 1,
                                                        "error_code": exc.code, "request_id": exc.request_id})
                self._clock.sleep(delay)
                attempt += 1

    def _attempt(self, api_type: str, params: Mapping[str, Any], token: str) -> Any:
        def signed() -> Outgoing:  # at its slot: the timestamp is the sending time
            body = signed_body({"type": api_type, "app_key": self.app_key, "access_token": token,
                                "timestamp": int(self._clock.time()), "data_type": "JSON", **params},
                               self._app_secret)
            return prepare(self._session, "POST", self.gateway_url, data=body,
                           headers={"Content-Type": "application/json"})

        try:
            response = send(self._session, self._limiter.paced(signed), self._timeout)
        except requests.ConnectTimeout as exc:  # never sent: always safe to repeat
            raise self._error(f"connect timeout: {type(exc).__name__}", ErrorClass.RETRYABLE,
                              api_type) from None
        except requests.RequestException as exc:
            raise self._error(f"transport error: {type(exc).__name__}", classify_unknown_outcome(api_type),
                              api_type) from None
        if not 200 <= response.status_code < 300:
            raise self._error("unexpected HTTP status", classify_http_status(response.status_code), api_type,
                              status=response.status_code)
        try:
            envelope = response.json()
        except ValueError:
            raise self._error("response body is not JSON", ErrorClass.RETRYABLE, api_type,
                              status=response.status_code) from None
        if not isinstance(envelope, dict) or "success" not in envelope:
            raise self._error("response is not a Temu envelope", ErrorClass.RETRYABLE, api_type,
                              status=response.status_code)
        request_id = envelope.get("requestId")
        code = envelope.get("errorCode")
        if envelope["success"] is not True or (code is not None and code != SUCCESS_CODE):
            numeric = int(code) if isinstance(code, int | str) and str(code).isdigit() else -1
            raise self._error(str(envelope.get("errorMsg") or "Temu call failed"),
                              classify_code(numeric, api_type), api_type, code=numeric, request_id=request_id)
        return envelope.get("result")

    def _error(self, message: str, error_class: ErrorClass, operation: str, *, code: int | None = None,
               status: int | None = None, request_id: str | None = None) -> TemuApiError:
        for secret in (self._app_secret, self._access_token):
            if secret:
                message = message.replace(secret, "***")
        return TemuApiError(message, error_class=error_class, code=code, status=status,
                            request_id=request_id, operation=operation)

    def _typed(self, model: type[M], api_type: str, params: Mapping[str, Any] | None = None, *,
               access_token: str | None = None) -> M:
        result = self.call(api_type, params, access_token=access_token)
        try:
            return model.model_validate(result if result is not None else {})
        except ValidationError as exc:
            raise self._error(_shape_message(api_type, exc), ErrorClass.FIX_REQUEST, api_type) from None

    # --- authorization ---------------------------------------------------------------------

    def create_access_token(self, code: str) -> AccessToken:
        """Exchange a one-time authorization code (sent as both `access_token` and `code`)."""
        return self._typed(AccessToken, CREATE_TOKEN_API, {"code": code}, access_token=code)

    def token_info(self) -> TokenInfo:
        return self._typed(TokenInfo, "bg.open.accesstoken.info.get")

    # --- listings ----------------------------------------------------------------------------

    def goods_page(self, page_no: int = 1, page_size: int = MAX_PAGE_SIZE, *, goods_search_type: int = 1,
                   goods_status_filter_type: int = 1, goods_sub_status_filter_type: int | None = None,
                   goods_id_list: Sequence[int] | None = None, search_text: str | None = None,
                   status_change_from_ms: int | None = None,
                   status_change_to_ms: int | None = None) -> GoodsPage:
        """`bg.local.goods.list.query` (paged by `pageNo`, not `pageNumber`)."""
        return self._typed(GoodsPage, "bg.local.goods.list.query", {
            "pageNo": page_no, "pageSize": page_size, "goodsSearchType": goods_search_type,
            "goodsStatusFilterType": goods_status_filter_type,
            "goodsSubStatusFilterType": goods_sub_status_filter_type,
            "goodsIdList": _list(goods_id_list), "searchText": search_text,
            "goodsStatusChangeTimeFrom": status_change_from_ms,
            "goodsStatusChangeTimeTo": status_change_to_ms,
        })

    def sku_page(self, page_no: int = 1, page_size: int = MAX_PAGE_SIZE, *, sku_search_type: int = 2,
                 sku_status_filter_type: int = 2, sku_sub_status_filter_type: int | None = None,
                 sku_id_list: Sequence[int] | None = None, search_text: str | None = None,
                 status_change_from_ms: int | None = None, status_change_to_ms: int | None = None) -> SkuPage:
        """`bg.local.goods.sku.list.query`: SKUs with per-SKU stock (2/2 = active, 3/3 = inactive)."""
        return self._typed(SkuPage, "bg.local.goods.sku.list.query", {
            "pageNo": page_no, "pageSize": page_size, "skuSearchType": sku_search_type,
            "skuStatusFilterType": sku_status_filter_type,
            "skuSubStatusFilterType": sku_sub_status_filter_type,
            "skuIdList": _list(sku_id_list), "searchText": search_text,
            "skuStatusChangeTimeFrom": status_change_from_ms, "skuStatusChangeTimeTo": status_change_to_ms,
        })

    def sku_retrieve_page(self, page_token: str | None = None, page_size: int = MAX_PAGE_SIZE, *,
                          sku_search_type: str = "ACTIVE", goods_id_list: Sequence[int] | None = None,
                          sku_id_list: Sequence[int] | None = None,
                          out_sku_sn_list: Sequence[str] | None = None) -> SkuRetrievePage:
        """`temu.local.sku.list.retrieve` (cursor paging; ids travel as strings here)."""
        return self._typed(SkuRetrievePage, "temu.local.sku.list.retrieve", {
            "pageSize": page_size, "pageToken": page_token or None, "skuSearchType": sku_search_type,
            "goodsIdList": [str(i) for i in goods_id_list] if goods_id_list else None,
            "skuIdList": [str(i) for i in sku_id_list] if sku_id_list else None,
            "outSkuSnList": _list(out_sku_sn_list),
        })

    def edit_stock(self, goods_id: int, targets: Sequence[tuple[int, int]]) -> StockEditResult:
        """Set absolute stock for SKUs of one goods: `targets` = [(sku_id, stock_target)].

        Absolute targets are idempotent, so retries are safe. Per-SKU failures are on
        `result.failed`; the caller must check them even though the call succeeded.
        """
        return self._typed(StockEditResult, "bg.local.goods.stock.edit", {
            "goodsId": goods_id,
            "skuStockTargetList": [{"skuId": sku_id, "stockTarget": stock} for sku_id, stock in targets]})

    # --- orders ------------------------------------------------------------------------------

    def order_page(self, page_number: int = 1, page_size: int = MAX_PAGE_SIZE, *,
                   parent_order_status: int | None = None, update_at_start: int | None = None,
                   update_at_end: int | None = None, create_after: int | None = None,
                   create_before: int | None = None, parent_order_sn_list: Sequence[str] | None = None,
                   region_id: int | None = None, sortby: str | None = None) -> OrderPage:
        """`bg.order.list.v2.get`; an update window sorts by `updateTime` unless told otherwise."""
        if sortby is None and update_at_start is not None:
            sortby = "updateTime"
        return self._typed(OrderPage, "bg.order.list.v2.get", {
            "pageNumber": page_number, "pageSize": page_size, "parentOrderStatus": parent_order_status,
            "updateAtStart": update_at_start, "updateAtEnd": update_at_end,
            "createAfter": create_after, "createBefore": create_before,
            "parentOrderSnList": _list(parent_order_sn_list), "regionId": region_id, "sortby": sortby,
        })

    def order_detail(self, parent_order_sn: str) -> Order:
        return self._typed(Order, "bg.order.detail.v2.get", {"parentOrderSn": parent_order_sn})

    def shipping_info(self, parent_order_sn: str) -> ShippingAddress:
        """The (possibly masked) ship-to address; available from UN_SHIPPING (2) on."""
        return self._typed(ShippingAddress, "bg.order.shippinginfo.v2.get",
                           {"parentOrderSn": parent_order_sn})

    def decrypted_shipping_info(self, parent_order_sn: str) -> ShippingAddress:
        return self._typed(ShippingAddress, "bg.order.decryptshippinginfo.get",
                           {"parentOrderSn": parent_order_sn})

    def order_amount(self, parent_order_sn: str) -> OrderAmount:
        return self._typed(OrderAmount, "bg.order.amount.query", {"parentOrderSn": parent_order_sn})

    # --- logistics -------------------------------------------------------------------------

    def carriers(self, region_id: int) -> list[Carrier]:
        api_type = "bg.logistics.companies.get"
        result = self.call(api_type, {"regionId": region_id})
        try:
            return CARRIER_LIST.validate_python(result or [])
        except ValidationError as exc:
            raise self._error(_shape_message(api_type, exc), ErrorClass.FIX_REQUEST, api_type) from None

    def warehouses(self, buy_shipping_label_only: bool | None = None) -> WarehouseList:
        return self._typed(WarehouseList, "bg.logistics.warehouse.list.get",
                           {"returnEnableBuyShippingLabelOnly": buy_shipping_label_only})

    def confirm_shipment(self, send_type: int, packages: Sequence[ShipmentPackage]) -> ShipmentConfirmResult:
        """`bg.logistics.shipment.v2.confirm`. A timeout raises VERIFY_BEFORE_RETRY: re-read first."""
        return self._typed(ShipmentConfirmResult, "bg.logistics.shipment.v2.confirm",
                           {"sendType": send_type, "sendRequestList": [p.to_wire() for p in packages]})

    def shipment_info(self, parent_order_sn: str, order_sn: str) -> ShipmentInfoResult:
        return self._typed(ShipmentInfoResult, "bg.logistics.shipment.v2.get",
                           {"parentOrderSn": parent_order_sn, "orderSn": order_sn})

    # --- paging ------------------------------------------------------------------------------

    def iter_skus(self, page_size: int = MAX_PAGE_SIZE, **filters: Any) -> Iterator[Sku]:
        """Every SKU matching `filters` (keywords of `sku_page`), page by page."""
        def page(number: int) -> tuple[list[Sku], int]:
            result = self.sku_page(number, page_size, **filters)
            return result.sku_list, result.total
        return _numbered_pages(page, page_size)

    def iter_orders(self, page_size: int = MAX_PAGE_SIZE, **filters: Any) -> Iterator[Order]:
        """Every parent order matching `filters` (keywords of `order_page`), page by page."""
        def page(number: int) -> tuple[list[Order], int]:
            result = self.order_page(number, page_size, **filters)
            return result.page_items, result.total_item_num
        return _numbered_pages(page, page_size)


def _numbered_pages[T](fetch: Callable[[int], tuple[list[T], int]], page_size: int) -> Iterator[T]:
    """Every item of a listing paged by number: `fetch(n)` answers page n's items and the total;
    pages are read until one is empty or the total is reached."""
    number = 1
    while True:
        items, total = fetch(number)
        yield from items
        if not items or number * page_size >= total:
            return
        number += 1


def _list(values: Sequence[Any] | None) -> list[Any] | None:
    """Optional list params: absent (None) when empty, so they are omitted, not sent as []."""
    return list(values) if values else None


__all__ = ["MAX_PAGE_SIZE", "TemuClient"]


def _shape_message(api_type: str, exc: ValidationError) -> str:
    """A field the integration reads came in another shape than documented: say which (never the value)."""
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or "result"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{api_type} answered an unexpected shape: {where}: {first['msg']}{more}"
