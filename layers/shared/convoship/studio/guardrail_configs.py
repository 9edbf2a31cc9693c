"""Guardrails are data: a kind and a config, validated by one model per kind.

The models are shared by the admin API (validation at save) and the chat runtime (parsing
what was saved). Their defaults are the configs seeded on every new agent.
"""

from functools import cache
from typing import Annotated, Any, Literal, get_args
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from convoship.core.validation import validate_as
from convoship.secrets.refs import reference_name

GuardrailKind = Literal["AUTH", "LIMIT", "REDACT", "ESCALATE", "BUDGET"]
GUARDRAIL_KINDS: tuple[GuardrailKind, ...] = ("AUTH", "LIMIT", "REDACT", "ESCALATE", "BUDGET")
RedactEntity = Literal[
    "EMAIL", "PHONE", "CREDIT_CARD", "US_SSN", "IBAN", "IP_ADDRESS", "CREDENTIAL"
]
REDACT_ENTITIES: tuple[RedactEntity, ...] = get_args(RedactEntity)
# National phone numbers are recognised for these regions unless REDACT names its own.
DEFAULT_PHONE_REGIONS = ("US", "GB", "DE", "FR", "ES", "IT", "NL", "IN", "JP", "AU", "BR", "MX")
MAX_PHONE_REGIONS = 30
DEFAULT_ESCALATION_MESSAGE = (
    "I'm passing this conversation to a member of our team. "
    "Someone will get back to you here as soon as possible."
)
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _origin(value: str) -> str:
    """ "*" or a browser origin, normalised: lowercase scheme and host, no default port."""
    if value == "*":
        return value
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        raise ValueError(f"{value!r} is not an origin") from None
    if parts.scheme not in _DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"{value!r} is not an origin like https://example.com[:port]")
    if parts.path or parts.query or parts.fragment or "@" in parts.netloc:
        raise ValueError(f"{value!r}: an origin is scheme://host[:port], with no path")
    host = parts.hostname if ":" not in parts.hostname else f"[{parts.hostname}]"
    keep_port = port is not None and port != _DEFAULT_PORTS[parts.scheme]
    return f"{parts.scheme}://{host}{f':{port}' if keep_port else ''}"


def normalize_origin(value: str) -> str | None:
    """A browser's Origin header in the form allowed_origins are stored in; None if it is
    not an origin (such as the literal "null" of sandboxed frames)."""
    try:
        return _origin(value.strip())
    except ValueError:
        return None


def _secret_reference(value: str) -> str:
    """A `{{secret:NAME}}` reference, stored in its canonical spelling (no inner spaces)."""
    name = reference_name(value)
    if name is None:
        raise ValueError(
            "must be a reference to a workspace secret, {{secret:NAME}}; never the value itself"
        )
    return "{{secret:" + name + "}}"


class _Config(BaseModel):
    # Built when first used (a guardrail saved, an agent created), not at import: no route
    # takes them as its body, and most requests of the functions importing them never use one.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, defer_build=True)


Origin = Annotated[str, Field(min_length=1, max_length=300), AfterValidator(_origin)]
PositiveInt = Annotated[int, Field(ge=1)]


class AuthConfig(_Config):
    allowed_origins: Annotated[list[Origin], Field(max_length=100)] = ["*"]
    visitor_token_secret: Annotated[str, AfterValidator(_secret_reference)] | None = None


class LimitConfig(_Config):
    max_input_chars: Annotated[int, Field(ge=1, le=100_000)] = 4000
    max_turns_per_conversation: Annotated[int, Field(ge=1, le=1000)] = 50
    max_tool_calls_per_turn: Annotated[int, Field(ge=0, le=20)] = 5


def _phone_region(code: str) -> str:
    """An ISO 3166-1 region code phone numbers are known for ("US", "GB"), in capitals."""
    from phonenumbers import SUPPORTED_REGIONS  # lazy: only configs that name regions pay

    region = code.upper()
    if region not in SUPPORTED_REGIONS:
        raise ValueError(f"{code!r} is not a region code phone numbers are known for, e.g. 'US'")
    return region


def _unique(items: list[Any]) -> list[Any]:
    return list(dict.fromkeys(items))


class RedactConfig(_Config):
    entities: Annotated[
        list[RedactEntity],
        Field(max_length=len(REDACT_ENTITIES)),
        AfterValidator(_unique),
    ] = list(REDACT_ENTITIES)
    # None (left out of the stored config): DEFAULT_PHONE_REGIONS.
    phone_regions: Annotated[
        list[Annotated[str, AfterValidator(_phone_region)]] | None,
        Field(max_length=MAX_PHONE_REGIONS, exclude_if=lambda regions: regions is None),
        AfterValidator(lambda regions: None if regions is None else _unique(regions)),
    ] = None


class EscalateConfig(_Config):
    keywords: Annotated[
        list[Annotated[str, Field(min_length=1, max_length=100)]], Field(max_length=100)
    ] = ["human", "agent", "representative"]
    message: Annotated[str, Field(min_length=1, max_length=2000)] = DEFAULT_ESCALATION_MESSAGE


class BudgetConfig(_Config):
    max_tokens_per_conversation: Annotated[int, Field(ge=1, le=10_000_000)] = 20_000
    max_tokens_per_day: Annotated[int, Field(ge=1, le=1_000_000_000)] = 1_000_000


GuardrailConfig = AuthConfig | LimitConfig | RedactConfig | EscalateConfig | BudgetConfig

CONFIG_MODELS: dict[str, type[GuardrailConfig]] = {
    "AUTH": AuthConfig,
    "LIMIT": LimitConfig,
    "REDACT": RedactConfig,
    "ESCALATE": EscalateConfig,
    "BUDGET": BudgetConfig,
}


@cache
def default_guardrails() -> dict[str, dict[str, Any]]:
    """The config of each kind seeded on a new agent (its model's defaults), by kind in
    GUARDRAIL_KINDS order; worked out on first use, which builds the five models."""
    return {kind: model().model_dump() for kind, model in CONFIG_MODELS.items()}


def parse_guardrail_config(
    kind: str, config: Any, loc: tuple[str | int, ...] = ("body", "config")
) -> GuardrailConfig:
    """The config model of kind, validated (ValidationFailed under loc when it is not)."""
    return validate_as(CONFIG_MODELS[kind], config, loc)


def normalized_config(
    kind: str, config: Any, loc: tuple[str | int, ...] = ("body", "config")
) -> dict[str, Any]:
    """config validated for kind, with defaults filled in: the form that is stored."""
    return parse_guardrail_config(kind, config, loc).model_dump()
