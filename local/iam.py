"""IAM enforced on the local stack, as AWS enforces it on the deployed one.

Every function runs with credentials that carry exactly the policies `template.yaml` gives its
role: SAM's own translator expands the policy templates and inline statements
(`local/sam_policies.py`, in `.venv-translator`), the local stack resolves their intrinsic
functions against its own tables, queues and secrets, and moto's IAM then checks each call.
A permission missing from the template fails locally with AccessDenied, as it would in AWS.
The harness itself (the runner that polls queues, tests, the demo) uses an administrator.

moto checks an action against the policies but, for DynamoDB and Secrets Manager, not the
resource: it asks whether the action is allowed on "*". `install_resource_checks` gives
those two services the request's resource ARN (the table, the secret), so a policy for one
table does not open another. The managed policies SAM attaches (logs, X-Ray, the SQS event
source) serve calls the functions' code does not make locally, so they are left out.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from local.template import ACCOUNT_ID, PARTITION, REGION, Resolver

ROOT = Path(__file__).resolve().parents[1]
TRANSLATOR_PYTHON = ROOT / ".venv-translator" / "bin" / "python"
ADMIN_POLICY = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}


class IamUnavailableError(RuntimeError):
    """The translator's environment is missing (`make install` creates it)."""


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str

    def environment(self) -> dict[str, str]:
        return {"AWS_ACCESS_KEY_ID": self.access_key_id, "AWS_SECRET_ACCESS_KEY": self.secret_access_key}


def function_policies(template_path: Path, parameters: Mapping[str, str]) -> dict[str, list[dict[str, Any]]]:
    """Each function's inline policy documents, intrinsic functions unresolved (SAM's translation)."""
    if not TRANSLATOR_PYTHON.exists():
        raise IamUnavailableError(f"{TRANSLATOR_PYTHON} is missing: run `make install` (IAM is enforced locally "
                                  "with SAM's own policy translation)")
    command = [str(TRANSLATOR_PYTHON), "-m", "local.sam_policies", str(template_path),
               *(f"{k}={v}" for k, v in parameters.items())]
    env = {**os.environ, "PYTHONPATH": str(ROOT), "AWS_DEFAULT_REGION": REGION}
    done = subprocess.run(command, capture_output=True, text=True, check=False, env=env, cwd=ROOT, timeout=120)
    if done.returncode != 0:
        raise IamUnavailableError(f"SAM's translator failed on {template_path}: {done.stderr[-2000:]}")
    roles: dict[str, dict[str, Any]] = json.loads(done.stdout)
    return {function: role["policies"] for function, role in roles.items()}


def _iam(endpoint: str) -> Any:
    return boto3.client("iam", endpoint_url=endpoint, region_name=REGION,
                        aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")


def _user(iam: Any, name: str, documents: list[dict[str, Any]]) -> Credentials:
    iam.create_user(UserName=name)
    for number, document in enumerate(documents):
        iam.put_user_policy(UserName=name, PolicyName=f"policy{number}", PolicyDocument=json.dumps(document))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return Credentials(key["AccessKeyId"], key["SecretAccessKey"])


def create_identities(endpoint: str, policies: Mapping[str, list[dict[str, Any]]],
                      resolver: Resolver) -> tuple[Credentials, dict[str, Credentials]]:
    """An administrator for the harness and one user per function with its resolved policies."""
    iam = _iam(endpoint)
    admin = _user(iam, "local-stack-admin", [ADMIN_POLICY])
    functions = {function: _user(iam, f"lambda-{function}",
                                 [{"Version": "2012-10-17", **resolver.evaluate(d)} for d in documents])
                 for function, documents in policies.items()}
    return admin, functions


# --- moto: resources for the services whose calls it checks against "*" ----------------------


def _table_arn(name: str) -> str:
    return f"arn:{PARTITION}:dynamodb:{REGION}:{ACCOUNT_ID}:table/{name}"


def _body(handler: Any) -> dict[str, Any]:
    """The request's parameters (moto's DynamoDB handler has parsed them already)."""
    body = handler.body
    if isinstance(body, dict):
        return body
    try:
        parsed = json.loads(body or "{}")
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _dynamodb_resource(handler: Any) -> str:
    """The table a DynamoDB request touches (its index counts as the table's `/index/<name>`)."""
    body = _body(handler)
    tables = set(body.get("RequestItems") or {})
    if body.get("TableName"):
        tables.add(body["TableName"])
    if len(tables) != 1:
        return "*"  # none (ListTables) or several: only a policy on "*" allows it
    table = tables.pop()
    index = body.get("IndexName")
    return _table_arn(table) + (f"/index/{index}" if index else "")


def _secret_resource(handler: Any) -> str:
    """The secret a Secrets Manager request touches, as its ARN (a new secret: its name's ARN prefix)."""
    body = _body(handler)
    secret_id = body.get("SecretId") or body.get("Name")
    if not secret_id:
        return "*"
    if str(secret_id).startswith("arn:"):
        return str(secret_id)
    try:
        arn: str = handler.backend.describe_secret(secret_id).arn
        return arn
    except Exception:
        return f"arn:{PARTITION}:secretsmanager:{REGION}:{ACCOUNT_ID}:secret:{secret_id}"


def _patch(cls: Any, resource: Callable[[Any], str]) -> Callable[[], None]:
    had = "_determine_resource" in cls.__dict__
    previous = cls.__dict__.get("_determine_resource")
    cls._determine_resource = resource

    def undo() -> None:
        if had:
            cls._determine_resource = previous
        else:
            del cls._determine_resource

    return undo


@contextmanager
def enforced() -> Iterator[None]:
    """moto checks every request of this process's moto server against IAM, resources included,
    until the block ends (moto's settings are process-wide: in-process mocks get them back)."""
    from moto import settings  # noqa: PLC0415 - moto only where the local stack runs it
    from moto.dynamodb.responses import DynamoHandler  # noqa: PLC0415
    from moto.secretsmanager.responses import SecretsManagerResponse  # noqa: PLC0415

    undo = [_patch(DynamoHandler, _dynamodb_resource), _patch(SecretsManagerResponse, _secret_resource)]
    previous = settings.INITIAL_NO_AUTH_ACTION_COUNT
    settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
    try:
        yield
    finally:
        settings.INITIAL_NO_AUTH_ACTION_COUNT = previous
        for step in undo:
            step()


@contextmanager
def bootstrapping() -> Iterator[None]:
    """No checks while a stack creates its resources and identities (another local stack of this
    process may be enforcing: moto's backends and settings are shared by the whole process)."""
    from moto import settings  # noqa: PLC0415

    previous = settings.INITIAL_NO_AUTH_ACTION_COUNT
    settings.INITIAL_NO_AUTH_ACTION_COUNT = float("inf")
    try:
        yield
    finally:
        settings.INITIAL_NO_AUTH_ACTION_COUNT = previous


if __name__ == "__main__":  # print each function's expanded policies
    print(json.dumps(function_policies(Path(sys.argv[1]), dict(a.split("=", 1) for a in sys.argv[2:])), indent=2))
