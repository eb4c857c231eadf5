"""IAM on the local stack is AWS's: each function calls moto with exactly the policies its role
has in template.yaml (SAM's own expansion), so a missing permission fails here as in AWS."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from wholecell_temu.store.connections import ConnectionRepository

from local.iam import Credentials
from local.stack import LocalStack
from local.template import REGION
from tests.e2e.helpers import bind_local_tables, run_import

ROOT = Path(__file__).resolve().parents[2]
WHOLECELL = {"app_id": "iam-app", "app_secret": "iam-secret"}


def client(stack: LocalStack, service: str, credentials: Credentials) -> Any:
    return boto3.client(service, endpoint_url=stack.endpoint_url, region_name=REGION,  # type: ignore[call-overload]
                        aws_access_key_id=credentials.access_key_id,
                        aws_secret_access_key=credentials.secret_access_key)


def denied(call: Any, *args: Any, **kwargs: Any) -> bool:
    try:
        call(*args, **kwargs)
    except ClientError as exc:
        return "AccessDenied" in str(exc) or "not authorized" in str(exc)
    return False


def test_each_function_has_only_its_roles_permissions(stack: LocalStack) -> None:
    creds = stack.function_credentials
    assert set(creds) == set(stack.template.functions)
    app_secret = stack.secret_arns["TemuAppSecret"]
    assert denied(client(stack, "secretsmanager", creds["ShipmentWebhookFunction"]).get_secret_value,
                  SecretId=app_secret)  # the webhook never needs Temu's app secret
    assert client(stack, "secretsmanager", creds["ShipmentPushFunction"]).get_secret_value(
        SecretId=app_secret)["SecretString"]
    orders = stack.template.tables["OrdersTable"].name
    key = {"connection_id": {"S": "c"}, "parent_order_sn": {"S": "PO-1"}}
    assert denied(client(stack, "dynamodb", creds["ShipmentWebhookFunction"]).put_item, TableName=orders,
                  Item=key)  # it reads connections, nothing else
    assert denied(client(stack, "dynamodb", creds["AdminFunction"]).put_item, TableName=orders, Item=key)
    client(stack, "dynamodb", creds["AdminFunction"]).get_item(TableName=orders, Key=key)  # read-only there
    connections = stack.template.tables["ConnectionsTable"].name
    oauth = client(stack, "dynamodb", creds["OauthFunction"])  # the item it authorizes, nothing more
    oauth.get_item(TableName=connections, Key={"connection_id": {"S": "c"}})
    assert denied(oauth.scan, TableName=connections)
    assert denied(oauth.put_item, TableName=connections, Item={"connection_id": {"S": "c"}})
    assert denied(oauth.delete_item, TableName=connections, Key={"connection_id": {"S": "c"}})
    installs = stack.template.tables["AuthorizationsTable"].name  # app-store installs: OAuth only records them
    oauth.put_item(TableName=installs, Item={"authorization_id": {"S": "iam-probe"}})
    assert denied(oauth.get_item, TableName=installs, Key={"authorization_id": {"S": "iam-probe"}})
    assert denied(oauth.scan, TableName=installs)
    assert denied(oauth.delete_item, TableName=installs, Key={"authorization_id": {"S": "iam-probe"}})
    assert denied(client(stack, "dynamodb", creds["ShipmentWebhookFunction"]).put_item, TableName=installs,
                  Item={"authorization_id": {"S": "iam-probe"}})
    client(stack, "dynamodb", creds["AdminFunction"]).delete_item(TableName=installs,
                                                                  Key={"authorization_id": {"S": "iam-probe"}})
    inventory = stack.template.tables["InventoryTable"].name
    client(stack, "dynamodb", creds["ListingImportFunction"]).query(  # the catalog the import caches
        TableName=inventory, KeyConditionExpression="connection_id = :c",
        ExpressionAttributeValues={":c": {"S": "c"}})


def test_one_function_cannot_read_another_functions_secrets(stack: LocalStack) -> None:
    """A connection's one secret holds its WholeCell credentials and its Temu token; the webhook
    signing secrets are derived from the stack's webhook master key. The webhook reads the master
    key and nothing else; the functions that call WholeCell or Temu read the connection secret;
    only the admin API and the OAuth callback write it; the OAuth state key is read by the OAuth function
    and the admin API (which signs the authorize links); only the admin API deletes a connection's secret."""
    assert stack.temu is not None and stack.wholecell is not None
    stack.wholecell.state.create_account("iam-secrets-app", "iam-secrets-secret", skus=["SKU-1"])
    shop = stack.temu.state.create_shop(region="US")
    connection_id = stack.connect_shop(shop["mallId"], {"app_id": "iam-secrets-app",
                                                        "app_secret": "iam-secrets-secret"})
    bind_local_tables()
    connection = ConnectionRepository().get(connection_id)
    assert connection is not None and connection.temu_mall_id == shop["mallId"]
    kinds = {"connection": connection.credentials_secret_arn, "webhook key": stack.secret_arns["WebhookKeySecret"],
             "state key": stack.secret_arns["InternalSecret"]}
    readable = {
        "ShipmentWebhookFunction": {"webhook key"},
        "OauthFunction": {"connection", "state key"},
        "AdminFunction": {"connection", "webhook key", "state key"},  # it signs the authorize links
        "ShipmentReconcileFunction": {"connection"},
        "ShipmentPushFunction": {"connection"},
        "OrderImportFunction": {"connection"},
        "QuantitySyncFunction": {"connection"},
        "ListingImportFunction": {"connection"},
        "AddressBackfillFunction": {"connection"},
    }
    assert set(readable) == set(stack.template.functions)
    writers = {"AdminFunction", "OauthFunction"}
    admin = stack.client("secretsmanager")
    current = admin.get_secret_value(SecretId=connection.credentials_secret_arn,
                                     VersionId=connection.credentials_version)["SecretString"]
    for function, allowed in readable.items():
        secrets = client(stack, "secretsmanager", stack.function_credentials[function])
        for kind, arn in kinds.items():
            assert denied(secrets.get_secret_value, SecretId=arn) == (kind not in allowed), (function, kind)
        # the version the item names, too (a reader's call): the same answer
        assert denied(secrets.get_secret_value, SecretId=connection.credentials_secret_arn,
                      VersionId=connection.credentials_version) == ("connection" not in allowed), function
        # writing the connection secret (the same value: a version nobody names)
        assert denied(secrets.put_secret_value, SecretId=connection.credentials_secret_arn,
                      SecretString=current) == (function not in writers), function
        assert denied(secrets.put_secret_value, SecretId=stack.secret_arns["WebhookKeySecret"],
                      SecretString="{}"), function  # nobody rewrites the master key
        if function != "AdminFunction":  # the admin API deletes a connection's secret (tried below, elsewhere)
            assert denied(secrets.delete_secret, SecretId=connection.credentials_secret_arn), function
        assert denied(secrets.delete_secret, SecretId=f"wholecell-temu/{stack.template.parameters['Stage']}"
                      f"/connections/iam-probe-absent") == (function != "AdminFunction"), function
        assert denied(secrets.delete_secret, SecretId=stack.secret_arns["WebhookKeySecret"]), function
    # another connection's secret name is under the same prefix, and a new one only the admin API creates
    for function in readable:
        secrets = client(stack, "secretsmanager", stack.function_credentials[function])
        assert denied(secrets.create_secret, Name=f"wholecell-temu/{stack.template.parameters['Stage']}"
                      f"/connections/iam-probe-{function}", SecretString="{}") == (function != "AdminFunction")
    # an app-store install's token: only the OAuth function creates one, only the admin API reads or deletes it
    installs = f"wholecell-temu/{stack.template.parameters['Stage']}/authorizations"
    install = client(stack, "secretsmanager", stack.function_credentials["OauthFunction"]).create_secret(
        Name=f"{installs}/iam-probe", SecretString='{"temu": {"access_token": "t"}}')["ARN"]
    for function in readable:
        secrets = client(stack, "secretsmanager", stack.function_credentials[function])
        assert denied(secrets.get_secret_value, SecretId=install) == (function != "AdminFunction"), function
        assert denied(secrets.create_secret, Name=f"{installs}/iam-probe-{function}",
                      SecretString="{}") == (function != "OauthFunction"), function
        assert denied(secrets.delete_secret, SecretId=f"{installs}/iam-probe-absent") == (
            function != "AdminFunction"), function
    stack.client("secretsmanager").delete_secret(SecretId=install, ForceDeleteWithoutRecovery=True)
    # nothing a writer did moved what readers read
    after = ConnectionRepository().get(connection_id)
    assert after is not None and after.credentials_version == connection.credentials_version


