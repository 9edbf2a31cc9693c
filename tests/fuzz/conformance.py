"""Does an answer agree with the OpenAPI document? The status must be documented for the
operation the gateway routed the request to, the content type documented for that status,
and the body valid against its schema; and a request drawn valid by the document must not
be refused as not matching the schema (the server and the document disagree)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft202012Validator

from convoship.http.problems import SCHEMA_MISMATCH
from convoship_dev.router import Router
from tests.fuzz.calls import Request
from tests.support.api_client import ApiResponse


@dataclass(repr=False)
class Conformance:
    document: dict[str, Any]
    router: Router
    _validators: dict[int, Draft202012Validator] = field(default_factory=dict)

    def __repr__(self) -> str:  # hypothesis prints the test's arguments on a failure
        return f"Conformance({len(self.document['paths'])} paths)"

    def _validator(self, schema: dict[str, Any]) -> Draft202012Validator:
        key = id(schema)
        if key not in self._validators:
            root = {**schema, "components": self.document["components"]}
            self._validators[key] = Draft202012Validator(
                root, format_checker=Draft202012Validator.FORMAT_CHECKER
            )
        return self._validators[key]

    def check(self, response: ApiResponse, request: Request) -> str:
        """Raise AssertionError on a disagreement; return the operation answered."""
        where = f"{response.status} for {request.describe()}\n{response.body[:500]!r}"
        match = self.router.match(request.method, request.target.partition("?")[0])
        if match is None:  # the gateway routes it nowhere
            assert response.status == 404, where
            assert json.loads(response.body) == {"message": "Not Found"}, where
            return "(no route)"
        key = match.route.key
        operation = self.document["paths"][match.route.path][request.method.lower()]
        documented = operation["responses"].get(str(response.status))
        assert documented is not None, f"undocumented status for {key}: {where}"
        if "$ref" in documented:  # an error response the document shares between routes
            documented = self.document["components"]["responses"][
                documented["$ref"].rsplit("/", 1)[-1]
            ]
        media = response.headers.get("content-type", "").split(";")[0].strip()
        content = documented.get("content") or {}
        if not content:
            assert not media and not response.body, f"{key} documents no body: {where}"
            return key
        assert media in content, f"undocumented content type {media!r} for {key}: {where}"
        body = json.loads(response.body)
        validator = self._validator(content[media]["schema"])
        errors = [
            f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
            for e in validator.iter_errors(body)
        ]
        assert not errors, f"{key} answered against its schema ({errors[:3]}): {where}"
        if request.conforming and response.status == 422:
            assert body.get("detail") != SCHEMA_MISMATCH, (
                f"valid by the document, refused as not matching the schema by {key}: {where}"
            )
        return key
