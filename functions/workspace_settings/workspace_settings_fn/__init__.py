"""The workspace_settings function: agent-ops, BYOK LLM settings, secrets, audit log."""
