"""Shared budgets on the local stack (SharedBudgets=enabled): every function that calls Temu or
WholeCell books its requests in BudgetsTable with exactly its template role's permissions
(the stack enforces IAM), and the flows work as before."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from local.stack import LocalStack
from tests.e2e.conftest import ROOT
from tests.e2e.helpers import connect, run_import, run_job
from tests.e2e.test_iam import client, denied

APP = {"app_id": "budget-app", "app_secret": "budget-secret"}


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack(ROOT, api_port=0, parameters={"SharedBudgets": "enabled", "TemuAppRateLimit": "20"}) as running:
        yield running


def budgets(stack: LocalStack) -> dict[str, dict[str, Any]]:
    items = stack.client("dynamodb").scan(TableName="BudgetsTable")["Items"]
    return {item["budget"]["S"]: item for item in items}


def test_every_job_books_its_requests_on_the_shared_budgets(stack: LocalStack) -> None:
    assert stack.temu is not None and stack.wholecell is not None
    stack.wholecell.state.create_account(APP["app_id"], APP["app_secret"], skus=["A"])
    unit = {"sku": "A", "status": "Available", "warehouse": "Main Warehouse"}
    stack.wholecell.state.add_units(APP["app_id"], [unit] * 3)
    shop = stack.temu.state.create_shop(region="US", goods=[
        {"goodsName": "Phone A", "skus": [{"skuSn": "A", "stock": 9, "status": "active"}]}])
    connection_id = connect(stack, shop["mallId"], APP)
    # creating it checked the WholeCell credentials (admin), authorizing exchanged the code (OAuth)
    assert set(budgets(stack)) == {"temu", f"wholecell#{APP['app_id']}"}
    first = {name: float(item["booked_until"]["N"]) for name, item in budgets(stack).items()}

    assert run_import(stack, connection_id)["outcome"] == "succeeded"
    settings = {"inventory_sync_enabled": True, "inventory_statuses": ["Available"], "warehouses": ["Main Warehouse"],
                "confirm_initial_push": True, "order_import_enabled": True}
    response = stack.http("PUT", f"/admin/connections/{connection_id}/settings", json=settings)
    assert response.status_code == 200, response.text
    for job in ("quantity_sync", "order_import", "address_backfill", "shipment_reconcile"):
        run = run_job(stack, connection_id, job)
        assert run["outcome"] == "succeeded", (job, run)
    assert set(stack.temu.state.stock(shop["mallId"]).values()) == {3}  # the quantity was pushed

    booked = budgets(stack)
    assert set(booked) == {"temu", f"wholecell#{APP['app_id']}"}
    for name, item in booked.items():  # every job's requests moved both schedules on
        assert float(item["booked_until"]["N"]) > first[name] and int(item["expires_at"]["N"]) > first[name]


def test_only_the_functions_that_call_out_may_book_and_none_may_do_more(stack: LocalStack) -> None:
    key = {"budget": {"S": "iam-probe"}}
    book = {"UpdateExpression": "SET booked_until = :t", "ExpressionAttributeValues": {":t": {"N": "1"}}}
    callers = {"OauthFunction", "AdminFunction", "ListingImportFunction", "QuantitySyncFunction",
               "OrderImportFunction", "AddressBackfillFunction", "ShipmentReconcileFunction", "ShipmentPushFunction"}
    for function, credentials in stack.function_credentials.items():
        dynamodb = client(stack, "dynamodb", credentials)
        calls_out = function in callers
        assert denied(dynamodb.update_item, TableName="BudgetsTable", Key=key, **book) != calls_out, function
        assert denied(dynamodb.get_item, TableName="BudgetsTable", Key=key) != calls_out, function
        assert denied(dynamodb.delete_item, TableName="BudgetsTable", Key=key), function
        assert denied(dynamodb.scan, TableName="BudgetsTable"), function
