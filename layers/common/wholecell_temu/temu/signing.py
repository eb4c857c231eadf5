"""Temu request signing (reference §2).

The signature covers the exact values that are sent, including the order of keys inside
nested objects (Temu does not re-sort them). So the body and the sign are produced from
the same dict in one place: `signed_body` serializes once, and nothing rebuilds the nested
values between signing and sending.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any


def _value_text(value: Any) -> str:
    """A parameter's text in the sign string: strings raw, everything else compact JSON."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text[1:-1] if isinstance(value, str) else text


def sign(params: Mapping[str, Any], app_secret: str) -> str:
    """MD5 over `secret + key1value1key2value2… + secret` (keys ASCII-sorted, `sign` excluded)."""
    raw = "".join(key + _value_text(params[key]) for key in sorted(params) if key != "sign")
    digest = hashlib.md5((app_secret + raw + app_secret).encode("utf-8"), usedforsecurity=False)
    return digest.hexdigest().upper()


def without_none(params: Mapping[str, Any]) -> dict[str, Any]:
    """Drop absent optional top-level params: Temu must never receive `null`."""
    return {key: value for key, value in params.items() if value is not None}


def signed_body(params: Mapping[str, Any], app_secret: str) -> bytes:
    """The exact JSON request body: `params` minus None values, plus their `sign`."""
    body = without_none(params)
    body.pop("sign", None)
    body["sign"] = sign(body, app_secret)
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


__all__ = ["sign", "signed_body", "without_none"]
