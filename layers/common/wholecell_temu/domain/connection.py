"""The connection as the rest of the code sees it (separate from its table entity)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from wholecell_temu.domain.settings import ConnectionSettings

# Scopes (API types) the integration calls with a seller token; a token missing one of
# them is flagged so the seller can re-authorize with the right permission package.
REQUIRED_SCOPES = (
    "bg.local.goods.list.query",
    "bg.local.goods.sku.list.query",
    "bg.local.goods.stock.edit",
    "temu.local.goods.sku.stock.query",
    "bg.order.list.v2.get",
    "bg.order.detail.v2.get",
    "bg.order.shippinginfo.v2.get",
    "bg.logistics.companies.get",
    "bg.logistics.warehouse.list.get",
    "bg.logistics.shipment.v2.confirm",
    "bg.logistics.shipment.v2.get",
)


class ConnectionStatus(StrEnum):
    AWAITING_AUTHORIZATION = "awaiting_authorization"
    ACTIVE = "active"
    NEEDS_REAUTHORIZATION = "needs_reauthorization"
    DISABLED = "disabled"  # by an operator: jobs skip it, the webhook answers 409, authorization keeps it so
    DELETED = "deleted"  # a tombstone: jobs skip it, the webhook answers 404; its orders and shipments are kept


class Connection(BaseModel):
    model_config = ConfigDict(frozen=True)

    connection_id: str
    name: str
    status: ConnectionStatus
    status_reason: str | None = None
    temu_region: str
    temu_mall_id: int | None = None
    temu_callback_host: str | None = None
    token_expires_at: datetime | None = None
    scopes: list[str] = []
    missing_scopes: list[str] = []
    # The connection's one secret (WholeCell credentials, Temu token) and the version of it to
    # read: readers never read AWSCURRENT, writers move this with a compare-and-swap.
    credentials_secret_arn: str
    credentials_version: str
    # The shipment webhook's signing secret is derived from the stack's master key and this
    # version; during a rotation the previous version is accepted too.
    webhook_key_version: int = 1
    webhook_previous_key_version: int | None = None
    webhook_previous_key_until: datetime | None = None  # the rotation's stated overlap ends
    settings: ConnectionSettings
    settings_version: int = 0
    catalog_size: int | None = None  # items the last listing import read (None: none has run)
    created_at: datetime
    updated_at: datetime

    def days_to_token_expiry(self, now: datetime) -> float | None:
        if self.token_expires_at is None:
            return None
        return (self.token_expires_at - now).total_seconds() / 86400


def longest_first(connections: list[Connection]) -> list[Connection]:
    """The order a schedule tick sends work in: the largest catalogs first, since their runs are the
    longest and a tick ends when its longest run does (a run started last behind small ones ends
    the tick late); never-imported connections count as largest, since their size is unknown."""
    return sorted(connections, key=lambda c: (c.catalog_size is not None, -(c.catalog_size or 0)))


def missing_scopes(granted: list[str]) -> list[str]:
    have = set(granted)
    return [scope for scope in REQUIRED_SCOPES if scope not in have]
