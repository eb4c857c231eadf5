"""Listing rules: what a Temu SKU's status means to us, and the automatic connection rule."""

from __future__ import annotations

from collections.abc import Collection
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

# Temu SKU status (`status4VO`, filters): 2 Active, 3 Inactive; the four-digit sub-status
# (`skuShowSubStatus4VO`, not `subStatus4VO`) 3003 = sold out (tests/contract/temu/bg.local.goods.sku.list.query.json).
TEMU_SKU_ACTIVE = 2
TEMU_SKU_INACTIVE = 3
TEMU_SUB_STATUS_SOLD_OUT = 3003


class ListingStatus(StrEnum):
    ACTIVE = "active"
    ENDED = "ended"


class SkuLink(BaseModel):
    model_config = ConfigDict(frozen=True)

    sku: str = Field(min_length=1)
    factor: int = Field(1, ge=1, le=1000)


class VariationLink(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: int = Field(gt=0)
    factor: int = Field(1, ge=1, le=1000)


class ListingConnection(BaseModel):
    """What a Temu SKU draws on in WholeCell: SKUs (pooled) or specific product variations."""

    model_config = ConfigDict(frozen=True)

    mode: Literal["auto", "manual"]
    skus: list[SkuLink] = []
    product_variations: list[VariationLink] = []


def listing_status(temu_status: int | None, temu_sub_status: int | None) -> ListingStatus:
    """Active on Temu → active; inactive → ended, unless only sold out (a restock brings it back)."""
    if temu_status == TEMU_SKU_ACTIVE:
        return ListingStatus.ACTIVE
    if temu_status == TEMU_SKU_INACTIVE and temu_sub_status == TEMU_SUB_STATUS_SOLD_OUT:
        return ListingStatus.ACTIVE
    return ListingStatus.ENDED


def auto_connection(
    seller_sku: str | None, wholecell_skus: Collection[str], current: ListingConnection | None
) -> ListingConnection | None:
    """The connection a listing should have after an import.

    A manual connection is never touched. Otherwise the seller SKU must equal a WholeCell
    SKU exactly (case-sensitive, no trimming); an empty code stays unconnected, and an
    automatic connection whose SKU no longer matches is dropped.
    """
    if current is not None and current.mode == "manual":
        return current
    if seller_sku and seller_sku in wholecell_skus:
        return ListingConnection(mode="auto", skus=[SkuLink(sku=seller_sku)])
    return None
