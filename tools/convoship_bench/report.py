"""Result rows, their verdicts, the printed table and the JSON file under .bench/."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from convoship_bench.stats import Summary

Unit = Literal["s", "count", "per_s", "instructions"]

OK = "ok"
MISSED = "MISSED"
INFO = "info"
NOT_BUILT = "not built yet"
NO_EVENTS = "no events yet"
SKIPPED = "skipped"
ERROR = "ERROR"


@dataclass(frozen=True)
class Target:
    """A goal on the ratio to the baseline, or on the figure itself.

    stat picks which statistic of the figure is judged: the median by default; round-trip
    counts are judged on their max, since one request over the limit is a miss.
    """

    kind: Literal["ratio_max", "ratio_min", "value_max", "value_min"]
    limit: float
    stat: Literal["median", "max"] = "median"

    @property
    def label(self) -> str:
        if self.kind == "ratio_max":
            return f"<={self.limit:g}x"
        if self.kind == "ratio_min":
            return f">={self.limit:g}x"
        if self.kind == "value_min":
            return f">={self.limit:g}"
        return f"<={self.limit:g}" + (" (max)" if self.stat == "max" else "")

    def label_for(self, unit: Unit) -> str:
        """The label, with a limit in seconds written as a time."""
        if self.kind != "value_max" or unit != "s":
            return self.label
        return f"<={format_figure(self.limit, unit)}" + (" (max)" if self.stat == "max" else "")

    def met(
        self, value: Summary, baseline: Summary | None, ratios: Summary | None = None
    ) -> bool | None:
        """Judged on the figure, or on its ratio: the median of the paired ratios when the
        runs were paired with their baseline's (A B A B ...), else the ratio of medians."""
        figure = value.stat(self.stat)
        if self.kind == "value_max":
            return figure <= self.limit
        if self.kind == "value_min":
            return figure >= self.limit
        if ratios is not None:
            ratio = ratios.stat(self.stat)
        elif baseline is None or baseline.median == 0:
            return None
        else:
            ratio = figure / baseline.median
        return ratio <= self.limit if self.kind == "ratio_max" else ratio >= self.limit


@dataclass
class Row:
    """One line of the table: a figure, its baseline, the ratio and the verdict."""

    section: str
    name: str
    unit: Unit
    value: Summary | None
    baseline_name: str = ""
    baseline: Summary | None = None
    target: Target | None = None
    status: str | None = None  # overrides the computed verdict (ERROR, not built yet, ...)
    note: str = ""
    details: dict[str, Any] = field(default_factory=dict)
    # each run's figure over its paired baseline run's, when they were run A B A B ...
    ratios: Summary | None = None
    # what the figure is (wall, CPU, instructions, ...): named in the table beside a verdict
    figure: str = ""

    @property
    def ratio(self) -> float | None:
        if self.ratios is not None:
            return self.ratios.median
        if self.value is None or self.baseline is None or self.baseline.median == 0:
            return None
        return self.value.median / self.baseline.median

    @property
    def judged_on(self) -> str:
        """The figure the verdict used, for the table ("-" when there is no verdict)."""
        if self.target is None or self.verdict not in (OK, MISSED):
            return "-"
        what = self.figure or {"s": "wall", "per_s": "rate"}.get(self.unit, self.unit)
        if self.target.kind != "value_max":
            what += ", paired ratio" if self.ratios is not None else ", ratio"
        return what + (" (max)" if self.target.stat == "max" else "")

    @property
    def verdict(self) -> str:
        if self.status is not None:
            return self.status
        if self.value is None:
            return ERROR
        if self.target is None:
            return INFO
        met = self.target.met(self.value, self.baseline, self.ratios)
        if met is None:
            return ERROR
        return OK if met else MISSED

    def as_json(self) -> dict[str, Any]:
        def summary(s: Summary | None) -> dict[str, Any] | None:
            if s is None:
                return None
            return {"median": s.median, "min": s.min, "max": s.max, "samples": list(s.samples)}

        return {
            "section": self.section,
            "name": self.name,
            "unit": self.unit,
            "value": summary(self.value),
            "baseline_name": self.baseline_name or None,
            "baseline": summary(self.baseline),
            "ratio": self.ratio,
            "ratios": summary(self.ratios),
            "figure": self.figure or None,
            "target": self.target.label_for(self.unit) if self.target else None,
            "judged_on": self.judged_on,
            "verdict": self.verdict,
            "note": self.note or None,
            "details": self.details,
        }


