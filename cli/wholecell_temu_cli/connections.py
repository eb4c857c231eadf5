"""`wholecell-temu connections ...`: create, list, show, authorize links, settings, lifecycle."""

from __future__ import annotations

import difflib
import json
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.syntax import Syntax

from wholecell_temu_cli.client import authorize_hint
from wholecell_temu_cli.common import ConnectionId, Yes, api, confirm, options
from wholecell_temu_cli.output import Exit, err, fail, fields_table, note, out, print_json, table

app = typer.Typer(help="Connections: one WholeCell account and one Temu shop.", no_args_is_help=True)
settings_app = typer.Typer(help="A connection's settings.", no_args_is_help=True)
app.add_typer(settings_app, name="settings")

HIDDEN = "(not shown: pass --show-secret)"


def read_document(path: Path) -> Any:
    """A YAML or JSON file (JSON by its .json suffix; YAML reads JSON too). Unreadable: exit 2."""
    try:
        text = path.read_text(encoding="utf-8")
        return json.loads(text) if path.suffix.lower() == ".json" else yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
        fail(Exit.USAGE, f"{path} cannot be read: {exc}", hints=["give a YAML or JSON object of settings"])


@app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="A name for people (the seller's company).", show_default=False)],
    wholecell_app_id: Annotated[str, typer.Option(help="WholeCell API App id.", show_default=False)],
    wholecell_app_secret: Annotated[str, typer.Option(
        help="WholeCell API App secret (asked for when not given).", envvar="WHOLECELL_APP_SECRET",
        prompt=True, hide_input=True, show_default=False)],
    temu_region: Annotated[str, typer.Option(help="Temu region portal: US, EU or GLOBAL.")] = "US",
    settings: Annotated[Path | None, typer.Option(help="Settings file (YAML or JSON); defaults otherwise.",
                                                  exists=True, dir_okay=False)] = None,
    expected_mall_id: Annotated[int | None, typer.Option(
        help="The Temu shop (mall id) this connection is for: a token for another shop is refused.")] = None,
    show_secret: Annotated[bool, typer.Option(
        "--show-secret",
        help="Print the webhook signing secret (shown this once; WholeCell's webhook needs it).")] = False,
) -> None:
    """Create a connection: prints its authorize link for the seller and its webhook URL."""
    body: dict[str, Any] = {"name": name, "temu_region": temu_region.upper(),
                            "wholecell": {"app_id": wholecell_app_id, "app_secret": wholecell_app_secret}}
    if settings is not None:
        body["settings"] = read_document(settings)
    if expected_mall_id is not None:
        body["expected_mall_id"] = expected_mall_id
    created = api(ctx).post("connections", body=body)
    if not show_secret:
        created["webhook_secret"] = None
    if options(ctx).json:
        print_json(created)
    else:
        shown = {**created, "webhook_secret": created["webhook_secret"] or HIDDEN}
        fields_table("Connection created", shown, ["connection_id", "authorize_url", "authorize_url_expires_at",
                                                   "webhook_url", "webhook_secret"])
        _print_warnings(created.get("warnings") or [])
        note(f"Next: send the authorize link to the seller (single use; a new one: `wholecell-temu connections "
             f"authorize-link {created['connection_id']}`), and configure WholeCell's shipment webhook with the "
             "URL and secret.")
    if not show_secret:
        note("The webhook secret was not printed: only the creating answer holds it, and only --show-secret prints "
             "it (creating the connection again would make a second connection). To get one now, rotate it: POST "
             f"/admin/connections/{created['connection_id']}/webhook-secret answers a new secret, the old one valid "
             "for the stated overlap.")


def _print_warnings(warnings: list[dict[str, Any]]) -> None:
    if warnings:
        table("Warnings (saved anyway)", ["field", "message"], ((w["field"], w["message"]) for w in warnings))


@app.command("list")
def list_connections(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option(help="Connections per page (1-100).", min=1, max=100)] = 50,
    cursor: Annotated[str | None, typer.Option(help="Start at this page (a previous answer's next_cursor).")] = None,
    all_pages: Annotated[bool, typer.Option("--all/--one-page", help="Follow every page.")] = True,
) -> None:
    """List the connections with their status and token expiry."""
    client, items = api(ctx), []
    page: dict[str, Any] = {}
    while True:
        page = client.get("connections", query={"limit": limit, "cursor": cursor})
        items += page["items"]
        cursor = page.get("next_cursor")
        if not cursor or not all_pages:
            break
    if options(ctx).json:
        print_json({"items": items, "next_cursor": cursor})
        return
    table(None, ["connection_id", "name", "status", "mall_id", "region", "token days left", "missing scopes"],
          ((c["connection_id"], c["name"], c["status"], c["temu"]["mall_id"], c["temu"]["region"],
            c["temu"]["days_to_token_expiry"], ", ".join(c["temu"]["missing_scopes"]) or "-") for c in items),
          no_wrap=["connection_id"])
    if cursor:
        note(f"More: --cursor {cursor}")


