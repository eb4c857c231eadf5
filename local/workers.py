"""Runs each Lambda function in its own warm worker process, the way Lambda would.

`sam local` needs Docker, which these machines lack; a spawned process per function gives
the isolation that matters instead: its own environment (set before the interpreter starts),
its own `sys.path` (CodeUri + layer first, so every function's `app.py` is its own module),
its own cold start, and a hard timeout that kills it like Lambda does. Events and results
cross the process boundary as JSON, as they do in Lambda.

The worker is a fresh interpreter running this file, talking over an inherited
multiprocessing Pipe. multiprocessing's spawn start method is not used because it re-imports
the parent's `__main__` module (a demo script, say) in the child before the function's
environment is in place.

What an invocation prints (its logs) goes to the worker's output as always; an invocation that
asks for them (`Worker.invoke_logged`) also gets them back with its result, the cold start's
own output included, as Lambda's `LogType=Tail` does.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, TextIO

INIT_TIMEOUT = 60.0  # cold imports (boto3, powertools, pydantic) on a busy 2-core machine
LOG_LIMIT = 1 << 20  # characters of an invocation's logs sent back with its result (the last ones)
# The host's clock settings pass through (libfaketime's, and the test suite's shifted date), so
# every process of the local stack shares one clock, as a real host's do: a run at another date
# stays coherent.
SHIFT_VARIABLE = "TEST_CLOCK_SHIFT_DAYS"  # tests/conftest.py: the suite runs that many days ahead
_KEPT_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "TZ", "SYSTEMROOT", "LD_PRELOAD", "FAKETIME",
             "FAKETIME_DONT_FAKE_MONOTONIC", "FAKETIME_NO_CACHE", SHIFT_VARIABLE)


def _shift_clock() -> None:
    """Run this worker's wall clock as many days ahead as the test process runs its own."""
    days = os.environ.get(SHIFT_VARIABLE)
    if days:
        import time_machine  # noqa: PLC0415 - a development dependency, only for shifted test runs

        time_machine.travel(datetime.now(UTC) + timedelta(days=float(days)), tick=True).start()


@dataclass(frozen=True)
class WorkerSpec:
    """Everything a worker needs to become the function."""

    function_name: str
    handler: str  # "module.function"
    code_dir: Path
    layer_dirs: tuple[Path, ...]
    environment: dict[str, str]
    timeout: float
    memory_size: int = 128
    log_prefix: bool = False
    output: Path | None = None  # append the process's stdout and stderr here (default: inherited)
    niceness: int = 0  # the process's nice value: above 0, the machine's other processes run first


class InvocationError(RuntimeError):
    """The handler raised (or could not be loaded); fields as in Lambda's error payload."""

    def __init__(self, function_name: str, error_type: str, error_message: str, stack_trace: list[str]) -> None:
        super().__init__(f"{function_name}: {error_type}: {error_message}")
        self.function_name = function_name
        self.error_type = error_type
        self.error_message = error_message
        self.stack_trace = stack_trace
        self.logs = ""  # what the invocation printed, when it asked for its logs (invoke_logged)

    def payload(self) -> dict[str, Any]:
        """Lambda's error payload."""
        return {"errorType": self.error_type, "errorMessage": self.error_message, "stackTrace": self.stack_trace}


class FunctionTimeout(InvocationError):
    """The handler ran past the function's Timeout; its worker was killed."""


class WorkerCrashed(InvocationError):
    """The worker process died during the invocation; the next invocation starts a new one."""


@dataclass
class LambdaContext:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str
    log_group_name: str
    log_stream_name: str
    function_version: str
    deadline: float  # time.monotonic()

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


class _PrefixedStream:
    """Writes `[FunctionName] ` at the start of every line, so interleaved logs stay readable."""

    def __init__(self, stream: TextIO, prefix: str) -> None:
        self._stream, self._prefix, self._at_line_start = stream, prefix, True

    def write(self, text: str) -> int:
        for line in text.splitlines(keepends=True):
            self._stream.write((self._prefix if self._at_line_start else "") + line)
            self._at_line_start = line.endswith("\n")
        return len(text)

    def flush(self) -> None:
        self._stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


class _LogCapture:
    """Keeps a copy of what the worker writes while `active` (one invocation's logs)."""

    def __init__(self) -> None:
        self.active = True  # from the start: a cold start's output belongs to its first invocation
        self._parts: list[str] = []
        self._size = 0
        self._dropped = 0
        self._lock = threading.Lock()

    def add(self, text: str) -> None:
        if not self.active:
            return
        with self._lock:
            self._parts.append(text)
            self._size += len(text)
            while self._size > 2 * LOG_LIMIT and len(self._parts) > 1:  # keep the last ones
                dropped = self._parts.pop(0)
                self._size -= len(dropped)
                self._dropped += len(dropped)

    def take(self) -> str:
        """What was captured (the last LOG_LIMIT characters); stops capturing until `active` again."""
        with self._lock:
            text, dropped = "".join(self._parts), self._dropped
            self._parts, self._size, self._dropped = [], 0, 0
            self.active = False
        if len(text) > LOG_LIMIT:
            dropped, text = dropped + len(text) - LOG_LIMIT, text[-LOG_LIMIT:]
        return f"[... {dropped} characters of earlier output not kept]\n{text}" if dropped else text


