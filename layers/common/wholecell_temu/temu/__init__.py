"""Temu Open API: signing, classified errors, typed models and the client.

The client is loaded on first use of its names, so a module that needs only Temu's codes
(temu/codes.py) or models does not load it (the webhook never does).
"""

from typing import TYPE_CHECKING, Any

from wholecell_temu.temu.errors import TemuApiError, classify_code
from wholecell_temu.temu.models import (
    AccessToken,
    Carrier,
    Goods,
    GoodsPage,
    Order,
    OrderAmount,
    OrderItem,
    OrderPage,
    ParentOrder,
    RetrievedSku,
    ShipmentConfirmResult,
    ShipmentInfo,
    ShipmentInfoResult,
    ShipmentLine,
    ShipmentPackage,
    ShippingAddress,
    Sku,
    SkuPage,
    SkuRetrievePage,
    SkuStockEditStatus,
    StockEditResult,
    SubPackage,
    TokenInfo,
    Warehouse,
    WarehouseList,
)
from wholecell_temu.temu.signing import sign, signed_body

if TYPE_CHECKING:
    from wholecell_temu.temu.client import MAX_PAGE_SIZE, TemuClient

_FROM_CLIENT = ("MAX_PAGE_SIZE", "TemuClient")


def __getattr__(name: str) -> Any:
    if name in _FROM_CLIENT:
        from wholecell_temu.temu import client  # noqa: PLC0415 - loaded on first use, see above

        return getattr(client, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "MAX_PAGE_SIZE",
    "AccessToken",
    "Carrier",
    "Goods",
    "GoodsPage",
    "Order",
    "OrderAmount",
    "OrderItem",
    "OrderPage",
    "ParentOrder",
    "RetrievedSku",
    "ShipmentConfirmResult",
    "ShipmentInfo",
    "ShipmentInfoResult",
    "ShipmentLine",
    "ShipmentPackage",
    "ShippingAddress",
    "Sku",
    "SkuPage",
    "SkuRetrievePage",
    "SkuStockEditStatus",
    "StockEditResult",
    "SubPackage",
    "TemuApiError",
    "TemuClient",
    "TokenInfo",
    "Warehouse",
    "WarehouseList",
    "classify_code",
    "sign",
    "signed_body",
]
