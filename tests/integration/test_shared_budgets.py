"""Shared request budgets (#19) against moto's DynamoDB: bookings space requests evenly whoever
sends them, priorities are horizons, a slow-down pauses everyone, a dead worker holds nothing,
and clock differences between workers cost at most what they say.

Concurrency here is many workers' bookings interleaved at chosen times (`Budgets.book` with an
explicit `now`): each booking is one conditional update, whose atomicity is DynamoDB's promise,
not ours; what is ours is which condition and which update, and that is what these pin."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator

import pytest
from moto import mock_aws
from wholecell_temu.config import load_settings
from wholecell_temu.jobs import clients
from wholecell_temu.jobs.budgets import (
    LISTINGS_HORIZON,
    PACING_MARGIN,
    STOCK_HORIZON,
    TEMU_BUDGET,
    SharedRateLimiter,
    wholecell_budget,
)
from wholecell_temu.net import Clock, RateLimiter
from wholecell_temu.store.budgets import IDLE_EXPIRY_SECONDS, Budgets
from wholecell_temu.store.tables import BudgetModel, bind_tables

from tests.integration.test_quantity_sync_job import ENV

T0 = 1_796_000_000.0
BUDGET_ENV = ENV | {"BUDGETS_TABLE": "BudgetsTable"}


class SteppingClock(Clock):
    """Wall time that moves only when someone sleeps (one worker's view)."""

    def __init__(self, at: float = T0) -> None:
        self.at = at
        self.slept: list[float] = []

    def time(self) -> float:
        return self.at

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            self.slept.append(seconds)
            self.at += seconds


@pytest.fixture
def budgets() -> Iterator[Budgets]:
    with mock_aws():
        bind_tables(load_settings(BUDGET_ENV))
        BudgetModel.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
        yield Budgets()


def test_an_idle_budget_starts_now_and_a_busy_one_books_the_next_free_slot(budgets: Budgets) -> None:
    first = budgets.book(TEMU_BUDGET, 0.05, T0, 30.0)
    second = budgets.book(TEMU_BUDGET, 0.05, T0, 30.0)  # another worker, same instant
    third = budgets.book(TEMU_BUDGET, 0.05, T0 + 0.01, 30.0, busy_first=False)  # guessed idle: still booked
    assert [first.start, second.start, third.start] == pytest.approx([T0, T0 + 0.05, T0 + 0.10])
    assert budgets.booked_until(TEMU_BUDGET) == pytest.approx(T0 + 0.15)
    later = budgets.book(TEMU_BUDGET, 0.05, T0 + 5, 30.0)  # the schedule ran dry meanwhile: starts at once
    assert later.start == T0 + 5
    item = BudgetModel.get(TEMU_BUDGET)
    assert item.expires_at is not None and item.expires_at.timestamp() == pytest.approx(T0 + 5 + IDLE_EXPIRY_SECONDS)


def test_requests_from_many_workers_are_spaced_at_the_rate() -> None:
    with mock_aws():
        bind_tables(load_settings(BUDGET_ENV))
        BudgetModel.create_table(billing_mode="PAY_PER_REQUEST", wait=True)
        budgets, rng = Budgets(), random.Random(7)
        now, starts = T0, []
        for _ in range(200):  # 200 bookings from workers arriving at random, faster than the rate
            now += rng.uniform(0, 0.04)
            booking = budgets.book(TEMU_BUDGET, 1 / 20, now, 30.0, busy_first=rng.random() < 0.5)
            assert booking.start is not None and booking.start >= now
            starts.append(booking.start)
        starts.sort()
        gaps = [b - a for a, b in itertools.pairwise(starts)]
        assert min(gaps) >= 1 / 20 - 1e-6  # never two closer than the interval
        window = max(sum(1 for s in starts if t <= s < t + 1) for t in starts)
        assert window <= 20


def test_a_priority_books_only_within_its_horizon_so_fulfilment_never_queues_behind_stock(budgets: Budgets) -> None:
    interval = 1 / 20
    # many stock workers at once: they book until the schedule ends STOCK_HORIZON ahead, then are refused
    stock = [budgets.book(TEMU_BUDGET, interval, T0, STOCK_HORIZON) for _ in range(100)]
    booked = [b for b in stock if b.start is not None]
    refused = [b for b in stock if b.start is None]
    assert len(booked) == round(STOCK_HORIZON / interval) + 1 and refused
    assert refused[0].booked_until == pytest.approx(T0 + len(booked) * interval)
    # listing imports are refused as well (shorter horizon); an order import still gets the next slot
    assert budgets.book(TEMU_BUDGET, interval, T0, LISTINGS_HORIZON).start is None
    order = SharedRateLimiter(budgets, TEMU_BUDGET, 20, "fulfilment", clock=SteppingClock())
    waited = order.acquire()
    assert waited == pytest.approx(len(booked) * interval)  # the first slot after the stock edits
    assert waited <= STOCK_HORIZON + interval  # the most a backlog of stock edits delays an order


def test_a_refused_caller_waits_until_the_schedule_is_back_within_its_horizon(budgets: Budgets) -> None:
    for _ in range(60):  # fulfilment has booked 3 s ahead
        budgets.book(TEMU_BUDGET, 1 / 20, T0, 30.0)
    clock = SteppingClock()
    stock = SharedRateLimiter(budgets, TEMU_BUDGET, 20, "stock", clock=clock, rng=random.Random(1))
    waited = stock.acquire()
    assert stock.refusals == 1 and stock.bookings == 1
    # about 1 s (3 s booked - 2 s horizon) plus up to 10 % jitter, then its slot at the end of the schedule
    assert clock.slept[0] == pytest.approx(1.0, rel=0.11)
    assert waited == pytest.approx(3.0)


def test_a_slow_down_pauses_every_worker_and_never_pulls_the_schedule_back(budgets: Budgets) -> None:
    clock = SteppingClock()
    one = SharedRateLimiter(budgets, TEMU_BUDGET, 20, "fulfilment", clock=clock)
    other = SharedRateLimiter(budgets, TEMU_BUDGET, 20, "fulfilment", clock=SteppingClock())
    one.penalize(10)  # Temu answered 4000004 to one worker
    assert budgets.booked_until(TEMU_BUDGET) == T0 + 10
    assert other.acquire() == pytest.approx(10)  # another worker, another function: it waits as well
    budgets.hold(TEMU_BUDGET, T0 + 2)  # an earlier, shorter pause changes nothing
    assert budgets.booked_until(TEMU_BUDGET) == pytest.approx(T0 + 10 + other.interval)


def test_a_worker_that_dies_after_booking_holds_nothing(budgets: Budgets) -> None:
    for _ in range(5):  # a worker books five slots and is killed before sending any
        budgets.book(TEMU_BUDGET, 1 / 20, T0, 30.0)
    at_death = SharedRateLimiter(budgets, TEMU_BUDGET, 20, "stock", clock=SteppingClock(T0))
    assert at_death.acquire() == pytest.approx(5 / 20)  # at its death it costs exactly its own slots
    later = SharedRateLimiter(budgets, TEMU_BUDGET, 20, "stock", clock=SteppingClock(T0 + 1))
    assert later.acquire() == 0  # a second later nothing of it remains: no lease, no lock, no expiry


def test_a_clock_ahead_by_s_sends_at_most_s_times_the_rate_early(budgets: Budgets) -> None:
    """Worker A's clock is 0.2 s ahead of B's (true time). A sends each slot 0.2 s early, so one true
    second can hold the slots of 1.2 schedule seconds: rate + 0.2 x rate (+1 at the window's edge),
    never more; NTP keeps Lambda clocks within milliseconds, which PACING_MARGIN covers."""
    skew, rate, interval = 0.2, 20, 1 / 20
    rng = random.Random(3)
    sends, now = [], T0
    for _ in range(400):
        now += rng.uniform(0, 0.06)
        ahead = rng.random() < 0.5
        booking = budgets.book(TEMU_BUDGET, interval, now + (skew if ahead else 0.0), 30.0)
        assert booking.start is not None
        sends.append(booking.start - (skew if ahead else 0.0))  # when it leaves, in true time
    sends.sort()
    busiest = max(sum(1 for s in sends if t <= s < t + 1) for t in sends)
    assert busiest <= rate + round(skew * rate) + 1


def test_budgets_are_used_when_the_stack_has_the_table_and_per_account_for_wholecell() -> None:
    shared = load_settings(BUDGET_ENV | {"TEMU_PRIORITY": "stock", "TEMU_APP_RATE_LIMIT": "40"})
    pacer = clients.temu_pacer(shared)
    assert isinstance(pacer, SharedRateLimiter)
    assert (pacer.budget, pacer.horizon) == (TEMU_BUDGET, STOCK_HORIZON)
    assert pacer.interval == pytest.approx(1 / (40 * (1 - PACING_MARGIN)))
    account = clients.wholecell_pacer(shared, "app-1")
    assert isinstance(account, SharedRateLimiter) and account.budget == wholecell_budget("app-1")
    assert account.interval == pytest.approx(1 / (2 * (1 - PACING_MARGIN)))
    assert clients.wholecell_pacer(shared, "app-2") is not account
    alone = load_settings(ENV)
    assert isinstance(clients.temu_pacer(alone), RateLimiter)
    assert isinstance(clients.wholecell_pacer(alone, "app-1"), RateLimiter)
    with pytest.raises(ValueError, match="unknown priority"):
        SharedRateLimiter(Budgets(), TEMU_BUDGET, 20, "soon")  # type: ignore[arg-type]


def test_two_functions_competing_for_the_app_budget_share_it_by_priority(budgets: Budgets) -> None:
    """Quantity sync (stock edits, a backlog: its workers ask every 10 ms) and order import (fulfilment,
    a request every 0.3 s) on one Temu budget, in interleaved virtual time over 20 s: together they
    never exceed the rate, every order request waits at most the stock horizon, and the stock edits
    take everything else."""
    rate = 20 * (1 - PACING_MARGIN)
    interval = 1 / rate
    stock_starts: list[float] = []
    order_waits: list[float] = []
    for tick in range(2000):
        now = T0 + tick * 0.01
        if tick % 30 == 0:
            booking = budgets.book(TEMU_BUDGET, interval, now, 30.0)  # fulfilment's horizon
            assert booking.start is not None
            order_waits.append(booking.start - now)
            stock_starts.append(booking.start)  # every start, whoever booked it
        for _ in range(3):  # three stock workers; refused beyond their horizon
            booking = budgets.book(TEMU_BUDGET, interval, now, STOCK_HORIZON)
            if booking.start is not None:
                stock_starts.append(booking.start)
    starts = sorted(stock_starts)
    assert min(b - a for a, b in itertools.pairwise(starts)) >= interval - 1e-6
    assert max(order_waits) <= STOCK_HORIZON + interval
    assert len(starts) >= int(20 * rate) - 1  # the budget stayed busy: stock edits used what orders left
    assert max(sum(1 for s in starts if t <= s < t + 1) for t in starts) <= 20
