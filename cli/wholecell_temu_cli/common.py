"""What every command module shares: the options, the API, the arguments' types, confirmation."""

from __future__ import annotations

from typing import Annotated

import typer

from wholecell_temu_cli.client import Api
from wholecell_temu_cli.output import err
from wholecell_temu_cli.target import Options

ConnectionId = Annotated[str, typer.Argument(help="The connection's id (`connections list`).", show_default=False)]
TemuSkuId = Annotated[int, typer.Argument(help="The Temu SKU id (`listings search`).", show_default=False)]
OrderSn = Annotated[str, typer.Argument(help="Temu's parent order number (PO-...).", show_default=False)]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]


def options(ctx: typer.Context) -> Options:
    found = ctx.find_object(Options)
    if found is None:  # a sub-app invoked on its own (tests)
        found = ctx.ensure_object(Options)
    return found


def api(ctx: typer.Context) -> Api:
    return Api(options(ctx))


def confirm(question: str, yes: bool) -> None:
    """Ask on stderr (stdout stays the command's output); no is exit 1."""
    if yes:
        return
    if not typer.confirm(question, default=False, err=True):
        err().print("Not done.")
        raise typer.Exit(1)
