"""The `wholecell-temu` command against the local stack, in process (Typer's CliRunner), with the HTTP
API verifying SigV4 as API Gateway does: every command, its errors and exit codes, `--output json`,
and one connection taken from creation to a shipped order with the CLI alone (the sandboxes are
seeded, the seller's browser and WholeCell's shipment are played by the test)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from typer.testing import CliRunner, Result
from wholecell_temu_cli.main import app

from local.stack import LocalStack
from tests.e2e.conftest import ROOT

APP = {"app_id": "cli-app", "app_secret": "cli-secret"}
runner = CliRunner()


@pytest.fixture(scope="module")
def stack() -> Iterator[LocalStack]:
    with LocalStack(ROOT, api_port=0, verify_sigv4=True) as running:
        yield running


def cli(stack: LocalStack, *args: str, input: str | None = None, env: dict[str, str] | None = None) -> Result:
    # the harness's own credentials (the environment's), not those a running `make local` wrote
    local = {"WHOLECELL_TEMU_LOCAL_CREDENTIALS": "/nonexistent"}
    return runner.invoke(app, ["--api-url", stack.api_url, *args], input=input,
                         env={"COLUMNS": "250", **local, **(env or {})})


def cli_json(stack: LocalStack, *args: str, input: str | None = None) -> Any:
    result = cli(stack, "--output", "json", *args, input=input)
    assert result.exit_code == 0, (result.stdout, result.stderr)
    return json.loads(result.stdout)


def browser_authorizes(authorize_url: str, mall_id: int) -> None:
    """The seller opens the link, picks the shop on Temu's page, comes back to our callback."""
    redirect = requests.get(authorize_url, allow_redirects=False, timeout=30).headers["Location"]
    callback = requests.get(f"{redirect}&mall_id={mall_id}", allow_redirects=False, timeout=30).headers["Location"]
    requests.get(callback, timeout=30).raise_for_status()


@pytest.fixture(scope="module")
def seeded(stack: LocalStack) -> dict[str, Any]:
    assert stack.temu is not None and stack.wholecell is not None
    stack.wholecell.state.create_account(APP["app_id"], APP["app_secret"], skus=["A", "B"])
    shop = stack.temu.state.create_shop(region="US", goods=[{"goodsName": "Phone", "skus": [
        {"skuSn": "A", "stock": 50, "status": "active"}, {"skuSn": "B", "stock": 50, "status": "active"},
        {"skuSn": "Z", "stock": 5, "status": "active"}]}])
    return {"mall_id": shop["mallId"]}


def create(stack: LocalStack, name: str, *extra: str) -> dict[str, Any]:
    return dict(cli_json(stack, "connections", "create", name, "--wholecell-app-id", APP["app_id"],
                         "--wholecell-app-secret", APP["app_secret"], *extra))


@pytest.fixture(scope="module")
def connection(stack: LocalStack, seeded: dict[str, Any]) -> str:
    created = create(stack, "Connected")
    browser_authorizes(created["authorize_url"], seeded["mall_id"])
    assert cli(stack, "jobs", "run", created["connection_id"], "listing_import").exit_code == 0
    return str(created["connection_id"])


def test_the_api_refuses_what_is_not_signed_or_signed_wrongly(stack: LocalStack) -> None:
    assert requests.get(stack.api_url + "/admin/connections", timeout=30).status_code == 403
    wrong = cli(stack, "connections", "list", env={"AWS_SECRET_ACCESS_KEY": "not-the-secret"})
    assert wrong.exit_code == 3, wrong.stderr
    assert "signature" in wrong.stderr and "credentials" in wrong.stderr
    other_region = cli(stack, "--region", "eu-west-1", "connections", "list")
    assert other_region.exit_code == 3 and "region" in other_region.stderr
    assert cli(stack, "connections", "list").exit_code == 0  # signed right


