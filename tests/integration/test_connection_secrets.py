"""One secret per connection, against moto (Secrets Manager and DynamoDB): its two writers (the
admin API's WholeCell credentials, the OAuth callback's Temu token) never lose each other's
update, readers read the version the connection item names (so no warm cache serves a replaced
token), and the webhook key version rotates."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from moto import mock_aws
from wholecell_temu.config import load_settings
from wholecell_temu.domain.connection import Connection
from wholecell_temu.domain.credentials import TemuToken, WholeCellApp
from wholecell_temu.domain.settings import ConnectionSettings
from wholecell_temu.secrets import ConnectionSecrets, SecretStore
from wholecell_temu.store.connections import Authorization, ConflictError, ConnectionRepository
from wholecell_temu.store.tables import ConnectionModel, bind_tables

from tests.fakes.clock import SetClock
from tests.integration.test_quantity_sync_job import ENV

PREFIX = "wholecell-temu/test"
CLOCK = SetClock(datetime(2026, 12, 6, 12, tzinfo=UTC))
MALL = 634418210000001


class CountingClient:
    """boto3's Secrets Manager client, counting what reaches Secrets Manager."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.client, name)

        def call(**kwargs: Any) -> Any:
            self.calls.append((name, kwargs))
            return method(**kwargs)

        return call

    def count(self, name: str) -> int:
        return sum(1 for called, _ in self.calls if called == name)


@dataclass
class World:
    sm: Any
    client: CountingClient
    store: SecretStore
    connections: ConnectionRepository
    writer: ConnectionSecrets

    def connect(self, connection_id: str = "c1", app_id: str = "wc-app", app_secret: str = "wc-secret") -> Connection:
        created = self.writer.create(connection_id, WholeCellApp(app_id=app_id, app_secret=app_secret))  # type: ignore[arg-type]
        return self.connections.create(connection_id=connection_id, name="Shop", temu_region="US",
                                       credentials_secret_arn=created.arn, credentials_version=created.version_id,
                                       settings=ConnectionSettings())

    def authorize(self, connection_id: str, token: str, mall_id: int = MALL) -> Connection:
        return self.writer.store_temu_token(connection_id, TemuToken(access_token=token),  # type: ignore[arg-type]
                                            authorization(mall_id))

    def stored(self, connection_id: str = "c1") -> dict[str, Any]:
        """The document of the version the item names, read around the process's cache."""
        connection = self.connections.get(connection_id)
        assert connection is not None
        value = self.sm.get_secret_value(SecretId=connection.credentials_secret_arn,
                                         VersionId=connection.credentials_version)["SecretString"]
        return dict(json.loads(value))


def authorization(mall_id: int = MALL) -> Authorization:
    return Authorization(mall_id=mall_id, callback_host=None, token_expires_at=CLOCK.now() + timedelta(days=365),
                         scopes=["bg.order.list.v2.get"], missing_scopes=[])


@pytest.fixture
def world() -> Iterator[World]:
    with mock_aws():
        bind_tables(load_settings(ENV))
        ConnectionModel.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
        sm = boto3.client("secretsmanager", region_name="us-east-1")
        client = CountingClient(sm)
        store = SecretStore(PREFIX, client=client)
        connections = ConnectionRepository(CLOCK)
        yield World(sm, client, store, connections, ConnectionSecrets(store, connections))


def interleave(world: World, competitor: Callable[[], Any], times: int = 1) -> list[int]:
    """Run `competitor` (a whole write) right after the next `times` writes have read, before they put."""
    original = world.store.put_json
    ran: list[int] = []

    def put_json(arn: str, value: dict[str, Any]) -> str:
        if len(ran) < times:
            ran.append(1)
            world.store.put_json = original  # type: ignore[method-assign]  # the competitor writes plainly
            try:
                competitor()
            finally:
                world.store.put_json = put_json  # type: ignore[method-assign]
        return original(arn, value)

    world.store.put_json = put_json  # type: ignore[method-assign]
    return ran


def test_one_secret_per_connection_and_the_item_names_its_version(world: World) -> None:
    connection = world.connect()
    names = [s["Name"] for s in world.sm.list_secrets()["SecretList"]]
    assert names == [f"{PREFIX}/connections/c1"]
    assert connection.credentials_secret_arn.split(":secret:")[1].startswith(f"{PREFIX}/connections/c1-")
    assert connection.webhook_key_version == 1 and connection.webhook_previous_key_version is None
    assert world.stored() == {"wholecell": {"app_id": "wc-app", "app_secret": "wc-secret"}}
    authorized = world.authorize("c1", "upl-token-1")
    assert authorized.credentials_version != connection.credentials_version
    assert authorized.temu_mall_id == MALL and authorized.status.value == "active"
    assert world.stored() == {"wholecell": {"app_id": "wc-app", "app_secret": "wc-secret"},
                              "temu": {"access_token": "upl-token-1"}}
    assert [s["Name"] for s in world.sm.list_secrets()["SecretList"]] == names  # still one secret
    puts = [kwargs for name, kwargs in world.client.calls if name == "put_secret_value"]
    assert len(puts) == 1 and len(puts[0]["ClientRequestToken"]) == 36  # a new uuid per write