@pytest.fixture
def template_without_inventory(tmp_path: Path) -> Iterator[Path]:
    """A copy of the project whose template drops the listing import's Inventory permission."""
    for name in ("functions", "layers"):
        (tmp_path / name).symlink_to(ROOT / name)
    text = (ROOT / "template.yaml").read_text()
    line = ("        - DynamoDBCrudPolicy: {TableName: !Ref InventoryTable}"
            "  # the WholeCell SKU catalog the import caches\n")
    assert text.count(line) == 1
    (tmp_path / "template.yaml").write_text(text.replace(line, ""))
    yield tmp_path / "template.yaml"


def test_a_permission_missing_from_the_template_fails_its_flow(template_without_inventory: Path) -> None:
    with pytest.MonkeyPatch.context() as mp:
        for key in ("AWS_ENDPOINT_URL", "TEMU_GATEWAY_URL", "TEMU_AUTHORIZE_URL", "WHOLECELL_API_URL"):
            mp.delenv(key, raising=False)
        with LocalStack(template_without_inventory.parent, template_without_inventory, api_port=0) as local:
            assert local.temu is not None and local.wholecell is not None
            local.wholecell.state.create_account(WHOLECELL["app_id"], WHOLECELL["app_secret"], skus=["SKU-1"])
            shop = local.temu.state.create_shop(region="US", goods=[
                {"goodsName": "Phone", "skus": [{"skuSn": "SKU-1", "stock": 1, "status": "active"}]}])
            connection_id = local.connect_shop(shop["mallId"], WHOLECELL)
            run = run_import(local, connection_id)
    assert run["outcome"] == "failed"
    assert "not authorized to perform: dynamodb:" in run["reason"] and "lambda-ListingImportFunction" in run["reason"]
    assert os.environ.get("AWS_ENDPOINT_URL") != local.endpoint_url  # the stack gave the environment back
