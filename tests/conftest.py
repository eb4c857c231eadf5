"""Suite-wide: run every in-process test at a date of your choosing.

`TEST_CLOCK_SHIFT_DAYS=365 pytest tests/unit tests/integration` moves this process's wall clock
(time.time, datetime.now, ...) that many days ahead for the whole session, time still flowing, so a
test that only passes on the day it was written fails now, not the day its dates go stale.
`make test` runs the unit and integration tests once more with the clock a year ahead. The local
stack's workers inherit the variable and shift their own clocks (local/workers.py), so the e2e suite
runs at another date too (README, "Tests at another date").
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from local.workers import SHIFT_VARIABLE  # one name for the shifted date, here and in the workers

_travel: list[time_machine.travel] = []


def pytest_configure(config: pytest.Config) -> None:
    days = os.environ.get(SHIFT_VARIABLE)
    if not days:
        return
    traveller = time_machine.travel(datetime.now(UTC) + timedelta(days=float(days)), tick=True)
    traveller.start()
    _travel.append(traveller)


def pytest_report_header(config: pytest.Config) -> str | None:
    days = os.environ.get(SHIFT_VARIABLE)
    return f"wall clock shifted {days} days ahead: now is {datetime.now(UTC).isoformat()}" if days else None


def pytest_unconfigure(config: pytest.Config) -> None:
    while _travel:
        _travel.pop().stop()
