"""HTTP face of the Temu sandbox: the signed router, the Seller Center authorization page,
and the JSON admin interface under /_sandbox/.

The router applies the gateway checks in Temu's order (the app key is needed to check the
sign, and a bad sign masks every later error), then hands the call to the state.
Envelope errors are answered with HTTP 200, as Temu does; only injected faults use other
statuses.
"""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, jsonify, redirect, request
from werkzeug.wrappers import Response as WerkzeugResponse
from wholecell_temu.temu.signing import sign

from local.sandboxes.common import FaultRule
from local.sandboxes.temu.state import API_TYPES, SandboxError, SandboxState, Shop

TIMESTAMP_WINDOW = 300
REGION_PATHS = {"us": "US", "eu": "EU", "global": "GLOBAL"}


def _envelope(region: str, *, result: Any = None, code: int = 1000000, message: str = "") -> Response:
    body = {
        "success": code == 1000000,
        "errorCode": code,
        "errorMsg": message,
        "requestId": f"{region.lower()}-{uuid.uuid4()}",
        "result": result,
    }
    return Response(json.dumps(body, ensure_ascii=False), status=200, mimetype="application/json")


def _gateway_checks(state: SandboxState, body: dict[str, Any]) -> tuple[str, Shop]:
    """Everything Temu checks before the business logic; returns (type, shop)."""
    app_key = body.get("app_key")
    if not app_key:
        raise SandboxError(3000019, "app_key is missing")
    secret = state.app_keys.get(str(app_key))
    if secret is None:
        raise SandboxError(3000020, "app_key is invalid")
    if not body.get("sign"):
        raise SandboxError(3000040, "sign is missing")
    if sign(body, secret) != body["sign"]:
        raise SandboxError(3000001, "sign is invalid, please check your sign calculation")
    timestamp = body.get("timestamp")
    if timestamp is None or not str(timestamp).isdigit():
        raise SandboxError(3000010, "timestamp is missing")
    skew = int(timestamp) - state.now()
    if skew > TIMESTAMP_WINDOW:
        raise SandboxError(3000011, "timestamp is later than now")
    if skew < -TIMESTAMP_WINDOW:
        raise SandboxError(3000012, "timestamp is expired")
    if not body.get("data_type"):
        raise SandboxError(3000013, "data_type is missing")
    if str(body["data_type"]).upper() != "JSON":
        raise SandboxError(3000014, "data_type must be JSON")
    if state.rate_limited():
        raise SandboxError(4000004, "RATE_LIMIT_EXCEED_EXCEPTION: too frequent requests")
    api_type = str(body["type"])
    if api_type not in API_TYPES:
        raise SandboxError(3000003, f"type {api_type} is not supported")
    with state.lock:
        shop = state.authenticate(api_type, str(app_key), body.get("access_token"))
    return api_type, shop


def _route(state: SandboxState, region: str | None) -> Response:
    """One router call; `region` is the path's region (None for the plain path: any region)."""
    body = request.get_json(force=True, silent=True)
    default_region = region or "US"
    if not isinstance(body, dict):
        return _envelope(default_region, code=3000000, message="BAD_PARAMS: body must be a JSON object")
    if not body.get("type"):
        return _envelope(default_region, code=3000002, message="type is missing")
    state.count_request(str(body["type"]))
    fault = state.faults.apply(str(body["type"]))
    if fault is not None:
        return fault
    shop_region = default_region
    try:
        api_type, shop = _gateway_checks(state, body)
        shop_region = shop.region
        if region is not None and shop.region != region:
            raise SandboxError(120011072, "The request area is incorrect")
        answer = _envelope(shop_region, result=state.dispatch(api_type, shop, body))
    except SandboxError as exc:
        state.count_error(exc.code)
        state.faults.discard()  # refused: nothing was done, so nothing to lose afterwards
        return _envelope(shop_region, code=exc.code, message=exc.message)
    port = request.environ.get("REMOTE_PORT")
    lost = state.faults.after(int(port) if port else None)  # done, but the answer may never arrive
    return lost if lost is not None else answer


def create_app(state: SandboxState) -> Flask:
    app = Flask("temu-sandbox")

    @app.post("/openapi/router")
    def router_any() -> Response:
        return _route(state, None)

    @app.post("/<region>/openapi/router")
    def router_region(region: str) -> Response:
        if region not in REGION_PATHS:
            return Response("not found", status=404)
        return _route(state, REGION_PATHS[region])

    @app.get("/open-platform/client-manage/authorization")
    def authorize() -> WerkzeugResponse:
        """Seller Center: the seller authorizes the app; answer 302 to the app's callback."""
        app_key = request.args.get("appKey", "")
        redirect_uri = request.args.get("redirect_uri", "")
        if app_key not in state.app_keys or not redirect_uri:
            return Response("unknown appKey or missing redirect_uri", status=400)
        with state.lock:
            if not state.shops:
                return Response("no shop to authorize; create one first", status=409)
            mall_id = int(request.args.get("mall_id") or next(iter(state.shops)))
            code = state.issue_code(mall_id, app_key=app_key)
        query = urlencode(
            {
                "code": code,
                "state": request.args.get("state", ""),
                "app_key": app_key,
                "callback_host": request.host,
            }
        )
        return redirect(f"{redirect_uri}{'&' if '?' in redirect_uri else '?'}{query}", code=302)

    _admin_routes(app, state)
    return app


