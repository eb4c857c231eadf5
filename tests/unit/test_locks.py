"""The lock files (`make lock`) are current and consistent; pip enforces their hashes (--require-hashes)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from local.artifact_check import ROOT, read_pins

LOCKS = {  # input -> lock
    ROOT / "layers/common/requirements.in": ROOT / "layers/common/requirements.txt",
    ROOT / "requirements-dev.in": ROOT / "requirements-dev.txt",
    ROOT / "requirements-translator.in": ROOT / "requirements-translator.txt",
    ROOT / "requirements-sam.in": ROOT / "requirements-sam.txt",
}


@pytest.mark.parametrize("source", sorted(LOCKS), ids=lambda path: path.name if path.parent == ROOT else str(
    path.relative_to(ROOT)))
def test_every_pin_of_an_input_is_in_its_lock(source: Path) -> None:
    """An .in edited without `make lock` fails here, not at install time."""
    locked = read_pins(LOCKS[source])
    wanted = read_pins(source)
    assert wanted, source
    assert {name: locked.get(name) for name in wanted} == wanted, "run `make lock`"


@pytest.mark.parametrize("lock", sorted(LOCKS.values()), ids=lambda path: str(path.relative_to(ROOT)))
def test_every_locked_requirement_has_hashes(lock: Path) -> None:
    entries = re.split(r"\n(?=\S)", lock.read_text(encoding="utf-8"))
    requirements = [entry for entry in entries if not entry.startswith("#")]
    assert requirements
    assert [entry.split()[0] for entry in requirements if "--hash=sha256:" not in entry] == []


def test_the_dev_venv_gets_the_layers_versions() -> None:
    layer = read_pins(ROOT / "layers/common/requirements.txt")
    dev = read_pins(ROOT / "requirements-dev.txt")
    assert {name: dev.get(name) for name in layer} == layer
