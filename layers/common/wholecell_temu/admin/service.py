"""Connection lifecycle operations behind the admin API (no HTTP here)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic import SecretStr, ValidationError

from wholecell_temu.admin.models import (
    AuthorizeLinkResponse,
    ConnectionView,
    CreateConnectionRequest,
    CreateConnectionResponse,
    DeletedConnection,
    JobHealth,
    RunView,
    SettingsRequest,
    SettingsResponse,
    SettingsWarning,
    TemuShop,
    WebhookKeys,
    WebhookSecretResponse,
    WholeCellCredentials,
)
from wholecell_temu.api_errors import BadRequest, NotFound, UpstreamUnavailable
from wholecell_temu.auth.links import issue_authorize_link
from wholecell_temu.domain.connection import Connection, ConnectionStatus
from wholecell_temu.domain.credentials import WholeCellApp
from wholecell_temu.domain.quantities import closed_statuses_counted
from wholecell_temu.domain.settings import JOBS, ConnectionSettings, closest_title
from wholecell_temu.domain.shipstation import shipstation_problems
from wholecell_temu.errors import ErrorClass, ExternalApiError
from wholecell_temu.jobs import clients
from wholecell_temu.queues import enqueue
from wholecell_temu.secrets import ConnectionSecrets, webhook_secret
from wholecell_temu.services import Services
from wholecell_temu.store.runs import Outcome, Run
from wholecell_temu.temu import TemuClient
from wholecell_temu.wholecell import SalesOrderStatus, WholeCellClient

WholeCellFactory = Callable[[str, str], WholeCellClient]
# Days Secrets Manager keeps a deleted connection's secret restorable (`restore-secret`), 7 to 30
SECRET_RECOVERY_DAYS = 30


def _field_errors(exc: ValidationError, prefix: str = "") -> dict[str, str]:
    fields: dict[str, str] = {}
    for err in exc.errors():
        path = ".".join(str(part) for part in err["loc"]) or "body"
        fields[prefix + path] = err["msg"]
    return fields


def parse_settings(body: Any) -> SettingsRequest:
    """A settings body given as JSON data (the HTTP route's arrives validated by the Event Handler)."""
    if not isinstance(body, dict):
        raise BadRequest("settings must be a JSON object")
    try:
        return SettingsRequest.model_validate(body)
    except ValidationError as exc:
        raise BadRequest("invalid settings", _field_errors(exc)) from None


@dataclass
class ConnectionService:
    services: Services
    wholecell_factory: WholeCellFactory | None = None
    temu_factory: Callable[[Connection], TemuClient] | None = None

    def _wholecell(self, app_id: str, app_secret: str) -> WholeCellClient:
        if self.wholecell_factory is not None:
            return self.wholecell_factory(app_id, app_secret)
        return clients.wholecell_client_for(self.services.settings, app_id, app_secret)

    def _credentials(self, connection: Connection) -> tuple[str, str]:
        app = self.services.secrets.connection_credentials(connection).wholecell
        return app.app_id, app.app_secret.get_secret_value()

    @property
    def _writer(self) -> ConnectionSecrets:
        return ConnectionSecrets(self.services.secrets, self.services.connections)

    def wholecell_for(self, connection_id: str) -> WholeCellClient:
        return self._wholecell(*self._credentials(self.require(connection_id)))

    def temu_for(self, connection: Connection) -> TemuClient:
        """A Temu client with the shop's token (ConnectionNotAuthorized when it has none)."""
        if self.temu_factory is not None:
            return self.temu_factory(connection)
        return clients.temu_client(self.services.settings, self.services.secrets, connection)

    def require(self, connection_id: str, *, deleted: bool = False) -> Connection:
        """The connection; a deleted one (a tombstone) only when `deleted` (else 404, like an unknown one)."""
        connection = self.services.connections.get(connection_id)
        if connection is None:
            raise NotFound(f"connection {connection_id} not found")
        if connection.status is ConnectionStatus.DELETED and not deleted:
            raise NotFound(f"connection {connection_id} was deleted")
        return connection

    # ------------------------------------------------------------------ create / read
    def create(self, request: CreateConnectionRequest, base_url: str) -> CreateConnectionResponse:
        settings = request.settings or ConnectionSettings()
        wholecell = self._wholecell(request.wholecell.app_id, request.wholecell.app_secret)
        warnings = self.check_against_wholecell(settings, wholecell, prefix="settings.")
        connection_id = uuid.uuid4().hex
        secret = webhook_secret(self.services.settings, self.services.secrets, connection_id, 1)
        created = self._writer.create(connection_id, _app(request.wholecell))
        self.services.connections.create(
            connection_id=connection_id, name=request.name, temu_region=request.temu_region,
            credentials_secret_arn=created.arn, credentials_version=created.version_id, settings=settings,
            expected_mall_id=request.expected_mall_id,
        )
        link = issue_authorize_link(self.services, connection_id, base_url)
        return CreateConnectionResponse(
            connection_id=connection_id,
            authorize_url=link.url,
            authorize_url_expires_at=link.expires_at,
            webhook_url=_webhook_url(base_url, connection_id),
            webhook_secret=secret,
            warnings=warnings,
        )

    def authorize_link(self, connection_id: str, base_url: str) -> AuthorizeLinkResponse:
        """A new single-use authorize link (10 minutes); the connection's earlier link stops working."""
        self.require(connection_id)
        link = issue_authorize_link(self.services, connection_id, base_url)
        return AuthorizeLinkResponse(authorize_url=link.url, expires_at=link.expires_at)

    # ------------------------------------------------------------------ lifecycle
    def disable(self, connection_id: str) -> ConnectionView:
        self.require(connection_id)
        return self.view(self.services.connections.disable(connection_id))

    def enable(self, connection_id: str) -> ConnectionView:
        self.require(connection_id)
        return self.view(self.services.connections.enable(connection_id))

    def delete(self, connection_id: str) -> DeletedConnection:
        """Schedule the connection's secret for deletion, then make its item a tombstone.

        In that order, so a failure leaves a live connection the operator can delete again (a
        secret already scheduled stays so). Listings, orders and shipments stay in their tables.
        """
        connection = self.require(connection_id)
        deletion = self.services.secrets.schedule_deletion(connection.credentials_secret_arn,
                                                           SECRET_RECOVERY_DAYS)
        self.services.connections.mark_deleted(connection_id)
        return DeletedConnection(connection_id=connection_id, status="deleted", secret_deletion_date=deletion,
                                 records_kept=["listings", "orders", "shipments"])

    # ------------------------------------------------------------------ credentials
    def replace_wholecell(self, connection_id: str, credentials: WholeCellCredentials) -> ConnectionView:
        """New WholeCell API App credentials, checked against WholeCell with the current settings."""
        connection = self.require(connection_id)
        self.check_against_wholecell(connection.settings,
                                     self._wholecell(credentials.app_id, credentials.app_secret))
        return self.view(self._writer.replace_wholecell(connection_id, _app(credentials)))

    def rotate_webhook_secret(self, connection_id: str, overlap_hours: int, base_url: str) -> WebhookSecretResponse:
        """The next webhook signing secret, shown once; the replaced one stays valid `overlap_hours`."""
        connection = self.require(connection_id)
        rotated = self.services.connections.rotate_webhook_key(
            connection_id, expected_version=connection.webhook_key_version, overlap=timedelta(hours=overlap_hours))
        return WebhookSecretResponse(
            webhook_url=_webhook_url(base_url, connection_id),
            webhook_secret=webhook_secret(self.services.settings, self.services.secrets, connection_id,
                                          rotated.webhook_key_version),
            key_version=rotated.webhook_key_version,
            previous_key_version=rotated.webhook_previous_key_version,
            previous_valid_until=rotated.webhook_previous_key_until,
        )

    def retire_previous_webhook_secret(self, connection_id: str) -> ConnectionView:
        self.require(connection_id)
        return self.view(self.services.connections.retire_previous_webhook_key(connection_id))

    def view(self, connection: Connection, last_runs: dict[tuple[str, str], Run] | None = None) -> ConnectionView:
        """`last_runs`: RunLog.last_finished for a page of connections (read here when not given)."""
        if last_runs is None:
            last_runs = self.services.runs.last_finished([connection.connection_id])
        health = {}
        for job in JOBS:
            run = last_runs.get((connection.connection_id, job))
            health[job] = JobHealth(last_run_at=(run.ended_at or run.started_at) if run else None,
                                    last_outcome=run.outcome.value if run else None,
                                    last_reason=run.reason if run else None)
        return ConnectionView(
            connection_id=connection.connection_id,
            name=connection.name,
            status=connection.status.value,
            status_reason=connection.status_reason,
            temu=TemuShop(
                mall_id=connection.temu_mall_id,
                region=connection.temu_region,
                gateway=self.services.settings.temu_gateway(connection.temu_region, connection.temu_callback_host),
                token_expires_at=connection.token_expires_at,
                days_to_token_expiry=(None if connection.token_expires_at is None else
                                      round(connection.days_to_token_expiry(self.services.clock.now()) or 0, 2)),
                scopes=connection.scopes,
                missing_scopes=connection.missing_scopes,
            ),
            webhook=WebhookKeys(key_version=connection.webhook_key_version,
                                previous_key_version=connection.webhook_previous_key_version,
                                previous_valid_until=connection.webhook_previous_key_until),
            settings=connection.settings,
            health=health,
        )

    # ------------------------------------------------------------------ settings
    def replace_settings(self, connection_id: str, body: SettingsRequest | dict[str, Any]) -> SettingsResponse:
        connection = self.require(connection_id)
        request = body if isinstance(body, SettingsRequest) else parse_settings(body)
        settings = request.to_settings()  # `warnings` is output only: a response sent back as it came is accepted
        if (settings.inventory_sync_enabled and not connection.settings.inventory_sync_enabled
                and not request.confirm_initial_push):
            raise BadRequest(
                "turning inventory sync on overwrites Temu quantities at the next run; "
                "send confirm_initial_push: true (a dry run shows beforehand what would be pushed)",
                {"confirm_initial_push": "required when inventory_sync_enabled turns on"},
            )
        warnings = self.check_against_wholecell(settings, self._wholecell(*self._credentials(connection)))
        stored = self.services.connections.replace_settings(connection_id, settings, connection.settings_version)
        return SettingsResponse.model_validate({**stored.settings.model_dump(), "warnings": warnings})

    def check_against_wholecell(self, settings: ConnectionSettings, wholecell: WholeCellClient,
                                prefix: str = "") -> list[SettingsWarning]:
        """Every title in the settings must exist in WholeCell exactly (case-sensitive), and with
        `shipstation_sync` the ShipStation set-up must let Temu orders flow (domain.shipstation).

        Raises BadRequest naming each wrong field; returns the warnings of a set-up that works."""
        fields: dict[str, str] = {}
        lookups = _Lookups(wholecell)

        def check(field: str, titles: Iterable[str], existing: list[str] | None) -> None:
            if existing is None:  # the lookup is not available on this account: configuration wins
                return
            for title in titles:
                if title not in existing:
                    hint = closest_title(title, existing)
                    fields[prefix + field] = f"{title!r} does not exist in WholeCell" + (
                        f"; closest existing: {hint!r}" if hint else "") + f"; {_valid_titles(existing)}"
                    return

        order_statuses = lookups.get("sales_order_statuses")
        check("inventory_statuses", settings.inventory_statuses, lookups.get("inventory_statuses"))
        check("warehouses", settings.warehouses or [], lookups.get("warehouses"))
        check("outstanding_order_statuses", settings.outstanding_order_statuses or [], order_statuses)
        check("order_status_map", settings.order_status_map.values(), order_statuses)
        warnings: list[SettingsWarning] = []
        if settings.shipstation_sync:  # the rule names a missing channel itself, with the ShipStation fix
            problems = shipstation_problems(settings, lookups.order_statuses, lookups.get("sales_channels"))
            for problem in problems:
                key = prefix + problem.field
                if problem.severity == "warning":
                    warnings.append(SettingsWarning(field=key, message=problem.message))
                elif problem.kind != "unknown_status":  # the title check above named it
                    fields[key] = f"{fields[key]}; {problem.message}" if key in fields else problem.message
        else:
            check("sales_channel", [settings.sales_channel], lookups.get("sales_channels"))
        warnings += [SettingsWarning(field=prefix + "outstanding_order_statuses", message=warning)
                     for warning in _closed_outstanding(settings, lookups.order_statuses)]
        if fields:
            raise BadRequest("settings do not match the WholeCell account", fields)
        return warnings

    # ------------------------------------------------------------------ runs
    def queue_run(self, connection_id: str, job: str, trigger: str = "manual", target: str | None = None) -> str:
        if job not in JOBS:
            raise NotFound(f"unknown job {job!r}; jobs: {', '.join(JOBS)}")
        connection = self.require(connection_id)
        run = self.services.runs.create(connection.connection_id, job, trigger, Outcome.QUEUED)
        enqueue(self.services, job, connection.connection_id, trigger=trigger, queued_key=run.queued_key,
                target=target)
        return run.run_id

    def runs(self, connection_id: str, job: str | None) -> list[RunView]:
        if job is not None and job not in JOBS:
            raise BadRequest(f"unknown job {job!r}", {"job": f"one of {', '.join(JOBS)}"})
        self.require(connection_id)
        return [
            RunView(run_id=r.run_id, job=r.job, trigger=r.trigger, started_at=r.started_at, ended_at=r.ended_at,
                    outcome=r.outcome.value, counts=r.counts, reason=r.reason)
            for r in self.services.runs.list(connection_id, job)
        ]


def _app(credentials: WholeCellCredentials) -> WholeCellApp:
    return WholeCellApp(app_id=credentials.app_id, app_secret=SecretStr(credentials.app_secret))


def _closed_outstanding(settings: ConnectionSettings, statuses: list[SalesOrderStatus] | None) -> list[str]:
    """Closed statuses that would count as outstanding (domain.quantities.closed_statuses_counted):
    the settings' outstanding statuses or, when they name none, WholeCell's open ones, as the
    quantity sync counts them; WholeCell's `open` flags when the account has them. Only statuses
    closed on their own: a Temu state mapped to an outstanding status is the diagnosis's to tell."""
    if settings.outstanding_order_statuses is not None:
        outstanding = list(settings.outstanding_order_statuses)
    elif statuses is not None:
        outstanding = [s.title for s in statuses if s.open]
    else:
        return []  # no flags and no list: which statuses count is not known here
    closed = None if statuses is None else [s.title for s in statuses if not s.open]
    return [f"{warning}: such an order would keep holding stock back after it left; take the status out of "
            "outstanding_order_statuses (or mark it not open in WholeCell)"
            for warning in closed_statuses_counted(settings, outstanding, closed, temu_mapped=False)]


def _webhook_url(base_url: str, connection_id: str) -> str:
    return f"{base_url}/wholecell/{connection_id}/shipments"


class _Lookups:
    """WholeCell title lookups, each read once; None when the account has no such endpoint."""

    def __init__(self, wholecell: WholeCellClient) -> None:
        self.wholecell = wholecell
        self.cache: dict[str, list[str] | None] = {}
        self.order_statuses: list[SalesOrderStatus] | None = None  # with their flags, once read

    def get(self, name: str) -> list[str] | None:
        if name not in self.cache:
            self.cache[name] = self._read(name)
        return self.cache[name]

    def _read(self, name: str) -> list[str] | None:
        try:
            if name == "sales_order_statuses":
                self.order_statuses = self.wholecell.sales_order_statuses()
                return [s.title for s in self.order_statuses]
            if name == "inventory_statuses":
                return [s.title for s in self.wholecell.inventory_statuses()]
            if name == "warehouses":
                return [w.name for w in self.wholecell.warehouses()]
            return [c.title for c in self.wholecell.sales_channels()]
        except ExternalApiError as exc:
            if exc.error_class is ErrorClass.FIX_REQUEST and exc.status == 404:
                return None
            if exc.error_class is ErrorClass.REAUTHORIZE:
                raise BadRequest("WholeCell rejected the API credentials",
                                 {"wholecell": "check the API App's id, secret and permissions"}) from None
            raise UpstreamUnavailable(f"WholeCell could not be reached: {exc}") from None


VALID_TITLES_SHOWN = 20


def _valid_titles(existing: list[str]) -> str:
    """The titles the account has (what a wrong one can be replaced with), the first 20 of them."""
    shown = ", ".join(repr(title) for title in existing[:VALID_TITLES_SHOWN])
    more = len(existing) - VALID_TITLES_SHOWN
    return f"valid: {shown}" + (f" and {more} more" if more > 0 else "") if existing else "the account has none"
