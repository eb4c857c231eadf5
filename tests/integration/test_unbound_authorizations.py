"""Issue #16, against moto: app-store installs (no state) wait unbound, are bound once by an
operator through ConnectionSecrets with the same shop checks, and are swept when they expire."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from wholecell_temu.admin.authorizations import bind, list_authorizations
from wholecell_temu.admin.service import ConnectionService
from wholecell_temu.api_errors import BadRequest, NotFound
from wholecell_temu.config import load_settings
from wholecell_temu.domain.credentials import WholeCellApp
from wholecell_temu.domain.settings import ConnectionSettings
from wholecell_temu.secrets import ConnectionSecrets, SecretStore
from wholecell_temu.services import Services
from wholecell_temu.store.authorizations import UNBOUND_DAYS, AuthorizationRepository, UnboundAuthorization
from wholecell_temu.store.connections import ConflictError, ConnectionRepository
from wholecell_temu.store.runs import RunLog
from wholecell_temu.store.tables import AuthorizationModel, ConnectionModel, RunModel, bind_tables

from tests.fakes.clock import SetClock
from tests.integration.test_quantity_sync_job import ENV

PREFIX = "wholecell-temu/test"
MALL = 634418210000777


class World:
    def __init__(self, sm: Any) -> None:
        self.sm = sm
        self.clock = SetClock(datetime(2026, 12, 6, 12, tzinfo=UTC))
        settings = load_settings(ENV | {"AUTHORIZATIONS_TABLE": "AuthorizationsTable"})
        self.services = Services(settings, ConnectionRepository(self.clock), RunLog(30, self.clock),
                                 SecretStore(PREFIX, client=sm), self.clock)
        self.admin = ConnectionService(self.services)
        self.installs = AuthorizationRepository(self.clock)

    def connect(self, connection_id: str = "c1", expected_mall_id: int | None = None, region: str = "US") -> None:
        created = ConnectionSecrets(self.services.secrets, self.services.connections).create(
            connection_id, WholeCellApp(app_id="a", app_secret="s"))  # type: ignore[arg-type]
        self.services.connections.create(connection_id=connection_id, name="Shop", temu_region=region,
                                         credentials_secret_arn=created.arn, credentials_version=created.version_id,
                                         settings=ConnectionSettings(), expected_mall_id=expected_mall_id)

    def install(self, authorization_id: str = "a1", mall_id: int = MALL, token: str = "app-store-token") -> str:
        """What the OAuth callback stores for an install without our state."""
        arn = self.services.secrets.create_json(self.services.secrets.name("authorizations", authorization_id),
                                                {"temu": {"access_token": token}}).arn
        now = self.clock.now()
        self.installs.add(UnboundAuthorization(
            authorization_id=authorization_id, mall_id=mall_id, temu_region="US", callback_host=None,
            token_expires_at=now + timedelta(days=365), scopes=[], missing_scopes=[], secret_arn=arn,
            created_at=now, expires_at=now + timedelta(days=UNBOUND_DAYS)))
        return arn

    def secret_exists(self, arn: str) -> bool:
        try:
            self.sm.describe_secret(SecretId=arn)
        except ClientError:
            return False
        return True

    def connection_document(self, connection_id: str = "c1") -> dict[str, Any]:
        connection = self.services.connections.get(connection_id)
        assert connection is not None
        return dict(json.loads(self.sm.get_secret_value(SecretId=connection.credentials_secret_arn,
                                                        VersionId=connection.credentials_version)["SecretString"]))


@pytest.fixture
def world() -> Iterator[World]:
    with mock_aws():
        bind_tables(load_settings(ENV | {"AUTHORIZATIONS_TABLE": "AuthorizationsTable"}))
        for model in (ConnectionModel, RunModel, AuthorizationModel):
            model.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
        yield World(boto3.client("secretsmanager", region_name="us-east-1"))


def test_an_install_is_listed_then_bound_once_and_its_secret_deleted(world: World) -> None:
    world.connect()
    arn = world.install()
    listed = list_authorizations(world.admin)
    assert [(a.authorization_id, a.mall_id) for a in listed.items] == [("a1", MALL)] and listed.swept == 0
    assert "app-store-token" not in listed.model_dump_json()

    view = bind(world.admin, "c1", "a1")
    assert (view.status, view.temu.mall_id) == ("active", MALL)
    assert world.connection_document() == {"wholecell": {"app_id": "a", "app_secret": "s"},
                                           "temu": {"access_token": "app-store-token"}}
    assert not world.secret_exists(arn)
    assert list_authorizations(world.admin).items == []
    world.connect("c2")
    with pytest.raises(NotFound):  # bound already
        bind(world.admin, "c2", "a1")


def test_an_install_for_another_shop_or_region_is_refused_and_stays(world: World) -> None:
    world.connect(expected_mall_id=MALL + 1)
    world.connect("eu", region="EU")
    arn = world.install()
    with pytest.raises(BadRequest, match="different Temu shop"):
        bind(world.admin, "c1", "a1")
    with pytest.raises(BadRequest, match="region"):
        bind(world.admin, "eu", "a1")
    assert [a.authorization_id for a in list_authorizations(world.admin).items] == ["a1"]
    assert world.secret_exists(arn) and "temu" not in world.connection_document()


def test_a_bind_that_fails_puts_the_install_back(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    world.connect()
    world.install()

    def lose(*args: Any, **kwargs: Any) -> Any:
        raise ConflictError("the credentials changed concurrently 5 times; try again")

    monkeypatch.setattr(ConnectionSecrets, "store_temu_token", lose)
    with pytest.raises(ConflictError):
        bind(world.admin, "c1", "a1")
    assert [a.authorization_id for a in list_authorizations(world.admin).items] == ["a1"]


def test_unbound_installs_expire_and_their_secrets_are_deleted(world: World) -> None:
    world.connect()
    old = world.install("a1")
    world.clock.advance(timedelta(days=UNBOUND_DAYS - 1))
    fresh = world.install("a2")
    world.clock.advance(timedelta(days=1, seconds=1))
    with pytest.raises(ConflictError):  # expired, even before a sweep
        world.installs.take("a1")
    listed = list_authorizations(world.admin)
    assert [a.authorization_id for a in listed.items] == ["a2"] and listed.swept == 1
    assert not world.secret_exists(old) and world.secret_exists(fresh)
    with pytest.raises(NotFound):
        bind(world.admin, "c1", "a1")
    item = AuthorizationModel.get("a2")
    assert item.purge_at > item.expires_at  # DynamoDB's TTL is only the backstop
