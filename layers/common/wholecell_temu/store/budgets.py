"""Budgets table repository: request schedules shared by every worker of every function.

A budget is one number, the time its schedule is booked until (GCRA's "theoretical arrival
time"). Booking a request moves it on by one interval (1 / rate), so requests from any number of
workers are spaced evenly at the rate, whoever sends them. Each booking is one conditional
update (two when the guess of "busy" or "idle" was wrong; a refusal is one update and one read).
Nothing is held between bookings, so a worker that dies costs at most the slots it booked and
never blocks anyone.

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
BOOKING_ROUNDS = 3  # tries of one booking while other workers keep moving the schedule


@dataclass(frozen=True)
class Booking:
    start: float | None  # epoch seconds the booked request may go; None: beyond the horizon, not booked
    booked_until: float  # the schedule's end as this call saw it


class Budgets:
    """Books requests on shared schedules (the BudgetsTable)."""

    def book(self, budget: str, interval: float, now: float, horizon: float, *, busy_first: bool = True) -> Booking:
        """One request on `budget`'s schedule: its start time, or no booking when the schedule
        already ends more than `horizon` seconds after `now`.

        Store calls: one conditional update when the caller's guess (busy or idle) is right, two when
        it is wrong; a refusal costs one update and one consistent read (the read says how far the
        schedule is booked, which the caller needs to know how long to wait)."""
        if not busy_first:
            booking = self._begin(budget, interval, now, horizon)
            if booking is not None:
                return booking
        until: float | None = None
        for _ in range(BOOKING_ROUNDS):
            booking = self._append(budget, interval, now, horizon)
            if booking is not None:
                return booking
            until = self.booked_until(budget)
            if until is not None and until > now + horizon:  # busy beyond the horizon: refused
                return Booking(start=None, booked_until=until)
            if until is None or until < now:  # idle
                booking = self._begin(budget, interval, now, horizon)
                if booking is not None:
                    return booking
            # the schedule moved between the calls (another worker booked or it ran dry): again
        return Booking(start=None, booked_until=until if until is not None else now)

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


__all__ = ["BOOKING_ROUNDS", "IDLE_EXPIRY_SECONDS", "Booking", "Budgets"]
