"""json_response appends a route's headers to the raw list itself (not through Starlette's
MutableHeaders, one scan per name): the same headers, in the same order, as Starlette's."""

from __future__ import annotations

import pytest
from fastapi import Response
from pydantic import BaseModel

from convoship.http.responses import json_response


class _Body(BaseModel):
    reply: str


HEADERS: list[dict[str, str]] = [
    {},
    {"X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "59"},
    {"Vary": "Origin", "Access-Control-Allow-Origin": "https://a.example"},
    {"X-A": "1", "x-a": "2", "X-B": "3"},  # one name twice: the later value, at the first place
    {"X-A": "1", "Content-Type": "text/plain", "X-B": "2"},  # replaces FastAPI's own
    {"content-length": "1", "X-C": "é"},
    {"CONTENT-TYPE": "text/plain", "Content-Length": "2"},  # case variants of FastAPI's own
    {"\u212a-A": "1", "k-a": "2"},  # the Kelvin sign lowercases to `k`: one name twice
    {"X-\u00c9": "\u00ff\u00a0", "x-\u00e9": "\u00e9"},  # latin-1 letters, their lowercase
    {"X-Empty": "", "X-Space": " padded "},
]


def _starlette(headers: dict[str, str]) -> Response:
    response = Response(b'{"reply":"hi"}', media_type="application/json")
    response.headers.update(headers)
    return response


@pytest.mark.parametrize("headers", HEADERS)
def test_headers_and_body_are_starlettes(headers: dict[str, str]) -> None:
    ours, theirs = json_response(_Body, {"reply": "hi"}, headers), _starlette(headers)
    assert ours.raw_headers == theirs.raw_headers
    assert ours.body == theirs.body


def test_route_headers_follow_content_length_and_type() -> None:
    response = json_response(_Body, {"reply": "hi"}, {"X-RateLimit-Limit": "60", "Z": "1"})
    assert [name for name, _ in response.raw_headers] == [
        b"content-length",
        b"content-type",
        b"x-ratelimit-limit",
        b"z",
    ]


def test_a_header_value_latin1_cannot_carry_is_refused_as_starlette_refuses_it() -> None:
    with pytest.raises(UnicodeEncodeError):
        _starlette({"X-A": "✓"})
    with pytest.raises(UnicodeEncodeError):
        json_response(_Body, {"reply": "hi"}, {"X-A": "✓"})
