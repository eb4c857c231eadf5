"""Hostile input, as an attacker would send it: per public route (the shipment webhook, the Temu
authorize redirect and callback) and the admin routes, forged, replayed, truncated, oversized,
wrongly typed and non-ASCII requests. Every one is refused with a 4xx (never a 5xx; bulk connect
answers 200 with every row rejected), and none of
them changes anything: every table's items (of BudgetsTable, the request schedules, which exist),
every queue's depth and the secrets are the same before and after. The counts per route and kind
are printed (`pytest -s`)."""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote, urlparse

import pytest
import requests
from wholecell_temu.wholecell.adapter import sign_webhook

from local.stack import LocalStack
from tests.e2e.helpers import run_import

WHOLECELL = {"app_id": "hostile-app", "app_secret": "hostile-secret"}
EVENT = {"event": "sales_order.shipment_created", "event_id": "evt_hostile", "occurred_at": "2026-01-02T20:21:04Z",
         "sales_order_id": 5, "shipment": {"id": 9, "carrier": "USPS", "tracking_number": "94001",
                                           "shipped_at": "2026-01-02T20:20:00Z", "items": []}}
BIG = 200 * 1024  # over csv's 128 KB field limit and the webhook's 64 KB body limit


@dataclass
class Attack:
    route: str
    kind: str  # forged | replayed | truncated | oversized | wrongly typed | non-ASCII
    send: Callable[[], requests.Response]


@pytest.fixture(scope="module")
def target(stack: LocalStack) -> Iterator[dict[str, Any]]:
    """An authorized connection with imported listings, one of them pooling two WholeCell SKUs."""
    assert stack.wholecell is not None and stack.temu is not None
    stack.wholecell.state.create_account(WHOLECELL["app_id"], WHOLECELL["app_secret"], skus=["H-1", "H-2"])
    shop = stack.temu.state.create_shop(region="US", goods=[{"goodsName": "Hostile", "skus": [
        {"skuSn": "X-1", "stock": 0, "status": "active"}, {"skuSn": "X-2", "stock": 0, "status": "active"}]}])
    created = stack.create_connection(WHOLECELL, "Hostile")
    cid = created["connection_id"]
    stack.authorize(cid, shop["mallId"])
    assert run_import(stack, cid)["outcome"] == "succeeded"
    pooled = next(i for i in stack.http("GET", f"/admin/connections/{cid}/listings").json()["items"]
                  if i["seller_sku"] == "X-1")
    connected = stack.http("PUT", f"/admin/connections/{cid}/listings/{pooled['temu_sku_id']}/connection",
                           json={"skus": [{"sku": "H-1"}, {"sku": "H-2"}]})
    assert connected.status_code == 200, connected.text
    yield {**created, "pooled_sku_id": pooled["temu_sku_id"]}


