"""Language models behind one interface: OpenAI(-compatible), Anthropic, Bedrock.

`select.chat_model` picks the provider (workspace BYOK first, then the platform default);
each provider module is imported only when a call needs it.
"""
