"""SigV4 for the admin API (service `execute-api`), with botocore's own signer.

The URL is built here in SigV4's canonical form (path segments and query escaped as botocore escapes
them, query sorted), so what is signed is byte for byte what is sent.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

SERVICE = "execute-api"
_UNRESERVED = "-_.~"  # what SigV4 leaves unescaped


def api_url(base_url: str, segments: Iterable[str | int], query: Mapping[str, Any] | None = None) -> str:
    """`base_url` + each path segment escaped + the query sorted and escaped (None values left out)."""
    path = "".join("/" + quote(str(segment), safe=_UNRESERVED) for segment in segments)
    pairs = sorted((quote(str(key), safe=_UNRESERVED), quote(_text(value), safe=_UNRESERVED))
                   for key, value in (query or {}).items() if value is not None)
    return base_url.rstrip("/") + path + ("?" + "&".join(f"{k}={v}" for k, v in pairs) if pairs else "")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def sign(method: str, url: str, body: bytes, credentials: Any, region: str, *,
         headers: Mapping[str, str] | None = None) -> dict[str, str]:
    """The headers to send: `headers`, X-Amz-Date, X-Amz-Content-SHA256 (the body's hash), the session
    token if any, and Authorization. `credentials`: botocore's (frozen) credentials."""
    request = AWSRequest(method=method.upper(), url=url, data=body,
                         headers={**(headers or {}), "X-Amz-Content-SHA256": hashlib.sha256(body).hexdigest()})
    SigV4Auth(credentials, SERVICE, region).add_auth(request)
    return {key: str(value) for key, value in request.headers.items()}
