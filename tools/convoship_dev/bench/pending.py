"""Rows for features that do not exist yet, so the table shows the gap instead of hiding it.

Each row turns from "not built yet" into PENDING as soon as its function folder appears in
template.yaml: then the function's cold start, warm latency and DB round trips are already
measured by the other modules (from its events/ files), and the row says which measurement
from issue 4 still has to be written here.
"""

from __future__ import annotations

from collections.abc import Iterable

from convoship_dev.bench.report import NOT_BUILT, PENDING, Row, Target

SECTION = "features still to come"

# (function folder, row name, target, what is still to write once the function exists)
FEATURES: tuple[tuple[str, str, Target | None, str], ...] = (
    (
        "publish",
        "publish with 20 evals: wall time vs sequential sum",
        Target("ratio_max", 2.0),
        "publish exists: write the 20-eval run against an LLM test server that answers after"
        " a fixed delay (target: wall <= 2x the slowest single eval, concurrency >= 10)",
    ),
    (
        "chat",
        "embed chat turn overhead: p50/p99 vs LLM answering at once",
        None,
        "chat exists: write the chat-turn run against an LLM test server that answers at"
        " once (p50/p99, DB and Redis round trips, bytes written)",
    ),
    (
        "chat",
        "embed chat turn: Redis round trips per turn",
        Target("value_max", 1, stat="max"),
        "chat exists: count Redis round trips per turn with wire.CountingProxy",
    ),
)


def rows(function_folders: Iterable[str]) -> list[Row]:
    present = set(function_folders)
    out = []
    for folder, name, target, todo in FEATURES:
        built = folder in present
        out.append(
            Row(
                SECTION,
                name,
                "s",
                None,
                target=target,
                status=PENDING if built else NOT_BUILT,
                note=todo if built else "",
                details={"function_folder": folder, "in_template": built},
            )
        )
    return out
