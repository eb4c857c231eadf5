"""The deployment artifact, checked as Lambda loads it (`tests/artifact/`, run by `make test` after `sam build`).

`sam build` writes `.aws-sam/build/`: one folder per function (its handler module) and the layer,
`CommonLayer/python/` (Lambda's `/opt/python`): our package `wholecell_temu` beside the locked
third-party wheels for python3.13 on arm64. What is checked here:

- The layer holds exactly the distributions of `layers/common/requirements.txt`, each at its pinned
  version; a distribution with native code carries only cp313 / aarch64 wheel tags that Lambda's
  glibc (2.34) accepts, and every shared object in the layer is an aarch64 ELF file.
- Every handler imports, in a fresh interpreter, with our code taken only from the artifact: the
  function's folder first (Lambda's `/var/task`), then the layer's own packages. The layer's native
  extensions are aarch64 and cannot load on an x86_64 machine, so the third-party packages come
  from the dev venv, which installed the same locked versions (`venv_mismatches` proves it). The
  interpreter runs isolated and without `site`, so neither the repository's source tree nor the
  venv's editable install of `wholecell_temu` is reachable; every module it loaded must come from
  the artifact, the dev venv's site-packages or the standard library.

`python -m local.artifact_check` prints the same checks as a report.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from local.stack import env_json
from local.template import load_template, load_yaml

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / ".aws-sam" / "build"
LAYER_LOCK = ROOT / "layers" / "common" / "requirements.txt"
LAYER_SOURCE = ROOT / "layers" / "common"
RUNTIME_GLIBC = (2, 34)  # Lambda python3.13: Amazon Linux 2023
ELF_MACHINES = {183: "aarch64", 62: "x86_64", 3: "i386", 40: "arm"}

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)")
_MANYLINUX = re.compile(r"^manylinux_(\d+)_(\d+)_aarch64$")
_LEGACY_MANYLINUX = {"manylinux2014_aarch64": (2, 17)}


def normalize(name: str) -> str:
    """PEP 503 name: `Typing_Extensions` and `typing-extensions` are one distribution."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(lock: Path) -> dict[str, str]:
    """`name==version` lines of a requirements file (hash lines and comments skipped)."""
    pins: dict[str, str] = {}
    for line in lock.read_text(encoding="utf-8").splitlines():
        match = _PIN.match(line.strip())
        if match:
            pins[normalize(match.group(1))] = match.group(2)
    return pins


@dataclass(frozen=True)
class Distribution:
    name: str  # normalized
    version: str
    tags: tuple[str, ...]  # WHEEL `Tag:` lines, e.g. cp313-cp313-manylinux_2_17_aarch64
    files: tuple[str, ...]  # RECORD paths, relative to the install folder

    @property
    def native(self) -> bool:
        return any(not tag.endswith("-none-any") for tag in self.tags)


def installed_distributions(site: Path) -> dict[str, Distribution]:
    """The wheels pip installed into `site` (a `--target` folder), from their dist-info folders."""
    found: dict[str, Distribution] = {}
    for info in sorted(site.glob("*.dist-info")):
        fields: dict[str, str] = {}
        for line in (info / "METADATA").read_text(encoding="utf-8").splitlines():
            if not line.strip():
                break  # the body (long description) follows the first blank line
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
        wheel = info / "WHEEL"
        tags = tuple(line.partition(":")[2].strip() for line in wheel.read_text(encoding="utf-8").splitlines()
                     if line.startswith("Tag:")) if wheel.exists() else ()
        record = info / "RECORD"
        files = tuple(line.split(",")[0] for line in record.read_text(encoding="utf-8").splitlines()
                      if line.strip()) if record.exists() else ()
        name = normalize(fields.get("Name", info.name.split("-")[0]))
        found[name] = Distribution(name, fields.get("Version", ""), tags, files)
    return found


