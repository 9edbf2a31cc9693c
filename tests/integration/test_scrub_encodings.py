"""A tool that answers in UTF-16 or UTF-32 (with or without a byte order mark, declared by
its charset or not), or as ASCII with a NUL byte after each character, cannot carry a secret
value past the scrubber: the body is scrubbed as bytes at any alignment, read in its own
encoding, and every view reads past NUL and U+FFFD (a JSON escape, percent-encoding or an
HTML reference under a false charset too). A value the size cap splits goes whole, in
UTF-16 and UTF-32 as in UTF-8.

A loopback tool answers with the value it was sent, spelled and encoded as the model asks.
"""

from __future__ import annotations

import codecs
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from psycopg.types.json import Jsonb

from convoship.core import constants as env
from convoship.core.settings import reset_settings
from convoship.runtime.tool_calls import MAX_RESPONSE_CHARS
from tests.support.agents import SLUG, Conn, Token, create_agent
from tests.support.api_client import ApiClient
from tests.support.chat import chat, transcript
from tests.support.http_servers import RecordingServer, Seen

VALUE = "Sk-Live-Se7cret-Kx42ab"
PAGE = '{"echo": "%s", "status": "ok"}'


def _between(after: bytes) -> Callable[[str], bytes]:
    return lambda text: b"".join(c.encode() + after for c in text)


def _codec(encoding: str, prefix: bytes = b"") -> Callable[[str], bytes]:
    return lambda text: prefix + text.encode(encoding)


# name: (how the page is encoded, its content type)
ENCODED: dict[str, tuple[Callable[[str], bytes], str]] = {
    "utf-16-le": (_codec("utf-16-le"), "application/json"),
    "utf-16-be": (_codec("utf-16-be"), "application/json"),
    "utf-16-le-declared": (_codec("utf-16-le"), "application/json; charset=UTF-16LE"),
    "utf-16-be-declared": (_codec("utf-16-be"), 'text/plain; charset="utf-16be"'),
    "utf-16-bom": (_codec("utf-16"), "application/json"),
    "utf-16-be-bom": (_codec("utf-16-be", codecs.BOM_UTF16_BE), "text/plain"),
    "utf-32": (_codec("utf-32"), "application/json"),
    "utf-32-le": (_codec("utf-32-le"), "application/json"),
    "utf-32-be-declared": (_codec("utf-32-be"), "application/json; charset=utf-32be"),
    "utf-16-after-an-odd-byte": (_codec("utf-16-le", b"x"), "text/plain"),
    "utf-16-declared-as-utf-8": (_codec("utf-16-le"), "text/plain; charset=utf-8"),
    "utf-16-after-an-odd-byte-declared-as-utf-8": (
        _codec("utf-16-le", b"x"),
        "text/plain; charset=utf-8",
    ),
    "utf-16-be-declared-as-latin-1": (_codec("utf-16-be"), "text/plain; charset=latin-1"),
    "utf-32-declared-as-latin-1": (_codec("utf-32-le"), "text/plain; charset=latin-1"),
    "utf-32-declared-as-utf-8": (_codec("utf-32-le"), "text/plain; charset=utf-8"),
    "utf-8-declared-as-utf-16": (_codec("utf-8"), "text/plain; charset=utf-16"),
    "ascii-with-nuls": (_between(b"\0"), "text/plain"),
    "ascii-with-nuls-declared-utf-8": (_between(b"\0"), "text/plain; charset=utf-8"),
    "ascii-with-double-nuls": (_between(b"\0\0"), "text/plain; charset=utf-8"),
    "ascii-with-invalid-bytes": (_between(b"\xff"), "text/plain; charset=utf-8"),
    "a charset python cannot decode with": (_codec("utf-8"), "text/plain; charset=idna"),
    "a charset that is no text encoding": (_codec("utf-8"), "text/plain; charset=base64"),
}
# Pages over the size cap (named apart: the other tests take every name above)
CUT: dict[str, tuple[Callable[[str], bytes], str]] = {
    f"{name}-cut": (_codec(name), "text/plain") for name in ("utf-8", "utf-16-le", "utf-32-le")
}


def _json_escaped(text: str) -> str:
    return "".join(f"\\u{ord(c):04x}" for c in text)