def _show(ctx: typer.Context, connection: dict[str, Any], title: str) -> None:
    if options(ctx).json:
        print_json(connection)
        return
    temu = connection["temu"]
    fields_table(title, {
        "connection_id": connection["connection_id"], "name": connection["name"], "status": connection["status"],
        "status_reason": connection["status_reason"], "temu mall_id": temu["mall_id"],
        "temu region": temu["region"], "token expires at": temu["token_expires_at"],
        "token days left": temu["days_to_token_expiry"], "missing scopes": temu["missing_scopes"] or None,
        "webhook key version": connection["webhook"]["key_version"]})
    health = connection.get("health") or {}
    table("Jobs", ["job", "last run", "outcome", "reason"],
          ((job, h["last_run_at"], h["last_outcome"], h["last_reason"]) for job, h in health.items()))
    if connection["status"] in ("needs_reauthorization", "awaiting_authorization"):
        note(f"→ {authorize_hint(connection['connection_id'])}")


@app.command("show")
def show(ctx: typer.Context, connection_id: ConnectionId) -> None:
    """One connection: status, Temu shop and token, each job's last run."""
    _show(ctx, api(ctx).get("connections", connection_id), "Connection")


@app.command("authorize-link")
def authorize_link(ctx: typer.Context, connection_id: ConnectionId) -> None:
    """A new single-use authorize link for the seller (replaces the connection's earlier link)."""
    link = api(ctx).post("connections", connection_id, "authorize-link")
    if options(ctx).json:
        print_json(link)
        return
    fields_table("Authorize link (single use)", link)
    note("Send it to the seller: it opens Temu's authorization page for the shop. The link alone, to copy:")
    typer.echo(link["authorize_url"])


@app.command("disable")
def disable(ctx: typer.Context, connection_id: ConnectionId) -> None:
    """Stop every job and the webhook for the connection (enable resumes)."""
    _show(ctx, api(ctx).post("connections", connection_id, "disable"), "Connection disabled")


@app.command("enable")
def enable(ctx: typer.Context, connection_id: ConnectionId) -> None:
    """Resume a disabled connection."""
    _show(ctx, api(ctx).post("connections", connection_id, "enable"), "Connection enabled")


@app.command("delete")
def delete(ctx: typer.Context, connection_id: ConnectionId, yes: Yes = False) -> None:
    """Delete the connection (its secret is scheduled for deletion; listings, orders and shipments stay)."""
    confirm(f"Delete connection {connection_id}? Its jobs stop for good.", yes)
    deleted = api(ctx).call("DELETE", ["connections", connection_id])
    if options(ctx).json:
        print_json(deleted)
    else:
        fields_table("Connection deleted", deleted)


@settings_app.command("show")
def settings_show(ctx: typer.Context, connection_id: ConnectionId) -> None:
    """The settings as stored (`--output json` gives a file `settings edit` takes)."""
    settings = api(ctx).get("connections", connection_id)["settings"]
    if options(ctx).json:
        print_json(settings)
    else:
        table(f"Settings of {connection_id}", ["setting", "value"],
              ((key, json.dumps(value)) for key, value in sorted(settings.items())), no_wrap=["setting"])


def _dump(settings: dict[str, Any]) -> list[str]:
    return yaml.safe_dump(settings, sort_keys=True, default_flow_style=False).splitlines(keepends=True)


@settings_app.command("edit")
def settings_edit(
    ctx: typer.Context,
    connection_id: ConnectionId,
    file: Annotated[Path, typer.Argument(help="YAML or JSON object of settings.", exists=True, dir_okay=False,
                                         show_default=False)],
    replace: Annotated[bool, typer.Option(
        "--replace",
        help="Send the file as the whole settings (an absent setting takes its default); by default the file's "
             "settings are merged over the current ones.")] = False,
    confirm_initial_push: Annotated[bool, typer.Option(
        "--confirm-initial-push",
        help="Required when inventory sync turns on: the next run overwrites Temu's quantities.")] = False,
    yes: Yes = False,
) -> None:
    """Change the settings from a file: shows the difference, asks, then saves."""
    document = read_document(file)
    if not isinstance(document, dict):
        fail(Exit.USAGE, f"{file} must hold an object of settings (setting: value)")
    document.pop("warnings", None)  # `settings show`'s answer sent back as it came
    document.pop("confirm_initial_push", None)
    client = api(ctx)
    current = client.get("connections", connection_id)["settings"]
    new = document if replace else {**current, **document}
    diff = list(difflib.unified_diff(_dump(current), _dump(new), "current", "new"))
    console = err() if options(ctx).json else out()
    if not diff:
        console.print("No change.")
        if options(ctx).json:
            print_json(current)
        return
    console.print(Syntax("".join(diff), "diff", theme="ansi_dark", background_color="default"))
    confirm(f"Save these settings for {connection_id}?", yes)
    saved = client.call("PUT", ["connections", connection_id, "settings"],
                        body={**new, "confirm_initial_push": confirm_initial_push})
    if options(ctx).json:
        print_json(saved)
        return
    console.print("Saved.")
    _print_warnings(saved.get("warnings") or [])
