"""The local stack (local/): template model, moto resources, HTTP API, SQS, schedules, workers.

Runs against tests/fixtures/local_stack (a small template with an HTTP echo function, an SQS
consumer with partial batch failures, a scheduled producer, a table, a queue with a DLQ and
two secrets) so it stays fast; one test reads the real template.yaml.
"""

from __future__ import annotations

import base64
import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from local.stack import LocalStack, render_env_json
from local.template import load_template, load_yaml
from local.workers import FunctionTimeout, InvocationError, WorkerCrashed

PROJECT_ROOT = Path(__file__).resolve().parents[2]
FIXTURE = PROJECT_ROOT / "tests" / "fixtures" / "local_stack"
TEMPLATE = FIXTURE / "template.yaml"
EXTERNAL = {"TEMU_GATEWAY_URL": "http://temu.invalid/openapi/router",
            "WHOLECELL_API_URL": "http://wholecell.invalid/api/v1/"}


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("AWS_ENDPOINT_URL", raising=False)
        for key, value in EXTERNAL.items():
            mp.setenv(key, value)
        mp.setenv("LEAKS_INTO_FUNCTIONS", "no")
        local = LocalStack(FIXTURE, TEMPLATE, api_port=0, env_overrides={"EXTRA": "override"})
        local.retry_visibility_timeout = 1
        with local:
            yield local


def items(stack: LocalStack) -> set[str]:
    scan = stack.client("dynamodb").scan(TableName="ItemsTable")
    return {item["pk"]["S"] for item in scan["Items"]}


# ---------------------------------------------------------------- template model


def test_template_model_merges_globals_and_reads_events() -> None:
    template = load_template(TEMPLATE)
    echo, consumer, tick = (template.functions[f] for f in ("EchoFunction", "ConsumerFunction", "TickFunction"))

    assert (echo.runtime, echo.timeout, echo.memory_size, echo.handler) == ("python3.11", 2, 256, "app.handler")
    assert consumer.timeout == 10
    assert echo.environment["SHARED"] == "echo" and consumer.environment["SHARED"] == "global"
    assert "ONLY_ECHO" in echo.environment and "ONLY_ECHO" not in consumer.environment
    assert [(r.method, r.path, r.authorizer) for r in echo.http_routes] == [
        ("GET", "/items/{item_id}", None), ("POST", "/items/{item_id}", None),
        ("GET", "/files/special", None), ("ANY", "/files/{proxy+}", "AWS_IAM")]
    mapping, = consumer.sqs_mappings
    assert (mapping.queue, mapping.batch_size, mapping.report_batch_item_failures,
            mapping.maximum_concurrency) == ("WorkQueue", 5, True, 2)
    schedule, = tick.schedules
    assert (schedule.expression, schedule.input) == ("rate(1 minute)", {"job": "tick"})

    table = template.tables["ItemsTable"]
    assert table.ttl_attribute == "expires_at"
    assert [g["IndexName"] for g in table.global_secondary_indexes] == ["by_kind"]
    queue = template.queues["WorkQueue"]
    assert (queue.visibility_timeout, queue.dead_letter_queue, queue.max_receive_count) == (60, "WorkDLQ", 2)
    assert template.queues["WorkDLQ"].dead_letter_queue is None
    assert template.secrets["PlainSecret"].name == "fixture/test/plain"
    assert template.secrets["ApiSecret"].name == "ApiSecret"
    assert template.secrets["ApiSecret"].generate_key == "password"

    overridden = load_template(TEMPLATE, {"TickSchedule": "rate(2 minutes)", "Stage": "prod"})
    assert overridden.functions["TickFunction"].schedules[0].expression == "rate(2 minutes)"
    assert schedule.enabled
    assert not load_template(TEMPLATE, {"TickState": "DISABLED"}).functions["TickFunction"].schedules[0].enabled


