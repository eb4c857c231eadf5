"""PynamoDB models: the one place that knows the DynamoDB table layout.

Table names come from the environment (template.yaml passes them), so models are bound to
their tables by `bind_tables` at cold start rather than at import time. Keys here must
match template.yaml; tests/unit/test_template.py checks that they do.
"""

from __future__ import annotations

import os

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    NumberAttribute,
    TTLAttribute,
    UnicodeAttribute,
    UTCDateTimeAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from wholecell_temu.config import Settings


def _region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


class _Meta:
    table_name = "unbound"  # set by bind_tables
    region = _region()


class ConnectionModel(Model):
    """A WholeCell account connected to one Temu shop."""

    class Meta(_Meta):
        pass

    connection_id = UnicodeAttribute(hash_key=True)
    name = UnicodeAttribute()
    status = UnicodeAttribute()  # awaiting_authorization | active | needs_reauthorization | disabled | deleted
    status_reason = UnicodeAttribute(null=True)
    # while disabled: the status (and reason) enabling restores; an authorization meanwhile sets it active
    resume_status = UnicodeAttribute(null=True)
    resume_reason = UnicodeAttribute(null=True)
    deleted_at = UTCDateTimeAttribute(null=True)
    # The one outstanding authorize link (admin-issued): SHA-256 of its signed state and when it
    # expires (epoch seconds); the callback removes it with a condition, so a link works once.
    authorize_state_hash = UnicodeAttribute(null=True)
    authorize_state_expires = NumberAttribute(null=True)
    created_at = UTCDateTimeAttribute()
    updated_at = UTCDateTimeAttribute()
    # Temu shop
    temu_region = UnicodeAttribute()
    temu_mall_id = NumberAttribute(null=True)
    temu_callback_host = UnicodeAttribute(null=True)  # gateway host Temu named at authorization
    token_expires_at = UTCDateTimeAttribute(null=True)
    scopes = JSONAttribute(null=True)  # list of strings
    missing_scopes = JSONAttribute(null=True)  # list of strings
    authorized_at = UTCDateTimeAttribute(null=True)
    # The connection's one secret ({"wholecell": ..., "temu": ...}) and the VersionId readers read;
    # writers change it only with a condition on the version they read (compare-and-swap).
    credentials_secret_arn = UnicodeAttribute()
    credentials_version = UnicodeAttribute()
    # The shipment webhook's signing secret is derived (master key, connection id, version)
    webhook_key_version = NumberAttribute(default=1)
    webhook_previous_key_version = NumberAttribute(null=True)  # still accepted during a rotation
    webhook_previous_key_until = UTCDateTimeAttribute(null=True)  # ... until then
    # Settings as validated JSON (wholecell_temu.domain.settings.ConnectionSettings)
    settings = JSONAttribute()
    settings_version = NumberAttribute(default=0)
    # How much a listing import reads (the larger of the shop's Temu SKUs and the account's WholeCell
    # SKUs at the last one): fan-out sends the largest connections first
    catalog_size = NumberAttribute(null=True)


class ListingModel(Model):
    """One Temu SKU of a connection's shop and what it is connected to in WholeCell."""

    class Meta(_Meta):
        pass

    connection_id = UnicodeAttribute(hash_key=True)
    temu_sku_id = UnicodeAttribute(range_key=True)  # decimal digits: ids are int64, never floats
    temu_goods_id = UnicodeAttribute()
    seller_sku = UnicodeAttribute(null=True)
    title = UnicodeAttribute(null=True)
    spec = UnicodeAttribute(null=True)
    status = UnicodeAttribute()  # active | ended
    temu_status = NumberAttribute(null=True)
    temu_sub_status = NumberAttribute(null=True)
    connection = JSONAttribute(null=True)  # {mode, skus: [{sku, factor}], product_variations: [{id, factor}]}
    last_calculated = NumberAttribute(null=True)
    last_pushed = NumberAttribute(null=True)
    last_pushed_at = UTCDateTimeAttribute(null=True)
    temu_quantity = NumberAttribute(null=True)
    temu_quantity_seen_at = UTCDateTimeAttribute(null=True)
    last_error = UnicodeAttribute(null=True)
    flags = JSONAttribute(null=True)  # list of strings
    overwritten_on_temu = BooleanAttribute(null=True)  # another writer changed Temu's stock (quantity sync)
    overwrite = JSONAttribute(null=True)  # what the quantity sync saw then (domain.quantities.TemuOverwrite)
    needs_mapping = BooleanAttribute(null=True)  # an order line for it had no WholeCell SKU (order import)
    first_seen_at = UTCDateTimeAttribute()
    last_seen_at = UTCDateTimeAttribute()  # last import that changed it (unchanged SKUs are not rewritten)


