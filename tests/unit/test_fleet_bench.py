"""The fleet benchmark's own arithmetic (bench/fleet.py): percentiles, per-second counts, what a
confirmation's body names, the shape of a refused rate window, the pauses of the sandboxes'
process, and the verdicts it prints and exits on."""

from __future__ import annotations

import gc
import json
import time
from pathlib import Path
from typing import Any

from wholecell_temu.jobs import budgets
from wholecell_temu.jobs.budgets import SENT_LATE, SLOT_MISSED
from wholecell_temu.net import Clock
from wholecell_temu.store.budgets import Booking, Budgets

from bench.fleet import (
    MachineLoad,
    ProcessStalls,
    judge,
    missed_slots,
    per_second,
    process_ticks,
    refusal_shapes,
    summary,
    ticks_by_nice,
    tracking_numbers,
)
from bench.listings import Checks


def tick(**changes: Any) -> dict[str, Any]:
    figures: dict[str, Any] = {
        "label": "shared", "scale": 1.0, "drain_error": None, "new_orders": 10, "orders_imported": 10,
        "orders_imported_twice": 0, "shipments_posted": 5, "shipments_confirmed": 5, "dead_letters": 0,
        "shipment_dead_letters": 0,
        "drain_seconds": 130.0, "bound_seconds": 100.0, "order_latency": {"p95": 40.0},
        "shipment_latency": {"p95": 3.0}, "temu_refused_4000004": 0, "wholecell_refused_429": 0,
    }
    return figures | changes


def test_summary_gives_the_nearest_rank_percentiles() -> None:
    values = [float(n) for n in range(1, 21)]  # 1 .. 20
    assert summary(values) == {"count": 20, "p50": 10.5, "p95": 19.0, "max": 20.0}
    assert summary([3.0]) == {"count": 1, "p50": 3.0, "p95": 3.0, "max": 3.0}
    assert summary([]) == {"count": 0, "p50": None, "p95": None, "max": None}


def test_per_second_counts_each_second_of_the_window_only() -> None:
    assert per_second([10.0, 10.5, 11.2, 12.9, 9.9, 13.0], 10.0, 13.0) == [2, 1, 1, 0]


def test_tracking_numbers_are_found_anywhere_in_a_confirmation() -> None:
    body = {"type": "bg.logistics.shipment.v2.confirm", "sendRequestList": [
        {"trackingNumber": "T1", "sendSubRequestList": [{"trackingNumber": "T2"}]}, {"trackingNumber": "T3"}]}
    assert sorted(tracking_numbers(body)) == ["T1", "T2", "T3"]


def test_the_bounds_hold_at_their_edges_and_fail_just_beyond() -> None:
    passing = Checks()
    judge(passing, tick(), bounded=True)  # 130 s = 1.3 x 100 s
    assert not passing.failed
    cases: list[tuple[dict[str, Any], str]] = [
        ({"drain_seconds": 130.2}, "drain"), ({"order_latency": {"p95": 300.1}}, "order_latency"),
        ({"shipment_latency": {"p95": None}}, "shipment_latency"), ({"temu_refused_4000004": 1}, "refused"),
        ({"orders_imported_twice": 1}, "exactly once"), ({"shipments_confirmed": 4}, "confirmed"),
        ({"dead_letters": 2}, "dead-lettered")]
    for changes, what in cases:
        checks = Checks()
        judge(checks, tick(**changes), bounded=True)
        assert len(checks.failed) == 1 and what in checks.failed[0], (changes, checks.failed)


def test_todays_tick_is_judged_on_correctness_only() -> None:
    checks = Checks()
    judge(checks, tick(drain_seconds=900.0, temu_refused_4000004=30, dead_letters=1), bounded=False)
    assert not checks.failed  # its dead letters are that mode's known limit: reported only
    judge(checks, tick(dead_letters=1), bounded=True)
    assert len(checks.failed) == 1 and "dead-lettered" in checks.failed[0]
    checks = Checks()
    judge(checks, tick(orders_imported=9), bounded=False)
    assert len(checks.failed) == 1


def test_todays_tick_may_leave_the_shipments_it_dead_lettered_unconfirmed_and_no_others() -> None:
    excused = Checks()
    judge(excused, tick(shipments_confirmed=3, dead_letters=2, shipment_dead_letters=2), bounded=False)
    assert not excused.failed  # that mode's known limit: a redrive confirms them
    lost = Checks()
    judge(lost, tick(shipments_confirmed=3, dead_letters=1, shipment_dead_letters=1), bounded=False)
    assert len(lost.failed) == 1 and "3 of 5; 1 dead-lettered" in lost.failed[0]
    shared = Checks()
    judge(shared, tick(shipments_confirmed=3, dead_letters=2, shipment_dead_letters=2), bounded=True)
    assert any("confirmed on Temu (3 of 5)" in failure for failure in shared.failed)


