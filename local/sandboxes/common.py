"""What both sandboxes share: serving a Flask app on a thread, and fault injection.

Faults are configured per endpoint (Temu `type`, or a WholeCell path prefix; `*` = all)
through each sandbox's admin interface and applied before the endpoint runs:

    {"endpoint": "*", "error_rate": 0.1, "timeout_rate": 0.05, "latency_ms": 0,
     "malformed_rate": 0.0, "status": 500, "count": null}

`error_rate` answers HTTP `status` (500 by default, or 429); `timeout_rate` sleeps
`timeout_seconds` before answering (longer than the client's timeout);
`malformed_rate` answers 200 with a non-JSON body; `count` limits how many faults fire.

Faults that happen *after* the endpoint ran (the write is done, the caller never learns it):
`lost_rate` answers `lost_status` (502) instead of the real answer; `lost_timeout_rate`
sleeps `timeout_seconds` and then answers 504; `crash_rate` calls the injector's
`crash_hook` with the endpoint and the caller's TCP port (the local stack kills the worker
process that made the call) and answers 502. `methods` (e.g. ["POST"]) limits a rule to
those HTTP methods where the sandbox knows them. The sandbox calls `apply` before the
endpoint and `after` with its response.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server


@dataclass
class FaultRule:
    endpoint: str = "*"
    error_rate: float = 0.0
    timeout_rate: float = 0.0
    malformed_rate: float = 0.0
    latency_ms: int = 0
    status: int = 500
    timeout_seconds: float = 3.0
    count: int | None = None  # faults left to inject; None = unlimited
    lost_rate: float = 0.0  # the endpoint runs, then `lost_status` is answered instead
    lost_timeout_rate: float = 0.0  # the endpoint runs, then the answer hangs `timeout_seconds` (504)
    crash_rate: float = 0.0  # the endpoint runs, then `crash_hook` kills the caller (502 if it still listens)
    lost_status: int = 502
    methods: list[str] | None = None  # only these HTTP methods (None = any)

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> FaultRule:
        allowed = {f for f in cls.__dataclass_fields__}
        unknown = set(body) - allowed
        if unknown:
            raise ValueError(f"unknown fault fields: {sorted(unknown)}")
        return cls(**body)


@dataclass
class FaultInjector:
    """Decides, per request, whether to inject a fault. Thread-safe, seedable."""

    rules: list[FaultRule] = field(default_factory=list)
    seed: int | None = None
    injected: dict[str, int] = field(default_factory=dict)
    # called as crash_hook(endpoint, caller_port) when a `crash` fault fires; True = the caller was killed
    crash_hook: Callable[[str, int | None], bool] | None = None

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._lock = threading.Lock()
        self._after = threading.local()  # a fault decided before the endpoint, applied after it

    def set_rules(self, rules: list[FaultRule], seed: int | None = None) -> None:
        with self._lock:
            self.rules = rules
            if seed is not None:
                self._rng = random.Random(seed)

    def clear(self) -> None:
        with self._lock:
            self.rules = []

    def _count(self, kind: str) -> None:
        self.injected[kind] = self.injected.get(kind, 0) + 1

    def pick(self, endpoint: str, method: str | None = None) -> tuple[str, FaultRule] | None:
        """Return ("error"|"timeout"|"malformed"|"lost"|"lost_timeout"|"crash"|"latency", rule) or None."""
        with self._lock:
            for rule in self.rules:
                if rule.endpoint != "*" and not endpoint.startswith(rule.endpoint):
                    continue
                if rule.methods is not None and method is not None and method.upper() not in rule.methods:
                    continue
                if rule.count is not None and rule.count <= 0:
                    continue
                roll = self._rng.random()
                kind = None
                bound = 0.0
                for name, rate in (("error", rule.error_rate), ("timeout", rule.timeout_rate),
                                   ("malformed", rule.malformed_rate), ("lost", rule.lost_rate),
                                   ("lost_timeout", rule.lost_timeout_rate), ("crash", rule.crash_rate)):
                    bound += rate
                    if roll < bound:
                        kind = name
                        break
                if kind is None:
                    if rule.latency_ms:
                        return "latency", rule
                    continue
                if rule.count is not None:
                    rule.count -= 1
                label = {"error": f"http_{rule.status}", "lost": f"lost_http_{rule.lost_status}"}.get(kind, kind)
                self._count(label)
                return kind, rule
        return None

    def apply(self, endpoint: str, method: str | None = None) -> Response | None:
        """Sleep or build the faulty response; None means answer normally (a fault that comes
        after the endpoint is remembered for this request's `after`)."""
        self._after.pending = None
        picked = self.pick(endpoint, method)
        if picked is None:
            return None
        kind, rule = picked
        if rule.latency_ms:
            time.sleep(rule.latency_ms / 1000)
        if kind in ("lost", "lost_timeout", "crash"):
            self._after.pending = (kind, rule, endpoint)
            return None
        if kind == "timeout":
            time.sleep(rule.timeout_seconds)
            return Response("gateway timeout", status=504, mimetype="text/plain")
        if kind == "error":
            return Response('{"message":"injected fault"}', status=rule.status, mimetype="application/json")
        if kind == "malformed":
            return Response("<html>upstream hiccup</html>", status=200, mimetype="text/html")
        return None

    def discard(self) -> None:
        """Forget a fault remembered for after the endpoint (the endpoint did not run)."""
        self._after.pending = None

    def after(self, caller_port: int | None = None) -> Response | None:
        """After the endpoint ran: the answer that replaces the real one, or None to send it.
        The endpoint's work stays done; only its answer is lost (or its caller killed)."""
        pending: tuple[str, FaultRule, str] | None = getattr(self._after, "pending", None)
        self._after.pending = None
        if pending is None:
            return None
        kind, rule, endpoint = pending
        if kind == "crash":
            hook = self.crash_hook
            killed = hook(endpoint, caller_port) if hook is not None else False
            with self._lock:
                self._count("crash_killed" if killed else "crash_missed")
        elif kind == "lost_timeout":
            time.sleep(rule.timeout_seconds)
            return Response("gateway timeout", status=504, mimetype="text/plain")
        return Response('{"message":"injected fault after the write"}', status=rule.lost_status,
                        mimetype="application/json")

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"rules": [r.__dict__.copy() for r in self.rules], "injected": dict(self.injected)}


class QuietRequestHandler(WSGIRequestHandler):
    """No per-request access log lines (they drown the demo's and tests' output)."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return


class RunningServer:
    """A sandbox served on a background thread. `url` has no trailing slash."""

    def __init__(self, app: Flask, host: str, port: int, state: Any = None) -> None:
        self.app = app
        self.state = state
        self._server: BaseWSGIServer = make_server(host, port, app, threaded=True,
                                                   request_handler=QuietRequestHandler)
        self.port = self._server.server_port
        self.url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"sandbox-{self.port}",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> RunningServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