def test_resolver_turns_intrinsics_into_local_values() -> None:
    template = load_template(TEMPLATE)
    resolver = template.resolver({"WorkQueue": "http://q/WorkQueue", "WorkDLQ": "http://q/WorkDLQ"},
                                 {"ApiSecret": "arn:secret:ApiSecret", "PlainSecret": "arn:secret:PlainSecret"})
    env = resolver.environment(template.functions["EchoFunction"].environment)
    assert env == {
        "STAGE": "test",
        "ITEMS_TABLE": "ItemsTable",
        "WORK_QUEUE_URL": "http://q/WorkQueue",
        "API_SECRET_ARN": "arn:secret:ApiSecret",
        "SECRET_PREFIX": "fixture/test/us-east-1/123456789012/aws",
        "BATCH_LIMIT": "5",
        "SHARED": "echo",
        "ONLY_ECHO": "1",
        "QUEUE_NAME": "WorkQueue",
        "QUEUE_ARN": "arn:aws:sqs:us-east-1:123456789012:WorkQueue",
        "MODE": "non-production",
        "JOINED": "a-test-y",
    }  # DROPPED resolved to AWS::NoValue and is left out
    prod = load_template(TEMPLATE, {"Stage": "prod"}).resolver({"WorkQueue": "u", "WorkDLQ": "d"},
                                                               {"ApiSecret": "a", "PlainSecret": "p"})
    prod_env = prod.environment(template.functions["EchoFunction"].environment)
    assert (prod_env["MODE"], prod_env["DROPPED"]) == ("production", "kept")


def test_real_template_is_fully_understood() -> None:
    path = PROJECT_ROOT / "template.yaml"
    raw = load_yaml(path)["Resources"]
    template = load_template(path)

    def declared(kind: str) -> set[str]:
        return {lid for lid, r in raw.items() if r["Type"] == kind}

    assert set(template.functions) == declared("AWS::Serverless::Function")
    assert set(template.tables) == declared("AWS::DynamoDB::Table")
    assert set(template.queues) == declared("AWS::SQS::Queue")
    assert set(template.secrets) == declared("AWS::SecretsManager::Secret")
    assert template.functions and template.tables and template.queues and template.secrets
    resolver = template.resolver({q: f"http://moto/{q}" for q in template.queues},
                                 {s: f"arn:{s}" for s in template.secrets})
    for function in template.functions.values():
        env = resolver.environment(function.environment)
        assert all(isinstance(v, str) for v in env.values()), function.logical_id
        assert (template.root / function.code_uri).name, function.logical_id
        for mapping in function.sqs_mappings:
            assert mapping.queue in template.queues
    for queue in template.queues.values():
        assert queue.dead_letter_queue is None or queue.dead_letter_queue in template.queues


def test_committed_env_json_is_what_the_runner_generates() -> None:
    committed = (PROJECT_ROOT / "local" / "env.json").read_text(encoding="utf-8")
    assert committed == render_env_json(load_template(PROJECT_ROOT / "template.yaml")), (
        "local/env.json is stale: run `python -m local.runner --write-env-json`")


# ---------------------------------------------------------------- resources


