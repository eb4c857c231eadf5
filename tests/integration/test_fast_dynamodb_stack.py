"""The local stack with DynamoDB on the fast benchmark engine (bench.engine: dynalite) and SQS and
Secrets Manager still on moto: tables, workers' PynamoDB and in-process PynamoDB all go there.

Needs node (>= 20); the first run installs the pinned engine with `npm ci --prefix bench`.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from pynamodb.attributes import UnicodeAttribute
from pynamodb.models import Model

from bench.engine import fast_dynamodb
from local.stack import LocalStack
from local.template import REGION

ROOT = Path(__file__).resolve().parents[2]
WHOLECELL = {"app_id": "fast-app", "app_secret": "fast-secret"}

pytestmark = pytest.mark.skipif(shutil.which("node") is None,
                                reason="node is not installed: the fast DynamoDB engine (dynalite) runs on node >= 20")


@pytest.fixture(scope="module")
def engine() -> Iterator[str]:
    with fast_dynamodb() as endpoint:
        yield endpoint


def client(service: str, endpoint: str) -> Any:
    """With the credentials the running stack gives this process (moto checks IAM)."""
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION,  # type: ignore[call-overload]
                        aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
                        aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"])


def test_dynamodb_goes_to_the_fast_engine_and_the_rest_stays_on_moto(engine: str,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_DYNAMODB", "TEMU_GATEWAY_URL", "WHOLECELL_API_URL"):
        monkeypatch.delenv(key, raising=False)
    with LocalStack(ROOT, api_port=0, dynamodb_endpoint=engine) as stack:
        assert stack.dynamodb_endpoint_url == engine != stack.endpoint_url
        fast, moto_dynamodb = client("dynamodb", engine), client("dynamodb", stack.endpoint_url)
        tables = {table.logical_id: table.name for table in stack.template.tables.values()}
        assert set(tables.values()) <= set(fast.list_tables()["TableNames"])
        assert moto_dynamodb.list_tables()["TableNames"] == []  # nothing of DynamoDB on moto
        for env in stack.environments.values():
            assert env["AWS_ENDPOINT_URL_DYNAMODB"] == engine and env["AWS_ENDPOINT_URL"] == stack.endpoint_url
        assert os.environ["AWS_ENDPOINT_URL_DYNAMODB"] == engine  # in-process code as well

        secrets = client("secretsmanager", stack.endpoint_url)
        before = len(secrets.list_secrets()["SecretList"])
        assert stack.wholecell is not None
        stack.wholecell.state.create_account(WHOLECELL["app_id"], WHOLECELL["app_secret"], skus=["SKU-1"])
        response = stack.http("POST", "/admin/connections",
                              json={"name": "Fast", "temu_region": "US", "wholecell": WHOLECELL})
        assert response.status_code == 201, response.text
        connection_id = response.json()["connection_id"]

        # the admin worker wrote the connection with PynamoDB: it is in the fast engine
        item_key = {"connection_id": {"S": connection_id}}
        assert "Item" in fast.get_item(TableName=tables["ConnectionsTable"], Key=item_key)
        assert "Item" in stack.client("dynamodb").get_item(TableName=tables["ConnectionsTable"], Key=item_key)

        class Probe(Model):  # in-process PynamoDB, no host: routed by AWS_ENDPOINT_URL_DYNAMODB
            class Meta:
                table_name = tables["ConnectionsTable"]
                region = REGION

            connection_id = UnicodeAttribute(hash_key=True)

        assert Probe.get(connection_id).connection_id == connection_id
        assert len(secrets.list_secrets()["SecretList"]) > before  # its secrets went to moto
    assert "AWS_ENDPOINT_URL_DYNAMODB" not in os.environ  # stopping restores the environment


def test_the_engine_can_be_named_by_environment(engine: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """`AWS_ENDPOINT_URL_DYNAMODB=<engine> make local` works too: the variable wins over moto for DynamoDB."""
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL_DYNAMODB", engine)
    with LocalStack(ROOT, api_port=0) as stack:  # the tables exist already (previous test): kept
        assert stack.dynamodb_endpoint_url == engine != stack.endpoint_url
        assert all(env["AWS_ENDPOINT_URL_DYNAMODB"] == engine for env in stack.environments.values())
        assert client("dynamodb", stack.endpoint_url).list_tables()["TableNames"] == []
    assert os.environ["AWS_ENDPOINT_URL_DYNAMODB"] == engine  # restored to what it was
