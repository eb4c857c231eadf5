from __future__ import annotations

import pytest
from wholecell_temu.config import ConfigError, load_settings

BASE = {
    "CONNECTIONS_TABLE": "c", "LISTINGS_TABLE": "l", "ORDERS_TABLE": "o", "SHIPMENTS_TABLE": "s",
    "INVENTORY_TABLE": "i", "RUNS_TABLE": "r", "IDEMPOTENCY_TABLE": "id",
    "LISTING_IMPORT_QUEUE_URL": "q1", "QUANTITY_SYNC_QUEUE_URL": "q2", "ORDER_IMPORT_QUEUE_URL": "q3",
    "ADDRESS_BACKFILL_QUEUE_URL": "q4", "SHIPMENT_RECONCILE_QUEUE_URL": "q5", "SHIPMENT_QUEUE_URL": "q6",
    "INTERNAL_SECRET_ARN": "arn:internal", "TEMU_APP_SECRET_ARN": "arn:temu",
}


def test_valid_environment_parses_with_defaults() -> None:
    settings = load_settings(BASE)
    assert settings.orders_table == "o"
    assert settings.wholecell_api_url == "https://api.wholecell.io/api/v1"
    assert settings.temu_gateway("EU") == "https://openapi-b-eu.temu.com/openapi/router"
    assert settings.temu_gateway("US", "openapi-b-global.temu.com") == "https://openapi-b-global.temu.com/openapi/router"


def test_missing_variable_is_named() -> None:
    env = {k: v for k, v in BASE.items() if k != "ORDERS_TABLE"}
    with pytest.raises(ConfigError, match="ORDERS_TABLE: missing"):
        load_settings(env)


def test_malformed_variable_is_named() -> None:
    with pytest.raises(ConfigError, match="TEMU_RATE_LIMIT"):
        load_settings({**BASE, "TEMU_RATE_LIMIT": "fast"})
    with pytest.raises(ConfigError, match="HTTP_MAX_ATTEMPTS"):
        load_settings({**BASE, "HTTP_MAX_ATTEMPTS": "0"})


def test_temu_app_credentials_required_one_way_or_the_other() -> None:
    env = {k: v for k, v in BASE.items() if k != "TEMU_APP_SECRET_ARN"}
    with pytest.raises(ConfigError, match="TEMU_APP_SECRET_ARN"):
        load_settings(env)
    assert load_settings({**env, "TEMU_APP_KEY": "k", "TEMU_APP_SECRET": "s"}).temu_app_key == "k"


def test_overrides_always_win() -> None:
    settings = load_settings({**BASE, "TEMU_GATEWAY_URL": "http://127.0.0.1:7001/openapi/router",
                              "TEMU_AUTHORIZE_URL": "http://127.0.0.1:7001/auth",
                              "WHOLECELL_API_URL": "http://127.0.0.1:7002/api/v1/"})
    assert settings.temu_gateway("EU", "openapi-b-us.temu.com") == "http://127.0.0.1:7001/openapi/router"
    assert settings.temu_authorize_page("EU") == "http://127.0.0.1:7001/auth"
    assert settings.wholecell_api_url == "http://127.0.0.1:7002/api/v1"