class _CapturedStream:
    """Writes through to `stream` and hands a copy to the capture."""

    def __init__(self, stream: TextIO, capture: _LogCapture) -> None:
        self._stream, self._capture = stream, capture

    def write(self, text: str) -> int:
        self._capture.add(text)
        return self._stream.write(text)

    def flush(self) -> None:
        self._stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def lambda_environment(spec: WorkerSpec) -> dict[str, str]:
    """The process environment of the function: a bare OS, Lambda's own variables, then the function's."""
    env = {k: v for k, v in os.environ.items() if k in _KEPT_ENV}
    env.update({
        "AWS_LAMBDA_FUNCTION_NAME": spec.function_name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_size),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.function_name}",
        "AWS_SAM_LOCAL": "true",
        "LAMBDA_TASK_ROOT": str(spec.code_dir),
        "_HANDLER": spec.handler,
    })
    env.update(spec.environment)
    return env


def _error(exc: BaseException) -> dict[str, Any]:
    return {
        "errorType": type(exc).__name__,
        "errorMessage": str(exc),
        "stackTrace": traceback.format_exception(exc),
    }


def _worker_main(conn: Connection) -> None:
    """Body of the worker process: become the function, then answer invocations until told to stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the parent, which stops its workers
    sys.path.pop(0)  # this script's directory; the function's own paths go first instead
    _shift_clock()
    config: dict[str, Any] = conn.recv()
    name, handler_name, timeout_default = config["function_name"], config["handler"], config["timeout"]
    if config["log_prefix"]:
        sys.stdout = _PrefixedStream(sys.stdout, f"[{name}] ")  # type: ignore[assignment]
        sys.stderr = _PrefixedStream(sys.stderr, f"[{name}] ")  # type: ignore[assignment]
    capture = _LogCapture()  # before the handler's import: its loggers keep these streams
    sys.stdout = _CapturedStream(sys.stdout, capture)  # type: ignore[assignment]
    sys.stderr = _CapturedStream(sys.stderr, capture)  # type: ignore[assignment]
    sys.path[:0] = [config["code_dir"], *config["layer_dirs"]]
    module_name, _, attr = handler_name.rpartition(".")
    try:
        handler = getattr(importlib.import_module(module_name), attr)
    except BaseException as exc:  # reported to the caller like Runtime.ImportModuleError
        conn.send(("init_error", _error(exc)))
        return
    conn.send(("ready", None))
    arn = f"arn:aws:lambda:{os.environ.get('AWS_REGION', 'us-east-1')}:123456789012:function:{name}"
    while True:
        try:
            message = conn.recv()
        except EOFError:  # the parent went away
            return
        if message is None:
            return
        request_id, event_json, *options = message
        want_logs = bool(options and options[0])
        if want_logs:
            capture.active = True
        else:
            capture.take()  # nothing kept for an invocation that does not ask for its logs
        context = LambdaContext(name, config["memory_size"], arn, request_id, f"/aws/lambda/{name}",
                                f"local/{os.getpid()}", "$LATEST", time.monotonic() + timeout_default)
        try:
            reply: tuple[str, Any] = ("ok", json.dumps(handler(json.loads(event_json), context)))
        except Exception as exc:  # the handler's failure is the invocation's result
            error = _error(exc)
            reply = ("error", error)
            sys.stderr.write(f"[ERROR] {error['errorType']}: {error['errorMessage']}\n{''.join(error['stackTrace'])}")
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
        conn.send((*reply, capture.take() if want_logs else ""))


class Worker:
    """One warm worker process for one function. Invocations are serialized."""

    def __init__(self, spec: WorkerSpec) -> None:
        self.spec = spec
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._conn: Connection | None = None
        self.cold_starts = 0

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process and self._process.poll() is None else None

    @property
    def busy(self) -> bool:
        """Whether an invocation is under way (or the worker is being started or stopped)."""
        return self._lock.locked()

    def kill(self) -> bool:
        """Kill the worker process now, as a crash would (an invocation under way sees
        WorkerCrashed; the next one starts a new process). Returns whether a process was killed."""
        process = self._process
        if process is None or process.poll() is not None:
            return False
        with contextlib.suppress(OSError):
            process.kill()
        return True

    def invoke(self, event: Any, request_id: str | None = None) -> Any:
        """Run the handler on `event`; return its JSON result or raise InvocationError."""
        return self._invoke(event, request_id, logs=False)[0]

    def invoke_logged(self, event: Any, request_id: str | None = None) -> tuple[Any, str]:
        """`invoke`, plus what the function printed meanwhile (a cold start's output too): (result,
        logs). A handler's failure raises InvocationError with `logs` set; a timeout or a crash
        loses them (the process is gone; its output still went to the worker's output)."""
        return self._invoke(event, request_id, logs=True)

    def _invoke(self, event: Any, request_id: str | None, *, logs: bool) -> tuple[Any, str]:
        payload = json.dumps(event)
        with self._lock:
            conn = self._ensure_started()
            try:
                conn.send((request_id or str(uuid.uuid4()), payload, logs))
            except OSError:  # killed between the liveness check and the send (BrokenPipeError)
                raise self._crashed() from None
            if not conn.poll(self.spec.timeout):
                self._kill()
                raise FunctionTimeout(self.spec.function_name, "Sandbox.Timedout",
                                      f"Task timed out after {self.spec.timeout:.2f} seconds", [])
            status, body, output = self._receive(conn)
        if status == "error":
            error = InvocationError(self.spec.function_name, body["errorType"], body["errorMessage"],
                                    body["stackTrace"])
            error.logs = output
            raise error
        return json.loads(body), output

    def stop(self) -> None:
        """Stop the worker; one busy in an invocation is killed (that invocation sees a crash)."""
        if not self._lock.acquire(timeout=0.1):
            with contextlib.suppress(AttributeError, OSError):  # the invoking thread may clean up first
                self._process.kill()  # type: ignore[union-attr]
            return
        try:
            if self._conn is not None and self._process is not None and self._process.poll() is None:
                with contextlib.suppress(OSError):
                    self._conn.send(None)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self._process.wait(timeout=2)
            self._kill()
        finally:
            self._lock.release()

    def _ensure_started(self) -> Connection:
        if self._process is not None and self._process.poll() is None and self._conn is not None:
            return self._conn
        self._kill()
        parent, child = multiprocessing.Pipe()
        with contextlib.ExitStack() as files:
            output = files.enter_context(self.spec.output.open("ab")) if self.spec.output else None
            self._process = subprocess.Popen(  # a fresh interpreter: nothing imported before the env is set
                [sys.executable, "-u", str(Path(__file__).resolve()), str(child.fileno())],
                pass_fds=(child.fileno(),), env=lambda_environment(self.spec), cwd=self.spec.code_dir,
                stdout=output, stderr=subprocess.STDOUT if output else None)
        if self.spec.niceness:
            with contextlib.suppress(ProcessLookupError, PermissionError):  # gone already; below ours
                os.setpriority(os.PRIO_PROCESS, self._process.pid, self.spec.niceness)
        child.close()
        self._conn = parent
        self.cold_starts += 1
        try:
            parent.send({"function_name": self.spec.function_name, "handler": self.spec.handler,
                         "code_dir": str(self.spec.code_dir), "layer_dirs": [str(p) for p in self.spec.layer_dirs],
                         "timeout": self.spec.timeout, "memory_size": self.spec.memory_size,
                         "log_prefix": self.spec.log_prefix})
        except OSError:  # killed while starting
            raise self._crashed() from None
        if not parent.poll(INIT_TIMEOUT):
            self._kill()
            raise FunctionTimeout(self.spec.function_name, "Runtime.InitTimeout",
                                  f"init did not finish within {INIT_TIMEOUT:.0f} seconds", [])
        status, body, _ = self._receive(parent)
        if status == "init_error":
            self._kill()
            raise InvocationError(self.spec.function_name, "Runtime.ImportModuleError",
                                  f"{body['errorType']}: {body['errorMessage']}", body["stackTrace"])
        return parent

    def _receive(self, conn: Connection) -> tuple[str, Any, str]:
        """(status, body, logs): an invocation's reply carries its logs (empty unless asked for)."""
        try:
            status, body, *logs = conn.recv()
        except (EOFError, OSError):
            raise self._crashed() from None
        return str(status), body, str(logs[0]) if logs else ""

    def _crashed(self) -> WorkerCrashed:
        """The process died under an invocation: reap it and say how it exited."""
        code = None
        if self._process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                code = self._process.wait(timeout=2)
        self._kill()
        return WorkerCrashed(self.spec.function_name, "Runtime.ExitError", f"worker exited (exit code {code})", [])

    def _kill(self) -> None:
        if self._process is not None:
            if self._process.poll() is None:
                self._process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):  # SIGKILLed: the kernel reaps it soon
                self._process.wait(timeout=5)
        if self._conn is not None:
            self._conn.close()
        self._process, self._conn = None, None


if __name__ == "__main__":
    _worker_main(Connection(int(sys.argv[1])))
