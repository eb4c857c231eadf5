"""The connection as jobs and the admin API read it: days left on the Temu token, scopes still missing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from wholecell_temu.domain.connection import REQUIRED_SCOPES, Connection, ConnectionStatus, missing_scopes
from wholecell_temu.domain.settings import ConnectionSettings

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


def connection(token_expires_at: datetime | None) -> Connection:
    return Connection(connection_id="c1", name="Shop", status=ConnectionStatus.ACTIVE, temu_region="US",
                      credentials_secret_arn="arn", credentials_version="v", settings=ConnectionSettings(),
                      token_expires_at=token_expires_at, created_at=NOW, updated_at=NOW)


def test_days_to_token_expiry_counts_fractional_days_and_goes_negative_once_expired() -> None:
    assert connection(NOW + timedelta(days=3, hours=12)).days_to_token_expiry(NOW) == 3.5
    assert connection(NOW - timedelta(hours=6)).days_to_token_expiry(NOW) == -0.25
    assert connection(None).days_to_token_expiry(NOW) is None


def test_missing_scopes_are_the_required_ones_not_granted_in_the_required_order() -> None:
    granted = ["bg.order.detail.v2.get", "some.other.scope", "bg.local.goods.list.query"]
    assert missing_scopes(granted) == [
        "bg.local.goods.sku.list.query", "bg.local.goods.stock.edit", "temu.local.goods.sku.stock.query",
        "bg.order.list.v2.get", "bg.order.shippinginfo.v2.get", "bg.logistics.companies.get",
        "bg.logistics.warehouse.list.get", "bg.logistics.shipment.v2.confirm", "bg.logistics.shipment.v2.get"]
    assert missing_scopes(list(REQUIRED_SCOPES)) == []
    assert missing_scopes([]) == list(REQUIRED_SCOPES)
