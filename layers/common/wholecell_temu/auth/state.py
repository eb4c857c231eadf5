"""OAuth `state`: an HMAC-signed, expiring token that binds the callback to a connection."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets

STATE_TTL_SECONDS = 600


class InvalidState(ValueError):
    """The state is missing, forged, malformed or expired."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def issue_state(connection_id: str, key: bytes, now: float, ttl: int = STATE_TTL_SECONDS) -> str:
    payload = _b64(json.dumps({"c": connection_id, "e": int(now) + ttl, "n": secrets.token_hex(8)},
                              separators=(",", ":")).encode())
    mac = _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())
    return f"{payload}.{mac}"


def verify_state(state: str | None, key: bytes, now: float) -> str:
    """Return the connection id the state binds, or raise InvalidState."""
    if not state or state.count(".") != 1:
        raise InvalidState("the authorization link is missing its state")
    payload, mac = state.split(".")
    expected = _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(expected.encode(), mac.encode()):  # bytes: a non-ASCII str would raise
        raise InvalidState("the authorization link was not issued by this integration")
    try:
        data = json.loads(_unb64(payload))
        connection_id, expires = str(data["c"]), int(data["e"])
    except (ValueError, KeyError, TypeError):
        raise InvalidState("the authorization link is malformed") from None
    if now > expires:
        raise InvalidState("the authorization link expired; start again from the integration")
    return connection_id
