"""Temu's documented contract, from the fixtures in tests/contract/temu/ (one per API type, each
naming the document it was transcribed from).

One reading of the fixtures serves three users, so a wrong belief cannot hide in one of them:
the contract tests (the client's requests and models against the documents), the Temu sandbox
(its answers are cut to the documented keys and checked against the documented types) and
`make probe` (a real shop's answers against the same tables).

Field tables use `local.contract`'s path notation. The fixtures list an array of objects as
`a` plus `a[].x` rows; `fields()` adds the implied `a[]` rows. Temu leaves fields out and sends
null for absent values (the guides' own answers show both), so a check of an answer accepts a
missing key or a null anywhere; a key the documents do not know, or a value of another JSON
type, is a mismatch.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

from local.contract import ELEMENT, shape_problems

FIXTURES = Path(__file__).resolve().parents[1] / "tests" / "contract" / "temu"
COMMON_PARAMS = frozenset({"type", "app_key", "access_token", "timestamp", "data_type", "version", "sign"})


@cache
def fixture(api_type: str) -> dict[str, Any]:
    """The fixture of one Temu API type (raises FileNotFoundError for a type nobody transcribed)."""
    loaded: dict[str, Any] = json.loads((FIXTURES / f"{api_type}.json").read_text())
    return loaded


def documented_types() -> list[str]:
    return sorted(p.stem for p in FIXTURES.glob("*.json") if not p.stem.startswith("_"))


def _with_elements(table: Mapping[str, str]) -> dict[str, str]:
    """Add the `a[]` row every `a[].x` row implies (an array of objects)."""
    full = dict(table)
    for path in table:
        head = path
        while ELEMENT in head:
            head = head[: head.rindex(ELEMENT)]
            full.setdefault(head + ELEMENT, "object")
    return full


@cache
def response_fields(api_type: str) -> dict[str, str]:
    """The documented `result` table, each field optional and nullable (see the module doc)."""
    table = _with_elements(fixture(api_type)["response"]["fields"])
    return {path: spec if path == "" else f"{spec}|null|absent" for path, spec in table.items()}


def result_problems(api_type: str, result: Any) -> list[str]:
    """How an answer's `result` differs from the documented keys and JSON types (empty: it fits)."""
    return shape_problems(result, response_fields(api_type))


def request_problems(api_type: str, body: Mapping[str, Any]) -> list[str]:
    """How a request's business parameters differ from the documented ones: a required one
    missing, one of another JSON type, one the documents do not have."""
    params: dict[str, dict[str, Any]] = fixture(api_type)["request"]["params"]
    table = _with_elements({name: spec["type"] for name, spec in params.items()})
    required = {name for name, spec in params.items() if spec.get("required")}
    fields = {path: spec if path in required else f"{spec}|absent" for path, spec in table.items()}
    business = {k: v for k, v in body.items() if k not in COMMON_PARAMS}
    return shape_problems(business, fields)


def conform(api_type: str, result: Any) -> Any:
    """`result` cut to the documented keys, at every level (what the sandbox answers)."""
    table = response_fields(api_type)

    def cut(node: Any, path: str) -> Any:
        if isinstance(node, dict):
            kept = {}
            for key, value in node.items():
                child = f"{path}.{key}" if path else key
                if child in table:
                    kept[key] = cut(value, child)
            return kept
        if isinstance(node, list):
            return [cut(item, path + ELEMENT) for item in node]
        return node

    return cut(result, "")

