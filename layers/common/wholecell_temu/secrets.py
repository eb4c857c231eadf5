"""Secrets Manager access: the only place secrets are read or written.

Reads go through Powertools Parameters (cached per process). A re-authorized Temu token is
written under a new name, so no cache anywhere can serve the replaced token again.
"""

from __future__ import annotations

import json
from typing import Any

import boto3
from aws_lambda_powertools.utilities import parameters

from wholecell_temu.config import ConfigError, Settings

CACHE_SECONDS = 300


class SecretStore:
    def __init__(self, prefix: str, client: Any = None) -> None:
        self.prefix = prefix.rstrip("/")
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            self._client = boto3.client("secretsmanager")
        return self._client

    def name(self, *parts: str) -> str:
        return "/".join([self.prefix, *parts])

    def create_json(self, name: str, value: dict[str, Any]) -> str:
        """Create a new secret and return its ARN (names are never reused)."""
        response = self.client.create_secret(Name=name, SecretString=json.dumps(value))
        return str(response["ARN"])

    def get_json(self, arn: str, *, max_age: int = CACHE_SECONDS) -> dict[str, Any]:
        value = parameters.get_secret(arn, transform="json", max_age=max_age)
        if not isinstance(value, dict):
            raise ConfigError(f"secret {arn} is not a JSON object")
        return value

    def schedule_deletion(self, arn: str) -> None:
        self.client.delete_secret(SecretId=arn, RecoveryWindowInDays=7)


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
