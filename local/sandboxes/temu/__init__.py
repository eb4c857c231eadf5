"""Temu Open API sandbox (local development and tests only; never deployed).

`serve()` starts it on a background thread; `python -m local.sandboxes.temu --port N`
runs it in the foreground. `server.state` is the `SandboxState` for in-process seeding.
"""

from __future__ import annotations

from local.sandboxes.common import RunningServer
from local.sandboxes.temu.app import create_app
from local.sandboxes.temu.state import DEFAULT_APP_KEY, DEFAULT_APP_SECRET, SandboxError, SandboxState


def serve(
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    app_keys: dict[str, str] | None = None,
    rate_limit: float | None = None,
    seed: int | None = None,
) -> RunningServer:
    """Serve a fresh sandbox; port 0 picks a free port (see `server.url`)."""
    state = SandboxState(app_keys=app_keys, rate_limit=rate_limit, seed=seed)
    return RunningServer(create_app(state), host, port, state=state)


__all__ = ["DEFAULT_APP_KEY", "DEFAULT_APP_SECRET", "SandboxError", "SandboxState", "create_app", "serve"]
