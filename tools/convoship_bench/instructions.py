"""Instructions a cold start executes, counted under valgrind's callgrind: a repeatable figure.

Wall and CPU times move with the machine's load; the instructions a cold start executes do
not (a fraction of a percent, from hash randomisation and address layout). The child runs
coldstart.DRIVER with its marks on: it calls os.getloadavg() (a libc function nothing else
there calls) before the handler import, after it and after the first response, and
`--dump-before=getloadavg` cuts callgrind's count at each call: interpreter start, import,
first request, exit (not counted). Guest instructions only: the kernel's work for a system
call is not in them (it is in the CPU time).

Callgrind runs a process some 50x slower, so the runs go in parallel (counts do not mind)
and a --quick run counts only the authorizer and its bare handler. `perf stat -e
instructions` would cost nothing but needs hardware counters, which virtual machines like
this one often do not expose; valgrind is used where it is installed, else the rows say why
they were skipped.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from convoship_bench.coldstart import Config, Pair

_RUN_TIMEOUT_S = 900.0
MARK_FUNCTION = "getloadavg"


@dataclass(frozen=True)
class Counts:
    start: int  # interpreter start-up, up to the handler import
    imports: int  # the handler module's import
    first_request: int

    @property
    def whole(self) -> int:
        return self.start + self.imports + self.first_request


@dataclass
class CountReport:
    skipped: str | None = None  # why nothing was counted
    by_label: dict[str, list[Counts]] = field(default_factory=dict)
    not_counted: dict[str, str] = field(default_factory=dict)  # label: why not (or error)
    tool: str = ""
    elapsed_s: float = 0.0

    def meta(self) -> dict[str, Any]:
        return {
            "tool": self.tool,
            "skipped": self.skipped,
            "elapsed_s": round(self.elapsed_s, 1),
            "not_counted": self.not_counted,
            "counts": {
                label: [[c.start, c.imports, c.first_request] for c in counts]
                for label, counts in self.by_label.items()
            },
        }


def unavailable() -> str | None:
    """Why instructions cannot be counted here, or None."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        return "valgrind is not installed (and perf stat needs hardware counters)"
    try:
        subprocess.run([valgrind, "--version"], capture_output=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"valgrind does not run here: {exc}"
    return None


def parse_parts(folder: Path) -> dict[int, int]:
    """{part number: instructions} from the callgrind dumps in folder (header lines only)."""
    parts: dict[int, int] = {}
    for path in folder.iterdir():
        part = total = None
        with path.open(encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("part:"):
                    part = int(line.split(":", 1)[1])
                elif line.startswith("summary:"):
                    total = int(line.split(":", 1)[1].split()[0])
                if part is not None and total is not None:
                    parts[part] = total
                    break
    return parts


def count(config: Config, work_dir: Path) -> Counts:
    """One cold start of config under callgrind."""
    from convoship_bench.coldstart import RESULT_MARK, check

    valgrind = shutil.which("valgrind") or "valgrind"
    folder = Path(tempfile.mkdtemp(dir=work_dir, prefix="callgrind-"))
    try:
        proc = subprocess.run(
            [
                valgrind,
                "--tool=callgrind",
                f"--dump-before={MARK_FUNCTION}",
                f"--callgrind-out-file={folder / 'callgrind.out'}",
                *config.command(marks=True),
            ],
            capture_output=True,
            env=config.env,
            cwd=config.paths[0],
            timeout=_RUN_TIMEOUT_S,
            check=False,
        )
        out = proc.stdout.decode("utf-8", "replace")
        lines = [line for line in out.splitlines() if line.startswith(RESULT_MARK)]
        if not lines:
            tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-2:]
            raise RuntimeError(f"{config.label} under callgrind: no result: {tail}")
        problem = check(config, json.loads(lines[0][len(RESULT_MARK) :]))
        if problem is not None:
            raise RuntimeError(problem)
        parts = parse_parts(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if not {1, 2, 3} <= set(parts):
        raise RuntimeError(f"{config.label}: callgrind parts {sorted(parts)}, not 1..4")
    return Counts(parts[1], parts[2], parts[3])


def measure(
    pairs: Sequence[Pair],
    work_dir: Path,
    *,
    rounds: int,
    quick: bool,
    deadline_s: float = 900.0,
) -> CountReport:
    """Counts for every pair's function and baseline, `rounds` runs each."""
    report = CountReport(skipped=unavailable(), tool="valgrind --tool=callgrind")
    if report.skipped is not None or rounds < 1:
        report.skipped = report.skipped or "no instruction rounds asked for"
        return report
    configs: dict[str, Config] = {}
    for pair in pairs:
        if quick and pair.fn.kind != "authorizer":
            why = "not counted in --quick (callgrind takes tens of seconds a process)"
            report.not_counted.setdefault(pair.case.label, why)
            continue
        configs.setdefault(pair.baseline.label, pair.baseline)
        configs.setdefault(pair.case.label, pair.case)
    stop_at = time.monotonic() + deadline_s

    def run(config: Config) -> tuple[str, Counts | str]:
        if time.monotonic() > stop_at:
            return config.label, f"not counted: the {deadline_s:g} s deadline passed"
        try:
            return config.label, count(config, work_dir)
        except (RuntimeError, OSError, subprocess.SubprocessError, ValueError) as exc:
            return config.label, f"{type(exc).__name__}: {exc}"

    started = time.monotonic()
    jobs = [config for _ in range(rounds) for config in configs.values()]
    with ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
        for label, outcome in pool.map(run, jobs):
            if isinstance(outcome, Counts):
                report.by_label.setdefault(label, []).append(outcome)
            else:
                report.not_counted.setdefault(label, outcome)
    report.elapsed_s = time.monotonic() - started
    return report
