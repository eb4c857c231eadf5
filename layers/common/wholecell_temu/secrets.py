"""Secrets Manager access: the only place secrets are read or written.

Two kinds of secret, read two ways:

- The stack's own secrets (Temu app credentials, the OAuth state key, the webhook master key)
  are read by name through Powertools Parameters, cached per process for CACHE_SECONDS.
- A connection's one secret (`<prefix>/connections/<id>`: WholeCell credentials and the Temu
  token) is read at the VersionId its Connections item names, through boto3, and cached per
  process by (ARN, VersionId). A version's value never changes, so the cache needs no expiry,
  and a re-authorization names a new version, so no warm process can serve a replaced token.
  (Powertools caches by name and transform only, whatever VersionId is passed: not usable here.)

Writers (the admin API, the OAuth callback) go through ConnectionSecrets: read the version the
item names, write a new version (PutSecretValue, a new ClientRequestToken), then move the item
to it on the condition that it still names the version read; on a lost race, read again.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import boto3
from aws_lambda_powertools.utilities import parameters
from botocore.exceptions import ClientError

from wholecell_temu.config import ConfigError, Settings
from wholecell_temu.domain.connection import Connection
from wholecell_temu.domain.credentials import (
    ConnectionCredentials,
    TemuToken,
    WholeCellApp,
    derive_webhook_secret,
    valid_webhook_key_versions,
)
from wholecell_temu.store.connections import Authorization, ConflictError, ConnectionRepository, CredentialsChanged

CACHE_SECONDS = 300
# (ARN, VersionId) pairs kept per process, ~1 KB each. A job worker serves about half the
# connections in the same order every tick: below that many, every read misses (docs/cost.md).
VERSION_CACHE_SIZE = 4096


@dataclass(frozen=True)
class SecretVersion:
    arn: str
    version_id: str


class SecretStore:
    def __init__(self, prefix: str, client: Any = None) -> None:
        self.prefix = prefix.rstrip("/")
        self._client = client
        self._versions: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = boto3.client("secretsmanager")
        return self._client

    def name(self, *parts: str) -> str:
        return "/".join([self.prefix, *parts])

    def create_json(self, name: str, value: dict[str, Any]) -> SecretVersion:
        """Create a new secret; its ARN and first VersionId."""
        response = self.client.create_secret(Name=name, SecretString=json.dumps(value),
                                             ClientRequestToken=str(uuid.uuid4()))
        return SecretVersion(str(response["ARN"]), str(response["VersionId"]))

    def put_json(self, arn: str, value: dict[str, Any]) -> str:
        """Write a new version (it becomes AWSCURRENT, which nobody reads); its VersionId."""
        response = self.client.put_secret_value(SecretId=arn, SecretString=json.dumps(value),
                                                ClientRequestToken=str(uuid.uuid4()))
        return str(response["VersionId"])

    def schedule_deletion(self, arn: str, recovery_days: int) -> datetime | None:
        """Delete a secret after a recovery window (restore-secret undoes it until then); a secret
        already scheduled stays scheduled. The deletion date, when Secrets Manager tells it."""
        try:
            response = self.client.delete_secret(SecretId=arn, RecoveryWindowInDays=recovery_days)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "InvalidRequestException":
                raise
            described = self.client.describe_secret(SecretId=arn)
            if not described.get("DeletedDate"):
                raise
            return None
        deletion = response.get("DeletionDate")
        return deletion if isinstance(deletion, datetime) else None

    def get_json(self, arn: str, *, max_age: int = CACHE_SECONDS) -> dict[str, Any]:
        """A stack-level secret by name or ARN (Powertools, cached max_age seconds)."""
        value = parameters.get_secret(arn, transform="json", max_age=max_age)
        if not isinstance(value, dict):
            raise ConfigError(f"secret {arn} is not a JSON object")
        return value

    def get_version_json(self, arn: str, version_id: str) -> dict[str, Any]:
        """One version of a secret, cached by (ARN, VersionId): a version's value never changes."""
        key = (arn, version_id)
        with self._lock:
            if key in self._versions:
                self._versions.move_to_end(key)
                return self._versions[key]
        response = self.client.get_secret_value(SecretId=arn, VersionId=version_id)
        value = json.loads(response["SecretString"])
        if not isinstance(value, dict):
            raise ConfigError(f"secret {arn} is not a JSON object")
        with self._lock:
            self._versions[key] = value
            while len(self._versions) > VERSION_CACHE_SIZE:
                self._versions.popitem(last=False)
        return value

    def connection_credentials(self, connection: Connection) -> ConnectionCredentials:
        """The connection's credentials, at the version its item names."""
        return ConnectionCredentials.model_validate(
            self.get_version_json(connection.credentials_secret_arn, connection.credentials_version))


