"""Pydantic validation turned into the domain's ValidationFailed (loc/msg pairs)."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from convoship.errors import PayloadTooLarge, ValidationFailed

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


def json_size(value: Any) -> int:
    """Bytes of value as compact JSON (what the database stores, give or take)."""
    return len(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def check_json_size(
    value: Any, limit: int, loc: tuple[str | int, ...], *, status: int = 422
) -> None:
    """Refuse value above limit bytes: 413 payload-too-large when status is 413, else 422."""
    size = json_size(value)
    if size <= limit:
        return
    msg = f"{'.'.join(str(p) for p in loc[1:])} is {size} bytes; the limit is {limit}"
    if status == 413:
        raise PayloadTooLarge(msg, limit_bytes=limit)
    raise ValidationFailed.at(loc, msg)
