"""What the local stack needs from template.yaml, read from template.yaml itself.

There is no Docker on the machines this project is developed on, so `sam local` cannot run;
the local stack reads the SAM template instead, so functions, environment, events, tables,
queues and secrets have one source of truth. This module parses it (CloudFormation short
tags included), merges `Globals.Function` into every function the way SAM does, and
resolves intrinsic functions in environment values against local resource identifiers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import yaml

REGION = "us-east-1"
ACCOUNT_ID = "123456789012"  # moto's default account
PARTITION = "aws"
PSEUDO_PARAMETERS = {
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT_ID,
    "AWS::Partition": PARTITION,
    "AWS::StackName": "local",
    "AWS::URLSuffix": "amazonaws.com",
}


class TemplateError(ValueError):
    """The template has something the local stack cannot understand or resolve."""


# ------------------------------------------------------------------------------- YAML


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that turns short tags (`!Ref X`) into their long form (`{"Ref": "X"}`)."""


def _construct_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    if suffix == "Condition":
        return {"Condition": value}
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_yaml(path: Path) -> dict[str, Any]:
    """Parse a CloudFormation/SAM template; intrinsics come back in long form, and the
    `AWS::LanguageExtensions` transform's static parts are applied as CloudFormation applies
    them before SAM's transform: `Fn::ForEach` expanded, `Fn::FindInMap` on literal keys
    resolved (tests/unit/test_template.py compares the result with cfn-lint's own expansion)."""
    with path.open(encoding="utf-8") as fh:
        data = yaml.load(fh, Loader=_CfnLoader)  # a SafeLoader subclass
    if not isinstance(data, dict):
        raise TemplateError(f"{path} is not a template")
    return language_extensions(data)


_FOR_EACH = "Fn::ForEach::"


def language_extensions(template: dict[str, Any]) -> dict[str, Any]:
    """The template with `Fn::ForEach` loops expanded and literal `Fn::FindInMap`s resolved."""
    transforms = template.get("Transform")
    if "AWS::LanguageExtensions" not in (transforms if isinstance(transforms, list) else [transforms]):
        return template
    mappings = template.get("Mappings") or {}
    taken = set(template.get("Parameters") or {}) | set(template.get("Resources") or {})
    for section in ("Resources", "Outputs", "Conditions"):
        for key in template.get(section) or {}:
            if key.startswith(_FOR_EACH) and key.removeprefix(_FOR_EACH) in taken:
                raise TemplateError(f"{key}: a loop's name may not be a parameter's or a resource's")
    expanded = dict(template)
    for section in ("Resources", "Outputs", "Conditions"):
        if isinstance(template.get(section), dict):
            expanded[section] = _resolve_static(_expand_for_each(template[section]), mappings)
    return expanded


