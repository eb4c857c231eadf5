"""Unbound authorizations: app-store installs waiting for an operator to bind them to a connection."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from pynamodb.exceptions import DeleteError, DoesNotExist, PutError

from wholecell_temu.net import Clock
from wholecell_temu.store.connections import ConflictError
from wholecell_temu.store.tables import AuthorizationModel

UNBOUND_DAYS = 7  # an install not bound within this long is swept (token secret and item)
PURGE_AFTER_DAYS = 30  # DynamoDB's TTL backstop, after the sweep had its chance


@dataclass(frozen=True)
class UnboundAuthorization:
    authorization_id: str
    mall_id: int
    temu_region: str
    callback_host: str | None
    token_expires_at: datetime | None
    scopes: list[str]
    missing_scopes: list[str]
    secret_arn: str
    created_at: datetime
    expires_at: datetime


def _to_domain(item: AuthorizationModel) -> UnboundAuthorization:
    return UnboundAuthorization(
        authorization_id=item.authorization_id, mall_id=int(item.mall_id), temu_region=item.temu_region,
        callback_host=item.callback_host, token_expires_at=item.token_expires_at, scopes=list(item.scopes or []),
        missing_scopes=list(item.missing_scopes or []), secret_arn=item.secret_arn, created_at=item.created_at,
        expires_at=item.expires_at,
    )


class AuthorizationRepository:
    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or Clock()

    def add(self, authorization: UnboundAuthorization) -> None:
        """Record an install (PutItem only: the OAuth function may do nothing else here)."""
        item = AuthorizationModel(
            authorization.authorization_id, mall_id=authorization.mall_id, temu_region=authorization.temu_region,
            callback_host=authorization.callback_host, token_expires_at=authorization.token_expires_at,
            scopes=authorization.scopes, missing_scopes=authorization.missing_scopes,
            secret_arn=authorization.secret_arn, created_at=authorization.created_at,
            expires_at=authorization.expires_at,
            purge_at=authorization.expires_at + timedelta(days=PURGE_AFTER_DAYS - UNBOUND_DAYS),
        )
        try:
            item.save(condition=AuthorizationModel.authorization_id.does_not_exist())
        except PutError as exc:
            raise ConflictError(f"authorization {authorization.authorization_id} exists") from exc

    def restore(self, authorization: UnboundAuthorization) -> None:
        """Put back an authorization a failed bind took."""
        self.add(authorization)

    def all(self) -> list[UnboundAuthorization]:
        """Every recorded install, expired ones included (the caller sweeps those)."""
        return sorted((_to_domain(item) for item in AuthorizationModel.scan(consistent_read=True)),
                      key=lambda a: a.created_at)

    def get(self, authorization_id: str) -> UnboundAuthorization | None:
        try:
            return _to_domain(AuthorizationModel.get(authorization_id, consistent_read=True))
        except DoesNotExist:
            return None

    def take(self, authorization_id: str) -> UnboundAuthorization:
        """Remove an unexpired authorization to bind it, once (a conditional delete): a second
        bind, or one of an expired authorization, raises ConflictError."""
        try:
            item = AuthorizationModel.get(authorization_id, consistent_read=True)
        except DoesNotExist:
            raise ConflictError(f"authorization {authorization_id} is not waiting to be bound") from None
        try:
            item.delete(condition=AuthorizationModel.authorization_id.exists()
                        & (AuthorizationModel.expires_at > self.clock.now()))
        except DeleteError as exc:
            raise ConflictError(f"authorization {authorization_id} was bound already or expired") from exc
        return _to_domain(item)

    def delete(self, authorization_id: str) -> None:
        AuthorizationModel(authorization_id).delete()
