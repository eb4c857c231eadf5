"""Authorize links: issued by the admin API only, valid once, for STATE_TTL_SECONDS.

A link is `<api>/temu/authorize?state=<signed state>`. The state is signed and expires
(auth/state.py) and carries a random nonce; the connection item stores the SHA-256 of the
state and its expiry (one outstanding link per connection: a new one replaces it). The
authorize route sends the seller on to Temu only while the link is the outstanding one, and
the callback spends it with a conditional write before it exchanges Temu's code, so a link
(or a state seen in a redirect) is good for one authorization, by whoever the operator sent it to.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlencode

from wholecell_temu.auth.state import STATE_TTL_SECONDS, issue_state
from wholecell_temu.secrets import state_signing_key
from wholecell_temu.services import Services


@dataclass(frozen=True)
class AuthorizeLink:
    url: str
    expires_at: datetime


def state_hash(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def issue_authorize_link(services: Services, connection_id: str, base_url: str) -> AuthorizeLink:
    """A new single-use authorize link for the connection (any earlier one stops working)."""
    now = services.clock.time()
    state = issue_state(connection_id, state_signing_key(services.settings, services.secrets), now)
    expires = int(now) + STATE_TTL_SECONDS
    services.connections.issue_authorize_link(connection_id, state_hash(state), expires)
    return AuthorizeLink(url=f"{base_url}/temu/authorize?{urlencode({'state': state})}",
                         expires_at=datetime.fromtimestamp(expires, UTC))
