"""Summaries of repeated measurements: median, min and max, nearest-rank percentiles, and
the ratios of runs paired with their baseline's."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sample."""
    if not values:
        raise ValueError("percentile of an empty sample")
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass(frozen=True)
class Summary:
    """One figure measured several times: its median, min and max over the runs."""

    median: float
    min: float
    max: float
    samples: tuple[float, ...]

    @classmethod
    def of(cls, samples: Sequence[float]) -> Summary:
        if not samples:
            raise ValueError("no samples")
        return cls(
            median=statistics.median(samples),
            min=min(samples),
            max=max(samples),
            samples=tuple(samples),
        )

    @property
    def n(self) -> int:
        return len(self.samples)

    def stat(self, name: str) -> float:
        return {"median": self.median, "min": self.min, "max": self.max}[name]


def paired(case: Sequence[float], baseline: Sequence[float]) -> Summary | None:
    """Each run's figure over its paired baseline run's (run i with run i)."""
    ratios = [c / b for c, b in zip(case, baseline, strict=False) if b > 0]
    return Summary.of(ratios) if ratios else None
