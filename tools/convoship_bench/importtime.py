"""Import time of each function's handler module, from `python -X importtime`.

A fresh venv python per run imports the handler module (its CodeUri first on sys.path, the
app environment set); a marker line on stderr separates interpreter start-up from the
import. The total is the sum of the cumulative times of the top-level entries after the
marker; the baseline is the floor app's module (or the bare handler's, for the authorizer),
imported right before or after each run (A B A B ...), the ratio the median of the pairs'.
The top 10 cumulative entries of the median run are printed under the table.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from convoship_bench.coldstart import BARE_MODULE, FLOOR_MODULE
from convoship_bench.discover import Function
from convoship_bench.report import ERROR, Row
from convoship_bench.stack import BenchStack
from convoship_bench.stats import Summary, paired

SECTION = "import time (python -X importtime, handler module)"
MARK = "BENCH-IMPORT-START"
TOP = 10


@dataclass(frozen=True)
class Entry:
    module: str
    self_us: int
    cumulative_us: int
    depth: int


@dataclass(frozen=True)
class Profile:
    total_s: float
    entries: tuple[Entry, ...]

    def top(self, n: int = TOP) -> list[Entry]:
        return sorted(self.entries, key=lambda e: e.cumulative_us, reverse=True)[:n]


def parse(stderr: str) -> Profile:
    """Entries after the marker, and the sum of the top-level cumulative times."""
    _, found, after = stderr.partition(MARK)
    if not found:
        raise ValueError("marker not found in -X importtime output")
    entries = []
    for line in after.splitlines():
        if not line.startswith("import time:") or "imported package" in line:
            continue
        fields = line.removeprefix("import time:").split("|")
        if len(fields) != 3:
            continue
        name = fields[2].rstrip()
        stripped = name.lstrip()
        depth = (len(name) - len(stripped) - 1) // 2
        entries.append(Entry(stripped, int(fields[0]), int(fields[1]), depth))
    total_us = sum(e.cumulative_us for e in entries if e.depth == 0)
    return Profile(total_us / 1e6, tuple(entries))


def profile(module: str, code_dir: Path, env: dict[str, str]) -> Profile:
    code = (
        f"import sys; sys.path.insert(0, {str(code_dir)!r}); "
        f"sys.stderr.write({MARK!r} + '\\n'); sys.stderr.flush(); import {module}"
    )
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd=code_dir,
        timeout=60,
        check=False,
    )
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:] or [f"exit {proc.returncode}"]
        raise RuntimeError(f"import {module} failed: {tail[0]}")
    return parse(proc.stderr)


def _median_run(profiles: list[Profile]) -> Profile:
    ordered = sorted(profiles, key=lambda p: p.total_s)
    return ordered[len(ordered) // 2]


@dataclass
class ImportReport:
    rows: list[Row]
    tops: dict[str, list[Entry]]


def measure(functions: Sequence[Function], stack: BenchStack, *, runs: int) -> ImportReport:
    env = {
        **{k: os.environ[k] for k in ("PATH", "HOME", "LANG") if k in os.environ},
        **stack.app_env(),
    }
    loose = stack.work_dir / "importtime"
    for module in (FLOOR_MODULE, BARE_MODULE):
        (loose / module.stem).mkdir(parents=True, exist_ok=True)
        shutil.copy2(module, loose / module.stem / module.name)
    baselines: dict[str, list[Profile]] = {}
    report = ImportReport([], {})
    for fn in functions:
        base_stem = (BARE_MODULE if fn.kind == "authorizer" else FLOOR_MODULE).stem
        row = Row(SECTION, f"import {fn.module}", "s", None, f"import {base_stem}")
        mine: list[Profile] = []
        theirs: list[Profile] = []
        try:
            for run in range(runs):
                baseline_first = run % 2 == 0
                if baseline_first:
                    theirs.append(profile(base_stem, loose / base_stem, env))
                mine.append(profile(fn.module, fn.code_uri, env))
                if not baseline_first:
                    theirs.append(profile(base_stem, loose / base_stem, env))
        except (RuntimeError, ValueError, subprocess.TimeoutExpired) as exc:
            row.status, row.note = ERROR, str(exc)
            report.rows.append(row)
            continue
        row.value = Summary.of([p.total_s for p in mine])
        row.baseline = Summary.of([p.total_s for p in theirs])
        row.ratios = paired([p.total_s for p in mine], [p.total_s for p in theirs])
        baselines.setdefault(base_stem, []).extend(theirs)
        report.tops[fn.module] = _median_run(mine).top()
        report.rows.append(row)
    for stem, profiles in baselines.items():
        report.tops = {stem: _median_run(profiles).top(), **report.tops}
    return report


def top_lines(tops: dict[str, list[Entry]]) -> list[str]:
    lines = []
    for module, entries in tops.items():
        lines.append(f"import {module}: top {len(entries)} by cumulative time (median run)")
        lines.append(f"  {'cumulative':>10}  {'self':>8}  module")
        for e in entries:
            lines.append(
                f"  {e.cumulative_us / 1e3:>8.1f}ms  {e.self_us / 1e3:>6.1f}ms  "
                f"{'  ' * e.depth}{e.module}"
            )
    return lines