# name: how the page spells the value it echoes
SPELLED: dict[str, Callable[[str], str]] = {
    "plain": lambda v: v,
    "first-json-escaped": lambda v: _json_escaped(v[0]) + v[1:],
    "json-escaped": _json_escaped,
    "first-percent-encoded": lambda v: f"%{ord(v[0]):02X}" + v[1:],
    "first-html-reference": lambda v: f"&#{ord(v[0])};" + v[1:],
    "html-escaped-twice": lambda v: "".join(f"&amp;#{ord(c):08d};" for c in v),
}


def _respond(seen: Seen) -> tuple[int, bytes, str]:
    url = urlsplit(seen["path"])
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    encode, content_type = {**ENCODED, **CUT}[unquote(url.path).strip("/")]
    spelled = SPELLED[query.get("spelling", "plain")](seen["headers"]["X-Key"])
    if "before" not in query:
        return 200, encode(PAGE % spelled), content_type
    # A page over the size cap that cuts the value after `before` of its spelled characters
    unit = len(encode("a")) - len(encode(""))
    per_char = len(encode(SPELLED[query["spelling"]]("a"))) - len(encode(""))
    filler = "a" * ((MAX_RESPONSE_CHARS - int(query["before"]) * per_char) // unit)
    return 200, encode(filler + spelled + "b" * 4000), content_type


def spellings(value: str) -> list[str]:
    """The value as each encoding would leave it in text read the wrong way."""
    found = [value]
    for encoding in ("utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be"):
        found.append(value.encode(encoding).decode("latin-1"))
        found.append(value.encode(encoding).decode("latin-1").replace("\0", "\ufffd"))
    for between in ("\0", "\0\0", "\ufffd", "\ufffd\ufffd", "\ufffd\0"):
        found.append(between.join(value))
    return [s.lower() for s in found]


def leaked(text: str) -> list[str]:
    folded = text.lower()
    squeezed = folded.replace("\0", "").replace("\ufffd", "")
    return [s for s in spellings(VALUE) if s in folded] + (
        ["squeezed"] if VALUE.lower() in squeezed else []
    )


@pytest.fixture
def server() -> Iterator[RecordingServer]:
    running = RecordingServer(_respond)
    yield running
    running.stop()


@pytest.fixture
def editor(
    api: ApiClient,
    token: Token,
    workspace: uuid.UUID,
    fake_llm: Any,
    server: RecordingServer,
    owner_sql: Conn,
    monkeypatch: pytest.MonkeyPatch,
) -> str:
    monkeypatch.setenv(env.ALLOW_PRIVATE_NETWORK, "1")
    reset_settings()
    admin, editor = token(workspace, "admin"), token(workspace, "editor")
    assert api.post("/v1/secrets", token=admin, json={"name": "KEY", "value": VALUE}).status == 201
    api.patch("/v1/secrets/KEY", token=admin, json={"allowed_hosts": ["127.0.0.1"]})
    create_agent(api, editor, slug=SLUG)
    config = {
        "method": "GET",
        "url": server.url + "/{{encoding}}",
        "headers": {"X-Key": "{{secret:KEY}}"},
    }
    schema = {"type": "object", "properties": {"encoding": {"type": "string"}}}
    owner_sql.execute(
        "INSERT INTO ai_agent_tools (workspace_id, agent_id, name, handler_kind, config,"
        " input_schema, secret_refs) SELECT %s, id, 'encoded', 'http', %s, %s, %s"
        " FROM ai_agents WHERE workspace_id = %s AND slug = %s",
        (workspace, Jsonb(config), Jsonb(schema), ["KEY"], workspace, SLUG),
    )
    return editor


def _seen(
    api: ApiClient, editor: str, owner_sql: Conn, fake_llm: Any, workspace: uuid.UUID, **args: Any
) -> dict[str, str]:
    """Everything the turn calling the tool with args left behind, as text."""
    response = chat(api, editor, "call:encoded " + json.dumps(args))
    assert response.status == 200, response.text
    rows = transcript(owner_sql, response.json()["conversation_id"])
    shown_back = [m for m in fake_llm.requests[-1].body["messages"] if m["role"] == "tool"]
    audit = owner_sql.execute(
        "SELECT before_state::text || after_state::text AS states FROM audit_log"
        " WHERE workspace_id = %s UNION ALL SELECT coalesce(before_state::text, '')"
        " || coalesce(after_state::text, '') FROM ai_agent_audit_events WHERE workspace_id = %s",
        (workspace, workspace),
    ).fetchall()
    return {
        "reply": response.json()["reply"],
        "response": response.text,
        "transcript": "\n".join(str(r["content"]) for r in rows),
        "tool_args": json.dumps([r["tool_args"] for r in rows]),
        "tool_result": "\n".join(str(m["content"]) for m in shown_back),
        "audit": "\n".join(str(row["states"]) for row in audit),
    }


@pytest.mark.parametrize("encoding", ENCODED)
def test_a_value_in_another_encoding_is_scrubbed_everywhere(
    api: ApiClient,
    editor: str,
    owner_sql: Conn,
    fake_llm: Any,
    server: RecordingServer,
    workspace: uuid.UUID,
    encoding: str,
) -> None:
    seen = _seen(api, editor, owner_sql, fake_llm, workspace, encoding=encoding)
    assert server.received[-1]["headers"]["X-Key"] == VALUE  # the tool got the value
    for where, text in seen.items():
        assert leaked(text) == [], (where, text)
    # The body reads as text where its encoding can be told (after an odd byte, U+FFFD
    # stands between the characters)
    readable = seen["tool_result"].replace("\ufffd", "")
    assert "HTTP 200" in readable and '"[secret]", "status": "ok"' in readable


def _squeezed(text: str) -> str:
    for between in ("\0", "\ufffd", "\\u0000", "\\ufffd"):
        text = text.replace(between, "")
    return text


LIES = [name for name in ENCODED if "declared-as" in name or "nuls" in name]
ESCAPED = [name for name in SPELLED if name != "plain"]


@pytest.mark.parametrize("spelling", ESCAPED)
@pytest.mark.parametrize("encoding", LIES)
def test_an_escaped_value_under_a_false_charset_is_scrubbed_everywhere(
    api: ApiClient,
    editor: str,
    owner_sql: Conn,
    fake_llm: Any,
    server: RecordingServer,
    workspace: uuid.UUID,
    encoding: str,
    spelling: str,
) -> None:
    seen = _seen(api, editor, owner_sql, fake_llm, workspace, encoding=encoding, spelling=spelling)
    assert server.received[-1]["headers"]["X-Key"] == VALUE
    spelled = SPELLED[spelling](VALUE).lower()
    for where, text in seen.items():
        squeezed = _squeezed(text).lower()
        assert leaked(text) == [], (where, text)
        assert spelled not in squeezed and VALUE[1:].lower() not in squeezed, (where, text)
    assert '"[secret]", "status": "ok"' in _squeezed(seen["tool_result"])


@pytest.mark.parametrize("before", [1, 3, 6, 11, 21])
@pytest.mark.parametrize("spelling", ["plain", "json-escaped", "html-escaped-twice"])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-16-le", "utf-32-le"])
def test_a_value_the_size_cap_splits_goes_whole_in_every_encoding(
    api: ApiClient,
    editor: str,
    owner_sql: Conn,
    fake_llm: Any,
    server: RecordingServer,
    workspace: uuid.UUID,
    encoding: str,
    spelling: str,
    before: int,
) -> None:
    seen = _seen(
        api,
        editor,
        owner_sql,
        fake_llm,
        workspace,
        encoding=encoding + "-cut",
        spelling=spelling,
        before=before,
    )
    # what a cut spelling would begin with
    first = VALUE[:2] if spelling == "plain" else SPELLED[spelling](VALUE[0])
    for where, text in seen.items():
        assert leaked(text) == [] and first not in _squeezed(text), (where, text)
    shown = _squeezed(seen["tool_result"])
    # The value goes whole: after the filler comes what replaced it (itself cut, when the
    # bytes were scrubbed and the marker reaches past the cap) and what followed it
    assert shown.endswith("\n[response truncated]"), shown[-200:]
    after_filler = shown.removesuffix("\n[response truncated]").rsplit("a", 1)[1]
    assert ("[secret]" + "b" * len(after_filler)).startswith(after_filler), shown[-200:]
