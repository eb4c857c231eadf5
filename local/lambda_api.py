"""The local stand-in for Lambda's Invoke API (what `sam local start-lambda` serves), on a running
local stack: `make local` serves it on 127.0.0.1:${LOCAL_LAMBDA_PORT:-3001}, and `make invoke`
(local/invoke.py) runs its invocations there when it finds it.

- `GET /2015-03-31/functions/`: ListFunctions, the template's functions (how `make invoke`
  recognizes a running stack).
- `POST /2015-03-31/functions/{name}/invocations`: Invoke, `RequestResponse` only, on the stack's
  warm worker of the function; a handler's failure answers 200 with `X-Amz-Function-Error:
  Unhandled` and Lambda's error payload; `X-Amz-Log-Type: Tail` returns the last 4 KB of the
  invocation's logs in `X-Amz-Log-Result`, as Lambda does. So
  `aws lambda invoke --endpoint-url http://127.0.0.1:3001 --function-name AdminFunction ...` works.
- `POST /_local/fill/{name}` (not Lambda's): body `{"event": ...}`; answers `{"event", "filled"}`,
  the event with its placeholders filled on this stack (local/invoke.py, `EventFiller`).
- `POST /_local/invoke/{name}` (not Lambda's): body `{"event": ...}`; answers `{"result"}` or
  `{"error"}` (Lambda's error payload), with every log line of the invocation in `"logs"` (a
  header could not carry them).
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote

import requests
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

from local.stack import LocalStack, reachable_host
from local.workers import FunctionTimeout, InvocationError, WorkerCrashed

FUNCTIONS_PATH = "/2015-03-31/functions/"
_INVOKE = re.compile(r"/2015-03-31/functions/(?P<name>[^/]+)/invocations/?")
_LOCAL = re.compile(r"/_local/(?P<action>fill|invoke)/(?P<name>[^/]+)/?")
TAIL_BYTES = 4096  # Lambda's LogResult holds the last 4 KB

# Fills an event's placeholders for a function: (event, filled values); raises EventError on a bad event
Filler = Callable[[str, Any], tuple[Any, dict[str, str]]]


class EventError(ValueError):
    """The event cannot be filled for this function (an unknown placeholder, one out of place)."""


@dataclass(frozen=True)
class Invocation:
    """One invocation's outcome: the handler's result, or Lambda's error payload; its logs."""

    result: Any = None
    error: dict[str, Any] | None = None
    logs: str = ""


class NotALocalStack(RuntimeError):
    """Something answers on the Lambda API's port, but not a local stack."""


def invoke(stack: LocalStack, function: str, event: Any) -> Invocation:
    """Invoke on the stack's worker; a handler's failure, a timeout or a crash is an error result."""
    try:
        result, logs = stack.invoke_logged(function, event)
    except InvocationError as exc:
        logs = exc.logs
        if isinstance(exc, FunctionTimeout | WorkerCrashed):
            logs = logs or "(the worker was killed: its output went to the stack's own output)\n"
        return Invocation(error=exc.payload(), logs=logs)
    return Invocation(result=result, logs=logs)


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(body), status=status, headers=headers, content_type="application/json")


def _error(status: int, error_type: str, message: str) -> Response:
    """An error of the Lambda API itself (not of the function), shaped like AWS's."""
    return _json(status, {"Type": "User", "message": message}, {"x-amzn-ErrorType": error_type})


def _functions(stack: LocalStack) -> Response:
    return _json(200, {"Functions": [
        {"FunctionName": f.logical_id, "Handler": f.handler, "Timeout": f.timeout, "MemorySize": f.memory_size}
        for f in stack.template.functions.values()]})


def _lambda_invoke(stack: LocalStack, request: Request, name: str) -> Response:
    invocation_type = request.headers.get("X-Amz-Invocation-Type", "RequestResponse")
    if invocation_type != "RequestResponse":
        return _error(400, "InvalidParameterValueException",
                      f"InvocationType {invocation_type} is not served locally; use RequestResponse")
    try:
        event = json.loads(request.get_data() or b"{}")
    except ValueError as exc:
        return _error(400, "InvalidRequestContentException", f"Could not parse request body into json: {exc}")
    outcome = invoke(stack, name, event)
    headers = {"X-Amz-Executed-Version": "$LATEST"}
    if outcome.error is not None:
        headers["X-Amz-Function-Error"] = "Unhandled"
    if request.headers.get("X-Amz-Log-Type") == "Tail":
        headers["X-Amz-Log-Result"] = base64.b64encode(outcome.logs.encode()[-TAIL_BYTES:]).decode()
    return _json(200, outcome.error if outcome.error is not None else outcome.result, headers)


