"""What to measure: the functions in template.yaml and their events/<folder>/*.json files.

A function is picked up when its CodeUri is a local folder; its events are the JSON files in
events/<CodeUri folder name>/. The template is read with convoship_dev.template when that
module loads it, else with a plain PyYAML loader that ignores CloudFormation tags.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from convoship_dev.services import PROJECT_ROOT

Kind = Literal["authorizer", "http", "other"]


@dataclass(frozen=True)
class EventFile:
    path: Path
    payload: dict[str, Any]

    @property
    def name(self) -> str:
        return self.path.stem

    @property
    def method(self) -> str | None:
        http = (self.payload.get("requestContext") or {}).get("http") or {}
        method = http.get("method")
        return str(method) if method else None

    @property
    def label(self) -> str:
        """The route key for API events ("GET /v1/x"), else the file name."""
        route = self.payload.get("routeKey")
        if self.is_http_request and isinstance(route, str) and route != "$default":
            return route
        return self.name

    @property
    def is_http_request(self) -> bool:
        return self.method is not None and self.payload.get("type") != "REQUEST"


@dataclass
class Function:
    logical_id: str
    code_uri: Path
    handler: str
    kind: Kind
    environment: dict[str, str] = field(default_factory=dict)
    events: list[EventFile] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.code_uri.name

    @property
    def module(self) -> str:
        return self.handler.rpartition(".")[0]

    def cold_event(self) -> EventFile | None:
        """The request a cold start serves: the first GET (a simple read), else the first."""
        gets = [e for e in self.events if e.method == "GET"]
        chosen = gets or self.events
        return chosen[0] if chosen else None


class _IgnoreTagsLoader(yaml.SafeLoader):  # type: ignore[misc,unused-ignore]
    """Safe loader that reads any !Tag (CloudFormation intrinsic) as an _Intrinsic."""


@dataclass(frozen=True)
class _Intrinsic:
    """A !Ref/!GetAtt/!Sub value: known only at deploy time, never passed to a handler."""

    value: Any


def _intrinsic(loader: yaml.SafeLoader, _suffix: str, node: yaml.Node) -> _Intrinsic:
    if isinstance(node, yaml.ScalarNode):
        return _Intrinsic(loader.construct_scalar(node))
    if isinstance(node, yaml.SequenceNode):
        return _Intrinsic(loader.construct_sequence(node, deep=True))
    return _Intrinsic(loader.construct_mapping(node, deep=True))  # type: ignore[arg-type,unused-ignore]


_IgnoreTagsLoader.add_multi_constructor("!", _intrinsic)


@dataclass(frozen=True)
class _Declared:
    logical_id: str
    code_uri: Path
    handler: str
    environment: dict[str, str]
    kind: Kind


def _kind(is_authorizer: bool, has_routes: bool) -> Kind:
    if is_authorizer:
        return "authorizer"
    return "http" if has_routes else "other"


def _declared_with_project_loader(template: Path) -> list[_Declared]:
    from convoship_dev.template import load_template

    parsed = load_template(template)
    authorizer_ids = {a.function_logical_id for a in parsed.authorizers.values()}
    return [
        _Declared(
            fn.logical_id,
            fn.code_uri,
            fn.handler,
            dict(fn.environment),
            _kind(fn.logical_id in authorizer_ids, bool(fn.routes)),
        )
        for fn in parsed.functions.values()
    ]


def _declared_with_plain_yaml(template: Path) -> list[_Declared]:
    doc = yaml.load(template.read_text(encoding="utf-8"), Loader=_IgnoreTagsLoader)  # noqa: S506
    resources: dict[str, Any] = doc.get("Resources") or {}
    fn_globals = (doc.get("Globals") or {}).get("Function") or {}
    authorizer_ids = set()
    for res in resources.values():
        auth = (res.get("Properties") or {}).get("Auth") or {}
        for spec in (auth.get("Authorizers") or {}).values():
            arn = spec.get("FunctionArn")  # !GetAtt X.Arn
            if isinstance(arn, _Intrinsic) and isinstance(arn.value, str):
                authorizer_ids.add(arn.value.split(".")[0])
    out = []
    for logical_id, res in resources.items():
        props = res.get("Properties") or {}
        code_uri, handler = props.get("CodeUri"), props.get("Handler")
        if res.get("Type") != "AWS::Serverless::Function":
            continue
        if not isinstance(code_uri, str) or not isinstance(handler, str):
            continue
        env = {
            **((fn_globals.get("Environment") or {}).get("Variables") or {}),
            **((props.get("Environment") or {}).get("Variables") or {}),
        }
        events = (props.get("Events") or {}).values()
        has_routes = any((event or {}).get("Type") == "HttpApi" for event in events)
        out.append(
            _Declared(
                logical_id,
                (template.parent / code_uri).resolve(),
                handler,
                {k: str(v) for k, v in env.items() if isinstance(v, str | int | float)},
                _kind(logical_id in authorizer_ids, has_routes),
            )
        )
    return out


def _declared(template: Path) -> list[_Declared]:
    try:
        return _declared_with_project_loader(template)
    except Exception:  # that module is young: fall back to plain YAML
        return _declared_with_plain_yaml(template)


def discover(root: Path = PROJECT_ROOT) -> list[Function]:
    """The template's functions with local code, authorizers first, each with its events."""
    functions = []
    for d in _declared(root / "template.yaml"):
        events_dir = root / "events" / d.code_uri.name
        events = [
            EventFile(path, json.loads(path.read_text(encoding="utf-8")))
            for path in sorted(events_dir.glob("*.json"))
        ]
        functions.append(
            Function(d.logical_id, d.code_uri, d.handler, d.kind, d.environment, events)
        )
    return sorted(functions, key=lambda f: (f.kind != "authorizer", f.name))


def function_folders(root: Path = PROJECT_ROOT) -> set[str]:
    """CodeUri folder names of the template's functions (publish, chat, ...)."""
    return {fn.name for fn in discover(root)}


class LambdaContext:
    """The attributes handlers and Powertools read from a Lambda context."""

    def __init__(self, function_name: str, memory_mb: int = 1024) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = "bench-00000000-0000-4000-8000-000000000000"
        self.invoked_function_arn = (
            f"arn:aws:lambda:us-east-1:123456789012:function:{function_name}"
        )
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "bench"
        self.client_context = None
        self.identity = None

    def get_remaining_time_in_millis(self) -> int:
        return 25_000