def test_missed_slots_are_read_from_the_workers_log_between_two_offsets(tmp_path: Path) -> None:
    def warning(budget: str, late: int, booking: int, message: str = SLOT_MISSED) -> str:
        return json.dumps({"level": "WARNING", "message": message, "budget": budget,
                           "late_ms": late, "booking_ms": booking})

    log = tmp_path / "workers.log"
    earlier = warning("temu", 999, 1) + "\n"
    log.write_text(earlier + "\n".join([
        warning("temu", 120, 10), "Traceback: budget slot missed: booked again (not a log entry)",
        warning("wholecell", 300, 250), '{"message": "something else"}', warning("temu", 80, 5),
        warning("temu", 700, 600, SENT_LATE)]) + "\n" + warning("temu", 1, 1) + "\n")
    end = log.stat().st_size - len(warning("temu", 1, 1)) - 1  # the last entry is after the tick
    found = missed_slots(log, len(earlier), end)
    assert found["count"] == 3 and found["by_budget"] == {"temu": 2, "wholecell": 1}
    assert found["late_ms"] == {"count": 3, "p50": 120.0, "p95": 300.0, "max": 300.0}
    assert found["booking_ms"]["max"] == 250.0
    assert found["sent_late"] == {"temu": 1}
    assert missed_slots(log, 10, 10)["count"] == 0 and missed_slots(tmp_path / "none", 0, 99)["count"] == 0


class SlowBookings(Budgets):
    """A store that answers each booking later than the last (a starved stand-in): every slot it gives
    has begun by the time its answer comes."""

    def __init__(self, clock: list[float], delays: list[float]) -> None:
        self.clock, self.delays = clock, delays

    def book(self, budget: str, interval: float, now: float, horizon: float, *, busy_first: bool = True) -> Booking:
        self.clock[0] += self.delays.pop(0)
        return Booking(start=now, booked_until=now + interval)


def test_the_workers_own_warnings_are_what_the_bench_counts(tmp_path: Path, monkeypatch: Any) -> None:
    """The log lines come from the limiter itself, so the bench counts what the workers say."""
    now = [1_796_000_000.0]

    class Wall(Clock):
        def time(self) -> float:
            return now[0]

        def sleep(self, seconds: float) -> None:
            now[0] += max(seconds, 0.0)

    said: list[str] = []
    monkeypatch.setattr("wholecell_temu.jobs.budgets.logger.warning", lambda message, extra: said.append(
        json.dumps({"level": "WARNING", "message": message, **extra})))
    limiter = budgets.SharedRateLimiter(SlowBookings(now, [0.3, 0.7, 1.5, 2.0]), "wholecell#7", 2, "fulfilment",
                                        clock=Wall())
    limiter.acquire()
    assert (limiter.bookings, limiter.missed, limiter.sent_late) == (budgets.MAX_BOOKINGS, 3, 1)
    log = tmp_path / "workers.log"
    log.write_text("\n".join(said) + "\n")
    found = missed_slots(log, 0, log.stat().st_size)
    assert found["by_budget"] == {"wholecell": 3} and found["sent_late"] == {"wholecell": 1}
    # booked ahead by its lateness, then twice that: 0.3, 0.7 - 0.3, 1.5 - 0.6 (the last, 2.0 - 1.0, sent)
    assert found["late_ms"] == {"count": 3, "p50": 400.0, "p95": 900.0, "max": 900.0}


def test_a_refused_window_shows_paced_arrivals_apart_from_a_bunch_after_a_gap() -> None:
    paced = tuple(100.0 + n * 0.05 for n in range(20))  # 20 arrivals, 50 ms apart
    bunched = (*(200.0 + n * 0.05 for n in range(14)), 200.9, 200.91, 200.92, 200.93, 200.94, 200.95)
    shapes = refusal_shapes([(101.0, paced), (201.0, bunched)], started=100.0)
    assert {k: shapes[0][k] for k in ("at", "window", "span_ms", "widest_gap_ms")} == {
        "at": 1.0, "window": 20, "span_ms": 1000, "widest_gap_ms": 50}
    assert shapes[0]["within_last_200_ms"] <= 5  # the refused one and the 3-4 paced before it
    assert shapes[1]["at"] == 101.0
    assert shapes[1]["widest_gap_ms"] == 250 and shapes[1]["after_widest_gap"] == 7
    assert shapes[1]["within_last_200_ms"] == 7


