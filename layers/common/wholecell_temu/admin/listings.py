"""Listings behind the admin API: search, one listing, connection by hand."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from wholecell_temu.admin.service import ConnectionService
from wholecell_temu.api_errors import BadRequest, NotFound
from wholecell_temu.domain.listings import ListingConnection, SkuLink, VariationLink
from wholecell_temu.store.inventory import InventoryMirror
from wholecell_temu.store.listings import Listing, ListingRepository
from wholecell_temu.wholecell import WholeCellClient

PAGE_SIZE = 50
OVERWRITTEN_ON_TEMU = "overwritten on Temu"
NEEDS_MAPPING = "needs mapping"  # an order line for it arrived as Unknown SKU


class ListingView(BaseModel):
    temu_sku_id: int
    temu_goods_id: int
    seller_sku: str | None
    title: str | None
    spec: str | None
    status: Literal["active", "ended"]
    connection: ListingConnection | None
    last_calculated: int | None
    last_pushed: int | None
    last_pushed_at: datetime | None
    temu_quantity: int | None
    flags: list[str]


class ListingPage(BaseModel):
    items: list[ListingView]
    next_cursor: str | None


class ConnectionRequest(BaseModel):
    """Body of PUT .../connection: SKUs (pooled) or specific product variations, not both."""

    model_config = ConfigDict(extra="forbid")

    skus: list[SkuLink] | None = Field(None, min_length=1, max_length=50)
    product_variations: list[VariationLink] | None = Field(None, min_length=1, max_length=50)

    @model_validator(mode="after")
    def _exactly_one(self) -> ConnectionRequest:
        if (self.skus is None) == (self.product_variations is None):
            raise ValueError("send either skus or product_variations")
        return self


class WholeCellCatalog:
    """The SKUs and product variations that exist in WholeCell, as recorded, read once each.

    SKUs come from the catalog the last listing import cached (stock levels list every SKU,
    zero stock included); reading a large catalog live would not fit an API request. Only
    before the first import is WholeCell read directly. Variations come from the inventory
    mirror (units the quantity sync has seen); before the first sync, from WholeCell's units.
    """

    def __init__(self, wholecell: Callable[[], WholeCellClient], mirror: InventoryMirror, connection_id: str) -> None:
        self._wholecell = wholecell
        self._mirror = mirror
        self._connection_id = connection_id
        self.skus_as_of: datetime | None = None

    @cached_property
    def skus(self) -> set[str]:
        cached = self._mirror.load_catalog(self._connection_id)
        if cached is not None:
            skus, self.skus_as_of = cached
            return skus
        return {level.sku for level in self._wholecell().iter_stock_levels() if level.sku}

    @cached_property
    def variation_ids(self) -> set[int]:
        known = self._mirror.variation_ids(self._connection_id)
        if known:
            return known
        return {unit.product_variation.id for unit in self._wholecell().iter_inventories()
                if unit.product_variation.id is not None}

    def unknown_sku_hint(self) -> str:
        if self.skus_as_of is None:
            return ""
        return (f" (WholeCell's SKUs as of the last listing import, {self.skus_as_of:%Y-%m-%d %H:%M} UTC; "
                "run the listing import if the SKU was created since)")

    def unknown_variation_hint(self) -> str:
        return " (variations the quantity sync has seen units of)"


def catalog_for(service: ConnectionService, connection_id: str) -> WholeCellCatalog:
    return WholeCellCatalog(lambda: service.wholecell_for(connection_id), InventoryMirror(), connection_id)


def view(listing: Listing) -> ListingView:
    return ListingView(
        temu_sku_id=listing.temu_sku_id, temu_goods_id=listing.temu_goods_id, seller_sku=listing.seller_sku,
        title=listing.title, spec=listing.spec, status=listing.status.value, connection=listing.connection,
        last_calculated=listing.last_calculated, last_pushed=listing.last_pushed,
        last_pushed_at=listing.last_pushed_at, temu_quantity=listing.temu_quantity,
        flags=[*listing.flags, *([OVERWRITTEN_ON_TEMU] if listing.overwritten_on_temu else []),
               *([NEEDS_MAPPING] if listing.needs_mapping and listing.connection is None else [])],
    )


def matches(listing: Listing, query: str) -> bool:
    """A listing id (goods or SKU) matches exactly; seller SKU and title match as substrings."""
    if query.isdigit() and int(query) in (listing.temu_sku_id, listing.temu_goods_id):
        return True
    needle = query.casefold()
    return any(needle in (text or "").casefold() for text in (listing.seller_sku, listing.title))


@dataclass
class ListingService:
    connections: ConnectionService
    repository: ListingRepository

    def search(self, connection_id: str, q: str | None, connected: bool | None, status: str | None,
               cursor: str | None) -> ListingPage:
        self.connections.require(connection_id)
        after = int(cursor) if cursor and cursor.isascii() and cursor.isdigit() else None  # "²".isdigit()
        items: list[ListingView] = []
        for listing in self.repository.iter_all(connection_id):  # ordered by SKU id (the sort key)
            if after is not None and listing.temu_sku_id <= after:
                continue
            if q and not matches(listing, q.strip()):
                continue
            if connected is not None and (listing.connection is not None) != connected:
                continue
            if status and listing.status.value != status:
                continue
            if len(items) == PAGE_SIZE:
                return ListingPage(items=items, next_cursor=str(items[-1].temu_sku_id))
            items.append(view(listing))
        return ListingPage(items=items, next_cursor=None)

    def one(self, connection_id: str, temu_sku_id: int) -> Listing:
        self.connections.require(connection_id)
        listing = self.repository.get(connection_id, temu_sku_id)
        if listing is None:
            raise NotFound(f"listing {temu_sku_id} not found")
        return listing

    def connect(self, connection_id: str, temu_sku_id: int, body: ConnectionRequest | object) -> Listing:
        """Connect by hand; `body` is the validated request (the HTTP route's) or its JSON data."""
        listing = self.one(connection_id, temu_sku_id)
        try:
            request = body if isinstance(body, ConnectionRequest) else ConnectionRequest.model_validate(body)
        except ValidationError as exc:
            fields = {".".join(str(p) for p in e["loc"]) or "body": e["msg"] for e in exc.errors()}
            raise BadRequest("invalid connection", fields) from None
        catalog = catalog_for(self.connections, connection_id)
        if request.skus:
            unknown = [link.sku for link in request.skus if link.sku not in catalog.skus]
            if unknown:
                raise BadRequest("unknown WholeCell SKUs", {
                    "skus": f"not in WholeCell: {', '.join(unknown)}{catalog.unknown_sku_hint()}"})
        else:
            missing = sorted({link.id for link in request.product_variations or []} - catalog.variation_ids)
            if missing:
                raise BadRequest("unknown product variations",
                                 {"product_variations": f"not in WholeCell: {', '.join(map(str, missing))}"
                                                        f"{catalog.unknown_variation_hint()}"})
        connection = ListingConnection(mode="manual", skus=request.skus or [],
                                       product_variations=request.product_variations or [])
        return self.repository.set_connection(listing, connection)

    def disconnect(self, connection_id: str, temu_sku_id: int) -> None:
        self.repository.set_connection(self.one(connection_id, temu_sku_id), None)


class BulkRowResult(BaseModel):
    row: int
    temu_sku_id: int | None
    # would_apply: a dry run's applied; not_applied: valid, but another row of its listing was rejected
    status: Literal["applied", "would_apply", "rejected", "not_applied"]
    reason: str | None = None


class BulkListingResult(BaseModel):
    """One listing the CSV names: changed (or would be, on a dry run) only if all its rows are valid."""

    temu_sku_id: int
    status: Literal["changed", "would_change", "unchanged"]
    rows: list[int]
    reason: str | None = None  # why it is unchanged
    before: ListingConnection | None
    after: ListingConnection | None  # what it is connected to now (on a dry run: would be)


class BulkResult(BaseModel):
    dry_run: bool = False
    applied: int  # rows applied (on a dry run: rows that would be)
    rejected: int
    not_applied: int = 0
    rows: list[BulkRowResult]
    listings: list[BulkListingResult] = []


def _parse_csv(csv_text: str) -> tuple[set[str], list[dict[str, str]]]:
    try:
        reader = csv.DictReader(io.StringIO(csv_text.lstrip("\ufeff")))
        return set(reader.fieldnames or []), list(reader)
    except csv.Error as exc:  # e.g. a field over csv.field_size_limit() (128 KB)
        raise BadRequest("the CSV cannot be read", {"body": str(exc)[:200]}) from None


def bulk_connect(service: ListingService, connection_id: str, csv_text: str, dry_run: bool = False) -> BulkResult:
    """Apply a CSV of connections; rows naming the same listing pool into one connection.

    Columns: `temu_sku_id` (or `temu_goods_id` + `seller_sku`), then `wholecell_sku` or
    `product_variation_id`, optional `factor`. A listing is changed only if all its rows are
    valid, so nothing is half-applied (a listing pooling A+B never silently becomes A only);
    every row and every listing named gets a result. `dry_run` changes nothing and answers
    what would change.
    """
    service.connections.require(connection_id)
    columns, rows = _parse_csv(csv_text)
    if not ({"temu_sku_id"} <= columns or {"temu_goods_id", "seller_sku"} <= columns) or not (
        columns & {"wholecell_sku", "product_variation_id"}
    ):
        raise BadRequest("the CSV needs temu_sku_id (or temu_goods_id and seller_sku) and wholecell_sku "
                         "or product_variation_id columns", {"body": f"columns found: {sorted(columns)}"})
    listings = list(service.repository.iter_all(connection_id))
    by_id = {listing.temu_sku_id: listing for listing in listings}
    by_goods_sku = {(listing.temu_goods_id, listing.seller_sku): listing for listing in listings}
    catalog = catalog_for(service.connections, connection_id)

    results: dict[int, BulkRowResult] = {}
    plans: dict[int, list[tuple[int, SkuLink | VariationLink | None]]] = {}  # None: a rejected row
    for number, row in enumerate(rows, start=2):  # row 1 is the header
        try:
            listing = _row_listing(row, by_id, by_goods_sku)
        except ValueError as exc:
            results[number] = BulkRowResult(row=number, temu_sku_id=None, status="rejected", reason=str(exc))
            continue
        try:
            link = _row_link(row, catalog)
        except (ValueError, ValidationError) as exc:
            message = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
            results[number] = BulkRowResult(row=number, temu_sku_id=listing.temu_sku_id, status="rejected",
                                            reason=message)
            plans.setdefault(listing.temu_sku_id, []).append((number, None))
            continue
        plans.setdefault(listing.temu_sku_id, []).append((number, link))
        results[number] = BulkRowResult(row=number, temu_sku_id=listing.temu_sku_id,
                                        status="would_apply" if dry_run else "applied")

    outcomes = [_apply_listing(service, by_id[temu_sku_id], links, results, dry_run)
                for temu_sku_id, links in plans.items()]
    ordered = [results[number] for number in sorted(results)]
    return BulkResult(dry_run=dry_run, applied=sum(1 for r in ordered if r.status in ("applied", "would_apply")),
                      rejected=sum(1 for r in ordered if r.status == "rejected"),
                      not_applied=sum(1 for r in ordered if r.status == "not_applied"),
                      rows=ordered, listings=outcomes)


def _row_link(row: dict[str, str], catalog: WholeCellCatalog) -> SkuLink | VariationLink:
    factor = int(row.get("factor") or 1)
    sku = row.get("wholecell_sku") or ""
    if sku.strip():
        if sku not in catalog.skus:
            raise ValueError(f"WholeCell SKU {sku!r} does not exist" + catalog.unknown_sku_hint())
        return SkuLink(sku=sku, factor=factor)
    variation_id = int(row.get("product_variation_id") or 0)
    if variation_id not in catalog.variation_ids:
        raise ValueError(f"product variation {variation_id} does not exist")
    return VariationLink(id=variation_id, factor=factor)


def _apply_listing(service: ListingService, listing: Listing, links: list[tuple[int, SkuLink | VariationLink | None]],
                   results: dict[int, BulkRowResult], dry_run: bool) -> BulkListingResult:
    """Connect one listing to all its rows' links, or leave it unchanged if any row is rejected."""
    numbers = [number for number, _ in links]

    def unchanged(reason: str, row_reason: str) -> BulkListingResult:
        for number in numbers:
            if results[number].status != "rejected":
                results[number] = results[number].model_copy(update={"status": "not_applied", "reason": row_reason})
        return BulkListingResult(temu_sku_id=listing.temu_sku_id, status="unchanged", rows=numbers, reason=reason,
                                 before=listing.connection, after=listing.connection)

    valid = [link for _, link in links if link is not None]
    if len(valid) < len(links):
        rejected = [str(number) for number, link in links if link is None]
        return unchanged(f"row {', '.join(rejected)} rejected: the listing is left as it was",
                         "another row of this listing was rejected; the listing is left as it was")
    if len({type(link) for link in valid}) > 1:
        for number in numbers:
            results[number] = results[number].model_copy(update={
                "status": "rejected", "reason": "a listing connects to SKUs or to variations, not both"})
        return unchanged("a listing connects to SKUs or to variations, not both", "")
    connection = ListingConnection(mode="manual", skus=[link for link in valid if isinstance(link, SkuLink)],
                                   product_variations=[link for link in valid if isinstance(link, VariationLink)])
    outcome = BulkListingResult(temu_sku_id=listing.temu_sku_id, status="would_change" if dry_run else "changed",
                                rows=numbers, before=listing.connection, after=connection)
    if connection == listing.connection:
        return outcome.model_copy(update={"status": "unchanged", "reason": "already connected this way"})
    if not dry_run:
        service.repository.set_connection(listing, connection)
    return outcome


def _row_listing(row: dict[str, str], by_id: dict[int, Listing],
                 by_goods_sku: dict[tuple[int, str | None], Listing]) -> Listing:
    if (row.get("temu_sku_id") or "").strip():
        listing = by_id.get(int(row["temu_sku_id"]))
        if listing is None:
            raise ValueError(f"Temu SKU {row['temu_sku_id']} is not an imported listing")
        return listing
    key = (int(row.get("temu_goods_id") or 0), row.get("seller_sku") or None)
    found = by_goods_sku.get(key)
    if found is None:
        raise ValueError(f"no listing with goods id {key[0]} and seller SKU {key[1]!r}")
    return found
