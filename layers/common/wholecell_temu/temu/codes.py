"""Temu's codes, each defined once: parent and item order statuses and their groups (reference
§5.1), and error codes by what they mean (§6.1, §4.5; how each is handled: temu/errors.py).

Pure constants; importing this module loads nothing else of the package (not the client),
so settings validation and the webhook can use it.
"""

from __future__ import annotations

from enum import IntEnum


class OrderStatus(IntEnum):
    """A Temu parent order status (`parentOrderStatus`; items carry the same codes in `orderStatus`)."""

    PENDING = 1
    UN_SHIPPING = 2  # awaiting shipment
    CANCELED = 3
    SHIPPED = 4
    PARTIALLY_SHIPPED = 41
    DELIVERED = 5
    PARTIALLY_DELIVERED = 51

    @property
    def meaning(self) -> str:
        """What a seller calls it: "awaiting shipment", "partially delivered", ..."""
        return _MEANINGS[self]


_MEANINGS = {
    OrderStatus.PENDING: "pending", OrderStatus.UN_SHIPPING: "awaiting shipment", OrderStatus.CANCELED: "cancelled",
    OrderStatus.SHIPPED: "shipped", OrderStatus.PARTIALLY_SHIPPED: "partially shipped",
    OrderStatus.DELIVERED: "delivered", OrderStatus.PARTIALLY_DELIVERED: "partially delivered",
}

PENDING, UN_SHIPPING, CANCELED = OrderStatus.PENDING, OrderStatus.UN_SHIPPING, OrderStatus.CANCELED
SHIPPED, PARTIALLY_SHIPPED = OrderStatus.SHIPPED, OrderStatus.PARTIALLY_SHIPPED
DELIVERED, PARTIALLY_DELIVERED = OrderStatus.DELIVERED, OrderStatus.PARTIALLY_DELIVERED

# every status as the text keys of `order_status_map` ("1", "2", "3", "4", "41", "5", "51")
STATUS_CODES = tuple(str(status.value) for status in OrderStatus)
# code -> meaning, for messages and the admin view (unknown codes: .get gives None)
MEANINGS: dict[int, str] = {status.value: status.meaning for status in OrderStatus}

WAITING_FOR_SELLER = (PENDING, UN_SHIPPING)  # what a first import takes
ADDRESS_RELEASED = (UN_SHIPPING, PARTIALLY_SHIPPED)  # an address can be read and is still needed
CLOSED = (CANCELED, SHIPPED, DELIVERED, PARTIALLY_DELIVERED)  # too late to fill an address
TO_SHIP = (UN_SHIPPING, PARTIALLY_SHIPPED)  # item statuses still waiting for a shipment
SHIPPED_STATUSES = (SHIPPED, PARTIALLY_SHIPPED, DELIVERED, PARTIALLY_DELIVERED)  # an item Temu holds tracking for
# Temu order statuses whose mapped WholeCell status should not hold stock back
STOCK_RELEASED = (CANCELED, SHIPPED, DELIVERED)
# A parent order only moves forward: pending, awaiting shipment, (partially) shipped, (partially)
# delivered; cancelled ends it. A view showing an earlier stage than the record is an older view.
LIFECYCLE: dict[int, int] = {PENDING: 0, UN_SHIPPING: 1, PARTIALLY_SHIPPED: 2, SHIPPED: 3, PARTIALLY_DELIVERED: 4,
                             DELIVERED: 5, CANCELED: 6}

# Shipment confirmation (bg.logistics.shipment.v2.confirm) outcomes by Temu error code (reference §4.5)
ALREADY_DONE = frozenset({120012004, 120014003, 120014004})  # verify with bg.logistics.shipment.v2.get
PENDING_BUYER_REQUEST = {120012023: "a buyer address change is pending", 120012030: "a cancellation is pending",
                         120017007: "a cancellation is in review", 120012031: "a risk alert is pending"}
# every confirmation code whose outcome must be read back from Temu before anything is retried
VERIFY_CODES = ALREADY_DONE | frozenset(PENDING_BUYER_REQUEST)

# Error codes by what they mean (reference §6.1); temu/errors.py classifies them
SUCCESS_CODE = 1000000
RATE_LIMITED = 4000004
# Transient by the documents' own words ("try again later", "system error", "still being
# calculated": 140020008 on amounts, 140020009 on the detail); tests/contract holds every
# documented code against this table.
RETRYABLE_CODES = frozenset(
    {2000000, 4000000, RATE_LIMITED, 7000000, 150010005, 150010002, 140020008, 140020009, 120014006, 110020001}
)
# 3000030-3000032, 3000034: token missing, unknown, lacking the scope, expired/replaced: the seller
# authorizes again. 3000033 (token and app_key "not mapping") is our configuration (the region's
# app credentials), so it is fix-request: asking the seller to re-authorize would not cure it.
REAUTHORIZE_CODES = frozenset({3000030, 3000031, 3000032, 3000034, 5000000})
TOKEN_CREATE_REAUTHORIZE_CODES = frozenset({110020002, 110020003})  # at token creation only
