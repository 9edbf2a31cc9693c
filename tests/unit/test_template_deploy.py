"""template.yaml as deployed at scale: the database tier behind RDS Proxy, least-privilege
IAM, migrations before the code that needs them, dead letters, throttling, alarms."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from convoship_dev.template import CfnLoader

ROOT = Path(__file__).resolve().parents[2]
DOC: dict[str, Any] = yaml.load((ROOT / "template.yaml").read_text(), Loader=CfnLoader)  # noqa: S506
RESOURCES: dict[str, Any] = DOC["Resources"]
PARAMETERS: dict[str, Any] = DOC["Parameters"]
FUNCTIONS = {
    name: res for name, res in RESOURCES.items() if res["Type"] == "AWS::Serverless::Function"
}
LAYER_FUNCTIONS = sorted(
    name
    for name, res in FUNCTIONS.items()
    if {"Ref": "SharedLayer"} in res["Properties"].get("Layers", [])
)
# The API's functions that do the work (with the layer). The Studio pages function serves
# static files with the standard library only: no database, no SnapStart, no reservation.
API_FUNCTIONS = sorted(
    name
    for name, res in FUNCTIONS.items()
    if any(e["Type"] == "HttpApi" for e in res["Properties"].get("Events", {}).values())
    and name in LAYER_FUNCTIONS
)
DB_SECRET_VARS = (
    "CONVOSHIP_DATABASE_SECRET_ARN",
    "CONVOSHIP_PURGE_DATABASE_SECRET_ARN",
    "CONVOSHIP_KEYS_DATABASE_SECRET_ARN",
    "CONVOSHIP_CHECKPOINT_DATABASE_SECRET_ARN",
)
CREATED = "CreateDatabaseTier"


def _env(name: str) -> dict[str, Any]:
    return dict(FUNCTIONS[name]["Properties"].get("Environment", {}).get("Variables", {}))


def _if(condition: str, when_true: Any, when_false: Any) -> dict[str, Any]:
    return {"Fn::If": [condition, when_true, when_false]}


def _proxy_secrets() -> list[Any]:
    proxy = RESOURCES["DatabaseProxy"]["Properties"]
    return [auth["SecretArn"] for auth in proxy["Auth"]]


def test_every_function_with_the_layer_reaches_postgres_through_the_proxy() -> None:
    proxy = RESOURCES["DatabaseProxy"]
    assert proxy["Condition"] == CREATED
    assert proxy["Properties"]["RequireTLS"] is True
    assert proxy["Properties"]["EngineFamily"] == "POSTGRESQL"
    assert LAYER_FUNCTIONS  # the functions that import convoship reach the database
    through_proxy = [name for name in LAYER_FUNCTIONS if name != "MigrateFunction"]
    for name in through_proxy:
        env = _env(name)
        secrets = [env[var] for var in DB_SECRET_VARS if var in env]
        assert secrets, f"{name} names no database secret"
        for secret in secrets:
            created, existing = secret["Fn::If"][1:]
            assert secret["Fn::If"][0] == CREATED
            assert created in _proxy_secrets(), f"{name}: {created} is not one of the proxy's"
            assert existing["Ref"] in PARAMETERS  # an existing database: the operator's secret
        assert env["CONVOSHIP_DATABASE_HOST"] == _if(
            CREATED, {"Fn::GetAtt": ["DatabaseProxy", "Endpoint"]}, ""
        ), name
        assert FUNCTIONS[name]["Properties"]["VpcConfig"]


def test_only_the_migrations_reach_the_cluster_directly_and_as_the_owner() -> None:
    env = _env("MigrateFunction")
    assert env["CONVOSHIP_DATABASE_HOST"] == _if(
        CREATED, {"Fn::GetAtt": ["DatabaseCluster", "Endpoint.Address"]}, ""
    )
    assert env["CONVOSHIP_DATABASE_ADMIN_SECRET_ARN"] == _if(
        CREATED,
        {"Fn::GetAtt": ["DatabaseCluster", "MasterUserSecret.SecretArn"]},
        {"Ref": "DatabaseAdminSecretArn"},
    )
    cluster = RESOURCES["DatabaseCluster"]["Properties"]
    assert cluster["ManageMasterUserPassword"] is True  # its password: AWS's, never ours
    assert cluster["StorageEncrypted"] is True
    parameters = RESOURCES["DatabaseParameters"]["Properties"]["Parameters"]
    assert parameters["rds.force_ssl"] == "1"


def _statements() -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    for name, res in RESOURCES.items():
        props = res.get("Properties", {})
        if res["Type"] == "AWS::Serverless::Function":
            for policy in props.get("Policies", []):
                found.extend((name, s) for s in policy.get("Statement", []))
        elif res["Type"] == "AWS::IAM::Role":
            for policy in props.get("Policies", []):
                found.extend((name, s) for s in policy["PolicyDocument"]["Statement"])
        elif res["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            found.extend((name, s) for s in props["PolicyDocument"]["Statement"])
    return found


def _resources(value: Any) -> list[Any]:
    """Every resource a statement may name, through conditions and lists."""
    if isinstance(value, list):
        return [r for item in value for r in _resources(item)]
    if isinstance(value, dict) and "Fn::If" in value:
        return [r for branch in value["Fn::If"][1:] for r in _resources(branch)]
    return [value]


def test_iam_statements_name_their_resources() -> None:
    statements = _statements()
    assert len(statements) >= 4  # the bedrock, data-key and proxy statements at least
    for owner, statement in statements:
        assert statement["Effect"] == "Allow", owner
        for resource in _resources(statement["Resource"]):
            assert resource != "*", f"{owner}: {statement['Action']} on every resource"
    # SAM policy templates are scoped by the resource they name, never a wildcard.
    for name, res in FUNCTIONS.items():
        for policy in res["Properties"].get("Policies", []):
            if isinstance(policy, str):
                pytest.fail(f"{name}: managed policy {policy} (scope it with a template)")
            for template_name, args in policy.items():
                if template_name == "Statement":
                    continue
                for value in args.values():
                    assert _resources(value) and "*" not in _resources(value), name


def test_bedrock_is_scoped_by_a_parameter() -> None:
    for name in ("ChatFunction", "PublishFunction"):
        bedrock = next(
            s
            for owner, s in _statements()
            if owner == name and "bedrock:InvokeModel" in s["Action"]
        )
        condition, chosen, default = bedrock["Resource"]["Fn::If"]
        assert (condition, chosen) == ("HasBedrockModelArns", {"Ref": "BedrockModelArns"})
        assert all(
            "foundation-model/" in r["Fn::Sub"] or "inference-profile/" in r["Fn::Sub"]
            for r in default
        )


def test_the_only_wildcard_is_the_kms_key_policy() -> None:
    statement = RESOURCES["SecretsKey"]["Properties"]["KeyPolicy"]["Statement"]
    assert [s["Resource"] for s in statement] == ["*"]  # in a key policy, "*" is this key
    assert statement[0]["Principal"] == {
        "AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}
    }


def test_migrations_run_on_deploy_before_the_functions_that_need_them() -> None:
    schema = RESOURCES["DatabaseSchema"]
    assert schema["Type"].startswith("Custom::")
    assert schema["Condition"] == "RunMigrations"
    assert schema["Properties"]["ServiceToken"] == {"Fn::GetAtt": ["MigrateFunction", "Arn"]}
    # A new layer (which carries the migrations) changes this property: CloudFormation then
    # sends an Update, and the function tells a rollback by the release it names.
    assert schema["Properties"]["Release"] == {"Ref": "SharedLayer"}
    assert _env("MigrateFunction")["CONVOSHIP_RELEASE"] == {"Ref": "SharedLayer"}
    assert FUNCTIONS["MigrateFunction"]["Condition"] == "RunMigrations"
    conditions = DOC["Conditions"]
    assert conditions["RunMigrations"] == {
        "Fn::Or": [{"Condition": CREATED}, {"Condition": "HasAdminSecret"}]
    }
    for name in LAYER_FUNCTIONS:
        if name == "MigrateFunction":
            continue
        assert _env(name)["CONVOSHIP_SCHEMA_VERSION"] == _if(
            "RunMigrations", {"Fn::GetAtt": ["DatabaseSchema", "SchemaVersion"]}, "unmanaged"
        ), f"{name} could be updated before the migrations it needs"


def test_every_schedule_has_retries_and_a_dead_letter_queue() -> None:
    schedules = 0
    for name, res in FUNCTIONS.items():
        props = res["Properties"]
        for event in props.get("Events", {}).values():
            if event["Type"] not in ("Schedule", "ScheduleV2"):
                continue
            schedules += 1
            assert event["Properties"]["RetryPolicy"]["MaximumRetryAttempts"] >= 1, name
            assert event["Properties"]["DeadLetterConfig"]["Arn"] == {
                "Fn::GetAtt": ["DeadLetterQueue", "Arn"]
            }, name
            # The scheduler's invocation is asynchronous: Lambda's own retries and DLQ.
            assert props["DeadLetterQueue"]["TargetArn"] == {
                "Fn::GetAtt": ["DeadLetterQueue", "Arn"]
            }, name
            assert props["EventInvokeConfig"]["MaximumRetryAttempts"] >= 1, name
    assert schedules >= 1


def test_the_api_logs_each_request_as_json_and_throttles_every_route() -> None:
    props = RESOURCES["HttpApi"]["Properties"]
    line = json.loads(props["AccessLogSettings"]["Format"].replace("\n", ""))
    for field in ("requestId", "routeKey", "status", "latencyMs", "authorizerError"):
        assert field in line
    assert "path" not in line and "$context.path" not in json.dumps(line)  # embed tokens
    routes = props["DefaultRouteSettings"]
    assert routes["ThrottlingRateLimit"] == {"Ref": "ApiThrottlingRateLimit"}
    assert routes["ThrottlingBurstLimit"] == {"Ref": "ApiThrottlingBurstLimit"}
    for name in ("ApiThrottlingRateLimit", "ApiThrottlingBurstLimit"):
        assert PARAMETERS[name]["Type"] == "Number"


@pytest.mark.parametrize("name", [*API_FUNCTIONS, "AuthorizerFunction"])
def test_each_request_path_function_has_a_reserved_concurrency_parameter(name: str) -> None:
    value = FUNCTIONS[name]["Properties"]["ReservedConcurrentExecutions"]
    condition, reserved, unset = value["Fn::If"]
    parameter = reserved["Ref"]
    assert PARAMETERS[parameter]["Default"] == 0  # opt in: a new account has little to reserve
    assert DOC["Conditions"][condition] == {"Fn::Not": [{"Fn::Equals": [{"Ref": parameter}, 0]}]}
    assert unset == {"Ref": "AWS::NoValue"}


@pytest.mark.parametrize("name", API_FUNCTIONS)
def test_studio_functions_take_snapstart_from_a_parameter(name: str) -> None:
    props = FUNCTIONS[name]["Properties"]
    assert props["SnapStart"] == _if(
        "UseSnapStart", {"ApplyOn": "PublishedVersions"}, {"Ref": "AWS::NoValue"}
    )
    assert props["AutoPublishAlias"]  # SnapStart serves published versions only
    assert DOC["Conditions"]["UseSnapStart"] == {"Fn::Equals": [{"Ref": "StudioSnapStart"}, "true"]}


def _alarms() -> dict[str, dict[str, Any]]:
    return {n: r for n, r in RESOURCES.items() if r["Type"] == "AWS::CloudWatch::Alarm"}


def _metric_names(alarm: dict[str, Any]) -> set[str]:
    props = alarm["Properties"]
    if "MetricName" in props:
        return {props["MetricName"]}
    return {m["MetricStat"]["Metric"]["MetricName"] for m in props["Metrics"] if "MetricStat" in m}


def test_alarms_watch_errors_throttles_the_limiter_dead_letters_and_the_proxy() -> None:
    watched = set().union(*(_metric_names(a) for a in _alarms().values()))
    assert {
        "5xx",
        "Throttles",
        "RateLimiterDegraded",
        "ApproximateNumberOfMessagesVisible",
        "DatabaseConnections",
        "MaxDatabaseConnectionsAllowed",
    } <= watched
    throttles = next(a for a in _alarms().values() if "Throttles" in _metric_names(a))
    covered = {
        m["MetricStat"]["Metric"]["Dimensions"][0]["Value"]["Ref"]
        for m in throttles["Properties"]["Metrics"]
        if "MetricStat" in m
    }
    assert covered == {*API_FUNCTIONS, "AuthorizerFunction"}
    notify = _if("HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], {"Ref": "AWS::NoValue"})
    for name, alarm in _alarms().items():
        assert alarm["Properties"]["AlarmActions"] == notify, name
        assert alarm["Properties"]["OKActions"] == notify, name


def test_the_limiter_alarm_reads_the_namespace_the_functions_write() -> None:
    alarm = next(a for a in _alarms().values() if "RateLimiterDegraded" in _metric_names(a))
    written = DOC["Globals"]["Function"]["Environment"]["Variables"]
    assert alarm["Properties"]["Namespace"] == written["POWERTOOLS_METRICS_NAMESPACE"]
    assert alarm["Properties"]["Dimensions"] == [{"Name": "service", "Value": "chat"}]
    assert _env("ChatFunction")["POWERTOOLS_SERVICE_NAME"] == "chat"


def test_every_function_logs_to_a_group_with_a_retention() -> None:
    for name, res in FUNCTIONS.items():
        group = res["Properties"]["LoggingConfig"]["LogGroup"]["Ref"]
        assert RESOURCES[group]["Type"] == "AWS::Logs::LogGroup", name
        assert RESOURCES[group]["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
        assert RESOURCES[group].get("Condition") == res.get("Condition"), name


def test_functions_and_the_layer_build_byte_compiled_with_their_makefiles() -> None:
    for name, res in FUNCTIONS.items():
        assert res["Metadata"]["BuildMethod"] == "makefile", name
        assert res["Metadata"]["ContextPath"] == "functions", name
    assert "build-%:" in (ROOT / "functions" / "Makefile").read_text()
    assert RESOURCES["SharedLayer"]["Metadata"]["BuildMethod"] == "makefile"
    assert "build-SharedLayer:" in (ROOT / "layers" / "shared" / "Makefile").read_text()


def test_every_scan_skip_says_why() -> None:
    skips = 0
    for name, res in RESOURCES.items():
        for skip in res.get("Metadata", {}).get("checkov", {}).get("skip", []):
            skips += 1
            assert skip["id"].startswith("CKV_"), name
            assert len(skip.get("comment", "").split()) >= 8, f"{name}: {skip['id']} unexplained"
    assert skips


def test_the_turn_deadline_cap_follows_the_chat_function_timeout() -> None:
    """core/settings.py caps CONVOSHIP_CHAT_TURN_DEADLINE_S below this timeout: they move
    together."""
    from convoship.core.settings import CHAT_FUNCTION_TIMEOUT_S, MAX_CHAT_TURN_DEADLINE_S

    timeout = RESOURCES["ChatFunction"]["Properties"].get(
        "Timeout", DOC["Globals"]["Function"]["Timeout"]
    )
    assert timeout == CHAT_FUNCTION_TIMEOUT_S
    assert timeout > MAX_CHAT_TURN_DEADLINE_S
    env = RESOURCES["ChatFunction"]["Properties"]["Environment"]["Variables"]
    deadline = int(env.get("CONVOSHIP_CHAT_TURN_DEADLINE_S", 25))
    assert deadline <= MAX_CHAT_TURN_DEADLINE_S
