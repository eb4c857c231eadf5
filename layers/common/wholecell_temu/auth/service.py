"""Authorize redirect and callback: exchange the code, store the token, record the shop."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode, urlparse

from pydantic import SecretStr

from wholecell_temu.api_errors import BadRequest, NotFound
from wholecell_temu.auth.links import state_hash
from wholecell_temu.auth.state import InvalidState, verify_state
from wholecell_temu.config import TEMU_GATEWAYS
from wholecell_temu.domain.connection import Connection, missing_scopes
from wholecell_temu.domain.credentials import TemuToken
from wholecell_temu.errors import ErrorClass, ExternalApiError
from wholecell_temu.jobs import clients
from wholecell_temu.observability import logger
from wholecell_temu.secrets import ConnectionSecrets, state_signing_key, temu_app_credentials
from wholecell_temu.services import Services
from wholecell_temu.store.authorizations import UNBOUND_DAYS, AuthorizationRepository, UnboundAuthorization
from wholecell_temu.store.connections import Authorization, ConflictError
from wholecell_temu.temu.models import TokenInfo

DEFAULT_REGION = "US"  # an install whose callback names no known gateway (or any, locally)
LOCAL_MALL_TYPE = 100  # Temu mallType of Local sellers; semi-managed shops (1) are not supported
TEMU_GATEWAY_HOSTS = {urlparse(url).netloc for url in TEMU_GATEWAYS.values()}
LINK_SPENT = ("this authorization link was used already, replaced by a newer one or expired; "
              "ask the integration's operator for a new link")


@dataclass
class AuthorizationService:
    services: Services

    def authorize_url(self, state: str | None, redirect_uri: str) -> str:
        """Temu's authorization page for an admin-issued link (auth/links.py), while it is unused."""
        if not state:
            raise BadRequest("authorize links are issued by the integration's operator; ask them for a new link",
                             {"state": "required"})
        connection_id = self._verified(state)
        connection = self._require(connection_id)
        if not self.services.connections.link_is_valid(connection_id, state_hash(state), self.services.clock.time()):
            raise BadRequest(LINK_SPENT)
        app_key, _ = temu_app_credentials(self.services.settings, connection.temu_region, self.services.secrets)
        query = urlencode({"appKey": app_key, "redirect_uri": redirect_uri, "state": state})
        return f"{self.services.settings.temu_authorize_page(connection.temu_region)}?{query}"

    def callback(self, code: str | None, state: str | None, callback_host: str | None) -> Connection:
        connection_id = self._verified(state)
        if not code:
            raise BadRequest("Temu did not send an authorization code")
        connection = self._require(connection_id)
        host = self._trusted_host(callback_host)
        try:  # spent before Temu's code is exchanged: a replayed or replaced link changes nothing
            self.services.connections.consume_authorize_link(connection_id, state_hash(state or ""),
                                                             self.services.clock.time())
        except ConflictError:
            raise BadRequest(LINK_SPENT) from None
        access_token, info = self._exchange(connection.temu_region, host, code)
        if connection.temu_mall_id is not None and connection.temu_mall_id != info.mall_id:
            raise BadRequest("this connection belongs to a different Temu shop; authorize with that shop "
                             "or create a new connection")
        expires = datetime.fromtimestamp(info.expired_time, UTC) if info.expired_time else None
        authorization = Authorization(mall_id=info.mall_id, callback_host=host, token_expires_at=expires,
                                      scopes=list(info.api_scope_list),
                                      missing_scopes=missing_scopes(list(info.api_scope_list)))
        try:
            # the token joins the WholeCell credentials in the connection's one secret, as a new
            # version the item then names: readers (and their caches) move to it at once
            updated = ConnectionSecrets(self.services.secrets, self.services.connections).store_temu_token(
                connection_id, TemuToken(access_token=SecretStr(access_token)), authorization)
        except ConflictError as exc:
            raise BadRequest(str(exc)) from None
        logger.info("shop authorized", extra={"connection_id": connection_id, "mall_id": info.mall_id})
        return updated

    def install(self, code: str | None, callback_host: str | None) -> UnboundAuthorization:
        """An authorization without our state (the install started in Temu's app store): the token
        goes into a secret of its own and the install is listed for an operator to bind
        (POST /admin/connections/{id}/bind); unbound, it is swept after UNBOUND_DAYS."""
        if not code:
            raise BadRequest("the authorization link is missing its state")
        host = self._trusted_host(callback_host)
        region = next((r for r, url in TEMU_GATEWAYS.items() if urlparse(url).netloc == host), DEFAULT_REGION)
        access_token, info = self._exchange(region, host, code)
        authorization_id = uuid.uuid4().hex
        secrets = self.services.secrets
        created = secrets.create_json(secrets.name("authorizations", authorization_id),
                                      {"temu": {"access_token": access_token}})
        now = self.services.clock.now()
        unbound = UnboundAuthorization(
            authorization_id=authorization_id, mall_id=info.mall_id, temu_region=region, callback_host=host,
            token_expires_at=datetime.fromtimestamp(info.expired_time, UTC) if info.expired_time else None,
            scopes=list(info.api_scope_list), missing_scopes=missing_scopes(list(info.api_scope_list)),
            secret_arn=created.arn, created_at=now, expires_at=now + timedelta(days=UNBOUND_DAYS))
        AuthorizationRepository(self.services.clock).add(unbound)
        logger.info("unbound authorization stored", extra={"authorization_id": authorization_id,
                                                           "mall_id": info.mall_id})
        return unbound

    def _exchange(self, region: str, host: str | None, code: str) -> tuple[str, TokenInfo]:
        """Temu's code for a token and what the token is for; a Local seller shop's only."""
        settings, secrets = self.services.settings, self.services.secrets
        try:
            temu = clients.temu_app_client(settings, secrets, region, host, access_token=code)
            token = temu.create_access_token(code)
            access_token = token.access_token.get_secret_value()
            info = clients.temu_app_client(settings, secrets, region, host, access_token=access_token).token_info()
        except ExternalApiError as exc:
            logger.warning("Temu authorization failed", extra={"error": str(exc)})
            if exc.error_class in (ErrorClass.REAUTHORIZE, ErrorClass.FIX_REQUEST):
                raise BadRequest("Temu refused the authorization code (used already or expired); "
                                 "authorize again from Seller Center") from None
            raise
        if info.mall_type != LOCAL_MALL_TYPE:
            raise BadRequest("only Temu Local seller shops can be connected")
        return access_token, info

    def _trusted_host(self, callback_host: str | None) -> str | None:
        """Only Temu's own gateways may receive our signed calls (an override ignores the host)."""
        if self.services.settings.temu_gateway_url or not callback_host:
            return None
        if callback_host not in TEMU_GATEWAY_HOSTS:
            raise BadRequest(f"unknown Temu gateway {callback_host!r}")
        return callback_host

    def _require(self, connection_id: str) -> Connection:
        connection = self.services.connections.get(connection_id)
        if connection is None:
            raise NotFound(f"connection {connection_id} not found")
        return connection

    def _verified(self, state: str | None) -> str:
        try:
            return verify_state(state, self._key(), self.services.clock.time())
        except InvalidState as exc:
            raise BadRequest(str(exc)) from None

    def _key(self) -> bytes:
        return state_signing_key(self.services.settings, self.services.secrets)
