"""Where an incremental read leaves its watermark (the order import's Temu `updateTime`, the
shipment reconciler's WholeCell `updated_at`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime


def advanced_watermark[W: (int, datetime)](current: W | None, newest: W | None, oldest_held: W | None,
                                           just_before: Callable[[W], W]) -> W | None:
    """The watermark after a run: the newest change the run finished with, held back to just
    before the oldest change it could not finish (`just_before(oldest_held)`: read again next run),
    and never backwards. None: leave the watermark where it is.

    `newest` is None when the run read nothing to move it to; `oldest_held` None when it held nothing.
    """
    if newest is not None and oldest_held is not None:
        newest = min(newest, just_before(oldest_held))
    if newest is None or (current is not None and newest <= current):
        return None
    return newest


__all__ = ["advanced_watermark"]