def _expand_for_each(section: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in section.items():
        if not key.startswith(_FOR_EACH):
            out[key] = value
            continue
        identifier, collection, fragment = value
        if not (isinstance(collection, list) and all(isinstance(v, str) for v in collection)):
            raise TemplateError(f"{key}: only a literal list of strings is supported locally")
        for item in collection:
            for name, body in _expand_for_each(_substitute(fragment, identifier, item)).items():
                if name in out:
                    raise TemplateError(f"{key}: {name} defined twice")
                out[name] = body
    return out


def _substitute(value: Any, identifier: str, item: str) -> Any:
    """`${id}` and `&{id}` (alphanumerics only) in keys and strings; `{"Ref": id}` is the item."""
    if isinstance(value, str):
        alnum = re.sub(r"[^A-Za-z0-9]", "", item)
        return value.replace("${" + identifier + "}", item).replace("&{" + identifier + "}", alnum)
    if isinstance(value, list):
        return [_substitute(v, identifier, item) for v in value]
    if isinstance(value, dict):
        if value == {"Ref": identifier}:
            return item
        return {_substitute(k, identifier, item): _substitute(v, identifier, item) for k, v in value.items()}
    return value


def _literal_sub(value: Any) -> Any:
    """`{"Fn::Sub": "Name"}` with nothing left to substitute is "Name" (the loops' way to name a resource)."""
    if isinstance(value, dict) and set(value) == {"Fn::Sub"} and isinstance(value["Fn::Sub"], str) \
            and "${" not in value["Fn::Sub"]:
        return value["Fn::Sub"]
    return value


def _resolve_static(value: Any, mappings: Mapping[str, Any]) -> Any:
    """Literal `Fn::FindInMap`s resolved; `Ref`/`Fn::GetAtt` of a literal `Fn::Sub` made plain."""
    if isinstance(value, list):
        return [_resolve_static(v, mappings) for v in value]
    if not isinstance(value, dict):
        return value
    value = {k: _resolve_static(v, mappings) for k, v in value.items()}
    if set(value) == {"Ref"}:
        return {"Ref": _literal_sub(value["Ref"])}
    if set(value) == {"Fn::GetAtt"} and isinstance(value["Fn::GetAtt"], list):
        return {"Fn::GetAtt": [_literal_sub(v) for v in value["Fn::GetAtt"]]}
    if set(value) == {"Fn::FindInMap"}:
        args = value["Fn::FindInMap"]
        if all(isinstance(a, str) for a in args[:3]):
            try:
                return mappings[args[0]][args[1]][args[2]]
            except KeyError:
                raise TemplateError(f"Fn::FindInMap {args[:3]}: no such entry") from None
    return value


# ------------------------------------------------------------------------------- model


@dataclass(frozen=True)
class HttpRoute:
    event: str
    method: str  # upper case; ANY matches every method
    path: str  # "/a/{id}", "/admin/{proxy+}", or "$default"
    authorizer: str | None = None  # e.g. AWS_IAM

    @property
    def route_key(self) -> str:
        return "$default" if self.path == "$default" else f"{self.method} {self.path}"


@dataclass(frozen=True)
class SqsMapping:
    event: str
    queue: str  # logical id of the AWS::SQS::Queue
    batch_size: int = 10
    report_batch_item_failures: bool = False
    maximum_concurrency: int | None = None


@dataclass(frozen=True)
class Schedule:
    event: str
    expression: str  # parameters resolved, e.g. "rate(5 minutes)"
    input: Any = None  # the parsed Input JSON, the event the function receives
    enabled: bool = True  # State: DISABLED schedules do not tick (they can still be fired by hand)


@dataclass(frozen=True)
class Function:
    logical_id: str
    code_uri: str
    handler: str
    runtime: str
    timeout: int
    memory_size: int
    environment: dict[str, Any]  # unresolved; see Resolver.environment
    http_routes: list[HttpRoute] = field(default_factory=list)
    sqs_mappings: list[SqsMapping] = field(default_factory=list)
    schedules: list[Schedule] = field(default_factory=list)


@dataclass(frozen=True)
class Table:
    logical_id: str
    key_schema: list[dict[str, str]]
    attribute_definitions: list[dict[str, str]]
    global_secondary_indexes: list[dict[str, Any]]
    ttl_attribute: str | None

    @property
    def name(self) -> str:
        return self.logical_id


@dataclass(frozen=True)
class Queue:
    logical_id: str
    visibility_timeout: int | None
    dead_letter_queue: str | None  # logical id
    max_receive_count: int | None

    @property
    def name(self) -> str:
        return self.logical_id


@dataclass(frozen=True)
class Secret:
    logical_id: str
    name: str
    secret_string: str | None
    generate_template: str | None  # GenerateSecretString.SecretStringTemplate
    generate_key: str | None  # GenerateSecretString.GenerateStringKey


@dataclass(frozen=True)
class Template:
    path: Path
    parameters: dict[str, str]
    conditions: dict[str, Any]
    resources: dict[str, dict[str, Any]]  # raw, intrinsics in long form
    functions: dict[str, Function]
    tables: dict[str, Table]
    queues: dict[str, Queue]
    secrets: dict[str, Secret]

    @property
    def root(self) -> Path:
        return self.path.parent

    def resolver(self, queue_urls: Mapping[str, str], secret_arns: Mapping[str, str]) -> Resolver:
        """A resolver that maps `!Ref`/`!GetAtt` of this template's resources to local values."""
        refs: dict[str, str] = {lid: lid for lid in self.resources}  # SAM local's rule for the rest
        refs.update({t.logical_id: t.name for t in self.tables.values()})
        refs.update(queue_urls)
        refs.update(secret_arns)
        attributes: dict[tuple[str, str], str] = {}
        for q in self.queues.values():
            attributes[(q.logical_id, "QueueName")] = q.name
            attributes[(q.logical_id, "QueueUrl")] = refs[q.logical_id]
            attributes[(q.logical_id, "Arn")] = queue_arn(q.name)
        for t in self.tables.values():
            attributes[(t.logical_id, "Arn")] = f"arn:{PARTITION}:dynamodb:{REGION}:{ACCOUNT_ID}:table/{t.name}"
        for s in self.secrets.values():
            attributes[(s.logical_id, "Id")] = refs[s.logical_id]
        return Resolver(self.parameters, self.conditions, refs, attributes)


def queue_arn(name: str) -> str:
    return f"arn:{PARTITION}:sqs:{REGION}:{ACCOUNT_ID}:{name}"


# ------------------------------------------------------------------------------- resolver


class _NoValue:
    """`!Ref AWS::NoValue`: the property is left out."""


NO_VALUE = _NoValue()


@dataclass(frozen=True)
class Resolver:
    """Evaluates intrinsic functions to local values (strings for environment variables)."""

    parameters: Mapping[str, str]
    conditions: Mapping[str, Any]
    refs: Mapping[str, str]
    attributes: Mapping[tuple[str, str], str] = field(default_factory=dict)

    def resolve(self, value: Any) -> str:
        result = self.evaluate(value)
        if isinstance(result, bool):
            return "true" if result else "false"
        if isinstance(result, str | int | float):
            return str(result)
        raise TemplateError(f"{value!r} does not resolve to a string")

    def integer(self, value: Any) -> int:
        return int(self.resolve(value))

    def environment(self, variables: Mapping[str, Any]) -> dict[str, str]:
        return {k: self.resolve(v) for k, v in variables.items() if self.evaluate(v) is not NO_VALUE}

    def evaluate(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.evaluate(v) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) != 1:
            return {k: self.evaluate(v) for k, v in value.items()}
        (name, arg), = value.items()
        handler = self._intrinsics.get(name)
        return handler(self, arg) if handler else {name: self.evaluate(arg)}

    def condition(self, name: str) -> bool:
        if name not in self.conditions:
            raise TemplateError(f"unknown condition {name}")
        return bool(self.evaluate(self.conditions[name]))

    def _ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        for source in (self.parameters, PSEUDO_PARAMETERS, self.refs):
            if name in source:
                return source[name]
        raise TemplateError(f"!Ref {name}: no such parameter or resource")

    def _get_att(self, arg: Any) -> str:
        logical_id, attribute = self.evaluate(arg)
        try:
            return self.attributes[(logical_id, attribute)]
        except KeyError:
            raise TemplateError(f"!GetAtt {logical_id}.{attribute} is not available locally") from None

    def _sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])
        values = {k: self.resolve(v) for k, v in variables.items()}

        def replace(match: re.Match[str]) -> str:
            token = match.group(1)
            if token.startswith("!"):
                return "${" + token[1:] + "}"
            if token in values:
                return values[token]
            if "." in token and token not in self.parameters:
                return self._get_att(token.split(".", 1))
            return self.resolve({"Ref": token})

        return re.sub(r"\$\{([^}]+)\}", replace, text)

    def _if(self, arg: Any) -> Any:
        name, when_true, when_false = arg
        return self.evaluate(when_true if self.condition(name) else when_false)

    _intrinsics: ClassVar[Mapping[str, Callable[[Resolver, Any], Any]]] = {
        "Ref": lambda r, a: r._ref(r.resolve(a)),
        "Fn::GetAtt": lambda r, a: r._get_att(a),
        "Fn::Sub": lambda r, a: r._sub(a),
        "Fn::Join": lambda r, a: r.resolve(a[0]).join(r.resolve(v) for v in r.evaluate(a[1])),
        "Fn::Select": lambda r, a: r.evaluate(a[1])[int(r.resolve(a[0]))],
        "Fn::Split": lambda r, a: r.resolve(a[1]).split(r.resolve(a[0])),
        "Fn::If": lambda r, a: r._if(a),
        "Fn::Equals": lambda r, a: r.resolve(a[0]) == r.resolve(a[1]),
        "Fn::Not": lambda r, a: not r.evaluate(a[0]),
        "Fn::And": lambda r, a: all(r.evaluate(v) for v in a),
        "Fn::Or": lambda r, a: any(r.evaluate(v) for v in a),
        "Condition": lambda r, a: r.condition(a),
    }


