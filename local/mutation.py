"""make mutation: mutation testing of the rules and the adapters, with a floor per module.

    make mutation                                   # every module below, the fast tests
    make mutation MODULES=wholecell_temu.domain.orders   # one module (dotted names, comma-separated)

mutmut (pinned in requirements-dev.in) changes one thing at a time in the code below (a `<` into
`<=`, a constant, a dropped argument, `continue` into `break`, ...) and runs the unit tests that
reach the changed function. A mutant the tests do not notice ("survived") is behaviour no test
pins. This tool stages the layer where mutmut expects a package (`.mutation/`, thrown away on
every run, so nothing stale is reused), runs mutmut there, then prints per module the mutants
killed out of those that count and every survivor as a diff, and exits 1 when a module is below
the floor.

Some mutants cannot be told apart from the original by any test (a default that only decides
an error message's wording, a bound no input can reach). Each is listed once, with the reason, in
tests/mutation_equivalents/<module>.toml: matched by function and the exact lines the mutant
changes (not by mutmut's running number, which moves with every edit), it counts neither as
killed nor as survived. An entry that matches no mutant any more is reported (exit 1), so the
list stays true.

Exit codes: 0 every module at or above the floor, 1 below it (or a stale equivalent entry),
2 mutmut itself failed.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# MUTATION_STAGE: another place, so two runs (two modules) do not share one
STAGE = Path(os.environ.get("MUTATION_STAGE", ROOT / ".mutation"))
EQUIVALENTS = ROOT / "tests" / "mutation_equivalents"
PACKAGE = "wholecell_temu"
# What is mutated: the pure rules and the adapters that translate between the APIs and them.
MUTATED = (
    "wholecell_temu/domain/*",
    "wholecell_temu/temu/signing.py",
    "wholecell_temu/temu/models.py",
    "wholecell_temu/wholecell/adapter.py",
)
# The fast tests, less those that read the repository's layout (template, locks, artifact, import
# graph), the process's logging set-up (redaction, traces) or this tool: none reaches the code above.
FAST_TESTS = ("tests/unit",)
NOT_STAGED = (
    "tests/unit/test_template.py",
    "tests/unit/test_locks.py",
    "tests/unit/test_traces.py",
    "tests/unit/test_artifact_check.py",
    "tests/unit/test_import_graph.py",
    "tests/unit/test_redaction.py",
    "tests/unit/test_mutation_tool.py",
)
FLOOR = 0.90
KILLED = frozenset({"killed", "timeout", "caught by type check", "segfault"})
NOT_COUNTED = frozenset({"skipped", "not checked"})


@dataclass(frozen=True)
class Mutant:
    name: str
    module: str
    function: str
    status: str
    change: tuple[str, ...] = ()
    diff: str = ""


@dataclass(frozen=True)
class Equivalent:
    module: str
    function: str
    change: tuple[str, ...]
    reason: str


@dataclass
class ModuleScore:
    module: str
    counts: Counter[str] = field(default_factory=Counter)
    survivors: list[Mutant] = field(default_factory=list)

    @property
    def counted(self) -> int:
        return sum(n for status, n in self.counts.items() if status not in NOT_COUNTED | {"equivalent"})

    @property
    def killed(self) -> int:
        return sum(n for status, n in self.counts.items() if status in KILLED)

    @property
    def score(self) -> float:
        return self.killed / self.counted if self.counted else 1.0


def changed_lines(diff: str) -> tuple[str, ...]:
    """The lines a mutant takes away and puts in, whitespace-normalised: its identity across edits."""
    lines = []
    for line in diff.splitlines():
        if line.startswith(("---", "+++")) or not line.startswith(("-", "+")):
            continue
        lines.append(f"{line[0]} {' '.join(line[1:].split())}")
    return tuple(lines)


def load_equivalents(directory: Path = EQUIVALENTS) -> list[Equivalent]:
    """Every module's list: tests/mutation_equivalents/<dotted module>.toml, [[equivalent]] tables
    with function, change (the diff's - and + lines) and reason."""
    entries = []
    for path in sorted(directory.glob("*.toml")):
        data = tomllib.loads(path.read_text("utf-8"))
        for i, raw in enumerate(data.get("equivalent", [])):
            missing = {"function", "change", "reason"} - raw.keys()
            if missing or not str(raw.get("reason", "")).strip():
                raise SystemExit(f"{path}: entry {i + 1} needs function, change and a reason ({sorted(missing)})")
            change = changed_lines("\n".join(raw["change"]))
            entries.append(Equivalent(path.stem, raw["function"], change, raw["reason"].strip()))
    return entries


def classify(mutants: list[Mutant], equivalents: list[Equivalent]) -> tuple[dict[str, ModuleScore], list[Equivalent]]:
    """Scores per module, with survivors matched against the equivalent list; entries matching nothing."""
    used: set[int] = set()
    scores: dict[str, ModuleScore] = {}
    for mutant in mutants:
        score = scores.setdefault(mutant.module, ModuleScore(mutant.module))
        status = mutant.status
        if status not in KILLED | NOT_COUNTED:
            for i, entry in enumerate(equivalents):
                if (entry.module, entry.function, entry.change) == (mutant.module, mutant.function, mutant.change):
                    status = "equivalent"
                    used.add(i)
                    break
            else:
                score.survivors.append(mutant)
        score.counts[status] += 1
    stale = [entry for i, entry in enumerate(equivalents) if i not in used]
    return scores, stale


def stage(modules: list[str]) -> None:
    """A throw-away copy where the package sits at the top (mutmut derives module names from paths)."""
    shutil.rmtree(STAGE, ignore_errors=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "layers" / "common" / PACKAGE, STAGE / PACKAGE, ignore=ignore)
    shutil.copytree(ROOT / "tests", STAGE / "tests", ignore=ignore)
    shutil.copytree(ROOT / "local", STAGE / "local", ignore=ignore)
    only = [m.replace(".", "/") + ".py" for m in modules] if modules else list(MUTATED)
    selection = [*FAST_TESTS, *(f"--ignore={path}" for path in NOT_STAGED)]
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    pytest_options = pyproject["tool"]["pytest"]["ini_options"]
    (STAGE / "pyproject.toml").write_text(
        "[tool.mutmut]\n"
        f'source_paths = ["{PACKAGE}"]\n'
        'also_copy = ["local"]\n'
        f"only_mutate = {toml_list(only)}\n"
        f"pytest_add_cli_args_test_selection = {toml_list(selection)}\n"
        "\n[tool.pytest.ini_options]\n"
        f"addopts = {toml_list([pytest_options['addopts']])[1:-1]}\n"
        f"markers = {toml_list(pytest_options['markers'])}\n",
        "utf-8",
    )


def toml_list(items: list[str] | tuple[str, ...]) -> str:
    return "[" + ", ".join('"' + item.replace("\\", "\\\\").replace('"', '\\"') + '"' for item in items) + "]"


def run_mutmut(children: int) -> int:
    """mutmut run in the stage; its progress display goes to .mutation/mutmut.log, its last figures here."""
    mutmut = Path(sys.executable).with_name("mutmut")
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("TEST_CLOCK_SHIFT_DAYS", None)
    log = STAGE / "mutmut.log"
    with log.open("w") as out:
        command = [str(mutmut), "run", "--max-children", str(children)]
        code = subprocess.run(command, check=False, cwd=STAGE, env=env, stdout=out, stderr=subprocess.STDOUT).returncode
    text = log.read_text(errors="replace")
    if code != 0:
        print(text[-6000:])
    else:
        frames = re.split(r"[\r\n⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏]+", text.strip())
        print("mutmut:", " ".join(frame.strip() for frame in frames[-2:] if frame.strip()))
    return code


def read_results() -> list[Mutant]:
    """Every mutant with its status, and the diff of each one that was not killed (mutmut's records)."""
    os.chdir(STAGE)  # mutmut reads its configuration from the working directory when imported
    from mutmut.mutation.data import SourceFileMutationData  # noqa: PLC0415
    from mutmut.mutation.diff_apply import get_diff_for_mutant  # noqa: PLC0415
    from mutmut.stats import status_by_exit_code  # noqa: PLC0415
    from mutmut.utils.file_utils import walk_mutatable_files  # noqa: PLC0415
    from mutmut.utils.format_utils import orig_function_and_class_names_from_key  # noqa: PLC0415

    mutants = []
    for path in walk_mutatable_files():
        data = SourceFileMutationData(path=path)
        data.load()
        module = ".".join(path.with_suffix("").parts)
        for name, exit_code in sorted(data.exit_code_by_key.items(), key=lambda kv: natural(kv[0])):
            status = status_by_exit_code[exit_code]
            function, cls = orig_function_and_class_names_from_key(name)
            qualified = f"{cls}.{function}" if cls else function
            diff = "" if status in KILLED else get_diff_for_mutant(name, path=path)
            mutants.append(Mutant(name, module, qualified, status, changed_lines(diff), diff))
    return mutants


def natural(name: str) -> tuple[str, int]:
    base, _, number = name.rpartition("_")
    return base, int(number) if number.isdigit() else 0


def report(scores: dict[str, ModuleScore], stale: list[Equivalent], floor: float) -> int:
    failed = False
    for module in sorted(scores):
        for mutant in scores[module].survivors:
            print(f"\n{mutant.status}: {mutant.name} (function {mutant.function})\n{mutant.diff}")
    for entry in stale:
        failed = True
        print(f"\nstale equivalent entry (matches no mutant): {entry.module} {entry.function} {list(entry.change)}")
    print(f"\n{'module':45} {'killed':>7} {'counted':>8} {'equiv':>6} {'score':>7}")
    for module in sorted(scores):
        score = scores[module]
        below = score.score < floor
        failed |= below
        mark = "  below the floor" if below else ""
        print(
            f"{module:45} {score.killed:>7} {score.counted:>8} {score.counts['equivalent']:>6} "
            f"{score.score:>7.1%}{mark}"
        )
    total_killed = sum(s.killed for s in scores.values())
    total = sum(s.counted for s in scores.values())
    print(f"{'all':45} {total_killed:>7} {total:>8} {'':>6} {total_killed / max(total, 1):>7.1%}  (floor {floor:.0%})")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--modules", default=os.environ.get("MODULES", ""), help="dotted module names, comma-separated")
    parser.add_argument("--children", type=int, default=os.cpu_count() or 2, help="mutants tested at once")
    parser.add_argument("--floor", type=float, default=FLOOR)
    parser.add_argument("--report-only", action="store_true", help="read the last run's results again")
    args = parser.parse_args(argv)
    modules = [m.strip() for m in args.modules.split(",") if m.strip()]
    equivalents = load_equivalents()
    if not args.report_only:
        stage(modules)
        if run_mutmut(args.children) != 0:
            print("mutmut failed (its output is above)", file=sys.stderr)
            return 2
    mutants = read_results()
    if modules:
        mutants = [m for m in mutants if m.module in modules]
        equivalents = [e for e in equivalents if e.module in modules]
    scores, stale = classify(mutants, equivalents)
    return report(scores, stale, args.floor)


if __name__ == "__main__":
    sys.exit(main())
