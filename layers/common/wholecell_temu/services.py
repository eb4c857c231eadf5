"""The process-wide services every function shares: settings, connections, the run log, secrets, the clock.

Built once per cold start, on first use (not at import, so tests can set the environment first).
Producers (the webhook, the admin API, the OAuth service) and the job consumers alike take them
from here; nothing in this module talks to Temu or WholeCell.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from wholecell_temu.config import Settings, get_settings
from wholecell_temu.net import Clock
from wholecell_temu.secrets import SecretStore
from wholecell_temu.store.connections import ConnectionRepository
from wholecell_temu.store.runs import RunLog
from wholecell_temu.store.tables import bind_tables


@dataclass
class Services:
    """Process-wide collaborators, built once per cold start."""

    settings: Settings
    connections: ConnectionRepository
    runs: RunLog
    secrets: SecretStore
    clock: Clock = field(default_factory=Clock)

    @classmethod
    def from_env(cls, clock: Clock | None = None) -> Services:
        settings = get_settings()
        bind_tables(settings)
        clock = clock or Clock()
        return cls(settings, ConnectionRepository(clock), RunLog(settings.run_log_retention_days, clock),
                   SecretStore(settings.secret_prefix), clock)

    @classmethod
    def cached(cls) -> Services:
        """The process's services, built on first use (not at import, so tests can set env first)."""
        if "services" not in _SERVICES:
            _SERVICES["services"] = cls.from_env()
        return _SERVICES["services"]


_SERVICES: dict[str, Services] = {}
