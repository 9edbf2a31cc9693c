"""Guardrail config models: defaults as documented, strict validation, origin rules."""

from __future__ import annotations

from typing import Any, get_args

import phonenumbers
import pytest
from pydantic import ValidationError

from convoship.core.errors import ValidationFailed
from convoship.secrets.refs import reference_name
from convoship.studio.guardrail_configs import (
    DEFAULT_PHONE_REGIONS,
    GUARDRAIL_KINDS,
    REDACT_ENTITIES,
    AuthConfig,
    LimitConfig,
    RedactEntity,
    default_guardrails,
    normalized_config,
    parse_guardrail_config,
)


def test_defaults_match_the_contract() -> None:
    defaults = default_guardrails()
    assert list(defaults) == list(GUARDRAIL_KINDS)
    assert defaults["AUTH"] == {"allowed_origins": ["*"], "visitor_token_secret": None}
    assert defaults["LIMIT"] == {
        "max_input_chars": 4000,
        "max_turns_per_conversation": 50,
        "max_tool_calls_per_turn": 5,
    }
    assert defaults["REDACT"] == {
        "entities": ["EMAIL", "PHONE", "CREDIT_CARD", "US_SSN", "IBAN", "IP_ADDRESS", "CREDENTIAL"]
    }
    assert defaults["ESCALATE"]["keywords"] == ["human", "agent", "representative"]
    assert 20 < len(defaults["ESCALATE"]["message"]) <= 2000
    assert defaults["BUDGET"] == {
        "max_tokens_per_conversation": 20000,
        "max_tokens_per_day": 1000000,
    }


def test_defaults_are_valid_configs_of_their_kind() -> None:
    for kind, config in default_guardrails().items():
        assert normalized_config(kind, config) == config


def test_missing_keys_take_defaults_and_the_default_is_not_shared() -> None:
    config = normalized_config("LIMIT", {"max_input_chars": 10})
    assert config == {**default_guardrails()["LIMIT"], "max_input_chars": 10}
    first = normalized_config("ESCALATE", {})
    first["keywords"].append("mutated")
    assert "mutated" not in default_guardrails()["ESCALATE"]["keywords"]
    assert "mutated" not in normalized_config("ESCALATE", {})["keywords"]


@pytest.mark.parametrize(
    ("kind", "config", "field"),
    [
        ("LIMIT", {"max_input_chars": 0}, "max_input_chars"),
        ("LIMIT", {"max_input_chars": 100_001}, "max_input_chars"),
        ("LIMIT", {"max_input_chars": True}, "max_input_chars"),
        ("LIMIT", {"max_input_chars": 10.0}, "max_input_chars"),
        ("LIMIT", {"max_input_chars": "10"}, "max_input_chars"),
        ("LIMIT", {"max_tool_calls_per_turn": -1}, "max_tool_calls_per_turn"),
        ("LIMIT", {"surprise": 1}, "surprise"),
        ("REDACT", {"entities": ["NAME"]}, "entities"),
        ("REDACT", {"phone_regions": ["XX"]}, "phone_regions"),
        ("REDACT", {"phone_regions": ["USA"]}, "phone_regions"),
        ("REDACT", {"phone_regions": "US"}, "phone_regions"),
        ("REDACT", {"phone_regions": [1]}, "phone_regions"),
        ("REDACT", {"phone_regions": ["US"] * 31}, "phone_regions"),
        ("ESCALATE", {"keywords": ["k" * 101]}, "keywords"),
        ("ESCALATE", {"keywords": ["k"] * 101}, "keywords"),
        ("BUDGET", {"max_tokens_per_day": 1_000_000_001}, "max_tokens_per_day"),
        ("BUDGET", {"max_tokens_per_conversation": 0}, "max_tokens_per_conversation"),
        ("AUTH", {"allowed_origins": ["*.example.com"]}, "allowed_origins"),
        ("AUTH", {"allowed_origins": ["https://example.com/"]}, "allowed_origins"),
        ("AUTH", {"allowed_origins": ["https://example.com?x=1"]}, "allowed_origins"),
        ("AUTH", {"allowed_origins": ["https://user@example.com"]}, "allowed_origins"),
        ("AUTH", {"allowed_origins": ["https://example.com:99999"]}, "allowed_origins"),
        ("AUTH", {"allowed_origins": ["https://"]}, "allowed_origins"),
        ("AUTH", {"allowed_origins": ["https://x.example"] * 101}, "allowed_origins"),
        ("AUTH", {"visitor_token_secret": "plain-secret"}, "visitor_token_secret"),
        ("AUTH", {"visitor_token_secret": "{{secret:bad-name}}"}, "visitor_token_secret"),
        ("AUTH", {"visitor_token_secret": ""}, "visitor_token_secret"),
    ],
)
def test_bad_configs_fail_with_a_location(kind: str, config: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        parse_guardrail_config(kind, config)
    locs = [e["loc"] for e in caught.value.errors]
    assert any(loc[:2] == ["body", "config"] and field in loc for loc in locs), locs


@pytest.mark.parametrize(
    ("origin", "normalised"),
    [
        ("*", "*"),
        ("https://example.com", "https://example.com"),
        ("HTTPS://Example.COM", "https://example.com"),
        ("https://example.com:443", "https://example.com"),
        ("http://example.com:80", "http://example.com"),
        ("https://example.com:8443", "https://example.com:8443"),
        ("http://localhost:3000", "http://localhost:3000"),
        ("https://[2001:db8::1]:8443", "https://[2001:db8::1]:8443"),
    ],
)
def test_origins_are_normalised(origin: str, normalised: str) -> None:
    assert AuthConfig(allowed_origins=[origin]).allowed_origins == [normalised]


def test_secret_reference_parsing() -> None:
    config = AuthConfig.model_validate({"visitor_token_secret": "{{secret:VISITOR}}"})
    assert reference_name(config.visitor_token_secret) == "VISITOR"
    assert reference_name("{{ secret:SPACED }}") == "SPACED"
    spaced = AuthConfig.model_validate({"visitor_token_secret": "{{ secret:SPACED }}"})
    assert spaced.visitor_token_secret == "{{secret:SPACED}}"  # one spelling, easy to find
    assert reference_name(None) is None


def test_models_are_immutable_and_strict_about_extra_keys() -> None:
    limit = LimitConfig()
    with pytest.raises(ValidationError):
        limit.max_input_chars = 1  # type: ignore[misc]
    redact = normalized_config("REDACT", {"entities": ["EMAIL", "EMAIL", "IBAN"]})
    assert redact == {"entities": ["EMAIL", "IBAN"]}


def test_phone_regions_are_optional_known_and_stored_in_capitals() -> None:
    assert normalized_config("REDACT", {}) == default_guardrails()["REDACT"]  # not stored unset
    assert normalized_config("REDACT", {"phone_regions": None}) == default_guardrails()["REDACT"]
    redact = normalized_config(
        "REDACT", {"entities": ["PHONE"], "phone_regions": ["us", "GB", "US"]}
    )
    assert redact == {"entities": ["PHONE"], "phone_regions": ["US", "GB"]}
    assert normalized_config("REDACT", {"phone_regions": []})["phone_regions"] == []


def test_entity_names_have_one_source() -> None:
    from convoship.runtime.pii import ENTITIES

    assert ENTITIES is REDACT_ENTITIES
    assert get_args(RedactEntity) == REDACT_ENTITIES
    assert set(DEFAULT_PHONE_REGIONS) <= set(phonenumbers.SUPPORTED_REGIONS)
