"""What the e2e modules share: connecting a shop the way a seller does, running a job and
waiting for it, and binding the in-process store to the local stack's tables."""

from __future__ import annotations

from typing import Any

from wholecell_temu.config import load_settings
from wholecell_temu.store.tables import bind_tables

from local.stack import LocalStack


def connect(stack: LocalStack, mall_id: int, wholecell: dict[str, str], name: str = "Shop") -> str:
    """Create a connection and authorize it for the shop, as the seller's browser would."""
    return stack.connect_shop(mall_id, wholecell, name)


def run_job(stack: LocalStack, connection_id: str, job: str, path: str | None = None) -> dict[str, Any]:
    """Queue a manual run (by the job-run route or `path`), deliver everything, return the run."""
    response = stack.http("POST", path or f"/admin/connections/{connection_id}/jobs/{job}/run")
    assert response.status_code == 202, response.text
    stack.drain(timeout=120)
    runs = stack.http("GET", f"/admin/connections/{connection_id}/runs?job={job}").json()["items"]
    return dict(next(r for r in runs if r["run_id"] == response.json()["run_id"]))


def run_import(stack: LocalStack, connection_id: str) -> dict[str, Any]:
    return run_job(stack, connection_id, "listing_import", f"/admin/connections/{connection_id}/listings/import")


def bind_local_tables() -> None:
    """Point the in-process PynamoDB models at the local stack's tables (names as in template.yaml)."""
    names = ["CONNECTIONS", "LISTINGS", "ORDERS", "SHIPMENTS", "INVENTORY", "RUNS", "IDEMPOTENCY", "AUTHORIZATIONS"]
    env = {f"{n}_TABLE": f"{n.title()}Table" for n in names}
    queues = ["LISTING_IMPORT", "QUANTITY_SYNC", "ORDER_IMPORT", "ADDRESS_BACKFILL", "SHIPMENT_RECONCILE", "SHIPMENT"]
    env |= {f"{q}_QUEUE_URL": "unused" for q in queues}
    bind_tables(load_settings(env | {"INTERNAL_SECRET_ARN": "unused", "TEMU_APP_KEY": "k", "TEMU_APP_SECRET": "s"}))
