"""Pacing and retry primitives shared by the Temu and WholeCell clients.

Both APIs need the same three things around every call: a per-process rate limit, bounded
retries with exponential backoff and full jitter, and injectable time so tests never sleep.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

import requests


class Clock:
    """Wall/monotonic time and sleeping, injectable for tests.

    Production code reads the wall clock only through a Clock (jobs through `JobContext.clock`,
    repositories through their own), so a test can run any flow at a date of its choosing.
    """

    def monotonic(self) -> float:
        return time.monotonic()

    def time(self) -> float:
        return time.time()

    def now(self) -> datetime:
        """The wall clock as an aware UTC datetime."""
        return datetime.fromtimestamp(self.time(), UTC)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class Pacer(Protocol):
    """What a client needs from its rate limiter: RateLimiter (this process alone) or
    jobs.budgets.SharedRateLimiter (a budget every worker shares).

    `paced(prepare)` waits for the request's turn, then builds it with `prepare` (signing, headers,
    everything but the send) and returns it for the caller to send at once: a limiter that books
    slots checks, after everything but the send, that the slot is not already past."""

    def paced[T](self, prepare: Callable[[], T]) -> T: ...

    def penalize(self, seconds: float) -> None: ...


@dataclass(frozen=True)
class Outgoing:
    """A request built to the last byte, with the settings `requests` adds from the environment
    (proxies, CA bundle): all `send` has left to do is write it."""

    request: requests.PreparedRequest
    settings: dict[str, Any]


def prepare(session: requests.Session, method: str, url: str, **parts: Any) -> Outgoing:
    """What `session.request(method, url, **parts)` builds before it sends."""
    request = session.prepare_request(requests.Request(method, url, **parts))
    return Outgoing(request, dict(session.merge_environment_settings(request.url, {}, None, None, None)))


def send(session: requests.Session, outgoing: Outgoing, timeout: float) -> requests.Response:
    """What `session.request` does once the request is built."""
    return session.send(outgoing.request, timeout=timeout, allow_redirects=True, **outgoing.settings)


class RateLimiter:
    """Token bucket: at most `rate` acquisitions per second on average, bursts up to `burst`
    (default 1: evenly spaced calls, so a server enforcing the same rate never sees a burst).

    Thread-safe; one instance per process and API. Callers block in `acquire` until a token
    is free. `penalize` empties the bucket for a while after the server said "slow down".
    """

    def __init__(self, rate: float, burst: float | None = None, clock: Clock | None = None) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = float(rate)
        self.capacity = float(burst if burst is not None else 1.0)
        self._clock = clock or Clock()
        self._tokens = self.capacity
        self._updated = self._clock.monotonic()
        self._blocked_until = 0.0
        self._lock = threading.Lock()

    def _refill(self, now: float) -> None:
        if now <= self._updated:  # still inside a penalty: nothing accrues
            return
        self._tokens = min(self.capacity, self._tokens + (now - self._updated) * self.rate)
        self._updated = now

    def acquire(self) -> float:
        """Take one token, sleeping as needed; returns the seconds waited."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock.monotonic()
                self._refill(now)
                if now >= self._blocked_until and self._tokens >= 1.0 - 1e-9:  # float dust
                    self._tokens = max(0.0, self._tokens - 1.0)
                    return waited
                wait = max(self._blocked_until - now, (1.0 - self._tokens) / self.rate)
            self._clock.sleep(wait)
            waited += wait

    def paced[T](self, prepare: Callable[[], T]) -> T:
        """Take a token, then build the request (a bucket has no slot to be late for)."""
        self.acquire()
        return prepare()

    def penalize(self, seconds: float) -> None:
        """The server said "slow down": no request for `seconds`, then pacing restarts from an
        empty bucket (tokens do not pile up during the pause, so no burst follows it)."""
        with self._lock:
            now = self._clock.monotonic()
            self._blocked_until = max(self._blocked_until, now + seconds)
            self._tokens = 0.0
            self._updated = max(self._updated, self._blocked_until)


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded exponential backoff with full jitter: delay_n = U(0, min(cap, base * 2**n))."""

    max_attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)

    def delay(self, attempt: int) -> float:
        """Delay before retry number `attempt` (0 = after the first failure)."""
        ceiling = min(self.max_delay, self.base_delay * (2**attempt))
        return self.rng.uniform(0, ceiling)


Sleep = Callable[[float], None]
