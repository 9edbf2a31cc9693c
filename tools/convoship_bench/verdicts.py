"""Which figure a verdict uses when one measurement has several (instructions, CPU, wall).

The steadiest by nature, in this order, the first one measured without error:
- instructions (valgrind): the same code runs the same instructions whatever else the
  machine does; they move by a fraction of a percent (hash randomisation, address layout);
- CPU time: not inflated by waiting for a busy CPU, so its paired ratios spread a few
  percent where wall time's spread tens of percent on a loaded machine;
- wall time, which is what a user waits for, but moves with the machine's load.
The order is fixed rather than picked per run from the spreads: on a quiet machine wall time
can spread a hair less than CPU time, and a verdict whose figure changes with the load is
what this is meant to stop. The other figures stay in the table, unjudged; the ratio column
shows each one's spread.
"""

from __future__ import annotations

from collections.abc import Sequence

from convoship_bench.report import Row, Target

INSTRUCTIONS = "instructions"
CPU = "CPU"
WALL = "wall"
ORDER = (INSTRUCTIONS, CPU, WALL)


def spread(row: Row) -> float | None:
    """(max - min) / median of the row's paired ratios; None under two pairs."""
    ratios = row.ratios
    if ratios is None or ratios.n < 2 or ratios.median == 0:
        return None
    return (ratios.max - ratios.min) / ratios.median


def steadiest(rows: Sequence[Row]) -> Row | None:
    usable = [r for r in rows if r.status is None and r.value is not None and r.figure in ORDER]
    return min(usable, key=lambda r: ORDER.index(r.figure), default=None)


def judge_on_steadiest(rows: Sequence[Row], target: Target | None) -> Row | None:
    """Give target to the steadiest of rows (the same measurement, figure by figure); the
    others carry a note saying which one was judged. Returns the judged row."""
    chosen = steadiest(rows) if target is not None else None
    for row in rows:
        row.target = target if row is chosen else None
        if chosen is not None and row is not chosen and row.status is None:
            row.note = f"no verdict here: judged on the {chosen.figure} figure (the steadiest)"
    return chosen
