"""`python -m convoship_bench [--quick]`: run every benchmark, print one table, save JSON."""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from convoship_bench import (
    agent_runs,
    audit_chain,
    coldstart,
    console,
    crypto,
    discover,
    importtime,
    pii,
    ratelimit,
    report,
    roundtrips,
    warm,
)
from convoship_bench.stack import bench_stack
from convoship_dev.services import PROJECT_ROOT

SECTIONS = (
    "cold",
    "warm",
    "roundtrips",
    "ratelimit",
    "agents",
    "crypto",
    "audit",
    "imports",
    "pii",
)


@dataclass(frozen=True)
class Sizes:
    cold_rounds: int
    cold_warmup_rounds: int
    warm_rounds: int
    warm_iterations: int
    warm_warmup: int
    roundtrip_repeats: int
    ratelimit_rounds: int
    ratelimit_checks: int
    import_runs: int
    agent_rounds: int
    chat_iterations: int
    audit_rows: int
    audit_rounds: int


FULL = Sizes(7, 1, 5, 100, 10, 5, 5, 2000, 5, 5, 50, 100_000, 5)
QUICK = Sizes(1, 0, 2, 5, 1, 2, 2, 100, 1, 1, 3, 2_000, 1)


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
        "--only", default=",".join(SECTIONS), help=f"comma-separated subset of {','.join(SECTIONS)}"
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
    unknown = only - set(SECTIONS)
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
    tops: dict[str, list[importtime.Entry]] = {}
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
        if "cold" in only:
            progress("cold start: fresh processes, source and lambda layouts")
            cold_rows, meta["cold_start"] = coldstart.measure(
                functions, stack, rounds=sizes.cold_rounds, warmup_rounds=sizes.cold_warmup_rounds
            )
            rows += cold_rows
            lap("cold")
        if "warm" in only:
            progress("warm latency: every route kind in-process")
            rows += warm.measure(
                functions,
                stack,
                rounds=sizes.warm_rounds,
                iterations=sizes.warm_iterations,
                warmup=sizes.warm_warmup,
            )
            lap("warm")
        if "roundtrips" in only:
            progress("DB round trips: through the counting proxy")
            rows += roundtrips.measure(functions, stack, repeats=sizes.roundtrip_repeats)
            lap("roundtrips")
        if "ratelimit" in only:
            progress("rate limiting: raw loop vs check_agent_rpm")
            rows += ratelimit.measure(
                stack, rounds=sizes.ratelimit_rounds, checks=sizes.ratelimit_checks
            )
            lap("ratelimit")
        if "agents" in only:
            progress("agent runs: publish with 20 evals, embed chat turns")
            rows += agent_runs.measure(
                functions, stack, rounds=sizes.agent_rounds, iterations=sizes.chat_iterations
            )
            lap("agents")
        if "crypto" in only:
            progress("encryption at rest: one secret warm and cold, rotation throughput")
            rows += crypto.measure(stack, quick=args.quick)
            lap("crypto")
        if "audit" in only:
            progress(f"audit chain: verifying {sizes.audit_rows:,} rows")
            rows += audit_chain.measure(stack, rows=sizes.audit_rows, rounds=sizes.audit_rounds)
            lap("audit")
        if "imports" in only:
            progress("import time: python -X importtime")
            imports = importtime.measure(functions, stack, runs=sizes.import_runs)
            rows += imports.rows
            tops = imports.tops
            lap("imports")
        if "pii" in only:
            progress("PII redaction: corpus recall and precision, cost per KB, loading")
            rows += pii.measure(runs=sizes.import_runs)
            lap("pii")
        progress("stopping servers")
    meta["loadavg_end"] = os.getloadavg()
    meta["duration_s"] = time.monotonic() - started
    meta["import_top"] = {m: [asdict(e) for e in entries] for m, entries in tops.items()}

    load = ", ".join(f"{x:.2f}" for x in meta["loadavg_start"])
    print(
        f"\nConvoShip bench{' (quick)' if args.quick else ''}: python {meta['python']}, "
        f"{meta['cpus']} CPUs, load {load} at start; every figure: median [min .. max] over "
        "repeated runs, next to a baseline measured in the same run.\n"
    )
    print("\n".join(report.table_lines(rows)))
    problems = meta.get("cold_start", {}).get("lambda_layout_problems") or []
    if problems:
        print("\nLambda layout built from this venv:")
        print("\n".join(f"  - {p}" for p in problems))
    if library_warnings.messages:
        print("\npsycopg warnings while handlers ran (app error paths; silenced above):")
        print("\n".join(library_warnings.summary()))
    if tops:
        print()
        print("\n".join(importtime.top_lines(tops)))
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
