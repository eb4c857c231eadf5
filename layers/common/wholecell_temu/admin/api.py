"""Admin HTTP API routes (Powertools event handler; OpenAPI generated from these routes)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any, Literal

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from wholecell_temu.admin.authorizations import AuthorizationList, BindRequest, bind, list_authorizations
from wholecell_temu.admin.diagnosis import Diagnosis, diagnose
from wholecell_temu.admin.listings import (
    BulkResult,
    ConnectionRequest,
    ListingPage,
    ListingService,
    ListingView,
    bulk_connect,
    view,
)
from wholecell_temu.admin.models import (
    AuthorizeLinkResponse,
    ConnectionList,
    ConnectionView,
    CreateConnectionRequest,
    CreateConnectionResponse,
    DeletedConnection,
    ErrorResponse,
    RotateWebhookSecretRequest,
    RunList,
    RunQueued,
    SettingsRequest,
    SettingsResponse,
    WebhookSecretResponse,
    WholeCellCredentials,
)
from wholecell_temu.admin.orders import OrderView, ResendQueued, get_order, resend_shipments
from wholecell_temu.admin.service import ConnectionService
from wholecell_temu.api_errors import ApiError, BadRequest
from wholecell_temu.store.connections import ConflictError
from wholecell_temu.store.inventory import InventoryMirror
from wholecell_temu.store.listings import ListingRepository
from wholecell_temu.store.orders import OrderRepository
from wholecell_temu.store.shipments import ShipmentRepository
from wholecell_temu.web import base_url


def responses(success: tuple[int, str, type[Any]] | None = None, *, conflict: bool = False
              ) -> dict[int, OpenAPIResponse]:
    """OpenAPI responses of a route: its success (when not 200) and the error shapes."""
    documented: dict[int, OpenAPIResponse] = {
        400: {"description": "Invalid request", "content": {"application/json": {"model": ErrorResponse}}},
        404: {"description": "Not found", "content": {"application/json": {"model": ErrorResponse}}},
    }
    if conflict:
        documented[409] = {"description": "Changed concurrently; read again",
                           "content": {"application/json": {"model": ErrorResponse}}}
    if success:
        status, description, model = success
        documented[status] = {"description": description, "content": {"application/json": {"model": model}}}
    else:  # Powertools documents only the responses given; the route's return type is its 200
        documented[200] = {"description": "Successful Response"}
    return documented


# Every admin route is IAM-authorized (API Gateway's AWS_IAM authorizer): a SigV4-signed request.
SECURITY_SCHEMES: dict[str, Any] = {"sigv4": APIKey(
    name="Authorization", in_=APIKeyIn.header,
    description="AWS Signature Version 4 (IAM): sign the request for service `execute-api` with credentials "
                "allowed execute-api:Invoke on the admin routes",
    openapi_extensions={"x-amazon-apigateway-authtype": "awsSigv4"})}
CSV_BODY = {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}},
            "description": "UTF-8 CSV with a header: `temu_sku_id` (or `temu_goods_id` and `seller_sku`), "
                           "`wholecell_sku` or `product_variation_id`, optional `factor`; one row per connection, "
                           "rows naming one listing pool into its connection"}


def openapi_document(app: APIGatewayHttpResolver, title: str, version: str = "1") -> dict[str, Any]:
    """The admin API's OpenAPI document: Powertools' generated one, SigV4 on every route, and without
    the 422 Powertools adds to every validated route (a validation error is answered 400, in the
    `ErrorResponse` shape every route documents)."""
    document: dict[str, Any] = json.loads(app.get_openapi_json_schema(
        title=title, version=version, security_schemes=SECURITY_SCHEMES, security=[{"sigv4": []}]))
    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            operation.get("responses", {}).pop("422", None)
    schemas = document.get("components", {}).get("schemas", {})
    for name in ("HTTPValidationError", "ResponseValidationError", "ValidationError"):  # Powertools' own shapes
        if f'"#/components/schemas/{name}"' not in json.dumps(document):
            schemas.pop(name, None)
    return document


def request_json(app: APIGatewayHttpResolver) -> Any:
    """The request's JSON body, or None when it is absent or not JSON (the service answers 400)."""
    try:
        return app.current_event.json_body
    except (ValueError, TypeError):
        return None


