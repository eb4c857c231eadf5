"""App-store installs (authorizations that arrived without our state): list, sweep, bind.

The OAuth callback stored each one's token in `<prefix>/authorizations/<id>` and recorded it in
the Authorizations table. An operator binds one to a connection: the token moves into the
connection's one secret through ConnectionSecrets (the same compare-and-swap and shop checks as an
authorization by link), then the install's secret is deleted. Installs not bound within
UNBOUND_DAYS are swept, secret and item, whenever installs are listed or one is bound.
"""

from __future__ import annotations

import json
from datetime import datetime

from botocore.exceptions import ClientError
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from wholecell_temu.admin.models import ConnectionView
from wholecell_temu.admin.service import ConnectionService
from wholecell_temu.api_errors import BadRequest, NotFound
from wholecell_temu.domain.credentials import TemuToken
from wholecell_temu.observability import logger
from wholecell_temu.secrets import ConnectionSecrets
from wholecell_temu.store.authorizations import AuthorizationRepository, UnboundAuthorization
from wholecell_temu.store.connections import Authorization


class UnboundAuthorizationView(BaseModel):
    authorization_id: str
    mall_id: int
    temu_region: str
    token_expires_at: datetime | None
    missing_scopes: list[str]
    received_at: datetime
    expires_at: datetime  # swept (token deleted) if not bound by then


class AuthorizationList(BaseModel):
    items: list[UnboundAuthorizationView]
    swept: int  # expired installs this call deleted


class BindRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    authorization_id: str = Field(min_length=1, max_length=64, pattern=r"^[0-9a-f]+$")


def _view(authorization: UnboundAuthorization) -> UnboundAuthorizationView:
    return UnboundAuthorizationView(
        authorization_id=authorization.authorization_id, mall_id=authorization.mall_id,
        temu_region=authorization.temu_region, token_expires_at=authorization.token_expires_at,
        missing_scopes=authorization.missing_scopes, received_at=authorization.created_at,
        expires_at=authorization.expires_at)


def _delete_secret(service: ConnectionService, arn: str) -> None:
    """An install's token secret goes at once (a copy of a token is not worth a recovery window)."""
    try:
        service.services.secrets.client.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ResourceNotFoundException":
            raise


def sweep(service: ConnectionService, repository: AuthorizationRepository) -> list[UnboundAuthorization]:
    """Delete the expired installs (secret first, then item); the ones still waiting."""
    now = service.services.clock.now()
    waiting = []
    for authorization in repository.all():
        if authorization.expires_at > now:
            waiting.append(authorization)
            continue
        _delete_secret(service, authorization.secret_arn)
        repository.delete(authorization.authorization_id)
        logger.info("expired authorization swept", extra={"authorization_id": authorization.authorization_id})
    return waiting


def list_authorizations(service: ConnectionService) -> AuthorizationList:
    repository = AuthorizationRepository(service.services.clock)
    before = len(repository.all())
    waiting = sweep(service, repository)
    return AuthorizationList(items=[_view(a) for a in waiting], swept=before - len(waiting))


def bind(service: ConnectionService, connection_id: str, authorization_id: str) -> ConnectionView:
    connection = service.require(connection_id)
    repository = AuthorizationRepository(service.services.clock)
    waiting = {a.authorization_id: a for a in sweep(service, repository)}
    pending = waiting.get(authorization_id)
    if pending is None:
        raise NotFound(f"authorization {authorization_id} is not waiting to be bound (bound already or expired)")
    if pending.temu_region != connection.temu_region:
        raise BadRequest(f"authorization {authorization_id} is for Temu region {pending.temu_region}, "
                         f"the connection for {connection.temu_region}")
    if connection.temu_mall_id is not None and connection.temu_mall_id != pending.mall_id:
        raise BadRequest(f"this connection belongs to a different Temu shop than {pending.mall_id}")
    document = json.loads(service.services.secrets.client.get_secret_value(
        SecretId=pending.secret_arn)["SecretString"])
    token = TemuToken(access_token=SecretStr(str(document["temu"]["access_token"])))
    taken = repository.take(authorization_id)  # once: a concurrent bind of the same install gets 409
    try:
        bound = ConnectionSecrets(service.services.secrets, service.services.connections).store_temu_token(
            connection_id, token, Authorization(mall_id=taken.mall_id, callback_host=taken.callback_host,
                                                token_expires_at=taken.token_expires_at, scopes=taken.scopes,
                                                missing_scopes=taken.missing_scopes))
    except Exception:
        repository.restore(taken)  # still waiting: nothing was bound
        raise
    _delete_secret(service, taken.secret_arn)
    logger.info("authorization bound", extra={"authorization_id": authorization_id, "connection_id": connection_id,
                                              "mall_id": taken.mall_id})
    return service.view(bound)
