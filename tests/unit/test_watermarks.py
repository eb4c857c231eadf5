"""The watermark rule the order import and the shipment reconciler share (domain.watermarks)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from wholecell_temu.domain.watermarks import advanced_watermark


def before(seconds: int) -> int:
    return seconds - 1


def test_moves_to_the_newest_change_and_never_backwards() -> None:
    assert advanced_watermark(None, 100, None, before) == 100
    assert advanced_watermark(50, 100, None, before) == 100
    assert advanced_watermark(100, 100, None, before) is None  # not forward: left where it is
    assert advanced_watermark(150, 100, None, before) is None
    assert advanced_watermark(50, None, None, before) is None  # nothing read
    assert advanced_watermark(None, None, 70, before) is None  # only held changes: nothing to move to


def test_held_back_to_just_before_the_oldest_unfinished_change() -> None:
    assert advanced_watermark(None, 100, 70, before) == 69
    assert advanced_watermark(50, 100, 70, before) == 69
    assert advanced_watermark(50, 100, 200, before) == 100  # held after the newest: no effect
    assert advanced_watermark(69, 100, 70, before) is None  # held at the watermark: stays


def test_datetimes_hold_back_by_a_microsecond() -> None:
    now = datetime(2026, 1, 2, tzinfo=UTC)
    held = now - timedelta(minutes=5)
    assert advanced_watermark(now - timedelta(hours=1), now, held,
                              lambda moment: moment - timedelta(microseconds=1)) == held - timedelta(microseconds=1)
