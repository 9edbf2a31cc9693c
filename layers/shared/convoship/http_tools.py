"""Calling an agent's `http` tools: templating, secrets, SSRF guard, bounded responses.

`{{secret:NAME}}` fills from the workspace's secrets and `{{arg}}` from the model's
arguments (URL-encoded in the url; a body string that is exactly `{{arg}}` takes the
argument's JSON value). With no body template, POST/PUT/PATCH send the arguments as JSON
and GET/DELETE send the arguments the url does not use as query parameters.

A tool never raises into the conversation: every failure becomes a short error text the
model reads. Secret values are decrypted only when a call needs them, and scrubbed from
whatever comes back (raw, JSON-escaped and URL-encoded spellings), so a tool that echoes
its credentials cannot leak them into the transcript or the reply.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode
from uuid import UUID

from convoship import outbound
from convoship.errors import DecryptionFailed
from convoship.secret_refs import SECRET_REF, strings_in
from convoship.tool_spec import ARG_REF, HttpToolConfig

MAX_RESPONSE_CHARS = 16 * 1024
SCRUBBED = "[secret]"
_BODY_METHODS = ("POST", "PUT", "PATCH")


class ToolError(Exception):
    """The call was not made or did not complete; the message is for the model."""


class SecretVault:
    """The secrets an agent run may use (its tools' and AUTH guardrail's references).

    Nothing is read until a value is needed: most chat turns call no tool, so they pay
    neither the query nor a decryption. The first need reads every referenced ciphertext in
    one short transaction of the run's scope; values are decrypted one by one, on use.
    Thread-safe: the publish gate's evals share one vault.
    """

    def __init__(
        self, workspace_id: UUID, names: Iterable[str], scope: dict[str, Any] | None = None
    ) -> None:
        self._workspace_id = workspace_id
        self._names = sorted(set(names))
        self._scope = scope if scope is not None else {"workspace_id": workspace_id}
        self._ciphertexts: dict[str, str] | None = None
        self._values: dict[str, str] = {}
        self._lock = threading.Lock()

    def _ciphertext(self, name: str) -> str | None:
        with self._lock:
            if self._ciphertexts is None:
                self._ciphertexts = {}
                if self._names:
                    from convoship.db import read_transaction
                    from convoship.secrets_store import ciphertexts

                    with read_transaction(**self._scope) as conn:
                        self._ciphertexts = ciphertexts(conn, self._workspace_id, self._names)
            return self._ciphertexts.get(name)

    def get(self, name: str) -> str:
        if name not in self._values:
            ciphertext = self._ciphertext(name)
            if ciphertext is None:
                raise ToolError(f"the workspace secret {name} is not set")
            from convoship.crypto import decrypt_at_rest, secret_context  # lazy

            self._values[name] = decrypt_at_rest(
                ciphertext, secret_context(self._workspace_id, name)
            )
        return self._values[name]

    def scrub(self, text: str) -> str:
        """text with every spelling of every value used so far replaced."""
        for value in sorted(self._values.values(), key=len, reverse=True):
            if not value:
                continue
            for spelling in {value, json.dumps(value)[1:-1], quote(value, safe="")}:
                text = text.replace(spelling, SCRUBBED)
        return text

    def scrub_value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, dict):
            return {self.scrub(k): self.scrub_value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.scrub_value(v) for v in value]
        return value


@dataclass(frozen=True)
class ToolResult:
    content: str  # what the model reads (and the transcript keeps), secrets scrubbed
    ok: bool


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


def _check_args(schema: dict[str, Any], args: dict[str, Any]) -> None:
    import jsonschema  # lazy: only tool calls need it

    error = jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(schema).iter_errors(args)
    )
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "arguments"
        raise ToolError(f"invalid arguments ({where}): {error.message}")


def _request_parts(
    config: HttpToolConfig, args: dict[str, Any], vault: SecretVault
) -> tuple[str, dict[str, str], bytes | None]:
    used = {m.group(1) for s in strings_in(config.templated()) for m in ARG_REF.finditer(s)}
    url = _fill(config.url, args, vault, in_url=True)
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
        if args is None:
            raise ToolError("the arguments must be a JSON object")
        _check_args(tool.get("input_schema") or {"type": "object"}, args)
        config = HttpToolConfig.model_validate(tool["config"])
        url, headers, body = _request_parts(config, args, vault)
        response = outbound.request(
            config.method,
            url,
            headers={"accept": "application/json, text/plain;q=0.9, */*;q=0.1", **headers},
            body=body,
            timeout_s=config.timeout_s,
            max_bytes=MAX_RESPONSE_CHARS,
            allow_private=allow_private,
            truncate=True,
        )
    except ToolError as exc:
        return ToolResult(vault.scrub(f"error: {exc}"), ok=False)
    except DecryptionFailed:
        return ToolResult("error: a workspace secret this tool uses cannot be read", ok=False)
    except outbound.OutboundError as exc:
        return ToolResult(vault.scrub(f"error: the call failed: {exc}"), ok=False)
    text = response.text() + ("\n[response truncated]" if response.truncated else "")
    ok = 200 <= response.status < 300
    return ToolResult(vault.scrub(f"HTTP {response.status}\n{text}"), ok=ok)
