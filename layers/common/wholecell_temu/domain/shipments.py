"""Shipment rules: tracking numbers, carriers and the packages of one Temu confirmation. Pure."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from difflib import SequenceMatcher

from wholecell_temu.temu.codes import TO_SHIP
from wholecell_temu.temu.models import Carrier, OrderItem, ShipmentLine, ShipmentPackage, SubPackage

SEND_ONE_PACKAGE, SEND_SPLIT = 0, 1

_TRACKING_JUNK = re.compile(r"[\s\-%#]")


def normalize_tracking(number: str) -> str:
    """Temu validates tracking numbers without spaces, `-`, `%` or `#`."""
    return _TRACKING_JUNK.sub("", number)


def shipment_key(wholecell_order_id: int, tracking_number: str) -> str:
    """A shipment's identity: (WholeCell order, tracking number)."""
    return f"{wholecell_order_id}#{normalize_tracking(tracking_number)}"


class PermanentShipmentError(Exception):
    """Retrying cannot help; a person must act (recorded, alarmed, dead-lettered)."""


class UnknownCarrier(PermanentShipmentError):
    pass


def resolve_carrier(name: str | None, carrier_map: Mapping[str, int], carriers: Iterable[Carrier]) -> int:
    """The Temu carrier id for WholeCell's carrier name: the connection's map first (exact, then
    case-insensitive), then Temu's carriers of the order's region by name or brand."""
    if not name:
        raise UnknownCarrier("the WholeCell shipment has no carrier")
    if name in carrier_map:
        return carrier_map[name]
    folded = name.casefold().strip()
    for mapped, carrier_id in carrier_map.items():
        if mapped.casefold() == folded:
            return carrier_id
    listed = list(carriers)
    for carrier in listed:
        names = {carrier.logistics_service_provider_name, carrier.logistics_brand_name}
        if folded in {n.casefold() for n in names if n}:
            return carrier.logistics_service_provider_id
    raise UnknownCarrier(unknown_carrier_hint(name, listed))


CLOSE_ENOUGH = 0.7  # a carrier scoring below this is not suggested ("Pony Express" is not "DHL Express")
SUGGESTIONS = 3
SAMPLE = 5  # carriers named when none is close


def _words(text: str) -> list[str]:
    return [word for word in re.split(r"[^0-9a-z]+", text.casefold()) if word]


def carrier_likeness(wholecell_name: str, temu_name: str) -> float:
    """How close a WholeCell carrier name is to a Temu carrier or brand name (case, spaces and
    punctuation ignored), 0…1: the same letters 1; Temu's name leading WholeCell's or all its
    words among WholeCell's ("USPS Priority" → "USPS", "UPS Ground" → "UPS", never "USPS") 0.9;
    the other way round ("DHL" → "DHL Express") 0.85; the same first word 0.8; otherwise
    difflib's ratio ("Fedx" → "FedEx")."""
    ours, theirs = _words(wholecell_name), _words(temu_name)
    our_key, their_key = "".join(ours), "".join(theirs)
    if not our_key or not their_key:
        return 0.0
    if our_key == their_key:
        return 1.0
    if our_key.startswith(their_key) or set(theirs) <= set(ours):
        return 0.9
    if their_key.startswith(our_key) or set(ours) <= set(theirs):
        return 0.85
    if ours[0] == theirs[0]:
        return 0.8  # the same brand, another service ("DHL eCommerce" → "DHL Express")
    return SequenceMatcher(None, our_key, their_key).ratio()


def _label(carrier: Carrier) -> str:
    names = [n for n in dict.fromkeys((carrier.logistics_service_provider_name, carrier.logistics_brand_name)) if n]
    return f"{' / '.join(names) or 'unnamed'} (id {carrier.logistics_service_provider_id})"


def unknown_carrier_hint(name: str, carriers: list[Carrier]) -> str:
    """Why `name` is not a Temu carrier of the region, with the closest ones (by provider name or
    brand) and the `carrier_map` entry that maps it to the best of them; a short sample when
    none is close."""
    problem = f"carrier {name!r} is not a Temu carrier for this region"
    if not carriers:
        return f"{problem}: Temu lists no carriers for it"
    scored = [(max(carrier_likeness(name, n) for n in (c.logistics_service_provider_name or "",
                                                         c.logistics_brand_name or "")), index, c)
              for index, c in enumerate(carriers)]
    close = [c for score, _, c in sorted(scored, key=lambda s: (-s[0], s[1])) if score >= CLOSE_ENOUGH][:SUGGESTIONS]
    if not close:
        sample = sorted(carriers, key=lambda c: (c.logistics_service_provider_name or "").casefold())[:SAMPLE]
        more = f" and {len(carriers) - SAMPLE} more" if len(carriers) > SAMPLE else ""
        # the fix before the list: the order view keeps the first 500 characters
        return (f"{problem}, and none of its {len(carriers)} carriers is a close name; find its Temu carrier id "
                f"and map it in the connection's settings: \"carrier_map\": {{{json.dumps(name)}: <Temu carrier id>}}"
                f". Temu's carriers here: {', '.join(_label(c) for c in sample)}{more}")
    entry = json.dumps({name: close[0].logistics_service_provider_id})
    return (f"{problem}; closest Temu carriers: {', '.join(_label(c) for c in close)}. If it is "
            f"{close[0].logistics_service_provider_name or close[0].logistics_brand_name}, map it in the "
            f"connection's settings: \"carrier_map\": {entry}")


