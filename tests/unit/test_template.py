"""template.yaml is the one source of truth: the code must agree with it."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import pytest
from cfnlint.decode import decode
from cfnlint.template import Template
from cfnlint.template.transforms._language_extensions import language_extension
from wholecell_temu.config import Settings
from wholecell_temu.domain.shipments import confirmation_seconds
from wholecell_temu.jobs.shipment_push import LAST_SLOT_MARGIN
from wholecell_temu.store.tables import ALL_MODELS

from local.template import load_template, load_yaml

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    """The template as CloudFormation sees it after `AWS::LanguageExtensions` (loops expanded)."""
    return load_yaml(ROOT / "template.yaml")


def test_the_loops_expand_as_cloudformation_expands_them(template: dict[str, Any]) -> None:
    """The local expansion of Fn::ForEach / Fn::FindInMap is the one the local stack, the IAM
    translator and these tests read; it must equal cfn-lint's implementation of the transform."""
    raw, problems = decode(str(ROOT / "template.yaml"))
    assert not problems and raw is not None
    errors, expanded = language_extension(Template(str(ROOT / "template.yaml"), raw, ["us-east-1"]))
    assert not errors
    for section in ("Resources", "Outputs"):  # (cfn-lint reorders Conditions' Equals for its own analysis)
        assert json.loads(json.dumps(expanded[section])) == json.loads(json.dumps(template[section])), section


def _functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: v["Properties"] for k, v in template["Resources"].items() if v["Type"] == "AWS::Serverless::Function"}


def test_every_handler_resolves(template: dict[str, Any]) -> None:
    functions = _functions(template)
    assert functions
    for logical_id, props in functions.items():
        module_name, attr = props["Handler"].rsplit(".", 1)
        path = ROOT / props["CodeUri"] / f"{module_name}.py"
        assert path.is_file(), f"{logical_id}: {path} missing"
        spec = importlib.util.spec_from_file_location(f"handler_{logical_id}", path)
        assert spec and spec.loader
        source = path.read_text()
        assert f"def {attr}" in source or f"{attr} =" in source, f"{logical_id}: no {attr} in {path}"


def test_every_function_has_a_sample_event(template: dict[str, Any]) -> None:
    events = {p.name for p in (ROOT / "events").glob("*.json")}
    for logical_id, props in _functions(template).items():
        directory = Path(props["CodeUri"]).name
        assert any(name.startswith(directory) for name in events), f"{logical_id}: no events/{directory}*.json"


def test_environment_names_every_setting(template: dict[str, Any]) -> None:
    env = template["Globals"]["Function"]["Environment"]["Variables"]
    resources = template["Resources"]
    for name, field in Settings.model_fields.items():
        if field.is_required():
            assert field.alias in env, f"{field.alias} (Settings.{name}) not set in Globals"
    for variable, value in env.items():
        if isinstance(value, dict) and "Ref" in value and value["Ref"] in resources:
            kind = resources[value["Ref"]]["Type"]
            if variable.endswith("_TABLE"):
                assert kind == "AWS::DynamoDB::Table", variable
            if variable.endswith("_QUEUE_URL"):
                assert kind == "AWS::SQS::Queue", variable


def test_table_keys_match_models(template: dict[str, Any]) -> None:
    env = template["Globals"]["Function"]["Environment"]["Variables"]
    resources = template["Resources"]
    for field_name, model in ALL_MODELS.items():
        variable = Settings.model_fields[field_name].alias
        value = env[variable]
        if "Fn::If" in value:  # an optional table (BudgetsTable under SharedBudgets): its name or blank
            condition, value, otherwise = value["Fn::If"]
            assert otherwise == "" and condition in template["Conditions"], field_name
        table = resources[value["Ref"]]["Properties"]
        keys = {k["KeyType"]: k["AttributeName"] for k in table["KeySchema"]}
        assert keys.get("HASH") == model._hash_keyname, field_name
        assert keys.get("RANGE") == model._range_keyname, field_name
        types = {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]}
        for attr_name in types:
            assert attr_name in model.get_attributes(), f"{field_name}: {attr_name} not on {model.__name__}"


