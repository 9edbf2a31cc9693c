"""Read a SAM template: functions, HttpApi routes, Lambda authorizers and CORS settings."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

IMPLICIT_API = "ServerlessHttpApi"
DEFAULT_ROUTE = "$default"
_DEFAULT_TIMEOUT_S = 3  # SAM/Lambda defaults when neither Globals nor the function say
_DEFAULT_MEMORY_MB = 128

_SHORT_TAGS = {
    "!Base64": "Fn::Base64",
    "!Cidr": "Fn::Cidr",
    "!FindInMap": "Fn::FindInMap",
    "!GetAtt": "Fn::GetAtt",
    "!GetAZs": "Fn::GetAZs",
    "!ImportValue": "Fn::ImportValue",
    "!Join": "Fn::Join",
    "!Select": "Fn::Select",
    "!Split": "Fn::Split",
    "!Sub": "Fn::Sub",
    "!Transform": "Fn::Transform",
    "!Length": "Fn::Length",
    "!ToJsonString": "Fn::ToJsonString",
    "!If": "Fn::If",
    "!Equals": "Fn::Equals",
    "!Not": "Fn::Not",
    "!And": "Fn::And",
    "!Or": "Fn::Or",
    "!Ref": "Ref",
    "!Condition": "Condition",
}


class CfnLoader(yaml.SafeLoader):  # type: ignore[misc,unused-ignore]
    """A safe YAML loader that turns CloudFormation short-form tags into long-form dicts."""


def _construct_node(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    """Build the plain value under a tag: a string, a list or a dict."""
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    raise yaml.constructor.ConstructorError(None, None, f"unexpected node {node!r}")


def _make_constructor(long_name: str) -> Callable[[yaml.SafeLoader, yaml.Node], dict[str, Any]]:
    """Return a constructor mapping a short-form tag to {long_name: value}."""

    def construct(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        value = _construct_node(loader, node)
        if long_name == "Fn::GetAtt" and isinstance(value, str):
            value = value.split(".", 1)
        return {long_name: value}

    return construct


for _tag, _long in _SHORT_TAGS.items():
    CfnLoader.add_constructor(_tag, _make_constructor(_long))


@dataclass(frozen=True)
class RouteSpec:
    """One HttpApi route: method (upper case or ANY), path, and its authorizer name."""

    method: str
    path: str
    authorizer: str | None = None

    @property
    def key(self) -> str:
        """The route key API Gateway reports: "GET /v1/x" or "$default"."""
        return DEFAULT_ROUTE if self.path == DEFAULT_ROUTE else f"{self.method} {self.path}"


@dataclass(frozen=True)
class AuthorizerSpec:
    """A Lambda REQUEST authorizer of an HttpApi."""

    name: str
    function_logical_id: str
    identity_headers: list[str] = field(default_factory=list)
    simple_responses: bool = False
    payload_version: str = "2.0"


@dataclass(frozen=True)
class CorsSpec:
    """The HttpApi CorsConfiguration, with parameter references resolved."""

    allow_origins: list[str] = field(default_factory=list)
    allow_headers: list[str] = field(default_factory=list)
    allow_methods: list[str] = field(default_factory=list)
    expose_headers: list[str] = field(default_factory=list)
    max_age: int | None = None
    allow_credentials: bool = False


@dataclass
class FunctionSpec:
    """An AWS::Serverless::Function as the local runner needs it."""

    logical_id: str
    code_uri: Path
    handler: str
    environment: dict[str, str] = field(default_factory=dict)
    routes: list[RouteSpec] = field(default_factory=list)
    timeout_s: int = _DEFAULT_TIMEOUT_S
    memory_mb: int = _DEFAULT_MEMORY_MB


@dataclass
class Template:
    """The parts of a SAM template the local runner emulates."""

    path: Path
    functions: dict[str, FunctionSpec] = field(default_factory=dict)
    authorizers: dict[str, AuthorizerSpec] = field(default_factory=dict)
    cors: CorsSpec | None = None
    parameters: dict[str, str] = field(default_factory=dict)

    def find_function(self, name: str) -> FunctionSpec:
        """Find a function by logical id or CodeUri folder name, case-insensitively."""
        wanted = name.strip().lower()
        for fn in self.functions.values():
            if wanted in (fn.logical_id.lower(), fn.code_uri.name.lower()):
                return fn
        known = ", ".join(sorted(self.functions))
        raise KeyError(f"no function {name!r} in {self.path.name} (known: {known})")


def _as_dict(value: Any) -> dict[str, Any]:
    """Return value if it is a mapping, else an empty dict."""
    return value if isinstance(value, dict) else {}


def _is_scalar(value: Any) -> bool:
    """Tell a plain YAML scalar from an intrinsic function or a collection."""
    return isinstance(value, str | int | float | bool)


def _scalar_str(value: Any) -> str:
    """Render a YAML scalar the way CloudFormation passes it on (booleans lower case)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _env_vars(props: dict[str, Any]) -> dict[str, str]:
    """Plain-scalar Environment.Variables of a function or Globals block."""
    variables = _as_dict(_as_dict(props.get("Environment")).get("Variables"))
    return {k: _scalar_str(v) for k, v in variables.items() if _is_scalar(v)}