@dataclass(frozen=True)
class Box:
    """One WholeCell shipment: its tracking number, carrier and the SKUs it holds."""

    tracking_number: str
    carrier_id: int
    skus: Mapping[str, int] = field(default_factory=dict)  # WholeCell SKU -> quantity


def plan_packages(parent_order_sn: str, items: Iterable[OrderItem], boxes: list[Box], warehouse_id: str,
                  sku_of_line: Mapping[str, str | None]) -> list[tuple[int, list[ShipmentPackage]]]:
    """The confirm calls, `[(send type, packages)]`, for `boxes` (new tracking numbers).

    Each item still to ship goes, with its full quantity, in the box that holds its SKU; a box
    that lists no items holds everything not otherwise placed. Items no box holds stay
    unshipped (a partial shipment), unless a single box matches no item at all: then it holds
    everything. One box with items → one call, send type 0; several that
    together ship every remaining item → one call, send type 1; several that do not → one
    send-type-0 call each. A box holding no item travels as an extra box of the first package.
    """
    to_ship = [item for item in items if item.order_status in TO_SHIP and item.quantity > 0]
    if not to_ship:
        raise PermanentShipmentError("no item of the Temu order is waiting to be shipped")
    if not boxes:
        raise PermanentShipmentError("no tracking number to confirm")
    assigned = _assign_to_boxes(parent_order_sn, to_ship, boxes, sku_of_line)
    packages = _box_packages(boxes, assigned, warehouse_id)
    if len(packages) == 1:
        return [(SEND_ONE_PACKAGE, packages)]
    shipped = sum(len(package.lines) for package in packages)
    if shipped == len(to_ship):
        return [(SEND_SPLIT, packages)]
    return [(SEND_ONE_PACKAGE, [package]) for package in packages]


def _line(parent_order_sn: str, item: OrderItem) -> ShipmentLine:
    return ShipmentLine(parent_order_sn=parent_order_sn, order_sn=item.order_sn, quantity=item.quantity,
                        goods_id=item.goods_id, sku_id=item.sku_id)


def _assign_to_boxes(parent_order_sn: str, to_ship: list[OrderItem], boxes: list[Box],
                     sku_of_line: Mapping[str, str | None]) -> dict[int, list[ShipmentLine]]:
    """`{box index: lines}`: each item in the box that holds its SKU, else in the catch-all box (if any)."""
    assigned: dict[int, list[ShipmentLine]] = {index: [] for index in range(len(boxes))}
    room = [dict(box.skus) for box in boxes]
    catch_all = next((index for index, box in enumerate(boxes) if not box.skus), None)
    for item in to_ship:
        sku = sku_of_line.get(item.order_sn)
        target = next((i for i, left in enumerate(room) if sku and left.get(sku, 0) > 0), catch_all)
        if target is None:
            continue  # no box holds it: it ships later
        if sku and room[target].get(sku, 0) > 0:
            room[target][sku] -= item.quantity
        assigned[target].append(_line(parent_order_sn, item))
    if len(boxes) == 1 and not assigned[0]:
        # one tracking number whose items match no line (SKUs renamed, or lines that were
        # Unknown SKU when imported): it is the order's one package, everything goes in it
        assigned[0] = [_line(parent_order_sn, item) for item in to_ship]
    return assigned


# Temu takes at most this many extra tracking numbers on one package (120011098 beyond it); later
# empty boxes are not sent (their tracking stays in WholeCell).
MAX_EXTRA_BOXES = 10


def _box_packages(boxes: list[Box], assigned: Mapping[int, list[ShipmentLine]],
                  warehouse_id: str) -> list[ShipmentPackage]:
    """One package per box with lines; boxes with none travel as extra boxes of the first package."""
    packages: list[ShipmentPackage] = []
    extra: list[SubPackage] = []
    for index, box in enumerate(boxes):
        tracking = normalize_tracking(box.tracking_number)
        if assigned[index]:
            packages.append(ShipmentPackage(carrier_id=box.carrier_id, tracking_number=tracking,
                                            warehouse_id=warehouse_id, lines=assigned[index]))
        else:
            extra.append(SubPackage(carrier_id=box.carrier_id, tracking_number=tracking, warehouse_id=warehouse_id))
    if not packages:
        raise PermanentShipmentError("the WholeCell shipments hold none of the Temu order's items left to ship "
                                     f"(their SKUs: {sorted({sku for box in boxes for sku in box.skus})})")
    if extra:
        first = packages[0]
        extras = [*(first.sub_packages or []), *extra][:MAX_EXTRA_BOXES]
        packages[0] = first.model_copy(update={"sub_packages": extras})
    return packages


# A confirmation costs at most this many Temu calls in the common worst case: the order detail,
# the confirm, and a verification (detail + shipment info) when the confirm's answer is lost.
TEMU_CALLS_PER_CONFIRMATION = 4
WHOLECELL_SECONDS_PER_CONFIRMATION = 5.0  # the order read (and a retry) at WholeCell's pace


def confirmation_seconds(temu_rate_limit: float) -> float:
    """How long one confirmation may take at this worker's Temu budget: a message is not
    started with less time left (it is delivered again instead), and the function's timeout
    allows a whole batch (tests/unit/test_template.py)."""
    return TEMU_CALLS_PER_CONFIRMATION / temu_rate_limit + WHOLECELL_SECONDS_PER_CONFIRMATION
