"""A paging cursor is opaque to clients and hostile when it comes back: anything but one
this service made is the 422 on `cursor`, never a 500 (an attack review found `["...", 5]`
reaching `UUID(5)`: AttributeError, a 500 on every paged route)."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from convoship.core.errors import ValidationFailed
from convoship.db.paging import decode_cursor, encode_cursor


def _cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def test_a_cursor_this_service_made_comes_back_whole() -> None:
    at, row_id = datetime(2026, 12, 2, 12, 0, 0, 123456, tzinfo=UTC), uuid.uuid4()
    assert decode_cursor(encode_cursor(at, row_id)) == (at, row_id)
    east = datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=14)))
    assert decode_cursor(encode_cursor(east, row_id)) == (east, row_id)


HOSTILE = [
    _cursor(["2026-01-01T00:00:00", 5]),
    _cursor(["2026-01-01T00:00:00", []]),
    _cursor(["2026-01-01T00:00:00", {}]),
    _cursor(["2026-01-01T00:00:00", None]),
    _cursor([5, str(uuid.uuid4())]),
    _cursor([["2026"], str(uuid.uuid4())]),
    _cursor(["2026-01-01T00:00:00", "not a uuid"]),
    _cursor(["yesterday", str(uuid.uuid4())]),
    _cursor(["0001-01-01T00:00:00+23:59", str(uuid.uuid4())]),  # year 0 in UTC
    _cursor(["9999-12-31T23:59:59-23:59", str(uuid.uuid4())]),  # year 10000 in UTC
    _cursor(["2026-01-01T00:00:00", str(uuid.uuid4()), "third"]),
    _cursor({"at": "2026-01-01T00:00:00"}),
    _cursor("2026-01-01T00:00:00"),
    _cursor(5),
    _cursor(None),
    base64.urlsafe_b64encode(b"\xff\xfe not json").decode(),
    "not base64 at all!",
    "",
    "=",
]


@pytest.mark.parametrize("cursor", HOSTILE)
def test_anything_else_is_the_422_on_cursor(cursor: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        decode_cursor(cursor)
    assert refused.value.errors == [{"loc": ["query", "cursor"], "msg": "cursor is not valid"}]
