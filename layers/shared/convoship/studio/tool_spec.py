"""What a tool is: an HTTP call with templated url, headers and body, and its input schema.

Shared by the admin API (validation at save) and the runtime (parsing what was saved).
`{{...}}` placeholders (secret references, tool arguments) are filled at call time only.
"""

import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, JsonValue

from convoship.core.errors import ValidationFailed
from convoship.secrets.refs import SECRET_REF, strings_in
from convoship.studio.input_schema import check_input_schema

TOOL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]{0,63}$")
MAX_CONFIG_BYTES = 64 * 1024
_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$")
_PLACEHOLDER = re.compile(r"\{\{[^{}]*\}\}")
# A tool argument in url, headers or body: `{{name}}`, a property of the input schema.
ARG_REF = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]{0,63})\s*\}\}")
_SECRET_LIKE = re.compile(r"\{\{\s*secret\s*:[^{}]*\}\}", re.IGNORECASE)


# Headers a tool may never set, and why. Framing and hop-by-hop headers are the HTTP
# client's (nor Host, below): a tool setting them could smuggle a second request past the
# allowed host or desynchronise the connection. Routing and method overrides are read by
# proxies and frameworks on the far side: a tool setting them could reach another host or
# path behind the allowed one, or turn its GET into a DELETE. Names are compared lower-cased
# with `_` read as `-` (WSGI, CGI and many proxies map one onto the other), and whole
# families by prefix (`Proxy-*`, `X-Forwarded-*`, `X-Original-*`, `Forwarded*`).
_FRAMING = "is set by the HTTP client"
_ROUTING = "changes where or how the far side routes the request"
_REFUSED_HEADERS = {
    **dict.fromkeys(
        (
            "content-length",
            "transfer-encoding",
            "connection",
            "upgrade",
            "te",
            "trailer",
            "keep-alive",
        ),
        _FRAMING,
    ),
    **dict.fromkeys(
        (
            "x-rewrite-url",  # (x-forwarded-*, x-original-*, forwarded*: by prefix, below)
            "x-http-method-override",
            "x-http-method",
            "x-method-override",
            "x-host",
            "x-real-ip",
            "x-client-ip",
            "x-cluster-client-ip",
            "true-client-ip",
            "client-ip",
            "front-end-https",
            "x-url-scheme",
            "x-scheme",
        ),
        _ROUTING,
    ),
}
_REFUSED_PREFIXES = (
    ("proxy-", _FRAMING),
    ("x-forwarded-", _ROUTING),
    ("x-original-", _ROUTING),
    ("forwarded", _ROUTING),
)


def _refused_header(name: str) -> str | None:
    """Why a tool may not set the header name, or None."""
    canonical = name.lower().replace("_", "-")
    reason = _REFUSED_HEADERS.get(canonical)
    if reason is None:
        reason = next((why for p, why in _REFUSED_PREFIXES if canonical.startswith(p)), None)
    return reason


def _headers(headers: dict[str, str]) -> dict[str, str]:
    for name, value in headers.items():
        if not _HEADER_NAME.fullmatch(name):
            raise ValueError(f"{name!r} is not a valid header name")
        if name.lower() == "host":  # the url's host, whose secrets are checked, names it
            raise ValueError("the Host header comes from the url and cannot be set")
        reason = _refused_header(name)
        if reason is not None:
            raise ValueError(f"the {name} header {reason} and cannot be set")
        if "\r" in value or "\n" in value or len(value) > 8192:
            raise ValueError(f"header {name}: value must be one line of at most 8192 characters")
    return headers


class HttpToolConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
    url: Annotated[str, Field(min_length=1, max_length=2048)]
    headers: Annotated[dict[str, str], Field(max_length=50), AfterValidator(_headers)] = {}
    body: JsonValue = None
    timeout_s: Annotated[int, Field(ge=1, le=30)] = 10

    def templated(self) -> list[Any]:
        """The parts that may hold `{{secret:NAME}}` references."""
        return [self.url, self.headers, self.body]


class ToolSpec(BaseModel):
    """A complete tool as stored (POST bodies, and PATCH results before saving)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: Annotated[str, Field(pattern=TOOL_NAME.pattern)]
    description: Annotated[str, Field(max_length=2000)] = ""
    handler_kind: Literal["http"] = "http"
    config: HttpToolConfig
    input_schema: Annotated[
        dict[str, Any],
        AfterValidator(check_input_schema),
        # What the OpenAPI document can say of check_input_schema: a JSON Schema of an object.
        Field(
            json_schema_extra={"required": ["type"], "properties": {"type": {"const": "object"}}}
        ),
    ] = {"type": "object", "properties": {}}


def check_secret_reference_syntax(config: HttpToolConfig) -> None:
    """A `{{secret:...}}` that is not a valid reference would reach the API verbatim."""
    for text in strings_in(config.templated()):
        for found in _SECRET_LIKE.finditer(text):
            if not SECRET_REF.fullmatch(found.group(0)):
                raise ValidationFailed.at(
                    ("body", "config"),
                    f"{found.group(0)!r} is not a valid secret reference {{{{secret:NAME}}}}",
                )


def check_placeholders(spec: ToolSpec) -> None:
    """Every `{{...}}` must be a secret reference or an argument the input schema declares:
    anything else would reach the API verbatim at call time."""
    declared = set((spec.input_schema.get("properties") or {}).keys())
    for text in strings_in(spec.config.templated()):
        for found in _PLACEHOLDER.finditer(text):
            placeholder = found.group(0)
            if SECRET_REF.fullmatch(placeholder) or _SECRET_LIKE.fullmatch(placeholder):
                continue  # secret references are checked by check_secret_reference_syntax
            arg = ARG_REF.fullmatch(placeholder)
            if arg is None or arg.group(1) not in declared:
                raise ValidationFailed.at(
                    ("body", "config"),
                    f"{placeholder} is neither {{{{secret:NAME}}}} nor an argument declared in"
                    " input_schema.properties",
                )


def check_tool_url(url: str, *, allow_private: bool) -> None:
    """Vet the URL as saved, a dummy host-safe word standing in for each placeholder (the
    call-time check sees the real host)."""
    # lazy: the address rules (ipaddress, sockets) serve the tool writes alone
    from convoship.security.netguard import UnsafeUrl, check_outbound_url, explain

    try:
        check_outbound_url(_PLACEHOLDER.sub("placeholder", url), allow_private=allow_private)
    except UnsafeUrl as exc:
        raise ValidationFailed.at(("body", "config", "url"), f"url {explain(exc)}") from None
