"""A copy of the code laid out as Lambda sees it, for the "lambda" cold-start mode.

- Layer (/opt/python): the distributions pinned in layers/shared/requirements.txt and what
  they require (resolved from this venv's metadata, as pip resolves them for the layer),
  copied file by file from this venv (their RECORD lists), plus layers/shared/convoship; then
  byte-compiled with `compileall --invalidation-mode unchecked-hash`, as the layer Makefile
  does, so every import finds a valid .pyc without a timestamp check.
- Function code (/var/task): the CodeUri folder copied without __pycache__, then
  byte-compiled as functions/Makefile does for `sam build` (unchecked-hash .pyc); it used
  to be left uncompiled here, which charged each cold start the compiling of the
  function's modules that a deployed one does not pay (~20-35 M instructions for agents).
  The floor and bare modules get the same treatment, so the comparison stays fair.
- Everything is made read-only (files 0444, folders 0555). Root ignores those bits, so the
  child also runs with -B (writes no bytecode), which is what a read-only /var/task means.

The child runs with `python -I -S -B` (no PYTHON* variables, no user or venv site-packages,
no site module, no .pyc written) and puts [task, layer] first on sys.path itself, which is
what Lambda's PYTHONPATH does. Wheels are this machine's (x86_64 here, arm64 on Lambda).
"""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from convoship_dev.services import PROJECT_ROOT

LAYER_DIR = PROJECT_ROOT / "layers" / "shared"
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc")


@dataclass
class LambdaLayout:
    site: Path
    tasks: dict[str, Path]
    build_s: float = 0.0
    problems: list[str] = field(default_factory=list)


def _requirements(path: Path) -> list[tuple[str, str]]:
    pins = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins.append((name.strip(), version.strip()))
    return pins


def _closure(pins: list[tuple[str, str]]) -> tuple[dict[str, str], list[str]]:
    """Every distribution the pins need ({name: pinned version or ""}), and what is missing."""
    wanted = {canonicalize_name(name): version for name, version in pins}
    names: dict[str, str] = {}
    missing: list[str] = []
    todo = [name for name, _ in pins]
    while todo:
        name = todo.pop()
        key = canonicalize_name(name)
        if key in names:
            continue
        names[key] = wanted.get(key, "")
        try:
            requires = importlib.metadata.distribution(name).requires or []
        except importlib.metadata.PackageNotFoundError:
            missing.append(key)
            continue
        for text in requires:
            req = Requirement(text)
            if req.marker is None or req.marker.evaluate({"extra": ""}):
                todo.append(req.name)
    return names, missing


def _copy_distribution(name: str, site: Path) -> str | None:
    """Copy one installed distribution's files into site; a problem message or None."""
    try:
        dist = importlib.metadata.distribution(name)
    except importlib.metadata.PackageNotFoundError:
        return f"{name} is pinned for the layer but not installed in this venv"
    for entry in dist.files or []:
        parts = entry.parts
        if parts[0] == ".." or "__pycache__" in parts or entry.suffix == ".pyc":
            continue  # console scripts outside site-packages; caches are rebuilt below
        source = Path(str(dist.locate_file(entry)))
        if source.is_file():
            target = site / entry
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    return None


def _make_read_only(root: Path) -> None:
    for folder, dirs, files in os.walk(root):
        for name in files:
            (Path(folder) / name).chmod(0o444)
        for name in dirs:
            (Path(folder) / name).chmod(0o555)
    root.chmod(0o555)


def _byte_compile(folder: Path) -> None:
    """As tools/make/python312.mk compiles what ships: unchecked-hash .pyc."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "compileall",
            "-q",
            "-j",
            "0",
            "--invalidation-mode",
            "unchecked-hash",
            str(folder),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        timeout=300,
    )


def build(work_dir: Path, code_dirs: dict[str, Path], modules: Iterable[Path]) -> LambdaLayout:
    """Layer site plus one task folder per function (code_dirs) and one per loose module."""
    started = time.perf_counter()
    root = work_dir / "lambda"
    site = root / "opt" / "python"
    site.mkdir(parents=True)
    layout = LambdaLayout(site=site, tasks={})
    names, missing = _closure(_requirements(LAYER_DIR / "requirements.txt"))
    layout.problems.extend(f"{name} is needed by the layer but not installed" for name in missing)
    for name, pinned in sorted(names.items()):
        if name in missing or _copy_distribution(name, site) is not None:
            continue
        installed = importlib.metadata.version(name)
        if not pinned:
            layout.problems.append(
                f"{name} {installed} is needed but not pinned in requirements.txt"
            )
        elif installed != pinned:
            layout.problems.append(f"{name}: layer pins {pinned}, venv has {installed}")
    shutil.copytree(LAYER_DIR / "convoship", site / "convoship", ignore=_IGNORE)
    _byte_compile(site)
    for name, code_dir in code_dirs.items():
        task = root / "task" / name
        shutil.copytree(code_dir, task, ignore=_IGNORE)
        layout.tasks[name] = task
    for module in modules:
        task = root / "task" / module.stem
        task.mkdir(parents=True)
        shutil.copy2(module, task / module.name)
        layout.tasks[module.stem] = task
    if layout.tasks:
        _byte_compile(root / "task")
    _make_read_only(root)
    layout.build_s = time.perf_counter() - started
    return layout