# ------------------------------------------------------------------------------- parsing


def merge_globals(globals_: Any, local: Any) -> Any:
    """SAM's Globals rule: maps merge, lists concatenate (globals first), the function's scalars win."""
    if isinstance(globals_, dict) and isinstance(local, dict) and not _is_intrinsic(local):
        merged = dict(globals_)
        for key, value in local.items():
            merged[key] = merge_globals(globals_[key], value) if key in globals_ else value
        return merged
    if isinstance(globals_, list) and isinstance(local, list):
        return globals_ + local
    return local


def _is_intrinsic(value: dict[str, Any]) -> bool:
    key = next(iter(value), "")
    return len(value) == 1 and (key in ("Ref", "Condition") or key.startswith("Fn::"))


def _logical_id(value: Any, what: str) -> str:
    """`!GetAtt X.Arn` or `!Ref X` → "X"."""
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return str(value["Fn::GetAtt"][0])
    if isinstance(value, dict) and "Ref" in value:
        return str(value["Ref"])
    raise TemplateError(f"{what}: expected !GetAtt X.Arn or !Ref X, got {value!r}")


def _parse_function(logical_id: str, props: dict[str, Any], base: Resolver) -> Function:
    routes: list[HttpRoute] = []
    mappings: list[SqsMapping] = []
    schedules: list[Schedule] = []
    for name, event in (props.get("Events") or {}).items():
        kind, ep = event.get("Type"), event.get("Properties") or {}
        if kind == "HttpApi":
            auth = ep.get("Auth") or {}
            routes.append(HttpRoute(name, str(ep.get("Method", "ANY")).upper(), ep.get("Path", "$default"),
                                    auth.get("Authorizer")))
        elif kind == "SQS":
            scaling = ep.get("ScalingConfig") or {}
            mappings.append(SqsMapping(
                name, _logical_id(ep["Queue"], f"{logical_id}.{name}.Queue"), base.integer(ep.get("BatchSize", 10)),
                "ReportBatchItemFailures" in (ep.get("FunctionResponseTypes") or []),
                base.integer(scaling["MaximumConcurrency"]) if "MaximumConcurrency" in scaling else None))
        elif kind in ("ScheduleV2", "Schedule"):
            expression = base.resolve(ep.get("ScheduleExpression", ep.get("Schedule")))
            raw_input = ep.get("Input")
            enabled = base.resolve(ep.get("State", "ENABLED")) != "DISABLED"
            schedules.append(Schedule(name, expression, json.loads(base.resolve(raw_input)) if raw_input else None,
                                      enabled))
    return Function(
        logical_id=logical_id,
        code_uri=str(props.get("CodeUri", ".")),
        handler=str(props["Handler"]),
        runtime=str(props.get("Runtime", "")),
        timeout=base.integer(props.get("Timeout", 3)),
        memory_size=base.integer(props.get("MemorySize", 128)),
        environment=dict((props.get("Environment") or {}).get("Variables") or {}),
        http_routes=routes,
        sqs_mappings=mappings,
        schedules=schedules,
    )


