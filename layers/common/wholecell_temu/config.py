"""Environment settings, typed and validated once at cold start.

A missing or malformed variable fails the cold start with a message naming it. External
endpoints can be overridden by environment for local and test use; an override always wins.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

TemuRegion = Literal["US", "EU", "GLOBAL"]

# One place for the regional Temu endpoints (reference: temu-open-api.md §1, §3).
TEMU_GATEWAYS: dict[str, str] = {
    "US": "https://openapi-b-us.temu.com/openapi/router",
    "EU": "https://openapi-b-eu.temu.com/openapi/router",
    "GLOBAL": "https://openapi-b-global.temu.com/openapi/router",
}
TEMU_AUTHORIZE_PAGES: dict[str, str] = {
    "US": "https://seller.temu.com/open-platform/client-manage/authorization",
    "EU": "https://seller-eu.temu.com/open-platform/client-manage/authorization",
    "GLOBAL": "https://seller.temu.com/open-platform/client-manage/authorization",
}
WHOLECELL_DEFAULT_URL = "https://api.wholecell.io/api/v1"


class ConfigError(RuntimeError):
    """The environment is missing or has a bad variable."""


# Which calls go first when the app's Temu budget is busy (jobs/budgets.py)
TemuPriority = Literal["fulfilment", "stock", "listings"]


class Settings(BaseModel):
    """Every environment variable the functions read. Field alias = variable name."""

    model_config = ConfigDict(populate_by_name=True, extra="ignore", frozen=True)

    stage: str = Field("local", alias="STAGE")

    # DynamoDB tables (names; the layout lives in wholecell_temu.store.tables)
    connections_table: str = Field(alias="CONNECTIONS_TABLE")
    listings_table: str = Field(alias="LISTINGS_TABLE")
    orders_table: str = Field(alias="ORDERS_TABLE")
    shipments_table: str = Field(alias="SHIPMENTS_TABLE")
    inventory_table: str = Field(alias="INVENTORY_TABLE")
    runs_table: str = Field(alias="RUNS_TABLE")
    idempotency_table: str = Field(alias="IDEMPOTENCY_TABLE")
    # app-store installs waiting to be bound to a connection (OAuth writes, admin reads and binds)
    authorizations_table: str = Field("unbound", alias="AUTHORIZATIONS_TABLE")
    # Shared request budgets (jobs/budgets.py): with a table, every worker of every function books
    # Temu's app-wide rate and each WholeCell account's rate there; without one, each process paces
    # itself at TEMU_RATE_LIMIT / WHOLECELL_RATE_LIMIT alone.
    budgets_table: str | None = Field(None, alias="BUDGETS_TABLE")

    # SQS queues (URLs), one per job plus the shipment queue
    listing_import_queue_url: str = Field(alias="LISTING_IMPORT_QUEUE_URL")
    quantity_sync_queue_url: str = Field(alias="QUANTITY_SYNC_QUEUE_URL")
    order_import_queue_url: str = Field(alias="ORDER_IMPORT_QUEUE_URL")
    address_backfill_queue_url: str = Field(alias="ADDRESS_BACKFILL_QUEUE_URL")
    shipment_reconcile_queue_url: str = Field(alias="SHIPMENT_RECONCILE_QUEUE_URL")
    shipment_queue_url: str = Field(alias="SHIPMENT_QUEUE_URL")
    shipment_dlq_url: str | None = Field(None, alias="SHIPMENT_DLQ_URL")  # permanent failures go here at once

    # Secrets
    secret_prefix: str = Field("wholecell-temu/local", alias="SECRET_PREFIX")
    internal_secret_arn: str = Field(alias="INTERNAL_SECRET_ARN")
    # The master key every connection's webhook signing secret is derived from (admin, webhook)
    webhook_key_secret_arn: str | None = Field(None, alias="WEBHOOK_KEY_SECRET_ARN")
    temu_app_secret_arn: str | None = Field(None, alias="TEMU_APP_SECRET_ARN")
    temu_app_key: str | None = Field(None, alias="TEMU_APP_KEY")
    temu_app_secret: str | None = Field(None, alias="TEMU_APP_SECRET")

    # External endpoints (overrides win over the regional defaults)
    temu_gateway_url: str | None = Field(None, alias="TEMU_GATEWAY_URL")
    temu_authorize_url: str | None = Field(None, alias="TEMU_AUTHORIZE_URL")
    wholecell_api_url: str = Field(WHOLECELL_DEFAULT_URL, alias="WHOLECELL_API_URL")

    # Pacing: per process. Temu's limit is per app across all shops (20 req/s); keep
    # temu_rate_limit x the queues' MaximumConcurrency under it (docs/operations.md).
    temu_rate_limit: float = Field(4.0, alias="TEMU_RATE_LIMIT", gt=0)
    wholecell_rate_limit: float = Field(2.0, alias="WHOLECELL_RATE_LIMIT", gt=0)
    # With BUDGETS_TABLE: Temu's limit for the whole app (20 req/s; Temu raises it on request), each
    # WholeCell account's (WHOLECELL_RATE_LIMIT), and which of this function's Temu calls go first
    # when the app's budget is busy: fulfilment (orders, addresses, shipments, admin), then stock
    # edits, then listing imports.
    temu_app_rate_limit: float = Field(20.0, alias="TEMU_APP_RATE_LIMIT", gt=0)
    temu_priority: TemuPriority = Field("fulfilment", alias="TEMU_PRIORITY")
    http_timeout_seconds: float = Field(30.0, alias="HTTP_TIMEOUT_SECONDS", gt=0)
    max_attempts: int = Field(4, alias="HTTP_MAX_ATTEMPTS", ge=1, le=10)

    # Quantity sync: the inventory mirror is rebuilt, and Temu's own stock re-read, this often;
    # incremental WholeCell reads start this far before the last change seen.
    quantity_rebuild_minutes: int = Field(60, alias="QUANTITY_REBUILD_MINUTES", ge=5)
    quantity_reassert_minutes: int = Field(60, alias="QUANTITY_REASSERT_MINUTES", ge=5)
    wholecell_overlap_seconds: int = Field(30, alias="WHOLECELL_OVERLAP_SECONDS", ge=0, le=3600)
    temu_push_workers: int = Field(4, alias="TEMU_PUSH_WORKERS", ge=1, le=32)

    # Run leases: a job for one connection never overlaps itself
    lease_seconds: int = Field(900, alias="RUN_LEASE_SECONDS", gt=0)
    # How long a claim on one order's creation or one shipment's confirmation holds before another
    # run may take it over (after verifying what the first one did); at least the function timeout.
    order_claim_seconds: int = Field(900, alias="ORDER_CLAIM_SECONDS", gt=0)
    shipment_claim_seconds: int = Field(300, alias="SHIPMENT_CLAIM_SECONDS", gt=0)
    run_log_retention_days: int = Field(30, alias="RUN_LOG_RETENTION_DAYS", gt=0)
    # The order import's EventBridge schedule (the template's parameter): the admin API says when
    # an order not polled yet will be
    order_import_schedule: str = Field("rate(5 minutes)", alias="ORDER_IMPORT_SCHEDULE", min_length=1)

    @field_validator("temu_gateway_url", "temu_authorize_url", "temu_app_key", "temu_app_secret",
                     "temu_app_secret_arn", "webhook_key_secret_arn", "shipment_dlq_url", "budgets_table",
                     mode="before")
    @classmethod
    def _blank_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("wholecell_api_url")
    @classmethod
    def _strip_slash(cls, value: str) -> str:
        return value.rstrip("/")

    def temu_gateway(self, region: str, callback_host: str | None = None) -> str:
        """The router URL for a shop: the override, else the callback host, else the region's."""
        if self.temu_gateway_url:
            return self.temu_gateway_url
        if callback_host:
            return f"https://{callback_host}/openapi/router"
        return TEMU_GATEWAYS[region]

    def temu_authorize_page(self, region: str) -> str:
        return self.temu_authorize_url or TEMU_AUTHORIZE_PAGES[region]

    def queue_url(self, job: str) -> str:
        urls = {
            "listing_import": self.listing_import_queue_url,
            "quantity_sync": self.quantity_sync_queue_url,
            "order_import": self.order_import_queue_url,
            "address_backfill": self.address_backfill_queue_url,
            "shipment_reconcile": self.shipment_reconcile_queue_url,
            "shipment_push": self.shipment_queue_url,
        }
        try:
            return urls[job]
        except KeyError:
            raise ConfigError(f"no queue for job {job!r}") from None


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    """Parse the environment; raise ConfigError naming every missing or bad variable."""
    env = dict(os.environ if environ is None else environ)
    try:
        settings = Settings.model_validate(env)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            field_name = str(err["loc"][0]) if err["loc"] else "?"
            info = Settings.model_fields.get(field_name)
            var = (info.alias if info and info.alias else field_name)
            problems.append(f"{var}: {'missing' if err['type'] == 'missing' else err['msg']}")
        raise ConfigError("invalid environment: " + "; ".join(problems)) from None
    if not settings.temu_app_secret_arn and not (settings.temu_app_key and settings.temu_app_secret):
        raise ConfigError(
            "invalid environment: TEMU_APP_SECRET_ARN (or TEMU_APP_KEY and TEMU_APP_SECRET locally) is required"
        )
    return settings


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, validated on first use (cold start)."""
    return load_settings()


__all__ = ["TEMU_GATEWAYS", "ConfigError", "Settings", "TemuRegion", "get_settings", "load_settings"]
