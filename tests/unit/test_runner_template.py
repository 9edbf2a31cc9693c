"""The local runner's SAM template reader: tags, functions, routes, authorizers, handlers."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml

from convoship_dev.template import (
    CfnLoader,
    RouteSpec,
    load_template,
)

ROOT = Path(__file__).resolve().parents[2]

FIXTURE = """\
Transform: AWS::Serverless-2016-10-31
Parameters:
  Origins:
    Type: CommaDelimitedList
    Default: "https://a.test, https://b.test"
  Secret:
    Type: String
Globals:
  Function:
    Runtime: python3.12
    Timeout: 9
    MemorySize: 512
    Environment:
      Variables:
        SHARED: from-globals
        OVERRIDDEN: from-globals
        RETRIES: 3
        VERBOSE: true
Resources:
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      CorsConfiguration:
        AllowOrigins: !Ref Origins
        AllowHeaders: [authorization]
        AllowMethods: [get, post]
        ExposeHeaders: [x-request-id]
        MaxAge: 60
      Auth:
        DefaultAuthorizer: Main
        Authorizers:
          Main:
            FunctionArn: !GetAtt AuthFn.Arn
            AuthorizerPayloadFormatVersion: "2.0"
            EnableSimpleResponses: true
            Identity:
              Headers: [Authorization, X-Tenant]
          Other:
            FunctionArn: !GetAtt AuthFn.Arn
            AuthorizerPayloadFormatVersion: "2.0"
            Identity:
              Headers: [X-Key]
  AuthFn:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/auth_fn
      Handler: auth.handler
      Timeout: 2
  ItemsFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: functions/items
      Handler: items_pkg.handler.handler
      MemorySize: 2048
      Environment:
        Variables:
          OVERRIDDEN: from-function
          SECRET_ARN: !Ref Secret
          URL: !Sub "https://${Api}.example"
          PORT: 8080
      Events:
        List:
          Type: HttpApi
          Properties: {ApiId: !Ref Api, Method: get, Path: /v1/items}
        Health:
          Type: HttpApi
          Properties:
            ApiId: !Ref Api
            Method: GET
            Path: /health
            Auth: {Authorizer: NONE}
        Admin:
          Type: HttpApi
          Properties:
            ApiId: !Ref Api
            Method: ANY
            Path: /admin/{proxy+}
            Auth: {Authorizer: Other}
        Queue:
          Type: SQS
          Properties: {Queue: !GetAtt Q.Arn}
