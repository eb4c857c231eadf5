"""Budgets table repository: request schedules shared by every worker of every function.

A budget is one number, the time its schedule is booked until (GCRA's "theoretical arrival
time"). Booking a request moves it on by one interval (1 / rate), so requests from any number of
workers are spaced evenly at the rate, whoever sends them. Each booking is one conditional
update (two when the guess of "busy" or "idle" was wrong), nothing is held between bookings,
so a worker that dies costs at most the slots it booked and never blocks anyone.

- busy schedule (booked until now or later): atomically add one interval, allowed only while
  the schedule ends within the caller's horizon (how far ahead its priority may book);
- idle schedule (booked until the past, or never): start it at now.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from pynamodb.exceptions import DoesNotExist

from wholecell_temu.store._conditions import conditional_write
from wholecell_temu.store.tables import BudgetModel

IDLE_EXPIRY_SECONDS = 86_400  # an idle budget's item is removed by TTL a day after its last booking


@dataclass(frozen=True)
class Booking:
    start: float | None  # epoch seconds the booked request may go; None: beyond the horizon, not booked
    booked_until: float  # the schedule's end as this call saw it


class Budgets:
    """Books requests on shared schedules (the BudgetsTable)."""

    def book(self, budget: str, interval: float, now: float, horizon: float, *, busy_first: bool = True) -> Booking:
        """One request on `budget`'s schedule: its start time, or no booking when the schedule
        already ends more than `horizon` seconds after `now`."""
        attempts = (self._append, self._begin) if busy_first else (self._begin, self._append)
        for attempt in attempts:
            booking = attempt(budget, interval, now, horizon)
            if booking is not None:
                return booking
        # busy beyond the horizon (or the schedule changed between the two writes): tell the caller how far
        return Booking(start=None, booked_until=self.booked_until(budget) or now)

    def hold(self, budget: str, until: float) -> None:
        """Nobody's request starts before `until` (the server said "slow down"): the schedule is
        pushed to it unless already booked beyond."""
        with conditional_write():
            BudgetModel(budget).update(
                actions=[BudgetModel.booked_until.set(until), BudgetModel.expires_at.set(_expiry(until))],
                condition=BudgetModel.booked_until.does_not_exist() | (BudgetModel.booked_until < until),
            )

    def booked_until(self, budget: str) -> float | None:
        try:
            item = BudgetModel.get(budget, consistent_read=True)
        except DoesNotExist:
            return None
        return None if item.booked_until is None else float(item.booked_until)

    @staticmethod
    def _append(budget: str, interval: float, now: float, horizon: float) -> Booking | None:
        item = BudgetModel(budget)
        with conditional_write() as write:
            item.update(
                actions=[BudgetModel.booked_until.add(interval), BudgetModel.expires_at.set(_expiry(now))],
                condition=(BudgetModel.booked_until >= now) & (BudgetModel.booked_until <= now + horizon),
            )
        if write.failed or item.booked_until is None:
            return None
        until = float(item.booked_until)
        return Booking(start=until - interval, booked_until=until)

    @staticmethod
    def _begin(budget: str, interval: float, now: float, horizon: float) -> Booking | None:
        with conditional_write() as write:
            BudgetModel(budget).update(
                actions=[BudgetModel.booked_until.set(now + interval), BudgetModel.expires_at.set(_expiry(now))],
                condition=BudgetModel.booked_until.does_not_exist() | (BudgetModel.booked_until < now),
            )
        return None if write.failed else Booking(start=now, booked_until=now + interval)


def _expiry(now: float) -> datetime:
    return datetime.fromtimestamp(now + IDLE_EXPIRY_SECONDS, UTC)


__all__ = ["IDLE_EXPIRY_SECONDS", "Booking", "Budgets"]
