"""`python -m convoship_bench [--quick]`: run every benchmark, print one table, save JSON."""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from convoship_bench import console, discover, report
from convoship_bench.sections import FULL, QUICK, SECTIONS, Context
from convoship_bench.stack import bench_stack
from convoship_dev.services import PROJECT_ROOT

NAMES = tuple(section.name for section in SECTIONS)


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except OSError:
        return None
    return out.stdout.strip() or None


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m convoship_bench", description=__doc__)
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny repeat counts (the smoke test's size); figures are rough",
    )
    parser.add_argument(
        "--only", default=",".join(NAMES), help=f"comma-separated subset of {','.join(NAMES)}"
    )
    parser.add_argument(
        "--out-dir",
        type=Path,
        default=PROJECT_ROOT / ".bench",
        help="where results-<timestamp>.json goes (default: .bench/)",
    )
    return parser.parse_args(argv)


def run(args: argparse.Namespace) -> int:
    sizes = QUICK if args.quick else FULL
    only = {s.strip() for s in args.only.split(",") if s.strip()}
    unknown = only - set(NAMES)
    if unknown:
        print(f"unknown section(s): {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    functions = discover.discover()
    started = time.monotonic()
    meta: dict[str, Any] = {
        "quick": args.quick,
        "sizes": asdict(sizes),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "loadavg_start": os.getloadavg(),
        "git_commit": _git_commit(),
        "functions": {fn.name: [e.path.name for e in fn.events] for fn in functions},
    }
    rows: list[report.Row] = []
    timings: dict[str, float] = meta.setdefault("section_s", {})
    progress = console.Progress()
    clock = time.monotonic()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.monotonic()
        timings[name] = round(now - clock, 2)
        clock = now

    with (
        console.counted_library_warnings("psycopg") as library_warnings,
        console.stdout_silenced(),
        bench_stack() as stack,
    ):
        lap("servers")
        context = Context(functions, stack, sizes, args.quick, meta)
        for section in SECTIONS:
            if section.name in only:
                progress(section.progress)
                rows += section.run(context)
                lap(section.name)
        progress("stopping servers")
    meta["loadavg_end"] = os.getloadavg()
    meta["duration_s"] = time.monotonic() - started

    load = ", ".join(f"{x:.2f}" for x in meta["loadavg_start"])
    print(
        f"\nConvoShip bench{' (quick)' if args.quick else ''}: python {meta['python']}, "
        f"{meta['cpus']} CPUs, load {load} at start.\n"
        "Every figure: median [min .. max] over repeated runs, next to a baseline measured in\n"
        "the same run. Ratio: for runs paired with their baseline's (A B A B ...), the median\n"
        "of the pairs' ratios (their range). Judged on: the figure a verdict used; where one\n"
        "measurement has several, the steadiest: instructions when counted, else CPU time,\n"
        "else wall time (the rows of the others have no verdict).\n"
    )
    print("\n".join(report.table_lines(rows)))
    if library_warnings.messages:
        print("\npsycopg warnings while handlers ran (app error paths; silenced above):")
        print("\n".join(library_warnings.summary()))
    for line in context.after_table:
        print(line)
    path = report.write_json(args.out_dir, rows, meta)
    missed = sum(1 for row in rows if row.verdict == report.MISSED)
    phases = ", ".join(f"{name} {seconds:.1f}" for name, seconds in timings.items())
    print(f"\n{len(rows)} rows, {missed} MISSED; {meta['duration_s']:.0f} s ({phases}); {path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    try:
        return run(args)
    except KeyboardInterrupt:
        print("\ninterrupted: servers stopped and removed", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
