"""Issue #17 against moto: the ShipStation set-up rule on the settings save (errors refuse it with
a field map, warnings come back with the stored settings) and at order-import time (the account
changed since: the orders are still imported, the run and the connection's health say what is wrong)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from wholecell_temu.admin.api import build_app
from wholecell_temu.admin.service import ConnectionService
from wholecell_temu.api_errors import BadRequest
from wholecell_temu.config import load_settings
from wholecell_temu.domain.connection import ConnectionStatus
from wholecell_temu.domain.credentials import WholeCellApp
from wholecell_temu.domain.settings import ConnectionSettings
from wholecell_temu.jobs import order_import
from wholecell_temu.jobs.framework import JobContext, execute
from wholecell_temu.jobs.ports import JobTemu, JobWholeCell
from wholecell_temu.net import Clock
from wholecell_temu.queues import JobMessage
from wholecell_temu.secrets import ConnectionSecrets, SecretStore
from wholecell_temu.services import Services
from wholecell_temu.store.connections import ConnectionRepository
from wholecell_temu.store.runs import Outcome, RunLog
from wholecell_temu.store.tables import (
    ConnectionModel,
    InventoryMirrorModel,
    ListingModel,
    OrderModel,
    RunModel,
    bind_tables,
)
from wholecell_temu.wholecell import SalesOrderStatus

from tests.fakes.temu import FakeTemu, temu_order
from tests.fakes.wholecell import FakeWholeCell
from tests.integration.test_quantity_sync_job import ENV

STATUSES = [
    SalesOrderStatus(title="Pending", open=True, sync_to_shipstation=False),
    SalesOrderStatus(title="Awaiting Fulfillment", open=True, sync_to_shipstation=True),
    SalesOrderStatus(title="Shipped", open=False, sync_to_shipstation=False),
    SalesOrderStatus(title="Canceled", open=False, sync_to_shipstation=False),
]
GOOD = {"order_import_enabled": True, "shipstation_sync": True,
        "order_status_map": {"1": "Pending", "2": "Awaiting Fulfillment", "3": "Canceled", "4": "Shipped"}}


class World:
    def __init__(self) -> None:
        self.clock = Clock()
        settings = load_settings(ENV)
        secrets = SecretStore("wholecell-temu/test", client=boto3.client("secretsmanager", region_name="us-east-1"))
        self.services = Services(settings, ConnectionRepository(self.clock), RunLog(30, self.clock), secrets,
                                 self.clock)
        self.account = FakeWholeCell(statuses=STATUSES, channels=["Temu", "Amazon"])
        self.admin = ConnectionService(self.services, wholecell_factory=lambda app_id, secret: self.account)  # type: ignore[arg-type,return-value]
        created = ConnectionSecrets(secrets, self.services.connections).create(
            "c1", WholeCellApp(app_id="a", app_secret="s"))  # type: ignore[arg-type]
        self.services.connections.create(connection_id="c1", name="Shop", temu_region="US",
                                         credentials_secret_arn=created.arn, credentials_version=created.version_id,
                                         settings=ConnectionSettings())
        ConnectionModel("c1").update(actions=[ConnectionModel.status.set(ConnectionStatus.ACTIVE.value)])

    def put(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """PUT .../settings through the admin API's routes."""
        path = "/admin/connections/c1/settings"
        route = "PUT /admin/connections/{connection_id}/settings"
        event = {"version": "2.0", "routeKey": route, "rawPath": path, "rawQueryString": "",
                 "headers": {"content-type": "application/json"}, "body": json.dumps(body), "isBase64Encoded": False,
                 "pathParameters": {"connection_id": "c1"},
                 "requestContext": {"http": {"method": "PUT", "path": path, "protocol": "HTTP/1.1",
                                             "sourceIp": "203.0.113.1", "userAgent": "t"}, "requestId": "r",
                                    "stage": "$default", "routeKey": route, "accountId": "1", "apiId": "a",
                                    "domainName": "example", "domainPrefix": "example", "time": "x", "timeEpoch": 0}}
        answer = build_app(lambda: self.admin).resolve(event, None)  # type: ignore[arg-type]
        return int(answer["statusCode"]), json.loads(answer["body"])


@pytest.fixture
def world() -> Iterator[World]:
    with mock_aws():
        bind_tables(load_settings(ENV))
        for model in (ConnectionModel, RunModel, ListingModel, InventoryMirrorModel, OrderModel):
            model.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
        yield World()


# --------------------------------------------------------------------------- settings save
def test_a_set_up_that_cannot_reach_shipstation_is_refused_with_each_field_named(world: World) -> None:
    bad = {**GOOD, "sales_channel": "temu",
           "order_status_map": {"1": "Pending", "2": "Pending", "3": "Awaiting Fulfillment"}}
    with pytest.raises(BadRequest) as refused:
        world.admin.replace_settings("c1", bad)
    fields = refused.value.fields or {}
    assert set(fields) == {"sales_channel", "order_status_map"}
    assert "set sales_channel to 'Temu'" in fields["sales_channel"]
    assert "Temu status 2 (awaiting shipment) maps to 'Pending'" in fields["order_status_map"]
    assert "Temu status 3 (cancelled) maps to 'Awaiting Fulfillment'" in fields["order_status_map"]
    stored = world.services.connections.get("c1")
    assert stored is not None and not stored.settings.shipstation_sync  # nothing saved

    status, body = world.put(bad)
    assert status == 400 and set(body["error"]["fields"]) == {"sales_channel", "order_status_map"}


def test_an_unknown_title_is_named_once_by_the_title_check(world: World) -> None:
    with pytest.raises(BadRequest) as refused:
        world.admin.replace_settings("c1", {**GOOD, "order_status_map": {"2": "Awaiting Fulfilment"}})
    message = (refused.value.fields or {})["order_status_map"]
    assert message.count("Awaiting Fulfilment") == 1 and "closest existing: 'Awaiting Fulfillment'" in message


