"""ShipStation set-up rule: can Temu orders flow from WholeCell to ShipStation with these settings?

WholeCell exports to ShipStation the orders whose sales-order status has *Sync to Shipstation*
on, limited to the channels selected for the export, matched by exact channel title (reference
§6.2, §6.5, §6.6). Pure, no I/O: the caller reads the account's statuses and channels (the
settings save before storing, the order import at every run) and decides what an error stops.

Severity, and why:
- error: with it, orders either never reach ShipStation (channel not matched, awaiting shipment
  not synced or not mapped) or reach it when they must not be shipped (a cancelled, shipped or
  delivered order exported again could be shipped): the settings save is refused.
- warning: the flow still works, with a risk the seller may accept knowingly. Pending (1)
  synced: ShipStation may show an order Temu has not released yet; Temu gives no address
  before awaiting shipment (2), so no label can be bought from the order's own data until
  then, and a seller may want to see orders early. Partially shipped (41) not synced: the order
  was exported while awaiting shipment, only the rest of it leaves the export.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from wholecell_temu.domain.settings import ConnectionSettings, closest_title
from wholecell_temu.temu.codes import CLOSED, MEANINGS, PARTIALLY_SHIPPED, PENDING, UN_SHIPPING
from wholecell_temu.wholecell.adapter import SalesOrderStatus

Severity = Literal["error", "warning"]
ProblemKind = Literal["channel_missing", "channel_case", "awaiting_unmapped", "not_synced", "unknown_status",
                      "pending_synced", "closed_synced"]

STATUS_SETTINGS = "WholeCell Settings → Sales Orders → Statuses"
# the statuses an order waiting to be shipped is in, and what a non-synced one is
TO_SHIP: tuple[tuple[int, Severity], ...] = ((UN_SHIPPING, "error"), (PARTIALLY_SHIPPED, "warning"))


@dataclass(frozen=True)
class ShipStationProblem:
    field: str  # the ConnectionSettings field it concerns
    severity: Severity
    kind: ProblemKind
    problem: str  # what is wrong
    fix: str  # what to do

    @property
    def message(self) -> str:
        return f"ShipStation sync: {self.problem}; {self.fix}"


def _normalized(title: str) -> str:
    return " ".join(title.split()).casefold()


def _titles(titles: Iterable[str]) -> str:
    return ", ".join(repr(t) for t in titles) or "none"


def _synced_hint(synced: list[str]) -> str:
    if synced:
        return f"({_titles(synced)})"
    return f"(none does yet: turn on 'Sync to Shipstation' for one in {STATUS_SETTINGS})"


def shipstation_problems(settings: ConnectionSettings, statuses: Iterable[SalesOrderStatus] | None,
                         channels: Iterable[str] | None) -> list[ShipStationProblem]:
    """What keeps Temu orders from flowing to ShipStation (or lets the wrong ones flow), in a fixed order.

    `statuses`, `channels`: the account's, or None when the account cannot list them (the checks
    needing them are left out). Nothing when `shipstation_sync` is off.
    """
    if not settings.shipstation_sync:
        return []
    problems: list[ShipStationProblem] = []
    if channels is not None:
        problems += _channel_problems(settings.sales_channel, list(channels))
    status_map = settings.order_status_map
    if statuses is None:
        if str(UN_SHIPPING) not in status_map:
            problems.append(_awaiting_unmapped(""))
        return problems
    statuses = list(statuses)
    synced_by_title = {s.title: s.sync_to_shipstation for s in statuses}
    synced = [title for title, on in synced_by_title.items() if on]
    not_synced = [title for title, on in synced_by_title.items() if not on]
    if str(UN_SHIPPING) not in status_map:
        problems.append(_awaiting_unmapped(f" {_synced_hint(synced)}"))
    problems += _to_ship_problems(status_map, synced_by_title, synced)
    problems += _pending_problems(settings, synced_by_title, not_synced)
    # for a closed Temu status, a status neither synced nor open (it should not hold stock back either)
    closed_fits = [s.title for s in statuses if not s.sync_to_shipstation and not s.open] or not_synced
    problems += _closed_problems(status_map, synced_by_title, closed_fits)
    return problems


def _awaiting_unmapped(hint: str) -> ShipStationProblem:
    """Temu's awaiting shipment (2) mapped to no status (`hint`: the statuses that sync, when known)."""
    return ShipStationProblem(
        "order_status_map", "error", "awaiting_unmapped",
        "Temu status 2 (awaiting shipment) is not mapped, so orders ready to ship never reach a status "
        "that syncs to ShipStation",
        "map '2' to a status that syncs to ShipStation" + hint)