def _parse_table(logical_id: str, props: dict[str, Any]) -> Table:
    ttl = props.get("TimeToLiveSpecification") or {}
    return Table(
        logical_id,
        list(props["KeySchema"]),
        list(props["AttributeDefinitions"]),
        list(props.get("GlobalSecondaryIndexes") or []),
        ttl["AttributeName"] if ttl.get("Enabled") in (True, "true") else None,
    )


def _parse_queue(logical_id: str, props: dict[str, Any], base: Resolver) -> Queue:
    redrive = props.get("RedrivePolicy") or {}
    return Queue(
        logical_id,
        base.integer(props["VisibilityTimeout"]) if "VisibilityTimeout" in props else None,
        _logical_id(redrive["deadLetterTargetArn"], f"{logical_id}.RedrivePolicy") if redrive else None,
        base.integer(redrive["maxReceiveCount"]) if redrive else None,
    )


def _parse_secret(logical_id: str, props: dict[str, Any], base: Resolver) -> Secret:
    generate = props.get("GenerateSecretString") or {}
    return Secret(
        logical_id,
        base.resolve(props["Name"]) if "Name" in props else logical_id,
        base.resolve(props["SecretString"]) if "SecretString" in props else None,
        generate.get("SecretStringTemplate") if generate else None,
        generate.get("GenerateStringKey") if generate else None,
    )


def load_template(path: Path, parameter_overrides: Mapping[str, str] | None = None) -> Template:
    """Read a SAM template into the model the local stack runs from."""
    raw = load_yaml(path)
    declared = raw.get("Parameters") or {}
    overrides = dict(parameter_overrides or {})
    unknown = set(overrides) - set(declared)
    if unknown:
        raise TemplateError(f"unknown parameters: {sorted(unknown)}")
    parameters = {
        name: str(overrides.get(name, spec.get("Default", ""))) for name, spec in declared.items()
    }
    resources: dict[str, dict[str, Any]] = raw.get("Resources") or {}
    conditions: dict[str, Any] = raw.get("Conditions") or {}
    # Event settings, sizes and secret names may only reference parameters and pseudo parameters.
    base = Resolver(parameters, conditions, {})
    function_globals = (raw.get("Globals") or {}).get("Function") or {}
    functions, tables, queues, secrets = {}, {}, {}, {}
    for logical_id, resource in resources.items():
        kind, props = resource.get("Type"), resource.get("Properties") or {}
        if kind == "AWS::Serverless::Function":
            functions[logical_id] = _parse_function(logical_id, merge_globals(function_globals, props), base)
        elif kind == "AWS::DynamoDB::Table":
            tables[logical_id] = _parse_table(logical_id, props)
        elif kind == "AWS::SQS::Queue":
            queues[logical_id] = _parse_queue(logical_id, props, base)
        elif kind == "AWS::SecretsManager::Secret":
            secrets[logical_id] = _parse_secret(logical_id, props, base)
    return Template(path, parameters, conditions, resources, functions, tables, queues, secrets)