def test_the_same_settings_without_shipstation_sync_are_saved(world: World) -> None:
    saved = world.admin.replace_settings("c1", {**GOOD, "shipstation_sync": False,
                                                "order_status_map": {"2": "Pending", "3": "Awaiting Fulfillment"}})
    assert [w for w in saved.warnings if "ShipStation" in w.message] == []


def test_a_working_set_up_with_a_risk_is_saved_and_the_warning_returned(world: World) -> None:
    risky = {**GOOD, "order_status_map": {**GOOD["order_status_map"], "1": "Awaiting Fulfillment"}}  # type: ignore[dict-item]
    status, body = world.put(risky)
    assert status == 200, body
    assert body["order_status_map"]["1"] == "Awaiting Fulfillment"  # the settings, as before
    assert [w["field"] for w in body["warnings"]] == ["order_status_map"]
    assert "may ship an order Temu has not moved to awaiting shipment" in body["warnings"][0]["message"]
    stored = world.services.connections.get("c1")
    assert stored is not None and stored.settings.order_status_map["1"] == "Awaiting Fulfillment"
    assert "warnings" not in stored.settings.model_dump()

    status, again = world.put(body)  # the response sent back as it came
    assert status == 200 and again == body
    status, clean = world.put(GOOD)
    assert status == 200 and clean["warnings"] == []


def test_on_creation_the_warnings_name_the_nested_field(world: World) -> None:
    """`create` checks its settings the same way, fields under `settings.`, and returns the warnings."""
    risky = ConnectionSettings.model_validate({**GOOD, "order_status_map": {"2": "Awaiting Fulfillment",
                                                                            "41": "Pending"}})
    warnings = world.admin.check_against_wholecell(risky, world.account, prefix="settings.")  # type: ignore[arg-type]
    assert [w.field for w in warnings] == ["settings.order_status_map"]
    assert "Temu status 41 (partially shipped)" in warnings[0].message
    with pytest.raises(BadRequest) as refused:
        world.admin.check_against_wholecell(risky.model_copy(update={"sales_channel": "Temu Store"}),
                                            world.account, prefix="settings.")  # type: ignore[arg-type]
    assert "closest: 'Temu'" in (refused.value.fields or {})["settings.sales_channel"]


# --------------------------------------------------------------------------- order import
def order_import_run(world: World, temu: FakeTemu) -> Any:
    """One order-import run through the job framework (run log, reason), with the fakes."""
    def job(context: JobContext[JobTemu, JobWholeCell]) -> None:
        order_import.run(context.with_clients(temu=temu, wholecell=world.account))

    return execute(world.services, JobMessage(connection_id="c1", job="order_import"), job)


def test_an_account_changed_after_the_save_still_gets_its_orders_and_the_health_says_why(world: World) -> None:
    world.admin.replace_settings("c1", GOOD)
    now = int(time.time())
    temu = FakeTemu([temu_order("PO-1", 2, now - 300), temu_order("PO-2", 1, now - 200)])
    world.account.sync("Awaiting Fulfillment", False)  # someone turned the export off in WholeCell
    world.account.sync("Canceled", True)  # ... and on for cancelled orders

    run = order_import_run(world, temu)
    assert run.outcome is Outcome.SUCCEEDED
    assert sorted(body.external_reference for body in world.account.created) == ["PO-1", "PO-2"]  # imported
    assert run.counts["shipstation_problems"] == 2 and run.counts["imported"] == 2
    assert "Temu status 2 (awaiting shipment) maps to 'Awaiting Fulfillment', which does not sync" in run.reason
    assert "Temu status 3 (cancelled) maps to 'Canceled', which syncs to ShipStation" in run.reason
    assert world.account.lookup_reads.count("sales_order_statuses") == 2  # the save, then once per run

    health = world.admin.view(world.admin.require("c1")).health["order_import"]
    assert health.last_outcome == "succeeded" and health.last_reason == run.reason

    world.account.sync("Awaiting Fulfillment", True)  # fixed
    world.account.sync("Canceled", False)
    fixed = order_import_run(world, temu)
    assert fixed.outcome is Outcome.SUCCEEDED and fixed.reason is None and "shipstation_problems" not in fixed.counts
    assert world.admin.view(world.admin.require("c1")).health["order_import"].last_reason is None


def test_a_channel_gone_from_the_account_still_stops_the_run(world: World) -> None:
    world.admin.replace_settings("c1", GOOD)
    world.account.channels = ["temu", "Amazon"]  # renamed in WholeCell
    world.account.sync("Awaiting Fulfillment", False)
    temu = FakeTemu([temu_order("PO-1", 2, int(time.time()) - 300)])
    with pytest.raises(order_import.ChannelMissing, match="set sales_channel to 'temu'"):
        order_import_run(world, temu)
    assert world.account.created == []
    health = world.admin.view(world.admin.require("c1")).health["order_import"]
    assert health.last_outcome == "failed"
    assert "sales channel 'Temu' differs from WholeCell's 'temu'" in (health.last_reason or "")
    assert "'Awaiting Fulfillment', which does not sync" in (health.last_reason or "")  # the rest, named too


def test_lookups_the_account_does_not_have_do_not_stop_the_import(world: World) -> None:
    world.admin.replace_settings("c1", GOOD)
    world.account.missing = {"sales_order_statuses", "sales_channels"}
    run = order_import_run(world, FakeTemu([temu_order("PO-1", 2, int(time.time()) - 300)]))
    assert run.outcome is Outcome.SUCCEEDED and run.reason is None
    assert [body.external_reference for body in world.account.created] == ["PO-1"]
