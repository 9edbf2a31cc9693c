"""Which model answers: the workspace's own (BYOK) settings win over the platform default.

BYOK base URLs are customer input and pass the SSRF guard at call time; the platform
default is the operator's and may point anywhere (a private gateway, a local test server).
"""

from __future__ import annotations

from uuid import UUID

from convoship.core.errors import LlmNotConfigured
from convoship.core.settings import Settings
from convoship.llm.types import ChatModel
from convoship.studio.llm_settings import LlmSettings


def chat_model(
    llm: LlmSettings, *, workspace_id: UUID, agent_model: str | None, settings: Settings
) -> ChatModel:
    """The model for an agent of workspace_id; LlmNotConfigured when there is none."""
    if llm.provider is not None:
        provider, base_url, model = llm.provider, llm.base_url, agent_model or llm.model
        allow_private = settings.allow_private_network
        api_key = None
        if llm.api_key_ciphertext is not None:
            from convoship.security.crypto import byok_context, decrypt_at_rest  # lazy

            api_key = decrypt_at_rest(
                llm.api_key_ciphertext, byok_context(workspace_id), llm.api_key_data_key
            )
        where = "the workspace's agent-llm settings"
    elif settings.llm_default is not None:
        default = settings.llm_default
        provider, base_url, model = default.provider, default.base_url, agent_model or default.model
        api_key, allow_private = default.api_key, True
        where = "the platform default"
    else:
        raise LlmNotConfigured(
            "no language model is configured: set one in PATCH /v1/workspaces/agent-llm"
        )
    if not model:
        raise LlmNotConfigured(f"no model is chosen: set one on the agent or in {where}")
    if provider in ("openai", "anthropic") and not api_key:
        raise LlmNotConfigured(f"{provider} needs an api_key in {where}")
    timeout_s = float(settings.llm_timeout_s)
    if provider == "anthropic":
        from convoship.llm.anthropic import AnthropicChat

        return AnthropicChat(
            model=model,
            base_url=base_url,
            api_key=api_key,
            timeout_s=timeout_s,
            allow_private=allow_private,
        )
    if provider == "bedrock":
        from convoship.llm.bedrock import BedrockChat

        return BedrockChat(model=model, timeout_s=timeout_s)
    from convoship.llm.openai import OpenAIChat

    return OpenAIChat(
        model=model,
        base_url=base_url,
        api_key=api_key,
        timeout_s=timeout_s,
        allow_private=allow_private,
        provider=provider,
    )
