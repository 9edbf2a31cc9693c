"""The audit_log hash chain: its canonical encoding and row hash, written here in Python.

The database computes the encoding when a row is inserted (`audit_canonical` in migration
0007, called by the `audit_log_chain` trigger). Verification does not call that function (the
owner of the database it checks could replace it): it sends CANONICAL_SQL, the same encoding
written with built-in functions only, recomputes each hash from that text and checks every
link. `canonical` writes it once more in Python; tests hold all three equal on hostile data.

Canonical encoding, version 1: a JSON array with no whitespace between its elements,

    ["convoship-audit-v1", workspace_id, seq, occurred_at, actor_type, actor_id, action,
     resource_type, resource_id, agent_id, agent_slug, request_id, before_state,
     after_state, prev_hash]

seq a JSON integer; occurred_at "YYYY-MM-DDTHH:MM:SS.ffffffZ" (UTC, microseconds); ids as
lowercase UUID strings; text as JSON strings (`"`, `\\` and U+0000..U+001F escaped, all else
as is); the states as PostgreSQL's jsonb text (its canonical form: keys ordered, `", "` and
`": "` separators); SQL NULL as null. hash = lowercase hex SHA-256 of the UTF-8 bytes. The
first row's prev_hash is 64 zeros.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from json.encoder import encode_basestring
from typing import Any

VERSION_TAG = '"convoship-audit-v1"'
GENESIS = "0" * 64

# Read the stored fields so that they encode as the database encoded them: ids as text, the
# states as their jsonb text (never parsed and re-serialised).
CHAIN_COLUMNS = (
    "seq, workspace_id::text AS workspace_id, occurred_at, actor_type, actor_id, action,"
    " resource_type, resource_id, agent_id::text AS agent_id, agent_slug, request_id,"
    " before_state::text AS before_state, after_state::text AS after_state, prev_hash, hash"
)


def _json_text(column: str) -> str:
    return f"COALESCE(to_json({column})::text, 'null')"


# The canonical encoding of an audit_log row, built-in functions only (verification's copy).
CANONICAL_SQL = (
    " || ',' || ".join(
        (
            "'[\"convoship-audit-v1\"'",
            _json_text("workspace_id::text"),
            "seq::text",
            _json_text(
                "to_char(occurred_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')"
            ),
            _json_text("actor_type"),
            _json_text("actor_id"),
            _json_text("action"),
            _json_text("resource_type"),
            _json_text("resource_id"),
            _json_text("agent_id::text"),
            _json_text("agent_slug"),
            _json_text("request_id"),
            "COALESCE(before_state::text, 'null')",
            "COALESCE(after_state::text, 'null')",
            _json_text("prev_hash"),
        )
    )
    + " || ']'"
)


def _text(value: str | None) -> str:
    return "null" if value is None else str(encode_basestring(value))


def _timestamp(value: datetime) -> str:
    return '"' + value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ") + '"'


def canonical(row: dict[str, Any]) -> str:
    """The canonical encoding of an audit_log row read with CHAIN_COLUMNS."""
    return ",".join(
        (
            "[" + VERSION_TAG,
            _text(row["workspace_id"]),
            str(int(row["seq"])),
            _timestamp(row["occurred_at"]),
            _text(row["actor_type"]),
            _text(row["actor_id"]),
            _text(row["action"]),
            _text(row["resource_type"]),
            _text(row["resource_id"]),
            _text(row["agent_id"]),
            _text(row["agent_slug"]),
            _text(row["request_id"]),
            row["before_state"] if row["before_state"] is not None else "null",
            row["after_state"] if row["after_state"] is not None else "null",
            _text(row["prev_hash"]) + "]",
        )
    )


def row_hash(row: dict[str, Any]) -> str:
    """SHA-256 (hex) of the row's canonical encoding: what its `hash` column must hold."""
    return hashlib.sha256(canonical(row).encode()).hexdigest()
