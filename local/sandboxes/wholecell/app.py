"""The WholeCell sandbox over HTTP: the API under /api/v1 as the adapter assumes it, and a JSON
admin interface under /_sandbox/ to seed accounts, trigger shipments and inject faults.

Request pipeline for /api/v1: Basic auth (401) -> request counted -> injected fault ->
per-account rate limit (429 + Retry-After) -> endpoint -> injected fault after the endpoint
(its answer lost, or its caller killed: see local.sandboxes.common).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import Any, cast

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request

from local.sandboxes.common import FaultRule, RunningServer
from local.sandboxes.wholecell.state import SandboxError, WholeCellState

API = "/api/v1"
DEFAULT_PER_PAGE = 100
MAX_PER_PAGE = 500
STATE_KEY = "wholecell_sandbox_state"


def _json(payload: Any, status: int = 200) -> Response:
    response = jsonify(payload)
    response.status_code = status
    return response


def _body() -> dict[str, Any]:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise SandboxError(400, ["body must be a JSON object"])
    return body


def _int_arg(name: str, default: int) -> int:
    if name in _state().ignored_filters:
        return default
    try:
        return max(1, int(request.args.get(name, default)))
    except ValueError:
        return default


def _page_args() -> tuple[int, int]:
    """(page, per_page): 100 per page by default; `per_page` honoured up to 500.
    Listing `page` in the ignored filters makes every request answer page 1."""
    return _int_arg("page", 1), min(_int_arg("per_page", DEFAULT_PER_PAGE), MAX_PER_PAGE)


def _envelope(data: list[dict[str, Any]], total: int, page: int, per_page: int) -> Response:
    return _json({"data": data, "page": page, "pages": max(1, math.ceil(total / per_page))})


def _paged(rows: list[dict[str, Any]]) -> Response:
    """`{data, page, pages}` for a short, fully built list (see `_page_args`)."""
    page, per_page = _page_args()
    return _envelope(rows[(page - 1) * per_page: page * per_page], len(rows), page, per_page)


def _paged_by(fetch: Callable[[int, int], tuple[list[dict[str, Any]], int]]) -> Response:
    """`{data, page, pages}` from a state method that builds only the requested page."""
    page, per_page = _page_args()
    data, total = fetch(page, per_page)
    return _envelope(data, total, page, per_page)


def _state() -> WholeCellState:
    return cast(WholeCellState, current_app.extensions[STATE_KEY])


def _filters(*names: str) -> dict[str, str]:
    """The supported filters present in the query, minus any the sandbox is told to ignore.
    Unknown parameters are never an error: WholeCell silently ignores them."""
    ignored = _state().ignored_filters
    return {n: request.args[n] for n in names if n in request.args and n not in ignored}


# --- API ----------------------------------------------------------------------------------------
api = Blueprint("api", __name__, url_prefix=API)


@api.before_request
def _gate() -> Response | None:
    state = _state()
    auth = request.authorization
    account = (state.authenticate(auth.username or "", auth.password or "")
               if auth is not None and auth.type == "basic" else None)
    if account is None:
        return _json({"error": "Unauthorized"}, 401)
    state.count_request(account, f"{request.method} {request.path}")
    fault = state.faults.apply(request.path, request.method)
    if fault is not None:
        if fault.status_code == 429:
            fault.headers["Retry-After"] = "1"
        return fault
    wait = state.take_token(account)
    if wait is not None:
        state.faults.discard()  # the endpoint does not run: nothing to lose afterwards
        limited = _json({"error": "Too Many Requests"}, 429)
        limited.headers["Retry-After"] = str(max(1, math.ceil(wait)))
        return limited
    g.app_id = account.app_id
    return None


@api.after_request
def _after(response: Response) -> Response:
    """An injected fault that comes after the endpoint: its work stays done, its answer is lost."""
    port = request.environ.get("REMOTE_PORT")
    replaced = _state().faults.after(int(port) if port else None)
    return replaced if replaced is not None else response


@api.get("/inventories")
def inventories() -> Response:
    filters = _filters("status", "esn", "location", "updated_at_gt")
    return _paged_by(partial(_state().units_page, g.app_id, filters))


@api.get("/stock_levels")
def stock_levels() -> Response:
    key = "inventory_statuses[]"
    statuses = [] if key in _state().ignored_filters else request.args.getlist(key)
    return _paged_by(partial(_state().stock_levels_page, g.app_id, statuses))


@api.get("/<any(sales_order_statuses, inventory_statuses, warehouses, sales_channels):kind>")
def lookups(kind: str) -> Response:
    return _paged(_state().lookups(g.app_id, kind))


@api.get("/sales_orders")
def list_sales_orders() -> Response:
    return _paged_by(partial(_state().orders_page, g.app_id, _filters("updated_at_gt", "channel", "status")))


@api.post("/sales_orders")
def create_sales_order() -> Response:
    return _json(_state().create_order(g.app_id, _body()), 201)


@api.get("/sales_orders/<int:order_id>")
def get_sales_order(order_id: int) -> Response:
    return _json(_state().get_order(g.app_id, order_id))


@api.patch("/sales_orders/<int:order_id>")
def update_sales_order(order_id: int) -> Response:
    return _json(_state().update_order(g.app_id, order_id, _body()))


# --- admin --------------------------------------------------------------------------------------
admin = Blueprint("admin", __name__, url_prefix="/_sandbox")


@admin.errorhandler(KeyError)
@admin.errorhandler(TypeError)
@admin.errorhandler(ValueError)
def _bad_admin_body(exc: Exception) -> Response:
    return _json({"errors": [f"bad request: {exc!r}"]}, 400)


@admin.post("/reset")
def reset() -> Response:
    _state().reset()
    return _json({"ok": True})


@admin.post("/accounts")
def create_account() -> Response:
    body = _body()
    _state().create_account(
        body["app_id"], body["app_secret"], sales_order_statuses=body.get("sales_order_statuses"),
        channels=body.get("channels"), inventory_statuses=body.get("inventory_statuses"),
        warehouses=body.get("warehouses"), skus=body.get("skus"))
    return _json(_state().snapshot(body["app_id"])["accounts"][body["app_id"]], 201)


@admin.post("/accounts/<app_id>/skus")
def add_skus(app_id: str) -> Response:
    _state().add_skus(app_id, _body()["skus"])
    return _json({"ok": True})


@admin.post("/accounts/<app_id>/units")
def add_units(app_id: str) -> Response:
    body = _body()
    if "generate" in body:
        spec = body["generate"]
        units = _state().generate_units(app_id, int(spec["count"]), skus=spec["skus"],
                                        warehouses=spec.get("warehouses"), statuses=spec.get("statuses"),
                                        seed=int(spec.get("seed", 0)),
                                        spread_seconds=(float(spec["spread_seconds"])
                                                        if spec.get("spread_seconds") is not None else None))
    else:
        units = _state().add_units(app_id, body["units"])
    return _json({"unit_ids": [unit.id for unit in units]}, 201)


@admin.post("/accounts/<app_id>/units/commit")
def commit_units(app_id: str) -> Response:
    body = _body()
    _state().commit_units(app_id, body["unit_ids"], body.get("order_id"))
    return _json({"ok": True})


@admin.post("/accounts/<app_id>/units/move")
def move_units(app_id: str) -> Response:
    body = _body()
    _state().move_units(app_id, body["unit_ids"], warehouse=body.get("warehouse"),
                        location=body.get("location"))
    return _json({"ok": True})


@admin.post("/accounts/<app_id>/units/status")
def set_unit_status(app_id: str) -> Response:
    body = _body()
    _state().set_unit_status(app_id, body["unit_ids"], body["status"])
    return _json({"ok": True})


@admin.post("/accounts/<app_id>/orders/<int:order_id>/shipments")
def add_shipment(app_id: str, order_id: int) -> Response:
    body = _body()
    result = _state().add_shipment(app_id, order_id, carrier=body["carrier"],
                                   tracking_number=body["tracking_number"], service=body.get("service"),
                                   shipped_at=body.get("shipped_at"), items=body.get("items"))
    return _json(result, 201)


@admin.put("/accounts/<app_id>/webhook")
def configure_webhook(app_id: str) -> Response:
    body = _body()
    _state().configure_webhook(app_id, body.get("url"), body.get("secrets", []))
    return _json({"ok": True})


@admin.post("/accounts/<app_id>/webhook/redeliver")
def redeliver(app_id: str) -> Response:
    _state().redeliver(app_id, _body()["event_id"])
    return _json({"ok": True})


@admin.get("/state")
def inspect() -> Response:
    return _json(_state().snapshot(request.args.get("app_id")))


@admin.put("/settings")
def settings() -> Response:
    """Any of `rate_limit` (req/s per account, null = off), `ignored_filters`, `webhook_async`."""
    body, state = _body(), _state()
    if "rate_limit" in body:
        state.set_rate_limit(body["rate_limit"])
    if "ignored_filters" in body:
        state.set_ignored_filters(body["ignored_filters"])
    if "webhook_async" in body:
        state.webhook_async = bool(body["webhook_async"])
    return _json({"ok": True})


@admin.post("/faults")
def set_faults() -> Response:
    rules = request.get_json(silent=True)
    if not isinstance(rules, list):
        raise SandboxError(400, ["body must be a list of fault rules"])
    _state().set_faults([FaultRule.from_json(rule) for rule in rules])
    return _json(_state().faults.snapshot())


@admin.delete("/faults")
def clear_faults() -> Response:
    _state().clear_faults()
    return _json({"ok": True})


def _sandbox_error(exc: SandboxError) -> Response:
    return _json({"errors": exc.errors}, exc.status)


def create_app(state: WholeCellState) -> Flask:
    app = Flask("wholecell_sandbox")
    app.extensions[STATE_KEY] = state
    app.register_error_handler(SandboxError, _sandbox_error)
    app.register_blueprint(api)
    app.register_blueprint(admin)
    return app

def serve(host: str = "127.0.0.1", port: int = 0, *, rate_limit: float | None = None,
          seed: int | None = None, webhook_async: bool = False) -> RunningServer:
    """Start the sandbox on a background thread (port 0 = a free port); `server.state` is the
    `WholeCellState` for in-process seeding."""
    state = WholeCellState(rate_limit=rate_limit, seed=seed, webhook_async=webhook_async)
    return RunningServer(create_app(state), host, port, state)
