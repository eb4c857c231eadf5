"""Request and response shapes of the admin API (field names are part of the contract)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from wholecell_temu.domain.settings import ConnectionSettings


class WholeCellCredentials(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # HTTP Basic credentials: printable ASCII only (anything else cannot be sent, so it is refused here)
    app_id: str = Field(min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$")
    app_secret: str = Field(min_length=1, max_length=500, pattern=r"^[\x21-\x7e]+$", repr=False)


class SettingsWarning(BaseModel):
    """Something the settings allow but that may not do what the seller expects (the save went through)."""

    field: str  # the settings field it concerns
    message: str  # what is wrong and what to do


class CreateConnectionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    temu_region: Literal["US", "EU", "GLOBAL"]
    wholecell: WholeCellCredentials
    settings: ConnectionSettings | None = None
    # the Temu shop (mall id) this connection is for: a token for any other shop is refused
    expected_mall_id: int | None = Field(None, gt=0, lt=2**63)


class CreateConnectionResponse(BaseModel):
    connection_id: str
    authorize_url: str  # single use, valid until authorize_url_expires_at (POST .../authorize-link for another)
    authorize_url_expires_at: datetime
    webhook_url: str
    webhook_secret: str
    warnings: list[SettingsWarning] = Field(default_factory=list)  # about the settings (e.g. ShipStation set-up)


class AuthorizeLinkResponse(BaseModel):
    authorize_url: str  # single use; replaces any earlier link of the connection
    expires_at: datetime


class DeletedConnection(BaseModel):
    connection_id: str
    status: Literal["deleted"]
    secret_deletion_date: datetime | None  # Secrets Manager deletes the secret then (restorable until)
    records_kept: list[str]  # the tables whose records of this connection stay


class RotateWebhookSecretRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # hours the replaced secret stays valid, so WholeCell's configuration can follow
    # (0: revoke it now, for a leak; DELETE .../webhook-secret/previous ends the overlap early)
    overlap_hours: int = Field(24, ge=0, le=720)


class WebhookSecretResponse(BaseModel):
    webhook_url: str
    webhook_secret: str  # shown once: it is derived, never stored, and never shown again
    key_version: int
    previous_key_version: int | None  # still accepted until previous_valid_until
    previous_valid_until: datetime | None


class WebhookKeys(BaseModel):
    key_version: int
    previous_key_version: int | None
    previous_valid_until: datetime | None = None


class TemuShop(BaseModel):
    mall_id: int | None
    region: str
    gateway: str
    token_expires_at: datetime | None
    days_to_token_expiry: float | None
    scopes: list[str]
    missing_scopes: list[str]


class JobHealth(BaseModel):
    last_run_at: datetime | None
    last_outcome: str | None
    # why it failed or was skipped, or what it found wrong but worked around (e.g. the ShipStation set-up)
    last_reason: str | None = None


class SettingsResponse(ConnectionSettings):
    """The settings as stored, and the warnings about them (`warnings` is output only: a PUT ignores it)."""

    warnings: list[SettingsWarning] = Field(default_factory=list)


class SettingsRequest(ConnectionSettings):
    """Body of PUT .../settings: every setting (an absent one takes its default), replaced at once."""

    confirm_initial_push: bool = Field(False, description="required (true) when inventory_sync_enabled turns on: "
                                                          "the next run overwrites Temu's quantities")
    warnings: Any = Field(None, description="output only (ignored), so a settings answer can be sent back as it came")

    def to_settings(self) -> ConnectionSettings:
        return ConnectionSettings.model_validate(self.model_dump(exclude={"confirm_initial_push", "warnings"}))


class ConnectionView(BaseModel):
    connection_id: str
    name: str
    status: Literal["awaiting_authorization", "active", "needs_reauthorization", "disabled", "deleted"]
    status_reason: str | None
    temu: TemuShop
    webhook: WebhookKeys
    settings: ConnectionSettings
    health: dict[str, JobHealth]


class ConnectionList(BaseModel):
    items: list[ConnectionView]
    next_cursor: str | None = None  # pass as `cursor` for the next page; null on the last one


class RunQueued(BaseModel):
    run_id: str


class RunView(BaseModel):
    run_id: str
    job: str
    trigger: str
    started_at: datetime | None
    ended_at: datetime | None
    outcome: Literal["queued", "running", "succeeded", "failed", "skipped"]
    counts: dict[str, Any]
    reason: str | None


class RunList(BaseModel):
    items: list[RunView]


class ErrorBody(BaseModel):
    code: str
    message: str
    fields: dict[str, str] | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody
