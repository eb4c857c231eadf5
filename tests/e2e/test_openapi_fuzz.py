"""Bad input: schemathesis drives every documented HTTP route on the local stack (the admin API,
the Temu authorize redirect and callback, WholeCell's shipment webhook) with generated requests,
strings drawn from all of Unicode (NUL included): schema-valid ones, where every answer matches
the document (status code documented, body conforming), and schema-violating ones, where no answer
is a 5xx. Hypothesis also aims straight at the public routes' signed inputs (OAuth state,
webhook signature and timestamp) with arbitrary text."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from local.stack import LocalStack

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
EXAMPLES = 12
# No 5xx, and every answer as documented. Schema-valid requests may still be refused (400):
# titles and credentials are checked against WholeCell, which no schema can express.
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance]


def test_every_route_answers_within_its_document(stack: LocalStack) -> None:
    schema = schemathesis.openapi.from_path(DOCUMENT)
    schema.config.generation.update(codec="utf-8", allow_x00=True)  # any Unicode, not ASCII only
    failures: dict[str, str] = {}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 17
    assert {"GET /temu/authorize", "GET /temu/callback", "POST /wholecell/{connection_id}/shipments"} <= {
        operation.label for operation in operations}
    for operation in operations:
        for mode, checks in ((GenerationMode.POSITIVE, CHECKS), (GenerationMode.NEGATIVE, [not_a_server_error])):
            try:
                fuzz(operation.as_strategy(generation_mode=mode), stack.api_url, checks)()
            except Unsatisfiable:  # negative mode: nothing in the operation can violate its schema
                assert mode is GenerationMode.NEGATIVE, operation.label
            except Exception as exc:
                failures[f"{operation.label} ({mode.value})"] = f"{type(exc).__name__}: {str(exc)[:1500]}"
    assert not failures, "\n\n".join(f"{label}\n{text}" for label, text in failures.items())


def fuzz(strategy: Any, api_url: str, checks: list[Any]) -> Any:
    """A hypothesis test calling the API with the strategy's cases and running `checks` on each answer."""

    @given(case=strategy)
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    def check(case: Case) -> None:
        case.call_and_validate(base_url=api_url, timeout=30, checks=checks)

    return check


TEXT = st.text(max_size=60)  # every Unicode category, surrogates aside
# what an HTTP client can put in a header at all: no CR/LF, no leading whitespace
HEADER_TEXT = TEXT.map(lambda text: text.replace("\r", "").replace("\n", "").lstrip())


@given(payload=TEXT, mac=TEXT, code=TEXT, host=st.none() | TEXT)
@settings(max_examples=40, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
def test_oauth_routes_refuse_any_state_with_a_4xx(stack: LocalStack, payload: str, mac: str, code: str,
                                                 host: str | None) -> None:
    state = f"{payload}.{mac}"  # the shape a signed state has, so the signature check is reached
    for path, params in (("/temu/authorize", {"state": state}),
                         ("/temu/callback", {"code": code, "state": state, "callback_host": host})):
        answer = requests.get(stack.api_url + path, params=params, allow_redirects=False, timeout=30)
        assert 400 <= answer.status_code < 500, (path, params, answer.status_code, answer.text[:300])


@given(signature=HEADER_TEXT, timestamp=st.one_of(HEADER_TEXT, st.just("now")),
       connection_id=st.text(min_size=1, max_size=40))
@settings(max_examples=40, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck))
def test_the_webhook_refuses_any_signature_with_a_4xx(stack: LocalStack, signature: str, timestamp: str,
                                                      connection_id: str) -> None:
    created = _webhook_target(stack)
    stamp = str(int(time.time())) if timestamp == "now" else timestamp  # "now": the signature check is reached
    for cid in (created, connection_id):
        answer = requests.post(f"{stack.api_url}/wholecell/{quote(cid, safe='')}/shipments", data=b"{}",
                               headers={"X-WholeCell-Timestamp": stamp.encode(),  # type: ignore[dict-item]
                                        "X-WholeCell-Signature": ("v1=" + signature).encode()}, timeout=30)
        assert 400 <= answer.status_code < 500, (cid, stamp, signature, answer.status_code, answer.text[:300])


_TARGETS: dict[str, str] = {}


def _webhook_target(stack: LocalStack) -> str:
    """One connection (created once) whose webhook the generated signatures are sent to."""
    if stack.api_url not in _TARGETS:
        created = stack.http("POST", "/admin/connections", json={
            "name": "Fuzzed", "temu_region": "US", "wholecell": {"app_id": "fuzz-app", "app_secret": "fuzz-secret"}})
        if created.status_code != 201:
            assert stack.wholecell is not None
            stack.wholecell.state.create_account("fuzz-app", "fuzz-secret", skus=[])
            created = stack.http("POST", "/admin/connections", json={
                "name": "Fuzzed", "temu_region": "US",
                "wholecell": {"app_id": "fuzz-app", "app_secret": "fuzz-secret"}})
        assert created.status_code == 201, created.text
        _TARGETS[stack.api_url] = created.json()["connection_id"]
    return _TARGETS[stack.api_url]
