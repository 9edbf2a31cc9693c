"""Cold start: a fresh `python` process imports a handler and serves one events/ request.

Timed in this process from just before Popen to the moment the child's result line is read
(interpreter start, imports, DB connect, first request; not the child's exit). Each studio
function is compared with the floor app (floor_app.py) serving the same event, and the
authorizer with a bare handler module; all processes are run interleaved, round by round,
so drift on a busy machine hits them alike. Two modes:

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

from convoship_bench import lambda_site
from convoship_bench.discover import EventFile, Function
from convoship_bench.report import ERROR, NO_EVENTS, Row, Target
from convoship_bench.stack import BenchStack
from convoship_bench.stats import Summary

SECTION = "cold start (process start -> first response)"
BENCH_DIR = Path(__file__).resolve().parent
FLOOR_MODULE = BENCH_DIR / "floor_app.py"
BARE_MODULE = BENCH_DIR / "bare_handler.py"
STUDIO_TARGET = Target("ratio_max", 1.25)
AUTHORIZER_TARGET = Target("ratio_max", 3.0)
RESULT_MARK = "BENCH-RESULT "
_TIMEOUT_S = 60.0
# Modules whose files must come from the lambda layout in lambda mode (isolation check).
_CHECKED_MODULES = ("convoship", "fastapi", "starlette", "pydantic", "psycopg", "mangum")

# Runs in the child. Lambda's runtime puts /var/task and the layer on sys.path the same way.
DRIVER = r"""
import json, sys, time
t0 = time.perf_counter()
spec = json.loads(sys.argv[1])
sys.path[0:0] = spec["paths"]
import importlib
module_name, _, attr = spec["handler"].rpartition(".")
handler = getattr(importlib.import_module(module_name), attr)
t1 = time.perf_counter()
with open(spec["event"], encoding="utf-8") as f:
    event = json.load(f)
class Context:
    function_name = spec["function_name"]
    function_version = "$LATEST"
    memory_limit_in_mb = 1024
    aws_request_id = "bench-cold-start"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:" + function_name
    def get_remaining_time_in_millis(self):
        return 25000
result = handler(event, Context())
t2 = time.perf_counter()
origins = {m: getattr(sys.modules.get(m), "__file__", None) for m in spec["check_modules"]}
out = {"import_s": t1 - t0, "first_request_s": t2 - t1, "status": result.get("statusCode"),
       "authorized": result.get("isAuthorized"), "origins": origins,
       "site_imported": "site" in sys.modules}