def _json() -> dict[str, Any]:
    body = request.get_json(force=True, silent=True)
    return body if isinstance(body, dict) else {}


def _admin_routes(app: Flask, state: SandboxState) -> None:  # noqa: C901 - a flat list of small routes
    """JSON admin interface; every route mirrors a SandboxState method."""

    @app.errorhandler(KeyError)
    def not_found(exc: KeyError) -> tuple[Response, int]:
        return jsonify({"error": f"not found: {exc}"}), 404

    @app.errorhandler(ValueError)
    def bad_request(exc: ValueError) -> tuple[Response, int]:
        return jsonify({"error": str(exc)}), 400

    @app.post("/_sandbox/reset")
    def reset() -> Response:
        state.reset()
        return jsonify({"ok": True})

    @app.post("/_sandbox/shops")
    def create_shop() -> tuple[Response, int]:
        body = _json()
        return jsonify(
            state.create_shop(
                region=body.get("region", "US"),
                mall_id=body.get("mallId"),
                goods=body.get("goods", []),
                generate=body.get("generate"),
                scopes=body.get("scopes"),
            )
        ), 201

    @app.post("/_sandbox/shops/<int:mall_id>/skus/<int:sku_id>")
    def set_sku(mall_id: int, sku_id: int) -> Response:
        body = _json()
        state.set_sku(
            mall_id, sku_id, stock=body.get("stock"), status=body.get("status"), sku_sn=body.get("skuSn")
        )
        return jsonify({"ok": True})

    @app.get("/_sandbox/shops/<int:mall_id>/stock")
    def stock(mall_id: int) -> Response:
        return jsonify({str(k): v for k, v in state.stock(mall_id).items()})

    @app.post("/_sandbox/shops/<int:mall_id>/orders")
    def add_orders(mall_id: int) -> tuple[Response, int]:
        body = _json()
        if "generate" in body:
            sns = state.generate_orders(
                mall_id, int(body["generate"]), status=int(body.get("status", 2)), seed=body.get("seed")
            )
        else:
            sns = [
                state.add_order(
                    mall_id,
                    body.get("lines", []),
                    status=int(body.get("status", 1)),
                    parent_order_sn=body.get("parentOrderSn"),
                    address=body.get("address"),
                    labels=body.get("labels"),
                )
            ]
        return jsonify({"parentOrderSns": sns}), 201

    @app.post("/_sandbox/orders/<parent_order_sn>/status")
    def set_status(parent_order_sn: str) -> Response:
        state.set_order_status(parent_order_sn, int(_json()["status"]))
        return jsonify({"ok": True})

    @app.post("/_sandbox/orders/<parent_order_sn>/advance")
    def advance(parent_order_sn: str) -> Response:
        return jsonify({"status": state.advance_order(parent_order_sn)})

    @app.post("/_sandbox/orders/<parent_order_sn>/cancel-line")
    def cancel_line(parent_order_sn: str) -> Response:
        body = _json()
        state.cancel_line(parent_order_sn, str(body["orderSn"]), body.get("quantity"))
        return jsonify({"ok": True})

    @app.post("/_sandbox/orders/<parent_order_sn>/labels")
    def labels(parent_order_sn: str) -> Response:
        state.set_order_labels(parent_order_sn, {str(k): int(v) for k, v in _json().items()})
        return jsonify({"ok": True})

    @app.post("/_sandbox/shops/<int:mall_id>/tokens")
    def issue_token(mall_id: int) -> tuple[Response, int]:
        body = _json()
        token = state.issue_token(mall_id, scopes=body.get("scopes"), app_key=body.get("appKey"))
        return jsonify({"accessToken": token}), 201

    @app.post("/_sandbox/tokens/expire")
    def expire_token() -> Response:
        body = _json()
        state.expire_token(str(body["accessToken"]), body.get("expiredTime"))
        return jsonify({"ok": True})

    @app.post("/_sandbox/tokens/revoke")
    def revoke_token() -> Response:
        state.revoke_token(str(_json()["accessToken"]))
        return jsonify({"ok": True})

    @app.post("/_sandbox/shops/<int:mall_id>/codes")
    def issue_code(mall_id: int) -> tuple[Response, int]:
        body = _json()
        code = state.issue_code(
            mall_id,
            scopes=body.get("scopes"),
            app_key=body.get("appKey"),
            expires_in=float(body.get("expiresIn", 600)),
        )
        return jsonify({"code": code}), 201

    @app.get("/_sandbox/state")
    def snapshot() -> Response:
        return jsonify(state.snapshot())

    @app.post("/_sandbox/rate-limit")
    def rate_limit() -> Response:
        rate = _json().get("rate")
        state.configure_rate_limit(float(rate) if rate is not None else None)
        return jsonify({"rate": state.rate_limit})

    @app.post("/_sandbox/faults")
    def set_faults() -> Response:
        raw = request.get_json(force=True, silent=True)
        rules = raw if isinstance(raw, list) else (raw or {}).get("rules", [])
        state.faults.set_rules([FaultRule.from_json(r) for r in rules])
        return jsonify(state.faults.snapshot())

    @app.delete("/_sandbox/faults")
    def clear_faults() -> Response:
        state.faults.clear()
        return jsonify({"ok": True})