def _of_type(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def _alarms(template: dict[str, Any], metric: str) -> dict[str, dict[str, Any]]:
    """{dimension value's logical id: alarm properties} of the alarms on `metric`."""
    found: dict[str, dict[str, Any]] = {}
    for alarm in _of_type(template, "AWS::CloudWatch::Alarm").values():
        props = alarm["Properties"]
        stats = [m["MetricStat"]["Metric"] for m in props.get("Metrics", []) if "MetricStat" in m]
        for metric_props in [props, *stats]:
            if metric_props.get("MetricName") == metric:
                value = metric_props["Dimensions"][0]["Value"]
                target = value.get("Ref") or value.get("Fn::GetAtt", [None])[0] if isinstance(value, dict) else value
                found[str(target)] = props
    return found


def test_every_queue_has_a_dlq_and_every_dlq_an_alarm(template: dict[str, Any]) -> None:
    queues = _of_type(template, "AWS::SQS::Queue")
    dlqs = {k for k in queues if k.endswith("DLQ")}
    sources = set(queues) - dlqs
    for queue in sources:
        target = queues[queue]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]
        assert target == {"Fn::GetAtt": [f"{queue.removesuffix('Queue')}DLQ", "Arn"]}, queue
    assert set(_alarms(template, "ApproximateNumberOfMessagesVisible")) == dlqs
    assert "SchedulerDLQ" in dlqs


def _consumer(template: dict[str, Any], queue: str) -> dict[str, Any]:
    for props in _functions(template).values():
        for event in props.get("Events", {}).values():
            if event["Type"] == "SQS" and event["Properties"]["Queue"] == {"Fn::GetAtt": [queue, "Arn"]}:
                return props
    raise AssertionError(f"{queue} has no consumer")


# 900-second jobs keep a 2x visibility timeout, not AWS's 6x (docs/decisions.md, 2026-12-06).
LONG_JOB_QUEUES = {"ListingImportQueue", "QuantitySyncQueue", "OrderImportQueue"}


def test_visibility_timeouts_and_queue_age_alarms(template: dict[str, Any]) -> None:
    """AWS's guidance for Lambda consumers (6x the timeout) or the documented exception; the age
    alarm never fires for a message whose last allowed retry succeeds (a retry must not page)."""
    ages = _alarms(template, "ApproximateAgeOfOldestMessage")
    queues = _of_type(template, "AWS::SQS::Queue")
    for queue, resource in queues.items():
        if queue.endswith("DLQ"):
            continue
        props = resource["Properties"]
        timeout = _consumer(template, queue)["Timeout"]
        factor = 2 if queue in LONG_JOB_QUEUES else 6
        assert props["VisibilityTimeout"] >= factor * timeout, queue
        receives = props["RedrivePolicy"]["maxReceiveCount"]
        last_retry_done = (receives - 1) * props["VisibilityTimeout"] + timeout
        assert ages[queue]["Threshold"] > last_retry_done, queue
        assert ages[queue]["Threshold"] <= receives * props["VisibilityTimeout"] + timeout, f"{queue}: alarm too late"


def test_alarms_page_for_what_matters_and_say_when_it_is_over(template: dict[str, Any]) -> None:
    functions = _functions(template)
    assert set(_alarms(template, "Throttles")) == set(functions)
    assert set(_alarms(template, "Duration")) == set(functions)
    http = {k for k, v in functions.items() if any(e["Type"] == "HttpApi" for e in v.get("Events", {}).values())}
    assert set(_alarms(template, "Errors")) == http, "job functions retry through SQS: their errors must not page"
    assert "HttpApi" in _alarms(template, "5xx")
    for logical_id, alarm in _of_type(template, "AWS::CloudWatch::Alarm").items():
        props = alarm["Properties"]
        assert props["AlarmActions"] == [{"Ref": "AlarmTopic"}], logical_id
        assert props["OKActions"] == props["AlarmActions"], logical_id
        assert props["TreatMissingData"] == "notBreaching", logical_id


def test_duration_alarms_read_each_function_s_own_timeout(template: dict[str, Any]) -> None:
    for logical_id, props in _alarms(template, "Duration").items():
        timeout = _functions(template)[logical_id]["Timeout"]
        expression = next(m["Expression"] for m in props["Metrics"] if "Expression" in m)
        assert expression == {"Fn::Sub": ["duration / (10 * ${Seconds})", {"Seconds": timeout}]}, logical_id
        assert 90 <= props["Threshold"] < 100


