"""make mutation's own arithmetic (local/mutation.py): which mutants count, how equivalents match."""

from __future__ import annotations

from pathlib import Path

import pytest

from local.mutation import (
    EQUIVALENTS,
    Equivalent,
    Mutant,
    changed_lines,
    classify,
    load_equivalents,
)

DIFF = """--- wholecell_temu/domain/orders.py
+++ wholecell_temu/domain/orders.py
@@ -1,3 +1,3 @@
 def units(line: Line) -> int:
-    return max(0,  line.quantity)
+    return max(1, line.quantity)
"""


def mutant(status: str, change: tuple[str, ...] = (), module: str = "m", function: str = "f") -> Mutant:
    return Mutant(name=f"{module}.x_{function}__mutmut_1", module=module, function=function, status=status,
                  change=change)


def test_a_mutant_is_known_by_the_lines_it_changes_whitespace_aside() -> None:
    assert changed_lines(DIFF) == ("- return max(0, line.quantity)", "+ return max(1, line.quantity)")


def test_scores_count_kills_timeouts_and_type_errors_and_leave_skipped_out() -> None:
    mutants = [mutant("killed"), mutant("timeout"), mutant("caught by type check"), mutant("survived"),
               mutant("no tests"), mutant("skipped"), mutant("suspicious")]
    scores, stale = classify(mutants, [])
    score = scores["m"]
    assert (score.killed, score.counted) == (3, 6)
    assert score.score == pytest.approx(0.5)
    assert [m.status for m in score.survivors] == ["survived", "no tests", "suspicious"]
    assert stale == []


def test_an_equivalent_survivor_counts_neither_way_and_matches_module_function_and_change() -> None:
    change = changed_lines(DIFF)
    survivor = mutant("survived", change, module="a", function="units")
    other_function = mutant("survived", change, module="a", function="other")
    other_module = mutant("survived", change, module="b", function="units")
    entry = Equivalent("a", "units", change, "reason")
    scores, stale = classify([survivor, other_function, other_module, mutant("killed", module="a")], [entry])
    assert scores["a"].counts["equivalent"] == 1
    assert (scores["a"].killed, scores["a"].counted) == (1, 2)
    assert scores["a"].survivors == [other_function]
    assert scores["b"].survivors == [other_module]
    assert stale == []


def test_an_entry_that_matches_no_mutant_is_stale_and_a_killed_mutant_is_never_equivalent() -> None:
    change = changed_lines(DIFF)
    entry = Equivalent("a", "units", change, "reason")
    scores, stale = classify([mutant("killed", change, module="a", function="units")], [entry])
    assert stale == [entry]
    assert scores["a"].counts == {"killed": 1}


def test_a_module_without_counted_mutants_is_not_below_any_floor() -> None:
    scores, _ = classify([mutant("skipped")], [])
    assert scores["m"].score == 1.0


def test_equivalents_are_read_per_module_file_and_need_a_reason(tmp_path: Path) -> None:
    (tmp_path / "wholecell_temu.domain.orders.toml").write_text(
        '[[equivalent]]\nfunction = "units"\nchange = ["-     return max(0,  line.quantity)", '
        '"+ return max(1, line.quantity)"]\nreason = "quantity is never 0 here"\n'
    )
    assert load_equivalents(tmp_path) == [
        Equivalent("wholecell_temu.domain.orders", "units", changed_lines(DIFF), "quantity is never 0 here")
    ]
    (tmp_path / "wholecell_temu.domain.settings.toml").write_text(
        '[[equivalent]]\nfunction = "f"\nchange = ["- a", "+ b"]\nreason = " "\n'
    )
    with pytest.raises(SystemExit, match="needs function, change and a reason"):
        load_equivalents(tmp_path)


def test_the_project_s_equivalent_lists_are_well_formed() -> None:
    for entry in load_equivalents(EQUIVALENTS):
        assert entry.module.startswith("wholecell_temu.") and entry.change and entry.reason
