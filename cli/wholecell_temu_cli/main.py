"""The `wholecell-temu` command: global options (the target stack, the output) and the nouns."""

from __future__ import annotations

from typing import Annotated

import typer

from wholecell_temu_cli import connections, dlq, jobs, listings, orders
from wholecell_temu_cli.output import Exit, Format, fail
from wholecell_temu_cli.target import Options

app = typer.Typer(
    name="wholecell-temu",
    help="Operate the WholeCell <-> Temu integration: connections, listings, orders, jobs, runs and DLQs.\n\n"
         "Target a deployed stack (--stack-name, signed with your AWS credentials) or the local one (--local).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
app.add_typer(connections.app, name="connections")
app.add_typer(listings.app, name="listings")
app.add_typer(orders.orders_app, name="orders")
app.add_typer(orders.shipments_app, name="shipments")
app.add_typer(jobs.jobs_app, name="jobs")
app.add_typer(jobs.runs_app, name="runs")
app.add_typer(dlq.app, name="dlq")

_TARGETS = ("stack_name", "local", "api_url")


def _chosen(ctx: typer.Context, values: dict[str, object]) -> str | None:
    """The target option in force: one from the command line beats the environment's; two at one level
    are a usage error."""
    for level in ("COMMANDLINE", "ENVIRONMENT"):  # Click's ParameterSource names
        given = [name for name in _TARGETS if values[name] and _source(ctx, name) == level]
        if len(given) > 1:
            flags = " and ".join("--" + name.replace("_", "-") for name in given)
            fail(Exit.USAGE, f"{flags} name different stacks: give one")
        if given:
            return given[0]
    return None


def _source(ctx: typer.Context, name: str) -> str | None:
    source = ctx.get_parameter_source(name)
    return None if source is None else source.name


@app.callback()
def global_options(
    ctx: typer.Context,
    stack_name: Annotated[str | None, typer.Option(
        envvar="WHOLECELL_TEMU_STACK", help="A deployed stack: its API URL from the stack's ApiUrl output.")] = None,
    region: Annotated[str | None, typer.Option(
        envvar="WHOLECELL_TEMU_REGION", help="AWS region (default: the profile's / AWS_REGION).")] = None,
    profile: Annotated[str | None, typer.Option(
        envvar="WHOLECELL_TEMU_PROFILE", help="AWS profile (default: the standard credential chain).")] = None,
    local: Annotated[bool, typer.Option(
        "--local", envvar="WHOLECELL_TEMU_LOCAL",
        help="The local stack (`make local`): http://127.0.0.1:$LOCAL_API_PORT (3000).")] = False,
    api_url: Annotated[str | None, typer.Option(
        envvar="WHOLECELL_TEMU_API_URL", help="Any API URL (e.g. a local stack on another port).")] = None,
    output: Annotated[Format, typer.Option(
        "--output", "-o", envvar="WHOLECELL_TEMU_OUTPUT", help="table (people) or json (scripts).")] = Format.TABLE,
) -> None:
    chosen = _chosen(ctx, {"stack_name": stack_name, "local": local, "api_url": api_url})
    ctx.obj = Options(stack_name=stack_name if chosen == "stack_name" else None, local=chosen == "local",
                      api_url=api_url if chosen == "api_url" else None, region=region, profile=profile,
                      output=output)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
