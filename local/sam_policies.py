"""Each function's IAM policies as SAM deploys them, printed as JSON (run by local/iam.py).

Runs in the translator's own virtual environment (`.venv-translator`: SAM's translator pins a
pydantic the runtime does not use) and imports nothing from the project but the template
loader. SAM's own translator expands the policy templates (`DynamoDBCrudPolicy`, ...) and the
inline statements into each function's role, exactly as `sam deploy` would; intrinsic
functions are left for the local stack to resolve against its own resources.

    .venv-translator/bin/python -m local.sam_policies template.yaml Stage=local
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from samtranslator.translator.transform import transform  # type: ignore[import-not-found]

from local.template import load_yaml


class _NoManagedPolicies:
    """The translator asks IAM for managed policy ARNs only to resolve names; none are used by name."""

    def load(self) -> dict[str, str]:
        return {}


def function_roles(template_path: Path, parameters: dict[str, str]) -> dict[str, dict[str, Any]]:
    """{function logical id: {"policies": [policy document], "managed": [policy ARN]}}."""
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")  # the translator needs one, any will do
    template = load_yaml(template_path)
    functions = [lid for lid, r in template["Resources"].items() if r["Type"] == "AWS::Serverless::Function"]
    for resource in template["Resources"].values():  # what `sam package` would have uploaded
        if resource["Type"] == "AWS::Serverless::Function":
            resource["Properties"]["CodeUri"] = "s3://local/code.zip"
        elif resource["Type"] == "AWS::Serverless::LayerVersion":
            resource["Properties"]["ContentUri"] = "s3://local/layer.zip"
    resources = transform(template, parameters, _NoManagedPolicies())["Resources"]
    roles: dict[str, dict[str, Any]] = {}
    for function in functions:
        role = resources[function]["Properties"]["Role"]
        if not (isinstance(role, dict) and "Fn::GetAtt" in role):
            raise SystemExit(f"{function}: a role given by ARN cannot be expanded locally")
        properties = resources[role["Fn::GetAtt"][0]]["Properties"]
        roles[function] = {"policies": [p["PolicyDocument"] for p in properties.get("Policies", [])],
                           "managed": list(properties.get("ManagedPolicyArns", []))}
    return roles


def main() -> None:
    path = Path(sys.argv[1])
    parameters = dict(arg.split("=", 1) for arg in sys.argv[2:])
    json.dump(function_roles(path, parameters), sys.stdout)


if __name__ == "__main__":
    main()
