"""events/: one sample event per route of every function in template.yaml, and no strays."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from convoship_dev.template import load_template

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template(ROOT / "template.yaml")
HTTP_FUNCTIONS = sorted(
    (f for f in TEMPLATE.functions.values() if f.routes), key=lambda f: f.logical_id
)


@pytest.mark.parametrize("function", HTTP_FUNCTIONS, ids=lambda f: f.logical_id)
def test_each_route_has_exactly_one_event_file(function: object) -> None:
    folder = ROOT / "events" / Path(str(function.code_uri)).name  # type: ignore[attr-defined]
    keys = sorted(json.loads(p.read_text())["routeKey"] for p in folder.glob("*.json"))
    assert keys == sorted(route.key for route in function.routes)  # type: ignore[attr-defined]
