"""The adapter's models against the reference's example payloads (wholecell-api.md §2, §4.2, §5, §7)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone, tzinfo

import pytest
from pydantic import ValidationError
from wholecell_temu.wholecell import adapter
from wholecell_temu.wholecell.adapter import (
    Customer,
    InventoryUnit,
    OrderItem,
    SalesOrder,
    SalesOrderCreate,
    SalesOrderPatch,
    SalesOrderStatus,
    ShipmentEvent,
    ShippingAddress,
    StockLevel,
    Warehouse,
)

UNIT = {"id": 31877420, "esn": "356789104523871", "hex_id": "K7QD", "status": "Available",
        "order_id": None, "purchase_order_id": 240118,
        "sale_price": None, "total_price_paid": 18500, "initial_price_paid": 17500,
        "created_at": "2025-12-02T09:14:33.201-05:00", "updated_at": "2025-12-03T16:05:12.877-05:00",
        "product_variation": {"id": 6120334, "sku": "IP13-128-BLK-B", "grade": "B",
                              "conditions": [{"id": 4, "title": "Light Scratches", "initials": "LS"}],
                              "product": {"id": 9823115, "manufacturer": "APPLE", "model": "IPHONE 13",
                                          "variant": "A2482", "network": "UNLOCKED", "capacity": "128GB",
                                          "color": "BLACK"}},
        "custom_field_values": {"Battery Health": "88%"},
        "warehouse": {"name": "Main Warehouse"}, "location": {"name": "Ready Room"}}

ORDER = {"id": 518204, "order_number": "SO-10482", "external_reference": "PO-211-10384726150937164",
         "channel": "Temu", "status": "Awaiting Fulfillment", "customer": {"id": 7731, "name": "Temu"},
         "shipping_address": {"name": "Jordan Smith", "street1": "418 Maple Ave", "street2": "Apt 2B",
                              "street3": None, "city": "Columbus", "state": "OH", "zip": "43215",
                              "country": "US", "phone": "+1 614-555-0142"},
         "order_items": [{"sku": "IP13-128-BLK-B", "quantity": 1, "unit_price_cents": 32900,
                          "description": "iPhone 13 128GB Unlocked (Renewed) - Black, 128GB",
                          "product_variation_id": 6120334}],
         "shipments": [{"id": 90211, "carrier": "USPS", "service": "Ground Advantage",
                        "tracking_number": "9400111899562837465012",
                        "shipped_at": "2026-01-02T15:20:00-05:00",
                        "items": [{"sku": "IP13-128-BLK-B", "quantity": 1}]}],
         "created_at": "2026-01-01T19:02:11-05:00", "updated_at": "2026-01-02T15:21:04-05:00"}

EVENT = {"event": "sales_order.shipment_created", "event_id": "evt_01JH8Z6Q4W2M7R9T3K5N",
         "occurred_at": "2026-01-02T20:21:04Z", "sales_order_id": 518204,
         "shipment": {"id": 90211, "carrier": "USPS", "service": "Ground Advantage",
                      "tracking_number": "9400111899562837465012", "shipped_at": "2026-01-02T20:20:00Z",
                      "items": [{"sku": "IP13-128-BLK-B", "quantity": 1}]}}


def test_inventory_unit_parses_reference_example() -> None:
    unit = InventoryUnit.model_validate(UNIT)
    assert unit.sku == "IP13-128-BLK-B"
    assert unit.product_variation.id == 6120334
    assert unit.warehouse_name == "Main Warehouse" and unit.location_name == "Ready Room"
    assert not unit.committed
    assert unit.updated_at == datetime(2025, 12, 3, 16, 5, 12, 877000, tzinfo=timezone(timedelta(hours=-5)))
    assert unit.updated_at.utcoffset() is not None


@pytest.mark.parametrize("sku", [None, "", "   "])
def test_missing_sku_is_none(sku: str | None) -> None:
    unit = InventoryUnit.model_validate({**UNIT, "product_variation": {"id": 1, "sku": sku}})
    assert unit.sku is None


def test_unit_without_optional_objects() -> None:
    unit = InventoryUnit.model_validate({"id": 1, "status": "Inbound", "order_id": 9,
                                         "updated_at": "2025-12-03T16:05:12Z", "location": None})
    assert unit.sku is None and unit.warehouse_name is None and unit.location_name is None
    assert unit.committed


def test_naive_timestamps_are_rejected() -> None:
    with pytest.raises(ValidationError):
        InventoryUnit.model_validate({**UNIT, "updated_at": "2025-12-03T16:05:12"})


def test_sales_order_parses_reference_example_in_cents() -> None:
    order = SalesOrder.model_validate(ORDER)
    assert order.order_items[0].unit_price_cents == 32900
    assert order.shipments[0].tracking_number == "9400111899562837465012"
    assert order.shipments[0].items[0].quantity == 1
    assert order.customer == Customer(id=7731, name="Temu")
    assert order.unknown_sku_items == []


def test_sales_order_flags_unknown_sku_lines() -> None:
    order = SalesOrder.model_validate({**ORDER, "order_items": [
        {"sku": None, "quantity": 1, "description": "Mystery phone", "unknown_sku": True}]})
    assert [item.description for item in order.unknown_sku_items] == ["Mystery phone"]


def test_sales_order_without_address_or_shipments() -> None:
    order = SalesOrder.model_validate({**ORDER, "shipping_address": None, "shipments": []})
    assert order.shipping_address is None and order.shipments == []


def test_address_never_shows_buyer_data() -> None:
    order = SalesOrder.model_validate(ORDER)
    assert order.shipping_address is not None
    for text in (repr(order), str(order), repr(order.shipping_address), str(order.shipping_address),
                 f"{order.shipping_address}"):
        for secret in ("Jordan", "Maple", "43215", "614-555", "Columbus"):
            assert secret not in text
    assert repr(order.shipping_address) == "ShippingAddress(<redacted, 8 fields set>)"  # street3 is null
    assert str(ShippingAddress(name="J", street1="1 A St", zip="1")) == "ShippingAddress(<redacted, 3 fields set>)"
    assert repr(ShippingAddress()) == "ShippingAddress(<redacted, 0 fields set>)"
    assert ShippingAddress().is_empty and not order.shipping_address.is_empty


def test_create_body_omits_unset_fields() -> None:
    create = SalesOrderCreate(
        external_reference="PO-1", channel="Temu", status="Pending", customer=Customer(name="Temu"),
        order_items=[OrderItem(sku="IP13-128-BLK-B", quantity=2, unit_price_cents=32900, description="x")])
    assert create.to_body() == {
        "external_reference": "PO-1", "channel": "Temu", "status": "Pending", "customer": {"name": "Temu"},
        "order_items": [{"sku": "IP13-128-BLK-B", "quantity": 2, "unit_price_cents": 32900,
                         "description": "x"}]}


def test_create_rejects_unknown_fields_and_negative_prices() -> None:
    with pytest.raises(ValidationError):
        SalesOrderCreate.model_validate({"external_reference": "PO-1", "channel": "Temu", "status": "Pending",
                                         "order_items": [], "chanel": "Temu"})
    with pytest.raises(ValidationError):
        OrderItem(sku="A", quantity=1, unit_price_cents=-1)


def test_patch_sends_only_what_was_set() -> None:
    assert SalesOrderPatch(status="Canceled").to_body() == {"status": "Canceled"}
    backfill = SalesOrderPatch(shipping_address=ShippingAddress(name="J", street1="1 A St", zip="1"))
    assert backfill.to_body() == {"shipping_address": {"name": "J", "street1": "1 A St", "zip": "1"}}
    replace = SalesOrderPatch(order_items=[OrderItem(sku=None, quantity=1, description="d")])
    assert replace.to_body() == {"order_items": [{"sku": None, "quantity": 1, "description": "d"}]}
    assert SalesOrderPatch(shipping_address=None).to_body() == {"shipping_address": None}


def test_lookup_models_and_stock_levels() -> None:
    status = SalesOrderStatus.model_validate({"title": "Canceled", "open": False})
    assert not status.sync_to_shipstation and not status.allow_commitment
    assert Warehouse.model_validate({"name": "Main"}).id is None
    level = StockLevel.model_validate({"sku": "A", "on_hand": 3, "outstanding": 5, "available": -2})
    assert level.available == -2


def test_parse_page_accepts_envelope_and_bare_array() -> None:
    listing = adapter.parse_page({"data": [{"title": "Temu"}], "page": 1, "pages": 3}, adapter.SalesChannel)
    assert listing.data[0].title == "Temu" and not listing.is_last
    bare = adapter.parse_page([{"title": "Temu"}, {"title": "eBay"}], adapter.SalesChannel)
    assert [channel.title for channel in bare.data] == ["Temu", "eBay"]
    assert (bare.page, bare.pages, bare.is_last) == (1, 1, True)  # the client checks page == the one asked for
    assert adapter.parse_page({"data": [], "page": 1, "pages": 5}, adapter.SalesChannel).is_last
    with pytest.raises(ValidationError):
        adapter.parse_page({"items": []}, adapter.SalesChannel)


def test_parse_errors_shapes() -> None:
    message = "channel 'temu' does not exist"
    assert adapter.parse_errors({"errors": [message]}) == [message]
    assert adapter.parse_errors({"errors": {"status": ["is invalid"]}}) == ["status is invalid"]
    assert adapter.parse_errors({"message": "Not found"}) == ["Not found"]
    assert adapter.parse_errors("nope") == []


def test_parse_errors_fallback_shapes() -> None:
    rails = {"errors": {"status": "is invalid", "sku": ["can't be blank", "is unknown"]}}
    assert adapter.parse_errors(rails) == ["status is invalid", "sku can't be blank", "sku is unknown"]
    assert adapter.parse_errors({"error": "Unauthorized"}) == ["Unauthorized"]
    assert adapter.parse_errors({"message": "", "error": "Forbidden"}) == ["Forbidden"]
    assert adapter.parse_errors({"message": "Not found", "error": "Forbidden"}) == ["Not found"]
    assert adapter.parse_errors({}) == []
    assert adapter.parse_errors({"errors": None, "message": None, "error": ""}) == []


def test_filters_need_aware_times() -> None:
    since = datetime(2026, 1, 1, 12, tzinfo=UTC)
    assert adapter.sales_order_filters(since, "Temu", None) == [
        ("updated_at_gt", "2026-01-01T12:00:00+00:00"), ("channel", "Temu")]
    assert adapter.stock_level_filters(["Available", "Inbound"]) == [
        ("inventory_statuses[]", "Available"), ("inventory_statuses[]", "Inbound")]
    with pytest.raises(ValueError, match=r"^WholeCell time filters need a timezone-aware datetime$"):
        adapter.inventory_filters(None, datetime(2026, 1, 1))


class _NoOffset(tzinfo):
    """A tzinfo that does not know its offset: the datetime is as ambiguous as a naive one."""

    def utcoffset(self, dt: datetime | None) -> timedelta | None:
        return None

    def dst(self, dt: datetime | None) -> timedelta | None:
        return None

    def tzname(self, dt: datetime | None) -> str | None:
        return None


def test_a_time_without_a_known_offset_is_refused() -> None:
    with pytest.raises(ValueError, match=r"^WholeCell time filters need a timezone-aware datetime$"):
        adapter.sales_order_filters(datetime(2026, 1, 1, tzinfo=_NoOffset()), None, None)


def test_inventory_filters_send_the_status_title_and_the_delta_start() -> None:
    since = datetime(2025, 12, 3, 16, 5, 12, tzinfo=timezone(timedelta(hours=-5)))
    assert adapter.inventory_filters("Available", since) == [
        ("status", "Available"), ("updated_at_gt", "2025-12-03T16:05:12-05:00")]
    assert adapter.inventory_filters("Needs eBay Draft", None) == [("status", "Needs eBay Draft")]
    assert adapter.inventory_filters(None, since) == [("updated_at_gt", "2025-12-03T16:05:12-05:00")]
    assert adapter.inventory_filters(None, None) == []


def test_sales_order_filters_send_start_channel_and_status() -> None:
    since = datetime(2026, 1, 1, 12, tzinfo=UTC)
    assert adapter.sales_order_filters(since, "Temu", "Awaiting Fulfillment") == [
        ("updated_at_gt", "2026-01-01T12:00:00+00:00"), ("channel", "Temu"), ("status", "Awaiting Fulfillment")]
    assert adapter.sales_order_filters(None, None, "Pending") == [("status", "Pending")]
    assert adapter.sales_order_filters(None, None, None) == []
    assert adapter.stock_level_filters(None) == [] and adapter.stock_level_filters([]) == []


def test_paths_follow_the_reference() -> None:
    assert adapter.sales_order_path(518204) == "/sales_orders/518204"
    assert (adapter.INVENTORIES, adapter.STOCK_LEVELS, adapter.SALES_ORDERS, adapter.SALES_ORDER_STATUSES,
            adapter.INVENTORY_STATUSES, adapter.WAREHOUSES, adapter.SALES_CHANNELS, adapter.PAGE_PARAM) == (
        "/inventories", "/stock_levels", "/sales_orders", "/sales_order_statuses", "/inventory_statuses",
        "/warehouses", "/sales_channels", "page")


def test_shipment_event_parses_reference_example() -> None:
    event = ShipmentEvent.model_validate(EVENT)
    assert event.sales_order_id == 518204 and event.shipment.carrier == "USPS"
    assert event.occurred_at.tzinfo is not None
    with pytest.raises(ValidationError):
        ShipmentEvent.model_validate({**EVENT, "event": "sales_order.updated"})
