"""`wholecell-temu orders ...` and `shipments resend`: one order as the integration sees it."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from wholecell_temu_cli.common import ConnectionId, OrderSn, api, options
from wholecell_temu_cli.jobs import Interval, Timeout, follow_run
from wholecell_temu_cli.output import fields_table, note, print_json, table

orders_app = typer.Typer(help="Temu orders and their WholeCell sales orders.", no_args_is_help=True)
shipments_app = typer.Typer(help="Shipments confirmed to Temu.", no_args_is_help=True)

SUMMARY = ["parent_order_sn", "imported", "import_state", "not_imported_reason", "on_temu", "next_import_due_at",
           "temu_status", "temu_status_name", "wholecell_order_id", "wholecell_status", "unknown_sku",
           "address_state", "address_reason", "shipment_state", "shipment_error", "updated_at"]


def _lines(order: dict[str, Any]) -> None:
    table("Lines", ["order_sn", "temu_sku_id", "title", "qty (Temu)", "qty (WholeCell)", "sku / variation",
                    "resolution", "why"],
          ((line["order_sn"], line["temu_sku_id"], line["title"], line["temu_quantity"], line["wholecell_quantity"],
            line["sku"] or line["product_variation_id"], line["resolution"],
            line.get("unknown_reason") or line.get("choice_reason")) for line in order["lines"]))


@orders_app.command("show")
def show(ctx: typer.Context, connection_id: ConnectionId, parent_order_sn: OrderSn) -> None:
    """One order: import, address and shipment state, and each line's SKU."""
    order = api(ctx).get("connections", connection_id, "orders", parent_order_sn)
    if options(ctx).json:
        print_json(order)
        return
    fields_table(f"Order {parent_order_sn}", order, SUMMARY)
    _lines(order)


@orders_app.command("why")
def why(ctx: typer.Context, connection_id: ConnectionId, parent_order_sn: OrderSn) -> None:
    """Why an order is (not) in WholeCell, or has no address or shipment yet, in words."""
    order = api(ctx).get("connections", connection_id, "orders", parent_order_sn)
    if options(ctx).json:
        print_json(order)
        return
    for sentence in explain(order):
        typer.echo(f"- {sentence}")
    if order["lines"]:
        _lines(order)


def explain(order: dict[str, Any]) -> list[str]:
    sn = order["parent_order_sn"]
    if not order["imported"]:
        said = [f"{sn} is not in WholeCell ({order['import_state']}): {order['not_imported_reason'] or 'no reason'}"]
        if order.get("on_temu") is False:
            said.append("Temu does not know this order for the connection's shop")
        if order.get("next_import_due_at"):
            said.append(f"the next order import is due at {order['next_import_due_at']}")
        return said
    said = [f"{sn} is WholeCell sales order {order['wholecell_order_id']} ({order['wholecell_status']}); "
            f"on Temu: {order['temu_status_name'] or order['temu_status']}"]
    if order["unknown_sku"]:
        said.append("some line came in as Unknown SKU: connect its listing (`listings connect`), then re-import")
    said.append(f"address: {order['address_state'] or 'not yet'}"
                + (f" ({order['address_reason']})" if order.get("address_reason") else ""))
    said.append(f"shipment: {order['shipment_state'] or 'none yet'}"
                + (f" ({order['shipment_error']})" if order.get("shipment_error") else ""))
    return said


@orders_app.command("reimport")
def reimport(
    ctx: typer.Context,
    connection_id: ConnectionId,
    parent_order_sn: OrderSn,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="Wait for the import run's end.")] = True,
    timeout: Timeout = 300,
    interval: Interval = 1.0,
) -> None:
    """Import one order again from Temu (an order import run for it alone)."""
    queued = api(ctx).post("connections", connection_id, "orders", parent_order_sn, "reimport")
    follow_run(ctx, connection_id, "order_import", queued, wait=wait, timeout=timeout, interval=interval)


@shipments_app.command("resend")
def resend(ctx: typer.Context, connection_id: ConnectionId, parent_order_sn: OrderSn) -> None:
    """Send the order's WholeCell shipments to Temu again (failed ones are reopened)."""
    queued = api(ctx).post("connections", connection_id, "orders", parent_order_sn, "shipments", "resend")
    if options(ctx).json:
        print_json(queued)
        return
    fields_table("Shipments queued", queued)
    note(f"Follow it with `wholecell-temu orders show {connection_id} {parent_order_sn}`.")
