"""Check a decoded JSON value against a flat field table (the shape part of a contract fixture).

A field table maps a *path* to a *type*:

- Paths. `""` is the value itself (optional). An object's key `k` is `k` at the top and
  `parent.k` below it. Every element of an array at `p` is `p[]`, so `data[].id` is the `id`
  of each element of `data`. `p.*` stands for every key of a map whose keys are data, not
  schema (e.g. account-defined custom fields). Key names must not contain `.` or `[]`.
- Types. One of `object`, `array`, `string`, `integer`, `number`, `boolean`, `null`, or a
  `|`-union of them such as `integer|null`. `absent` in a union means the key may be left out.
  `number` also accepts an integer; `integer` never accepts a float or a boolean.

The check is strict in both directions: a key the table does not list is reported, a listed
key that is missing is reported (unless its type allows `absent`), and an object or array
whose children the table does not describe is reported as soon as it has children. So an
`object` with free-form keys needs a `p.*` row, and an array needs a `p[]` row.

    >>> shape_problems({"data": [{"id": "7"}], "page": 1},
    ...                {"data": "array", "data[]": "object", "data[].id": "integer", "page": "integer"})
    ['data[0].id: expected integer, got string']
"""

from __future__ import annotations

from collections.abc import Mapping

JSON_TYPES = frozenset({"object", "array", "string", "integer", "number", "boolean", "null"})
ABSENT = "absent"
ELEMENT = "[]"
ANY_KEY = "*"

__all__ = ["ABSENT", "JSON_TYPES", "json_type", "shape_problems", "sub_fields"]


def json_type(value: object) -> str:
    """The JSON type name of a decoded value (`bool` is `boolean`, never `integer`)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return f"not JSON ({type(value).__name__})"


def _types(path: str, spec: str) -> frozenset[str]:
    names = frozenset(part.strip() for part in spec.split("|"))
    unknown = names - JSON_TYPES - {ABSENT}
    if unknown or not names - {ABSENT}:
        raise ValueError(f"field table: bad type {spec!r} for {path!r}")
    return names


def _split(path: str) -> tuple[str, str]:
    """(parent path, child name): `a[].b` -> (`a[]`, `b`), `a[]` -> (`a`, `[]`), `a` -> (``, `a`)."""
    if path.endswith(ELEMENT):
        return path[: -len(ELEMENT)], ELEMENT
    parent, _, name = path.rpartition(".")
    return parent, name


def _children(fields: Mapping[str, frozenset[str]]) -> dict[str, dict[str, frozenset[str]]]:
    children: dict[str, dict[str, frozenset[str]]] = {}
    for path, types in fields.items():
        if path:
            parent, name = _split(path)
            if not name:
                raise ValueError(f"field table: empty key in {path!r}")
            children.setdefault(parent, {})[name] = types
    return children


def shape_problems(value: object, fields: Mapping[str, str]) -> list[str]:
    """Every way `value` differs from the field table `fields`, as readable messages (empty: it fits).

    Messages name the concrete location (`data[1].product_variation.sku`), so a failure
    points at the offending element. Raises ValueError if the table itself is malformed.
    """
    table = {path: _types(path, spec) for path, spec in fields.items()}
    children = _children(table)
    problems: list[str] = []

    def walk(node: object, path: str, where: str) -> None:
        actual = json_type(node)
        allowed = table.get(path)
        if allowed is not None:
            accepted = actual in allowed or (actual == "integer" and "number" in allowed)
            if not accepted:
                expected = "|".join(sorted(allowed - {ABSENT}))
                problems.append(f"{where or '<root>'}: expected {expected}, got {actual}")
                return
        below = children.get(path, {})
        if isinstance(node, dict):
            for key, child in node.items():
                name = key if key in below and key not in (ELEMENT, ANY_KEY) else ANY_KEY
                if name not in below:
                    problems.append(f"{_join(where, key)}: unexpected key (not in the field table)")
                    continue
                walk(child, _join(path, name), _join(where, key))
            for name, types in below.items():
                if name not in (ELEMENT, ANY_KEY) and name not in node and ABSENT not in types:
                    problems.append(f"{_join(where, name)}: missing key")
        elif isinstance(node, list):
            if node and ELEMENT not in below:
                problems.append(f"{where or '<root>'}: array elements are not in the field table "
                                f"(add {path + ELEMENT!r})")
                return
            for index, child in enumerate(node):
                walk(child, path + ELEMENT, f"{where}[{index}]")

    walk(value, "", "")
    return problems


def _join(parent: str, name: str) -> str:
    return f"{parent}.{name}" if parent else name


def sub_fields(fields: Mapping[str, str], path: str) -> dict[str, str]:
    """The part of a field table below `path`, re-rooted: `sub_fields(t, "data[]")` describes one
    element of `data` (its own type becomes the `""` row)."""
    result: dict[str, str] = {}
    for key, spec in fields.items():
        if key == path:
            result[""] = spec
        elif key.startswith(path + ".") and path:
            result[key[len(path) + 1:]] = spec
        elif key.startswith(path + ELEMENT):
            result[key[len(path):]] = spec
        elif not path:
            result[key] = spec
    return result
