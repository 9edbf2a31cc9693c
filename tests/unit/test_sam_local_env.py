"""`sam local` with tools/sam-local/env.json: every function gets a working environment
from the file alone (DATABASE_URL, REDIS_URL, keys), nothing left that would send it to
Secrets Manager or KMS; deployed functions declare none of the local-only variables."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from convoship.core.settings import load_settings
from convoship_dev.template import CfnLoader

ROOT = Path(__file__).resolve().parents[2]
DOC: dict[str, Any] = yaml.load((ROOT / "template.yaml").read_text(), Loader=CfnLoader)  # noqa: S506
GLOBAL_VARS: dict[str, Any] = DOC["Globals"]["Function"]["Environment"]["Variables"]
ENV_FILE = ROOT / "tools/sam-local/env.json"
OVERRIDES: dict[str, str] = json.loads(ENV_FILE.read_text())["Parameters"]
LOCAL_ONLY = {"Fn::If": ["IsLocalInvoke", "", {"Ref": "AWS::NoValue"}]}
LAYER_FUNCTIONS = sorted(
    name
    for name, res in DOC["Resources"].items()
    if res["Type"] == "AWS::Serverless::Function"
    and {"Ref": "SharedLayer"} in res["Properties"].get("Layers", [])
)


def _names_a_cloud_resource(name: str) -> bool:
    return name.endswith("_SECRET_ARN") or name in {
        "CONVOSHIP_KMS_KEY_ID",
        "CONVOSHIP_AUDIT_SIGNING_KEY_ID",
        "CONVOSHIP_DATABASE_HOST",
    }


def _as_sam_local_passes(value: Any) -> str:
    """A parameter's Ref becomes its default; other intrinsics stand in as a placeholder."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and value.get("Ref") in DOC["Parameters"]:
        return str(DOC["Parameters"][value["Ref"]].get("Default", ""))
    return "placeholder"


def _declared(function: str) -> dict[str, Any]:
    """What sam local sees: Globals merged under the function's own variables."""
    own = DOC["Resources"][function]["Properties"].get("Environment", {}).get("Variables", {})
    return {**GLOBAL_VARS, **own}


def test_local_only_variables_are_absent_from_a_deployment() -> None:
    assert DOC["Parameters"]["LocalInvoke"]["Default"] == "false"
    local_only = {name for name, value in GLOBAL_VARS.items() if value == LOCAL_ONLY}
    assert {"DATABASE_URL", "REDIS_URL", "CONVOSHIP_SECRETS_KEY"} <= local_only


def test_sam_local_reads_the_env_file_by_default() -> None:
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())["default"]
    for command in ("local_invoke", "local_start_api"):
        parameters = config[command]["parameters"]
        assert parameters["env_vars"] == str(ENV_FILE.relative_to(ROOT))
        assert parameters["parameter_overrides"] == "LocalInvoke=true"


def test_every_variable_the_file_sets_is_declared_somewhere() -> None:
    # sam local sets only variables the template declares for the function.
    functions = [n for n, r in DOC["Resources"].items() if r["Type"].endswith("::Function")]
    declared = set().union(*(_declared(f) for f in functions))
    assert set(OVERRIDES) <= declared


@pytest.mark.parametrize("function", LAYER_FUNCTIONS)
def test_each_function_runs_on_the_file_alone(function: str) -> None:
    declared = _declared(function)
    aws_bound = sorted(name for name in declared if _names_a_cloud_resource(name))
    assert aws_bound, function
    left = [name for name in aws_bound if OVERRIDES.get(name) != ""]
    assert left == [], f"{function}: sam local would send it to AWS through {left}"
    environ = {
        name: OVERRIDES[name] if name in OVERRIDES else _as_sam_local_passes(value)
        for name, value in declared.items()
    }
    settings = load_settings(environ)  # reads no secret: every *_SECRET_ARN is blank
    assert settings.stage == "development" and settings.kms_key_id is None
    assert settings.database_url == OVERRIDES["DATABASE_URL"]
    assert settings.redis_url == OVERRIDES["REDIS_URL"]
