"""Cold start: a fresh `python` process imports a handler and serves one events/ request.

Each function is paired with its baseline (the floor app, floor_app.py, serving the same
event; the bare handler for the authorizer), and the two are started one right after the
other, A B A B ... (B A on odd rounds, so neither always goes first), so the load of the
moment hits both runs of a pair alike; the table's ratios are the medians of the pairs'.
Every run gives three figures per phase, "import" (the handler module, from the child's own
clock) and "import + first request" (everything up to the first response):
- wall time: the child's clock for the import; for the whole, this process's clock from
  just before Popen to the child's result line (interpreter start included, exit not);
- CPU time of the child (user + sys: its CLOCK_PROCESS_CPUTIME_ID, what getrusage adds up),
  which waiting for a busy CPU does not inflate;
- instructions, counted under valgrind (instructions.py): the figure that repeats.
Two layouts:
- source: this venv's python, code as checked out (.pyc cached in __pycache__ as usual);
- lambda: `python -I -S -B` on the read-only, byte-compiled layout built by lambda_site.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from convoship_bench import instructions, lambda_site
from convoship_bench.coldstart_rows import SECTION, pair_rows
from convoship_bench.discover import EventFile, Function
from convoship_bench.report import NO_EVENTS, Row
from convoship_bench.stack import BenchStack

BENCH_DIR = Path(__file__).resolve().parent
FLOOR_MODULE = BENCH_DIR / "floor_app.py"
BARE_MODULE = BENCH_DIR / "bare_handler.py"
RESULT_MARK = "BENCH-RESULT "
_TIMEOUT_S = 60.0
# Modules whose files must come from the lambda layout in lambda mode (isolation check).
_CHECKED_MODULES = ("convoship", "fastapi", "starlette", "pydantic", "psycopg", "mangum")

# A Lambda context, for the drivers run in a child (`spec` holds the function's name).
CONTEXT_SOURCE = r"""
class Context:
    function_name = spec["function_name"]
    function_version = "$LATEST"
    memory_limit_in_mb = 1024
    aws_request_id = "bench-cold-start"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:" + function_name
    def get_remaining_time_in_millis(self):
        return 25000
"""
# Runs in the child. Lambda's runtime puts /var/task and the layer on sys.path the same way.
# With "marks" on, os.getloadavg() (which nothing else calls) marks the phases for callgrind.
DRIVER = (
    r"""
import json, os, sys, time
t0, c0 = time.perf_counter(), time.process_time()
spec = json.loads(sys.argv[1])
sys.path[0:0] = spec["paths"]
import importlib
marks = spec["marks"]
if marks:
    os.getloadavg()
module_name, _, attr = spec["handler"].rpartition(".")
handler = getattr(importlib.import_module(module_name), attr)
t1, c1 = time.perf_counter(), time.process_time()
if marks:
    os.getloadavg()
with open(spec["event"], encoding="utf-8") as f:
    event = json.load(f)
"""
    + CONTEXT_SOURCE
    + r"""result = handler(event, Context())
t2, c2 = time.perf_counter(), time.process_time()
if marks:
    os.getloadavg()
origins = {m: getattr(sys.modules.get(m), "__file__", None) for m in spec["check_modules"]}
out = {"import_s": t1 - t0, "import_cpu_s": c1 - c0, "first_request_s": t2 - t1,
       "cpu_s": c2, "status": result.get("statusCode"),
       "authorized": result.get("isAuthorized"), "origins": origins,
       "site_imported": "site" in sys.modules}
