"""What both sandboxes share: serving a Flask app on a thread, and fault injection.

Faults are configured per endpoint (Temu `type`, or a WholeCell path prefix; `*` = all)
through each sandbox's admin interface and applied before the endpoint runs:

    {"endpoint": "*", "error_rate": 0.1, "timeout_rate": 0.05, "latency_ms": 0,
     "malformed_rate": 0.0, "status": 500, "count": null}

`error_rate` answers HTTP `status` (500 by default, or 429); `timeout_rate` sleeps
`timeout_seconds` before answering (longer than the client's timeout);
`malformed_rate` answers 200 with a non-JSON body; `count` limits how many faults fire.
"""

from __future__ import annotations

import random
import threading
import time
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

    def __post_init__(self) -> None:
        self._rng = random.Random(self.seed)
        self._lock = threading.Lock()

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

    def pick(self, endpoint: str) -> tuple[str, FaultRule] | None:
        """Return ("error"|"timeout"|"malformed"|"latency", rule) or None."""
        with self._lock:
            for rule in self.rules:
                if rule.endpoint != "*" and not endpoint.startswith(rule.endpoint):
                    continue
                if rule.count is not None and rule.count <= 0:
                    continue
                roll = self._rng.random()
                kind = None
                if roll < rule.error_rate:
                    kind = "error"
                elif roll < rule.error_rate + rule.timeout_rate:
                    kind = "timeout"
                elif roll < rule.error_rate + rule.timeout_rate + rule.malformed_rate:
                    kind = "malformed"
                if kind is None:
                    if rule.latency_ms:
                        return "latency", rule
                    continue
                if rule.count is not None:
                    rule.count -= 1
                self._count(kind if kind != "error" else f"http_{rule.status}")
                return kind, rule
        return None

    def apply(self, endpoint: str) -> Response | None:
        """Sleep or build the faulty response; None means answer normally."""
        picked = self.pick(endpoint)
        if picked is None:
            return None
        kind, rule = picked
        if rule.latency_ms:
            time.sleep(rule.latency_ms / 1000)
        if kind == "timeout":
            time.sleep(rule.timeout_seconds)
            return Response("gateway timeout", status=504, mimetype="text/plain")
        if kind == "error":
            return Response('{"message":"injected fault"}', status=rule.status, mimetype="application/json")
        if kind == "malformed":
            return Response("<html>upstream hiccup</html>", status=200, mimetype="text/html")
        return None

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
