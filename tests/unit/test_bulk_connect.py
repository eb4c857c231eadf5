"""CSV bulk connect: a listing with any rejected row is left exactly as it was (never overwritten
with its valid rows only), every listing named gets a result, a dry run writes nothing, and a CSV
that cannot be read is a 400, not a crash."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

import pytest
from wholecell_temu.admin import listings as admin_listings
from wholecell_temu.admin.listings import ListingService, bulk_connect
from wholecell_temu.api_errors import BadRequest
from wholecell_temu.domain.listings import ListingConnection, ListingStatus, SkuLink
from wholecell_temu.store.listings import Listing

T = datetime(2026, 12, 6, tzinfo=UTC)
POOLED = ListingConnection(mode="manual", skus=[SkuLink(sku="A"), SkuLink(sku="B")])


class Repository:
    def __init__(self, *items: Listing) -> None:
        self.items = {i.temu_sku_id: i for i in items}
        self.writes: list[tuple[int, ListingConnection | None]] = []

    def iter_all(self, connection_id: str) -> Any:
        return iter(self.items.values())

    def set_connection(self, listing: Listing, connection: ListingConnection | None) -> Listing:
        self.writes.append((listing.temu_sku_id, connection))
        self.items[listing.temu_sku_id] = listing.model_copy(update={"connection": connection})
        return self.items[listing.temu_sku_id]


def listing(sku_id: int, connection: ListingConnection | None = None) -> Listing:
    return Listing(connection_id="c1", temu_sku_id=sku_id, temu_goods_id=1, seller_sku=f"S-{sku_id}",
                   status=ListingStatus.ACTIVE, connection=connection, first_seen_at=T, last_seen_at=T)


@pytest.fixture
def service(monkeypatch: pytest.MonkeyPatch) -> ListingService:
    catalog = SimpleNamespace(skus={"A", "B", "C"}, variation_ids={7}, unknown_sku_hint=lambda: "",
                              unknown_variation_hint=lambda: "")
    monkeypatch.setattr(admin_listings, "catalog_for", lambda service, connection_id: catalog)
    connections = SimpleNamespace(require=lambda connection_id: None)
    return ListingService(connections, Repository(listing(10, POOLED), listing(11), listing(12)))  # type: ignore[arg-type]


def test_a_listing_with_a_rejected_row_is_left_unchanged(service: ListingService) -> None:
    """Listing 10 pools A+B; a CSV naming A (valid) and NOPE (rejected) must not turn it into A only."""
    repository: Repository = service.repository  # type: ignore[assignment]
    result = bulk_connect(service, "c1", "temu_sku_id,wholecell_sku\n10,A\n10,NOPE\n11,C\n")
    assert repository.items[10].connection == POOLED
    assert repository.writes == [(11, ListingConnection(mode="manual", skus=[SkuLink(sku="C")]))]
    assert [(r.row, r.status) for r in result.rows] == [(2, "not_applied"), (3, "rejected"), (4, "applied")]
    assert (result.applied, result.rejected, result.not_applied) == (1, 1, 1)
    by_listing = {item.temu_sku_id: item for item in result.listings}
    assert by_listing[10].status == "unchanged" and by_listing[10].rows == [2, 3]
    assert by_listing[10].reason and "row 3 rejected" in by_listing[10].reason
    assert by_listing[10].after == POOLED and by_listing[11].status == "changed"


def test_a_dry_run_shows_what_would_change_and_writes_nothing(service: ListingService) -> None:
    repository: Repository = service.repository  # type: ignore[assignment]
    result = bulk_connect(service, "c1", "temu_sku_id,wholecell_sku,factor\n11,C,2\n12,A,\n12,B,0\n10,A\n10,B\n",
                          dry_run=True)
    assert repository.writes == []
    assert result.dry_run and [r.status for r in result.rows] == [
        "would_apply", "not_applied", "rejected", "would_apply", "would_apply"]
    by_listing = {item.temu_sku_id: item for item in result.listings}
    assert by_listing[11].status == "would_change" and by_listing[11].before is None
    assert by_listing[11].after == ListingConnection(mode="manual", skus=[SkuLink(sku="C", factor=2)])
    assert by_listing[12].status == "unchanged"
    assert by_listing[10].status == "unchanged" and by_listing[10].reason == "already connected this way"
    applied = bulk_connect(service, "c1", "temu_sku_id,wholecell_sku,factor\n11,C,2\n")
    assert applied.listings[0].status == "changed" and len(repository.writes) == 1


@pytest.mark.parametrize("text", [
    "temu_sku_id,wholecell_sku\n11," + "x" * (csv.field_size_limit() + 1) + "\n",
    "temu_sku_id,wholecell_sku\n11,\"unterminated" + "y" * (csv.field_size_limit() + 1),
])
def test_an_unreadable_csv_is_a_bad_request(service: ListingService, text: str) -> None:
    with pytest.raises(BadRequest):
        bulk_connect(service, "c1", text)


def test_non_ascii_digits_are_rejected_rows(service: ListingService) -> None:
    result = bulk_connect(service, "c1", "temu_sku_id,wholecell_sku,factor\n\u00b2,A,\n11,A,\u00b2\n")
    assert [r.status for r in result.rows] == ["rejected", "rejected"]
