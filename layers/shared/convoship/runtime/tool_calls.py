"""Calling an agent's `http` tools: templating, secrets, SSRF guard, bounded responses.

`{{secret:NAME}}` fills from the workspace's secrets and `{{arg}}` from the model's
arguments (URL-encoded in the url; a body string that is exactly `{{arg}}` takes the
argument's JSON value). With no body template, POST/PUT/PATCH send the arguments as JSON
and GET/DELETE send the arguments the url does not use as query parameters.

A tool never raises into the conversation: every failure becomes a short error text the
model reads. A tool that uses a secret is called only when the host of its url, once
templated, is one every secret it uses allows (whatever was checked when it was saved).
Secret values are decrypted only when a call needs them, and scrubbed from whatever comes
back, in every spelling (secrets.scrub), so a tool that echoes its credentials cannot leak
them into the transcript or the reply.
Calls share the container's keep-alive connections (security/outbound.py); a POST or PATCH
that may have reached the tool is never sent a second time.
"""

from __future__ import annotations

import codecs
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from convoship.core.errors import DecryptionFailed
from convoship.core.json_text import storable
from convoship.runtime.tool_args import args_problem
from convoship.secrets.hosts import HostNotAllowed, url_host
from convoship.secrets.refs import SECRET_REF, referenced_secrets, strings_in
from convoship.secrets.vault import HostRefused, SecretMissing, SecretVault
from convoship.security import outbound
from convoship.security.body_encoding import UTF8, body_encoding
from convoship.studio.tool_spec import ARG_REF, HttpToolConfig

MAX_RESPONSE_CHARS = 16 * 1024
_BODY_METHODS = ("POST", "PUT", "PATCH")


class ToolError(Exception):
    """The call was not made or did not complete; the message is for the model."""


@dataclass(frozen=True)
class ToolResult:
    content: str  # what the model reads (and the transcript keeps), secrets scrubbed
    ok: bool

    def __post_init__(self) -> None:
        # A NUL or lone surrogate (a tool's body, an error quoting what the model sent)
        # becomes U+FFFD, as in replies and tool arguments: the turn can always be written.
        object.__setattr__(self, "content", storable(self.content))


def _arg_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _fill(text: str, args: dict[str, Any], vault: SecretVault, *, in_url: bool) -> str:
    def secret(match: re.Match[str]) -> str:
        value = vault.get(match.group(1))
        return quote(value, safe="") if in_url else value

    def arg(match: re.Match[str]) -> str:
        value = _arg_text(args.get(match.group(1), ""))
        return quote(value, safe="") if in_url else value

    return ARG_REF.sub(arg, SECRET_REF.sub(secret, text))


def _fill_body(value: Any, args: dict[str, Any], vault: SecretVault) -> Any:
    if isinstance(value, str):
        whole = ARG_REF.fullmatch(value.strip())
        if whole is not None:
            return args.get(whole.group(1))
        return _fill(value, args, vault, in_url=False)
    if isinstance(value, dict):
        return {k: _fill_body(v, args, vault) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill_body(v, args, vault) for v in value]
    return value


def _request_parts(
    config: HttpToolConfig, args: dict[str, Any], vault: SecretVault
) -> tuple[str, dict[str, str], bytes | None]:
    used = {m.group(1) for s in strings_in(config.templated()) for m in ARG_REF.finditer(s)}
    url = _fill(config.url, args, vault, in_url=True)
    secrets = referenced_secrets(config.templated())
    if secrets:
        try:
            vault.check_host(secrets, url_host(url))
        except HostNotAllowed as exc:
            raise ToolError(f"refused: {exc}") from None
    headers = {
        name: _fill(value, args, vault, in_url=False) for name, value in config.headers.items()
    }
    for name, value in headers.items():
        if "\r" in value or "\n" in value:
            raise ToolError(f"header {name} would contain a line break")
    body: bytes | None = None
    if config.body is not None:
        body = json.dumps(_fill_body(config.body, args, vault)).encode()
    elif config.method in _BODY_METHODS:
        body = json.dumps(args).encode()
    else:
        extra = {k: _arg_text(v) for k, v in args.items() if k not in used}
        if extra:
            url += ("&" if "?" in url else "?") + urlencode(extra)
    if body is not None:
        headers = {"content-type": "application/json", **headers}
    return url, headers, body


