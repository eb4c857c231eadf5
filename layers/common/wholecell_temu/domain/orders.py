"""Order rules: which Temu orders are imported, how lines resolve to WholeCell SKUs, what
the WholeCell order should look like, and the ship-to address mapping. Pure, no I/O."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict

from wholecell_temu.domain.listings import ListingConnection, SkuLink
from wholecell_temu.domain.settings import ConnectionSettings
from wholecell_temu.temu.codes import LIFECYCLE, PENDING, WAITING_FOR_SELLER
from wholecell_temu.temu.models import Amount as TemuAmount
from wholecell_temu.temu.models import OrderItem
from wholecell_temu.temu.models import ShippingAddress as TemuAddress
from wholecell_temu.wholecell.adapter import OrderItem as WholeCellItem
from wholecell_temu.wholecell.adapter import ShippingAddress

ADDRESS_CHANGED = "CONFIRMED_CHANGED_ADDRESS"
OVERLAP_SECONDS = 600  # the import re-reads this much before its watermark: Temu's update times can land late


def behind(view_status: int, recorded_status: int | None) -> bool:
    """True when a Temu view shows the order at an earlier stage than the record (unknown codes never are)."""
    view, recorded = LIFECYCLE.get(view_status), LIFECYCLE.get(recorded_status or -1)
    return view is not None and recorded is not None and view < recorded

# Temu region ids → ISO country codes (reference §5.4)
REGION_COUNTRIES = {
    211: "US", 210: "GB", 76: "DE", 69: "FR", 98: "IT", 186: "ES", 141: "NL", 20: "BE", 13: "AT", 162: "PL",
    191: "SE", 96: "IE", 163: "PT", 37: "CA", 128: "MX", 100: "JP", 185: "KR", 12: "AU", 144: "NZ", 29: "BR",
    42: "CL", 209: "AE", 174: "SA",
}


@dataclass(frozen=True)
class Skip:
    """Why a new Temu order is not imported (yet). `final` only for history outside the first
    import's window: every other reason can go away (the switch turned on, the status mapped,
    the order confirmed), and the order is imported when it does."""

    reason: str
    final: bool = False


def skip_reason(status: int, settings: ConnectionSettings, first_run: bool) -> Skip | None:
    """None when a new Temu order in `status` is imported now, else why not (yet).

    The first-run window is judged before anything else: history the first import leaves alone
    stays excluded whatever the settings become, and an order still waiting for the seller is
    never excluded for a reason that can change."""
    if first_run and status not in WAITING_FOR_SELLER:
        return Skip(f"first import only takes orders still waiting for the seller (status {status})", final=True)
    if not settings.order_import_enabled:
        return Skip("order import is off")
    if str(status) not in settings.order_status_map:
        return Skip(f"Temu status {status} is not mapped in order_status_map")
    if status == PENDING and settings.order_acknowledgment == "wait_for_confirmation":
        return Skip("waiting for confirmation: imported once Temu moves it to awaiting shipment (2)")
    return None


def mapped_status(status: int, settings: ConnectionSettings) -> str | None:
    return settings.order_status_map.get(str(status))


class LineRecord(BaseModel):
    """One Temu order line as imported, and how its SKU was resolved."""

    model_config = ConfigDict(frozen=True)

    order_sn: str
    goods_id: int | None
    sku_id: int | None
    title: str | None
    spec: str | None
    temu_quantity: int
    temu_status: int
    sku: str | None = None
    variation_id: int | None = None
    factor: int = 1
    resolution: Literal["sku", "product_variation", "unknown"]
    unknown_reason: str | None = None
    unit_price_cents: int | None = None
    # why this SKU, when the listing is connected to several (None: one SKU, no choice; records
    # written before the choice existed have none either)
    choice_reason: str | None = None

    @property
    def wholecell_quantity(self) -> int:
        return self.temu_quantity * self.factor

    @property
    def description(self) -> str:
        return " - ".join(part for part in (self.title, self.spec) if part) or f"Temu SKU {self.sku_id}"

    def to_wholecell(self) -> WholeCellItem:
        return WholeCellItem(sku=self.sku, quantity=self.wholecell_quantity, unit_price_cents=self.unit_price_cents,
                             description=self.description, product_variation_id=self.variation_id)


UNKNOWN_LISTING = "the Temu SKU is not among the imported listings (run the listing import)"
UNCONNECTED_LISTING = "the listing is not connected to a WholeCell SKU"


def kept_sku(links: Sequence[SkuLink], recorded: LineRecord | None) -> SkuLink | None:
    """The SKU an imported line already orders, while the listing is still connected to it."""
    if recorded is None or recorded.resolution != "sku":
        return None
    return next((link for link in links if link.sku == recorded.sku), None)


def choose_sku(links: Sequence[SkuLink], quantity: int, available: Mapping[str, int],
               recorded: LineRecord | None = None) -> tuple[SkuLink, str | None]:
    """Which of a listing's SKUs a line of `quantity` Temu units orders, and why (None: one SKU).

    A line already imported keeps its SKU while the listing is still connected to it: stock
    moving since must not move the line (WholeCell would see its items rewritten). Otherwise
    the SKU that can supply the most of the line wins, counted as the quantity sync counts a
    listing: floor(max(0, available) / factor), `available` being available - outstanding per
    SKU. So a SKU covering the whole quantity x factor beats any that cannot. A tie goes to
    the configured order, and so does everything when no SKU's availability is known (the
    inventory mirror never built); a SKU missing while others are known counts as 0.
    """
    if len(links) == 1:
        return links[0], None
    kept = kept_sku(links, recorded)
    if kept is not None:
        return kept, (recorded.choice_reason if recorded is not None and recorded.choice_reason
                      else f"kept: {kept.sku} is the SKU the order was imported with")
    if not any(link.sku in available for link in links):
        return links[0], f"availability unknown, configured order: {', '.join(link.sku for link in links)}"

    def supply(link: SkuLink) -> int:
        return max(0, available.get(link.sku, 0)) // link.factor

    ranked = sorted(links, key=lambda link: -supply(link))  # stable: equals keep the configured order
    best = ranked[0]
    if supply(best) == supply(ranked[1]):
        verdict = "tie, configured order"
    elif supply(best) >= quantity:
        verdict = "most available"
    else:
        verdict = f"most available, none covers {quantity}"
    summary = ", ".join(f"{link.sku} {available.get(link.sku, 0)}" + (f" (x{link.factor})" if link.factor != 1 else "")
                        for link in ranked)
    return best, f"{verdict}: {summary}"


def resolve_line(item: OrderItem, listing_connection: ListingConnection | None, listing_known: bool,
                 sku_of_variation: Mapping[int, str] | None = None, unit_price_cents: int | None = None,
                 *, available: Mapping[str, int] | None = None, recorded: LineRecord | None = None) -> LineRecord:
    """A Temu line as a WholeCell item: the connected SKU (or variation), quantity x factor.

    A listing connected to several SKUs orders the one `choose_sku` picks from `available`
    (available - outstanding per SKU), or the SKU `recorded` (this line as imported) already
    orders; a variation carries its SKU when the mirror knows it. An unresolvable line is
    kept, with the reason.
    """
    base = {"order_sn": item.order_sn, "goods_id": item.goods_id, "sku_id": item.sku_id,
            "title": item.goods_name, "spec": item.spec, "temu_quantity": item.quantity,
            "temu_status": item.order_status, "unit_price_cents": unit_price_cents}
    if listing_connection is None:
        return LineRecord(**base, resolution="unknown",
                          unknown_reason=UNCONNECTED_LISTING if listing_known else UNKNOWN_LISTING)
    if listing_connection.skus:
        link, reason = choose_sku(listing_connection.skus, item.quantity, available or {}, recorded)
        return LineRecord(**base, sku=link.sku, factor=link.factor, resolution="sku", choice_reason=reason)
    variation = listing_connection.product_variations[0]
    return LineRecord(**base, sku=(sku_of_variation or {}).get(variation.id), variation_id=variation.id,
                      factor=variation.factor, resolution="product_variation")


# ISO 4217 minor-unit exponents of the currencies of Temu's sites (reference §5.4). Temu's order
# money is an integer in the currency's minor unit; a currency missing here gets no price rather
# than a guessed one.
MINOR_UNIT_EXPONENT = {
    "USD": 2, "CAD": 2, "MXN": 2, "BRL": 2, "GBP": 2, "EUR": 2, "PLN": 2, "SEK": 2, "NOK": 2, "DKK": 2,
    "CHF": 2, "CZK": 2, "HUF": 2, "RON": 2, "BGN": 2, "AUD": 2, "NZD": 2, "AED": 2, "SAR": 2, "ILS": 2,
    "ZAR": 2, "TRY": 2, "MYR": 2, "SGD": 2, "PHP": 2, "THB": 2, "JPY": 0, "KRW": 0, "CLP": 0,
    "KWD": 3, "BHD": 3, "OMR": 3,
}


def price_cents(amount: TemuAmount | None) -> int | None:
    """A Temu order amount as WholeCell money: integer hundredths of the currency unit ("cents").

    Temu sends an integer in the currency's minor unit (`32900` USD = $329.00 → 32900 cents);
    a currency without a minor unit (JPY: `32900` = ¥32,900) becomes 3,290,000 hundredths; one
    with three decimals is rounded half up. None for an unknown currency: no price beats a wrong one.
    """
    if amount is None:
        return None
    exponent = MINOR_UNIT_EXPONENT.get(amount.currency.upper())
    if exponent is None:
        return None
    hundredths = Decimal(amount.amount).scaleb(2 - exponent)
    return int(hundredths.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def wholecell_items(lines: list[LineRecord]) -> list[WholeCellItem]:
    """The WholeCell items: a line cancelled in full on Temu is dropped, releasing its stock."""
    return [line.to_wholecell() for line in lines if line.wholecell_quantity > 0]


def lines_changed(before: list[LineRecord], after: list[LineRecord]) -> bool:
    """Whether the WholeCell items must be rewritten (quantities, cancellations or a fixed SKU)."""
    key = [(line.order_sn, line.sku, line.variation_id, line.wholecell_quantity) for line in before]
    return key != [(line.order_sn, line.sku, line.variation_id, line.wholecell_quantity) for line in after]


def to_wholecell_address(address: TemuAddress, region_id: int | None) -> ShippingAddress:
    """Temu's ship-to (reference §4.4) in WholeCell's shape (§4.3 mapping)."""
    return ShippingAddress(
        name=address.receipt_name, street1=address.address_line1, street2=address.address_line2 or None,
        street3=address.address_line3 or None, city=address.region_name3, state=address.region_name2,
        zip=address.post_code, country=REGION_COUNTRIES.get(region_id or 0, address.region_name1),
        phone=address.mobile)