def test_a_garbage_collection_holding_the_interpreter_shows_as_a_stall_and_a_pause() -> None:
    garbage: list[list[int]] = []
    while True:  # a heap whose full collection takes 200 ms or more on this machine
        garbage.extend([n] for n in range(max(1_000_000, len(garbage))))
        began = time.monotonic()
        gc.collect()
        if time.monotonic() - began >= 0.2 or len(garbage) >= 16_000_000:
            break
    with ProcessStalls() as stalls:
        time.sleep(0.1)  # the heartbeat runs on time
        assert stalls.stalls == []
        gc.collect()
        time.sleep(0.1)
    del garbage
    figures = stalls.figures()
    assert [generation for _, _, generation in figures["gc_pauses"]] == [2]
    assert figures["stalls_over_100_ms"] == 1 and figures["longest_stall_ms"] > 100


def hold_the_interpreter_lock(seconds: float) -> None:
    """One call into C that runs `seconds` or more without letting another thread run (sum over a range
    never returns to the interpreter loop, where the lock is handed over)."""
    n = 1_000_000
    while True:
        began = time.monotonic()
        sum(range(n))
        if time.monotonic() - began >= seconds:
            return
        n *= 2


def test_a_long_stall_writes_every_threads_stack_showing_who_held_the_interpreter(tmp_path: Path) -> None:
    stalls = ProcessStalls(tmp_path / "stalls.txt")
    stalls.DUMP_AFTER = 0.2
    with stalls:
        time.sleep(0.3)  # rearmed on time: nothing written
        assert (tmp_path / "stalls.txt").read_text() == ""
        hold_the_interpreter_lock(0.5)
        time.sleep(0.1)
    figures = stalls.figures()
    assert figures["stack_dumps"] >= 1 and figures["stack_dumps_file"] == str(tmp_path / "stalls.txt")
    assert "hold_the_interpreter_lock" in (tmp_path / "stalls.txt").read_text()
    assert ProcessStalls().figures()["stack_dumps"] == 0


def stat_line(pid: int, name: str, utime: int, stime: int, nice: int) -> str:
    """A /proc/<pid>/stat line as Linux writes it (proc(5)): utime, stime and nice are fields 14, 15, 19."""
    return (f"{pid} ({name}) S 1 {pid} {pid} 0 -1 4194304 125 0 0 0 {utime} {stime} 0 0 "
            f"{20 + nice} {nice} 1 0 247141 3133440 382\n")


def fake_proc(root: Path, processes: dict[int, tuple[str, int, int, int]], busy: int, total: int,
              running: int) -> None:
    root.mkdir(exist_ok=True)
    for entry in root.iterdir():
        if entry.name.isdigit():
            (entry / "stat").unlink()
            entry.rmdir()
    idle = total - busy
    (root / "stat").write_text(f"cpu  {busy} 0 0 {idle} 0 0 0 0 0 0\ncpu0 1 0 0 1 0\nprocs_running {running}\n")
    (root / "self").mkdir(exist_ok=True)  # not a process: skipped
    for pid, (name, utime, stime, nice) in processes.items():
        (root / str(pid)).mkdir()
        (root / str(pid) / "stat").write_text(stat_line(pid, name, utime, stime, nice))


def test_cpu_use_is_split_by_niceness_and_counts_processes_that_come_and_go(tmp_path: Path) -> None:
    proc = tmp_path / "proc"
    fake_proc(proc, {10: ("python", 100, 50, 0), 11: ("node (dynalite) x", 40, 10, 5), 12: ("python", 7, 3, 10)},
              busy=1000, total=2000, running=3)
    before = process_ticks(proc)
    assert before == {10: (150, 0), 11: (50, 5), 12: (10, 10)}  # a name with spaces and parentheses
    # a second later: 11 used 30 ticks, 12 ended, 13 started (counts whole), 14 is a new worker
    fake_proc(proc, {10: ("python", 110, 50, 0), 11: ("node (dynalite) x", 60, 20, 5), 13: ("python", 5, 5, 10),
                     14: ("python", 20, 0, 10)}, busy=1060, total=2200, running=41)
    spent = ticks_by_nice(before, process_ticks(proc))
    assert spent == {0: 10, 5: 30, 10: 30}
    load = MachineLoad(proc)
    assert load._times() == (1060, 2200, 41)


def test_the_machine_load_samples_every_second_by_niceness(tmp_path: Path) -> None:
    proc = tmp_path / "proc"
    fake_proc(proc, {10: ("python", 0, 0, 0), 12: ("python", 0, 0, 10)}, busy=0, total=200, running=1)
    with MachineLoad(proc) as load:
        time.sleep(0.2)
        fake_proc(proc, {10: ("python", 20, 0, 0), 12: ("python", 170, 0, 10)}, busy=190, total=400, running=60)
        deadline = time.monotonic() + 5
        while not load.busy and time.monotonic() < deadline:
            time.sleep(0.05)
    figures = load.figures()
    assert load.busy[0] == 95 and load.by_nice[0][0] == 10 and load.by_nice[10][0] == 85 and load.runnable[0] == 60
    assert figures["by_nice_saturated_percent"] == {0: 10, 5: 0, 10: 85}