def own_packages(site: Path, distributions: dict[str, Distribution]) -> set[str]:
    """Top-level entries of `site` that no installed wheel owns: the code we copied in ourselves."""
    owned = {Path(file).parts[0] for dist in distributions.values() for file in dist.files}
    return {entry.name for entry in site.iterdir() if entry.name not in owned and not entry.name.endswith(".dist-info")}


def source_packages(source: Path = LAYER_SOURCE) -> set[str]:
    """Our packages in the layer's source folder (folders with an `__init__.py`)."""
    return {entry.name for entry in source.iterdir() if (entry / "__init__.py").is_file()}


def elf_machine(path: Path) -> str:
    """The CPU a shared object is built for, read from its ELF header (`e_machine`)."""
    header = path.read_bytes()[:20]
    if len(header) < 20 or header[:4] != b"\x7fELF":
        return "not ELF"
    number = int.from_bytes(header[18:20], "little" if header[5] == 1 else "big")  # EI_DATA: 1 = little-endian
    return ELF_MACHINES.get(number, f"machine {number}")


def shared_objects(site: Path) -> dict[str, str]:
    """Every shared object under `site` (`*.so`, `*.so.N`) and its CPU, by relative path."""
    return {str(path.relative_to(site)): elf_machine(path) for path in sorted(site.rglob("*.so*")) if path.is_file()}


def tag_problem(tag: str) -> str | None:
    """Why a native wheel's tag cannot load on Lambda python3.13 arm64, or None."""
    interpreter, abi, platform = [*tag.split("-"), "", "", ""][:3]
    if interpreter != "cp313" and not (abi == "abi3" and interpreter.startswith("cp3")):
        return f"{tag}: built for {interpreter}, not CPython 3.13"
    if abi not in ("cp313", "abi3", "none"):
        return f"{tag}: ABI {abi}, not cp313"
    glibc = _LEGACY_MANYLINUX.get(platform)
    match = _MANYLINUX.match(platform)
    if match:
        glibc = (int(match.group(1)), int(match.group(2)))
    if glibc is None:
        return f"{tag}: platform {platform}, not manylinux aarch64"
    if glibc > RUNTIME_GLIBC:
        return f"{tag}: needs glibc {glibc[0]}.{glibc[1]}, Lambda has {RUNTIME_GLIBC[0]}.{RUNTIME_GLIBC[1]}"
    return None


def layer_problems(site: Path, lock: Path = LAYER_LOCK, expected_own: set[str] | None = None) -> list[str]:
    """What in the built layer differs from its lock and target (empty when the layer is right)."""
    pins = read_pins(lock)
    distributions = installed_distributions(site)
    problems = []
    for name, version in sorted(pins.items()):
        dist = distributions.get(name)
        if dist is None:
            problems.append(f"{name}=={version} is pinned but not in the layer")
        elif dist.version != version:
            problems.append(f"{name}: the layer has {dist.version}, the lock pins {version}")
    problems += [f"{name}=={dist.version} is in the layer but not in the lock"
                 for name, dist in sorted(distributions.items()) if name not in pins]
    for dist in distributions.values():
        if dist.native:
            problems += [f"{dist.name}: {problem}" for tag in dist.tags if (problem := tag_problem(tag))]
    problems += [f"{path}: {machine}, not aarch64" for path, machine in shared_objects(site).items()
                 if machine != "aarch64"]
    expected = source_packages() if expected_own is None else expected_own
    own = own_packages(site, distributions)
    if own != expected:
        problems.append(f"code no wheel installed: {sorted(own)}, expected our packages {sorted(expected)}")
    return problems


def venv_mismatches(site: Path) -> list[str]:
    """Layer distributions whose version in this interpreter (the dev venv) differs from the layer's."""
    problems = []
    for name, dist in sorted(installed_distributions(site).items()):
        try:
            here = metadata.version(name)
        except metadata.PackageNotFoundError:
            problems.append(f"{name}: in the layer ({dist.version}), not in the dev venv")
            continue
        if here != dist.version:
            problems.append(f"{name}: layer {dist.version}, dev venv {here}")
    return problems


