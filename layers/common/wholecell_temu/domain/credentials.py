"""A connection's credentials as typed values, and its derived webhook signing secrets.

One Secrets Manager secret per connection holds `{"wholecell": {...}, "temu": {...}}` (the Temu
part appears once the shop is authorized). The shipment webhook's signing secret is not stored:
it is derived from the stack's master key, the connection id and a key version, so rotating it
is a new version number on the connection. Pure code: no AWS, no HTTP.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, SecretStr

WEBHOOK_SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret


class WholeCellApp(BaseModel):
    """A WholeCell API App's HTTP Basic credentials."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    app_id: str
    app_secret: SecretStr


class TemuToken(BaseModel):
    """The shop's Temu access token (from the authorization callback)."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    access_token: SecretStr


class ConnectionCredentials(BaseModel):
    """The JSON document of the connection's one secret. `repr` never shows a secret value."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    wholecell: WholeCellApp
    temu: TemuToken | None = None

    def document(self) -> dict[str, Any]:
        """What is written to Secrets Manager (the only place the values are revealed)."""
        doc: dict[str, Any] = {"wholecell": {"app_id": self.wholecell.app_id,
                                             "app_secret": self.wholecell.app_secret.get_secret_value()}}
        if self.temu is not None:
            doc["temu"] = {"access_token": self.temu.access_token.get_secret_value()}
        return doc


def derive_webhook_secret(master_key: bytes, connection_id: str, version: int) -> str:
    """`whsec_` + unpadded urlsafe base64 of HMAC-SHA256(master, "<connection_id>:<version>")."""
    if not master_key:
        raise ValueError("the webhook master key is empty")
    if version < 1:
        raise ValueError("webhook key versions start at 1")
    digest = hmac.new(master_key, f"{connection_id}:{version}".encode(), hashlib.sha256).digest()
    return WEBHOOK_SECRET_PREFIX + base64.urlsafe_b64encode(digest).decode().rstrip("=")


def valid_webhook_key_versions(current: int, previous: int | None, previous_until: datetime | None = None,
                               now: datetime | None = None) -> list[int]:
    """The versions a webhook may be signed with: the current one, and the previous during a
    rotation, until `previous_until` (the overlap the rotation stated; None: until retired)."""
    overlapping = previous is not None and previous != current and (
        previous_until is None or now is None or now < previous_until)
    return [current] + ([previous] if overlapping and previous is not None else [])
