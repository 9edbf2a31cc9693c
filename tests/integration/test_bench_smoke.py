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
RATIO = re.compile(r"^\d+\.\d\dx$")
FIGURE = re.compile(r"^\d+(\.\d+)?( (s|ms|us|k/s|/s))?")
VERDICTS = {"ok", "MISSED", "info", "ERROR", "no events yet"}


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
        for name in ("authorizer", "workspace_settings"):
            row = rows[f"cold start {name} ({mode})"]
            _assert_compared(row)
            assert row["Target"] in {"<=1.25x", "<=3x"}
            assert row["Verdict"] in {"ok", "MISSED"}

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
    redis_trips = rows["embed chat turn: Redis round trips"]
    assert redis_trips["Median [min .. max]"].startswith("1 "), redis_trips
    assert redis_trips["Verdict"] == "ok", redis_trips
    for name, target in (
        ("embed chat turn: p50 overhead over one bare model call", "<=0.0025"),
        ("embed chat turn: CPU per turn (handler only)", "<=0.003"),
    ):
        row = rows[name]
        assert FIGURE.match(row["Median [min .. max]"]), row
        assert row["Target"] == target and row["Verdict"] in {"ok", "MISSED"}, row
    db_trips = rows["embed chat turn: DB round trips"]
    assert db_trips["Target"] == "<=3 (max)" and db_trips["Verdict"] == "ok", db_trips
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
    assert FIGURE.match(message["Median [min .. max]"]) and message["Target"] == "<=0.0005"
    assert FIGURE.match(rows["redaction cost per KB of corpus text"]["Median [min .. max]"])
    assert rows["first phone: imports phonenumbers, 12 regions"]["Verdict"] == "info"

    assert "import workspace_settings_fn.handler: top 10 by cumulative time" in proc.stdout
    saved = list(tmp_path.glob("results-*.json"))
    assert len(saved) == 1
    payload = json.loads(saved[0].read_text())
    assert len(payload["rows"]) == len(rows)
    assert payload["meta"]["quick"] is True