class _KeysOnlyIndexMeta:
    projection = KeysOnlyProjection()


class AwaitingAddressIndex(GlobalSecondaryIndex["OrderModel"]):  # type: ignore[no-untyped-call]
    class Meta(_KeysOnlyIndexMeta):
        index_name = "awaiting_address"

    connection_id = UnicodeAttribute(hash_key=True)
    address_due = UnicodeAttribute(range_key=True)


class UnresolvedIndex(GlobalSecondaryIndex["OrderModel"]):  # type: ignore[no-untyped-call]
    class Meta(_KeysOnlyIndexMeta):
        index_name = "unresolved"

    connection_id = UnicodeAttribute(hash_key=True)
    unresolved = UnicodeAttribute(range_key=True)


class ByWholeCellOrderIndex(GlobalSecondaryIndex["OrderModel"]):  # type: ignore[no-untyped-call]
    class Meta:
        index_name = "by_wholecell_order"
        projection = AllProjection()

    connection_id = UnicodeAttribute(hash_key=True)
    wholecell_order_id = UnicodeAttribute(range_key=True)


class OrderModel(Model):
    """A Temu parent order and the WholeCell sales order created for it.

    The item with sort key ORDER_STATE_KEY holds the order-import watermark. Two sparse
    indexes list what still needs work without a scan: `awaiting_address` (key attribute
    `address_due`, set only while an address is awaited) and `unresolved` (`unresolved`,
    set while the order was skipped or has Unknown SKU lines).
    """

    class Meta(_Meta):
        pass

    connection_id = UnicodeAttribute(hash_key=True)
    parent_order_sn = UnicodeAttribute(range_key=True)
    wholecell_order_id = UnicodeAttribute(null=True)  # GSI by_wholecell_order
    import_state = UnicodeAttribute(null=True)  # claimed | imported | skipped | excluded
    skip_reason = UnicodeAttribute(null=True)
    claim_owner = UnicodeAttribute(null=True)  # who claimed creation (exactly-once creation)
    claim_until = NumberAttribute(null=True)  # epoch seconds; a stale claim may be taken over
    claimed_at = UTCDateTimeAttribute(null=True)
    temu_status = NumberAttribute(null=True)
    temu_update_time = NumberAttribute(null=True)
    wholecell_status = UnicodeAttribute(null=True)
    lines = JSONAttribute(null=True)  # [domain.orders.LineRecord]
    unknown_skus = JSONAttribute(null=True)  # order_sn of the Unknown SKU lines
    address_state = UnicodeAttribute(null=True)  # awaiting | filled | unavailable
    address_reason = UnicodeAttribute(null=True)
    address_due = UnicodeAttribute(null=True)  # GSI awaiting_address (sparse)
    unresolved = UnicodeAttribute(null=True)  # GSI unresolved (sparse)
    shipment_state = UnicodeAttribute(null=True)  # confirmed | failed
    shipment_error = UnicodeAttribute(null=True)
    region_id = NumberAttribute(null=True)
    watermark = NumberAttribute(null=True)  # ORDER_STATE_KEY only: greatest Temu updateTime seen
    version = NumberAttribute(null=True)
    created_at = UTCDateTimeAttribute(null=True)
    updated_at = UTCDateTimeAttribute(null=True)

    awaiting_address = AwaitingAddressIndex()
    unresolved_orders = UnresolvedIndex()
    by_wholecell_order = ByWholeCellOrderIndex()


ORDER_STATE_KEY = "#state"


class ShipmentModel(Model):
    """One (WholeCell order, tracking number) and its Temu confirmation.

    The item with sort key SHIPMENT_STATE_KEY holds the reconciler's watermark.
    """

    class Meta(_Meta):
        pass

    connection_id = UnicodeAttribute(hash_key=True)
    shipment_key = UnicodeAttribute(range_key=True)  # "<wholecell_order_id>#<tracking number>"
    parent_order_sn = UnicodeAttribute(null=True)
    wholecell_order_id = NumberAttribute(null=True)
    tracking_number = UnicodeAttribute(null=True)
    carrier = UnicodeAttribute(null=True)
    state = UnicodeAttribute(null=True)  # pending | confirmed | failed
    verified = BooleanAttribute(null=True)  # confirmed by reading Temu back (it already had it)
    claim_owner = UnicodeAttribute(null=True)  # the delivery sending it now (exactly once)
    claim_until = NumberAttribute(null=True)
    attempts = NumberAttribute(default=0)
    last_error = UnicodeAttribute(null=True)
    watermark = UTCDateTimeAttribute(null=True)  # SHIPMENT_STATE_KEY only
    created_at = UTCDateTimeAttribute(null=True)
    updated_at = UTCDateTimeAttribute(null=True)


