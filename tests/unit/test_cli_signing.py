"""The CLI's SigV4 signing (wholecell_temu_cli.signing) against botocore's own signer on fixed requests,
and the local HTTP API's SigV4 check (local.http_api.SigV4Check) on what the CLI signs."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest
import time_machine
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request
from wholecell_temu_cli.signing import api_url, sign

from local.http_api import SigV4Check

BASE = "https://abc123.execute-api.eu-west-1.amazonaws.com"
REGION = "eu-west-1"
KEY, SECRET = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
SIGNED_AT = datetime(2026, 3, 1, 12, 30, 45, tzinfo=UTC)


@pytest.fixture(autouse=True)
def fixed_time() -> Iterator[None]:
    with time_machine.travel(SIGNED_AT, tick=False):
        yield


def reference(method: str, path: str, params: dict[str, str], body: bytes, credentials: Credentials,
              content_type: str | None = None) -> AWSRequest:
    """botocore signing the same request on its own: path and query given apart (params), the body's hash
    in X-Amz-Content-SHA256 as SigV4 has it."""
    headers = {"X-Amz-Content-SHA256": hashlib.sha256(body).hexdigest()}
    if content_type:
        headers["Content-Type"] = content_type
    request = AWSRequest(method=method, url=BASE + path, params=params, data=body, headers=headers)
    SigV4Auth(credentials, "execute-api", REGION).add_auth(request)
    return request


def canonical(request: AWSRequest) -> str:
    """The canonical request SigV4 signs (an Authorization header already there is not part of it)."""
    if "Authorization" in request.headers:
        del request.headers["Authorization"]
    return str(SigV4Auth(Credentials(KEY, SECRET), "execute-api", REGION).canonical_request(request))


CASES = [
    ("GET", ["connections"], {}, b"", None),
    ("GET", ["connections", "c0ffee", "listings"],
     {"q": "iPhone 13 / 128GB+", "connected": "false", "status": "active", "cursor": "50"}, b"", None),
    ("PUT", ["connections", "c0ffee", "settings"], {}, json.dumps({"inventory_sync_enabled": True}).encode(),
     "application/json"),
    ("POST", ["connections", "c0ffee", "listings", "connections"], {"dry_run": "true"},
     "temu_sku_id,wholecell_sku\n1,Ä-1\n".encode(), "text/csv"),
]


@pytest.mark.parametrize(("method", "segments", "query", "body", "content_type"), CASES)
def test_the_signature_is_botocores(method: str, segments: list[str], query: dict[str, str], body: bytes,
                                    content_type: str | None) -> None:
    credentials = Credentials(KEY, SECRET)
    url = api_url(BASE, ["admin", *segments], query)
    headers = sign(method, url, body, credentials, REGION,
                   headers={"Content-Type": content_type} if content_type else None)
    expected = reference(method, "/admin/" + "/".join(segments), query, body, credentials, content_type)

    assert headers["X-Amz-Date"] == expected.headers["X-Amz-Date"] == "20260301T123045Z"
    assert headers["X-Amz-Content-SHA256"] == expected.headers["X-Amz-Content-SHA256"] == \
        hashlib.sha256(body).hexdigest()
    assert headers["Authorization"] == expected.headers["Authorization"]
    assert headers["Authorization"].startswith(f"AWS4-HMAC-SHA256 Credential={KEY}/20260301/{REGION}/execute-api/"
                                               "aws4_request, SignedHeaders=")
    # what is sent is what was signed: the URL's query is canonical already
    sent = AWSRequest(method=method, url=url, data=body, headers={k: v for k, v in headers.items()
                                                                   if k != "Authorization"})
    assert canonical(sent) == canonical(expected)
    assert urlsplit(url).query == canonical(expected).split("\n")[2]


def test_query_and_path_are_escaped_as_sigv4_escapes_them() -> None:
    url = api_url(BASE, ["admin", "connections", "c 1", "orders", "PO-211/7"],
                  {"b": "x y", "a": "ü", "none": None, "flag": True})
    assert url == (f"{BASE}/admin/connections/c%201/orders/PO-211%2F7?a=%C3%BC&b=x%20y&flag=true")
    request = AWSRequest(method="GET", url=url, data=b"")
    lines = canonical(request).split("\n")
    assert lines[1] == "/admin/connections/c%25201/orders/PO-211%252F7"  # each segment escaped twice (not S3)
    assert lines[2] == "a=%C3%BC&b=x%20y&flag=true"
    params = AWSRequest(method="GET", url=f"{BASE}/x", params={"b": "x y", "a": "ü", "flag": "true"})
    assert canonical(params).split("\n")[2] == lines[2]


def test_a_session_token_is_signed_and_sent() -> None:
    credentials = Credentials(KEY, SECRET, "session-token-1")
    headers = sign("GET", api_url(BASE, ["admin", "connections"]), b"", credentials, REGION)
    expected = reference("GET", "/admin/connections", {}, b"", credentials)
    assert headers["X-Amz-Security-Token"] == "session-token-1"
    assert "x-amz-security-token" in headers["Authorization"]
    assert headers["Authorization"] == expected.headers["Authorization"]


def local_request(url: str, method: str, headers: dict[str, str], body: bytes) -> Request:
    parts = urlsplit(url)
    environ = EnvironBuilder(path=parts.path, query_string=parts.query, method=method, headers=list(headers.items()),
                             data=body, base_url=f"{parts.scheme}://{parts.netloc}").get_environ()
    environ["RAW_URI"] = parts.path + (f"?{parts.query}" if parts.query else "")
    return Request(environ)


def test_the_local_api_verifies_what_the_cli_signs() -> None:
    check = SigV4Check("us-east-1", {"testing": "testing"})
    url = api_url("http://127.0.0.1:3000", ["admin", "connections", "c1", "listings"], {"q": "a b", "status": "x"})
    body = b'{"a": 1}'
    headers = sign("POST", url, body, Credentials("testing", "testing"), "us-east-1",
                   headers={"Content-Type": "application/json"})
    raw = urlsplit(url).path + "?" + urlsplit(url).query

    assert check.refusal(local_request(url, "POST", headers, body), raw) is None
    assert check.refusal(local_request(url, "POST", headers, b'{"a": 2}'), raw) is not None  # body changed
    assert check.refusal(local_request(url, "POST", {**headers, "X-Amz-Content-SHA256": hashlib.sha256(
        b'{"a": 2}').hexdigest()}, b'{"a": 2}'), raw) is not None  # and its hash: the signature no longer fits
    assert check.refusal(local_request(url, "PUT", headers, body), raw) is not None  # another method
    assert check.refusal(local_request(url, "POST", {}, body), raw) == "Forbidden"  # unsigned
    wrong_secret = sign("POST", url, body, Credentials("testing", "other"), "us-east-1",
                        headers={"Content-Type": "application/json"})
    assert "does not match" in str(check.refusal(local_request(url, "POST", wrong_secret, body), raw))
    unknown = sign("POST", url, body, Credentials("AKIDUNKNOWN", "x"), "us-east-1")
    assert "invalid" in str(check.refusal(local_request(url, "POST", unknown, body), raw))
    other_region = sign("POST", url, body, Credentials("testing", "testing"), "eu-west-1",
                        headers={"Content-Type": "application/json"})
    assert "region" in str(check.refusal(local_request(url, "POST", other_region, body), raw))
    with time_machine.travel(datetime(2026, 3, 1, 12, 40, tzinfo=UTC), tick=False):  # 10 minutes later
        assert check.refusal(local_request(url, "POST", headers, body), raw) == "Signature expired"
