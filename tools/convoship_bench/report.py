"""Result rows, their verdicts, the printed table and the JSON file under .bench/."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from convoship_bench.stats import Summary

Unit = Literal["s", "count", "per_s"]

OK = "ok"
MISSED = "MISSED"
INFO = "info"
NOT_BUILT = "not built yet"
NO_EVENTS = "no events yet"
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

    def met(self, value: Summary, baseline: Summary | None) -> bool | None:
        figure = value.stat(self.stat)
        if self.kind == "value_max":
            return figure <= self.limit
        if self.kind == "value_min":
            return figure >= self.limit
        if baseline is None or baseline.median == 0:
            return None
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

    @property
    def ratio(self) -> float | None:
        if self.value is None or self.baseline is None or self.baseline.median == 0:
            return None
        return self.value.median / self.baseline.median

    @property
    def verdict(self) -> str:
        if self.status is not None:
            return self.status
        if self.value is None:
            return ERROR
        if self.target is None:
            return INFO
        met = self.target.met(self.value, self.baseline)
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
            "target": self.target.label if self.target else None,
            "verdict": self.verdict,
            "note": self.note or None,
            "details": self.details,
        }


def format_figure(value: float, unit: Unit) -> str:
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
)


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
        ratio = row.ratio
        cells.append(
            (
                row.name,
                format_summary(row.value, row.unit),
                row.baseline_name or "-",
                format_summary(row.baseline, row.unit) if row.baseline_name else "-",
                f"{ratio:.2f}x" if ratio is not None else "-",
                row.target.label if row.target else "-",
                verdict,
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