def snapshot(stack: LocalStack) -> tuple[dict[str, int], str]:
    """Item counts per table and messages per queue, and a digest of every item, queue and secret.

    BudgetsTable holds no state but the shared request schedules (jobs/budgets.py): a refused
    request that had to call out to find out it is wrong (the code exchange of an install from
    Temu's app store, a WholeCell credential or sales-channel check, an order looked up on Temu)
    books that request there. Which budgets exist is compared, not how far ahead they are booked.
    """
    dynamodb, sqs, secrets = stack.client("dynamodb"), stack.client("sqs"), stack.client("secretsmanager")
    schedules = stack.template.tables["BudgetsTable"].name
    counts: dict[str, int] = {}
    digest = hashlib.sha256()
    for table in sorted(dynamodb.list_tables()["TableNames"]):
        items: list[str] = []
        for page in dynamodb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True):
            items.extend(json.dumps(item["budget"] if table == schedules else item, sort_keys=True, default=str)
                         for item in page["Items"])
        counts[f"table {table}"] = len(items)
        digest.update("\n".join([table, *sorted(items)]).encode())
    for logical_id, url in sorted(stack.queue_urls.items()):
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        depth = sum(int(attributes.get(name, 0)) for name in (
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed"))
        counts[f"queue {logical_id}"] = depth
        digest.update(f"{logical_id}={depth}".encode())
    listed = [(s["Name"], sorted((s.get("SecretVersionsToStages") or {}).items()))
              for page in secrets.get_paginator("list_secrets").paginate() for s in page["SecretList"]]
    counts["secrets"] = len(listed)
    digest.update(json.dumps(sorted(listed), default=str).encode())
    return counts, digest.hexdigest()


def webhook_attacks(stack: LocalStack, target: dict[str, Any]) -> list[Attack]:
    cid, secret = target["connection_id"], target["webhook_secret"].encode()
    url = f"{stack.api_url}/wholecell/{cid}/shipments"
    body = json.dumps(EVENT).encode()

    def post(data: bytes, timestamp: str | bytes | None = None, signature: str | bytes | None = None,
             path_id: str | None = None, signed_over: bytes | None = None) -> Callable[[], requests.Response]:
        def send() -> requests.Response:
            stamp = timestamp if timestamp is not None else str(int(time.time()))
            text_stamp = stamp.decode("latin-1") if isinstance(stamp, bytes) else stamp
            sig = signature if signature is not None else sign_webhook(
                secret, text_stamp, data if signed_over is None else signed_over)
            headers: dict[str, str | bytes] = {"Content-Type": "application/json", "X-WholeCell-Timestamp": stamp,
                                               "X-WholeCell-Signature": sig}
            target_url = url if path_id is None else f"{stack.api_url}/wholecell/{quote(path_id)}/shipments"
            return requests.post(target_url, data=data, headers=headers, timeout=60)  # type: ignore[arg-type]
        return send

    def event(**changes: Any) -> bytes:
        return json.dumps({**EVENT, **changes}).encode()

    stale = str(int(time.time()) - 3600)
    route = "POST /wholecell/{id}/shipments"
    attacks = [
        ("forged", post(body, signature=sign_webhook(b"whsec_guessed", str(int(time.time())), body))),
        ("forged", post(body, signature="v1=" + "0" * 64)),
        ("forged", post(body, signature="")),
        ("forged", post(body, signature=sign_webhook(secret, str(int(time.time())), body),
                        path_id="0" * 32)),  # a real signature, sent to another (unknown) connection
        ("forged", post(event(sales_order_id=6), signed_over=body)),  # body swapped under a valid signature
        ("replayed", post(body, timestamp=stale)),  # signed correctly an hour ago
        ("replayed", post(body, timestamp=str(int(time.time()) + 3600))),  # from the future
        ("truncated", post(body[: len(body) // 2], signed_over=body)),
        ("truncated", post(body[: len(body) // 2])),  # signed as truncated: not JSON
        ("truncated", post(b"")),
        ("oversized", post(event(event_id="x" * BIG))),
        ("oversized", post(body, signature="v1=" + "a" * 8000)),
        ("oversized", post(body, path_id="c" * 500)),
        ("wrongly typed", post(event(sales_order_id="five"))),
        ("wrongly typed", post(event(sales_order_id=-1))),
        ("wrongly typed", post(json.dumps([EVENT]).encode())),
        ("wrongly typed", post(b"null")),
        ("wrongly typed", post(event(event="sales_order.created"))),
        ("wrongly typed", post(body, timestamp="1e9")),
        ("non-ASCII", post(body, signature="v1=é".encode())),
        ("non-ASCII", post(body, timestamp="²".encode())),
        ("non-ASCII", post(body, timestamp="١٧٦٧٣٨٥٢٦٤".encode())),
        ("non-ASCII", post(body, signature="v1=ü😀".encode())),
        ("non-ASCII", post("{\"event\": \"é\u0000\"}".encode())),
        ("non-ASCII", post(b"\xff\xfe\x00garbage")),  # signed, but not UTF-8
        ("non-ASCII", post(body, path_id="é²😀")),
    ]
    return [Attack(route, kind, send) for kind, send in attacks]


def oauth_attacks(stack: LocalStack, target: dict[str, Any]) -> list[Attack]:
    issued = parse_qs(urlparse(str(target.get("authorize_url", ""))).query).get("state", [""])[0]

    def get(path: str, **params: str) -> Callable[[], requests.Response]:
        return lambda: requests.get(f"{stack.api_url}{path}", params=params, allow_redirects=False, timeout=60)

    forged_state = "eyJjIjoiYWJjIiwiZSI6OTk5OTk5OTk5OX0.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    authorize, callback = "GET /temu/authorize", "GET /temu/callback"
    attacks = [
        (authorize, "forged", get("/temu/authorize", state=forged_state)),
        (authorize, "forged", get("/temu/authorize", connection_id=str(target["connection_id"]))),
        (authorize, "truncated", get("/temu/authorize")),
        (authorize, "truncated", get("/temu/authorize", state=forged_state[:20])),
        (authorize, "oversized", get("/temu/authorize", state="a." + "b" * 8000)),
        (authorize, "wrongly typed", get("/temu/authorize", state="123")),
        (authorize, "non-ASCII", get("/temu/authorize", state="é.é")),
        (authorize, "non-ASCII", get("/temu/authorize", state="²." + "²" * 43)),
        (callback, "forged", get("/temu/callback", code="stolen-code", state=forged_state)),
        (callback, "forged", get("/temu/callback", code="c", state=forged_state, callback_host="evil.example")),
        (callback, "truncated", get("/temu/callback")),
        (callback, "truncated", get("/temu/callback", code="c")),
        (callback, "oversized", get("/temu/callback", code="c" * 8000, state="s." + "t" * 8000)),
        (callback, "wrongly typed", get("/temu/callback", code="c", state="[1,2]")),
        (callback, "non-ASCII", get("/temu/callback", code="c", state="é.é")),
        (callback, "non-ASCII", get("/temu/callback", code="ü😀", state=forged_state)),
        (callback, "non-ASCII", get("/temu/callback", code="c", state=forged_state, callback_host="²")),
    ]
    if issued.count(".") == 1:  # the creation answer's link (replaced since): replayed, tampered with, truncated
        payload, mac = issued.split(".")
        attacks += [
            (authorize, "replayed", get("/temu/authorize", state=issued)),
            (callback, "replayed", get("/temu/callback", code="c", state=issued)),
            (authorize, "forged", get("/temu/authorize", state=f"{payload}.{mac[::-1]}")),
            (authorize, "truncated", get("/temu/authorize", state=issued[:-3])),
            (callback, "forged", get("/temu/callback", code="c", state=f"{payload[:-2]}AA.{mac}")),
            (callback, "truncated", get("/temu/callback", code="c", state=issued[:-3])),
            (callback, "non-ASCII", get("/temu/callback", code="c", state=issued[:-1] + "é")),
        ]
    return [Attack(route, kind, send) for route, kind, send in attacks]


def admin_attacks(stack: LocalStack, target: dict[str, Any]) -> list[Attack]:
    cid = target["connection_id"]
    base = f"{stack.api_url}/admin/connections"

    def call(method: str, path: str, *, json_body: Any = None, data: bytes | str | None = None,
             params: dict[str, str] | None = None, content_type: str = "application/json"
             ) -> Callable[[], requests.Response]:
        def send() -> requests.Response:
            payload = json.dumps(json_body).encode() if json_body is not None else data
            return requests.request(method, f"{base}{path}", data=payload, params=params, timeout=60,
                                    headers={"Content-Type": content_type})
        return send

    valid = {"name": "X", "temu_region": "US", "wholecell": WHOLECELL}
    csv_type = "text/csv"
    attacks = [
        ("POST /admin/connections", "wrongly typed", call("POST", "", json_body={**valid, "name": 123})),
        ("POST /admin/connections", "wrongly typed", call("POST", "", json_body={**valid, "temu_region": "XX"})),
        ("POST /admin/connections", "wrongly typed", call("POST", "", json_body=[valid])),
        ("POST /admin/connections", "wrongly typed", call("POST", "", json_body={**valid, "admin": True})),
        ("POST /admin/connections", "truncated", call("POST", "", data=json.dumps(valid)[:30])),
        ("POST /admin/connections", "truncated", call("POST", "", json_body={"name": "X"})),
        ("POST /admin/connections", "oversized", call("POST", "", json_body={**valid, "name": "n" * BIG})),
        ("POST /admin/connections", "forged", call("POST", "", json_body={
            **valid, "wholecell": {"app_id": "hostile-app", "app_secret": "guessed"}})),
        ("POST /admin/connections", "non-ASCII", call("POST", "", json_body={
            **valid, "wholecell": {"app_id": "é😀", "app_secret": "²"}})),
        ("POST /admin/connections", "non-ASCII", call("POST", "", data=b"\xff\xfe{\"name\"")),
        ("GET /admin/connections/{id}", "non-ASCII", call("GET", "/é²😀")),
        ("GET /admin/connections/{id}", "oversized", call("GET", "/" + "c" * 2000)),
        ("PUT .../settings", "oversized", call("PUT", "/" + "c" * 3000 + "/settings", json_body={})),
        ("PUT .../settings", "wrongly typed", call("PUT", f"/{cid}/settings", json_body={"quantity_buffer": "x"})),
        ("PUT .../settings", "wrongly typed", call("PUT", f"/{cid}/settings", json_body="settings")),
        ("PUT .../settings", "truncated", call("PUT", f"/{cid}/settings", data='{"order_import_enabled": tr')),
        ("PUT .../settings", "non-ASCII", call("PUT", f"/{cid}/settings", json_body={"sales_channel": "Témù²"})),
        ("PUT .../settings", "non-ASCII", call("PUT", f"/{cid}/settings", data=b"\xc3\x28")),
        ("PUT .../wholecell", "wrongly typed", call("PUT", f"/{cid}/wholecell", json_body={"app_id": 1})),
        ("PUT .../wholecell", "non-ASCII", call("PUT", f"/{cid}/wholecell",
                                                json_body={"app_id": "é", "app_secret": "ü"})),
        ("PUT .../wholecell", "forged", call("PUT", f"/{cid}/wholecell",
                                             json_body={"app_id": "hostile-app", "app_secret": "guessed"})),
        ("POST .../webhook-secret", "wrongly typed", call("POST", f"/{cid}/webhook-secret",
                                                          json_body={"overlap_hours": "perhaps"})),
        ("POST .../webhook-secret", "non-ASCII", call("POST", "/é/webhook-secret", json_body={})),
        ("POST .../jobs/{job}/run", "wrongly typed", call("POST", f"/{cid}/jobs/no_such_job/run")),
        ("POST .../jobs/{job}/run", "non-ASCII", call("POST", f"/{cid}/jobs/é²/run")),
        ("GET .../runs", "non-ASCII", call("GET", f"/{cid}/runs", params={"job": "é"})),
        ("GET .../listings", "non-ASCII", call("GET", f"/{cid}/listings", params={"cursor": "²"})),
        ("GET .../listings", "wrongly typed", call("GET", f"/{cid}/listings", params={"connected": "perhaps"})),
        ("GET .../listings", "oversized", call("GET", f"/{cid}/listings", params={"q": "q" * 5000})),
        ("GET .../listings/{sku}", "non-ASCII", call("GET", f"/{cid}/listings/²")),
        ("GET .../listings/{sku}", "wrongly typed", call("GET", f"/{cid}/listings/abc")),
        ("GET .../listings/{sku}", "oversized", call("GET", f"/{cid}/listings/{10 ** 40}")),
        ("GET .../listings/{sku}/diagnosis", "non-ASCII", call("GET", f"/{cid}/listings/²/diagnosis")),
        ("PUT .../listings/{sku}/connection", "wrongly typed", call("PUT", f"/{cid}/listings/1/connection",
                                                                    json_body={"skus": "H-1"})),
        ("DELETE .../listings/{sku}/connection", "non-ASCII", call("DELETE", f"/{cid}/listings/é/connection")),
        ("POST .../listings/connections", "oversized", call(
            "POST", f"/{cid}/listings/connections", content_type=csv_type,
            data="temu_sku_id,wholecell_sku\n1," + "x" * BIG + "\n")),
        ("POST .../listings/connections", "truncated", call(
            "POST", f"/{cid}/listings/connections", content_type=csv_type, data='temu_sku_id,wholecell_sku\n1,"H-')),
        ("POST .../listings/connections", "non-ASCII", call(
            "POST", f"/{cid}/listings/connections", content_type=csv_type, data=b"\xff\xfetemu_sku_id\n\x00")),
        ("POST .../listings/connections", "non-ASCII", call(
            "POST", f"/{cid}/listings/connections", content_type=csv_type,
            data="temu_sku_id,wholecell_sku,factor\n²,H-1,²\n")),
        ("POST .../listings/connections", "forged", call(  # one good row, one bad: the pool must stay A+B
            "POST", f"/{cid}/listings/connections", content_type=csv_type,
            data=f"temu_sku_id,wholecell_sku\n{target['pooled_sku_id']},H-1\n{target['pooled_sku_id']},NOPE\n")),
        ("POST .../listings/connections", "wrongly typed", call(
            "POST", f"/{cid}/listings/connections", content_type=csv_type, params={"dry_run": "perhaps"},
            data="temu_sku_id,wholecell_sku\n1,H-1\n")),
        ("GET .../orders/{sn}", "non-ASCII", call("GET", f"/{cid}/orders/PO-é²")),
        ("GET .../orders/{sn}", "oversized", call("GET", f"/{cid}/orders/{'P' * 3000}")),
        ("POST .../orders/{sn}/reimport", "oversized", call("POST", f"/{cid}/orders/{'P' * 3000}/reimport")),
        ("POST .../orders/{sn}/shipments/resend", "non-ASCII", call("POST", f"/{cid}/orders/é/shipments/resend")),
    ]
    return [Attack(route, kind, send) for route, kind, send in attacks]


def applied_nothing(attack: Attack, response: requests.Response) -> bool:
    """Bulk connect answers 200 with a result per row and listing: refused when nothing applies."""
    if not attack.route.endswith("/listings/connections") or response.status_code != 200:
        return False
    result = response.json()
    return bool(result["applied"] == 0 and result["rows"]
                and all(r["status"] in ("rejected", "not_applied") for r in result["rows"])
                and all(listing["status"] == "unchanged" for listing in result["listings"]))


def test_hostile_input_is_refused_and_changes_nothing(stack: LocalStack, target: dict[str, Any]) -> None:
    attacks = [*webhook_attacks(stack, target), *oauth_attacks(stack, target), *admin_attacks(stack, target)]
    stack.drain(timeout=120)
    before_counts, before = snapshot(stack)
    answers: Counter[tuple[str, str, int]] = Counter()
    server_errors, accepted = [], []
    for attack in attacks:
        response = attack.send()
        answers[(attack.route, attack.kind, response.status_code)] += 1
        if response.status_code >= 500:
            server_errors.append(f"{attack.route} [{attack.kind}] -> {response.status_code}: {response.text[:200]}")
        elif response.status_code < 400 and not applied_nothing(attack, response):
            accepted.append(f"{attack.route} [{attack.kind}] -> {response.status_code}: {response.text[:200]}")
    stack.drain(timeout=120)
    after_counts, after = snapshot(stack)

    by_kind = Counter(attack.kind for attack in attacks)
    print(f"\n{len(attacks)} hostile requests; by kind: {dict(sorted(by_kind.items()))}")
    for (route, kind, status), n in sorted(answers.items()):
        print(f"  {route:42} {kind:14} {status}: {n}")
    print("state before and after (items per table, messages per queue, secrets):")
    for name in sorted(before_counts):
        print(f"  {name:36} {before_counts[name]:5} -> {after_counts.get(name)}")

    assert not server_errors, "\n".join(server_errors)
    assert not accepted, "\n".join(accepted)
    assert after_counts == before_counts and after == before, "a refused request changed state"
