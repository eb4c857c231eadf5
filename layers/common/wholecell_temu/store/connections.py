"""Connections table repository."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from pynamodb.exceptions import DoesNotExist, PutError, UpdateError

from wholecell_temu.domain.connection import Connection, ConnectionStatus
from wholecell_temu.domain.settings import ConnectionSettings
from wholecell_temu.net import Clock
from wholecell_temu.store.tables import ConnectionModel


class ConflictError(Exception):
    """A conditional write lost against a concurrent change."""


def _to_domain(item: ConnectionModel) -> Connection:
    return Connection(
        connection_id=item.connection_id,
        name=item.name,
        status=ConnectionStatus(item.status),
        status_reason=item.status_reason,
        temu_region=item.temu_region,
        temu_mall_id=int(item.temu_mall_id) if item.temu_mall_id is not None else None,
        temu_callback_host=item.temu_callback_host,
        token_secret_arn=item.token_secret_arn,
        token_expires_at=item.token_expires_at,
        scopes=list(item.scopes or []),
        missing_scopes=list(item.missing_scopes or []),
        wholecell_secret_arn=item.wholecell_secret_arn,
        webhook_secret_arn=item.webhook_secret_arn,
        settings=ConnectionSettings.model_validate(item.settings or {}),
        settings_version=int(item.settings_version or 0),
        created_at=item.created_at,
        updated_at=item.updated_at,
    )


class ConnectionRepository:
    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or Clock()

    def create(
        self,
        *,
        connection_id: str,
        name: str,
        temu_region: str,
        wholecell_secret_arn: str,
        webhook_secret_arn: str,
        settings: ConnectionSettings,
    ) -> Connection:
        now = self.clock.now()
        item = ConnectionModel(
            connection_id,
            name=name,
            status=ConnectionStatus.AWAITING_AUTHORIZATION.value,
            created_at=now,
            updated_at=now,
            temu_region=temu_region,
            wholecell_secret_arn=wholecell_secret_arn,
            webhook_secret_arn=webhook_secret_arn,
            settings=settings.model_dump(mode="json"),
            settings_version=1,
        )
        try:
            item.save(condition=ConnectionModel.connection_id.does_not_exist())
        except PutError as exc:
            raise ConflictError(f"connection {connection_id} already exists") from exc
        return _to_domain(item)

    def get(self, connection_id: str) -> Connection | None:
        try:
            return _to_domain(ConnectionModel.get(connection_id, consistent_read=True))
        except DoesNotExist:
            return None

    def all(self) -> list[Connection]:
        return sorted((_to_domain(item) for item in ConnectionModel.scan()), key=lambda c: c.created_at)

    def iter_active(self) -> Iterator[Connection]:
        for item in ConnectionModel.scan(ConnectionModel.status == ConnectionStatus.ACTIVE.value):
            yield _to_domain(item)

    def replace_settings(self, connection_id: str, settings: ConnectionSettings, expected_version: int) -> Connection:
        """Store new settings if nobody changed them since `expected_version` was read."""
        item = ConnectionModel(connection_id)
        try:
            item.update(
                actions=[
                    ConnectionModel.settings.set(settings.model_dump(mode="json")),
                    ConnectionModel.settings_version.set(expected_version + 1),
                    ConnectionModel.updated_at.set(self.clock.now()),
                ],
                condition=(ConnectionModel.settings_version == expected_version),
            )
        except UpdateError as exc:
            raise ConflictError("settings changed concurrently; read them again") from exc
        return _to_domain(ConnectionModel.get(connection_id, consistent_read=True))

    def record_authorization(
        self,
        connection_id: str,
        *,
        mall_id: int,
        callback_host: str | None,
        token_secret_arn: str,
        token_expires_at: datetime | None,
        scopes: list[str],
        missing_scopes: list[str],
    ) -> Connection:
        """A fresh token: the connection becomes active, bound to this mall for good.

        The condition refuses a token for a different shop than the one already connected.
        """
        now = self.clock.now()
        item = ConnectionModel(connection_id)
        try:
            item.update(
                actions=[
                    ConnectionModel.status.set(ConnectionStatus.ACTIVE.value),
                    ConnectionModel.status_reason.remove(),
                    ConnectionModel.temu_mall_id.set(mall_id),
                    ConnectionModel.temu_callback_host.set(callback_host)
                    if callback_host
                    else ConnectionModel.temu_callback_host.remove(),
                    ConnectionModel.token_secret_arn.set(token_secret_arn),
                    ConnectionModel.token_expires_at.set(token_expires_at)
                    if token_expires_at
                    else ConnectionModel.token_expires_at.remove(),
                    ConnectionModel.scopes.set(scopes),
                    ConnectionModel.missing_scopes.set(missing_scopes),
                    ConnectionModel.authorized_at.set(now),
                    ConnectionModel.updated_at.set(now),
                ],
                condition=ConnectionModel.connection_id.exists()
                & (ConnectionModel.temu_mall_id.does_not_exist() | (ConnectionModel.temu_mall_id == mall_id)),
            )
        except UpdateError as exc:
            raise ConflictError("this connection is bound to a different Temu shop") from exc
        return _to_domain(ConnectionModel.get(connection_id, consistent_read=True))

    def mark_needs_reauthorization(self, connection_id: str, reason: str) -> None:
        ConnectionModel(connection_id).update(
            actions=[
                ConnectionModel.status.set(ConnectionStatus.NEEDS_REAUTHORIZATION.value),
                ConnectionModel.status_reason.set(reason),
                ConnectionModel.updated_at.set(self.clock.now()),
            ],
            condition=ConnectionModel.connection_id.exists(),
        )
