"""Chat turns (playground and embed): the guardrail checks in order, the model, the transcript."""