def _to_ship_problems(status_map: dict[str, str], synced_by_title: dict[str, bool],
                      synced: list[str]) -> list[ShipStationProblem]:
    """An order waiting to be shipped mapped to a status WholeCell lacks, or to one that does not sync."""
    problems: list[ShipStationProblem] = []
    for code, severity in TO_SHIP:
        title = status_map.get(str(code))
        if title is None:
            continue
        if title not in synced_by_title:
            hint = closest_title(title, synced_by_title)
            problems.append(ShipStationProblem(
                "order_status_map", severity, "unknown_status",
                f"Temu status {code} ({MEANINGS[code]}) maps to {title!r}, which is not a sales-order status "
                "in WholeCell",
                f"map '{code}' to an existing status that syncs to ShipStation {_synced_hint(synced)}"
                + (f"; closest existing: {hint!r}" if hint else "")))
        elif not synced_by_title[title]:
            problems.append(ShipStationProblem(
                "order_status_map", severity, "not_synced",
                f"Temu status {code} ({MEANINGS[code]}) maps to {title!r}, which does not sync to ShipStation, "
                "so those orders are not exported",
                (f"map '{code}' to a status that syncs ({_titles(synced)}) or " if synced else "")
                + f"turn on 'Sync to Shipstation' for {title!r} ({STATUS_SETTINGS})"))
    return problems


def _pending_problems(settings: ConnectionSettings, synced_by_title: dict[str, bool],
                      not_synced: list[str]) -> list[ShipStationProblem]:
    """Pending orders imported (import_pending) into a status that syncs."""
    pending = settings.order_status_map.get(str(PENDING))
    if settings.order_acknowledgment == "import_pending" and pending is not None and synced_by_title.get(pending):
        return [ShipStationProblem(
            "order_status_map", "warning", "pending_synced",
            f"Temu status 1 (pending) maps to {pending!r}, which syncs to ShipStation: with order_acknowledgment "
            "'import_pending', ShipStation may ship an order Temu has not moved to awaiting shipment yet "
            "(it has no address yet and can still be cancelled)",
            f"map '1' to a status that does not sync to ShipStation ({_titles(not_synced)}), "
            "or set order_acknowledgment to 'wait_for_confirmation'")]
    return []


def _closed_problems(status_map: dict[str, str], synced_by_title: dict[str, bool],
                     closed_fits: list[str]) -> list[ShipStationProblem]:
    """A closed Temu status (cancelled, shipped, delivered) mapped to a status that syncs."""
    problems: list[ShipStationProblem] = []
    for code in CLOSED:
        title = status_map.get(str(code))
        if title is not None and synced_by_title.get(title):
            problems.append(ShipStationProblem(
                "order_status_map", "error", "closed_synced",
                f"Temu status {code} ({MEANINGS[code]}) maps to {title!r}, which syncs to ShipStation: a "
                f"{MEANINGS[code]} order would be exported and could be shipped",
                f"map '{code}' to a status that does not sync to ShipStation ({_titles(closed_fits)})"))
    return problems

def _channel_problems(name: str, channels: list[str]) -> list[ShipStationProblem]:
    if name in channels:
        return []
    same = next((c for c in channels if _normalized(c) == _normalized(name)), None)
    if same is not None:
        return [ShipStationProblem(
            "sales_channel", "error", "channel_case",
            f"sales channel {name!r} differs from WholeCell's {same!r} by case or spaces; "
            "ShipStation export selects channels by exact title",
            f"set sales_channel to {same!r}")]
    hint = closest_title(name, channels)
    return [ShipStationProblem(
        "sales_channel", "error", "channel_missing",
        f"sales channel {name!r} does not exist in WholeCell",
        f"create a channel named exactly {name!r} in WholeCell and select it for the ShipStation export, "
        "or set sales_channel to an existing channel" + (f" (closest: {hint!r})" if hint else ""))]
