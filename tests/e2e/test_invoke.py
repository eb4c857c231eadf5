"""`make invoke` (local/invoke.py): every sample event in events/ runs its function on the local
stack, with its placeholders filled from that stack, through the Lambda API `make local` serves;
once more on a stack the entry point starts itself; usage errors exit 2."""

from __future__ import annotations

import base64
import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from local.invoke import EVENT_FUNCTIONS, EVENTS_DIR, DemoConnection, EventFiller, main, placeholders_in
from local.lambda_api import LambdaApi
from local.stack import LocalStack

ROOT = Path(__file__).resolve().parents[2]
EVENT_FILES = sorted(path.name for path in EVENTS_DIR.glob("*.json"))


@pytest.fixture(scope="module")
def api(stack: LocalStack) -> Iterator[tuple[LambdaApi, EventFiller]]:
    """The running stack's Lambda API, as `make local` serves it (on a free port)."""
    filler = EventFiller(stack)
    lambda_api = LambdaApi(stack, filler)
    yield lambda_api, filler
    lambda_api.stop()


@pytest.fixture(scope="module")
def demo(api: tuple[LambdaApi, EventFiller]) -> DemoConnection:
    return api[1].demo()


def run_main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def latest_run(stack: LocalStack, connection_id: str, job: str) -> dict[str, Any]:
    runs = stack.http("GET", f"/admin/connections/{connection_id}/runs?job={job}").json()["items"]
    return dict(runs[0])


def http_body(result: dict[str, Any]) -> Any:
    body = result.get("body") or ""
    return json.loads(base64.b64decode(body) if result.get("isBase64Encoded") else body) if body else None


# What each sample event's result must show; `logs` is what the function printed.
Check = Callable[[dict[str, Any], str, LocalStack, DemoConnection], None]


def schedule(job: str) -> Check:
    def check(result: dict[str, Any], logs: str, stack: LocalStack, demo: DemoConnection) -> None:
        assert result["job"] == job
        assert result["messages"] >= 1  # the demo connection has the job enabled
    return check


def sqs_job(job: str) -> Check:
    def check(result: dict[str, Any], logs: str, stack: LocalStack, demo: DemoConnection) -> None:
        assert result == {"batchItemFailures": []}
        run = latest_run(stack, demo.connection_id, job)
        assert (run["trigger"], run["outcome"]) == ("manual", "succeeded"), run
    return check


def admin_list(result: dict[str, Any], logs: str, stack: LocalStack, demo: DemoConnection) -> None:
    assert result["statusCode"] == 200
    listed = {item["connection_id"]: item for item in http_body(result)["items"]}
    assert listed[demo.connection_id]["status"] == "active"


def admin_create(result: dict[str, Any], logs: str, stack: LocalStack, demo: DemoConnection) -> None:
    assert result["statusCode"] == 201, result
    created = http_body(result)
    assert created["webhook_secret"] and created["connection_id"] != demo.connection_id
    assert stack.http("GET", f"/admin/connections/{created['connection_id']}").status_code == 200


def oauth_authorize(result: dict[str, Any], logs: str, stack: LocalStack, demo: DemoConnection) -> None:
    assert result["statusCode"] == 302, result
    assert result["headers"]["Location"].startswith(stack.temu_authorize_url)


def oauth_callback(result: dict[str, Any], logs: str, stack: LocalStack, demo: DemoConnection) -> None:
    assert result["statusCode"] == 200, result
    connection = stack.http("GET", f"/admin/connections/{demo.connection_id}").json()
    assert (connection["status"], connection["temu"]["mall_id"]) == ("active", demo.mall_id)


def webhook(result: dict[str, Any], logs: str, stack: LocalStack, demo: DemoConnection) -> None:
    assert result["statusCode"] == 202, result
    assert "shipment event queued" in logs
    stack.drain(timeout=120)  # the queued shipment is confirmed on Temu by the push worker
    assert stack.dlq_messages("ShipmentQueue") == []


def shipment_push(result: dict[str, Any], logs: str, stack: LocalStack, demo: DemoConnection) -> None:
    assert result == {"batchItemFailures": []}
    assert '"outcome":"confirmed"' in logs.replace(" ", ""), logs  # one Temu confirmation, not a dead letter
    assert stack.dlq_messages("ShipmentQueue") == []


CHECKS: dict[str, Check] = {
    "address_backfill_schedule.json": schedule("address_backfill"),
    "address_backfill_sqs.json": sqs_job("address_backfill"),
    "admin_create_connection.json": admin_create,
    "admin_list_connections.json": admin_list,
    "listing_import_schedule.json": schedule("listing_import"),
    "listing_import_sqs.json": sqs_job("listing_import"),
    "oauth_authorize.json": oauth_authorize,
    "oauth_callback.json": oauth_callback,
    "order_import_schedule.json": schedule("order_import"),
    "order_import_sqs.json": sqs_job("order_import"),
    "quantity_sync_schedule.json": schedule("quantity_sync"),
    "quantity_sync_sqs.json": sqs_job("quantity_sync"),
    "shipment_push_sqs.json": shipment_push,
    "shipment_reconcile_schedule.json": schedule("shipment_reconcile"),
    "shipment_reconcile_sqs.json": sqs_job("shipment_reconcile"),
    "shipment_webhook_post.json": webhook,
}


