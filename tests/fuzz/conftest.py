"""The fuzz test's case count, printed at the end of the run."""

from __future__ import annotations

from collections import Counter
from typing import Any


def pytest_terminal_summary(terminalreporter: Any) -> None:
    cases = [
        value
        for reports in terminalreporter.stats.values()
        for report in reports
        if getattr(report, "when", None) == "call"
        for name, value in getattr(report, "user_properties", ())
        if name == "fuzz_case"
    ]
    if not cases:
        return
    routes = {route for route, _ in cases}
    statuses = Counter(f"{status // 100}xx" for _, status in cases)
    summary = ", ".join(f"{kind} {n}" for kind, n in sorted(statuses.items()))
    terminalreporter.write_line(
        f"fuzz: {len(cases)} requests over {len(routes)} routes ({summary})"
    )
