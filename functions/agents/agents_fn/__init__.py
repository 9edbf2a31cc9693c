"""The agents function: agents, guardrails, tools, evals, drafts, versions, history."""
