"""Request budgets shared by every worker of every function (issue #19).

Temu allows one rate per app across all shops; WholeCell one rate per account. With a Budgets
table (BUDGETS_TABLE), each process books its requests on the shared schedule
(store/budgets.py) instead of pacing alone at a fixed share, so the budget, not the number of
workers, decides the rate, and a share one function leaves idle is used by another.

Priorities are horizons: how far ahead of now a caller may book. Fulfilment (order imports,
address backfill, shipment confirmations, admin and OAuth calls) books up to FULFILMENT_HORIZON
ahead; stock edits only while the schedule ends within STOCK_HORIZON; listing imports within
LISTINGS_HORIZON. A backlog of stock edits therefore keeps the schedule at most STOCK_HORIZON
ahead, and an order's request waits at most that long behind it (plus other fulfilment
requests), while stock edits and listings use everything fulfilment leaves.

Pacing runs at `rate x (1 - PACING_MARGIN)`: requests are booked evenly spaced, but leave late
when their worker was not running at its slot (CPU starved, paused) and arrive with network jitter
and clock differences between workers (NTP keeps Lambda's within milliseconds). A server counting
a strict one-second window sees no more than its limit as long as every request arrives less than
`PACING_MARGIN / (1 - PACING_MARGIN)` seconds after its slot (111 ms at a 10 % margin): the
request that ends the window was booked that much after its start. Half of that allowance is the
sender's (`LATE_TOLERANCE`): a worker whose request is ready to send (woken, signed, built) later
than that after its slot books again instead of sending late (`paced`: only the socket write
follows the check), so a stall (of one worker or of all of them) never turns into a burst of
overdue requests. The other half is for the network. Booking again, the worker books ahead of now
by how late it was (up to MAX_LEAD): the booking's own call, or a worker the CPU does not run at
once, made it miss the slot, and would make it miss a slot that starts when it asks again (its
horizon then counts from there: it may book up to MAX_LEAD further ahead than its priority's). Only
after MAX_BOOKINGS missed slots in a row does it send late (logged: such requests can exceed the limit).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from wholecell_temu.config import TemuPriority
from wholecell_temu.net import Clock
from wholecell_temu.observability import logger
from wholecell_temu.store.budgets import Budgets

FULFILMENT_HORIZON = 30.0
STOCK_HORIZON = 2.0
LISTINGS_HORIZON = 1.0
HORIZONS: dict[TemuPriority, float] = {"fulfilment": FULFILMENT_HORIZON, "stock": STOCK_HORIZON,
                              "listings": LISTINGS_HORIZON}
PACING_MARGIN = 0.10
LATE_TOLERANCE = PACING_MARGIN / (1.0 - PACING_MARGIN) / 2  # seconds a request may leave after its slot
MAX_BOOKINGS = 4  # slots one request may book and miss before it is sent late
MAX_LEAD = 1.0  # seconds ahead of now a worker that missed its slot books the next one, at most
SLOT_MISSED = "budget slot missed: booked again"  # the workers' warnings (bench/fleet.py counts them)
SENT_LATE = "budget slot missed again: sent late"
TEMU_BUDGET = "temu"


def wholecell_budget(app_id: str) -> str:
    return f"wholecell#{app_id}"


class PastDeadline(Exception):
    """The slot booked for a request starts after the caller's deadline (its invocation would end
    first): nothing was sent; do the work again later."""


_DEADLINE: ContextVar[float | None] = ContextVar("budget_deadline", default=None)


@contextmanager
def deadline(at: float | None) -> Iterator[None]:
    """Requests paced on a shared budget within this block must have their slot before `at` (epoch
    seconds), else PastDeadline: on a shared schedule a fulfilment request may wait up to
    FULFILMENT_HORIZON behind others, which no fixed estimate of a call's time covers."""
    token = _DEADLINE.set(at)
    try:
        yield
    finally:
        _DEADLINE.reset(token)


