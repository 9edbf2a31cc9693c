"""The publish gate: run every eval against a snapshot, concurrently, and judge each.

An eval passes when all its assertions hold on the agent's reply. `llm_rubric` asks the
same model to grade: the first word must be PASS or FAIL; anything else fails, with the
answer kept as the reason. A provider failure fails the whole run (UpstreamUnavailable):
a gate that could not ask the model has not measured anything.
"""

from __future__ import annotations

from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from convoship.core.user_regex import PatternRefused, compile_pattern
from convoship.llm.types import ChatModel, Message, Sampling
from convoship.runtime.snapshot import AgentSnapshot
from convoship.runtime.turn import run_turn
from convoship.secrets.vault import SecretVault

REGEX_TIMEOUT_S = 0.5
RUBRIC_SYSTEM = (
    "You grade the reply of an AI assistant against a rubric. Answer with PASS or FAIL as "
    "the first word, then one short sentence saying why."
)
RUBRIC_SAMPLING = Sampling(temperature=0.0, max_output_tokens=200)


@dataclass(frozen=True)
class GateResult:
    results: list[dict[str, Any]]
    pass_rate: float | None  # None when there are no evals
    threshold: float

    @property
    def passed(self) -> bool:
        return self.pass_rate is not None and self.pass_rate >= self.threshold


def _regex(pattern: str, output: str) -> tuple[bool, str | None]:
    """On the `regex` package, which can give up on a pattern that backtracks forever; one
    that would compile into too much (stored before that was refused at save) never compiles."""
    try:
        compiled = compile_pattern(pattern)
    except PatternRefused as exc:
        return False, f"the pattern is not valid: {exc}"
    try:
        found = compiled.search(output, timeout=REGEX_TIMEOUT_S)
    except TimeoutError:
        return False, f"the pattern took longer than {REGEX_TIMEOUT_S} s and was stopped"
    return found is not None, None if found else "no match"


def parse_grade(answer: str) -> tuple[bool, str]:
    """(passed, reason) from a grader's answer; only PASS or FAIL as first word count."""
    words = answer.strip().split(maxsplit=1)
    first = words[0].strip("*.:,;!-").upper() if words else ""
    rest = words[1].strip() if len(words) > 1 else ""
    if first == "PASS":
        return True, rest
    if first == "FAIL":
        return False, rest or "the grader answered FAIL"
    return False, answer.strip() or "the grader gave no answer"


def _rubric(model: ChatModel, rubric: str, output: str) -> tuple[bool, str]:
    prompt = f"Rubric:\n{rubric}\n\nReply to grade:\n{output}"
    completion = model.complete(
        [Message("system", RUBRIC_SYSTEM), Message("user", prompt)],
        tools=[],
        sampling=RUBRIC_SAMPLING,
    )
    return parse_grade(completion.text)


def judge(model: ChatModel, kind: str, value: str, output: str) -> tuple[bool, str | None]:
    if kind == "contains":
        return (value in output), None if value in output else "not found in the reply"
    if kind == "not_contains":
        return (value not in output), None if value not in output else "found in the reply"
    if kind == "equals":
        same = output.strip() == value.strip()
        return same, None if same else "the reply differs"
    if kind == "regex":
        return _regex(value, output)
    if kind == "llm_rubric":
        return _rubric(model, value, output)
    return False, f"unknown assertion type {kind!r}"


def run_eval(
    model: ChatModel,
    agent: AgentSnapshot,
    case: dict[str, Any],
    vault: SecretVault,
    *,
    allow_private: bool,
) -> dict[str, Any]:
    turn = run_turn(model, agent, [], case["input"], vault, allow_private=allow_private)
    output = vault.scrub(turn.reply)  # whole values only, as chat replies (chat/turn.py)
    checks = []
    for assertion in case["assertions"]:
        passed, reason = judge(model, assertion["type"], assertion["value"], output)
        checks.append({**assertion, "passed": passed, "reason": vault.scrub(reason or "") or None})
    return {
        "eval_id": str(case["id"]),
        "name": case["name"],
        "input": case["input"],
        "output": output,
        "passed": all(c["passed"] for c in checks),
        "assertions": checks,
        "tool_calls": [e.name for e in turn.tool_events],
        "usage": turn.usage.as_dict(),
    }


def run_gate(
    model: ChatModel,
    agent: AgentSnapshot,
    evals: list[dict[str, Any]],
    vault: SecretVault,
    *,
    threshold: float,
    concurrency: int,
    allow_private: bool,
) -> GateResult:
    """Every eval at once (up to concurrency); results in the evals' order."""
    if not evals:
        return GateResult([], None, threshold)  # nothing measured: the gate cannot pass
    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(evals)))) as pool:
        futures: list[Future[dict[str, Any]]] = [
            pool.submit(run_eval, model, agent, case, vault, allow_private=allow_private)
            for case in evals
        ]
        done, pending = wait(futures, return_when=FIRST_EXCEPTION)
        for future in pending:
            future.cancel()
        for future in futures:
            if future in done and future.exception() is not None:
                raise future.exception()  # type: ignore[misc]
        results = [f.result() for f in futures]
    passed = sum(1 for r in results if r["passed"])
    return GateResult(results, passed / len(results), threshold)
