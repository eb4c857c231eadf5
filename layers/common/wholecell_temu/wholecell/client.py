"""WholeCell REST client: pacing, bounded retries, classified errors and filter verification.

Paths and field names come from `adapter`; this module owns the *behaviour* around each
call (reference §1): one shared rate limiter, a timeout on every request, backoff on 429
(Retry-After honoured), retries on 5xx / transport errors / non-JSON 200s, and no blind
retry of a create whose outcome is unknown. WholeCell silently ignores unknown filters, so
every filtered list is re-checked item by item and a mismatch fails loudly.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import Any

import requests
from pydantic import BaseModel, ValidationError

from wholecell_temu.errors import ErrorClass, ExternalApiError
from wholecell_temu.net import Clock, Pacer, RetryPolicy, prepare, send
from wholecell_temu.wholecell import adapter
from wholecell_temu.wholecell.adapter import (
    InventoryStatus,
    InventoryUnit,
    Params,
    SalesChannel,
    SalesOrder,
    SalesOrderCreate,
    SalesOrderPatch,
    SalesOrderStatus,
    StockLevel,
    Warehouse,
)

log = logging.getLogger(__name__)

MAX_RETRY_AFTER_SECONDS = 60.0  # never park a worker longer than this on one 429


class WholeCellApiError(ExternalApiError):
    """A classified WholeCell failure; `errors` holds the 422 messages when there are any."""

    service = "wholecell"

    def __init__(self, message: str, *, error_class: ErrorClass, errors: list[str] | None = None,
                 status: int | None = None, operation: str | None = None) -> None:
        super().__init__(message, error_class=error_class, status=status, operation=operation)
        self.errors = errors or []


class FilterIgnoredError(WholeCellApiError):
    """A list came back with items the filter should have excluded: the API ignored the filter.

    Raised while iterating, so the caller must treat the whole read as failed (never push
    quantities from it). Fix the filter name in `adapter` once WholeCell confirms it.
    """

    def __init__(self, operation: str, field: str, expected: object, item_id: int, actual: object) -> None:
        super().__init__(
            f"filter {field!r} was ignored: item {item_id} has {field}={actual!r}, requested {expected!r}",
            error_class=ErrorClass.FIX_REQUEST, operation=operation)


class WholeCellClient:
    """One API App's view of one WholeCell account. Thread-safe if the session is."""

    def __init__(
        self,
        base_url: str,
        app_id: str,
        app_secret: str,
        *,
        rate_limiter: Pacer,
        retry_policy: RetryPolicy | None = None,
        timeout: float = 30,
        session: requests.Session | None = None,
        clock: Clock | None = None,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._app_id = app_id
        self._auth = (app_id, app_secret)
        self._limiter = rate_limiter
        self._retry = retry_policy or RetryPolicy()
        self._timeout = timeout
        self._session = session or requests.Session()
        self._clock = clock or Clock()
        self._headers = {"X-App-Id": app_id, "Accept": "application/json"}

    def __repr__(self) -> str:  # the secret must never show up in logs or tracebacks
        return f"WholeCellClient({self._base_url!r}, app_id={self._app_id!r})"

    # --- Inventory and stock ------------------------------------------------------------------
    def iter_inventories(self, *, status: str | None = None,
                         updated_at_gt: datetime | None = None) -> Iterator[InventoryUnit]:
        """Every unit, optionally one inventory status and/or changed after `updated_at_gt`."""
        operation = "iter_inventories"
        params = adapter.inventory_filters(status, updated_at_gt)
        for unit in self._paged(operation, adapter.INVENTORIES, params, InventoryUnit):
            if status is not None and unit.status != status:
                raise FilterIgnoredError(operation, "status", status, unit.id, unit.status)
            if updated_at_gt is not None and unit.updated_at <= updated_at_gt:
                raise FilterIgnoredError(operation, "updated_at_gt", updated_at_gt, unit.id, unit.updated_at)
            yield unit

    def iter_stock_levels(self, inventory_statuses: list[str] | None = None) -> Iterator[StockLevel]:
        """Every SKU's stock; `on_hand`/`available` count only `inventory_statuses` when given.

        Rows carry no status, so an ignored status filter cannot be detected here.
        """
        params = adapter.stock_level_filters(inventory_statuses)
        yield from self._paged("iter_stock_levels", adapter.STOCK_LEVELS, params, StockLevel)

    # --- Sales orders -------------------------------------------------------------------------
    def iter_sales_orders(self, *, updated_at_gt: datetime | None = None, channel: str | None = None,
                          status: str | None = None) -> Iterator[SalesOrder]:
        operation = "iter_sales_orders"
        params = adapter.sales_order_filters(updated_at_gt, channel, status)
        for order in self._paged(operation, adapter.SALES_ORDERS, params, SalesOrder):
            if channel is not None and order.channel != channel:
                raise FilterIgnoredError(operation, "channel", channel, order.id, order.channel)
            if status is not None and order.status != status:
                raise FilterIgnoredError(operation, "status", status, order.id, order.status)
            if updated_at_gt is not None and order.updated_at <= updated_at_gt:
                raise FilterIgnoredError(operation, "updated_at_gt", updated_at_gt, order.id,
                                         order.updated_at)
            yield order

    def get_sales_order(self, order_id: int) -> SalesOrder:
        operation = "get_sales_order"
        payload = self._request("GET", adapter.sales_order_path(order_id), operation=operation)
        return self._parse(operation, SalesOrder, payload)

    def create_sales_order(self, order: SalesOrderCreate) -> SalesOrder:
        """POST once per attempt. An unknown outcome raises VERIFY_BEFORE_RETRY: the caller
        must `find_sales_order_by_reference` before creating again."""
        operation = "create_sales_order"
        payload = self._request("POST", adapter.SALES_ORDERS, operation=operation, body=order.to_body())
        return self._parse(operation, SalesOrder, payload)

    def update_sales_order(self, order_id: int, patch: SalesOrderPatch) -> SalesOrder:
        operation = "update_sales_order"
        payload = self._request("PATCH", adapter.sales_order_path(order_id), operation=operation,
                                body=patch.to_body())
        return self._parse(operation, SalesOrder, payload)

    def find_sales_order_by_reference(self, external_reference: str, *, channel: str,
                                      updated_since: datetime) -> SalesOrder | None:
        """The order carrying `external_reference` among `channel`'s orders changed since
        `updated_since` (no reference filter exists, §4.4). With several (a duplicate), the
        oldest (lowest id) wins so repeated look-ups agree."""
        matches = [order for order in self.iter_sales_orders(updated_at_gt=updated_since, channel=channel)
                   if order.external_reference == external_reference]
        return min(matches, key=lambda order: order.id) if matches else None

    # --- Lookups (§5) -------------------------------------------------------------------------
    def sales_order_statuses(self) -> list[SalesOrderStatus]:
        return list(self._paged("sales_order_statuses", adapter.SALES_ORDER_STATUSES, [], SalesOrderStatus))

    def inventory_statuses(self) -> list[InventoryStatus]:
        return list(self._paged("inventory_statuses", adapter.INVENTORY_STATUSES, [], InventoryStatus))

    def warehouses(self) -> list[Warehouse]:
        return list(self._paged("warehouses", adapter.WAREHOUSES, [], Warehouse))

    def sales_channels(self) -> list[SalesChannel]:
        return list(self._paged("sales_channels", adapter.SALES_CHANNELS, [], SalesChannel))

    # --- Plumbing -----------------------------------------------------------------------------
    def _paged[M: BaseModel](self, operation: str, path: str, params: Params, model: type[M]) -> Iterator[M]:
        """Walk `page=1..pages`; stop on an empty page or the last one (§1 Paging)."""
        page = 1
        while True:
            payload = self._request("GET", path, operation=operation,
                                    params=[*params, (adapter.PAGE_PARAM, str(page))])
            try:
                listing = adapter.parse_page(payload, model)
            except ValidationError as exc:
                raise self._shape_error(operation, exc) from None
            if listing.page != page:  # an ignored `page` would otherwise loop over page 1 forever
                raise WholeCellApiError(f"asked for page {page}, got page {listing.page}",
                                        error_class=ErrorClass.FIX_REQUEST, operation=operation)
            if not listing.data and listing.page < listing.pages:  # the walk ended early: never a full read
                raise WholeCellApiError(f"page {page} of {listing.pages} came back empty",
                                        error_class=ErrorClass.RETRYABLE, operation=operation)
            yield from listing.data
            if listing.is_last:
                return
            page += 1

    def _parse[M: BaseModel](self, operation: str, model: type[M], payload: Any) -> M:
        try:
            return model.model_validate(payload)
        except ValidationError as exc:
            raise self._shape_error(operation, exc) from None

    @staticmethod
    def _shape_error(operation: str, exc: ValidationError) -> WholeCellApiError:
        """The adapter's assumed contract does not match the response. Only field locations are
        reported: the inputs may hold buyer data, so the original error is not chained."""
        locations = sorted({".".join(str(part) for part in err["loc"]) for err in exc.errors()})
        return WholeCellApiError(f"unexpected response shape at {', '.join(locations[:5])}",
                                 error_class=ErrorClass.FIX_REQUEST, operation=operation)

    def _request(self, method: str, path: str, *, operation: str, params: Params | None = None,
                 body: dict[str, Any] | None = None) -> Any:
        """One logical call: paced attempts until success, a final error or the attempt budget."""
        attempt = 0
        error: WholeCellApiError | None
        while True:
            try:
                outgoing = self._limiter.paced(lambda: prepare(
                    self._session, method, self._base_url + path, params=params, json=body, auth=self._auth,
                    headers=self._headers))
                response = send(self._session, outgoing, self._timeout)
            except requests.RequestException as exc:
                error = self._unknown_outcome(method, operation, f"transport error: {type(exc).__name__}")
                wait = self._retry.delay(attempt)
            else:
                payload, error, wait = self._classify(method, operation, response, attempt)
                if error is None:
                    return payload
            attempt += 1
            if not error.retryable or attempt >= self._retry.max_attempts:
                raise error
            log.warning("wholecell %s attempt %d failed (%s); retrying in %.2fs",
                        operation, attempt, error.message, wait)
            self._clock.sleep(wait)

    def _classify(self, method: str, operation: str, response: requests.Response,
                  attempt: int) -> tuple[Any, WholeCellApiError | None, float]:
        """(payload, error or None, seconds to wait before the next attempt)."""
        status = response.status_code
        if 200 <= status < 300:
            try:
                return response.json(), None, 0.0
            except ValueError:
                return (None, self._unknown_outcome(method, operation, "non-JSON body", status),
                        self._retry.delay(attempt))
        if status == 429:
            wait = self._retry_after(response) or self._retry.delay(attempt)
            self._limiter.penalize(wait)  # every caller sharing the limiter slows down, not just us
            return None, WholeCellApiError(
                "rate limited", error_class=ErrorClass.RETRYABLE, status=status, operation=operation), 0.0
        if status >= 500:
            return (None, self._unknown_outcome(method, operation, "server error", status),
                    self._retry.delay(attempt))
        try:
            messages = adapter.parse_errors(response.json())
        except ValueError:
            messages = []
        auth_failed = status in (401, 403)
        error_class = ErrorClass.REAUTHORIZE if auth_failed else ErrorClass.FIX_REQUEST
        message = "; ".join(messages) or ("credentials rejected" if auth_failed else "request rejected")
        return None, WholeCellApiError(message, error_class=error_class, errors=messages,
                                              status=status, operation=operation), 0.0

    @staticmethod
    def _unknown_outcome(method: str, operation: str, message: str,
                         status: int | None = None) -> WholeCellApiError:
        """Retryable, except for a create: it may have happened, so the caller verifies first."""
        error_class = ErrorClass.VERIFY_BEFORE_RETRY if method == "POST" else ErrorClass.RETRYABLE
        return WholeCellApiError(message, error_class=error_class, status=status, operation=operation)

    def _retry_after(self, response: requests.Response) -> float | None:
        """Seconds from a `Retry-After` header (delta-seconds or HTTP date), capped."""
        value = response.headers.get("Retry-After", "").strip()
        if not value:
            return None
        try:
            seconds = float(value)
        except ValueError:
            try:
                seconds = parsedate_to_datetime(value).timestamp() - self._clock.time()
            except (TypeError, ValueError):
                return None
        return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS) or None

