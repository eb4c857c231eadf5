"""The deployment artifact `sam build` wrote (.aws-sam/build), checked as Lambda loads it.

`make test` builds first and sets ARTIFACT_REQUIRED, so a missing build fails there; a plain
`pytest tests` without a build skips these. What each check proves: local/artifact_check.py.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from local.artifact_check import (
    BUILD,
    ROOT,
    Artifact,
    import_handler,
    installed_distributions,
    layer_problems,
    load_artifact,
    own_packages,
    shared_objects,
    source_packages,
    stale_files,
    venv_mismatches,
)
from local.template import load_template

FUNCTIONS = sorted(load_template(ROOT / "template.yaml").functions)


def _unusable(reason: str) -> None:
    if os.environ.get("ARTIFACT_REQUIRED"):
        pytest.fail(reason)
    pytest.skip(reason)


def _stale(artifact: Artifact) -> list[str]:
    stale = [f"{f.logical_id}: {name}" for f in artifact.functions.values() for name in stale_files(f.folder, f.source)]
    return stale + [f"layer {package}: {name}" for package in sorted(source_packages())
                    for name in stale_files(artifact.layer_site / package, ROOT / "layers" / "common" / package)]


@pytest.fixture(scope="module")
def artifact() -> Artifact:
    """The build; outside `make test` (ARTIFACT_REQUIRED unset) a missing or stale one skips these tests."""
    if sys.version_info[:2] != (3, 13):
        _unusable(f"the dev venv runs Python {sys.version.split()[0]}, the Lambda runtime is 3.13: `make install`")
    if not (BUILD / "template.yaml").is_file():
        _unusable(f"no build in {BUILD}: `make build` (make test builds first)")
    built = load_artifact()
    stale = _stale(built)
    if stale:
        _unusable(f"the build is older than the source ({', '.join(stale[:5])}): `make build`")
    return built


@pytest.fixture(scope="module")
def pycache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    folder = tmp_path_factory.mktemp("artifact-pycache")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_the_build_has_every_function_of_the_template(artifact: Artifact) -> None:
    assert artifact.problems == []
    assert sorted(artifact.functions) == FUNCTIONS
    assert artifact.layer_site.is_dir()


def test_the_build_is_the_current_source(artifact: Artifact) -> None:
    assert _stale(artifact) == []


def test_the_layer_holds_exactly_the_locked_distributions_for_lambda_arm64(artifact: Artifact) -> None:
    assert layer_problems(artifact.layer_site) == []


def test_the_layers_native_code_is_aarch64(artifact: Artifact) -> None:
    objects = shared_objects(artifact.layer_site)
    assert any(path.startswith("pydantic_core/") for path in objects), objects  # the check sees them at all
    assert {machine for machine in objects.values()} == {"aarch64"}, objects


def test_the_dev_venv_runs_the_layers_versions(artifact: Artifact) -> None:
    """Handlers import third-party code from the dev venv (aarch64 cannot load here): same versions."""
    assert venv_mismatches(artifact.layer_site) == []


@pytest.mark.parametrize("logical_id", FUNCTIONS)
def test_the_handler_imports_from_the_artifact(artifact: Artifact, pycache: Path, logical_id: str) -> None:
    layer = artifact.layer_site
    own = own_packages(layer, installed_distributions(layer))
    result = import_handler(artifact.functions[logical_id], layer, own, pycache)
    assert result.problems == []
    ours = [name for name in result.modules if name.partition(".")[0] in own]
    assert "wholecell_temu" in ours
    assert all(Path(result.modules[name]).resolve().is_relative_to(layer.resolve()) for name in ours)


def test_checking_leaves_no_bytecode_in_the_artifact(artifact: Artifact) -> None:
    assert sorted(str(p.relative_to(BUILD)) for p in BUILD.rglob("__pycache__")) == []