def call_http_tool(
    tool: dict[str, Any], args: dict[str, Any] | None, vault: SecretVault, *, allow_private: bool
) -> ToolResult:
    """Call one tool (a stored tool row or snapshot) with the model's arguments."""
    try:
        vault.know_every_value()  # whatever comes back is scrubbed of every value
        if args is None:
            raise ToolError("the arguments must be a JSON object")
        problem = args_problem(tool.get("input_schema") or {"type": "object"}, args)
        if problem is not None:
            raise ToolError(problem)
        config = _saved_config(tool["config"])
        url, headers, body = _request_parts(config, args, vault)
        response = outbound.request(
            config.method,
            url,
            headers={"accept": "application/json, text/plain;q=0.9, */*;q=0.1", **headers},
            body=body,
            timeout_s=config.timeout_s,
            max_bytes=read_limit(vault),
            allow_private=allow_private,
            truncate=True,
        )
    except HostRefused as exc:
        return ToolResult(vault.scrub(f"error: refused: {exc}"), ok=False)
    except (ToolError, SecretMissing) as exc:
        return ToolResult(vault.scrub(f"error: {exc}"), ok=False)
    except DecryptionFailed:
        return ToolResult("error: a workspace secret this tool uses cannot be read", ok=False)
    except outbound.OutboundError as exc:
        return ToolResult(vault.scrub(f"error: the call failed: {exc}"), ok=False)
    return ToolResult(_scrubbed_text(response, vault), ok=200 <= response.status < 300)


def read_limit(vault: SecretVault) -> int:
    """How many bytes of a response are read: the cap, and past it the longest spelling of a
    value (vault.reach, in UTF-8 bytes) in UTF-32, four bytes to a character, so a value
    the cap splits is read whole in whatever encoding the body comes."""
    return MAX_RESPONSE_CHARS + 4 * vault.reach


def _saved_config(config: Any) -> HttpToolConfig:
    """The config as saved, under today's rules (one saved earlier may break them)."""
    from pydantic import ValidationError

    try:
        return HttpToolConfig.model_validate(config)
    except ValidationError as exc:
        where = ".".join(str(p) for p in exc.errors()[0]["loc"]) or "config"
        raise ToolError(f"refused: this tool's saved config is not valid ({where})") from None


def _scrubbed_text(response: outbound.OutboundResponse, vault: SecretVault) -> str:
    """What the model reads: the status and the body as text, scrubbed. The bytes are
    scrubbed first (a value in UTF-16 or UTF-32, at any alignment), then read in the body's
    encoding (BOM, declared charset, NUL pattern: security/body_encoding.py) and scrubbed as
    text. When that encoding is not UTF-8, the UTF-8 reading is scrubbed too, and is what the
    model reads if it held a value: a wrong charset cannot hide a spelling in garbage.
    A body over the cap is scrubbed whole as read (read_limit: vault.reach characters past
    the cap in any encoding), then cut at the cap, so a value the cap splits goes whole; the
    cut loses a character it splits."""
    head = f"HTTP {response.status}\n"
    body = vault.scrub_bytes(response.body)
    encoding = body_encoding(body, response.headers.get("content-type"))
    text, cut = _read(body, encoding, response.truncated)
    if encoding != UTF8:
        as_utf8, utf8_cut = _read(body, UTF8, response.truncated)
        if vault.scrub(as_utf8) != as_utf8:
            text, cut = as_utf8, utf8_cut
    if cut is None:
        return vault.scrub(head + text)
    return vault.scrub(head + text, keep=len(head) + cut) + "\n[response truncated]"


def _read(body: bytes, encoding: str, truncated: bool) -> tuple[str, int | None]:
    """body as text, and where the cap cuts it (None: it is whole). A codec that cannot
    decode with replacement characters (idna) reads as UTF-8."""
    try:
        decoder = codecs.getincrementaldecoder(encoding)("replace")
        if len(body) <= MAX_RESPONSE_CHARS and not truncated:
            return decoder.decode(body, final=True), None
        kept = decoder.decode(body[:MAX_RESPONSE_CHARS])
        return kept + decoder.decode(body[MAX_RESPONSE_CHARS:], final=not truncated), len(kept)
    except (LookupError, UnicodeError, TypeError, ValueError):
        if encoding == UTF8:
            raise
        return _read(body, UTF8, truncated)