sys.stdout.write(spec["mark"] + json.dumps(out) + "\n")
sys.stdout.flush()
"""


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
    isolated_root: Path | None = None  # lambda mode: every checked module must live here
    samples: list[float] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None

    def spec(self) -> str:
        return json.dumps(
            {
                "paths": [str(p) for p in self.paths],
                "handler": self.handler,
                "event": str(self.event),
                "function_name": self.label,
                "check_modules": list(_CHECKED_MODULES),
                "mark": RESULT_MARK,
            }
        )


def run_once(config: Config) -> tuple[float, dict[str, Any]]:
    """Start the process, time it to its result line, then let it exit (untimed)."""
    with tempfile.TemporaryFile() as stderr:
        started = time.perf_counter()
        proc = subprocess.Popen(
            [*config.argv, "-c", DRIVER, config.spec()],
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=config.env,
            cwd=config.paths[0],
        )
        watchdog = threading.Timer(_TIMEOUT_S, proc.kill)
        watchdog.start()
        elapsed: float | None = None
        result: dict[str, Any] = {}
        try:
            assert proc.stdout is not None
            for raw in proc.stdout:
                line = raw.decode("utf-8", "replace")
                if line.startswith(RESULT_MARK):
                    elapsed = time.perf_counter() - started
                    result = json.loads(line[len(RESULT_MARK) :])
                    break
            proc.stdout.close()
            proc.wait(_TIMEOUT_S)
        finally:
            watchdog.cancel()
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        if elapsed is None:
            stderr.seek(0)
            tail = stderr.read().decode("utf-8", "replace").strip().splitlines()[-3:]
            raise ColdStartFailed(f"{config.label}: no result (exit {proc.returncode}): {tail}")
    return elapsed, result


def _check(config: Config, result: dict[str, Any]) -> str | None:
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


@dataclass
class _Plan:
    configs: list[Config]
    rows: list[tuple[Function, str, Config, Config]]  # function, mode, its config, baseline


def _plan(
    functions: Sequence[Function],
    stack: BenchStack,
    modes: Sequence[str],
    floor_event: Path,
) -> tuple[_Plan, lambda_site.LambdaLayout | None]:
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

    configs: list[Config] = []
    plan = _Plan(configs, [])
    for mode in modes:

        def paths(task: str, code_dir: Path, mode: str = mode) -> list[Path]:
            if mode == "source":
                return [code_dir]
            assert layout is not None
            return [layout.tasks[task], layout.site]

        root = layout.site.parent.parent if layout and mode == "lambda" else None
        floor = Config(
            f"floor app ({mode})",
            "floor_app.handler",
            paths("floor_app", source_tasks / "floor_app"),
            floor_event,
            _argv(mode),
            _function_env(None, app_env),
            root,
        )
        bare = Config(
            f"bare handler ({mode})",
            "bare_handler.handler",
            paths("bare_handler", source_tasks / "bare_handler"),
            floor_event,
            _argv(mode),
            _function_env(None, app_env),
            root,
        )
        baselines_used = set()
        for fn in functions:
            event = fn.cold_event()
            if event is None:
                continue
            config = Config(
                f"{fn.name} ({mode})",
                fn.handler,
                paths(fn.name, fn.code_uri),
                event.path,
                _argv(mode),
                _function_env(fn, app_env),
                root,
            )
            baseline = bare if fn.kind == "authorizer" else floor
            if fn.kind == "authorizer":
                bare.event = event.path
            baselines_used.add(id(baseline))
            configs.append(config)
            plan.rows.append((fn, mode, config, baseline))
        configs.extend(c for c in (floor, bare) if id(c) in baselines_used)
    return plan, layout


def floor_event_file(functions: Sequence[Function]) -> Path:
    """The floor serves the same kind of request: the first studio GET event there is."""
    for fn in functions:
        event: EventFile | None = fn.cold_event()
        if fn.kind == "http" and event is not None and event.is_http_request:
            return event.path
    raise RuntimeError("no HTTP API event in events/: nothing for the floor app to serve")


def measure(
    functions: Sequence[Function],
    stack: BenchStack,
    *,
    rounds: int,
    warmup_rounds: int,
    modes: Sequence[str] = ("source", "lambda"),
    deadline_s: float = 600.0,
) -> tuple[list[Row], dict[str, Any]]:
    floor_event = floor_event_file(functions)
    plan, layout = _plan(functions, stack, modes, floor_event)
    stop_at = time.monotonic() + deadline_s
    for round_no in range(warmup_rounds + rounds):
        if time.monotonic() > stop_at:
            break
        for config in plan.configs:
            if config.error is not None:
                continue
            try:
                elapsed, result = run_once(config)
            except ColdStartFailed as exc:
                config.error = str(exc)
                continue
            config.error = _check(config, result)
            if round_no >= warmup_rounds and config.error is None:
                config.samples.append(elapsed)
                config.results.append(result)

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
    for fn, mode, config, baseline in plan.rows:
        target = {"http": STUDIO_TARGET, "authorizer": AUTHORIZER_TARGET}.get(fn.kind)
        error = config.error or baseline.error
        row = Row(
            section=SECTION,
            name=f"cold start {fn.name} ({mode})",
            unit="s",
            value=Summary.of(config.samples) if config.samples else None,
            baseline_name=baseline.label,
            baseline=Summary.of(baseline.samples) if baseline.samples else None,
            target=target,
            details={
                "event": str(config.event),
                "function": _split(config.results),
                "baseline": _split(baseline.results),
            },
        )
        if error or row.value is None or row.baseline is None:
            row.status = ERROR
            row.note = error or "no successful run"
        rows.append(row)
    meta: dict[str, Any] = {"modes": list(modes), "rounds": rounds, "warmup_rounds": warmup_rounds}
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


def _split(results: list[dict[str, Any]]) -> dict[str, Any]:
    """Child-side split of the time: imports vs first request (medians)."""
    if not results:
        return {}
    return {
        "import_s": Summary.of([r["import_s"] for r in results]).median,
        "first_request_s": Summary.of([r["first_request_s"] for r in results]).median,
        "status": [
            r.get("status") if r.get("status") is not None else r.get("authorized") for r in results
        ][:3],
    }
