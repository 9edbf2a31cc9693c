"""Instructions an embed chat turn executes in the handler's process, counted under callgrind.

Wall and CPU time per turn move with this shared machine (the bare model call, the same code
in every run, has measured 0.58 ms in one run and 1.06 ms in another); instructions do not.
A child process imports the chat function as the cold start rows do (source layout, the
function's environment, Powertools at INFO as deployed), runs warm-up turns against the
bench's servers, then TURNS turns and TURNS bare model calls between callgrind's marks
(os.getloadavg, as in instructions.py). Guest instructions of the handler's process only:
PostgreSQL, Redis and the loopback model run in other processes, and the kernel's work for
a system call is not counted. Full runs only: callgrind runs a process some 50x slower.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from convoship_bench import coldstart, instructions
from convoship_bench.discover import Function
from convoship_bench.report import ERROR, SKIPPED, Row
from convoship_bench.stack import BenchStack
from convoship_bench.stats import Summary

NAME = "embed chat turn: instructions per turn (handler process)"
WARM_TURNS = 30
TURNS = 40
RUNS = 2  # in parallel; the count repeats to about 0.1%
_TIMEOUT_S = 900.0

DRIVER = (
    r"""
import copy, json, os, sys
spec = json.loads(sys.argv[1])
sys.path[0:0] = spec["paths"]
import importlib
module_name, _, attr = spec["handler"].rpartition(".")
handler = getattr(importlib.import_module(module_name), attr)
from convoship.llm.openai import OpenAIChat
from convoship.llm.types import Message, Sampling
with open(spec["event"], encoding="utf-8") as f:
    event = json.load(f)
"""
    + coldstart.CONTEXT_SOURCE
    + r"""context = Context()
model = OpenAIChat(model="bench-model", base_url=spec["llm_base_url"], api_key=None,
                   timeout_s=10, allow_private=True)
messages = [Message("system", "Answer briefly."), Message("user", "Hi")]
def bare():
    return model.complete(messages, tools=[], sampling=Sampling(0.7, 1024))
statuses = set()
for _ in range(spec["warm"]):
    statuses.add(handler(copy.deepcopy(event), context)["statusCode"])
    bare()
events = [copy.deepcopy(event) for _ in range(spec["turns"])]
os.getloadavg()
for payload in events:
    statuses.add(handler(payload, context)["statusCode"])
os.getloadavg()
for _ in range(spec["turns"]):
    bare()
os.getloadavg()
sys.stdout.write(spec["mark"] + json.dumps(sorted(statuses)) + "\n")
"""
)


def instruction_row(
    section: str, fn: Function, stack: BenchStack, event: dict[str, Any], *, counted: bool
) -> Row:
    """Instructions per turn against a bare model call's, or why they were not counted."""
    why = "not counted in --quick (callgrind runs a process some 50x slower)"
    if counted:
        why = instructions.unavailable() or ""
    if why:
        return _not_counted(section, SKIPPED, why)
    work = Path(tempfile.mkdtemp(dir=stack.work_dir, prefix="turn-instructions-"))
    try:
        event_path = work / "event.json"
        event_path.write_text(json.dumps(event), encoding="utf-8")
        spec = {
            "paths": [str(fn.code_uri)],
            "handler": fn.handler,
            "event": str(event_path),
            "function_name": fn.name,
            "llm_base_url": stack.llm_base_url,
            "warm": WARM_TURNS,
            "turns": TURNS,
            "mark": coldstart.RESULT_MARK,
        }
        env = {**coldstart._function_env(fn, stack.app_env()), "POWERTOOLS_LOG_LEVEL": "INFO"}
        with ThreadPoolExecutor(max_workers=RUNS) as pool:
            runs = list(pool.map(lambda i: _count(work / f"run-{i}", spec, env, fn), range(RUNS)))
    except (RuntimeError, OSError, subprocess.SubprocessError, ValueError) as exc:
        return _not_counted(section, ERROR, f"{type(exc).__name__}: {exc}")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return Row(
        section,
        NAME,
        "instructions",
        Summary.of([turns for turns, _ in runs]),
        baseline_name="one bare model call",
        baseline=Summary.of([calls for _, calls in runs]),
        note=f"callgrind, {TURNS} warm turns a run, {RUNS} runs; the handler's process only",
        figure="instructions",
    )


def _count(
    folder: Path, spec: dict[str, Any], env: dict[str, str], fn: Function
) -> tuple[float, float]:
    """Instructions per turn and per bare model call, in one child under callgrind."""
    folder.mkdir()
    valgrind = shutil.which("valgrind") or "valgrind"
    proc = subprocess.run(
        [
            valgrind,
            "--tool=callgrind",
            f"--dump-before={instructions.MARK_FUNCTION}",
            f"--callgrind-out-file={folder / 'callgrind.out'}",
            sys.executable,
            "-c",
            DRIVER,
            json.dumps(spec),
        ],
        capture_output=True,
        env=env,
        cwd=fn.code_uri,
        timeout=_TIMEOUT_S,
        check=False,
    )
    out = proc.stdout.decode("utf-8", "replace").splitlines()
    results = [line for line in out if line.startswith(coldstart.RESULT_MARK)]
    if not results:
        tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-2:]
        raise RuntimeError(f"turns under callgrind: no result: {tail}")
    statuses = json.loads(results[0][len(coldstart.RESULT_MARK) :])
    if statuses != [200]:
        raise RuntimeError(f"turns under callgrind answered {statuses}, not [200]")
    parts = instructions.parse_parts(folder)
    if not {2, 3} <= set(parts):
        raise RuntimeError(f"callgrind parts {sorted(parts)}, not 1..4")
    return parts[2] / TURNS, parts[3] / TURNS


def _not_counted(section: str, status: str, why: str) -> Row:
    return Row(
        section,
        NAME,
        "instructions",
        None,
        baseline_name="one bare model call",
        status=status,
        note=why,
        figure="instructions",
    )
