"""Authorization: tokens and one-time codes (admin), resolving a call's token, and the
access-token APIs."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any

from local.sandboxes.temu.rooms.records import (
    CODE_TTL_SECONDS,
    TOKEN_TTL_SECONDS,
    CodeRecord,
    SandboxError,
    Shop,
    TokenRecord,
)
from local.sandboxes.temu.rooms.world import World


class AuthRoom(World):
    def _forget(self) -> None:
        super()._forget()
        self.tokens: dict[str, TokenRecord] = {}
        self.codes: dict[str, CodeRecord] = {}

    # --- admin: tokens and codes ----------------------------------------------------------------

    def issue_token(
        self,
        mall_id: int,
        *,
        scopes: list[str] | None = None,
        app_key: str | None = None,
        expires_in: int = TOKEN_TTL_SECONDS,
    ) -> str:
        """A new token for the shop; it replaces (revokes) the shop's earlier tokens for that app."""
        with self.lock:
            self._shop(mall_id)
            app_key = app_key or next(iter(self.app_keys))
            for old in self.tokens.values():
                if old.mall_id == mall_id and old.app_key == app_key:
                    old.revoked = True
            token = "upl" + secrets.token_hex(26)
            self.tokens[token] = TokenRecord(
                token=token,
                mall_id=mall_id,
                app_key=app_key,
                scopes=list(scopes if scopes is not None else self.api_types),
                expired_time=self.now() + expires_in,
            )
            return token

    def current_token(self, mall_id: int) -> str | None:
        with self.lock:
            live = [t for t in self.tokens.values() if t.mall_id == mall_id and not t.revoked]
            return live[-1].token if live else None

    def expire_token(self, token: str, expired_time: int | None = None) -> None:
        with self.lock:
            self.tokens[token].expired_time = expired_time if expired_time is not None else self.now() - 1

    def revoke_token(self, token: str) -> None:
        with self.lock:
            self.tokens[token].revoked = True

    def issue_code(
        self,
        mall_id: int,
        *,
        scopes: list[str] | None = None,
        app_key: str | None = None,
        expires_in: float = CODE_TTL_SECONDS,
    ) -> str:
        """A one-time authorization code, as Seller Center issues after the seller authorizes."""
        with self.lock:
            self._shop(mall_id)
            code = secrets.token_hex(16)
            self.codes[code] = CodeRecord(
                code=code,
                mall_id=mall_id,
                app_key=app_key or next(iter(self.app_keys)),
                scopes=list(scopes if scopes is not None else self.api_types),
                expires_at=time.time() + expires_in,
            )
            return code

    def authenticate(self, api_type: str, app_key: str, token: str | None) -> Shop:
        """Resolve the shop behind a token (or, for token creation, behind the one-time code)."""
        if not token:
            raise SandboxError(3000030, "access_token is missing")
        if api_type == "bg.open.accesstoken.create":
            code = self.codes.get(token)
            if code is None:
                raise SandboxError(110020002, "Invalid code, please check and try again")
            return self._shop(code.mall_id)
        record = self.tokens.get(token)
        if record is None:
            raise SandboxError(3000031, "access_token is invalid")
        if record.app_key != app_key:
            raise SandboxError(3000033, "access_token does not belong to this app_key")
        if record.revoked or record.expired_time <= self.now():
            raise SandboxError(3000034, "access_token is expired or have been refreshed, please re-authorize")
        if api_type not in record.scopes:
            raise SandboxError(3000032, "access_token don't have this api access")
        return self._shop(record.mall_id)

    # --- API: authorization ---------------------------------------------------------------------

    def _token_info(self, shop: Shop, record: TokenRecord) -> dict[str, Any]:
        return {
            "mallId": shop.mall_id,
            "regionId": shop.region_id,
            "mallType": shop.mall_type,
            "expiredTime": record.expired_time,
            "apiScopeList": list(record.scopes),
            "appSubscribeEventCodeList": [],
            "appSubscribeStatus": 1,
            "authEventCodeList": [],
            "semiUniqueId": None,
        }

    def api_token_create(self, shop: Shop, body: dict[str, Any]) -> dict[str, Any]:
        code = self.codes.get(str(body.get("code") or ""))
        if (
            code is None
            or code.used
            or code.expires_at < time.time()
            or code.code != body.get("access_token")
            or code.app_key != body.get("app_key")
        ):
            raise SandboxError(110020002, "Invalid code, please check and try again")
        code.used = True
        token = self.issue_token(code.mall_id, scopes=code.scopes, app_key=code.app_key)
        return {
            "accessToken": token,
            **self._token_info(shop, self.tokens[token]),
            "associatedMallTokenList": [],
        }

    def api_token_info(self, shop: Shop, body: dict[str, Any]) -> dict[str, Any]:
        return self._token_info(shop, self.tokens[str(body["access_token"])])


AUTH_API: dict[str, Callable[[AuthRoom, Shop, dict[str, Any]], Any]] = {
    "bg.open.accesstoken.create": AuthRoom.api_token_create,
    "bg.open.accesstoken.info.get": AuthRoom.api_token_info,
}
