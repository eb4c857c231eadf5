"""Listings behind the admin API: search, one listing, connection by hand."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from wholecell_temu.admin.service import ConnectionService
from wholecell_temu.api_errors import BadRequest, NotFound
from wholecell_temu.domain.listings import ListingConnection, SkuLink, VariationLink
from wholecell_temu.store.listings import Listing, ListingRepository

PAGE_SIZE = 50


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


def view(listing: Listing) -> ListingView:
    return ListingView(
        temu_sku_id=listing.temu_sku_id, temu_goods_id=listing.temu_goods_id, seller_sku=listing.seller_sku,
        title=listing.title, spec=listing.spec, status=listing.status.value, connection=listing.connection,
        last_calculated=listing.last_calculated, last_pushed=listing.last_pushed,
        last_pushed_at=listing.last_pushed_at, temu_quantity=listing.temu_quantity, flags=listing.flags,
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
        after = int(cursor) if cursor and cursor.isdigit() else None
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

    def connect(self, connection_id: str, temu_sku_id: int, body: object) -> Listing:
        listing = self.one(connection_id, temu_sku_id)
        try:
            request = ConnectionRequest.model_validate(body)
        except ValidationError as exc:
            fields = {".".join(str(p) for p in e["loc"]) or "body": e["msg"] for e in exc.errors()}
            raise BadRequest("invalid connection", fields) from None
        wholecell = self.connections.wholecell_for(connection_id)
        if request.skus:
            known = {level.sku for level in wholecell.iter_stock_levels() if level.sku}
            unknown = [link.sku for link in request.skus if link.sku not in known]
            if unknown:
                raise BadRequest("unknown WholeCell SKUs", {"skus": f"not in WholeCell: {', '.join(unknown)}"})
        else:
            wanted = {link.id for link in request.product_variations or []}
            found = {unit.product_variation.id for unit in wholecell.iter_inventories()
                     if unit.product_variation is not None} & wanted
            missing = sorted(wanted - found)
            if missing:
                raise BadRequest("unknown product variations",
                                 {"product_variations": f"not in WholeCell: {', '.join(map(str, missing))}"})
        connection = ListingConnection(mode="manual", skus=request.skus or [],
                                       product_variations=request.product_variations or [])
        return self.repository.set_connection(listing, connection)

    def disconnect(self, connection_id: str, temu_sku_id: int) -> None:
        self.repository.set_connection(self.one(connection_id, temu_sku_id), None)
