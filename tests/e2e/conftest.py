"""What the end-to-end tests share: the environment `convoship` runs with (the session's
database and Redis, development stage) and a served API on an ephemeral loopback port."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from convoship.core import constants as env
from convoship_dev import services
from tests.support.local_runner import Served, start_served


@pytest.fixture
def cli_env(database: services.Database, base_env: dict[str, str]) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("CONVOSHIP_")}
    environ.pop("PORT", None)
    environ.update(base_env)
    environ[env.STAGE] = "development"
    environ[env.DATABASE_ADMIN_URL] = database.owner_admin_url
    del environ[env.JWT_SECRET]  # the runner's dev secret, as `make dev` has it
    environ[env.LOG_LEVEL] = "INFO"  # log lines must not pollute invoke's stdout
    return environ


@pytest.fixture
def served_api(cli_env: dict[str, str], tmp_path: Path) -> Iterator[Served]:
    served = start_served(cli_env, tmp_path)
    try:
        yield served
    finally:
        served.stop()


@pytest.fixture
def served(served_api: Served) -> str:
    """The base URL of a running `convoship serve`."""
    return served_api.url


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """How many requests the OpenAPI conformance test sent, and what came back."""
    cases = [
        value
        for reports in terminalreporter.stats.values()
        for report in reports
        if getattr(report, "when", None) == "call"
        for name, value in getattr(report, "user_properties", ())
        if name == "conformance_case"
    ]
    if not cases:
        return
    operations = {operation for operation, _, _ in cases}
    statuses = Counter(f"{status // 100}xx" for _, status, _ in cases)
    valid = sum(1 for _, _, conforming in cases if conforming)
    summary = ", ".join(f"{kind} {n}" for kind, n in sorted(statuses.items()))
    terminalreporter.write_line(
        f"openapi conformance: {len(cases)} requests answered by {len(operations)} operations"
        f" ({summary}; {valid} valid by the document), each checked against the document"
    )
