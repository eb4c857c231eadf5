"""The artifact check itself (local/artifact_check.py) on small layers made here: it finds what it must."""

from __future__ import annotations

from pathlib import Path

import pytest

from local.artifact_check import (
    BuiltFunction,
    elf_machine,
    import_handler,
    installed_distributions,
    layer_problems,
    own_packages,
    tag_problem,
)

EM_AARCH64, EM_X86_64 = 183, 62


def elf(machine: int) -> bytes:
    """The first bytes of a 64-bit little-endian shared object for `machine`."""
    return b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8) + (3).to_bytes(2, "little") + machine.to_bytes(2, "little")


def wheel(site: Path, name: str, version: str, files: dict[str, bytes],
          tags: tuple[str, ...] = ("py3-none-any",)) -> None:
    info = site / f"{name}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\nName: not this\n")
    (info / "WHEEL").write_text("Wheel-Version: 1.0\n" + "".join(f"Tag: {tag}\n" for tag in tags))
    for path, content in files.items():
        (site / path).parent.mkdir(parents=True, exist_ok=True)
        (site / path).write_bytes(content)
    records = [*files, f"{info.name}/METADATA", f"{info.name}/WHEEL", f"{info.name}/RECORD"]
    (info / "RECORD").write_text("".join(f"{path},,\n" for path in records))


@pytest.fixture
def layer(tmp_path: Path) -> tuple[Path, Path]:
    """A correct layer: one pure and one native (aarch64) wheel, and our package; and its lock."""
    site = tmp_path / "python"
    wheel(site, "pure_lib", "1.0", {"pure_lib/__init__.py": b""})
    native = {"native_lib/__init__.py": b"", "native_lib/_x.cpython-313-aarch64-linux-gnu.so": elf(EM_AARCH64)}
    tags = ("cp313-cp313-manylinux_2_17_aarch64", "cp313-cp313-manylinux2014_aarch64")
    wheel(site, "native-lib", "2.0", native, tags)
    (site / "ours").mkdir()
    (site / "ours" / "__init__.py").write_text("MARK = 'from the artifact'\n")
    lock = tmp_path / "requirements.txt"
    lock.write_text("native-lib==2.0 \\\n    --hash=sha256:00\npure-lib==1.0 \\\n    --hash=sha256:11\n")
    return site, lock


def test_a_correct_layer_has_no_problem(layer: tuple[Path, Path]) -> None:
    site, lock = layer
    assert layer_problems(site, lock, expected_own={"ours"}) == []
    assert own_packages(site, installed_distributions(site)) == {"ours"}


def test_missing_changed_and_unlocked_distributions_are_found(layer: tuple[Path, Path]) -> None:
    site, lock = layer
    lock.write_text("native-lib==2.1\npure-lib==1.0\nrequests==2.0\n")
    wheel(site, "extra", "0.1", {"extra.py": b""})
    assert layer_problems(site, lock, expected_own={"ours"}) == [
        "native-lib: the layer has 2.0, the lock pins 2.1",
        "requests==2.0 is pinned but not in the layer",
        "extra==0.1 is in the layer but not in the lock",
    ]


def test_x86_64_code_is_found_by_its_elf_header_whatever_its_name(layer: tuple[Path, Path]) -> None:
    site, lock = layer
    (site / "native_lib" / "_x.cpython-313-aarch64-linux-gnu.so").write_bytes(elf(EM_X86_64))
    assert layer_problems(site, lock, expected_own={"ours"}) == [
        "native_lib/_x.cpython-313-aarch64-linux-gnu.so: x86_64, not aarch64"]
    assert elf_machine(site / "ours" / "__init__.py") == "not ELF"


@pytest.mark.parametrize(("tag", "problem"), [
    ("cp313-cp313-manylinux_2_17_aarch64", None),
    ("cp313-cp313-manylinux2014_aarch64", None),
    ("cp313-cp313-manylinux_2_34_aarch64", None),
    ("cp39-abi3-manylinux_2_28_aarch64", None),
    ("cp313-cp313-manylinux_2_17_x86_64",
     "cp313-cp313-manylinux_2_17_x86_64: platform manylinux_2_17_x86_64, not manylinux aarch64"),
    ("cp313-cp313-manylinux_2_39_aarch64", "cp313-cp313-manylinux_2_39_aarch64: needs glibc 2.39, Lambda has 2.34"),
    ("cp312-cp312-manylinux_2_17_aarch64", "cp312-cp312-manylinux_2_17_aarch64: built for cp312, not CPython 3.13"),
    ("cp313-cp313-musllinux_1_2_aarch64",
     "cp313-cp313-musllinux_1_2_aarch64: platform musllinux_1_2_aarch64, not manylinux aarch64"),
])
def test_native_wheel_tags_must_load_on_lambda_python313_arm64(tag: str, problem: str | None) -> None:
    assert tag_problem(tag) == problem


def test_code_no_wheel_installed_other_than_ours_is_found(layer: tuple[Path, Path]) -> None:
    site, lock = layer
    (site / "requirements.txt").write_text("")
    assert layer_problems(site, lock, expected_own={"ours"}) == [
        "code no wheel installed: ['ours', 'requirements.txt'], expected our packages ['ours']"]


def function(tmp_path: Path, source: str) -> BuiltFunction:
    folder = tmp_path / "Function"
    folder.mkdir()
    (folder / "app.py").write_text(source)
    return BuiltFunction("Function", "app.lambda_handler", folder, folder, {})


def test_a_handler_imports_our_code_from_the_layer_and_the_rest_from_the_venv(
        layer: tuple[Path, Path], tmp_path: Path) -> None:
    site, _ = layer
    source = "import yaml\nfrom ours import MARK\n\ndef lambda_handler(event, context):\n    return MARK\n"
    handler = function(tmp_path, source)
    result = import_handler(handler, site, {"ours"}, tmp_path / "pycache")
    assert result.problems == []
    assert Path(result.modules["ours"]).is_relative_to(site)
    assert Path(result.modules["app"]).is_relative_to(handler.folder)
    assert "site-packages" in result.modules["yaml"]
    assert not list(site.rglob("__pycache__")) and not list(handler.folder.rglob("__pycache__"))


def test_the_source_tree_is_out_of_reach(layer: tuple[Path, Path], tmp_path: Path) -> None:
    """wholecell_temu is importable in the dev venv (editable install), never in the probe."""
    site, _ = layer
    handler = function(tmp_path, "import wholecell_temu\n\ndef lambda_handler(event, context):\n    return None\n")
    result = import_handler(handler, site, {"ours"}, tmp_path / "pycache")
    assert len(result.problems) == 1
    assert "ModuleNotFoundError: No module named 'wholecell_temu'" in result.problems[0]


def test_a_missing_or_uncallable_handler_is_found(layer: tuple[Path, Path], tmp_path: Path) -> None:
    site, _ = layer
    handler = function(tmp_path, "import ours\n\nlambda_handler = ours.MARK\n")
    assert import_handler(handler, site, {"ours"}, tmp_path / "pycache").problems == [
        "app.lambda_handler is not callable"]
    (handler.folder / "app.py").write_text("import ours\n")
    assert import_handler(handler, site, {"ours"}, tmp_path / "pycache").problems == [
        "app.lambda_handler: the module has no attribute lambda_handler"]
