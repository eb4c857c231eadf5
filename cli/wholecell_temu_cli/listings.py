"""`wholecell-temu listings ...`: search, show, connect by hand, bulk from CSV, diagnose."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from wholecell_temu_cli.common import ConnectionId, TemuSkuId, Yes, api, confirm, options
from wholecell_temu_cli.output import Exit, fail, fields_table, note, print_json, table

app = typer.Typer(help="Temu listings and what they draw on in WholeCell.", no_args_is_help=True)


class Status(StrEnum):
    ACTIVE = "active"
    ENDED = "ended"


def _links(connection: dict[str, Any] | None) -> str:
    if not connection:
        return "-"
    links = [f"{s['sku']}" + (f" x{s['factor']}" if s.get("factor", 1) != 1 else "") for s in connection["skus"]]
    links += [f"variation {v['id']}" + (f" x{v['factor']}" if v.get("factor", 1) != 1 else "")
              for v in connection["product_variations"]]
    return f"{', '.join(links) or '-'} ({connection['mode']})"


@app.command("search")
def search(
    ctx: typer.Context,
    connection_id: ConnectionId,
    query: Annotated[str | None, typer.Option("--query", "-q", help="Text in the title, seller SKU or ids.")] = None,
    connected: Annotated[bool | None, typer.Option("--connected/--not-connected",
                                                   help="Only (not) connected listings.")] = None,
    status: Annotated[Status | None, typer.Option(help="active or ended.")] = None,
    cursor: Annotated[str | None, typer.Option(help="A previous answer's next_cursor.")] = None,
) -> None:
    """Search a connection's Temu listings (a page of 50)."""
    page = api(ctx).get("connections", connection_id, "listings", query={
        "q": query, "connected": connected, "status": status.value if status else None, "cursor": cursor})
    if options(ctx).json:
        print_json(page)
        return
    table(None, ["temu_sku_id", "seller_sku", "title", "status", "connected to", "pushed", "flags"],
          ((i["temu_sku_id"], i["seller_sku"], i["title"], i["status"], _links(i["connection"]), i["last_pushed"],
            ", ".join(i["flags"]) or "-") for i in page["items"]), no_wrap=["temu_sku_id"])
    if page.get("next_cursor"):
        note(f"More: --cursor {page['next_cursor']}")


def _listing(ctx: typer.Context, listing: dict[str, Any], title: str) -> None:
    if options(ctx).json:
        print_json(listing)
        return
    fields_table(title, {**listing, "connection": _links(listing.get("connection"))})


@app.command("show")
def show(ctx: typer.Context, connection_id: ConnectionId, temu_sku_id: TemuSkuId) -> None:
    """One listing: what it is connected to, what was calculated and pushed."""
    _listing(ctx, api(ctx).get("connections", connection_id, "listings", temu_sku_id), "Listing")


def _parse_link(text: str, kind: str) -> dict[str, Any]:
    ref, _, factor = text.partition(":")
    try:
        link: dict[str, Any] = {"sku": ref} if kind == "sku" else {"id": int(ref)}
        if factor:
            link["factor"] = int(factor)
    except ValueError:
        fail(Exit.USAGE, f"{text!r}: expected {'SKU' if kind == 'sku' else 'ID'}[:FACTOR], FACTOR a whole number")
    return link


@app.command("connect")
def connect(
    ctx: typer.Context,
    connection_id: ConnectionId,
    temu_sku_id: TemuSkuId,
    sku: Annotated[list[str] | None, typer.Option(
        "--sku", help="WholeCell SKU[:FACTOR] (repeat to pool several; FACTOR units per Temu unit).")] = None,
    variation: Annotated[list[str] | None, typer.Option(
        "--variation", help="WholeCell product variation ID[:FACTOR] (repeatable).")] = None,
) -> None:
    """Connect a listing by hand to WholeCell SKUs or product variations (not both)."""
    if bool(sku) == bool(variation):
        fail(Exit.USAGE, "give --sku or --variation (one or more), not both")
    body = ({"skus": [_parse_link(s, "sku") for s in sku or []]} if sku else
            {"product_variations": [_parse_link(v, "variation") for v in variation or []]})
    listing = api(ctx).call("PUT", ["connections", connection_id, "listings", temu_sku_id, "connection"], body=body)
    _listing(ctx, listing, "Listing connected")