SHIPMENT_STATE_KEY = "#state"


class InventoryMirrorModel(Model):
    """Per-connection mirror of what quantities need from WholeCell, so a run reads only changes.

    Three kinds of item share a partition, told apart by the sort key's prefix:
    `u#<unit id>` a unit, `o#<order id>` an outstanding sales order, `#state` the mirror's
    watermarks (written with a version condition).
    """

    class Meta(_Meta):
        pass

    connection_id = UnicodeAttribute(hash_key=True)
    mirror_key = UnicodeAttribute(range_key=True)
    # units and orders
    status = UnicodeAttribute(null=True)
    updated_at = UTCDateTimeAttribute(null=True)  # WholeCell's updated_at
    # units
    sku = UnicodeAttribute(null=True)
    variation_id = NumberAttribute(null=True)
    warehouse = UnicodeAttribute(null=True)
    order_id = NumberAttribute(null=True)  # the sales order the unit is committed to
    # orders
    items = JSONAttribute(null=True)  # [[sku, variation_id, quantity], ...]
    order_number = UnicodeAttribute(null=True)
    channel = UnicodeAttribute(null=True)
    external_reference = UnicodeAttribute(null=True)
    # state
    state = JSONAttribute(null=True)
    version = NumberAttribute(null=True)


class RunModel(Model):
    """Run log of a job for a connection (pk "<connection_id>#<job>", sk start time), with TTL.

    The item with sk LEASE_SK is the run lease: at most one run of a job per connection.
    """

    class Meta(_Meta):
        pass

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    run_id = UnicodeAttribute(null=True)
    connection_id = UnicodeAttribute(null=True)
    job = UnicodeAttribute(null=True)
    trigger = UnicodeAttribute(null=True)  # schedule | manual
    outcome = UnicodeAttribute(null=True)
    started_at = UTCDateTimeAttribute(null=True)
    ended_at = UTCDateTimeAttribute(null=True)
    counts = JSONAttribute(null=True)
    reason = UnicodeAttribute(null=True)
    lease_owner = UnicodeAttribute(null=True)
    lease_until = NumberAttribute(null=True)
    checkpoint = JSONAttribute(null=True)
    expires_at = TTLAttribute(null=True)


LEASE_SK = "#lease"  # sorts before ISO timestamps, so newest-first queries see runs first


class AuthorizationModel(Model):
    """A Temu authorization that arrived without our state (an install started in Temu's app
    store), waiting for an operator to bind it to a connection. Its token is in the secret
    `<prefix>/authorizations/<authorization_id>`; after `expires_at` it is swept (secret and item)
    by the admin API's list and bind; `purge_at` (TTL) is DynamoDB's backstop, well after that.
    """

    class Meta(_Meta):
        pass

    authorization_id = UnicodeAttribute(hash_key=True)
    mall_id = NumberAttribute()
    temu_region = UnicodeAttribute()
    callback_host = UnicodeAttribute(null=True)
    token_expires_at = UTCDateTimeAttribute(null=True)
    scopes = JSONAttribute(null=True)
    missing_scopes = JSONAttribute(null=True)
    secret_arn = UnicodeAttribute()
    created_at = UTCDateTimeAttribute()
    expires_at = UTCDateTimeAttribute()
    purge_at = TTLAttribute()

class BudgetModel(Model):
    """A request budget shared by every worker of every function (the app's Temu budget, each
    WholeCell account's): the time its schedule is booked until (GCRA's theoretical arrival time,
    epoch seconds). Idle budgets expire by TTL; a missing item is an idle budget."""

    class Meta(_Meta):
        pass

    budget = UnicodeAttribute(hash_key=True)  # "temu" | "wholecell#<app id>"
    booked_until = NumberAttribute(null=True)
    expires_at = TTLAttribute(null=True)


ALL_MODELS: dict[str, type[Model]] = {
    "connections_table": ConnectionModel,
    "listings_table": ListingModel,
    "orders_table": OrderModel,
    "shipments_table": ShipmentModel,
    "inventory_table": InventoryMirrorModel,
    "runs_table": RunModel,
    "authorizations_table": AuthorizationModel,
    "budgets_table": BudgetModel,
}


def bind_tables(settings: Settings) -> None:
    """Point every model at its table (names from the environment). Idempotent.

    The cached connection is always dropped, so a changed endpoint (tests, local stacks) is
    picked up too; in Lambda this runs once per cold start.
    """
    region = _region()
    for field_name, model in ALL_MODELS.items():
        table_name = getattr(settings, field_name)
        if table_name is None:  # an optional table this stack does not have (budgets): stays unbound
            continue
        model.Meta.table_name = table_name
        model.Meta.region = region
        model._connection = None  # PynamoDB caches the connection with the table name and endpoint