def answered(rows: list[Row], shown: str, expected: str) -> list[Row]:
    """`rows`, each marked ERROR when the handler they measured answered other than
    `expected` (shown: every status it answered, joined by /)."""
    if shown != expected:
        for row in rows:
            row.status, row.note = ERROR, f"the handler answered {shown}"
    return rows


def format_figure(value: float, unit: Unit) -> str:
    if unit == "instructions":
        return f"{value / 1e6:.4g}M" if value < 0.9995e9 else f"{value / 1e9:.4g}G"
    if unit == "s":
        if value >= 0.9995:
            return f"{value:.2f} s"
        if value >= 0.9995e-3:
            return f"{value * 1e3:.3g} ms"
        return f"{value * 1e6:.3g} us"
    if unit == "per_s":
        if value >= 0.9995e6:
            return f"{value / 1e6:.3g}M/s"
        return f"{value / 1e3:.3g}k/s" if value >= 0.9995e3 else f"{value:.3g}/s"
    return f"{value:g}" if value == int(value) else f"{value:.2f}"


def format_summary(s: Summary | None, unit: Unit) -> str:
    if s is None:
        return "-"
    if s.min == s.max:
        return f"{format_figure(s.median, unit)} (n={s.n})"
    low, high = format_figure(s.min, unit), format_figure(s.max, unit)
    return f"{format_figure(s.median, unit)} [{low} .. {high}]"


HEADERS = (
    "Measurement",
    "Median [min .. max]",
    "Baseline",
    "Baseline median",
    "Ratio",
    "Target",
    "Verdict",
    "Judged on",
)


def format_ratio(row: Row) -> str:
    """The ratio; for paired runs, the median of their ratios with its range."""
    ratio = row.ratio
    if ratio is None:
        return "-"
    if row.ratios is None or row.ratios.n < 2:
        return f"{ratio:.2f}x"
    return f"{ratio:.2f}x ({row.ratios.min:.2f}-{row.ratios.max:.2f})"


def table_lines(rows: Sequence[Row]) -> list[str]:
    """The table as text lines, sections separated, notes as numbered footnotes."""
    notes: list[str] = []
    cells: list[tuple[str, ...] | str] = []
    section = None
    for row in rows:
        if row.section != section:
            section = row.section
            cells.append(f"-- {section} --")
        verdict = row.verdict
        if row.note:
            if row.note not in notes:
                notes.append(row.note)
            verdict += f" [{notes.index(row.note) + 1}]"
        cells.append(
            (
                row.name,
                format_summary(row.value, row.unit),
                row.baseline_name or "-",
                format_summary(row.baseline, row.unit) if row.baseline_name else "-",
                format_ratio(row),
                row.target.label_for(row.unit) if row.target else "-",
                verdict,
                row.judged_on,
            )
        )
    widths = [len(h) for h in HEADERS]
    for cell in cells:
        if isinstance(cell, tuple):
            widths = [max(w, len(c)) for w, c in zip(widths, cell, strict=True)]

    def join(parts: Sequence[str]) -> str:
        return "  ".join(p.ljust(w) for p, w in zip(parts, widths, strict=True)).rstrip()

    lines = [join(HEADERS), join(["-" * w for w in widths])]
    for cell in cells:
        lines.append(cell if isinstance(cell, str) else join(cell))
    if notes:
        lines.append("")
        lines.extend(f"[{i}] {note}" for i, note in enumerate(notes, start=1))
    return lines


def write_json(out_dir: Path, rows: Sequence[Row], meta: dict[str, Any]) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = out_dir / f"results-{stamp}.json"
    n = 1
    while path.exists():
        n += 1
        path = out_dir / f"results-{stamp}-{n}.json"
    payload = {"meta": meta, "rows": [row.as_json() for row in rows]}
    path.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
    return path
