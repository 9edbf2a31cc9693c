"""Pydantic validation turned into the domain's ValidationFailed (loc/msg pairs)."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from convoship.core.errors import PayloadTooLarge, ValidationFailed

ModelT = TypeVar("ModelT", bound=BaseModel)


def validation_failed(exc: ValidationError, loc: tuple[str | int, ...]) -> ValidationFailed:
    errors = [
        {"loc": [*loc, *err["loc"]], "msg": str(err["msg"])}
        for err in exc.errors(include_url=False)
    ]
    where = ".".join(str(part) for part in loc[1:]) or "body"
    return ValidationFailed(f"{where} is not valid", errors)


def validate_as(model: type[ModelT], data: Any, loc: tuple[str | int, ...]) -> ModelT:
    """model validated from data; failures are reported under loc (e.g. ("body", "config"))."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise validation_failed(exc, loc) from None


MAX_JSON_DEPTH = 32


def utc_time(value: datetime, loc: tuple[str | int, ...], msg: str) -> datetime:
    """The instant in UTC (a naive time taken as UTC), as times are sent to the database:
    PostgreSQL takes no offset past 15:59. A time before year 1 or past 9999 in UTC is
    ValidationFailed at loc, not the database's refusal."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValidationFailed.at(loc, msg) from None


def json_size(value: Any) -> int:
    """Bytes of value as compact JSON (what the database stores, give or take)."""
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def json_depth_exceeds(value: Any, limit: int) -> bool:
    """Whether value nests objects and arrays more than limit levels deep (iterative: safe
    on any depth Python could parse)."""
    level: list[Any] = [value]
    for _ in range(limit + 1):
        level = [
            child
            for item in level
            if isinstance(item, dict | list)
            for child in (item.values() if isinstance(item, dict) else item)
        ]
        if not level:
            return False
    return True


def _storable_problem(value: Any, depth: int = 0) -> str | None:
    """Why PostgreSQL's jsonb would refuse value (or a response could not render it)."""
    if depth > MAX_JSON_DEPTH:
        return f"nests deeper than {MAX_JSON_DEPTH} levels"
    if isinstance(value, str):
        return "contains a NUL character" if "\x00" in value else None
    if isinstance(value, float):
        return None if math.isfinite(value) else "contains a non-finite number"
    if isinstance(value, dict):
        for key, item in value.items():
            problem = _storable_problem(key, depth + 1) or _storable_problem(item, depth + 1)
            if problem:
                return problem
    elif isinstance(value, list):
        for item in value:
            problem = _storable_problem(item, depth + 1)
            if problem:
                return problem
    return None


def check_json_document(
    value: Any, limit: int, loc: tuple[str | int, ...], *, status: int = 422
) -> None:
    """Refuse free-form JSON that cannot be stored as given: NUL characters, NaN/Infinity,
    nesting deeper than MAX_JSON_DEPTH (422), or more than limit bytes (413 when status is
    413, else 422)."""
    where = ".".join(str(p) for p in loc[1:]) or "body"
    problem = _storable_problem(value)
    if problem:
        raise ValidationFailed.at(loc, f"{where} {problem}")
    size = json_size(value)
    if size <= limit:
        return
    msg = f"{where} is {size} bytes; the limit is {limit}"
    if status == 413:
        raise PayloadTooLarge(msg, limit_bytes=limit)
    raise ValidationFailed.at(loc, msg)
