"""Cold start guard: handler modules import nothing that only some paths need."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from convoship_dev.template import load_template

ROOT = Path(__file__).resolve().parents[2]
# Powertools imports the bare `botocore` package (for its user agent, ~0.5 ms); clients and
# sessions are what cost.
LAZY = (
    "cryptography.fernet",
    "boto3",
    "botocore.session",
    "botocore.client",
    "redis",
    "jsonschema",
    "aws_xray_sdk",
    "httpx",
    "jwt",
    "phonenumbers",
    "stdnum",
    "convoship.runtime.pii",
    "regex",
    "convoship.audit.verify",
    "pydantic.v1",  # FastAPI's check of route types answers without it (http/fastapi_v1.py)
)
FUNCTIONS = sorted(
    load_template(ROOT / "template.yaml").functions.values(), key=lambda f: f.logical_id
)


@pytest.mark.parametrize("function", FUNCTIONS, ids=lambda f: f.logical_id)
def test_handler_import_leaves_lazy_modules_unloaded(function: object) -> None:
    module = function.handler.rsplit(".", 1)[0]  # type: ignore[attr-defined]
    code = (
        f"import sys, json; sys.path.insert(0, {str(function.code_uri)!r}); "  # type: ignore[attr-defined]
        f"import {module}; "
        f"print(json.dumps(sorted(set(sys.modules) & set({LAZY!r}))))"
    )
    env = {"CONVOSHIP_STAGE": "test", "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True, env=env
    )
    assert json.loads(out.stdout) == []


# Response models are built on first use (ResponseModel): each one built at import costs a
# schema, a validator and a serializer whether a request needs it or not. Request bodies
# are built when their route is declared, where FastAPI silences a pydantic warning that
# its body parameters raise (built later, the warning would reach the logs).
MODELS = """
import sys, json
sys.path.insert(0, sys.argv[1])
import importlib
importlib.import_module(sys.argv[2])
from pydantic import BaseModel
from convoship.http.models import ResponseModel
def subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from subclasses(sub)
prefixes = (sys.argv[2].split(".")[0] + ".", "convoship.http.")
ours = {m for m in subclasses(BaseModel) if m.__module__.startswith(prefixes)}
print(json.dumps({
    "built_responses": sorted(m.__qualname__ for m in ours
                              if issubclass(m, ResponseModel) and m.__pydantic_complete__),
    "unbuilt_requests": sorted(m.__qualname__ for m in ours
                               if not issubclass(m, ResponseModel) and not m.__pydantic_complete__),
}))
"""
API_FUNCTIONS = [f for f in FUNCTIONS if f.routes]


@pytest.mark.parametrize("function", API_FUNCTIONS, ids=lambda f: f.logical_id)
def test_responses_are_built_on_first_use_and_requests_at_import(function: object) -> None:
    module = function.handler.rsplit(".", 1)[0]  # type: ignore[attr-defined]
    env = {"CONVOSHIP_STAGE": "test", "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-c", MODELS, str(function.code_uri), module],  # type: ignore[attr-defined]
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        env=env,
    )
    assert json.loads(out.stdout) == {"built_responses": [], "unbuilt_requests": []}


DEFERRED = "from __future__ import annotations"
ROUTE_MODULES = sorted(
    [*ROOT.glob("functions/*/*/routes*.py"), ROOT / "layers/shared/convoship/http/deps.py"]
)
# The functions' models, and the layer modules that declare pydantic models.
MODEL_MODULES = sorted(
    [
        *ROOT.glob("functions/*/*/models*.py"),
        *(
            ROOT / "layers/shared/convoship" / name
            for name in (
                "http/models.py",
                "studio/agents.py",
                "studio/evals.py",
                "studio/guardrail_configs.py",
                "studio/tool_spec.py",
            )
        ),
    ]
)


@pytest.mark.parametrize("path", ROUTE_MODULES, ids=lambda p: p.name)
def test_route_modules_keep_real_annotations(path: Path) -> None:
    """FastAPI would evaluate each string annotation again per route at import."""
    assert DEFERRED not in path.read_text(encoding="utf-8").splitlines()


@pytest.mark.parametrize("path", MODEL_MODULES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_model_modules_keep_real_annotations(path: Path) -> None:
    """Pydantic compiles and evaluates each string annotation of a model's fields when the
    class is created (~0.1 M instructions a field, on every cold start)."""
    assert DEFERRED not in path.read_text(encoding="utf-8").splitlines()
