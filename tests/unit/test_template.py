"""template.yaml is the one source of truth: the code must agree with it."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
import yaml
from wholecell_temu.config import Settings
from wholecell_temu.domain.shipments import confirmation_seconds
from wholecell_temu.store.tables import ALL_MODELS

ROOT = Path(__file__).resolve().parents[2]


class _CfnLoader(yaml.SafeLoader):
    pass


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    return {suffix: value}


_CfnLoader.add_multi_constructor("!", _tag)


@pytest.fixture(scope="module")
def template() -> dict[str, Any]:
    return yaml.load((ROOT / "template.yaml").read_text(), Loader=_CfnLoader)


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
        table = resources[env[variable]["Ref"]]["Properties"]
        keys = {k["KeyType"]: k["AttributeName"] for k in table["KeySchema"]}
        assert keys.get("HASH") == model._hash_keyname, field_name
        assert keys.get("RANGE") == model._range_keyname, field_name
        types = {a["AttributeName"]: a["AttributeType"] for a in table["AttributeDefinitions"]}
        for attr_name in types:
            assert attr_name in model.get_attributes(), f"{field_name}: {attr_name} not on {model.__name__}"


def test_every_queue_has_a_dlq_and_an_alarm(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    dlqs = {k for k, v in resources.items() if v["Type"] == "AWS::SQS::Queue" and k.endswith("DLQ")}
    queues = {k for k, v in resources.items() if v["Type"] == "AWS::SQS::Queue"} - dlqs
    for queue in queues:
        target = resources[queue]["Properties"]["RedrivePolicy"]["deadLetterTargetArn"]
        assert target == {"GetAtt": f"{queue.removesuffix('Queue')}DLQ.Arn"}, queue
    alarmed = {
        v["Properties"]["Dimensions"][0]["Value"]["GetAtt"].split(".")[0]
        for v in resources.values()
        if v["Type"] == "AWS::CloudWatch::Alarm" and v["Properties"]["Namespace"] == "AWS/SQS"
    }
    assert alarmed == dlqs


def test_tables_are_protected(template: dict[str, Any]) -> None:
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] == "AWS::DynamoDB::Table":
            props = resource["Properties"]
            assert props["BillingMode"] == "PAY_PER_REQUEST", logical_id
            assert props["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True, logical_id
            assert props["SSESpecification"]["SSEEnabled"] is True, logical_id


def _default(template: dict[str, Any], value: Any) -> float:
    if isinstance(value, dict) and "Ref" in value:
        return float(template["Parameters"][value["Ref"]]["Default"])
    return float(value)


def test_temu_request_budgets_stay_under_the_app_limit(template: dict[str, Any]) -> None:
    """Temu's 20 req/s is per app: every consumer's workers x rate, plus admin/OAuth, fit in it."""
    globals_env = template["Globals"]["Function"]["Environment"]["Variables"]
    total = _default(template, globals_env["TEMU_RATE_LIMIT"])  # admin and OAuth
    temu_callers = 0
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        props = resource["Properties"]
        calls_temu = any(isinstance(p, dict) and p.get("AWSSecretsManagerGetSecretValuePolicy", {}).get("SecretArn")
                         == {"Ref": "TemuAppSecret"} for p in props.get("Policies", []))
        queues = [e["Properties"] for e in props.get("Events", {}).values() if e["Type"] == "SQS"]
        if not calls_temu or not queues:
            continue
        temu_callers += 1
        rate = props.get("Environment", {}).get("Variables", {}).get("TEMU_RATE_LIMIT")
        assert rate is not None, f"{logical_id} calls Temu but has no TEMU_RATE_LIMIT budget of its own"
        workers = _default(template, queues[0]["ScalingConfig"]["MaximumConcurrency"])
        total += workers * _default(template, rate)
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