def _int_prop(props: dict[str, Any], name: str, default: int) -> int:
    """An integer property, or the default when missing or not a plain scalar."""
    value = props.get(name)
    if isinstance(value, int | str) and not isinstance(value, bool):
        try:
            return int(value)
        except ValueError:
            return default
    return default


def _ref_name(value: Any) -> str | None:
    """The logical id inside {"Ref": X}, or a plain string id."""
    if isinstance(value, dict) and isinstance(value.get("Ref"), str):
        return str(value["Ref"])
    return value if isinstance(value, str) else None


def _getatt_resource(value: Any) -> str | None:
    """The resource of {"Fn::GetAtt": [X, "Arn"]} (or a Sub/Ref naming X)."""
    if isinstance(value, dict):
        att = value.get("Fn::GetAtt")
        if isinstance(att, list) and att and isinstance(att[0], str):
            return att[0]
        return _ref_name(value)
    return None


def _parameter_defaults(doc: dict[str, Any]) -> dict[str, str]:
    """Default values of the template parameters that have one."""
    out: dict[str, str] = {}
    for name, spec in _as_dict(doc.get("Parameters")).items():
        default = _as_dict(spec).get("Default")
        if isinstance(default, list):
            out[name] = ",".join(_scalar_str(v) for v in default)
        elif _is_scalar(default):
            out[name] = _scalar_str(default)
    return out


def _string_list(value: Any, params: dict[str, str]) -> list[str]:
    """A list of strings from a list, a comma-separated string or a !Ref to a parameter."""
    if isinstance(value, list):
        out: list[str] = []
        for item in value:
            out.extend(_string_list(item, params))
        return out
    ref = value.get("Ref") if isinstance(value, dict) else None
    if isinstance(ref, str):
        value = params.get(ref, "")
    if isinstance(value, bool) or not _is_scalar(value):
        return []
    return [part.strip() for part in str(value).split(",") if part.strip()]


def _cors(value: Any, params: dict[str, str]) -> CorsSpec | None:
    """Parse an HttpApi CorsConfiguration (a mapping, an origin string, or true)."""
    if value is None or value is False:
        return None
    if value is True:
        return CorsSpec(allow_origins=["*"], allow_headers=["*"], allow_methods=["*"])
    if not isinstance(value, dict):
        return CorsSpec(allow_origins=_string_list(value, params))
    max_age = value.get("MaxAge")
    return CorsSpec(
        allow_origins=_string_list(value.get("AllowOrigins"), params),
        allow_headers=_string_list(value.get("AllowHeaders"), params),
        allow_methods=[m.upper() for m in _string_list(value.get("AllowMethods"), params)],
        expose_headers=_string_list(value.get("ExposeHeaders"), params),
        max_age=int(max_age) if isinstance(max_age, int | str) and str(max_age).isdigit() else None,
        allow_credentials=value.get("AllowCredentials") is True,
    )


@dataclass
class _Api:
    """The auth and CORS settings of one HttpApi, explicit or implicit."""

    default_authorizer: str | None
    authorizers: dict[str, AuthorizerSpec]
    cors: CorsSpec | None