def test_every_event_file_is_paired_with_a_function_and_checked(stack: LocalStack) -> None:
    assert EVENT_FILES == sorted(EVENT_FUNCTIONS) == sorted(CHECKS)
    assert set(EVENT_FUNCTIONS.values()) <= set(stack.template.functions)
    for name in EVENT_FILES:  # valid JSON; anything that needs a value of the stack is a placeholder
        event = json.loads((EVENTS_DIR / name).read_text(encoding="utf-8"))
        assert "REPLACE_WITH" not in json.dumps(event), name


@pytest.mark.parametrize("event_file", EVENT_FILES)
def test_each_sample_event_runs_its_function(event_file: str, stack: LocalStack, api: tuple[LambdaApi, EventFiller],
                                             demo: DemoConnection, capsys: pytest.CaptureFixture[str]) -> None:
    function = EVENT_FUNCTIONS[event_file]
    stack.drain(timeout=120)  # what earlier invocations queued is done: no run holds a job's lease
    code, out, err = run_main(capsys, "--function", function, "--event", f"events/{event_file}",
                              "--lambda-url", api[0].url)
    assert code == 0, err
    assert f"invoked {function} with events/{event_file} on the running local stack" in err
    logs = err.split(f"---- logs of {function} ----\n", 1)[1].rsplit("---- result ----", 1)[0]
    CHECKS[event_file](json.loads(out), logs, stack, demo)


def test_print_event_fills_every_placeholder(api: tuple[LambdaApi, EventFiller], demo: DemoConnection,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_main(capsys, "--event", "events/shipment_push_sqs.json", "--lambda-url", api[0].url,
                              "--print-event")
    assert code == 0, err
    event = json.loads(out)
    assert placeholders_in(event) == set()
    record = event["Records"][0]
    assert record["eventSourceARN"] == "arn:aws:sqs:us-east-1:123456789012:ShipmentQueue"
    assert json.loads(record["body"])["connection_id"] == demo.connection_id


def test_the_lambda_invoke_api(stack: LocalStack, api: tuple[LambdaApi, EventFiller]) -> None:
    url = f"{api[0].url}/2015-03-31/functions"
    event = json.loads((EVENTS_DIR / "admin_list_connections.json").read_text())
    answer = requests.post(f"{url}/AdminFunction/invocations", json=event, headers={"X-Amz-Log-Type": "Tail"},
                           timeout=60)
    assert answer.status_code == 200 and answer.json()["statusCode"] == 200
    assert "X-Amz-Function-Error" not in answer.headers and "X-Amz-Log-Result" in answer.headers
    failed = requests.post(f"{url}/ShipmentPushFunction/invocations", json={"Records": "not a list"}, timeout=60)
    assert failed.status_code == 200 and failed.headers["X-Amz-Function-Error"] == "Unhandled"
    assert failed.json()["errorType"]
    missing = requests.post(f"{url}/NoSuchFunction/invocations", json={}, timeout=10)
    assert missing.status_code == 404 and missing.headers["x-amzn-ErrorType"] == "ResourceNotFoundException"


@pytest.mark.parametrize(("args", "message"), [
    (["--function", "NoSuchFunction", "--event", "events/admin_list_connections.json"], "unknown FUNCTION"),
    (["--function", "AdminFunction", "--event", "events/no_such_event.json"], "no such file"),
    (["--function", "AdminFunction"], "EVENT is missing"),
])
def test_unknown_function_or_event_exits_2(args: list[str], message: str, api: tuple[LambdaApi, EventFiller],
                                           capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run_main(capsys, *args, "--lambda-url", api[0].url)
    assert (code, out) == (2, "")
    assert message in err


def test_bad_events_exit_2(tmp_path: Path, api: tuple[LambdaApi, EventFiller],
                           capsys: pytest.CaptureFixture[str]) -> None:
    not_json = tmp_path / "broken.json"
    not_json.write_text("{", encoding="utf-8")
    unknown = tmp_path / "unknown.json"
    unknown.write_text(json.dumps({"body": "{{no_such_placeholder}}"}), encoding="utf-8")
    misplaced = tmp_path / "misplaced.json"
    misplaced.write_text(json.dumps({"x": "{{md5_of_body}}"}), encoding="utf-8")
    no_queue = tmp_path / "no_queue.json"
    no_queue.write_text(json.dumps({"Records": [{"eventSourceARN": "{{queue_arn}}"}]}), encoding="utf-8")
    for path, message in [(not_json, "is not JSON"), (unknown, "unknown placeholder(s) {{no_such_placeholder}}"),
                          (misplaced, "out of place"), (no_queue, "AdminFunction has no SQS event")]:
        code, out, err = run_main(capsys, "--function", "AdminFunction", "--event", str(path),
                                  "--lambda-url", api[0].url)
        assert (code, out) == (2, ""), err
        assert message in err


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_without_a_running_stack_it_starts_one() -> None:
    """The entry point as `make invoke` runs it, with nothing on the Lambda API's port."""
    # a shell's environment: not the AWS endpoint and credentials this process's stack has set
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | {"LOCAL_LAMBDA_PORT": str(free_port())}
    done = subprocess.run([sys.executable, "-m", "local.invoke", "--function", "ShipmentWebhookFunction",
                           "--event", "events/shipment_webhook_post.json"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert "no local stack runs (make local): starting one in this process" in done.stderr
    assert "shipment event queued" in done.stderr  # the function's own log line
    assert json.loads(done.stdout)["statusCode"] == 202
