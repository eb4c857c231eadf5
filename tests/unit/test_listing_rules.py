from __future__ import annotations

import pytest
from wholecell_temu.domain.listings import (
    ListingConnection,
    ListingStatus,
    SkuLink,
    auto_connection,
    listing_status,
)

WHOLECELL = {"IP13-128-BLK-B", "SGS22-128"}


@pytest.mark.parametrize(
    ("status", "sub_status", "expected"),
    [
        (2, 2001, ListingStatus.ACTIVE),
        (2, 2101, ListingStatus.ACTIVE),
        (3, 3003, ListingStatus.ACTIVE),  # sold out only: a restock brings it back
        (3, 3002, ListingStatus.ENDED),  # taken off sale by hand
        (3, 3001, ListingStatus.ENDED),
        (6, 6001, ListingStatus.ENDED),
        (None, None, ListingStatus.ENDED),
    ],
)
def test_listing_status(status: int | None, sub_status: int | None, expected: ListingStatus) -> None:
    assert listing_status(status, sub_status) is expected


def test_exact_match_connects_automatically() -> None:
    connection = auto_connection("IP13-128-BLK-B", WHOLECELL, None)
    assert connection == ListingConnection(mode="auto", skus=[SkuLink(sku="IP13-128-BLK-B", factor=1)])


@pytest.mark.parametrize("seller_sku", ["ip13-128-blk-b", " IP13-128-BLK-B", "IP13-128-BLK-B ", "", None, "IP13"])
def test_no_case_or_trimming_games_and_empty_stays_unconnected(seller_sku: str | None) -> None:
    assert auto_connection(seller_sku, WHOLECELL, None) is None


def test_manual_connection_is_never_overwritten() -> None:
    manual = ListingConnection(mode="manual", skus=[SkuLink(sku="SGS22-128", factor=2)])
    assert auto_connection("IP13-128-BLK-B", WHOLECELL, manual) is manual
    assert auto_connection(None, WHOLECELL, manual) is manual


def test_auto_connection_follows_the_seller_sku() -> None:
    old = auto_connection("IP13-128-BLK-B", WHOLECELL, None)
    expected = ListingConnection(mode="auto", skus=[SkuLink(sku="SGS22-128")])
    assert auto_connection("SGS22-128", WHOLECELL, old) == expected
    assert auto_connection("GONE", WHOLECELL, old) is None
