"""`GET /admin/connections` on moto's DynamoDB: paginated (limit + cursor), and each page's run
health is batch-read (no query per connection and job)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import parse_qsl

import pytest
from moto import mock_aws
from wholecell_temu.admin.api import build_app
from wholecell_temu.admin.service import ConnectionService
from wholecell_temu.config import load_settings
from wholecell_temu.domain.settings import JOBS, ConnectionSettings
from wholecell_temu.net import Clock
from wholecell_temu.services import Services
from wholecell_temu.store.connections import ConnectionRepository
from wholecell_temu.store.runs import Outcome, RunLog
from wholecell_temu.store.tables import ConnectionModel, RunModel, bind_tables

from tests.integration.test_quantity_sync_job import ENV


@pytest.fixture
def services() -> Iterator[Services]:
    with mock_aws():
        settings = load_settings(ENV)
        bind_tables(settings)
        for model in (ConnectionModel, RunModel):
            model.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
        clock = Clock()
        yield Services(settings, ConnectionRepository(clock), RunLog(30, clock), None, clock)  # type: ignore[arg-type]


def get(app: Any, query: str = "") -> tuple[int, dict[str, Any]]:
    params = dict(parse_qsl(query))
    event = {"version": "2.0", "routeKey": "GET /admin/connections", "rawPath": "/admin/connections",
             "rawQueryString": query, "queryStringParameters": params or None, "headers": {}, "isBase64Encoded": False,
             "requestContext": {"http": {"method": "GET", "path": "/admin/connections", "protocol": "HTTP/1.1",
                                         "sourceIp": "203.0.113.1", "userAgent": "t"}, "requestId": "r",
                                "stage": "$default", "routeKey": "GET /admin/connections", "accountId": "1",
                                "apiId": "a", "domainName": "example", "domainPrefix": "example", "time": "x",
                                "timeEpoch": 0}}
    answer = app.resolve(event, None)
    return int(answer["statusCode"]), json.loads(answer["body"])


def test_connections_are_listed_in_pages_with_their_health_batch_read(
        services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    ids = [f"c{n:02d}" for n in range(7)]
    for connection_id in ids:
        services.connections.create(connection_id=connection_id, name=connection_id, temu_region="US",
                                    credentials_secret_arn="arn", credentials_version="v",
                                    settings=ConnectionSettings())
    for job in JOBS:
        services.runs.finish(services.runs.create("c03", job, "manual"), Outcome.SUCCEEDED)
    services.runs.finish(services.runs.create("c03", "order_import", "manual"), Outcome.FAILED, reason="x")
    services.runs.create("c03", "order_import", "manual")  # queued, not finished: health shows the last finished

    queries: list[Any] = []
    original_query = RunModel.query

    def query(*a: Any, **k: Any) -> Any:
        queries.append(a)
        return original_query(*a, **k)

    monkeypatch.setattr(RunModel, "query", query)
    batch_reads: list[int] = []
    original_batch = RunModel.batch_get

    def batch_get(keys: Iterable[Any], *args: Any, **kwargs: Any) -> Any:
        keys = list(keys)
        batch_reads.append(len(keys))
        return original_batch(keys, *args, **kwargs)

    monkeypatch.setattr(RunModel, "batch_get", batch_get)

    app = build_app(lambda: ConnectionService(services))
    seen: list[str] = []
    cursor, pages = None, 0
    while True:
        status, body = get(app, "limit=3" + (f"&cursor={cursor}" if cursor else ""))
        assert status == 200, body
        assert len(body["items"]) <= 3
        seen += [item["connection_id"] for item in body["items"]]
        for item in body["items"]:
            if item["connection_id"] == "c03":
                assert {job: h["last_outcome"] for job, h in item["health"].items()} == {
                    job: ("failed" if job == "order_import" else "succeeded") for job in JOBS}
            else:
                assert all(h["last_outcome"] is None for h in item["health"].values())
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == ids and len(seen) == len(set(seen)) and pages >= 3
    assert queries == []  # no query per connection and job
    assert len(batch_reads) == pages and all(n <= 3 * len(JOBS) for n in batch_reads)
    assert get(app, "limit=0")[0] == 400 and get(app, "limit=1000")[0] == 400
    assert get(app, "cursor=\u00b2")[0] == 400