@app.command("disconnect")
def disconnect(ctx: typer.Context, connection_id: ConnectionId, temu_sku_id: TemuSkuId) -> None:
    """Disconnect a listing (its quantity is no longer pushed)."""
    api(ctx).call("DELETE", ["connections", connection_id, "listings", temu_sku_id, "connection"])
    if options(ctx).json:
        print_json({"temu_sku_id": temu_sku_id, "connected": False})
    else:
        note(f"Listing {temu_sku_id} disconnected.")


def _bulk_tables(result: dict[str, Any]) -> None:
    rows = [r for r in result["rows"] if r["status"] != "applied" and r["status"] != "would_apply"]
    table("Listings" + (" (dry run)" if result.get("dry_run") else ""), ["temu_sku_id", "status", "rows", "before",
                                                                         "after", "reason"],
          ((entry["temu_sku_id"], entry["status"], ", ".join(map(str, entry["rows"])), _links(entry["before"]),
            _links(entry["after"]), entry.get("reason")) for entry in result.get("listings", [])))
    if rows:
        table("Rows not applied", ["row", "temu_sku_id", "status", "reason"],
              ((r["row"], r["temu_sku_id"], r["status"], r.get("reason")) for r in rows))
    verb = "would apply" if result.get("dry_run") else "applied"
    note(f"{result['applied']} rows {verb}, {result['rejected']} rejected, {result.get('not_applied', 0)} not "
         "applied (another row of their listing was rejected)")


@app.command("bulk-connect")
def bulk_connect(
    ctx: typer.Context,
    connection_id: ConnectionId,
    csv_file: Annotated[Path, typer.Argument(
        metavar="CSV", help="UTF-8 CSV: temu_sku_id (or temu_goods_id and seller_sku), wholecell_sku or "
                            "product_variation_id, optional factor.", exists=True, dir_okay=False,
        show_default=False)],
    yes: Yes = False,
) -> None:
    """Connect listings from a CSV: runs a dry run and shows it, then applies after confirmation."""
    try:
        text = csv_file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail(Exit.USAGE, f"{csv_file} cannot be read: {exc}", hints=["save it as UTF-8 CSV"])
    client = api(ctx)
    segments = ["connections", connection_id, "listings", "connections"]
    dry = client.call("POST", segments, query={"dry_run": True}, text=text, content_type="text/csv")
    if not options(ctx).json:
        _bulk_tables(dry)
    if not dry["applied"]:
        if options(ctx).json:
            print_json(dry)
        note("Nothing to apply.")
        raise typer.Exit(Exit.REFUSED if dry["rejected"] else Exit.OK)
    confirm(f"Apply {dry['applied']} rows to connection {connection_id}?", yes)
    applied = client.call("POST", segments, query={"dry_run": False}, text=text, content_type="text/csv")
    if options(ctx).json:
        print_json(applied)
    else:
        _bulk_tables(applied)


@app.command("diagnose")
def diagnose(ctx: typer.Context, connection_id: ConnectionId, temu_sku_id: TemuSkuId) -> None:
    """Why a listing shows the quantity it shows: each check, and the units and orders counted."""
    found = api(ctx).get("connections", connection_id, "listings", temu_sku_id, "diagnosis")
    if options(ctx).json:
        print_json(found)
        return
    table(f"Checks of {temu_sku_id}", ["check", "status", "detail", "hint"],
          ((c["check"], c["status"], c["detail"], c.get("hint")) for c in found["checks"]))
    table("Links", ["kind", "ref", "factor", "available", "outstanding", "calculated", "contributes"],
          ((x["kind"], x["ref"], x["factor"], x["available"], x["outstanding"], x["calculated"], x["contributes"])
           for x in found["links"]))
    fields_table("Quantities", found, ["buffer", "cap", "calculated_from_mirror", "last_calculated", "last_pushed",
                                       "last_pushed_at", "temu_quantity", "temu_quantity_seen_at", "last_error"])