def request_text(app: APIGatewayHttpResolver) -> str:
    """The request's body as text; a body that is not UTF-8 is refused (400), not a crash."""
    try:
        return app.current_event.decoded_body or ""
    except (ValueError, TypeError):  # UnicodeDecodeError and binascii.Error are ValueErrors
        raise BadRequest("the body is not UTF-8 text", {"body": "send UTF-8 text"}) from None


def json_response(status: int, body: Any) -> Response[Any]:
    return Response(status_code=status, content_type="application/json", body=json.dumps(body, default=str))


MAX_CONNECTION_ID = 64  # ids are 32 hex digits; the webhook refuses longer ones the same way


def overlong_connection_id(app: APIGatewayHttpResolver) -> Response[Any] | None:
    """404 for /admin/connections/<connection_id>/... with an id longer than any: no connection, nor a
    valid DynamoDB key. Checked before any route runs, and before a body's validation error is answered."""
    segments = app.current_event.path.split("/")
    if len(segments) > 3 and segments[2] == "connections" and len(segments[3]) > MAX_CONNECTION_ID:
        return json_response(404, {"error": {"code": "not_found", "message": "connection not found"}})
    return None


def refuse_malformed_bodies(app: APIGatewayHttpResolver) -> None:
    """A body that is not UTF-8, or a JSON array, is a 400 and an overlong connection id a 404, before
    any route runs."""

    def json_arrays_refused(app: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response[Any]:
        """No admin route takes a JSON array, and Powertools' validation reads an array body as its
        first element (`[{...}]` passes as `{...}`): refused before any route runs."""
        refused = overlong_connection_id(app)
        if refused is not None:
            return refused
        if isinstance(request_json(app), list):
            return json_response(400, {"error": {"code": "invalid_request", "message": "the body must be a "
                                                 "JSON object", "fields": {"body": "not an array"}}})
        return next_middleware(app)

    app.use(middlewares=[json_arrays_refused])

    @app.exception_handler(UnicodeDecodeError)  # validation reads the body before any route does
    def _not_utf8(exc: UnicodeDecodeError) -> Response[Any]:
        return json_response(400, {"error": {"code": "invalid_request", "message": "the body is not UTF-8 text",
                                             "fields": {"body": "send UTF-8 text"}}})


def answer_validation_errors(app: APIGatewayHttpResolver) -> None:
    """The Event Handler's validation errors in the API's shape: 400, the fields named."""

    @app.exception_handler(RequestValidationError)
    def _invalid(exc: RequestValidationError) -> Response[Any]:
        refused = overlong_connection_id(app)  # the body's validation runs before the middlewares
        if refused is not None:
            return refused
        fields = {}
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ()) if p not in ("body", "query", "path")]
            fields[".".join(loc) or "body"] = str(err.get("msg", "invalid"))
        return json_response(400, {"error": {"code": "invalid_request", "message": "invalid request",
                                             "fields": fields}})

    @app.exception_handler(RequestUnsupportedContentType)  # a JSON route sent another media type
    def _not_json(exc: RequestUnsupportedContentType) -> Response[Any]:
        refused = overlong_connection_id(app)
        if refused is not None:
            return refused
        return json_response(400, {"error": {"code": "invalid_request", "message": "the body must be JSON",
                                             "fields": {"body": "send Content-Type: application/json"}}})