def _tree_digest(folder: Path) -> dict[str, str]:
    return {str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*"))
            if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"}


def stale_files(built: Path, source: Path) -> list[str]:
    """Files that differ between a built folder and its source (a stale or partial build)."""
    have, want = _tree_digest(built), _tree_digest(source)
    return sorted(name for name in have.keys() | want.keys() if have.get(name) != want.get(name))


@dataclass(frozen=True)
class BuiltFunction:
    logical_id: str
    handler: str  # module.attribute
    folder: Path  # .aws-sam/build/<LogicalId>
    source: Path  # functions/<name>
    environment: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Artifact:
    build: Path
    layer_site: Path  # .aws-sam/build/CommonLayer/python
    functions: dict[str, BuiltFunction]
    problems: list[str]  # built template against the source template


def load_artifact(root: Path = ROOT, build: Path = BUILD) -> Artifact:
    """The build as the source template says it should be (`problems` lists where they differ)."""
    template = load_template(root / "template.yaml")
    built = {lid: res for lid, res in (load_yaml(build / "template.yaml").get("Resources") or {}).items()
             if isinstance(res, dict)}  # not `Fn::ForEach::...` loops (lists)
    environments = env_json(template)
    problems = []
    layers = [lid for lid, res in built.items() if res.get("Type") == "AWS::Serverless::LayerVersion"]
    if len(layers) != 1:
        problems.append(f"one layer expected in the built template, found {layers}")
    layer_id = layers[0] if layers else "CommonLayer"
    layer_site = build / str((built.get(layer_id) or {}).get("Properties", {}).get("ContentUri", layer_id)) / "python"
    functions = {}
    for lid, function in sorted(template.functions.items()):
        props = (built.get(lid) or {}).get("Properties") or {}
        if not props:
            problems.append(f"{lid} is in template.yaml but not in the built template")
            continue
        if props.get("Handler") != function.handler:
            problems.append(f"{lid}: built handler {props.get('Handler')}, template {function.handler}")
        env = {**environments[lid], "AWS_REGION": "us-east-1", "AWS_DEFAULT_REGION": "us-east-1"}
        functions[lid] = BuiltFunction(lid, function.handler, build / str(props.get("CodeUri", lid)),
                                       root / function.code_uri, env)
    extra = sorted(lid for lid, res in built.items()
                   if res.get("Type") == "AWS::Serverless::Function" and lid not in template.functions)
    if extra:
        problems.append(f"built functions no longer in template.yaml: {extra}")
    return Artifact(build, layer_site, functions, problems)


# Runs in `python -I -S`: no site-packages, no .pth files (so no editable install), no PYTHONPATH,
# not even the current directory. Lambda's order: the function's folder, then the layer.
_PROBE = r"""
import importlib, importlib.machinery, json, sys
args = json.loads(sys.argv[1])

class ArtifactCode:
    # Our packages from the built layer only; the function's folder still comes first, as on Lambda.
    @staticmethod
    def find_spec(name, path=None, target=None):
        if path is None and name in args["own"] and importlib.machinery.PathFinder.find_spec(
                name, [args["function"]]) is None:
            return importlib.machinery.PathFinder.find_spec(name, [args["layer"]])
        return None

sys.meta_path.insert(0, ArtifactCode)
sys.path[:0] = [args["function"]]
sys.path.append(args["site_packages"])
module_name, _, attribute = args["handler"].rpartition(".")
module = importlib.import_module(module_name)
handler = getattr(module, attribute, None)
modules = {name: getattr(m, "__file__", None) for name, m in list(sys.modules.items())}
print(json.dumps({"module_file": module.__file__, "has_attribute": hasattr(module, attribute),
                  "callable": callable(handler), "modules": {k: v for k, v in modules.items() if v}}))
"""


@dataclass(frozen=True)
class ImportResult:
    logical_id: str
    problems: list[str]
    modules: dict[str, str]  # module name -> file it was loaded from


def _under(path: str, folder: Path) -> bool:
    return Path(path).resolve().is_relative_to(folder.resolve())


def import_handler(function: BuiltFunction, layer_site: Path, own: set[str], pycache: Path, *,
                   site_packages: Path | None = None, timeout: float = 120) -> ImportResult:
    """Import one handler from the artifact in a fresh interpreter; `problems` is empty when it loads.

    Bytecode goes to `pycache` (`-X pycache_prefix`), never into the artifact; share one folder
    across calls and only the first compiles.
    """
    site_packages = site_packages or Path(sysconfig.get_paths()["purelib"])
    args = {"function": str(function.folder), "layer": str(layer_site), "own": sorted(own),
            "site_packages": str(site_packages), "handler": function.handler}
    # Lambda-like: the template's environment (local endpoints; nothing is called at import) and
    # the variables Lambda sets, nothing inherited but PATH.
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8", **function.environment,
           "AWS_LAMBDA_FUNCTION_NAME": function.logical_id, "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
           "LAMBDA_TASK_ROOT": str(function.folder)}
    command = [sys.executable, "-I", "-S", "-X", f"pycache_prefix={pycache}", "-c", _PROBE, json.dumps(args)]
    done = subprocess.run(command, cwd=function.folder, env=env, capture_output=True, text=True, timeout=timeout,
                          check=False)
    if done.returncode != 0:
        return ImportResult(function.logical_id, [f"import failed: {done.stderr.strip()[-1500:]}"], {})
    report: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    modules: dict[str, str] = report["modules"]
    problems = []
    if not report["has_attribute"]:
        problems.append(f"{function.handler}: the module has no attribute {function.handler.rpartition('.')[2]}")
    elif not report["callable"]:
        problems.append(f"{function.handler} is not callable")
    if not _under(report["module_file"], function.folder):
        problems.append(f"handler module loaded from {report['module_file']}, not {function.folder}")
    allowed = [function.folder, layer_site, site_packages, Path(sys.base_prefix)]
    for name, file in sorted(modules.items()):
        top = name.partition(".")[0]
        if top in own and not _under(file, layer_site):
            problems.append(f"{name} loaded from {file}, not from the built layer")
        elif not any(_under(file, folder) for folder in allowed):
            problems.append(f"{name} loaded from outside the artifact, the dev venv and the stdlib: {file}")
        elif _under(file, layer_site) and top not in own:
            problems.append(f"{name}: a third-party module loaded from the aarch64 layer: {file}")
    if not any(name.partition(".")[0] in own for name in modules):
        problems.append(f"none of our packages {sorted(own)} was imported")
    return ImportResult(function.logical_id, problems, modules)


