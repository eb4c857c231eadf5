"""The local stand-in for API Gateway's HTTP API: routes from template.yaml, payload format 2.0.

`sam local start-api` needs Docker, which these machines lack. This module matches a request
against the `HttpApi` events the template declares (exact routes before `{param}` routes
before `{proxy+}`, a specific method before ANY), builds the event API Gateway would send
(payload version 2.0) and turns the handler's result back into an HTTP response.

AWS_IAM routes are not checked by default. With a `SigV4Check` (LocalStack(verify_sigv4=True))
their requests must carry a SigV4 signature for service execute-api and the stack's region by a
known credential pair: the signature is recomputed with botocore and compared, and a request that
does not verify is answered 403 as API Gateway answers it.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import json
import re
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from werkzeug.wrappers import Request, Response

from local.template import ACCOUNT_ID, HttpRoute

_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript",
               "application/x-www-form-urlencoded", "+json", "+xml")


@dataclass(frozen=True)
class Route:
    function: str  # logical id
    spec: HttpRoute

    @property
    def _pattern(self) -> re.Pattern[str]:
        parts = []
        for segment in self.spec.path.strip("/").split("/"):
            if segment.startswith("{") and segment.endswith("+}"):
                parts.append(f"(?P<{_group(segment[1:-2])}>.+)")
            elif segment.startswith("{") and segment.endswith("}"):
                parts.append(f"(?P<{_group(segment[1:-1])}>[^/]+)")
            else:
                parts.append(re.escape(segment))
        return re.compile("/" + "/".join(parts) + "/?")

    @property
    def priority(self) -> tuple[int, int, int, int]:
        """Lower sorts first: $default last, greedy after params after exact, ANY after a method."""
        path = self.spec.path
        return (path == "$default", "+}" in path, path.count("{"), self.spec.method == "ANY")

    def match(self, method: str, raw_path: str) -> dict[str, str] | None:
        if self.spec.method not in ("ANY", method):
            return None
        if self.spec.path == "$default":
            return {}
        found = self._pattern.fullmatch(raw_path)
        if found is None:
            return None
        return {_name(group): unquote(value) for group, value in found.groupdict().items()}


def _group(name: str) -> str:
    """Path parameter names may hold characters a regex group name cannot."""
    return "p_" + name.encode().hex()


def _name(group: str) -> str:
    return bytes.fromhex(group[2:]).decode()


def find_route(routes: Sequence[Route], method: str, raw_path: str) -> tuple[Route, dict[str, str]] | None:
    for route in sorted(routes, key=lambda r: r.priority):
        params = route.match(method, raw_path)
        if params is not None:
            return route, params
    return None


def _is_text(content_type: str) -> bool:
    content_type = content_type.split(";", maxsplit=1)[0].strip().lower()
    return any(t in content_type for t in _TEXT_TYPES)


def _joined(pairs: Sequence[tuple[str, str]]) -> dict[str, str]:
    """API Gateway joins repeated headers and query parameters with commas."""
    joined: dict[str, str] = {}
    for key, value in pairs:
        joined[key] = f"{joined[key]},{value}" if key in joined else value
    return joined


@dataclass(frozen=True)
class SigV4Check:
    """API Gateway's AWS_IAM authorizer, locally: the signature must verify for `region` and service
    execute-api with one of `credentials` (access key id -> secret access key)."""

    region: str
    credentials: Mapping[str, str]
    service: str = "execute-api"
    max_skew_seconds: int = 300  # AWS: "Signature expired" beyond 5 minutes

    def refusal(self, request: Request, raw_uri: str) -> str | None:
        """None when the request verifies; else the message API Gateway's 403 carries."""
        fields = _authorization(request.headers.get("Authorization", ""))
        if fields is None:
            return "Forbidden"
        credential, signed_names, signature = fields
        access_key, _, scope = credential.partition("/")
        date, region, service, terminator = ([*scope.split("/"), "", "", "", ""])[:4]
        amz_date = request.headers.get("X-Amz-Date", "")
        if access_key not in self.credentials:
            return "The security token included in the request is invalid."
        if (region, service, terminator) != (self.region, self.service, "aws4_request"):
            return f"Credential should be scoped to a valid region and service ({self.region}/{self.service})."
        problem = self._time_problem(amz_date, date) or _header_problem(request, signed_names)
        if problem:
            return problem
        headers = {name: request.headers.get(name, "") for name in signed_names}
        signing = AWSRequest(method=request.method, url=f"http://{request.host}{raw_uri}", headers=headers,
                             data=request.get_data())
        signing.context["timestamp"] = amz_date
        auth = SigV4Auth(Credentials(access_key, self.credentials[access_key]), self.service, self.region)
        expected = auth.signature(auth.string_to_sign(signing, auth.canonical_request(signing)), signing)
        if not hmac.compare_digest(expected, signature):
            return ("The request signature we calculated does not match the signature you provided. Check your "
                    "AWS Secret Access Key and signing method. Consult the service documentation for details.")
        return None

    def _time_problem(self, amz_date: str, scope_date: str) -> str | None:
        try:
            signed_at = datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
        except ValueError:
            return "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
        if scope_date != amz_date[:8]:
            return "Credential should be scoped to the date of X-Amz-Date."
        if abs((datetime.now(UTC) - signed_at).total_seconds()) > self.max_skew_seconds:
            return "Signature expired"
        return None


