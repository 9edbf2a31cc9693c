"""The bench's verdicts: paired ratios, the steadiest figure judged, callgrind's parts."""

from __future__ import annotations

from pathlib import Path

from convoship_bench.instructions import parse_parts
from convoship_bench.report import MISSED, OK, Row, Target, table_lines
from convoship_bench.stats import Summary, paired
from convoship_bench.verdicts import judge_on_steadiest, spread

TARGET = Target("ratio_max", 1.2)


def _row(figure: str, case: list[float], baseline: list[float]) -> Row:
    return Row(
        "cold",
        f"cold start x: import, {figure}",
        "instructions" if figure == "instructions" else "s",
        Summary.of(case),
        "floor",
        Summary.of(baseline),
        ratios=paired(case, baseline),
        figure=figure,
    )


def test_paired_ratios_cancel_the_load_both_runs_of_a_pair_saw() -> None:
    # the machine got 3x slower for some pairs: each figure spreads 3x, their ratio does not
    row = _row("wall", [1.5, 1.5, 4.5, 4.5, 1.5], [1.0, 1.0, 3.0, 3.0, 1.0])
    assert row.value is not None and row.value.max / row.value.min == 3
    assert row.ratio == 1.5 and spread(row) == 0.0


def test_cpu_time_is_judged_over_wall_time_and_named() -> None:
    wall = _row("wall", [1.0, 1.6, 1.3], [1.0, 1.0, 1.0])  # 1.0x .. 1.6x
    cpu = _row("CPU", [1.31, 1.3, 1.29], [1.0, 1.0, 1.0])  # 1.29x .. 1.31x
    judged = judge_on_steadiest([wall, cpu], TARGET)
    assert judged is cpu and cpu.verdict == MISSED and cpu.judged_on == "CPU, paired ratio"
    assert wall.target is None and wall.verdict == "info" and "CPU" in wall.note
    lines = table_lines([wall, cpu])
    assert any("MISSED" in line and "CPU, paired ratio" in line for line in lines)
    assert spread(cpu) is not None and spread(wall) is not None
    # a quiet run where wall time spreads less does not move the verdict to it
    quiet_wall = _row("wall", [1.1, 1.1, 1.1], [1.0, 1.0, 1.0])
    assert judge_on_steadiest([quiet_wall, cpu], TARGET) is cpu


def test_instruction_counts_win_when_counted_even_once() -> None:
    wall = _row("wall", [1.0, 1.0], [1.0, 1.0])
    count = _row("instructions", [110e6], [100e6])
    assert judge_on_steadiest([wall, count], TARGET) is count
    assert count.verdict == OK and wall.verdict == "info"


def test_a_figure_that_failed_is_never_judged() -> None:
    cpu = _row("CPU", [1.0, 1.0], [1.0, 1.0])
    count = Row("cold", "x, instructions", "instructions", None, status="skipped")
    count.figure = "instructions"
    assert judge_on_steadiest([cpu, count], TARGET) is cpu
    assert count.verdict == "skipped"


def test_callgrind_dump_parts_are_read_from_their_headers(tmp_path: Path) -> None:
    for name, part, total in (("out.1", 1, 30), ("out.2", 2, 12), ("out.3", 3, 5), ("out", 4, 9)):
        (tmp_path / name).write_text(
            f"# callgrind format\nversion: 1\npart: {part}\nevents: Ir\n"
            f"summary: {total}\n\nfn=(1) main\n0 {total}\ntotals: {total}\n"
        )
    assert parse_parts(tmp_path) == {1: 30, 2: 12, 3: 5, 4: 9}
