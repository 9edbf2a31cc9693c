"""Keyset paging, newest first, on (a timestamp, id): opaque cursors and the page cut.

A query asks for `limit + 1` rows after the cursor's position; `page_of` keeps `limit` and
makes the cursor of the next page from the last row kept (None on the last page).
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Any
from uuid import UUID

from convoship.core.errors import ValidationFailed
from convoship.core.validation import utc_time

Page = tuple[list[dict[str, Any]], str | None]
_CURSOR = ("query", "cursor")
_NOT_A_CURSOR = "cursor is not valid"


def encode_cursor(at: datetime, row_id: UUID) -> str:
    raw = json.dumps([at.isoformat(), str(row_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    """The (timestamp, id) a cursor points after; 422 on `cursor` when it is not one."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        at, row_id = json.loads(raw)
        if not (isinstance(at, str) and isinstance(row_id, str)):
            raise TypeError("a cursor is two strings")  # UUID(5) raises AttributeError
        when, row = datetime.fromisoformat(at), UUID(row_id)
    except (binascii.Error, ValueError, TypeError, RecursionError):
        raise ValidationFailed.at(_CURSOR, _NOT_A_CURSOR) from None
    return utc_time(when, _CURSOR, _NOT_A_CURSOR), row


def page_of(rows: list[dict[str, Any]], limit: int, time_column: str) -> Page:
    """rows fetched with LIMIT limit + 1: the page and the cursor of the next one."""
    if len(rows) <= limit:
        return rows, None
    page = rows[:limit]
    return page, encode_cursor(page[-1][time_column], page[-1]["id"])