def test_every_function_logs_json_to_its_own_group_with_retention(template: dict[str, Any]) -> None:
    globals_ = template["Globals"]["Function"]
    assert globals_["LoggingConfig"]["LogFormat"] == "JSON"
    groups = _of_type(template, "AWS::Logs::LogGroup")
    for logical_id, props in _functions(template).items():
        group = props["LoggingConfig"]["LogGroup"]["Ref"]
        assert groups[group]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}, logical_id
    api = template["Resources"]["HttpApi"]["Properties"]
    access = groups[api["AccessLogSettings"]["DestinationArn"]["Fn::GetAtt"][0]]
    assert access["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    assert "$context.routeKey" in api["AccessLogSettings"]["Format"]
    assert "querystring" not in api["AccessLogSettings"]["Format"].lower(), "the OAuth code must not reach a log"
    assert api["DefaultRouteSettings"]["ThrottlingRateLimit"] == {"Ref": "ApiThrottleRate"}


def test_edge_functions_have_reserved_concurrency(template: dict[str, Any]) -> None:
    functions = _functions(template)
    for logical_id in ("ShipmentWebhookFunction", "OauthFunction", "AdminFunction"):
        assert "ReservedConcurrentExecutions" in functions[logical_id], logical_id


def test_schedules_are_grouped_bounded_and_dead_lettered(template: dict[str, Any]) -> None:
    schedules = [e["Properties"] for props in _functions(template).values()
                 for e in props.get("Events", {}).values() if e["Type"] == "ScheduleV2"]
    assert len(schedules) == 5
    for schedule in schedules:
        assert schedule["State"] == {"Ref": "ScheduleState"}
        assert schedule["GroupName"] == {"Ref": "ScheduleGroup"}
        assert schedule["DeadLetterConfig"] == {"Arn": {"Fn::GetAtt": ["SchedulerDLQ", "Arn"]}}
        assert 60 <= schedule["RetryPolicy"]["MaximumEventAgeInSeconds"] <= 300


FACT_TABLES = {"ConnectionsTable", "ListingsTable", "OrdersTable", "ShipmentsTable"}


def test_tables_that_hold_facts_are_kept_and_protected(template: dict[str, Any]) -> None:
    tables = _of_type(template, "AWS::DynamoDB::Table")
    assert set(tables) > FACT_TABLES
    for logical_id, resource in tables.items():
        props = resource["Properties"]
        assert props["BillingMode"] == "PAY_PER_REQUEST", logical_id
        assert props["SSESpecification"]["SSEEnabled"] is True, logical_id
        if logical_id in FACT_TABLES:
            assert resource["DeletionPolicy"] == resource["UpdateReplacePolicy"] == {"Ref": "DataDeletionPolicy"}
            assert props["DeletionProtectionEnabled"] == {"Fn::If": ["ProtectTables", True, False]}, logical_id
            assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True, logical_id
        else:  # rebuildable (the comment on each says from what): no recovery to pay for
            assert "PointInTimeRecoverySpecification" not in props, logical_id
    assert template["Parameters"]["DataDeletionPolicy"]["Default"] == "Retain"
    for secret in ("TemuAppSecret", "WebhookKeySecret"):
        assert template["Resources"][secret]["DeletionPolicy"] == {"Ref": "DataDeletionPolicy"}, secret


def test_egress_gives_the_functions_one_fixed_ip(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    vpc_config = template["Globals"]["Function"]["VpcConfig"]["Fn::If"]
    assert vpc_config[0] == "InVpc" and vpc_config[2] == {"Ref": "AWS::NoValue"}
    assert vpc_config[1]["SubnetIds"]["Fn::If"][1] == [{"Ref": "PrivateSubnetA"}, {"Ref": "PrivateSubnetB"}]
    assert all("VpcConfig" not in props for props in _functions(template).values()), "one place: Globals"
    nat = resources["NatGateway"]["Properties"]
    assert nat["AllocationId"] == {"Fn::If": ["CreateEgressIp", {"Fn::GetAtt": ["EgressIp", "AllocationId"]},
                                              {"Ref": "EgressAllocationId"}]}
    assert resources["EgressIp"]["DeletionPolicy"] == "Retain", "the address Temu knows outlives the stack"
    assert resources["PrivateDefaultRoute"]["Properties"]["NatGatewayId"] == {"Ref": "NatGateway"}
    assert resources["DynamoDbEndpoint"]["Properties"]["VpcEndpointType"] == "Gateway"
    for service in ("sqs", "secretsmanager"):
        assert resources[f"{service}Endpoint"]["Condition"] == "CreateInterfaceEndpoints"
    assert template["Outputs"]["EgressIp"]["Value"] == {"Fn::GetAtt": ["EgressIp", "PublicIp"]}
    assert resources["EgressIp"]["Condition"] == template["Outputs"]["EgressIp"]["Condition"] == "CreateEgressIp"
    for logical_id in ("Vpc", "NatGateway", "PrivateSubnetA", "PrivateSubnetB", "DynamoDbEndpoint"):
        assert resources[logical_id]["Condition"] == "CreateVpc", logical_id


def test_outputs_name_what_the_runbook_needs(template: dict[str, Any]) -> None:
    outputs = template["Outputs"]
    for name in ("ApiUrl", "TemuRedirectUrl", "WebhookUrlPattern", "TemuAppSecretName", "EgressIp",
                 "AlarmTopicArn", "DashboardUrl", "SchedulerDLQArn"):
        assert name in outputs, name
    for queue in _of_type(template, "AWS::SQS::Queue"):
        if queue.endswith("DLQ") and queue != "SchedulerDLQ":
            assert outputs[f"{queue}Arn"]["Value"] == {"Fn::GetAtt": [queue, "Arn"]}, queue
    secret_name = template["Resources"]["TemuAppSecret"]["Properties"]["Name"]
    assert outputs["TemuAppSecretName"]["Value"] == secret_name


def test_the_dashboard_shows_metrics_the_code_emits(template: dict[str, Any]) -> None:
    body = template["Resources"]["Dashboard"]["Properties"]["DashboardBody"]["Fn::ToJsonString"]
    custom = {m[1] for w in body["widgets"] for m in w["properties"]["metrics"] if m[0] == "WholeCellTemu"}
    source = "\n".join(p.read_text() for p in (ROOT / "layers/common/wholecell_temu").rglob("*.py"))
    emitted = set(re.findall(r'add_metric\(name="(\w+)"', source))
    assert {"OrdersImported", "QuantityPushed", "QuantityPushFailed", "ShipmentConfirmed", "TemuThrottled",
            "TokenDaysToExpiry"} <= custom
    assert custom <= emitted, f"on the dashboard but never emitted: {custom - emitted}"


def test_stages_never_share_names(template: dict[str, Any]) -> None:
    env = template["Globals"]["Function"]["Environment"]["Variables"]
    assert env["POWERTOOLS_SERVICE_NAME"] == {"Fn::Sub": "wholecell-temu-${Stage}"}
    for logical_id, resource in template["Resources"].items():
        name = resource.get("Properties", {}).get("Name") or resource.get("Properties", {}).get("LogGroupName")
        if isinstance(name, dict) and "Fn::Sub" in name:
            assert "${Stage}" in name["Fn::Sub"] or "${AWS::StackName}" in name["Fn::Sub"], logical_id
        elif name is not None and resource["Type"] != "AWS::Scheduler::ScheduleGroup":
            assert isinstance(name, dict), f"{logical_id}: a fixed name collides between stacks"


def _default(template: dict[str, Any], value: Any) -> float:
    if isinstance(value, dict) and "Ref" in value:
        return float(template["Parameters"][value["Ref"]]["Default"])
    return float(value)


# Each SQS consumer's MaximumConcurrency: MaxJobConcurrency workers when they share budgets, a
# fixed number (the else branch, 2) when each paces alone at its per-worker share.
WORKERS_PER_CONSUMER = {"Fn::If": ["UseSharedBudgets", {"Ref": "MaxJobConcurrency"}, 2]}


def _sqs_consumers(template: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """{function: its SQS event sources' properties} of every function fed by a queue."""
    consumers = {}
    for logical_id, props in _functions(template).items():
        queues = [e["Properties"] for e in props.get("Events", {}).values() if e["Type"] == "SQS"]
        if queues:
            consumers[logical_id] = queues
    return consumers


def test_workers_share_budgets_by_default(template: dict[str, Any]) -> None:
    """By default every worker books the shared budgets (BudgetsTable), so a consumer may run
    MaxJobConcurrency workers; with SharedBudgets=disabled it runs the 2 its share assumes."""
    parameters = template["Parameters"]
    assert parameters["SharedBudgets"]["Default"] == "enabled"
    assert template["Conditions"]["UseSharedBudgets"] == {"Fn::Equals": [{"Ref": "SharedBudgets"}, "enabled"]}
    assert parameters["MaxJobConcurrency"]["Default"] == 10
    assert parameters["MaxJobConcurrency"]["MinValue"] == 2  # Lambda's minimum
    consumers = _sqs_consumers(template)
    assert len(consumers) == 6
    for logical_id, queues in consumers.items():
        for queue in queues:
            assert queue["ScalingConfig"] == {"MaximumConcurrency": WORKERS_PER_CONSUMER}, logical_id


def test_the_local_stack_reads_the_workers_per_consumer() -> None:
    """local/template.py resolves the !If to the workers the local stack runs per consumer."""
    def workers(overrides: dict[str, str]) -> set[int | None]:
        loaded = load_template(ROOT / "template.yaml", overrides)
        return {m.maximum_concurrency for f in loaded.functions.values() for m in f.sqs_mappings}

    assert workers({}) == {10}
    assert workers({"MaxJobConcurrency": "4"}) == {4}
    assert workers({"SharedBudgets": "disabled"}) == {2}
    assert workers({"SharedBudgets": "disabled", "MaxJobConcurrency": "4"}) == {2}


def test_temu_request_budgets_stay_under_the_app_limit(template: dict[str, Any]) -> None:
    """With SharedBudgets=disabled, Temu's 20 req/s per app is split in fixed shares: every
    consumer's workers (the !If's else branch: 2) x its per-worker rate, plus admin/OAuth, fit in
    it. (With SharedBudgets=enabled everyone books TemuAppRateLimit's one schedule instead.)"""
    globals_env = template["Globals"]["Function"]["Environment"]["Variables"]
    assert globals_env["BUDGETS_TABLE"] == {"Fn::If": ["UseSharedBudgets", {"Ref": "BudgetsTable"}, ""]}
    total = _default(template, globals_env["TEMU_RATE_LIMIT"])  # admin and OAuth
    temu_callers = 0
    for logical_id, queues in _sqs_consumers(template).items():
        props = _functions(template)[logical_id]
        calls_temu = any(isinstance(p, dict) and p.get("AWSSecretsManagerGetSecretValuePolicy", {}).get("SecretArn")
                         == {"Ref": "TemuAppSecret"} for p in props.get("Policies", []))
        if not calls_temu:
            continue
        temu_callers += 1
        rate = props.get("Environment", {}).get("Variables", {}).get("TEMU_RATE_LIMIT")
        assert rate is not None, f"{logical_id} calls Temu but has no TEMU_RATE_LIMIT budget of its own"
        condition, _, when_disabled = queues[0]["ScalingConfig"]["MaximumConcurrency"]["Fn::If"]
        assert condition == "UseSharedBudgets", logical_id
        total += _default(template, when_disabled) * _default(template, rate)
    assert temu_callers == 5
    assert total <= 20, f"Temu budgets add up to {total} req/s"


def test_claims_outlive_their_invocations_and_batches_fit_their_timeout(template: dict[str, Any]) -> None:
    """A claim shorter than the invocation holding it would let another run take it over live;
    a batch of confirmations that cannot finish at the worker's Temu budget would time out and
    be delivered again, counting towards the dead-letter queue."""
    fields = Settings.model_fields
    functions = _functions(template)
    assert fields["order_claim_seconds"].default >= functions["OrderImportFunction"]["Timeout"]
    push = functions["ShipmentPushFunction"]
    assert fields["shipment_claim_seconds"].default >= push["Timeout"]
    queue = template["Resources"]["ShipmentQueue"]["Properties"]
    assert queue["VisibilityTimeout"] >= push["Timeout"]
    batch = push["Events"]["Queue"]["Properties"]["BatchSize"]
    rate = _default(template, push["Environment"]["Variables"]["TEMU_RATE_LIMIT"])
    assert batch * confirmation_seconds(rate) <= push["Timeout"], "a full batch cannot finish in time"
    # a message is started with at least a confirmation's time left; its paced calls stop LAST_SLOT_MARGIN
    # before the end (a shared budget's wait is not bounded by the estimate): some of that time is left for them
    assert confirmation_seconds(rate) > LAST_SLOT_MARGIN
