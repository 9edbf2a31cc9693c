"""Keywords that would take a tool's input schema out of the metered validator.

Arguments are checked by a Draft 2020-12 validator that counts its steps
(runtime/tool_args.py). jsonschema hands a subschema to another validator class when it
declares `$schema`, and resolves references against a registry holding every metaschema:
`$id` can shadow a metaschema's URI, `$ref` to a metaschema's URI lands in a document whose
`$schema` switches class, `$anchor` / `$dynamicAnchor` / `$dynamicRef` (and Draft 2019-09's
`$recursiveRef` / `$recursiveAnchor`) resolve by URI and scope rather than by place, and
`$vocabulary` belongs in metaschemas. None of them is needed to describe a tool's arguments,
so they are refused everywhere in the document (at save, and again at call time for schemas
stored before this check), and so is `$schema` unless it names a JSON Schema draft at the
top (stripped there: the schema is validated as Draft 2020-12 whatever draft it names), and
a `$ref` that is not a JSON pointer into the document itself (`#` or `#/...`).

"Everywhere" includes values that are data to a validator (`enum`, `const`, `default`):
a `$ref` may point into them and make them a schema. Only the names of a name map
(`properties`, `$defs`, ...) whose value is a schema are names, not keywords: a tool may take
an argument called `$id`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

DRAFT_2020_12 = "https://json-schema.org/draft/2020-12/schema"
# The metaschema URIs of the JSON Schema drafts, as written with or without the empty
# fragment and over http or https: a top-level `$schema` naming one is stripped and the
# schema validated as Draft 2020-12 (tools saved with a Draft 7 or Draft 4 `$schema` keep
# working, as they always did); any other URI is refused.
_DRAFT_PATHS = (
    "json-schema.org/draft-03/schema",
    "json-schema.org/draft-04/schema",
    "json-schema.org/draft-06/schema",
    "json-schema.org/draft-07/schema",
    "json-schema.org/draft/2019-09/schema",
    "json-schema.org/draft/2020-12/schema",
)
_DIALECTS = frozenset(
    f"{scheme}://{path}{fragment}"
    for scheme in ("http", "https")
    for path in _DRAFT_PATHS
    for fragment in ("", "#")
)
_REFUSED = frozenset(
    {
        "$id",
        "$anchor",
        "$dynamicAnchor",
        "$dynamicRef",
        "$recursiveRef",
        "$recursiveAnchor",
        "$vocabulary",
    }
)
# Objects whose keys are names (of properties, definitions), each mapped to a schema.
_NAME_MAPS = frozenset(
    {"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"}
)


def pointer_token(key: str | int) -> str:
    """One reference token of a JSON pointer (RFC 6901)."""
    return str(key).replace("~", "~0").replace("/", "~1")


def refused_keyword(schema: Any) -> str | None:
    """Why schema cannot be validated by the metered validator, naming the keyword and its
    JSON pointer; None when no keyword stands in the way. Iterative: safe on any depth."""
    refs: list[tuple[str, str]] = []
    todo: list[tuple[Any, str, bool]] = [(schema, "", False)]
    while todo:
        value, at, names = todo.pop()
        if isinstance(value, list):
            todo += [(item, f"{at}/{i}", False) for i, item in enumerate(value)]
            continue
        if not isinstance(value, dict):
            continue
        for key, item in value.items():
            where = f"{at}/{pointer_token(key)}"
            if names and isinstance(item, dict | bool):
                todo.append((item, where, False))  # a name, mapped to a schema
                continue
            problem = _keyword_problem(key, item, where)
            if problem is not None:
                return problem
            if key == "$ref" and isinstance(item, str):
                refs.append((item, where))
            todo.append((item, where, key in _NAME_MAPS))
    for ref, where in refs:
        if _lands_on_names(schema, ref):
            return (
                f"$ref at {where} points at a map of names ({ref}), not at a schema: its names"
                " would be read as keywords"
            )
    return None


def _lands_on_names(schema: Any, ref: str) -> bool:
    """Whether a local reference resolves to a name map itself (`#/properties`), whose keys
    (a property called `$schema`, say) a validator would then read as keywords. Resolved as
    the validator's resolver (referencing) does: the pointer percent-decoded before it is
    split, array indexes read by int() (so `-1` and `+1` count), then `~1` and `~0`."""
    if ref[:2] != "#/":
        return False
    value, names = schema, False
    for segment in unquote(ref[2:]).split("/"):
        if isinstance(value, list):
            try:
                value, names = value[int(segment)], False
            except (ValueError, IndexError):
                return False  # unresolvable: refused elsewhere as a broken reference
        elif isinstance(value, dict):
            token = segment.replace("~1", "/").replace("~0", "~")
            if token not in value:
                return False
            value, names = value[token], (not names and token in _NAME_MAPS)
        else:
            return False
    return names


def _keyword_problem(key: str, value: Any, where: str) -> str | None:
    if key in _REFUSED:
        return (
            f"{key} is not allowed in a tool's input schema (at {where}): use local"
            " references (#/$defs/...) instead"
        )
    if key == "$schema" and (
        where != "/$schema" or not (isinstance(value, str) and value in _DIALECTS)
    ):
        return (
            f"$schema is only allowed at the top level, naming a JSON Schema draft such as"
            f" {DRAFT_2020_12} (at {where}): the schema is validated as Draft 2020-12"
        )
    if key == "$ref" and isinstance(value, str) and not (value == "#" or value[:2] == "#/"):
        return f"$ref at {where}: only local references (# or #/...) are allowed, not {value!r}"
    return None
