"""Which figure a verdict uses when one measurement has several (instructions, CPU, wall).

The steadiest one. Instruction counts when they were measured: the same code runs the same
instructions whatever else the machine does (they move by a fraction of a percent, from hash
randomisation and address layout). Otherwise CPU time or wall time, whichever has the
smaller spread of its paired ratios ((max - min) / median over at least two A-B pairs), CPU
time on a tie or when neither was measured twice. The others stay in the table, unjudged.
"""

from __future__ import annotations

from collections.abc import Sequence

from convoship_bench.report import Row, Target

INSTRUCTIONS = "instructions"
CPU = "CPU"
WALL = "wall"
_PREFERENCE = (INSTRUCTIONS, CPU, WALL)


def spread(row: Row) -> float | None:
    """(max - min) / median of the row's paired ratios; None under two pairs."""
    ratios = row.ratios
    if ratios is None or ratios.n < 2 or ratios.median == 0:
        return None
    return (ratios.max - ratios.min) / ratios.median


def _usable(row: Row) -> bool:
    return row.status is None and row.value is not None and row.ratios is not None


def steadiest(rows: Sequence[Row]) -> Row | None:
    usable = [row for row in rows if _usable(row)]
    counted = [row for row in usable if row.figure == INSTRUCTIONS]
    if counted:
        return counted[0]
    if not usable:
        return None

    def rank(row: Row) -> tuple[float, int]:
        measured = spread(row)
        order = _PREFERENCE.index(row.figure) if row.figure in _PREFERENCE else len(_PREFERENCE)
        return (measured if measured is not None else float("inf"), order)

    return min(usable, key=rank)


def judge_on_steadiest(rows: Sequence[Row], target: Target | None) -> Row | None:
    """Give target to the steadiest of rows (the same measurement, figure by figure); the
    others carry a note saying which one was judged. Returns the judged row."""
    chosen = steadiest(rows) if target is not None else None
    for row in rows:
        row.target = target if row is chosen else None
        if chosen is not None and row is not chosen and row.status is None:
            row.note = f"no verdict here: judged on the {chosen.figure} figure (the steadiest)"
    return chosen
