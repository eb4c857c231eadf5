"""WholeCell API sandbox for local runs and tests (never deployed)."""

from local.sandboxes.wholecell.app import create_app, serve
from local.sandboxes.wholecell.state import SandboxError, WholeCellState

__all__ = ["SandboxError", "WholeCellState", "create_app", "serve"]