class ConnectionSecrets:
    """The writers of a connection's one secret (admin API, OAuth callback): nothing is lost.

    Each write reads the version the Connections item names, writes a new version with the
    change applied, then moves the item to it only if the item still names the version read
    (a DynamoDB condition). A writer that lost the race reads again and re-applies its change,
    at most `max_attempts` times; the version it wrote meanwhile is never named, so never read.
    """

    def __init__(self, store: SecretStore, connections: ConnectionRepository, max_attempts: int = 5) -> None:
        self.store = store
        self.connections = connections
        self.max_attempts = max_attempts

    def create(self, connection_id: str, wholecell: WholeCellApp) -> SecretVersion:
        """The connection's secret, with its WholeCell credentials (before the item exists)."""
        return self.store.create_json(self.store.name("connections", connection_id),
                                      ConnectionCredentials(wholecell=wholecell).document())

    def replace_wholecell(self, connection_id: str, wholecell: WholeCellApp) -> Connection:
        def commit(connection: Connection, version: str) -> Connection:
            return self.connections.swap_credentials_version(
                connection_id, expected=connection.credentials_version, new=version)

        return self._update(connection_id, lambda creds: creds.model_copy(update={"wholecell": wholecell}), commit)

    def store_temu_token(self, connection_id: str, token: TemuToken, authorization: Authorization) -> Connection:
        """The OAuth callback: the token into the secret, the authorization onto the item, at once."""
        def commit(connection: Connection, version: str) -> Connection:
            return self.connections.record_authorization(
                connection_id, authorization,
                expected_credentials_version=connection.credentials_version, credentials_version=version,
                expected_status=connection.status)

        return self._update(connection_id, lambda creds: creds.model_copy(update={"temu": token}), commit)

    def _update(
        self,
        connection_id: str,
        change: Callable[[ConnectionCredentials], ConnectionCredentials],
        commit: Callable[[Connection, str], Connection],
    ) -> Connection:
        for _ in range(self.max_attempts):
            connection = self.connections.get(connection_id)
            if connection is None:
                raise ConflictError(f"connection {connection_id} is gone")
            current = self.store.connection_credentials(connection)
            version = self.store.put_json(connection.credentials_secret_arn, change(current).document())
            try:
                return commit(connection, version)
            except CredentialsChanged:
                continue
        raise ConflictError(f"the credentials of connection {connection_id} changed concurrently "
                            f"{self.max_attempts} times; try again")


def temu_app_credentials(settings: Settings, region: str, store: SecretStore) -> tuple[str, str]:
    """The Temu app key and secret of a region's portal (env override locally)."""
    if settings.temu_app_key and settings.temu_app_secret:
        return settings.temu_app_key, settings.temu_app_secret
    if not settings.temu_app_secret_arn:
        raise ConfigError("TEMU_APP_SECRET_ARN is not set")
    apps = store.get_json(settings.temu_app_secret_arn)
    app = apps.get(region)
    if not isinstance(app, dict) or not app.get("app_key") or not app.get("app_secret"):
        raise ConfigError(f"Temu app credentials for region {region} are not configured")
    return str(app["app_key"]), str(app["app_secret"])


def state_signing_key(settings: Settings, store: SecretStore) -> bytes:
    key = store.get_json(settings.internal_secret_arn).get("state_key")
    if not key:
        raise ConfigError("the internal secret has no state_key")
    return str(key).encode()


def webhook_master_key(settings: Settings, store: SecretStore) -> bytes:
    """The stack's webhook master key (WebhookKeySecret), from which every signing secret derives."""
    if not settings.webhook_key_secret_arn:
        raise ConfigError("WEBHOOK_KEY_SECRET_ARN is not set")
    key = store.get_json(settings.webhook_key_secret_arn).get("master_key")
    if not key:
        raise ConfigError("the webhook key secret has no master_key")
    return str(key).encode()


def webhook_secret(settings: Settings, store: SecretStore, connection_id: str, version: int) -> str:
    """The signing secret a connection's webhook uses at `version` (shown to the admin once)."""
    return derive_webhook_secret(webhook_master_key(settings, store), connection_id, version)


def webhook_signing_secrets(settings: Settings, store: SecretStore, connection: Connection,
                            now: datetime) -> list[bytes]:
    """The secrets a webhook for this connection may be signed with (two during a rotation's overlap)."""
    master = webhook_master_key(settings, store)
    return [derive_webhook_secret(master, connection.connection_id, version).encode()
            for version in valid_webhook_key_versions(connection.webhook_key_version,
                                                      connection.webhook_previous_key_version,
                                                      connection.webhook_previous_key_until, now)]