def _parse_api(props: dict[str, Any], params: dict[str, str]) -> _Api:
    """Read the Auth and CorsConfiguration properties of an HttpApi."""
    auth = _as_dict(props.get("Auth"))
    authorizers: dict[str, AuthorizerSpec] = {}
    for name, spec in _as_dict(auth.get("Authorizers")).items():
        spec = _as_dict(spec)
        fn_id = _getatt_resource(spec.get("FunctionArn"))
        if fn_id is None:
            continue  # a JWT authorizer or a foreign function: not emulated
        identity = _as_dict(spec.get("Identity"))
        authorizers[name] = AuthorizerSpec(
            name=name,
            function_logical_id=fn_id,
            identity_headers=_string_list(identity.get("Headers"), params),
            simple_responses=spec.get("EnableSimpleResponses") is True,
            payload_version=str(spec.get("AuthorizerPayloadFormatVersion", "2.0")),
        )
    default = auth.get("DefaultAuthorizer")
    return _Api(
        default_authorizer=default if isinstance(default, str) else None,
        authorizers=authorizers,
        cors=_cors(props.get("CorsConfiguration"), params),
    )


def _route(event_props: dict[str, Any], api: _Api | None) -> RouteSpec:
    """Build the RouteSpec of one HttpApi event."""
    path = event_props.get("Path")
    method = event_props.get("Method")
    path = path if isinstance(path, str) and path else DEFAULT_ROUTE
    method = method.upper() if isinstance(method, str) and method else "ANY"
    if path == DEFAULT_ROUTE:
        method = "ANY"
    authorizer = api.default_authorizer if api else None
    named = _as_dict(event_props.get("Auth")).get("Authorizer")
    if isinstance(named, str):
        authorizer = None if named == "NONE" else named
    return RouteSpec(method=method, path=path, authorizer=authorizer)


def load_template(path: str | Path) -> Template:
    """Load a SAM template and return its functions, routes, authorizers and CORS."""
    path = Path(path).resolve()
    doc = _as_dict(yaml.load(path.read_text(encoding="utf-8"), Loader=CfnLoader))  # noqa: S506
    params = _parameter_defaults(doc)
    resources = _as_dict(doc.get("Resources"))
    globals_ = _as_dict(doc.get("Globals"))
    fn_globals = _as_dict(globals_.get("Function"))

    apis: dict[str, _Api] = {}
    for logical_id, res in resources.items():
        res = _as_dict(res)
        if res.get("Type") == "AWS::Serverless::HttpApi":
            apis[logical_id] = _parse_api(_as_dict(res.get("Properties")), params)
    implicit = _parse_api(_as_dict(globals_.get("HttpApi")), params)

    template = Template(path=path, parameters=params)
    used_implicit = False
    for logical_id, res in resources.items():
        res = _as_dict(res)
        if res.get("Type") != "AWS::Serverless::Function":
            continue
        props = _as_dict(res.get("Properties"))
        code_uri = props.get("CodeUri", fn_globals.get("CodeUri", "."))
        handler = props.get("Handler", fn_globals.get("Handler"))
        if not isinstance(code_uri, str) or not isinstance(handler, str):
            continue  # an S3 CodeUri or an image function: nothing to run locally
        routes: list[RouteSpec] = []
        for event in _as_dict(props.get("Events")).values():
            event = _as_dict(event)
            if event.get("Type") != "HttpApi":
                continue
            event_props = _as_dict(event.get("Properties"))
            api_id = _ref_name(event_props.get("ApiId"))
            if api_id is None:
                used_implicit = True
            routes.append(_route(event_props, apis.get(api_id) if api_id else implicit))
        template.functions[logical_id] = FunctionSpec(
            logical_id=logical_id,
            code_uri=(path.parent / code_uri).resolve(),
            handler=handler,
            environment={**_env_vars(fn_globals), **_env_vars(props)},
            routes=routes,
            timeout_s=_int_prop(
                props, "Timeout", _int_prop(fn_globals, "Timeout", _DEFAULT_TIMEOUT_S)
            ),
            memory_mb=_int_prop(
                props, "MemorySize", _int_prop(fn_globals, "MemorySize", _DEFAULT_MEMORY_MB)
            ),
        )

    for api in [*apis.values(), *([implicit] if used_implicit else [])]:
        template.authorizers.update(api.authorizers)
        if template.cors is None:
            template.cors = api.cors
    return template
