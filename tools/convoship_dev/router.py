"""API Gateway HTTP API route selection: most specific route wins, then $default.

Precedence, as documented for HTTP APIs: a full match of method and path beats a match
through a greedy path variable ({proxy+}), which beats the $default route. Among full
matches, literal segments beat {param} segments, compared left to right; for the same
path, an explicit method beats ANY. A {param} never matches an empty segment and a
{proxy+} needs at least one segment. A single trailing slash on the request is ignored.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote

from convoship_dev.template import DEFAULT_ROUTE, FunctionSpec, RouteSpec, Template

_LITERAL, _PARAM, _GREEDY = 2, 1, 0


@dataclass(frozen=True)
class Match:
    """A selected route, the function behind it and the decoded path parameters."""

    route: RouteSpec
    function: FunctionSpec
    path_parameters: dict[str, str]


@dataclass(frozen=True)
class _Segment:
    """One segment of a route path: a literal, a {param} or a greedy {param+}."""

    kind: int
    value: str  # the literal text, or the parameter name


def _split(path: str) -> list[str]:
    """Split a path into segments; "/" has none."""
    stripped = path.removeprefix("/")
    return stripped.split("/") if stripped else []


def _parse(path: str) -> list[_Segment]:
    """Parse a route path into segments, checking a greedy variable comes last."""
    segments: list[_Segment] = []
    parts = _split(path)
    for i, part in enumerate(parts):
        if part.startswith("{") and part.endswith("}"):
            name = part[1:-1]
            if name.endswith("+"):
                if i != len(parts) - 1:
                    raise ValueError(f"greedy path variable must be last: {path}")
                segments.append(_Segment(_GREEDY, name[:-1]))
            else:
                segments.append(_Segment(_PARAM, name))
        else:
            segments.append(_Segment(_LITERAL, part))
    return segments


def _match_path(
    segments: list[_Segment], request: list[str]
) -> tuple[tuple[int, ...], dict[str, str]] | None:
    """Match request segments (still percent-encoded) against a parsed route path."""
    params: dict[str, str] = {}
    ranks: list[int] = []
    for i, seg in enumerate(segments):
        if seg.kind == _GREEDY:
            rest = request[i:]
            if not rest or not "/".join(rest):
                return None
            params[seg.value] = unquote("/".join(rest))
            ranks.append(_GREEDY)
            return tuple(ranks), params
        if i >= len(request):
            return None
        if seg.kind == _LITERAL:
            if unquote(request[i]) != seg.value:
                return None
        else:
            if not request[i]:
                return None
            params[seg.value] = unquote(request[i])
        ranks.append(seg.kind)
    if len(request) != len(segments):
        return None
    return tuple(ranks), params


class Router:
    """Selects the route for a request among a template's HttpApi routes."""

    def __init__(self, routes: Iterable[tuple[RouteSpec, FunctionSpec]]) -> None:
        """Index routes in declaration order; the $default route is kept apart."""
        self._routes: list[tuple[RouteSpec, FunctionSpec, list[_Segment]]] = []
        self._default: tuple[RouteSpec, FunctionSpec] | None = None
        for route, fn in routes:
            if route.path == DEFAULT_ROUTE:
                self._default = self._default or (route, fn)
            else:
                self._routes.append((route, fn, _parse(route.path)))

    @classmethod
    def from_template(cls, template: Template) -> Router:
        """Build a router over every HttpApi route of every function."""
        return cls((r, fn) for fn in template.functions.values() for r in fn.routes)

    def match(self, method: str, raw_path: str) -> Match | None:
        """Select the route for method and raw (percent-encoded) path, or None (404)."""
        method = method.upper()
        path = raw_path.split("?", 1)[0] or "/"
        if len(path) > 1 and path.endswith("/"):
            path = path[:-1]
        request = _split(path)
        best: tuple[tuple[int, tuple[int, ...], int], Match] | None = None
        for route, fn, segments in self._routes:
            if route.method not in (method, "ANY"):
                continue
            matched = _match_path(segments, request)
            if matched is None:
                continue
            ranks, params = matched
            greedy = bool(segments) and segments[-1].kind == _GREEDY
            key = (0 if greedy else 1, ranks, 1 if route.method == method else 0)
            if best is None or key > best[0]:
                best = (key, Match(route, fn, params))
        if best is not None:
            return best[1]
        if self._default is not None:
            return Match(self._default[0], self._default[1], {})
        return None