sys.stdout.write(spec["mark"] + json.dumps(out) + "\n")
sys.stdout.flush()
"""
)


class ColdStartFailed(RuntimeError):
    pass


@dataclass
class Config:
    """One kind of process to start: which handler, from where, with which interpreter."""

    label: str
    handler: str
    paths: list[Path]
    event: Path
    argv: list[str]
    env: dict[str, str]
    mode: str
    isolated_root: Path | None = None  # lambda mode: every checked module must live here

    def spec(self, *, marks: bool = False) -> str:
        return json.dumps(
            {
                "paths": [str(p) for p in self.paths],
                "handler": self.handler,
                "event": str(self.event),
                "function_name": self.label,
                "check_modules": list(_CHECKED_MODULES),
                "mark": RESULT_MARK,
                "marks": marks,
            }
        )

    def command(self, *, marks: bool = False) -> list[str]:
        return [*self.argv, "-c", DRIVER, self.spec(marks=marks)]


@dataclass
class Pair:
    """A function's cold start and its baseline's, run side by side."""

    fn: Function
    mode: str
    case: Config
    baseline: Config
    case_runs: list[dict[str, Any]] = field(default_factory=list)
    baseline_runs: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None


def run_once(config: Config) -> dict[str, Any]:
    """Start the process, time it to its result line, then let it exit (untimed)."""
    with tempfile.TemporaryFile() as stderr:
        started = time.perf_counter()
        proc = subprocess.Popen(
            config.command(),
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=config.env,
            cwd=config.paths[0],
        )
        watchdog = threading.Timer(_TIMEOUT_S, proc.kill)
        watchdog.start()
        result: dict[str, Any] | None = None
        try:
            assert proc.stdout is not None
            for raw in proc.stdout:
                line = raw.decode("utf-8", "replace")
                if line.startswith(RESULT_MARK):
                    elapsed = time.perf_counter() - started
                    result = {"wall_s": elapsed, **json.loads(line[len(RESULT_MARK) :])}
                    break
            proc.stdout.close()
            proc.wait(_TIMEOUT_S)
        finally:
            watchdog.cancel()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if result is None:
            stderr.seek(0)
            tail = stderr.read().decode("utf-8", "replace").strip().splitlines()[-3:]
            raise ColdStartFailed(f"{config.label}: no result (exit {proc.returncode}): {tail}")
    return result


def check(config: Config, result: dict[str, Any]) -> str | None:
    """Why this run does not count (server error, isolation leak), or None."""
    status = result.get("status")
    if isinstance(status, int) and status >= 500:
        return f"{config.label} answered {status}"
    if config.isolated_root is not None:
        if result.get("site_imported"):
            return f"{config.label}: the site module was imported"
        root = str(config.isolated_root)
        for module, origin in (result.get("origins") or {}).items():
            if origin is not None and not str(origin).startswith(root):
                return f"{config.label}: {module} came from {origin}, not the lambda layout"
    return None


def _base_env() -> dict[str, str]:
    keep = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR")
    return {k: os.environ[k] for k in keep if k in os.environ}


def _function_env(fn: Function | None, app_env: dict[str, str]) -> dict[str, str]:
    template_env = dict(fn.environment) if fn else {}
    return {**_base_env(), **template_env, **app_env}


def _argv(mode: str) -> list[str]:
    if mode == "source":
        return [sys.executable]
    base = getattr(sys, "_base_executable", sys.executable)
    # -B: /var/task is a read-only file system on Lambda, and as root a chmod does not stop
    # Python from writing __pycache__, so forbid it: function code compiles on every start.
    return [base, "-I", "-S", "-B"]


_LOOSE = {
    "floor_app": ("floor app", "floor_app.handler"),
    "bare_handler": ("bare handler", "bare_handler.handler"),
}


def _config(
    mode: str,
    layout: lambda_site.LambdaLayout | None,
    task: str,
    source_dir: Path,
    event: Path,
    app_env: dict[str, str],
    fn: Function | None = None,
) -> Config:
    """The process for one task: a function (its CodeUri) or a loose bench module (floor,
    bare handler); source_dir is where its code is in the source layout."""
    label, handler = (fn.name, fn.handler) if fn is not None else _LOOSE[task]
    env = _function_env(fn, app_env)
    if mode == "source":
        return Config(f"{label} ({mode})", handler, [source_dir], event, _argv(mode), env, mode)
    assert layout is not None
    paths = [layout.tasks[task], layout.site]
    root = layout.site.parent.parent
    return Config(f"{label} ({mode})", handler, paths, event, _argv(mode), env, mode, root)


def _plan(
    functions: Sequence[Function], stack: BenchStack, modes: Sequence[str], floor_event: Path
) -> tuple[list[Pair], lambda_site.LambdaLayout | None]:
    app_env = stack.app_env()
    layout = None
    if "lambda" in modes:
        layout = lambda_site.build(
            stack.work_dir,
            {fn.name: fn.code_uri for fn in functions},
            [FLOOR_MODULE, BARE_MODULE],
        )
    source_tasks = stack.work_dir / "source-tasks"
    for module in (FLOOR_MODULE, BARE_MODULE):
        (source_tasks / module.stem).mkdir(parents=True, exist_ok=True)
        (source_tasks / module.stem / module.name).write_bytes(module.read_bytes())

    pairs: list[Pair] = []
    for mode in modes:
        floor = _config(mode, layout, "floor_app", source_tasks / "floor_app", floor_event, app_env)
        for fn in functions:
            event = fn.cold_event()
            if event is None:
                continue
            case = _config(mode, layout, fn.name, fn.code_uri, event.path, app_env, fn)
            baseline = floor
            if fn.kind == "authorizer":
                bare = source_tasks / "bare_handler"
                baseline = _config(mode, layout, "bare_handler", bare, event.path, app_env)
            pairs.append(Pair(fn, mode, case, baseline))
    return pairs, layout


def floor_event_file(functions: Sequence[Function]) -> Path:
    """The floor serves the same kind of request: the first studio GET event there is."""
    for fn in functions:
        event: EventFile | None = fn.cold_event()
        if fn.kind == "http" and event is not None and event.is_http_request:
            return event.path
    raise RuntimeError("no HTTP API event in events/: nothing for the floor app to serve")


def _run_pair(pair: Pair, baseline_first: bool) -> tuple[dict[str, Any], dict[str, Any]] | None:
    order = (pair.baseline, pair.case) if baseline_first else (pair.case, pair.baseline)
    got: dict[int, dict[str, Any]] = {}
    for config in order:
        try:
            result = run_once(config)
        except ColdStartFailed as exc:
            pair.error = str(exc)
            return None
        pair.error = check(config, result)
        if pair.error is not None:
            return None
        got[id(config)] = result
    return got[id(pair.case)], got[id(pair.baseline)]


def measure(
    functions: Sequence[Function],
    stack: BenchStack,
    *,
    rounds: int,
    warmup_rounds: int,
    instruction_rounds: int,
    quick: bool,
    modes: Sequence[str] = ("source", "lambda"),
    deadline_s: float = 600.0,
) -> tuple[list[Row], dict[str, Any]]:
    floor_event = floor_event_file(functions)
    pairs, layout = _plan(functions, stack, modes, floor_event)
    stop_at = time.monotonic() + deadline_s
    for round_no in range(warmup_rounds + rounds):
        for pair in pairs:
            if pair.error is not None or time.monotonic() > stop_at:
                continue
            runs = _run_pair(pair, baseline_first=round_no % 2 == 0)
            if runs is not None and round_no >= warmup_rounds:
                pair.case_runs.append(runs[0])
                pair.baseline_runs.append(runs[1])
    counts = instructions.measure(
        [p for p in pairs if p.error is None],
        stack.work_dir,
        rounds=instruction_rounds,
        quick=quick,
    )
    rows = [
        Row(
            SECTION,
            f"cold start {fn.name}",
            "s",
            None,
            status=NO_EVENTS,
            note=f"no events/{fn.name}/*.json yet: nothing to serve, nothing measured",
        )
        for fn in functions
        if fn.cold_event() is None
    ]
    for pair in pairs:
        rows += pair_rows(pair, counts)
    meta: dict[str, Any] = {
        "modes": list(modes),
        "rounds": rounds,
        "warmup_rounds": warmup_rounds,
        "instructions": counts.meta(),
    }
    if layout is not None:
        meta["lambda_layout_build_s"] = layout.build_s
        written = sorted(
            str(p) for task in layout.tasks.values() for p in task.rglob("__pycache__")
        )
        if written:
            layout.problems.append(
                f"bytecode was written into the read-only task folders: {written}"
            )
        meta["lambda_layout_problems"] = layout.problems
    return rows, meta