def main() -> int:
    artifact = load_artifact()
    problems = list(artifact.problems)
    print(f"artifact {artifact.build.relative_to(ROOT)}: {len(artifact.functions)} functions, "
          f"layer {artifact.layer_site.relative_to(ROOT)}")
    for path, machine in shared_objects(artifact.layer_site).items():
        print(f"  {machine:8} {path}")
    problems += layer_problems(artifact.layer_site)
    problems += venv_mismatches(artifact.layer_site)
    own = own_packages(artifact.layer_site, installed_distributions(artifact.layer_site))
    pycache = Path(tempfile.mkdtemp(prefix="artifact-check-"))
    for function in artifact.functions.values():
        problems += [f"{function.logical_id}: stale: {name}" for name in stale_files(function.folder, function.source)]
        result = import_handler(function, artifact.layer_site, own, pycache)
        ours = sum(1 for name, file in result.modules.items() if _under(file, artifact.layer_site))
        print(f"  {function.logical_id:28} {function.handler}: "
              f"{'ok' if not result.problems else 'FAILED'} ({ours} modules from the layer)")
        problems += [f"{function.logical_id}: {problem}" for problem in result.problems]
    for package in sorted(own):
        problems += [f"layer {package}: stale: {name}"
                     for name in stale_files(artifact.layer_site / package, LAYER_SOURCE / package)]
    shutil.rmtree(pycache, ignore_errors=True)
    for problem in problems:
        print(f"PROBLEM {problem}")
    print("artifact ok" if not problems else f"{len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
