"""Gateway support: request and error counters, the rate limit, the contract-checked dispatch of
an API call to its room, and deliberately mistyped answers."""

from __future__ import annotations

import time
from collections import deque
from typing import Any

from local import temu_contract
from local.sandboxes.temu.rooms.records import Shop
from local.sandboxes.temu.rooms.world import World


def _mistype(result: Any, path: str) -> Any:
    """A copy of `result` whose values at `path` (`a[].b` notation) have another JSON type:
    a string becomes a number, anything else its text."""
    steps = path.replace("[]", ".[]").split(".")

    def walk(node: Any, rest: list[str]) -> Any:
        if not rest:
            return 12345 if isinstance(node, str) else str(node)
        step, more = rest[0], rest[1:]
        if step == "[]" and isinstance(node, list):
            return [walk(item, more) for item in node]
        if isinstance(node, dict) and step in node:
            return {**node, step: walk(node[step], more)}
        return node

    return walk(result, [s for s in steps if s])


class GatewayRoom(World):
    def _forget(self) -> None:
        super()._forget()
        self.request_counts: dict[str, int] = {}
        self.error_counts: dict[int, int] = {}
        self._recent: deque[float] = deque()
        # (when, the window's arrival times) of the latest refusals: how the requests that filled the
        # window were spread, paced or bunched (monotonic seconds)
        self.refused_windows: deque[tuple[float, tuple[float, ...]]] = deque(maxlen=500)
        self.mistyped_fields: dict[str, str] = {}

    def configure_rate_limit(self, rate: float | None) -> None:
        """Requests per second across all shops of all apps; None = unlimited."""
        with self.lock, self.gateway_lock:
            self.rate_limit = rate
            self._recent.clear()

    def count_request(self, api_type: str) -> None:
        with self.gateway_lock:
            self.request_counts[api_type] = self.request_counts.get(api_type, 0) + 1

    def count_error(self, code: int) -> None:
        with self.gateway_lock:
            self.error_counts[code] = self.error_counts.get(code, 0) + 1

    def _gateway_counts(self) -> dict[str, Any]:
        """The request and error counters, copied under the gateway's lock (a snapshot's part)."""
        with self.gateway_lock:
            return {"requestCounts": dict(self.request_counts),
                    "errorCounts": {str(k): v for k, v in self.error_counts.items()}}

    def rate_limited(self) -> bool:
        """Sliding one-second window over all router requests, under the gateway's own lock (see
        World.gateway_lock): the time a request is counted at is the time it arrived."""
        with self.gateway_lock:
            if self.rate_limit is None:
                return False
            now = time.monotonic()
            while self._recent and now - self._recent[0] >= 1.0:
                self._recent.popleft()
            if len(self._recent) >= self.rate_limit:
                self.refused_windows.append((now, tuple(self._recent)))
                return True
            self._recent.append(now)
            return False

    def dispatch(self, api_type: str, shop: Shop, body: dict[str, Any]) -> Any:
        with self.lock:
            result = temu_contract.conform(api_type, self.api_types[api_type](self, shop, body))
            problems = temu_contract.result_problems(api_type, result)
            if problems:  # a sandbox bug: its answer is not what Temu documents
                raise AssertionError(f"sandbox answer to {api_type} differs from the documents: {problems[:3]}")
            mistype = self.mistyped_fields.get(api_type)
            return result if mistype is None else _mistype(result, mistype)

    def mistype_field(self, api_type: str, path: str | None) -> None:
        """Answer `path` (e.g. `skuList[].stock`) with a value of another JSON type than the
        documented one, to prove a reader notices (None puts the documented type back)."""
        with self.lock:
            if path is None:
                self.mistyped_fields.pop(api_type, None)
            else:
                self.mistyped_fields[api_type] = path
