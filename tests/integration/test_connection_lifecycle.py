"""Issue #16, against moto: authorize links are single use, a connection may be bound to its shop
at creation, and disable / enable / delete hold against authorizations and lost tokens."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from types import SimpleNamespace

import boto3
import pytest
from moto import mock_aws
from wholecell_temu.config import load_settings
from wholecell_temu.domain.connection import Connection, ConnectionStatus
from wholecell_temu.domain.credentials import TemuToken, WholeCellApp
from wholecell_temu.domain.settings import ConnectionSettings
from wholecell_temu.errors import ErrorClass, ExternalApiError
from wholecell_temu.jobs.framework import JobContext, execute
from wholecell_temu.net import Clock
from wholecell_temu.queues import JobMessage
from wholecell_temu.secrets import ConnectionSecrets, SecretStore
from wholecell_temu.store.connections import Authorization, ConflictError, ConnectionRepository
from wholecell_temu.store.runs import Outcome, RunLog
from wholecell_temu.store.tables import ConnectionModel, RunModel, bind_tables

from tests.integration.test_connection_secrets import CLOCK, MALL, PREFIX
from tests.integration.test_quantity_sync_job import ENV

NOW = CLOCK.time()


class Lifecycle:
    def __init__(self, sm: object) -> None:
        self.sm = sm
        self.store = SecretStore(PREFIX, client=sm)
        self.connections = ConnectionRepository(CLOCK)
        self.writer = ConnectionSecrets(self.store, self.connections)

    def connect(self, connection_id: str = "c1", expected_mall_id: int | None = None) -> Connection:
        created = self.writer.create(connection_id, WholeCellApp(app_id="a", app_secret="s"))  # type: ignore[arg-type]
        return self.connections.create(connection_id=connection_id, name="Shop", temu_region="US",
                                       credentials_secret_arn=created.arn, credentials_version=created.version_id,
                                       settings=ConnectionSettings(), expected_mall_id=expected_mall_id)

    def authorize(self, connection_id: str = "c1", mall_id: int = MALL) -> Connection:
        authorization = Authorization(mall_id=mall_id, callback_host=None,
                                      token_expires_at=CLOCK.now() + timedelta(days=365), scopes=[],
                                      missing_scopes=[])
        return self.writer.store_temu_token(connection_id, TemuToken(access_token="tok"),  # type: ignore[arg-type]
                                            authorization)

    def status(self, connection_id: str = "c1") -> ConnectionStatus:
        connection = self.connections.get(connection_id)
        assert connection is not None
        return connection.status


@pytest.fixture
def life() -> Iterator[Lifecycle]:
    with mock_aws():
        bind_tables(load_settings(ENV))
        ConnectionModel.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
        yield Lifecycle(boto3.client("secretsmanager", region_name="us-east-1"))


def test_an_authorize_link_works_once_and_a_new_one_replaces_it(life: Lifecycle) -> None:
    life.connect()
    life.connections.issue_authorize_link("c1", "h1", int(NOW) + 600)
    assert life.connections.link_is_valid("c1", "h1", NOW)
    life.connections.issue_authorize_link("c1", "h2", int(NOW) + 600)  # the operator issued another
    assert not life.connections.link_is_valid("c1", "h1", NOW)
    with pytest.raises(ConflictError, match="used already"):
        life.connections.consume_authorize_link("c1", "h1", NOW)
    life.connections.consume_authorize_link("c1", "h2", NOW)
    with pytest.raises(ConflictError, match="used already"):  # replayed
        life.connections.consume_authorize_link("c1", "h2", NOW)
    assert not life.connections.link_is_valid("c1", "h2", NOW)


def test_an_expired_or_unknown_link_is_refused_and_changes_nothing(life: Lifecycle) -> None:
    life.connect()
    life.connections.issue_authorize_link("c1", "h1", int(NOW) + 600)
    with pytest.raises(ConflictError):
        life.connections.consume_authorize_link("c1", "h1", NOW + 601)
    with pytest.raises(ConflictError):
        life.connections.consume_authorize_link("nope", "h1", NOW)
    assert life.connections.link_is_valid("c1", "h1", NOW)  # still the outstanding one
    assert not life.connections.link_is_valid("nope", "h1", NOW)


def test_expected_shop_refuses_a_token_for_another_shop(life: Lifecycle) -> None:
    life.connect(expected_mall_id=MALL)
    with pytest.raises(ConflictError, match="different Temu shop"):
        life.authorize(mall_id=MALL + 1)
    assert life.status() is ConnectionStatus.AWAITING_AUTHORIZATION
    assert life.authorize(mall_id=MALL).status is ConnectionStatus.ACTIVE


def test_reauthorization_never_reenables_a_connection_disabled_by_hand(life: Lifecycle) -> None:
    life.connect()
    life.authorize()
    ConnectionModel("c1").update(actions=[ConnectionModel.status.set("disabled")])  # disabled by hand
    assert life.authorize().status is ConnectionStatus.DISABLED
    assert life.connections.enable("c1").status is ConnectionStatus.ACTIVE  # authorized meanwhile


def test_disable_then_enable_restores_the_status_it_had(life: Lifecycle) -> None:
    life.connect()
    life.authorize()
    life.connections.mark_needs_reauthorization("c1", "token refused")
    disabled = life.connections.disable("c1")
    assert disabled.status is ConnectionStatus.DISABLED
    assert life.connections.disable("c1").status is ConnectionStatus.DISABLED  # idempotent
    life.connections.mark_needs_reauthorization("c1", "a run that was in flight")  # does not undo the disable
    assert life.status() is ConnectionStatus.DISABLED
    assert [c.connection_id for c in life.connections.iter_active()] == []
    enabled = life.connections.enable("c1")
    assert (enabled.status, enabled.status_reason) == (ConnectionStatus.NEEDS_REAUTHORIZATION, "token refused")
    assert life.connections.enable("c1").status is ConnectionStatus.NEEDS_REAUTHORIZATION  # idempotent


def test_a_deleted_connection_is_a_tombstone_nothing_revives(life: Lifecycle) -> None:
    connection = life.connect()
    life.authorize()
    life.connections.issue_authorize_link("c1", "h1", int(NOW) + 600)
    assert life.connections.mark_deleted("c1").status is ConnectionStatus.DELETED
    with pytest.raises(ConflictError):
        life.connections.mark_deleted("c1")
    with pytest.raises(ConflictError):  # its outstanding link died with it
        life.connections.consume_authorize_link("c1", "h1", NOW)
    with pytest.raises(ConflictError, match="deleted"):
        life.authorize()
    for change in (life.connections.disable, life.connections.enable):
        with pytest.raises(ConflictError, match="deleted"):
            change("c1")
    with pytest.raises(ConflictError):
        life.connections.issue_authorize_link("c1", "h2", int(NOW) + 600)
    assert life.status() is ConnectionStatus.DELETED
    assert list(life.connections.iter_active()) == []

    first = life.store.schedule_deletion(connection.credentials_secret_arn, 30)
    assert first is not None
    assert life.store.schedule_deletion(connection.credentials_secret_arn, 30) is None  # already scheduled
    described = life.sm.describe_secret(SecretId=connection.credentials_secret_arn)  # type: ignore[attr-defined]
    assert described["DeletedDate"]


def test_a_run_holding_a_token_replaced_meanwhile_does_not_park_the_connection(life: Lifecycle) -> None:
    """Re-authorization revokes the old token while a run still uses it: Temu refuses that run's
    calls, yet the connection holds a good token. Only a refusal of the current credentials parks it."""
    life.connect()
    in_flight = life.authorize()  # what a run read when it started
    reauthorized = life.authorize()  # the seller re-authorizes; Temu revokes the first token
    assert reauthorized.credentials_version != in_flight.credentials_version
    assert not life.connections.mark_needs_reauthorization(
        "c1", "revoked token", credentials_version=in_flight.credentials_version)
    assert life.status() is ConnectionStatus.ACTIVE
    assert life.connections.mark_needs_reauthorization(
        "c1", "current token refused", credentials_version=reauthorized.credentials_version)
    assert life.status() is ConnectionStatus.NEEDS_REAUTHORIZATION


def test_the_framework_retries_a_run_whose_token_was_replaced_and_parks_one_whose_was_not(
        life: Lifecycle) -> None:
    RunModel.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
    manual = JobMessage(connection_id="c1", job="order_import", trigger="manual")
    # the framework's Services, trimmed to what a run uses
    services = SimpleNamespace(settings=load_settings(ENV), connections=life.connections, runs=RunLog(30, Clock()),
                               secrets=None, clock=Clock())
    life.connect()
    life.authorize()

    def refused_after_reauthorization(context: JobContext) -> None:
        life.authorize()  # the seller re-authorizes while this run works with the token it read
        raise ExternalApiError("access_token is expired (code 3000034)", error_class=ErrorClass.REAUTHORIZE)

    with pytest.raises(ExternalApiError) as retried:
        execute(services, manual, refused_after_reauthorization)  # type: ignore[arg-type]
    assert retried.value.error_class is ErrorClass.RETRYABLE  # SQS delivers it again; it reads the new token
    assert life.status() is ConnectionStatus.ACTIVE

    def refused(context: JobContext) -> None:
        raise ExternalApiError("access_token is expired (code 3000034)", error_class=ErrorClass.REAUTHORIZE)

    run = execute(services, manual, refused)  # type: ignore[arg-type]
    assert run is not None and run.outcome is Outcome.FAILED and "re-authorize" in (run.reason or "")
    assert life.status() is ConnectionStatus.NEEDS_REAUTHORIZATION
