"""A local worker hands an invocation its own logs when asked (what `make invoke` prints), the cold
start's output with the first; everything still reaches the worker's output."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from local.workers import InvocationError, Worker, WorkerSpec

HANDLER = """
import sys
print("cold start")


def handler(event, context):
    print("event", event["n"])
    sys.stderr.write(f"err {event['n']}\\n")
    if event.get("fail"):
        raise ValueError("boom")
    return event["n"]
"""


def test_an_invocation_gets_back_its_own_logs(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(HANDLER, encoding="utf-8")
    output = tmp_path / "worker.log"
    worker = Worker(WorkerSpec("Fn", "app.handler", tmp_path, (), {}, 30.0, output=output))
    try:
        assert worker.invoke_logged({"n": 1}) == (1, "cold start\nevent 1\nerr 1\n")
        assert worker.invoke({"n": 2}) == 2  # not asked: nothing kept
        assert worker.invoke_logged({"n": 3}) == (3, "event 3\nerr 3\n")
        with pytest.raises(InvocationError) as failed:
            worker.invoke_logged({"n": 4, "fail": True})
        assert failed.value.logs.startswith("event 4\nerr 4\n[ERROR] ValueError: boom")
        assert failed.value.payload()["errorType"] == "ValueError"
    finally:
        worker.stop()
    logged = output.read_text(encoding="utf-8")
    assert logged.startswith("cold start\n") and all(f"event {n}\n" in logged for n in (1, 2, 3, 4))


def test_a_niced_worker_runs_at_its_nice_value(tmp_path: Path) -> None:
    """Benchmarks on a small machine nice the workers, so the stand-ins for the outside world run first."""
    (tmp_path / "app.py").write_text("import os\n\n\ndef handler(event, context):\n    return os.nice(0)\n",
                                     encoding="utf-8")
    plain = Worker(WorkerSpec("Fn", "app.handler", tmp_path, (), {}, 30.0))
    niced = Worker(WorkerSpec("Fn", "app.handler", tmp_path, (), {}, 30.0, niceness=7))
    ours = os.nice(0)
    if ours > 7:
        pytest.skip("this test runs niced already")
    try:
        assert plain.invoke({}) == ours and niced.invoke({}) == 7
    finally:
        plain.stop()
        niced.stop()
