"""A wall clock a test sets: jobs and repositories read the date only through their Clock."""

from __future__ import annotations

from datetime import datetime, timedelta

from wholecell_temu.net import Clock


class SetClock(Clock):
    """Wall time stands at `at` until the test moves it; monotonic time and sleeping are real."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("give the clock an aware datetime")
        self.at = at

    def time(self) -> float:
        return self.at.timestamp()

    def advance(self, by: timedelta) -> None:
        self.at += by
