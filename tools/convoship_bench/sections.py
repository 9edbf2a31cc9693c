"""The bench's sections, in the order they run, and the repeat counts they use.

A new benchmark module adds one Section to SECTIONS (the name `--only` knows it by, the
progress line, and a function from the run's Context to its table rows) and, if it needs
repeat counts, a field to Sizes with its FULL and QUICK values. A section may leave figures
for the JSON file in context.meta and lines to print under the table in context.after_table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from convoship_bench import (
    agent_runs,
    audit_chain,
    coldstart,
    crypto,
    importtime,
    pii,
    ratelimit,
    roundtrips,
    warm,
)
from convoship_bench.discover import Function
from convoship_bench.report import Row
from convoship_bench.stack import BenchStack


@dataclass(frozen=True)
class Sizes:
    cold_rounds: int
    cold_warmup_rounds: int
    instruction_rounds: int
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


FULL = Sizes(
    cold_rounds=7,
    cold_warmup_rounds=1,
    instruction_rounds=1,
    warm_rounds=5,
    warm_iterations=100,
    warm_warmup=10,
    roundtrip_repeats=5,
    ratelimit_rounds=5,
    ratelimit_checks=2000,
    import_runs=5,
    agent_rounds=5,
    chat_iterations=50,
    audit_rows=100_000,
    audit_rounds=5,
)
QUICK = Sizes(
    cold_rounds=1,
    cold_warmup_rounds=0,
    instruction_rounds=1,
    warm_rounds=2,
    warm_iterations=5,
    warm_warmup=1,
    roundtrip_repeats=2,
    ratelimit_rounds=2,
    ratelimit_checks=100,
    import_runs=1,
    agent_rounds=1,
    chat_iterations=3,
    audit_rows=2_000,
    audit_rounds=1,
)


@dataclass
class Context:
    functions: list[Function]
    stack: BenchStack
    sizes: Sizes
    quick: bool
    meta: dict[str, Any] = field(default_factory=dict)
    after_table: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Section:
    name: str
    progress: str
    run: Callable[[Context], list[Row]]


def _cold(ctx: Context) -> list[Row]:
    rows, meta = coldstart.measure(
        ctx.functions,
        ctx.stack,
        rounds=ctx.sizes.cold_rounds,
        warmup_rounds=ctx.sizes.cold_warmup_rounds,
        instruction_rounds=ctx.sizes.instruction_rounds,
        quick=ctx.quick,
    )
    ctx.meta["cold_start"] = meta
    problems = meta.get("lambda_layout_problems") or []
    if problems:
        ctx.after_table += ["", "Lambda layout built from this venv:"]
        ctx.after_table += [f"  - {p}" for p in problems]
    return rows


def _warm(ctx: Context) -> list[Row]:
    return warm.measure(
        ctx.functions,
        ctx.stack,
        rounds=ctx.sizes.warm_rounds,
        iterations=ctx.sizes.warm_iterations,
        warmup=ctx.sizes.warm_warmup,
    )


def _roundtrips(ctx: Context) -> list[Row]:
    return roundtrips.measure(ctx.functions, ctx.stack, repeats=ctx.sizes.roundtrip_repeats)


def _ratelimit(ctx: Context) -> list[Row]:
    return ratelimit.measure(
        ctx.stack, rounds=ctx.sizes.ratelimit_rounds, checks=ctx.sizes.ratelimit_checks
    )


def _agents(ctx: Context) -> list[Row]:
    return agent_runs.measure(
        ctx.functions,
        ctx.stack,
        rounds=ctx.sizes.agent_rounds,
        iterations=ctx.sizes.chat_iterations,
        count_instructions=not ctx.quick,
    )


def _imports(ctx: Context) -> list[Row]:
    imports = importtime.measure(ctx.functions, ctx.stack, runs=ctx.sizes.import_runs)
    ctx.meta["import_top"] = {
        module: [asdict(e) for e in entries] for module, entries in imports.tops.items()
    }
    if imports.tops:
        ctx.after_table += ["", *importtime.top_lines(imports.tops)]
    return imports.rows


def _crypto(ctx: Context) -> list[Row]:
    return crypto.measure(ctx.stack, quick=ctx.quick)


def _audit(ctx: Context) -> list[Row]:
    return audit_chain.measure(ctx.stack, rows=ctx.sizes.audit_rows, rounds=ctx.sizes.audit_rounds)


def _pii(ctx: Context) -> list[Row]:
    return pii.measure(runs=ctx.sizes.import_runs)


SECTIONS: tuple[Section, ...] = (
    Section("cold", "cold start: fresh processes, source and lambda layouts", _cold),
    Section("warm", "warm latency: every route kind in-process", _warm),
    Section("roundtrips", "DB round trips: through the counting proxy", _roundtrips),
    Section("ratelimit", "rate limiting: raw loop vs check_agent_rpm", _ratelimit),
    Section("agents", "agent runs: publish with 20 evals, embed chat turns", _agents),
    Section("crypto", "encryption at rest: one secret warm and cold, rotation throughput", _crypto),
    Section("audit", "audit chain: verifying the rows of a long chain", _audit),
    Section("imports", "import time: python -X importtime", _imports),
    Section("pii", "PII redaction: corpus recall and precision, cost per KB, loading", _pii),
)
