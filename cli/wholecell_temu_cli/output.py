"""Printing: Rich tables for people, the API's JSON for scripts, errors on stderr with the next step."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from enum import IntEnum, StrEnum
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table


class Exit(IntEnum):
    """Exit codes scripts can rely on (docs/cli.md)."""

    OK = 0
    REFUSED = 1  # the API said no (4xx), or the job failed
    USAGE = 2  # a wrong option or argument, or a file that cannot be read (Click's own code)
    UNREACHABLE = 3  # the API or AWS cannot be reached, credentials are missing or refused, a 5xx


class Format(StrEnum):
    TABLE = "table"
    JSON = "json"


def out() -> Console:
    return Console(soft_wrap=False)


def err() -> Console:
    return Console(stderr=True)


def print_json(data: Any) -> None:
    """JSON for scripts: plain, never wrapped or coloured."""
    typer.echo(json.dumps(data, indent=2, default=str))


def fail(code: Exit, message: str, *, fields: Mapping[str, Any] | None = None,
         hints: Iterable[str] = ()) -> NoReturn:
    """Print the error (its fields, then what to do next) on stderr and exit with `code`."""
    console = err()
    console.print(f"[bold red]Error:[/] {message}", highlight=False, markup=True)
    for field, problem in (fields or {}).items():
        console.print(f"  {field}: {problem}", highlight=False, markup=False)
    for hint in hints:
        console.print(f"[yellow]→[/] {hint}", highlight=False)
    raise typer.Exit(int(code))


def note(message: str) -> None:
    err().print(message, highlight=False)


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (dict, list)):
        return json.dumps(value, default=str)
    return str(value)


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]], *,
          no_wrap: Sequence[str] = ()) -> None:
    grid = Table(title=title, title_justify="left")
    for column in columns:
        grid.add_column(column, no_wrap=column in no_wrap, overflow="fold")
    for row in rows:
        grid.add_row(*(cell(value) for value in row))
    out().print(grid)


def fields_table(title: str | None, data: Mapping[str, Any], keys: Sequence[str] | None = None) -> None:
    """One object as a two-column table (field, value)."""
    table(title, ["field", "value"], ((key, data.get(key)) for key in (keys or list(data))), no_wrap=["field"])