def test_from_creation_to_a_shipped_order(stack: LocalStack, seeded: dict[str, Any], tmp_path: Path) -> None:
    assert stack.temu is not None and stack.wholecell is not None
    created = create(stack, "Shipping shop", "--temu-region", "US", "--expected-mall-id", str(seeded["mall_id"]),
                     "--show-secret")
    connection_id = created["connection_id"]
    assert created["webhook_secret"].startswith("whsec_")
    assert created["webhook_url"].endswith(f"/wholecell/{connection_id}/shipments")

    shown = cli(stack, "connections", "show", connection_id)
    assert shown.exit_code == 0 and "awaiting_authorization" in shown.stdout
    assert f"wholecell-temu connections authorize-link {connection_id}" in shown.stderr
    link = cli_json(stack, "connections", "authorize-link", connection_id)
    browser_authorizes(link["authorize_url"], seeded["mall_id"])
    assert cli_json(stack, "connections", "show", connection_id)["status"] == "active"

    imported = cli(stack, "jobs", "run", connection_id, "listing_import")
    assert imported.exit_code == 0, imported.stderr
    assert "succeeded" in imported.stdout and "Counts" in imported.stdout

    listings = cli_json(stack, "listings", "search", connection_id)["items"]
    skus = {item["seller_sku"]: item["temu_sku_id"] for item in listings}
    assert {"A", "B", "Z"} <= set(skus)
    searched = cli(stack, "listings", "search", connection_id, "--not-connected")
    assert searched.exit_code == 0 and str(skus["Z"]) in searched.stdout and str(skus["A"]) not in searched.stdout

    settings = tmp_path / "settings.yaml"
    settings.write_text("order_import_enabled: true\norder_status_map:\n  '1': Pending\n  '2': Awaiting Fulfillment\n"
                        "  '4': Shipped\n")
    edited = cli(stack, "connections", "settings", "edit", connection_id, str(settings), "--yes")
    assert edited.exit_code == 0, edited.stderr
    assert "+order_import_enabled: true" in edited.stdout and "-order_import_enabled: false" in edited.stdout
    assert "Saved." in edited.stdout
    again = cli(stack, "connections", "settings", "edit", connection_id, str(settings))
    assert again.exit_code == 0 and "No change." in again.stdout

    sn = stack.temu.state.add_order(seeded["mall_id"], [{"skuId": skus["A"], "quantity": 1}], status=2)
    run = cli(stack, "--output", "json", "jobs", "run", connection_id, "order_import")
    assert run.exit_code == 0 and json.loads(run.stdout)["outcome"] == "succeeded"
    order = cli_json(stack, "orders", "show", connection_id, sn)
    assert order["imported"] and order["wholecell_order_id"]

    # WholeCell's webhook (configured as the seller would), then the shipment in WholeCell
    stack.wholecell.state.configure_webhook(APP["app_id"], created["webhook_url"], [created["webhook_secret"]])
    stack.wholecell.state.add_shipment(APP["app_id"], order["wholecell_order_id"], carrier="USPS",
                                       tracking_number="9400111899562837")
    stack.drain(timeout=120)
    assert int(stack.temu.state.orders[sn].status) == 4  # shipped on Temu
    shipped = cli(stack, "orders", "show", connection_id, sn)
    assert shipped.exit_code == 0 and "confirmed" in shipped.stdout
    why = cli(stack, "orders", "why", connection_id, sn)
    assert why.exit_code == 0 and f"is WholeCell sales order {order['wholecell_order_id']}" in why.stdout
    assert "shipment: confirmed" in why.stdout

    resent = cli_json(stack, "shipments", "resend", connection_id, sn)
    assert resent["parent_order_sn"] == sn and resent["wholecell_order_id"] == order["wholecell_order_id"]
    reimported = cli(stack, "orders", "reimport", connection_id, sn)
    assert reimported.exit_code == 0 and "succeeded" in reimported.stdout

    runs = cli_json(stack, "runs", "list", connection_id, "--job", "order_import")["items"]
    assert len(runs) >= 2 and {r["job"] for r in runs} == {"order_import"}
    one = cli(stack, "runs", "show", connection_id, runs[0]["run_id"])
    assert one.exit_code == 0 and runs[0]["run_id"] in one.stdout
    table = cli(stack, "runs", "list", connection_id)
    assert table.exit_code == 0 and runs[0]["run_id"] in table.stdout

    listed = cli_json(stack, "connections", "list")["items"]
    assert connection_id in {c["connection_id"] for c in listed}
    assert connection_id in cli(stack, "connections", "list").stdout


def test_the_webhook_secret_is_printed_only_on_request(stack: LocalStack, seeded: dict[str, Any]) -> None:
    result = cli(stack, "connections", "create", "Quiet", "--wholecell-app-id", APP["app_id"],
                 "--wholecell-app-secret", APP["app_secret"])
    assert result.exit_code == 0, result.stderr
    assert "whsec" not in result.stdout + result.stderr and APP["app_secret"] not in result.stdout + result.stderr
    assert "--show-secret" in result.stderr and "authorize_url" in result.stdout
    as_json = create(stack, "Quiet JSON")
    assert as_json["webhook_secret"] is None and as_json["connection_id"]
    prompted = runner.invoke(app, ["--api-url", stack.api_url, "connections", "create", "Prompted",
                                   "--wholecell-app-id", APP["app_id"]], input=APP["app_secret"] + "\n")
    assert prompted.exit_code == 0 and APP["app_secret"] not in prompted.stdout


