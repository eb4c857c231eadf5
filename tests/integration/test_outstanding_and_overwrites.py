"""Issue #17 at the admin level: a closed WholeCell status counted as outstanding is warned about
when the settings are saved (not refused) and in the listing diagnosis, which also says which way
another writer moved a Temu quantity and what the sync did about it."""

from __future__ import annotations

from datetime import UTC, datetime

from wholecell_temu.admin.diagnosis import diagnose
from wholecell_temu.domain.listings import ListingConnection, ListingStatus, SkuLink
from wholecell_temu.domain.quantities import TemuOverwrite
from wholecell_temu.store.inventory import InventoryMirror, MirrorState
from wholecell_temu.store.listings import Listing, ListingRepository

from tests.integration.test_shipstation_setup import World, world  # noqa: F401 (the fixture)

SEEN = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_a_closed_status_counted_as_outstanding_is_saved_with_a_warning(world: World) -> None:  # noqa: F811
    status, body = world.put({"outstanding_order_statuses": ["Pending", "Shipped"]})
    assert status == 200, body
    assert body["outstanding_order_statuses"] == ["Pending", "Shipped"]  # saved as sent
    assert [w["field"] for w in body["warnings"]] == ["outstanding_order_statuses"]
    assert "'Shipped'" in body["warnings"][0]["message"] and "open: false" in body["warnings"][0]["message"]
    stored = world.services.connections.get("c1")
    assert stored is not None and stored.settings.outstanding_order_statuses == ["Pending", "Shipped"]

    status, body = world.put({})  # WholeCell's open statuses count: none of them is closed
    assert status == 200 and body["warnings"] == []

    world.account.missing = {"sales_order_statuses"}  # an account without flags: the title tells
    status, body = world.put({"outstanding_order_statuses": ["Pending", "Delivered"]})
    assert status == 200 and len(body["warnings"]) == 1 and "'Delivered'" in body["warnings"][0]["message"]


def test_the_diagnosis_names_the_closed_status_and_the_direction_of_an_overwrite(world: World) -> None:  # noqa: F811
    world.admin.replace_settings("c1", {"outstanding_order_statuses": ["Pending", "Shipped"]})
    InventoryMirror().save_state("c1", MirrorState(open_statuses=["Pending"], closed_statuses=["Shipped"]))
    seen = TemuOverwrite(direction="down", temu_quantity=0, last_pushed=5, ordered_since_push=0, seen_at=SEEN,
                         repushed=5)
    ListingRepository().insert_many([Listing(
        connection_id="c1", temu_sku_id=7, temu_goods_id=70, status=ListingStatus.ACTIVE,
        connection=ListingConnection(mode="auto", skus=[SkuLink(sku="A")]), last_pushed=5, last_pushed_at=SEEN,
        temu_quantity=5, overwritten_on_temu=True, overwrite=seen, first_seen_at=SEEN, last_seen_at=SEEN)])

    checks = {c.check: c for c in diagnose(world.admin, ListingRepository(), InventoryMirror(), "c1", 7).checks}
    overwrite = checks["overwritten_on_temu"]
    assert overwrite.status == "problem"
    assert "Temu showed 0, less than the 5 last pushed" in overwrite.detail
    assert "no Temu order took units since" in overwrite.detail and "the sync re-pushed 5" in overwrite.detail
    outstanding = checks["outstanding_statuses"]
    assert outstanding.status == "warning" and "'Shipped'" in outstanding.detail
