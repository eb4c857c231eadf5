"""The fleet bench's DynamoDB counting proxy (bench/fleet.serve_counter), in its own process as the
bench runs it: it counts every call, and forwards a call twice only when the engine dropped it
unread (a kept-alive connection the engine had closed), never one the engine may have applied, and
it adds no wait of its own to a call."""

from __future__ import annotations

import contextlib
import http.client
import json
import statistics
import threading
import time
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest

from bench.fleet import COUNTS_PATH, serve_counter, spawned


class Engine:
    """An upstream standing in for the DynamoDB engine: counts each request it reads. `/idle-close`
    answers, then closes the connection without saying so (an idle timeout); `/apply-and-drop`
    reads the request and closes without an answer (a write applied whose answer is lost)."""

    def __init__(self) -> None:
        self.seen: Counter[str] = Counter()
        engine = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # as DynamoDB's engine answers: no delayed-ACK wait of its own

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                engine.seen[self.path] += 1
                if self.path == "/apply-and-drop":
                    self.close_connection = True
                    return
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")
                self.close_connection = self.path == "/idle-close"

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    upstream = Engine()
    yield upstream
    upstream.server.shutdown()


@pytest.fixture(scope="module")
def proxy(engine: Engine) -> Iterator[str]:
    with spawned(serve_counter, engine.url, name="dynamo-counter-test") as url:
        yield url


def _post(connection: http.client.HTTPConnection, path: str) -> int:
    connection.request("POST", path, body=b'{"TableName": "BudgetsTable"}',
                       headers={"X-Amz-Target": "DynamoDB_20120810.UpdateItem", "Content-Type": "application/json"})
    response = connection.getresponse()
    response.read()
    return response.status


@contextlib.contextmanager
def connected(proxy: str) -> Iterator[http.client.HTTPConnection]:
    """A client connection of its own to the proxy (so a proxy thread, and upstream connection, of its own)."""
    target = urlsplit(proxy)
    connection = http.client.HTTPConnection(target.hostname or "", target.port, timeout=30)
    try:
        yield connection
    finally:
        connection.close()


def test_a_call_the_engine_dropped_unread_on_a_stale_connection_is_sent_again_once(engine: Engine, proxy: str) -> None:
    with connected(proxy) as connection:
        assert _post(connection, "/idle-close") == 200  # the engine closes the kept-alive connection after it
        assert _post(connection, "/idle-close") == 200  # the proxy's reused connection is dead: one more try
    assert engine.seen["/idle-close"] == 2


def test_a_call_the_engine_may_have_applied_is_never_sent_twice(engine: Engine, proxy: str) -> None:
    with connected(proxy) as connection, pytest.raises((http.client.HTTPException, OSError)):
        _post(connection, "/apply-and-drop")  # a fresh proxy thread: its first upstream connection
    assert engine.seen["/apply-and-drop"] == 1


def test_every_call_is_counted_by_operation_and_table(engine: Engine, proxy: str) -> None:
    with connected(proxy) as connection:
        before = _counts(connection)
        assert _post(connection, "/plain") == 200
        after = _counts(connection)
    assert after[("UpdateItem", "BudgetsTable")] == before[("UpdateItem", "BudgetsTable")] + 1


def test_the_proxy_adds_no_delayed_ack_wait_to_a_call(proxy: str) -> None:
    """Its answer leaves in two writes (headers, then body); with Nagle's algorithm on, the body waits for
    the client's delayed ACK of the headers, 40 ms on Linux, on every DynamoDB call of every worker of the
    bench. Without it a call through the proxy takes about as long as the engine's own answer."""
    with connected(proxy) as connection:
        _post(connection, "/plain")  # connected upstream and down
        took = []
        for _ in range(15):
            began = time.perf_counter()
            assert _post(connection, "/plain") == 200
            took.append(time.perf_counter() - began)
    assert statistics.median(took) < 0.02


def _counts(connection: http.client.HTTPConnection) -> Counter[tuple[str, str]]:
    connection.request("GET", COUNTS_PATH)
    response = connection.getresponse()
    return Counter({(op, table): n for op, table, n in json.loads(response.read())})