def build_app(service_factory: Any) -> APIGatewayHttpResolver:
    """The resolver; `service_factory()` returns the ConnectionService (built lazily)."""
    app = APIGatewayHttpResolver(enable_validation=True)

    def service() -> ConnectionService:
        result: ConnectionService = service_factory()
        return result

    @app.exception_handler(ApiError)
    def _api_error(exc: ApiError) -> Response[Any]:
        return json_response(exc.status, exc.body())

    @app.exception_handler(ConflictError)
    def _conflict(exc: ConflictError) -> Response[Any]:
        return json_response(409, {"error": {"code": "conflict", "message": str(exc)}})

    refuse_malformed_bodies(app)
    answer_validation_errors(app)

    @app.not_found
    def _not_found(exc: Exception) -> Response[Any]:
        return json_response(404, {"error": {"code": "not_found", "message": "no such route"}})

    @app.get("/admin/openapi.json", include_in_schema=False)
    def openapi() -> Response[Any]:
        return json_response(200, openapi_document(app, "WholeCell-Temu admin API"))

    @app.post("/admin/connections", responses=responses((201, "Created", CreateConnectionResponse)))
    def create_connection(body: CreateConnectionRequest) -> Response[CreateConnectionResponse]:
        created = service().create(body, base_url(app))
        return Response(status_code=201, content_type="application/json", body=created)

    @app.get("/admin/connections", responses=responses())
    def list_connections(
        limit: Annotated[int, Query(ge=1, le=100)] = 50,
        cursor: Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9_-]+$")] = None,
    ) -> ConnectionList:
        """A page of connections (table order); each page's run health is batch-read at once."""
        svc = service()
        connections, next_cursor = svc.services.connections.page(limit, cursor)
        last_runs = svc.services.runs.last_finished([c.connection_id for c in connections])
        return ConnectionList(items=[svc.view(c, last_runs) for c in connections], next_cursor=next_cursor)

    @app.get("/admin/connections/<connection_id>", responses=responses())
    def get_connection(connection_id: str) -> ConnectionView:
        svc = service()
        return svc.view(svc.require(connection_id, deleted=True))

    add_lifecycle_routes(app, service)

    @app.put("/admin/connections/<connection_id>/settings", responses=responses())
    def put_settings(connection_id: str, body: SettingsRequest) -> SettingsResponse:
        return service().replace_settings(connection_id, body)

    @app.post("/admin/connections/<connection_id>/jobs/<job>/run", responses=responses((202, "Queued", RunQueued)))
    def run_job(connection_id: str, job: str) -> Response[RunQueued]:
        run_id = service().queue_run(connection_id, job)
        return Response(status_code=202, content_type="application/json", body=RunQueued(run_id=run_id))

    @app.post("/admin/connections/<connection_id>/listings/import",
              responses=responses((202, "Queued", RunQueued)))
    def import_listings(connection_id: str) -> Response[RunQueued]:
        return run_job(connection_id, "listing_import")

    add_credential_routes(app, service)
    add_listing_routes(app, service)
    add_order_routes(app, service)

    @app.get("/admin/connections/<connection_id>/runs", responses=responses())
    def list_runs(connection_id: str, job: Annotated[str | None, Query()] = None) -> RunList:
        return RunList(items=service().runs(connection_id, job))

    return app


def add_lifecycle_routes(app: APIGatewayHttpResolver, service: Callable[[], ConnectionService]) -> None:
    """Authorize links, disable / enable, delete."""

    @app.post("/admin/connections/<connection_id>/authorize-link",
              responses=responses((201, "Issued", AuthorizeLinkResponse), conflict=True))
    def authorize_link(connection_id: str) -> Response[AuthorizeLinkResponse]:
        link = service().authorize_link(connection_id, base_url(app))
        return Response(status_code=201, content_type="application/json", body=link)

    @app.post("/admin/connections/<connection_id>/disable", responses=responses(conflict=True))
    def disable_connection(connection_id: str) -> ConnectionView:
        return service().disable(connection_id)

    @app.post("/admin/connections/<connection_id>/enable", responses=responses(conflict=True))
    def enable_connection(connection_id: str) -> ConnectionView:
        return service().enable(connection_id)

    @app.delete("/admin/connections/<connection_id>", responses=responses(conflict=True))
    def delete_connection(connection_id: str) -> DeletedConnection:
        return service().delete(connection_id)

    @app.get("/admin/authorizations")
    def list_unbound_authorizations() -> AuthorizationList:
        return list_authorizations(service())

    @app.post("/admin/connections/<connection_id>/bind", responses=responses(conflict=True))
    def bind_authorization(connection_id: str, body: BindRequest) -> ConnectionView:
        return bind(service(), connection_id, body.authorization_id)


def add_credential_routes(app: APIGatewayHttpResolver, service: Callable[[], ConnectionService]) -> None:
    """A connection's WholeCell credentials and its webhook signing secret (rotation)."""

    @app.put("/admin/connections/<connection_id>/wholecell", responses=responses(conflict=True))
    def put_wholecell(connection_id: str, body: WholeCellCredentials) -> ConnectionView:
        return service().replace_wholecell(connection_id, body)

    @app.post("/admin/connections/<connection_id>/webhook-secret", responses=responses(conflict=True))
    def rotate_webhook_secret(connection_id: str, body: RotateWebhookSecretRequest) -> WebhookSecretResponse:
        return service().rotate_webhook_secret(connection_id, body.overlap_hours, base_url(app))

    @app.delete("/admin/connections/<connection_id>/webhook-secret/previous", responses=responses())
    def retire_previous_webhook_secret(connection_id: str) -> ConnectionView:
        return service().retire_previous_webhook_secret(connection_id)