def _local(stack: LocalStack, fill: Filler, request: Request, action: str, name: str) -> Response:
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or "event" not in body:
        return _error(400, "InvalidRequestContentException", 'the body must be {"event": ...}')
    if action == "invoke":
        outcome = invoke(stack, name, body["event"])
        return _json(200, {"result": outcome.result, "error": outcome.error, "logs": outcome.logs})
    try:
        event, filled = fill(name, body["event"])
    except EventError as exc:  # a placeholder that cannot be filled for this function or event
        return _error(400, "InvalidRequestContentException", str(exc))
    except Exception as exc:  # seeding the sandboxes or the stack failed
        return _error(500, "ServiceException", f"filling the event failed: {type(exc).__name__}: {exc}")
    return _json(200, {"event": event, "filled": filled})


def wsgi_app(stack: LocalStack, fill: Filler) -> Callable[..., Any]:
    @Request.application  # type: ignore[untyped-decorator]
    def app(request: Request) -> Response:
        path = request.path
        if path.rstrip("/") == FUNCTIONS_PATH.rstrip("/"):
            return _functions(stack) if request.method == "GET" else _error(405, "MethodNotAllowed", "GET only")
        found = _INVOKE.fullmatch(path) or _LOCAL.fullmatch(path)
        if found is None:
            return _error(404, "UnknownOperationException", f"no such operation: {request.method} {path}")
        if request.method != "POST":
            return _error(405, "MethodNotAllowed", "POST only")
        name = unquote(found["name"])
        if name not in stack.template.functions:
            return _error(404, "ResourceNotFoundException", f"Function not found: {name}")
        if "action" in found.groupdict():
            return _local(stack, fill, request, found["action"], name)
        return _lambda_invoke(stack, request, name)

    return app


class LambdaApi:
    """The Lambda API served on a thread for a running stack."""

    def __init__(self, stack: LocalStack, fill: Filler, port: int = 0, host: str | None = None) -> None:
        bind = stack.bind_host if host is None else host
        self._server: BaseWSGIServer = make_server(bind, port, wsgi_app(stack, fill), threaded=True)
        self.url = f"http://{reachable_host(bind)}:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="lambda-api", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class LambdaApiClient:
    """`make invoke`'s side: finds a running stack's Lambda API and uses it."""

    def __init__(self, url: str) -> None:
        self.url = url.rstrip("/")

    def functions(self) -> list[str] | None:
        """The running stack's functions; None when nothing listens there."""
        try:
            response = requests.get(self.url + FUNCTIONS_PATH, timeout=2)
        except requests.ConnectionError:
            return None
        try:
            names = [str(f["FunctionName"]) for f in response.json()["Functions"]]
        except (ValueError, KeyError, TypeError):
            raise NotALocalStack(f"{self.url} answers {response.status_code}, but not as a local stack's Lambda "
                                 "API (another program on that port? set LOCAL_LAMBDA_PORT)") from None
        return names

    def _post(self, action: str, function: str, event: Any, timeout: float | None) -> dict[str, Any]:
        response = requests.post(f"{self.url}/_local/{action}/{quote(function, safe='')}", json={"event": event},
                                 timeout=(5, timeout))
        try:
            body = response.json()
        except ValueError:
            body = {"message": response.text[:500]}
        if response.status_code == 400:
            raise EventError(str(body.get("message") or body))
        if response.status_code != 200:
            raise RuntimeError(f"{self.url} answered {response.status_code}: {body.get('message') or body}")
        return dict(body)

    def fill(self, function: str, event: Any) -> tuple[Any, dict[str, str]]:
        body = self._post("fill", function, event, 600)
        return body["event"], dict(body["filled"])

    def invoke(self, function: str, event: Any) -> Invocation:
        body = self._post("invoke", function, event, None)  # the function's own timeout applies
        return Invocation(result=body.get("result"), error=body.get("error"), logs=str(body.get("logs") or ""))