"""


@pytest.fixture
def fixture_template(tmp_path: Path) -> Path:
    path = tmp_path / "template.yaml"
    path.write_text(FIXTURE)
    return path


def test_short_form_tags_become_long_form_dicts() -> None:
    doc = yaml.load(
        textwrap.dedent(
            """\
            ref: !Ref Thing
            att: !GetAtt Fn.Arn
            att_nested: !GetAtt Redis.PrimaryEndPoint.Address
            att_list: !GetAtt [Fn, Arn]
            sub: !Sub "arn:${AWS::Partition}:x"
            sub_list: !Sub ["${A}-x", {A: !Ref B}]
            if: !If [IsProd, !Ref A, !Ref "AWS::NoValue"]
            join: !Join [",", [a, b]]
            select: !Select [0, !GetAZs ""]
            split: !Split [",", "a,b"]
            eq: !Equals [!Ref Stage, prod]
            not: !Not [!Condition IsProd]
            and: !And [!Condition A, !Condition B]
            or: !Or [!Condition A, !Condition B]
            map: !FindInMap [M, K, V]
            b64: !Base64 hello
            cidr: !Cidr ["10.0.0.0/16", 4, 8]
            imp: !ImportValue shared-vpc
            """
        ),
        Loader=CfnLoader,  # noqa: S506
    )
    assert doc["ref"] == {"Ref": "Thing"}
    assert doc["att"] == {"Fn::GetAtt": ["Fn", "Arn"]}
    assert doc["att_nested"] == {"Fn::GetAtt": ["Redis", "PrimaryEndPoint.Address"]}
    assert doc["att_list"] == {"Fn::GetAtt": ["Fn", "Arn"]}
    assert doc["sub"] == {"Fn::Sub": "arn:${AWS::Partition}:x"}
    assert doc["sub_list"] == {"Fn::Sub": ["${A}-x", {"A": {"Ref": "B"}}]}
    assert doc["if"] == {"Fn::If": ["IsProd", {"Ref": "A"}, {"Ref": "AWS::NoValue"}]}
    assert doc["join"] == {"Fn::Join": [",", ["a", "b"]]}
    assert doc["select"] == {"Fn::Select": [0, {"Fn::GetAZs": ""}]}
    assert doc["split"] == {"Fn::Split": [",", "a,b"]}
    assert doc["eq"] == {"Fn::Equals": [{"Ref": "Stage"}, "prod"]}
    assert doc["not"] == {"Fn::Not": [{"Condition": "IsProd"}]}
    assert doc["and"] == {"Fn::And": [{"Condition": "A"}, {"Condition": "B"}]}
    assert doc["or"] == {"Fn::Or": [{"Condition": "A"}, {"Condition": "B"}]}
    assert doc["map"] == {"Fn::FindInMap": ["M", "K", "V"]}
    assert doc["b64"] == {"Fn::Base64": "hello"}
    assert doc["cidr"] == {"Fn::Cidr": ["10.0.0.0/16", 4, 8]}
    assert doc["imp"] == {"Fn::ImportValue": "shared-vpc"}


def test_loader_is_still_safe() -> None:
    with pytest.raises(yaml.constructor.ConstructorError):
        yaml.load("x: !!python/object/apply:os.system [echo]", Loader=CfnLoader)  # noqa: S506


def test_environment_merges_globals_and_drops_intrinsics(fixture_template: Path) -> None:
    fn = load_template(fixture_template).functions["ItemsFunction"]
    assert fn.environment == {
        "SHARED": "from-globals",
        "OVERRIDDEN": "from-function",
        "RETRIES": "3",
        "VERBOSE": "true",
        "PORT": "8080",
    }


def test_function_paths_handler_timeout_and_memory(fixture_template: Path) -> None:
    template = load_template(fixture_template)
    items = template.functions["ItemsFunction"]
    auth = template.functions["AuthFn"]
    assert items.code_uri == fixture_template.parent / "functions" / "items"
    assert items.code_uri.is_absolute()
    assert items.handler == "items_pkg.handler.handler"
    assert (items.timeout_s, items.memory_mb) == (9, 2048)
    assert (auth.timeout_s, auth.memory_mb) == (2, 512)
    assert auth.routes == []


def test_routes_take_the_default_authorizer_unless_told_otherwise(fixture_template: Path) -> None:
    routes = load_template(fixture_template).functions["ItemsFunction"].routes
    assert routes == [
        RouteSpec("GET", "/v1/items", "Main"),
        RouteSpec("GET", "/health", None),
        RouteSpec("ANY", "/admin/{proxy+}", "Other"),
    ]
    assert routes[0].key == "GET /v1/items"


def test_authorizers_and_cors(fixture_template: Path) -> None:
    template = load_template(fixture_template)
    main = template.authorizers["Main"]
    assert main.function_logical_id == "AuthFn"
    assert main.identity_headers == ["Authorization", "X-Tenant"]
    assert main.simple_responses is True
    assert main.payload_version == "2.0"
    assert template.authorizers["Other"].simple_responses is False
    assert template.cors is not None
    assert template.cors.allow_origins == ["https://a.test", "https://b.test"]
    assert template.cors.allow_methods == ["GET", "POST"]
    assert template.cors.max_age == 60


def test_find_function_by_logical_id_or_folder(fixture_template: Path) -> None:
    template = load_template(fixture_template)
    assert template.find_function("ItemsFunction").logical_id == "ItemsFunction"
    assert template.find_function("itemsfunction").logical_id == "ItemsFunction"
    assert template.find_function("ITEMS").logical_id == "ItemsFunction"
    assert template.find_function("auth_fn").logical_id == "AuthFn"
    with pytest.raises(KeyError, match="known: AuthFn, ItemsFunction"):
        template.find_function("nope")


def test_real_template_workspace_settings_routes_and_authorizer() -> None:
    template = load_template(ROOT / "template.yaml")
    fn = template.find_function("workspace_settings")
    assert fn.logical_id == "WorkspaceSettingsFunction"
    assert fn.code_uri == ROOT / "functions" / "workspace_settings"
    keys = {route.key for route in fn.routes}
    assert {
        "GET /v1/workspaces/agent-ops",
        "PATCH /v1/workspaces/agent-ops",
        "GET /v1/secrets",
        "DELETE /v1/secrets/{name}",
    } <= keys
    assert all(route.authorizer == "StudioJwt" for route in fn.routes)
    assert fn.environment["POWERTOOLS_SERVICE_NAME"] == "workspace_settings"
    assert "CONVOSHIP_APP_SECRET_ARN" not in fn.environment  # a !Ref: dropped
    authorizer = template.authorizers["StudioJwt"]
    assert authorizer.function_logical_id == "AuthorizerFunction"
    assert authorizer.identity_headers == ["Authorization"]
    assert authorizer.simple_responses is True
    assert authorizer.payload_version == "2.0"
    assert template.cors is not None
    assert template.cors.allow_origins == ["*"]  # embed widgets call from any site


def test_conditions_custom_resources_and_functions_without_routes(tmp_path: Path) -> None:
    """What a deployable template also holds: parameters the runner cannot resolve,
    conditional functions and values, custom resources, schedules. The runner keeps every
    local function (conditions are CloudFormation's to decide) and drops what it cannot run."""
    path = tmp_path / "template.yaml"
    path.write_text(
        textwrap.dedent(
            """\
            Transform: AWS::Serverless-2016-10-31
            Parameters:
              CreateDatabase: {Type: String, AllowedValues: ["true", "false"], Default: "true"}
              Models: {Type: CommaDelimitedList, Default: ""}
              Reserved: {Type: Number, Default: 0}
            Conditions:
              Create: !Equals [!Ref CreateDatabase, "true"]
            Resources:
              Migrate:
                Type: AWS::Serverless::Function
                Condition: Create
                Metadata: {BuildMethod: makefile, ContextPath: functions}
                Properties:
                  CodeUri: functions/migrate
                  Handler: migrate_fn.handler.handler
                  Timeout: 900
                  ReservedConcurrentExecutions: !If [Create, !Ref Reserved, !Ref AWS::NoValue]
                  Environment:
                    Variables:
                      PLAIN: "yes"
                      HOST: !If [Create, !GetAtt Proxy.Endpoint, ""]
              Schema:
                Type: Custom::DatabaseSchema
                Condition: Create
                Properties: {ServiceToken: !GetAtt Migrate.Arn}
            """
        )
    )
    template = load_template(path)
    assert list(template.functions) == ["Migrate"]
    migrate = template.find_function("migrate")
    assert migrate.routes == []
    assert migrate.environment == {"PLAIN": "yes"}
    assert migrate.timeout_s == 900
    assert template.parameters == {"CreateDatabase": "true", "Models": "", "Reserved": "0"}
    assert template.authorizers == {} and template.cors is None


def test_real_template_keeps_the_migrate_function_and_leaves_deploy_values_out() -> None:
    template = load_template(ROOT / "template.yaml")
    migrate = template.find_function("migrate")
    assert migrate.logical_id == "MigrateFunction"
    assert migrate.handler == "migrate_fn.handler.handler"
    assert migrate.routes == []
    chat = template.functions["ChatFunction"]
    # Proxy endpoints, secrets and the per-stack metrics namespace are the deploy's: locally
    # the stack sets DATABASE_URL and friends instead.
    for name in (
        "CONVOSHIP_DATABASE_HOST",
        "CONVOSHIP_SCHEMA_VERSION",
        "POWERTOOLS_METRICS_NAMESPACE",
    ):
        assert name not in chat.environment
    assert chat.environment["CONVOSHIP_STAGE"] == "production"
    assert template.parameters["CreateDatabase"] == "true"
