"""What to measure: the functions in template.yaml and their events/<folder>/*.json files.

A function is picked up when its CodeUri is a local folder; its events are the JSON files in
events/<CodeUri folder name>/. The template is read by convoship_dev.template, as the local
runner reads it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from convoship_dev.services import PROJECT_ROOT
from convoship_dev.template import FunctionSpec, load_template

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
    def is_custom_resource_request(self) -> bool:
        """CloudFormation's request at deploy time (the migrate function's events)."""
        return "RequestType" in self.payload and "ResponseURL" in self.payload

    @property
    def is_http_request(self) -> bool:
        return self.method is not None and self.payload.get("type") != "REQUEST"


@dataclass
class Function:
    spec: FunctionSpec
    kind: Kind
    events: list[EventFile] = field(default_factory=list)

    @property
    def logical_id(self) -> str:
        return self.spec.logical_id

    @property
    def code_uri(self) -> Path:
        return self.spec.code_uri

    @property
    def handler(self) -> str:
        return self.spec.handler

    @property
    def environment(self) -> dict[str, str]:
        return self.spec.environment

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


def discover(root: Path = PROJECT_ROOT) -> list[Function]:
    """The template's functions with local code, authorizers first, each with its events."""
    template = load_template(root / "template.yaml")
    authorizer_ids = {a.function_logical_id for a in template.authorizers.values()}
    functions = []
    for spec in template.functions.values():
        kind: Kind = (
            "authorizer"
            if spec.logical_id in authorizer_ids
            else "http"
            if spec.routes
            else "other"
        )
        events_dir = root / "events" / spec.code_uri.name
        events = [
            EventFile(path, json.loads(path.read_text(encoding="utf-8")))
            for path in sorted(events_dir.glob("*.json"))
        ]
        if events and all(e.is_custom_resource_request for e in events):
            continue  # runs once per deploy, on no request path: nothing to measure
        functions.append(Function(spec, kind, events))
    return sorted(functions, key=lambda f: (f.kind != "authorizer", f.name))


def function_folders(root: Path = PROJECT_ROOT) -> set[str]:
    """CodeUri folder names of the template's functions (publish, chat, ...)."""
    return {fn.name for fn in discover(root)}
