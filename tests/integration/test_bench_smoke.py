"""One quick run of `python -m convoship_bench` so the harness cannot rot.

The figures of a --quick run are rough; this only checks that every section ran and that
the table carries the expected rows with numbers, ratios and verdicts.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from convoship_bench import discover

ROOT = Path(__file__).resolve().parents[2]
SPLIT = re.compile(r"\s{2,}")
RATIO = re.compile(r"^\d+\.\d\dx( \(\d+\.\d\d-\d+\.\d\d\))?$")
FIGURE = re.compile(r"^\d+(\.\d+)?( (s|ms|us|k/s|/s)|M|G)?")
VERDICTS = {"ok", "MISSED", "info", "ERROR", "no events yet", "skipped"}


def _table(stdout: str) -> dict[str, dict[str, str]]:
    """Rows of the printed table by measurement name (the part before " -> ")."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Measurement"))
    header = SPLIT.split(lines[start].strip())
    rows: dict[str, dict[str, str]] = {}
    for line in lines[start + 2 :]:
        if not line.strip():
            break
        if line.startswith("-- "):
            continue
        cells = SPLIT.split(line.strip())
        assert len(cells) == len(header), line
        row = dict(zip(header, cells, strict=True))
        row["Verdict"] = re.sub(r" \[\d+\]$", "", row["Verdict"])
        rows[row["Measurement"].split(" -> ")[0]] = row
    return rows


def _assert_compared(row: dict[str, str]) -> None:
    assert row["Verdict"] in {"ok", "MISSED", "info"}, row
    assert FIGURE.match(row["Median [min .. max]"]), row
    assert FIGURE.match(row["Baseline median"]), row
    assert RATIO.match(row["Ratio"]), row


@pytest.mark.bench_smoke
def test_quick_bench_prints_the_expected_table(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TEST_", "DATABASE_"))}
    env.pop("REDIS_URL", None)
    proc = subprocess.run(
        [sys.executable, "-m", "convoship_bench", "--quick", "--out-dir", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = _table(proc.stdout)
    assert all(row["Verdict"] in VERDICTS for row in rows.values()), rows

    for mode in ("source", "lambda"):
        for name, phase, target in (
            ("authorizer", "import + first request", "<=3x"),
            ("workspace_settings", "import", "<=1.2x"),
            ("workspace_settings", "import + first request", "<=1.15x"),
        ):
            figures = {
                f: rows[f"cold start {name} ({mode}): {phase}, {f}"]
                for f in ("wall", "CPU", "instructions")
            }
            judged = [row for row in figures.values() if row["Verdict"] in {"ok", "MISSED"}]
            assert len(judged) == 1, figures  # one verdict per measurement...
            assert judged[0]["Target"] == target
            assert judged[0]["Judged on"].split(",")[0] in figures  # ...saying on which figure
            for figure in ("wall", "CPU"):
                _assert_compared(figures[figure])
    for mode in ("source", "lambda"):
        counted = rows[f"cold start authorizer ({mode}): import + first request, instructions"]
        if counted["Verdict"] != "skipped":  # valgrind missing: skipped, with the reason
            _assert_compared(counted)
            assert counted["Judged on"] == "instructions, paired ratio"
    assert rows["cold start agents (lambda): import, instructions"]["Verdict"] == "skipped"

    _assert_compared(rows["warm p50 GET /v1/workspaces/agent-ops"])
    assert rows["warm p50 GET /v1/workspaces/agent-ops"]["Target"] == "<=1.3x"
    _assert_compared(rows["warm p99 GET /v1/workspaces/agent-ops"])
    _assert_compared(rows["warm p50 request"])

    trips = rows["DB round trips GET /v1/workspaces/agent-ops"]
    _assert_compared(trips)
    assert re.match(r"^\d+ ", trips["Median [min .. max]"]), trips
    assert trips["Baseline median"].startswith("1 "), "the floor's autocommit SELECT: 1 trip"
    assert trips["Verdict"] in {"ok", "MISSED"}

    raw = rows["raw pipelined INCR+EXPIRE loop: Redis round trips/check"]
    assert raw["Median [min .. max]"].startswith("1 ") and raw["Verdict"] == "ok", raw
    rpm = rows["check_agent_rpm: checks/s"]
    assert rpm["Verdict"] in {"ok", "MISSED", "not built yet"}, rpm
    assert rpm["Baseline"] == "raw loop" and FIGURE.match(rpm["Baseline median"])
    gate = rows["publish with 20 evals"]
    _assert_compared(gate)
    assert gate["Target"] == "<=2x" and gate["Verdict"] in {"ok", "MISSED"}, gate
    _assert_compared(rows["embed chat turn p50"])
    _assert_compared(rows["embed chat turn p99"])
    connections = rows["new model connections per 100 embed turns"]
    assert connections["Median [min .. max]"].startswith("1 "), connections
    assert connections["Verdict"] == "ok", connections
    overhead = rows["embed chat turn p50 overhead over the bare model call"]
    assert overhead["Target"] == "<=2.5 ms" and overhead["Verdict"] in {"ok", "MISSED"}
    cpu = rows["embed chat turn: CPU per turn (handler thread), p50"]
    assert cpu["Target"] == "<=3 ms" and cpu["Judged on"] == "CPU", cpu
    redis_trips = rows["embed chat turn: Redis round trips"]
    assert redis_trips["Median [min .. max]"].startswith("1 "), redis_trips
    assert redis_trips["Verdict"] == "ok", redis_trips
    db_trips = rows["embed chat turn: DB round trips"]
    assert db_trips["Target"] == "<=2 (max)" and db_trips["Verdict"] == "ok", db_trips
    fallback = rows["check_agent_rpm, production fallback (PostgreSQL): checks/s"]
    assert FIGURE.match(fallback["Median [min .. max]"]) and fallback["Verdict"] == "info"

    for master in ("Fernet master", "KMS master, moto"):
        for state in ("warm", "cold"):
            _assert_compared(rows[f"decrypt one secret, {state} ({master})"])
    rotation = next(r for name, r in rows.items() if name.startswith("rotate-keys --data"))
    assert rotation["Verdict"] == "info" and FIGURE.match(rotation["Median [min .. max]"])

    for fn in discover.discover():
        assert any(name.startswith(f"cold start {fn.name}") for name in rows), fn.name
        row = rows[f"import {fn.module}"]
        assert row["Verdict"] in {"info", "ERROR"}, row

    for entity in ("EMAIL", "PHONE", "CREDIT_CARD", "US_SSN", "IBAN", "IP_ADDRESS", "CREDENTIAL"):
        assert rows[f"{entity} recall"]["Target"] == ">=0.97", rows[f"{entity} recall"]
        assert rows[f"{entity} recall"]["Verdict"] == "ok"  # the corpus test holds it there
        assert rows[f"{entity} false-positive rate"]["Target"] == "<=0.02"
    message = rows["redact a 2 KB support message p50"]
    assert FIGURE.match(message["Median [min .. max]"]) and message["Target"] == "<=500 us"
    assert FIGURE.match(rows["redaction cost per KB of corpus text"]["Median [min .. max]"])
    assert rows["first phone: imports phonenumbers, 12 regions"]["Verdict"] == "info"

    assert "import workspace_settings_fn.handler: top 10 by cumulative time" in proc.stdout
    saved = list(tmp_path.glob("results-*.json"))
    assert len(saved) == 1
    payload = json.loads(saved[0].read_text())
    assert len(payload["rows"]) == len(rows)
    assert payload["meta"]["quick"] is True
