"""Builds the API clients for one connection from settings and secrets.

Pacing: with a Budgets table (BUDGETS_TABLE), every client books its requests on a budget shared
by every worker of every function (jobs/budgets.py): Temu's app-wide one at TEMU_APP_RATE_LIMIT,
with this function's TEMU_PRIORITY, and one per WholeCell account at WHOLECELL_RATE_LIMIT.
Without one, rate limiters are per process and per API, shared by every client the process
builds, so one warm Lambda never exceeds its fixed share (TEMU_RATE_LIMIT), whatever it calls.
"""

from __future__ import annotations

from functools import lru_cache

from wholecell_temu.config import Settings, TemuPriority
from wholecell_temu.domain.connection import Connection
from wholecell_temu.jobs.budgets import TEMU_BUDGET, SharedRateLimiter, wholecell_budget
from wholecell_temu.net import Pacer, RateLimiter, RetryPolicy
from wholecell_temu.secrets import SecretStore, temu_app_credentials
from wholecell_temu.store.budgets import Budgets
from wholecell_temu.temu import TemuClient
from wholecell_temu.wholecell import WholeCellClient


@lru_cache(maxsize=1)
def _temu_limiter(rate: float) -> RateLimiter:
    return RateLimiter(rate)


@lru_cache(maxsize=1)
def _wholecell_limiter(rate: float) -> RateLimiter:
    return RateLimiter(rate)


@lru_cache(maxsize=256)
def _shared_limiter(budget: str, rate: float, priority: TemuPriority) -> SharedRateLimiter:
    return SharedRateLimiter(Budgets(), budget, rate, priority)


def temu_pacer(settings: Settings) -> Pacer:
    if settings.budgets_table:
        return _shared_limiter(TEMU_BUDGET, settings.temu_app_rate_limit, settings.temu_priority)
    return _temu_limiter(settings.temu_rate_limit)


def wholecell_pacer(settings: Settings, app_id: str) -> Pacer:
    if settings.budgets_table:
        return _shared_limiter(wholecell_budget(app_id), settings.wholecell_rate_limit, settings.temu_priority)
    return _wholecell_limiter(settings.wholecell_rate_limit)


class ConnectionNotAuthorized(Exception):
    """The connection has no Temu token yet."""


def temu_client(settings: Settings, secrets: SecretStore, connection: Connection) -> TemuClient:
    if connection.temu_mall_id is None:
        raise ConnectionNotAuthorized(f"connection {connection.connection_id} has no Temu token")
    token = secrets.connection_credentials(connection).temu
    if token is None:
        raise ConnectionNotAuthorized(f"connection {connection.connection_id} has no Temu token")
    app_key, app_secret = temu_app_credentials(settings, connection.temu_region, secrets)
    return temu_app_client(settings, secrets, connection.temu_region, connection.temu_callback_host,
                           token.access_token.get_secret_value(), app_key=app_key, app_secret=app_secret)


def temu_app_client(
    settings: Settings,
    secrets: SecretStore,
    region: str,
    gateway_host: str | None,
    access_token: str | None,
    *,
    app_key: str | None = None,
    app_secret: str | None = None,
) -> TemuClient:
    """A Temu client for a region (and a shop's callback host), with an optional token."""
    if app_key is None or app_secret is None:
        app_key, app_secret = temu_app_credentials(settings, region, secrets)
    return TemuClient(
        settings.temu_gateway(region, gateway_host),
        app_key,
        app_secret,
        access_token,
        rate_limiter=temu_pacer(settings),
        retry_policy=RetryPolicy(max_attempts=settings.max_attempts),
        timeout=settings.http_timeout_seconds,
    )


def wholecell_client(settings: Settings, secrets: SecretStore, connection: Connection) -> WholeCellClient:
    app = secrets.connection_credentials(connection).wholecell
    return wholecell_client_for(settings, app.app_id, app.app_secret.get_secret_value())


def wholecell_client_for(settings: Settings, app_id: str, app_secret: str) -> WholeCellClient:
    return WholeCellClient(
        settings.wholecell_api_url,
        app_id,
        app_secret,
        rate_limiter=wholecell_pacer(settings, app_id),
        retry_policy=RetryPolicy(max_attempts=settings.max_attempts),
        timeout=settings.http_timeout_seconds,
    )