def _authorization(header: str) -> tuple[str, list[str], str] | None:
    """(Credential, SignedHeaders, Signature) of an AWS4-HMAC-SHA256 Authorization header."""
    algorithm, _, rest = header.strip().partition(" ")
    if algorithm != "AWS4-HMAC-SHA256":
        return None
    parts = dict(part.strip().partition("=")[::2] for part in rest.split(","))
    if not all(parts.get(key) for key in ("Credential", "SignedHeaders", "Signature")):
        return None
    return parts["Credential"], parts["SignedHeaders"].split(";"), parts["Signature"]


def _header_problem(request: Request, signed_names: list[str]) -> str | None:
    if "host" not in signed_names or "x-amz-date" not in signed_names:
        return "'Host' and 'X-Amz-Date' must be signed headers."
    missing = [name for name in signed_names if name not in request.headers]
    if missing:
        return f"Signed headers missing from the request: {', '.join(missing)}"
    content_hash = request.headers.get("X-Amz-Content-SHA256")
    if content_hash is not None and content_hash != hashlib.sha256(request.get_data()).hexdigest():
        return "The provided 'x-amz-content-sha256' header does not match what was computed."
    return None


def build_event(request: Request, route: Route, params: dict[str, str], domain: str) -> dict[str, Any]:
    """The API Gateway HTTP API payload v2.0 event for this request."""
    raw_uri = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or request.full_path
    raw_path, _, raw_query = str(raw_uri).partition("?")
    headers = _joined([(k.lower(), v) for k, v in request.headers.items() if k.lower() != "cookie"])
    now = time.time()
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.spec.route_key,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": "local",
            "domainName": domain,
            "domainPrefix": domain.split(".", maxsplit=1)[0],
            "http": {
                "method": request.method,
                "path": raw_path,
                "protocol": request.environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
                "sourceIp": request.remote_addr or "127.0.0.1",
                "userAgent": request.headers.get("User-Agent", ""),
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": route.spec.route_key,
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": False,
    }
    if request.cookies:
        event["cookies"] = [f"{k}={v}" for k, v in request.cookies.items(multi=True)]
    if raw_query:
        event["queryStringParameters"] = _joined(parse_qsl(raw_query, keep_blank_values=True))
    if params:
        event["pathParameters"] = params
    if route.spec.authorizer == "AWS_IAM":  # verified only with a SigV4Check; shaped like a signed caller
        event["requestContext"]["authorizer"] = {"iam": {
            "accessKey": "LOCAL", "accountId": ACCOUNT_ID, "callerId": "local", "principalOrgId": None,
            "userArn": f"arn:aws:iam::{ACCOUNT_ID}:user/local", "userId": "local", "cognitoIdentity": None}}
    body = request.get_data()
    if body:
        if _is_text(request.content_type or ""):
            with contextlib.suppress(UnicodeDecodeError):
                event["body"] = body.decode("utf-8")
        if "body" not in event:
            event["body"] = base64.b64encode(body).decode("ascii")
            event["isBase64Encoded"] = True
    return event


def build_response(result: Any) -> Response:
    """Map a handler result to HTTP as API Gateway does (a result without statusCode is a 200 JSON body)."""
    if not (isinstance(result, dict) and "statusCode" in result):
        return Response(json.dumps(result), status=200, content_type="application/json")
    body = result.get("body") or ""
    data = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode("utf-8")
    response = Response(data, status=int(result["statusCode"]))
    response.headers.remove("Content-Type")
    for key, value in (result.get("headers") or {}).items():
        response.headers[key] = str(value)
    for cookie in result.get("cookies") or []:
        response.headers.add("Set-Cookie", cookie)
    return response


def json_error(status: int, message: str) -> Response:
    return Response(json.dumps({"message": message}), status=status, content_type="application/json")


def wsgi_app(routes: Sequence[Route], invoke: Callable[[str, dict[str, Any]], Any],
             domain: Callable[[], str], sigv4: SigV4Check | None = None) -> Callable[..., Any]:
    """A WSGI app that routes each request to `invoke(function_logical_id, event)`; with `sigv4`, the
    AWS_IAM routes' signatures are verified first (403 otherwise, as API Gateway answers)."""

    @Request.application  # type: ignore[untyped-decorator]
    def app(request: Request) -> Response:
        raw_uri = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or request.path
        found = find_route(routes, request.method, str(raw_uri).partition("?")[0])
        if found is None:
            return json_error(404, "Not Found")
        route, params = found
        if sigv4 is not None and route.spec.authorizer == "AWS_IAM":
            full_uri = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI") or request.full_path
            refusal = sigv4.refusal(request, str(full_uri))
            if refusal is not None:
                return json_error(403, refusal)
        try:
            result = invoke(route.function, build_event(request, route, params, domain()))
        except Exception:  # API Gateway answers 500 for any integration failure
            return json_error(500, "Internal Server Error")
        return build_response(result)

    return app