def test_settings_listings_and_diagnosis(stack: LocalStack, connection: str, tmp_path: Path) -> None:
    settings = cli_json(stack, "connections", "settings", "show", connection)
    assert settings["inventory_sync_enabled"] is False
    table = cli(stack, "connections", "settings", "show", connection)
    assert table.exit_code == 0 and "inventory_statuses" in table.stdout

    # `settings show`'s JSON, edited, goes back as it came; declining the confirmation saves nothing
    settings["quantity_buffer"] = 2 if settings["quantity_buffer"] != 2 else 3
    edited = tmp_path / "settings.json"
    edited.write_text(json.dumps(settings))
    declined = cli(stack, "connections", "settings", "edit", connection, str(edited), input="n\n")
    assert declined.exit_code == 1 and "+quantity_buffer:" in declined.stdout
    stored = cli_json(stack, "connections", "settings", "show", connection)
    assert stored["quantity_buffer"] != settings["quantity_buffer"]
    accepted = cli(stack, "connections", "settings", "edit", connection, str(edited), input="y\n")
    assert accepted.exit_code == 0, accepted.stderr
    stored = cli_json(stack, "connections", "settings", "show", connection)
    assert stored["quantity_buffer"] == settings["quantity_buffer"]

    listings = {i["seller_sku"]: i for i in cli_json(stack, "listings", "search", connection, "-q", "Z")["items"]}
    z = listings["Z"]["temu_sku_id"]
    connected = cli_json(stack, "listings", "connect", connection, str(z), "--sku", "A:2", "--sku", "B")
    assert connected["connection"]["skus"] == [{"sku": "A", "factor": 2}, {"sku": "B", "factor": 1}]
    shown = cli(stack, "listings", "show", connection, str(z))
    assert shown.exit_code == 0 and "A x2, B (manual)" in shown.stdout
    diagnosis = cli(stack, "listings", "diagnose", connection, str(z))
    assert diagnosis.exit_code == 0 and "Checks of" in diagnosis.stdout and "Links" in diagnosis.stdout
    assert cli_json(stack, "listings", "diagnose", connection, str(z))["temu_sku_id"] == z
    assert cli(stack, "listings", "disconnect", connection, str(z)).exit_code == 0
    assert cli_json(stack, "listings", "show", connection, str(z))["connection"] is None
    both = cli(stack, "listings", "connect", connection, str(z), "--sku", "A", "--variation", "7")
    assert both.exit_code == 2

    csv_file = tmp_path / "links.csv"
    csv_file.write_text(f"temu_sku_id,wholecell_sku,factor\n{z},B,3\n")
    dry_only = cli(stack, "listings", "bulk-connect", connection, str(csv_file), input="n\n")
    assert dry_only.exit_code == 1 and "(dry run)" in dry_only.stdout and "would_change" in dry_only.stdout
    assert cli_json(stack, "listings", "show", connection, str(z))["connection"] is None  # not applied
    applied = cli_json(stack, "listings", "bulk-connect", connection, str(csv_file), "--yes")
    assert applied["applied"] == 1 and applied["dry_run"] is False
    assert cli_json(stack, "listings", "show", connection, str(z))["connection"]["skus"] == [{"sku": "B",
                                                                                              "factor": 3}]
    bad_csv = tmp_path / "bad.csv"
    bad_csv.write_text("temu_sku_id,wholecell_sku\n999999999,NOPE\n")
    rejected = cli(stack, "listings", "bulk-connect", connection, str(bad_csv), "--yes")
    assert rejected.exit_code == 1 and "rejected" in rejected.stderr