@pytest.mark.parametrize("first", ["admin", "oauth"])
def test_two_concurrent_writers_both_updates_survive(world: World, first: str) -> None:
    world.connect()
    admin = lambda: world.writer.replace_wholecell("c1", WholeCellApp(app_id="wc-app-2", app_secret="wc-2"))  # type: ignore[arg-type]  # noqa: E731
    oauth = lambda: world.authorize("c1", "upl-token-1")  # noqa: E731
    slow, fast = (admin, oauth) if first == "admin" else (oauth, admin)
    ran = interleave(world, fast)  # `fast` reads, writes and commits while `slow` holds its stale read
    final = slow()  # type: ignore[no-untyped-call]
    assert ran == [1]
    assert world.stored() == {"wholecell": {"app_id": "wc-app-2", "app_secret": "wc-2"},
                              "temu": {"access_token": "upl-token-1"}}
    assert final.credentials_version == world.connections.get("c1").credentials_version  # type: ignore[union-attr]
    assert world.client.count("put_secret_value") == 3  # fast once, slow twice (its first version lost the swap)
    connection = world.connections.get("c1")
    assert connection is not None and connection.temu_mall_id == MALL


def test_a_writer_that_keeps_losing_gives_up_and_loses_nothing_of_the_others(world: World) -> None:
    world.connect()
    tokens = iter(f"upl-token-{n}" for n in range(100))
    interleave(world, lambda: world.authorize("c1", next(tokens)), times=100)
    with pytest.raises(ConflictError, match="concurrently"):
        world.writer.replace_wholecell("c1", WholeCellApp(app_id="never", app_secret="never"))  # type: ignore[arg-type]
    attempts = world.writer.max_attempts
    assert world.stored() == {"wholecell": {"app_id": "wc-app", "app_secret": "wc-secret"},
                              "temu": {"access_token": f"upl-token-{attempts - 1}"}}


def test_a_token_for_another_shop_changes_nothing(world: World) -> None:
    world.connect()
    before = world.authorize("c1", "upl-token-1")
    with pytest.raises(ConflictError, match="different Temu shop"):
        world.authorize("c1", "upl-other-shop", mall_id=MALL + 1)
    after = world.connections.get("c1")
    assert after is not None and after.credentials_version == before.credentials_version
    assert after.temu_mall_id == MALL
    assert world.stored()["temu"] == {"access_token": "upl-token-1"}


def test_a_warm_cache_never_serves_a_replaced_token(world: World) -> None:
    world.connect()
    first = world.authorize("c1", "upl-token-1")
    reads = world.client.count("get_secret_value")
    creds = world.store.connection_credentials(first)
    assert creds.temu is not None and creds.temu.access_token.get_secret_value() == "upl-token-1"
    assert world.store.connection_credentials(first).wholecell.app_id == "wc-app"
    assert world.client.count("get_secret_value") == reads + 1  # the second read came from the cache

    world.authorize("c1", "upl-token-2")  # the seller re-authorizes (another process)
    reloaded = world.connections.get("c1")  # every run and request loads its connection
    assert reloaded is not None
    again = world.store.connection_credentials(reloaded)
    assert again.temu is not None and again.temu.access_token.get_secret_value() == "upl-token-2"
    assert world.client.count("get_secret_value") == reads + 2
    versions = [kwargs.get("VersionId") for name, kwargs in world.client.calls if name == "get_secret_value"]
    assert versions[-2:] == [first.credentials_version, reloaded.credentials_version]


def test_readers_follow_the_item_not_awscurrent(world: World) -> None:
    """A writer that crashed between PutSecretValue and the item's update moved AWSCURRENT to a
    version nobody names; readers and the next writer still start from the item's version."""
    connection = world.authorize(world.connect().connection_id, "upl-token-1")
    world.store.put_json(connection.credentials_secret_arn, {"wholecell": {"app_id": "orphan", "app_secret": "o"}})
    assert world.store.connection_credentials(connection).wholecell.app_id == "wc-app"
    world.writer.replace_wholecell("c1", WholeCellApp(app_id="wc-app-2", app_secret="wc-2"))  # type: ignore[arg-type]
    assert world.stored() == {"wholecell": {"app_id": "wc-app-2", "app_secret": "wc-2"},
                              "temu": {"access_token": "upl-token-1"}}


def test_webhook_key_rotation_keeps_current_and_previous(world: World) -> None:
    world.connect()
    rotated = world.connections.rotate_webhook_key("c1", expected_version=1, overlap=timedelta(hours=24))
    assert (rotated.webhook_key_version, rotated.webhook_previous_key_version) == (2, 1)
    assert rotated.webhook_previous_key_until is not None and rotated.updated_at is not None
    assert rotated.webhook_previous_key_until - rotated.updated_at == timedelta(hours=24)
    with pytest.raises(ConflictError):  # a concurrent rotation that read version 1 loses
        world.connections.rotate_webhook_key("c1", expected_version=1, overlap=timedelta(hours=24))
    again = world.connections.rotate_webhook_key("c1", expected_version=2, overlap=timedelta(hours=24))
    assert (again.webhook_key_version, again.webhook_previous_key_version) == (3, 2)
    retired = world.connections.retire_previous_webhook_key("c1")
    assert (retired.webhook_key_version, retired.webhook_previous_key_version) == (3, None)
    revoked = world.connections.rotate_webhook_key("c1", expected_version=3, overlap=timedelta(0))
    assert (revoked.webhook_key_version, revoked.webhook_previous_key_version) == (4, None)
    assert revoked.webhook_previous_key_until is None
