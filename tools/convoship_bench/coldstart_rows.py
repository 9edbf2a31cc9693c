"""The cold-start rows: per function and layout, two phases, each in three figures.

"import" is the handler module's import; "import + first request" the whole cold start up
to the first response. Each phase has a wall-time, a CPU-time and an instruction-count row;
the targets (issue 17: import <= 1.2x the floor, the whole <= 1.15x; the authorizer <= 3x a
bare handler) judge the steadiest of the three (verdicts.py) and the table names it. Ratios
are medians of the pairs' ratios (each run over its baseline's run)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from statistics import median
from typing import TYPE_CHECKING

from convoship_bench.report import ERROR, SKIPPED, Row, Target, Unit
from convoship_bench.stats import Summary, paired
from convoship_bench.verdicts import CPU, INSTRUCTIONS, WALL, judge_on_steadiest

if TYPE_CHECKING:
    from convoship_bench.coldstart import Pair
    from convoship_bench.instructions import CountReport, Counts

SECTION = "cold start (process start -> first response)"
IMPORT_TARGET = Target("ratio_max", 1.2)
WHOLE_TARGET = Target("ratio_max", 1.15)
AUTHORIZER_TARGET = Target("ratio_max", 3.0)
IMPORT, WHOLE = "import", "import + first request"
# phase: (wall key, CPU key, the instructions of Counts it takes)
_PHASES: dict[str, tuple[str, str, Callable[[Counts], int]]] = {
    IMPORT: ("import_s", "import_cpu_s", lambda c: c.imports),
    WHOLE: ("wall_s", "cpu_s", lambda c: c.whole),
}


def targets(kind: str) -> dict[str, Target | None]:
    if kind == "http":
        return {IMPORT: IMPORT_TARGET, WHOLE: WHOLE_TARGET}
    if kind == "authorizer":
        return {IMPORT: None, WHOLE: AUTHORIZER_TARGET}
    return {IMPORT: None, WHOLE: None}


def _row(
    name: str, unit: Unit, figure: str, case: Sequence[float], baseline: Sequence[float], label: str
) -> Row:
    return Row(
        SECTION,
        f"{name}, {figure}",
        unit,
        Summary.of(case),
        baseline_name=label,
        baseline=Summary.of(baseline),
        ratios=paired(case, baseline),
        figure=figure,
    )


def _count_row(name: str, pair: Pair, counts: CountReport, take: Callable[[Counts], int]) -> Row:
    case = counts.by_label.get(pair.case.label)
    baseline = counts.by_label.get(pair.baseline.label)
    if case and baseline:
        return _row(
            name,
            "instructions",
            INSTRUCTIONS,
            [take(c) for c in case],
            [take(c) for c in baseline],
            pair.baseline.label,
        )
    why = (
        counts.skipped
        or counts.not_counted.get(pair.case.label)
        or counts.not_counted.get(pair.baseline.label)
        or "not counted"
    )
    status = SKIPPED if counts.skipped or why.startswith("not counted") else ERROR
    return Row(
        SECTION,
        f"{name}, {INSTRUCTIONS}",
        "instructions",
        None,
        baseline_name=pair.baseline.label,
        status=status,
        note=why,
        figure=INSTRUCTIONS,
    )


def pair_rows(pair: Pair, counts: CountReport | None) -> list[Row]:
    """The rows of one function in one layout (counts: None when nothing was counted)."""
    name = f"cold start {pair.fn.name} ({pair.mode})"
    if pair.error is not None or not pair.case_runs:
        return [Row(SECTION, name, "s", None, status=ERROR, note=pair.error or "no run")]
    rows: list[Row] = []
    label = pair.baseline.label
    for phase, target in targets(pair.fn.kind).items():
        wall_key, cpu_key, take = _PHASES[phase]
        phase_name = f"{name}: {phase}"
        group = [
            _row(
                phase_name,
                "s",
                WALL,
                [r[wall_key] for r in pair.case_runs],
                [r[wall_key] for r in pair.baseline_runs],
                label,
            ),
            _row(
                phase_name,
                "s",
                CPU,
                [r[cpu_key] for r in pair.case_runs],
                [r[cpu_key] for r in pair.baseline_runs],
                label,
            ),
        ]
        if counts is not None:
            group.append(_count_row(phase_name, pair, counts, take))
        judge_on_steadiest(group, target)
        rows += group
    rows[-1].details = {
        "event": str(pair.case.event),
        "first_request_s": median(r["first_request_s"] for r in pair.case_runs),
        "baseline_first_request_s": median(r["first_request_s"] for r in pair.baseline_runs),
        "status": [
            r["status"] if r["status"] is not None else r["authorized"] for r in pair.case_runs
        ][:3],
    }
    return rows
