"""API Gateway HTTP API route selection in the local runner."""

from __future__ import annotations

from pathlib import Path

import pytest

from convoship_dev.router import Router
from convoship_dev.template import FunctionSpec, RouteSpec, Template


def _router(*keys: str) -> Router:
    """A router whose function for each route is named after the route key."""
    routes = []
    for key in keys:
        method, _, path = key.partition(" ")
        route = RouteSpec(method="ANY", path="$default") if key == "$default" else None
        route = route or RouteSpec(method=method, path=path)
        routes.append((route, FunctionSpec(key, Path("/nowhere"), "m.h")))
    return Router(routes)


def _selected(router: Router, method: str, path: str) -> str | None:
    match = router.match(method, path)
    return None if match is None else match.function.logical_id


def test_aws_documented_example() -> None:
    router = _router("GET /pets/dog/{id}", "GET /pets/{proxy+}", "ANY /{proxy+}", "$default")
    assert _selected(router, "GET", "/pets/dog/1") == "GET /pets/dog/{id}"
    assert _selected(router, "GET", "/pets/cat/1") == "GET /pets/{proxy+}"
    assert _selected(router, "POST", "/test/5") == "ANY /{proxy+}"
    assert _selected(router, "GET", "/") == "$default"


def test_literal_beats_parameter() -> None:
    router = _router("GET /pets/{id}", "GET /pets/dog")
    assert _selected(router, "GET", "/pets/dog") == "GET /pets/dog"
    match = router.match("GET", "/pets/cat")
    assert match is not None
    assert match.function.logical_id == "GET /pets/{id}"
    assert match.path_parameters == {"id": "cat"}


def test_leftmost_literal_wins() -> None:
    router = _router("GET /a/{x}/c", "GET /a/b/{y}")
    assert _selected(router, "GET", "/a/b/c") == "GET /a/b/{y}"
    assert _selected(router, "GET", "/a/z/c") == "GET /a/{x}/c"


def test_parameter_beats_greedy_and_greedy_takes_the_rest() -> None:
    router = _router("GET /pets/{proxy+}", "GET /pets/{id}")
    assert _selected(router, "GET", "/pets/1") == "GET /pets/{id}"
    match = router.match("GET", "/pets/1/toys/2")
    assert match is not None
    assert match.function.logical_id == "GET /pets/{proxy+}"
    assert match.path_parameters == {"proxy": "1/toys/2"}


def test_greedy_needs_at_least_one_segment() -> None:
    router = _router("GET /pets/{proxy+}")
    assert router.match("GET", "/pets") is None
    assert router.match("GET", "/pets/") is None
    assert _selected(router, "GET", "/pets/x") == "GET /pets/{proxy+}"


def test_longer_greedy_prefix_wins() -> None:
    router = _router("ANY /{proxy+}", "ANY /v1/{proxy+}")
    assert _selected(router, "GET", "/v1/x") == "ANY /v1/{proxy+}"
    assert _selected(router, "GET", "/v2/x") == "ANY /{proxy+}"


def test_exact_method_beats_any_for_the_same_path() -> None:
    router = _router("ANY /items", "GET /items")
    assert _selected(router, "GET", "/items") == "GET /items"
    assert _selected(router, "DELETE", "/items") == "ANY /items"


def test_method_mismatch_is_not_found() -> None:
    router = _router("GET /v1/secrets", "DELETE /v1/secrets/{name}")
    assert router.match("POST", "/v1/secrets") is None
    assert router.match("GET", "/v1/secrets/x") is None
    assert router.match("HEAD", "/v1/secrets") is None


def test_method_mismatch_falls_to_default_route() -> None:
    router = _router("GET /v1/secrets", "$default")
    match = router.match("POST", "/v1/secrets")
    assert match is not None
    assert match.route.key == "$default"
    assert match.path_parameters == {}


def test_parameter_never_matches_an_empty_segment() -> None:
    router = _router("DELETE /v1/secrets/{name}")
    assert router.match("DELETE", "/v1/secrets/") is None
    assert router.match("DELETE", "/v1/secrets") is None
    assert router.match("DELETE", "/v1/secrets/a/b") is None


def test_trailing_slash_and_query_are_ignored() -> None:
    router = _router("GET /v1/secrets")
    assert _selected(router, "GET", "/v1/secrets/") == "GET /v1/secrets"
    assert _selected(router, "GET", "/v1/secrets?limit=5") == "GET /v1/secrets"
    assert _selected(router, "get", "/v1/secrets") == "GET /v1/secrets"


def test_path_parameters_are_url_decoded_within_their_segment() -> None:
    router = _router("DELETE /v1/secrets/{name}", "GET /files/{path+}")
    match = router.match("DELETE", "/v1/secrets/api%20key")
    assert match is not None and match.path_parameters == {"name": "api key"}
    match = router.match("DELETE", "/v1/secrets/a%2Fb")
    assert match is not None and match.path_parameters == {"name": "a/b"}
    match = router.match("DELETE", "/v1/secrets/a+b")
    assert match is not None and match.path_parameters == {"name": "a+b"}
    match = router.match("GET", "/files/dir/na%C3%AFve.txt")
    assert match is not None and match.path_parameters == {"path": "dir/naïve.txt"}


def test_root_route() -> None:
    router = _router("GET /", "GET /{id}")
    assert _selected(router, "GET", "/") == "GET /"
    assert _selected(router, "GET", "/x") == "GET /{id}"


def test_greedy_variable_must_be_last() -> None:
    with pytest.raises(ValueError, match="greedy"):
        _router("GET /{proxy+}/x")


def test_no_routes_no_match() -> None:
    assert _router().match("GET", "/") is None


def test_from_template_indexes_every_function() -> None:
    a = FunctionSpec("A", Path("/a"), "m.h", routes=[RouteSpec("GET", "/a", "Jwt")])
    b = FunctionSpec("B", Path("/b"), "m.h", routes=[RouteSpec("POST", "/b/{id}")])
    router = Router.from_template(Template(path=Path("t.yaml"), functions={"A": a, "B": b}))
    match = router.match("GET", "/a")
    assert match is not None and match.function is a and match.route.authorizer == "Jwt"
    match = router.match("POST", "/b/7")
    assert match is not None and match.function is b and match.path_parameters == {"id": "7"}