def test_errors_say_what_to_do(stack: LocalStack, connection: str, tmp_path: Path) -> None:
    unknown = cli(stack, "connections", "show", "0" * 32)
    assert unknown.exit_code == 1 and "not found" in unknown.stderr and "connections list" in unknown.stderr
    assert cli(stack, "jobs", "run", "0" * 32, "listing_import").exit_code == 1
    assert cli(stack, "jobs", "run", connection, "no_such_job").exit_code == 2  # usage
    assert cli(stack, "orders", "show").exit_code == 2

    wrong_types = tmp_path / "types.yaml"
    wrong_types.write_text("order_import_enabled: 'yes'\nquantity_buffer: seven\n")
    refused = cli(stack, "connections", "settings", "edit", connection, str(wrong_types), "--yes")
    assert refused.exit_code == 1
    assert "order_import_enabled:" in refused.stderr and "quantity_buffer:" in refused.stderr

    status = tmp_path / "status.yaml"
    status.write_text("inventory_statuses: [Availabel]\n")
    unknown_status = cli(stack, "connections", "settings", "edit", connection, str(status), "--yes")
    assert unknown_status.exit_code == 1
    assert "inventory_statuses: 'Availabel' does not exist in WholeCell" in unknown_status.stderr
    assert "valid: 'Available'" in unknown_status.stderr  # what the status can be
    assert "'Available'" in unknown_status.stderr  # the valid title the API names

    sync_on = tmp_path / "sync.yaml"
    sync_on.write_text("inventory_sync_enabled: true\n")
    unconfirmed = cli(stack, "connections", "settings", "edit", connection, str(sync_on), "--yes")
    assert unconfirmed.exit_code == 1 and "--confirm-initial-push" in unconfirmed.stderr

    unreadable = tmp_path / "broken.json"
    unreadable.write_text("{not json")
    broken = cli(stack, "connections", "settings", "edit", connection, str(unreadable), "--yes")
    assert broken.exit_code == 2 and "cannot be read" in broken.stderr
    not_object = tmp_path / "list.yaml"
    not_object.write_text("- a\n- b\n")
    assert cli(stack, "connections", "settings", "edit", connection, str(not_object), "--yes").exit_code == 2

    no_target = runner.invoke(app, ["connections", "list"], env={"WHOLECELL_TEMU_STACK": None,
                                                                  "WHOLECELL_TEMU_API_URL": None})
    assert no_target.exit_code == 2 and "--stack-name" in no_target.stderr
    two = runner.invoke(app, ["--local", "--api-url", stack.api_url, "connections", "list"])
    assert two.exit_code == 2
    unreachable = runner.invoke(app, ["--api-url", "http://127.0.0.1:9", "connections", "list"])
    assert unreachable.exit_code == 3 and "cannot reach" in unreachable.stderr
    from_env = runner.invoke(app, ["--output", "json", "connections", "list"],
                             env={"WHOLECELL_TEMU_API_URL": stack.api_url})
    assert from_env.exit_code == 0 and "items" in json.loads(from_env.stdout)


def test_disable_enable_delete(stack: LocalStack, seeded: dict[str, Any]) -> None:
    created = create(stack, "Short-lived")
    connection_id = created["connection_id"]
    browser_authorizes(created["authorize_url"], seeded["mall_id"])
    assert cli_json(stack, "connections", "disable", connection_id)["status"] == "disabled"
    skipped = cli(stack, "--output", "json", "jobs", "run", connection_id, "listing_import")
    assert skipped.exit_code == 0 and json.loads(skipped.stdout)["outcome"] == "skipped"
    assert cli_json(stack, "connections", "enable", connection_id)["status"] == "active"
    kept = cli(stack, "connections", "delete", connection_id, input="n\n")
    assert kept.exit_code == 1 and cli_json(stack, "connections", "show", connection_id)["status"] == "active"
    deleted = cli_json(stack, "connections", "delete", connection_id, "--yes")
    assert deleted["status"] == "deleted"
    assert cli_json(stack, "connections", "show", connection_id)["status"] == "deleted"
    gone = cli(stack, "connections", "disable", connection_id)
    assert gone.exit_code == 1 and "deleted" in gone.stderr


def test_dlq_show_and_redrive(stack: LocalStack, connection: str) -> None:
    sqs = stack.client("sqs")
    stack.pause()  # nothing consumes the redriven message while the test looks
    try:
        body = json.dumps({"connection_id": connection, "job": "listing_import", "trigger": "test"})
        sqs.send_message(QueueUrl=stack.queue_url("ListingImportDLQ"), MessageBody=body, MessageAttributes={
            "reason": {"DataType": "String", "StringValue": "Temu timed out 3 times"}})
        depths = cli_json(stack, "dlq", "show")
        assert depths["listing_import"] == 1 and depths["shipment"] == 0 and "scheduler" in depths
        parked = cli_json(stack, "dlq", "show", "listing_import")["messages"]
        assert [(m["reason"], json.loads(m["body"])["connection_id"]) for m in parked] == [
            ("Temu timed out 3 times", connection)]
        table = cli(stack, "dlq", "show", "listing_import")
        assert table.exit_code == 0 and "Temu timed out 3 times" in table.stdout
        assert "dlq redrive listing_import" in table.stderr

        declined = cli(stack, "dlq", "redrive", "listing_import", input="n\n")
        assert declined.exit_code == 1 and cli_json(stack, "dlq", "show")["listing_import"] == 1
        moved = cli_json(stack, "dlq", "redrive", "listing_import", "--yes")
        assert moved == {"queue": "listing_import", "moved": 1}
        assert cli_json(stack, "dlq", "show")["listing_import"] == 0
        back = sqs.receive_message(QueueUrl=stack.queue_url("ListingImportQueue"), MessageAttributeNames=["All"],
                                   VisibilityTimeout=0)["Messages"]
        assert back[0]["Body"] == body and back[0]["MessageAttributes"]["reason"]["StringValue"]
        assert cli(stack, "dlq", "redrive", "scheduler", "--yes").exit_code == 1
    finally:
        stack.resume()
    stack.drain(timeout=120)