def test_tables_queues_and_secrets_are_created(stack: LocalStack) -> None:
    dynamodb, sqs, sm = stack.client("dynamodb"), stack.client("sqs"), stack.client("secretsmanager")
    table = dynamodb.describe_table(TableName="ItemsTable")["Table"]
    assert table["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert [g["IndexName"] for g in table["GlobalSecondaryIndexes"]] == ["by_kind"]
    ttl = dynamodb.describe_time_to_live(TableName="ItemsTable")["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expires_at")

    assert stack.queue_url("WorkQueue").endswith("/123456789012/WorkQueue")
    attributes = sqs.get_queue_attributes(QueueUrl=stack.queue_url("WorkQueue"),
                                          AttributeNames=["All"])["Attributes"]
    assert json.loads(attributes["RedrivePolicy"]) == {
        "deadLetterTargetArn": "arn:aws:sqs:us-east-1:123456789012:WorkDLQ", "maxReceiveCount": 2}
    assert attributes["VisibilityTimeout"] == "60"

    generated = json.loads(sm.get_secret_value(SecretId=stack.secret_arns["ApiSecret"])["SecretString"])
    assert generated["user"] == "app" and len(generated["password"]) == 32
    assert sm.get_secret_value(SecretId="fixture/test/plain")["SecretString"] == '{"k": "v"}'
    assert os.environ["AWS_ENDPOINT_URL"] == stack.endpoint_url  # in-process code uses the same moto


# ---------------------------------------------------------------- functions and their environment


def test_each_function_has_its_own_environment_and_module(stack: LocalStack) -> None:
    echo = stack.invoke("EchoFunction", {"action": "env"})
    consumer = stack.invoke("ConsumerFunction", {"action": "env"})
    echo_env, consumer_env = echo["env"], consumer["env"]

    assert echo["module"] == str(FIXTURE / "echo" / "app.py")
    assert consumer["module"] == str(FIXTURE / "consumer" / "app.py")
    assert echo["path0"] == str(FIXTURE / "echo") and echo["function_name"] == "EchoFunction"
    assert 0 < echo["remaining_ms"] <= 2000
    assert (echo_env["SHARED"], consumer_env["SHARED"]) == ("echo", "global")
    assert "ONLY_ECHO" in echo_env and "ONLY_ECHO" not in consumer_env
    assert "LEAKS_INTO_FUNCTIONS" not in echo_env
    for env in (echo_env, consumer_env):
        assert env["ITEMS_TABLE"] == "ItemsTable"
        assert env["WORK_QUEUE_URL"] == stack.queue_url("WorkQueue")
        assert env["API_SECRET_ARN"] == stack.secret_arns["ApiSecret"]
        assert env["API_SECRET_ARN"].startswith("arn:aws:secretsmanager:us-east-1:123456789012:secret:ApiSecret")
        assert env["AWS_ENDPOINT_URL"] == stack.endpoint_url
        assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == "us-east-1"
        assert env["TEMU_GATEWAY_URL"] == "http://temu.invalid/openapi/router"
        assert env["TEMU_AUTHORIZE_URL"] == "http://temu.invalid/open-platform/client-manage/authorization"
        assert env["WHOLECELL_API_URL"] == "http://wholecell.invalid/api/v1"
        assert (env["TEMU_APP_KEY"], env["TEMU_APP_SECRET_ARN"]) == ("sandbox-app-key", "")
        assert env["POWERTOOLS_TRACE_DISABLED"] == "true"
        assert env["EXTRA"] == "override"
        assert env["AWS_LAMBDA_FUNCTION_NAME"] in ("EchoFunction", "ConsumerFunction")
    assert stack.temu is None and stack.wholecell is None  # URLs were given, so no sandboxes


def test_handler_error_timeout_and_crash_recovery(stack: LocalStack) -> None:
    with pytest.raises(InvocationError) as raised:
        stack.invoke("EchoFunction", {"action": "raise"})
    assert (raised.value.error_type, raised.value.error_message) == ("ValueError", "asked to fail")
    assert any("asked to fail" in line for line in raised.value.stack_trace)

    worker = stack.worker("EchoFunction")
    pid, cold = worker.pid, worker.cold_starts
    started = time.monotonic()
    with pytest.raises(FunctionTimeout, match=r"Task timed out after 2\.00 seconds"):
        stack.invoke("EchoFunction", {"action": "sleep", "seconds": 30})
    assert time.monotonic() - started < 5
    assert worker.pid is None  # killed

    with pytest.raises(WorkerCrashed):
        stack.invoke("EchoFunction", {"action": "crash"})
    assert stack.invoke("EchoFunction", {"action": "sleep", "seconds": 0}) == "slept"
    assert worker.pid not in (None, pid) and worker.cold_starts == cold + 2


def test_a_worker_killed_just_before_an_invocation_is_a_crash_not_a_harness_error(stack: LocalStack) -> None:
    """SIGKILL lands between the liveness check and the send (the process is not reaped yet): the send
    fails with a broken pipe, which must reach the poller as a crash, so the batch is retried soon."""
    worker = stack.worker("EchoFunction")
    assert stack.invoke("EchoFunction", {"action": "sleep", "seconds": 0}) == "slept"
    process = worker._process
    assert process is not None
    process.kill()
    process.wait()
    process.poll = lambda: None  # type: ignore[method-assign]  # not reaped yet, as it looks for a moment
    with pytest.raises(WorkerCrashed, match="exit code -9"):
        worker.invoke({"action": "sleep", "seconds": 0})
    assert stack.invoke("EchoFunction", {"action": "sleep", "seconds": 0}) == "slept"  # a new process


# ---------------------------------------------------------------- HTTP API


def test_http_route_with_path_and_query_parameters(stack: LocalStack) -> None:
    response = stack.http("GET", "/items/ab%20c?x=1&x=2&empty=", headers={"X-Custom": "Yes",
                                                                         "Cookie": "s=1; t=2"})
    assert response.status_code == 200
    assert response.headers["x-function"] == "echo"
    assert response.raw.headers.getlist("Set-Cookie") == ["a=1", "b=2"]
    event = response.json()
    assert event["version"] == "2.0"
    assert event["routeKey"] == "GET /items/{item_id}"
    assert event["rawPath"] == "/items/ab%20c"
    assert event["rawQueryString"] == "x=1&x=2&empty="
    assert event["queryStringParameters"] == {"x": "1,2", "empty": ""}
    assert event["pathParameters"] == {"item_id": "ab c"}
    assert event["headers"]["x-custom"] == "Yes" and "cookie" not in event["headers"]
    assert event["cookies"] == ["s=1", "t=2"]
    context = event["requestContext"]
    assert (context["http"]["method"], context["http"]["path"], context["stage"]) == ("GET", "/items/ab%20c",
                                                                                      "$default")
    assert context["domainName"] == stack.api_url.removeprefix("http://")
    assert context["http"]["sourceIp"] == "127.0.0.1" and context["requestId"] and context["timeEpoch"]
    assert "body" not in event and event["isBase64Encoded"] is False


def test_http_bodies_text_and_binary(stack: LocalStack) -> None:
    event = stack.http("POST", "/items/7", json={"a": 1}).json()
    assert event["routeKey"] == "POST /items/{item_id}"
    assert (json.loads(event["body"]), event["isBase64Encoded"]) == ({"a": 1}, False)

    raw = requests.put(stack.api_url + "/files/a/b/c.bin", data=b"\x00\xff\x10",
                       headers={"Content-Type": "application/octet-stream"}, timeout=30).json()
    assert raw["routeKey"] == "ANY /files/{proxy+}"
    assert raw["pathParameters"] == {"proxy": "a/b/c.bin"}
    assert raw["isBase64Encoded"] is True and base64.b64decode(raw["body"]) == b"\x00\xff\x10"
    assert raw["requestContext"]["authorizer"]["iam"]["accountId"] == "123456789012"

    binary = stack.http("GET", "/files/x?binary=1")
    assert binary.content == b"\x00\x01\xff"
    assert binary.headers["content-type"] == "application/octet-stream"


def test_http_exact_route_wins_over_proxy_and_errors(stack: LocalStack) -> None:
    assert stack.http("GET", "/files/special").json()["routeKey"] == "GET /files/special"
    assert stack.http("POST", "/files/special").json()["routeKey"] == "ANY /files/{proxy+}"
    assert stack.http("GET", "/items/1?status=201").status_code == 201

    missing = stack.http("GET", "/nowhere")
    assert (missing.status_code, missing.json()) == (404, {"message": "Not Found"})
    assert stack.http("DELETE", "/items/1").status_code == 404
    failed = stack.http("GET", "/items/1?raise=1")
    assert (failed.status_code, failed.json()) == (500, {"message": "Internal Server Error"})


# ---------------------------------------------------------------- SQS and schedules


def test_sqs_partial_failures_retry_then_go_to_the_dlq(stack: LocalStack) -> None:
    sqs = stack.client("sqs")
    for body in ("ok-1", "ok-2", "fail-1"):
        sqs.send_message(QueueUrl=stack.queue_url("WorkQueue"), MessageBody=body)
    stack.drain(timeout=20)

    seen = items(stack)
    assert {"ok-1", "ok-2"} <= seen and "fail-1" not in seen
    assert {"seen#ok-1#1", "seen#fail-1#1", "seen#fail-1#2"} <= seen  # tried maxReceiveCount times
    assert "seen#ok-1#2" not in seen and "seen#fail-1#3" not in seen
    assert [m["Body"] for m in stack.dlq_messages("WorkQueue")] == ["fail-1"]


def test_schedule_on_demand_fans_out_through_the_queue(stack: LocalStack) -> None:
    stack.pause()
    try:
        result, = stack.fire_schedule("TickFunction")
        time.sleep(0.5)
        assert result["sent"] not in items(stack)  # paused: the message waits in the queue
    finally:
        stack.resume()
    stack.drain(timeout=20)
    assert result["sent"] in items(stack)
    with pytest.raises(ValueError, match="no schedule"):
        stack.fire_schedule("EchoFunction")


def test_schedule_fires_by_timer() -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("AWS_ENDPOINT_URL", raising=False)
        for key, value in EXTERNAL.items():
            mp.setenv(key, value)
        with LocalStack(FIXTURE, TEMPLATE, api_port=0, schedule_seconds=0.3) as timed:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not any(pk.startswith("tick-") for pk in items(timed)):
                time.sleep(0.2)
            assert any(pk.startswith("tick-") for pk in items(timed))


def test_sandboxes_start_when_no_external_urls_are_given() -> None:
    with pytest.MonkeyPatch.context() as mp:
        for key in ("AWS_ENDPOINT_URL", "TEMU_GATEWAY_URL", "TEMU_AUTHORIZE_URL", "WHOLECELL_API_URL",
                    "TEMU_APP_KEY", "TEMU_APP_SECRET"):
            mp.delenv(key, raising=False)
        with LocalStack(FIXTURE, TEMPLATE, api_port=0) as local:
            assert local.temu is not None and local.wholecell is not None
            assert local.temu_gateway_url == f"{local.temu.url}/openapi/router"
            assert local.temu_authorize_url == f"{local.temu.url}/open-platform/client-manage/authorization"
            assert local.wholecell_api_url == f"{local.wholecell.url}/api/v1"
            env = local.invoke("EchoFunction", {"action": "env"})["env"]
            assert (env["TEMU_GATEWAY_URL"], env["WHOLECELL_API_URL"]) == (local.temu_gateway_url,
                                                                          local.wholecell_api_url)
            assert (env["TEMU_APP_KEY"], env["TEMU_APP_SECRET"]) == ("sandbox-app-key", "sandbox-app-secret")
        assert local.temu is None and local.wholecell is None


def test_with_concurrency_batches_run_at_once_up_to_the_maximum_concurrency() -> None:
    """concurrency=4 over an event whose MaximumConcurrency is 2: two batches at a time, never three,
    each in a warm worker of its own; partial failures still retry and reach the DLQ."""
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("AWS_ENDPOINT_URL", raising=False)
        for key, value in EXTERNAL.items():
            mp.setenv(key, value)
        with LocalStack(FIXTURE, TEMPLATE, api_port=0, concurrency=4) as scaled:
            scaled.retry_visibility_timeout = 1
            with pytest.raises(ValueError, match="above 1"):
                scaled.set_concurrency(1)
            scaled.pause()
            sqs = scaled.client("sqs")
            for n in range(12):
                sqs.send_message(QueueUrl=scaled.queue_url("WorkQueue"), MessageBody=f"slow-{n}")
            sqs.send_message(QueueUrl=scaled.queue_url("WorkQueue"), MessageBody="fail-x")
            scaled.drain(timeout=60)
            scan = scaled.client("dynamodb").scan(TableName="ItemsTable")["Items"]
            spans = sorted(tuple(map(float, i["span"]["S"].split())) for i in scan if i["kind"]["S"] == "span")
            assert len(spans) == 12
            events = sorted([(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans])
            running, most = 0, 0
            for _, change in events:
                running += change
                most = max(most, running)
            assert most == 2  # records of one batch run one after another; two batches at once
            assert len(scaled.workers("ConsumerFunction")) == 2
            # moto moves a message to the DLQ inside a receive, removing it from the queue before adding
            # it to the DLQ: a drain can see the queue empty in between
            deadline = time.monotonic() + 5
            while not (dead := scaled.dlq_messages("WorkQueue")) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert [m["Body"] for m in dead] == ["fail-x"]
