"""The diagnosis's account of an `overwritten on Temu` flag: which way, the values, what the sync did."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from wholecell_temu.admin.diagnosis import _overwrite_detail
from wholecell_temu.domain.listings import ListingStatus
from wholecell_temu.domain.quantities import TemuOverwrite
from wholecell_temu.store.listings import Listing

SEEN = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def flagged(overwrite: TemuOverwrite | None, **fields: Any) -> Listing:
    return Listing(connection_id="c1", temu_sku_id=1, temu_goods_id=1, status=ListingStatus.ACTIVE,
                   overwritten_on_temu=True, overwrite=overwrite, first_seen_at=SEEN, last_seen_at=SEEN, **fields)


def seen(direction: str, temu: int, pushed: int, ordered: int | None = None,
         repushed: int | None = None) -> TemuOverwrite:
    return TemuOverwrite.model_validate({"direction": direction, "temu_quantity": temu, "last_pushed": pushed,
                                         "ordered_since_push": ordered, "seen_at": SEEN, "repushed": repushed})


def test_up_says_more_than_pushed_and_what_was_pushed_back() -> None:
    detail = _overwrite_detail(flagged(seen("up", 12, 5, repushed=5)))
    assert "Temu showed 12, more than the 5 last pushed" in detail and detail.endswith("the sync re-pushed 5")


def test_down_names_the_units_orders_took() -> None:
    detail = _overwrite_detail(flagged(seen("down", 1, 5, ordered=2, repushed=4)))
    assert "Temu showed 1, less than the 5 last pushed minus the 2 units Temu orders took since" in detail
    assert "2026-03-01 12:00 UTC" in detail and detail.endswith("the sync re-pushed 4")


def test_what_the_sync_did_after_a_failed_push_back() -> None:
    failed = flagged(seen("down", 0, 5, ordered=0), last_error="Temu rejected the stock update: x")
    assert _overwrite_detail(failed).endswith("pushing our value back failed (see last_push)")
    later = flagged(seen("down", 0, 5, ordered=0), last_pushed=3, last_pushed_at=SEEN + timedelta(hours=1))
    assert _overwrite_detail(later).endswith("the sync has pushed 3 since")
    assert _overwrite_detail(flagged(seen("down", 0, 5, ordered=0))).endswith("at its next run")


def test_a_flag_stored_before_the_details_were_recorded() -> None:
    assert "other than the one we pushed" in _overwrite_detail(flagged(None))