class SharedRateLimiter:
    """The RateLimiter interface (acquire / penalize) over a shared schedule.

    `acquire` books one request and sleeps until its slot; `penalize` pushes the whole schedule
    back, so every worker of every function pauses, not only this process.
    """

    def __init__(self, budgets: Budgets, budget: str, rate: float, priority: TemuPriority, *,
                 clock: Clock | None = None, rng: random.Random | None = None) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        if priority not in HORIZONS:
            raise ValueError(f"unknown priority {priority!r}; one of {sorted(HORIZONS)}")
        self.budget = budget
        self.kind = budget.split("#", 1)[0]  # "temu" or "wholecell": what logs and errors name, not the account
        self.interval = 1.0 / (rate * (1.0 - PACING_MARGIN))
        self.horizon = HORIZONS[priority]
        self._budgets = budgets
        self._clock = clock or Clock()
        self._rng = rng or random.Random()
        self._busy = True  # which write to try first: the last booking's schedule was busy
        self.bookings = 0  # store writes that booked a request, and those spent finding out it could not
        self.refusals = 0
        self.missed = 0  # slots given up because this worker woke too late to use them
        self.sent_late = 0  # requests sent after their slot, MAX_BOOKINGS slots missed in a row

    def acquire(self) -> float:
        """Book one request and wait for its slot; returns the seconds waited."""
        return self._paced(_nothing)[1]

    def paced[T](self, prepare: Callable[[], T]) -> T:
        """Book one request, wait for its slot, then build it with `prepare`; returns what it built,
        for the caller to send at once.

        A slot missed by more than LATE_TOLERANCE once the request is built (the worker woke late, or
        building it took long) is given up and the request booked and built again, for a slot booked
        ahead by how late it was; after MAX_BOOKINGS missed slots in a row it is sent late rather than
        never."""
        return self._paced(prepare)[0]

    def _paced[T](self, prepare: Callable[[], T]) -> tuple[T, float]:
        waited = 0.0
        lead = 0.0
        for booking in range(1, MAX_BOOKINGS + 1):
            start, booked, now, refused_for = self._book(lead)
            until = _DEADLINE.get()
            if until is not None and start > until:  # its slot is given up unused
                raise PastDeadline(f"the next {self.kind} slot starts {start - until:.1f} s "
                                   "after the deadline")
            self._clock.sleep(start - booked)
            waited += refused_for + max(0.0, start - now)
            built = prepare()
            late = self._clock.time() - start
            if late <= LATE_TOLERANCE:
                break
            extra = {"budget": self.kind, "late_ms": round(late * 1000),
                     "booking_ms": round((booked - now) * 1000)}  # how much of it the booking's own call took
            if booking == MAX_BOOKINGS:
                self.sent_late += 1
                logger.warning(SENT_LATE, extra=extra | {"bookings": booking})
                break
            self.missed += 1
            logger.warning(SLOT_MISSED, extra=extra | {"lead_ms": round(lead * 1000)})
            lead = min(max(late, 2 * lead), MAX_LEAD)
        return built, waited

    def _book(self, lead: float = 0.0) -> tuple[float, float, float, float]:
        """One booking, `lead` seconds ahead of now at the earliest, asking again after each refusal:
        (the slot's start, when the booking's answer came, when it was asked for, the seconds slept
        after refusals)."""
        refused = 0
        refused_for = 0.0
        while True:
            now = self._clock.time()
            earliest = now + lead
            booking = self._budgets.book(self.budget, self.interval, earliest, self.horizon,
                                         busy_first=self._busy)
            if booking.start is not None:
                self.bookings += 1
                self._busy = booking.start > earliest
                return booking.start, self._clock.time(), now, refused_for
            # the schedule ends beyond this priority's horizon: wait until it is back within it, plus
            # a random part that doubles with each refusal in a row (up to half the horizon), so that
            # workers waiting at the same horizon spread out instead of all asking for each free slot
            self.refusals += 1
            refused += 1
            self._busy = True
            spread = min(self.interval * 2 ** min(refused - 1, 4), self.horizon / 2)
            delay = max(booking.booked_until - self.horizon - earliest, self.interval) + spread * self._rng.random()
            until = _DEADLINE.get()
            if until is not None and now + delay > until:
                raise PastDeadline(f"the {self.kind} schedule is booked beyond the deadline")
            self._clock.sleep(delay)
            refused_for += delay

    def penalize(self, seconds: float) -> None:
        """The server said "slow down": nobody on this budget starts a request for `seconds`."""
        self._budgets.hold(self.budget, self._clock.time() + seconds)


def _nothing() -> None:
    return None


__all__ = ["HORIZONS", "LATE_TOLERANCE", "MAX_BOOKINGS", "MAX_LEAD", "PACING_MARGIN", "SENT_LATE", "SLOT_MISSED",
           "TEMU_BUDGET", "PastDeadline", "SharedRateLimiter", "deadline", "wholecell_budget"]
