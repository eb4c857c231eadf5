"""The fleet benchmark's own arithmetic (bench/fleet.py): percentiles, per-second counts, what a
confirmation's body names, the shape of a refused rate window, the pauses of the sandboxes'
process, and the verdicts it prints and exits on."""

from __future__ import annotations

import gc
import json
import time
from pathlib import Path
from typing import Any

from bench.fleet import (
    MISSED_SLOT,
    ProcessStalls,
    judge,
    missed_slots,
    per_second,
    refusal_shapes,
    summary,
    tracking_numbers,
)
from bench.listings import Checks


def tick(**changes: Any) -> dict[str, Any]:
    figures: dict[str, Any] = {
        "label": "shared", "scale": 1.0, "drain_error": None, "new_orders": 10, "orders_imported": 10,
        "orders_imported_twice": 0, "shipments_posted": 5, "shipments_confirmed": 5, "dead_letters": 0,
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


def test_missed_slots_are_read_from_the_workers_log_between_two_offsets(tmp_path: Path) -> None:
    def warning(budget: str, late: int, booking: int) -> str:
        return json.dumps({"level": "WARNING", "message": f"{MISSED_SLOT}: booked again", "budget": budget,
                           "late_ms": late, "booking_ms": booking})

    log = tmp_path / "workers.log"
    earlier = warning("temu", 999, 1) + "\n"
    log.write_text(earlier + "\n".join([
        warning("temu", 120, 10), "Traceback: budget slot missed (not a log entry)", warning("wholecell", 300, 250),
        '{"message": "something else"}', warning("temu", 80, 5)]) + "\n" + warning("temu", 1, 1) + "\n")
    end = log.stat().st_size - len(warning("temu", 1, 1)) - 1  # the last entry is after the tick
    found = missed_slots(log, len(earlier), end)
    assert found["count"] == 3 and found["by_budget"] == {"temu": 2, "wholecell": 1}
    assert found["late_ms"] == {"count": 3, "p50": 120.0, "p95": 300.0, "max": 300.0}
    assert found["booking_ms"]["max"] == 250.0
    assert missed_slots(log, 10, 10)["count"] == 0 and missed_slots(tmp_path / "none", 0, 99)["count"] == 0


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
