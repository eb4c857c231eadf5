"""Connections table repository."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from pynamodb.exceptions import DoesNotExist, PutError, UpdateError

from wholecell_temu.domain.connection import Connection, ConnectionStatus
from wholecell_temu.domain.settings import ConnectionSettings
from wholecell_temu.net import Clock
from wholecell_temu.store._conditions import conditional_write
from wholecell_temu.store.tables import ConnectionModel


class ConflictError(Exception):
    """A conditional write lost against a concurrent change."""


class CredentialsChanged(ConflictError):
    """The connection's credentials version moved since it was read: read again and retry."""


@dataclass(frozen=True)
class Authorization:
    """What a Temu authorization records on the connection (the token itself is in its secret)."""

    mall_id: int
    callback_host: str | None
    token_expires_at: datetime | None
    scopes: list[str]
    missing_scopes: list[str]


def _to_domain(item: ConnectionModel) -> Connection:
    return Connection(
        connection_id=item.connection_id,
        name=item.name,
        status=ConnectionStatus(item.status),
        status_reason=item.status_reason,
        temu_region=item.temu_region,
        temu_mall_id=int(item.temu_mall_id) if item.temu_mall_id is not None else None,
        temu_callback_host=item.temu_callback_host,
        token_expires_at=item.token_expires_at,
        scopes=list(item.scopes or []),
        missing_scopes=list(item.missing_scopes or []),
        credentials_secret_arn=item.credentials_secret_arn,
        credentials_version=item.credentials_version,
        webhook_key_version=int(item.webhook_key_version or 1),
        webhook_previous_key_version=(int(item.webhook_previous_key_version)
                                      if item.webhook_previous_key_version is not None else None),
        webhook_previous_key_until=item.webhook_previous_key_until,
        settings=ConnectionSettings.model_validate(item.settings or {}),
        settings_version=int(item.settings_version or 0),
        catalog_size=int(item.catalog_size) if item.catalog_size is not None else None,
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
        credentials_secret_arn: str,
        credentials_version: str,
        settings: ConnectionSettings,
        expected_mall_id: int | None = None,
    ) -> Connection:
        """A connection awaiting authorization; with `expected_mall_id` it is bound to that Temu
        shop from the start, so only that shop's token is accepted (record_authorization's condition)."""
        now = self.clock.now()
        item = ConnectionModel(
            connection_id,
            name=name,
            status=ConnectionStatus.AWAITING_AUTHORIZATION.value,
            created_at=now,
            updated_at=now,
            temu_region=temu_region,
            temu_mall_id=expected_mall_id,
            credentials_secret_arn=credentials_secret_arn,
            credentials_version=credentials_version,
            webhook_key_version=1,
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

    def page(self, limit: int, cursor: str | None = None) -> tuple[list[Connection], str | None]:
        """Up to `limit` connections in table order after `cursor` (a connection id), and the next cursor."""
        result = ConnectionModel.scan(limit=limit,
                                      last_evaluated_key={"connection_id": {"S": cursor}} if cursor else None)
        items = [_to_domain(item) for item in result]
        last = result.last_evaluated_key
        return items, (str(last["connection_id"]["S"]) if last else None)

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

    def swap_credentials_version(self, connection_id: str, *, expected: str, new: str) -> Connection:
        """Point the connection at a new version of its secret if it still names `expected`."""
        item = ConnectionModel(connection_id)
        try:
            item.update(
                actions=[
                    ConnectionModel.credentials_version.set(new),
                    ConnectionModel.updated_at.set(self.clock.now()),
                ],
                condition=ConnectionModel.credentials_version == expected,
            )
        except UpdateError as exc:
            if self.get(connection_id) is None:
                raise ConflictError(f"connection {connection_id} is gone") from exc
            raise CredentialsChanged("the credentials changed concurrently") from exc
        return self._reload(connection_id)

    def record_authorization(
        self,
        connection_id: str,
        authorization: Authorization,
        *,
        expected_credentials_version: str,
        credentials_version: str,
        expected_status: ConnectionStatus | None = None,
    ) -> Connection:
        """A fresh token: the connection becomes active, bound to this mall for good, and names the
        version of its secret that holds the token, in one conditional write.

        The condition refuses a token for a different shop than the one already connected, and a
        credentials version that moved since it was read (CredentialsChanged: read again, retry).
        A connection disabled by hand stays disabled (enabling it later makes it active); a
        deleted one is refused. `expected_status` is the status read with the credentials version:
        it too must not have moved.
        """
        now = self.clock.now()
        mall_id = authorization.mall_id
        if expected_status is ConnectionStatus.DELETED:
            raise ConflictError(f"connection {connection_id} was deleted")
        if expected_status is ConnectionStatus.DISABLED:
            status_actions = [ConnectionModel.resume_status.set(ConnectionStatus.ACTIVE.value),
                              ConnectionModel.resume_reason.remove()]
        else:
            status_actions = [ConnectionModel.status.set(ConnectionStatus.ACTIVE.value),
                              ConnectionModel.status_reason.remove()]
        status_condition = (ConnectionModel.status == expected_status.value if expected_status is not None
                            else ConnectionModel.status.is_in(*_AUTHORIZABLE))
        item = ConnectionModel(connection_id)
        try:
            item.update(
                actions=[
                    *status_actions,
                    ConnectionModel.temu_mall_id.set(mall_id),
                    ConnectionModel.temu_callback_host.set(authorization.callback_host)
                    if authorization.callback_host
                    else ConnectionModel.temu_callback_host.remove(),
                    ConnectionModel.credentials_version.set(credentials_version),
                    ConnectionModel.token_expires_at.set(authorization.token_expires_at)
                    if authorization.token_expires_at
                    else ConnectionModel.token_expires_at.remove(),
                    ConnectionModel.scopes.set(authorization.scopes),
                    ConnectionModel.missing_scopes.set(authorization.missing_scopes),
                    ConnectionModel.authorized_at.set(now),
                    ConnectionModel.updated_at.set(now),
                ],
                condition=(ConnectionModel.credentials_version == expected_credentials_version)
                & status_condition
                & (ConnectionModel.temu_mall_id.does_not_exist() | (ConnectionModel.temu_mall_id == mall_id)),
            )
        except UpdateError as exc:
            current = self.get(connection_id)
            if current is None:
                raise ConflictError(f"connection {connection_id} is gone") from exc
            if current.status is ConnectionStatus.DELETED:
                raise ConflictError(f"connection {connection_id} was deleted") from exc
            if current.temu_mall_id is not None and current.temu_mall_id != mall_id:
                raise ConflictError("this connection is bound to a different Temu shop") from exc
            raise CredentialsChanged("the credentials or the status changed concurrently") from exc
        return self._reload(connection_id)

    def rotate_webhook_key(self, connection_id: str, *, expected_version: int, overlap: timedelta) -> Connection:
        """The next webhook key version; the one replaced stays valid for `overlap` (zero: not at all).

        Versions only grow, so a retired secret never becomes valid again.
        """
        item = ConnectionModel(connection_id)
        try:
            item.update(
                actions=[
                    ConnectionModel.webhook_key_version.set(expected_version + 1),
                    ConnectionModel.webhook_previous_key_version.set(expected_version)
                    if overlap > timedelta(0)
                    else ConnectionModel.webhook_previous_key_version.remove(),
                    ConnectionModel.webhook_previous_key_until.set(self.clock.now() + overlap)
                    if overlap > timedelta(0)
                    else ConnectionModel.webhook_previous_key_until.remove(),
                    ConnectionModel.updated_at.set(self.clock.now()),
                ],
                condition=ConnectionModel.connection_id.exists()
                & (ConnectionModel.webhook_key_version == expected_version),
            )
        except UpdateError as exc:
            raise ConflictError("the webhook secret was rotated concurrently; read the connection again") from exc
        return self._reload(connection_id)

    def retire_previous_webhook_key(self, connection_id: str) -> Connection:
        """End a rotation: only the current webhook key version is accepted from now on."""
        ConnectionModel(connection_id).update(
            actions=[
                ConnectionModel.webhook_previous_key_version.remove(),
                ConnectionModel.webhook_previous_key_until.remove(),
                ConnectionModel.updated_at.set(self.clock.now()),
            ],
            condition=ConnectionModel.connection_id.exists(),
        )
        return self._reload(connection_id)

    def _reload(self, connection_id: str) -> Connection:
        return _to_domain(ConnectionModel.get(connection_id, consistent_read=True))

    def mark_needs_reauthorization(self, connection_id: str, reason: str, *,
                                   credentials_version: str | None = None) -> bool:
        """Park a connection whose token Temu refused; one disabled or deleted meanwhile stays so.

        `credentials_version`: the credentials the refused call used. A re-authorization that
        stored a new token since (another version) is not undone by a run still holding the old,
        revoked one: nothing is parked and False is returned."""
        condition = ConnectionModel.status.is_in(ConnectionStatus.ACTIVE.value,
                                                 ConnectionStatus.NEEDS_REAUTHORIZATION.value)
        if credentials_version is not None:
            condition &= ConnectionModel.credentials_version == credentials_version
        with conditional_write() as write:
            ConnectionModel(connection_id).update(
                actions=[
                    ConnectionModel.status.set(ConnectionStatus.NEEDS_REAUTHORIZATION.value),
                    ConnectionModel.status_reason.set(reason),
                    ConnectionModel.updated_at.set(self.clock.now()),
                ],
                condition=condition,
            )
        return not write.failed

    # ------------------------------------------------------------------ authorize links
    def issue_authorize_link(self, connection_id: str, state_hash: str, expires: int) -> Connection:
        """Remember the one valid authorize link (the hash of its state); any earlier one stops working."""
        try:
            ConnectionModel(connection_id).update(
                actions=[
                    ConnectionModel.authorize_state_hash.set(state_hash),
                    ConnectionModel.authorize_state_expires.set(expires),
                    ConnectionModel.updated_at.set(self.clock.now()),
                ],
                condition=ConnectionModel.connection_id.exists()
                & (ConnectionModel.status != ConnectionStatus.DELETED.value),
            )
        except UpdateError as exc:
            raise ConflictError(f"connection {connection_id} is gone or deleted") from exc
        return self._reload(connection_id)

    def link_is_valid(self, connection_id: str, state_hash: str, now: float) -> bool:
        """Whether this is the connection's outstanding, unexpired authorize link (a read, no change)."""
        try:
            item = ConnectionModel.get(connection_id, consistent_read=True)
        except DoesNotExist:
            return False
        return (item.status != ConnectionStatus.DELETED.value and item.authorize_state_hash == state_hash
                and item.authorize_state_expires is not None and now <= item.authorize_state_expires)

    def consume_authorize_link(self, connection_id: str, state_hash: str, now: float) -> None:
        """Spend the authorize link (one conditional write): a second use, a replaced or an expired
        link raises ConflictError and changes nothing."""
        try:
            ConnectionModel(connection_id).update(
                actions=[ConnectionModel.authorize_state_hash.remove(),
                         ConnectionModel.authorize_state_expires.remove()],
                condition=(ConnectionModel.authorize_state_hash == state_hash)
                & (ConnectionModel.authorize_state_expires >= int(now))
                & (ConnectionModel.status != ConnectionStatus.DELETED.value),
            )
        except UpdateError as exc:
            raise ConflictError("this authorization link was used already, replaced by a newer one or "
                                "expired; ask for a new link") from exc

    def record_catalog_size(self, connection_id: str, size: int) -> None:
        """What the listing import read (fan-out's order); not a change of the connection, so
        `updated_at` stays. A deleted connection's item is left alone."""
        with conditional_write():
            ConnectionModel(connection_id).update(
                actions=[ConnectionModel.catalog_size.set(size)],
                condition=ConnectionModel.connection_id.exists()
                & (ConnectionModel.status != ConnectionStatus.DELETED.value),
            )

    # ------------------------------------------------------------------ lifecycle
    def disable(self, connection_id: str, reason: str | None = None) -> Connection:
        """Stop a connection by hand (jobs skip it); enabling restores the status it had."""
        for _ in range(5):
            item = self._item(connection_id)
            if item.status == ConnectionStatus.DISABLED.value:
                return _to_domain(item)
            if item.status == ConnectionStatus.DELETED.value:
                raise ConflictError(f"connection {connection_id} was deleted")
            try:
                item.update(
                    actions=[
                        ConnectionModel.status.set(ConnectionStatus.DISABLED.value),
                        ConnectionModel.status_reason.set(reason or "disabled by an operator"),
                        ConnectionModel.resume_status.set(item.status),
                        ConnectionModel.resume_reason.set(item.status_reason)
                        if item.status_reason else ConnectionModel.resume_reason.remove(),
                        ConnectionModel.updated_at.set(self.clock.now()),
                    ],
                    condition=ConnectionModel.status == item.status,
                )
            except UpdateError:
                continue
            return self._reload(connection_id)
        raise ConflictError(f"the status of connection {connection_id} changed concurrently; try again")

    def enable(self, connection_id: str) -> Connection:
        """Undo `disable`: the status it had (active if it was authorized meanwhile)."""
        for _ in range(5):
            item = self._item(connection_id)
            if item.status == ConnectionStatus.DELETED.value:
                raise ConflictError(f"connection {connection_id} was deleted")
            if item.status != ConnectionStatus.DISABLED.value:
                return _to_domain(item)
            resume = item.resume_status or (ConnectionStatus.ACTIVE.value if item.authorized_at
                                            else ConnectionStatus.AWAITING_AUTHORIZATION.value)
            try:
                item.update(
                    actions=[
                        ConnectionModel.status.set(resume),
                        ConnectionModel.status_reason.set(item.resume_reason)
                        if item.resume_reason else ConnectionModel.status_reason.remove(),
                        ConnectionModel.resume_status.remove(),
                        ConnectionModel.resume_reason.remove(),
                        ConnectionModel.updated_at.set(self.clock.now()),
                    ],
                    condition=(ConnectionModel.status == ConnectionStatus.DISABLED.value)
                    & (ConnectionModel.resume_status == item.resume_status if item.resume_status
                       else ConnectionModel.resume_status.does_not_exist()),
                )
            except UpdateError:
                continue
            return self._reload(connection_id)
        raise ConflictError(f"the status of connection {connection_id} changed concurrently; try again")

    def mark_deleted(self, connection_id: str) -> Connection:
        """Make the item a tombstone (status `deleted`): jobs, fan-out and the webhook treat it as
        gone, while its id keeps the kept order and shipment records attributable."""
        now = self.clock.now()
        try:
            ConnectionModel(connection_id).update(
                actions=[
                    ConnectionModel.status.set(ConnectionStatus.DELETED.value),
                    ConnectionModel.status_reason.set("deleted by an operator"),
                    ConnectionModel.resume_status.remove(),
                    ConnectionModel.resume_reason.remove(),
                    ConnectionModel.authorize_state_hash.remove(),
                    ConnectionModel.authorize_state_expires.remove(),
                    ConnectionModel.deleted_at.set(now),
                    ConnectionModel.updated_at.set(now),
                ],
                condition=ConnectionModel.connection_id.exists()
                & (ConnectionModel.status != ConnectionStatus.DELETED.value),
            )
        except UpdateError as exc:
            raise ConflictError(f"connection {connection_id} is gone or deleted already") from exc
        return self._reload(connection_id)

    def _item(self, connection_id: str) -> ConnectionModel:
        try:
            return ConnectionModel.get(connection_id, consistent_read=True)
        except DoesNotExist:
            raise ConflictError(f"connection {connection_id} is gone") from None


# statuses a token may be recorded on (a disabled one keeps its status; a deleted one is refused)
_AUTHORIZABLE = (ConnectionStatus.AWAITING_AUTHORIZATION.value, ConnectionStatus.ACTIVE.value,
                 ConnectionStatus.NEEDS_REAUTHORIZATION.value)