def add_listing_routes(app: APIGatewayHttpResolver, service: Callable[[], ConnectionService]) -> None:
    """Listings: search, one listing, connection by hand."""

    def listings() -> ListingService:
        return ListingService(service(), ListingRepository())

    @app.get("/admin/connections/<connection_id>/listings", responses=responses())
    def search_listings(
        connection_id: str,
        q: Annotated[str | None, Query(max_length=200)] = None,
        connected: Annotated[bool | None, Query()] = None,
        status: Annotated[Literal["active", "ended"] | None, Query()] = None,
        cursor: Annotated[str | None, Query(max_length=40, pattern=r"^[0-9]*$")] = None,  # empty: the first page
    ) -> ListingPage:
        return listings().search(connection_id, q, connected, status, cursor)

    @app.get("/admin/connections/<connection_id>/listings/<temu_sku_id>", responses=responses())
    def get_listing(connection_id: str, temu_sku_id: int) -> ListingView:
        return view(listings().one(connection_id, temu_sku_id))

    @app.get("/admin/connections/<connection_id>/listings/<temu_sku_id>/diagnosis", responses=responses())
    def diagnose_listing(connection_id: str, temu_sku_id: int) -> Diagnosis:
        return diagnose(service(), ListingRepository(), InventoryMirror(), connection_id, temu_sku_id)

    @app.put("/admin/connections/<connection_id>/listings/<temu_sku_id>/connection", responses=responses())
    def connect_listing(connection_id: str, temu_sku_id: int, body: ConnectionRequest) -> ListingView:
        return view(listings().connect(connection_id, temu_sku_id, body))

    # CSV is text, which the Event Handler's validation does not read: the route reads it itself, and
    # its request body is documented here
    @app.post("/admin/connections/<connection_id>/listings/connections", responses=responses(),
              openapi_extensions={"requestBody": CSV_BODY})
    def bulk_connections(connection_id: str, dry_run: Annotated[bool, Query()] = False) -> BulkResult:
        text = request_text(app)  # refused before anything is read
        return bulk_connect(listings(), connection_id, text, dry_run=dry_run)

    @app.delete("/admin/connections/<connection_id>/listings/<temu_sku_id>/connection", responses=responses())
    def disconnect_listing(connection_id: str, temu_sku_id: int) -> Response[Any]:
        listings().disconnect(connection_id, temu_sku_id)
        return Response(status_code=204, body="")


# Temu's parent order numbers are short ASCII ("PO-211-…"); a longer one is no order (and no valid key)
OrderSn = Annotated[str, Path(max_length=100)]


def add_order_routes(app: APIGatewayHttpResolver, service: Callable[[], ConnectionService]) -> None:
    """Orders: one order as the integration sees it; re-import of one order."""

    @app.get("/admin/connections/<connection_id>/orders/<parent_order_sn>", responses=responses())
    def get_one_order(connection_id: str, parent_order_sn: OrderSn) -> OrderView:
        svc = service()
        return get_order(svc, OrderRepository(svc.services.clock), connection_id, parent_order_sn)

    @app.post("/admin/connections/<connection_id>/orders/<parent_order_sn>/shipments/resend",
              responses=responses((202, "Queued", ResendQueued)))
    def resend(connection_id: str, parent_order_sn: OrderSn) -> Response[ResendQueued]:
        svc = service()
        clock = svc.services.clock
        queued = resend_shipments(svc, OrderRepository(clock), ShipmentRepository(clock), connection_id,
                                  parent_order_sn)
        return Response(status_code=202, content_type="application/json", body=queued)

    @app.post("/admin/connections/<connection_id>/orders/<parent_order_sn>/reimport",
              responses=responses((202, "Queued", RunQueued)))
    def reimport_order(connection_id: str, parent_order_sn: OrderSn) -> Response[RunQueued]:
        run_id = service().queue_run(connection_id, "order_import", target=parent_order_sn)
        return Response(status_code=202, content_type="application/json", body=RunQueued(run_id=run_id))
